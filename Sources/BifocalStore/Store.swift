public import BifocalCore

/// How long each kind of data is kept, where, and how big the data folder may grow.
public struct StoreConfiguration: Sendable, Hashable {
    /// The data folder (one SQLite file and a lock file inside it).
    public var directory: String
    /// How long raw records are kept, in microseconds (default 7 days).
    public var rawRetention: Int64
    /// How long captured texts (prompt, response, context, reference) are kept; at most `rawRetention`.
    public var textRetention: Int64
    /// How long minute rollups are kept (default 2 days).
    public var minuteRetention: Int64
    /// How long hour rollups are kept (default 90 days).
    public var hourRetention: Int64
    /// How long day rollups are kept (default 2 years).
    public var dayRetention: Int64
    /// A cap on the data folder's size in bytes; the oldest raw records and raw series points go
    /// first (rollups and downsamples stay). Nil: no cap.
    public var maxSizeBytes: Int64?
    /// Prices and GPU reservations, for the `cost.*` and `gpus.used` signals.
    public var endpoints: EndpointCatalog
    /// How long raw series points (scraped, sampled or received) are kept, in microseconds
    /// (default 24 hours). Queries further back read the minute tier.
    public var seriesRawRetention: Int64
    /// How long per-minute series downsamples (min, max, sum, count per series and minute) are
    /// kept, in microseconds (default 30 days). Queries further back read the hour tier.
    public var seriesMinuteRetention: Int64
    /// How long per-hour series downsamples are kept, in microseconds (default 90 days, like
    /// record hour rollups). Long range queries (30 days at 1 h steps) read them.
    public var seriesHourRetention: Int64

    /// Creates a configuration with the documented defaults.
    public init(
        directory: String = "./bifocal-data",
        rawRetention: Int64 = 7 * Timestamp.microsPerDay,
        textRetention: Int64 = 7 * Timestamp.microsPerDay,
        minuteRetention: Int64 = 2 * Timestamp.microsPerDay,
        hourRetention: Int64 = 90 * Timestamp.microsPerDay,
        dayRetention: Int64 = 730 * Timestamp.microsPerDay,
        maxSizeBytes: Int64? = nil,
        endpoints: EndpointCatalog = EndpointCatalog(),
        seriesRawRetention: Int64 = Timestamp.microsPerDay,
        seriesMinuteRetention: Int64 = 30 * Timestamp.microsPerDay,
        seriesHourRetention: Int64 = 90 * Timestamp.microsPerDay
    ) {
        self.directory = directory
        self.rawRetention = rawRetention
        self.textRetention = textRetention
        self.minuteRetention = minuteRetention
        self.hourRetention = hourRetention
        self.dayRetention = dayRetention
        self.maxSizeBytes = maxSizeBytes
        self.endpoints = endpoints
        self.seriesRawRetention = seriesRawRetention
        self.seriesMinuteRetention = seriesMinuteRetention
        self.seriesHourRetention = seriesHourRetention
    }
}

/// What one retention pass removed.
public struct RetentionReport: Sendable, Hashable {
    /// Raw records deleted (age or size cap).
    public var recordsDeleted: Int
    /// Records whose texts were cleared.
    public var textsCleared: Int
    /// Record rollup rows deleted.
    public var rollupsDeleted: Int
    /// Raw series points deleted (age or size cap).
    public var pointsDeleted: Int
    /// Series minute and hour downsample rows deleted.
    public var downsamplesDeleted: Int
    /// Series deleted because none of their points or downsamples were left.
    public var seriesDeleted: Int

    /// Creates a report.
    public init(recordsDeleted: Int = 0, textsCleared: Int = 0, rollupsDeleted: Int = 0,
                pointsDeleted: Int = 0, downsamplesDeleted: Int = 0, seriesDeleted: Int = 0) {
        self.recordsDeleted = recordsDeleted
        self.textsCleared = textsCleared
        self.rollupsDeleted = rollupsDeleted
        self.pointsDeleted = pointsDeleted
        self.downsamplesDeleted = downsamplesDeleted
        self.seriesDeleted = seriesDeleted
    }
}

/// Numbers about the store, for `/metrics` and `/readyz`.
public struct StoreStatistics: Sendable, Hashable {
    /// Raw records held.
    public var records: Int
    /// Bytes the data folder's files take on disk.
    public var sizeBytes: Int64
    /// Oldest raw record's start, if any.
    public var oldestRecord: Int64?
    /// Series held (distinct family name + labels).
    public var series: Int
    /// Raw series points held (stale markers included; downsample rows not).
    public var points: Int

    /// Creates statistics.
    public init(records: Int, sizeBytes: Int64, oldestRecord: Int64?, series: Int = 0, points: Int = 0) {
        self.records = records
        self.sizeBytes = sizeBytes
        self.oldestRecord = oldestRecord
        self.series = series
        self.points = points
    }
}

