import BifocalCore
import BifocalTesting
import Foundation
import Testing

@testable import BifocalIngest

/// A capture committed beside these tests (Tests/BifocalIngestTests/OTLPCaptures, see its NOTES.md).
func otlpCapture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("OTLPCaptures/\(name)")
    return Array(try Data(contentsOf: url))
}

/// A tiny protobuf encoder of the tests' own, so that decoding is checked against bytes the
/// decoder's own writer did not produce.
struct PB {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func uint(_ field: Int, _ v: UInt64) { key(field, 0); varint(v) }
    mutating func fixed64(_ field: Int, _ v: UInt64) {
        key(field, 1)
        for i in 0..<8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) }
    }
    mutating func fixed32(_ field: Int, _ v: UInt32) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) }
    }
    mutating func double(_ field: Int, _ v: Double) { fixed64(field, v.bitPattern) }
    mutating func raw(_ field: Int, _ data: [UInt8]) { key(field, 2); varint(UInt64(data.count)); bytes += data }
    mutating func string(_ field: Int, _ s: String) { raw(field, Array(s.utf8)) }
    mutating func message(_ field: Int, _ build: (inout PB) -> Void) {
        var inner = PB()
        build(&inner)
        raw(field, inner.bytes)
    }
    /// An attribute (KeyValue { key = 1; value = 2 { AnyValue } }).
    mutating func attribute(_ field: Int, _ key: String, string value: String) {
        message(field) { kv in kv.string(1, key); kv.message(2) { $0.string(1, value) } }
    }
    mutating func attribute(_ field: Int, _ key: String, int value: Int64) {
        message(field) { kv in kv.string(1, key); kv.message(2) { $0.uint(3, UInt64(bitPattern: value)) } }
    }
    mutating func attribute(_ field: Int, _ key: String, double value: Double) {
        message(field) { kv in kv.string(1, key); kv.message(2) { $0.double(4, value) } }
    }
    /// Unknown fields of every wire type (numbers no OTLP message uses), including a nested group.
    mutating func unknownFields() {
        uint(1000, 12345)
        fixed64(1001, 0xDEAD_BEEF)
        string(1002, "from a newer schema")
        key(1003, 3); uint(1, 7); string(2, "inside a group"); key(1004, 3); key(1004, 4); key(1003, 4)
        fixed32(1005, 42)
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// An ExportTraceServiceRequest with one resource, one scope and one GenAI span.
func traceRequest(unknown: Bool = false, spans: Int = 1) -> [UInt8] {
    var pb = PB()
    pb.message(1) { rs in
        if unknown { rs.unknownFields() }
        rs.message(1) { resource in
            resource.attribute(1, "service.name", string: "chat-app")
            if unknown { resource.unknownFields() }
        }
        rs.message(2) { ss in
            ss.message(1) { scope in scope.string(1, "opentelemetry.instrumentation.openai"); scope.string(2, "0.62.4") }
            for n in 0..<spans {
                ss.message(2) { span in
                    if unknown { span.unknownFields() }
                    span.raw(1, hexBytes("5b8efff798038103d269b633813fc60c"))
                    span.raw(2, hexBytes(String(format: "eee19b7ec3c1b%03x", n + 1)))
                    span.string(3, "rojo=00f067aa0ba902b7")
                    span.string(5, "chat llama")
                    span.uint(6, 3)
                    span.fixed64(7, 1_795_953_000_000_000_000)
                    span.fixed64(8, 1_795_953_002_000_000_000)
                    span.attribute(9, "gen_ai.operation.name", string: "chat")
                    span.attribute(9, "gen_ai.provider.name", string: "vllm")
                    span.attribute(9, "gen_ai.request.model", string: "llama")
                    span.attribute(9, "gen_ai.response.model", string: "llama-3-8b")
                    span.attribute(9, "gen_ai.usage.input_tokens", int: 100)
                    span.attribute(9, "gen_ai.usage.output_tokens", int: 40)
                    span.attribute(9, "gen_ai.response.time_to_first_chunk", double: 0.25)
                    span.message(9) { kv in
                        kv.string(1, "gen_ai.response.finish_reasons")
                        kv.message(2) { v in v.message(5) { array in array.message(1) { $0.string(1, "stop") } } }
                    }
                    span.uint(10, 0) // dropped_attributes_count
                    span.message(11) { event in
                        event.fixed64(1, 1_795_953_000_300_000_000)
                        event.string(2, "gen_ai.content.completion.chunk")
                        if unknown { event.unknownFields() }
                    }
                    span.message(13) { link in link.raw(1, hexBytes("00000000000000000000000000000001")) }
                    span.message(15) { status in status.string(2, ""); status.uint(3, 1); if unknown { status.unknownFields() } }
                    span.fixed32(16, 0x100)
                }
            }
        }
    }
    return pb.bytes
}

@Suite("OTLP decoding")
struct OTLPDecodingTests {
    func decodeProtobufTraces(_ bytes: [UInt8]) throws -> OTLPTraces {
        try bytes.withUnsafeBytes { try OTLPProtobuf.decodeTraces($0) }
    }

    @Test("protobuf built by hand decodes field by field")
    func protobufRoundTrip() throws {
        let traces = try decodeProtobufTraces(traceRequest())
        #expect(traces.resourceSpans.count == 1)
        let rs = traces.resourceSpans[0]
        #expect(rs.resource == [OTLPAttribute("service.name", .string("chat-app"))])
        #expect(rs.scopeSpans[0].scope.name == "opentelemetry.instrumentation.openai")
        #expect(rs.scopeSpans[0].scope.version == "0.62.4")
        let span = try #require(rs.scopeSpans[0].spans.first)
        #expect(span.traceId == "5b8efff798038103d269b633813fc60c")
        #expect(span.spanId == "eee19b7ec3c1b001")
        #expect(span.name == "chat llama")
        #expect(span.kind == 3)
        #expect(span.startTimeUnixNano == 1_795_953_000_000_000_000)
        #expect(span.endTimeUnixNano == 1_795_953_002_000_000_000)
        #expect(span.attributes.count == 8)
        #expect(span.attributes["gen_ai.usage.input_tokens"] == .int(100))
        #expect(span.attributes["gen_ai.response.time_to_first_chunk"] == .double(0.25))
        #expect(span.attributes["gen_ai.response.finish_reasons"] == .array([.string("stop")]))
        #expect(span.events == [OTLPSpanEvent(timeUnixNano: 1_795_953_000_300_000_000, name: "gen_ai.content.completion.chunk")])
        #expect(span.statusCode == 1)
    }

    @Test("unknown fields of every wire type, groups included, are skipped at every level")
    func unknownFieldsSkipped() throws {
        let plain = try decodeProtobufTraces(traceRequest())
        let withUnknown = try decodeProtobufTraces(traceRequest(unknown: true))
        #expect(plain == withUnknown)
    }

    @Test("a known field with an unexpected wire type is skipped like an unknown one")
    func wrongWireTypeSkipped() throws {
        var pb = PB()
        pb.message(1) { rs in
            rs.message(2) { ss in
                ss.message(2) { span in
                    span.uint(5, 7)                // name as a varint: skipped
                    span.string(7, "not a time")   // start time as bytes: skipped
                    span.string(5, "kept")
                }
            }
        }
        let span = try #require(try decodeProtobufTraces(pb.bytes).resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.name == "kept")
        #expect(span.startTimeUnixNano == 0)
    }

    @Test("every truncation of a valid request either decodes or fails with an offset inside the body; none crashes")
    func truncations() throws {
        let full = traceRequest(unknown: true, spans: 2)
        var failures = 0
        for length in 0..<full.count {
            let prefix = Array(full[0..<length])
            do {
                _ = try decodeProtobufTraces(prefix)
            } catch let error as OTLPDecodingError {
                failures += 1
                #expect(error.offset >= 0 && error.offset <= length)
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(failures > full.count / 2)
    }

    @Test("a truncated nested message names its field path")
    func errorPath() throws {
        var bytes = traceRequest()
        bytes.removeLast(3)
        // Fix up nothing: the outer lengths now run past the end.
        let error = try #require(throws: OTLPDecodingError.self) { try decodeProtobufTraces(bytes) }
        #expect(error.path.hasPrefix("resource_spans[0]") || error.path.isEmpty)
        #expect(error.description.contains("at byte"))

        var pb = PB()
        pb.message(1) { rs in rs.message(2) { ss in ss.message(2) { span in span.key(9, 2); span.varint(50); span.bytes += [0x0A, 0x01] } } }
        let nested = try #require(throws: OTLPDecodingError.self) { try decodeProtobufTraces(pb.bytes) }
        #expect(nested.path == "resource_spans[0].scope_spans[0].spans[0].attributes[0]")
        #expect(nested.reason.contains("runs past the end"))
    }

    @Test("garbage never crashes the decoders", arguments: [OTLPSignal.traces, .metrics, .logs])
    func garbage(signal: OTLPSignal) {
        var rng = SplitMix64(state: 42)
        for round in 0..<2000 {
            let count = Int(rng.next() % 200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 3 == 0 { bytes = Array(traceRequest(unknown: true)) ; bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            bytes.withUnsafeBytes { raw in
                switch signal {
                case .traces: _ = try? OTLPProtobuf.decodeTraces(raw)
                case .metrics: _ = try? OTLPProtobuf.decodeMetrics(raw)
                case .logs: _ = try? OTLPProtobuf.decodeLogs(raw)
                }
                _ = try? OTLPJSON.decodeTraces(raw)
            }
        }
    }

    @Test("deeply nested attribute values are refused, not recursed into")
    func deepNesting() throws {
        var value = PB()
        value.string(1, "leaf")
        for _ in 0..<200 {
            var outer = PB()
            outer.message(5) { array in array.raw(1, value.bytes) }
            value = outer
        }
        var pb = PB()
        pb.message(1) { rs in rs.message(1) { resource in resource.message(1) { kv in kv.string(1, "deep"); kv.raw(2, value.bytes) } } }
        let error = try #require(throws: OTLPDecodingError.self) { try decodeProtobufTraces(pb.bytes) }
        #expect(error.reason.contains("nested deeper"))
    }

    @Test("the GenAI fixture's OTLP/JSON decodes")
    func genAIFixtureJSON() throws {
        guard let data = try Fixtures.load("otlp/otlp_genai_openai_v2_streaming.traces.json") else { return }
        let traces = try Array(data).withUnsafeBytes { try OTLPJSON.decodeTraces($0) }
        let span = try #require(traces.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceId == "e9396cdad9333c8107ae895190c488f3")
        #expect(span.spanId == "e384a06533b8c3c9")
        #expect(span.kind == 3)
        #expect(span.startTimeUnixNano == 1_795_930_897_000_074_670)
        #expect(span.endTimeUnixNano == 1_795_930_897_015_655_646)
        #expect(span.attributes["gen_ai.usage.input_tokens"] == .int(12))
        #expect(traces.resourceSpans[0].resource["service.name"] == .string("otlp-genai-fixture"))
    }

    @Test("the spec's example trace: uppercase hex ids become lowercase, parent id kept")
    func specTraceExample() throws {
        guard let data = try Fixtures.load("otlp/opentelemetry-proto__trace.json") else { return }
        let traces = try Array(data).withUnsafeBytes { try OTLPJSON.decodeTraces($0) }
        let span = try #require(traces.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceId == "5b8efff798038103d269b633813fc60c")
        #expect(span.parentSpanId == "eee19b7ec3c1b173")
        #expect(span.kind == 2)
        #expect(traces.resourceSpans[0].scopeSpans[0].scope.attributes["my.scope.attribute"] == .string("some scope attribute"))
    }

    @Test("the spec's example metrics: sum, gauge, histogram and exponential histogram")
    func specMetricsExample() throws {
        guard let data = try Fixtures.load("otlp/opentelemetry-proto__metrics.json") else { return }
        let metrics = try Array(data).withUnsafeBytes { try OTLPJSON.decodeMetrics($0) }
        let list = try #require(metrics.resourceMetrics.first?.scopeMetrics.first?.metrics)
        #expect(list.map(\.name) == ["my.counter", "my.gauge", "my.histogram", "my.exponential.histogram"])
        guard case .sum(let sum, let monotonic, let temporality) = list[0].data else { Issue.record("not a sum"); return }
        #expect(sum.first?.value == 5 && monotonic && temporality == 1)
        guard case .histogram(let h, _) = list[2].data, let point = h.first else { Issue.record("not a histogram"); return }
        #expect(point.count == 2 && point.sum == 2 && point.bucketCounts == [1, 1] && point.explicitBounds == [1] && point.min == 0 && point.max == 2)
        guard case .exponentialHistogram(let e, _) = list[3].data, let ep = e.first else { Issue.record("not an exponential histogram"); return }
        #expect(ep.count == 3 && ep.zeroCount == 1 && ep.positiveOffset == 1 && ep.positiveCounts == [0, 2] && ep.max == 5)
    }

    @Test("the spec's example logs and events")
    func specLogsExample() throws {
        for name in ["otlp/opentelemetry-proto__logs.json", "otlp/opentelemetry-proto__events.json"] {
            guard let data = try Fixtures.load(name) else { return }
            let logs = try Array(data).withUnsafeBytes { try OTLPJSON.decodeLogs($0) }
            #expect(logs.recordCount == 1)
            let record = try #require(logs.resourceLogs.first?.scopeLogs.first?.logRecords.first)
            #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
            if name.hasSuffix("logs.json") {
                #expect(record.traceId == "5b8efff798038103d269b633813fc60c")
                #expect(record.body == .string("Example log record"))
                #expect(record.attributes["array.attribute"] == .array([.string("many"), .string("values")]))
                #expect(record.attributes["double.attribute"] == .double(637.704))
            } else {
                #expect(record.eventName == "browser.page_view")
            }
            #expect(OTLPLogBatch(logs).rejected.isEmpty)
        }
    }

    @Test("OTLP/JSON accepts snake_case names, numbers for int64, enum names, and names the path of a wrong type")
    func jsonVariants() throws {
        let body = """
            {"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5B8EFFF798038103D269B633813FC60C","span_id":"eee19b7ec3c1b174",
              "start_time_unix_nano":1795953000000000000,"end_time_unix_nano":"1795953001000000000","kind":"SPAN_KIND_SERVER",
              "status":{"code":"STATUS_CODE_ERROR","message":"boom"},"unknownField":{"a":[1,2]},
              "attributes":[{"key":"n","value":{"intValue":9007199254740993}}]}]}]}]}
            """
        let traces = try Array(body.utf8).withUnsafeBytes { try OTLPJSON.decodeTraces($0) }
        let span = try #require(traces.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.startTimeUnixNano == 1_795_953_000_000_000_000)
        #expect(span.kind == 2 && span.statusCode == 2 && span.statusMessage == "boom")
        #expect(span.attributes["n"] == .int(9_007_199_254_740_993))

        let wrong = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":true}]}]}]}"#
        let error = try #require(throws: OTLPDecodingError.self) { try Array(wrong.utf8).withUnsafeBytes { try OTLPJSON.decodeTraces($0) } }
        #expect(error.path == "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano")
        #expect(error.reason.contains("expected an integer"))

        let broken = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x"}"#
        let syntax = try #require(throws: OTLPDecodingError.self) { try Array(broken.utf8).withUnsafeBytes { try OTLPJSON.decodeTraces($0) } }
        #expect(syntax.offset == broken.utf8.count)
    }

    @Test("a span whose id is not hex is decoded with a problem, so only it is rejected")
    func jsonBadIdIsSpanProblem() throws {
        let body = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#
        let traces = try Array(body.utf8).withUnsafeBytes { try OTLPJSON.decodeTraces($0) }
        #expect(traces.resourceSpans[0].scopeSpans[0].spans[0].problem?.contains("traceId is not a hex string") == true)
    }

    @Test("the SDK's protobuf, gzip, deflate and JSON captures decode to the same spans, metrics and logs")
    func sdkCaptures() throws {
        func traces(_ name: String) throws -> OTLPTraces {
            var bytes = try otlpCapture(name)
            if name.hasSuffix(".gz") { bytes = try bytes.withUnsafeBytes { try Inflate.gunzip($0, limit: 1 << 20) } }
            if name.hasSuffix(".zz") { bytes = try bytes.withUnsafeBytes { try Inflate.inflate($0, limit: 1 << 20) } }
            return try bytes.withUnsafeBytes { name.contains(".json") ? try OTLPJSON.decodeTraces($0) : try OTLPProtobuf.decodeTraces($0) }
        }
        let sets = try ["sdk-protobuf.traces.bin", "sdk-protobuf-gzip.traces.bin.gz", "sdk-protobuf-deflate.traces.bin.zz", "sdk-json.traces.json"].map(traces)
        for set in sets {
            #expect(set.spanCount == 5)
            let spans = set.resourceSpans[0].scopeSpans[0].spans
            #expect(spans.map(\.name) == ["chat smollm2", "openai.chat", "chat claude", "embeddings e5", "GET /search"])
            #expect(spans[1].events.count == 2)
            #expect(spans[2].statusCode == 2 && spans[2].statusMessage == "rate limited by the provider")
            #expect(spans[3].parentSpanId == spans[4].spanId)
        }
        // Apart from the tag in model names and the ids' seed, the four are the same data.
        func normalized(_ t: OTLPTraces) -> [String] {
            t.resourceSpans[0].scopeSpans[0].spans.map { "\($0.name)|\($0.startTimeUnixNano)|\($0.endTimeUnixNano)|\($0.kind)|\($0.attributes.count)|\($0.events.map(\.timeUnixNano))" }
        }
        #expect(Set(sets.map(normalized)).count == 1)

        let metricsNames = ["sdk-protobuf.metrics.bin", "sdk-json.metrics.json"]
        for name in metricsNames {
            let bytes = try otlpCapture(name)
            let metrics = try bytes.withUnsafeBytes { name.hasSuffix(".json") ? try OTLPJSON.decodeMetrics($0) : try OTLPProtobuf.decodeMetrics($0) }
            let names = Set(metrics.resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics).map(\.name))
            #expect(names == ["gen_ai.client.operation.duration", "gen_ai.client.token.usage", "bifocal.capture.requests",
                              "bifocal.capture.queue_depth", "bifocal.capture.latency"])
        }
        for name in ["sdk-protobuf.logs.bin", "sdk-json.logs.json"] {
            let bytes = try otlpCapture(name)
            let logs = try bytes.withUnsafeBytes { name.hasSuffix(".json") ? try OTLPJSON.decodeLogs($0) : try OTLPProtobuf.decodeLogs($0) }
            let batch = OTLPLogBatch(logs)
            #expect(batch.records == 2 && batch.genAIEvents == 1 && batch.rejected.isEmpty)
        }
    }

    @Test("responses: an empty success, a partial success and a Status, in both encodings")
    func responses() throws {
        #expect(OTLPResponse.export(.traces, rejected: 0, message: "", encoding: .protobuf).isEmpty)
        #expect(OTLPResponse.export(.traces, rejected: 0, message: "", encoding: .json) == Array("{}".utf8))
        let partial = OTLPResponse.export(.metrics, rejected: 3, message: "3 data points rejected", encoding: .protobuf)
        var expected = PB()
        expected.message(1) { p in p.uint(1, 3); p.string(2, "3 data points rejected") }
        #expect(partial == expected.bytes)
        let json = String(decoding: OTLPResponse.export(.logs, rejected: 2, message: "bad \"ids\"", encoding: .json), as: UTF8.self)
        #expect(json == #"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad \"ids\""}}"#)
        var status = PB()
        status.uint(1, 3)
        status.string(2, "no")
        #expect(OTLPResponse.status(code: 3, message: "no", encoding: .protobuf) == status.bytes)
    }
}
