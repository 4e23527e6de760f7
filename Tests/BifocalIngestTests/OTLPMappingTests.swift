import BifocalCore
import BifocalTesting
import Foundation
import Testing

@testable import BifocalIngest

let spanStart: UInt64 = 1_795_953_000_000_000_000

/// A valid span with the given attributes, 2 s long.
func genAISpan(_ attributes: [String: OTLPValue], events: [OTLPSpanEvent] = [], status: Int = 0, message: String = "",
               traceId: String = "5b8efff798038103d269b633813fc60c", spanId: String = "eee19b7ec3c1b174") -> OTLPSpan {
    OTLPSpan(traceId: traceId, spanId: spanId, name: "chat", kind: 3, startTimeUnixNano: spanStart,
             endTimeUnixNano: spanStart + 2_000_000_000,
             attributes: attributes.sorted { $0.key < $1.key }.map { OTLPAttribute($0.key, $0.value) },
             events: events, statusCode: status, statusMessage: message)
}

func map(_ span: OTLPSpan, resource: [OTLPAttribute] = []) -> Result<InferenceRecord?, OTLPGenAIMapping.Problem> {
    OTLPGenAIMapping.record(span, resource: .init(resource))
}

func mapped(_ span: OTLPSpan, resource: [OTLPAttribute] = []) throws -> InferenceRecord {
    try #require(try map(span, resource: resource).get())
}

