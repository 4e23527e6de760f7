import BifocalCore
import GRDB
import GRDBSQLite

// Series in the SQLite store: the write path (ids cache, raw points, minute downsamples
// upserted in the insert transaction), the hour fold, the read path for series signals and
// `gpus.*`, and the family listing. Schema: migration "v2-series" in SQLiteSchema.
//
// Why hours are folded rather than upserted with every batch: a scrape of 2,000 series touches
// one page per series in each table it writes (rows are clustered by series), so a per-batch
// hour upsert would cost as much as the minute one while changing nothing a query reads for an
// hour to come. Hours before the fold watermark (`series.hours.folded`) are in `series_hours`;
// later ones are read from `series_minutes`; points arriving late for a folded hour update its
// hour row directly, so every point is counted once in each tier.

/// A series' identity as the writer caches it: the family name and labels without empty values,
/// with their hash. Keys are made before a batch reaches the writer (`keys(of:)`, on the caller's
/// thread, in parallel with other batches' SQLite work), so the writer's lookups only compare:
/// hashing label dictionaries (a seeded hash per label) was a third of its series work.
struct SeriesKey: Hashable, Sendable {
    var name: String
    var labels: [String: String]
    private var hash: Int

    init(_ sample: SeriesSample) {
        name = sample.name
        // Prometheus semantics: a label with an empty value is the same as no label.
        labels = sample.labels.contains { $0.key.isEmpty || $0.value.isEmpty }
            ? sample.labels.filter { !$0.key.isEmpty && !$0.value.isEmpty }
            : sample.labels
        // Dictionary hashing ignores order, so no sorting is needed to look a series up.
        var hasher = Hasher()
        hasher.combine(name)
        hasher.combine(labels)
        hash = hasher.finalize()
    }

    /// The keys of a batch's samples (nil for the unnamed ones, which are skipped).
    static func keys(of samples: [SeriesSample]) -> [SeriesKey?] {
        samples.map { $0.name.isEmpty ? nil : SeriesKey($0) }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func == (a: SeriesKey, b: SeriesKey) -> Bool {
        a.hash == b.hash && a.name == b.name && a.labels == b.labels
    }

    /// The canonical label text stored in `series.labels`: sorted-key JSON, "{}" when empty.
    func canonicalLabels(_ scratch: inout [UInt8]) -> String {
        RecordEncoding.labelsJSON(labels, into: &scratch)
        return String(decoding: scratch, as: UTF8.self)
    }
}

/// The series tiers: raw points, then minute and hour downsamples.
enum SeriesTier: Int, CaseIterable, Comparable, Sendable {
    case raw = 0
    case minute = 1
    case hour = 2

    /// Bucket length in microseconds (1 for raw points: each is its own bucket).
    var size: Int64 {
        switch self {
        case .raw: 1
        case .minute: Timestamp.microsPerMinute
        case .hour: Timestamp.microsPerHour
        }
    }

    var name: String {
        switch self {
        case .raw: "raw"
        case .minute: "minute"
        case .hour: "hour"
        }
    }

    var horizonKey: String { "horizon.series.\(name)" }

    /// The downsample table (nil for raw).
    var table: String? {
        switch self {
        case .raw: nil
        case .minute: "series_minutes"
        case .hour: "series_hours"
        }
    }

    func retention(_ c: StoreConfiguration) -> Int64 {
        switch self {
        case .raw: c.seriesRawRetention
        case .minute: c.seriesMinuteRetention
        case .hour: c.seriesHourRetention
        }
    }

    static func < (a: SeriesTier, b: SeriesTier) -> Bool { a.rawValue < b.rawValue }
}

/// One downsample bucket's aggregate of finite values.
struct Downsample {
    var min: Double
    var max: Double
    var sum: Double
    var count: Int64

    init(_ v: Double) {
        min = v
        max = v
        sum = v
        count = 1
    }

    mutating func add(_ v: Double) {
        if v < min { min = v }
        if v > max { max = v }
        sum += v
        count += 1
    }
}

/// A downsample row's identity.
struct BucketKey: Hashable, Comparable {
    var series: Int64
    var bucket: Int64

