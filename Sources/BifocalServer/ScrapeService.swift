import AsyncHTTPClient
import BifocalCore
import BifocalIngest
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTPCompression
import ServiceLifecycle
import Synchronization

/// The latest state of every scrape target, for `GET /api/v1/targets` and `/metrics`.
final class TargetRegistry: Sendable {
    struct Entry: Sendable {
        var target: ScrapeTarget
        var last: ScrapeReport?
        var scrapes: Int = 0
        var failures: Int = 0
    }

    private let entries: Mutex<[Entry]>

    init(targets: [ScrapeTarget]) {
        entries = Mutex(targets.map { Entry(target: $0) })
    }

    func record(_ report: ScrapeReport, forTargetAt index: Int) {
        entries.withLock {
            $0[index].last = report
            $0[index].scrapes += 1
            if report.health == .down { $0[index].failures += 1 }
        }
    }

    var snapshot: [Entry] { entries.withLock { $0 } }

    /// `{"targets":[…]}`, in configuration order.
    func render() -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.raw("{\"targets\":[")
        for (i, entry) in snapshot.enumerated() {
            if i > 0 { json.raw(",") }
            let target = entry.target
            let last = entry.last
            json.raw("{\"url\":"); json.string(target.url)
            json.raw(",\"job\":"); json.string(target.job)
            json.raw(",\"address\":"); json.string(target.address)
            json.raw(",\"endpoint\":"); target.endpoint.map { json.string($0) } ?? json.raw("null")
            json.raw(",\"model\":"); target.model.map { json.string($0) } ?? json.raw("null")
            json.raw(",\"instance\":"); json.string(target.instance ?? target.host)
            json.raw(",\"labels\":"); json.stringMap(target.labels)
            json.raw(",\"interval\":"); json.string(Timestamp.formatDuration(target.interval))
            json.raw(",\"timeout\":"); json.string(Timestamp.formatDuration(target.timeout))
            json.raw(",\"health\":"); json.string((last?.health ?? .unknown).rawValue)
            json.raw(",\"last_scrape\":"); last.map { json.string(Timestamp.formatRFC3339($0.time)) } ?? json.raw("null")
            json.raw(",\"last_scrape_duration_seconds\":"); json.number(last.map { Double($0.duration) / 1e6 })
            json.raw(",\"last_error\":"); json.string(last?.error ?? "")
            json.raw(",\"samples\":"); json.number(last?.samplesScraped ?? 0)
            json.raw(",\"format\":"); last?.format.map { json.string($0) } ?? json.raw("null")
            json.raw(",\"scrapes\":"); json.number(entry.scrapes)
            json.raw(",\"failures\":"); json.number(entry.failures)
            json.raw("}")
        }
        json.raw("]}\n")
        return json.bytes
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/api/v1/targets") { _, _ in Response.json(self.render()) }
    }
}

/// Collects the samples of scrapes that finish within `window` of each other and stores them in
/// one transaction. Scrapes are spread over their interval, so they rarely overlap and the
/// store's group commit would see them one by one; fifty targets every five seconds would then
/// cost ten commits (and disk syncs) a second. Every caller still returns only once its samples
/// are stored.
actor SeriesBatcher: SeriesSink {
    private let base: any SeriesSink
    private let window: Duration
    private var pending: [SeriesSample] = []
    private var waiters: [CheckedContinuation<Result<Int, any Error>, Never>] = []
    private var flushScheduled = false

    init(_ base: any SeriesSink, window: Duration) {
        self.base = base
        self.window = window
    }

    func submit(series samples: [SeriesSample]) async throws -> Int {
        pending += samples
        if !flushScheduled {
            flushScheduled = true
            let window = window
            Task { [weak self] in
                try? await Task.sleep(for: window)
                await self?.flush()
            }
        }
        let result = await withCheckedContinuation { waiters.append($0) }
        _ = try result.get()
        return samples.count
    }

    private func flush() async {
        let batch = pending
        let answered = waiters
        pending = []
        waiters = []
        flushScheduled = false
        let result: Result<Int, any Error>
        do { result = .success(try await base.submit(series: batch)) } catch { result = .failure(error) }
        for waiter in answered { waiter.resume(returning: result) }
    }
}

