public import BifocalCore
import Foundation

/// What a client of the simulated fleet decides about one request: when, to which model, which
/// question, how long its prompt is, for which tenant.
public struct RequestPlan: Sendable {
    /// A number unique in this simulation.
    public var id: UInt64
    /// When it is sent, seconds since the simulation's origin.
    public var time: Double
    /// Index of the model server in the fleet.
    public var server: Int
    /// The question asked.
    public var question: Question
    /// Prompt tokens (question plus context).
    public var promptTokens: Int
    /// Who sends it.
    public var tenant: String
}

/// How a simulated model server answers one request.
public enum ServerDecision: Sendable {
    /// It streams `answer` (the engine paces the tokens).
    case answer(SimulatedAnswer)
    /// It fails at once with this HTTP status and message.
    case failure(status: Int, message: String)
}

/// A scrape target the simulated fleet serves: a vLLM server's `/metrics` or a DCGM exporter's
/// view of a group of GPUs.
public struct SimulatedTarget: Sendable, Hashable {
    /// Path under the simulator's address (`/servers/llama-3-8b/metrics`).
    public var path: String
    /// `vllm` or `dcgm`.
    public var job: String
    /// The model its series belong to (nil for unassigned GPUs).
    public var model: String?
}

/// The simulated fleet's state, shared by the virtual-time runner and the live HTTP server: one
/// engine per model server, the GPUs, the traffic generator and the scenario's script.
///
/// Time is seconds since `origin` (a wall-clock instant, microseconds since the epoch). Scenario
/// time runs `speed` times faster: the script and the daily curve move quickly while arrival
/// rates and token pacing stay real.
public struct FleetSimulation: Sendable {
    /// The scenario being played.
    public let scenario: Scenario
    /// The fleet.
    public var fleet: FleetSpec { scenario.fleet }
    /// Wall-clock instant of time zero, microseconds since the epoch.
    public let origin: Int64
    /// How much faster than real time the script plays.
    public let speed: Double
    let gpu: GPUProfile
    /// The engines, one per model server, in fleet order.
    public private(set) var engines: [EngineModel]
    private var trafficRandom: SplitMix64
    private var serverRandom: [SplitMix64]
    private var nextArrival: [Double]
    private var nextID: UInt64 = 1
    private var burstUntil = -1.0
    private var nextBurst: Double
    /// Leaked memory per GPU, MiB.
    public private(set) var leakedMiB: [Double]
    private var lastLeakUpdate = 0.0
    private var energyMillijoules: [Double]
    private var lastScrape: [String: (time: Double, busy: Double, active: Double)] = [:]

    /// Sets up the fleet at `origin`; `seed` makes every draw repeatable.
    public init(scenario: Scenario, origin: Int64, speed: Double = 1, seed: UInt64 = 1) throws {
        try scenario.validate()
        guard speed > 0 else { throw SimulatorError("speed must be positive") }
        self.scenario = scenario
        self.origin = origin
        self.speed = speed
        self.gpu = try scenario.fleet.gpuProfile()
        self.engines = try scenario.fleet.servers.map { try EngineModel(spec: $0, gpu: try scenario.fleet.gpuProfile()) }
        self.trafficRandom = SplitMix64(state: seed)
        self.serverRandom = scenario.fleet.servers.indices.map { SplitMix64(state: seed &* 0x9E37_79B9 &+ UInt64($0) &+ 17) }
        self.nextArrival = Array(repeating: 0, count: scenario.fleet.servers.count)
        self.leakedMiB = Array(repeating: 0, count: scenario.fleet.gpuCount)
        self.energyMillijoules = Array(repeating: 0, count: scenario.fleet.gpuCount)
        self.nextBurst = 0
        nextBurst = drawBurstGap()
        for index in nextArrival.indices { nextArrival[index] = drawArrivalGap(server: index, at: 0) }
    }

    /// Scenario seconds at simulation time `t`.
    public func scenarioTime(_ t: Double) -> Double { (t - scriptStart) * speed }
    /// Simulation seconds at which the scenario's script starts (before it, the baseline holds):
    /// 0 plays it from the start; a history can place it at its end, or after it.
    public var scriptStart: Double = 0
    /// Wall-clock microseconds at simulation time `t`.
    public func wallClock(_ t: Double) -> Int64 { origin + Int64((t * 1e6).rounded()) }
    /// The scenario's clock (for the daily curve) at simulation time `t`.
    public func scenarioClock(_ t: Double) -> Int64 { origin + Int64((t * speed * 1e6).rounded()) }

    /// The scenario's effects on server `index` at simulation time `t`.
    public func effects(server index: Int, at t: Double) -> ScenarioEffects {
        scenario.effects(at: scenarioTime(t), clock: scenarioClock(t), server: fleet.servers[index], burst: t < burstUntil)
    }

