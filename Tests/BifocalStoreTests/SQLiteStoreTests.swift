import BifocalCore
import BifocalStore
import BifocalTesting
import Foundation
import Testing

@Suite("SQLiteStore")
struct SQLiteStoreTests {
    // MARK: Quantiles over rollups

    @Test("percentiles merged from minute and hour rollups are within 1% of exact")
    func quantileAccuracy() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        var rng = SplitMix64(state: 42)
        // 3 hours of traffic; two models.
        var ttft: [String: [Double]] = ["a": [], "b": []]
        var all: [Double] = []
        var firstTenMinutes: [Double] = []
        var perHour: [[Double]] = [[], [], []]
        var batch: [InferenceRecord] = []
        for k in 0..<30_000 {
            let start = T.base + Int64.random(in: 0..<(3 * T.hour), using: &rng)
            let model = k % 3 == 0 ? "b" : "a"
            let ms = rng.logNormal(mu: model == "a" ? log(180) : log(400), sigma: 0.6)
            batch.append(InferenceRecord(start: start, endpoint: "ep", model: model, outputTokens: 50, ttftMs: ms, e2eMs: ms + 1000))
            ttft[model]!.append(ms / 1000)
            all.append(ms / 1000)
            perHour[Int((start - T.base) / T.hour)].append(ms / 1000)
            if start < T.base + 10 * T.minute { firstTenMinutes.append(ms / 1000) }
            if batch.count == 1000 {
                _ = try await store.insert(batch)
                batch.removeAll()
            }
        }
        all.sort()
        firstTenMinutes.sort()
        for q in [0.5, 0.9, 0.95, 0.99] {
            let name = "ttft.p\(Int(q * 100))"
            // Minute tier: one point of ten minute buckets.
            let tenMinutes = try await store.query(SignalQuery(signal: name, shape: .range(from: T.base, to: T.base + 10 * T.minute, step: 10 * T.minute)))
            let got = try #require(tenMinutes.values()?.first ?? nil)
            let want = exactQuantile(firstTenMinutes, q)
            #expect(abs(got - want) / want <= 0.01, "\(name) over 10 minutes: \(got) vs \(want)")
            // Hour tier: one point of three hour buckets.
            let hours = try await store.query(SignalQuery(signal: name, shape: .range(from: T.base, to: T.base + 3 * T.hour, step: 3 * T.hour)))
            let gotAll = try #require(hours.values()?.first ?? nil)
            #expect(abs(gotAll - exactQuantile(all, q)) / exactQuantile(all, q) <= 0.01, "\(name) over 3 hours")
            // Instant, unaligned window spanning hour and minute buckets, by model.
            let instant = try await store.query(SignalQuery(signal: name, by: ["model"], shape: .instant(at: T.base + 3 * T.hour + 30 * 1_000_000, window: 3 * T.hour)))
            #expect(instant.series.map { $0.labels["model"] } == ["a", "b"])
            for model in ["a", "b"] {
                let sorted = ttft[model]!.sorted()
                // The window starts at base + 30 s: the bucket holding it goes to the previous point.
                let got = try #require(instant.values(["model": model])?.first ?? nil)
                let exact = exactQuantile(sorted, q)
                #expect(abs(got - exact) / exact <= 0.02, "\(name) \(model): \(got) vs \(exact)")
            }
        }
        // Means are exact.
        let mean = try await store.query(SignalQuery(signal: "ttft.mean", shape: .range(from: T.base, to: T.base + 3 * T.hour, step: T.hour)))
        let values = try #require(mean.values())
        #expect(values.count == 3)
        for h in 0..<3 {
            let exact = perHour[h].reduce(0, +) / Double(perHour[h].count)
            #expect(approx(values[h], exact, 1e-9))
        }
        #expect(mean.series[0].points.map(\.time) == [T.base, T.base + T.hour, T.base + 2 * T.hour])
        try await store.close()
    }

    // MARK: Signal arithmetic

    static let catalog = EndpointCatalog([
        EndpointSpec(name: "ep", instanceType: "ml.g5.12xlarge", hourlyPrice: 40, gpus: 4, reservations: ["a": 1, "b": 2]),
    ])

    /// Minute 0: six requests of model a (three ok, one of each of three error kinds) and one of b;
    /// minute 1: nothing; minute 2: one request of a.
    func arithmeticStore(_ dir: TemporaryDirectory) async throws -> SQLiteStore {
        let store = try openStore(dir) { $0.endpoints = Self.catalog }
        var records: [InferenceRecord] = []
        let statuses: [RecordStatus] = [.ok, .ok, .ok, .clientError, .serverError, .timeout]
        for (k, status) in statuses.enumerated() {
            records.append(InferenceRecord(
                start: T.base + Int64(k) * 1_000_000, endpoint: "ep", model: "a", status: status,
                inputTokens: 100, outputTokens: 11, ttftMs: 100, e2eMs: 1100,
                itlMs: k == 0 ? [10, 20, 30] : nil, itlMeanMs: k == 0 ? nil : 50))
        }
        records.append(InferenceRecord(start: T.base + 30_000_000, endpoint: "ep", model: "b", inputTokens: 1000, outputTokens: 1, ttftMs: 300, e2eMs: 300))
        records.append(InferenceRecord(start: T.base + 2 * T.minute + 5, endpoint: "ep", model: "a", inputTokens: 100, outputTokens: 11, ttftMs: 100, e2eMs: 1100))
        let outcome = try await store.insert(records)
        #expect(outcome == SinkOutcome(accepted: 8))
        return store
    }

    func range(_ signal: String, by: [String] = [], _ store: SQLiteStore, matchers: [LabelMatcher] = []) async throws -> SignalResult {
        try await store.query(SignalQuery(signal: signal, by: by, matchers: matchers, shape: .range(from: T.base, to: T.base + 3 * T.minute, step: T.minute)))
    }

    @Test("request, error, token, latency and concurrency signals")
    func arithmetic() async throws {
        let dir = try TemporaryDirectory()
        let store = try await arithmeticStore(dir)
        let a = ["model": "a"]
        let count = try await range("requests.count", by: ["model"], store)
        #expect(count.unit == .count)
        #expect(count.series.map(\.labels) == [["model": "a"], ["model": "b"]])
        #expect(count.values(a) == [6, 0, 1])
        #expect(count.values(["model": "b"]) == [1, 0, 0])
        #expect(count.series[0].points.map(\.time) == [T.base, T.base + T.minute, T.base + 2 * T.minute])
        #expect(!count.scannedRawRecords)
        #expect(approx(try await range("requests.rate", store).values(), [7.0 / 60, 0, 1.0 / 60]))
        #expect(approx(try await range("errors.ratio", by: ["model"], store).values(a), [0.5, nil, 0]))
        #expect(approx(try await range("errors.client_error.ratio", by: ["model"], store).values(a), [1.0 / 6, nil, 0]))
        #expect(approx(try await range("errors.timeout.ratio", store).values(), [1.0 / 7, nil, 0]))
        #expect(approx(try await range("errors.model_error.ratio", store).values(), [0, nil, 0]))
        #expect(approx(try await range("tokens.input.rate", store).values(), [1600.0 / 60, 0, 100.0 / 60]))
        #expect(approx(try await range("tokens.output.rate", store).values(), [67.0 / 60, 0, 11.0 / 60]))
        #expect(approx(try await range("tokens.output.per_request", store).values(), [67.0 / 7, nil, 11]))
        #expect(approx(try await range("concurrency", store).values(), [(6 * 1.1 + 0.3) / 60, 0, 1.1 / 60]))
        // tpot = (e2e - ttft) / (output_tokens - 1) = 1 s / 10; b's single token has none.
        #expect(approx(try await range("tpot.mean", store).values(), [0.1, nil, 0.1]))
        #expect(approx(try await range("tpot.p99", by: ["model"], store).values(["model": "b"]), [nil, nil, nil]))
        // itl: 10, 20, 30 ms one by one, then a 50 ms mean standing for 10 gaps in five records.
        #expect(approx(try await range("itl.mean", by: ["model"], store).values(a), [(0.06 + 50 * 0.05) / 53, nil, nil]))
        #expect(approx(try await range("ttft.mean", store).values(), [0.9 / 7, nil, 0.1]))
        #expect(approx(try await range("e2e.p50", by: ["model"], store).values(a), [1.1, nil, 1.1], 0.006))
        #expect(approx(try await range("queue.p50", store).values(), [nil, nil, nil]))
        try await store.close()
    }

    @Test("cost signals: reservations on a shared 4-GPU endpoint")
    func cost() async throws {
        let dir = try TemporaryDirectory()
        let store = try await arithmeticStore(dir)
        let hourly = try await range("cost.hourly", by: ["model"], store)
        #expect(hourly.unit == .dollarsPerHour)
        // $40/h for 4 GPUs: a reserves 1 GPU ($10/h), b 2 GPUs ($20/h); constant over the window.
        #expect(hourly.values(["model": "a"]) == [10, 10, 10])
        #expect(hourly.values(["model": "b"]) == [20, 20, 20])
        #expect(try await range("cost.hourly", store).values() == [30, 30, 30])
        let per1M = try await range("cost.per_1m_tokens", by: ["model"], store)
        let minuteCostA = 10.0 / 60
        #expect(approx(per1M.values(["model": "a"]), [minuteCostA / 666 * 1e6, nil, minuteCostA / 111 * 1e6]))
        let perOut = try await range("cost.per_1m_output_tokens", by: ["model"], store)
        #expect(approx(perOut.values(["model": "b"]), [20.0 / 60 / 1 * 1e6, nil, nil]))
        // An endpoint the catalog does not price: null.
        _ = try await store.insert([InferenceRecord(start: T.base, endpoint: "unpriced", model: "c", inputTokens: 1, outputTokens: 1)])
        let unpriced = try await range("cost.hourly", by: ["endpoint"], store)
        #expect(unpriced.values(["endpoint": "unpriced"]) == [nil, nil, nil])
        // The same through a raw scan (grouping by a raw label).
        let raw = try await range("cost.hourly", by: ["instance"], store)
        #expect(raw.scannedRawRecords)
        #expect(raw.values(["instance": ""]) == [30, 30, 30])
        try await store.close()
    }

    @Test("range and instant shapes: flooring, point times, empty results")
    func shapes() async throws {
        let dir = try TemporaryDirectory()
        let store = try await arithmeticStore(dir)
        // from is floored to a multiple of the step.
        let floored = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: T.base + 10_000_000, to: T.base + 3 * T.minute, step: T.minute)))
        #expect(floored.series[0].points.map(\.time) == [T.base, T.base + T.minute, T.base + 2 * T.minute])
        // Instant: one point stamped at - window, covering [at - window, at).
        let instant = try await store.query(SignalQuery(signal: "requests.count", shape: .instant(at: T.base + 3 * T.minute, window: 3 * T.minute)))
        #expect(instant.series[0].points == [SignalPoint(time: T.base, value: 8)])
        let rate = try await store.query(SignalQuery(signal: "requests.rate", shape: .instant(at: T.base + 2 * T.minute, window: 2 * T.minute)))
        #expect(approx(rate.values(), [7.0 / 120]))
        // A window longer than the minute retention (2 days) is read from hours: points coarsen.
        let long = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: T.base - 3 * T.day, to: T.base + T.hour, step: T.minute)))
        #expect(long.series[0].points.count == 73)
        #expect(long.series[0].points.last == SignalPoint(time: T.base, value: 8))
        #expect(long.series[0].points.first?.value == 0)
                // Nothing stored in the window: no series.
        let empty = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: T.base + T.day, to: T.base + T.day + T.hour, step: T.minute)))
        #expect(empty.series.isEmpty)
        // Matchers on rollup labels; "" matches records without the label.
        let matched = try await range("requests.count", store, matchers: [LabelMatcher(name: "model", value: "b")])
        #expect(matched.values() == [1, 0, 0])
        let noTenant = try await range("requests.count", store, matchers: [LabelMatcher(name: "tenant", value: "")])
        #expect(noTenant.values() == [7, 0, 1])
        try await store.close()
    }

    // MARK: Duplicates

    @Test("a repeated id is stored once, within a batch and across batches")
    func duplicates() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        func record(_ id: String?) -> InferenceRecord {
            InferenceRecord(id: id, start: T.base, model: "m", ttftMs: 100, prompt: "hi")
        }
        let first = try await store.insert([record("x"), record("y"), record("x"), record(nil)])
        #expect(first == SinkOutcome(accepted: 3, duplicates: [2]))
        let second = try await store.insert([record("y"), record("z"), record(nil), record(nil), record("z")])
        #expect(second == SinkOutcome(accepted: 3, duplicates: [0, 4]))
        let count = try await store.query(SignalQuery(signal: "requests.count", shape: .instant(at: T.base + T.minute, window: T.minute)))
        #expect(count.values() == [6])
        let hourCount = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: T.base, to: T.base + T.day, step: T.day)))
        #expect(hourCount.values() == [6])
        #expect(try await store.statistics().records == 6)
        try await store.close()
    }

    @Test("concurrent batches all land in rollups exactly once")
    func concurrentInserts() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for b in 0..<10 {
                        let batch = (0..<100).map { k in
                            InferenceRecord(id: "w\(worker)-\(b)-\(k)", start: T.base + Int64(k % 3) * T.minute, model: "m\(k % 2)", outputTokens: 2)
                        }
                        _ = try await store.insert(batch)
                        // A retry of the same batch is all duplicates.
                        #expect(try await store.insert(batch).accepted == 0)
                    }
                }
            }
            try await group.waitForAll()
        }
        let count = try await store.query(SignalQuery(signal: "requests.count", by: ["model"], shape: .range(from: T.base, to: T.base + 3 * T.minute, step: T.minute)))
        let total = count.series.flatMap(\.points).compactMap(\.value).reduce(0, +)
        #expect(total == 4000)
        let daily = try await store.query(SignalQuery(signal: "tokens.output.rate", shape: .range(from: T.base, to: T.base + T.day, step: T.day)))
        #expect(approx(daily.values(), [8000.0 / 86400]))
        #expect(try await store.statistics().records == 4000)
        try await store.close()
    }

    // MARK: Rollup labels vs raw labels

    @Test("grouping and matching on raw labels agrees with rollup labels")
    func rawLabels() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        var rng = SplitMix64(state: 7)
        var records: [InferenceRecord] = []
        for k in 0..<3000 {
            let m = k % 3
            records.append(InferenceRecord(
                start: T.base + Int64.random(in: 0..<(2 * T.hour), using: &rng),
                endpoint: "ep", model: "m\(m)", instance: "i\(m)",
                status: k % 10 == 0 ? .serverError : .ok, streaming: m == 0 ? true : (m == 1 ? false : nil),
                inputTokens: 10, outputTokens: 20, ttftMs: rng.logNormal(mu: log(Double(100 * (m + 1))), sigma: 0.5),
                e2eMs: 2000, itlMeanMs: 20,
                labels: m == 2 ? [:] : ["team": "t\(m)", "odd.key": "v\"\(m)"]))
        }
        _ = try await store.insert(records)
        func q(_ signal: String, by: [String], match: [LabelMatcher] = [], step: Int64 = 15 * T.minute) async throws -> SignalResult {
            try await store.query(SignalQuery(signal: signal, by: by, matchers: match, shape: .range(from: T.base, to: T.base + 2 * T.hour, step: step)))
        }
        let pairs: [(String, String, [String: String], [String: String])] = [
            ("model", "instance", ["model": "m0"], ["instance": "i0"]),
            ("model", "labels.team", ["model": "m1"], ["labels.team": "t1"]),
            ("model", "labels.team", ["model": "m2"], ["labels.team": ""]),
            ("model", "streaming", ["model": "m0"], ["streaming": "true"]),
            ("model", "streaming", ["model": "m2"], ["streaming": ""]),
            ("model", "labels.odd.key", ["model": "m1"], ["labels.odd.key": "v\"1"]),
        ]
        for signal in ["requests.count", "errors.ratio", "ttft.p95", "ttft.p50", "itl.mean", "tokens.output.rate", "concurrency", "tpot.p90"] {
            for (rollupLabel, rawLabel, rollupGroup, rawGroup) in pairs {
                let viaRollups = try await q(signal, by: [rollupLabel])
                let viaRaw = try await q(signal, by: [rawLabel])
                #expect(!viaRollups.scannedRawRecords)
                #expect(viaRaw.scannedRawRecords)
                #expect(approx(viaRaw.values(rawGroup), try #require(viaRollups.values(rollupGroup)), 1e-9), "\(signal) by \(rawLabel)")
                // Matching on the raw label, no grouping.
                let matched = try await q(signal, by: [], match: [LabelMatcher(name: rawLabel, value: rawGroup[rawLabel]!)])
                #expect(matched.scannedRawRecords)
                #expect(approx(matched.values(), try #require(viaRollups.values(rollupGroup)), 1e-9), "\(signal) match \(rawLabel)")
            }
        }
        // Raw grouping by status.
        let byStatus = try await q("requests.count", by: ["status"], step: 2 * T.hour)
        #expect(byStatus.series.map(\.labels) == [["status": "ok"], ["status": "server_error"]])
        #expect(byStatus.values(["status": "server_error"]) == [300])
        // Mixed: a rollup label and a raw one.
        let mixed = try await q("requests.count", by: ["model", "labels.team"], step: 2 * T.hour)
        #expect(mixed.series.map(\.labels) == [
            ["model": "m0", "labels.team": "t0"], ["model": "m1", "labels.team": "t1"], ["model": "m2", "labels.team": ""],
        ])
        #expect(mixed.series.map { $0.points[0].value } == [1000, 1000, 1000])
        try await store.close()
    }

    // MARK: Errors

    @Test("questions that cannot be answered throw QueryError")
    func queryErrors() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        let window = SignalQuery.Shape.range(from: T.base, to: T.base + T.hour, step: T.minute)
        func parameter(_ query: SignalQuery) async -> String? {
            do {
                _ = try await store.query(query)
                return nil
            } catch let error as QueryError {
                return error.parameter
            } catch {
                return "unexpected \(error)"
            }
        }
        #expect(await parameter(SignalQuery(signal: "ttft.p42", shape: window)) == "signal")
        #expect(await parameter(SignalQuery(signal: "requests.rate", by: ["colour"], shape: window)) == "by")
        #expect(await parameter(SignalQuery(signal: "requests.rate", by: ["labels."], shape: window)) == "by")
        #expect(await parameter(SignalQuery(signal: "requests.rate", matchers: [LabelMatcher(name: "colour", value: "red")], shape: window)) == "match")
        #expect(await parameter(SignalQuery(signal: "requests.rate", shape: .range(from: T.base, to: T.base, step: T.minute))) == "from")
        #expect(await parameter(SignalQuery(signal: "requests.rate", shape: .range(from: T.base, to: T.base + T.hour, step: 0))) == "step")
        #expect(await parameter(SignalQuery(signal: "requests.rate", shape: .range(from: T.base, to: T.base + T.day, step: 1_000_000))) == "step")
        #expect(await parameter(SignalQuery(signal: "requests.rate", shape: .range(from: T.base, to: T.base + 11_000 * T.minute, step: T.minute))) == nil)
        #expect(await parameter(SignalQuery(signal: "requests.rate", shape: .instant(at: T.base, window: 0))) == "window")
        #expect(await parameter(SignalQuery(signal: "requests.rate", matchers: [LabelMatcher(name: "labels.a\"b", value: "x")], shape: window)) == "match")
        try await store.close()
    }

    // MARK: Retention

    @Test("retention deletes old records, clears texts and expires rollups; old windows fall back to coarser tiers")
    func retention() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir) {
            $0.rawRetention = 7 * T.day
            $0.textRetention = 1 * T.day
        }
        let now = T.base + 30 * T.day
        var records: [InferenceRecord] = []
        for k in 0..<50 {
            // Ten days old: past raw retention, inside hour retention.
            records.append(InferenceRecord(start: now - 10 * T.day + Int64(k) * 1_000_000, model: "m", ttftMs: 100, prompt: "old"))
            // Three days old: texts cleared, record kept.
            records.append(InferenceRecord(start: now - 3 * T.day + Int64(k) * 1_000_000, model: "m", ttftMs: 100, prompt: "mid", response: "r"))
            // An hour old: untouched.
            records.append(InferenceRecord(start: now - T.hour + Int64(k) * 1_000_000, model: "m", ttftMs: 100, prompt: "new"))
        }
        _ = try await store.insert(records)
        #expect(try await store.statistics().records == 150)
        #expect(try await store.statistics().oldestRecord == now - 10 * T.day)

        let report = try await store.enforceRetention(now: now)
        #expect(report.recordsDeleted == 50)
        #expect(report.textsCleared == 50)
        // Minute rows of the 10- and 3-day-old minutes (past 2 days); hour and day rows stay.
        #expect(report.rollupsDeleted == 2)
        let stats = try await store.statistics()
        #expect(stats.records == 100)
        #expect(stats.oldestRecord == now - 3 * T.day)

        // The ten-day-old minute is gone from the minute tier, but the hour tier still answers,
        // with points coarsened to the hour.
        let old = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: now - 10 * T.day, to: now - 10 * T.day + 10 * T.minute, step: T.minute)))
        #expect(old.series[0].points == [SignalPoint(time: now - 10 * T.day, value: 50)])
        // Recent windows keep minute points.
        let recent = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: now - T.hour, to: now - T.hour + 2 * T.minute, step: T.minute)))
        #expect(recent.values() == [50, 0])
        // A second pass has nothing left to do.
        #expect(try await store.enforceRetention(now: now) == RetentionReport())
        try await store.close()
    }

    @Test("the size cap deletes the oldest records until the folder fits")
    func sizeCap() async throws {
        let dir = try TemporaryDirectory()
        var store = try openStore(dir)
        let text = String(repeating: "lorem ipsum ", count: 100)
        for b in 0..<10 {
            let batch = (0..<1000).map { k in
                InferenceRecord(start: T.base + Int64(b * 1000 + k) * 1_000_000, model: "m", ttftMs: 100, prompt: text, response: text)
            }
            _ = try await store.insert(batch)
        }
        let before = try await store.statistics()
        #expect(before.records == 10_000)
        #expect(before.sizeBytes > 20_000_000)
        try await store.close()

        let cap = before.sizeBytes / 3
        store = try openStore(dir) { $0.maxSizeBytes = cap }
        let report = try await store.enforceRetention(now: T.base + T.hour)
        let after = try await store.statistics()
        #expect(report.recordsDeleted > 0)
        #expect(after.records == 10_000 - report.recordsDeleted)
        #expect(after.records > 1000)
        #expect(after.sizeBytes <= cap + 65_536, "size \(after.sizeBytes) cap \(cap)")
        // The oldest went first.
        #expect(after.oldestRecord == T.base + Int64(report.recordsDeleted) * 1_000_000)
        // Rollups are untouched by the cap.
        let count = try await store.query(SignalQuery(signal: "requests.count", shape: .range(from: T.base, to: T.base + T.day, step: T.day)))
        #expect(count.values() == [10_000])
        try await store.close()
    }

    // MARK: Lock and persistence

    @Test("one process owns a data folder; data persists across close and reopen")
    func lockAndReopen() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await store.insert([InferenceRecord(id: "r1", start: T.base, model: "m", ttftMs: 100)])
        do {
            _ = try openStore(dir)
            Issue.record("a second open should fail")
        } catch let error as StoreError {
            #expect(error.code == .locked)
            #expect(error.message.contains(dir.path))
            #expect(error.message.contains("pid \(ProcessInfo.processInfo.processIdentifier)"))
        }
        try await store.close()
        await #expect(throws: StoreError.self) { try await store.statistics() }

        let reopened = try openStore(dir)
        #expect(try await reopened.statistics().records == 1)
        let again = try await reopened.insert([InferenceRecord(id: "r1", start: T.base, model: "m", ttftMs: 100)])
        #expect(again == SinkOutcome(accepted: 0, duplicates: [0]))
        let count = try await reopened.query(SignalQuery(signal: "requests.count", shape: .instant(at: T.base + T.minute, window: T.minute)))
        #expect(count.values() == [1])
        try await reopened.close()
    }
}
