public import BifocalCore
import Foundation
import GRDB
import GRDBSQLite

/// The embedded store: one SQLite file (WAL, `synchronous=FULL`) in the data folder, owned by
/// one process through an `flock` on `bifocal.lock`.
///
/// Raw records go to `records` (texts apart in `texts`), and every insert updates minute, hour
/// and day rollups per (endpoint, model, component, variant, tenant) in the same transaction, so
/// an acknowledged batch is durable and complete, and a failed one leaves nothing behind.
/// Signal queries read rollups, and scan raw records only for labels rollups do not keep.
///
/// Series samples (scrapes, GPU sampler, OTLP metrics) go to `series` (one row per name +
/// labels) and `series_points`, and every insert upserts per-minute downsamples (min, max, sum,
/// count) in the same transaction; the retention pass folds each ended hour's minutes into an
/// hour downsample (late points for a folded hour update it at insert). Series signals read
/// whichever tier answers.
///
/// Query conventions (see `query(_:)`): range points start at `from` floored to a multiple of
/// `step`; an instant query's single point is stamped `at - window` (the start of the interval it
/// covers, as `SignalPoint.time` says).
public final class SQLiteStore: Store {
    /// The configuration the store was opened with.
    public let configuration: StoreConfiguration
    /// The SQLite file's path.
    public let databasePath: String

    /// The database file's name inside the data folder.
    public static let databaseFileName = SQLiteSchema.fileName
    /// The lock file's name inside the data folder.
    public static let lockFileName = FolderLock.fileName

    let pool: DatabasePool
    private let lock: FolderLock
    let writer: WriterState
    let seriesWriter = SeriesWriter()
    private let closedMutex = PthreadMutex()
    nonisolated(unsafe) private var closed = false

    private init(configuration: StoreConfiguration, databasePath: String, pool: DatabasePool, lock: FolderLock) {
        self.configuration = configuration
        self.databasePath = databasePath
        self.pool = pool
        self.lock = lock
        self.writer = WriterState(configuration: configuration)
    }

