import Foundation

/// The peer on the same file: mtail counting calls, failures and latency per model, in memory.
enum MtailBenchmark {
    static let program = """
    counter aimon_calls by model
    counter aimon_failures by model
    counter aimon_latency_seconds_sum by model

    /"model_name":"(?P<model>[^"]+)"/ {
      aimon_calls[$model]++
      /"success":false/ {
        aimon_failures[$model]++
      }
      /"response_time":(?P<rt>[0-9.]+)/ {
        aimon_latency_seconds_sum[$model] += $rt
      }
    }

    """

    static func run(logPath: String, lines: Int, workDir: String) throws -> (linesPerSecond: Double, seconds: Double)? {
        guard let mtail = ["/usr/bin/mtail", "/usr/local/bin/mtail"].first(where: FileManager.default.isExecutableFile) else { return nil }
        let progs = "\(workDir)/mtail-progs"
        try FileManager.default.createDirectory(atPath: progs, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(progs)/aimon.mtail", contents: Data(program.utf8))
        let start = DispatchTime.now().uptimeNanoseconds
        let (status, _) = try spawnAndWait(mtail, ["--one_shot", "--one_shot_format", "json", "--progs", progs, "--logs", logPath, "--logtostderr=false", "--stderrthreshold", "FATAL"], stdout: "/dev/null")
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard status == 0 else { throw ValidationErrorText("mtail exited with \(status)") }
        return (Double(lines) / seconds, seconds)
    }
}