    static func < (a: BucketKey, b: BucketKey) -> Bool {
        a.series != b.series ? a.series < b.series : a.bucket < b.bucket
    }
}

enum SeriesSQL {
    static let foldedKey = "series.hours.folded"
    static let selectFolded = "SELECT value FROM meta WHERE key = '\(foldedKey)'"

    /// The hour holding a bucket (floor, also for negative times).
    static let hourOfBucket = "bucket - (((bucket % \(Timestamp.microsPerHour)) + \(Timestamp.microsPerHour)) % \(Timestamp.microsPerHour))"

    static let insertPoint = "INSERT OR IGNORE INTO series_points (series_id, time, value) VALUES (?, ?, ?)"
    static let selectSeries = "SELECT id FROM series WHERE name = ? AND labels = ?"
    static let insertSeries = "INSERT INTO series (name, labels) VALUES (?, ?)"

    /// Adds a batch's aggregate to a bucket row, creating it when missing: out-of-order points
    /// land in the bucket they belong to, whenever they arrive.
    static func upsert(_ table: String) -> String {
        """
        INSERT INTO \(table) (series_id, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (series_id, bucket) DO UPDATE SET min = min(min, excluded.min),
            max = max(max, excluded.max), sum = sum + excluded.sum, count = count + excluded.count
        """
    }

    /// One series' minute rows in `[?2, ?3)` folded into hour rows (replacing any: an hour row
    /// is exactly the sum of its minutes).
    static let fold = """
        INSERT OR REPLACE INTO series_hours (series_id, bucket, min, max, sum, count)
        SELECT series_id, \(hourOfBucket) AS hour, min(min), max(max), sum(sum), sum(count)
        FROM series_minutes WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 GROUP BY hour
        """
}

/// State of the series write path, touched only on the pool's writer queue (GRDB serialises
/// writes): the series ids by name and labels, so that a scrape of thousands of samples does not
/// look its series up one by one.
final class SeriesWriter: @unchecked Sendable {
    /// Ids of committed series. Cleared when retention deletes series (their ids go away).
    var ids: [SeriesKey: Int64] = [:]
    /// Past this many entries the cache starts over (series churn: labels that keep changing).
    static let cacheLimit = 500_000
    private var scratch: [UInt8] = []

    /// Stores the samples (`keys`: `SeriesKey.keys(of: samples)`) in one transaction; returns
    /// how many points were stored.
    func insert(_ samples: [SeriesSample], keys: [SeriesKey?], _ db: Database) throws -> Int {
        var created: [SeriesKey: Int64] = [:]
        var stored = 0
        // On failure the transaction rolls back and `created` (ids that never reached disk) is dropped.
        try db.inTransaction(.immediate) {
            stored = try insertBatch(samples, keys: keys, db, created: &created)
            return .commit
        }
        if ids.count + created.count > Self.cacheLimit { ids.removeAll() }
        for (key, id) in created { ids[key] = id }
        return stored
    }

    private func seriesID(_ key: SeriesKey, _ db: Database, created: inout [SeriesKey: Int64]) throws -> Int64 {
        if let id = ids[key] ?? created[key] { return id }
        let labels = key.canonicalLabels(&scratch)
        let select = RawStatement(try db.cachedStatement(sql: SeriesSQL.selectSeries), db)
        defer { select.reset() }
        select.bind(1, key.name)
        select.bind(2, labels)
        let id: Int64
        if try select.step() {
            id = select.int64(0)
        } else {
            let insert = RawStatement(try db.cachedStatement(sql: SeriesSQL.insertSeries), db)
            defer { insert.reset() }
            insert.bind(1, key.name)
            insert.bind(2, labels)
            try insert.run()
            id = insert.lastInsertedRowID
        }
        created[key] = id
        return id
    }

