/// Encodes `OTLPTraces` as an OTLP/protobuf `ExportTraceServiceRequest` (the field numbers of
/// `OTLPProtobuf`, opentelemetry-proto v1.10.0), for the benchmark's pre-encoded requests and for
/// tests; Bifocal itself only receives.
extension OTLPProtobuf {
    /// The request's protobuf bytes.
    public static func encode(_ traces: OTLPTraces) -> [UInt8] {
        var w = ProtobufWriter()
        for resourceSpans in traces.resourceSpans {
            w.message(1) { rs in
                rs.message(1) { resource in
                    for attribute in resourceSpans.resource { resource.attribute(1, attribute) }
                }
                for scopeSpans in resourceSpans.scopeSpans {
                    rs.message(2) { ss in
                        ss.message(1) { scope in
                            if !scopeSpans.scope.name.isEmpty { scope.string(1, scopeSpans.scope.name) }
                            if !scopeSpans.scope.version.isEmpty { scope.string(2, scopeSpans.scope.version) }
                            for attribute in scopeSpans.scope.attributes { scope.attribute(3, attribute) }
                        }
                        for span in scopeSpans.spans { ss.message(2) { $0.span(span) } }
                    }
                }
            }
        }
        return w.bytes
    }
}

extension ProtobufWriter {
    mutating func bytesField(_ field: Int, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, .fixed64)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func hexField(_ field: Int, _ hex: String) {
        guard !hex.isEmpty else { return }
        var out: [UInt8] = []
        var high: UInt8?
        for c in hex.utf8 {
            let d: UInt8 = c <= UInt8(ascii: "9") ? c &- 48 : (c | 0x20) &- 87
            if let h = high { out.append(h << 4 | d); high = nil } else { high = d }
        }
        bytesField(field, out)
    }

    mutating func value(_ value: OTLPValue) {
        switch value {
        case .empty: break
        case .string(let s): string(1, s)
        case .bool(let b): tag(2, .varint); varint(b ? 1 : 0)
        case .int(let i): int(3, i)
        case .double(let d): fixed64(4, d.bitPattern)
        case .array(let values): message(5) { array in for v in values { array.message(1) { $0.value(v) } } }
        case .kvlist(let members): message(6) { list in for m in members { list.attribute(1, m) } }
        case .bytes(let b): bytesField(7, b)
        }
    }

    mutating func attribute(_ field: Int, _ attribute: OTLPAttribute) {
        message(field) { kv in
            kv.string(1, attribute.key)
            kv.message(2) { $0.value(attribute.value) }
        }
    }

    mutating func span(_ span: OTLPSpan) {
        hexField(1, span.traceId)
        hexField(2, span.spanId)
        hexField(4, span.parentSpanId)
        if !span.name.isEmpty { string(5, span.name) }
        if span.kind != 0 { int(6, Int64(span.kind)) }
        fixed64(7, span.startTimeUnixNano)
        fixed64(8, span.endTimeUnixNano)
        for attribute in span.attributes { self.attribute(9, attribute) }
        for event in span.events {
            message(11) { e in
                e.fixed64(1, event.timeUnixNano)
                e.string(2, event.name)
                for attribute in event.attributes { e.attribute(3, attribute) }
            }
        }
        if span.statusCode != 0 || !span.statusMessage.isEmpty {
            message(15) { status in
                if !span.statusMessage.isEmpty { status.string(2, span.statusMessage) }
                if span.statusCode != 0 { status.int(3, Int64(span.statusCode)) }
            }
        }
    }
}