    /// Opens (creating when missing) the store in `configuration.directory`, takes the folder's
    /// lock and migrates the schema. Throws `StoreError` with code `.locked` when another process
    /// (or another open store in this one) holds the folder, `.incompatible` when the database was
    /// written by a newer version, `.io` otherwise.
    public static func open(_ configuration: StoreConfiguration) throws -> SQLiteStore {
        let directory = configuration.directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(code: .io, message: "cannot create data folder \(directory)", cause: error)
        }
        let lock = try FolderLock(directory: directory)
        let path = (directory as NSString).appendingPathComponent(SQLiteSchema.fileName)
        do {
            var config = Configuration()
            config.label = "bifocal"
            config.prepareDatabase { db in
                // A 2xx means committed to disk: fsync the WAL on every commit.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA cache_size = -16384")
                // Queries read rollup pages through the mapping instead of copying them.
                try db.execute(sql: "PRAGMA mmap_size = 67108864")
                // Checkpoint every 64 MiB of WAL rather than 4 MiB: pages that many batches dirty
                // (index pages, current rollup rows) are copied into the database file once.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            }
            let pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in
                // auto_vacuum can only be chosen before the first table exists; INCREMENTAL lets
                // the size cap give pages back to the file system. The database is already in WAL
                // mode (its header is written), so the change takes a VACUUM of the empty file.
                let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
                if tables == 0 {
                    try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
                    try db.execute(sql: "VACUUM")
                }
                if try SQLiteSchema.migrator.hasBeenSuperseded(db) {
                    throw StoreError(code: .incompatible, message: "database \(path) was written by a newer version of Bifocal")
                }
            }
            try SQLiteSchema.migrator.migrate(pool)
            return SQLiteStore(configuration: configuration, databasePath: path, pool: pool, lock: lock)
        } catch let error as StoreError {
            lock.release()
            throw error
        } catch {
            lock.release()
            throw StoreError(code: .io, message: "cannot open database \(path)", cause: error)
        }
    }

    private func ensureOpen() throws {
        let isClosed = closedMutex.locked { closed }
        if isClosed { throw StoreError(code: .io, message: "store \(databasePath) is closed") }
    }

    /// Runs `body`, turning database failures into `StoreError(.io)` (query errors pass through).
    private func guarded<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        try ensureOpen()
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch let error as QueryError {
            throw error
        } catch {
            throw StoreError(code: .io, message: "\(what) failed on \(databasePath)", cause: error)
        }
    }

    // MARK: Store

    /// Stores the batch and updates rollups in one transaction; returns once it is on disk.
    /// Records whose id is already stored (or repeated earlier in the batch) are reported in
    /// `duplicates` and neither stored nor counted in rollups.
    public func insert(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        guard !records.isEmpty else { return SinkOutcome(accepted: 0) }
        // Aggregate the batch into minute rollup deltas before queueing for the writer, so that
        // this work runs on the caller's thread, in parallel with other batches' SQLite work.
        let deltas = WriterState.minuteDeltas(records, skipping: [])
        let encoded = EncodedRecordParts(records)
        return try await guarded("insert") {
            try await pool.writeWithoutTransaction { [writer] db in
                try writer.insert(records, deltas: deltas, encoded: encoded, db)
            }
        }
    }

    /// Stores series points and upserts their minute downsamples (and hour ones, for hours
    /// already folded) in one transaction; returns once it is on disk, with how many points
    /// were stored.
    ///
    /// Samples with an empty name are skipped; label values that are empty are dropped (Prometheus
    /// treats them as absent). A point at a (series, time) already stored (or repeated in the
    /// batch) is ignored: the first value stays, as Prometheus keeps the first of duplicate
    /// samples, and downsamples count every point once. Stale markers, other NaNs and infinities
    /// are stored as NULL ("no value") and left out of downsamples. Out-of-order points are
    /// added to the minute (and folded hour) they belong to.
    public func insertSeries(_ samples: [SeriesSample]) async throws -> Int {
        guard !samples.isEmpty else { return 0 }
        // The series keys (canonical labels and their hashes) are made on the caller's thread, in
        // parallel with other batches' SQLite work, as records' rollup deltas are.
        let keys = SeriesKey.keys(of: samples)
        return try await guarded("series insert") {
            try await pool.writeWithoutTransaction { [seriesWriter] db in
                try seriesWriter.insert(samples, keys: keys, db)
            }
        }
    }

    /// The stored families with their number of series and latest sample time, by name.
    public func seriesFamilies() async throws -> [SeriesFamilyInfo] {
        try await guarded("series families") {
            try await pool.read { db in try SeriesFamilies.list(db) }
        }
    }

    /// Answers a signal query: record signals from rollups (or raw records for labels rollups
    /// lack), series signals and stored families from series (see "Series signals" below).
    ///
    /// - Range: points at `floor(from, step) + k * step` while `< to`; each covers `[t, t + step)`.
    /// - Instant: one point stamped `at - window`, covering `[at - window, at)`.
    /// - Rollups are read at the finest tier that covers the query: its retention spans
    ///   `[from, to)` (so a 30-day window uses hours, minute retention being 2 days) and
    ///   retention has not yet deleted its bucket at `from`. Each point is assembled from the
    ///   coarsest whole buckets (day, hour, minute) that fit in it, so aligned answers are exact
    ///   at minute resolution, and a bucket belongs to the point that contains its start. When
    ///   the finest covering tier is hours (or days), the step is rounded up to a multiple of
    ///   that bucket: points are coarser than asked, and their times show it.
    /// - Grouping or matching on other labels scans raw records (within raw retention) with the
    ///   exact step, and sets `scannedRawRecords`.
    ///
    /// Series signals: a name that is not a record signal is a canonical series signal
    /// (`SeriesSignalCatalog`, answered even with nothing stored) or a stored family's name;
    /// anything else throws `QueryError` on `signal`. Any label can be grouped or matched (a
    /// matcher's "" selects series without the label).
    /// - Range: each series' mean of its finite points per step, then the group's series
    ///   combined with `query.aggregation` (default: the catalog's; `sum` for a family). Raw
    ///   points answer within `seriesRawRetention`, minute downsamples (sum / count) before
    ///   that, hour downsamples beyond `seriesMinuteRetention`; the step is rounded up to whole
    ///   minutes (hours) when the start is past raw (minute) retention, as for record rollups.
    /// - Instant: each series' latest point in `[at - window, at)`; a stale marker there means
    ///   the series ended and is left out. (Past raw retention, the latest downsample's mean.)
    /// - `gpus.total`, `gpus.used`, `gpus.free` count `gpu.utilization` series (one per GPU);
    ///   see `SeriesQueryExecutor.gpus` for how reservations make GPUs used. Unit: the catalog's,
    ///   `SignalUnit.unknown` for families.
    public func query(_ query: SignalQuery) async throws -> SignalResult {
        guard SignalCatalog.recordSignal(named: query.signal) != nil else {
            return try await guarded("query") {
                try await pool.read { [configuration] db in
                    try SeriesQueryExecutor(query: query, configuration: configuration).run(db)
                }
            }
        }
        let plan = try QueryPlanner.validate(query)
        return try await guarded("query") {
            try await pool.read { [configuration] db in
                try QueryExecutor(plan: plan, configuration: configuration).run(db)
            }
        }
    }

    /// One answer of a batch and its position. A struct rather than a tuple: release builds
    /// (Swift 6.3) of task groups collecting `(Int, SignalResult?)` tuples trapped or lost answers
    /// while debug builds did not (seen in the dashboard, which used to run queries that way).
    struct IndexedAnswer: Sendable {
        var index: Int
        var result: Result<SignalResult, QueryError>
    }

    /// What one shape's read transaction answers: batches of rollup plans with the same
    /// matchers, and queries answered one by one (series, raw scans).
    struct ShapeWork: Sendable {
        var shape: SignalQuery.Shape
        var batches: [(matchers: [LabelMatcher], plans: [(index: Int, plan: QueryPlan)])] = []
        var single: [(index: Int, query: SignalQuery, plan: QueryPlan?)] = []
    }

    /// Answers several queries as `query(_:)` answers each. Record signals asked over the same
    /// shape with the same matchers, on labels rollups keep, are read in one pass over the
    /// rollup rows (`RollupBatchExecutor`: each row's sketches decoded once for all of them);
    /// series signals and raw scans are answered one by one, the series ones of a shape reading
    /// each series once (`SeriesReadCache`). The queries of one shape share a read transaction;
    /// different shapes (a dashboard's cache chunks) are read concurrently.
    public func query(_ queries: [SignalQuery]) async throws -> [Result<SignalResult, QueryError>] {
        var results = [Result<SignalResult, QueryError>?](repeating: nil, count: queries.count)
        var work: [ShapeWork] = []
        var workIndex: [SignalQuery.Shape: Int] = [:]
        for (i, query) in queries.enumerated() {
            let w = workIndex[query.shape] ?? {
                work.append(ShapeWork(shape: query.shape))
                workIndex[query.shape] = work.count - 1
                return work.count - 1
            }()
            guard SignalCatalog.recordSignal(named: query.signal) != nil else {
                work[w].single.append((i, query, nil))
                continue
            }
            let plan: QueryPlan
            do { plan = try QueryPlanner.validate(query) } catch let error as QueryError {
                results[i] = .failure(error)
                continue
            }
            if plan.rawScan {
                work[w].single.append((i, query, plan))
            } else if let b = work[w].batches.firstIndex(where: { $0.matchers == plan.matchers }) {
                work[w].batches[b].plans.append((i, plan))
            } else {
                work[w].batches.append((plan.matchers, [(i, plan)]))
            }
        }
        let configuration = configuration
        try await withThrowingTaskGroup(of: [IndexedAnswer].self) { group in
            for shape in work where !(shape.batches.isEmpty && shape.single.isEmpty) {
                group.addTask {
                    try await self.guarded("query") {
                        try await self.pool.read { db in try Self.answer(shape, configuration: configuration, db) }
                    }
                }
            }
            for try await answers in group {
                for answer in answers { results[answer.index] = answer.result }
            }
        }
        // Every query was either rejected above or answered by its shape's task.
        return results.map { $0! }
    }

    /// Answers one shape's work on a read connection.
    static func answer(_ work: ShapeWork, configuration: StoreConfiguration, _ db: Database) throws -> [IndexedAnswer] {
        var answers: [IndexedAnswer] = []
        for batch in work.batches {
            if batch.plans.count == 1 {
                let (index, plan) = batch.plans[0]
                answers.append(IndexedAnswer(index: index, result: .success(try QueryExecutor(plan: plan, configuration: configuration).run(db))))
                continue
            }
            let results = try RollupBatchExecutor(plans: batch.plans.map(\.plan), configuration: configuration).run(db)
            for ((index, _), result) in zip(batch.plans, results) {
                answers.append(IndexedAnswer(index: index, result: .success(result)))
            }
        }
        let series = SeriesReadCache()
        for (index, query, plan) in work.single {
            do {
                let result = if let plan {
                    try QueryExecutor(plan: plan, configuration: configuration).run(db)
                } else {
                    try SeriesQueryExecutor(query: query, configuration: configuration).run(db, shared: series)
                }
                answers.append(IndexedAnswer(index: index, result: .success(result)))
            } catch let error as QueryError {
                answers.append(IndexedAnswer(index: index, result: .failure(error)))
            }
        }
        return answers
    }

    /// Deletes raw records past `rawRetention`, clears texts past `textRetention`, deletes
    /// rollup buckets that ended before each tier's retention; folds the series minutes of hours
    /// ended by `now` into hour downsamples, deletes raw series points, minute and hour
    /// downsamples past `seriesRawRetention`, `seriesMinuteRetention`, `seriesHourRetention`
    /// (minutes not yet folded stay), and series with nothing left; then (with `maxSizeBytes`)
    /// deletes the oldest raw records and raw series points in chunks until the folder's files
    /// fit, giving pages back to the file system (incremental vacuum + WAL checkpoint(TRUNCATE)).
    public func enforceRetention(now: Int64) async throws -> RetentionReport {
        try await guarded("retention") {
            try await Retention(store: self).run(now: now)
        }
    }

    /// Record and point counts (counters kept in the insert transactions), series count, bytes
    /// of the database, WAL and shared-memory files, and the oldest record's start.
    public func statistics() async throws -> StoreStatistics {
        try await guarded("statistics") {
            var stats = try await pool.read { db -> StoreStatistics in
                let count = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'records'") ?? 0
                let oldest = try Int64.fetchOne(db, sql: "SELECT MIN(start) FROM records")
                let series = try Int.fetchOne(db, sql: "SELECT count(*) FROM series") ?? 0
                let points = try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'points'") ?? 0
                return StoreStatistics(records: count, sizeBytes: 0, oldestRecord: oldest, series: series, points: points)
            }
            stats.sizeBytes = fileSizes()
            return stats
        }
    }

    /// Closes the database (checkpointing the WAL) and releases the data folder's lock.
    /// Later calls throw `StoreError(.io)`; closing twice is harmless.
    public func close() async throws {
        let wasClosed = closedMutex.locked { () -> Bool in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        defer { lock.release() }
        do {
            try pool.close()
        } catch {
            throw StoreError(code: .io, message: "cannot close \(databasePath)", cause: error)
        }
    }

    /// Bytes taken by the database file, its WAL and its shared-memory file.
    func fileSizes() -> Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal", "-shm"] {
            var info = stat()
            if stat(databasePath + suffix, &info) == 0 { total += Int64(info.st_size) }
        }
        return total
    }

    /// Database + WAL bytes, what the size cap limits.
    func capSize() -> Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(databasePath + suffix, &info) == 0 { total += Int64(info.st_size) }
        }
        return total
    }
}