    private func insertBatch(_ samples: [SeriesSample], keys: [SeriesKey?], _ db: Database, created: inout [SeriesKey: Int64]) throws -> Int {
        // Resolve ids first, then insert in (series, time) order: consecutive inserts touch the
        // same B-tree pages. The position breaks ties so that the first of two equal points wins.
        var order: [(id: Int64, time: Int64, position: Int)] = []
        order.reserveCapacity(samples.count)
        for (position, sample) in samples.enumerated() {
            guard let key = keys[position] else { continue }
            order.append((try seriesID(key, db, created: &created), sample.time, position))
        }
        order.sort { a, b in
            a.id != b.id ? a.id < b.id : (a.time != b.time ? a.time < b.time : a.position < b.position)
        }

        let folded = try Int64.fetchOne(db, sql: SeriesSQL.selectFolded) ?? .min
        let insert = RawStatement(try db.cachedStatement(sql: SeriesSQL.insertPoint), db)
        defer { insert.reset() }
        var minutes: [BucketKey: Downsample] = [:]
        var hours: [BucketKey: Downsample] = [:]
        minutes.reserveCapacity(order.count)
        var stored = 0
        for entry in order {
            let value = samples[entry.position].value
            insert.bind(1, entry.id)
            insert.bind(2, entry.time)
            // Stale markers, other NaNs and infinities are stored as NULL: "no value here".
            if value.isFinite { insert.bind(3, value) } else { insert.bindNull(3) }
            let before = sqlite3_total_changes64(insert.connection)
            try insert.run()
            // INSERT OR IGNORE skipped a point already stored at that time: it is not counted
            // again in the downsamples.
            guard sqlite3_total_changes64(insert.connection) != before else { continue }
            stored += 1
            guard value.isFinite else { continue }
            let minute = BucketKey(series: entry.id, bucket: Timestamp.floor(entry.time, toMultipleOf: Timestamp.microsPerMinute))
            if minutes[minute] == nil { minutes[minute] = Downsample(value) } else { minutes[minute]!.add(value) }
            // Only hours already folded take the point now; the fold adds the others later.
            guard entry.time < folded else { continue }
            let hour = BucketKey(series: entry.id, bucket: Timestamp.floor(entry.time, toMultipleOf: Timestamp.microsPerHour))
            if hours[hour] == nil { hours[hour] = Downsample(value) } else { hours[hour]!.add(value) }
        }
        guard stored > 0 else { return 0 }
        try db.execute(sql: "UPDATE meta SET value = value + ? WHERE key = 'points'", arguments: [stored])
        try upsert(minutes, into: SeriesTier.minute.table!, db)
        if !hours.isEmpty { try upsert(hours, into: SeriesTier.hour.table!, db) }
        return stored
    }

    private func upsert(_ rows: [BucketKey: Downsample], into table: String, _ db: Database) throws {
        let s = RawStatement(try db.cachedStatement(sql: SeriesSQL.upsert(table)), db)
        defer { s.reset() }
        for key in rows.keys.sorted() {
            let d = rows[key]!
            s.bind(1, key.series)
            s.bind(2, key.bucket)
            s.bind(3, d.min)
            s.bind(4, d.max)
            s.bind(5, d.sum)
            s.bind(6, d.count)
            try s.run()
        }
    }

    /// Folds the minutes of every hour before `until` (an hour start) that is not folded yet into
    /// hour rows, and moves the watermark there. Runs on the writer, in the retention pass,
    /// before minute retention (which never deletes minutes that are not folded).
    static func foldHours(until: Int64, _ db: Database) throws {
        let folded = try Int64.fetchOne(db, sql: SeriesSQL.selectFolded) ?? .min
        guard until > folded else { return }
        try db.inTransaction(.immediate) {
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM series")
            let s = RawStatement(try db.cachedStatement(sql: SeriesSQL.fold), db)
            defer { s.reset() }
            for id in ids {
                s.bind(1, id)
                s.bind(2, folded)
                s.bind(3, until)
                try s.run()
            }
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [SeriesSQL.foldedKey, until])
            return .commit
        }
    }
}

// MARK: Queries

