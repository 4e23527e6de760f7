/// Decodes OTLP/JSON export requests (`Content-Type: application/json`) into the `OTLP*` values.
///
/// OTLP/JSON is the protobuf JSON mapping with the OTLP exceptions: trace and span ids are hex
/// strings (not base64), enums are integers (names are accepted too), 64-bit integers come as
/// decimal strings or numbers. Field names are accepted in lowerCamelCase and in the proto's
/// snake_case, as protobuf JSON parsers must; unknown fields are skipped. Structural mistakes (a
/// field of the wrong JSON type) make the whole body undecodable, as in the reference receivers;
/// a span or log record whose id is not hex is decoded with a `problem`, so that it alone is rejected.
public enum OTLPJSON {
    /// Decodes an `ExportTraceServiceRequest`.
    public static func decodeTraces(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPTraces {
        var result = OTLPTraces()
        try document(body) { (d: inout OTLPJSONDecoder) throws(OTLPDecodingError) in
            try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                if name.is("resourcespans") {
                    try d.array("resourceSpans") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.resourceSpans.append(try d.resourceSpans()) }
                } else { try d.skip() }
            }
        }
        return result
    }

    /// Decodes an `ExportMetricsServiceRequest`.
    public static func decodeMetrics(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPMetrics {
        var result = OTLPMetrics()
        try document(body) { (d: inout OTLPJSONDecoder) throws(OTLPDecodingError) in
            try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                if name.is("resourcemetrics") {
                    try d.array("resourceMetrics") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.resourceMetrics.append(try d.resourceMetrics()) }
                } else { try d.skip() }
            }
        }
        return result
    }

    /// Decodes an `ExportLogsServiceRequest`.
    public static func decodeLogs(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPLogs {
        var result = OTLPLogs()
        try document(body) { (d: inout OTLPJSONDecoder) throws(OTLPDecodingError) in
            try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                if name.is("resourcelogs") {
                    try d.array("resourceLogs") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.resourceLogs.append(try d.resourceLogs()) }
                } else { try d.skip() }
            }
        }
        return result
    }

    private static func document(_ body: UnsafeRawBufferPointer, _ read: (inout OTLPJSONDecoder) throws(OTLPDecodingError) -> Void) throws(OTLPDecodingError) {
        var decoder = OTLPJSONDecoder(scanner: JSONScanner(body.assumingMemoryBound(to: UInt8.self), scratch: ScratchBuffer()))
        defer { decoder.scanner.scratch.deallocate() }
        decoder.scanner.skipByteOrderMark()
        decoder.scanner.skipWhitespace()
        // An empty body is an empty request, which the specification asks receivers to accept.
        if decoder.scanner.atEnd { return }
        try read(&decoder)
        decoder.scanner.skipWhitespace()
        guard decoder.scanner.atEnd else {
            throw OTLPDecodingError(offset: decoder.scanner.pos, reason: "unexpected \(decoder.scanner.found()) after the request object")
        }
    }
}

/// A member name as read, compared against OTLP field names regardless of case and underscores,
/// so `resourceSpans`, `resource_spans` and `ResourceSpans` all match `resourcespans`.
struct MemberName {
    let bytes: UnsafeBufferPointer<UInt8>

    @inline(__always) func `is`(_ folded: StaticString) -> Bool {
        let key = UnsafeBufferPointer(start: folded.utf8Start, count: folded.utf8CodeUnitCount)
        var k = 0
        for c in bytes where c != UInt8(ascii: "_") {
            guard k < key.count else { return false }
            let lower = (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) ? c | 0x20 : c
            guard lower == key[k] else { return false }
            k += 1
        }
        return k == key.count
    }
}

/// The streaming OTLP/JSON reader: one method per OTLP message, each reading an object at the
/// scanner's position and naming the field path in its errors.
struct OTLPJSONDecoder {
    var scanner: JSONScanner
    static let maxValueDepth = 64

    @inline(__always) func failure(_ reason: String, at offset: Int? = nil) -> OTLPDecodingError {
        OTLPDecodingError(offset: offset ?? scanner.pos, reason: reason)
    }

    @inline(__always) func lift(_ error: SyntaxFailure) -> OTLPDecodingError {
        OTLPDecodingError(offset: error.offset, reason: error.reason)
    }

    @inline(__always) func kind() throws(OTLPDecodingError) -> JSONKind {
        do { return try scanner.kind() } catch { throw lift(error) }
    }

