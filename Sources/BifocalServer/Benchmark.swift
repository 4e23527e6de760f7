public import BifocalCore
import BifocalIngest
import BifocalStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// `bifocal bench`: the measurements behind BENCHMARKS.md, each reported with a baseline measured
/// in the same run (machines are noisy; ratios travel better than seconds).
public enum Benchmark {
    /// Realistic records: a few models on two endpoints, lognormal latencies, ids, labels; no long texts.
    public static func syntheticRecords(count: Int, from: Int64, to: Int64, seed: UInt64, idPrefix: String = "r") -> [InferenceRecord] {
        var rng = SplitMix64(state: seed)
        let models = ["llama-3-8b", "mistral-7b", "qwen-2.5-14b", "gemma-2-9b"]
        let span = max(1, to - from)
        var records: [InferenceRecord] = []
        records.reserveCapacity(count)
        for i in 0..<count {
            let model = models[Int(rng.next() % UInt64(models.count))]
            let output = 20 + Int(rng.next() % 400)
            let ttft = 60 + rng.logNormal(mu: 5, sigma: 0.6)
            let tpot = 8 + rng.logNormal(mu: 2.5, sigma: 0.3)
            let status: RecordStatus = rng.next() % 100 == 0 ? .serverError : .ok
            records.append(InferenceRecord(
                id: "\(idPrefix)-\(seed)-\(i)",
                start: from + Int64(Double(i) / Double(count) * Double(span)),
                endpoint: i % 3 == 0 ? "llm-batch" : "llm-prod", model: model, variant: "v1",
                instance: "i-\(rng.next() % 4)", status: status, httpStatus: status == .ok ? 200 : 500, streaming: true,
                inputTokens: 100 + Int(rng.next() % 1500), outputTokens: output, ttftMs: ttft,
                e2eMs: ttft + tpot * Double(output - 1), queueMs: rng.logNormal(mu: 1, sigma: 1),
                finishReason: "stop", provider: "vllm", tenant: "team-\(rng.next() % 5)",
                labels: ["region": "us-east-1", "app": "chat"]))
        }
        return records
    }

    /// A Codable mirror of the record, for the JSONDecoder baseline.
    struct CodableRecord: Codable {
        var id: String?
        var start: String
        var endpoint, model, component, variant, instance, copy: String?
        var status: String?
        var http_status: Int?
        var error: String?
        var streaming: Bool?
        var input_tokens, output_tokens: Int?
        var ttft_ms, e2e_ms, queue_ms: Double?
        var itl_ms: [Double]?
        var itl_mean_ms, itl_max_ms: Double?
        var finish_reason: String?
        var tokens_estimated: Bool?
        var source, provider, request_model, trace_id, span_id, tenant: String?
        var prompt, response, context, reference: String?
        var labels: [String: String]?
    }

    /// Records per second of `work` over `records` records, best of `repeats`.
    static func rate(records: Int, repeats: Int, _ work: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let clock = ContinuousClock()
            let elapsed = try clock.measure(work)
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return Double(records) / best
    }

