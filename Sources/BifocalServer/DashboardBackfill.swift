public import BifocalCore
public import BifocalStore
import Foundation

/// A synthetic but realistic history for one endpoint: two vLLM model servers on an 8-GPU node,
/// their inference records and their scraped GPU and engine series, with a daily rhythm and an
/// incident in the last 90 minutes (the larger model's queue builds up, its KV cache fills,
/// timeouts follow). The dashboard's screenshots, browser test and benchmark read it; the
/// simulator's backfill can reuse the shape.
///
/// Deterministic: the same arguments give the same records and samples.
public struct DemoFleet: Sendable {
    /// One model server of the fleet.
    public struct Model: Sendable {
        /// The served model's name.
        public var name: String
        /// The GPUs (indexes) it runs on.
        public var gpus: [Int]
        /// Share of the endpoint's requests.
        public var share: Double
        /// Median time to first token, ms, at no load.
        public var ttftMs: Double
        /// Median time per output token, ms.
        public var tpotMs: Double
        /// Variants and their share of this model's requests.
        public var variants: [(String, Double)]
        /// Whether the incident hits this model.
        public var troubled: Bool
    }

    /// The endpoint every record and series belongs to.
    public var endpoint = "llm-prod"
    /// The host serving it.
    public var instance = "gpu-node-1"
    /// GPUs on the host.
    public var gpuCount = 8
    /// The model servers.
    public var models: [Model] = [
        Model(name: "llama-3-8b", gpus: [0, 1], share: 0.65, ttftMs: 110, tpotMs: 11,
              variants: [("v1", 0.85), ("v2-fp8", 0.15)], troubled: false),
        Model(name: "qwen-2.5-32b", gpus: [2, 3, 4, 5], share: 0.35, ttftMs: 320, tpotMs: 27,
              variants: [("v1", 1.0)], troubled: true),
    ]
    /// When the history ends (the incident's end), microseconds since the epoch.
    public var now: Int64
    /// How long before `now` the incident starts.
    public var incidentLength: Int64 = 90 * Timestamp.microsPerMinute

    /// A fleet whose history ends at `now`.
    public init(now: Int64) { self.now = now }

    /// The endpoint's price and reservations, for `cost.*` and `gpus.used`.
    public var endpointSpec: EndpointSpec {
        var reservations: [String: Double] = [:]
        for m in models { reservations[m.name] = Double(m.gpus.count) }
        return EndpointSpec(name: endpoint, instanceType: "p4d.24xlarge", hourlyPrice: 32.77, gpus: gpuCount, reservations: reservations)
    }

    /// The `endpoints:` config section for `endpointSpec`.
    public var endpointsYAML: String {
        var text = "endpoints:\n  - name: \(endpoint)\n    instance_type: p4d.24xlarge\n    hourly_price: 32.77\n    gpus: \(gpuCount)\n    models:\n"
        for m in models { text += "      - name: \(m.name)\n        gpus: \(m.gpus.count)\n" }
        return text
    }

    /// Load 0-1 at `t`: a daily rhythm peaking mid-afternoon UTC, quieter at weekends.
    func load(_ t: Int64) -> Double {
        let day = Double(t % Timestamp.microsPerDay) / Double(Timestamp.microsPerDay)
        let weekday = (t / Timestamp.microsPerDay + 4) % 7  // 0 = Sunday (1970-01-01 was a Thursday)
        let weekend = weekday == 0 || weekday == 6 ? 0.6 : 1.0
        return (0.55 + 0.4 * sin(2 * Double.pi * (day - 0.375))) * weekend
    }

    /// How far into the incident `t` is, 0 (before it) to 1 (at `now`).
    func incident(_ t: Int64) -> Double {
        let start = now - incidentLength
        guard t > start else { return 0 }
        return min(1, Double(t - start) / Double(incidentLength))
    }

    static let tenants = ["search", "support-bot", "chat-app", "batch-eval"]
    static let prompts = [
        ("Summarise this support ticket in two sentences: the customer cannot log in after resetting the password.", "The customer cannot log in after a password reset. They ask for the account to be unlocked."),
        ("Translate to French: Our office is closed on public holidays.", "Nos bureaux sont fermés les jours fériés."),
        ("Write a SQL query that counts orders per day for the last week.", "SELECT date(created_at) AS day, count(*) FROM orders WHERE created_at >= date('now', '-7 days') GROUP BY day;"),
        ("What is the refund policy for annual plans?", "Annual plans can be refunded in full within 30 days of purchase, and pro rata afterwards."),
        ("Classify the sentiment of: 'The update broke my workflow again.'", "negative"),
        ("Explain KV-cache preemption in vLLM to a new engineer.", "When the KV cache is full, vLLM pauses (preempts) running requests and frees their blocks, recomputing them later."),
        ("Draft a polite reminder email about the overdue invoice #4471.", "Hello, this is a friendly reminder that invoice #4471 is now overdue. Could you let us know when we can expect payment?"),
        ("List three risks of deploying a model without canary traffic.", "1. Regressions reach every user at once. 2. No baseline to compare quality. 3. Rollback is slower."),
    ]

