import GRDB

/// The SQLite schema, as named, append-only GRDB migrations. Never edit a shipped migration:
/// add a new one.
enum SQLiteSchema {
    /// The database file's name inside the data folder.
    static let fileName = "bifocal.sqlite"

    static let recordColumns = [
        "id", "start", "endpoint", "model", "component", "variant", "instance", "copy", "status",
        "http_status", "error", "streaming", "input_tokens", "output_tokens", "ttft_ms", "e2e_ms",
        "queue_ms", "itl", "itl_mean_ms", "itl_max_ms", "finish_reason", "tokens_estimated", "source",
        "provider", "request_model", "trace_id", "span_id", "tenant", "labels",
    ]

    static let rollupColumns = [
        "tier", "bucket", "endpoint", "model", "component", "variant", "tenant",
        "requests", "client_error", "server_error", "model_error", "timeout", "cancelled",
        "input_tokens", "output_tokens", "output_requests", "e2e_seconds",
        "ttft", "itl", "tpot", "e2e", "queue",
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-records-rollups") { db in
            // Counters and retention horizons. `records` is the number of raw records, kept in
            // the same transactions that insert and delete them (so statistics stay cheap).
            // `horizon.<tier>` is the latest retention cutoff applied to that tier: buckets
            // ending at or before it are gone, so queries reaching further back use a coarser tier.
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO meta (key, value) VALUES ('records', 0), ('horizon.minute', \(Int64.min)),
                    ('horizon.hour', \(Int64.min)), ('horizon.day', \(Int64.min));

                -- Raw inference records. Times: integer microseconds since the epoch; durations: ms.
                -- itl: little-endian Float32 gaps in ms; labels: a JSON object of strings (NULL when empty).
                CREATE TABLE records (
                    seq INTEGER PRIMARY KEY,
                    id TEXT,
                    start INTEGER NOT NULL,
                    endpoint TEXT, model TEXT, component TEXT, variant TEXT, instance TEXT, copy TEXT,
                    status TEXT NOT NULL,
                    http_status INTEGER, error TEXT, streaming INTEGER,
                    input_tokens INTEGER, output_tokens INTEGER,
                    ttft_ms REAL, e2e_ms REAL, queue_ms REAL,
                    itl BLOB, itl_mean_ms REAL, itl_max_ms REAL,
                    finish_reason TEXT, tokens_estimated INTEGER NOT NULL,
                    source TEXT NOT NULL, provider TEXT, request_model TEXT,
                    trace_id TEXT, span_id TEXT, tenant TEXT, labels TEXT
                );
                CREATE UNIQUE INDEX records_id ON records(id) WHERE id IS NOT NULL;
                CREATE INDEX records_start ON records(start);

                -- Captured texts, apart so that text retention can clear them on their own.
                CREATE TABLE texts (
                    record INTEGER PRIMARY KEY REFERENCES records(seq) ON DELETE CASCADE,
                    start INTEGER NOT NULL,
                    prompt TEXT, response TEXT, context TEXT, reference TEXT
                );
                CREATE INDEX texts_start ON texts(start);

                -- Rollups: tier = bucket length in seconds (60, 3600, 86400); bucket = its start.
                -- Latency sketches are QuantileSketch.encoded() of seconds; NULL when empty.
                -- A rowid table (not WITHOUT ROWID): rows with five sketches run to kilobytes and
                -- stay on one leaf page here, so a batch's update rewrites one page in place.
                CREATE TABLE rollups (
                    id INTEGER PRIMARY KEY,
                    tier INTEGER NOT NULL,
                    bucket INTEGER NOT NULL,
                    endpoint TEXT NOT NULL, model TEXT NOT NULL, component TEXT NOT NULL,
                    variant TEXT NOT NULL, tenant TEXT NOT NULL,
                    requests INTEGER NOT NULL,
                    client_error INTEGER NOT NULL, server_error INTEGER NOT NULL, model_error INTEGER NOT NULL,
                    timeout INTEGER NOT NULL, cancelled INTEGER NOT NULL,
                    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, output_requests INTEGER NOT NULL,
                    e2e_seconds REAL NOT NULL,
                    ttft BLOB, itl BLOB, tpot BLOB, e2e BLOB, queue BLOB
                );
                CREATE UNIQUE INDEX rollups_key ON rollups(tier, bucket, endpoint, model, component, variant, tenant);
                """)
        }
        migrator.registerMigration("v2-series") { db in
            // Scraped, sampled and received series. `labels` is the canonical label set: a JSON
            // object with sorted keys and no empty values ("{}" for none), so that the same set
            // always maps to the same row and queries can read single labels with `->>`.
            // `points` counts raw points like `records` counts records; `horizon.series.<tier>`
            // is the latest retention cutoff applied to that tier (see `horizon.<tier>` above).
            // `series.hours.folded` (written by the first fold; absent means nothing folded): hours
            // before it are folded into `series_hours` (by the retention pass, from minute rows);
            // later hours live only in `series_minutes`.
            // Points, minutes and hours are clustered by series, then time, so a query for a
            // few series reads contiguous pages; series ids are not foreign keys (retention
            // deletes a series only once it has no rows left, and no check slows inserts).
            try db.execute(sql: """
                INSERT INTO meta (key, value) VALUES ('points', 0), ('horizon.series.raw', \(Int64.min)),
                    ('horizon.series.minute', \(Int64.min)), ('horizon.series.hour', \(Int64.min));

                CREATE TABLE series (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    UNIQUE (name, labels)
                );

                -- Raw points; value NULL: a stale marker (the series ended) or a value that is not
                -- a finite number.
                CREATE TABLE series_points (
                    series_id INTEGER NOT NULL,
                    time INTEGER NOT NULL,
                    value REAL,
                    PRIMARY KEY (series_id, time)
                ) WITHOUT ROWID;

                -- Downsamples of the finite values: bucket = start of the minute (hour), in microseconds.
                CREATE TABLE series_minutes (
                    series_id INTEGER NOT NULL,
                    bucket INTEGER NOT NULL,
                    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
                    PRIMARY KEY (series_id, bucket)
                ) WITHOUT ROWID;
                CREATE TABLE series_hours (
                    series_id INTEGER NOT NULL,
                    bucket INTEGER NOT NULL,
                    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
                    PRIMARY KEY (series_id, bucket)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-records-scan-index") { db in
            // The record listing's index: time first (with the sequence number, so that it walks
            // newest first in exactly the listing's order), then every column a listing filters
            // on. A filter then runs on the index entries alone (about 100 bytes each) and only
            // matching records are read from the table (about 600 bytes each, more with token
            // gaps): a rare tenant's errors over 50,000 records costs a few ms instead of 100.
            // It replaces the plain start index, which every use of it can read the same way.
            try db.execute(sql: """
                CREATE INDEX records_scan ON records(start, seq, status, tenant, model, endpoint, component, variant, e2e_ms, ttft_ms);
                DROP INDEX records_start;
                """)
        }
        return migrator
    }

