public import BifocalCore
public import Logging
import Synchronization

/// The gateway's records on their way to the store, off the request's path.
///
/// `offer` is all a request does: a short lock and an append. `run` (the server runs it as a
/// service) drains the queue in batches into the sink. When the queue is full the record is dropped
/// and counted; the request has already been answered either way.
public final class RecordQueue: Sendable {
    private struct State {
        var records: [InferenceRecord] = []
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
    }

    /// The most records held at once.
    public let capacity: Int
    /// The most records handed to the sink in one call.
    public let batchSize: Int
    private let state: Mutex<State>
    private let droppedCount = Atomic<Int>(0)
    private let writtenCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)

    /// Creates an empty queue.
    public init(capacity: Int, batchSize: Int = 1024) {
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
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

    /// Queues a record; false (and counted) when the queue is full.
    @discardableResult
    public func offer(_ record: InferenceRecord) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            guard s.records.count < capacity else { return (false, nil) }
            s.records.append(record)
            let w = s.waiter
            s.waiter = nil
            return (true, w)
        }
        if !accepted { droppedCount.add(1, ordering: .relaxed) }
        waiter?.resume()
        return accepted
    }

    /// Drains the queue into `sink` until the task is cancelled, then hands over what is left and returns.
    public func run(into sink: any RecordSink, logger: Logger) async {
        while true {
            let batch = await nextBatch()
            guard let batch else { return }
            do {
                _ = try await sink.submit(batch)
                writtenCount.add(batch.count, ordering: .relaxed)
            } catch {
                failedCount.add(batch.count, ordering: .relaxed)
                logger.error("gateway records not stored", metadata: ["records": "\(batch.count)", "error": "\(error)"])
            }
        }
    }

    /// The next batch; waits while the queue is empty; nil once stopping and empty.
    private func nextBatch() async -> [InferenceRecord]? {
        while true {
            if let batch = take() { return batch }
            if state.withLock({ $0.stopping }) { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if !s.records.isEmpty || s.stopping { return true }
                        s.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    s.stopping = true
                    let w = s.waiter
                    s.waiter = nil
                    return w
                }
                waiter?.resume()
            }
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
