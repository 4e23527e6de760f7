import Foundation

/// One GPU class as the simulator models it: memory, memory bandwidth, dense FP16/BF16 tensor
/// throughput and power. Figures are the vendors' published specifications (see
/// docs/simulator.md); the engine applies efficiency factors to them.
public struct GPUProfile: Sendable, Hashable, Codable {
    /// The name DCGM reports (`NVIDIA A10G`).
    public var name: String
    /// Framebuffer memory, GiB.
    public var memoryGiB: Double
    /// Peak memory bandwidth, GB/s.
    public var bandwidthGBs: Double
    /// Peak dense FP16/BF16 tensor throughput, TFLOPS.
    public var tflops: Double
    /// Board power limit, W.
    public var maxPowerW: Double
    /// Power drawn when idle, W.
    public var idlePowerW: Double

    /// Creates a profile.
    public init(name: String, memoryGiB: Double, bandwidthGBs: Double, tflops: Double, maxPowerW: Double, idlePowerW: Double) {
        self.name = name; self.memoryGiB = memoryGiB; self.bandwidthGBs = bandwidthGBs
        self.tflops = tflops; self.maxPowerW = maxPowerW; self.idlePowerW = idlePowerW
    }

    /// The built-in GPU classes by short name (`a10g`, `l4`, `a100`, `h100`).
    public static let catalog: [String: GPUProfile] = [
        "a10g": GPUProfile(name: "NVIDIA A10G", memoryGiB: 24, bandwidthGBs: 600, tflops: 125, maxPowerW: 300, idlePowerW: 25),
        "l4": GPUProfile(name: "NVIDIA L4", memoryGiB: 24, bandwidthGBs: 300, tflops: 121, maxPowerW: 72, idlePowerW: 16),
        "a100": GPUProfile(name: "NVIDIA A100-SXM4-80GB", memoryGiB: 80, bandwidthGBs: 2039, tflops: 312, maxPowerW: 400, idlePowerW: 60),
        "h100": GPUProfile(name: "NVIDIA H100 80GB HBM3", memoryGiB: 80, bandwidthGBs: 3350, tflops: 989, maxPowerW: 700, idlePowerW: 70),
    ]
}

/// One model as the engine serves it: its size (weights to stream every decode step), its
/// attention shape (KV-cache bytes per token) and vLLM's scheduling limits.
public struct ModelProfile: Sendable, Hashable, Codable {
    /// Parameters, billions.
    public var parametersB: Double
    /// Transformer layers.
    public var layers: Int
    /// Key/value heads (grouped-query attention).
    public var kvHeads: Int
    /// Dimension of one head.
    public var headDim: Int
    /// Bytes per weight (2 for FP16/BF16, 1 for FP8).
    public var bytesPerParameter: Double
    /// Longest prompt plus answer, tokens.
    public var contextLength: Int

    /// Creates a profile.
    public init(parametersB: Double, layers: Int, kvHeads: Int, headDim: Int, bytesPerParameter: Double = 2, contextLength: Int = 8192) {
        self.parametersB = parametersB; self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim
        self.bytesPerParameter = bytesPerParameter; self.contextLength = contextLength
    }

    /// Bytes of weights.
    public var weightBytes: Double { parametersB * 1e9 * bytesPerParameter }
    /// KV-cache bytes one token occupies (keys and values, every layer, FP16).
    public var kvBytesPerToken: Double { Double(2 * layers * kvHeads * headDim * 2) }

    /// The built-in models by name, shaped after their published configurations.
    public static let catalog: [String: ModelProfile] = [
        "llama-3-8b": ModelProfile(parametersB: 8.0, layers: 32, kvHeads: 8, headDim: 128),
        "mistral-7b": ModelProfile(parametersB: 7.2, layers: 32, kvHeads: 8, headDim: 128),
        "qwen-2.5-32b": ModelProfile(parametersB: 32.8, layers: 64, kvHeads: 8, headDim: 128),
        "llama-3-70b": ModelProfile(parametersB: 70.6, layers: 80, kvHeads: 8, headDim: 128),
    ]
}

/// One simulated model server (a vLLM instance, or a SageMaker inference component): which model,
/// on which GPUs of its instance, with what limits and traffic.
public struct ModelServerSpec: Sendable, Hashable, Codable {
    /// The served model's name (also its inference component's name).
    public var name: String
    /// Key into `ModelProfile.catalog`, when `profile` is not given inline.
    public var model: String?
    /// The model's shape; overrides `model`.
    public var profile: ModelProfile?
    /// Indexes of the instance's GPUs it runs on (tensor parallel across them).
    public var gpus: [Int]
    /// Share of GPU memory vLLM may take (weights plus KV cache), as `--gpu-memory-utilization`.
    public var gpuMemoryUtilization: Double = 0.78
    /// Most requests in one batch (`--max-num-seqs`; vLLM's default is larger, but small GPUs
    /// are usually run with a cap like this one so latency stays bounded under load).
    public var maxNumSeqs: Int = 64
    /// Most prompt tokens prefilled in one step (`--max-num-batched-tokens`).
    public var maxBatchedTokens: Int = 8192
    /// Mean requests per second at the diurnal mean, before the scenario's multipliers.
    public var requestsPerSecond: Double = 2
    /// Median prompt tokens (lognormal).
    public var promptTokensMedian: Double = 600
    /// Median output tokens (lognormal).
    public var outputTokensMedian: Double = 180
    /// The version label it starts with (a scenario may change it).
    public var version: String = "v1"

    /// Creates a spec.
    public init(name: String, model: String? = nil, profile: ModelProfile? = nil, gpus: [Int]) {
        self.name = name; self.model = model; self.profile = profile; self.gpus = gpus
    }

