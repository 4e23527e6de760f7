import BifocalCore
import GRDB
import GRDBSQLite

/// Which rollup rows answer a range or instant, and on which grid: the choice of tiers depends
/// only on the shape (and on retention), so one layout serves every record signal asked over
/// the same shape, and the per-signal and batched readers visit the same rows in the same order.
struct RollupLayout {
    /// The answer's points (a range's step rounded up to the finest tier that reaches back).
    let grid: PointGrid
    /// The finest tier that reaches back to the start; the day tier when none does.
    let finest: Tier
    /// The tiers read, coarsest first.
    let usable: [Tier]

    /// Lays out `shape` given each tier's retention horizon (`QueryExecutor.horizons`).
    init(shape: SignalQuery.Shape, horizons: [Tier: Int64], retention: (Tier) -> Int64) {
        let queryStart: Int64
        let queryEnd: Int64
        switch shape {
        case .range(let from, let to, _): (queryStart, queryEnd) = (from, to)
        case .instant(let at, let window): (queryStart, queryEnd) = (at - window, at)
        }
        // A tier covers a time when its retention spans from there to the query's end (so that
        // a window longer than the minute retention uses hours even before retention has run:
        // answers do not change when it runs) and retention has not deleted the bucket there.
        func covers(_ tier: Tier, _ t: Int64) -> Bool {
            let (earliest, overflow) = queryEnd.subtractingReportingOverflow(retention(tier))
            if !overflow, t < earliest { return false }
            let h = horizons[tier] ?? .min
            return h == .min || Timestamp.floor(t, toMultipleOf: tier.size) + tier.size > h
        }
        let finest = [Tier.minute, .hour, .day].first { covers($0, queryStart) } ?? .day
        switch shape {
        case .range(let from, let to, let step):
            // Points are never finer than the finest available bucket.
            let effective = QueryExecutor.ceil(step, finest.size)
            grid = .range(from: from, to: to, step: effective)
        case .instant(let at, let window):
            grid = PointGrid(t0: at - window, step: window, count: 1)
        }
        self.finest = finest
        let start = QueryExecutor.ceil(grid.t0, finest.size)
        usable = Tier.coarseToFine.filter { $0 >= finest && covers($0, start) }
    }

    /// Each point [t, t+step) is read as [ceil(t), ceil(t+step)) on the finest tier's grid,
    /// assembled from the coarsest whole buckets that fit.
    func bounds(_ p: Int) -> (Int64, Int64) {
        (QueryExecutor.ceil(grid.time(p), finest.size), QueryExecutor.ceil(grid.time(p) + grid.step, finest.size))
    }

    /// Visits every rollup row that answers a point, with the point: `SELECT bucket, columns...`
    /// (so the caller's columns are at indexes 1...), filtered by `matchers`.
    func scan(_ db: Database, columns: [String], matchers: [LabelMatcher], _ body: (RawStatement, Int) throws -> Void) throws {
        let grid = grid
        for tier in usable {
            let coarser = usable.filter { $0 > tier }
            let segments = QueryExecutor.segments(of: tier, nextCoarser: coarser.last, points: grid.count, bounds: bounds)
            if segments.isEmpty { continue }
            var sql = "SELECT \((["bucket"] + columns).joined(separator: ", ")) FROM rollups WHERE tier = ? AND bucket >= ? AND bucket < ?"
            for m in matchers { sql += " AND \(m.name) = ?" }
            let s = RawStatement(try db.cachedStatement(sql: sql), db)
            defer { s.reset() }
            s.bind(1, tier.rawValue)
            for (k, m) in matchers.enumerated() { s.bind(Int32(4 + k), m.value) }
            for (low, high) in segments {
                s.bind(2, low)
                s.bind(3, high)
                defer { sqlite3_reset(s.handle) }
                while try s.step() {
                    let bucket = s.int64(0)
                    // Attribute the bucket to the point holding its start, if that point holds it
                    // whole and no coarser bucket in the same point already covers it.
                    guard let p = grid.point(containing: bucket) else { continue }
                    let (a, b) = bounds(p)
                    guard bucket >= a, bucket + tier.size <= b else { continue }
                    var servedCoarser = false
                    for c in coarser {
                        let cb = Timestamp.floor(bucket, toMultipleOf: c.size)
                        if cb >= a, cb + c.size <= b { servedCoarser = true; break }
                    }
                    if servedCoarser { continue }
                    try body(s, p)
                }
            }
        }
    }
}

/// Answers several record signals over the same shape and filters in one pass over the rollup
/// rows: each row's counters are read and its sketches decoded once (only those some signal
/// needs), accumulated per group of each distinct group-by, then every signal is projected from
/// the accumulated values exactly as the per-signal path (`QueryExecutor`) computes it.
///
/// A page asks for many signals over the same range (the Overview: about thirty, each grouped
/// and ungrouped); read one by one, each signal re-read and re-decoded the same rows.
struct RollupBatchExecutor {
    /// Validated plans without raw scans, all with the same shape and matchers.
    let plans: [QueryPlan]
    let configuration: StoreConfiguration

