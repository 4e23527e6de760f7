import ArgumentParser
import BifocalServer
import Foundation

/// `bifocal query SIGNAL`.
struct Query: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running server for a signal, per group, and print a table.",
        discussion: """
            Examples:
              bifocal query ttft.p95 --by model --since 1h --step 1m
              bifocal query errors.ratio --by model,variant --at now --window 5m
              bifocal query cost.hourly --by model --match endpoint=llm-prod --json
            `bifocal query --list` prints every signal with its unit.
            """
    )

    @Argument(help: "The signal (ttft.p95, requests.rate, cost.per_1m_tokens, ...).")
    var signal: String?

    @Option(name: .long, help: "Labels to group by, comma-separated (model, variant, endpoint, ...).")
    var by: String?

    @Option(name: .long, help: ArgumentHelp("A label filter name=value; repeat for more.", valueName: "name=value"))
    var match: [String] = []

    @Option(name: .long, help: "How far back from --to (e.g. 1h, 7d). Default 1h.")
    var since: String?

    @Option(name: .long, help: "Start (unix seconds or RFC 3339); instead of --since.")
    var from: String?

    @Option(name: .long, help: "End (unix seconds or RFC 3339). Default now.")
    var to: String?

    @Option(name: .long, help: "Step between points (e.g. 1m, 1h). Default 1m.")
    var step: String?

    @Option(name: .long, help: "An instant query at this time ('now', unix seconds or RFC 3339).")
    var at: String?

    @Option(name: .long, help: "The window of an instant query (default 5m).")
    var window: String?

    @Option(name: .long, help: "For series signals: combine a group's series with sum, mean, max or min (default: the signal's own).")
    var agg: String?

    @Flag(name: .long, help: "Print the server's JSON instead of a table.")
    var json = false

    @Flag(name: .long, help: "List the signals and exit.")
    var list = false

    @OptionGroup var server: ServerOptions

    func run() async throws {
        let client = server.client
        if list {
            let data = try await client.get(path: "/api/v1/signals", parameters: [])
            if json { print(String(decoding: data, as: UTF8.self), terminator: ""); return }
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let signals = object?["signals"] as? [[String: Any]] ?? []
            print(Table.render(header: ["SIGNAL", "UNIT", "SOURCE", "DESCRIPTION"], rows: signals.map {
                [$0["name"] as? String ?? "", $0["unit"] as? String ?? "", $0["source"] as? String ?? "", $0["description"] as? String ?? ""]
            }))
            let families = object?["families"] as? [[String: Any]] ?? []
            if !families.isEmpty {
                print("")
                print(Table.render(header: ["STORED FAMILY", "SERIES", "LAST SAMPLE"], rows: families.map {
                    [$0["name"] as? String ?? "", String($0["series"] as? Int ?? 0), $0["last"] as? String ?? "-"]
                }))
            }
            return
        }
        guard let signal else { throw ValidationError("name a signal, e.g. `bifocal query ttft.p95 --by model` (or --list)") }
        var parameters: [(String, String)] = [("signal", signal)]
        if let by { parameters.append(("by", by)) }
        parameters += match.map { ("match", $0) }
        if let agg { parameters.append(("agg", agg)) }
        let now = String(Int(Date().timeIntervalSince1970))
        if at != nil || window != nil {
            parameters.append(("at", at == nil || at == "now" ? now : at!))
            if let window { parameters.append(("window", window)) }
        } else {
            if let since { parameters.append(("since", since)) }
            if let from { parameters.append(("from", from)) }
            if let to { parameters.append(("to", to == "now" ? now : to)) }
            if let step { parameters.append(("step", step)) }
        }
        let data = try await client.get(path: "/api/v1/query", parameters: parameters)
        if json { print(String(decoding: data, as: UTF8.self), terminator: ""); return }
        print(try Table.fromQueryAnswer(data))
    }
}

/// Plain-text tables for the terminal.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// One row per time, one column per group; values in the signal's unit.
    static func fromQueryAnswer(_ data: Data) throws -> String {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let series = object["series"] as? [[String: Any]] else {
            throw ValidationError("the server's answer is not a query result")
        }
        let unit = object["unit"] as? String ?? ""
        if series.isEmpty { return "no data for \(object["signal"] as? String ?? "this signal") in this range" }
        let columns = series.map { s -> String in
            let labels = s["labels"] as? [String: String] ?? [:]
            return labels.isEmpty ? "value" : labels.keys.sorted().map { "\($0)=\(labels[$0]!.isEmpty ? "-" : labels[$0]!)" }.joined(separator: ",")
        }
        var times: [Double] = []
        var values: [[Double: String]] = []
        for s in series {
            var map: [Double: String] = [:]
            for point in s["points"] as? [[Any]] ?? [] {
                guard let t = (point.first as? NSNumber)?.doubleValue else { continue }
                if !times.contains(t) { times.append(t) }
                map[t] = (point.last as? NSNumber).map { format($0.doubleValue, unit: unit) } ?? "-"
            }
            values.append(map)
        }
        times.sort()
        let formatter = ISO8601DateFormatter()
        let rows = times.map { t in [formatter.string(from: Date(timeIntervalSince1970: t))] + values.map { $0[t] ?? "-" } }
        return "\(object["signal"] as? String ?? "") (\(unit))\n" + render(header: ["TIME"] + columns, rows: rows)
    }

    static func format(_ value: Double, unit: String) -> String {
        switch unit {
        case "seconds": return value < 1 ? String(format: "%.1fms", value * 1000) : String(format: "%.3fs", value)
        case "ratio": return String(format: "%.2f%%", value * 100)
        case "usd", "usd_per_hour": return String(format: "$%.4f", value)
        default: return value == value.rounded() && abs(value) < 1e12 ? String(Int64(value)) : String(format: "%.3f", value)
        }
    }
}
