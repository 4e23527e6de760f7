import BifocalCore
@testable import BifocalStore
import BifocalTesting
import Foundation
import Testing

@Suite("SQLiteStore series")
struct SeriesStoreTests {
    static let second: Int64 = 1_000_000

    func gpu(_ index: Int, _ time: Int64, _ value: Double, endpoint: String = "ep", instance: String = "i1") -> SeriesSample {
        SeriesSample(name: "gpu.utilization", labels: ["gpu": String(index), "endpoint": endpoint, "instance": instance], time: time, value: value)
    }

    func range(_ signal: String, by: [String] = [], match: [String: String] = [:], from: Int64 = T.base, to: Int64, step: Int64,
               agg: SeriesAggregation? = nil) -> SignalQuery {
        SignalQuery(signal: signal, by: by, matchers: match.sorted { $0.key < $1.key }.map { LabelMatcher(name: $0.key, value: $0.value) },
                    shape: .range(from: from, to: to, step: step), aggregation: agg)
    }

    func instant(_ signal: String, by: [String] = [], match: [String: String] = [:], at: Int64, window: Int64 = T.minute) -> SignalQuery {
        SignalQuery(signal: signal, by: by, matchers: match.map { LabelMatcher(name: $0.key, value: $0.value) }, shape: .instant(at: at, window: window))
    }

    // MARK: Insert and query

    @Test("range points are per-series step means combined per group; instant is the latest point")
    func insertAndQuery() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        var samples: [SeriesSample] = []
        for m in 0..<3 {
            for k in 0..<4 {
                let t = T.base + Int64(m) * T.minute + Int64(k) * 15 * Self.second
                samples.append(gpu(0, t, 0.1 * Double(m + 1) + 0.01 * Double(k)))
                samples.append(gpu(1, t, 0.5))
            }
        }
        #expect(try await store.insertSeries(samples) == 24)
        let stats = try await store.statistics()
        #expect(stats.series == 2)
        #expect(stats.points == 24)

        let all = try await store.query(range("gpu.utilization", to: T.base + 3 * T.minute, step: T.minute))
        #expect(all.unit == .ratio)
        #expect(all.series.count == 1)
        #expect(all.series[0].points.map(\.time) == [T.base, T.base + T.minute, T.base + 2 * T.minute])
        let want: [Double?] = [(0.115 + 0.5) / 2, (0.215 + 0.5) / 2, (0.315 + 0.5) / 2]
        #expect(approx(all.values(), want))

        let byGPU = try await store.query(range("gpu.utilization", by: ["gpu"], to: T.base + 3 * T.minute, step: T.minute))
        #expect(byGPU.series.map(\.labels) == [["gpu": "0"], ["gpu": "1"]])
        #expect(approx(byGPU.values(["gpu": "0"]), [0.115, 0.215, 0.315]))
        #expect(approx(byGPU.values(["gpu": "1"]), [0.5, 0.5, 0.5]))

        let now = try await store.query(instant("gpu.utilization", at: T.base + 3 * T.minute))
        #expect(now.series[0].points.map(\.time) == [T.base + 2 * T.minute])
        #expect(approx(now.values(), [(0.33 + 0.5) / 2]))

        // A step of an hour reads the hour tier (here, before any fold, the minutes).
        let hour = try await store.query(range("gpu.utilization", to: T.base + T.hour, step: T.hour))
        #expect(approx(hour.values(), [(0.215 + 0.5) / 2]))