    /// The model shape, inline or from the catalog (the name itself is looked up last).
    public func resolvedProfile() throws -> ModelProfile {
        if let profile { return profile }
        if let key = model ?? Optional(name), let found = ModelProfile.catalog[key] { return found }
        throw SimulatorError("model server \(name): unknown model \(model ?? name); known: \(ModelProfile.catalog.keys.sorted().joined(separator: ", "))")
    }

    enum CodingKeys: String, CodingKey {
        case name, model, profile, gpus, version
        case gpuMemoryUtilization = "gpu_memory_utilization"
        case maxNumSeqs = "max_num_seqs"
        case maxBatchedTokens = "max_batched_tokens"
        case requestsPerSecond = "requests_per_second"
        case promptTokensMedian = "prompt_tokens_median"
        case outputTokensMedian = "output_tokens_median"
    }

    /// Decodes a spec; every field but `name` and `gpus` has a default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        profile = try c.decodeIfPresent(ModelProfile.self, forKey: .profile)
        gpus = try c.decode([Int].self, forKey: .gpus)
        if let v = try c.decodeIfPresent(String.self, forKey: .version) { version = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .gpuMemoryUtilization) { gpuMemoryUtilization = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .maxNumSeqs) { maxNumSeqs = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .maxBatchedTokens) { maxBatchedTokens = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .requestsPerSecond) { requestsPerSecond = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .promptTokensMedian) { promptTokensMedian = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .outputTokensMedian) { outputTokensMedian = v }
    }
}

/// The simulated fleet: one endpoint on one instance with its GPUs and the model servers sharing
/// them. The default is the shape of SageMaker's multi-model example: two models as inference
/// components on a 4-GPU `ml.g5.12xlarge`.
public struct FleetSpec: Sendable, Hashable, Codable {
    /// The endpoint records and series belong to.
    public var endpoint: String = "llm-prod"
    /// The instance (host) name.
    public var instance: String = "ml.g5.12xlarge-1"
    /// The instance type, for the endpoint's price.
    public var instanceType: String = "ml.g5.12xlarge"
    /// On-demand price per hour, USD.
    public var hourlyPrice: Double = 7.09
    /// Key into `GPUProfile.catalog`.
    public var gpu: String = "a10g"
    /// GPUs on the instance.
    public var gpuCount: Int = 4
    /// The model servers.
    public var servers: [ModelServerSpec] = FleetSpec.defaultServers

    /// The default two inference components.
    public static let defaultServers: [ModelServerSpec] = {
        var llama = ModelServerSpec(name: "llama-3-8b", gpus: [0, 1])
        llama.requestsPerSecond = 2.5
        var mistral = ModelServerSpec(name: "mistral-7b", gpus: [2, 3])
        mistral.requestsPerSecond = 1.5
        mistral.outputTokensMedian = 140
        return [llama, mistral]
    }()

    /// The default fleet.
    public init() {}

    /// The GPU class.
    public func gpuProfile() throws -> GPUProfile {
        guard let profile = GPUProfile.catalog[gpu] else {
            throw SimulatorError("fleet: unknown gpu \(gpu); known: \(GPUProfile.catalog.keys.sorted().joined(separator: ", "))")
        }
        return profile
    }

    /// Checks the fleet makes sense: known GPU and models, GPUs in range and not shared, the
    /// weights fit.
    public func validate() throws {
        let gpu = try gpuProfile()
        guard !servers.isEmpty else { throw SimulatorError("fleet: no model servers") }
        var taken = Set<Int>()
        for server in servers {
            let profile = try server.resolvedProfile()
            guard !server.gpus.isEmpty else { throw SimulatorError("model server \(server.name): no gpus") }
            for index in server.gpus {
                guard index >= 0, index < gpuCount else { throw SimulatorError("model server \(server.name): gpu \(index) is not one of the instance's \(gpuCount)") }
                guard taken.insert(index).inserted else { throw SimulatorError("model server \(server.name): gpu \(index) is already given to another model server") }
            }
            let budget = gpu.memoryGiB * 1_073_741_824 * server.gpuMemoryUtilization * Double(server.gpus.count)
            guard profile.weightBytes < budget * 0.9 else {
                throw SimulatorError("model server \(server.name): \(Int(profile.weightBytes / 1e9)) GB of weights do not fit \(server.gpus.count) × \(gpu.name) at gpu_memory_utilization \(server.gpuMemoryUtilization)")
            }
            guard server.requestsPerSecond >= 0, server.promptTokensMedian >= 1, server.outputTokensMedian >= 1 else {
                throw SimulatorError("model server \(server.name): rates and token medians must be positive")
            }
        }
        let names = servers.map(\.name)
        guard Set(names).count == names.count else { throw SimulatorError("fleet: model server names repeat") }
    }

    enum CodingKeys: String, CodingKey {
        case endpoint, instance, gpu, servers
        case instanceType = "instance_type"
        case hourlyPrice = "hourly_price"
        case gpuCount = "gpu_count"
    }

    /// Decodes a fleet; every field has a default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let v = try c.decodeIfPresent(String.self, forKey: .endpoint) { endpoint = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .instance) { instance = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .instanceType) { instanceType = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .hourlyPrice) { hourlyPrice = v }
        if let v = try c.decodeIfPresent(String.self, forKey: .gpu) { gpu = v }
        if let v = try c.decodeIfPresent(Int.self, forKey: .gpuCount) { gpuCount = v }
        if let v = try c.decodeIfPresent([ModelServerSpec].self, forKey: .servers) { servers = v }
    }
}

/// A simulator input that makes no sense, with what and where.
public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
