import BifocalCore
/// The parts of the OTLP data model (opentelemetry-proto v1.10.0) that Bifocal reads, as decoded
/// from either OTLP/protobuf (`OTLPProtobuf`) or OTLP/JSON (`OTLPJSON`). Fields Bifocal has no use
/// for (links, dropped counts, exemplars, schema URLs, entity refs) are skipped while decoding.

/// An attribute value (`opentelemetry.proto.common.v1.AnyValue`).
public enum OTLPValue: Sendable, Hashable {
    /// No value set.
    case empty
    /// `string_value`.
    case string(String)
    /// `bool_value`.
    case bool(Bool)
    /// `int_value`.
    case int(Int64)
    /// `double_value`.
    case double(Double)
    /// `array_value`.
    case array([OTLPValue])
    /// `kvlist_value`.
    case kvlist([OTLPAttribute])
    /// `bytes_value`.
    case bytes([UInt8])

    /// The value as a string when it is one.
    public var string: String? { if case .string(let s) = self { return s }; return nil }

    /// The value as an integer: an `int_value`, an integral `double_value`, or a decimal string
    /// (some SDKs stringify counts).
    public var integer: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int64(d)
        case .string(let s): return Int64(s)
        default: return nil
        }
    }

    /// The value as a number: an `int_value`, a `double_value`, or a numeric string.
    public var number: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let d): return d
        case .string(let s): return Double(s)
        default: return nil
        }
    }

    /// The value as a boolean: a `bool_value`, or the strings `true`/`false`.
    public var bool: Bool? {
        switch self {
        case .bool(let b): return b
        case .string(let s): return s == "true" ? true : s == "false" ? false : nil
        default: return nil
        }
    }

    /// The value as label text: strings as they are, numbers and booleans printed, arrays and
    /// maps as compact JSON.
    public var text: String {
        switch self {
        case .empty: return ""
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let v): return String(v)
        case .double(let d): return d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bytes(let b): return Hex.encode(b.withUnsafeBufferPointer { $0 })
        case .array, .kvlist:
            var out = ""
            appendJSON(to: &out)
            return out
        }
    }

    private func appendJSON(to out: inout String) {
        switch self {
        case .empty: out += "null"
        case .string(let s): out += OTLPValue.jsonQuoted(s)
        case .bool, .int: out += text
        case .double(let d): out += d.isFinite ? text : "null"
        case .bytes: out += OTLPValue.jsonQuoted(text)
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                v.appendJSON(to: &out)
            }
            out += "]"
        case .kvlist(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += "," }
                out += OTLPValue.jsonQuoted(m.key) + ":"
                m.value.appendJSON(to: &out)
            }
            out += "}"
        }
    }

    static func jsonQuoted(_ s: String) -> String { JSONText.quoted(s) }
}

/// A key and its value (`opentelemetry.proto.common.v1.KeyValue`).
public struct OTLPAttribute: Sendable, Hashable {
    /// The attribute's name (`gen_ai.request.model`).
    public var key: String
    /// Its value.
    public var value: OTLPValue

    /// Creates an attribute.
    public init(_ key: String, _ value: OTLPValue) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == OTLPAttribute {
    /// The value of the last attribute with this key (OTLP forbids duplicates; the last one wins
    /// as in the SDKs' own attribute maps).
    public subscript(key: String) -> OTLPValue? {
        for attribute in reversed() where attribute.key == key { return attribute.value }
        return nil
    }
}

/// The instrumentation scope (`opentelemetry.proto.common.v1.InstrumentationScope`).
public struct OTLPScope: Sendable, Hashable {
    /// Library name (`opentelemetry.instrumentation.openai`).
    public var name: String = ""
    /// Library version.
    public var version: String = ""
    /// Scope attributes.
    public var attributes: [OTLPAttribute] = []

    /// Creates a scope.
    public init(name: String = "", version: String = "", attributes: [OTLPAttribute] = []) {
        self.name = name
        self.version = version
        self.attributes = attributes
    }
}

// MARK: traces

/// A decoded `ExportTraceServiceRequest`.
public struct OTLPTraces: Sendable, Hashable {
    /// `resource_spans`.
    public var resourceSpans: [OTLPResourceSpans] = []

    /// Creates a request.
    public init(resourceSpans: [OTLPResourceSpans] = []) { self.resourceSpans = resourceSpans }