    /// Rollup columns read into `RollupValues`, at indexes 1... of the scan.
    static let counterColumns = ["requests", "client_error", "server_error", "model_error", "timeout", "cancelled",
                                 "input_tokens", "output_tokens", "output_requests", "e2e_seconds"]

    /// One group's accumulation for one group-by.
    struct Group {
        var points: [Int: RollupValues] = [:]
        var costKeys: Set<CostKey> = []
    }

    func run(_ db: Database) throws -> [SignalResult] {
        guard let first = plans.first else { return [] }
        let executors = plans.map { QueryExecutor(plan: $0, configuration: configuration) }
        let layout = RollupLayout(shape: first.shape, horizons: try QueryExecutor.horizons(db), retention: executors[0].retention)

        // The distinct group-bys, and the labels they need.
        var bySets: [[String]] = []
        for plan in plans where !bySets.contains(plan.by) { bySets.append(plan.by) }
        let anyCost = executors.contains(where: \.isCost)
        var labels: [String] = []
        for name in bySets.flatMap({ $0 }) + (anyCost ? ["endpoint", "model", "component"] : []) where !labels.contains(name) {
            labels.append(name)
        }
        var metrics: [LatencyMetric] = []
        for plan in plans {
            if case .latency(let metric, _) = plan.signal, !metrics.contains(metric) { metrics.append(metric) }
        }
        let columns = Self.counterColumns + labels + metrics.map(\.rawValue)
        let labelBase = Int32(1 + Self.counterColumns.count)
        let sketchBase = labelBase + Int32(labels.count)
        let byIndexes = bySets.map { $0.map { labelBase + Int32(labels.firstIndex(of: $0)!) } }
        let costIndexes = anyCost ? ["endpoint", "model", "component"].map { labelBase + Int32(labels.firstIndex(of: $0)!) } : []

        var groups = [[[String]: Group]](repeating: [:], count: bySets.count)
        var key: [String] = []
        // One scratch sketch per metric: each row's sketches are decoded once, then merged into
        // the point of every group-by.
        var scratch = [QuantileSketch](repeating: QuantileSketch(), count: metrics.count)
        var decoded = [Bool](repeating: false, count: metrics.count)
        try layout.scan(db, columns: columns, matchers: first.matchers) { s, p in
            var row = RollupValues()
            row.requests = s.int64(1)
            row.clientErrors = s.int64(2)
            row.serverErrors = s.int64(3)
            row.modelErrors = s.int64(4)
            row.timeouts = s.int64(5)
            row.cancelled = s.int64(6)
            row.inputTokens = s.int64(7)
            row.outputTokens = s.int64(8)
            row.outputRequests = s.int64(9)
            row.e2eSeconds = s.double(10)
            for k in 0..<metrics.count {
                // Bytes that are not a sketch count as none.
                decoded[k] = s.blob(sketchBase + Int32(k)).map { scratch[k].replace(withEncoded: $0) } ?? false
            }
            let cost = anyCost ? CostKey(endpoint: s.text(costIndexes[0]), model: s.text(costIndexes[1]), component: s.text(costIndexes[2])) : nil
            for (b, indexes) in byIndexes.enumerated() {
                key.removeAll(keepingCapacity: true)
                for i in indexes { key.append(s.text(i)) }
                Self.withGroup(&groups[b], key) { group in
                    if let cost { group.costKeys.insert(cost) }
                    Self.withPoint(&group.points, p) { point in
                        // The row's counters (its sketches are empty), then its sketches.
                        point.merge(row)
                        for (k, metric) in metrics.enumerated() where decoded[k] {
                            point.mergeSketch(metric, scratch[k])
                        }
                    }
                }
            }
        }

        return zip(plans, executors).map { plan, executor in
            let b = bySets.firstIndex(of: plan.by)!
            var projected: [[String]: GroupAccumulator] = [:]
            projected.reserveCapacity(groups[b].count)
            for (key, group) in groups[b] {
                var accumulator = GroupAccumulator(costKeys: group.costKeys)
                for (p, values) in group.points { accumulator.points[p] = executor.project(values) }
                projected[key] = accumulator
            }
            return executor.finish(projected, layout.grid)
        }
    }

    @inline(__always) static func withGroup(_ groups: inout [[String]: Group], _ key: [String], _ body: (inout Group) -> Void) {
        body(&groups[key, default: Group()])
    }

    @inline(__always) static func withPoint(_ points: inout [Int: RollupValues], _ p: Int, _ body: (inout RollupValues) -> Void) {
        body(&points[p, default: RollupValues()])
    }
}

extension RollupValues {
    /// Merges a sketch into the metric's sketch.
    @inline(__always) mutating func mergeSketch(_ metric: LatencyMetric, _ sketch: QuantileSketch) {
        switch metric {
        case .ttft: ttft.merge(sketch)
        case .itl: itl.merge(sketch)
        case .tpot: tpot.merge(sketch)
        case .e2e: e2e.merge(sketch)
        case .queue: queue.merge(sketch)
        }
    }
}
