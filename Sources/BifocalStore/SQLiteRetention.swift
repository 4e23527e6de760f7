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

        if let cap = config.maxSizeBytes {
            report.recordsDeleted += try await enforceCap(cap)
        }
        return report
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

    /// Deletes the oldest raw records in chunks until the database and WAL fit in `cap` bytes
    /// (or no raw record is left: rollups are never deleted for size).
    private func enforceCap(_ cap: Int64) async throws -> Int {
        var deleted = 0
        var size = store.capSize()
        guard size > cap else { return 0 }
        // Free pages left by earlier deletes may be enough.
        try await shrink()
        size = store.capSize()
        var rounds = 0
        while size > cap, rounds < 1000 {
            rounds += 1
            let count = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'records'") ?? 0
            }
            guard count > 0 else { break }
            // Records' share of the file is at most all of it: the estimate errs on the small side,
            // and the loop deletes more when the first chunk was not enough.
            let fraction = Double(size - cap) / Double(size)
            let n = min(count, max(100, Int((Double(count) * fraction * 1.1).rounded(.up))))
            deleted += try await deleteOldest(where: "1", limit: n)
            try await shrink()
            size = store.capSize()
        }
        return deleted
    }
}