    /// All spans in the request.
    public var spanCount: Int { resourceSpans.reduce(0) { $0 + $1.scopeSpans.reduce(0) { $0 + $1.spans.count } } }
}

/// Spans from one resource (`ResourceSpans`).
public struct OTLPResourceSpans: Sendable, Hashable {
    /// The resource's attributes (`service.name`, ...).
    public var resource: [OTLPAttribute] = []
    /// The spans, by instrumentation scope.
    public var scopeSpans: [OTLPScopeSpans] = []

    /// Creates a resource's spans.
    public init(resource: [OTLPAttribute] = [], scopeSpans: [OTLPScopeSpans] = []) {
        self.resource = resource
        self.scopeSpans = scopeSpans
    }
}

/// Spans from one instrumentation scope (`ScopeSpans`).
public struct OTLPScopeSpans: Sendable, Hashable {
    /// The scope.
    public var scope: OTLPScope = OTLPScope()
    /// The spans.
    public var spans: [OTLPSpan] = []

    /// Creates a scope's spans.
    public init(scope: OTLPScope = OTLPScope(), spans: [OTLPSpan] = []) {
        self.scope = scope
        self.spans = spans
    }
}

/// One span (`opentelemetry.proto.trace.v1.Span`).
public struct OTLPSpan: Sendable, Hashable {
    /// Trace id as lowercase hex (32 digits when valid).
    public var traceId: String = ""
    /// Span id as lowercase hex (16 digits when valid).
    public var spanId: String = ""
    /// Parent span id as lowercase hex, empty for a root span.
    public var parentSpanId: String = ""
    /// The span's name (`chat gpt-4`).
    public var name: String = ""
    /// `SpanKind`: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    public var kind: Int = 0
    /// Start, nanoseconds since the epoch.
    public var startTimeUnixNano: UInt64 = 0
    /// End, nanoseconds since the epoch.
    public var endTimeUnixNano: UInt64 = 0
    /// The span's attributes.
    public var attributes: [OTLPAttribute] = []
    /// The span's events (first chunk, exceptions, deprecated GenAI message events).
    public var events: [OTLPSpanEvent] = []
    /// `Status.code`: 0 unset, 1 ok, 2 error.
    public var statusCode: Int = 0
    /// `Status.message`.
    public var statusMessage: String = ""
    /// Set by the JSON decoder when a field had a value of the wrong form (an id that is not hex),
    /// so that this span alone is rejected.
    public var problem: String?

    /// Creates a span.
    public init(traceId: String = "", spanId: String = "", parentSpanId: String = "", name: String = "", kind: Int = 0,
                startTimeUnixNano: UInt64 = 0, endTimeUnixNano: UInt64 = 0, attributes: [OTLPAttribute] = [],
                events: [OTLPSpanEvent] = [], statusCode: Int = 0, statusMessage: String = "") {
        self.traceId = traceId; self.spanId = spanId; self.parentSpanId = parentSpanId; self.name = name
        self.kind = kind; self.startTimeUnixNano = startTimeUnixNano; self.endTimeUnixNano = endTimeUnixNano
        self.attributes = attributes; self.events = events; self.statusCode = statusCode; self.statusMessage = statusMessage
    }
}

/// A span event (`Span.Event`).
public struct OTLPSpanEvent: Sendable, Hashable {
    /// When, nanoseconds since the epoch.
    public var timeUnixNano: UInt64 = 0
    /// The event's name (`gen_ai.content.completion.chunk`, `exception`).
    public var name: String = ""
    /// The event's attributes.
    public var attributes: [OTLPAttribute] = []

    /// Creates an event.
    public init(timeUnixNano: UInt64 = 0, name: String = "", attributes: [OTLPAttribute] = []) {
        self.timeUnixNano = timeUnixNano
        self.name = name
        self.attributes = attributes
    }
}

// MARK: metrics

/// A decoded `ExportMetricsServiceRequest`.
public struct OTLPMetrics: Sendable, Hashable {
    /// `resource_metrics`.
    public var resourceMetrics: [OTLPResourceMetrics] = []

    /// Creates a request.
    public init(resourceMetrics: [OTLPResourceMetrics] = []) { self.resourceMetrics = resourceMetrics }
}

/// Metrics from one resource (`ResourceMetrics`).
public struct OTLPResourceMetrics: Sendable, Hashable {
    /// The resource's attributes.
    public var resource: [OTLPAttribute] = []
    /// The metrics, by scope.
    public var scopeMetrics: [OTLPScopeMetrics] = []

