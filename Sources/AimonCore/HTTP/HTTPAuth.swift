import CMicroHTTPD
import Synchronization

/// Who may read the endpoint (`http.bearer_token_file`, `http.basic_auth_users`); everyone when
/// neither is set (loopback only, checked when the configuration is loaded).
///
/// Passwords are kept as crypt(3) hashes, which are slow on purpose (bcrypt: tens of ms); a
/// credential that passed once is remembered (at most 64), so a scrape every second costs one hash
/// check in total, not one per scrape.
final class HTTPAuth: Sendable {
    let bearerToken: String?
    let users: [String: String]
    private let verified = Mutex<Set<String>>([])

    init(_ config: Config.HTTP) {
        bearerToken = config.bearerToken
        users = config.basicUsers
    }

    var required: Bool { bearerToken != nil || !users.isEmpty }

    /// The `WWW-Authenticate` challenge of a 401.
    var challenge: String { users.isEmpty ? "Bearer realm=\"aimon\"" : "Basic realm=\"aimon\", charset=\"UTF-8\"" }

    /// Whether an `Authorization` header value lets the request in.
    func allows(_ authorization: String?) -> Bool {
        guard required else { return true }
        guard let authorization else { return false }
        if let token = bearerToken, authorization.hasPrefix("Bearer ") {
            return Self.same(Array(authorization.utf8.dropFirst(7)), Array(token.utf8))
        }
        guard !users.isEmpty, authorization.hasPrefix("Basic "),
              let decoded = Base64.decode(authorization.dropFirst(6)),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return false }
        let user = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = String(decoding: decoded[(colon + 1)...], as: UTF8.self)
        guard let hash = users[user] else { return false }
        if verified.withLock({ $0.contains(authorization) }) { return true }
        guard PasswordHash.matches(password, hash) else { return false }
        verified.withLock { v in
            if v.count >= 64 { v.removeAll() }
            v.insert(authorization)
        }
        return true
    }

    /// Equal bytes, in a time that does not depend on where they differ.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// crypt(3) password hashes (libcrypt: bcrypt, yescrypt, sha512-crypt...).
public enum PasswordHash {
    public static func matches(_ password: String, _ hash: String) -> Bool {
        cmhd_password_matches(password, hash) == 1
    }

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
