import CMicroHTTPD
import Synchronization

/// Who may read the endpoint (`http.bearer_token_file`, `http.basic_auth_users`); everyone when
/// neither is set (loopback only, checked when the configuration is loaded).
///
/// Passwords are kept as crypt(3) hashes, which are slow on purpose (bcrypt: tens of ms). So that a
/// client without credentials cannot keep the endpoint's threads hashing, or learn user names from
/// the time an answer takes:
/// - a credential that passed is remembered (at most 64): a scrape every second costs one check in
///   total; one that failed is remembered too (at most 256), and refused without a check;
/// - one check runs at a time: a request that would start a second is refused (401) at once;
/// - an unknown user costs the same check as a known one (against another user's hash).
final class HTTPAuth: Sendable {
    let bearerToken: String?
    let users: [String: String]
    private struct Memory {
        var passed: Set<String> = []
        var failed: Set<String> = []
        var checking = false
    }
    private let memory = Mutex(Memory())

    init(_ config: Config.HTTP) {
        bearerToken = config.bearerToken
        users = config.basicUsers
    }

    var required: Bool { bearerToken != nil || !users.isEmpty }

    /// The `WWW-Authenticate` challenge of a 401.
    var challenge: String { users.isEmpty ? "Bearer realm=\"aimon\"" : "Basic realm=\"aimon\", charset=\"UTF-8\"" }

    /// Whether an `Authorization` header value lets the request in. The scheme is case-insensitive
    /// (RFC 9110).
    func allows(_ authorization: String?) -> Bool {
        guard required else { return true }
        guard let authorization else { return false }
        let scheme = authorization.prefix { $0 != " " }.lowercased()
        let credentials = authorization.drop { $0 != " " }.drop { $0 == " " }
        if let token = bearerToken, scheme == "bearer" {
            return Self.same(Array(credentials.utf8), Array(token.utf8))
        }
        guard !users.isEmpty, scheme == "basic" else { return false }
        let start = memory.withLock { m -> Bool? in
            if m.passed.contains(authorization) { return true }
            if m.failed.contains(authorization) || m.checking { return false }
            m.checking = true
            return nil
        }
        if let start { return start }
        let ok = check(credentials)
        memory.withLock { m in
            m.checking = false
            if ok {
                if m.passed.count >= 64 { m.passed.removeAll() }
                m.passed.insert(authorization)
            } else {
                if m.failed.count >= 256 { m.failed.removeAll() }
                m.failed.insert(authorization)
            }
        }
        return ok
    }

    /// One hash check of `user:password` (base64), whoever the user.
    private func check(_ credentials: Substring) -> Bool {
        guard let decoded = Base64.decode(credentials), let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
              !decoded.contains(0) else { return false }
        let user = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = String(decoding: decoded[(colon + 1)...], as: UTF8.self)
        guard let hash = users[user] else {
            _ = PasswordHash.matches(password, users.values.min()!)  // the same time as a known user
            return false
        }
        return PasswordHash.matches(password, hash)
    }

    /// Equal bytes, in a time that depends on neither where they differ nor the expected length.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// crypt(3) password hashes (libcrypt: bcrypt, yescrypt, sha512-crypt...).
public enum PasswordHash {
    public static func matches(_ password: String, _ hash: String) -> Bool {
        cmhd_password_matches(password, hash) == 1
    }

    /// Why libcrypt (loaded when first needed) cannot be used; nil when it can.
    public static var unavailable: String? { cmhd_crypt_error().map { String(cString: $0) } }

    /// Whether libcrypt knows the hash's method and the hash is well formed (a hash, not a password).
    public static func isSupported(_ hash: String) -> Bool {
        hash.hasPrefix("$") && cmhd_hash_usable(hash) == 1
    }
}

/// RFC 4648 base64, for Basic credentials.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = (acc << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }
}