/// Whether a signal name is a series question, and how to answer it.
enum SeriesSignalKind {
    /// `gpus.total`, `gpus.used`, `gpus.free`, computed from the `gpu.utilization` series.
    case gpus(GPUCount)
    /// A canonical series signal or a stored family: the family's series, combined per group.
    case family(SeriesAggregation)

    enum GPUCount { case total, used, free }
}

/// Answers a series signal query on a read connection.
///
/// Semantics (see `SQLiteStore.query(_:)` for the whole picture):
/// - Range: for each series, the mean of its finite points in each step; then the series of a
///   group are combined with the aggregation (the query's, else the catalog's, else `sum`).
/// - Instant: for each series, its latest point in `[at - window, at)`; a stale marker (or a
///   non-finite value) there means the series is absent. Then combined per group.
/// - A step or instant with no value in any series of a group is nil; a group with no value at
///   all is left out, as record groups without data are.
struct SeriesQueryExecutor {
    let query: SignalQuery
    let configuration: StoreConfiguration

    /// Mean utilisation above which a GPU counts as busy for `gpus.used` (without reservations).
    static let busyUtilization = 0.05
    /// The family that `gpus.*` count.
    static let gpuFamily = "gpu.utilization"

    static func unknownSignal(_ name: String) -> QueryError {
        QueryError(parameter: "signal", message: "unknown signal \"\(name)\" (neither a record signal, a series signal, nor a stored family)")
    }