    private mutating func drawBurstGap() -> Double {
        guard scenario.burstsPerHour > 0 else { return .infinity }
        let u = max(trafficRandom.uniform(), 1e-12)
        // Bursts come at a rate per scenario hour; in simulation seconds that is `speed` times as often.
        return -log(u) * 3600 / (scenario.burstsPerHour * speed)
    }

    private mutating func drawArrivalGap(server index: Int, at t: Double) -> Double {
        let rate = fleet.servers[index].requestsPerSecond * max(0.02, effects(server: index, at: t).traffic)
        guard rate > 0 else { return t + 3600 }
        let u = max(trafficRandom.uniform(), 1e-12)
        return t - log(u) / rate
    }

    /// When the next request will be sent (simulation seconds).
    public var nextArrivalTime: Double { nextArrival.min() ?? .infinity }

    /// The next request's plan, advancing the traffic generator. Arrivals are Poisson at the
    /// server's rate times the scenario's multiplier (daily curve, bursts, phases), re-drawn at
    /// each arrival; prompt lengths are lognormal around the server's median.
    public mutating func nextRequest() -> RequestPlan {
        let index = nextArrival.indices.min { nextArrival[$0] < nextArrival[$1] }!
        let t = nextArrival[index]
        while nextBurst <= t {
            burstUntil = nextBurst + scenario.burstDuration.seconds / speed
            nextBurst += drawBurstGap()
        }
        let effects = effects(server: index, at: t)
        let spec = fleet.servers[index]
        let topic = pick(effects.topics, &trafficRandom) ?? "support"
        let questions = QuestionSet.byTopic[topic] ?? QuestionSet.all
        let question = questions[Int(trafficRandom.next() % UInt64(questions.count))]
        let median = spec.promptTokensMedian * effects.promptTokens
        let limit = Double(engines[index].contextLength) * 0.8
        let prompt = Int(min(limit, max(8, trafficRandom.logNormal(mu: log(median), sigma: 0.7))))
        let tenant = pick(scenario.tenants, &trafficRandom) ?? "default"
        let plan = RequestPlan(id: nextID, time: t, server: index, question: question, promptTokens: prompt, tenant: tenant)
        nextID += 1
        nextArrival[index] = drawArrivalGap(server: index, at: t)
        return plan
    }

    /// How server `index` answers a request for `question` with `promptTokens` at simulation time
    /// `t`: an HTTP failure (the scenario's error rate, or a prompt too long for the context), or
    /// an answer whose length is lognormal around the server's median and which the scenario's
    /// faults may spoil.
    public mutating func decide(server index: Int, question: Question, promptTokens: Int, maxTokens: Int?, at t: Double) -> ServerDecision {
        let effects = effects(server: index, at: t)
        let spec = fleet.servers[index]
        var random = serverRandom[index]
        defer { serverRandom[index] = random }
        if effects.errorRate > 0, random.uniform() < effects.errorRate {
            return .failure(status: 503, message: "Service Unavailable: the model server is overloaded, try again later")
        }
        var fault: AnswerFault?
        let roll = random.uniform()
        var cumulative = 0.0
        for candidate in AnswerFault.allCases {
            cumulative += effects.faults[candidate] ?? 0
            if roll < cumulative { fault = candidate; break }
        }
        let median = spec.outputTokensMedian * effects.outputTokens
        var length = Int(min(4096, max(1, random.logNormal(mu: log(median), sigma: 0.6))))
        var answer = QuestionSet.answer(to: question, length: length, fault: fault, rng: &random)
        length = answer.tokens
        if let maxTokens, maxTokens > 0, length > maxTokens {
            answer.pieces = Array(answer.pieces.prefix(maxTokens))
            answer.finishReason = "length"
        }
        if let reason = engines[index].rejection(promptTokens: promptTokens, outputTokens: answer.tokens) {
            return .failure(status: 400, message: reason)
        }
        return .answer(answer)
    }

    /// Hands an accepted request to server `index`'s engine.
    public mutating func submit(id: UInt64, server index: Int, arrival: Double, promptTokens: Int, answer: SimulatedAnswer, keepGaps: Bool) {
        engines[index].submit(id: id, arrival: arrival, promptTokens: promptTokens, outputTokens: answer.tokens,
                              finishReason: answer.finishReason, keepGaps: keepGaps)
    }

    /// Runs server `index`'s engine: at most `maxIterations` iterations, not past `horizon`.
    public mutating func step(server index: Int, horizon: Double, maxIterations: Int = .max) -> EngineStep? {
        if let step = engines[index].step(horizon: horizon, maxIterations: maxIterations) { return step }
        engines[index].idle(until: horizon)
        return nil
    }

    /// Takes a request out of server `index` (its client left).
    public mutating func cancel(id: UInt64, server index: Int) -> EngineOutcome? { engines[index].cancel(id: id) }

    /// The version label server `index` reports at `t`.
    public func version(server index: Int, at t: Double) -> String { effects(server: index, at: t).version }

    /// The scrape targets the fleet serves.
    public var targets: [SimulatedTarget] { fleet.targets }

