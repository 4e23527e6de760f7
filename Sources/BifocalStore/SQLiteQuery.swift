import BifocalCore
import GRDB
import GRDBSQLite

/// A validated query.
struct QueryPlan: Sendable {
    var definition: SignalDefinition
    var signal: RecordSignal
    /// Group-by labels, without repeats, in the order asked.
    var by: [String]
    var matchers: [LabelMatcher]
    var shape: SignalQuery.Shape
    /// Whether a label outside `RecordLabels.rollup` is involved.
    var rawScan: Bool
}

/// Checks a query before any database work.
enum QueryPlanner {
    /// The most points one series may have.
    static let maxPoints: Int64 = 11_000

    static func validate(_ query: SignalQuery) throws -> QueryPlan {
        guard let (definition, signal) = SignalCatalog.recordSignal(named: query.signal) else {
            throw QueryError(parameter: "signal", message: "unknown signal \"\(query.signal)\"")
        }
        var by: [String] = []
        for name in query.by where !by.contains(name) {
            guard RecordLabels.isKnown(name) else {
                throw QueryError(parameter: "by", message: "unknown label \"\(name)\" (known: \((RecordLabels.rollup + RecordLabels.raw).joined(separator: ", ")), labels.NAME)")
            }
            by.append(name)
        }
        for m in query.matchers {
            guard RecordLabels.isKnown(m.name) else {
                throw QueryError(parameter: "match", message: "unknown label \"\(m.name)\" (known: \((RecordLabels.rollup + RecordLabels.raw).joined(separator: ", ")), labels.NAME)")
            }
        }
        // Free labels are looked up with a quoted JSON path, which cannot hold a double quote.
        for (parameter, name) in by.map({ ("by", $0) }) + query.matchers.map({ ("match", $0.name) })
        where name.hasPrefix(RecordLabels.freeLabelPrefix) && name.contains("\"") {
            throw QueryError(parameter: parameter, message: "label \"\(name)\": free label names cannot contain a double quote")
        }
        try validateShape(query.shape)
        let rawScan = (by + query.matchers.map(\.name)).contains { !RecordLabels.rollup.contains($0) }
        return QueryPlan(definition: definition, signal: signal, by: by, matchers: query.matchers, shape: query.shape, rawScan: rawScan)
    }

    /// Checks a range or instant shape: a positive step or window, `from` before `to`, at most
    /// `maxPoints` points per series. Record and series queries share these limits.
    static func validateShape(_ shape: SignalQuery.Shape) throws {
        switch shape {
        case .range(let from, let to, let step):
            guard step > 0 else { throw QueryError(parameter: "step", message: "step must be positive") }
            guard from < to else { throw QueryError(parameter: "from", message: "from must be before to") }
            let start = Timestamp.floor(from, toMultipleOf: step)
            let (span, overflow) = to.subtractingReportingOverflow(start)
            let points = overflow ? Int64.max : span / step + (span % step == 0 ? 0 : 1)
            guard points <= maxPoints else {
                throw QueryError(parameter: "step", message: "the range would have \(overflow ? "too many" : String(points)) points per series; at most \(maxPoints) (use a larger step)")
            }
        case .instant(let at, let window):
            guard window > 0 else { throw QueryError(parameter: "window", message: "window must be positive") }
            guard at.subtractingReportingOverflow(window).overflow == false else {
                throw QueryError(parameter: "window", message: "window reaches before the start of time")
            }
        }
    }
}

/// Evenly spaced points: point `p` covers `[t0 + p * step, t0 + (p + 1) * step)`.
struct PointGrid {
    var t0: Int64
    var step: Int64
    var count: Int

    func time(_ p: Int) -> Int64 { t0 + Int64(p) * step }

    /// The point whose interval holds `t`, if any.
    @inline(__always) func point(containing t: Int64) -> Int? {
        guard t >= t0 else { return nil }
        let p = (t - t0) / step
        return p < Int64(count) ? Int(p) : nil
    }

    var end: Int64 { t0 + Int64(count) * step }

    static func range(from: Int64, to: Int64, step: Int64) -> PointGrid {
        let t0 = Timestamp.floor(from, toMultipleOf: step)
        let span = to - t0
        return PointGrid(t0: t0, step: step, count: Int(span / step + (span % step == 0 ? 0 : 1)))
    }
}

/// What one group holds at one point, projected to the few numbers the signal needs.
struct PointAccumulator {
    /// Requests, or tokens (see `QueryExecutor.valueColumns`).
    var n0: Int64 = 0
    /// Errors of the asked kind, or requests with known output tokens.
    var n1: Int64 = 0
    /// Sum of e2e seconds.
    var x: Double = 0
    var sketch = QuantileSketch()
}