    /// Answers the query; `shared` (for a batch's queries of one shape) lends the series reader
    /// and the series points already read for an earlier query.
    func run(_ db: Database, shared: SeriesReadCache? = nil) throws -> SignalResult {
        // What the name is: canonical signals answer even before any series is stored.
        let definition: SignalDefinition
        let kind: SeriesSignalKind
        if let canonical = SeriesSignalCatalog.signal(named: query.signal) {
            definition = canonical.definition
            switch query.signal {
            case "gpus.total": kind = .gpus(.total)
            case "gpus.used": kind = .gpus(.used)
            case "gpus.free": kind = .gpus(.free)
            default: kind = .family(query.aggregation ?? canonical.aggregation)
            }
        } else if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM series WHERE name = ?)", arguments: [query.signal]) == true {
            definition = SignalDefinition(name: query.signal, unit: .unknown, description: "")
            kind = .family(query.aggregation ?? .sum)
        } else {
            throw Self.unknownSignal(query.signal)
        }
        var by: [String] = []
        for name in query.by where !by.contains(name) { by.append(name) }
        for (parameter, name) in by.map({ ("by", $0) }) + query.matchers.map({ ("match", $0.name) }) {
            // Labels are read with a quoted JSON path, which cannot hold a double quote.
            if name.isEmpty || name.contains("\"") {
                throw QueryError(parameter: parameter, message: "label \"\(name)\": series label names must be non-empty and cannot contain a double quote")
            }
        }
        try QueryPlanner.validateShape(query.shape)

        let reader = try shared?.reader(db, shape: query.shape, configuration: configuration)
            ?? SeriesReader(db, shape: query.shape, configuration: configuration)
        var groups: [[String]: GroupValues] = [:]
        switch kind {
        case .family(let aggregation):
            let series = try Self.loadSeries(db, family: query.signal, by: by, matchers: query.matchers)
            var scratch = reader.makeScratch()
            for s in series {
                try reader.read(s.id, into: &scratch)
                guard !scratch.touched.isEmpty else { continue }
                Self.withGroup(&groups, s.key, reader.grid.count) { $0.add(scratch, aggregation) }
                scratch.clear()
            }
        case .gpus(let count):
            groups = try gpus(db, reader, by: by, count: count)
        }

        var result: [([String], SignalSeries)] = []
        result.reserveCapacity(groups.count)
        for (key, group) in groups {
            var points: [SignalPoint] = []
            points.reserveCapacity(reader.grid.count)
            for p in 0..<reader.grid.count {
                points.append(SignalPoint(time: reader.grid.time(p), value: group.value(p)))
            }
            var labels: [String: String] = [:]
            for (name, v) in zip(by, key) { labels[name] = v }
            result.append((key, SignalSeries(labels: labels, points: points)))
        }
        result.sort { $0.0.lexicographicallyPrecedes($1.0) }
        return SignalResult(signal: definition.name, unit: definition.unit, series: result.map(\.1))
    }

    @inline(__always) static func withGroup(_ groups: inout [[String]: GroupValues], _ key: [String], _ count: Int, _ body: (inout GroupValues) -> Void) {
        body(&groups[key, default: GroupValues(count: count)])
    }

    /// A stored series selected by a query, with its group key (the `by` labels' values).
    struct SelectedSeries {
        var id: Int64
        var key: [String]
        /// The `endpoint` label (for `gpus.*`).
        var endpoint: String = ""
        /// Whether the matchers select it (`gpus.*` reads every GPU to share reservations).
        var matched: Bool = true
    }

    /// JSON path of a label in `series.labels`.
    static func path(_ label: String) -> String { "$.\"\(label)\"" }

    /// The series of a family that the matchers select (or, with `allWithFlag`, all of them with
    /// the matchers' verdict and their `endpoint` label).
    static func loadSeries(_ db: Database, family: String, by: [String], matchers: [LabelMatcher], allWithFlag: Bool = false) throws -> [SelectedSeries] {
        var select = ["id"]
        var arguments: [String] = []
        for name in by {
            select.append("IFNULL(labels ->> ?, '')")
            arguments.append(path(name))
        }
        // A matcher with value "" selects series without the label (empty values are never stored).
        let conditions = matchers.map { _ in "IFNULL(labels ->> ?, '') = ?" }
        let conditionArguments = matchers.flatMap { [path($0.name), $0.value] }
        var sql: String
        if allWithFlag {
            select.append("IFNULL(labels ->> '$.endpoint', '')")
            select.append(conditions.isEmpty ? "1" : "(\(conditions.joined(separator: " AND ")))")
            arguments += conditionArguments
            sql = "SELECT \(select.joined(separator: ", ")) FROM series WHERE name = ?"
            arguments.append(family)
        } else {
            sql = "SELECT \(select.joined(separator: ", ")) FROM series WHERE name = ?"
            arguments.append(family)
            for c in conditions { sql += " AND \(c)" }
            arguments += conditionArguments
        }
        sql += " ORDER BY id"
        let s = RawStatement(try db.cachedStatement(sql: sql), db)
        defer { s.reset() }
        for (k, v) in arguments.enumerated() { s.bind(Int32(k + 1), v) }
        var result: [SelectedSeries] = []
        while try s.step() {
            var key: [String] = []
            key.reserveCapacity(by.count)
            for k in 0..<by.count { key.append(s.text(Int32(1 + k))) }
            var entry = SelectedSeries(id: s.int64(0), key: key)
            if allWithFlag {
                entry.endpoint = s.text(Int32(1 + by.count))
                entry.matched = s.int64(Int32(2 + by.count)) != 0
            }
            result.append(entry)
        }
        return result
    }

    // MARK: gpus.*

    /// GPUs reserved on an endpoint: the sum of its reservations, or all of its GPUs
    /// (`gpus` x `instances`) when it has none (one model owns the endpoint).
    static func reserved(_ spec: EndpointSpec) -> Double {
        spec.reservations.isEmpty ? Double(spec.gpus * max(spec.instances, 1)) : spec.reservations.values.reduce(0, +)
    }

    /// Counts GPUs (distinct `gpu.utilization` series) per group and step.
    ///
    /// total: GPUs with a value in the step. used: with reservations configured (any endpoint of
    /// `StoreConfiguration.endpoints` has some), a GPU whose `endpoint` label names a configured
    /// endpoint counts as `reserved / reporting`, where `reserved` is that endpoint's reserved
    /// GPUs (see `reserved(_:)`) and `reporting` its GPUs with a value in the step (selected or
    /// not), at most 1: the reservation is spread evenly over the endpoint's GPUs, so grouping by
    /// `instance` splits it and the groups add up to `min(reserved, reporting)`. Other GPUs, and
    /// all GPUs without reservations configured, are used when their value (the step's mean
    /// utilisation; the latest value for an instant) is above 0.05. free: total - used.
    func gpus(_ db: Database, _ reader: SeriesReader, by: [String], count: SeriesSignalKind.GPUCount) throws -> [[String]: GroupValues] {
        let catalog = configuration.endpoints.endpoints
        let reservations = catalog.values.contains { !$0.reservations.isEmpty }
        let all = try Self.loadSeries(db, family: Self.gpuFamily, by: by, matchers: query.matchers, allWithFlag: true)
        let selectedEndpoints = Set(all.filter(\.matched).map(\.endpoint))
        let n = reader.grid.count
        var scratch = reader.makeScratch()
        // GPUs reporting per configured endpoint and step, over every GPU of the endpoint.
        var reporting: [String: [Double]] = [:]
        // Per group: total, used.
        var totals: [[String]: (total: [Double], used: [Double])] = [:]
        // Per group and configured endpoint: its selected GPUs reporting, to share the reservation.
        var shares: [[String]: [String: [Double]]] = [:]
        for s in all {
            let spec = reservations ? catalog[s.endpoint] : nil
            // Unselected GPUs matter only to share a selected endpoint's reservation.
            guard s.matched || (spec != nil && selectedEndpoints.contains(s.endpoint)) else { continue }
            try reader.read(s.id, into: &scratch)
            defer { scratch.clear() }
            if spec != nil {
                for p in scratch.touched { reporting[s.endpoint, default: [Double](repeating: 0, count: n)][p] += 1 }
            }
            guard s.matched, !scratch.touched.isEmpty else { continue }
            var entry = totals[s.key] ?? ([Double](repeating: 0, count: n), [Double](repeating: 0, count: n))
            for p in scratch.touched {
                entry.total[p] += 1
                if spec == nil, scratch.value[p] > Self.busyUtilization { entry.used[p] += 1 }
            }
            totals[s.key] = entry
            if spec != nil {
                for p in scratch.touched { shares[s.key, default: [:]][s.endpoint, default: [Double](repeating: 0, count: n)][p] += 1 }
            }
        }
        var groups: [[String]: GroupValues] = [:]
        for (key, entry) in totals {
            var group = GroupValues(count: n)
            for p in 0..<n where entry.total[p] > 0 {
                var used = entry.used[p]
                for (endpoint, selected) in shares[key] ?? [:] where selected[p] > 0 {
                    let fraction = min(1, Self.reserved(catalog[endpoint]!) / reporting[endpoint]![p])
                    used += selected[p] * fraction
                }
                let value: Double
                switch count {
                case .total: value = entry.total[p]
                case .used: value = used
                case .free: value = entry.total[p] - used
                }
                group.set(p, value)
            }
            groups[key] = group
        }
        return groups
    }
}