    /// Resident and peak resident memory of this process in bytes (Linux `/proc/self/status`).
    public static func memory() -> (resident: Int64, peak: Int64, anonymous: Int64, fileBacked: Int64) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0, 0, 0) }
        func value(_ key: String) -> Int64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return (Int64(line.split(separator: " ").dropFirst().first { Int64($0) != nil } ?? "0") ?? 0) * 1024
        }
        return (value("VmRSS:"), value("VmHWM:"), value("RssAnon:"), value("RssFile:") + value("RssShmem:"))
    }

    /// Decoding alone: JSONDecoder versus Bifocal's decoder on the same 1,000-record body.
    public static func decode(report: (String) -> Void) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1e6)
        let records = syntheticRecords(count: 1000, from: now - 3_600_000_000, to: now, seed: 1)
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (i, record) in records.enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            body += RecordEncoder.encodeJSON(record)
        }
        body.append(UInt8(ascii: "]"))
        let data = Data(body)
        let decoder = JSONDecoder()
        let baseline = try rate(records: 1000, repeats: 30) { _ = try decoder.decode([CodableRecord].self, from: data) }
        let ours = try rate(records: 1000, repeats: 30) {
            _ = try body.withUnsafeBytes { try RecordDecoder.decodeJSONArray($0) }
        }
        report("decode, 1,000-record JSON array (\(body.count) bytes), one core, best of 30:")
        report(String(format: "  Foundation JSONDecoder (baseline)   %10.0f records/s", baseline))
        report(String(format: "  Bifocal RecordDecoder               %10.0f records/s   (%.1fx baseline)", ours, ours / baseline))
    }

    /// HTTP ingest end to end: an in-process server on loopback, `connections` clients posting
    /// pre-encoded 1,000-record NDJSON bodies; acknowledged only once committed.
    public static func ingest(records total: Int, connections: Int, batchSize: Int, directory: String, report: @escaping @Sendable (String) -> Void) async throws {
        var configuration = BifocalConfiguration()
        configuration.port = 0
        configuration.storage.directory = directory
        configuration.storage.rawRetention = 3650 * Timestamp.microsPerDay
        configuration.storage.textRetention = configuration.storage.rawRetention
        configuration.retentionInterval = 3600 * Timestamp.microsPerSecond
        let store = try SQLiteStore.open(configuration.storage)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "bench"), onServerRunning: { port in
            portContinuation.yield(port)
        })
        let group = ServiceGroup(services: [app], logger: Logger(label: "bench"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = portStream.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let client = RemoteClient(baseURL: "http://127.0.0.1:\(port)", token: nil)
            // Pre-encode a pool of distinct bodies (ids differ, so nothing is a duplicate).
            let now = Int64(Date().timeIntervalSince1970 * 1e6)
            let batches = (total + batchSize - 1) / batchSize
            let pool = min(batches, 200)
            var bodies: [[UInt8]] = []
            // As live traffic arrives, each batch covers a short stretch of time (here 10 s, so a
            // batch touches the rollup rows of one or two minutes), consecutive batches following on.
            for b in 0..<pool {
                let batchStart = now - Int64(pool - b) * 10_000_000
                bodies.append(RecordEncoder.encodeNDJSON(syntheticRecords(count: batchSize, from: batchStart, to: batchStart + 10_000_000, seed: UInt64(b))))
            }
            // Records are re-sent from the pool with fresh ids by prefixing the id per round.
            let encodedBodies = bodies
            let before = memory()
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
                            if round > 0 { body = Self.reprefixIDs(body, round: round) }
                            let answer = try await client.postRecords(ndjson: body)
                            if answer.accepted != batchSize {
                                throw FileIngestError(message: "batch \(b): accepted \(answer.accepted) of \(batchSize) (\(answer.rejected.first.map { "\($0.field ?? ""): \($0.error)" } ?? "duplicates"))")
                            }
                            let done = counter.add(batchSize)
                            if done % (batchSize * 500) == 0 {
                                let m = memory()
                                report("  \(done) records, resident \(m.resident / 1_048_576) MiB (anonymous \(m.anonymous / 1_048_576) MiB, file-backed \(m.fileBacked / 1_048_576) MiB)")
                            }
                            b += connections
                        }
                    }
                }
                try await senders.waitForAll()
            }
            let elapsed = clock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let after = memory()
            report(String(format: "HTTP ingest: %d records in %d-record NDJSON batches over %d connections: %.1f s, %.0f records/s", total, batchSize, connections, seconds, Double(total) / seconds))
            report("  resident memory: \(before.resident / 1_048_576) MiB before (\(before.anonymous / 1_048_576) MiB anonymous, of which the pre-encoded request bodies), \(after.resident / 1_048_576) MiB after (\(after.anonymous / 1_048_576) MiB anonymous, \(after.fileBacked / 1_048_576) MiB file-backed: SQLite's memory-mapped pages), peak \(after.peak / 1_048_576) MiB; client and server in one process")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Replaces `"id":"r-` with `"id":"rN-` so a re-sent body has fresh ids.
    static func reprefixIDs(_ body: [UInt8], round: Int) -> [UInt8] {
        let needle = Array("\"id\":\"r-".utf8)
        let replacement = Array("\"id\":\"r\(round)-".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(body.count + body.count / 50)
        var i = 0
        while i < body.count {
            if body[i] == needle[0], i + needle.count <= body.count, body[i..<(i + needle.count)].elementsEqual(needle) {
                out += replacement
                i += needle.count
            } else {
                out.append(body[i])
                i += 1
            }
        }
        return out
    }

    /// Fills a store directly with `records` records over `days` days, then times `ttft.p95 by model`
    /// over the whole window (rollups) against the same question grouped by `instance` (a raw scan).
    public static func query(records total: Int, days: Int, directory: String, report: @escaping @Sendable (String) -> Void) async throws {
        var configuration = StoreConfiguration(directory: directory)
        configuration.rawRetention = Int64(days + 1) * Timestamp.microsPerDay
        configuration.textRetention = configuration.rawRetention
        configuration.minuteRetention = Int64(days + 1) * Timestamp.microsPerDay
        let store = try SQLiteStore.open(configuration)
        let now = Timestamp.floor(Int64(Date().timeIntervalSince1970 * 1e6), toMultipleOf: Timestamp.microsPerMinute)
        let from = now - Int64(days) * Timestamp.microsPerDay
        let chunk = 50_000
        let fillClock = ContinuousClock()
        let fillStart = fillClock.now
        var inserted = 0
        while inserted < total {
            let n = min(chunk, total - inserted)
            let span = (now - from) / Int64(total)
            let records = syntheticRecords(count: n, from: from + Int64(inserted) * span, to: from + Int64(inserted + n) * span, seed: UInt64(inserted), idPrefix: "q")
            var position = 0
            while position < records.count {
                let end = min(position + 1000, records.count)
                _ = try await store.insert(Array(records[position..<end]))
                position = end
            }
            inserted += n
            if inserted % 1_000_000 == 0 { report("  filled \(inserted) records") }
        }
        let fill = fillClock.now - fillStart
        report(String(format: "filled %d records over %d days directly into the store in %.1f s (%.0f records/s)", total, days,
                      Double(fill.components.seconds) + Double(fill.components.attoseconds) / 1e18,
                      Double(total) / (Double(fill.components.seconds) + Double(fill.components.attoseconds) / 1e18)))
        func time(_ query: SignalQuery, repeats: Int) async throws -> (median: Double, series: Int) {
            var samples: [Double] = []
            var series = 0
            for _ in 0..<repeats {
                let clock = ContinuousClock()
                let start = clock.now
                let result = try await store.query(query)
                let elapsed = clock.now - start
                samples.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                series = result.series.count
            }
            samples.sort()
            return (samples[samples.count / 2], series)
        }
        let step = days <= 1 ? Timestamp.microsPerHour : Timestamp.microsPerDay
        let rollup = SignalQuery(signal: "ttft.p95", by: ["model"], shape: .range(from: from, to: now, step: step))
        let instant = SignalQuery(signal: "ttft.p95", by: ["model"], shape: .instant(at: now, window: now - from))
        let raw = SignalQuery(signal: "ttft.p95", by: ["instance"], shape: .instant(at: now, window: now - from))
        let r = try await time(rollup, repeats: 21)
        let i = try await time(instant, repeats: 21)
        let s = try await time(raw, repeats: 3)
        report(String(format: "ttft.p95 by model over %d days holding %d records (median of 21):", days, total))
        report(String(format: "  range, step %@ (rollups)       %8.1f ms  (%d series)", Timestamp.formatDuration(step), r.median, r.series))
        report(String(format: "  instant, whole window (rollups) %8.1f ms  (%d series)", i.median, i.series))
        report(String(format: "  baseline: by instance, raw scan %8.1f ms  (median of 3) -> rollups %.0fx faster", s.median, s.median / max(i.median, 0.001)))
        try await store.close()
    }
}

/// Counts finished records across concurrent senders.
final class ProgressCounter: Sendable {
    private let value = Mutex(0)
    func add(_ n: Int) -> Int { value.withLock { $0 += n; return $0 } }
}
