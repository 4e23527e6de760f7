import BifocalCore
import Synchronization

/// Group commit in front of a `RecordSink`: batches that arrive while a commit is in flight are
/// committed together in the next transaction, so under load one disk sync covers several
/// requests instead of one each. Every caller still returns only once its own records are durable,
/// with its own outcome (its duplicates, by position in its batch).
///
/// No background task: the caller that finds no commit in flight leads; when its commit is done it
/// answers the callers it carried and hands the lead to the next waiting caller, which commits
/// whatever has queued up meanwhile. An idle server commits each batch at once, as before.
final class GroupCommitSink: RecordSink {
    private enum Wake {
        case done(Result<SinkOutcome, any Error>)
        case lead
    }

    private struct Waiter {
        var records: [InferenceRecord]
        var continuation: CheckedContinuation<Wake, Never>
    }

    private struct State {
        var queue: [Waiter] = []
        var committing = false
    }

    private let base: any RecordSink
    private let maxRecords: Int
    /// Guards the queue of waiting callers and whether a commit is in flight.
    private let state = Mutex(State())

    /// Wraps `base`; one transaction carries at most about `maxRecords` records (a single caller's
    /// batch is never split).
    init(_ base: any RecordSink, maxRecords: Int = 8192) {
        self.base = base
        self.maxRecords = maxRecords
    }

    func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let lead = state.withLock { state -> Bool in
                if state.committing {
                    state.queue.append(Waiter(records: records, continuation: continuation))
                    return false
                }
                state.committing = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch wake {
        case .done(let result):
            return try result.get()
        case .lead:
            return try await commit(records)
        }
    }

    /// Commits `own` together with the waiters queued so far, answers them, and passes the lead on.
    private func commit(_ own: [InferenceRecord]) async throws -> SinkOutcome {
        let carried = state.withLock { state -> [Waiter] in
            var total = own.count
            var take = 0
            while take < state.queue.count, total + state.queue[take].records.count <= maxRecords {
                total += state.queue[take].records.count
                take += 1
            }
            let carried = Array(state.queue.prefix(take))
            state.queue.removeFirst(take)
            return carried
        }
        var combined = own
        if !carried.isEmpty {
            combined.reserveCapacity(carried.reduce(own.count) { $0 + $1.records.count })
            for waiter in carried { combined += waiter.records }
        }
        let result: Result<SinkOutcome, any Error>
        do {
            result = .success(try await base.submit(combined))
        } catch {
            result = .failure(error)
        }
        // Split the outcome back: each part's duplicates, shifted to its own positions.
        var parts: [Result<SinkOutcome, any Error>] = []
        switch result {
        case .failure(let error):
            parts = Array(repeating: .failure(error), count: carried.count + 1)
        case .success(let outcome):
            var bounds = [0, own.count]
            for waiter in carried { bounds.append(bounds[bounds.count - 1] + waiter.records.count) }
            var duplicates = Array(repeating: [Int](), count: bounds.count - 1)
            for position in outcome.duplicates {
                var part = 0
                while position >= bounds[part + 1] { part += 1 }
                duplicates[part].append(position - bounds[part])
            }
            for part in 0..<(bounds.count - 1) {
                let size = bounds[part + 1] - bounds[part]
                parts.append(.success(SinkOutcome(accepted: size - duplicates[part].count, duplicates: duplicates[part])))
            }
        }
        for (waiter, part) in zip(carried, parts.dropFirst()) {
            waiter.continuation.resume(returning: .done(part))
        }
        let next = state.withLock { state -> Waiter? in
            if state.queue.isEmpty {
                state.committing = false
                return nil
            }
            return state.queue.removeFirst()
        }
        // The next caller leads with its own records (its entry left the queue above).
        next?.continuation.resume(returning: .lead)
        return try parts[0].get()
    }
}
