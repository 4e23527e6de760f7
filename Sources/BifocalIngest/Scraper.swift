public import AsyncHTTPClient
public import BifocalCore
import Foundation
import NIOCore
import NIOHTTP1

/// One Prometheus/OpenMetrics endpoint to scrape, as configured.
public struct ScrapeTarget: Sendable, Hashable {
    /// The URL of its exposition (`http://10.0.0.5:8000/metrics`).
    public var url: String
    /// The job label (`vllm`, `dcgm`, `node`).
    public var job: String
    /// Time between scrapes, microseconds.
    public var interval: Int64
    /// How long one scrape may take, microseconds (at most `interval`).
    public var timeout: Int64
    /// Extra labels every series from this target carries.
    public var labels: [String: String]
    /// The endpoint its series belong to, so they join the records' `endpoint`.
    public var endpoint: String?
    /// The model it serves, for exporters that do not say (TGI, llama.cpp, DCGM).
    public var model: String?
    /// The record-side instance (`i-0abc…`); defaults to the target's host.
    public var instance: String?

    /// Creates a target.
    public init(url: String, job: String, interval: Int64 = 15 * Timestamp.microsPerSecond,
                timeout: Int64 = 10 * Timestamp.microsPerSecond, labels: [String: String] = [:],
                endpoint: String? = nil, model: String? = nil, instance: String? = nil) {
        self.url = url
        self.job = job
        self.interval = interval
        self.timeout = timeout
        self.labels = labels
        self.endpoint = endpoint
        self.model = model
        self.instance = instance
    }

    /// `host:port` of the URL: the Prometheus `instance` label of the target's own families.
    public var address: String {
        guard let components = URLComponents(string: url), let host = components.host else { return url }
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The URL's host, the default record-side instance.
    public var host: String { URLComponents(string: url)?.host ?? address }

    /// Why the target cannot be scraped as configured, if it cannot.
    public var problem: String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme, components.host?.isEmpty == false else {
            return "\"\(url)\" is not an absolute URL (expected http://host:port/metrics)"
        }
        guard scheme == "http" || scheme == "https" else { return "scheme \"\(scheme)\" is not http or https" }
        if job.isEmpty { return "job cannot be empty" }
        if interval <= 0 { return "interval must be positive" }
        if timeout <= 0 || timeout > interval { return "timeout must be positive and at most the interval" }
        return nil
    }

    /// Labels every canonical series from this target carries.
    var canonicalContext: [String: String] {
        var context = labels
        context["job"] = job
        context["target"] = address
        context["instance"] = instance ?? host
        if let endpoint { context["endpoint"] = endpoint }
        if let model { context["model"] = model }
        return context
    }
}

/// Whether a target answered its last scrape.
public enum TargetHealth: String, Sendable, Hashable {
    /// Not scraped yet.
    case unknown
    /// The last scrape succeeded.
    case up
    /// The last scrape failed (see the report's error).
    case down
}

/// What one scrape did.
public struct ScrapeReport: Sendable, Hashable {
    /// When the scrape started, microseconds since the epoch.
    public var time: Int64
    /// How long it took, microseconds.
    public var duration: Int64
    /// Up or down.
    public var health: TargetHealth
    /// Why it failed (HTTP status, connection, timeout, `line:column: reason` of a parse error).
    public var error: String?
    /// Samples the target exposed.
    public var samplesScraped: Int
    /// The format it answered in (`openmetrics` or `prometheus`).
    public var format: String?
}

/// Scrapes one target: fetches, parses, maps to canonical signals and keeps track of staleness.
///
/// It produces three kinds of series: the target's own families under their own names (labels
/// as exposed, plus `job`, `instance` = the target's address, and the configured endpoint and
/// model); canonical signals from `ExporterMapper`; and per-target `up`,
/// `scrape_duration_seconds` and `scrape_samples_scraped`. A series that leaves the exposition,
/// or all of them when the target goes down, gets a stale marker, as Prometheus does.
public struct TargetScraper: Sendable {
    /// The Accept header Prometheus sends: OpenMetrics preferred, the 0.0.4 text format accepted.
    public static let acceptHeader = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    /// The largest exposition accepted (after decompression).
    public static let maxBodyBytes = 64 * 1024 * 1024

