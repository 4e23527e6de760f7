/// The three OTLP signals, with what the receiver's responses call their items.
public enum OTLPSignal: String, Sendable, Hashable, CaseIterable {
    /// `POST /v1/traces`.
    case traces
    /// `POST /v1/metrics`.
    case metrics
    /// `POST /v1/logs`.
    case logs

    /// The partial-success counter's proto name (`rejected_spans`, ...).
    public var rejectedField: String {
        switch self {
        case .traces: "rejected_spans"
        case .metrics: "rejected_data_points"
        case .logs: "rejected_log_records"
        }
    }

    /// The same in OTLP/JSON's lowerCamelCase.
    public var rejectedJSONField: String {
        switch self {
        case .traces: "rejectedSpans"
        case .metrics: "rejectedDataPoints"
        case .logs: "rejectedLogRecords"
        }
    }

    /// What one item is called in messages.
    public var itemName: String {
        switch self {
        case .traces: "span"
        case .metrics: "data point"
        case .logs: "log record"
        }
    }
}

/// The two OTLP/HTTP body encodings.
public enum OTLPEncoding: Sendable, Hashable {
    /// `application/x-protobuf`.
    case protobuf
    /// `application/json`.
    case json

    /// From a `Content-Type` header (parameters such as `charset` ignored); nil when neither.
    public init?(contentType: String?) {
        let media = contentType?.split(separator: ";").first.map { $0.trimmingASCIISpaces().lowercased() }
        switch media {
        case "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    /// The media type the response carries (OTLP/HTTP answers in the request's encoding).
    public var contentType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }
}

extension Substring {
    func trimmingASCIISpaces() -> String {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Encodes the receiver's answers: `Export*ServiceResponse` (with `partial_success` when some items
/// were rejected) and, for errors, `google.rpc.Status`, each in protobuf or OTLP/JSON.
public enum OTLPResponse {
    /// A success answer: an empty response when everything was accepted, else `partial_success`
    /// with the number rejected and a message saying which and why.
    public static func export(_ signal: OTLPSignal, rejected: Int, message: String, encoding: OTLPEncoding) -> [UInt8] {
        switch encoding {
        case .protobuf:
            var w = ProtobufWriter()
            if rejected > 0 || !message.isEmpty {
                // Export*ServiceResponse.partial_success = 1 { rejected_* = 1 (int64); error_message = 2 }
                w.message(1) { p in
                    if rejected > 0 { p.int(1, Int64(rejected)) }
                    if !message.isEmpty { p.string(2, message) }
                }
            }
            return w.bytes
        case .json:
            guard rejected > 0 || !message.isEmpty else { return Array("{}".utf8) }
            var text = "{\"partialSuccess\":{"
            if rejected > 0 { text += "\"\(signal.rejectedJSONField)\":\"\(rejected)\"" }
            if !message.isEmpty { text += (rejected > 0 ? "," : "") + "\"errorMessage\":" + OTLPValue.jsonQuoted(message) }
            text += "}}"
            return Array(text.utf8)
        }
    }

    /// A `google.rpc.Status` (code = 1, message = 2), the body OTLP/HTTP requires for 4xx and 5xx.
    /// `code` is a gRPC code (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, ...).
    public static func status(code: Int, message: String, encoding: OTLPEncoding) -> [UInt8] {
        switch encoding {
        case .protobuf:
            var w = ProtobufWriter()
            if code != 0 { w.int(1, Int64(code)) }
            w.string(2, message)
            return w.bytes
        case .json:
            return Array("{\"code\":\(code),\"message\":\(OTLPValue.jsonQuoted(message))}".utf8)
        }
    }

    /// The partial-success message: how many were rejected and the first few reasons.
    public static func message(_ signal: OTLPSignal, rejected: [OTLPRejection], total rejectedCount: Int) -> String {
        guard rejectedCount > 0 else { return "" }
        let shown = rejected.prefix(5).map(\.description).joined(separator: "; ")
        let more = rejected.count > 5 ? "; and \(rejected.count - 5) more" : ""
        let plural = rejectedCount == 1 ? signal.itemName : signal.itemName + "s"
        return "\(rejectedCount) \(plural) rejected: \(shown)\(more)"
    }
}

/// What the log records of one export request amount to. Bifocal does not store logs: it accepts
/// them (so an SDK exporting all three signals to one endpoint gets no errors), counts them and
/// rejects the malformed ones.
public struct OTLPLogBatch: Sendable, Hashable {
    /// Log records in the request.
    public var records: Int = 0
    /// Of those, GenAI events (an `event_name` or `event.name` starting with `gen_ai.`).
    public var genAIEvents: Int = 0
    /// Invalid log records.
    public var rejected: [OTLPRejection] = []

    /// Creates an empty batch.
    public init() {}

    /// Counts and checks the records of a request.
    public init(_ logs: OTLPLogs) {
        for (r, resourceLogs) in logs.resourceLogs.enumerated() {
            for (s, scopeLogs) in resourceLogs.scopeLogs.enumerated() {
                for (i, record) in scopeLogs.logRecords.enumerated() {
                    records += 1
                    let path = "resource_logs[\(r)].scope_logs[\(s)].log_records[\(i)]"
                    if let problem = record.problem {
                        rejected.append(OTLPRejection(path: path, reason: problem))
                    } else if !record.traceId.isEmpty, record.traceId.utf8.count != 32 {
                        rejected.append(OTLPRejection(path: path, reason: "trace_id must be 16 bytes (got \(record.traceId.utf8.count / 2))"))
                    } else if !record.spanId.isEmpty, record.spanId.utf8.count != 16 {
                        rejected.append(OTLPRejection(path: path, reason: "span_id must be 8 bytes (got \(record.spanId.utf8.count / 2))"))
                    } else {
                        let name = record.eventName.isEmpty ? record.attributes["event.name"]?.string ?? "" : record.eventName
                        if name.hasPrefix("gen_ai.") { genAIEvents += 1 }
                    }
                }
            }
        }
    }
}
