import BifocalCore
import BifocalStore
import Foundation

/// What a dashboard page shows: its time range, grouping and refresh, read from the URL so that
/// a link reproduces the view.
struct DashboardView: Sendable, Hashable {
    /// The named ranges the picker offers, with the step their charts use (about 60-240 points;
    /// never under a minute, the finest record rollup).
    static let ranges: [(name: String, length: Int64, step: Int64)] = [
        ("15m", 15 * Timestamp.microsPerMinute, Timestamp.microsPerMinute),
        ("1h", Timestamp.microsPerHour, Timestamp.microsPerMinute),
        ("6h", 6 * Timestamp.microsPerHour, 5 * Timestamp.microsPerMinute),
        ("24h", Timestamp.microsPerDay, 10 * Timestamp.microsPerMinute),
        ("7d", 7 * Timestamp.microsPerDay, Timestamp.microsPerHour),
        ("30d", 30 * Timestamp.microsPerDay, 3 * Timestamp.microsPerHour),
    ]
    /// What the group-by picker offers (record labels that rollups keep, so it stays fast).
    static let groupings = ["model", "variant", "component", "endpoint", "tenant", "none"]
    /// Auto-refresh choices, seconds (0: off).
    static let refreshes = [0, 5, 60]

    /// `15m` ... `30d`, or `custom`.
    var range: String
    /// Start (inclusive), microseconds.
    var from: Int64
    /// End (exclusive), microseconds.
    var to: Int64
    /// Chart step, microseconds.
    var step: Int64
    /// The label charts group by; empty for none.
    var by: String
    /// Auto-refresh in seconds; 0 for off.
    var refresh: Int

    /// Reads `range`, `from`, `to`, `by` and `refresh`; unknown or bad values fall back to the
    /// defaults (last hour, by model, no refresh) rather than failing the page.
    init(parameters: [String: String], now: Int64) {
        by = parameters["by"].flatMap { Self.groupings.contains($0) ? ($0 == "none" ? "" : $0) : nil } ?? "model"
        refresh = parameters["refresh"].flatMap(Int.init).flatMap { Self.refreshes.contains($0) ? $0 : nil } ?? 0
        // Charts end at the last complete minute: a partial step would read as a sudden drop in
        // rates (and a jump in cost per token) that is only the step not being over yet.
        let end = Timestamp.floor(now, toMultipleOf: Timestamp.microsPerMinute)
        if parameters["range"] == "custom" || (parameters["range"] == nil && parameters["from"] != nil),
           let from = parameters["from"].flatMap(Self.parseTime), let to = parameters["to"].flatMap(Self.parseTime) ?? Optional(end), from < to {
            range = "custom"
            let span = to - from
            // About 120 points, in whole minutes.
            step = max(Timestamp.microsPerMinute, ((span / 120 + Timestamp.microsPerMinute - 1) / Timestamp.microsPerMinute) * Timestamp.microsPerMinute)
            self.from = Timestamp.floor(from, toMultipleOf: Timestamp.microsPerMinute)
            self.to = to
            return
        }
        let chosen = Self.ranges.first { $0.name == parameters["range"] } ?? Self.ranges[1]
        range = chosen.name
        step = chosen.step
        to = Timestamp.floor(end, toMultipleOf: chosen.step)
        from = to - chosen.length
    }

    /// Unix seconds, RFC 3339, or a `datetime-local` value (`2026-11-29T10:00`, read as UTC).
    static func parseTime(_ text: String) -> Int64? {
        if let t = Timestamp.parse(text) { return t }
        if text.count == 16 { return Timestamp.parse(text + ":00Z") }
        if text.count == 19 { return Timestamp.parse(text + "Z") }
        return nil
    }

    /// The view as URL query items, for links between pages.
    var queryItems: [(String, String)] {
        var items: [(String, String)] = []
        if range == "custom" {
            items += [("range", "custom"), ("from", Timestamp.formatRFC3339(from)), ("to", Timestamp.formatRFC3339(to))]
        } else {
            items.append(("range", range))
        }
        items.append(("by", by.isEmpty ? "none" : by))
        if refresh > 0 { items.append(("refresh", String(refresh))) }
        return items
    }
}

