import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// One blocking connection to Redis through hiredis. Owns the `redisContext` and frees it in `deinit`.
///
/// Not thread-safe: each user (ingest, evaluation, a CLI command) owns its own connection and calls it
/// from one thread. After an `.io` error the connection is unusable; make a new one.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    public let url: RedisURL
    /// SHA1 of each Lua script loaded on this connection (SCRIPT LOAD), by source.
    private var scriptSHAs: [String: String] = [:]
    /// Seconds a reply may take (`redis.timeout`).
    private let timeout: Double

    /// hiredis writes with write(2): on a connection the server reset, that raises SIGPIPE, whose
    /// default action ends the process without a word. Ignored once, process-wide, before the first
    /// connection (the write then fails with EPIPE, an `.io` error, and the connection is made again).
    /// Every other socket aimon writes (libpq, libcurl, libmicrohttpd, journald) already uses
    /// MSG_NOSIGNAL.
    private static let sigpipeIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Connects, authenticates and selects the database. `timeout` bounds connect and each reply.
    public init(url: RedisURL, timeout: Double = 5) throws(RedisError) {
        Self.sigpipeIgnored
        self.url = url
        self.timeout = timeout
        let tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        let ctx: UnsafeMutablePointer<redisContext>?
        switch url.endpoint {
        case let .tcp(host, port): ctx = redisConnectWithTimeout(host, Int32(port), tv)
        case let .unix(path): ctx = redisConnectUnixWithTimeout(path, tv)
        }
        guard let ctx else { throw RedisError(.connection, "cannot allocate a Redis context for \(url)") }
        if ctx.pointee.err != 0 {
            let reason = Self.errorString(ctx)
            redisFree(ctx)
            throw RedisError(.connection, "cannot connect to Redis at \(url): \(reason) (is redis-server running there? see redis.url in the config)")
        }
        context = ctx
        redisSetTimeout(ctx, tv)
        if case .tcp = url.endpoint { _ = redisEnableKeepAlive(ctx) }
        if let password = url.password {
            var auth = ["AUTH"]
            if let user = url.username { auth.append(user) }
            auth.append(password)
            if case let .error(e) = try command(auth) {
                throw RedisError(.authentication, "Redis at \(url) refused the password: \(e) (check the password in redis.url)")
            }
        } else if case let .error(e) = try command(["PING"]), e.hasPrefix("NOAUTH") {
            throw RedisError(.authentication, "Redis at \(url) requires a password and none is configured: put it in redis.url, "
                + "as redis://:PASSWORD@host:port/db (or redis://USER:PASSWORD@host:port/db for an ACL user)")
        }
        if url.database != 0, case let .error(e) = try command(["SELECT", String(url.database)]) {
            throw RedisError(.reply, "Redis at \(url) refused database \(url.database): \(e)")
        }
    }

    deinit { redisFree(context) }

    /// Sends one command and returns its reply (an error reply is returned, not thrown).
    public func command(_ args: [String]) throws(RedisError) -> RedisReply {
        var commands = RedisCommands()
        commands.append(args)
        return try pipeline(commands)[0]
    }

    /// Runs a Lua script by its SHA1 (EVALSHA), loading it first on this connection; a script the
    /// server forgot (NOSCRIPT: a restart, SCRIPT FLUSH) ran nothing, so it is loaded and sent again.
    public func evaluate(_ script: String, keys: [String], arguments: [String]) throws(RedisError) -> RedisReply {
        for _ in 0..<2 {
            let sha: String
            if let known = scriptSHAs[script] { sha = known } else {
                let loaded = try command(["SCRIPT", "LOAD", script])
                guard case let .string(bytes) = loaded else { throw RedisError(.reply, "Redis refused to load a script: \(loaded)") }
                sha = String(decoding: bytes, as: UTF8.self)
                scriptSHAs[script] = sha
            }
            var c = RedisCommands()
            c.append(["EVALSHA", sha, String(keys.count)], keys + arguments)
            let reply = try pipeline(c)[0]
            guard case let .error(e) = reply, e.hasPrefix("NOSCRIPT") else { return reply }
            scriptSHAs[script] = nil
        }
        throw RedisError(.reply, "Redis keeps forgetting aimon's Lua script (NOSCRIPT)")
    }

    /// Sends every command in one write and reads all their replies, in order.
    public func pipeline(_ commands: RedisCommands) throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let status = commands.bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                redisAppendFormattedCommand(context, $0, buf.count)
            }
        }
        guard status == REDIS_OK else { throw ioError("queueing commands") }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in 0..<commands.count {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw ioError("reading a reply") }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func ioError(_ doing: String) -> RedisError {
        // A socket timeout surfaces as EAGAIN: the server is there but silent (stalled, frozen, or the
        // network dropping packets), which "lost" would not say.
        let reason = Self.errorString(context)
        if context.pointee.err == REDIS_ERR_IO, reason == String(cString: strerror(EAGAIN)) {
            let seconds = timeout == timeout.rounded() ? "\(Int(timeout))" : "\(timeout)"
            return RedisError(.io, "no reply within redis.timeout (\(seconds) s) from Redis at \(url) while \(doing): "
                + "the server is stalled or the network is down; the connection is dropped and made again")
        }
        return RedisError(.io, "lost Redis at \(url) while \(doing): \(reason)")
    }

    private static func errorString(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            let text = String(decoding: bytes[..<end], as: UTF8.self)
            return text.isEmpty ? "connection closed (error \(ctx.pointee.err))" : text
        }
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .string(Array(UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len))))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len)), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: reply.str, count: Int(reply.len)), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(reply.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(reply.elements))
            for i in 0..<Int(reply.elements) {
                if let e = reply.element[i] { items.append(convert(e)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }
}
