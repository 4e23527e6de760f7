import BifocalCore
import Foundation
import Synchronization

/// What the live fleet tells the HTTP stream of one accepted request.
public enum LiveEvent: Sendable {
    /// The engine produced these pieces (one token each) at engine time `at`.
    case tokens([String], at: Double)
    /// The request left the engine (finished, cut off, aborted): the engine's account of it.
    case finished(EngineOutcome)
}

/// A request the live fleet accepted: what it will answer, and the events that pace the answer.
public struct LiveAdmission: Sendable {
    /// The fleet's id for the request (also its engine id).
    public var requestID: UInt64
    /// The whole answer the engine will stream.
    public var answer: SimulatedAnswer
    /// The server's version label when the request arrived (`system_fingerprint`).
    public var version: String
    /// Tokens as the engine produces them, then `.finished`; the stream ends after that.
    public var events: AsyncStream<LiveEvent>
}

/// How the live fleet answers one request: at once with an HTTP failure, or through the engine.
public enum LiveDecision: Sendable {
    /// Accepted: read `events` for the tokens.
    case accepted(LiveAdmission)
    /// Refused at once with this HTTP status and message (the scenario's error rate, too long a prompt).
    case failure(requestID: UInt64, status: Int, message: String)
}

/// The simulator's own account of one request, in engine seconds since the fleet started: what a
/// gateway in front should have measured, give or take its own overhead.
public struct SimulatedTruth: Sendable, Codable, Equatable {
    /// The fleet's id for the request.
    public var requestID: UInt64
    /// The W3C trace id of the request's `traceparent` header, when it had one.
    public var traceID: String?
    /// The model server that answered.
    public var server: String
    /// The matched question's prompt (nil when the text matched none).
    public var question: String?
    /// The matched question's reference answer.
    public var reference: String?
    /// The fault that spoiled the answer, if any.
    public var fault: String?
    /// The server's version label at arrival.
    public var version: String
    /// HTTP status answered: 200, or the failure's status.
    public var status: Int
    /// When the request reached the engine.
    public var arrival: Double
    /// When the engine first scheduled it (its queue time ends).
    public var scheduled: Double?
    /// When its first token was produced.
    public var firstToken: Double?
    /// When it left the engine (nil while it runs).
    public var finished: Double?
    /// Prompt tokens.
    public var promptTokens: Int
    /// Tokens produced so far.
    public var outputTokens: Int
    /// `stop`, `length` or `abort` once finished.
    public var finishReason: String?
    /// How often the engine preempted it.
    public var preemptions: Int
    /// When (engine seconds) the HTTP handler began on the request, before reading its body.
    /// Kept for `bench demo`; not encoded.
    public var received: Double?
    /// When (engine seconds, off the clock) the driver actually woke to deliver the first token
    /// scheduled for `firstToken`. Kept for `bench demo`; not encoded.
    public var firstTokenWoke: Double?
    /// When (engine seconds, off the clock) the HTTP stream handed the first content chunk to its
    /// writer. Kept for `bench demo`; not encoded.
    public var firstTokenWritten: Double?
    /// Scheduled time to first token, milliseconds.
    public var ttftMs: Double? { firstToken.map { ($0 - arrival) * 1000 } }
    /// Scheduled arrival to last token, milliseconds.
    public var e2eMs: Double? { finished.map { ($0 - arrival) * 1000 } }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", traceID = "trace_id", server, question, reference, fault, version, status, arrival
        case scheduled, firstToken = "first_token", finished, promptTokens = "prompt_tokens", outputTokens = "output_tokens"
        case finishReason = "finish_reason", preemptions, ttftMs = "ttft_ms", e2eMs = "e2e_ms"
    }

    /// Creates a record.
    public init(requestID: UInt64, traceID: String?, server: String, question: String?, reference: String?, fault: String?,
                version: String, status: Int, arrival: Double, promptTokens: Int) {
        self.requestID = requestID; self.traceID = traceID; self.server = server; self.question = question
        self.reference = reference; self.fault = fault; self.version = version; self.status = status
        self.arrival = arrival; self.promptTokens = promptTokens; self.outputTokens = 0; self.preemptions = 0
    }

    /// Decodes a record (the derived milliseconds are recomputed, not read).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        requestID = try c.decode(UInt64.self, forKey: .requestID)
        traceID = try c.decodeIfPresent(String.self, forKey: .traceID)
        server = try c.decode(String.self, forKey: .server)
        question = try c.decodeIfPresent(String.self, forKey: .question)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        fault = try c.decodeIfPresent(String.self, forKey: .fault)
        version = try c.decode(String.self, forKey: .version)
        status = try c.decode(Int.self, forKey: .status)
        arrival = try c.decode(Double.self, forKey: .arrival)
        scheduled = try c.decodeIfPresent(Double.self, forKey: .scheduled)
        firstToken = try c.decodeIfPresent(Double.self, forKey: .firstToken)
        finished = try c.decodeIfPresent(Double.self, forKey: .finished)
        promptTokens = try c.decode(Int.self, forKey: .promptTokens)
        outputTokens = try c.decode(Int.self, forKey: .outputTokens)
        finishReason = try c.decodeIfPresent(String.self, forKey: .finishReason)
        preemptions = try c.decode(Int.self, forKey: .preemptions)
    }

    /// Encodes every field, the derived milliseconds included (so a reader needs no arithmetic).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(traceID, forKey: .traceID)
        try c.encode(server, forKey: .server)
        try c.encode(question, forKey: .question)
        try c.encode(reference, forKey: .reference)
        try c.encode(fault, forKey: .fault)
        try c.encode(version, forKey: .version)
        try c.encode(status, forKey: .status)
        try c.encode(arrival, forKey: .arrival)
        try c.encode(scheduled, forKey: .scheduled)
        try c.encode(firstToken, forKey: .firstToken)
        try c.encode(finished, forKey: .finished)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(outputTokens, forKey: .outputTokens)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encode(preemptions, forKey: .preemptions)
        try c.encode(ttftMs, forKey: .ttftMs)
        try c.encode(e2eMs, forKey: .e2eMs)
    }
}