/// A batch's label JSON and token gap blobs, encoded before the batch reaches the writer (on the
/// caller's thread, in parallel with other batches' SQLite work), one after the other in `bytes`.
struct EncodedRecordParts: Sendable {
    var bytes: [UInt8] = []
    /// Each record's labels JSON in `bytes`; empty when it has no labels.
    var labels: [Range<Int>] = []
    /// Each record's token gaps blob in `bytes`; empty when it keeps no gaps.
    var gaps: [Range<Int>] = []

    init(_ records: [InferenceRecord]) {
        labels.reserveCapacity(records.count)
        gaps.reserveCapacity(records.count)
        var scratch: [UInt8] = []
        for r in records {
            var start = bytes.count
            if !r.labels.isEmpty {
                RecordEncoding.labelsJSON(r.labels, into: &scratch)
                bytes += scratch
            }
            labels.append(start..<bytes.count)
            start = bytes.count
            if let values = r.itlMs, !values.isEmpty {
                RecordEncoding.itlBlob(values, into: &scratch)
                bytes += scratch
            }
            gaps.append(start..<bytes.count)
        }
    }
}

/// A rollup row as stored: its row id (nil before its first write) and its values.
struct StoredRollup {
    var id: Int64?
    var values: RollupValues
}

/// State of the write path, touched only on the pool's writer queue (GRDB serialises writes):
/// a cache of the latest rollup rows so that consecutive batches do not re-read and re-decode
/// them.
final class WriterState: @unchecked Sendable {
    let configuration: StoreConfiguration
    /// Rollup rows (row id and values) as committed, for the buckets being written now.
    var cache: [RollupKey: StoredRollup] = [:]
    static let cacheLimit = 1024