/// One line of a chart: a signal, grouped or not.
struct DashboardLine: Sendable {
    var signal: String
    var by: [String]
    var matchers: [LabelMatcher] = []
    var aggregation: SeriesAggregation? = nil
    /// Shown before (or instead of) the group's name; "all" for an ungrouped total.
    var name: String
    var dashed = false
}

/// A threshold band drawn behind a chart.
struct DashboardBand: Sendable {
    var from: Double
    var to: Double
    /// `low` (under-use), `warn` (saturation), `bad` (red).
    var kind: String
    var label: String
}

/// One chart.
struct DashboardPanel: Sendable {
    var id: String
    var title: String
    var unit: SignalUnit
    var lines: [DashboardLine]
    var bands: [DashboardBand] = []
    /// Fixed top of the y axis (ratios: 1), else from the data.
    var yMax: Double? = nil
    /// What to do when it has no data.
    var empty: String
}

/// Builds the JSON behind the Overview and Compare pages: asks the store for every query a page
/// needs in one batch (it reads each range once for all its signals) and returns one document, so a page costs one
/// round trip and its time can be measured as one number.
struct DashboardData: Sendable {
    let store: any Store
    let settings: DashboardSettings
    /// Chunks of range answers shared by every request (nil: always read the store).
    var cache: DashboardCache? = nil

    static let recordHint = "No inference records in the store yet. Point your OpenAI client at this server's gateway (http://HOST:PORT/v1), POST records to /api/v1/records, send OTLP GenAI spans to /v1/traces, or run `bifocal ingest FILE`."
    static let seriesHint = "No GPU or engine series yet. Add scrape targets (DCGM exporter, vLLM /metrics) under scrape.targets in the config, or enable gpu_sampler on a host with nvidia-smi."

