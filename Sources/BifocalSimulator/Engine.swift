import Foundation

/// Cumulative histogram with fixed upper bounds, as a Prometheus client keeps one.
public struct BucketHistogram: Sendable {
    /// Upper bounds, ascending (`+Inf` implied).
    public let bounds: [Double]
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    public private(set) var counts: [Double]
    /// Sum of observed values.
    public private(set) var sum: Double = 0
    /// Number of observations.
    public private(set) var count: Double = 0

    /// Creates an empty histogram.
    public init(bounds: [Double]) {
        self.bounds = bounds
        self.counts = Array(repeating: 0, count: bounds.count + 1)
    }

    /// Records `times` observations of `value`.
    public mutating func observe(_ value: Double, times: Int = 1) {
        var i = 0
        while i < bounds.count, value > bounds[i] { i += 1 }
        counts[i] += Double(times)
        sum += value * Double(times)
        count += Double(times)
    }

    /// vLLM's bucket bounds for time to first token, seconds.
    public static let ttftBounds: [Double] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
    /// vLLM's bucket bounds for inter-token latency, seconds.
    public static let itlBounds: [Double] = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
    /// vLLM's bucket bounds for request-level latencies (e2e, queue, prefill, decode), seconds.
    public static let requestBounds: [Double] = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
}

/// What one request went through inside the engine, in engine seconds: the truth the gateway's
/// measurements are checked against.
public struct EngineOutcome: Sendable {
    /// The caller's id for the request.
    public var id: UInt64
    /// When it reached the engine.
    public var arrival: Double
    /// When it was first scheduled (queue time ends).
    public var scheduled: Double?
    /// When its first token was produced.
    public var firstToken: Double?
    /// When it left the engine.
    public var finished: Double
    /// Prompt tokens.
    public var promptTokens: Int
    /// Tokens generated.
    public var outputTokens: Int
    /// `stop`, `length` or `abort`.
    public var finishReason: String
    /// Sum and largest of the gaps between its tokens.
    public var gapSum: Double
    /// The largest gap between two of its tokens.
    public var gapMax: Double
    /// Every gap, when the request asked for them.
    public var gaps: [Double]?
    /// How often it was preempted.
    public var preemptions: Int
}

/// What one engine step did: the iterations it ran, which requests got tokens, which finished.
public struct EngineStep: Sendable {
    /// When the step's first iteration started.
    public var start: Double
    /// When its last iteration ended (when its last tokens exist).
    public var end: Double
    /// Iterations run (one token per running request each).
    public var iterations: Int
    /// Duration of each iteration.
    public var iterationTime: Double
    /// Requests that got tokens, with how many.
    public var tokens: [(id: UInt64, count: Int)]
    /// Requests that finished in this step.
    public var finished: [EngineOutcome]
}

/// A discrete-event model of one continuous-batching inference server (vLLM's scheduler, V1
/// style) on its GPUs: paged KV cache in 16-token blocks, a waiting queue served first come
/// first served, a prefill cost that grows with prompt tokens, a decode step that streams the
/// weights and the batch's KV cache from memory (or is bound by compute at large batches), and
/// preemption by recomputation (newest first) when running requests need blocks that are not free.
///
/// Time is a plain number of seconds that only moves when `step` or `idle` moves it, so the same
/// model runs in virtual time (tests, backfill) and paced by a real clock (the live server).
public struct EngineModel: Sendable {
    struct Sequence: Sendable {
        var id: UInt64
        var arrival: Double
        var prompt: Int
        var target: Int
        var generated = 0
        var blocks = 0
        var scheduled: Double?
        var firstToken: Double?
        var lastToken: Double = 0
        var gapSum = 0.0
        var gapMax = 0.0
        var gaps: [Double]?
        var preemptions = 0
        var finishReason: String
        var context: Int { prompt + generated }
    }

    /// The server's name (its model).
    public let name: String
    let gpu: GPUProfile
    let profile: ModelProfile
    let tensorParallel: Double
    let maxNumSeqs: Int
    let maxBatchedTokens: Int
    /// Tokens per KV-cache block (vLLM's default).
    public let blockSize = 16
    /// KV-cache blocks the GPUs hold.
    public let totalBlocks: Int

