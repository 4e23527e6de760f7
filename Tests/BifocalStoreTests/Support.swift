import BifocalCore
import BifocalStore
import BifocalTesting
import Foundation

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
