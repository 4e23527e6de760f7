import BifocalCore
import BifocalTesting
import Foundation
import Testing


/// Exact percentile with numpy's "lower" method: the value at rank floor(q * (n - 1)).
func exactQuantile(_ sorted: [Double], _ q: Double) -> Double {
    sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
}

@Suite("Quantile sketch")
struct QuantileSketchTests {
    static let quantiles = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]

    @Test("percentiles are within 1% of exact on random data of several shapes", arguments: [
        ("lognormal latency", 1.0), ("uniform", 2.0), ("heavy tail", 3.0), ("tiny values", 4.0),
    ])
    func percentilesWithinOnePercent(shape: String, seed: Double) {
        var rng = SplitMix64(state: UInt64(seed * 1000))
        var values: [Double] = []
        for _ in 0..<50_000 {
            switch shape {
            case "lognormal latency": values.append(rng.logNormal(mu: log(0.25), sigma: 0.8))
            case "uniform": values.append(Double.random(in: 0.001..<30, using: &rng))
            case "heavy tail": values.append(0.01 / pow(Double.random(in: 0.0001..<1, using: &rng), 1.5))
            default: values.append(Double.random(in: 1e-6..<1e-4, using: &rng))
            }
        }
        var sketch = QuantileSketch()
        for v in values { sketch.add(v) }
        let sorted = values.sorted()
        for q in Self.quantiles {
            let exact = exactQuantile(sorted, q)
            let estimate = sketch.quantile(q)!
            #expect(abs(estimate - exact) / exact <= 0.01, "\(shape) q=\(q): \(estimate) vs exact \(exact)")
        }
        #expect(sketch.count == UInt64(values.count))
        #expect(abs(sketch.mean! - values.reduce(0, +) / Double(values.count)) < 1e-9 * sketch.mean!)
    }

    @Test("merging sketches of parts equals one sketch of the whole")
    func mergeEqualsWhole() {
        var rng = SplitMix64(state: 42)
        var whole = QuantileSketch()
        var parts = Array(repeating: QuantileSketch(), count: 60)
        var values: [Double] = []
        for i in 0..<30_000 {
            // Minutes with different centres, as rollups of a day would see.
            let v = rng.logNormal(mu: log(0.05 + Double(i % 60) * 0.02), sigma: 0.5)
            values.append(v)
            whole.add(v)
            parts[i % 60].add(v)
        }
        var merged = QuantileSketch()
        for part in parts { merged.merge(part) }
        let sorted = values.sorted()
        for q in Self.quantiles {
            #expect(merged.quantile(q) == whole.quantile(q))
            let exact = exactQuantile(sorted, q)
            #expect(abs(merged.quantile(q)! - exact) / exact <= 0.01)
        }
        #expect(merged.count == whole.count)
        #expect(merged.min == whole.min && merged.max == whole.max)
    }

    @Test("encoding round-trips and stays compact")
    func encodingRoundTrips() {
        var rng = SplitMix64(state: 7)
        var sketch = QuantileSketch()
        for _ in 0..<10_000 { sketch.add(rng.logNormal(mu: log(0.3), sigma: 0.6)) }
        sketch.add(0)
        let bytes = sketch.encoded()
        let decoded = QuantileSketch(encoded: bytes)
        #expect(decoded == sketch)
        // Two decades of latency need a few hundred buckets: well under 2 KiB.
        #expect(bytes.count < 2048, "encoded size \(bytes.count)")
        #expect(QuantileSketch(encoded: QuantileSketch().encoded()) == QuantileSketch())
    }

    @Test("corrupt encodings are refused, not trusted")
    func corruptEncodingsRefused() {
        var sketch = QuantileSketch()
        for v in [0.1, 0.2, 0.3] { sketch.add(v) }
        let bytes = sketch.encoded()
        #expect(QuantileSketch(encoded: [UInt8]()) == nil)
        #expect(QuantileSketch(encoded: [9] + bytes.dropFirst()) == nil)
        #expect(QuantileSketch(encoded: bytes.dropLast()) == nil)
        #expect(QuantileSketch(encoded: bytes + [0]) == nil)
    }

    @Test("empty sketches have no quantiles; zeros and extremes are exact")
    func edgeCases() {
        #expect(QuantileSketch().quantile(0.5) == nil)
        #expect(QuantileSketch().mean == nil)
        var sketch = QuantileSketch()
        sketch.add(0, times: 10)
        sketch.add(2.5)
        #expect(sketch.quantile(0.5) == 0)
        #expect(sketch.quantile(1) == 2.5)
        #expect(sketch.quantile(0) == 0)
        sketch.add(-1)
        sketch.add(.nan)
        #expect(sketch.count == 11)
    }
}