/// One series' values per point: `value[p]` is valid for the points in `touched`.
struct SeriesScratch {
    var sum: [Double]
    var count: [Int64]
    var value: [Double]
    var touched: [Int] = []

    init(count n: Int) {
        sum = [Double](repeating: 0, count: n)
        count = [Int64](repeating: 0, count: n)
        value = [Double](repeating: 0, count: n)
    }

    /// Resets the touched points only: a series with data in a few of a long grid's points
    /// costs a few writes, not the whole grid.
    mutating func clear() {
        for p in touched {
            sum[p] = 0
            count[p] = 0
        }
        touched.removeAll(keepingCapacity: true)
    }
}

/// A group's combined values per point.
struct GroupValues {
    var values: [Double]
    /// Series that contributed to each point (0: no value).
    var series: [Int32]
    /// Whether `values` hold sums to divide by `series` when read (the `mean` aggregation).
    var meanPoints = false

    init(count n: Int) {
        values = [Double](repeating: 0, count: n)
        series = [Int32](repeating: 0, count: n)
    }

    mutating func add(_ s: SeriesScratch, _ aggregation: SeriesAggregation) {
        for p in s.touched {
            let v = s.value[p]
            if series[p] == 0 {
                values[p] = v
            } else {
                switch aggregation {
                case .sum, .mean: values[p] += v
                case .max: values[p] = Swift.max(values[p], v)
                case .min: values[p] = Swift.min(values[p], v)
                }
            }
            series[p] += 1
        }
        if aggregation == .mean { meanPoints = true }
    }