    /// Engine time now, seconds.
    public private(set) var now: Double = 0
    /// The requests in the engine, each in a slot that `waiting` and `running` refer to (slots of
    /// finished requests are reused): no hashing, and each one is updated in place.
    private var slots: [Sequence] = []
    private var freeSlots: [Int] = []
    private var waiting: [Int] = []
    private var waitingHead = 0
    private var running: [Int] = []
    private var usedBlocks = 0

    /// Seconds spent running iterations since the start.
    public private(set) var busySeconds = 0.0
    /// Busy seconds weighted by how full the batch kept the GPU (0-1): SM activity.
    public private(set) var activeSeconds = 0.0
    /// Counters as vLLM exports them.
    public private(set) var promptTokensTotal = 0.0
    /// Generated tokens so far.
    public private(set) var generationTokensTotal = 0.0
    /// Preemptions so far.
    public private(set) var preemptionsTotal = 0.0
    /// Finished requests by finish reason.
    public private(set) var successByReason: [String: Double] = ["stop": 0, "length": 0, "abort": 0]
    /// Latency histograms as vLLM exports them.
    public private(set) var ttft = BucketHistogram(bounds: BucketHistogram.ttftBounds)
    /// Gaps between tokens.
    public private(set) var itl = BucketHistogram(bounds: BucketHistogram.itlBounds)
    /// Arrival to last token.
    public private(set) var e2e = BucketHistogram(bounds: BucketHistogram.requestBounds)
    /// Arrival to first scheduling.
    public private(set) var queue = BucketHistogram(bounds: BucketHistogram.requestBounds)
    /// Mean time per output token per request.
    public private(set) var tpot = BucketHistogram(bounds: BucketHistogram.itlBounds)

    /// Creates an engine for `spec`'s model on its share of `gpu`s.
    public init(spec: ModelServerSpec, gpu: GPUProfile) throws {
        let profile = try spec.resolvedProfile()
        self.name = spec.name
        self.gpu = gpu
        self.profile = profile
        self.tensorParallel = Double(max(1, spec.gpus.count))
        self.maxNumSeqs = max(1, spec.maxNumSeqs)
        self.maxBatchedTokens = max(256, spec.maxBatchedTokens)
        // What vLLM's profiling run leaves for the KV cache: its memory share, less the weights
        // and about 1 GiB of activations and CUDA graphs per GPU.
        let perGPU = gpu.memoryGiB * 1_073_741_824 * spec.gpuMemoryUtilization - profile.weightBytes / tensorParallel - 1_073_741_824
        let tokens = max(0, perGPU) * tensorParallel / profile.kvBytesPerToken
        self.totalBlocks = max(1, Int(tokens) / 16)
    }

    /// Requests being generated.
    public var runningCount: Int { running.count }
    /// Requests waiting for their (first or recomputed) prefill.
    public var waitingCount: Int { waiting.count - waitingHead }
    /// Share of KV-cache blocks in use, 0-1.
    public var kvCacheUsage: Double { Double(usedBlocks) / Double(totalBlocks) }
    /// Whether nothing is queued or running.
    public var isIdle: Bool { running.isEmpty && waitingCount == 0 }

    /// Longest prompt plus answer this engine accepts.
    public var contextLength: Int { min(profile.contextLength, totalBlocks * blockSize) }

    /// Seconds one iteration takes: streaming the weights and the batch's KV cache from memory
    /// (at 75% of peak bandwidth), or the matrix work (at 50% of peak tensor throughput) when that
    /// is longer, plus a fixed scheduling and launch cost that grows with tensor parallelism.
    public func iterationTime(decoding batch: Int, contextTokens: Int, prefilling prompt: Int) -> Double {
        let memory = (profile.weightBytes + profile.kvBytesPerToken * Double(contextTokens)) / (tensorParallel * gpu.bandwidthGBs * 1e9 * 0.75)
        let compute = 2 * profile.parametersB * 1e9 * Double(batch + prompt) / (tensorParallel * gpu.tflops * 1e12 * 0.5)
        let overhead = 0.003 + 0.001 * (tensorParallel - 1)
        return max(memory, compute) + overhead
    }