/// (endpoint, model, component): what `EndpointCatalog.hourlyCost` prices.
struct CostKey: Hashable {
    var endpoint: String
    var model: String
    var component: String
}

/// One group's accumulation.
struct GroupAccumulator {
    var points: [Int: PointAccumulator] = [:]
    var costKeys: Set<CostKey> = []
}

/// Runs a validated query on a read connection.
struct QueryExecutor {
    let plan: QueryPlan
    let configuration: StoreConfiguration

    var endpoints: EndpointCatalog { configuration.endpoints }

    func retention(_ tier: Tier) -> Int64 {
        switch tier {
        case .minute: configuration.minuteRetention
        case .hour: configuration.hourRetention
        case .day: configuration.dayRetention
        }
    }

    var isCost: Bool {
        switch plan.signal {
        case .costHourly, .costPer1MTokens, .costPer1MOutputTokens: true
        default: false
        }
    }

    func run(_ db: Database) throws -> SignalResult {
        let grid: PointGrid
        let groups: [[String]: GroupAccumulator]
        if plan.rawScan {
            switch plan.shape {
            case .range(let from, let to, let step): grid = .range(from: from, to: to, step: step)
            case .instant(let at, let window): grid = PointGrid(t0: at - window, step: window, count: 1)
            }
            groups = try scanRaw(db, grid)
        } else {
            (grid, groups) = try readRollups(db)
        }
        return finish(groups, grid)
    }

    // MARK: Values

    /// SQL expressions over rollup columns that fill a `PointAccumulator` (n0, n1, x, sketch).
    func valueColumns() -> (n0: String?, n1: String?, x: String?, sketch: String?) {
        switch plan.signal {
        case .requestsRate, .requestsCount: ("requests", nil, nil, nil)
        case .errorsRatio(let kind):
            switch kind {
            case nil: ("requests", "client_error + server_error + model_error + timeout + cancelled", nil, nil)
            case .ok?: ("requests", "requests - client_error - server_error - model_error - timeout - cancelled", nil, nil)
            case .clientError?: ("requests", "client_error", nil, nil)
            case .serverError?: ("requests", "server_error", nil, nil)
            case .modelError?: ("requests", "model_error", nil, nil)
            case .timeout?: ("requests", "timeout", nil, nil)
            case .cancelled?: ("requests", "cancelled", nil, nil)
            }
        case .latency(let metric, _): (nil, nil, nil, metric.rawValue)
        case .inputTokensRate: ("input_tokens", nil, nil, nil)
        case .outputTokensRate, .costPer1MOutputTokens: ("output_tokens", nil, nil, nil)
        case .outputTokensPerRequest: ("output_tokens", "output_requests", nil, nil)
        case .concurrency: (nil, nil, "e2e_seconds", nil)
        case .costHourly: (nil, nil, nil, nil)
        case .costPer1MTokens: ("input_tokens + output_tokens", nil, nil, nil)
        }
    }

    /// The same projection, from values accumulated from raw records.
    func project(_ v: RollupValues) -> PointAccumulator {
        var a = PointAccumulator()
        switch plan.signal {
        case .requestsRate, .requestsCount: a.n0 = v.requests
        case .errorsRatio(let kind): a.n0 = v.requests; a.n1 = v.errors(of: kind)
        case .latency(let metric, _): a.sketch = v.sketch(metric)
        case .inputTokensRate: a.n0 = v.inputTokens
        case .outputTokensRate, .costPer1MOutputTokens: a.n0 = v.outputTokens
        case .outputTokensPerRequest: a.n0 = v.outputTokens; a.n1 = v.outputRequests
        case .concurrency: a.x = v.e2eSeconds
        case .costHourly: break
        case .costPer1MTokens: a.n0 = v.inputTokens + v.outputTokens
        }
        return a
    }

    func value(_ a: PointAccumulator?, stepSeconds: Double, hourly: Double?) -> Double? {
        let v: Double?
        switch plan.signal {
        case .requestsRate, .inputTokensRate, .outputTokensRate: v = Double(a?.n0 ?? 0) / stepSeconds
        case .requestsCount: v = Double(a?.n0 ?? 0)
        case .errorsRatio: v = (a?.n0 ?? 0) > 0 ? Double(a!.n1) / Double(a!.n0) : nil
        case .latency(_, let statistic):
            switch statistic {
            case .quantile(let q): v = a?.sketch.quantile(q)
            case .mean: v = a?.sketch.mean
            }
        case .outputTokensPerRequest: v = (a?.n1 ?? 0) > 0 ? Double(a!.n0) / Double(a!.n1) : nil
        case .concurrency: v = (a?.x ?? 0) / stepSeconds
        case .costHourly: v = hourly
        case .costPer1MTokens, .costPer1MOutputTokens:
            if let hourly, let tokens = a?.n0, tokens > 0 {
                v = hourly * (stepSeconds / 3600) / Double(tokens) * 1e6
            } else {
                v = nil
            }
        }
        guard let v, v.isFinite else { return nil }
        return v
    }

