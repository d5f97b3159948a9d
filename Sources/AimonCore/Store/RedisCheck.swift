/// `aimon check-config --connect`: whether this Redis can serve aimon. Reachable and authenticated
/// (the connection), a server version aimon works with, and every command aimon sends, directly or
/// from its Lua scripts, allowed by the user's ACL: each is run on scratch keys under aimon's
/// prefix, which are removed after.
public enum RedisCheck {
    /// The commands aimon sends itself.
    static let direct = ["PING", "HELLO", "SCAN", "HGET", "HGETALL", "HMGET", "SMEMBERS", "PFCOUNT", "ZRANGEBYSCORE", "EXPIRE",
                         "UNLINK", "SCRIPT", "EVALSHA"]

    /// Tries from a script every command aimon's scripts call; returns the ones the ACL refuses.
    static let scriptProbe = #"""
local refused = {}
local function try(...)
  local r = redis.pcall(...)
  -- Redis 7 says "ERR The user executing the script can't run this command"; others NOPERM.
  if type(r) == 'table' and r.err and (string.find(r.err, 'NOPERM') or string.find(r.err, "can't run this command")) then
    refused[#refused + 1] = select(1, ...)
  end
end
try('HSET', KEYS[1], 'f', '1'); try('HINCRBY', KEYS[1], 'f', '1'); try('HGET', KEYS[1], 'f'); try('HEXISTS', KEYS[1], 'f')
try('HLEN', KEYS[1]); try('HDEL', KEYS[1], 'f'); try('TYPE', KEYS[1]); try('EXISTS', KEYS[1]); try('EXPIRE', KEYS[1], 60)
try('TTL', KEYS[1])
try('PFADD', KEYS[2], 'u'); try('GETRANGE', KEYS[2], 0, 3); try('EXPIREAT', KEYS[2], 4000000000)
try('SADD', KEYS[3], 'm'); try('SREM', KEYS[3], 'm')
try('ZADD', KEYS[4], 1, 'm'); try('ZSCORE', KEYS[4], 'm'); try('ZREMRANGEBYSCORE', KEYS[4], '-inf', '+inf')
return refused
"""#

    public struct Outcome: Sendable {
        /// "Redis 7.0.15", from INFO server.
        public var version: String
        /// Commands the ACL refuses (NOPERM), if any.
        public var refused: [String]
    }

    /// Runs the probes on `redis` (already connected and authenticated); `sentinel`: ROLE too (aimon
    /// checks the master's role). The version comes from HELLO (Redis 6 and later). Throws for a
    /// connection that breaks.
    public static func run(on redis: RedisConnection, keys: KeySchema, host: String, sentinel: Bool = false,
                           waits: Bool = false) throws(RedisError) -> Outcome {
        let base = keys.prefix + ":check:" + KeySchema.escape(host)
        let scratch = [base + ":h", base + ":u", base + ":s", base + ":z"]
        var refused: [String] = []
        func noPerm(_ r: RedisReply) -> Bool { if case let .error(e) = r { return e.hasPrefix("NOPERM") } else { return false } }

        var c = RedisCommands()
        c.append(["PING"])
        c.append(["HELLO"])  // the version, from a command every ACL for aimon allows (INFO is @dangerous)
        c.append(["SCAN", "0", "MATCH", base + ":*", "COUNT", "10"])
        c.append(["HGET", scratch[0], "f"])
        c.append(["HGETALL", scratch[0]])
        c.append(["HMGET", scratch[0], "f"])
        c.append(["SMEMBERS", scratch[2]])
        c.append(["PFCOUNT", scratch[1]])
        c.append(["ZRANGEBYSCORE", scratch[3], "-inf", "+inf"])
        c.append(["EXPIRE", scratch[0], "60"])
        let replies = try redis.pipeline(c)
        for (name, reply) in zip(direct, replies) where noPerm(reply) && name != "HELLO" { refused.append(name) }
        if sentinel, noPerm(try redis.command(["ROLE"])) { refused.append("ROLE") }
        if waits, noPerm(try redis.command(["WAIT", "0", "1"])) { refused.append("WAIT") }
        var version = "Redis (version unknown)"
        // HELLO's reply (RESP2): server, redis, version, 7.0.15, proto, 2...
        let fields = replies[1].array ?? []
        if let i = fields.firstIndex(where: { $0.text == "version" }), i + 1 < fields.count, let v = fields[i + 1].text {
            version = "Redis " + v
        }

        let loaded = try redis.command(["SCRIPT", "LOAD", scriptProbe])
        if case let .string(bytes) = loaded {
            var e = RedisCommands()
            e.append(["EVALSHA", String(decoding: bytes, as: UTF8.self), String(scratch.count)], scratch)
            let reply = try redis.pipeline(e)[0]
            if noPerm(reply) { refused.append("EVALSHA") }
            for name in reply.array?.compactMap(\.text) ?? [] { refused.append(name) }
        } else if noPerm(loaded) {
            refused += ["SCRIPT", "EVALSHA"]
        }
        var u = RedisCommands()
        u.append(["UNLINK"], scratch)
        if noPerm(try redis.pipeline(u)[0]) { refused.append("UNLINK") }
        return Outcome(version: version, refused: refused)
    }
}