    /// The Overview's charts for a view, in two sections.
    func overviewPanels(_ view: DashboardView) -> [(String, [DashboardPanel])] {
        let by = view.by.isEmpty ? [] : [view.by]
        let s = settings
        func grouped(_ signal: String, _ extra: [DashboardLine] = []) -> [DashboardLine] {
            (by.isEmpty ? [] : [DashboardLine(signal: signal, by: by, name: "")]) + extra
        }
        func percentiles(_ metric: String) -> [DashboardLine] {
            grouped("\(metric).p95") + [
                DashboardLine(signal: "\(metric).p50", by: [], name: "all p50", dashed: true),
                DashboardLine(signal: "\(metric).p95", by: [], name: "all p95", dashed: true),
                DashboardLine(signal: "\(metric).p99", by: [], name: "all p99", dashed: true),
            ]
        }
        let noRecords = "No requests in this range. Pick a longer range, or check that clients send traffic through Bifocal."
        let traffic: [DashboardPanel] = [
            DashboardPanel(id: "requests", title: "Requests per second", unit: .perSecond,
                           lines: grouped("requests.rate", [DashboardLine(signal: "requests.rate", by: [], name: "all", dashed: true)]), empty: noRecords),
            DashboardPanel(id: "errors", title: "Error ratio", unit: .ratio,
                           lines: grouped("errors.ratio", [DashboardLine(signal: "errors.ratio", by: [], name: "all", dashed: true)]),
                           bands: [DashboardBand(from: s.errorRatioHigh, to: 1, kind: "bad", label: "errors > \(Self.percent(s.errorRatioHigh))")],
                           empty: noRecords),
            DashboardPanel(id: "error-kinds", title: "Errors by kind (all)", unit: .ratio,
                           lines: RecordStatus.allCases.filter(\.isError).map {
                               DashboardLine(signal: "errors.\($0.rawValue).ratio", by: [], name: $0.rawValue.replacingOccurrences(of: "_", with: " "))
                           }, empty: noRecords),
            DashboardPanel(id: "ttft", title: by.isEmpty ? "Time to first token" : "Time to first token (p95 per \(view.by))", unit: .seconds, lines: percentiles("ttft"), empty: noRecords),
            DashboardPanel(id: "itl", title: by.isEmpty ? "Inter-token latency" : "Inter-token latency (p95 per \(view.by))", unit: .seconds, lines: percentiles("itl"), empty: noRecords),
            DashboardPanel(id: "e2e", title: by.isEmpty ? "End-to-end latency" : "End-to-end latency (p95 per \(view.by))", unit: .seconds, lines: percentiles("e2e"), empty: noRecords),
            DashboardPanel(id: "tokens", title: "Tokens per second (output per \(by.isEmpty ? "endpoint" : view.by))", unit: .perSecond,
                           lines: grouped("tokens.output.rate") + [
                               DashboardLine(signal: "tokens.input.rate", by: [], name: "all input", dashed: true),
                               DashboardLine(signal: "tokens.output.rate", by: [], name: "all output", dashed: true),
                           ], empty: noRecords),
            DashboardPanel(id: "concurrency", title: "Concurrency (requests in flight)", unit: .count,
                           lines: grouped("concurrency", [DashboardLine(signal: "concurrency", by: [], name: "all", dashed: true)]), empty: noRecords),
            DashboardPanel(id: "cost-hourly", title: "Cost per hour", unit: .dollarsPerHour,
                           lines: grouped("cost.hourly", [DashboardLine(signal: "cost.hourly", by: [], name: "all", dashed: true)]),
                           empty: "No cost: give the endpoint a price under endpoints: (hourly_price, gpus) in the config."),
            DashboardPanel(id: "cost-tokens", title: "Cost per 1M tokens", unit: .dollars,
                           lines: grouped("cost.per_1m_tokens", [DashboardLine(signal: "cost.per_1m_tokens", by: [], name: "all", dashed: true)]),
                           empty: "No cost: give the endpoint a price under endpoints: (hourly_price, gpus) in the config."),
        ]
        let engineBy = ["endpoint", "model"].contains(view.by) ? [view.by] : ["model"]
        let noGPU = "No GPU series in this range. Scrape a DCGM exporter (scrape.targets) or enable gpu_sampler."
        let noEngine = "No engine series in this range. Scrape the model server's /metrics (vLLM, TGI, SGLang, llama.cpp) under scrape.targets."
        let gpu: [DashboardPanel] = [
            DashboardPanel(id: "gpu-compute", title: "GPU compute utilisation per GPU", unit: .ratio,
                           lines: [DashboardLine(signal: "gpu.utilization", by: ["instance", "gpu"], name: "GPU")],
                           bands: [DashboardBand(from: 0, to: s.computeLow, kind: "low", label: "under-use < \(Self.percent(s.computeLow))"),
                                   DashboardBand(from: s.computeHigh, to: 1, kind: "warn", label: "saturation > \(Self.percent(s.computeHigh))")],
                           yMax: 1, empty: noGPU),
            DashboardPanel(id: "gpu-memory", title: "GPU memory utilisation per GPU", unit: .ratio,
                           lines: [DashboardLine(signal: "gpu.memory.utilization", by: ["instance", "gpu"], name: "GPU")],
                           bands: [DashboardBand(from: s.memoryHigh, to: 1, kind: "bad", label: "memory > \(Self.percent(s.memoryHigh))")],
                           yMax: 1, empty: noGPU),
            DashboardPanel(id: "kv-cache", title: "KV-cache usage per model server", unit: .ratio,
                           lines: [DashboardLine(signal: "kv_cache.usage", by: engineBy, name: "")],
                           bands: [DashboardBand(from: s.kvCacheHigh, to: 1, kind: "bad", label: "KV cache > \(Self.percent(s.kvCacheHigh))")],
                           yMax: 1, empty: noEngine),
            DashboardPanel(id: "queue", title: "Requests waiting in the model server queue", unit: .count,
                           lines: [DashboardLine(signal: "queue.waiting", by: engineBy, name: "")], empty: noEngine),
            DashboardPanel(id: "gpus", title: "GPUs used and free", unit: .count,
                           lines: [DashboardLine(signal: "gpus.used", by: [], name: "used"),
                                   DashboardLine(signal: "gpus.free", by: [], name: "free"),
                                   DashboardLine(signal: "gpus.total", by: [], name: "total", dashed: true)], empty: noGPU),
        ]
        return [("Traffic, latency and cost", traffic), ("GPUs and model servers", gpu)]
    }

