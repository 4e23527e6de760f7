import BifocalCore
import BifocalStore
import BifocalTesting
import Foundation
import Testing

@Suite("SQLiteStore batched queries")
struct BatchQueryTests {
    static let catalog = EndpointCatalog([
        EndpointSpec(name: "ep", instanceType: "ml.g5.12xlarge", hourlyPrice: 40, gpus: 4, reservations: ["a": 1, "b": 2]),
        EndpointSpec(name: "solo", instanceType: "ml.g5.xlarge", hourlyPrice: 1.5, gpus: 1),
    ])

    /// Three days of varied records (so ranges read minute, hour and day rollups), a few records
    /// with sketches nobody else has (queue times), and GPU series.
    func filledStore(_ dir: TemporaryDirectory) async throws -> SQLiteStore {
        let store = try openStore(dir) { $0.endpoints = Self.catalog }
        var rng = SplitMix64(state: 7)
        var batch: [InferenceRecord] = []
        let statuses: [RecordStatus] = [.ok, .ok, .ok, .ok, .clientError, .serverError, .modelError, .timeout, .cancelled]
        for k in 0..<12_000 {
            let start = T.base + Int64.random(in: 0..<(3 * T.day), using: &rng)
            let model = ["a", "b", "c"][k % 3]
            let ttft = rng.logNormal(mu: log(150), sigma: 0.7)
            var record = InferenceRecord(
                start: start, endpoint: k % 5 == 0 ? "solo" : "ep", model: model,
                status: statuses[Int.random(in: 0..<statuses.count, using: &rng)],
                inputTokens: Int.random(in: 10..<2000, using: &rng), outputTokens: k % 11 == 0 ? nil : Int.random(in: 1..<500, using: &rng),
                ttftMs: ttft, e2eMs: ttft + rng.logNormal(mu: log(2000), sigma: 0.5),
                itlMs: k % 4 == 0 ? [12, 15, 40] : nil, itlMeanMs: k % 4 == 0 ? nil : rng.logNormal(mu: log(20), sigma: 0.3))
            record.variant = k % 2 == 0 ? "v1" : "v2"
            record.tenant = ["search", "chat", ""][k % 3 == 0 ? 2 : k % 2]
            record.component = k % 7 == 0 ? "retriever" : nil
            if k % 13 == 0 { record.queueMs = rng.logNormal(mu: log(30), sigma: 1) }
            batch.append(record)
            if batch.count == 1000 {
                _ = try await store.insert(batch)
                batch.removeAll()
            }
        }
        var samples: [SeriesSample] = []
        for minute in stride(from: Int64(0), to: 3 * 24 * 60, by: 7) {
            for gpu in 0..<4 {
                samples.append(SeriesSample(name: "gpu.utilization", labels: ["gpu": String(gpu), "endpoint": "ep", "instance": "h1"],
                                            time: T.base + minute * T.minute, value: Double((minute + Int64(gpu)) % 10) / 10))
            }
        }
        _ = try await store.insertSeries(samples)
        return store
    }

    @Test("a batch answers every query exactly as the query alone does")
    func batchEqualsSingle() async throws {
        let dir = try TemporaryDirectory()
        let store = try await filledStore(dir)
        let end = T.base + 3 * T.day
        let shapes: [SignalQuery.Shape] = [
            .range(from: T.base, to: end, step: 3 * T.hour),
            .range(from: end - 6 * T.hour, to: end, step: 5 * T.minute),
            // Unaligned: points assembled from day, hour and minute buckets.
            .range(from: T.base + 7 * T.minute + 3, to: end - 5, step: 25 * T.hour + 11 * T.minute),
            .instant(at: end - 17 * T.minute, window: 5 * T.minute),
            .instant(at: end, window: 2 * T.day + 90 * T.minute),
        ]
        let bys: [[String]] = [[], ["model"], ["model", "variant"], ["tenant", "model"], ["endpoint"], ["component"]]
        var queries: [SignalQuery] = []
        for shape in shapes {
            for (definition, _) in SignalCatalog.recordSignals {
                for by in bys { queries.append(SignalQuery(signal: definition.name, by: by, shape: shape)) }
                queries.append(SignalQuery(signal: definition.name, by: ["variant"], matchers: [LabelMatcher(name: "model", value: "b")], shape: shape))
            }
            // Raw scans, series, and questions that cannot be answered, in the same batch.
            queries.append(SignalQuery(signal: "ttft.p95", by: ["status"], shape: shape))
            queries.append(SignalQuery(signal: "requests.rate", by: ["model"], matchers: [LabelMatcher(name: "status", value: "timeout")], shape: shape))
            queries.append(SignalQuery(signal: "gpu.utilization", by: ["gpu"], shape: shape))
            queries.append(SignalQuery(signal: "gpus.used", shape: shape))
            queries.append(SignalQuery(signal: "no.such.signal", shape: shape))
            queries.append(SignalQuery(signal: "ttft.p50", by: ["nope"], shape: shape))
        }
        queries.append(SignalQuery(signal: "requests.rate", shape: .range(from: end, to: T.base, step: T.minute)))

        let batched = try await store.query(queries)
        #expect(batched.count == queries.count)
        var failures = 0
        for (query, answer) in zip(queries, batched) {
            let single: Result<SignalResult, QueryError>
            do { single = .success(try await store.query(query)) } catch let error as QueryError { single = .failure(error) }
            #expect(answer == single, "\(query)")
            if case .failure = single { failures += 1 }
        }
        // The unanswerable ones: two per shape, and the backwards range.
        #expect(failures == 2 * shapes.count + 1)
        // The batch saw data: not a comparison of empty answers.
        let requests = try #require(try batched[0].get().series.first?.points.compactMap(\.value))
        #expect(requests.reduce(0, +) > 0)
        #expect(try await store.query([]).isEmpty)
        try await store.close()
    }

    @Test("a sketch decoded into a reused scratch sketch merges as the decoded sketch does")
    func scratchDecoding() throws {
        var rng = SplitMix64(state: 3)
        var scratch = QuantileSketch()
        var viaScratch = QuantileSketch()
        var viaDecode = QuantileSketch()
        for round in 0..<50 {
            var sketch = QuantileSketch()
            for _ in 0..<(round * 7) { sketch.add(rng.logNormal(mu: log(0.2), sigma: Double(round % 5) + 0.1)) }
            if round % 9 == 0 { sketch.add(0) }
            let bytes = sketch.encoded()
            let ok = bytes.withUnsafeBytes { scratch.replace(withEncoded: $0) }
            #expect(ok)
            #expect(scratch == QuantileSketch(encoded: bytes))
            viaScratch.merge(scratch)
            viaDecode.merge(try #require(QuantileSketch(encoded: bytes)))
        }
        #expect(viaScratch == viaDecode)
        for q in [0.01, 0.5, 0.95, 0.999] { #expect(viaScratch.quantile(q) == viaDecode.quantile(q)) }
        // Bytes that are not a sketch leave the scratch empty.
        let bad: [UInt8] = [1, 5, 0]
        #expect(bad.withUnsafeBytes { scratch.replace(withEncoded: $0) } == false)
        #expect(scratch == QuantileSketch())
    }
}