    mutating func set(_ p: Int, _ v: Double) {
        values[p] = v
        series[p] = 1
    }

    func value(_ p: Int) -> Double? {
        guard series[p] > 0 else { return nil }
        let v = meanPoints ? values[p] / Double(series[p]) : values[p]
        return v.isFinite ? v : nil
    }
}

/// Reads one series' values on a query's grid from the tier that answers it.
///
/// Tier choice, as for record rollups: a tier covers a time when its retention reaches from
/// there to the query's end (so answers do not change when retention runs) and retention has not
/// yet deleted it there. The finest tier covering the query's start sets the resolution: with
/// minute (hour) downsamples, a range step is rounded up to a whole number of minutes (hours).
/// Values are then read from the coarsest covering tier whose buckets divide the step: a step's
/// mean is the same from raw points, minute sums/counts or hour sums/counts, and coarser rows
/// are far fewer (30 days at 1 h steps reads 720 hour rows per series, not 43,200 minutes).
/// What the series queries of one shape in a batch share: one reader (its tier and statements),
/// and each series' points once read. The Overview asks for `gpu.utilization` per GPU and for
/// `gpus.total`, `gpus.used` and `gpus.free`, which all read the same GPU series.
final class SeriesReadCache {
    private var shared: SeriesReader?
    var points: [Int64: SeriesScratch] = [:]

    init() {}

    /// The reader for `shape`, made once (all queries given this cache have the same shape).
    func reader(_ db: Database, shape: SignalQuery.Shape, configuration: StoreConfiguration) throws -> SeriesReader {
        let made = try shared ?? SeriesReader(db, shape: shape, configuration: configuration)
        shared = made
        // Only the copy handed out refers to this cache (the kept one would be a cycle).
        var reader = made
        reader.cache = self
        return reader
    }
}

struct SeriesReader {
    /// Series points read by earlier queries of the same batch and shape.
    var cache: SeriesReadCache?
    let grid: PointGrid
    let tier: SeriesTier
    let instant: Bool
    /// What to read for one series: statements over `[low, high)`, latest data first (for an
    /// instant, the first that has a row answers). One part, except for the hour tier: folded
    /// hours from `series_hours`, the hours after the fold watermark from `series_minutes`.
    let parts: [(statement: RawStatement, low: Int64, high: Int64)]

