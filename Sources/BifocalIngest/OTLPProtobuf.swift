/// Decodes OTLP/protobuf export requests (the bodies of `POST /v1/traces`, `/v1/metrics`,
/// `/v1/logs` with `Content-Type: application/x-protobuf`) into the `OTLP*` values.
///
/// A focused wire decoder rather than generated code: it follows opentelemetry-proto **v1.10.0**,
/// whose field numbers were read from the descriptors shipped in the PyPI package
/// `opentelemetry-proto` 1.45.1 (which says it was generated from that release). To check or
/// regenerate the numbers: `python3 -m venv /tmp/p && /tmp/p/bin/pip install opentelemetry-proto==1.45.1`,
/// then for each message print `[(f.number, f.name, f.type) for f in Msg.DESCRIPTOR.fields]`
/// (e.g. `from opentelemetry.proto.trace.v1.trace_pb2 import Span`). Field numbers are stable
/// across proto versions; newer fields are skipped as unknown fields, as protobuf requires.
///
/// Rules, as protobuf parsers apply them: unknown fields (any wire type, groups included) are
/// skipped; a known field that arrives with an unexpected wire type is skipped like an unknown one;
/// for a non-repeated field the last occurrence wins; repeated scalars are read packed or unpacked.
/// Truncated or malformed input throws `OTLPDecodingError` naming the byte offset and field path.
public enum OTLPProtobuf {
    /// Decodes an `ExportTraceServiceRequest`.
    public static func decodeTraces(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPTraces {
        var reader = ProtobufReader(body.assumingMemoryBound(to: UInt8.self))
        var result = OTLPTraces()
        while let (field, wire) = try reader.nextField() {
            if field == 1, wire == .lengthDelimited {
                let index = result.resourceSpans.count
                do throws(OTLPDecodingError) {
                    var sub = try reader.readMessage()
                    result.resourceSpans.append(try resourceSpans(&sub))
                } catch { throw error.inside("resource_spans[\(index)]") }
            } else {
                try reader.skip(wire, field: field)
            }
        }
        return result
    }

    /// Decodes an `ExportMetricsServiceRequest`.
    public static func decodeMetrics(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPMetrics {
        var reader = ProtobufReader(body.assumingMemoryBound(to: UInt8.self))
        var result = OTLPMetrics()
        while let (field, wire) = try reader.nextField() {
            if field == 1, wire == .lengthDelimited {
                let index = result.resourceMetrics.count
                do throws(OTLPDecodingError) {
                    var sub = try reader.readMessage()
                    result.resourceMetrics.append(try resourceMetrics(&sub))
                } catch { throw error.inside("resource_metrics[\(index)]") }
            } else {
                try reader.skip(wire, field: field)
            }
        }
        return result
    }

    /// Decodes an `ExportLogsServiceRequest`.
    public static func decodeLogs(_ body: UnsafeRawBufferPointer) throws(OTLPDecodingError) -> OTLPLogs {
        var reader = ProtobufReader(body.assumingMemoryBound(to: UInt8.self))
        var result = OTLPLogs()
        while let (field, wire) = try reader.nextField() {
            if field == 1, wire == .lengthDelimited {
                let index = result.resourceLogs.count
                do throws(OTLPDecodingError) {
                    var sub = try reader.readMessage()
                    result.resourceLogs.append(try resourceLogs(&sub))
                } catch { throw error.inside("resource_logs[\(index)]") }
            } else {
                try reader.skip(wire, field: field)
            }
        }
        return result
    }

    // MARK: common

    /// Reads repeated messages of one field number with an error path `name[i]`.
    @inline(__always)
    private static func element<T>(_ reader: inout ProtobufReader, _ name: StaticString, _ index: Int,
                                   _ decode: (inout ProtobufReader) throws(OTLPDecodingError) -> T) throws(OTLPDecodingError) -> T {
        do throws(OTLPDecodingError) {
            var sub = try reader.readMessage()
            return try decode(&sub)
        } catch { throw error.inside("\(name)[\(index)]") }
    }

    @inline(__always)
    private static func field<T>(_ reader: inout ProtobufReader, _ name: StaticString,
                                 _ decode: (inout ProtobufReader) throws(OTLPDecodingError) -> T) throws(OTLPDecodingError) -> T {
        do throws(OTLPDecodingError) {
            var sub = try reader.readMessage()
            return try decode(&sub)
        } catch { throw error.inside("\(name)") }
    }

    /// `KeyValue`: key = 1, value = 2 (key_strindex = 3 is for profiles' dictionaries; skipped).
    static func keyValue(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPAttribute {
        try keyValue(&r, depth: 0)
    }

    /// Values nest (arrays of maps of arrays); deeper than this is refused rather than risking the stack.
    static let maxValueDepth = 64

    static func keyValue(_ r: inout ProtobufReader, depth: Int) throws(OTLPDecodingError) -> OTLPAttribute {
        var attribute = OTLPAttribute("", .empty)
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): attribute.key = try r.readKey()
            case (2, .lengthDelimited):
                attribute.value = try Self.field(&r, "value") { (s: inout ProtobufReader) throws(OTLPDecodingError) in try anyValue(&s, depth: depth) }
            default: try r.skip(wire, field: field)
            }
        }
        return attribute
    }