/// One `FleetSimulation` paced by a real clock: engine time is seconds since the fleet was
/// created, on a `ContinuousClock`. One driver per model server (`runDrivers`) runs its engine an
/// iteration at a time, sleeps until the iteration's end and then hands its tokens to the waiting
/// requests, so tokens leave when the modelled GPU would have produced them.
///
/// Every request's scheduled times are kept (`truth`), keyed by request id and by the trace id
/// of its `traceparent`, so a benchmark can set the gateway's measurements against them.
/// Thread-safe: one lock guards the simulation; nothing waits while holding it.
public final class LiveFleet: Sendable {
    /// The scenario being played.
    public let scenario: Scenario
    /// How much faster than real time the scenario's script plays.
    public let speed: Double
    /// The seed every draw derives from.
    public let seed: UInt64
    /// The instant engine time zero corresponds to.
    public let start: ContinuousClock.Instant
    /// Wall-clock microseconds since the epoch at engine time zero.
    public let origin: Int64
    /// The model servers' names, in fleet order.
    public let serverNames: [String]
    /// How many finished requests' truths are kept (older ones are forgotten first).
    public let truthCapacity: Int

    struct Pending: Sendable {
        var server: Int
        var pieces: [String]
        var delivered = 0
        var continuation: AsyncStream<LiveEvent>.Continuation
    }

    struct State: Sendable {
        var simulation: FleetSimulation
        var nextID: UInt64 = 1
        var pending: [UInt64: Pending] = [:]
        var truths: [UInt64: SimulatedTruth] = [:]
        /// Request ids in arrival order, for forgetting the oldest and listing the newest.
        var order: [UInt64] = []
        var orderHead = 0
        var byTrace: [String: UInt64] = [:]
        /// Wakes each server's driver when a request is submitted (nil while no driver runs).
        var wake: [AsyncStream<Void>.Continuation?]
        var driving = false
    }

    private let state: Mutex<State>

    /// Sets up the fleet; engine time starts now. `speed` makes the scenario's script play faster
    /// (arrival rates and token pacing stay real); `seed` makes every draw repeatable.
    public init(scenario: Scenario, speed: Double = 1, seed: UInt64 = 1, truthCapacity: Int = 50_000) throws {
        let origin = Timestamp.now()
        let simulation = try FleetSimulation(scenario: scenario, origin: origin, speed: speed, seed: seed)
        self.scenario = scenario
        self.speed = speed
        self.seed = seed
        self.origin = origin
        self.serverNames = scenario.fleet.servers.map(\.name)
        self.truthCapacity = max(1, truthCapacity)
        self.state = Mutex(State(simulation: simulation, wake: Array(repeating: nil, count: scenario.fleet.servers.count)))
        self.start = ContinuousClock.now
    }

    /// Engine seconds now.
    public var now: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// The clock instant of engine time `t`.
    public func instant(at t: Double) -> ContinuousClock.Instant {
        start + .nanoseconds(Int64((t * 1e9).rounded()))
    }

    /// The index of the model server called `name`.
    public func serverIndex(named name: String) -> Int? { serverNames.firstIndex(of: name) }