@Suite("OTLP GenAI mapping")
struct OTLPMappingTests {
    @Test("current conventions, field by field")
    func currentConventions() throws {
        let span = genAISpan([
            "gen_ai.operation.name": .string("chat"), "gen_ai.provider.name": .string("openai"),
            "gen_ai.request.model": .string("gpt-4"), "gen_ai.response.model": .string("gpt-4-0613"),
            "gen_ai.usage.input_tokens": .int(12), "gen_ai.usage.output_tokens": .int(5),
            "gen_ai.response.finish_reasons": .array([.string("length"), .string("stop")]),
            "gen_ai.response.time_to_first_chunk": .double(0.18), "gen_ai.request.stream": .bool(true),
            "gen_ai.input.messages": .string(#"[{"role":"user","parts":[{"type":"text","content":"Say this is a test"}]}]"#),
            "gen_ai.output.messages": .string(#"[{"role":"assistant","parts":[{"type":"text","content":"This is a test."}],"finish_reason":"stop"}]"#),
            "server.address": .string("api.openai.com"), "server.port": .int(443),
        ])
        let r = try mapped(span, resource: [OTLPAttribute("service.name", .string("chat-app")), OTLPAttribute("bifocal.tenant", .string("search"))])
        // The start (µs, 14 hex digits) leads, so ids arrive in order; then the trace and span ids.
        #expect(r.id == "066168e4992a00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174")
        #expect(r.traceId == "5b8efff798038103d269b633813fc60c" && r.spanId == "eee19b7ec3c1b174")
        #expect(r.source == .otlp)
        #expect(r.start == 1_795_953_000_000_000)
        #expect(r.e2eMs == 2000)
        #expect(r.model == "gpt-4-0613" && r.requestModel == "gpt-4")
        #expect(r.provider == "openai")
        #expect(r.inputTokens == 12 && r.outputTokens == 5)
        #expect(r.ttftMs == 180)
        #expect(r.streaming == true)
        #expect(r.finishReason == "length")
        #expect(r.status == .ok && r.error == nil)
        #expect(r.prompt == "Say this is a test")
        #expect(r.response == "This is a test.")
        #expect(r.endpoint == "api.openai.com:443")
        #expect(r.tenant == "search")
        #expect(r.labels == ["service": "chat-app", "operation": "chat"])
    }

    @Test("deprecated names: gen_ai.system with renamed values, prompt/completion tokens")
    func deprecatedNames() throws {
        let r = try mapped(genAISpan([
            "gen_ai.system": .string("vertex_ai"), "gen_ai.request.model": .string("gemini-pro"),
            "gen_ai.usage.prompt_tokens": .int(30), "gen_ai.usage.completion_tokens": .string("7"),
        ]))
        #expect(r.provider == "gcp.vertex_ai")
        #expect(r.model == "gemini-pro" && r.requestModel == nil)
        #expect(r.inputTokens == 30 && r.outputTokens == 7)
        #expect(r.labels["operation"] == nil)
    }

    @Test("the current name wins over the deprecated one")
    func currentWins() throws {
        let r = try mapped(genAISpan([
            "gen_ai.operation.name": .string("chat"), "gen_ai.provider.name": .string("azure.ai.openai"), "gen_ai.system": .string("openai"),
            "gen_ai.usage.input_tokens": .int(10), "gen_ai.usage.prompt_tokens": .int(99),
        ]))
        #expect(r.provider == "azure.ai.openai" && r.inputTokens == 10)
    }

    @Test("Traceloop: indexed prompts and completions, streaming flag, first chunk event as TTFT, api_base as endpoint")
    func traceloop() throws {
        let events = [
            OTLPSpanEvent(timeUnixNano: spanStart + 150_000_000, name: "gen_ai.content.completion.chunk"),
            OTLPSpanEvent(timeUnixNano: spanStart + 190_000_000, name: "gen_ai.content.completion.chunk"),
        ]
        let r = try mapped(genAISpan([
            "llm.request.type": .string("chat"), "gen_ai.system": .string("openai"), "gen_ai.request.model": .string("smollm2"),
            "gen_ai.prompt.0.role": .string("system"), "gen_ai.prompt.0.content": .string("Be brief."),
            "gen_ai.prompt.1.role": .string("user"), "gen_ai.prompt.1.content": .string("Hi"),
            "gen_ai.completion.0.role": .string("assistant"), "gen_ai.completion.0.content": .string("Hello!"),
            "gen_ai.completion.0.finish_reason": .string("stop"), "llm.is_streaming": .bool(true),
            "gen_ai.openai.api_base": .string("http://127.0.0.1:8080/v1/"),
        ], events: events))
        #expect(r.prompt == "system: Be brief.\nuser: Hi")
        #expect(r.response == "Hello!")
        #expect(r.finishReason == "stop")
        #expect(r.ttftMs == 150)
        #expect(r.streaming == true)
        #expect(r.endpoint == "127.0.0.1:8080")
        #expect(r.labels["operation"] == "chat")
    }

    @Test("vLLM's request spans: latency attributes in seconds")
    func vllm() throws {
        let r = try mapped(genAISpan([
            "gen_ai.response.model": .string("meta-llama/Llama-3-8B"), "gen_ai.usage.prompt_tokens": .int(100),
            "gen_ai.usage.completion_tokens": .int(20), "gen_ai.latency.time_to_first_token": .double(0.05),
            "gen_ai.latency.time_in_queue": .double(0.01),
        ]))
        #expect(r.ttftMs == 50 && r.queueMs == 10)
        #expect(r.tpotMs == (2000.0 - 50) / 19)
    }

    @Test("messages as structured values and system instructions; deprecated content events")
    func structuredMessagesAndEvents() throws {
        let message = OTLPValue.kvlist([
            OTLPAttribute("role", .string("user")),
            OTLPAttribute("parts", .array([.kvlist([OTLPAttribute("type", .string("text")), OTLPAttribute("content", .string("Hello"))])])),
        ])
        let r = try mapped(genAISpan([
            "gen_ai.operation.name": .string("chat"), "gen_ai.input.messages": .array([message]),
            "gen_ai.system_instructions": .string(#"[{"type":"text","content":"You are terse."}]"#),
        ]))
        #expect(r.prompt == "system: You are terse.\nuser: Hello")

        let events = [
            OTLPSpanEvent(timeUnixNano: spanStart + 1, name: "gen_ai.content.prompt", attributes: [OTLPAttribute("gen_ai.prompt", .string(#"[{"role":"user","content":"Ping"}]"#))]),
            OTLPSpanEvent(timeUnixNano: spanStart + 2, name: "gen_ai.content.completion", attributes: [OTLPAttribute("gen_ai.completion", .string("Pong"))]),
        ]
        let old = try mapped(genAISpan(["gen_ai.operation.name": .string("chat")], events: events))
        #expect(old.prompt == "Ping" && old.response == "Pong")

        let perMessage = [
            OTLPSpanEvent(timeUnixNano: spanStart + 1, name: "gen_ai.system.message", attributes: [OTLPAttribute("content", .string("Rules"))]),
            OTLPSpanEvent(timeUnixNano: spanStart + 2, name: "gen_ai.user.message", attributes: [OTLPAttribute("content", .string("Question"))]),
            OTLPSpanEvent(timeUnixNano: spanStart + 3, name: "gen_ai.choice", attributes: [
                OTLPAttribute("finish_reason", .string("stop")),
                OTLPAttribute("message", .kvlist([OTLPAttribute("content", .string("Answer"))])),
            ]),
        ]
        let messages = try mapped(genAISpan(["gen_ai.operation.name": .string("chat")], events: perMessage))
        #expect(messages.prompt == "system: Rules\nuser: Question")
        #expect(messages.response == "Answer" && messages.finishReason == "stop")
    }

    @Test("error spans: status from error.type or the HTTP status, message from the status or the exception")
    func errors() throws {
        let exception = OTLPSpanEvent(timeUnixNano: spanStart + 5, name: "exception", attributes: [
            OTLPAttribute("exception.type", .string("openai.APITimeoutError")), OTLPAttribute("exception.message", .string("Request timed out.")),
        ])
        let timeout = try mapped(genAISpan(["gen_ai.operation.name": .string("chat"), "error.type": .string("openai.APITimeoutError")],
                                           events: [exception], status: 2))
        #expect(timeout.status == .timeout && timeout.error == "Request timed out.")

        let limited = try mapped(genAISpan(["gen_ai.operation.name": .string("chat"), "error.type": .string("429")], status: 2, message: "Too Many Requests"))
        #expect(limited.status == .clientError && limited.error == "Too Many Requests")

        let http = try mapped(genAISpan(["gen_ai.operation.name": .string("chat"), "http.response.status_code": .int(503)], status: 2))
        #expect(http.status == .serverError && http.httpStatus == 503 && http.error == "error span")

        let bare = try mapped(genAISpan(["gen_ai.operation.name": .string("chat"), "error.type": .string("_OTHER")]))
        #expect(bare.status == .serverError && bare.error == "_OTHER")

        let ok = try mapped(genAISpan(["gen_ai.operation.name": .string("chat")], status: 1))
        #expect(ok.status == .ok)
    }

    @Test("spans that are not model calls are accepted but not records")
    func notModelCalls() throws {
        #expect(try map(genAISpan(["http.request.method": .string("GET"), "server.address": .string("x")])).get() == nil)
        #expect(try map(genAISpan(["gen_ai.operation.name": .string("execute_tool"), "gen_ai.tool.name": .string("search")])).get() == nil)
        #expect(try map(genAISpan(["gen_ai.operation.name": .string("invoke_agent"), "gen_ai.request.model": .string("m")])).get() == nil)
        #expect(try map(genAISpan(["gen_ai.conversation.id": .string("c1")])).get() == nil)
        #expect(try map(genAISpan(["gen_ai.operation.name": .string("embeddings"), "gen_ai.request.model": .string("e5")])).get() != nil)
    }

    @Test("invalid spans are rejected with a precise reason", arguments: [
        (genAISpan([:], traceId: ""), "trace_id is missing"),
        (genAISpan([:], traceId: "00000000000000000000000000000000"), "trace_id must be 16 bytes and not all zero"),
        (genAISpan([:], spanId: "abcd"), "span_id must be 8 bytes"),
        (OTLPSpan(traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", startTimeUnixNano: 10, endTimeUnixNano: 5), "is before start_time_unix_nano"),
        (OTLPSpan(traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", startTimeUnixNano: 0, endTimeUnixNano: 5), "start_time_unix_nano is missing"),
        (genAISpan(["gen_ai.request.model": .string("m"), "gen_ai.usage.input_tokens": .int(-3)]), "gen_ai.usage.input_tokens is negative (-3)"),
        (genAISpan(["gen_ai.request.model": .string("m"), "gen_ai.usage.output_tokens": .string("many")]), "gen_ai.usage.output_tokens is not an integer"),
        (genAISpan(["gen_ai.request.model": .string("m"), "gen_ai.response.time_to_first_chunk": .double(3)]), "time to first token (3000 ms) is longer than the span (2000 ms)"),
        (genAISpan(["gen_ai.request.model": .string(String(repeating: "m", count: 2000))]), "model is longer than 1024 bytes"),
    ])
    func rejections(span: OTLPSpan, reason: String) {
        guard case .failure(let problem) = map(span) else {
            Issue.record("expected a rejection containing '\(reason)'")
            return
        }
        #expect(problem.reason.contains(reason), "\(problem.reason)")
    }

    @Test("a whole request: records, other spans and rejections with their paths")
    func batch() throws {
        var bad = genAISpan(["gen_ai.request.model": .string("m")])
        bad.endTimeUnixNano = 1
        let traces = OTLPTraces(resourceSpans: [OTLPResourceSpans(resource: [], scopeSpans: [OTLPScopeSpans(spans: [
            genAISpan(["gen_ai.request.model": .string("m")]),
            genAISpan(["http.route": .string("/")], spanId: "eee19b7ec3c1b175"),
            bad,
        ])])])
        let batch = OTLPGenAIMapping.records(from: traces)
        #expect(batch.spans == 3 && batch.records.count == 1 && batch.otherSpans == 1)
        #expect(batch.rejected.map(\.path) == ["resource_spans[0].scope_spans[0].spans[2]"])
        let message = OTLPResponse.message(.traces, rejected: batch.rejected, total: 1)
        #expect(message.hasPrefix("1 span rejected: resource_spans[0].scope_spans[0].spans[2]: end_time_unix_nano (1) is before"))
    }

    @Test("the SDK captures map to the same records in every encoding")
    func sdkCaptures() throws {
        for (name, seed) in [("sdk-protobuf.traces.bin", 1), ("sdk-json.traces.json", 4)] {
            let bytes = try otlpCapture(name)
            let traces = try bytes.withUnsafeBytes { name.hasSuffix(".json") ? try OTLPJSON.decodeTraces($0) : try OTLPProtobuf.decodeTraces($0) }
            let batch = OTLPGenAIMapping.records(from: traces)
            #expect(batch.records.count == 4 && batch.otherSpans == 1 && batch.rejected.isEmpty)
            let tag = name.hasSuffix(".json") ? "sdk-json" : "sdk-protobuf"
            let chat = batch.records[0]
            #expect(chat.id == "066168e4992a00-0b1f0ca1000000000000000\(seed)00000001-5a000000000\(seed)0001")
            #expect(chat.model == "smollm2-135m-\(tag)" && chat.requestModel == "smollm2" && chat.provider == "openai")
            #expect(chat.inputTokens == 21 && chat.outputTokens == 9 && chat.ttftMs == 125 && chat.e2eMs == 1500)
            #expect(chat.prompt == "system: Be brief.\nuser: What is 2+2?" && chat.response == "4" && chat.finishReason == "stop")
            #expect(chat.endpoint == "127.0.0.1:8080" && chat.tenant == "search-team" && chat.streaming == true)
            let legacy = batch.records[1]
            #expect(legacy.model == "llama-3-8b-\(tag)" && legacy.inputTokens == 30 && legacy.outputTokens == 12)
            #expect(legacy.ttftMs == 200 && legacy.prompt == "Say hi" && legacy.response == "Hi there!" && legacy.finishReason == "length")
            let failed = batch.records[2]
            #expect(failed.status == .clientError && failed.error == "rate limited by the provider" && failed.provider == "anthropic")
            let embeddings = batch.records[3]
            #expect(embeddings.labels["operation"] == "embeddings" && embeddings.inputTokens == 8 && embeddings.endpoint == "127.0.0.1")
        }
    }
}

@Suite("OTLP metrics mapping")
struct OTLPMetricsMappingTests {
    let resource = [OTLPAttribute("service.name", .string("chat-app")), OTLPAttribute("service.namespace", .string("prod")),
                    OTLPAttribute("service.instance.id", .string("pod-1"))]
    let time: UInt64 = 1_795_953_000_000_000_000

    func batch(_ metric: OTLPMetric) -> OTLPMetricBatch {
        OTLPMetricsMapping.samples(from: OTLPMetrics(resourceMetrics: [OTLPResourceMetrics(resource: resource, scopeMetrics: [OTLPScopeMetrics(metrics: [metric])])]))
    }

    @Test("a histogram becomes _count, _sum and cumulative _bucket samples with job, instance and model")
    func histogram() {
        let point = OTLPHistogramPoint(attributes: [OTLPAttribute("gen_ai.request.model", .string("llama")), OTLPAttribute("gen_ai.token.type", .string("input"))],
                                       timeUnixNano: time, count: 6, sum: 150, bucketCounts: [1, 2, 3], explicitBounds: [4, 16.5])
        let b = batch(OTLPMetric(name: "gen_ai.client.token.usage", data: .histogram([point], temporality: 2)))
        #expect(b.dataPoints == 1 && b.rejected.isEmpty)
        let base = ["gen_ai.request.model": "llama", "gen_ai.token.type": "input", "model": "llama", "job": "prod/chat-app", "instance": "pod-1"]
        func with(_ le: String) -> [String: String] { var l = base; l["le"] = le; return l }
        let t = Int64(time / 1000)
        #expect(b.samples == [
            SeriesSample(name: "gen_ai.client.token.usage_count", labels: base, time: t, value: 6),
            SeriesSample(name: "gen_ai.client.token.usage_sum", labels: base, time: t, value: 150),
            SeriesSample(name: "gen_ai.client.token.usage_bucket", labels: with("4"), time: t, value: 1),
            SeriesSample(name: "gen_ai.client.token.usage_bucket", labels: with("16.5"), time: t, value: 3),
            SeriesSample(name: "gen_ai.client.token.usage_bucket", labels: with("+Inf"), time: t, value: 6),
        ])
    }

    @Test("gauges and sums keep their names and values; no recorded value is a staleness marker")
    func gaugesAndSums() {
        let gauge = batch(OTLPMetric(name: "gen_ai.server.time_to_first_token", data: .gauge([
            OTLPNumberPoint(timeUnixNano: time, value: 0.2),
            OTLPNumberPoint(timeUnixNano: time + 1_000_000_000, value: 0, flags: otlpNoRecordedValueFlag),
        ])))
        #expect(gauge.samples.count == 2)
        #expect(gauge.samples[0].name == "gen_ai.server.time_to_first_token" && gauge.samples[0].value == 0.2)
        #expect(gauge.samples[0].labels == ["job": "prod/chat-app", "instance": "pod-1"])
        #expect(gauge.samples[1].isStaleMarker)
        let sum = batch(OTLPMetric(name: "requests", data: .sum([OTLPNumberPoint(attributes: [OTLPAttribute("code", .int(200))], timeUnixNano: time, value: 42)], monotonic: true, temporality: 2)))
        #expect(sum.samples.first?.value == 42 && sum.samples.first?.labels["code"] == "200")
    }

    @Test("summaries: _count, _sum and one sample per quantile")
    func summary() {
        var point = OTLPSummaryPoint()
        point.timeUnixNano = time
        point.count = 10
        point.sum = 5
        point.quantiles = [OTLPQuantile(quantile: 0.5, value: 0.4), OTLPQuantile(quantile: 0.99, value: 1.2)]
        let b = batch(OTLPMetric(name: "latency", data: .summary([point])))
        #expect(b.samples.map(\.name) == ["latency_count", "latency_sum", "latency", "latency"])
        #expect(b.samples[3].labels["quantile"] == "0.99" && b.samples[3].value == 1.2)
    }

    @Test("exponential histograms get le buckets from their scale")
    func exponential() {
        var point = OTLPExponentialHistogramPoint()
        point.timeUnixNano = time
        point.count = 3
        point.sum = 10
        point.scale = 0
        point.zeroCount = 1
        point.positiveOffset = 1
        point.positiveCounts = [0, 2]
        let b = batch(OTLPMetric(name: "x", data: .exponentialHistogram([point], temporality: 2)))
        let buckets = b.samples.filter { $0.name == "x_bucket" }.map { ($0.labels["le"]!, $0.value) }
        // scale 0: base 2; bucket 1 is (2, 4], bucket 2 is (4, 8].
        #expect(buckets.map(\.0) == ["0", "4", "8", "+Inf"])
        #expect(buckets.map(\.1) == [1, 1, 3, 3])
    }

    @Test("bad points are rejected one by one with their path")
    func rejections() {
        let b = batch(OTLPMetric(name: "h", data: .histogram([
            OTLPHistogramPoint(timeUnixNano: time, count: 1, bucketCounts: [1], explicitBounds: [1, 2]),
            OTLPHistogramPoint(timeUnixNano: 0, count: 1),
            OTLPHistogramPoint(timeUnixNano: time, count: 1, bucketCounts: [0, 1], explicitBounds: [1]),
        ], temporality: 2)))
        #expect(b.rejectedPoints == 2)
        #expect(b.rejected[0].path == "resource_metrics[0].scope_metrics[0].metrics[0].data_points[0]")
        #expect(b.rejected[0].reason.contains("bucket_counts has 1 entries for 2 explicit_bounds"))
        #expect(b.rejected[1].reason.contains("time_unix_nano"))
        let nameless = batch(OTLPMetric(name: "", data: .gauge([OTLPNumberPoint(timeUnixNano: time), OTLPNumberPoint(timeUnixNano: time)])))
        #expect(nameless.rejectedPoints == 2 && nameless.samples.isEmpty)
    }

    @Test("the SDK capture's metrics become series")
    func sdkCapture() throws {
        let bytes = try otlpCapture("sdk-protobuf.metrics.bin")
        let metrics = try bytes.withUnsafeBytes { try OTLPProtobuf.decodeMetrics($0) }
        let b = OTLPMetricsMapping.samples(from: metrics)
        #expect(b.rejected.isEmpty)
        let count = try #require(b.samples.first { $0.name == "gen_ai.client.operation.duration_count" })
        #expect(count.value == 3 && count.labels["model"] == "smollm2-135m-sdk-protobuf" && count.labels["job"] == "bifocal-interop")
        #expect(count.labels["instance"] == "capture-sdk-protobuf")
        let input = try #require(b.samples.first { $0.name == "gen_ai.client.token.usage_sum" && $0.labels["gen_ai.token.type"] == "input" })
        #expect(input.value == 21)
        #expect(b.samples.first { $0.name == "bifocal.capture.requests" }?.value == 3)
        #expect(b.samples.first { $0.name == "bifocal.capture.queue_depth" }?.value == 7)
        let exp = b.samples.filter { $0.name == "bifocal.capture.latency_bucket" }
        #expect(exp.last?.labels["le"] == "+Inf" && exp.last?.value == 4)
        #expect(b.samples.first { $0.name == "bifocal.capture.latency_sum" }?.value == 6.5)
    }
}

@Suite("Inflate")
struct InflateTests {
    @Test("the SDK's gzip and deflate bodies expand to its uncompressed body's size and decode")
    func sdkBodies() throws {
        let gz = try otlpCapture("sdk-protobuf-gzip.traces.bin.gz")
        let out = try gz.withUnsafeBytes { try Inflate.gunzip($0, limit: 1 << 20) }
        #expect(out.count > gz.count)
        #expect(try out.withUnsafeBytes { try OTLPProtobuf.decodeTraces($0) }.spanCount == 5)
        let zz = try otlpCapture("sdk-protobuf-deflate.metrics.bin.zz")
        let metrics = try zz.withUnsafeBytes { try Inflate.inflate($0, limit: 1 << 20) }
        #expect(try metrics.withUnsafeBytes { try OTLPProtobuf.decodeMetrics($0) }.resourceMetrics.count == 1)
    }

    // `printf 'hello hello hello hello\n' | gzip -9 -n` (fixed Huffman, with a back-reference).
    static let helloGzip: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
                                     0xc8, 0x40, 0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00]

    @Test("fixed-Huffman gzip with back-references; a stored block")
    func smallStreams() throws {
        let out = try Self.helloGzip.withUnsafeBytes { try Inflate.gunzip($0, limit: 100) }
        #expect(String(decoding: out, as: UTF8.self) == "hello hello hello hello\n")
        // A raw deflate stored block: final, type 0, LEN 3, NLEN ~3, "abc".
        let stored: [UInt8] = [0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63]
        #expect(try stored.withUnsafeBytes { try Inflate.inflate($0, limit: 10) } == Array("abc".utf8))
    }

    @Test("corruption, truncation and a bad CRC are refused; output over the limit is too large")
    func refusals() throws {
        var crc = Self.helloGzip
        crc[crc.count - 6] ^= 1
        #expect((try? crc.withUnsafeBytes { try Inflate.gunzip($0, limit: 100) }) == nil)
        for cut in stride(from: 1, to: Self.helloGzip.count, by: 1) {
            let prefix = Array(Self.helloGzip[0..<cut])
            let error = try #require(throws: InflateError.self) { try prefix.withUnsafeBytes { try Inflate.gunzip($0, limit: 100) } }
            #expect(error.kind == .corrupt)
        }
        let big = try #require(throws: InflateError.self) { try Self.helloGzip.withUnsafeBytes { try Inflate.gunzip($0, limit: 10) } }
        #expect(big.kind == .tooLarge)
        let notGzip = try #require(throws: InflateError.self) { try Array("plain".utf8).withUnsafeBytes { try Inflate.gunzip($0, limit: 10) } }
        #expect(notGzip.reason.contains("not gzip data"))
        var rng = SplitMix64(state: 7)
        for _ in 0..<500 {
            var bytes = Self.helloGzip
            bytes[10 + Int(rng.next() % UInt64(bytes.count - 18))] = UInt8(truncatingIfNeeded: rng.next())
            _ = try? bytes.withUnsafeBytes { try Inflate.gunzip($0, limit: 1000) }
        }
    }
}

@Suite("Known attribute keys")
struct KnownAttributeKeysTests {
    @Test("the table is unique, and its first entries are the mapping's keys in order")
    func table() {
        for (i, name) in KnownAttributeKeys.names.enumerated() { #expect(KnownAttributeKeys.find(name) == i, "\(name)") }
        #expect(KnownAttributeKeys.names[OTLPGenAIMapping.Key.requestModel.rawValue] == "gen_ai.request.model")
        #expect(KnownAttributeKeys.names[OTLPGenAIMapping.Key.variant.rawValue] == "bifocal.variant")
        #expect(KnownAttributeKeys.find("gen_ai.request.modeL") == nil)
    }
}
