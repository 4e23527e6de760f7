import BifocalCore
public import BifocalIngest
public import BifocalSimulator
public import BifocalStore
import Foundation

/// Writes a simulated fleet's history into a store in virtual time: the records the gateway would
/// have written and the series the scraper would have stored, each scrape's exposition going
/// through the same parser, exporter mapping and staleness logic as a live scrape.
public struct SimulatorBackfill: Sendable {
    /// The scenario played (its fleet included).
    public var scenario: Scenario
    /// Seed for every draw.
    public var seed: UInt64
    /// Where the live simulator would serve its targets; the series' `target` and `instance`
    /// labels come from it, so backfilled and live series join.
    public var simulatorBaseURL: String
    /// Seconds between scrapes within the raw series retention (older history is scraped every
    /// minute: the minute downsamples are all that is kept of it anyway).
    public var scrapeInterval: Double = 15
    /// Every n-th record keeps its prompt, response and reference.
    public var textEvery = 1
    /// Every n-th record keeps its token gaps one by one.
    public var gapsEvery = 10
    /// How much faster than real time the scenario's script plays (1: a day of script per day).
    public var speed: Double = 1
    /// Where the scenario's script falls in the history.
    public var script: ScriptPlacement = .endsAtEnd

    /// Where a history places the scenario's script.
    public enum ScriptPlacement: Sendable {
        /// The script starts with the history.
        case startsAtStart
        /// The script ends when the history does, so recent views show it.
        case endsAtEnd
        /// The history is all baseline; the script would start where it ends (a live run that
        /// follows plays it).
        case startsAtEnd
    }

    /// Creates a backfill.
    public init(scenario: Scenario, seed: UInt64, simulatorBaseURL: String) {
        self.scenario = scenario
        self.seed = seed
        self.simulatorBaseURL = simulatorBaseURL
    }

    /// The scrape targets as the live demo configures them.
    public func scrapeTargets(interval: Int64) -> [ScrapeTarget] {
        let base = simulatorBaseURL.hasSuffix("/") ? String(simulatorBaseURL.dropLast()) : simulatorBaseURL
        let fleet = scenario.fleet
        return fleet.targets.map {
            ScrapeTarget(url: base + $0.path, job: $0.job, interval: interval, timeout: min(interval, 10 * Timestamp.microsPerSecond),
                         endpoint: fleet.endpoint, model: $0.model, instance: fleet.instance)
        }
    }

    /// Plays `duration` microseconds ending at `end` into `store`; `seriesRawRetention` decides
    /// where the 15-second scrapes start. With `catchUp` (for `end` = now), it goes on playing
    /// until its history reaches the wall clock, so the newest data is fresh when it returns. Reports progress (0-1) after each simulated hour.
    /// Returns (records, series points) stored.
    public func run(into store: any Store, duration: Int64, end: Int64, seriesRawRetention: Int64, catchUp: Bool = false,
                    progress: (Double, Int, Int) -> Void = { _, _, _ in }) async throws -> (records: Int, points: Int) {
        let origin = end - duration
        var simulation = try FleetSimulation(scenario: scenario, origin: origin, speed: speed, seed: seed)
        let length = Double(duration) / 1e6
        switch script {
        case .startsAtStart: simulation.scriptStart = 0
        case .endsAtEnd: simulation.scriptStart = max(0, length - scenario.duration.seconds / speed)
        case .startsAtEnd: simulation.scriptStart = length
        }
        var run = VirtualRun(simulation, scrapeInterval: 60, idPrefix: "sim-\(seed)-\(origin / Timestamp.microsPerSecond)")
        run.textEvery = textEvery
        run.gapsEvery = gapsEvery
        var scrapers: [String: TargetScraper] = [:]
        for target in scrapeTargets(interval: Int64(scrapeInterval * 1e6)) { scrapers[target.url] = TargetScraper(target: target) }
        let base = simulatorBaseURL.hasSuffix("/") ? String(simulatorBaseURL.dropLast()) : simulatorBaseURL
        var total = Double(duration) / 1e6
        let fineFrom = Double(duration - seriesRawRetention) / 1e6
        var recordsStored = 0
        var pointsStored = 0
        var t = 0.0
        // Two stages over the cores: while one hour is scraped and stored (the store's writer on
        // its own queue), the next one is simulated. Hours are stored one after the other, in order.
        var storing: (task: Task<Stored, any Error>, end: Double)?
        func finishStoring() async throws {
            guard let (task, end) = storing else { return }
            storing = nil
            let stored = try await task.value
            recordsStored += stored.records
            pointsStored += stored.points
            scrapers = stored.scrapers
            progress(min(1, end / total), recordsStored, pointsStored)
        }
        do {
            while true {
                if t >= total {
                    // A history that should end now ends when it is written: playing it took time, so
                    // it plays on (a shorter stretch each round) until it has caught up with the clock.
                    guard catchUp else { break }
                    let lag = Double(Timestamp.now() - origin) / 1e6 - total
                    guard lag > 1 else { break }
                    total += lag
                }
                let next = min(total, t + 3600)
                run.scrapeInterval = next > fineFrom ? scrapeInterval : 60
                var records: [InferenceRecord] = []
                var scrapes: [SimulatedScrape] = []
                run.run(until: next, record: { records.append($0) }, scrape: { scrapes.append($0) })
                try await finishStoring()
                let hour = Hour(records: records, scrapes: scrapes, scrapers: scrapers, base: base)
                storing = (Task { try await hour.store(into: store) }, next)
                t = next
            }
            try await finishStoring()
        } catch {
            // Let a store still writing finish before the error goes up (its scrapers are lost).
            if let (task, _) = storing { _ = try? await task.value }
            throw error
        }
        _ = try await store.enforceRetention(now: max(end, origin + Int64(total * 1e6)))
        return (recordsStored, pointsStored)
    }

    /// What storing one hour wrote, and the scrapers' state after its scrapes.
    struct Stored: Sendable {
        var records: Int
        var points: Int
        var scrapers: [String: TargetScraper]
    }

    /// One simulated hour on its way into the store.
    struct Hour: Sendable {
        var records: [InferenceRecord]
        var scrapes: [SimulatedScrape]
        var scrapers: [String: TargetScraper]
        var base: String

        /// Stores the records (in a child task) while the scrapes go through the scrapers, then
        /// stores their series.
        func store(into store: any Store) async throws -> Stored {
            async let recordsStored = Self.insert(records, into: store)
            var scrapers = scrapers
            var samples: [SeriesSample] = []
            for scrape in scrapes {
                let url = base + scrape.target.path
                guard var scraper = scrapers[url] else { continue }
                var text = scrape.text
                let result = text.withUTF8 { scraper.process(UnsafeRawBufferPointer($0), contentType: "text/plain; version=0.0.4", at: scrape.time, duration: 2_000) }
                scrapers[url] = scraper
                samples += result.samples
            }
            var points = 0
            var position = 0
            while position < samples.count {
                let upper = min(position + 50_000, samples.count)
                points += try await store.insertSeries(Array(samples[position..<upper]))
                position = upper
            }
            return Stored(records: try await recordsStored, points: points, scrapers: scrapers)
        }

        static func insert(_ records: [InferenceRecord], into store: any Store) async throws -> Int {
            var stored = 0
            var position = 0
            while position < records.count {
                let upper = min(position + 5000, records.count)
                stored += try await store.insert(Array(records[position..<upper])).accepted
                position = upper
            }
            return stored
        }
    }
}
