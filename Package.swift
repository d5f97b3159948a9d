// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "aimon",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "aimon", targets: ["aimon"]),
        .executable(name: "aimon-bench", targets: ["aimon-bench"]),
        // For the fuzz targets' package (Tests/Fuzz), which depends on this one by path.
        .library(name: "AimonCore", targets: ["AimonCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries, wrapped thinly: hiredis by Store/, libsystemd by Sinks/, SQLite and libpq by AlertTable/, libcurl by System/HTTPClient.swift, libmicrohttpd by HTTP/.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // The JSON scanner's innermost loop with SSE2 (Parser/JSONScanner.swift, Docs/benchmarks.md).
        .target(name: "CByteScan"),
        // libcurl (Alertmanager pushes), loaded when first needed, with typed wrappers for its variadic calls.
        // dlopen when first needed, for the three below.
        .target(name: "CLoad"),
        .target(name: "CCurl", dependencies: ["CLoad"]),
        // libpq (the PostgreSQL alert table), loaded when first needed.
        .target(name: "CPQ", dependencies: ["CLoad"]),
        // libmicrohttpd (the HTTP endpoint), behind a plain handler; libcrypt checks its passwords. Both
        // are loaded (dlopen) when first needed: with GnuTLS under libmicrohttpd, loading them at every
        // start cost the CLI milliseconds.
        .target(name: "CMicroHTTPD", dependencies: ["CLoad"]),
        .target(
            name: "AimonCore",
            dependencies: [
                "CHiredis", "CSystemd", "CSQLite", "CPQ", "CByteScan", "CCurl", "CMicroHTTPD",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "aimon",
            dependencies: [
                "AimonCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "AimonSamples", dependencies: ["AimonCore"]),
        .executableTarget(
            name: "aimon-bench",
            dependencies: [
                "AimonCore", "AimonSamples",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "AimonCoreTests", dependencies: ["AimonCore", "AimonSamples"],
                    exclude: ["Fixtures"]),  // read from the source tree by path (FormatSupport.swift)
        .testTarget(name: "IntegrationTests", dependencies: ["AimonCore", "AimonSamples", "aimon"]),
    ],
    swiftLanguageModes: [.v6]
)
