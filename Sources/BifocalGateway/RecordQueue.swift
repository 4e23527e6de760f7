public import BifocalCore
public import Logging
import Synchronization

/// The gateway's records on their way to the store, off the request's path.
///
/// `offer` is all a request does: a short lock and an append. `run` (the server runs it as a
/// service) drains the queue in batches into the sink, looking every `flushInterval`. When the queue is full the record is dropped
/// and counted; the request has already been answered either way.
public final class RecordQueue: Sendable {
    private struct State {
        var records: [InferenceRecord] = []
    }

    /// The most records held at once.
    public let capacity: Int
    /// The most records handed to the sink in one call.
    public let batchSize: Int
    /// How long the drain sleeps when it finds the queue empty.
    public let flushInterval: Duration
    private let state: Mutex<State>
    private let droppedCount = Atomic<Int>(0)
    private let writtenCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)

    /// Creates an empty queue.
    public init(capacity: Int, batchSize: Int = 1024, flushInterval: Duration = .milliseconds(50)) {
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.flushInterval = flushInterval
        state = Mutex(State())
    }

    /// Records dropped because the queue was full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
    /// Records the sink accepted (duplicates included).
    public var written: Int { writtenCount.load(ordering: .relaxed) }
    /// Records lost because the sink failed.
    public var failed: Int { failedCount.load(ordering: .relaxed) }
    /// Records waiting.
    public var pending: Int { state.withLock { $0.records.count } }

    /// Queues a record; false (and counted) when the queue is full. Wakes nobody: the drain looks
    /// every `flushInterval`, so a request pays for one short lock and an append, not a thread wake-up.
    @discardableResult
    public func offer(_ record: InferenceRecord) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard s.records.count < capacity else { return false }
            s.records.append(record)
            return true
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
        return accepted
    }

    /// Drains the queue into `sink` until the task is cancelled, then hands over what is left and
    /// returns. Records wait at most about `flushInterval`; under load a batch holds what arrived
    /// while the previous one was being stored, so the store sees few, large transactions.
    public func run(into sink: any RecordSink, logger: Logger) async {
        while true {
            if let batch = take() {
                await submit(batch, to: sink, logger: logger)
                continue
            }
            do {
                try await Task.sleep(for: flushInterval)
            } catch {
                break  // cancelled: the server is shutting down
            }
        }
        while let batch = take() { await submit(batch, to: sink, logger: logger) }
    }

    private func submit(_ batch: [InferenceRecord], to sink: any RecordSink, logger: Logger) async {
        do {
            // In a task of its own: the drain is cancelled at shutdown, and a store write made from
            // a cancelled task is refused (GRDB throws CancellationError), which would lose the
            // very records the final flush exists to keep.
            _ = try await Task { try await sink.submit(batch) }.value
            writtenCount.add(batch.count, ordering: .relaxed)
        } catch {
            failedCount.add(batch.count, ordering: .relaxed)
            logger.error("gateway records not stored", metadata: ["records": "\(batch.count)", "error": "\(error)"])
        }
    }

    private func take() -> [InferenceRecord]? {
        state.withLock { s -> [InferenceRecord]? in
            guard !s.records.isEmpty else { return nil }
            if s.records.count <= batchSize {
                var batch: [InferenceRecord] = []
                batch.reserveCapacity(min(capacity, 256))
                swap(&batch, &s.records)
                return batch
            }
            let batch = Array(s.records.prefix(batchSize))
            s.records.removeFirst(batchSize)
            return batch
        }
    }
}
