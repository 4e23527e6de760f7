import AsyncHTTPClient
import BifocalCore
import BifocalIngest
import BifocalStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

extension Benchmark {
    /// One OTLP export request of `count` GenAI spans as the common instrumentations emit them
    /// without content capture: operation, provider, request and response model, token usage,
    /// finish reasons, response id, server address and port, request parameters; streamed calls
    /// (two in three) carry `gen_ai.response.time_to_first_chunk`; one in a hundred is an error.
    /// Spans follow each other from `from` (microseconds) over `length` microseconds.
    static func syntheticOTLPTraces(count: Int, from: Int64, length: Int64, seed: UInt64) -> OTLPTraces {
        var rng = SplitMix64(state: seed)
        let models = ["llama-3-8b", "mistral-7b", "qwen-2.5-14b", "gemma-2-9b"]
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        var spans: [OTLPSpan] = []
        spans.reserveCapacity(count)
        for i in 0..<count {
            let model = models[Int(rng.next() % UInt64(models.count))]
            let output = 20 + Int64(rng.next() % 400)
            let ttft = 60 + rng.logNormal(mu: 5, sigma: 0.6)
            let tpot = 8 + rng.logNormal(mu: 2.5, sigma: 0.3)
            let e2e = ttft + tpot * Double(output - 1)
            let start = UInt64(from + Int64(Double(i) / Double(count) * Double(length))) * 1000
            let streamed = rng.next() % 3 != 0
            var attributes: [OTLPAttribute] = [
                OTLPAttribute("gen_ai.operation.name", .string("chat")),
                OTLPAttribute("gen_ai.provider.name", .string("openai")),
                OTLPAttribute("gen_ai.request.model", .string(model)),
                OTLPAttribute("gen_ai.response.model", .string(model)),
                OTLPAttribute("gen_ai.request.max_tokens", .int(512)),
                OTLPAttribute("gen_ai.request.temperature", .double(0.7)),
                OTLPAttribute("gen_ai.response.id", .string("chatcmpl-\(hex(rng.next()))")),
                OTLPAttribute("gen_ai.usage.input_tokens", .int(100 + Int64(rng.next() % 1500))),
                OTLPAttribute("gen_ai.usage.output_tokens", .int(output)),
                OTLPAttribute("gen_ai.response.finish_reasons", .array([.string("stop")])),
                OTLPAttribute("server.address", .string("vllm-\(rng.next() % 4).internal")),
                OTLPAttribute("server.port", .int(8000)),
            ]
            if streamed {
                attributes.append(OTLPAttribute("gen_ai.request.stream", .bool(true)))
                attributes.append(OTLPAttribute("gen_ai.response.time_to_first_chunk", .double(ttft / 1000)))
            }
            let failed = rng.next() % 100 == 0
            if failed { attributes.append(OTLPAttribute("error.type", .string("InternalServerError"))) }
            spans.append(OTLPSpan(traceId: hex(rng.next()) + hex(rng.next()), spanId: hex(rng.next() | 1), name: "chat \(model)", kind: 3,
                                  startTimeUnixNano: start, endTimeUnixNano: start + UInt64(e2e * 1_000_000),
                                  attributes: attributes, statusCode: failed ? 2 : 0, statusMessage: failed ? "upstream failed" : ""))
        }
        let resource = [
            OTLPAttribute("service.name", .string("chat-gateway")), OTLPAttribute("service.instance.id", .string("gw-\(seed % 3)")),
            OTLPAttribute("telemetry.sdk.language", .string("python")), OTLPAttribute("telemetry.sdk.name", .string("opentelemetry")),
            OTLPAttribute("telemetry.sdk.version", .string("1.45.1")),
        ]
        return OTLPTraces(resourceSpans: [OTLPResourceSpans(resource: resource, scopeSpans: [
            OTLPScopeSpans(scope: OTLPScope(name: "opentelemetry.instrumentation.openai_v2", version: "2.4b0"), spans: spans),
        ])])
    }