    /// The scrape targets the fleet serves.
    public var targets: [SimulatedTarget] { state.withLock { $0.simulation.targets } }

    /// The exposition text of `target` now (call it at scrape time: GPU utilisation is the busy
    /// share since the previous call for the same target).
    public func exposition(of target: SimulatedTarget) -> String? {
        state.withLock { $0.simulation.exposition(of: target, at: now) }
    }

    /// The version label server `index` reports now.
    public func version(server index: Int) -> String {
        state.withLock { $0.simulation.version(server: index, at: now) }
    }

    /// Longest prompt plus answer server `index` accepts, tokens.
    public func contextLength(server index: Int) -> Int {
        state.withLock { $0.simulation.engines[index].contextLength }
    }

    /// Requests running and waiting in server `index`'s engine.
    public func load(server index: Int) -> (running: Int, waiting: Int) {
        state.withLock { ($0.simulation.engines[index].runningCount, $0.simulation.engines[index].waitingCount) }
    }

    /// The traffic generator's next request (its `time` is engine seconds), advancing it.
    public func nextPlan() -> RequestPlan { state.withLock { $0.simulation.nextRequest() } }

    /// Decides and, when accepted, submits a request to server `index` arriving now: `question`
    /// picks the answer (`reference` says whether the text matched a known question, for the
    /// truth record), `traceID` is the incoming `traceparent`'s trace id.
    public func submit(server index: Int, question: Question, matched: Bool, promptTokens: Int, maxTokens: Int?,
                       traceID: String?, received: Double? = nil) -> LiveDecision {
        state.withLock { state in
            let now = self.now
            let id = state.nextID
            state.nextID += 1
            let version = state.simulation.version(server: index, at: now)
            var truth = SimulatedTruth(requestID: id, traceID: traceID, server: serverNames[index],
                                       question: matched ? question.prompt : nil, reference: matched ? question.reference : nil,
                                       fault: nil, version: version, status: 200, arrival: now, promptTokens: promptTokens)
            truth.received = received
            let decision = state.simulation.decide(server: index, question: question, promptTokens: promptTokens,
                                                   maxTokens: maxTokens, at: now)
            switch decision {
            case .failure(let status, let message):
                truth.status = status
                truth.finished = now
                Self.remember(truth, in: &state, capacity: truthCapacity)
                return .failure(requestID: id, status: status, message: message)
            case .answer(let answer):
                truth.fault = answer.fault?.rawValue
                Self.remember(truth, in: &state, capacity: truthCapacity)
                let (events, continuation) = AsyncStream.makeStream(of: LiveEvent.self, bufferingPolicy: .unbounded)
                state.pending[id] = Pending(server: index, pieces: answer.pieces, continuation: continuation)
                state.simulation.submit(id: id, server: index, arrival: now, promptTokens: promptTokens, answer: answer, keepGaps: false)
                state.wake[index]?.yield()
                return .accepted(LiveAdmission(requestID: id, answer: answer, version: version, events: events))
            }
        }
    }

    /// Takes a request out of its engine (its client left): its stream ends with an `abort`
    /// outcome. Does nothing for a request that already finished.
    public func cancel(requestID id: UInt64) {
        state.withLock { state in
            guard let pending = state.pending.removeValue(forKey: id) else { return }
            if let outcome = state.simulation.cancel(id: id, server: pending.server) {
                Self.record(outcome, in: &state)
                pending.continuation.yield(.finished(outcome))
            }
            pending.continuation.finish()
        }
    }

    /// The truth of the request whose `traceparent` carried `traceID` (32 lowercase hex digits).
    public func truth(traceID: String) -> SimulatedTruth? {
        state.withLock { state in state.byTrace[traceID].flatMap { state.truths[$0] } }
    }

    /// The truth of request `requestID`.
    public func truth(requestID: UInt64) -> SimulatedTruth? { state.withLock { $0.truths[requestID] } }

    /// The most recent `limit` requests' truths, oldest first.
    public func recentTruths(limit: Int = 100) -> [SimulatedTruth] {
        state.withLock { state in
            let live = state.order[state.orderHead...]
            return live.suffix(max(0, limit)).compactMap { state.truths[$0] }
        }
    }

