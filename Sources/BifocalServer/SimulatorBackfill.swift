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
        // Two stages over the cores, an hour at a time: while the store writes an hour (records,
        // then series; the store's writer runs on its own queue), this task plays the next one and
        // puts its scrapes through the scrapers. Hours are written one after the other, in order,
        // so the store holds what a serial run leaves.
        var storing: [(task: Task<Stored, any Error>, end: Double)] = []
        func finishOldest() async throws {
            let (task, end) = storing.removeFirst()
            let stored = try await task.value
            recordsStored += stored.records
            pointsStored += stored.points
            progress(min(1, end / total), recordsStored, pointsStored)
        }
        do {
            while true {
                // A cancelled backfill (Ctrl-C during the demo's history) stops at the next hour;
                // the hours being written finish first (below).
                try Task.checkCancellation()
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
                var samples: [SeriesSample] = []
                for scrape in scrapes {
                    let url = base + scrape.target.path
                    guard var scraper = scrapers[url] else { continue }
                    var text = scrape.text
                    let result = text.withUTF8 { scraper.process(UnsafeRawBufferPointer($0), contentType: "text/plain; version=0.0.4", at: scrape.time, duration: 2_000) }
                    scrapers[url] = scraper
                    samples += result.samples
                }
                // At most two hours wait for the writer, so memory stays bounded.
                if storing.count >= 2 { try await finishOldest() }
                let previous = storing.last?.task, hourRecords = records, hourSamples = samples
                storing.append((Task {
                    _ = try await previous?.value
                    let records = try await Self.insert(hourRecords, into: store)
                    let points = try await Self.insert(hourSamples, into: store)
                    return Stored(records: records, points: points)
                }, next))
                t = next
            }
            while !storing.isEmpty { try await finishOldest() }
        } catch {
            // Let the hours still being written finish before the error goes up.
            for (task, _) in storing { _ = try? await task.value }
            throw error
        }
        _ = try await store.enforceRetention(now: max(end, origin + Int64(total * 1e6)))
        return (recordsStored, pointsStored)
    }

    /// What storing one hour wrote.
    struct Stored: Sendable {
        var records: Int
        var points: Int
    }

    /// Stores records in batches of 5,000.
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

    /// Stores series samples in batches of 50,000.
    static func insert(_ samples: [SeriesSample], into store: any Store) async throws -> Int {
        var points = 0
        var position = 0
        while position < samples.count {
            let upper = min(position + 50_000, samples.count)
            points += try await store.insertSeries(Array(samples[position..<upper]))
            position = upper
        }
        return points
    }
}