    /// OTLP/protobuf spans into the store over HTTP: an in-process server on loopback,
    /// `connections` clients posting pre-encoded export requests of `batchSize` GenAI spans each,
    /// acknowledged only once committed. First, on one core without HTTP or store, decoding and
    /// mapping alone, and the same records as an NDJSON body through the ingest API's decoder
    /// (the baseline: the JSON path Bifocal already had).
    public static func otlp(spans total: Int, connections: Int, batchSize: Int, directory: String, report: @escaping @Sendable (String) -> Void) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1e6)
        let batches = (total + batchSize - 1) / batchSize
        let pool = min(batches, 100)

        // Pre-encode a pool of requests; each round re-sends them with fresh trace ids (bytes 12-15
        // of every trace id) and later times (every span's start and end), patched in place, so
        // nothing is a duplicate and time moves forward as in live traffic: each request covers
        // 10 s, following on from the one before, the last ending now.
        var bodies: [[UInt8]] = []
        var traceIdOffsets: [[Int]] = []
        var timeOffsets: [[Int]] = []
        for b in 0..<pool {
            let batchStart = now - Int64(batches - b) * 10_000_000
            let traces = syntheticOTLPTraces(count: batchSize, from: batchStart, length: 10_000_000, seed: UInt64(b + 1))
            let body = OTLPProtobuf.encode(traces)
            var ids: [Int] = []
            var times: [Int] = []
            var from = 0
            for span in traces.resourceSpans[0].scopeSpans[0].spans {
                // trace_id (field 1, bytes), start (field 7, fixed64: tag 0x39), end (field 8: tag 0x41).
                guard let id = find(hexBytes(span.traceId), in: body, from: from),
                      let start = find([0x39] + littleEndian(span.startTimeUnixNano), in: body, from: id),
                      let end = find([0x41] + littleEndian(span.endTimeUnixNano), in: body, from: start) else {
                    throw FileIngestError(message: "benchmark: a span's id or times were not found in its encoded request")
                }
                ids.append(id)
                times += [start + 1, end + 1]
                from = end + 9
            }
            bodies.append(body)
            traceIdOffsets.append(ids)
            timeOffsets.append(times)
        }
        let megabytes = Double(bodies.reduce(0) { $0 + $1.count }) / Double(pool) / 1e6

        // One core, no HTTP, no store: protobuf decode + GenAI mapping, against the NDJSON decoder on the same records.
        let sample = bodies[0]
        let mapped = try sample.withUnsafeBytes { try OTLPProtobuf.decodeTraces($0) }
        let records = OTLPGenAIMapping.records(from: mapped).records
        let ndjson = RecordEncoder.encodeNDJSON(records)
        let pipeline = try rate(records: batchSize, repeats: 30) {
            let traces = try sample.withUnsafeBytes { try OTLPProtobuf.decodeTraces($0) }
            _ = OTLPGenAIMapping.records(from: traces)
        }
        let decodeOnly = try rate(records: batchSize, repeats: 30) {
            _ = try sample.withUnsafeBytes { try OTLPProtobuf.decodeTraces($0) }
        }
        let mapOnly = rate(records: batchSize, repeats: 30) {
            _ = OTLPGenAIMapping.records(from: mapped)
        }
        let baseline = rate(records: batchSize, repeats: 30) {
            _ = ndjson.withUnsafeBytes { RecordDecoder.decodeNDJSON($0) }
        }
        report(String(format: "OTLP decode, one %d-span ExportTraceServiceRequest (%.2f MB protobuf; %.2f MB as NDJSON records), one core, best of 30:", batchSize, Double(sample.count) / 1e6, Double(ndjson.count) / 1e6))
        report(String(format: "  ingest API NDJSON decoder, same records (baseline) %10.0f records/s", baseline))
        report(String(format: "  OTLP protobuf decode + GenAI mapping               %10.0f spans/s   (%.2fx baseline)", pipeline, pipeline / baseline))
        report(String(format: "    of which protobuf decode alone                   %10.0f spans/s", decodeOnly))
        report(String(format: "    of which GenAI mapping alone                     %10.0f spans/s", mapOnly))

        // End to end over HTTP into the store.
        var configuration = BifocalConfiguration()
        configuration.port = 0
        configuration.storage.directory = directory
        configuration.storage.rawRetention = 3650 * Timestamp.microsPerDay
        configuration.storage.textRetention = configuration.storage.rawRetention
        configuration.retentionInterval = 3600 * Timestamp.microsPerSecond
        configuration.gpuSampler.mode = .off
        let store = try SQLiteStore.open(configuration.storage)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "bench"), onServerRunning: { port in
            portContinuation.yield(port)
        })
        let group = ServiceGroup(services: [app], logger: Logger(label: "bench"))
        let encodedBodies = bodies
        let offsets = traceIdOffsets
        let timeFields = timeOffsets
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = portStream.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let url = "http://127.0.0.1:\(port)/v1/traces"
            let clock = ContinuousClock()
            let started = clock.now
            let counter = ProgressCounter()
            try await withThrowingTaskGroup(of: Void.self) { senders in
                for c in 0..<connections {
                    senders.addTask {
                        var b = c
                        while b < batches {
                            let round = b / pool
                            var body = encodedBodies[b % pool]
                            if round > 0 {
                                let marker = UInt32(round).bigEndian
                                for offset in offsets[b % pool] {
                                    withUnsafeBytes(of: marker) { m in for k in 0..<4 { body[offset + 12 + k] = m[k] } }
                                }
                                let shift = UInt64(round * pool) * 10_000_000_000
                                for offset in timeFields[b % pool] {
                                    var value: UInt64 = 0
                                    for k in 0..<8 { value |= UInt64(body[offset + k]) << (8 * UInt64(k)) }
                                    value += shift
                                    for k in 0..<8 { body[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
                                }
                            }
                            var request = HTTPClientRequest(url: url)
                            request.method = .POST
                            request.headers.add(name: "content-type", value: "application/x-protobuf")
                            request.body = .bytes(ByteBuffer(bytes: body))
                            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                            let answer = try await response.body.collect(upTo: 1 << 20)
                            guard response.status == .ok, answer.readableBytes == 0 else {
                                throw FileIngestError(message: "batch \(b): HTTP \(response.status.code), \(answer.readableBytes)-byte answer (a partial success?)")
                            }
                            _ = counter.add(batchSize)
                            b += connections
                        }
                    }
                }
                try await senders.waitForAll()
            }
            let elapsed = clock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let stored = try await store.statistics().records
            report(String(format: "OTLP/HTTP protobuf spans into the store: %d GenAI spans in %d-span requests (%.2f MB each) over %d connections: %.1f s, %.0f spans/s (%d records stored)",
                          batches * batchSize, batchSize, megabytes, connections, seconds, Double(batches * batchSize) / seconds, stored))
            report("  baseline for scale: the OpenTelemetry Collector is sized at about 12,000 spans/s per core, storing nothing")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func littleEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for c in hex.utf8 {
            let d: UInt8 = c <= UInt8(ascii: "9") ? c &- 48 : (c | 0x20) &- 87
            if let h = high { out.append(h << 4 | d); high = nil } else { high = d }
        }
        return out
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var i = start
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
