import AsyncHTTPClient
import BifocalCore
import BifocalGateway
import BifocalStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// `bifocal bench gateway`: the gateway's added latency, throughput and measurement accuracy, each
/// against going direct to the same upstream in the same run.
extension Benchmark {
    /// When a scripted upstream wrote each chunk of one streamed answer (ContinuousClock instants).
    final class EmissionLog: Sendable {
        private let entries = Mutex([String: [(instant: ContinuousClock.Instant, wall: Int64)]]())
        func record(_ id: String, _ at: ContinuousClock.Instant) {
            let wall = Timestamp.now()
            entries.withLock { $0[id, default: []].append((at, wall)) }
        }
        func take(_ id: String) -> [(instant: ContinuousClock.Instant, wall: Int64)] { entries.withLock { $0.removeValue(forKey: id) ?? [] } }
    }

    /// Microseconds between two instants.
    static func micros(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
        let d = to - from
        return Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }

    /// A name padded to a column.
    static func pad(_ name: String) -> String { name.count >= 18 ? name : name + String(repeating: " ", count: 18 - name.count) }

    /// The q-quantile of values (nearest rank).
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }

    static let nonStreamAnswer = Array("""
    {"id":"chatcmpl-bench","object":"chat.completion","created":1764400000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}
    """.utf8)

    /// The scripted upstream: answers non-streamed requests at once; streams `chunks` content chunks,
    /// the first after `firstDelay`, then one every `gap`, logging when each was written.
    static func scriptedUpstream(chunks: Int, firstDelay: Duration, gap: Duration, log: EmissionLog) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let text = String(buffer: body)
            guard text.contains("\"stream\":true") else {
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: nonStreamAnswer)))
            }
            let wantsUsage = text.contains("include_usage")
            let id = request.headers[values: .init("x-bench-id")!].first ?? ""
            let clock = ContinuousClock()
            let received = clock.now
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init { writer in
                func chunk(_ delta: String, finish: String?) -> ByteBuffer {
                    let usage = wantsUsage ? ",\"usage\":null" : ""
                    let reason = finish.map { "\"\($0)\"" } ?? "null"
                    return ByteBuffer(string: "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1764400000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":\(delta),\"logprobs\":null,\"finish_reason\":\(reason)}]\(usage)}\n\n")
                }
                try await writer.write(chunk("{\"role\":\"assistant\",\"content\":\"\"}", finish: nil))
                var next = received + firstDelay
                for k in 0..<chunks {
                    try await clock.sleep(until: next)
                    try await writer.write(chunk("{\"content\":\"tok\(k) \"}", finish: nil))
                    log.record(id, clock.now)
                    next = next + gap
                }
                try await writer.write(chunk("{}", finish: "stop"))
                if wantsUsage {
                    try await writer.write(ByteBuffer(string: "data: {\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1764400000,\"model\":\"bench-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":\(chunks),\"total_tokens\":\(12 + chunks)}}\n\n"))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
        }
        return router
    }

    /// One non-streamed request; returns its latency in microseconds.
    static func timedRequest(_ client: HTTPClient, _ url: String, body: ByteBuffer) async throws -> Double {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(body)
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw FileIngestError(message: "\(url) answered HTTP \(response.status.code)") }
        return micros(start, clock.now)
    }

    /// What a client saw of one stream: when it sent, when each content chunk arrived, the record id.
    struct StreamObservation {
        var sent: ContinuousClock.Instant
        var arrivals: [ContinuousClock.Instant]
        var recordID: String?
    }

    static let eventEnd: [UInt8] = [0x0A, 0x0A]
    static let contentMarker = Array("\"content\":\"tok".utf8)

    /// One streamed request, reading SSE events as they arrive.
    static func timedStream(_ client: HTTPClient, _ url: String, id: String) async throws -> StreamObservation {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "x-bench-id", value: id)
        request.body = .bytes(ByteBuffer(string: "{\"model\":\"bench-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Count.\"}]}"))
        let clock = ContinuousClock()
        let sent = clock.now
        let response = try await client.execute(request, timeout: .seconds(60))
        guard response.status == .ok else { throw FileIngestError(message: "\(url) answered HTTP \(response.status.code)") }
        var arrivals: [ContinuousClock.Instant] = []
        var pending: [UInt8] = []
        for try await part in response.body {
            let now = clock.now
            pending += part.readableBytesView
            // Count complete events that carry content ("tok"): one arrival each, at this instant.
            var start = 0
            while let end = firstIndex(of: eventEnd, in: pending, from: start) {
                if let hit = firstIndex(of: contentMarker, in: pending, from: start), hit < end { arrivals.append(now) }
                start = end + 2
            }
            pending.removeSubrange(..<start)
        }
        return StreamObservation(sent: sent, arrivals: arrivals, recordID: response.headers.first(name: "x-bifocal-record-id"))
    }

    /// Where `needle` first starts in `haystack` at or after `from`. Allocation-free: the load
    /// generator shares the cores with the gateway it measures.
    static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int = 0) -> Int? {
        guard let first = needle.first, haystack.count - from >= needle.count else { return nil }
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == first {
                var k = 1
                while k < needle.count, haystack[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Runs the gateway benchmark (see BENCHMARKS.md for what each figure means).
    public static func gateway(sequential: Int, concurrency: Int, throughputSeconds: Int, streams: Int, chunks: Int,
                               directory: String, compare: [(name: String, url: String)] = [], upstreamPort: Int = 0,
                               report: @escaping @Sendable (String) -> Void) async throws {
        let log = EmissionLog()
        let firstDelay = Duration.milliseconds(50)
        let gap = Duration.milliseconds(20)
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error
        let upstreamPorts = AsyncStream<Int>.makeStream()
        let upstreamApp = Application(router: scriptedUpstream(chunks: chunks, firstDelay: firstDelay, gap: gap, log: log),
                                      configuration: .init(address: .hostname("127.0.0.1", port: upstreamPort)),
                                      onServerRunning: { upstreamPorts.continuation.yield($0.localAddress?.port ?? 0) }, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await upstreamApp.runService() }
            var upstreamIterator = upstreamPorts.stream.makeAsyncIterator()
            guard let up = await upstreamIterator.next() else { return }
            let direct = "http://127.0.0.1:\(up)"

            var configuration = BifocalConfiguration()
            configuration.port = 0
            configuration.storage.directory = directory
            configuration.retentionInterval = 3600 * Timestamp.microsPerSecond
            configuration.gpuSampler.mode = .off
            var upstreamConfiguration = UpstreamConfiguration(name: "bench", baseURLs: [direct], models: ["bench-model"])
            upstreamConfiguration.provider = "bench"
            upstreamConfiguration.endpoint = "bench"
            configuration.gateway = GatewayConfiguration(upstreams: [upstreamConfiguration], defaultUpstream: "bench")
            configuration.gateway.recordQueueSize = 100_000
            let store = try SQLiteStore.open(configuration.storage)
            let gatewayPorts = AsyncStream<Int>.makeStream()
            let app = buildApplication(configuration: configuration, store: store, logger: quiet,
                                       onServerRunning: { gatewayPorts.continuation.yield($0) })
            let group = ServiceGroup(services: [app], logger: quiet)
            tasks.addTask { try await group.run() }
            var gatewayIterator = gatewayPorts.stream.makeAsyncIterator()
            guard let gw = await gatewayIterator.next() else { return }
            let viaGateway = "http://127.0.0.1:\(gw)"

            var clientConfiguration = HTTPClient.Configuration()
            clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(concurrency, streams) + 8)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
            let body = ByteBuffer(string: "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}")
            let path = "/v1/chat/completions"
            var targets = [("direct", direct), ("bifocal gateway", viaGateway)]
            for other in compare { targets.append((other.name, other.url)) }

            // 1. Sequential non-streamed requests, the targets interleaved request by request.
            for _ in 0..<200 { for (_, base) in targets { _ = try await timedRequest(client, base + path, body: body) } }
            var latencies = Array(repeating: [Double](), count: targets.count)
            for _ in 0..<sequential {
                for (t, target) in targets.enumerated() { latencies[t].append(try await timedRequest(client, target.1 + path, body: body)) }
            }
            report("gateway, \(sequential) sequential non-streamed chat completions per target, interleaved, upstream on loopback answering at once:")
            let directP50 = quantile(latencies[0], 0.5)
            let directP99 = quantile(latencies[0], 0.99)
            for (t, target) in targets.enumerated() {
                let p50 = quantile(latencies[t], 0.5)
                let p99 = quantile(latencies[t], 0.99)
                let added = t == 0 ? "" : String(format: "   added p50 %+.3f ms, p99 %+.3f ms", (p50 - directP50) / 1000, (p99 - directP99) / 1000)
                report("  " + pad(target.0) + String(format: " p50 %7.3f ms   p99 %7.3f ms", p50 / 1000, p99 / 1000) + added)
            }

            // 2. Throughput: `concurrency` clients sending non-streamed requests for a while.
            report("gateway, non-streamed requests/s with \(concurrency) concurrent clients for \(throughputSeconds) s (client, gateway and upstream share the 2 cores):")
            for (name, base) in targets {
                let done = ProgressCounter()
                let deadline = ContinuousClock.now + .seconds(throughputSeconds)
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { senders in
                    for _ in 0..<concurrency {
                        senders.addTask {
                            while ContinuousClock.now < deadline {
                                _ = try await timedRequest(client, base + path, body: body)
                                _ = done.add(1)
                            }
                        }
                    }
                    try await senders.waitForAll()
                }
                let seconds = micros(started, ContinuousClock.now) / 1e6
                report("  " + pad(name) + String(format: " %8.0f requests/s", Double(done.add(0)) / seconds))
            }

            // 3. Streams: alone, then `streams` at once; client-observed TTFT and gaps, and the
            // gateway's records against the instants the upstream wrote each chunk.
            for concurrent in [1, streams] {
                report("gateway, \(concurrent) concurrent stream(s) of \(chunks) chunks (first after 50 ms, then every 20 ms):")
                var directTTFT: Double = .nan
                var directGapError: Double = .nan
                for (t, (name, base)) in targets.enumerated() {
                    // Concurrent runs get one unmeasured burst first, so every hop's connection pool
                    // (client to proxy, proxy to upstream) holds as many connections as the burst needs,
                    // as it would in steady traffic; then the measured bursts.
                    let rounds = concurrent == 1 ? 20 : 3
                    var observations: [(String, StreamObservation)] = []
                    for round in 0..<rounds {
                        let batch = try await withThrowingTaskGroup(of: (String, StreamObservation).self) { streamsGroup in
                            for s in 0..<concurrent {
                                let id = "\(name)-\(concurrent)-\(round)-\(s)"
                                streamsGroup.addTask { (id, try await timedStream(client, base + path, id: id)) }
                            }
                            var all: [(String, StreamObservation)] = []
                            for try await o in streamsGroup { all.append(o) }
                            return all
                        }
                        if concurrent > 1 && round == 0 {
                            for (id, _) in batch { _ = log.take(id) }
                            continue
                        }
                        observations += batch
                    }
                    var ttfts: [Double] = []
                    var gapErrors: [Double] = []
                    var recordTTFTErrors: [Double] = []
                    var recordGapErrors: [Double] = []
                    var missing = 0
                    var unmatched = 0
                    for (id, observation) in observations {
                        let emitted = log.take(id)
                        guard let firstArrival = observation.arrivals.first else { missing += 1; continue }
                        ttfts.append(micros(observation.sent, firstArrival))
                        // A proxy that does not pass the x-bench-id header on leaves no write log to
                        // compare gaps with; its client-side TTFT still counts.
                        guard emitted.count == observation.arrivals.count else { unmatched += 1; continue }
                        for k in 1..<emitted.count {
                            let truth = micros(emitted[k - 1].instant, emitted[k].instant)
                            gapErrors.append(abs(micros(observation.arrivals[k - 1], observation.arrivals[k]) - truth))
                        }
                        guard t == 1, let recordID = observation.recordID else { continue }
                        // The record is written off the response path; wait for it briefly.
                        var stored: StoredRecord?
                        for _ in 0..<200 {
                            stored = try await store.record(id: recordID)
                            if stored != nil { break }
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        guard let record = stored?.record, let ttft = record.ttftMs, let gaps = record.itlMs else { missing += 1; continue }
                        // Truth for TTFT: when the upstream wrote the first content chunk minus when the
                        // gateway received the request (the record's start), both on this process's
                        // wall clock; for each gap, the time between the upstream's writes.
                        recordTTFTErrors.append(abs(ttft * 1000 - Double(emitted[0].wall - record.start)))
                        for k in 1..<min(emitted.count, gaps.count + 1) {
                            recordGapErrors.append(abs(gaps[k - 1] * 1000 - micros(emitted[k - 1].instant, emitted[k].instant)))
                        }
                    }
                    let p99TTFT = quantile(ttfts, 0.99)
                    let p99Gap = quantile(gapErrors, 0.99)
                    if t == 0 { directTTFT = p99TTFT; directGapError = p99Gap }
                    var line = "  " + pad(name) + String(format: " client TTFT p99 %7.3f ms; client gap vs upstream gap p99 %6.3f ms", p99TTFT / 1000, p99Gap / 1000)
                    if t > 0 {
                        line += String(format: "  (added TTFT p99 %+.3f ms, gap distortion %+.3f ms)", (p99TTFT - directTTFT) / 1000, (p99Gap - directGapError) / 1000)
                    }
                    if missing > 0 { line += "  [\(missing) streams incomplete]" }
                    if unmatched > 0 { line += "  [\(unmatched) streams without the upstream's write log: gaps not compared]" }
                    report(line)
                    if t == 1 {
                        report("  " + pad("  its records") + String(format: " TTFT vs truth: p50 %.3f ms, p99 %.3f ms; ITL vs truth: p50 %.3f ms, p99 %.3f ms (%d gaps)",
                                      quantile(recordTTFTErrors, 0.5) / 1000, quantile(recordTTFTErrors, 0.99) / 1000,
                                      quantile(recordGapErrors, 0.5) / 1000, quantile(recordGapErrors, 0.99) / 1000, recordGapErrors.count))
                    }
                }
            }
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            tasks.cancelAll()
        }
    }
}
