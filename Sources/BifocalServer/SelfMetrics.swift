import BifocalCore
import Synchronization

/// Bifocal's `/metrics`: its own health plus per-model histograms of the records this process
/// ingested, named and bucketed after the OpenTelemetry GenAI semantic conventions.
///
/// Counters start at zero when the process starts, as Prometheus expects of any exporter.
final class SelfMetrics: Sendable {
    /// Bucket boundaries the GenAI conventions advise, in seconds or tokens.
    enum Buckets {
        static let timeToFirstToken: [Double] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
        static let timePerOutputToken: [Double] = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5]
        static let requestDuration: [Double] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
        static let tokenUsage: [Double] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
    }

    /// At most this many label sets per histogram family; records past it count in `bifocal_metrics_series_dropped_total`.
    static let maxSeries = 2000

    struct Histogram {
        var buckets: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0

        init(boundaries: Int) { buckets = Array(repeating: 0, count: boundaries) }

        mutating func observe(_ value: Double, boundaries: [Double]) {
            // Buckets are stored non-cumulative and summed when rendered.
            var low = 0
            var high = boundaries.count
            while low < high {
                let mid = (low + high) / 2
                if value <= boundaries[mid] { high = mid } else { low = mid + 1 }
            }
            if low < boundaries.count { buckets[low] += 1 }
            sum += value
            count += 1
        }
    }

    struct SeriesKey: Hashable {
        var endpoint: String
        var model: String
        var component: String
        var variant: String
        var extra: String  // error_type for durations, gen_ai_token_type for tokens
    }

    struct State {
        var recordsAccepted: [String: UInt64] = [:]
        var recordsRejected: [String: UInt64] = [:]
        var duplicates: UInt64 = 0
        var requests: [String: UInt64] = [:]  // "route\u{1F}code"
        var inflight = 0
        var seriesDropped: UInt64 = 0
        var ttft: [SeriesKey: Histogram] = [:]
        var tpot: [SeriesKey: Histogram] = [:]
        var duration: [SeriesKey: Histogram] = [:]
        var tokens: [SeriesKey: Histogram] = [:]
    }

    private let state = Mutex(State())

    init() {}

    /// Counts one API request by route and status code.
    func countRequest(route: String, code: Int) {
        state.withLock { $0.requests["\(route)\u{1F}\(code)", default: 0] += 1 }
    }

    /// Tracks ingest requests waiting for the store.
    func ingestStarted() { state.withLock { $0.inflight += 1 } }
    /// See `ingestStarted`.
    func ingestFinished() { state.withLock { $0.inflight -= 1 } }

    /// Counts rejected records.
    func countRejected(_ count: Int, source: RecordSource) {
        guard count > 0 else { return }
        state.withLock { $0.recordsRejected[source.rawValue, default: 0] += UInt64(count) }
    }

    /// Records stored records (skipping `duplicatePositions`) into the counters and histograms.
    func observe(_ records: [InferenceRecord], duplicatePositions: [Int]) {
        let skip = Set(duplicatePositions)
        state.withLock { state in
            state.duplicates += UInt64(skip.count)
            for (position, record) in records.enumerated() where !skip.contains(position) {
                state.recordsAccepted[record.source.rawValue, default: 0] += 1
                let base = SeriesKey(endpoint: record.endpoint ?? "", model: record.model ?? "",
                                     component: record.component ?? "", variant: record.variant ?? "", extra: "")
                if let ttft = record.ttftMs {
                    Self.observe(ttft / 1000, key: base, in: &state.ttft, boundaries: Buckets.timeToFirstToken, dropped: &state.seriesDropped)
                }
                if let tpot = record.tpotMs {
                    Self.observe(tpot / 1000, key: base, in: &state.tpot, boundaries: Buckets.timePerOutputToken, dropped: &state.seriesDropped)
                }
                if let e2e = record.e2eMs {
                    var key = base
                    key.extra = record.status == .ok ? "" : record.status.rawValue
                    Self.observe(e2e / 1000, key: key, in: &state.duration, boundaries: Buckets.requestDuration, dropped: &state.seriesDropped)
                }
                for (type, tokens) in [("input", record.inputTokens), ("output", record.outputTokens)] {
                    guard let tokens else { continue }
                    var key = base
                    key.extra = type
                    Self.observe(Double(tokens), key: key, in: &state.tokens, boundaries: Buckets.tokenUsage, dropped: &state.seriesDropped)
                }
            }
        }
    }

    private static func observe(_ value: Double, key: SeriesKey, in family: inout [SeriesKey: Histogram], boundaries: [Double], dropped: inout UInt64) {
        if family[key] == nil {
            guard family.count < maxSeries else {
                dropped += 1
                return
            }
            family[key] = Histogram(boundaries: boundaries.count)
        }
        family[key]!.observe(value, boundaries: boundaries)
    }

    /// Renders everything in the Prometheus text format 0.0.4.
    func render(storeRecords: Int?, storeSizeBytes: Int64?) -> String {
        let state = state.withLock { $0 }
        var out = ExpositionWriter()
        out.family("bifocal_ingest_records_total", type: "counter", help: "Records stored, by source.")
        for (source, n) in state.recordsAccepted.sorted(by: { $0.key < $1.key }) {
            out.sample("bifocal_ingest_records_total", [("source", source)], Double(n))
        }
        out.family("bifocal_ingest_rejected_total", type: "counter", help: "Records rejected as invalid, by source.")
        for (source, n) in state.recordsRejected.sorted(by: { $0.key < $1.key }) {
            out.sample("bifocal_ingest_rejected_total", [("source", source)], Double(n))
        }
        out.family("bifocal_ingest_duplicates_total", type: "counter", help: "Records not stored because their id was already stored.")
        out.sample("bifocal_ingest_duplicates_total", [], Double(state.duplicates))
        out.family("bifocal_ingest_inflight_requests", type: "gauge", help: "Ingest requests waiting for the store to commit.")
        out.sample("bifocal_ingest_inflight_requests", [], Double(state.inflight))
        out.family("bifocal_http_requests_total", type: "counter", help: "API requests by route and status code.")
        for (key, n) in state.requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{1F}", omittingEmptySubsequences: false)
            out.sample("bifocal_http_requests_total", [("route", String(parts[0])), ("code", String(parts[1]))], Double(n))
        }
        out.family("bifocal_metrics_series_dropped_total", type: "counter", help: "Observations not exported because a histogram family reached its series cap.")
        out.sample("bifocal_metrics_series_dropped_total", [], Double(state.seriesDropped))
        if let storeRecords {
            out.family("bifocal_store_records", type: "gauge", help: "Raw records held in the store.")
            out.sample("bifocal_store_records", [], Double(storeRecords))
        }
        if let storeSizeBytes {
            out.family("bifocal_store_size_bytes", type: "gauge", help: "Bytes the data folder's database files take.")
            out.sample("bifocal_store_size_bytes", [], Double(storeSizeBytes))
        }
        out.histograms("gen_ai_server_time_to_first_token_seconds", help: "Time to generate the first token, per model (GenAI semantic conventions).",
                       state.ttft, boundaries: Buckets.timeToFirstToken, extraLabel: nil)
        out.histograms("gen_ai_server_time_per_output_token_seconds", help: "Time per output token after the first, per model (GenAI semantic conventions).",
                       state.tpot, boundaries: Buckets.timePerOutputToken, extraLabel: nil)
        out.histograms("gen_ai_server_request_duration_seconds", help: "End-to-end request duration, per model; error_type set on failures (GenAI semantic conventions).",
                       state.duration, boundaries: Buckets.requestDuration, extraLabel: "error_type")
        out.histograms("gen_ai_client_token_usage", help: "Tokens per request by gen_ai_token_type (input, output), per model (GenAI semantic conventions).",
                       state.tokens, boundaries: Buckets.tokenUsage, extraLabel: "gen_ai_token_type")
        return out.text
    }
}

