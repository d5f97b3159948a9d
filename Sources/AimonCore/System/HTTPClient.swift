import CCurl

/// An HTTP failure: no answer (connect, timeout, reset), or an answer that is not 2xx.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    /// The status when the server answered; nil when it could not be reached.
    public var status: Int?
    public var message: String
    public var description: String { message }
}

/// Blocking HTTP requests through libcurl's easy interface, one handle per client (not thread-safe:
/// each user owns its client, as with Redis connections). Used for Alertmanager pushes, from the
/// sink's own thread.
public final class HTTPClient {
    /// nil when libcurl (loaded when first needed) cannot be loaded: every request then fails, saying why.
    private let handle: UnsafeMutableRawPointer?
    public let timeout: Double

    public init(timeout: Double) {
        handle = ccurl_easy_init()
        self.timeout = timeout
    }

    deinit { ccurl_easy_cleanup(handle) }

    /// POSTs `body` (JSON) to `url`; the response body (at most 64 KiB kept) when the status is 2xx.
    @discardableResult
    public func postJSON(_ url: String, body: [UInt8]) throws(HTTPError) -> String { try perform(url, body: body) }

    /// GETs `url`; the response body (at most 64 KiB kept) when the status is 2xx.
    @discardableResult
    public func get(_ url: String) throws(HTTPError) -> String { try perform(url, body: nil) }

    private func perform(_ url: String, body: [UInt8]?) throws(HTTPError) -> String {
        final class Sink { var bytes: [UInt8] = [] }
        guard let handle else {
            let why = ccurl_load().map { String(cString: $0) } ?? "curl_easy_init failed"
            throw HTTPError(status: nil, message: "\(url): libcurl cannot be loaded (\(why)); install libcurl4")
        }
        let sink = Sink()
        ccurl_easy_reset(handle)
        var headers: UnsafeMutablePointer<curl_slist>? = ccurl_slist_append(nil, "Content-Type: application/json")
        headers = ccurl_slist_append(headers, "User-Agent: aimon")
        defer { ccurl_slist_free_all(headers) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        let payload = body ?? []
        let code: CURLcode = payload.withUnsafeBufferPointer { b in
            errorBuffer.withUnsafeMutableBufferPointer { e in
                ccurl_setopt_string(handle, CURLOPT_URL, url)
                ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)  // threads: no SIGALRM for timeouts
                ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeout, 5) * 1000))
                if body != nil {
                    ccurl_setopt_long(handle, CURLOPT_POST, 1)
                    ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: b.baseAddress))
                    ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, b.count)
                }
                ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers))
                ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(e.baseAddress))
                ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                ccurl_setopt_write(handle) { data, size, count, context in
                    let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                    let n = size * count
                    if sink.bytes.count < 65536, let data {
                        data.withMemoryRebound(to: UInt8.self, capacity: n) { sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(n, 65536 - sink.bytes.count))) }
                    }
                    return n
                }
                return ccurl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw HTTPError(status: nil, message: "\(url): \(detail.isEmpty ? String(cString: ccurl_easy_strerror(code)) : detail)")
        }
        var status = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let text = String(decoding: sink.bytes, as: UTF8.self)
        guard (200..<300).contains(status) else {
            throw HTTPError(status: status, message: "\(url) answered \(status): \(text.prefix(200))")
        }
        return text
    }
}
