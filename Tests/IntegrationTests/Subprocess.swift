import Foundation

/// Child processes of the tests through posix_spawn + waitpid, rather than Foundation's Process:
/// `pg_ctl start` leaves a server behind that inherits descriptors (Process would wait for them to
/// close), and Process's waitUntilExit hung on children that ignored SIGTERM.
enum Subprocess {
    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr appended to `output`. The test's
    /// threads block signals (Dispatch workers): the child gets an empty mask and default handlers,
    /// or SIGTERM would never stop it.
    static func spawn(_ argv: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else { throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for the child; its wait status.
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    static func terminate(_ pid: pid_t) {
        kill(pid, SIGTERM)
        wait(pid)
    }

    /// Runs `argv` to its end (killed after `timeout` seconds): its exit status (-1 if killed or
    /// signalled) and its stdout and stderr together.
    static func run(_ argv: [String], timeout: Double) throws -> (status: Int32, output: String) {
        let output = "/tmp/aimon-run-" + UUID().uuidString.prefix(8).lowercased() + ".out"
        defer { unlink(output) }
        let pid = try spawn(argv, output: output)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if Date() > deadline {
                kill(pid, SIGKILL)
                wait(pid)
                return (-1, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
            }
            usleep(50_000)
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : -1, text)
    }
}
