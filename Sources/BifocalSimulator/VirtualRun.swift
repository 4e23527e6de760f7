public import BifocalCore
import Foundation

/// One scrape of one simulated target: its exposition text at a wall-clock instant.
public struct SimulatedScrape: Sendable {
    /// When it was taken, microseconds since the epoch.
    public var time: Int64
    /// Which target.
    public var target: SimulatedTarget
    /// The exposition text.
    public var text: String
}

/// Plays a `FleetSimulation` in virtual time: no HTTP and no sleeping, each request turned into
/// the inference record the gateway would have written for it (with the engine's true timings),
/// and each target scraped at a fixed interval. Tests drive scenarios with it and
/// `bifocal simulate --backfill` writes history with it.
public struct VirtualRun: Sendable {
    /// The fleet being played.
    public private(set) var simulation: FleetSimulation
    /// Simulation seconds reached.
    public private(set) var now: Double = 0
    /// Seconds between scrapes of each target.
    public var scrapeInterval: Double
    /// Every n-th record keeps its token gaps one by one (the rest keep mean and max); 0: none.
    public var gapsEvery: Int = 10
    /// Every n-th record keeps its prompt, response and reference; 0: none.
    public var textEvery: Int = 1
    /// Prefix of record ids.
    public var idPrefix: String
    private var nextScrape: Double = 0
    private var pending: [UInt64: (plan: RequestPlan, answer: SimulatedAnswer, version: String)] = [:]
    private var planned: RequestPlan?

    /// Starts playing `simulation`, scraping every `scrapeInterval` seconds.
    public init(_ simulation: FleetSimulation, scrapeInterval: Double = 15, idPrefix: String = "sim") {
        self.simulation = simulation
        self.scrapeInterval = scrapeInterval
        self.idPrefix = idPrefix
    }

    /// Plays until `end` (simulation seconds), handing over records as requests finish and
    /// scrapes as they fall due, in time order per server.
    public mutating func run(until end: Double, record: (InferenceRecord) throws -> Void, scrape: (SimulatedScrape) throws -> Void) rethrows {
        let servers = simulation.fleet.servers.indices
        while true {
            if planned == nil { planned = simulation.nextRequest() }
            let arrival = planned!.time
            let next = min(arrival, nextScrape)
            guard next <= end else { break }
            // Every engine runs up to the next event; what finishes on the way becomes records.
            for index in servers {
                while let step = simulation.step(server: index, horizon: next) {
                    for outcome in step.finished { try record(makeRecord(outcome, server: index)) }
                    if step.end >= next { break }
                }
            }
            now = next
            if nextScrape <= arrival {
                for target in simulation.targets {
                    if let text = simulation.exposition(of: target, at: nextScrape) {
                        try scrape(SimulatedScrape(time: simulation.wallClock(nextScrape), target: target, text: text))
                    }
                }
                nextScrape += scrapeInterval
                continue
            }
            let plan = planned!
            planned = nil
            switch simulation.decide(server: plan.server, question: plan.question, promptTokens: plan.promptTokens, maxTokens: nil, at: plan.time) {
            case .failure(let status, let message):
                try record(failureRecord(plan, status: status, message: message))
            case .answer(let answer):
                pending[plan.id] = (plan, answer, simulation.version(server: plan.server, at: plan.time))
                simulation.submit(id: plan.id, server: plan.server, arrival: plan.time, promptTokens: plan.promptTokens,
                                  answer: answer, keepGaps: gapsEvery > 0 && plan.id % UInt64(gapsEvery) == 0)
            }
        }
        for index in servers {
            while let step = simulation.step(server: index, horizon: end) {
                for outcome in step.finished { try record(makeRecord(outcome, server: index)) }
                if step.end >= end { break }
            }
        }
        now = end
    }

    private func baseRecord(_ plan: RequestPlan, version: String) -> InferenceRecord {
        let fleet = simulation.fleet
        // Zero-padded so ids sort in arrival order: the store inserts ordered keys fastest.
        let number = String(plan.id)
        var record = InferenceRecord(id: "\(idPrefix)-\(String(repeating: "0", count: max(0, 10 - number.count)))\(number)", start: simulation.wallClock(plan.time), endpoint: fleet.endpoint,
                                     model: fleet.servers[plan.server].name, component: fleet.servers[plan.server].name,
                                     instance: fleet.instance, streaming: true, inputTokens: plan.promptTokens,
                                     source: .gateway, provider: "vllm", requestModel: fleet.servers[plan.server].name,
                                     tenant: plan.tenant, labels: ["version": version, "topic": plan.question.topic])
        if textEvery > 0, plan.id % UInt64(textEvery) == 0 {
            record.prompt = plan.question.prompt
            record.reference = plan.question.reference
        }
        return record
    }

    private func failureRecord(_ plan: RequestPlan, status: Int, message: String) -> InferenceRecord {
        var record = baseRecord(plan, version: simulation.version(server: plan.server, at: plan.time))
        record.status = status >= 500 ? .serverError : .clientError
        record.httpStatus = status
        record.error = message
        record.e2eMs = 2 + Double(plan.id % 7)
        record.outputTokens = 0
        return record
    }

    private mutating func makeRecord(_ outcome: EngineOutcome, server: Int) -> InferenceRecord {
        guard let (plan, answer, version) = pending.removeValue(forKey: outcome.id) else {
            return InferenceRecord(start: simulation.wallClock(outcome.arrival), status: .serverError)
        }
        var record = baseRecord(plan, version: version)
        record.httpStatus = 200
        record.outputTokens = outcome.outputTokens
        record.ttftMs = outcome.firstToken.map { ($0 - outcome.arrival) * 1000 }
        record.e2eMs = (outcome.finished - outcome.arrival) * 1000
        record.queueMs = outcome.scheduled.map { ($0 - outcome.arrival) * 1000 }
        record.finishReason = outcome.finishReason
        if let gaps = outcome.gaps {
            record.itlMs = gaps.map { $0 * 1000 }
        } else if outcome.outputTokens > 1 {
            record.itlMeanMs = outcome.gapSum * 1000 / Double(outcome.outputTokens - 1)
            record.itlMaxMs = outcome.gapMax * 1000
        }
        if record.prompt != nil { record.response = answer.text }
        return record
    }
}
