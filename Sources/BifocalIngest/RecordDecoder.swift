public import BifocalCore

/// One element of a batch that was not kept, and why.
public struct RecordRejection: Sendable, Hashable, CustomStringConvertible {
    /// Position in the body: array index, or line number - 1 for NDJSON and capture files.
    public var index: Int
    /// The JSON name of the offending field (`ttft_ms`, `labels.team`); nil when the whole element is wrong.
    public var field: String?
    /// A precise reason (`expected a non-negative number, got string`).
    public var error: String

    /// Creates a rejection.
    public init(index: Int, field: String?, error: String) {
        self.index = index
        self.field = field
        self.error = error
    }

    /// `#index field: error`.
    public var description: String { "#\(index) \(field.map { "\($0): " } ?? "")\(error)" }
}

/// The outcome of decoding a body: the valid records, where each came from, and the rejections.
public struct DecodedRecords: Sendable, Hashable {
    /// The valid records, in body order.
    public var records: [InferenceRecord]
    /// The body index (array position or line number - 1) of each record in `records`.
    public var indices: [Int]
    /// The invalid elements, in body order.
    public var rejected: [RecordRejection]

    /// Creates a result.
    public init(records: [InferenceRecord] = [], indices: [Int] = [], rejected: [RecordRejection] = []) {
        self.records = records
        self.indices = indices
        self.rejected = rejected
    }
}

/// A body that is not a JSON array at all (the API answers 400): where it breaks and why.
public struct BodySyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset into the body.
    public var offset: Int
    /// What was wrong there.
    public var reason: String

    /// Creates an error.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// `reason at byte offset`.
    public var description: String { "\(reason) at byte \(offset)" }
}

/// Size limits a record must respect; larger values are rejected, never truncated.
public enum RecordLimits {
    /// Bytes (UTF-8) of names and ids: `id`, `endpoint`, `model`, `tenant`, `finish_reason`, ...
    public static let nameBytes = 1024
    /// Bytes of `error`.
    public static let errorBytes = 64 * 1024
    /// Bytes of each text kept for quality work: `prompt`, `response`, `context`, `reference`.
    public static let textBytes = 1024 * 1024
    /// Bytes of each label name and value.
    public static let labelBytes = 1024
    /// Labels per record.
    public static let labels = 64
    /// Entries of `itl_ms`.
    public static let itlEntries = 16_384
}

/// Decodes ingest API bodies (a JSON array of records, or NDJSON) into validated records, with a
/// purpose-built byte-level parser (no Foundation, no intermediate values).
public enum RecordDecoder {
    /// Decodes a JSON array of record objects. Elements with bad content are rejected one by one;
    /// a body that is not a syntactically valid JSON array throws.
    public static func decodeJSONArray(_ body: UnsafeRawBufferPointer, defaultSource: RecordSource = .api) throws(BodySyntaxError) -> DecodedRecords {
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        var scanner = JSONScanner(bytes, scratch: ScratchBuffer())
        defer { scanner.scratch.deallocate() }
        do {
            return try scanner.decodeArray(defaultSource: defaultSource)
        } catch {
            throw BodySyntaxError(offset: error.offset, reason: error.reason)
        }
    }

    /// Decodes NDJSON: one record object per line, blank lines skipped. A line that is not valid JSON
    /// is rejected on its own (index = line number - 1); the other lines are still decoded.
    public static func decodeNDJSON(_ body: UnsafeRawBufferPointer, defaultSource: RecordSource = .api) -> DecodedRecords {
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        var result = DecodedRecords()
        var scratch = ScratchBuffer()
        defer { scratch.deallocate() }
        forEachLine(bytes) { line, index in
            var scanner = JSONScanner(line, scratch: scratch)
            defer { scratch = scanner.scratch }
            scanner.skipByteOrderMark()
            scanner.skipWhitespace()
            if scanner.atEnd { return }
            do throws(SyntaxFailure) {
                let outcome = try scanner.decodeElement(defaultSource: defaultSource)
                scanner.skipWhitespace()
                guard scanner.atEnd else {
                    throw scanner.failure("unexpected \(scanner.found()) after the record (one record per line)")
                }
                switch outcome {
                case .success(let record):
                    result.records.append(record)
                    result.indices.append(index)
                case .failure(let problem):
                    result.rejected.append(RecordRejection(index: index, field: problem.field, error: problem.error))
                }
            } catch {
                result.rejected.append(RecordRejection(index: index, field: nil, error: "invalid JSON: \(error.reason) at byte \(error.offset) of the line"))
            }
        }
        return result
    }

