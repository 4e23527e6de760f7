import BifocalCore
import Foundation
import Testing

@Suite("Time parsing")
struct TimestampTests {
    @Test("RFC 3339 in its allowed forms agrees with Foundation", arguments: [
        "2026-11-29T06:55:00Z", "2026-11-29T06:55:00.123Z", "2026-11-29t06:55:00z", "2024-02-29T23:59:59.999999Z",
        "2026-11-29T07:55:00+01:00", "2026-11-29T01:25:00-05:30", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
    ])
    func rfc3339(text: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        let date = formatter.date(from: text.uppercased()) ?? plain.date(from: text.uppercased())
        let expected = try #require(date)
        let parsed = try #require(Timestamp.parse(text))
        #expect(abs(Double(parsed) / 1e6 - expected.timeIntervalSince1970) < 0.001)
    }

    @Test("microseconds are kept exactly")
    func microseconds() {
        #expect(Timestamp.parse("2026-11-29T06:55:00.000001Z")! % 1_000_000 == 1)
        #expect(Timestamp.parse("1764399300.5") == 1_764_399_300_500_000)
        #expect(Timestamp.parse("1764399300") == 1_764_399_300_000_000)
    }

    @Test("malformed times are refused", arguments: [
        "", "2026-11-29", "2026-11-29T06:55:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
        "2026-11-29T24:00:00Z", "2026-11-29T06:55:00.Z", "2026-11-29T06:55:00+0100", "2026-11-29T06:55:00Zjunk", "yesterday", "nan", "inf",
    ])
    func malformed(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("formatting and parsing agree")
    func roundTrip() {
        for micros: Int64 in [0, 1_764_399_300_123_000, -86_400_000_000, 951_782_400_000_000] {
            #expect(Timestamp.parse(Timestamp.formatRFC3339(micros)) == micros)
        }
    }

    @Test("durations", arguments: [
        ("30s", Int64(30_000_000)), ("5m", 300_000_000), ("1h", 3_600_000_000), ("7d", 604_800_000_000),
        ("250ms", 250_000), ("90", 90_000_000), ("0.5", 500_000), ("2w", 1_209_600_000_000),
    ])
    func durations(text: String, micros: Int64) {
        #expect(Timestamp.parseDuration(text) == micros)
        #expect(Timestamp.parseDuration(Timestamp.formatDuration(micros)) == micros)
    }

    @Test("bad durations are refused", arguments: ["", "0", "-5m", "5x", "m", "1e400s", "nan"])
    func badDurations(text: String) {
        #expect(Timestamp.parseDuration(text) == nil)
    }

    @Test("records belong to the minute of their start")
    func minuteOfRecord() {
        let start = Timestamp.parse("2026-11-29T06:55:42.5Z")!
        #expect(InferenceRecord(start: start).minute == Timestamp.parse("2026-11-29T06:55:00Z")!)
        #expect(Timestamp.floor(-1, toMultipleOf: 60) == -60)
    }
}

@Suite("Record arithmetic")
struct RecordArithmeticTests {
    @Test("TPOT is (e2e - ttft) / (output_tokens - 1), absent at one token or less")
    func tpot() {
        #expect(InferenceRecord(start: 0, outputTokens: 101, ttftMs: 200, e2eMs: 2200).tpotMs == 20)
        #expect(InferenceRecord(start: 0, outputTokens: 1, ttftMs: 200, e2eMs: 250).tpotMs == nil)
        #expect(InferenceRecord(start: 0, outputTokens: 0, ttftMs: 200, e2eMs: 250).tpotMs == nil)
        #expect(InferenceRecord(start: 0, outputTokens: 10, e2eMs: 250).tpotMs == nil)
    }

    @Test("ITL summary comes from the gaps when known")
    func itlSummary() {
        let record = InferenceRecord(start: 0, itlMs: [10, 20, 60], itlMeanMs: 99)
        #expect(record.effectiveItlMeanMs == 30)
        #expect(record.effectiveItlMaxMs == 60)
        #expect(InferenceRecord(start: 0, itlMeanMs: 12, itlMaxMs: 40).effectiveItlMeanMs == 12)
    }

    @Test("cost: reserved GPUs times price per GPU; unreserved models pay the endpoint; never above the endpoint's price")
    func cost() {
        let catalog = EndpointCatalog([
            EndpointSpec(name: "shared", hourlyPrice: 8, gpus: 4, reservations: ["llama": 1, "mistral": 2]),
            EndpointSpec(name: "solo", hourlyPrice: 3, gpus: 1),
        ])
        #expect(catalog.hourlyCost(of: [(endpoint: "shared", model: "llama", component: "")]) == 2)
        #expect(catalog.hourlyCost(of: [(endpoint: "shared", model: "x", component: "mistral")]) == 4)
        #expect(catalog.hourlyCost(of: [(endpoint: "shared", model: "llama", component: ""), (endpoint: "shared", model: "mistral", component: "")]) == 6)
        #expect(catalog.hourlyCost(of: [(endpoint: "solo", model: "m", component: "")]) == 3)
        // An unreserved model on the shared endpoint is charged the whole endpoint, capped at its price.
        #expect(catalog.hourlyCost(of: [(endpoint: "shared", model: "llama", component: ""), (endpoint: "shared", model: "other", component: "")]) == 8)
        #expect(catalog.hourlyCost(of: [(endpoint: "unknown", model: "m", component: "")]) == nil)
    }

    @Test("the signal catalog names every record signal once, each with a unit")
    func catalog() {
        let names = SignalCatalog.recordSignals.map(\.0.name)
        #expect(Set(names).count == names.count)
        for required in ["requests.rate", "requests.count", "errors.ratio", "errors.server_error.ratio", "ttft.p50", "ttft.p90", "ttft.p95",
                         "ttft.p99", "ttft.mean", "itl.p95", "tpot.p50", "e2e.p99", "queue.mean", "tokens.input.rate", "tokens.output.rate",
                         "tokens.output.per_request", "concurrency", "cost.hourly", "cost.per_1m_tokens", "cost.per_1m_output_tokens"] {
            #expect(SignalCatalog.recordSignal(named: required) != nil, "missing \(required)")
        }
        #expect(SignalCatalog.recordSignal(named: "ttft.p95")?.0.unit == .seconds)
    }
}
