import BifocalCore
import GRDB

/// One retention pass over a `SQLiteStore`.
struct Retention {
    let store: SQLiteStore

    /// Rows deleted per transaction, so that a large pass never holds the writer for long.
    static let chunk = 20_000

    func run(now: Int64) async throws -> RetentionReport {
        let config = store.configuration
        var report = RetentionReport()

        // Raw records (their texts go with them: ON DELETE CASCADE).
        let rawCutoff = now.subtractingReportingOverflow(config.rawRetention).partialValue
        while true {
            let deleted = try await deleteOldest(where: "start < \(rawCutoff)", limit: Self.chunk)
            report.recordsDeleted += deleted
            if deleted < Self.chunk { break }
        }

        // Texts, then rollup buckets that ended before their tier's cutoff.
        let textCutoff = now.subtractingReportingOverflow(config.textRetention).partialValue
        let (texts, rollups) = try await store.pool.writeWithoutTransaction { [writer = store.writer] db -> (Int, Int) in
            var texts = 0
            var rollups = 0
            try db.inTransaction(.immediate) {
                try db.execute(sql: "DELETE FROM texts WHERE start < ?", arguments: [textCutoff])
                texts = db.changesCount
                for (tier, retention) in [(Tier.minute, config.minuteRetention), (.hour, config.hourRetention), (.day, config.dayRetention)] {
                    let cutoff = now.subtractingReportingOverflow(retention).partialValue
                    try db.execute(sql: "DELETE FROM rollups WHERE tier = ? AND bucket <= ?",
                                   arguments: [tier.rawValue, cutoff.subtractingReportingOverflow(tier.size).partialValue])
                    rollups += db.changesCount
                    try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE key = ?", arguments: [cutoff, "horizon.\(tier.name)"])
                }
                return .commit
            }
            writer.cache.removeAll()
            return (texts, rollups)
        }
        report.textsCleared = texts
        report.rollupsDeleted = rollups

        try await expireSeries(now: now, &report)

        if let cap = config.maxSizeBytes {
            let (records, points) = try await enforceCap(cap)
            report.recordsDeleted += records
            report.pointsDeleted += points
        }
        return report
    }

    /// Series ids, in chunks of this many per transaction.
    static let seriesChunk = 256