    mutating func skip() throws(OTLPDecodingError) {
        do { try scanner.skipValue() } catch { throw lift(error) }
    }

    /// Reads `{...}`, calling `member` for each member with the scanner at its value; the value
    /// must be consumed. `null` counts as an empty object (proto3 JSON: null means default).
    mutating func object(_ member: (inout OTLPJSONDecoder, MemberName) throws(OTLPDecodingError) -> Void) throws(OTLPDecodingError) {
        let k = try kind()
        if k == .null { try skip(); return }
        guard k == .object else { throw failure("expected an object, got \(k.name)") }
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.pos < scanner.bytes.count, scanner.bytes[scanner.pos] == UInt8(ascii: "}") { scanner.pos += 1; return }
        while true {
            let name: (bytes: UnsafeBufferPointer<UInt8>, needsValidation: Bool)
            do { name = try scanner.memberName() } catch { throw lift(error) }
            // The name's text is only built on failure: escaped names live in the scratch buffer,
            // which later strings overwrite, so unescaped (input) bytes are what a message can quote.
            let nameOffset = scanner.pos
            do throws(OTLPDecodingError) {
                try member(&self, MemberName(bytes: name.bytes))
            } catch {
                throw error.inside(memberText(before: nameOffset))
            }
            scanner.skipWhitespace()
            do { if try scanner.endOfObjectMember() { return } } catch { throw lift(error) }
        }
    }