    /// `AnyValue`: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7.
    static func anyValue(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPValue {
        try anyValue(&r, depth: 0)
    }

    static func anyValue(_ r: inout ProtobufReader, depth: Int) throws(OTLPDecodingError) -> OTLPValue {
        guard depth < maxValueDepth else { throw r.failure("attribute values nested deeper than \(maxValueDepth) levels") }
        var value = OTLPValue.empty
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): value = .string(try r.readString())
            case (2, .varint): value = .bool(try r.readVarint() != 0)
            case (3, .varint): value = .int(Int64(bitPattern: try r.readVarint()))
            case (4, .fixed64): value = .double(try r.readDouble())
            case (5, .lengthDelimited):
                // ArrayValue: values = 1.
                var sub = try r.readMessage()
                var values: [OTLPValue] = []
                while let (f, w) = try sub.nextField() {
                    if f == 1, w == .lengthDelimited {
                        values.append(try element(&sub, "array_value.values", values.count) { (s: inout ProtobufReader) throws(OTLPDecodingError) in
                            try anyValue(&s, depth: depth + 1)
                        })
                    } else {
                        try sub.skip(w, field: f)
                    }
                }
                value = .array(values)
            case (6, .lengthDelimited):
                // KeyValueList: values = 1.
                var sub = try r.readMessage()
                var members: [OTLPAttribute] = []
                while let (f, w) = try sub.nextField() {
                    if f == 1, w == .lengthDelimited {
                        members.append(try element(&sub, "kvlist_value.values", members.count) { (s: inout ProtobufReader) throws(OTLPDecodingError) in
                            try keyValue(&s, depth: depth + 1)
                        })
                    } else {
                        try sub.skip(w, field: f)
                    }
                }
                value = .kvlist(members)
            case (7, .lengthDelimited):
                let range = try r.readLengthDelimited()
                value = .bytes(Array(UnsafeBufferPointer(rebasing: r.bytes[range])))
            default: try r.skip(wire, field: field)
            }
        }
        return value
    }

    /// `Resource`: attributes = 1.
    static func resource(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> [OTLPAttribute] {
        var attributes: [OTLPAttribute] = []
        while let (field, wire) = try r.nextField() {
            if field == 1, wire == .lengthDelimited {
                attributes.append(try element(&r, "attributes", attributes.count, keyValue))
            } else {
                try r.skip(wire, field: field)
            }
        }
        return attributes
    }

    /// `InstrumentationScope`: name 1, version 2, attributes 3.
    static func scope(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPScope {
        var scope = OTLPScope()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): scope.name = try r.readString()
            case (2, .lengthDelimited): scope.version = try r.readString()
            case (3, .lengthDelimited): scope.attributes.append(try element(&r, "attributes", scope.attributes.count, keyValue))
            default: try r.skip(wire, field: field)
            }
        }
        return scope
    }

    // MARK: traces

    /// `ResourceSpans`: resource 1, scope_spans 2.
    static func resourceSpans(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPResourceSpans {
        var result = OTLPResourceSpans()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.resource = try Self.field(&r, "resource", resource)
            case (2, .lengthDelimited): result.scopeSpans.append(try element(&r, "scope_spans", result.scopeSpans.count, scopeSpans))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `ScopeSpans`: scope 1, spans 2.
    static func scopeSpans(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPScopeSpans {
        var result = OTLPScopeSpans()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.scope = try Self.field(&r, "scope", scope)
            case (2, .lengthDelimited): result.spans.append(try element(&r, "spans", result.spans.count, span))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `Span`: trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6,
    /// start_time_unix_nano 7 (fixed64), end_time_unix_nano 8 (fixed64), attributes 9, events 11,
    /// links 13, status 15, flags 16 (fixed32).
    static func span(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPSpan {
        var span = OTLPSpan()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): span.traceId = try r.readHex()
            case (2, .lengthDelimited): span.spanId = try r.readHex()
            case (4, .lengthDelimited): span.parentSpanId = try r.readHex()
            case (5, .lengthDelimited): span.name = try r.readString()
            case (6, .varint): span.kind = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try r.readVarint()))
            case (7, .fixed64): span.startTimeUnixNano = try r.readFixed64()
            case (8, .fixed64): span.endTimeUnixNano = try r.readFixed64()
            case (9, .lengthDelimited): span.attributes.append(try element(&r, "attributes", span.attributes.count, keyValue))
            case (11, .lengthDelimited): span.events.append(try element(&r, "events", span.events.count, event))
            case (15, .lengthDelimited):
                // Status: message 2, code 3.
                var sub = try r.readMessage()
                do throws(OTLPDecodingError) {
                    while let (f, w) = try sub.nextField() {
                        switch (f, w) {
                        case (2, .lengthDelimited): span.statusMessage = try sub.readString()
                        case (3, .varint): span.statusCode = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try sub.readVarint()))
                        default: try sub.skip(w, field: f)
                        }
                    }
                } catch { throw error.inside("status") }
            default: try r.skip(wire, field: field)
            }
        }
        return span
    }

    /// `Span.Event`: time_unix_nano 1 (fixed64), name 2, attributes 3.
    static func event(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPSpanEvent {
        var event = OTLPSpanEvent()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .fixed64): event.timeUnixNano = try r.readFixed64()
            case (2, .lengthDelimited): event.name = try r.readString()
            case (3, .lengthDelimited): event.attributes.append(try element(&r, "attributes", event.attributes.count, keyValue))
            default: try r.skip(wire, field: field)
            }
        }
        return event
    }

    // MARK: metrics

    /// `ResourceMetrics`: resource 1, scope_metrics 2.
    static func resourceMetrics(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPResourceMetrics {
        var result = OTLPResourceMetrics()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.resource = try Self.field(&r, "resource", resource)
            case (2, .lengthDelimited): result.scopeMetrics.append(try element(&r, "scope_metrics", result.scopeMetrics.count, scopeMetrics))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `ScopeMetrics`: scope 1, metrics 2.
    static func scopeMetrics(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPScopeMetrics {
        var result = OTLPScopeMetrics()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.scope = try Self.field(&r, "scope", scope)
            case (2, .lengthDelimited): result.metrics.append(try element(&r, "metrics", result.metrics.count, metric))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `Metric`: name 1, description 2, unit 3, gauge 5, sum 7, histogram 9,
    /// exponential_histogram 10, summary 11 (metadata 12 skipped).
    static func metric(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPMetric {
        var metric = OTLPMetric()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): metric.name = try r.readString()
            case (2, .lengthDelimited): metric.description = try r.readString()
            case (3, .lengthDelimited): metric.unit = try r.readString()
            case (5, .lengthDelimited):
                metric.data = .gauge(try Self.field(&r, "gauge") { (s: inout ProtobufReader) throws(OTLPDecodingError) in try numberPoints(&s).points })
            case (7, .lengthDelimited):
                let sum = try Self.field(&r, "sum", numberPoints)
                metric.data = .sum(sum.points, monotonic: sum.monotonic, temporality: sum.temporality)
            case (9, .lengthDelimited):
                let h = try Self.field(&r, "histogram", histogram)
                metric.data = .histogram(h.points, temporality: h.temporality)
            case (10, .lengthDelimited):
                let h = try Self.field(&r, "exponential_histogram", exponentialHistogram)
                metric.data = .exponentialHistogram(h.points, temporality: h.temporality)
            case (11, .lengthDelimited):
                metric.data = .summary(try Self.field(&r, "summary", summary))
            default: try r.skip(wire, field: field)
            }
        }
        return metric
    }

    /// `Gauge` (data_points 1) and `Sum` (data_points 1, aggregation_temporality 2, is_monotonic 3).
    static func numberPoints(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> (points: [OTLPNumberPoint], temporality: Int, monotonic: Bool) {
        var points: [OTLPNumberPoint] = []
        var temporality = 0
        var monotonic = false
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): points.append(try element(&r, "data_points", points.count, numberPoint))
            case (2, .varint): temporality = Int(truncatingIfNeeded: try r.readVarint())
            case (3, .varint): monotonic = try r.readVarint() != 0
            default: try r.skip(wire, field: field)
            }
        }
        return (points, temporality, monotonic)
    }

    /// `NumberDataPoint`: start 2, time 3 (fixed64), as_double 4 (double), as_int 6 (sfixed64),
    /// attributes 7, flags 8 (exemplars 5 skipped).
    static func numberPoint(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPNumberPoint {
        var point = OTLPNumberPoint()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (2, .fixed64): point.startTimeUnixNano = try r.readFixed64()
            case (3, .fixed64): point.timeUnixNano = try r.readFixed64()
            case (4, .fixed64): point.value = try r.readDouble()
            case (6, .fixed64): point.value = Double(Int64(bitPattern: try r.readFixed64()))
            case (7, .lengthDelimited): point.attributes.append(try element(&r, "attributes", point.attributes.count, keyValue))
            case (8, .varint): point.flags = UInt32(truncatingIfNeeded: try r.readVarint())
            default: try r.skip(wire, field: field)
            }
        }
        return point
    }

    /// `Histogram`: data_points 1, aggregation_temporality 2.
    static func histogram(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> (points: [OTLPHistogramPoint], temporality: Int) {
        var points: [OTLPHistogramPoint] = []
        var temporality = 0
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): points.append(try element(&r, "data_points", points.count, histogramPoint))
            case (2, .varint): temporality = Int(truncatingIfNeeded: try r.readVarint())
            default: try r.skip(wire, field: field)
            }
        }
        return (points, temporality)
    }

    /// `HistogramDataPoint`: start 2, time 3, count 4 (fixed64), sum 5 (double), bucket_counts 6
    /// (repeated fixed64), explicit_bounds 7 (repeated double), attributes 9, flags 10, min 11, max 12.
    static func histogramPoint(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPHistogramPoint {
        var point = OTLPHistogramPoint()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (2, .fixed64): point.startTimeUnixNano = try r.readFixed64()
            case (3, .fixed64): point.timeUnixNano = try r.readFixed64()
            case (4, .fixed64): point.count = try r.readFixed64()
            case (5, .fixed64): point.sum = try r.readDouble()
            case (6, .fixed64), (6, .lengthDelimited): try r.appendFixed64(wire, to: &point.bucketCounts)
            case (7, .fixed64), (7, .lengthDelimited): try r.appendDouble(wire, to: &point.explicitBounds)
            case (9, .lengthDelimited): point.attributes.append(try element(&r, "attributes", point.attributes.count, keyValue))
            case (10, .varint): point.flags = UInt32(truncatingIfNeeded: try r.readVarint())
            case (11, .fixed64): point.min = try r.readDouble()
            case (12, .fixed64): point.max = try r.readDouble()
            default: try r.skip(wire, field: field)
            }
        }
        return point
    }

    /// `ExponentialHistogram`: data_points 1, aggregation_temporality 2.
    static func exponentialHistogram(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> (points: [OTLPExponentialHistogramPoint], temporality: Int) {
        var points: [OTLPExponentialHistogramPoint] = []
        var temporality = 0
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): points.append(try element(&r, "data_points", points.count, exponentialPoint))
            case (2, .varint): temporality = Int(truncatingIfNeeded: try r.readVarint())
            default: try r.skip(wire, field: field)
            }
        }
        return (points, temporality)
    }

    /// Zigzag decoding of sint32.
    @inline(__always) static func zigzag32(_ v: UInt64) -> Int32 {
        let n = UInt32(truncatingIfNeeded: v)
        return Int32(bitPattern: (n >> 1) ^ (0 &- (n & 1)))
    }

    /// `ExponentialHistogramDataPoint`: attributes 1, start 2, time 3, count 4, sum 5, scale 6
    /// (sint32), zero_count 7 (fixed64), positive 8, negative 9, flags 10, min 12, max 13,
    /// zero_threshold 14 (exemplars 11 skipped).
    static func exponentialPoint(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPExponentialHistogramPoint {
        var point = OTLPExponentialHistogramPoint()
        // Buckets: offset 1 (sint32), bucket_counts 2 (repeated uint64).
        func buckets(_ s: inout ProtobufReader) throws(OTLPDecodingError) -> (Int32, [UInt64]) {
            var offset: Int32 = 0
            var counts: [UInt64] = []
            while let (f, w) = try s.nextField() {
                switch (f, w) {
                case (1, .varint): offset = zigzag32(try s.readVarint())
                case (2, .varint), (2, .lengthDelimited): try s.appendVarint(w, to: &counts)
                default: try s.skip(w, field: f)
                }
            }
            return (offset, counts)
        }
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): point.attributes.append(try element(&r, "attributes", point.attributes.count, keyValue))
            case (2, .fixed64): point.startTimeUnixNano = try r.readFixed64()
            case (3, .fixed64): point.timeUnixNano = try r.readFixed64()
            case (4, .fixed64): point.count = try r.readFixed64()
            case (5, .fixed64): point.sum = try r.readDouble()
            case (6, .varint): point.scale = zigzag32(try r.readVarint())
            case (7, .fixed64): point.zeroCount = try r.readFixed64()
            case (8, .lengthDelimited): (point.positiveOffset, point.positiveCounts) = try Self.field(&r, "positive", buckets)
            case (9, .lengthDelimited): (point.negativeOffset, point.negativeCounts) = try Self.field(&r, "negative", buckets)
            case (10, .varint): point.flags = UInt32(truncatingIfNeeded: try r.readVarint())
            case (12, .fixed64): point.min = try r.readDouble()
            case (13, .fixed64): point.max = try r.readDouble()
            case (14, .fixed64): point.zeroThreshold = try r.readDouble()
            default: try r.skip(wire, field: field)
            }
        }
        return point
    }

    /// `Summary`: data_points 1.
    static func summary(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> [OTLPSummaryPoint] {
        var points: [OTLPSummaryPoint] = []
        while let (field, wire) = try r.nextField() {
            if field == 1, wire == .lengthDelimited {
                points.append(try element(&r, "data_points", points.count, summaryPoint))
            } else {
                try r.skip(wire, field: field)
            }
        }
        return points
    }

    /// `SummaryDataPoint`: start 2, time 3, count 4 (fixed64), sum 5 (double), quantile_values 6
    /// (quantile 1, value 2, both double), attributes 7, flags 8.
    static func summaryPoint(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPSummaryPoint {
        var point = OTLPSummaryPoint()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (2, .fixed64): point.startTimeUnixNano = try r.readFixed64()
            case (3, .fixed64): point.timeUnixNano = try r.readFixed64()
            case (4, .fixed64): point.count = try r.readFixed64()
            case (5, .fixed64): point.sum = try r.readDouble()
            case (6, .lengthDelimited):
                point.quantiles.append(try element(&r, "quantile_values", point.quantiles.count) { (s: inout ProtobufReader) throws(OTLPDecodingError) in
                    var q = OTLPQuantile(quantile: 0, value: 0)
                    while let (f, w) = try s.nextField() {
                        switch (f, w) {
                        case (1, .fixed64): q.quantile = try s.readDouble()
                        case (2, .fixed64): q.value = try s.readDouble()
                        default: try s.skip(w, field: f)
                        }
                    }
                    return q
                })
            case (7, .lengthDelimited): point.attributes.append(try element(&r, "attributes", point.attributes.count, keyValue))
            case (8, .varint): point.flags = UInt32(truncatingIfNeeded: try r.readVarint())
            default: try r.skip(wire, field: field)
            }
        }
        return point
    }

    // MARK: logs

    /// `ResourceLogs`: resource 1, scope_logs 2.
    static func resourceLogs(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPResourceLogs {
        var result = OTLPResourceLogs()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.resource = try Self.field(&r, "resource", resource)
            case (2, .lengthDelimited): result.scopeLogs.append(try element(&r, "scope_logs", result.scopeLogs.count, scopeLogs))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `ScopeLogs`: scope 1, log_records 2.
    static func scopeLogs(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPScopeLogs {
        var result = OTLPScopeLogs()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited): result.scope = try Self.field(&r, "scope", scope)
            case (2, .lengthDelimited): result.logRecords.append(try element(&r, "log_records", result.logRecords.count, logRecord))
            default: try r.skip(wire, field: field)
            }
        }
        return result
    }

    /// `LogRecord`: time 1 (fixed64), severity_number 2, severity_text 3, body 5, attributes 6,
    /// flags 8 (fixed32), trace_id 9, span_id 10, observed_time 11 (fixed64), event_name 12.
    static func logRecord(_ r: inout ProtobufReader) throws(OTLPDecodingError) -> OTLPLogRecord {
        var record = OTLPLogRecord()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .fixed64): record.timeUnixNano = try r.readFixed64()
            case (2, .varint): record.severityNumber = Int(truncatingIfNeeded: Int32(truncatingIfNeeded: try r.readVarint()))
            case (3, .lengthDelimited): record.severityText = try r.readString()
            case (5, .lengthDelimited): record.body = try Self.field(&r, "body", anyValue)
            case (6, .lengthDelimited): record.attributes.append(try element(&r, "attributes", record.attributes.count, keyValue))
            case (9, .lengthDelimited): record.traceId = try r.readHex()
            case (10, .lengthDelimited): record.spanId = try r.readHex()
            case (11, .fixed64): record.observedTimeUnixNano = try r.readFixed64()
            case (12, .lengthDelimited): record.eventName = try r.readString()
            default: try r.skip(wire, field: field)
            }
        }
        return record
    }
}