    /// Creates a database file migrated only up to `migration` (as an older Bifocal left it),
    /// then runs `sql` in it: tests use this to check that `SQLiteStore.open` upgrades old files.
    static func createDatabase(at path: String, upTo migration: String, sql: String = "") throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
        }
        try migrator.migrate(queue, upTo: migration)
        if !sql.isEmpty { try queue.write { db in try db.execute(sql: sql) } }
        try queue.close()
    }

    static let insertRecordSQL =
        "INSERT OR IGNORE INTO records (\(recordColumns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: recordColumns.count).joined(separator: ", ")))"

    static let insertTextsSQL =
        "INSERT INTO texts (record, start, prompt, response, context, reference) VALUES (?, ?, ?, ?, ?, ?)"

    static let insertRollupSQL =
        "INSERT INTO rollups (\(rollupColumns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: rollupColumns.count).joined(separator: ", ")))"

    /// Binds the values at 8...22 (as the insert does) and the row id at 23.
    static let updateRollupSQL =
        "UPDATE rollups SET \(rollupColumns[7...].enumerated().map { "\($1) = ?\($0 + 8)" }.joined(separator: ", ")) WHERE id = ?23"

    static let selectRollupSQL = """
        SELECT id, \(rollupColumns[7...].joined(separator: ", ")) FROM rollups
        WHERE tier = ? AND bucket = ? AND endpoint = ? AND model = ? AND component = ? AND variant = ? AND tenant = ?
        """
}

/// Compact encodings of the record fields that are not scalars.
enum RecordEncoding {
    /// Labels as a JSON object with sorted keys, into `out` (cleared first).
    static func labelsJSON(_ labels: [String: String], into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(UInt8(ascii: "{"))
        var first = true
        if labels.count == 1, let (key, value) = labels.first {
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(value, to: &out)
            out.append(UInt8(ascii: "}"))
            return
        }
        for key in labels.keys.sorted() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(labels[key]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Inter-token gaps as little-endian Float32 milliseconds, into `out` (cleared first).
    static func itlBlob(_ gaps: [Double], into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(gaps.count * 4)
        for g in gaps {
            let bits = Float(g).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { out.append(contentsOf: $0) }
        }
    }

    static func itlGaps(_ bytes: UnsafeRawBufferPointer) -> [Double] {
        let n = bytes.count / 4
        var gaps: [Double] = []
        gaps.reserveCapacity(n)
        for k in 0..<n {
            let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self))
            gaps.append(Double(Float(bitPattern: bits)))
        }
        return gaps
    }
}
