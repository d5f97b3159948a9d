#if canImport(Glibc)
import Glibc
#endif

/// Test-only faults, from the environment (`AIMON_TEST_STALL=ingest` or `=evaluation`): that service
/// stops making progress once running, as a thread stuck in a kernel call or a deadlock would, so
/// the tests can see the watchdog withheld. Never set in production.
enum FaultInjection {
    static func stalls(_ service: String) -> Bool {
        guard let p = getenv("AIMON_TEST_STALL") else { return false }
        return String(cString: p) == service
    }
}
