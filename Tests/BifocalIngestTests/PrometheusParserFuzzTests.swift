import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing


@Suite("Prometheus text parser: fuzzing")
struct PrometheusParserFuzzTests {
    /// Bytes that matter to the grammar, so mutations hit interesting paths more often than
    /// uniformly random bytes would.
    static let interesting: [UInt8] = Array("{}\"\\\n #,=.+-eE0123456789_:aIfN\t\r".utf8) + [0x00, 0x80, 0xC3, 0xE2, 0xFF]

    static let fixtures = [
        ("dcgm/dcgm-exporter-rtx4000ada.prom", false), ("vllm/vllm-v1-generated.prom", false),
        ("vllm/vllm-v0-datadog-fixture.prom", false), ("tgi/tgi-datadog-fixture.prom", false),
        ("llamacpp/llama-server-metrics.prom", false), ("prometheus/alltypes.5mfs.om.txt", true),
        ("prometheus/1histogram.om.txt", true),
    ]

    static func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !bytes.isEmpty else { break }
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1: bytes[at] = byte
            case 2: bytes.insert(byte, at: at)
            case 3: bytes.remove(at: at)
            default: bytes.removeSubrange(at...)  // truncation
            }
        }
        return bytes
    }

    /// Parses in every mode; the parser must return or throw, and errors must point inside the input.
    static func exercise(_ bytes: [UInt8]) {
        let lines = bytes.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        for (openMetrics, checkValues) in [(false, true), (true, true), (true, false)] {
            do {
                let result = try PrometheusTextParser.parse(bytes, openMetrics: openMetrics, checkValues: checkValues)
                #expect(result.samples.count == result.sampleFamilies.count)
                for sample in result.samples.prefix(3) { _ = sample.jsonLine() }
            } catch {
                #expect(error.line >= 1 && error.line <= lines + 1, "\(error)")
                #expect(error.column >= 1, "\(error)")
                #expect(!error.reason.isEmpty)
            }
        }
    }

    @Test func mutatedFixturesNeverCrash() throws {
        var rng = SplitMix64(state: 0xB1F0CA1)
        for (path, _) in Self.fixtures {
            guard let data = try Fixtures.load(path) else { continue }
            let original = Array(data)
            for _ in 0..<150 {
                Self.exercise(Self.mutate(original, using: &rng))
            }
        }
    }

    @Test func mutatedHandWrittenInputsNeverCrash() {
        let seeds = [
            "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {t=\"a\\\"b\"} 0.5 1.5\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1.5\n# EOF\n",
            "# HELP a x\\\\y\\n\n# TYPE a counter\na_total{b=\"\\n\"} 1e3 1000\n# UNIT a x\n# EOF",
            "m{a=\"1\",} NaN -5\nm{ b = \"2\" } +Inf\n",
        ]
        var rng = SplitMix64(state: 42)
        for seed in seeds {
            let bytes = Array(seed.utf8)
            // Every prefix, then random mutations.
            for end in 0...bytes.count { Self.exercise(Array(bytes[..<end])) }
            for _ in 0..<500 { Self.exercise(Self.mutate(bytes, using: &rng)) }
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(state: 7)
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in
                Self.interesting.randomElement(using: &rng)!
            }
            Self.exercise(bytes)
        }
    }
}