    init(configuration: StoreConfiguration) {
        self.configuration = configuration
    }

    /// Minute rollup deltas of a batch, leaving out the records at `skipping` (duplicates).
    static func minuteDeltas(_ records: [InferenceRecord], skipping: Set<Int>) -> [RollupKey: RollupValues] {
        var minute: [RollupKey: RollupValues] = [:]
        for (position, r) in records.enumerated() where skipping.isEmpty || !skipping.contains(position) {
            minute[RollupKey(tier: .minute, bucket: r.minute, labels: RollupLabels(r)), default: RollupValues()].add(r)
        }
        return minute
    }

    func insert(_ records: [InferenceRecord], deltas: [RollupKey: RollupValues], encoded: EncodedRecordParts, _ db: Database) throws -> SinkOutcome {
        var outcome = SinkOutcome(accepted: 0)
        var written: [RollupKey: StoredRollup] = [:]
        do {
            try db.inTransaction(.immediate) {
                outcome = try encoded.bytes.withUnsafeBytes { bytes in
                    try insertBatch(records, deltas: deltas, encoded: encoded, bytes, db, written: &written)
                }
                return .commit
            }
        } catch {
            // The transaction rolled back: the cache may hold rows that never reached disk.
            cache.removeAll()
            throw error
        }
        for (key, values) in written { cache[key] = values }
        trimCache()
        return outcome
    }

