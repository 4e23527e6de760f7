import Foundation

/// Renders the simulated fleet's metrics in the exposition formats the real exporters use: vLLM
/// V1's `/metrics` and NVIDIA DCGM exporter's, in Prometheus text format 0.0.4.
public enum Exposition {
    /// One GPU's readings at scrape time.
    public struct GPUReading: Sendable {
        /// Index on its host.
        public var index: Int
        /// Busy share, 0-1.
        public var utilization: Double
        /// Framebuffer used and total, MiB.
        public var usedMiB: Double
        /// Framebuffer total, MiB.
        public var totalMiB: Double
        /// Power draw, W.
        public var powerW: Double
        /// Temperature, °C.
        public var temperatureC: Double
        /// Energy since boot, mJ.
        public var energyMillijoules: Double
    }

    /// A sample value as Python's client writes it (`3.0`, `0.25`); no `String(format:)`, which
    /// costs more than the rest of a rendering.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) + ".0" }
        return String(value)
    }

    /// vLLM V1's families for one engine (`model_name` label, `engine="0"`).
    public static func vllm(_ engine: EngineModel, model: String) -> String {
        let labels = "engine=\"0\",model_name=\"\(model)\""
        var out = ""
        out.reserveCapacity(8192)
        func gauge(_ name: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name){\(labels)} \(number(value))\n"
        }
        func counter(_ name: String, _ help: String, _ value: Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name){\(labels)} \(number(value))\n"
        }
        func histogram(_ name: String, _ help: String, _ h: BucketHistogram) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            var cumulative = 0.0
            for (index, bound) in h.bounds.enumerated() {
                cumulative += h.counts[index]
                out += "\(name)_bucket{\(labels),le=\"\(number(bound))\"} \(number(cumulative))\n"
            }
            out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(number(h.count))\n"
            out += "\(name)_count{\(labels)} \(number(h.count))\n\(name)_sum{\(labels)} \(number(h.sum))\n"
        }
        gauge("vllm:num_requests_running", "Number of requests in model execution batches.", Double(engine.runningCount))
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", Double(engine.waitingCount))
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", engine.kvCacheUsage)
        counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", engine.preemptionsTotal)
        counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", engine.promptTokensTotal)
        counter("vllm:generation_tokens_total", "Number of generation tokens processed.", engine.generationTokensTotal)
        out += "# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n"
        for reason in ["stop", "length", "abort"] {
            out += "vllm:request_success_total{engine=\"0\",finished_reason=\"\(reason)\",model_name=\"\(model)\"} \(number(engine.successByReason[reason] ?? 0))\n"
        }
        histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", engine.ttft)
        histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", engine.itl)
        histogram("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", engine.tpot)
        histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", engine.e2e)
        histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", engine.queue)
        return out
    }

    /// DCGM exporter's default families for `gpus` on `host`.
    public static func dcgm(_ gpus: [GPUReading], gpuName: String, host: String) -> String {
        var out = ""
        out.reserveCapacity(gpus.count * 4096)
        let labels = gpus.map { reading -> String in
            let hex = String(0xA10000 + reading.index, radix: 16)
            let uuid = "GPU-5f1c\(String(repeating: "0", count: max(0, 4 - String(reading.index, radix: 16).count)))\(String(reading.index, radix: 16))-6b2e-4d1a-9c3e-\(String(repeating: "0", count: 12 - hex.count))\(hex)"
            let bus = String(0x1B + reading.index, radix: 16, uppercase: true)
            return "{gpu=\"\(reading.index)\",UUID=\"\(uuid)\",pci_bus_id=\"00000000:00:\(bus.count < 2 ? "0" + bus : bus).0\",device=\"nvidia\(reading.index)\",modelName=\"\(gpuName)\",Hostname=\"\(host)\",DCGM_FI_DRIVER_VERSION=\"570.124.06\"} "
        }
        func family(_ name: String, _ type: String, _ help: String, _ value: (GPUReading) -> Double) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (index, reading) in gpus.enumerated() {
                out += name
                out += labels[index]
                let v = value(reading)
                // DCGM writes integers for integer fields and six decimals for power.
                out += type == "counter" || v == v.rounded() ? String(Int64(v.rounded())) : String((v * 1e6).rounded() / 1e6)
                out += "\n"
            }
        }
        family("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).") { $0.utilization > 0.01 ? 1710 : 210 }
        family("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz).") { _ in 6250 }
        family("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).") { $0.temperatureC.rounded() }
        family("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).") { $0.powerW }
        family("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ).") { $0.energyMillijoules }
        family("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).") { ($0.utilization * 100).rounded() }
        family("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).") { ($0.utilization * 70).rounded() }
        family("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).") { ($0.totalMiB - $0.usedMiB).rounded() }
        family("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).") { $0.usedMiB.rounded() }
        return out
    }
}
