import Foundation

/// A small, fast, seedable random generator (SplitMix64): synthetic data and tests replay exactly
/// from their seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state; the seed.
    public var state: UInt64

    /// Creates a generator from a seed.
    public init(state: UInt64) { self.state = state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// exp(N(mu, sigma)): latencies and token counts are roughly lognormal.
    public mutating func logNormal(mu: Double, sigma: Double) -> Double {
        let u1 = Swift.max(uniform(), Double.ulpOfOne)
        let u2 = uniform()
        return exp(mu + sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }
}