    private func insertBatch(_ records: [InferenceRecord], deltas: [RollupKey: RollupValues], encoded: EncodedRecordParts,
                             _ bytes: UnsafeRawBufferPointer, _ db: Database, written: inout [RollupKey: StoredRollup]) throws -> SinkOutcome {
        let insert = RawStatement(try db.cachedStatement(sql: SQLiteSchema.insertRecordSQL), db)
        var texts: RawStatement?
        var duplicates: [Int] = []
        var accepted = 0
        defer { insert.reset() }
        for position in records.indices {
            // Every parameter starts NULL: only present fields are bound (fewer C calls).
            sqlite3_clear_bindings(insert.handle)
            let r = records[position]
            if let v = r.id { insert.bind(1, v) }
            insert.bind(2, r.start)
            if let v = r.endpoint { insert.bind(3, v) }
            if let v = r.model { insert.bind(4, v) }
            if let v = r.component { insert.bind(5, v) }
            if let v = r.variant { insert.bind(6, v) }
            if let v = r.instance { insert.bind(7, v) }
            if let v = r.copy { insert.bind(8, v) }
            insert.bind(9, r.status.rawValue)
            if let v = r.httpStatus { insert.bind(10, Int64(v)) }
            if let v = r.error { insert.bind(11, v) }
            if let v = r.streaming { insert.bind(12, Int64(v ? 1 : 0)) }
            if let v = r.inputTokens { insert.bind(13, Int64(v)) }
            if let v = r.outputTokens { insert.bind(14, Int64(v)) }
            if let v = r.ttftMs, v.isFinite { insert.bind(15, v) }
            if let v = r.e2eMs, v.isFinite { insert.bind(16, v) }
            if let v = r.queueMs, v.isFinite { insert.bind(17, v) }
            let gaps = encoded.gaps[position]
            if !gaps.isEmpty { insert.bindBlob(18, UnsafeRawBufferPointer(rebasing: bytes[gaps])) }
            if let v = r.itlMeanMs, v.isFinite { insert.bind(19, v) }
            if let v = r.itlMaxMs, v.isFinite { insert.bind(20, v) }
            if let v = r.finishReason { insert.bind(21, v) }
            insert.bind(22, Int64(r.tokensEstimated ? 1 : 0))
            insert.bind(23, r.source.rawValue)
            if let v = r.provider { insert.bind(24, v) }
            if let v = r.requestModel { insert.bind(25, v) }
            if let v = r.traceId { insert.bind(26, v) }
            if let v = r.spanId { insert.bind(27, v) }
            if let v = r.tenant { insert.bind(28, v) }
            let labels = encoded.labels[position]
            if !labels.isEmpty {
                _ = sqlite3_bind_text(insert.handle, 29, (bytes.baseAddress! + labels.lowerBound).assumingMemoryBound(to: CChar.self),
                                      Int32(labels.count), RawStatement.transient)
            }
            let before = sqlite3_total_changes64(insert.connection)
            try insert.run()
            if sqlite3_total_changes64(insert.connection) == before {
                // INSERT OR IGNORE skipped it: the only constraint that can is the unique id.
                duplicates.append(position)
                continue
            }
            accepted += 1
            if r.prompt != nil || r.response != nil || r.context != nil || r.reference != nil {
                if texts == nil { texts = RawStatement(try db.cachedStatement(sql: SQLiteSchema.insertTextsSQL), db) }
                let t = texts!
                t.bind(1, insert.lastInsertedRowID)
                t.bind(2, r.start)
                t.bind(3, r.prompt)
                t.bind(4, r.response)
                t.bind(5, r.context)
                t.bind(6, r.reference)
                try t.run()
            }
        }
        texts?.reset()
        if accepted > 0 {
            try db.execute(sql: "UPDATE meta SET value = value + ? WHERE key = 'records'", arguments: [accepted])
            // Duplicates are rare: only then are the deltas recomputed without them.
            let minute = duplicates.isEmpty ? deltas : Self.minuteDeltas(records, skipping: Set(duplicates))
            try writeRollups(minute, db, written: &written)
        }
        return SinkOutcome(accepted: accepted, duplicates: duplicates)
    }

