/// What happened to each record of a batch handed to a `RecordSink`.
public struct SinkOutcome: Sendable, Hashable {
    /// Records stored.
    public var accepted: Int
    /// Positions (in the submitted batch) of records whose id was already stored: not stored twice.
    public var duplicates: [Int]

    /// Creates an outcome.
    public init(accepted: Int, duplicates: [Int] = []) {
        self.accepted = accepted
        self.duplicates = duplicates
    }
}

/// The seam every source pushes records into (ingest API, capture, gateway, OTLP).
///
/// Sources never import the store; the server wires each source's sink to the store's writer.
/// `submit` returns once the records are durable, so a caller may acknowledge them.
public protocol RecordSink: Sendable {
    /// Stores a batch of already-validated records; returns once they are committed.
    func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome
}