    static func percent(_ ratio: Double) -> String { "\(Int((ratio * 100).rounded()))%" }

    /// Runs queries in one batch; a query the store rejects yields an empty result rather than
    /// failing the page (a panel then shows its empty state).
    func run(_ queries: [SignalQuery], now: Int64) async throws -> [SignalResult?] {
        guard let cache else { return try await Self.run(queries, on: store) }
        let store = store
        return try await cache.answer(queries, now: now) { try await Self.run($0, on: store) }
    }

    /// Asks the store for every query at once, so that it can share reads between queries over
    /// the same range (see `Store.query(_:)` for a list); a rejected query is nil.
    static func run(_ queries: [SignalQuery], on store: any Store) async throws -> [SignalResult?] {
        guard !queries.isEmpty else { return [] }
        return try await store.query(queries).map { try? $0.get() }
    }

    /// Names a series: the line's name and its group's values ("GPU 3", "llama-3-8b").
    static func seriesName(_ line: DashboardLine, _ labels: [String: String], dropInstance: Bool) -> String {
        let values = line.by.filter { !(dropInstance && $0 == "instance") }.map { labels[$0].flatMap { $0.isEmpty ? nil : $0 } ?? "(none)" }
        if values.isEmpty { return line.name }
        return ([line.name].filter { !$0.isEmpty } + values).joined(separator: " ")
    }