    /// Creates a resource's metrics.
    public init(resource: [OTLPAttribute] = [], scopeMetrics: [OTLPScopeMetrics] = []) {
        self.resource = resource
        self.scopeMetrics = scopeMetrics
    }
}

/// Metrics from one scope (`ScopeMetrics`).
public struct OTLPScopeMetrics: Sendable, Hashable {
    /// The scope.
    public var scope: OTLPScope = OTLPScope()
    /// The metrics.
    public var metrics: [OTLPMetric] = []

    /// Creates a scope's metrics.
    public init(scope: OTLPScope = OTLPScope(), metrics: [OTLPMetric] = []) {
        self.scope = scope
        self.metrics = metrics
    }
}

/// One metric (`Metric`) and its data points.
public struct OTLPMetric: Sendable, Hashable {
    /// The metric's name (`gen_ai.client.operation.duration`).
    public var name: String = ""
    /// Its description.
    public var description: String = ""
    /// Its unit (`s`, `{token}`).
    public var unit: String = ""
    /// The data.
    public var data: OTLPMetricData = .none

    /// Creates a metric.
    public init(name: String = "", description: String = "", unit: String = "", data: OTLPMetricData = .none) {
        self.name = name
        self.description = description
        self.unit = unit
        self.data = data
    }

    /// Data points in the metric, whatever its kind.
    public var pointCount: Int {
        switch data {
        case .none: 0
        case .gauge(let p): p.count
        case .sum(let p, _, _): p.count
        case .histogram(let p, _): p.count
        case .exponentialHistogram(let p, _): p.count
        case .summary(let p): p.count
        }
    }
}

/// `AggregationTemporality`: 0 unspecified, 1 delta, 2 cumulative.
public typealias OTLPTemporality = Int

/// The `data` oneof of a metric.
public enum OTLPMetricData: Sendable, Hashable {
    /// No data set (a metric the receiver cannot interpret).
    case none
    /// `gauge`.
    case gauge([OTLPNumberPoint])
    /// `sum`, with whether it is monotonic and its temporality.
    case sum([OTLPNumberPoint], monotonic: Bool, temporality: OTLPTemporality)
    /// `histogram`.
    case histogram([OTLPHistogramPoint], temporality: OTLPTemporality)
    /// `exponential_histogram`.
    case exponentialHistogram([OTLPExponentialHistogramPoint], temporality: OTLPTemporality)
    /// `summary`.
    case summary([OTLPSummaryPoint])
}

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point marks the series as gone (a staleness marker).
public let otlpNoRecordedValueFlag: UInt32 = 1

/// A gauge or sum point (`NumberDataPoint`).
public struct OTLPNumberPoint: Sendable, Hashable {
    /// The point's attributes.
    public var attributes: [OTLPAttribute] = []
    /// Start of the aggregation, nanoseconds.
    public var startTimeUnixNano: UInt64 = 0
    /// When the value was observed, nanoseconds.
    public var timeUnixNano: UInt64 = 0
    /// `as_double`, or `as_int` converted.
    public var value: Double = 0
    /// `DataPointFlags`.
    public var flags: UInt32 = 0

    /// Creates a point.
    public init(attributes: [OTLPAttribute] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, value: Double = 0, flags: UInt32 = 0) {
        self.attributes = attributes; self.startTimeUnixNano = startTimeUnixNano; self.timeUnixNano = timeUnixNano
        self.value = value; self.flags = flags
    }
}

/// An explicit-bucket histogram point (`HistogramDataPoint`).
public struct OTLPHistogramPoint: Sendable, Hashable {
    /// The point's attributes.
    public var attributes: [OTLPAttribute] = []
    /// Start of the aggregation, nanoseconds.
    public var startTimeUnixNano: UInt64 = 0
    /// When observed, nanoseconds.
    public var timeUnixNano: UInt64 = 0
    /// Observations.
    public var count: UInt64 = 0
    /// Sum of observations, when recorded.
    public var sum: Double?
    /// Per-bucket (not cumulative) counts; one more than `explicitBounds`.
    public var bucketCounts: [UInt64] = []
    /// Upper bounds of the buckets, increasing.
    public var explicitBounds: [Double] = []
    /// Smallest observation, when recorded.
    public var min: Double?
    /// Largest observation, when recorded.
    public var max: Double?
    /// `DataPointFlags`.
    public var flags: UInt32 = 0