    /// Decodes a JSON array held in any byte collection.
    public static func decodeJSONArray(_ body: some Collection<UInt8>, defaultSource: RecordSource = .api) throws(BodySyntaxError) -> DecodedRecords {
        let result: Result<DecodedRecords, BodySyntaxError> = withContiguousBytes(body) { raw in
            do throws(BodySyntaxError) { return .success(try decodeJSONArray(raw, defaultSource: defaultSource)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes NDJSON held in any byte collection.
    public static func decodeNDJSON(_ body: some Collection<UInt8>, defaultSource: RecordSource = .api) -> DecodedRecords {
        withContiguousBytes(body) { decodeNDJSON($0, defaultSource: defaultSource) }
    }

    /// Calls `body` with each line (without its `\n`) and its 0-based line number.
    static func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        var start = 0
        var index = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n, bytes[end] != 0x0A { end += 1 }
            body(UnsafeBufferPointer(rebasing: bytes[start..<end]), index)
            index += 1
            start = end + 1
        }
    }
}

/// Runs `body` on contiguous bytes of a collection (copying only when it has no contiguous storage).
func withContiguousBytes<R>(_ collection: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let result = collection.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return Array(collection).withUnsafeBytes(body)
}

/// The record fields, by JSON name.
enum RecordField: Int, CaseIterable {
    case id, start, endpoint, model, component, variant, instance, copy, status, httpStatus, error, streaming
    case inputTokens, outputTokens, ttftMs, e2eMs, queueMs, itlMs, itlMeanMs, itlMaxMs, finishReason
    case tokensEstimated, source, provider, requestModel, traceId, spanId, tenant, prompt, response
    case context, reference, labels

    static let jsonNames = [
        "id", "start", "endpoint", "model", "component", "variant", "instance", "copy", "status", "http_status",
        "error", "streaming", "input_tokens", "output_tokens", "ttft_ms", "e2e_ms", "queue_ms", "itl_ms",
        "itl_mean_ms", "itl_max_ms", "finish_reason", "tokens_estimated", "source", "provider", "request_model",
        "trace_id", "span_id", "tenant", "prompt", "response", "context", "reference", "labels",
    ]

    var jsonName: String { Self.jsonNames[rawValue] }

    @inline(__always) static func match(_ b: UnsafeBufferPointer<UInt8>) -> RecordField? {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            let p = s.utf8Start
            for i in 0..<b.count where b[i] != p[i] { return false }
            return true
        }
        switch b.count {
        case 2: if eq("id") { return .id }; return nil
        case 4: if eq("copy") { return .copy }; return nil
        case 5: if eq("start") { return .start }; if eq("model") { return .model }; if eq("error") { return .error }; return nil
        case 6: if eq("status") { return .status }; if eq("e2e_ms") { return .e2eMs }; if eq("itl_ms") { return .itlMs }; if eq("source") { return .source }; if eq("tenant") { return .tenant }; if eq("prompt") { return .prompt }; if eq("labels") { return .labels }; return nil
        case 7: if eq("variant") { return .variant }; if eq("ttft_ms") { return .ttftMs }; if eq("span_id") { return .spanId }; if eq("context") { return .context }; return nil
        case 8: if eq("endpoint") { return .endpoint }; if eq("instance") { return .instance }; if eq("queue_ms") { return .queueMs }; if eq("provider") { return .provider }; if eq("trace_id") { return .traceId }; if eq("response") { return .response }; return nil
        case 9: if eq("component") { return .component }; if eq("streaming") { return .streaming }; if eq("reference") { return .reference }; return nil
        case 10: if eq("itl_max_ms") { return .itlMaxMs }; return nil
        case 11: if eq("http_status") { return .httpStatus }; if eq("itl_mean_ms") { return .itlMeanMs }; return nil
        case 12: if eq("input_tokens") { return .inputTokens }; return nil
        case 13: if eq("output_tokens") { return .outputTokens }; if eq("finish_reason") { return .finishReason }; if eq("request_model") { return .requestModel }; return nil
        case 16: if eq("tokens_estimated") { return .tokensEstimated }; return nil
        default: return nil
        }
    }
}

/// A content problem with one record: which field, and why.
struct RecordProblem: Error {
    var field: String?
    var error: String
}

extension RecordStatus {
    /// The status an HTTP status code implies: 2xx/3xx ok, 408/504 timeout, 499 cancelled, other 4xx
    /// client_error, other 5xx server_error.
    static func derived(fromHTTPStatus code: Int) -> RecordStatus {
        switch code {
        case 408, 504: .timeout
        case 499: .cancelled
        case 400..<500: .clientError
        case 500..<600: .serverError
        default: .ok
        }
    }
}

extension JSONScanner {
    /// Decodes `[ element, ... ]` and checks nothing follows it.
    mutating func decodeArray(defaultSource: RecordSource) throws(SyntaxFailure) -> DecodedRecords {
        var result = DecodedRecords()
        skipByteOrderMark()
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "[") else {
            throw failure("unexpected \(found()), expected '[': the body must be a JSON array of records")
        }
        pos += 1
        // A rough guess of the batch size keeps appends from reallocating too often.
        let guess = min(max(bytes.count / 300, 4), 16_384)
        result.records.reserveCapacity(guess)
        result.indices.reserveCapacity(guess)
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
        } else {
            var index = 0
            while true {
                switch try decodeElement(defaultSource: defaultSource) {
                case .success(let record):
                    result.records.append(record)
                    result.indices.append(index)
                case .failure(let problem):
                    result.rejected.append(RecordRejection(index: index, field: problem.field, error: problem.error))
                }
                index += 1
                skipWhitespace()
                if try endOfArrayElement() { break }
            }
        }
        skipWhitespace()
        guard atEnd else { throw failure("unexpected \(found()) after the end of the array") }
        return result
    }

    /// Decodes one element (a record object, or anything else, which is rejected whole).
    mutating func decodeElement(defaultSource: RecordSource) throws(SyntaxFailure) -> Result<InferenceRecord, RecordProblem> {
        let k = try kind()
        guard k == .object else {
            try skipValue()
            return .failure(RecordProblem(field: nil, error: "expected a record object, got \(k.name)"))
        }
        return try decodeRecord(defaultSource: defaultSource)
    }

    /// Decodes a record object starting at `{`. Syntax errors throw; content errors are returned
    /// (the first one found), after the rest of the object was checked for syntax.
    mutating func decodeRecord(defaultSource: RecordSource) throws(SyntaxFailure) -> Result<InferenceRecord, RecordProblem> {
        pos += 1 // {
        var record = InferenceRecord(start: 0, source: defaultSource)
        var problem: RecordProblem?
        var seen: UInt64 = 0
        var status: RecordStatus?
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
        } else {
            while true {
                let nameOffset = pos
                let name = try memberName()
                if problem != nil {
                    try skipValue()
                } else if let field = RecordField.match(name.bytes) {
                    let bit = UInt64(1) << UInt64(field.rawValue)
                    if seen & bit != 0 {
                        problem = RecordProblem(field: field.jsonName, error: "duplicate field")
                        try skipValue()
                    } else {
                        seen |= bit
                        problem = try decodeField(field, into: &record, status: &status)
                    }
                } else {
                    var text = try makeString(name, at: nameOffset)
                    if text.utf8.count > 64 { text = String(text.prefix(64)) + "..." }
                    problem = RecordProblem(field: text, error: "unknown field")
                    try skipValue()
                }
                skipWhitespace()
                if try endOfObjectMember() { break }
            }
        }
        if let problem { return .failure(problem) }
        if seen & (1 << UInt64(RecordField.start.rawValue)) == 0 {
            return .failure(RecordProblem(field: "start", error: "required field is missing"))
        }
        if let ttft = record.ttftMs, let e2e = record.e2eMs, ttft > e2e {
            return .failure(RecordProblem(field: "ttft_ms", error: "ttft_ms (\(Self.format(ttft))) is larger than e2e_ms (\(Self.format(e2e)))"))
        }
        if let mean = record.itlMeanMs, let max = record.itlMaxMs, max < mean {
            return .failure(RecordProblem(field: "itl_max_ms", error: "itl_max_ms (\(Self.format(max))) is smaller than itl_mean_ms (\(Self.format(mean)))"))
        }
        if let status {
            record.status = status
        } else if let code = record.httpStatus {
            record.status = .derived(fromHTTPStatus: code)
        }
        return .success(record)
    }

    /// Decodes one field's value into the record; returns a content problem (the value is then skipped).
    @inline(__always)
    mutating func decodeField(_ field: RecordField, into r: inout InferenceRecord, status: inout RecordStatus?) throws(SyntaxFailure) -> RecordProblem? {
        let k = try kind()
        if k == .null {
            try readNull()
            if field == .start { return RecordProblem(field: "start", error: "expected an RFC 3339 time or unix seconds, got null") }
            return nil
        }
        func mismatch(_ expected: String) throws(SyntaxFailure) -> RecordProblem {
            try skipValue()
            return RecordProblem(field: field.jsonName, error: "expected \(expected), got \(k.name)")
        }
        switch field {
        case .id: return try string(field, k, limit: RecordLimits.nameBytes) { r.id = $0 }
        case .endpoint: return try string(field, k, limit: RecordLimits.nameBytes) { r.endpoint = $0 }
        case .model: return try string(field, k, limit: RecordLimits.nameBytes) { r.model = $0 }
        case .component: return try string(field, k, limit: RecordLimits.nameBytes) { r.component = $0 }
        case .variant: return try string(field, k, limit: RecordLimits.nameBytes) { r.variant = $0 }
        case .instance: return try string(field, k, limit: RecordLimits.nameBytes) { r.instance = $0 }
        case .copy: return try string(field, k, limit: RecordLimits.nameBytes) { r.copy = $0 }
        case .finishReason: return try string(field, k, limit: RecordLimits.nameBytes) { r.finishReason = $0 }
        case .provider: return try string(field, k, limit: RecordLimits.nameBytes) { r.provider = $0 }
        case .requestModel: return try string(field, k, limit: RecordLimits.nameBytes) { r.requestModel = $0 }
        case .tenant: return try string(field, k, limit: RecordLimits.nameBytes) { r.tenant = $0 }
        case .error: return try string(field, k, limit: RecordLimits.errorBytes) { r.error = $0 }
        case .prompt: return try string(field, k, limit: RecordLimits.textBytes) { r.prompt = $0 }
        case .response: return try string(field, k, limit: RecordLimits.textBytes) { r.response = $0 }
        case .context: return try string(field, k, limit: RecordLimits.textBytes) { r.context = $0 }
        case .reference: return try string(field, k, limit: RecordLimits.textBytes) { r.reference = $0 }
        case .start:
            if k == .number {
                let n = try readNumber()
                guard let micros = Timestamp.fromUnixSeconds(n.value) else {
                    return RecordProblem(field: "start", error: "unix seconds out of range")
                }
                r.start = micros
                return nil
            }
            guard k == .string else { return try mismatch("an RFC 3339 time or unix seconds") }
            let offset = pos
            let s = try readStringBytes()
            if let micros = Timestamp.parseRFC3339(s.bytes) {
                r.start = micros
                return nil
            }
            let text = try makeString(s, at: offset)
            if let micros = Timestamp.parse(text) {
                r.start = micros
                return nil
            }
            return RecordProblem(field: "start", error: "expected an RFC 3339 time or unix seconds, got '\(Self.clip(text))'")
        case .status:
            guard k == .string else { return try mismatch("a status string") }
            let text = try readString()
            guard let value = RecordStatus(rawValue: text) else {
                return RecordProblem(field: "status", error: "unknown status '\(Self.clip(text))' (expected ok, client_error, server_error, model_error, timeout or cancelled)")
            }
            status = value
            return nil
        case .source:
            guard k == .string else { return try mismatch("a source string") }
            let text = try readString()
            guard let value = RecordSource(rawValue: text) else {
                return RecordProblem(field: "source", error: "unknown source '\(Self.clip(text))' (expected api, capture, gateway or otlp)")
            }
            r.source = value
            return nil
        case .httpStatus:
            guard k == .number else { return try mismatch("an HTTP status code") }
            let v = try readNumber().value
            guard v >= 100, v <= 599, v.rounded(.towardZero) == v else {
                return RecordProblem(field: "http_status", error: "expected an HTTP status code (100-599), got \(Self.format(v))")
            }
            r.httpStatus = Int(v)
            return nil
        case .streaming:
            guard k == .boolean else { return try mismatch("a boolean") }
            r.streaming = try readBool()
            return nil
        case .tokensEstimated:
            guard k == .boolean else { return try mismatch("a boolean") }
            r.tokensEstimated = try readBool()
            return nil
        case .inputTokens: return try count(field, k) { r.inputTokens = $0 }
        case .outputTokens: return try count(field, k) { r.outputTokens = $0 }
        case .ttftMs: return try duration(field, k) { r.ttftMs = $0 }
        case .e2eMs: return try duration(field, k) { r.e2eMs = $0 }
        case .queueMs: return try duration(field, k) { r.queueMs = $0 }
        case .itlMeanMs: return try duration(field, k) { r.itlMeanMs = $0 }
        case .itlMaxMs: return try duration(field, k) { r.itlMaxMs = $0 }
        case .itlMs:
            guard k == .array else { return try mismatch("an array of non-negative numbers") }
            pos += 1
            skipWhitespace()
            var gaps: [Double] = []
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                pos += 1
                r.itlMs = gaps
                return nil
            }
            var problem: RecordProblem?
            while true {
                if problem != nil {
                    try skipValue()
                } else {
                    let ek = try kind()
                    if ek != .number {
                        problem = RecordProblem(field: "itl_ms", error: "entry \(gaps.count): expected a non-negative number, got \(ek.name)")
                        try skipValue()
                    } else {
                        let v = try readNumber().value
                        if !(v >= 0) || !v.isFinite {
                            problem = RecordProblem(field: "itl_ms", error: "entry \(gaps.count): expected a non-negative number, got \(Self.format(v))")
                        } else if gaps.count == RecordLimits.itlEntries {
                            problem = RecordProblem(field: "itl_ms", error: "more than \(RecordLimits.itlEntries) entries")
                        } else {
                            gaps.append(v)
                        }
                    }
                }
                skipWhitespace()
                if try endOfArrayElement() { break }
            }
            if problem == nil { r.itlMs = gaps }
            return problem
        case .traceId, .spanId:
            guard k == .string else { return try mismatch("a string of hex digits") }
            let offset = pos
            let s = try readStringBytes()
            let digits = field == .traceId ? 32 : 16
            var valid = s.bytes.count == digits
            var allZero = true
            if valid {
                for c in s.bytes {
                    if c != UInt8(ascii: "0") { allZero = false }
                    if !((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) { valid = false; break }
                }
            }
            guard valid, !allZero else {
                return RecordProblem(field: field.jsonName, error: "expected \(digits) lowercase hex digits, not all zero")
            }
            let text = try makeString(s, at: offset)
            if field == .traceId { r.traceId = text } else { r.spanId = text }
            return nil
        case .labels:
            guard k == .object else { return try mismatch("an object of string values") }
            return try decodeLabels(into: &r.labels)
        }
    }

    @inline(__always)
    private mutating func string(_ field: RecordField, _ k: JSONKind, limit: Int, _ set: (String) -> Void) throws(SyntaxFailure) -> RecordProblem? {
        guard k == .string else {
            try skipValue()
            return RecordProblem(field: field.jsonName, error: "expected a string, got \(k.name)")
        }
        let offset = pos
        let s = try readStringBytes()
        guard s.bytes.count <= limit else {
            return RecordProblem(field: field.jsonName, error: "longer than \(limit) bytes")
        }
        set(try makeString(s, at: offset))
        return nil
    }

    @inline(__always)
    private mutating func count(_ field: RecordField, _ k: JSONKind, _ set: (Int) -> Void) throws(SyntaxFailure) -> RecordProblem? {
        guard k == .number else {
            try skipValue()
            return RecordProblem(field: field.jsonName, error: "expected a non-negative integer, got \(k.name)")
        }
        let n = try readNumber()
        if let i = n.integer, i >= 0 {
            set(Int(i))
            return nil
        }
        // 1e3 and 12.0 are integers too; anything else is not.
        let v = n.value
        guard v >= 0, v <= 9_007_199_254_740_992, v.rounded(.towardZero) == v else {
            return RecordProblem(field: field.jsonName, error: "expected a non-negative integer, got \(Self.format(v))")
        }
        set(Int(v))
        return nil
    }

    @inline(__always)
    private mutating func duration(_ field: RecordField, _ k: JSONKind, _ set: (Double) -> Void) throws(SyntaxFailure) -> RecordProblem? {
        guard k == .number else {
            try skipValue()
            return RecordProblem(field: field.jsonName, error: "expected a non-negative number, got \(k.name)")
        }
        let v = try readNumber().value
        guard v >= 0, v.isFinite else {
            return RecordProblem(field: field.jsonName, error: v.isFinite ? "expected a non-negative number, got \(Self.format(v))" : "number out of range")
        }
        set(v)
        return nil
    }

    private mutating func decodeLabels(into labels: inout [String: String]) throws(SyntaxFailure) -> RecordProblem? {
        pos += 1 // {
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return nil }
        var problem: RecordProblem?
        while true {
            let nameOffset = pos
            let nameBytes = try memberName()
            if problem != nil {
                try skipValue()
            } else {
                let tooLong = nameBytes.bytes.count > RecordLimits.labelBytes
                let name = tooLong ? "" : try makeString(nameBytes, at: nameOffset)
                let field = tooLong ? "labels" : "labels.\(name)"
                let k = try kind()
                if tooLong {
                    problem = RecordProblem(field: field, error: "label name longer than \(RecordLimits.labelBytes) bytes")
                    try skipValue()
                } else if name.isEmpty {
                    problem = RecordProblem(field: field, error: "label name must not be empty")
                    try skipValue()
                } else if k == .null {
                    try readNull()
                } else if k != .string {
                    problem = RecordProblem(field: field, error: "expected a string, got \(k.name)")
                    try skipValue()
                } else {
                    let offset = pos
                    let value = try readStringBytes()
                    if value.bytes.count > RecordLimits.labelBytes {
                        problem = RecordProblem(field: field, error: "longer than \(RecordLimits.labelBytes) bytes")
                    } else if labels.updateValue(try makeString(value, at: offset), forKey: name) != nil {
                        problem = RecordProblem(field: field, error: "duplicate label")
                    } else if labels.count > RecordLimits.labels {
                        problem = RecordProblem(field: "labels", error: "more than \(RecordLimits.labels) labels")
                    }
                }
            }
            skipWhitespace()
            if try endOfObjectMember() { break }
        }
        return problem
    }

    /// A value echoed in a message, cut short.
    static func clip(_ text: String) -> String {
        text.utf8.count <= 64 ? text : String(text.prefix(64)) + "..."
    }

    /// A number as messages show it (integers without `.0`).
    static func format(_ v: Double) -> String {
        if v.isFinite, v.rounded() == v, abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