    func writePanel(_ panel: DashboardPanel, results: ArraySlice<SignalResult?>, view: DashboardView, json: inout JSONWriter, only: Set<String>? = nil) {
        json.raw("{\"id\":"); json.string(panel.id)
        json.raw(",\"title\":"); json.string(panel.title)
        json.raw(",\"unit\":"); json.string(panel.unit.rawValue)
        json.raw(",\"empty\":"); json.string(panel.empty)
        if let yMax = panel.yMax { json.raw(",\"ymax\":"); json.number(yMax) }
        json.raw(",\"bands\":[")
        for (i, band) in panel.bands.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"from\":"); json.number(band.from)
            json.raw(",\"to\":"); json.number(band.to)
            json.raw(",\"kind\":"); json.string(band.kind)
            json.raw(",\"label\":"); json.string(band.label)
            json.raw("}")
        }
        json.raw("],\"series\":[")
        var first = true
        for (line, result) in zip(panel.lines, results) {
            guard let result else { continue }
            let instances = Set(result.series.compactMap { $0.labels["instance"] })
            for series in result.series {
                let name = Self.seriesName(line, series.labels, dropInstance: instances.count <= 1)
                if let only, !line.by.isEmpty, !only.contains(name) { continue }
                // A series with no value in the range adds nothing but a legend entry.
                guard series.points.contains(where: { $0.value != nil }) else { continue }
                if !first { json.raw(",") }
                first = false
                json.raw("{\"name\":"); json.string(name)
                json.raw(",\"dashed\":"); json.raw(line.dashed ? "true" : "false")
                json.raw(",\"points\":[")
                for (k, point) in series.points.enumerated() {
                    if k > 0 { json.raw(",") }
                    json.raw("[")
                    json.number(Int(point.time / Timestamp.microsPerSecond))
                    json.raw(",")
                    json.number(point.value.map { ($0 * 1e6).rounded() / 1e6 })
                    json.raw("]")
                }
                json.raw("]}")
            }
        }
        json.raw("]}")
    }

    func writeView(_ view: DashboardView, now: Int64, json: inout JSONWriter) {
        json.raw("\"now\":"); json.number(Int(now / Timestamp.microsPerSecond))
        json.raw(",\"from\":"); json.number(Int(view.from / Timestamp.microsPerSecond))
        json.raw(",\"to\":"); json.number(Int(view.to / Timestamp.microsPerSecond))
        json.raw(",\"step\":"); json.number(Int(view.step / Timestamp.microsPerSecond))
        json.raw(",\"range\":"); json.string(view.range)
        json.raw(",\"by\":"); json.string(view.by)
    }

    /// Instant columns of the status table and tiles: signal, title, unit, aggregation.
    static let statusColumns: [(signal: String, title: String, unit: SignalUnit, agg: SeriesAggregation?)] = [
        ("requests.rate", "Requests/s", .perSecond, nil),
        ("errors.ratio", "Errors", .ratio, nil),
        ("ttft.p95", "TTFT p95", .seconds, nil),
        ("itl.p95", "ITL p95", .seconds, nil),
        ("e2e.p99", "E2E p99", .seconds, nil),
        ("tokens.output.rate", "Output tok/s", .perSecond, nil),
        ("concurrency", "In flight", .count, nil),
        ("cost.hourly", "Cost/h", .dollarsPerHour, nil),
        ("cost.per_1m_tokens", "$/1M tok", .dollars, nil),
        ("gpu.utilization", "GPU compute", .ratio, .mean),
        ("gpu.memory.utilization", "GPU memory (max)", .ratio, .max),
        ("kv_cache.usage", "KV cache", .ratio, .max),
        ("queue.waiting", "Queued", .count, .sum),
    ]

    /// Whether a status value is fine, worth a look, or bad, by the configured thresholds.
    func state(_ signal: String, _ value: Double?) -> String {
        guard let value else { return "none" }
        let s = settings
        switch signal {
        case "errors.ratio": return value > s.errorRatioHigh ? "bad" : (value > s.errorRatioHigh / 5 ? "warn" : "ok")
        case "gpu.utilization": return value < s.computeLow ? "low" : (value > s.computeHigh ? "warn" : "ok")
        case "gpu.memory.utilization": return value > s.memoryHigh ? "bad" : "ok"
        case "kv_cache.usage": return value > s.kvCacheHigh ? "bad" : "ok"
        case "queue.waiting": return value >= 10 ? "warn" : "ok"
        case "ttft.p95": return value > Double(s.slowTTFT) / 1e6 ? "bad" : "ok"
        case "e2e.p99": return value > Double(s.slowE2E) / 1e6 ? "bad" : "ok"
        default: return "ok"
        }
    }

    /// The Overview's JSON: view, empty-state hints, the status table (per group and all, over
    /// the last 5 minutes of the range) and the charts.
    func overview(_ view: DashboardView, now: Int64) async throws -> [UInt8] {
        let statistics = try await store.statistics()
        let sections = overviewPanels(view)
        let statusBy = view.by.isEmpty ? "model" : view.by
        // "Now" is the last five complete minutes (or the end of a custom range).
        let window = 5 * Timestamp.microsPerMinute
        let at = view.range == "custom" ? view.to : Timestamp.floor(now, toMultipleOf: Timestamp.microsPerMinute)
        var queries: [SignalQuery] = []
        for column in Self.statusColumns {
            let isSeries = SignalCatalog.recordSignal(named: column.signal) == nil
            // Engine and GPU series carry `model` and `endpoint`, not the other record labels.
            let by = isSeries && !["model", "endpoint"].contains(statusBy) ? ["model"] : [statusBy]
            queries.append(SignalQuery(signal: column.signal, by: by, shape: .instant(at: at, window: window), aggregation: column.agg))
            queries.append(SignalQuery(signal: column.signal, shape: .instant(at: at, window: window), aggregation: column.agg))
        }
        for signal in ["gpus.used", "gpus.free", "gpus.total"] {
            queries.append(SignalQuery(signal: signal, shape: .instant(at: at, window: min(window, 2 * Timestamp.microsPerMinute))))
        }
        let chartStart = queries.count
        for (_, panels) in sections {
            for panel in panels {
                for line in panel.lines {
                    queries.append(SignalQuery(signal: line.signal, by: line.by, matchers: line.matchers,
                                               shape: .range(from: view.from, to: view.to, step: view.step), aggregation: line.aggregation))
                }
            }
        }
        let results = try await run(queries, now: now)

        var json = JSONWriter(capacity: 64 * 1024)
        json.raw("{")
        writeView(view, now: now, json: &json)
        json.raw(",\"hints\":{\"records\":")
        statistics.records == 0 ? json.string(Self.recordHint) : json.raw("null")
        json.raw(",\"series\":")
        statistics.series == 0 ? json.string(Self.seriesHint) : json.raw("null")
        json.raw("},\"status\":{\"by\":"); json.string(statusBy)
        json.raw(",\"columns\":[")
        for (i, column) in Self.statusColumns.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"signal\":"); json.string(column.signal)
            json.raw(",\"title\":"); json.string(column.title)
            json.raw(",\"unit\":"); json.string(column.unit.rawValue); json.raw("}")
        }
        // Rows: every group any column has, then "all".
        var rows: [String: [Int: Double?]] = [:]
        var total: [Int: Double?] = [:]
        for (c, column) in Self.statusColumns.enumerated() {
            if let grouped = results[2 * c] {
                for series in grouped.series {
                    let key = series.labels.values.first ?? ""
                    rows[key.isEmpty ? "(none)" : key, default: [:]][c] = series.points.first?.value
                }
            }
            total[c] = results[2 * c + 1]?.series.first?.points.first?.value
            _ = column
        }
        json.raw("],\"rows\":[")
        func writeRow(_ name: String, _ values: [Int: Double?], first: Bool) {
            if !first { json.raw(",") }
            json.raw("{\"name\":"); json.string(name)
            json.raw(",\"cells\":[")
            for (c, column) in Self.statusColumns.enumerated() {
                if c > 0 { json.raw(",") }
                let value = values[c] ?? nil
                json.raw("{\"v\":"); json.number(value)
                json.raw(",\"state\":"); json.string(state(column.signal, value)); json.raw("}")
            }
            json.raw("]}")
        }
        for (i, name) in rows.keys.sorted().enumerated() { writeRow(name, rows[name]!, first: i == 0) }
        writeRow("all", total, first: rows.isEmpty)
        json.raw("],\"gpus\":{")
        for (k, name) in ["used", "free", "total"].enumerated() {
            if k > 0 { json.raw(",") }
            json.string(name); json.raw(":")
            json.number(results[2 * Self.statusColumns.count + k]?.series.first?.points.first?.value)
        }
        json.raw("}},\"sections\":[")
        var index = chartStart
        for (s, (title, panels)) in sections.enumerated() {
            if s > 0 { json.raw(",") }
            json.raw("{\"title\":"); json.string(title)
            json.raw(",\"panels\":[")
            for (p, panel) in panels.enumerated() {
                if p > 0 { json.raw(",") }
                writePanel(panel, results: results[index..<(index + panel.lines.count)], view: view, json: &json)
                index += panel.lines.count
            }
            json.raw("]}")
        }
        json.raw("]}\n")
        return json.bytes
    }

    /// A group's name from its labels: the values of `by`, space-separated ("(none)" for a missing one).
    static func groupName(_ by: [String], _ labels: [String: String]) -> String {
        by.map { name in labels[name].flatMap { $0.isEmpty ? nil : $0 } ?? "(none)" }.joined(separator: " ")
    }

    /// What the Compare page can compare: a record label or two.
    static let compareDimensions = ["model", "variant", "model,variant", "component", "endpoint", "tenant"]

    /// The Compare page's JSON: the chosen groups on shared axes, and a summary over the whole range.
    func compare(_ view: DashboardView, dimension: String, only: [String], now: Int64) async throws -> [UInt8] {
        let by = dimension.split(separator: ",").map(String.init)
        let signals: [(String, String, SignalUnit)] = [
            ("ttft.p95", "Time to first token p95", .seconds), ("itl.p95", "Inter-token latency p95", .seconds),
            ("e2e.p95", "End-to-end latency p95", .seconds), ("tpot.p50", "Time per output token p50", .seconds),
            ("requests.rate", "Requests per second", .perSecond), ("errors.ratio", "Error ratio", .ratio),
            ("tokens.output.rate", "Output tokens per second", .perSecond), ("cost.per_1m_tokens", "Cost per 1M tokens", .dollars),
        ]
        let summary: [(String, String, SignalUnit)] = [
            ("requests.count", "Requests", .count), ("errors.ratio", "Errors", .ratio), ("ttft.p50", "TTFT p50", .seconds),
            ("ttft.p95", "TTFT p95", .seconds), ("itl.p95", "ITL p95", .seconds), ("e2e.p95", "E2E p95", .seconds),
            ("tpot.p50", "TPOT p50", .seconds), ("tokens.output.per_request", "Output tok/request", .tokens),
            ("cost.per_1m_tokens", "$/1M tok", .dollars),
        ]
        var queries = signals.map { SignalQuery(signal: $0.0, by: by, shape: .range(from: view.from, to: view.to, step: view.step)) }
        queries += summary.map { SignalQuery(signal: $0.0, by: by, shape: .instant(at: view.to, window: view.to - view.from)) }
        let results = try await run(queries, now: now)
        // The groups there are, busiest first; by default the first four are compared.
        let countIndex = signals.count
        var available: [(String, Double)] = []
        for series in results[countIndex]?.series ?? [] {
            available.append((Self.groupName(by, series.labels), series.points.first?.value ?? 0))
        }
        available.sort { $0.1 > $1.1 }
        let chosen = only.isEmpty ? Array(available.prefix(4).map(\.0)) : only
        let chosenSet = Set(chosen)

        var json = JSONWriter(capacity: 32 * 1024)
        json.raw("{")
        writeView(view, now: now, json: &json)
        json.raw(",\"dimension\":"); json.string(dimension)
        json.raw(",\"available\":[")
        for (i, group) in available.enumerated() {
            if i > 0 { json.raw(",") }
            json.string(group.0)
        }
        json.raw("],\"chosen\":[")
        for (i, group) in chosen.enumerated() {
            if i > 0 { json.raw(",") }
            json.string(group)
        }
        json.raw("],\"panels\":[")
        for (i, signal) in signals.enumerated() {
            if i > 0 { json.raw(",") }
            let panel = DashboardPanel(id: "cmp-\(signal.0)", title: signal.1, unit: signal.2,
                                       lines: [DashboardLine(signal: signal.0, by: by, name: "")],
                                       yMax: signal.2 == .ratio ? nil : nil,
                                       empty: "None of the chosen groups has data for this in the range.")
            writePanel(panel, results: results[i...i], view: view, json: &json, only: chosenSet)
        }
        json.raw("],\"summary\":{\"columns\":[")
        for (i, column) in summary.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"title\":"); json.string(column.1)
            json.raw(",\"unit\":"); json.string(column.2.rawValue); json.raw("}")
        }
        json.raw("],\"rows\":[")
        for (r, group) in chosen.enumerated() {
            if r > 0 { json.raw(",") }
            json.raw("{\"name\":"); json.string(group)
            json.raw(",\"cells\":[")
            for (c, _) in summary.enumerated() {
                if c > 0 { json.raw(",") }
                let series = results[signals.count + c]?.series.first { candidate in
                    Self.groupName(by, candidate.labels) == group
                }
                json.number(series?.points.first?.value ?? nil)
            }
            json.raw("]}")
        }
        json.raw("]}}\n")
        return json.bytes
    }
}