        // Nothing in the window: no group at all, as for records.
        let later = try await store.query(instant("gpu.utilization", at: T.base + T.hour))
        #expect(later.series.isEmpty)
        // A step with no points in a group that has some is nil.
        let wide = try await store.query(range("gpu.utilization", to: T.base + 4 * T.minute, step: T.minute))
        #expect(wide.values()?.last == .some(nil))
        try await store.close()
    }

    @Test("any label groups and matches; empty label values are absent; families sum by default")
    func arbitraryLabels() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        let name = "DCGM_FI_DEV_GPU_UTIL"
        _ = try await store.insertSeries([
            SeriesSample(name: name, labels: ["gpu": "0", "Hostname": "h1", "modelName": "H100"], time: T.base, value: 10),
            SeriesSample(name: name, labels: ["gpu": "1", "Hostname": "h1", "modelName": "A100"], time: T.base, value: 20),
            SeriesSample(name: name, labels: ["gpu": "0", "Hostname": "h2"], time: T.base, value: 30),
            SeriesSample(name: name, labels: ["gpu": "1", "Hostname": "h2", "modelName": ""], time: T.base, value: 40),
            SeriesSample(name: "", labels: [:], time: T.base, value: 1),
        ])
        // The same series as the one with `modelName=""`.
        #expect(try await store.insertSeries([SeriesSample(name: name, labels: ["gpu": "1", "Hostname": "h2"], time: T.base + 15 * Self.second, value: 40)]) == 1)
        #expect(try await store.statistics().series == 4)

        func q(by: [String] = [], match: [String: String] = [:]) async throws -> SignalResult {
            try await store.query(range(name, by: by, match: match, to: T.base + T.minute, step: T.minute))
        }
        let total = try await q()
        #expect(total.unit == .unknown)
        #expect(total.values() == [100])
        let byHost = try await q(by: ["Hostname"])
        #expect(byHost.series.map(\.labels) == [["Hostname": "h1"], ["Hostname": "h2"]])
        #expect(byHost.series.map { $0.points[0].value } == [30, 70])
        let byModel = try await q(by: ["modelName", "modelName"])
        #expect(byModel.series.map(\.labels) == [["modelName": ""], ["modelName": "A100"], ["modelName": "H100"]])
        #expect(byModel.series.map { $0.points[0].value } == [70, 20, 10])
        #expect(try await q(match: ["modelName": ""]).values() == [70])
        #expect(try await q(match: ["modelName": "H100"]).values() == [10])
        #expect(try await q(by: ["gpu"], match: ["Hostname": "h2"]).series.map { $0.points[0].value } == [30, 40])
        #expect(try await q(match: ["Hostname": "h3"]).series.isEmpty)

        let families = try await store.seriesFamilies()
        #expect(families == [SeriesFamilyInfo(name: name, series: 4, lastSample: T.base + 15 * Self.second)])
        try await store.close()
    }

    @Test("the catalog's aggregation is the default; an explicit one overrides it")
    func aggregation() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await store.insertSeries([
            SeriesSample(name: "queue.waiting", labels: ["model": "a", "instance": "s1"], time: T.base, value: 3),
            SeriesSample(name: "queue.waiting", labels: ["model": "a", "instance": "s2"], time: T.base, value: 5),
            SeriesSample(name: "queue.waiting", labels: ["model": "b", "instance": "s3"], time: T.base, value: 10),
            SeriesSample(name: "engine.ttft.p95", labels: ["model": "a", "instance": "s1"], time: T.base, value: 0.2),
            SeriesSample(name: "engine.ttft.p95", labels: ["model": "a", "instance": "s2"], time: T.base, value: 0.4),
        ])
        func values(_ signal: String, by: [String] = ["model"], _ agg: SeriesAggregation? = nil) async throws -> [Double?] {
            try await store.query(range(signal, by: by, to: T.base + T.minute, step: T.minute, agg: agg)).series.map { $0.points[0].value }
        }
        #expect(try await values("queue.waiting") == [8, 10])
        #expect(try await values("queue.waiting", .sum) == [8, 10])
        #expect(try await values("queue.waiting", .max) == [5, 10])
        #expect(try await values("queue.waiting", .min) == [3, 10])
        #expect(try await values("queue.waiting", .mean) == [4, 10])
        #expect(try await values("queue.waiting", by: [], .mean) == [6])
        #expect(try await values("engine.ttft.p95") == [0.4])
        let sum = try await values("engine.ttft.p95", .sum)
        #expect(approx(sum[0], 0.6))
        let result = try await store.query(range("engine.ttft.p95", to: T.base + T.minute, step: T.minute))
        #expect(result.unit == .seconds)
        try await store.close()
    }

    @Test("a stale marker ends a series in instant queries; a later point brings it back")
    func staleMarkers() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await store.insertSeries([
            gpu(0, T.base, 0.2), gpu(1, T.base, 0.4),
            .stale(name: "gpu.utilization", labels: gpu(0, 0, 0).labels, time: T.base + 15 * Self.second),
            gpu(1, T.base + 15 * Self.second, 0.4),
        ])
        var now = try await store.query(instant("gpu.utilization", by: ["gpu"], at: T.base + 30 * Self.second))
        #expect(now.series.map(\.labels) == [["gpu": "1"]])
        #expect(try await store.query(instant("gpu.utilization", at: T.base + 30 * Self.second)).values() == [0.4])
        // Before the marker the series is there.
        now = try await store.query(instant("gpu.utilization", by: ["gpu"], at: T.base + 10 * Self.second))
        #expect(now.series.count == 2)

        _ = try await store.insertSeries([gpu(0, T.base + 45 * Self.second, 0.6)])
        now = try await store.query(instant("gpu.utilization", at: T.base + T.minute))
        #expect(approx(now.values(), [0.5]))
        // Ranges skip the marker: gpu 0's mean is (0.2 + 0.6) / 2.
        let minute = try await store.query(range("gpu.utilization", by: ["gpu"], to: T.base + T.minute, step: T.minute))
        #expect(approx(minute.values(["gpu": "0"]), [0.4]))

        // Every series stale: nothing left.
        _ = try await store.insertSeries([
            .stale(name: "gpu.utilization", labels: gpu(0, 0, 0).labels, time: T.base + 70 * Self.second),
            .stale(name: "gpu.utilization", labels: gpu(1, 0, 0).labels, time: T.base + 70 * Self.second),
        ])
        #expect(try await store.query(instant("gpu.utilization", at: T.base + 80 * Self.second)).series.isEmpty)
        #expect(try await store.statistics().points == 7)
        try await store.close()
    }

    // MARK: Tiers and retention

    @Test("minute then hour downsamples answer once retention removed raw points; empty series go")
    func downsampleTiers() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        let name = "vllm:num_requests_waiting"
        var samples: [SeriesSample] = []
        var raw: [String: [(Int64, Double)]] = ["s1": [], "s2": []]
        for k in 0..<360 {
            let t = T.base + Int64(k) * 10 * Self.second
            for (instance, scale) in [("s1", 1.0), ("s2", 3.0)] {
                let v = Double(k % 7) * scale
                samples.append(SeriesSample(name: name, labels: ["instance": instance], time: t, value: v))
                raw[instance]!.append((t, v))
            }
        }
        #expect(try await store.insertSeries(samples) == 720)

        /// Expected: per step, the sum over series of each series' mean.
        func expected(step: Int64) -> [Double?] {
            let n = Int(T.hour / step)
            return (0..<n).map { p in
                let lo = T.base + Int64(p) * step
                var total = 0.0
                for points in raw.values {
                    let inStep = points.filter { $0.0 >= lo && $0.0 < lo + step }.map(\.1)
                    total += inStep.reduce(0, +) / Double(inStep.count)
                }
                return total
            }
        }
        let fromRaw = try await store.query(range(name, to: T.base + T.hour, step: 30 * Self.second))
        #expect(fromRaw.values()?.count == 120)
        #expect(approx(fromRaw.values(), expected(step: 30 * Self.second)))

        // Two days later raw points are gone: minute downsamples answer, steps in whole minutes.
        var report = try await store.enforceRetention(now: T.base + 2 * T.day)
        #expect(report.pointsDeleted == 720)
        #expect(report.downsamplesDeleted == 0)
        #expect(report.seriesDeleted == 0)
        #expect(try await store.statistics().points == 0)
        let perMinute = try await store.query(range(name, to: T.base + T.hour, step: T.minute))
        #expect(approx(perMinute.values(), expected(step: T.minute)))
        let rounded = try await store.query(range(name, to: T.base + T.hour, step: 30 * Self.second))
        #expect(rounded.series[0].points.count == 60)
        #expect(approx(rounded.values(), expected(step: T.minute)))
        let fiveMinutes = try await store.query(range(name, by: ["instance"], to: T.base + T.hour, step: 5 * T.minute))
        #expect(fiveMinutes.series.count == 2)
        let instantFromMinutes = try await store.query(instant(name, at: T.base + T.hour))
        #expect(approx(instantFromMinutes.values(), [expected(step: T.minute).last!!]))

        // Forty days later the minutes are gone too: the hour downsample answers.
        report = try await store.enforceRetention(now: T.base + 40 * T.day)
        #expect(report.downsamplesDeleted == 120)
        let perHour = try await store.query(range(name, to: T.base + T.hour, step: T.minute))
        #expect(perHour.series[0].points.map(\.time) == [T.base])
        #expect(approx(perHour.values(), expected(step: T.hour)))

        // After hour retention nothing is left: the series and the family go.
        report = try await store.enforceRetention(now: T.base + 100 * T.day)
        #expect(report.downsamplesDeleted == 2)
        #expect(report.seriesDeleted == 2)
        #expect(try await store.statistics().series == 0)
        #expect(try await store.seriesFamilies().isEmpty)
        await #expect(throws: QueryError.self) { try await store.query(range(name, to: T.base + T.hour, step: T.minute)) }
        // A returning series is created again (the writer forgot the deleted ids).
        let back = T.base + 100 * T.day
        #expect(try await store.insertSeries([SeriesSample(name: name, labels: ["instance": "s1"], time: back, value: 4)]) == 1)
        #expect(try await store.query(range(name, from: back, to: back + T.minute, step: T.minute)).values() == [4])
        #expect(try await store.statistics().series == 1)
        #expect(try await store.enforceRetention(now: back) == RetentionReport())
        try await store.close()
    }

    @Test("out-of-order points count in their minute; duplicates are stored and counted once")
    func outOfOrderAndDuplicates() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        func x(_ seconds: Int64, _ v: Double) -> SeriesSample {
            SeriesSample(name: "batch.running", labels: ["instance": "s1"], time: T.base + seconds * Self.second, value: v)
        }
        #expect(try await store.insertSeries([x(50, 5), x(40, 4)]) == 2)
        // An earlier point arrives late; a repeat of a stored time and a repeat inside the batch are ignored.
        #expect(try await store.insertSeries([x(10, 1), x(50, 99), x(10, 7)]) == 1)
        #expect(try await store.insertSeries([x(50, 5), x(40, 4)]) == 0)
        #expect(try await store.statistics().points == 3)

        let q = range("batch.running", to: T.base + T.minute, step: T.minute)
        #expect(approx(try await store.query(q).values(), [10.0 / 3]))
        #expect(try await store.query(instant("batch.running", at: T.base + T.minute)).values() == [5])
        #expect(try await store.query(instant("batch.running", at: T.base + 20 * Self.second)).values() == [1])
        // The downsamples hold the same three points, once each.
        _ = try await store.enforceRetention(now: T.base + 2 * T.day)
        #expect(approx(try await store.query(q).values(), [10.0 / 3]))
        _ = try await store.enforceRetention(now: T.base + 40 * T.day)
        #expect(approx(try await store.query(q).values(), [10.0 / 3]))
        try await store.close()
    }

    @Test("hours fold from minutes; the hours after the fold come from minutes; late points reach folded hours")
    func hourFold() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        func p(_ minutes: Int64, _ v: Double, _ instance: String = "s1") -> SeriesSample {
            SeriesSample(name: "batch.running", labels: ["instance": instance], time: T.base + minutes * T.minute, value: v)
        }
        // Hour 0: 1 and 3; hour 1: 10; hour 2: 4 and 8 (and one stale marker, not counted).
        _ = try await store.insertSeries([p(0, 1), p(30, 3), p(70, 10), p(130, 4), p(150, 8), p(0, 5, "s2"),
                                          .stale(name: "batch.running", labels: ["instance": "s1"], time: T.base + 151 * T.minute)])
        let q = range("batch.running", by: ["instance"], to: T.base + 3 * T.hour, step: T.hour)
        let before = try await store.query(q)
        #expect(before.values(["instance": "s1"]) == [2, 10, 6])
        // Folding hours 0 and 1 changes no answer.
        #expect(try await store.enforceRetention(now: T.base + 2 * T.hour + 30 * T.minute) == RetentionReport())
        #expect(try await store.query(q) == before)
        // A late point for folded hour 0 counts there, and in its minute.
        #expect(try await store.insertSeries([p(10, 8)]) == 1)
        #expect(try await store.query(q).values(["instance": "s1"]) == [4, 10, 6])
        #expect(try await store.query(range("batch.running", to: T.base + 20 * T.minute, step: 10 * T.minute)).values() == [6, 8])
        // Long after, with only hour rows left, the same answers.
        _ = try await store.enforceRetention(now: T.base + 40 * T.day)
        #expect(try await store.query(q).values(["instance": "s1"]) == [4, 10, 6])
        #expect(try await store.query(q).values(["instance": "s2"]) == [5, nil, nil])
        #expect(try await store.query(instant("batch.running", at: T.base + 3 * T.hour, window: 2 * T.hour)).values() == [6])
        try await store.close()
    }

    // MARK: GPUs

    @Test("gpus.* without reservations: busy GPUs are used")
    func gpusWithoutReservations() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        var samples: [SeriesSample] = []
        for m in 0..<2 {
            for s in [0, 30] as [Int64] {
                let t = T.base + Int64(m) * T.minute + s * Self.second
                samples.append(gpu(0, t, 0.9))
                samples.append(gpu(1, t, 0.0))
                samples.append(gpu(2, t, m == 0 ? 0.5 : 0.02, instance: "i2"))
                if m == 1 { samples.append(gpu(3, t, 0.3, instance: "i2")) }
            }
        }
        _ = try await store.insertSeries(samples)
        func values(_ signal: String, by: [String] = [], _ labels: [String: String] = [:]) async throws -> [Double?]? {
            let r = try await store.query(range(signal, by: by, to: T.base + 3 * T.minute, step: T.minute))
            #expect(r.unit == .count)
            return r.values(labels)
        }
        #expect(try await values("gpus.total") == [3, 4, nil])
        #expect(try await values("gpus.used") == [2, 2, nil])
        #expect(try await values("gpus.free") == [1, 2, nil])
        #expect(try await values("gpus.total", by: ["instance"], ["instance": "i1"]) == [2, 2, nil])
        #expect(try await values("gpus.used", by: ["instance"], ["instance": "i1"]) == [1, 1, nil])
        #expect(try await values("gpus.total", by: ["instance"], ["instance": "i2"]) == [1, 2, nil])
        #expect(try await values("gpus.used", by: ["instance"], ["instance": "i2"]) == [1, 1, nil])
        // Instant: the latest values (0.9, 0, 0.02, 0.3).
        #expect(try await store.query(instant("gpus.used", at: T.base + 2 * T.minute)).values() == [2])
        #expect(try await store.query(instant("gpus.free", at: T.base + 2 * T.minute)).values() == [2])
        #expect(try await store.query(instant("gpus.total", match: ["instance": "i2"], at: T.base + 2 * T.minute)).values() == [2])
        try await store.close()
    }

    @Test("gpus.* with reservations: reserved GPUs are used, spread over the endpoint's GPUs")
    func gpusWithReservations() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir) {
            $0.endpoints = EndpointCatalog([
                EndpointSpec(name: "ep", hourlyPrice: 40, gpus: 4, instances: 2, reservations: ["a": 2, "b": 1]),
                EndpointSpec(name: "ep2", hourlyPrice: 10, gpus: 2, instances: 1),
            ])
        }
        var samples: [SeriesSample] = []
        for g in 0..<4 {
            samples.append(gpu(g, T.base, 0, endpoint: "ep", instance: "i1"))
            samples.append(gpu(g, T.base, 0, endpoint: "ep", instance: "i2"))
        }
        // ep2 has no reservations: its whole 2 GPUs are reserved, but only one reports.
        samples.append(gpu(0, T.base, 0, endpoint: "ep2", instance: "j1"))
        // An endpoint that is not configured: busy GPUs are used.
        samples.append(gpu(0, T.base, 0.7, endpoint: "lab", instance: "l1"))
        samples.append(gpu(1, T.base, 0.0, endpoint: "lab", instance: "l1"))
        _ = try await store.insertSeries(samples)

        func values(_ signal: String, by: [String] = [], match: [String: String] = [:]) async throws -> [[String: String]: Double?] {
            let r = try await store.query(range(signal, by: by, match: match, to: T.base + T.minute, step: T.minute))
            return Dictionary(uniqueKeysWithValues: r.series.map { ($0.labels, $0.points[0].value) })
        }
        #expect(try await values("gpus.total") == [[:]: 11])
        #expect(try await values("gpus.used") == [[:]: 5])
        #expect(try await values("gpus.free") == [[:]: 6])
        #expect(try await values("gpus.used", by: ["endpoint"]) == [["endpoint": "ep"]: 3, ["endpoint": "ep2"]: 1, ["endpoint": "lab"]: 1])
        #expect(try await values("gpus.used", by: ["instance"]) == [["instance": "i1"]: 1.5, ["instance": "i2"]: 1.5, ["instance": "j1"]: 1, ["instance": "l1"]: 1])
        #expect(try await values("gpus.free", by: ["instance"]) == [["instance": "i1"]: 2.5, ["instance": "i2"]: 2.5, ["instance": "j1"]: 0, ["instance": "l1"]: 1])
        // A matcher selecting one instance still shares the reservation over all of ep's GPUs.
        #expect(try await values("gpus.used", match: ["instance": "i1"]) == [[:]: 1.5])
        #expect(try await values("gpus.total", match: ["instance": "i1"]) == [[:]: 4])
        try await store.close()
    }

    // MARK: Errors

    @Test("unknown names, bad labels and bad ranges throw QueryError; canonical signals answer empty")
    func errors() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir)
        _ = try await store.insertSeries([gpu(0, T.base, 0.5)])
        do {
            _ = try await store.query(range("nope", to: T.base + T.minute, step: T.minute))
            Issue.record("expected an error")
        } catch let error as QueryError {
            #expect(error == QueryError(parameter: "signal", message: "unknown signal \"nope\" (neither a record signal, a series signal, nor a stored family)"))
        }
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
        #expect(await parameter(range("gpu.utilization", to: T.base + T.day, step: Self.second)) == "step")
        #expect(await parameter(range("gpu.utilization", to: T.base, step: T.minute)) == "from")
        #expect(await parameter(instant("gpu.utilization", at: T.base, window: 0)) == "window")
        #expect(await parameter(range("gpu.utilization", by: ["a\"b"], to: T.base + T.minute, step: T.minute)) == "by")
        #expect(await parameter(range("gpu.utilization", match: ["": "x"], to: T.base + T.minute, step: T.minute)) == "match")
        // Record signals keep their own checks.
        #expect(await parameter(range("requests.rate", by: ["gpu"], to: T.base + T.minute, step: T.minute)) == "by")
        let empty = try await store.query(range("kv_cache.usage", to: T.base + T.minute, step: T.minute))
        #expect(empty.series.isEmpty)
        #expect(empty.unit == .ratio)
        try await store.close()
    }

    // MARK: Persistence

    @Test("a database from the previous schema is upgraded and keeps its records")
    func migration() async throws {
        let dir = try TemporaryDirectory()
        try SQLiteSchema.createDatabase(at: dir.path + "/" + SQLiteStore.databaseFileName, upTo: "v1-records-rollups", sql: """
            INSERT INTO records (start, status, tokens_estimated, source, model) VALUES (\(T.base), 'ok', 0, 'api', 'm');
            UPDATE meta SET value = 1 WHERE key = 'records';
            """)
        let store = try openStore(dir)
        let before = try await store.statistics()
        #expect(before.records == 1)
        #expect(before.oldestRecord == T.base)
        #expect(before.series == 0)
        #expect(try await store.insertSeries([gpu(0, T.base, 0.5)]) == 1)
        #expect(try await store.query(instant("gpu.utilization", at: T.base + T.minute)).values() == [0.5])
        #expect(try await store.enforceRetention(now: T.base + T.hour) == RetentionReport())
        try await store.close()
    }

    @Test("reopening the store keeps series ids: the same labels continue the same series")
    func reopen() async throws {
        let dir = try TemporaryDirectory()
        var store = try openStore(dir)
        let labels = ["model": "m", "instance": "s1", "endpoint": "ep"]
        _ = try await store.insertSeries([
            SeriesSample(name: "kv_cache.usage", labels: labels, time: T.base, value: 0.2),
            SeriesSample(name: "kv_cache.usage", labels: ["model": "m", "instance": "s2"], time: T.base, value: 0.4),
        ])
        try await store.close()
        store = try openStore(dir)
        // The same labels in another order, and an empty value that is dropped.
        _ = try await store.insertSeries([
            SeriesSample(name: "kv_cache.usage", labels: ["endpoint": "ep", "instance": "s1", "model": "m", "zone": ""], time: T.base + T.minute, value: 0.6),
        ])
        #expect(try await store.statistics().series == 2)
        let sink = StoreSeriesSink(store: store)
        #expect(try await sink.submit(series: [SeriesSample(name: "kv_cache.usage", labels: labels, time: T.base + 2 * T.minute, value: 0.8)]) == 1)
        #expect(try await store.statistics().series == 2)
        let r = try await store.query(range("kv_cache.usage", by: ["instance"], to: T.base + 3 * T.minute, step: T.minute))
        #expect(r.values(["instance": "s1"]) == [0.2, 0.6, 0.8])
        #expect(r.values(["instance": "s2"]) == [0.4, nil, nil])
        #expect(try await store.seriesFamilies() == [SeriesFamilyInfo(name: "kv_cache.usage", series: 2, lastSample: T.base + 2 * T.minute)])
        try await store.close()
    }

    @Test("the size cap deletes the oldest raw points too; downsamples then answer for them")
    func sizeCap() async throws {
        let dir = try TemporaryDirectory()
        var store = try openStore(dir)
        for b in 0..<10 {
            var batch: [SeriesSample] = []
            for s in 0..<200 {
                for k in 0..<50 {
                    batch.append(SeriesSample(name: "gpu.power", labels: ["gpu": String(s)], time: T.base + Int64(b * 50 + k) * Self.second, value: Double(k)))
                }
            }
            _ = try await store.insertSeries(batch)
        }
        let written = try await store.statistics()
        #expect(written.points == 100_000)
        try await store.close()
        // The WAL file keeps its size after the close's checkpoint: a first capped pass empties it
        // (it is most of the size), so that the second pass's cap is a share of the database itself.
        store = try openStore(dir) { $0.maxSizeBytes = written.sizeBytes / 2 }
        _ = try await store.enforceRetention(now: T.base + T.hour)
        let before = try await store.statistics()
        try await store.close()

        let cap = before.sizeBytes / 2
        store = try openStore(dir) { $0.maxSizeBytes = cap }
        let report = try await store.enforceRetention(now: T.base + T.hour)
        let after = try await store.statistics()
        #expect(report.pointsDeleted > 0)
        #expect(after.points == before.points - report.pointsDeleted)
        #expect(after.sizeBytes <= cap + 65_536, "size \(after.sizeBytes) cap \(cap)")
        // The first minute's raw points are gone; its minute downsample still answers.
        let first = try await store.query(range("gpu.power", to: T.base + T.minute, step: T.minute))
        // Seconds 0-49 hold values 0-49, seconds 50-59 values 0-9.
        #expect(approx(first.values(), [200 * 1270.0 / 60]))
        try await store.close()
    }
}
