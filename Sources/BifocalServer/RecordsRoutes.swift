import BifocalCore
import BifocalIngest
import BifocalStore
import Foundation
import Hummingbird

/// `GET /api/v1/records` (a filtered, paginated listing, newest first) and
/// `GET /api/v1/records/{id}` (one record with its texts).
struct RecordsRoutes {
    let store: any Store
    let settings: DashboardSettings
    let clock: @Sendable () -> Int64

    static let known: Set<String> = ["from", "to", "since", "endpoint", "model", "component", "variant", "tenant", "status",
                                     "slow", "min_e2e", "min_ttft", "q", "limit", "cursor"]

    /// Reads the listing's parameters; throws `QueryError` naming a bad one.
    static func parse(_ parameters: [(String, String)], now: Int64, settings: DashboardSettings) throws -> (RecordFilter, Int, RecordCursor?) {
        var single: [String: String] = [:]
        for (key, value) in parameters {
            guard known.contains(key) else {
                throw QueryError(parameter: key, message: "unknown parameter; known are \(known.sorted().joined(separator: ", "))")
            }
            guard single[key] == nil else { throw QueryError(parameter: key, message: "given twice; give it once") }
            single[key] = value
        }
        func time(_ name: String) throws -> Int64? {
            guard let text = single[name] else { return nil }
            guard let t = Timestamp.parse(text) else { throw QueryError(parameter: name, message: "\"\(text)\" is not a time: use unix seconds or RFC 3339") }
            return t
        }
        func duration(_ name: String) throws -> Int64? {
            guard let text = single[name] else { return nil }
            guard let d = Timestamp.parseDuration(text) else { throw QueryError(parameter: name, message: "\"\(text)\" is not a duration: use 2s, 1m, 1h or plain seconds") }
            return d
        }
        var filter = RecordFilter()
        filter.to = try time("to")
        if let since = try duration("since") {
            guard single["from"] == nil else { throw QueryError(parameter: "since", message: "give either from or since, not both") }
            filter.from = (filter.to ?? now) - since
        } else {
            filter.from = try time("from")
        }
        filter.endpoint = single["endpoint"]
        filter.model = single["model"]
        filter.component = single["component"]
        filter.variant = single["variant"]
        filter.tenant = single["tenant"]
        filter.text = single["q"].flatMap { $0.isEmpty ? nil : $0 }
        if let status = single["status"] {
            for name in status.split(separator: ",").map(String.init) {
                if name == "errors" { filter.errorsOnly = true; continue }
                guard let s = RecordStatus(rawValue: name) else {
                    throw QueryError(parameter: "status", message: "\"\(name)\" is not errors or one of \(RecordStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.statuses.append(s)
            }
        }
        switch single["slow"] {
        case nil: break
        case "e2e": filter.minE2EMs = Double(settings.slowE2E) / 1000
        case "ttft": filter.minTTFTMs = Double(settings.slowTTFT) / 1000
        case "either", "true":
            filter.minE2EMs = Double(settings.slowE2E) / 1000
            filter.minTTFTMs = Double(settings.slowTTFT) / 1000
        case let other?: throw QueryError(parameter: "slow", message: "\"\(other)\" is not e2e, ttft or either")
        }
        if let v = try duration("min_e2e") { filter.minE2EMs = Double(v) / 1000 }
        if let v = try duration("min_ttft") { filter.minTTFTMs = Double(v) / 1000 }
        var limit = 50
        if let text = single["limit"] {
            guard let n = Int(text), (1...1000).contains(n) else { throw QueryError(parameter: "limit", message: "expected 1-1000, got \"\(text)\"") }
            limit = n
        }
        var cursor: RecordCursor?
        if let text = single["cursor"] {
            guard let c = RecordCursor(token: text) else { throw QueryError(parameter: "cursor", message: "not a cursor this API gave out") }
            cursor = c
        }
        return (filter, limit, cursor)
    }

    static func write(_ stored: StoredRecord, into out: inout [UInt8]) {
        var json = JSONWriter(capacity: 512)
        json.raw("{\"ref\":")
        json.string(stored.record.id ?? "seq:\(stored.sequence)")
        json.raw(",\"record\":")
        out += json.bytes
        RecordEncoder.append(stored.record, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        let store = store
        let settings = settings
        let clock = clock
        router.get("/api/v1/records") { request, _ in
            let parameters = request.formParameters
            let parsed: (RecordFilter, Int, RecordCursor?)
            do {
                parsed = try Self.parse(parameters, now: clock(), settings: settings)
            } catch let error as QueryError {
                throw APIError(.badRequest, code: "bad_query", message: error.description)
            }
            let page = try await store.records(matching: parsed.0, limit: parsed.1, before: parsed.2)
            var out: [UInt8] = Array("{\"records\":[".utf8)
            out.reserveCapacity(page.records.count * 600)
            for (i, stored) in page.records.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.write(stored, into: &out)
            }
            var json = JSONWriter()
            json.raw("],\"next\":")
            page.next.map { json.string($0.token) } ?? json.raw("null")
            json.raw(",\"scan_budget_reached\":")
            json.raw(page.scanBudgetReached ? "true" : "false")
            json.raw("}\n")
            out += json.bytes
            return Response.json(out)
        }
        router.get("/api/v1/records/{id}") { _, context in
            let raw = context.parameters.get("id") ?? ""
            let id = raw.removingPercentEncoding ?? raw
            guard let stored = try await store.record(id: id) else {
                throw APIError(.notFound, code: "not_found", message: "no stored record has the id \(id) (raw records are kept for storage.retention.raw)")
            }
            var out: [UInt8] = []
            Self.write(stored, into: &out)
            out.append(0x0A)
            return Response.json(out)
        }
    }
}