    /// Records over [from, to) at `requestsPerSecond` (scaled by the load), every `textEvery`-th
    /// with captured prompt and response and every `gapsEvery`-th with its token gaps one by one.
    public func records(from: Int64, to: Int64, requestsPerSecond: Double, seed: UInt64,
                        textEvery: Int = 4, gapsEvery: Int = 10, idPrefix: String = "demo") -> [InferenceRecord] {
        var rng = SplitMix64(state: seed)
        var records: [InferenceRecord] = []
        var t = from
        var i = 0
        while t < to {
            let l = max(0.05, load(t))
            let u = Double(rng.next() % 1_000_000 + 1) / 1_000_001
            // Exponential gaps: Poisson arrivals at the loaded rate.
            let gap = -log(u) / (requestsPerSecond * l)
            t += max(1, Int64(gap * 1e6))
            guard t < to else { break }
            let pick = Double(rng.next() % 10_000) / 10_000
            var acc = 0.0
            var model = models[0]
            for m in models { acc += m.share; if pick < acc { model = m; break } }
            let v = Double(rng.next() % 10_000) / 10_000
            acc = 0
            var variant = model.variants[0].0
            for (name, share) in model.variants { acc += share; if v < acc { variant = name; break } }
            let trouble = model.troubled ? incident(t) : 0
            let output = 30 + Int(rng.next() % 450)
            let input = 80 + Int(rng.next() % 2400)
            let queue = rng.logNormal(mu: 0.5 + 0.6 * l, sigma: 0.8) + trouble * trouble * rng.logNormal(mu: 7.5, sigma: 0.5)
            let ttft = queue + model.ttftMs * (0.7 + 0.6 * l) * exp(rng.gaussian() * 0.35) + Double(input) * 0.02
            let tpotBase = model.tpotMs * (variant == "v2-fp8" ? 0.72 : 1) * (0.9 + 0.3 * l + 0.8 * trouble)
            var status = RecordStatus.ok
            var http = 200
            var error: String?
            let roll = rng.next() % 10_000
            if roll < UInt64(30 + 700 * trouble * trouble) { status = .timeout; http = 504; error = "upstream timed out after 30s" }
            else if roll < UInt64(60 + 1000 * trouble * trouble) { status = .serverError; http = 503; error = "model server overloaded" }
            else if roll < 120 { status = .clientError; http = 400; error = "prompt too long for the context window" }
            var gaps: [Double] = []
            var outputTokens = output
            var e2e: Double
            var ttftValue: Double? = ttft
            switch status {
            case .ok:
                gaps.reserveCapacity(output - 1)
                for _ in 1..<output {
                    var g = tpotBase * exp(rng.gaussian() * 0.15)
                    // Now and then a stall: a batch rescheduled, a preemption.
                    if rng.next() % 200 == 0 { g *= 6 + Double(rng.next() % 10) }
                    gaps.append(g)
                }
                e2e = ttft + gaps.reduce(0, +)
            case .timeout:
                e2e = 30_000; outputTokens = 0; ttftValue = nil
            default:
                e2e = 5 + Double(rng.next() % 40); outputTokens = 0; ttftValue = nil
            }
            let tenant = Self.tenants[Int(rng.next() % UInt64(Self.tenants.count))]
            var record = InferenceRecord(
                id: "\(idPrefix)-\(seed)-\(i)", start: t, endpoint: endpoint, model: model.name, variant: variant,
                instance: instance, status: status, httpStatus: http, error: error, streaming: true,
                inputTokens: input, outputTokens: outputTokens, ttftMs: ttftValue, e2eMs: e2e, queueMs: queue,
                finishReason: status == .ok ? (output > 460 ? "length" : "stop") : nil,
                source: .gateway, provider: "vllm", tenant: tenant,
                labels: ["region": "us-east-1", "app": tenant == "batch-eval" ? "eval" : "chat"])
            if !gaps.isEmpty {
                if gapsEvery > 0, i % gapsEvery == 0 {
                    record.itlMs = gaps
                } else {
                    record.itlMeanMs = gaps.reduce(0, +) / Double(gaps.count)
                    record.itlMaxMs = gaps.max()
                }
            }
            if textEvery > 0, i % textEvery == 0 {
                let (prompt, response) = Self.prompts[Int(rng.next() % UInt64(Self.prompts.count))]
                record.prompt = prompt
                record.response = status == .ok ? response : nil
            }
            records.append(record)
            i += 1
        }
        return records
    }

