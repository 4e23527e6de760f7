import Foundation
import Testing
@testable import BifocalSimulator

/// The figures docs/simulator.md tabulates next to published benchmarks: for each built-in model
/// on each GPU configuration it fits, the engine's single-request decode speed and its TTFT for a
/// 1,000-token prompt on an idle server. Printed as Markdown rows (run
/// `swift test --filter ProfileFiguresTests` to regenerate the table) and checked loosely: the
/// published figures they are compared with spread widely by engine version and settings, so the
/// checks hold the orders of magnitude and the orderings, not the digits.
@Suite struct ProfileFiguresTests {
    struct Figures {
        var model: String
        var gpu: String
        var gpus: Int
        /// Tokens per second one request gets once its first token is out.
        var decodeTokensPerSecond: Double
        /// Arrival to first token, seconds, for a 1,000-token prompt on an idle engine.
        var ttft: Double
    }

    /// The candidates: every built-in model on the GPU counts people run it on.
    static let candidates: [(model: String, gpu: String, gpus: Int)] = [
        ("llama-3-8b", "a10g", 1), ("llama-3-8b", "a10g", 2), ("llama-3-8b", "l4", 1), ("llama-3-8b", "a100", 1), ("llama-3-8b", "h100", 1),
        ("mistral-7b", "a10g", 1), ("mistral-7b", "a10g", 2), ("mistral-7b", "l4", 1), ("mistral-7b", "a100", 1), ("mistral-7b", "h100", 1),
        ("qwen-2.5-32b", "a10g", 4), ("qwen-2.5-32b", "a100", 1), ("qwen-2.5-32b", "a100", 2), ("qwen-2.5-32b", "h100", 1), ("qwen-2.5-32b", "h100", 2),
        ("llama-3-70b", "a10g", 4), ("llama-3-70b", "a100", 2), ("llama-3-70b", "a100", 4), ("llama-3-70b", "h100", 2), ("llama-3-70b", "h100", 4),
    ]

    /// Whether the model fits the GPUs by the fleet's own rule (default gpu_memory_utilization).
    func fits(_ model: String, _ gpu: String, _ gpus: Int) -> Bool {
        var fleet = FleetSpec()
        fleet.gpu = gpu
        fleet.gpuCount = gpus
        fleet.servers = [ModelServerSpec(name: model, gpus: Array(0..<gpus))]
        return (try? fleet.validate()) != nil
    }

    /// One request alone: 1,000 prompt tokens, 101 generated (100 gaps between tokens).
    func figures(_ model: String, _ gpu: String, _ gpus: Int) throws -> Figures {
        var engine = try EngineModel(spec: ModelServerSpec(name: model, gpus: Array(0..<gpus)), gpu: GPUProfile.catalog[gpu]!)
        engine.submit(id: 1, arrival: 0, promptTokens: 1000, outputTokens: 101)
        var outcomes: [EngineOutcome] = []
        while let step = engine.step(horizon: .infinity) { outcomes += step.finished }
        let outcome = try #require(outcomes.first)
        return Figures(model: model, gpu: gpu, gpus: gpus, decodeTokensPerSecond: 100 / outcome.gapSum, ttft: try #require(outcome.firstToken))
    }

    @Test func singleRequestFigures() throws {
        var table: [String: Figures] = [:]
        var lines = ["| model | GPUs | decode tokens/s (1 request) | TTFT, 1,000-token prompt |", "| --- | --- | --- | --- |"]
        for (model, gpu, gpus) in Self.candidates {
            let name = "\(gpus) × \(GPUProfile.catalog[gpu]!.name)"
            guard fits(model, gpu, gpus) else {
                lines.append("| \(model) | \(name) | does not fit | |")
                continue
            }
            let f = try figures(model, gpu, gpus)
            table["\(model) \(gpu) \(gpus)"] = f
            lines.append("| \(model) | \(name) | \(String(format: "%.1f", f.decodeTokensPerSecond)) | \(String(format: "%.0f", f.ttft * 1000)) ms |")
            // Loose bounds: a dense FP16 model decodes one stream at tens to a couple of hundred
            // tokens a second on these GPUs and prefills 1,000 tokens in tens of milliseconds to a
            // second or so.
            #expect((5...400).contains(f.decodeTokensPerSecond), "\(model) on \(name): \(f.decodeTokensPerSecond) tokens/s")
            #expect((0.01...2).contains(f.ttft), "\(model) on \(name): TTFT \(f.ttft) s")
        }
        print(lines.joined(separator: "\n"))

        // The orders the published figures show.
        for model in ["llama-3-8b", "mistral-7b"] {
            let a10g = try #require(table["\(model) a10g 1"]), tp2 = try #require(table["\(model) a10g 2"])
            let l4 = try #require(table["\(model) l4 1"]), a100 = try #require(table["\(model) a100 1"]), h100 = try #require(table["\(model) h100 1"])
            // Decode follows memory bandwidth: L4 (300 GB/s) < A10G (600) < A100 (2,039) < H100 (3,350).
            #expect(l4.decodeTokensPerSecond < a10g.decodeTokensPerSecond)
            #expect(a10g.decodeTokensPerSecond < tp2.decodeTokensPerSecond)
            #expect(tp2.decodeTokensPerSecond < a100.decodeTokensPerSecond)
            #expect(a100.decodeTokensPerSecond < h100.decodeTokensPerSecond)
            // Prefill follows tensor throughput: A10G and L4 alike, A100 faster, H100 fastest.
            #expect(h100.ttft < a100.ttft)
            #expect(a100.ttft < a10g.ttft)
            #expect(abs(l4.ttft - a10g.ttft) / a10g.ttft < 0.1)
        }
        // Mistral 7B is smaller than Llama 3 8B: a little faster everywhere.
        #expect(try #require(table["mistral-7b a10g 1"]).decodeTokensPerSecond > table["llama-3-8b a10g 1"]!.decodeTokensPerSecond)
        // A 70B model does not fit two 80 GB GPUs at the default memory share, and fits four.
        #expect(!fits("llama-3-70b", "a100", 2))
        #expect(table["llama-3-70b a100 4"] != nil)
    }
}