    /// Creates a point.
    public init(attributes: [OTLPAttribute] = [], startTimeUnixNano: UInt64 = 0, timeUnixNano: UInt64 = 0, count: UInt64 = 0, sum: Double? = nil,
                bucketCounts: [UInt64] = [], explicitBounds: [Double] = [], min: Double? = nil, max: Double? = nil, flags: UInt32 = 0) {
        self.attributes = attributes; self.startTimeUnixNano = startTimeUnixNano; self.timeUnixNano = timeUnixNano
        self.count = count; self.sum = sum; self.bucketCounts = bucketCounts; self.explicitBounds = explicitBounds
        self.min = min; self.max = max; self.flags = flags
    }
}

/// An exponential histogram point (`ExponentialHistogramDataPoint`).
public struct OTLPExponentialHistogramPoint: Sendable, Hashable {
    /// The point's attributes.
    public var attributes: [OTLPAttribute] = []
    /// Start of the aggregation, nanoseconds.
    public var startTimeUnixNano: UInt64 = 0
    /// When observed, nanoseconds.
    public var timeUnixNano: UInt64 = 0
    /// Observations.
    public var count: UInt64 = 0
    /// Sum, when recorded.
    public var sum: Double?
    /// Resolution: bucket boundaries are powers of 2^(2^-scale).
    public var scale: Int32 = 0
    /// Observations in the zero bucket.
    public var zeroCount: UInt64 = 0
    /// Width of the zero bucket.
    public var zeroThreshold: Double = 0
    /// Index of the first positive bucket.
    public var positiveOffset: Int32 = 0
    /// Positive bucket counts.
    public var positiveCounts: [UInt64] = []
    /// Index of the first negative bucket.
    public var negativeOffset: Int32 = 0
    /// Negative bucket counts (by magnitude).
    public var negativeCounts: [UInt64] = []
    /// Smallest observation, when recorded.
    public var min: Double?
    /// Largest observation, when recorded.
    public var max: Double?
    /// `DataPointFlags`.
    public var flags: UInt32 = 0

    /// Creates a point.
    public init() {}
}

/// A summary point (`SummaryDataPoint`).
public struct OTLPSummaryPoint: Sendable, Hashable {
    /// The point's attributes.
    public var attributes: [OTLPAttribute] = []
    /// Start of the aggregation, nanoseconds.
    public var startTimeUnixNano: UInt64 = 0
    /// When observed, nanoseconds.
    public var timeUnixNano: UInt64 = 0
    /// Observations.
    public var count: UInt64 = 0
    /// Sum of observations.
    public var sum: Double = 0
    /// (quantile, value) pairs.
    public var quantiles: [OTLPQuantile] = []
    /// `DataPointFlags`.
    public var flags: UInt32 = 0

    /// Creates a point.
    public init() {}
}

/// One quantile of a summary (`ValueAtQuantile`).
public struct OTLPQuantile: Sendable, Hashable {
    /// The quantile, 0-1.
    public var quantile: Double
    /// Its value.
    public var value: Double

    /// Creates a quantile.
    public init(quantile: Double, value: Double) {
        self.quantile = quantile
        self.value = value
    }
}

// MARK: logs

/// A decoded `ExportLogsServiceRequest`.
public struct OTLPLogs: Sendable, Hashable {
    /// `resource_logs`.
    public var resourceLogs: [OTLPResourceLogs] = []

    /// Creates a request.
    public init(resourceLogs: [OTLPResourceLogs] = []) { self.resourceLogs = resourceLogs }

    /// All log records in the request.
    public var recordCount: Int { resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } } }
}

/// Log records from one resource (`ResourceLogs`).
public struct OTLPResourceLogs: Sendable, Hashable {
    /// The resource's attributes.
    public var resource: [OTLPAttribute] = []
    /// The records, by scope.
    public var scopeLogs: [OTLPScopeLogs] = []

    /// Creates a resource's logs.
    public init(resource: [OTLPAttribute] = [], scopeLogs: [OTLPScopeLogs] = []) {
        self.resource = resource
        self.scopeLogs = scopeLogs
    }
}