    func finish(_ groups: [[String]: GroupAccumulator], _ grid: PointGrid) -> SignalResult {
        let stepSeconds = Double(grid.step) / 1e6
        let cost = isCost
        var series: [([String], SignalSeries)] = []
        series.reserveCapacity(groups.count)
        for (key, group) in groups {
            let hourly = cost ? endpoints.hourlyCost(of: group.costKeys.map { ($0.endpoint, $0.model, $0.component) }) : nil
            var points: [SignalPoint] = []
            points.reserveCapacity(grid.count)
            for p in 0..<grid.count {
                points.append(SignalPoint(time: grid.time(p), value: value(group.points[p], stepSeconds: stepSeconds, hourly: hourly)))
            }
            var labels: [String: String] = [:]
            for (name, v) in zip(plan.by, key) { labels[name] = v }
            series.append((key, SignalSeries(labels: labels, points: points)))
        }
        series.sort { $0.0.lexicographicallyPrecedes($1.0) }
        return SignalResult(signal: plan.definition.name, unit: plan.definition.unit, series: series.map(\.1), scannedRawRecords: plan.rawScan)
    }

    // MARK: Rollups

    /// Buckets that ended at or before a tier's horizon were deleted by retention.
    static func horizons(_ db: Database) throws -> [Tier: Int64] {
        var result: [Tier: Int64] = [:]
        for tier in Tier.allCases {
            result[tier] = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: ["horizon.\(tier.name)"]) ?? .min
        }
        return result
    }

    static func ceil(_ t: Int64, _ unit: Int64) -> Int64 {
        let f = Timestamp.floor(t, toMultipleOf: unit)
        return f == t ? t : f + unit
    }

    func readRollups(_ db: Database) throws -> (PointGrid, [[String]: GroupAccumulator]) {
        let layout = RollupLayout(shape: plan.shape, horizons: try Self.horizons(db), retention: retention)
        var columns: [String] = []
        let byIndex = Int32(1 + columns.count)
        columns += plan.by
        let costIndex = Int32(1 + columns.count)
        if isCost { columns += ["endpoint", "model", "component"] }
        var valueIndex = [Int32](repeating: -1, count: 4)
        let values = valueColumns()
        for (k, expr) in [values.n0, values.n1, values.x, values.sketch].enumerated() {
            if let expr {
                valueIndex[k] = Int32(1 + columns.count)
                columns.append(expr)
            }
        }
        var groups: [[String]: GroupAccumulator] = [:]
        let byCount = plan.by.count
        let isCost = isCost
        var key: [String] = []
        key.reserveCapacity(byCount)
        var scratch = QuantileSketch()
        try layout.scan(db, columns: columns, matchers: plan.matchers) { s, p in
            key.removeAll(keepingCapacity: true)
            for k in 0..<byCount { key.append(s.text(byIndex + Int32(k))) }
            let cost = isCost ? CostKey(endpoint: s.text(costIndex), model: s.text(costIndex + 1), component: s.text(costIndex + 2)) : nil
            // The row's sketch is decoded into one scratch sketch (no allocation per row) and
            // merged from there; bytes that are not a sketch count as none.
            let hasSketch = valueIndex[3] >= 0 && s.blob(valueIndex[3]).map { scratch.replace(withEncoded: $0) } == true
            // One hash lookup per row; the group and point entries are mutated in place.
            Self.withGroup(&groups, key) { group in
                if let cost { group.costKeys.insert(cost) }
                Self.withPoint(&group.points, p) { point in
                    if valueIndex[0] >= 0 { point.n0 += s.int64(valueIndex[0]) }
                    if valueIndex[1] >= 0 { point.n1 += s.int64(valueIndex[1]) }
                    if valueIndex[2] >= 0 { point.x += s.double(valueIndex[2]) }
                    if hasSketch { point.sketch.merge(scratch) }
                }
            }
        }
        return (layout.grid, groups)
    }

    /// The bucket ranges `[low, high)` a tier must be read over: in each point `[a, b)`, its whole
    /// buckets that the next coarser tier's whole buckets do not already cover (at most a left
    /// and a right edge), with adjacent ranges joined.
    static func segments(of tier: Tier, nextCoarser: Tier?, points: Int, bounds: (Int) -> (Int64, Int64)) -> [(Int64, Int64)] {
        var result: [(Int64, Int64)] = []
        func add(_ low: Int64, _ high: Int64) {
            guard low < high else { return }
            if let last = result.last, last.1 == low {
                result[result.count - 1].1 = high
            } else {
                result.append((low, high))
            }
        }
        for p in 0..<points {
            let (a, b) = bounds(p)
            let low = ceil(a, tier.size)
            let high = Timestamp.floor(b, toMultipleOf: tier.size)
            guard low < high else { continue }
            if let c = nextCoarser {
                let cLow = ceil(a, c.size)
                let cHigh = Timestamp.floor(b, toMultipleOf: c.size)
                if cLow < cHigh {
                    add(low, min(cLow, high))
                    add(max(cHigh, low), high)
                    continue
                }
            }
            add(low, high)
        }
        return result
    }

    @inline(__always) static func withPoint(_ points: inout [Int: PointAccumulator], _ p: Int, _ body: (inout PointAccumulator) -> Void) {
        body(&points[p, default: PointAccumulator()])
    }

    @inline(__always) static func withGroup(_ groups: inout [[String]: GroupAccumulator], _ key: [String], _ body: (inout GroupAccumulator) -> Void) {
        body(&groups[key, default: GroupAccumulator()])
    }

    // MARK: Raw records

    /// SQL for a label over `records`, with the value it binds (for `labels.NAME`).
    static func rawLabelExpression(_ name: String) -> (String, String?) {
        if name.hasPrefix(RecordLabels.freeLabelPrefix) {
            let key = String(name.dropFirst(RecordLabels.freeLabelPrefix.count))
            return ("IFNULL(labels ->> ?, '')", "$.\"\(key)\"")
        }
        switch name {
        case "status", "source": return (name, nil)
        case "streaming": return ("CASE streaming WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE '' END", nil)
        default: return ("IFNULL(\(name), '')", nil)  // rollup labels and the other raw text columns
        }
    }

    func scanRaw(_ db: Database, _ grid: PointGrid) throws -> [[String]: GroupAccumulator] {
        var select = ["start", "status", "input_tokens", "output_tokens", "ttft_ms", "e2e_ms", "queue_ms", "itl", "itl_mean_ms"]
        var binds: [String] = []
        let byIndex = Int32(select.count)
        for name in plan.by {
            let (expr, bind) = Self.rawLabelExpression(name)
            select.append(expr)
            if let bind { binds.append(bind) }
        }
        let costIndex = Int32(select.count)
        if isCost { select += ["IFNULL(endpoint, '')", "IFNULL(model, '')", "IFNULL(component, '')"] }
        var sql = "SELECT \(select.joined(separator: ", ")) FROM records WHERE start >= ? AND start < ?"
        let rangeIndex = Int32(binds.count + 1)
        var matchBinds: [String] = []
        for m in plan.matchers {
            let (expr, bind) = Self.rawLabelExpression(m.name)
            sql += " AND \(expr) = ?"
            if let bind { matchBinds.append(bind) }
            matchBinds.append(m.value)
        }
        let s = RawStatement(try db.cachedStatement(sql: sql), db)
        defer { s.reset() }
        for (k, v) in binds.enumerated() { s.bind(Int32(k + 1), v) }
        s.bind(rangeIndex, grid.t0)
        s.bind(rangeIndex + 1, grid.end)
        for (k, v) in matchBinds.enumerated() { s.bind(rangeIndex + 2 + Int32(k), v) }

        var values: [[String]: [Int: RollupValues]] = [:]
        var costKeys: [[String]: Set<CostKey>] = [:]
        var key: [String] = []
        while try s.step() {
            let start = s.int64(0)
            guard let p = grid.point(containing: start) else { continue }
            var r = InferenceRecord(start: start)
            r.status = RecordStatus(rawValue: s.text(1)) ?? .ok
            r.inputTokens = s.optionalInt64(2).map { Int($0) }
            r.outputTokens = s.optionalInt64(3).map { Int($0) }
            r.ttftMs = s.optionalDouble(4)
            r.e2eMs = s.optionalDouble(5)
            r.queueMs = s.optionalDouble(6)
            if let blob = s.blob(7) { r.itlMs = RecordEncoding.itlGaps(blob) }
            r.itlMeanMs = s.optionalDouble(8)
            key.removeAll(keepingCapacity: true)
            for k in 0..<plan.by.count { key.append(s.text(byIndex + Int32(k))) }
            values[key, default: [:]][p, default: RollupValues()].add(r)
            if isCost {
                costKeys[key, default: []].insert(CostKey(endpoint: s.text(costIndex), model: s.text(costIndex + 1), component: s.text(costIndex + 2)))
            }
        }
        var groups: [[String]: GroupAccumulator] = [:]
        for (key, points) in values {
            var group = GroupAccumulator(costKeys: costKeys[key] ?? [])
            for (p, v) in points { group.points[p] = project(v) }
            groups[key] = group
        }
        return groups
    }
}