    /// Folds the hours that ended by `now` into hour rows, deletes raw points, minute and hour
    /// downsamples past their retention, series by series (each a range on the primary key, so
    /// no index on time is needed), then the series that have nothing left. Minutes not folded
    /// yet are kept whatever their age.
    private func expireSeries(now: Int64, _ report: inout RetentionReport) async throws {
        let config = store.configuration
        let folded = try await store.pool.writeWithoutTransaction { db -> Int64 in
            try SeriesWriter.foldHours(until: Timestamp.floor(now, toMultipleOf: Timestamp.microsPerHour), db)
            return try Int64.fetchOne(db, sql: SeriesSQL.selectFolded) ?? .min
        }
        let cutoffs = SeriesTier.allCases.map { tier in
            let cutoff = now.subtractingReportingOverflow(tier.retention(config)).partialValue
            return tier == .minute ? min(cutoff, folded) : cutoff
        }
        let ids = try await store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM series ORDER BY id") }
        var chunkStart = 0
        repeat {
            let chunk = Array(ids[chunkStart..<min(chunkStart + Self.seriesChunk, ids.count)])
            chunkStart += Self.seriesChunk
            let isLast = chunkStart >= ids.count
            let (points, downsamples) = try await store.pool.writeWithoutTransaction { db -> (Int, Int) in
                var points = 0
                var downsamples = 0
                try db.inTransaction(.immediate) {
                    let deletes = try SeriesTier.allCases.map { tier in
                        // A downsample goes once its bucket has ended at or before the cutoff.
                        let sql = tier == .raw
                            ? "DELETE FROM series_points WHERE series_id = ? AND time < ?"
                            : "DELETE FROM \(tier.table!) WHERE series_id = ? AND bucket <= ?"
                        return RawStatement(try db.cachedStatement(sql: sql), db)
                    }
                    defer { deletes.forEach { $0.reset() } }
                    for id in chunk {
                        for tier in SeriesTier.allCases {
                            let s = deletes[tier.rawValue]
                            s.bind(1, id)
                            s.bind(2, cutoffs[tier.rawValue].subtractingReportingOverflow(tier == .raw ? 0 : tier.size).partialValue)
                            try s.run()
                            if tier == .raw { points += s.changes } else { downsamples += s.changes }
                        }
                    }
                    if points > 0 {
                        try db.execute(sql: "UPDATE meta SET value = value - ? WHERE key = 'points'", arguments: [points])
                    }
                    if isLast {
                        // The last chunk records the horizons: queries reaching past them use coarser tiers.
                        for tier in SeriesTier.allCases {
                            try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE key = ?",
                                           arguments: [cutoffs[tier.rawValue], tier.horizonKey])
                        }
                    }
                    return .commit
                }
                return (points, downsamples)
            }
            report.pointsDeleted += points
            report.downsamplesDeleted += downsamples
        } while chunkStart < ids.count
        report.seriesDeleted = try await deleteEmptySeries()
    }

    /// Deletes series with no point and no downsample left, and forgets cached ids (a later
    /// sample of such a series creates it again, with a new id).
    private func deleteEmptySeries() async throws -> Int {
        try await store.pool.writeWithoutTransaction { [seriesWriter = store.seriesWriter] db -> Int in
            var deleted = 0
            try db.inTransaction(.immediate) {
                try db.execute(sql: """
                    DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM series_points WHERE series_id = series.id)
                        AND NOT EXISTS (SELECT 1 FROM series_minutes WHERE series_id = series.id)
                        AND NOT EXISTS (SELECT 1 FROM series_hours WHERE series_id = series.id)
                    """)
                deleted = db.changesCount
                return .commit
            }
            if deleted > 0 { seriesWriter.ids.removeAll() }
            return deleted
        }
    }

    /// Deletes up to `limit` of the oldest records matching `condition`; returns how many.
    private func deleteOldest(where condition: String, limit: Int) async throws -> Int {
        try await store.pool.writeWithoutTransaction { db -> Int in
            var deleted = 0
            try db.inTransaction(.immediate) {
                try db.execute(sql: """
                    DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE \(condition) ORDER BY start LIMIT \(limit))
                    """)
                deleted = db.changesCount
                if deleted > 0 {
                    try db.execute(sql: "UPDATE meta SET value = value - ? WHERE key = 'records'", arguments: [deleted])
                }
                return .commit
            }
            return deleted
        }
    }

    /// Gives free pages back to the file system and empties the WAL.
    private func shrink() async throws {
        try await store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA incremental_vacuum")
            _ = try? db.checkpoint(.truncate)
        }
    }

    /// Deletes the oldest raw records and the oldest raw series points in chunks until the
    /// database and WAL fit in `cap` bytes (or neither is left: rollups and downsamples are never
    /// deleted for size). Each round takes the same share of both kinds, the oldest of each.
    /// Returns (records, points) deleted.
    private func enforceCap(_ cap: Int64) async throws -> (Int, Int) {
        var deleted = 0
        var pointsDeleted = 0
        var size = store.capSize()
        guard size > cap else { return (0, 0) }
        // Free pages left by earlier deletes may be enough.
        try await shrink()
        size = store.capSize()
        var rounds = 0
        while size > cap, rounds < 1000 {
            rounds += 1
            let (count, points) = try await store.pool.read { db in
                (try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'records'") ?? 0,
                 try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'points'") ?? 0)
            }
            guard count > 0 || points > 0 else { break }
            // Records' share of the file is at most all of it: the estimate errs on the small side,
            // and the loop deletes more when the first chunk was not enough.
            let fraction = Double(size - cap) / Double(size)
            if count > 0 {
                let n = min(count, max(100, Int((Double(count) * fraction * 1.1).rounded(.up))))
                deleted += try await deleteOldest(where: "1", limit: n)
            }
            if points > 0 {
                pointsDeleted += try await deleteOldestPoints(fraction: min(1, fraction * 1.1))
            }
            try await shrink()
            size = store.capSize()
        }
        return (deleted, pointsDeleted)
    }

    /// Deletes the raw points in the oldest `fraction` of the time the points span (at least the
    /// oldest timestamp), and moves the raw horizon there so that queries read downsamples instead.
    private func deleteOldestPoints(fraction: Double) async throws -> Int {
        try await store.pool.writeWithoutTransaction { db -> Int in
            var deleted = 0
            try db.inTransaction(.immediate) {
                // Per series, its oldest and newest point: two seeks on the primary key each.
                let row = try Row.fetchOne(db, sql: """
                    SELECT min((SELECT min(time) FROM series_points WHERE series_id = series.id)),
                           max((SELECT max(time) FROM series_points WHERE series_id = series.id))
                    FROM series
                    """)
                guard let row, let oldest = row[0] as Int64?, let newest = row[1] as Int64? else { return .commit }
                let span = Double(newest - oldest)
                let cutoff = oldest + max(1, Int64((span * fraction).rounded(.up)))
                let ids = try Int64.fetchAll(db, sql: "SELECT id FROM series")
                let s = RawStatement(try db.cachedStatement(sql: "DELETE FROM series_points WHERE series_id = ? AND time < ?"), db)
                defer { s.reset() }
                for id in ids {
                    s.bind(1, id)
                    s.bind(2, cutoff)
                    try s.run()
                    deleted += s.changes
                }
                try db.execute(sql: "UPDATE meta SET value = value - ? WHERE key = 'points'", arguments: [deleted])
                try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE key = ?", arguments: [cutoff, SeriesTier.raw.horizonKey])
                return .commit
            }
            return deleted
        }
    }
}
