/// Why a source's path reads nothing: a folder that does not exist, or a pattern that matches no
/// file. Said by `check-config` and by `aimon run` at start, where a silent `files=0` would leave a
/// new user waiting for alerts that cannot come.
public enum SourceCheck {
    /// nil when the pattern matches at least one regular file.
    public static func problem(pattern: String) -> String? {
        let listing = FileSystem.glob(pattern)
        if let failure = listing.failure { return "cannot list its files: \(failure)" }
        if listing.paths.contains(where: { ((try? FileSystem.status(of: $0)) ?? nil)?.isRegular == true }) { return nil }
        let folders = FileSystem.folders(of: pattern)
        if !folders.paths.contains(where: FileSystem.isDirectory) { return "its folder \(folders.folder) does not exist" }
        return listing.paths.isEmpty ? "matches no file yet" : "matches no regular file"
    }
}