    /// Folds the batch's minute aggregates into hour and day ones, then read-merge-writes each
    /// touched rollup row once.
    private func writeRollups(_ minute: [RollupKey: RollupValues], _ db: Database, written: inout [RollupKey: StoredRollup]) throws {
        var hour: [RollupKey: RollupValues] = [:]
        for (key, values) in minute {
            let k = RollupKey(tier: .hour, bucket: Timestamp.floor(key.bucket, toMultipleOf: Tier.hour.size), labels: key.labels)
            hour[k, default: RollupValues()].merge(values)
        }
        var day: [RollupKey: RollupValues] = [:]
        for (key, values) in hour {
            let k = RollupKey(tier: .day, bucket: Timestamp.floor(key.bucket, toMultipleOf: Tier.day.size), labels: key.labels)
            day[k, default: RollupValues()].merge(values)
        }
        let select = RawStatement(try db.cachedStatement(sql: SQLiteSchema.selectRollupSQL), db)
        let insert = RawStatement(try db.cachedStatement(sql: SQLiteSchema.insertRollupSQL), db)
        let update = RawStatement(try db.cachedStatement(sql: SQLiteSchema.updateRollupSQL), db)
        defer {
            select.reset()
            insert.reset()
            update.reset()
        }
        for tierRows in [minute, hour, day] {
            for (key, delta) in tierRows {
                var row = try cache[key] ?? Self.read(key, select)
                row.values.merge(delta)
                if let id = row.id {
                    Self.bindValues(row.values, update)
                    update.bind(23, id)
                    try update.run()
                } else {
                    Self.bindKey(key, insert)
                    Self.bindValues(row.values, insert)
                    try insert.run()
                    row.id = insert.lastInsertedRowID
                }
                written[key] = row
            }
        }
    }

