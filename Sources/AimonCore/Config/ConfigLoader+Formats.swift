import Yams

/// A source's format: `format:`, `fields:`, `success:`, `count_as_failure:` (Docs/formats.md).
extension Checker {
    mutating func sourceFormat(_ m: Node.Mapping, node: Node, key: String) -> SourceFormat {
        var format = SourceFormat()
        if let f = m["format"], let s = string(f, key: "\(key).format") {
            if let v = LogFormat(rawValue: s) { format.preset = v } else {
                fail("\(key).format", f, "unknown format '\(s)'; known: \(LogFormat.names) (or give fields: for any other JSON-lines log)")
            }
        } else if m["fields"] != nil {
            format.preset = nil  // fields alone: a custom mapping
        }
        if let n = m["fields"], let fields = mapping(n, key: "\(key).fields") {
            allowOnly(fields, FieldMapping.Field.allCases.map(\.rawValue), in: "\(key).fields")
            for (k, v) in fields {
                guard let name = k.string, let field = FieldMapping.Field(rawValue: name) else { continue }
                if let source = fieldSource(v, field: field, key: "\(key).fields.\(name)") { format.custom.fields[field] = source }
            }
        }
        if let n = m["success"] { format.custom.success = successRule(n, key: "\(key).success") }
        if let n = m["count_as_failure"] {
            if case let .sequence(seq) = n {
                var classes: Set<CallOutcome> = []
                for item in seq {
                    guard let s = string(item, key: "\(key).count_as_failure") else { continue }
                    if let c = CallOutcome(name: s), c != .success { classes.insert(c) } else {
                        fail("\(key).count_as_failure", item, "'\(s)' is not a failure class; known: client_error, rate_limited, provider_error")
                    }
                }
                format.policy = FailurePolicy(classes)
            } else {
                fail("\(key).count_as_failure", n, "must be a list, e.g. [provider_error, rate_limited] (the default)")
            }
        }
        for problem in format.problems {
            fail("\(key).\(problem.key)", m["fields"] ?? node, problem.message)
        }
        return format
    }

    /// `path`, `[path, path]`, or `{path: | paths: | start: end:, unit:}`.
    private mutating func fieldSource(_ node: Node, field: FieldMapping.Field, key: String) -> FieldMapping.Source? {
        switch node {
        case .scalar:
            return path(node, key: key).map { FieldMapping.Source(paths: [$0]) }
        case let .sequence(seq):
            let paths = seq.compactMap { path($0, key: key) }
            if seq.isEmpty { fail(key, node, "must list at least one path") }
            return paths.count == seq.count && !paths.isEmpty ? FieldMapping.Source(paths: paths) : nil
        case let .mapping(m):
            allowOnly(m, ["path", "paths", "unit", "start", "end"], in: key)
            var source = FieldMapping.Source(paths: [])
            if let p = m["path"] { path(p, key: "\(key).path").map { source.paths.append($0) } }
            if let ps = m["paths"] {
                if case let .sequence(seq) = ps { source.paths += seq.compactMap { path($0, key: "\(key).paths") } }
                else { fail("\(key).paths", ps, "must be a list of paths") }
            }
            if let u = m["unit"], let s = string(u, key: "\(key).unit") {
                if let unit = TimeUnit(rawValue: s) { source.unit = unit } else {
                    fail("\(key).unit", u, "unknown unit '\(s)'; known: s, ms, us (durations and epoch times), rfc3339 (times as text)")
                }
            }
            switch (m["start"], m["end"]) {
            case (nil, nil): break
            case let (s?, e?):
                if let a = path(s, key: "\(key).start"), let b = path(e, key: "\(key).end") { source.span = .init(start: a, end: b) }
                if !source.paths.isEmpty { fail(key, node, "give either path(s) or start and end, not both") }
            default:
                fail(key, node, "start and end go together: the duration is end - start")
            }
            if source.paths.isEmpty && source.span == nil {
                fail(key, node, "needs path (or paths, or start and end)")
                return nil
            }
            return source
        default:
            fail(key, node, "must be a dotted path, a list of paths, or a mapping with path and unit")
            return nil
        }
    }

    private mutating func path(_ node: Node, key: String) -> JSONPath? {
        guard let s = string(node, key: key) else { return nil }
        do { return try JSONPath(parsing: s) } catch {
            fail(key, node, "'\(s)' is not a dotted path: \(error) (e.g. response.status, ai.*.meta.request_model)")
            return nil
        }
    }

    /// `{field: PATH, values: [...]}` or `{status: [200-299, 304]}`.
    private mutating func successRule(_ node: Node, key: String) -> FieldMapping.SuccessRule? {
        guard let m = mapping(node, key: key) else { return nil }
        allowOnly(m, ["field", "values", "status"], in: key)
        if let st = m["status"] {
            if m["field"] != nil || m["values"] != nil { fail(key, node, "give either status, or field and values, not both") }
            guard case let .sequence(seq) = st, !seq.isEmpty else {
                fail("\(key).status", st, "must list status codes or ranges, e.g. [200-299, 304]")
                return nil
            }
            var ranges: [ClosedRange<Int>] = []
            for item in seq {
                guard let s = string(item, key: "\(key).status") else { continue }
                if let r = Self.statusRange(s) { ranges.append(r) } else {
                    fail("\(key).status", item, "'\(s)' is not a status or a range of them (100-599), e.g. 200-299")
                }
            }
            return ranges.count == seq.count ? .status(ranges) : nil
        }
        guard let f = m["field"] else {
            fail(key, node, "needs field and values (e.g. {field: outcome, values: [ok]}) or status (e.g. {status: [200-399]})")
            return nil
        }
        guard let p = path(f, key: "\(key).field") else { return nil }
        var values: [String] = []
        if let v = m["values"] {
            if case let .sequence(seq) = v { values = seq.compactMap { string($0, key: "\(key).values") } }
            else if let s = string(v, key: "\(key).values") { values = [s] }
        } else {
            fail("\(key).values", node, "is missing: the values of \(p) that mean success")
        }
        return .values(path: p, values: values)
    }

    static func statusRange(_ s: String) -> ClosedRange<Int>? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
        guard (1...2).contains(parts.count), let a = Int(parts[0]), let b = Int(parts.last!), 100 <= a, a <= b, b <= 599 else { return nil }
        return a...b
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}