/// Log records from one scope (`ScopeLogs`).
public struct OTLPScopeLogs: Sendable, Hashable {
    /// The scope.
    public var scope: OTLPScope = OTLPScope()
    /// The records.
    public var logRecords: [OTLPLogRecord] = []

    /// Creates a scope's logs.
    public init(scope: OTLPScope = OTLPScope(), logRecords: [OTLPLogRecord] = []) {
        self.scope = scope
        self.logRecords = logRecords
    }
}

/// One log record or event (`LogRecord`).
public struct OTLPLogRecord: Sendable, Hashable {
    /// When the event happened, nanoseconds (0 when unknown).
    public var timeUnixNano: UInt64 = 0
    /// When the SDK saw it, nanoseconds.
    public var observedTimeUnixNano: UInt64 = 0
    /// `SeverityNumber`, 0-24.
    public var severityNumber: Int = 0
    /// Severity as the source wrote it.
    public var severityText: String = ""
    /// The body.
    public var body: OTLPValue = .empty
    /// The record's attributes.
    public var attributes: [OTLPAttribute] = []
    /// Trace id as lowercase hex, empty when none.
    public var traceId: String = ""
    /// Span id as lowercase hex, empty when none.
    public var spanId: String = ""
    /// The event's name (`gen_ai.client.inference.operation.details`), empty for plain logs.
    public var eventName: String = ""
    /// Set by the JSON decoder when a field had a value of the wrong form.
    public var problem: String?

    /// Creates a record.
    public init() {}
}

/// Text helpers for messages about OTLP input.
enum OTLPText {
    /// At most 64 characters of a value quoted in a message.
    static func clip(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "..."
    }
}

/// Attribute keys Bifocal reads or that every SDK sends. The protobuf decoder returns these as
/// static strings instead of allocating a copy per attribute, and the GenAI mapping finds its
/// fields by their position here; the first entries follow `OTLPGenAIMapping.Key` exactly.
enum KnownAttributeKeys {
    static let names: [String] = [
        "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
        "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
        "llm.usage.prompt_tokens", "llm.usage.completion_tokens",
        "gen_ai.response.finish_reasons", "gen_ai.response.finish_reason",
        "gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token", "gen_ai.latency.time_to_first_token",
        "gen_ai.latency.time_in_queue",
        "gen_ai.request.stream", "gen_ai.is_streaming", "llm.is_streaming",
        "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion",
        "error.type", "http.response.status_code", "http.status_code", "server.address", "server.port", "gen_ai.openai.api_base",
        "llm.request.type", "bifocal.endpoint", "bifocal.tenant", "bifocal.variant",
        // Sent by nearly every SDK or instrumentation; interned only.
        "service.name", "service.namespace", "service.instance.id", "service.version", "telemetry.sdk.language", "telemetry.sdk.name",
        "telemetry.sdk.version", "host.name", "process.pid", "gen_ai.response.id", "gen_ai.request.max_tokens", "gen_ai.request.temperature",
        "gen_ai.request.top_p", "gen_ai.token.type", "gen_ai.conversation.id", "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.openai.response.system_fingerprint", "openai.response.system_fingerprint", "openai.response.service_tier",
        "llm.usage.total_tokens", "gen_ai.usage.total_tokens", "http.request.method", "http.route", "url.full",
    ]

    /// Indices into `names` by UTF-8 length.
    static let byLength: [[Int32]] = {
        var table = [[Int32]](repeating: [], count: 64)
        for (i, name) in names.enumerated() { table[name.utf8.count].append(Int32(i)) }
        return table
    }()

    /// Every name's bytes, for comparing without touching `String`.
    static let bytes: [[UInt8]] = names.map { Array($0.utf8) }

    @inline(__always) static func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard key.count < byLength.count else { return nil }
        for candidate in byLength[key.count] {
            let matches = bytes[Int(candidate)].withUnsafeBufferPointer { memcmpEqual($0, key) }
            if matches { return Int(candidate) }
        }
        return nil
    }

    @inline(__always) static func find(_ key: String) -> Int? {
        var key = key
        return key.withUTF8 { find($0) }
    }

    @inline(__always) static func memcmpEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        // Keys differ mostly near the end (`..._tokens`), so compare from the back.
        var i = a.count - 1
        while i >= 0 {
            if a[i] != b[i] { return false }
            i -= 1
        }
        return true
    }
}
