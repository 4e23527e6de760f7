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
    /// A cap on the data folder's size in bytes; the oldest raw records go first. Nil: no cap.
    public var maxSizeBytes: Int64?
    /// Prices and GPU reservations, for the `cost.*` signals.
    public var endpoints: EndpointCatalog

    /// Creates a configuration with the documented defaults.
    public init(
        directory: String = "./bifocal-data",
        rawRetention: Int64 = 7 * Timestamp.microsPerDay,
        textRetention: Int64 = 7 * Timestamp.microsPerDay,
        minuteRetention: Int64 = 2 * Timestamp.microsPerDay,
        hourRetention: Int64 = 90 * Timestamp.microsPerDay,
        dayRetention: Int64 = 730 * Timestamp.microsPerDay,
        maxSizeBytes: Int64? = nil,
        endpoints: EndpointCatalog = EndpointCatalog()
    ) {
        self.directory = directory
        self.rawRetention = rawRetention
        self.textRetention = textRetention
        self.minuteRetention = minuteRetention
        self.hourRetention = hourRetention
        self.dayRetention = dayRetention
        self.maxSizeBytes = maxSizeBytes
        self.endpoints = endpoints
    }
}

/// What one retention pass removed.
public struct RetentionReport: Sendable, Hashable {
    /// Raw records deleted (age or size cap).
    public var recordsDeleted: Int
    /// Records whose texts were cleared.
    public var textsCleared: Int
    /// Rollup rows deleted.
    public var rollupsDeleted: Int

    /// Creates a report.
    public init(recordsDeleted: Int = 0, textsCleared: Int = 0, rollupsDeleted: Int = 0) {
        self.recordsDeleted = recordsDeleted
        self.textsCleared = textsCleared
        self.rollupsDeleted = rollupsDeleted
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

    /// Creates statistics.
    public init(records: Int, sizeBytes: Int64, oldestRecord: Int64?) {
        self.records = records
        self.sizeBytes = sizeBytes
        self.oldestRecord = oldestRecord
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

    /// Answers a signal query (see `SignalCatalog`); throws `QueryError` for a question that
    /// cannot be answered as asked (unknown signal or label, bad range).
    func query(_ query: SignalQuery) async throws -> SignalResult

    /// Deletes what has outlived its retention as of `now`, then enforces the size cap.
    func enforceRetention(now: Int64) async throws -> RetentionReport

    /// Current numbers about the store.
    func statistics() async throws -> StoreStatistics

    /// Flushes and closes the store, releasing the data folder's lock.
    func close() async throws
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
