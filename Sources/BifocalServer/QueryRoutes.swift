import BifocalCore
import BifocalStore
import Foundation
import Hummingbird

/// `GET /api/v1/query` and `GET /api/v1/signals`.
struct QueryRoutes {
    let store: any Store
    let clock: @Sendable () -> Int64

    /// Reads a query's parameters (see the API reference); throws `QueryError` naming the bad one.
    static func parse(_ parameters: [(String, String)], now: Int64) throws -> SignalQuery {
        func values(_ name: String) -> [String] { parameters.filter { $0.0 == name }.map(\.1) }
        func single(_ name: String) throws -> String? {
            let all = values(name)
            guard all.count <= 1 else { throw QueryError(parameter: name, message: "given \(all.count) times; give it once") }
            return all.first
        }
        func time(_ name: String) throws -> Int64? {
            guard let text = try single(name) else { return nil }
            guard let value = Timestamp.parse(text) else {
                throw QueryError(parameter: name, message: "\"\(text)\" is not a time: use unix seconds (1764399600) or RFC 3339 (2026-11-29T06:00:00Z)")
            }
            return value
        }
        func duration(_ name: String) throws -> Int64? {
            guard let text = try single(name) else { return nil }
            guard let value = Timestamp.parseDuration(text) else {
                throw QueryError(parameter: name, message: "\"\(text)\" is not a duration: use 30s, 5m, 1h, 7d or plain seconds")
            }
            return value
        }
        let known: Set<String> = ["signal", "by", "match", "from", "to", "step", "at", "window", "since", "agg"]
        if let unknown = parameters.first(where: { !known.contains($0.0) }) {
            throw QueryError(parameter: unknown.0, message: "unknown parameter; known are \(known.sorted().joined(separator: ", "))")
        }
        guard let signal = try single("signal"), !signal.isEmpty else {
            throw QueryError(parameter: "signal", message: "missing: name a signal (GET /api/v1/signals lists them)")
        }
        let by = values("by").flatMap { $0.split(separator: ",") }.map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let matchers = try values("match").map { text -> LabelMatcher in
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw QueryError(parameter: "match", message: "\"\(text)\" is not name=value")
            }
            return LabelMatcher(name: String(text[..<eq]), value: String(text[text.index(after: eq)...]))
        }
        var aggregation: SeriesAggregation?
        if let agg = try single("agg") {
            guard let value = SeriesAggregation(rawValue: agg) else {
                throw QueryError(parameter: "agg", message: "\"\(agg)\" is not one of \(SeriesAggregation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            aggregation = value
        }
        let isInstant = !values("at").isEmpty || !values("window").isEmpty
        if isInstant {
            for name in ["from", "to", "step", "since"] where !values(name).isEmpty {
                throw QueryError(parameter: name, message: "cannot be combined with at/window (an instant query)")
            }
            let at = try time("at") ?? now
            let window = try duration("window") ?? 5 * Timestamp.microsPerMinute
            return SignalQuery(signal: signal, by: by, matchers: matchers, shape: .instant(at: at, window: window), aggregation: aggregation)
        }
        let to = try time("to") ?? now
        let from: Int64
        if let since = try duration("since") {
            guard values("from").isEmpty else { throw QueryError(parameter: "since", message: "give either from or since, not both") }
            from = to - since
        } else {
            from = try time("from") ?? (to - Timestamp.microsPerHour)
        }
        let step = try duration("step") ?? Timestamp.microsPerMinute
        guard from < to else {
            throw QueryError(parameter: "from", message: "must be before to (\(Timestamp.formatRFC3339(from)) is not before \(Timestamp.formatRFC3339(to)))")
        }
        return SignalQuery(signal: signal, by: by, matchers: matchers, shape: .range(from: from, to: to, step: step), aggregation: aggregation)
    }

    /// The answer as the API's JSON.
    static func render(_ result: SignalResult) -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.raw("{\"signal\":")
        json.string(result.signal)
        json.raw(",\"unit\":")
        json.string(result.unit.rawValue)
        json.raw(",\"scanned_raw_records\":")
        json.raw(result.scannedRawRecords ? "true" : "false")
        json.raw(",\"series\":[")
        for (i, series) in result.series.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"labels\":")
            json.stringMap(series.labels)
            json.raw(",\"points\":[")
            for (k, point) in series.points.enumerated() {
                if k > 0 { json.raw(",") }
                json.raw("[")
                json.number(Timestamp.unixSeconds(point.time))
                json.raw(",")
                json.number(point.value)
                json.raw("]")
            }
            json.raw("]}")
        }
        json.raw("]}\n")
        return json.bytes
    }

    /// Every signal with its unit and description, then the series families the store holds.
    static func renderCatalog(families: [SeriesFamilyInfo]) -> [UInt8] {
        var json = JSONWriter(capacity: 16384)
        json.raw("{\"signals\":[")
        func entry(_ definition: SignalDefinition, source: String, aggregation: SeriesAggregation?, first: Bool) {
            if !first { json.raw(",") }
            json.raw("{\"name\":")
            json.string(definition.name)
            json.raw(",\"unit\":")
            json.string(definition.unit.rawValue)
            json.raw(",\"source\":")
            json.string(source)
            if let aggregation {
                json.raw(",\"aggregation\":")
                json.string(aggregation.rawValue)
            }
            json.raw(",\"description\":")
            json.string(definition.description)
            json.raw("}")
        }
        for (i, signal) in SignalCatalog.recordSignals.enumerated() {
            entry(signal.0, source: "records", aggregation: nil, first: i == 0)
        }
        for signal in SeriesSignalCatalog.signals {
            entry(signal.definition, source: "series", aggregation: signal.aggregation, first: false)
        }
        json.raw("],\"families\":[")
        for (i, family) in families.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"name\":")
            json.string(family.name)
            json.raw(",\"series\":")
            json.number(family.series)
            json.raw(",\"last\":")
            family.lastSample.map { json.string(Timestamp.formatRFC3339($0)) } ?? json.raw("null")
            json.raw("}")
        }
        json.raw("],\"labels\":{\"rollup\":[")
        json.raw(RecordLabels.rollup.map { "\"\($0)\"" }.joined(separator: ","))
        json.raw("],\"raw\":[")
        json.raw((RecordLabels.raw + ["labels.NAME"]).map { "\"\($0)\"" }.joined(separator: ","))
        json.raw("]}}\n")
        return json.bytes
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        let store = store
        let clock = clock
        router.get("/api/v1/signals") { _, _ in
            let families = try await store.seriesFamilies()
            return Response.json(Self.renderCatalog(families: families))
        }
        router.get("/api/v1/query") { request, _ in
            let parameters = request.formParameters
            do {
                let query = try Self.parse(parameters, now: clock())
                let result = try await store.query(query)
                return Response.json(Self.render(result))
            } catch let error as QueryError {
                throw APIError(.badRequest, code: "bad_query", message: error.description)
            }
        }
    }
}