    private static func remember(_ truth: SimulatedTruth, in state: inout State, capacity: Int) {
        state.truths[truth.requestID] = truth
        state.order.append(truth.requestID)
        if let trace = truth.traceID { state.byTrace[trace] = truth.requestID }
        while state.order.count - state.orderHead > capacity {
            let old = state.order[state.orderHead]
            state.orderHead += 1
            if let gone = state.truths.removeValue(forKey: old), let trace = gone.traceID, state.byTrace[trace] == old {
                state.byTrace[trace] = nil
            }
        }
        // Compact now and then rather than shifting the array on every forget.
        if state.orderHead > 4096, state.orderHead * 2 > state.order.count {
            state.order.removeFirst(state.orderHead)
            state.orderHead = 0
        }
    }

    private static func record(_ outcome: EngineOutcome, in state: inout State) {
        guard var truth = state.truths[outcome.id] else { return }
        truth.scheduled = outcome.scheduled
        truth.firstToken = outcome.firstToken
        truth.finished = outcome.finished
        truth.outputTokens = outcome.outputTokens
        truth.finishReason = outcome.finishReason
        truth.preemptions = outcome.preemptions
        state.truths[outcome.id] = truth
    }

    /// Runs one driver per model server until the calling task is cancelled. Call it once (a
    /// second concurrent call returns at once); `LiveFleetServer` calls it for you.
    public func runDrivers() async {
        var streams: [AsyncStream<Void>] = []
        let started = state.withLock { state -> Bool in
            guard !state.driving else { return false }
            state.driving = true
            for index in state.wake.indices {
                let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
                // Requests submitted before the drivers started are waiting: look at once.
                continuation.yield()
                state.wake[index] = continuation
                streams.append(stream)
            }
            return true
        }
        guard started else { return }
        await withDiscardingTaskGroup { group in
            for (index, stream) in streams.enumerated() {
                group.addTask { await self.drive(server: index, wake: stream) }
            }
        }
        state.withLock { state in
            for continuation in state.wake { continuation?.finish() }
            state.wake = Array(repeating: nil, count: state.wake.count)
            state.driving = false
        }
    }

    /// One server's driver: on each wake-up, run iterations until the engine is idle, each one
    /// paced to end when the clock reaches its end. The engine's clock never runs ahead of the
    /// real one by more than the iteration in progress, and a late wake-up does not shift later
    /// iterations (each sleeps until an absolute instant).
    private func drive(server index: Int, wake: AsyncStream<Void>) async {
        for await _ in wake {
            while !Task.isCancelled {
                let now = self.now
                guard let step = state.withLock({ $0.simulation.step(server: index, horizon: now, maxIterations: 1) }) else { break }
                if step.end > now {
                    do { try await Task.sleep(until: instant(at: step.end), clock: .continuous) } catch { return }
                }
                deliver(step, woke: self.now)
            }
            if Task.isCancelled { return }
        }
    }

    /// Notes that the HTTP stream of request `id` hands its first content chunk to its writer now.
    public func noteFirstWrite(requestID id: UInt64) {
        let now = self.now
        state.withLock { state in
            if state.truths[id] != nil, state.truths[id]?.firstTokenWritten == nil { state.truths[id]?.firstTokenWritten = now }
        }
    }

    private func deliver(_ step: EngineStep, woke: Double) {
        state.withLock { state in
            for (id, count) in step.tokens {
                guard var pending = state.pending[id] else { continue }
                let upper = min(pending.pieces.count, pending.delivered + count)
                let pieces = Array(pending.pieces[pending.delivered..<upper])
                pending.delivered = upper
                state.pending[id] = pending
                if state.truths[id]?.firstToken == nil {
                    state.truths[id]?.firstToken = step.end
                    state.truths[id]?.firstTokenWoke = woke
                }
                state.truths[id]?.outputTokens = upper
                if !pieces.isEmpty { pending.continuation.yield(.tokens(pieces, at: step.end)) }
            }
            for outcome in step.finished {
                Self.record(outcome, in: &state)
                guard let pending = state.pending.removeValue(forKey: outcome.id) else { continue }
                pending.continuation.yield(.finished(outcome))
                pending.continuation.finish()
            }
        }
    }
}

extension QuestionSet {
    /// The built-in question whose prompt `text` contains (the longest, should several), or nil.
    /// The traffic generator puts the question after its context, so the end is tried first.
    public static func match(_ text: String) -> Question? {
        if let found = all.filter({ text.hasSuffix($0.prompt) }).max(by: { $0.prompt.count < $1.prompt.count }) { return found }
        return all.filter { text.contains($0.prompt) }.max { $0.prompt.count < $1.prompt.count }
    }

    /// The question used for text that matches none: a generic, helpful answer with nothing to
    /// check it against.
    public static func unmatched(_ text: String) -> Question {
        Question(topic: "general", prompt: text,
                 reference: "Thanks for your question. Here is a short, general answer based on what I know, with the main points first.")
    }
}