    /// Moves the GPU memory leaks forward to `t`.
    public mutating func updateLeaks(to t: Double) {
        guard t > lastLeakUpdate else { return }
        let minutes = (t - lastLeakUpdate) * speed / 60
        for (index, server) in fleet.servers.enumerated() {
            let rate = effects(server: index, at: t).memoryLeakMiBPerMinute
            guard rate > 0 else { continue }
            for gpuIndex in server.gpus { leakedMiB[gpuIndex] += rate * minutes }
        }
        lastLeakUpdate = t
    }

    /// The exposition text of `target` at simulation time `t` (Prometheus text format 0.0.4, as
    /// vLLM and DCGM exporter write it). Call at scrape time: GPU utilisation is the busy share
    /// since the previous call for the same target.
    public mutating func exposition(of target: SimulatedTarget, at t: Double) -> String? {
        updateLeaks(to: t)
        if target.job == "vllm" {
            guard let index = fleet.servers.firstIndex(where: { $0.name == target.model }) else { return nil }
            return Exposition.vllm(engines[index], model: fleet.servers[index].name)
        }
        let gpus: [Int]
        var index: Int?
        if let model = target.model {
            guard let found = fleet.servers.firstIndex(where: { $0.name == model }) else { return nil }
            index = found
            gpus = fleet.servers[found].gpus
        } else {
            gpus = fleet.unassignedGPUs
        }
        var utilization = 0.0
        if let index {
            let engine = engines[index]
            let previous = lastScrape[target.path] ?? (time: min(t, engine.now) - 15, busy: 0, active: 0)
            let elapsed = max(1e-3, t - previous.time)
            utilization = min(1, max(0, (engine.activeSeconds - previous.active) / elapsed))
            lastScrape[target.path] = (t, engine.busySeconds, engine.activeSeconds)
        }
        var readings: [Exposition.GPUReading] = []
        for gpuIndex in gpus {
            let total = gpu.memoryGiB * 1024
            var used = 0.0
            if let index { used = total * fleet.servers[index].gpuMemoryUtilization + 480 }
            used = min(total - 64, used + leakedMiB[gpuIndex])
            let power = gpu.idlePowerW + (gpu.maxPowerW - gpu.idlePowerW) * pow(utilization, 0.8)
            let previous = lastScrape["energy-\(gpuIndex)"]?.time ?? t
            energyMillijoules[gpuIndex] += power * max(0, t - previous) * 1000
            lastScrape["energy-\(gpuIndex)"] = (t, 0, 0)
            readings.append(Exposition.GPUReading(index: gpuIndex, utilization: utilization, usedMiB: used, totalMiB: total,
                                                  powerW: power, temperatureC: 30 + 45 * power / gpu.maxPowerW,
                                                  energyMillijoules: energyMillijoules[gpuIndex]))
        }
        return Exposition.dcgm(readings, gpuName: gpu.name, host: fleet.instance)
    }
}

/// A key drawn in proportion to its weight.
func pick(_ weights: [String: Double], _ random: inout SplitMix64) -> String? {
    let keys = weights.keys.sorted()
    let total = keys.reduce(0) { $0 + max(0, weights[$1]!) }
    guard total > 0 else { return keys.first }
    var roll = random.uniform() * total
    for key in keys {
        roll -= max(0, weights[key]!)
        if roll < 0 { return key }
    }
    return keys.last
}

extension FleetSpec {
    /// The scrape targets this fleet serves: each model server's vLLM metrics and DCGM view of
    /// its GPUs, and the GPUs no server uses.
    public var targets: [SimulatedTarget] {
        var targets: [SimulatedTarget] = []
        for server in servers {
            targets.append(SimulatedTarget(path: "/servers/\(server.name)/metrics", job: "vllm", model: server.name))
            targets.append(SimulatedTarget(path: "/dcgm/\(server.name)/metrics", job: "dcgm", model: server.name))
        }
        if !unassignedGPUs.isEmpty { targets.append(SimulatedTarget(path: "/dcgm/unassigned/metrics", job: "dcgm", model: nil)) }
        return targets
    }

    /// GPUs of the instance no model server runs on.
    var unassignedGPUs: [Int] {
        let taken = Set(servers.flatMap(\.gpus))
        return (0..<gpuCount).filter { !taken.contains($0) }
    }

    /// The same fleet with every model server's request rate multiplied by `load`.
    public func scaled(load: Double) -> FleetSpec {
        var scaled = self
        for index in scaled.servers.indices { scaled.servers[index].requestsPerSecond *= load }
        return scaled
    }

    /// The endpoint as Bifocal's configuration describes it: price, GPUs, and each model
    /// server's GPUs reserved (for `cost.*` and `gpus.used`).
    public var endpointSpec: EndpointSpec {
        var reservations: [String: Double] = [:]
        for server in servers { reservations[server.name] = Double(server.gpus.count) }
        return EndpointSpec(name: endpoint, instanceType: instanceType, hourlyPrice: hourlyPrice, gpus: gpuCount, reservations: reservations)
    }
}
