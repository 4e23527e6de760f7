import BifocalCore
import BifocalStore
import BifocalTesting
import Foundation

/// A small deterministic generator (SplitMix64), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// exp(N(mu, sigma)).
    mutating func logNormal(mu: Double, sigma: Double) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        let z = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return Foundation.exp(mu + sigma * z)
    }
}

enum T {
    static let minute = Timestamp.microsPerMinute
    static let hour = Timestamp.microsPerHour
    static let day = Timestamp.microsPerDay
    /// A day boundary: 2026-01-01T00:00:00Z.
    static let base: Int64 = 1_767_225_600 * 1_000_000
}

func openStore(_ dir: TemporaryDirectory, _ configure: (inout StoreConfiguration) -> Void = { _ in }) throws -> SQLiteStore {
    var config = StoreConfiguration(directory: dir.path)
    configure(&config)
    return try SQLiteStore.open(config)
}

/// Exact percentile, numpy's "lower" method: the value at rank floor(q * (n - 1)).
func exactQuantile(_ sorted: [Double], _ q: Double) -> Double {
    sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
}

extension SignalResult {
    /// The values of the only series (or of the series with these labels).
    func values(_ labels: [String: String] = [:]) -> [Double?]? {
        series.first { $0.labels == labels }?.points.map(\.value)
    }
}

func approx(_ a: Double?, _ b: Double?, _ tolerance: Double = 1e-9) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let a?, let b?): return abs(a - b) <= tolerance * max(1, abs(b))
    default: return false
    }
}

func approx(_ a: [Double?]?, _ b: [Double?], _ tolerance: Double = 1e-9) -> Bool {
    guard let a, a.count == b.count else { return false }
    return zip(a, b).allSatisfy { approx($0, $1, tolerance) }
}