/// Scrapes every configured target on its interval and writes the series into the sink.
///
/// Each target runs in its own child task, offset within its interval by a hash of its URL (as
/// Prometheus spreads its scrapes) so that fifty targets do not all fire at once.
struct ScrapeService: Service {
    let targets: [ScrapeTarget]
    let sink: any SeriesSink
    let registry: TargetRegistry
    let clock: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        // Scrapes finishing within a quarter second (at most a tenth of the shortest interval)
        // share one transaction.
        let shortest = targets.map(\.interval).min() ?? 1_000_000
        let sink = SeriesBatcher(self.sink, window: .microseconds(min(250_000, shortest / 10)))
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(
                timeout: .init(connect: .seconds(5)),
                decompression: .enabled(limit: .size(TargetScraper.maxBodyBytes))
            )
        )
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for (index, target) in targets.enumerated() {
                    group.addTask { await scrapeLoop(target, index: index, client: client, sink: sink) }
                }
            }
        }
        try? await client.shutdown()
    }

    private func scrapeLoop(_ target: ScrapeTarget, index: Int, client: HTTPClient, sink: SeriesBatcher) async {
        var scraper = TargetScraper(target: target)
        var hasher = Hasher()
        hasher.combine(target.url)
        // A stable offset within the interval. Hasher is seeded per process; that is fine: the
        // offset only spreads load, it does not need to survive restarts.
        let offset = Int64(UInt64(bitPattern: Int64(hasher.finalize())) % UInt64(target.interval))
        let clock = ContinuousClock()
        var next = clock.now + .microseconds(offset)
        var wasUp = true
        while !Task.isCancelled {
            do { try await Task.sleep(until: next, clock: clock) } catch { return }
            next = next + .microseconds(target.interval)
            let (samples, report) = await scraper.scrape(using: client, at: self.clock())
            if report.health == .down, wasUp {
                logger.warning("scrape failed", metadata: ["target": "\(target.url)", "error": "\(report.error ?? "")"])
            } else if report.health == .up, !wasUp {
                logger.info("scrape recovered", metadata: ["target": "\(target.url)"])
            }
            wasUp = report.health == .up
            do {
                _ = try await sink.submit(series: samples)
            } catch {
                logger.error("storing scraped series failed", metadata: ["target": "\(target.url)", "error": "\(error)"])
            }
            // Reported once stored, so a reader of /api/v1/targets can query what the scrape brought.
            registry.record(report, forTargetAt: index)
            // A scrape slower than its interval skips ticks instead of piling up.
            let now = clock.now
            while next < now { next = next + .microseconds(target.interval) }
        }
    }
}

/// Runs the local GPU sampler for the server's lifetime.
///
/// The sampler returns early when nvidia-smi is not installed (after saying so once); a service
/// that returns would stop the whole server, so this one then waits for shutdown instead.
struct GPUSamplerService: Service {
    let settings: GPUSamplerSettings
    let sink: any SeriesSink
    let clock: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        var labels = settings.labels
        if labels["instance"] == nil { labels["instance"] = ProcessInfo.processInfo.hostName }
        let sampler = GPUSampler(sink: sink, interval: .microseconds(settings.interval),
                                 timeout: .microseconds(min(settings.interval, 10 * Timestamp.microsPerSecond)),
                                 command: settings.command, labels: labels, logger: logger, now: clock)
        await cancelWhenGracefulShutdown {
            try? await sampler.run()
            if settings.mode == .on, !Task.isCancelled {
                logger.error("gpu_sampler.enabled is true but GPU sampling stopped (see the message above)")
            }
            try? await gracefulShutdown()
        }
    }
}
