public import BifocalCore
import Foundation
import GRDB

/// Which raw records a listing returns; every field that is set must hold.
public struct RecordFilter: Sendable, Hashable {
    /// Records starting at or after this time (microseconds since the epoch).
    public var from: Int64?
    /// Records starting before this time.
    public var to: Int64?
    /// The record's endpoint.
    public var endpoint: String?
    /// The record's model.
    public var model: String?
    /// The record's inference component.
    public var component: String?
    /// The record's variant.
    public var variant: String?
    /// The record's tenant.
    public var tenant: String?
    /// Statuses to keep (empty: any).
    public var statuses: [RecordStatus]
    /// Keep only records that did not end `ok`.
    public var errorsOnly: Bool
    /// "Slow": end-to-end latency at least this many milliseconds.
    public var minE2EMs: Double?
    /// "Slow": time to first token at least this many milliseconds.
    public var minTTFTMs: Double?
    /// Text that the captured prompt or response contains (case-insensitive for ASCII letters).
    public var text: String?

    /// Creates a filter; with no arguments it keeps every record.
    public init(from: Int64? = nil, to: Int64? = nil, endpoint: String? = nil, model: String? = nil,
                component: String? = nil, variant: String? = nil, tenant: String? = nil,
                statuses: [RecordStatus] = [], errorsOnly: Bool = false, minE2EMs: Double? = nil,
                minTTFTMs: Double? = nil, text: String? = nil) {
        self.from = from; self.to = to; self.endpoint = endpoint; self.model = model
        self.component = component; self.variant = variant; self.tenant = tenant
        self.statuses = statuses; self.errorsOnly = errorsOnly; self.minE2EMs = minE2EMs
        self.minTTFTMs = minTTFTMs; self.text = text
    }
}

/// Where the next page of a listing starts: records strictly before (start, sequence number).
public struct RecordCursor: Sendable, Hashable {
    /// Start time of the boundary, microseconds since the epoch.
    public var start: Int64
    /// The store's sequence number at the boundary (records at `start` with a smaller one follow).
    public var sequence: Int64

    /// Creates a cursor.
    public init(start: Int64, sequence: Int64) {
        self.start = start
        self.sequence = sequence
    }

    /// `START.SEQUENCE`, opaque to clients.
    public var token: String { "\(start).\(sequence)" }

    /// Reads a token made by `token`; nil when it is not one.
    public init?(token: String) {
        let parts = token.split(separator: ".")
        guard parts.count == 2, let start = Int64(parts[0]), let sequence = Int64(parts[1]) else { return nil }
        self.init(start: start, sequence: sequence)
    }
}

/// A stored record with the store's sequence number (the key of records without an id).
public struct StoredRecord: Sendable, Hashable {
    /// The store's sequence number, unique in this store.
    public var sequence: Int64
    /// The record, with its texts when they are still kept.
    public var record: InferenceRecord

    /// Creates a stored record.
    public init(sequence: Int64, record: InferenceRecord) {
        self.sequence = sequence
        self.record = record
    }
}

/// One page of a record listing, newest first.
public struct RecordPage: Sendable, Hashable {
    /// The records, newest first.
    public var records: [StoredRecord]
    /// Where the next (older) page starts; nil when no older record can match.
    public var next: RecordCursor?
    /// True when the page stopped at the scan budget before finding a full page: older records
    /// may still match, and `next` continues the search.
    public var scanBudgetReached: Bool

    /// Creates a page.
    public init(records: [StoredRecord], next: RecordCursor?, scanBudgetReached: Bool = false) {
        self.records = records
        self.next = next
        self.scanBudgetReached = scanBudgetReached
    }
}

extension SQLiteStore {
    /// Records looked at per page at most, so that a filter matching little (a rare model, a text
    /// search) still answers in bounded time; the page then says so and its cursor goes on.
    public static let recordScanBudget = 50_000
    /// The budget when searching captured texts: texts looked at (each costs more to read than
    /// a record's columns), among the records that kept theirs.
    public static let textScanBudget = 20_000
    /// How long a page looks before it answers with what it found: the listing reads in steps
    /// (`scanStep`) and stops after the step that passes this, its cursor going on from there.
    /// Reading captured texts is bound by the disk and the page cache (20,000 texts are about
    /// 25 MB), so on a cold or busy machine the time, not the count, is what keeps a page fast.
    public static let listingTimeBudget: Duration = .milliseconds(50)

    /// The scan budget for `filter`.
    public static func scanBudget(for filter: RecordFilter) -> Int {
        (filter.text ?? "").isEmpty ? recordScanBudget : textScanBudget
    }

    /// Rows looked at per step of a listing (the time budget is checked between steps).
    static func scanStep(for filter: RecordFilter) -> Int {
        (filter.text ?? "").isEmpty ? 10_000 : 2_000
    }

    static let listColumns = "r.seq, " + SQLiteSchema.recordColumns.map { "r.\($0)" }.joined(separator: ", ")
        + ", t.prompt, t.response, t.context, t.reference"