    private static func bindKey(_ key: RollupKey, _ s: RawStatement) {
        s.bind(1, key.tier.rawValue)
        s.bind(2, key.bucket)
        s.bind(3, key.labels.endpoint)
        s.bind(4, key.labels.model)
        s.bind(5, key.labels.component)
        s.bind(6, key.labels.variant)
        s.bind(7, key.labels.tenant)
    }

    private static func read(_ key: RollupKey, _ s: RawStatement) throws -> StoredRollup {
        bindKey(key, s)
        defer { sqlite3_reset(s.handle) }
        var v = RollupValues()
        guard try s.step() else { return StoredRollup(id: nil, values: v) }
        v.requests = s.int64(1)
        v.clientErrors = s.int64(2)
        v.serverErrors = s.int64(3)
        v.modelErrors = s.int64(4)
        v.timeouts = s.int64(5)
        v.cancelled = s.int64(6)
        v.inputTokens = s.int64(7)
        v.outputTokens = s.int64(8)
        v.outputRequests = s.int64(9)
        v.e2eSeconds = s.double(10)
        v.ttft = s.sketch(11) ?? QuantileSketch()
        v.itl = s.sketch(12) ?? QuantileSketch()
        v.tpot = s.sketch(13) ?? QuantileSketch()
        v.e2e = s.sketch(14) ?? QuantileSketch()
        v.queue = s.sketch(15) ?? QuantileSketch()
        return StoredRollup(id: s.int64(0), values: v)
    }

    /// Binds the values at 8...22 (the positions of the insert, and of the update's SET).
    private static func bindValues(_ v: RollupValues, _ s: RawStatement) {
        s.bind(8, v.requests)
        s.bind(9, v.clientErrors)
        s.bind(10, v.serverErrors)
        s.bind(11, v.modelErrors)
        s.bind(12, v.timeouts)
        s.bind(13, v.cancelled)
        s.bind(14, v.inputTokens)
        s.bind(15, v.outputTokens)
        s.bind(16, v.outputRequests)
        s.bind(17, v.e2eSeconds)
        s.bind(18, sketch: v.ttft)
        s.bind(19, sketch: v.itl)
        s.bind(20, sketch: v.tpot)
        s.bind(21, sketch: v.e2e)
        s.bind(22, sketch: v.queue)
    }

    /// Keeps the cache small: only each tier's latest two buckets survive a trim.
    private func trimCache() {
        guard cache.count > Self.cacheLimit else { return }
        var latest: [Tier: Int64] = [:]
        for key in cache.keys { latest[key.tier] = max(latest[key.tier] ?? .min, key.bucket) }
        cache = cache.filter { key, _ in key.bucket >= latest[key.tier]! - key.tier.size }
        if cache.count > Self.cacheLimit { cache.removeAll() }
    }
}