    /// Why a request cannot be served at all (too long for the context), or nil.
    public func rejection(promptTokens: Int, outputTokens: Int) -> String? {
        if promptTokens + outputTokens > contextLength {
            return "This model's maximum context length is \(contextLength) tokens. However, you requested \(promptTokens + outputTokens) tokens (\(promptTokens) in the messages, \(outputTokens) in the completion)."
        }
        return nil
    }

    /// Queues a request that arrived at `arrival` (at most `now` late: it arrived during the
    /// running iteration). `finishReason` says why it will stop after `outputTokens`.
    public mutating func submit(id: UInt64, arrival: Double, promptTokens: Int, outputTokens: Int,
                                finishReason: String = "stop", keepGaps: Bool = false) {
        if isIdle { now = max(now, arrival) }
        var sequence = Sequence(id: id, arrival: arrival, prompt: max(1, promptTokens), target: max(1, outputTokens), finishReason: finishReason)
        if keepGaps { sequence.gaps = [] }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = sequence
        } else {
            slot = slots.count
            slots.append(sequence)
        }
        waiting.append(slot)
        promptTokensTotal += Double(sequence.prompt)
    }

    /// Moves an idle engine's clock to `time`.
    public mutating func idle(until time: Double) {
        if isIdle { now = max(now, time) }
    }

    /// Takes a request out (its client left): its blocks are freed and it finishes as `abort`.
    public mutating func cancel(id: UInt64) -> EngineOutcome? {
        let slot: Int
        if let index = running.firstIndex(where: { slots[$0].id == id }) {
            slot = running.remove(at: index)
            usedBlocks -= slots[slot].blocks
        } else if let index = waiting[waitingHead...].firstIndex(where: { slots[$0].id == id }) {
            slot = waiting.remove(at: index)
        } else {
            return nil
        }
        var sequence = release(slot)
        sequence.finishReason = "abort"
        return finish(sequence, at: now)
    }

    /// Frees a request's slot, returning the request.
    private mutating func release(_ slot: Int) -> Sequence {
        freeSlots.append(slot)
        return slots[slot]
    }

    private func blocks(for tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }

    /// Runs the next iterations: at most `maxIterations`, and no more than reach `horizon` (one
    /// iteration always runs when there is work). Returns nil when there is nothing to do.
    public mutating func step(horizon: Double, maxIterations: Int = .max) -> EngineStep? {
        guard !isIdle else { return nil }
        // Running requests come first: each needs room for its next token; when the cache cannot
        // give it, the newest running request is preempted (its blocks freed, recomputed later).
        var preempted = false
        while !running.isEmpty {
            let need = newBlocks(after: 1)
            if need <= totalBlocks - usedBlocks { break }
            let victim = running.removeLast()
            usedBlocks -= slots[victim].blocks
            slots[victim].blocks = 0
            slots[victim].preemptions += 1
            preemptionsTotal += 1
            waitingHead -= 1
            if waitingHead < 0 { waiting.insert(victim, at: 0); waitingHead = 0 } else { waiting[waitingHead] = victim }
            preempted = true
        }
        // Then waiting requests, first come first served, while the batch, the step's prefill
        // budget and the cache allow (a preempted request re-prefills its prompt and its tokens).
        var admitted: [Int] = []
        var prefill = 0
        while !preempted, waitingHead < waiting.count, running.count + admitted.count < maxNumSeqs {
            let slot = waiting[waitingHead]
            let tokens = slots[slot].context
            let need = blocks(for: tokens + 1)
            if need > totalBlocks - usedBlocks { break }
            if prefill > 0, prefill + tokens > maxBatchedTokens { break }
            usedBlocks += need
            slots[slot].blocks = need
            if slots[slot].scheduled == nil { slots[slot].scheduled = max(now, slots[slot].arrival) }
            prefill += tokens
            admitted.append(slot)
            waitingHead += 1
        }
        if waitingHead > 1024, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        if running.isEmpty && admitted.isEmpty {
            // Nothing fits even an empty cache: cannot happen for requests `rejection` accepted;
            // drop the head rather than spin.
            let slot = waiting[waitingHead]
            waitingHead += 1
            let outcome = finish(release(slot), at: now)
            return EngineStep(start: now, end: now, iterations: 0, iterationTime: 0, tokens: [], finished: [outcome])
        }
        let contextTokens = running.reduce(0) { $0 + slots[$1].context }
        let dt = iterationTime(decoding: running.count, contextTokens: contextTokens, prefilling: prefill)

        // Without admissions, iterations repeat alike until a request finishes, the cache fills,
        // or the horizon passes: run them together (the gap stays one iteration's time).
        var k = 1
        if admitted.isEmpty {
            var limit = min(maxIterations, 32)
            if horizon <= now { limit = 1 } else if horizon.isFinite { limit = min(limit, max(1, Int(min(1e9, ((horizon - now) / dt).rounded(.up))))) }
            for slot in running { limit = min(limit, slots[slot].target - slots[slot].generated) }
            k = max(1, limit)
            while k > 1, newBlocks(after: k) > totalBlocks - usedBlocks { k /= 2 }
        }
        let start = now
        let end = start + Double(k) * dt
        var tokens: [(id: UInt64, count: Int)] = []
        tokens.reserveCapacity(running.count + admitted.count)
        var finished: [EngineOutcome] = []
        var stillRunning: [Int] = []
        stillRunning.reserveCapacity(running.count + admitted.count)
        // Running requests get k tokens, the ones admitted now their first.
        for (position, slot) in (running + admitted).enumerated() {
            let count = position >= running.count ? 1 : k
            // The first of these tokens ends a gap of its own (a first token, or a stall after a
            // preemption); the rest come one iteration apart.
            let first = start + dt
            if slots[slot].firstToken == nil {
                slots[slot].firstToken = first
                ttft.observe(first - slots[slot].arrival)
            } else {
                Self.record(gap: first - slots[slot].lastToken, times: 1, in: &slots[slot], histogram: &itl)
            }
            if count > 1 { Self.record(gap: dt, times: count - 1, in: &slots[slot], histogram: &itl) }
            slots[slot].lastToken = start + Double(count) * dt
            slots[slot].generated += count
            let newTotal = blocks(for: slots[slot].context)
            if newTotal > slots[slot].blocks { usedBlocks += newTotal - slots[slot].blocks; slots[slot].blocks = newTotal }
            generationTokensTotal += Double(count)
            tokens.append((slots[slot].id, count))
            if slots[slot].generated >= slots[slot].target {
                usedBlocks -= slots[slot].blocks
                slots[slot].blocks = 0
                let sequence = release(slot)
                finished.append(finish(sequence, at: sequence.lastToken))
            } else {
                stillRunning.append(slot)
            }
        }
        running = stillRunning
        busySeconds += end - start
        let fill = min(1, Double(running.count + finished.count) / 24) * 0.6 + (prefill > 0 ? 0.4 : 0.25)
        activeSeconds += (end - start) * min(1, fill)
        now = end
        return EngineStep(start: start, end: end, iterations: k, iterationTime: dt, tokens: tokens, finished: finished)
    }

    private static func record(gap: Double, times: Int, in sequence: inout Sequence, histogram: inout BucketHistogram) {
        sequence.gapSum += gap * Double(times)
        sequence.gapMax = max(sequence.gapMax, gap)
        if sequence.gaps != nil { sequence.gaps!.append(contentsOf: repeatElement(gap, count: times)) }
        histogram.observe(gap, times: times)
    }

    /// Blocks the running requests would add over `k` more tokens each.
    private func newBlocks(after k: Int) -> Int {
        running.reduce(0) { total, slot in total + blocks(for: slots[slot].context + k) - slots[slot].blocks }
    }

    private mutating func finish(_ sequence: Sequence, at time: Double) -> EngineOutcome {
        successByReason[sequence.finishReason, default: 0] += 1
        if sequence.finishReason != "abort" {
            e2e.observe(time - sequence.arrival)
            if let scheduled = sequence.scheduled { queue.observe(scheduled - sequence.arrival) }
            if sequence.generated > 1 { tpot.observe(sequence.gapSum / Double(sequence.generated - 1)) }
        }
        return EngineOutcome(id: sequence.id, arrival: sequence.arrival, scheduled: sequence.scheduled, firstToken: sequence.firstToken,
                             finished: time, promptTokens: sequence.prompt, outputTokens: sequence.generated,
                             finishReason: sequence.finishReason, gapSum: sequence.gapSum, gapMax: sequence.gapMax,
                             gaps: sequence.gaps, preemptions: sequence.preemptions)
    }
}