    init(_ db: Database, shape: SignalQuery.Shape, configuration: StoreConfiguration) throws {
        var horizons: [SeriesTier: Int64] = [:]
        for tier in SeriesTier.allCases {
            horizons[tier] = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [tier.horizonKey]) ?? .min
        }
        let queryStart: Int64
        let queryEnd: Int64
        switch shape {
        case .range(let from, let to, _): (queryStart, queryEnd) = (from, to)
        case .instant(let at, let window): (queryStart, queryEnd) = (at - window, at)
        }
        func covers(_ tier: SeriesTier, _ t: Int64) -> Bool {
            let (earliest, overflow) = queryEnd.subtractingReportingOverflow(tier.retention(configuration))
            if !overflow, t < earliest { return false }
            let h = horizons[tier] ?? .min
            return h == .min || Timestamp.floor(t, toMultipleOf: tier.size) + tier.size > h
        }
        let finest = SeriesTier.allCases.first { covers($0, queryStart) } ?? .hour
        let low: Int64
        let high: Int64
        switch shape {
        case .range(let from, let to, let step):
            let effective = QueryExecutor.ceil(step, finest.size)
            grid = .range(from: from, to: to, step: effective)
            tier = SeriesTier.allCases.reversed().first { $0 >= finest && effective % $0.size == 0 && covers($0, queryStart) } ?? finest
            instant = false
            // Buckets are whole inside points (the step is a multiple of the bucket, the grid aligned).
            low = grid.t0
            high = grid.end
        case .instant(let at, let window):
            grid = PointGrid(t0: at - window, step: window, count: 1)
            tier = finest
            instant = true
            // The latest bucket overlapping the window stands for its latest point.
            low = Timestamp.floor(at - window, toMultipleOf: tier.size)
            high = at
        }
        let order = instant ? " ORDER BY bucket DESC LIMIT 1" : ""
        func downsamples(_ table: String) throws -> RawStatement {
            RawStatement(try db.cachedStatement(sql: "SELECT bucket, sum, count FROM \(table) WHERE series_id = ? AND bucket >= ? AND bucket < ?" + order), db)
        }
        switch tier {
        case .raw:
            // Ranges average the finite values; an instant takes the latest point, whatever it is.
            let sql = instant
                ? "SELECT time, value, 1 FROM series_points WHERE series_id = ? AND time >= ? AND time < ? ORDER BY time DESC LIMIT 1"
                : "SELECT time, value, 1 FROM series_points WHERE series_id = ? AND time >= ? AND time < ? AND value IS NOT NULL"
            parts = [(RawStatement(try db.cachedStatement(sql: sql), db), low, high)]
        case .minute:
            parts = [(try downsamples("series_minutes"), low, high)]
        case .hour:
            let folded = try Int64.fetchOne(db, sql: SeriesSQL.selectFolded) ?? .min
            parts = [
                (try downsamples("series_minutes"), max(low, folded), high),
                (try downsamples("series_hours"), low, min(high, folded)),
            ].filter { $0.1 < $0.2 }
        }
    }

    func makeScratch() -> SeriesScratch { SeriesScratch(count: grid.count) }

    /// Fills `scratch` with the series' value at each point it has one (scratch must be clear).
    func read(_ id: Int64, into scratch: inout SeriesScratch) throws {
        if let cache {
            if let cached = cache.points[id] {
                scratch = cached
                return
            }
            try readStored(id, into: &scratch)
            cache.points[id] = scratch
            return
        }
        try readStored(id, into: &scratch)
    }

    private func readStored(_ id: Int64, into scratch: inout SeriesScratch) throws {
        let t0 = grid.t0
        let step = grid.step
        let n = Int64(grid.count)
        for part in parts {
            let s = part.statement
            s.bind(1, id)
            s.bind(2, part.low)
            s.bind(3, part.high)
            defer { sqlite3_reset(s.handle) }
            if instant {
                guard try s.step() else { continue }
                // The latest point; NULL (a stale marker, or no finite value) means absent.
                let count = s.int64(2)
                if !s.isNull(1), count > 0 {
                    scratch.value[0] = s.double(1) / Double(count)
                    scratch.touched.append(0)
                }
                return
            }
            while try s.step() {
                let t = s.int64(0)
                guard t >= t0 else { continue }
                let p64 = (t - t0) / step
                guard p64 < n else { continue }
                let p = Int(p64)
                if scratch.count[p] == 0 { scratch.touched.append(p) }
                scratch.sum[p] += s.double(1)
                scratch.count[p] += s.int64(2)
            }
        }
        if !instant {
            for p in scratch.touched { scratch.value[p] = scratch.sum[p] / Double(scratch.count[p]) }
        }
    }
}

// MARK: Families

enum SeriesFamilies {
    static func list(_ db: Database) throws -> [SeriesFamilyInfo] {
        // Per series, the latest raw point, else the latest downsample: each a seek on a primary key.
        let rows = try Row.fetchAll(db, sql: """
            SELECT name, count(*) AS n, max(COALESCE(
                (SELECT max(time) FROM series_points WHERE series_id = series.id),
                (SELECT max(bucket) FROM series_minutes WHERE series_id = series.id),
                (SELECT max(bucket) FROM series_hours WHERE series_id = series.id))) AS last
            FROM series GROUP BY name ORDER BY name
            """)
        return rows.map { SeriesFamilyInfo(name: $0["name"], series: $0["n"], lastSample: $0["last"]) }
    }
}
