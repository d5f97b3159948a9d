/// aimon's version (`aimon --version`, `aimon_build_info`).
public enum AimonVersion {
    public static let current = "0.1.0"
}
