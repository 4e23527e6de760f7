import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The gateway's clocks, injectable so that tests control time.
public struct GatewayClock: Sendable {
    /// A monotonic clock in nanoseconds: every duration the gateway measures is a difference of two readings.
    public var now: @Sendable () -> Int64
    /// The wall clock in microseconds since the epoch: a record's `start`.
    public var wallMicros: @Sendable () -> Int64

    /// Creates a clock from two functions.
    public init(now: @escaping @Sendable () -> Int64, wallMicros: @escaping @Sendable () -> Int64) {
        self.now = now
        self.wallMicros = wallMicros
    }

    /// `CLOCK_MONOTONIC` and `CLOCK_REALTIME`.
    public static let system = GatewayClock(
        now: {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        },
        wallMicros: {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
        }
    )
}

/// Random ids for traces, spans and records without a system call per id: a SplitMix64 sequence
/// from a random seed, advanced atomically (each output is a bijection of a distinct counter value,
/// so ids never repeat within a process).
final class IDGenerator: Sendable {
    private let counter: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        counter = Atomic(seed)
    }

    func next() -> UInt64 {
        let state = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// W3C trace context (`traceparent: 00-TRACEID-SPANID-FLAGS`).
struct TraceContext: Sendable, Hashable {
    /// 32 lowercase hex digits.
    var traceId: String
    /// The gateway's own span: 16 lowercase hex digits; the upstream sees it as its parent.
    var spanId: String
    /// Two hex digits (`01`: sampled).
    var flags: String

    /// The header value sent upstream.
    var header: String { "00-\(traceId)-\(spanId)-\(flags)" }

    /// Continues the client's trace when its `traceparent` is valid (with a new span for the
    /// gateway's hop), else starts a new sampled trace.
    static func make(incoming: String?, ids: IDGenerator) -> TraceContext {
        let span = hex(ids.next(), digits: 16)
        if let incoming, let (trace, flags) = parse(incoming) {
            return TraceContext(traceId: trace, spanId: span, flags: flags)
        }
        return TraceContext(traceId: hex(ids.next(), digits: 16) + hex(ids.next(), digits: 16), spanId: span, flags: "01")
    }

    /// The trace id and flags of a valid `traceparent`, per the W3C rules: version 00 is exactly
    /// 55 characters; a later version may add `-`-separated fields; version ff and all-zero ids are invalid.
    static func parse(_ value: String) -> (traceId: String, flags: String)? {
        let b = Array(value.utf8)
        guard b.count >= 55, isHex(b[0..<2]), !(b[0] == UInt8(ascii: "f") && b[1] == UInt8(ascii: "f")),
              b[2] == UInt8(ascii: "-"), isHex(b[3..<35]), b[35] == UInt8(ascii: "-"), isHex(b[36..<52]),
              b[52] == UInt8(ascii: "-"), isHex(b[53..<55])
        else { return nil }
        let version00 = b[0] == UInt8(ascii: "0") && b[1] == UInt8(ascii: "0")
        if version00 ? b.count != 55 : (b.count > 55 && b[55] != UInt8(ascii: "-")) { return nil }
        guard b[3..<35].contains(where: { $0 != UInt8(ascii: "0") }), b[36..<52].contains(where: { $0 != UInt8(ascii: "0") }) else { return nil }
        return (String(decoding: b[3..<35], as: UTF8.self), String(decoding: b[53..<55], as: UTF8.self))
    }

    private static func isHex(_ s: ArraySlice<UInt8>) -> Bool {
        s.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let table: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: digits) { out in
            var v = value
            for i in stride(from: digits - 1, through: 0, by: -1) {
                out[i] = table[Int(v & 0xF)]
                v >>= 4
            }
            return digits
        }
    }
}

/// `START-SPANID`: START is the request's start in microseconds as 14 hex digits, so ids sort by
/// time and the store's unique index grows at its end; the span id makes it unique.
func makeRecordId(start: Int64, spanId: String) -> String {
    TraceContext.hex(UInt64(bitPattern: start), digits: 14) + "-" + spanId
}
