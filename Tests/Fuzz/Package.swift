// swift-tools-version:6.1
// libFuzzer targets for aimon's data path (scripts/fuzz.sh builds and runs them; Docs/design.md).
// A package of its own: a plain `swift build` of the main package cannot link fuzz targets.
import PackageDescription

let package = Package(
    name: "aimon-fuzz",
    dependencies: [.package(name: "aimon", path: "../..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "AimonCore", package: "aimon")]),
        .executableTarget(name: "FuzzNative", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzPresets", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzFold", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzText", dependencies: ["FuzzSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