/// Builds Prometheus text-format exposition.
struct ExpositionWriter {
    var text = ""

    mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{"
            text += labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
            text += "}"
        }
        text += " \(Self.format(value))\n"
    }

    mutating func histograms(_ name: String, help: String, _ family: [SelfMetrics.SeriesKey: SelfMetrics.Histogram], boundaries: [Double], extraLabel: String?) {
        self.family(name, type: "histogram", help: help)
        let keys = family.keys.sorted { ($0.endpoint, $0.model, $0.component, $0.variant, $0.extra) < ($1.endpoint, $1.model, $1.component, $1.variant, $1.extra) }
        for key in keys {
            let histogram = family[key]!
            var labels = [("endpoint", key.endpoint), ("model", key.model), ("component", key.component), ("variant", key.variant)]
            if let extraLabel, !key.extra.isEmpty { labels.append((extraLabel, key.extra)) }
            var cumulative: UInt64 = 0
            for (i, bound) in boundaries.enumerated() {
                cumulative += histogram.buckets[i]
                sample("\(name)_bucket", labels + [("le", Self.format(bound))], Double(cumulative))
            }
            sample("\(name)_bucket", labels + [("le", "+Inf")], Double(histogram.count))
            sample("\(name)_sum", labels, histogram.sum)
            sample("\(name)_count", labels, Double(histogram.count))
        }
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