    /// Lists raw records matching `filter`, newest first, `limit` per page, before `cursor`.
    ///
    /// Walks back from the cursor in steps: each step first finds, on the index alone (cheap),
    /// the row `scanStep` rows further back, then runs the filters on the rows above it. It stops
    /// when the page is full, when no older row is left, or when it has looked at the scan budget
    /// or spent `timeBudget`; the page then says the budget was reached and its cursor goes on.
    /// Filters on the record's columns run on the `records_scan` index's entries, so only the
    /// records that match are read from the table.
    public func records(matching filter: RecordFilter, limit: Int, before cursor: RecordCursor?,
                        timeBudget: Duration) async throws -> RecordPage {
        let limit = max(1, min(limit, 1000))
        let clock = ContinuousClock()
        let started = clock.now
        do {
            return try await pool.read { db in
                let budget = Self.scanBudget(for: filter)
                let step = Self.scanStep(for: filter)
                var upper = cursor
                var found: [StoredRecord] = []
                var looked = 0
                while true {
                    let take = min(step, budget - looked)
                    let boundary = try Self.boundary(db, filter: filter, below: upper, offset: take)
                    let wanted = limit - found.count
                    found += try Self.matching(db, filter: filter, above: boundary, below: upper, limit: wanted)
                    if found.count == limit, let last = found.last {
                        return RecordPage(records: found, next: RecordCursor(start: last.record.start, sequence: last.sequence))
                    }
                    guard let b = boundary else { return RecordPage(records: found, next: nil) }
                    looked += take
                    // The boundary row itself was not looked at: the next step starts with it.
                    upper = RecordCursor(start: b.start, sequence: b.sequence + 1)
                    if looked >= budget || clock.now - started >= timeBudget {
                        return RecordPage(records: found, next: upper, scanBudgetReached: true)
                    }
                }
            }
        } catch {
            throw StoreError(code: .io, message: "record listing failed on \(databasePath)", cause: error)
        }
    }

    /// Lists raw records matching `filter` (see the other overload), within `listingTimeBudget`.
    public func records(matching filter: RecordFilter, limit: Int, before cursor: RecordCursor?) async throws -> RecordPage {
        try await records(matching: filter, limit: limit, before: cursor, timeBudget: Self.listingTimeBudget)
    }

    /// A text search walks the texts table (its start index, keyed by the record's sequence
    /// number): only records with texts can match, and their texts are read in order rather than
    /// looked up one by one. Otherwise the records' scan index.
    private static func walk(_ filter: RecordFilter) -> (table: String, alias: String, key: String) {
        (filter.text ?? "").isEmpty ? ("records", "r", "seq") : ("texts", "t", "record")
    }

    /// Conditions bounding the walk to the filter's time range, to rows strictly before `upper`
    /// and strictly after `lower`, for a table aliased `alias` (or unqualified when nil).
    ///
    /// Each side gets exactly one plain comparison on `start`, the tighter of the range's and the
    /// cursor's: SQLite takes an index range from the first such comparison it meets and merely
    /// checks any second one, so `start >= from AND start >= boundary` walked the whole range
    /// from `from` (a month) instead of the step (a 30-day listing: ~110 ms instead of ~5).
    /// The ORs then settle ties on `start` by the key.
    static func bounds(_ filter: RecordFilter, above lower: RecordCursor? = nil, below upper: RecordCursor?,
                       alias: String?) -> ([String], [any DatabaseValueConvertible]) {
        let key = walk(filter).key
        let start = alias.map { "\($0).start" } ?? "start"
        let keyColumn = alias.map { "\($0).\(key)" } ?? key
        var conditions: [String] = []
        var values: [any DatabaseValueConvertible] = []
        if let lower, lower.start >= (filter.from ?? .min) {
            conditions.append("\(start) >= ?")
            conditions.append("(\(start) > ? OR (\(start) = ? AND \(keyColumn) > ?))")
            values += [lower.start, lower.start, lower.start, lower.sequence]
        } else if let from = filter.from {
            conditions.append("\(start) >= ?")
            values.append(from)
        }
        if let upper, upper.start < (filter.to ?? .max) {
            conditions.append("\(start) <= ?")
            conditions.append("(\(start) < ? OR (\(start) = ? AND \(keyColumn) < ?))")
            values += [upper.start, upper.start, upper.start, upper.sequence]
        } else if let to = filter.to {
            conditions.append("\(start) < ?")
            values.append(to)
        }
        return (conditions, values)
    }

    /// The row `offset` rows back from `upper` in the walked table (nil when there are fewer).
    private static func boundary(_ db: Database, filter: RecordFilter, below upper: RecordCursor?, offset: Int) throws -> RecordCursor? {
        let (table, _, key) = walk(filter)
        let (conditions, values) = bounds(filter, below: upper, alias: nil)
        let whereSQL = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try Row.fetchOne(db, sql: "SELECT start, \(key) FROM \(table) \(whereSQL) ORDER BY start DESC, \(key) DESC LIMIT 1 OFFSET \(offset)",
                                arguments: StatementArguments(values))
            .map { RecordCursor(start: $0[0], sequence: $0[1]) }
    }