    /// The member name that ends just before `offset` (`"name" :` and whitespace), for error paths.
    func memberText(before offset: Int) -> String {
        var end = offset - 1
        while end > 0, scanner.bytes[end] != UInt8(ascii: "\"") { end -= 1 }
        var start = end - 1
        while start > 0, !(scanner.bytes[start] == UInt8(ascii: "\"") && scanner.bytes[start - 1] != UInt8(ascii: "\\")) { start -= 1 }
        guard start >= 0, start < end else { return "?" }
        return String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[(start + 1)..<end]), as: UTF8.self)
    }

    /// Reads `[...]`, calling `element` with each element's index. `null` counts as empty.
    mutating func array(_ name: StaticString, _ element: (inout OTLPJSONDecoder, Int) throws(OTLPDecodingError) -> Void) throws(OTLPDecodingError) {
        let k = try kind()
        if k == .null { try skip(); return }
        guard k == .array else { throw failure("expected an array, got \(k.name)") }
        scanner.pos += 1
        scanner.skipWhitespace()
        if scanner.pos < scanner.bytes.count, scanner.bytes[scanner.pos] == UInt8(ascii: "]") { scanner.pos += 1; return }
        var index = 0
        while true {
            do throws(OTLPDecodingError) {
                try element(&self, index)
            } catch {
                // The member name is added by `object`; the index goes in front of the inner path.
                let inner = error.path.isEmpty ? "" : error.path.hasPrefix("[") ? error.path : ".\(error.path)"
                throw OTLPDecodingError(offset: error.offset, path: "[\(index)]\(inner)", reason: error.reason)
            }
            index += 1
            scanner.skipWhitespace()
            do { if try scanner.endOfArrayElement() { return } } catch { throw lift(error) }
        }
    }

    mutating func string() throws(OTLPDecodingError) -> String {
        let k = try kind()
        if k == .null { try skip(); return "" }
        guard k == .string else { throw failure("expected a string, got \(k.name)") }
        do { return try scanner.readString() } catch { throw lift(error) }
    }

    mutating func bool() throws(OTLPDecodingError) -> Bool {
        let k = try kind()
        if k == .null { try skip(); return false }
        guard k == .boolean else { throw failure("expected true or false, got \(k.name)") }
        do { return try scanner.readBool() } catch { throw lift(error) }
    }

    /// A 64-bit integer: a decimal string or a JSON number, exact over the whole 64-bit range.
    mutating func integer(signed: Bool) throws(OTLPDecodingError) -> (magnitude: UInt64, negative: Bool) {
        let k = try kind()
        let start = scanner.pos
        let digits: UnsafeBufferPointer<UInt8>
        switch k {
        case .null:
            try skip()
            return (0, false)
        case .string:
            do { digits = try scanner.readStringBytes().bytes } catch { throw lift(error) }
        case .number:
            do { _ = try scanner.readNumber() } catch { throw lift(error) }
            digits = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.pos])
        default:
            throw failure("expected an integer (a decimal string or a number), got \(k.name)")
        }
        var i = 0
        var negative = false
        if digits.first == UInt8(ascii: "-") { negative = true; i = 1 }
        guard i < digits.count else { throw failure("expected an integer, got an empty string", at: start) }
        var value: UInt64 = 0
        while i < digits.count {
            let d = digits[i] &- UInt8(ascii: "0")
            guard d < 10 else {
                // 1e3 or 5.0: integral values written as floating point.
                let text = String(decoding: digits, as: UTF8.self)
                if let double = Double(text), double.rounded() == double, abs(double) < 1.8e19 {
                    return (UInt64(abs(double)), double < 0)
                }
                throw failure("expected an integer, got '\(OTLPText.clip(text))'", at: start)
            }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { throw failure("integer out of the 64-bit range", at: start) }
            value = plus
            i += 1
        }
        if negative, !signed, value != 0 { throw failure("expected an unsigned integer, got a negative number", at: start) }
        if signed, value > (negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)) {
            throw failure("integer out of the int64 range", at: start)
        }
        return (value, negative)
    }

    mutating func uint64() throws(OTLPDecodingError) -> UInt64 { try integer(signed: false).magnitude }

    mutating func int64() throws(OTLPDecodingError) -> Int64 {
        let (magnitude, negative) = try integer(signed: true)
        return negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude)
    }

    /// An enum: its number, or its name when `names` knows it.
    mutating func enumeration(_ names: [String: Int]) throws(OTLPDecodingError) -> Int {
        if try kind() == .string {
            let at = scanner.pos
            let text = try string()
            if let value = names[text] { return value }
            if let value = Int(text) { return value }
            throw failure("unknown enum value '\(OTLPText.clip(text))'", at: at)
        }
        return Int(truncatingIfNeeded: try int64())
    }

    /// A double: a number, or the strings `NaN`, `Infinity`, `-Infinity` or a numeric string.
    mutating func double() throws(OTLPDecodingError) -> Double {
        let k = try kind()
        switch k {
        case .null: try skip(); return 0
        case .number:
            do { return try scanner.readNumber().value } catch { throw lift(error) }
        case .string:
            let at = scanner.pos
            let text = try string()
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default:
                guard let value = Double(text) else { throw failure("expected a number, got '\(OTLPText.clip(text))'", at: at) }
                return value
            }
        default: throw failure("expected a number, got \(k.name)")
        }
    }

    /// A trace or span id: hex (any case) becomes lowercase; anything else sets `problem`.
    mutating func hexId(_ field: String, problem: inout String?) throws(OTLPDecodingError) -> String {
        let text = try string()
        guard let hex = Hex.normalize(text), hex.utf8.count % 2 == 0 else {
            if problem == nil { problem = "\(field) is not a hex string ('\(OTLPText.clip(text))')" }
            return ""
        }
        return hex
    }

    // MARK: common messages

    mutating func attributes(into list: inout [OTLPAttribute], depth: Int = 0) throws(OTLPDecodingError) {
        try array("attributes") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in list.append(try d.keyValue(depth: depth)) }
    }

    mutating func keyValue(depth: Int = 0) throws(OTLPDecodingError) -> OTLPAttribute {
        var attribute = OTLPAttribute("", .empty)
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("key") { attribute.key = try d.string() }
            else if name.is("value") { attribute.value = try d.anyValue(depth: depth) }
            else { try d.skip() }
        }
        return attribute
    }

    mutating func anyValue(depth: Int = 0) throws(OTLPDecodingError) -> OTLPValue {
        guard depth < Self.maxValueDepth else { throw failure("attribute values nested deeper than \(Self.maxValueDepth) levels") }
        var value = OTLPValue.empty
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("stringvalue") { value = .string(try d.string()) }
            else if name.is("boolvalue") { value = .bool(try d.bool()) }
            else if name.is("intvalue") { value = .int(try d.int64()) }
            else if name.is("doublevalue") { value = .double(try d.double()) }
            else if name.is("arrayvalue") {
                var values: [OTLPValue] = []
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("values") {
                        try d.array("values") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in values.append(try d.anyValue(depth: depth + 1)) }
                    } else { try d.skip() }
                }
                value = .array(values)
            } else if name.is("kvlistvalue") {
                var members: [OTLPAttribute] = []
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("values") {
                        try d.array("values") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in members.append(try d.keyValue(depth: depth + 1)) }
                    } else { try d.skip() }
                }
                value = .kvlist(members)
            } else if name.is("bytesvalue") {
                // Protobuf JSON writes bytes as base64.
                let at = d.scanner.pos
                let text = try d.string()
                guard let bytes = Base64.decode(text) else { throw d.failure("bytesValue is not base64", at: at) }
                value = .bytes(bytes)
            } else { try d.skip() }
        }
        return value
    }

    mutating func resource() throws(OTLPDecodingError) -> [OTLPAttribute] {
        var attributes: [OTLPAttribute] = []
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("attributes") { try d.attributes(into: &attributes) } else { try d.skip() }
        }
        return attributes
    }

    mutating func scope() throws(OTLPDecodingError) -> OTLPScope {
        var scope = OTLPScope()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("name") { scope.name = try d.string() }
            else if name.is("version") { scope.version = try d.string() }
            else if name.is("attributes") { try d.attributes(into: &scope.attributes) }
            else { try d.skip() }
        }
        return scope
    }

    // MARK: traces

    static let spanKinds: [String: Int] = [
        "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
        "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
    ]
    static let statusCodes: [String: Int] = ["STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2]

    mutating func resourceSpans() throws(OTLPDecodingError) -> OTLPResourceSpans {
        var result = OTLPResourceSpans()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("resource") { result.resource = try d.resource() }
            else if name.is("scopespans") || name.is("instrumentationlibraryspans") {
                try d.array("scopeSpans") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.scopeSpans.append(try d.scopeSpans()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func scopeSpans() throws(OTLPDecodingError) -> OTLPScopeSpans {
        var result = OTLPScopeSpans()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("scope") || name.is("instrumentationlibrary") { result.scope = try d.scope() }
            else if name.is("spans") {
                try d.array("spans") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.spans.append(try d.span()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func span() throws(OTLPDecodingError) -> OTLPSpan {
        var span = OTLPSpan()
        var problem: String?
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("traceid") { span.traceId = try d.hexId("traceId", problem: &problem) }
            else if name.is("spanid") { span.spanId = try d.hexId("spanId", problem: &problem) }
            else if name.is("parentspanid") { span.parentSpanId = try d.hexId("parentSpanId", problem: &problem) }
            else if name.is("name") { span.name = try d.string() }
            else if name.is("kind") { span.kind = try d.enumeration(Self.spanKinds) }
            else if name.is("starttimeunixnano") { span.startTimeUnixNano = try d.uint64() }
            else if name.is("endtimeunixnano") { span.endTimeUnixNano = try d.uint64() }
            else if name.is("attributes") { try d.attributes(into: &span.attributes) }
            else if name.is("events") {
                try d.array("events") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in span.events.append(try d.event()) }
            } else if name.is("status") {
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("code") { span.statusCode = try d.enumeration(Self.statusCodes) }
                    else if name.is("message") { span.statusMessage = try d.string() }
                    else { try d.skip() }
                }
            } else { try d.skip() }
        }
        span.problem = problem
        return span
    }

    mutating func event() throws(OTLPDecodingError) -> OTLPSpanEvent {
        var event = OTLPSpanEvent()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("timeunixnano") { event.timeUnixNano = try d.uint64() }
            else if name.is("name") { event.name = try d.string() }
            else if name.is("attributes") { try d.attributes(into: &event.attributes) }
            else { try d.skip() }
        }
        return event
    }

    // MARK: metrics

    static let temporalities: [String: Int] = [
        "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
    ]

    mutating func resourceMetrics() throws(OTLPDecodingError) -> OTLPResourceMetrics {
        var result = OTLPResourceMetrics()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("resource") { result.resource = try d.resource() }
            else if name.is("scopemetrics") || name.is("instrumentationlibrarymetrics") {
                try d.array("scopeMetrics") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.scopeMetrics.append(try d.scopeMetrics()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func scopeMetrics() throws(OTLPDecodingError) -> OTLPScopeMetrics {
        var result = OTLPScopeMetrics()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("scope") || name.is("instrumentationlibrary") { result.scope = try d.scope() }
            else if name.is("metrics") {
                try d.array("metrics") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.metrics.append(try d.metric()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func metric() throws(OTLPDecodingError) -> OTLPMetric {
        var metric = OTLPMetric()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("name") { metric.name = try d.string() }
            else if name.is("description") { metric.description = try d.string() }
            else if name.is("unit") { metric.unit = try d.string() }
            else if name.is("gauge") {
                metric.data = .gauge(try d.numberSeries().points)
            } else if name.is("sum") {
                let s = try d.numberSeries()
                metric.data = .sum(s.points, monotonic: s.monotonic, temporality: s.temporality)
            } else if name.is("histogram") {
                var points: [OTLPHistogramPoint] = []
                var temporality = 0
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("datapoints") {
                        try d.array("dataPoints") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in points.append(try d.histogramPoint()) }
                    } else if name.is("aggregationtemporality") { temporality = try d.enumeration(Self.temporalities) }
                    else { try d.skip() }
                }
                metric.data = .histogram(points, temporality: temporality)
            } else if name.is("exponentialhistogram") {
                var points: [OTLPExponentialHistogramPoint] = []
                var temporality = 0
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("datapoints") {
                        try d.array("dataPoints") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in points.append(try d.exponentialPoint()) }
                    } else if name.is("aggregationtemporality") { temporality = try d.enumeration(Self.temporalities) }
                    else { try d.skip() }
                }
                metric.data = .exponentialHistogram(points, temporality: temporality)
            } else if name.is("summary") {
                var points: [OTLPSummaryPoint] = []
                try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                    if name.is("datapoints") {
                        try d.array("dataPoints") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in points.append(try d.summaryPoint()) }
                    } else { try d.skip() }
                }
                metric.data = .summary(points)
            } else { try d.skip() }
        }
        return metric
    }

    mutating func numberSeries() throws(OTLPDecodingError) -> (points: [OTLPNumberPoint], temporality: Int, monotonic: Bool) {
        var points: [OTLPNumberPoint] = []
        var temporality = 0
        var monotonic = false
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("datapoints") {
                try d.array("dataPoints") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in points.append(try d.numberPoint()) }
            } else if name.is("aggregationtemporality") { temporality = try d.enumeration(Self.temporalities) }
            else if name.is("ismonotonic") { monotonic = try d.bool() }
            else { try d.skip() }
        }
        return (points, temporality, monotonic)
    }

    mutating func numberPoint() throws(OTLPDecodingError) -> OTLPNumberPoint {
        var point = OTLPNumberPoint()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("attributes") { try d.attributes(into: &point.attributes) }
            else if name.is("starttimeunixnano") { point.startTimeUnixNano = try d.uint64() }
            else if name.is("timeunixnano") { point.timeUnixNano = try d.uint64() }
            else if name.is("asdouble") { point.value = try d.double() }
            else if name.is("asint") { point.value = Double(try d.int64()) }
            else if name.is("flags") { point.flags = UInt32(truncatingIfNeeded: try d.uint64()) }
            else { try d.skip() }
        }
        return point
    }

    mutating func doubles(_ name: StaticString) throws(OTLPDecodingError) -> [Double] {
        var values: [Double] = []
        try array(name) { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in values.append(try d.double()) }
        return values
    }

    mutating func counts(_ name: StaticString) throws(OTLPDecodingError) -> [UInt64] {
        var values: [UInt64] = []
        try array(name) { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in values.append(try d.uint64()) }
        return values
    }

    mutating func histogramPoint() throws(OTLPDecodingError) -> OTLPHistogramPoint {
        var point = OTLPHistogramPoint()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("attributes") { try d.attributes(into: &point.attributes) }
            else if name.is("starttimeunixnano") { point.startTimeUnixNano = try d.uint64() }
            else if name.is("timeunixnano") { point.timeUnixNano = try d.uint64() }
            else if name.is("count") { point.count = try d.uint64() }
            else if name.is("sum") { point.sum = try d.double() }
            else if name.is("bucketcounts") { point.bucketCounts = try d.counts("bucketCounts") }
            else if name.is("explicitbounds") { point.explicitBounds = try d.doubles("explicitBounds") }
            else if name.is("min") { point.min = try d.double() }
            else if name.is("max") { point.max = try d.double() }
            else if name.is("flags") { point.flags = UInt32(truncatingIfNeeded: try d.uint64()) }
            else { try d.skip() }
        }
        return point
    }

    mutating func exponentialPoint() throws(OTLPDecodingError) -> OTLPExponentialHistogramPoint {
        var point = OTLPExponentialHistogramPoint()
        func buckets(_ d: inout OTLPJSONDecoder) throws(OTLPDecodingError) -> (Int32, [UInt64]) {
            var offset: Int32 = 0
            var counts: [UInt64] = []
            try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                if name.is("offset") { offset = Int32(truncatingIfNeeded: try d.int64()) }
                else if name.is("bucketcounts") { counts = try d.counts("bucketCounts") }
                else { try d.skip() }
            }
            return (offset, counts)
        }
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("attributes") { try d.attributes(into: &point.attributes) }
            else if name.is("starttimeunixnano") { point.startTimeUnixNano = try d.uint64() }
            else if name.is("timeunixnano") { point.timeUnixNano = try d.uint64() }
            else if name.is("count") { point.count = try d.uint64() }
            else if name.is("sum") { point.sum = try d.double() }
            else if name.is("scale") { point.scale = Int32(truncatingIfNeeded: try d.int64()) }
            else if name.is("zerocount") { point.zeroCount = try d.uint64() }
            else if name.is("zerothreshold") { point.zeroThreshold = try d.double() }
            else if name.is("positive") { (point.positiveOffset, point.positiveCounts) = try buckets(&d) }
            else if name.is("negative") { (point.negativeOffset, point.negativeCounts) = try buckets(&d) }
            else if name.is("min") { point.min = try d.double() }
            else if name.is("max") { point.max = try d.double() }
            else if name.is("flags") { point.flags = UInt32(truncatingIfNeeded: try d.uint64()) }
            else { try d.skip() }
        }
        return point
    }

    mutating func summaryPoint() throws(OTLPDecodingError) -> OTLPSummaryPoint {
        var point = OTLPSummaryPoint()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("attributes") { try d.attributes(into: &point.attributes) }
            else if name.is("starttimeunixnano") { point.startTimeUnixNano = try d.uint64() }
            else if name.is("timeunixnano") { point.timeUnixNano = try d.uint64() }
            else if name.is("count") { point.count = try d.uint64() }
            else if name.is("sum") { point.sum = try d.double() }
            else if name.is("flags") { point.flags = UInt32(truncatingIfNeeded: try d.uint64()) }
            else if name.is("quantilevalues") {
                try d.array("quantileValues") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in
                    var q = OTLPQuantile(quantile: 0, value: 0)
                    try d.object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
                        if name.is("quantile") { q.quantile = try d.double() }
                        else if name.is("value") { q.value = try d.double() }
                        else { try d.skip() }
                    }
                    point.quantiles.append(q)
                }
            } else { try d.skip() }
        }
        return point
    }

    // MARK: logs

    mutating func resourceLogs() throws(OTLPDecodingError) -> OTLPResourceLogs {
        var result = OTLPResourceLogs()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("resource") { result.resource = try d.resource() }
            else if name.is("scopelogs") || name.is("instrumentationlibrarylogs") {
                try d.array("scopeLogs") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.scopeLogs.append(try d.scopeLogs()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func scopeLogs() throws(OTLPDecodingError) -> OTLPScopeLogs {
        var result = OTLPScopeLogs()
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("scope") || name.is("instrumentationlibrary") { result.scope = try d.scope() }
            else if name.is("logrecords") {
                try d.array("logRecords") { (d: inout OTLPJSONDecoder, _) throws(OTLPDecodingError) in result.logRecords.append(try d.logRecord()) }
            } else { try d.skip() }
        }
        return result
    }

    mutating func logRecord() throws(OTLPDecodingError) -> OTLPLogRecord {
        var record = OTLPLogRecord()
        var problem: String?
        try object { (d: inout OTLPJSONDecoder, name) throws(OTLPDecodingError) in
            if name.is("timeunixnano") { record.timeUnixNano = try d.uint64() }
            else if name.is("observedtimeunixnano") { record.observedTimeUnixNano = try d.uint64() }
            else if name.is("severitynumber") { record.severityNumber = try d.enumeration([:]) }
            else if name.is("severitytext") { record.severityText = try d.string() }
            else if name.is("body") { record.body = try d.anyValue() }
            else if name.is("attributes") { try d.attributes(into: &record.attributes) }
            else if name.is("traceid") { record.traceId = try d.hexId("traceId", problem: &problem) }
            else if name.is("spanid") { record.spanId = try d.hexId("spanId", problem: &problem) }
            else if name.is("eventname") { record.eventName = try d.string() }
            else { try d.skip() }
        }
        record.problem = problem
        return record
    }
}

/// Standard base64 (with or without padding), for `bytesValue` in OTLP/JSON.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - 65
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - 71
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c + 4
            case UInt8(ascii: "+"), UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
