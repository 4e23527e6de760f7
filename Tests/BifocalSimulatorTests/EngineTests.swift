import BifocalCore
import Foundation
import Testing
@testable import BifocalSimulator

@Suite struct EngineTests {
    func engine(_ name: String = "llama-3-8b", gpu: String = "a10g", gpus: [Int] = [0, 1]) throws -> EngineModel {
        try EngineModel(spec: ModelServerSpec(name: name, gpus: gpus), gpu: GPUProfile.catalog[gpu]!)
    }

    /// Runs until idle, returning every outcome.
    func drain(_ engine: inout EngineModel) -> [EngineOutcome] {
        var outcomes: [EngineOutcome] = []
        while let step = engine.step(horizon: .infinity) { outcomes += step.finished }
        return outcomes
    }

    @Test func aLoneRequestGetsItsTokensOneIterationApart() throws {
        var e = try engine()
        e.submit(id: 1, arrival: 0, promptTokens: 500, outputTokens: 100, keepGaps: true)
        let outcomes = drain(&e)
        #expect(outcomes.count == 1)
        let o = try #require(outcomes.first)
        #expect(o.outputTokens == 100)
        #expect(o.gaps?.count == 99)
        #expect(o.scheduled == 0)
        let decode = e.iterationTime(decoding: 1, contextTokens: 600, prefilling: 0)
        // Gaps are single iterations: close to the decode step for this context.
        #expect(abs(o.gapSum / 99 - decode) < decode * 0.05)
        #expect(abs((o.finished - o.firstToken!) - o.gapSum) < 1e-9)
        #expect(e.isIdle)
        #expect(e.kvCacheUsage == 0)
        #expect(e.generationTokensTotal == 100)
        #expect(e.ttft.count == 1)
        #expect(e.itl.count == 99)
    }

    @Test func prefillGrowsWithThePrompt() throws {
        var short = try engine()
        short.submit(id: 1, arrival: 0, promptTokens: 100, outputTokens: 2)
        var long = try engine()
        long.submit(id: 1, arrival: 0, promptTokens: 6000, outputTokens: 2)
        let a = drain(&short)[0], b = drain(&long)[0]
        #expect(b.firstToken! > a.firstToken! * 3)
    }

    @Test func decodeSlowsAsTheBatchGrows() throws {
        var e = try engine()
        e.submit(id: 1, arrival: 0, promptTokens: 200, outputTokens: 50)
        let alone = drain(&e)[0].gapSum / 49
        var busy = try engine()
        for id in 1...120 { busy.submit(id: UInt64(id), arrival: 0, promptTokens: 200, outputTokens: 50) }
        let outcomes = drain(&busy)
        let crowded = outcomes.map { $0.gapSum / 49 }.max()!
        #expect(crowded > alone)
        #expect(outcomes.count == 120)
    }

    @Test func aFullCacheQueuesAndPreempts() throws {
        var e = try engine()
        let capacity = e.totalBlocks * e.blockSize
        // Enough long requests that their answers outgrow the cache while running.
        let count = capacity / 3000 + 8
        for id in 1...count { e.submit(id: UInt64(id), arrival: 0, promptTokens: 2000, outputTokens: 1500) }
        var maxWaiting = 0
        var outcomes: [EngineOutcome] = []
        while let step = e.step(horizon: .infinity) {
            maxWaiting = max(maxWaiting, e.waitingCount)
            outcomes += step.finished
            #expect(e.kvCacheUsage <= 1)
        }
        #expect(outcomes.count == count)
        #expect(e.preemptionsTotal > 0)
        #expect(outcomes.contains { $0.preemptions > 0 })
        #expect(maxWaiting > 0)
        #expect(outcomes.allSatisfy { $0.outputTokens == 1500 })
    }

    @Test func cancellingFreesTheCache() throws {
        var e = try engine()
        e.submit(id: 1, arrival: 0, promptTokens: 1000, outputTokens: 500)
        _ = e.step(horizon: 0.5, maxIterations: 1)
        #expect(e.kvCacheUsage > 0)
        let cancelled = e.cancel(id: 1)
        let outcome = try #require(cancelled)
        #expect(outcome.finishReason == "abort")
        #expect(e.kvCacheUsage == 0)
        #expect(e.isIdle)
    }

