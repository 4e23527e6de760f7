import BifocalCore
import BifocalStore
import Logging
import ServiceLifecycle
import Synchronization

/// Range answers for the dashboard, cached by aligned chunks of steps so that a page reloaded
/// (auto-refresh, another engineer opening the same link) recomputes only its newest chunk.
///
/// A range query is split into chunks of `stepsPerChunk` steps aligned to multiples of the
/// chunk's length (so consecutive loads share chunks as the range slides). Each point covers
/// `[t, t + step)` and is computed from the buckets that start in it, so a point does not depend
/// on the range around it: chunks answer exactly what the whole range would. Chunks that ended
/// at least `settle` ago are cached for `lifetime` (late records reach a cached chunk when it
/// expires); the newest chunk is always read fresh.
final class DashboardCache: Sendable {
    struct Entry {
        var result: SignalResult
        var stored: Int64
    }

    /// Steps per chunk. Each chunk is one more range the store reads (its rollup tiers and
    /// series looked up, its statements run), so the cold Overview over 30 days costs less in 11
    /// chunks than in 41 (measured: about 60 vs 70-95 ms); a reload recomputes only the newest
    /// chunk, which a batch reads in a few milliseconds even at 24 steps.
    static let stepsPerChunk: Int64 = 24
    static let settle = 2 * Timestamp.microsPerMinute
    static let lifetime = 10 * Timestamp.microsPerMinute
    static let capacity = 20_000

    private let entries = Mutex<[SignalQuery: Entry]>([:])

    init() {}

    func lookup(_ query: SignalQuery, now: Int64) -> SignalResult? {
        entries.withLock { entries in
            guard let entry = entries[query], now - entry.stored < Self.lifetime else { return nil }
            return entry.result
        }
    }

    func store(_ query: SignalQuery, _ result: SignalResult, now: Int64) {
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                // Drop what has expired; if that is not enough, start over (cheap to refill).
                entries = entries.filter { now - $0.value.stored < Self.lifetime }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[query] = Entry(result: result, stored: now)
        }
    }

    var count: Int { entries.withLock { $0.count } }

    /// The chunk queries a range query is answered from, and whether each may be cached.
    static func chunks(of query: SignalQuery, now: Int64) -> [(SignalQuery, cacheable: Bool)]? {
        guard case .range(let from, let to, let step) = query.shape, step > 0 else { return nil }
        let length = step * stepsPerChunk
        var chunks: [(SignalQuery, Bool)] = []
        var start = Timestamp.floor(Timestamp.floor(from, toMultipleOf: step), toMultipleOf: length)
        while start < to {
            let end = start + length
            var chunk = query
            chunk.shape = .range(from: start, to: min(end, to), step: step)
            chunks.append((chunk, end <= to && end <= now - settle))
            start = end
        }
        return chunks
    }

    /// Answers `query` from cached chunks and fresh reads of the others (run concurrently by
    /// `fetch`), merged onto the whole range's grid; missing points are nil.
    func answer(_ queries: [SignalQuery], now: Int64, fetch: ([SignalQuery]) async throws -> [SignalResult?]) async throws -> [SignalResult?] {
        var plans: [[(SignalQuery, Bool)]] = []
        var missing: [SignalQuery] = []
        var missingIndex: [SignalQuery: Int] = [:]
        for query in queries {
            let plan = Self.chunks(of: query, now: now) ?? [(query, false)]
            plans.append(plan)
            for (chunk, cacheable) in plan where !(cacheable && lookup(chunk, now: now) != nil) {
                if missingIndex[chunk] == nil {
                    missingIndex[chunk] = missing.count
                    missing.append(chunk)
                }
            }
        }
        let fetched = try await fetch(missing)
        var fresh: [SignalQuery: SignalResult] = [:]
        for (chunk, index) in missingIndex {
            guard let result = fetched[index] else { continue }
            fresh[chunk] = result
        }
        for plan in plans {
            for (chunk, cacheable) in plan where cacheable {
                if let result = fresh[chunk] { store(chunk, result, now: now) }
            }
        }
        return zip(queries, plans).map { query, plan in
            let parts = plan.map { chunk, _ in fresh[chunk] ?? lookup(chunk, now: now) }
            if plan.count == 1, case .instant = query.shape { return parts[0] }
            guard case .range(let from, let to, let step) = query.shape, let first = parts.compactMap({ $0 }).first else { return nil }
            // The whole range's grid, as the store would lay it out.
            let t0 = Timestamp.floor(from, toMultipleOf: step)
            let count = Int((to - t0 + step - 1) / step)
            var series: [[String: String]: [Double?]] = [:]
            var scanned = false
            for part in parts {
                guard let part else { continue }
                scanned = scanned || part.scannedRawRecords
                for s in part.series {
                    var values = series[s.labels] ?? [Double?](repeating: nil, count: count)
                    for p in s.points {
                        let k = Int((p.time - t0) / step)
                        if k >= 0, k < count, (p.time - t0) % step == 0 { values[k] = p.value }
                    }
                    series[s.labels] = values
                }
            }
            let merged = series.map { labels, values in
                SignalSeries(labels: labels, points: values.enumerated().map { SignalPoint(time: t0 + Int64($0.offset) * step, value: $0.element) })
            }.sorted { $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                < $1.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
            return SignalResult(signal: first.signal, unit: first.unit, series: merged, scannedRawRecords: scanned)
        }
    }
}

/// Keeps the Overview's default views (every named range, grouped by model) and the default
/// Compare computed, once a minute: after the first pass only their newest chunks are read, so
/// this costs little, and an engineer opening the dashboard gets a warm first load.
struct DashboardWarmer: Service {
    let data: DashboardData
    let clock: @Sendable () -> Int64
    let logger: Logger
    var interval: Int64 = Timestamp.microsPerMinute

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for range in DashboardView.ranges.map(\.name) {
                    guard !Task.isCancelled else { break }
                    let now = clock()
                    let view = DashboardView(parameters: ["range": range], now: now)
                    do {
                        _ = try await data.overview(view, now: now)
                        _ = try await data.compare(view, dimension: "model", only: [], now: now)
                    } catch {
                        logger.debug("dashboard prewarm failed", metadata: ["dashboard.range": "\(range)", "error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: .microseconds(interval))
            }
        }
    }
}