    /// The records matching `filter` strictly between `lower` (nil: no lower bound) and `upper`.
    private static func matching(_ db: Database, filter: RecordFilter, above lower: RecordCursor?, below upper: RecordCursor?,
                                 limit: Int) throws -> [StoredRecord] {
        let (_, alias, key) = walk(filter)
        var (conditions, values) = bounds(filter, above: lower, below: upper, alias: alias)
        for (column, value) in [("endpoint", filter.endpoint), ("model", filter.model), ("component", filter.component),
                                ("variant", filter.variant), ("tenant", filter.tenant)] {
            guard let value else { continue }
            conditions.append("r.\(column) = ?")
            values.append(value)
        }
        if !filter.statuses.isEmpty {
            conditions.append("r.status IN (\(filter.statuses.map { _ in "?" }.joined(separator: ",")))")
            values += filter.statuses.map(\.rawValue)
        }
        if filter.errorsOnly { conditions.append("r.status <> 'ok'") }
        var slow: [String] = []
        if let v = filter.minE2EMs { slow.append("r.e2e_ms >= ?"); values.append(v) }
        if let v = filter.minTTFTMs { slow.append("r.ttft_ms >= ?"); values.append(v) }
        if !slow.isEmpty { conditions.append("(" + slow.joined(separator: " OR ") + ")") }
        if let text = filter.text, !text.isEmpty {
            // LIKE (case-insensitive for ASCII) with %, _ and the escape character escaped,
            // so that they match themselves.
            var pattern = "%"
            for c in text {
                if c == "%" || c == "_" || c == "\\" { pattern.append("\\") }
                pattern.append(c)
            }
            pattern += "%"
            conditions.append("(t.prompt LIKE ? ESCAPE '\\' OR t.response LIKE ? ESCAPE '\\')")
            values += [pattern, pattern]
        }
        let searching = !(filter.text ?? "").isEmpty
        let join = searching ? "texts t CROSS JOIN records r ON r.seq = t.record" : "records r LEFT JOIN texts t ON t.record = r.seq"
        let sql = """
            SELECT \(Self.listColumns) FROM \(join)
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY \(alias).start DESC, \(alias).\(key) DESC LIMIT \(limit)
            """
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(StatementArguments(values))
        let s = RawStatement(statement, db)
        defer { s.reset() }
        var found: [StoredRecord] = []
        while try s.step() { found.append(Self.decodeRecord(s)) }
        return found
    }

    /// The record with the caller's `id`, or with the store's sequence number when `id` is
    /// `seq:N`; nil when there is none.
    public func record(id: String) async throws -> StoredRecord? {
        do {
            return try await pool.read { db in
                let sql: String
                let argument: any DatabaseValueConvertible
                if id.hasPrefix("seq:"), let seq = Int64(id.dropFirst(4)) {
                    sql = "SELECT \(Self.listColumns) FROM records r LEFT JOIN texts t ON t.record = r.seq WHERE r.seq = ?"
                    argument = seq
                } else {
                    sql = "SELECT \(Self.listColumns) FROM records r LEFT JOIN texts t ON t.record = r.seq WHERE r.id = ?"
                    argument = id
                }
                let statement = try db.cachedStatement(sql: sql)
                try statement.setArguments([argument])
                let s = RawStatement(statement, db)
                defer { s.reset() }
                return try s.step() ? Self.decodeRecord(s) : nil
            }
        } catch {
            throw StoreError(code: .io, message: "record lookup failed on \(databasePath)", cause: error)
        }
    }

    /// Reads one row of `listColumns`.
    static func decodeRecord(_ s: RawStatement) -> StoredRecord {
        func text(_ c: Int32) -> String? { s.optionalText(c) }
        func int(_ c: Int32) -> Int? { s.optionalInt64(c).map { Int($0) } }
        var r = InferenceRecord(start: s.int64(2))
        r.id = text(1)
        r.endpoint = text(3); r.model = text(4); r.component = text(5); r.variant = text(6)
        r.instance = text(7); r.copy = text(8)
        r.status = RecordStatus(rawValue: s.text(9)) ?? .ok
        r.httpStatus = int(10); r.error = text(11)
        r.streaming = s.optionalInt64(12).map { $0 != 0 }
        r.inputTokens = int(13); r.outputTokens = int(14)
        r.ttftMs = s.optionalDouble(15); r.e2eMs = s.optionalDouble(16); r.queueMs = s.optionalDouble(17)
        if let blob = s.blob(18) { r.itlMs = RecordEncoding.itlGaps(blob) }
        r.itlMeanMs = s.optionalDouble(19); r.itlMaxMs = s.optionalDouble(20)
        r.finishReason = text(21)
        r.tokensEstimated = s.int64(22) != 0
        r.source = RecordSource(rawValue: s.text(23)) ?? .api
        r.provider = text(24); r.requestModel = text(25); r.traceId = text(26); r.spanId = text(27)
        r.tenant = text(28)
        if let labels = text(29), let data = labels.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] {
            r.labels = object
        }
        r.prompt = text(30); r.response = text(31); r.context = text(32); r.reference = text(33)
        return StoredRecord(sequence: s.int64(0), record: r)
    }
}