    /// Scraped series over [from, to), one sample per series every `interval`: DCGM-style GPU
    /// signals per GPU and vLLM-style engine signals per model server, labelled as the scraper
    /// labels them.
    public func series(from: Int64, to: Int64, interval: Int64, seed: UInt64) -> [SeriesSample] {
        var rng = SplitMix64(state: seed)
        var samples: [SeriesSample] = []
        var t = Timestamp.floor(from, toMultipleOf: interval)
        if t < from { t += interval }
        let total = 40.0 * 1_073_741_824
        while t < to {
            let l = load(t)
            for gpu in 0..<gpuCount {
                let model = models.first { $0.gpus.contains(gpu) }
                let trouble = model?.troubled == true ? incident(t) : 0
                var labels = ["endpoint": endpoint, "instance": instance, "job": "dcgm", "gpu": String(gpu),
                              "gpu_uuid": "GPU-7f3c\(gpu)a1e-0000-4000-8000-00000000000\(gpu)", "gpu_model": "NVIDIA A100-SXM4-40GB"]
                let util: Double
                let memory: Double
                if let model {
                    labels["model"] = model.name
                    util = min(0.99, (model.troubled ? 0.45 : 0.3) + 0.5 * l + 0.4 * trouble + rng.gaussian() * 0.03)
                    memory = min(0.99, (model.troubled ? 0.80 : 0.74) + 0.03 * l + 0.13 * trouble + rng.gaussian() * 0.005)
                } else {
                    util = max(0, 0.01 + rng.gaussian() * 0.005)
                    memory = 0.02
                }
                samples.append(SeriesSample(name: "gpu.utilization", labels: labels, time: t, value: max(0, util)))
                samples.append(SeriesSample(name: "gpu.memory.utilization", labels: labels, time: t, value: memory))
                samples.append(SeriesSample(name: "gpu.memory.used", labels: labels, time: t, value: (memory * total).rounded()))
                samples.append(SeriesSample(name: "gpu.memory.total", labels: labels, time: t, value: total))
                samples.append(SeriesSample(name: "gpu.power", labels: labels, time: t, value: 60 + 330 * max(0, util)))
                samples.append(SeriesSample(name: "gpu.temperature", labels: labels, time: t, value: 34 + 40 * max(0, util)))
            }
            for model in models {
                let trouble = model.troubled ? incident(t) : 0
                let labels = ["endpoint": endpoint, "instance": instance, "job": "vllm", "model": model.name]
                let kv = min(0.995, 0.2 + 0.45 * l + 0.5 * trouble + rng.gaussian() * 0.02)
                let waiting = max(0, (l > 0.8 ? 2 * (l - 0.8) * 10 : 0) + 55 * trouble * trouble + rng.gaussian() * 1.5).rounded()
                samples.append(SeriesSample(name: "kv_cache.usage", labels: labels, time: t, value: max(0, kv)))
                samples.append(SeriesSample(name: "queue.waiting", labels: labels, time: t, value: waiting))
                samples.append(SeriesSample(name: "batch.running", labels: labels, time: t, value: (4 + 28 * l * model.share * 2).rounded()))
                samples.append(SeriesSample(name: "preemptions.rate", labels: labels, time: t, value: trouble > 0.5 ? 0.8 * trouble : 0))
            }
            t += interval
        }
        return samples
    }

    /// Fills `store` with `days` of history ending at `now`: records at `requestsPerSecond`
    /// (mean over the day), series every `seriesInterval` within the store's raw series
    /// retention and every minute before it (what the minute downsamples keep anyway). Reports
    /// progress through `report`. Returns (records, points) stored.
    public func backfill(into store: any Store, days: Double, requestsPerSecond: Double, seriesInterval: Int64 = 15 * Timestamp.microsPerSecond,
                         seriesRawRetention: Int64 = Timestamp.microsPerDay, textEvery: Int = 4,
                         report: (String) -> Void = { _ in }) async throws -> (records: Int, points: Int) {
        let from = now - Int64(days * Double(Timestamp.microsPerDay))
        let chunk = Timestamp.microsPerHour
        var recordsStored = 0
        var pointsStored = 0
        var t = from
        var hour: UInt64 = 0
        while t < now {
            let end = min(now, t + chunk)
            let records = self.records(from: t, to: end, requestsPerSecond: requestsPerSecond, seed: hour &+ 1, textEvery: textEvery)
            var position = 0
            while position < records.count {
                let next = min(position + 2000, records.count)
                recordsStored += try await store.insert(Array(records[position..<next])).accepted
                position = next
            }
            let interval = end > now - seriesRawRetention ? seriesInterval : Timestamp.microsPerMinute
            let samples = series(from: t, to: end, interval: interval, seed: hour &+ 7919)
            position = 0
            while position < samples.count {
                let next = min(position + 20_000, samples.count)
                pointsStored += try await store.insertSeries(Array(samples[position..<next]))
                position = next
            }
            hour += 1
            if hour % 24 == 0 { report("  \(Timestamp.formatRFC3339(end)): \(recordsStored) records, \(pointsStored) points") }
            t = end
        }
        // Fold hours and drop raw points past retention, as the server's maintenance would.
        _ = try await store.enforceRetention(now: now)
        return (recordsStored, pointsStored)
    }
}

extension SplitMix64 {
    /// A standard normal deviate (Box-Muller).
    mutating func gaussian() -> Double {
        let u1 = Double(next() % 1_000_000 + 1) / 1_000_001
        let u2 = Double(next() % 1_000_000) / 1_000_000
        return sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2)
    }
}
