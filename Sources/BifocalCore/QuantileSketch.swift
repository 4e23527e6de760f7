import Foundation

/// A mergeable quantile sketch with relative accuracy (the DDSketch construction: logarithmic
/// buckets, so any quantile it returns is within `relativeAccuracy` of the exact value at that rank).
///
/// Rollups keep one sketch per signal per group per time bucket; merging sketches of many
/// minutes answers percentiles over long windows without touching raw records. Values are
/// non-negative (durations); values below `minimumValue` count as zero.
public struct QuantileSketch: Sendable, Hashable {
    /// Relative accuracy of every quantile: 0.5%, so a percentile is within 1% of exact with room to spare.
    public static let relativeAccuracy = 0.005
    /// Values at or below this count as zero (1 ns when values are seconds).
    public static let minimumValue = 1e-9
    /// Values above this are clamped, so the bucket range (and the encoding) stays bounded.
    public static let maximumValue = 1e9

    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)

    /// Number of values added.
    public private(set) var count: UInt64 = 0
    /// Sum of the values added (exact, so means are exact).
    public private(set) var sum: Double = 0
    /// Smallest value added (exact); +infinity when empty.
    public private(set) var min: Double = .infinity
    /// Largest value added (exact); -infinity when empty.
    public private(set) var max: Double = -.infinity

    private var zeroCount: UInt64 = 0
    /// Bucket index of `counts[0]`.
    private var offset: Int32 = 0
    /// Dense counts from `offset` upward.
    private var counts: [UInt64] = []

    /// An empty sketch.
    public init() {}

    /// Whether nothing was added.
    public var isEmpty: Bool { count == 0 }

    /// Mean of the values added; nil when empty.
    public var mean: Double? { count == 0 ? nil : sum / Double(count) }

    static func index(of value: Double) -> Int32 {
        Int32((log(value) / logGamma).rounded(.up))
    }

    /// The representative value of a bucket: the point whose relative distance to both edges is equal.
    static func value(ofIndex index: Int32) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    /// Adds one value. Negative or non-finite values are ignored (callers validate inputs first).
    public mutating func add(_ value: Double) {
        add(value, times: 1)
    }

    /// Adds a value `times` times.
    public mutating func add(_ value: Double, times: UInt64) {
        guard value.isFinite, value >= 0, times > 0 else { return }
        count += times
        sum += value * Double(times)
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        if value <= Self.minimumValue {
            zeroCount += times
            return
        }
        let i = Self.index(of: Swift.min(value, Self.maximumValue))
        ensureCovers(i, i)
        counts[Int(i - offset)] += times
    }

    private mutating func ensureCovers(_ low: Int32, _ high: Int32) {
        if counts.isEmpty {
            offset = low
            counts = Array(repeating: 0, count: Int(high - low) + 1)
            return
        }
        if low < offset {
            counts.insert(contentsOf: repeatElement(0, count: Int(offset - low)), at: 0)
            offset = low
        }
        let top = offset + Int32(counts.count) - 1
        if high > top {
            counts.append(contentsOf: repeatElement(0, count: Int(high - top)))
        }
    }

    /// Adds every value of `other` into this sketch.
    public mutating func merge(_ other: QuantileSketch) {
        guard other.count > 0 else { return }
        count += other.count
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        zeroCount += other.zeroCount
        guard !other.counts.isEmpty else { return }
        ensureCovers(other.offset, other.offset + Int32(other.counts.count) - 1)
        let shift = Int(other.offset - offset)
        // A plain loop over both buffers: queries merge one sketch per rollup row.
        counts.withUnsafeMutableBufferPointer { counts in
            other.counts.withUnsafeBufferPointer { source in
                let target = UnsafeMutableBufferPointer(rebasing: counts[shift..<(shift + source.count)])
                for k in 0..<source.count { target[k] += source[k] }
            }
        }
    }

    /// The value at quantile `q` (0...1), within `relativeAccuracy` of the exact value at that rank;
    /// nil when empty. The extremes return the exact min and max.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0, q.isFinite else { return nil }
        let q = Swift.min(Swift.max(q, 0), 1)
        if q == 0 { return min }
        if q == 1 { return max }
        // Rank of the lower nearest value, as numpy's "lower" interpolation counts it.
        let rank = UInt64((q * Double(count - 1)).rounded(.down))
        if rank < zeroCount { return Swift.max(min, 0) }
        var seen = zeroCount
        for (k, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen > rank {
                let v = Self.value(ofIndex: offset + Int32(k))
                return Swift.min(Swift.max(v, min), max)
            }
        }
        return max
    }

    // MARK: Encoding

    /// A compact byte encoding: version, count-free header, then varint bucket counts.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + counts.count)
        out.append(1)  // format version
        Self.putVarint(count, into: &out)
        guard count > 0 else { return out }
        Self.putDouble(sum, into: &out)
        Self.putDouble(min, into: &out)
        Self.putDouble(max, into: &out)
        Self.putVarint(zeroCount, into: &out)
        // Trim empty edges so the encoding holds only the occupied range.
        var first = 0
        var last = counts.count - 1
        while first <= last, counts[first] == 0 { first += 1 }
        while last >= first, counts[last] == 0 { last -= 1 }
        let n = last >= first ? last - first + 1 : 0
        let zigzag = Int64(offset) + Int64(first)
        Self.putVarint(UInt64(bitPattern: (zigzag << 1) ^ (zigzag >> 63)), into: &out)
        Self.putVarint(UInt64(n), into: &out)
        if n > 0 {
            for k in first...last { Self.putVarint(counts[k], into: &out) }
        }
        return out
    }

    /// Decodes `encoded()` bytes; nil when they are not a sketch.
    public init?<Bytes: Collection<UInt8>>(encoded bytes: Bytes) {
        let decoded = bytes.withContiguousStorageIfAvailable { Self.decode(UnsafeRawBufferPointer($0)) }
        guard let sketch = decoded ?? Array(bytes).withUnsafeBytes({ Self.decode($0) }) else { return nil }
        self = sketch
    }

    /// Decodes `encoded()` bytes in place (a database column); nil when they are not a sketch.
    public init?(encoded bytes: UnsafeRawBufferPointer) {
        guard let sketch = Self.decode(bytes) else { return nil }
        self = sketch
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) -> QuantileSketch? {
        var sketch = QuantileSketch()
        return sketch.replace(withEncoded: bytes) ? sketch : nil
    }

    /// Replaces this sketch with the one `bytes` encode (`encoded()`), reusing this sketch's
    /// storage: a query decodes every rollup row's sketch into the same scratch sketch and
    /// merges that, so rows cost no allocation. Returns false, leaving this sketch empty, when
    /// the bytes are not a sketch.
    public mutating func replace(withEncoded bytes: UnsafeRawBufferPointer) -> Bool {
        if decodeReplacing(bytes) { return true }
        reset()
        return false
    }

    /// Empties the sketch, keeping the storage of its counts.
    private mutating func reset() {
        count = 0
        sum = 0
        min = .infinity
        max = -.infinity
        zeroCount = 0
        offset = 0
        counts.removeAll(keepingCapacity: true)
    }

    private mutating func decodeReplacing(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var reader = RawReader(bytes)
        guard reader.byte() == 1, let count = reader.varint() else { return false }
        guard count > 0 else {
            guard reader.atEnd else { return false }
            reset()
            return true
        }
        guard let sum = reader.double(), let min = reader.double(), let max = reader.double(),
              let zeroCount = reader.varint(), let zz = reader.varint(), let n = reader.varint(),
              n < 1 << 20
        else { return false }
        let off = Int64(bitPattern: zz >> 1) ^ -Int64(bitPattern: zz & 1)
        guard off > Int64(Int32.min), off + Int64(n) < Int64(Int32.max) else { return false }
        counts.removeAll(keepingCapacity: true)
        counts.reserveCapacity(Int(n))
        var total = zeroCount
        for _ in 0..<n {
            guard let c = reader.varint() else { return false }
            counts.append(c)
            total &+= c
        }
        guard reader.atEnd, total == count else { return false }
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.zeroCount = zeroCount
        self.offset = Int32(off)
        return true
    }

    static func putVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func putDouble(_ value: Double, into out: inout [UInt8]) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            out.append(UInt8(bits & 0xFF))
            bits >>= 8
        }
    }

    /// Reads an encoding in place.
    private struct RawReader {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
        var atEnd: Bool { position == bytes.count }
        @inline(__always) mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }
        @inline(__always) mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while let b = byte() {
                guard shift < 64 else { return nil }
                result |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return result }
                shift += 7
            }
            return nil
        }
        mutating func double() -> Double? {
            guard position + 8 <= bytes.count else { return nil }
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= UInt64(bytes[position + k]) << (8 * UInt64(k)) }
            position += 8
            return Double(bitPattern: bits)
        }
    }
}