    /// The target.
    public let target: ScrapeTarget
    private var mapper = ExporterMapper()
    /// Fingerprints of the series written by the previous scrape, in order, and the series
    /// themselves (to mark the ones that disappear).
    private var previousFingerprints: [UInt64] = []
    private var previousSamples: [SeriesSample] = []

    /// Creates a scraper for a target.
    public init(target: ScrapeTarget) { self.target = target }

    /// Fetches and processes one scrape started at `time`; never throws (a failure is a report).
    public mutating func scrape(using client: HTTPClient, at time: Int64) async -> (samples: [SeriesSample], report: ScrapeReport) {
        let started = ContinuousClock.now
        func elapsed() -> Int64 {
            let d = ContinuousClock.now - started
            return d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        }
        var request = HTTPClientRequest(url: target.url)
        request.headers.add(name: "accept", value: Self.acceptHeader)
        request.headers.add(name: "accept-encoding", value: "gzip")
        request.headers.add(name: "user-agent", value: "bifocal-scraper")
        request.headers.add(name: "x-prometheus-scrape-timeout-seconds", value: String(Double(target.timeout) / 1e6))
        do {
            let response = try await client.execute(request, timeout: .microseconds(target.timeout))
            guard response.status == .ok else {
                _ = try? await response.body.collect(upTo: 64 * 1024)
                return failed("HTTP \(response.status.code) \(response.status.reasonPhrase)", at: time, duration: elapsed())
            }
            let buffer = try await response.body.collect(upTo: Self.maxBodyBytes)
            let contentType = response.headers.first(name: "content-type")
            return buffer.withUnsafeReadableBytes { bytes in
                process(bytes, contentType: contentType, at: time, duration: elapsed())
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return failed("timed out after \(Timestamp.formatDuration(target.timeout))", at: time, duration: elapsed())
        } catch let error as NIOTooManyBytesError {
            _ = error
            return failed("exposition larger than \(Self.maxBodyBytes) bytes", at: time, duration: elapsed())
        } catch {
            return failed(Self.describe(error), at: time, duration: elapsed())
        }
    }

    /// Processes an exposition that arrived: parse, convert, map, mark what disappeared.
    public mutating func process(_ body: UnsafeRawBufferPointer, contentType: String?, at time: Int64, duration: Int64) -> (samples: [SeriesSample], report: ScrapeReport) {
        let openMetrics = contentType?.lowercased().hasPrefix("application/openmetrics-text") ?? false
        let parsed: PrometheusParseResult
        do {
            // Exporters in the wild break OpenMetrics' value rules (negative sums); keep what they say.
            parsed = try PrometheusTextParser.parse(body, openMetrics: openMetrics, checkValues: false)
        } catch {
            return failed("\(openMetrics ? "OpenMetrics" : "Prometheus text") parse error at \(error)", at: time, duration: duration)
        }
        var samples: [SeriesSample] = []
        samples.reserveCapacity(parsed.samples.count + 64)
        appendOwnFamilies(parsed, at: time, to: &samples)
        samples += mapper.map(parsed, at: time, labels: target.canonicalContext)
        let report = ScrapeReport(time: time, duration: duration, health: .up, error: nil,
                                  samplesScraped: parsed.samples.count, format: openMetrics ? "openmetrics" : "prometheus")
        markStale(keeping: &samples, at: time)
        samples += healthSamples(report)
        return (samples, report)
    }

    /// A failed scrape: `up` 0, and every series of the previous scrape marked stale.
    public mutating func failed(_ reason: String, at time: Int64, duration: Int64) -> (samples: [SeriesSample], report: ScrapeReport) {
        let report = ScrapeReport(time: time, duration: duration, health: .down, error: reason, samplesScraped: 0, format: nil)
        var samples: [SeriesSample] = []
        markStale(keeping: &samples, at: time)
        samples += healthSamples(report)
        return (samples, report)
    }

    private func appendOwnFamilies(_ parsed: PrometheusParseResult, at time: Int64, to samples: inout [SeriesSample]) {
        let address = target.address
        for sample in parsed.samples {
            var labels: [String: String] = [:]
            labels.reserveCapacity(sample.labels.count + 4)
            for label in sample.labels where !label.value.isEmpty {
                // honor_labels: false — the exporter's own job/instance move aside, as in Prometheus.
                switch label.name {
                case "job": labels["exported_job"] = label.value
                case "instance": labels["exported_instance"] = label.value
                default: labels[label.name] = label.value
                }
            }
            for (name, value) in target.labels where labels[name] == nil { labels[name] = value }
            labels["job"] = target.job
            labels["instance"] = address
            if let endpoint = target.endpoint, labels["endpoint"] == nil { labels["endpoint"] = endpoint }
            if let model = target.model, labels["model"] == nil { labels["model"] = model }
            // Honour an exposed timestamp (seconds, fractional) when the exporter gives one.
            let at = sample.timestamp.map { Int64(($0 * 1e6).rounded()) } ?? time
            samples.append(SeriesSample(name: sample.name, labels: labels, time: at, value: sample.value))
        }
    }

    private func healthSamples(_ report: ScrapeReport) -> [SeriesSample] {
        var labels = target.labels
        labels["job"] = target.job
        labels["instance"] = target.address
        if let endpoint = target.endpoint { labels["endpoint"] = endpoint }
        return [
            SeriesSample(name: "up", labels: labels, time: report.time, value: report.health == .up ? 1 : 0),
            SeriesSample(name: "scrape_duration_seconds", labels: labels, time: report.time, value: Double(report.duration) / 1e6),
            SeriesSample(name: "scrape_samples_scraped", labels: labels, time: report.time, value: Double(report.samplesScraped)),
        ]
    }

    /// Adds stale markers for series the previous scrape had and this one lacks; remembers this one's.
    ///
    /// Series are compared by a 64-bit fingerprint of name and labels (hashing label dictionaries
    /// was a tenth of the scraper's time). Expositions list their series in the same order scrape
    /// after scrape, so the usual case is one pass comparing fingerprints in order; only when they
    /// differ is a set built. A fingerprint collision could at worst leave one series unmarked.
    private mutating func markStale(keeping samples: inout [SeriesSample], at time: Int64) {
        var current: [UInt64] = []
        current.reserveCapacity(samples.count)
        for sample in samples { current.append(Self.fingerprint(sample)) }
        if current != previousFingerprints, !previousFingerprints.isEmpty {
            let present = Set(current)
            var added: [SeriesSample] = []
            for (index, print) in previousFingerprints.enumerated() where !present.contains(print) {
                let gone = previousSamples[index]
                added.append(.stale(name: gone.name, labels: gone.labels, time: time))
            }
            samples += added
        }
        // Stale markers themselves are not remembered: they are sent once.
        previousFingerprints = current
        previousSamples = Array(samples.prefix(current.count))
    }

    /// FNV-1a over the name, plus an order-independent sum over the labels (dictionaries have no order).
    static func fingerprint(_ sample: SeriesSample) -> UInt64 {
        @inline(__always) func fnv(_ text: String, _ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            return hash
        }
        let basis: UInt64 = 0xCBF2_9CE4_8422_2325
        var labels: UInt64 = 0
        for (name, value) in sample.labels {
            // Name and value are chained (with a separator byte) so that k=v and v=k differ.
            var pair = fnv(name, basis)
            pair ^= 0xFF
            pair = pair &* 0x0000_0100_0000_01B3
            pair = fnv(value, pair)
            // A final mix so the sum of pairs does not cancel out.
            pair ^= pair >> 33
            pair = pair &* 0xFF51_AFD7_ED55_8CCD
            pair ^= pair >> 33
            labels = labels &+ pair
        }
        return fnv(sample.name, basis) ^ (labels &* 0xC4CE_B9FE_1A85_EC53)
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "the target closed the connection"
            default: return "HTTP client: \(error)"
            }
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}