/// A store failure with a code, a message for people and an optional cause.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: RawRepresentable, Sendable, Hashable {
        /// The code's name.
        public var rawValue: String
        /// Creates a code.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Another process holds the data folder.
        public static let locked = Code(rawValue: "locked")
        /// The data folder or database cannot be opened or written.
        public static let io = Code(rawValue: "io")
        /// The database is not one this version understands.
        public static let incompatible = Code(rawValue: "incompatible")
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, with the cause when there is one.
    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }
}

/// Where records and rollups live. Callers (server, CLI) use only this protocol, so a
/// PostgreSQL backend can follow without touching them.
public protocol Store: Sendable {
    /// Stores records and updates rollups in one transaction; returns once durable.
    /// Records whose id is already stored are reported as duplicates and not stored twice.
    func insert(_ records: [InferenceRecord]) async throws -> SinkOutcome

    /// Stores series samples in one transaction; returns once durable, with how many points
    /// were stored. Samples with an empty name, and repeats of a (series, time) already stored,
    /// are not stored (the first value stays, as in Prometheus).
    func insertSeries(_ samples: [SeriesSample]) async throws -> Int

    /// The stored series families, by name, so the API can list what can be queried.
    func seriesFamilies() async throws -> [SeriesFamilyInfo]

    /// Answers a signal query: a record signal (see `SignalCatalog`), a canonical series signal
    /// (see `SeriesSignalCatalog`) or a stored family by name. Throws `QueryError` for a question
    /// that cannot be answered as asked (unknown signal or label, bad range).
    func query(_ query: SignalQuery) async throws -> SignalResult

    /// Answers several signal queries, in order: each answer is what `query(_:)` gives for that
    /// query, or the `QueryError` it throws. A page that asks for many signals over the same
    /// range asks once, so that a store can read the data they share once (the SQLite store
    /// reads the rollup rows of one range once for all its record signals).
    func query(_ queries: [SignalQuery]) async throws -> [Result<SignalResult, QueryError>]

    /// Lists raw records matching `filter`, newest first, at most `limit` per page, strictly
    /// before `cursor` (nil: from the newest). The dashboard's request list reads this.
    func records(matching filter: RecordFilter, limit: Int, before cursor: RecordCursor?) async throws -> RecordPage

    /// One record with its texts, by the caller's id (or `seq:N`, the store's sequence number);
    /// nil when there is none.
    func record(id: String) async throws -> StoredRecord?

    /// Deletes what has outlived its retention as of `now`, then enforces the size cap.
    func enforceRetention(now: Int64) async throws -> RetentionReport

    /// Current numbers about the store.
    func statistics() async throws -> StoreStatistics

    /// Flushes and closes the store, releasing the data folder's lock.
    func close() async throws
}

extension Store {
    /// One query at a time: stores that cannot share work between queries need nothing more.
    public func query(_ queries: [SignalQuery]) async throws -> [Result<SignalResult, QueryError>] {
        var results: [Result<SignalResult, QueryError>] = []
        results.reserveCapacity(queries.count)
        for q in queries {
            do { results.append(.success(try await query(q))) } catch let error as QueryError { results.append(.failure(error)) }
        }
        return results
    }
}

/// Adapts a `Store` to the `RecordSink` seam that sources push into.
public struct StoreRecordSink: RecordSink {
    let store: any Store

    /// Wraps a store.
    public init(store: any Store) { self.store = store }

    /// Inserts the records; returns once they are durable.
    public func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        try await store.insert(records)
    }
}

/// Adapts a `Store` to the `SeriesSink` seam that scrapers and samplers push into.
public struct StoreSeriesSink: SeriesSink {
    let store: any Store

    /// Wraps a store.
    public init(store: any Store) { self.store = store }

    /// Inserts the samples; returns once they are durable, with how many points were stored.
    public func submit(series samples: [SeriesSample]) async throws -> Int {
        try await store.insertSeries(samples)
    }
}

/// One stored series family: what `Store.seriesFamilies()` lists.
public struct SeriesFamilyInfo: Sendable, Hashable {
    /// The family's name (`gpu.utilization`, `vllm:num_requests_waiting`); query it as a signal.
    public var name: String
    /// Distinct label sets stored under the name.
    public var series: Int
    /// Time of the latest sample of any of its series (stale markers included), microseconds
    /// since the epoch. Once retention has removed a series' raw points, the start of its latest
    /// minute (or hour) downsample stands in; nil when nothing of the family is left.
    public var lastSample: Int64?

    /// Creates an entry.
    public init(name: String, series: Int, lastSample: Int64?) {
        self.name = name
        self.series = series
        self.lastSample = lastSample
    }
}