    @Test func tooLongIsRejected() throws {
        let e = try engine()
        #expect(e.rejection(promptTokens: 8000, outputTokens: 500) != nil)
        #expect(e.rejection(promptTokens: 1000, outputTokens: 500) == nil)
    }

    @Test func profilesMatchPublishedOrders() throws {
        // Single-request decode speed, tokens/s, and TTFT for a 1,000-token prompt (see docs/simulator.md).
        func figures(_ model: String, _ gpu: String, _ gpus: Int) throws -> (tokensPerSecond: Double, ttft: Double) {
            var e = try EngineModel(spec: ModelServerSpec(name: model, gpus: Array(0..<gpus)), gpu: GPUProfile.catalog[gpu]!)
            e.submit(id: 1, arrival: 0, promptTokens: 1000, outputTokens: 101)
            var outcomes: [EngineOutcome] = []
            while let step = e.step(horizon: .infinity) { outcomes += step.finished }
            let o = outcomes[0]
            return (100 / o.gapSum, o.firstToken!)
        }
        let a10g = try figures("llama-3-8b", "a10g", 1)
        #expect((20...60).contains(a10g.tokensPerSecond))
        let h100 = try figures("llama-3-8b", "h100", 1)
        #expect((90...200).contains(h100.tokensPerSecond))
        #expect(h100.ttft < a10g.ttft)
        #expect((0.02...0.4).contains(a10g.ttft))
    }
}

@Suite struct ScenarioScriptTests {
    @Test func theScriptStartsWhereItIsPlaced() throws {
        var simulation = try FleetSimulation(scenario: try Scenario.builtIn("surge"), origin: 0, speed: 1, seed: 1)
        simulation.scriptStart = 3600
        // The surge runs 20-50 minutes into the script: an hour later in simulation time.
        let before = simulation.effects(server: 0, at: 30 * 60).traffic
        let during = simulation.effects(server: 0, at: 3600 + 30 * 60).traffic
        #expect(during > 3 * before)
    }

    @Test func badScenarioFilesSayWhatAndWhere() throws {
        #expect(throws: SimulatorError.self) { try Scenario.parse("name: x\nphases:\n  - at: soon\n") }
        do {
            _ = try Scenario.parse("name: x\nphases:\n  - at: 5m\n    models: [gpt-9]\n")
            Issue.record("an unknown model was accepted")
        } catch let error as SimulatorError {
            #expect(error.description.contains("phase 1"))
            #expect(error.description.contains("gpt-9"))
        }
        do {
            _ = try Scenario.parse("name: x\nphases:\n  - at: 5m\n    faults: {sarcasm: 0.5}\n")
            Issue.record("an unknown fault was accepted")
        } catch let error as SimulatorError {
            #expect(error.description.contains("sarcasm"))
        }
        for name in Scenario.builtInNames { _ = try Scenario.builtIn(name) }
    }

    @Test("built-in scenarios are found beside the binary; without their bundle the error says what is missing and where it looked")
    func builtInScenarioFiles() throws {
        // The test binary sits in SwiftPM's build folder, beside the resource bundle.
        let found = try #require(Scenario.builtInDirectory)
        #expect(found.path.contains(Scenario.resourceBundleName), "\(found.path)")
        let nowhere = FileManager.default.temporaryDirectory.appendingPathComponent("no-bundle-\(UInt64.random(in: 0...UInt64.max))")
        do {
            _ = try Scenario.builtIn("steady", searching: [nowhere])
            Issue.record("a missing bundle went unnoticed")
        } catch let error as SimulatorError {
            #expect(error.description.contains(Scenario.resourceBundleName) && error.description.contains(nowhere.path), "\(error)")
        }
        #expect(throws: SimulatorError.self) { try Scenario.builtIn("no-such-scenario") }
    }
}
