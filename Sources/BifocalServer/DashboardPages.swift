import BifocalCore
import BifocalStore
import Foundation

/// The dashboard's HTML: one layout (navigation, view controls) around each page. Overview and
/// Compare draw their charts in the browser from `/ui/data/...`; Requests, the request page,
/// Quality and Alerts are rendered here and work without the script.
enum DashboardPages {
    /// The pages, in navigation order: (path, title, page key).
    static let navigation: [(String, String, String)] = [
        ("/", "Overview", "overview"), ("/ui/compare", "Compare", "compare"), ("/ui/requests", "Requests", "requests"),
        ("/ui/quality", "Quality", "quality"), ("/ui/alerts", "Alerts", "alerts"),
    ]

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func urlEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func query(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\(urlEncode($0.0))=\(urlEncode($0.1))" }.joined(separator: "&")
    }

    /// `2026-11-29 10:00:05` (UTC).
    static func time(_ micros: Int64) -> String {
        let text = Timestamp.formatRFC3339(micros)
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    static func select(_ name: String, label: String, options: [(String, String)], selected: String) -> String {
        var html = "<label>\(escape(label))<select name=\"\(name)\">"
        for (value, text) in options {
            html += "<option value=\"\(escape(value))\"\(value == selected ? " selected" : "")>\(escape(text))</option>"
        }
        return html + "</select></label>"
    }

    /// The time range picker (named ranges and custom from/to, read as UTC) and auto-refresh.
    static func rangeControls(_ view: DashboardView) -> String {
        let names = ["15m": "Last 15 minutes", "1h": "Last hour", "6h": "Last 6 hours", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"]
        var html = select("range", label: "Time range", options: DashboardView.ranges.map { ($0.name, names[$0.name] ?? $0.name) } + [("custom", "Custom…")], selected: view.range)
        let local: (Int64) -> String = { String(Timestamp.formatRFC3339($0).prefix(16)) }
        html += "<label class=\"custom\"\(view.range == "custom" ? "" : " hidden")>From (UTC)<input type=\"datetime-local\" name=\"from\" value=\"\(local(view.from))\"></label>"
        html += "<label class=\"custom\"\(view.range == "custom" ? "" : " hidden")>To (UTC)<input type=\"datetime-local\" name=\"to\" value=\"\(local(view.to))\"></label>"
        html += select("refresh", label: "Auto-refresh", options: [("0", "Off"), ("5", "Every 5 s"), ("60", "Every 60 s")], selected: String(view.refresh))
        return html
    }

    /// A whole page: head, skip link, navigation carrying the view, controls, content, script.
    static func layout(page: String, title: String, view: DashboardView, controls: String, content: String) -> String {
        var nav = ""
        let carried = query(view.queryItems)
        for (path, name, key) in navigation {
            nav += "<a href=\"\(path)\(escape(carried))\"\(key == page ? " aria-current=\"page\"" : "")>\(name)</a>"
        }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · Bifocal</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/ui/assets/bifocal.css">
            </head>
            <body data-page="\(page)" data-refresh="\(view.refresh)">
            <a class="skip" href="#main">Skip to content</a>
            <header class="top"><a class="brand" href="/">◐ Bifocal</a><nav aria-label="Pages">\(nav)</nav><span class="updated" id="updated" aria-live="polite"></span></header>
            <form class="controls" method="get" aria-label="View">\(controls)<button type="submit">Apply</button></form>
            <main id="main">
            <div class="banner bad" id="script-error" role="alert" hidden></div>
            \(content)
            </main>
            <script src="/ui/assets/bifocal.js" defer></script>
            </body>
            </html>

            """
    }

    static func groupControl(_ view: DashboardView) -> String {
        select("by", label: "Group by", options: DashboardView.groupings.map { ($0, $0 == "none" ? "nothing (whole endpoint)" : $0) },
               selected: view.by.isEmpty ? "none" : view.by)
    }

    static func overview(_ view: DashboardView) -> String {
        layout(page: "overview", title: "Overview", view: view, controls: rangeControls(view) + groupControl(view), content: """
            <h1>Overview</h1>
            <div id="content" aria-busy="true"><p class="muted">Loading…</p><noscript><p>The charts need JavaScript; the Requests page works without it.</p></noscript></div>
            """)
    }

    static func compare(_ view: DashboardView, dimension: String) -> String {
        let dims = DashboardData.compareDimensions.map { ($0, $0.replacingOccurrences(of: ",", with: " and ")) }
        return layout(page: "compare", title: "Compare", view: view,
                      controls: rangeControls(view) + select("dimension", label: "Compare by", options: dims, selected: dimension)
                        + "<fieldset id=\"choices\"><legend>Compare</legend></fieldset>", content: """
            <h1>Compare</h1>
            <p class="muted">Two or more models or variants over the same window, on the same axes. Tick the groups to compare and Apply.</p>
            <div id="content" aria-busy="true"><p class="muted">Loading…</p></div>
            """)
    }

    static func placeholder(page: String, title: String, view: DashboardView, body: String) -> String {
        layout(page: page, title: title, view: view, controls: rangeControls(view), content: "<h1>\(title)</h1><section class=\"placeholder\">\(body)</section>")
    }

    static func quality(_ view: DashboardView) -> String {
        placeholder(page: "quality", title: "Quality", view: view, body: """
            <p><strong>Not yet available.</strong> This page will show what the models actually answer, per model and variant:</p>
            <ul>
            <li>quality signals from sampled real traffic: LLM-as-judge rubric scores (with a pinned judge), deterministic checks (JSON validity, refusals, length), reference metrics, user feedback;</li>
            <li>canary prompts with known answers, run on a schedule against each model;</li>
            <li>drift of inputs, outputs and scores against a baseline window;</li>
            <li>each request's scores on its request page.</li>
            </ul>
            <p>Until then, captured prompts and responses are searchable under <a href="/ui/requests">Requests</a>.</p>
            """)
    }

    static func alerts(_ view: DashboardView) -> String {
        placeholder(page: "alerts", title: "Alerts", view: view, body: """
            <p><strong>Not yet available.</strong> This page will list alert rules over any signal, quantity or quality or both
            (with <code>for</code> durations, severities, no-data handling and SLO burn rates), the alerts pending and firing now,
            and their history and notifications.</p>
            <p>Until then, scrape <a href="/metrics">/metrics</a> with Prometheus and alert there, or import the Grafana dashboard
            that <code>bifocal grafana-dashboard</code> writes.</p>
            """)
    }

    // MARK: Requests

    /// The request list's filters, read from the URL.
    struct RequestFilters {
        var model = ""
        var status = ""
        var slow = ""
        var tenant = ""
        var text = ""
        var cursor: RecordCursor?

        init(_ parameters: [String: String]) {
            model = parameters["model"] ?? ""
            status = parameters["status"] ?? ""
            slow = parameters["slow"] ?? ""
            tenant = parameters["tenant"] ?? ""
            text = parameters["q"] ?? ""
            cursor = parameters["cursor"].flatMap(RecordCursor.init(token:))
        }

        func filter(_ view: DashboardView, settings: DashboardSettings) -> RecordFilter {
            var f = RecordFilter(from: view.from, to: view.to)
            if !model.isEmpty { f.model = model }
            if !tenant.isEmpty { f.tenant = tenant }
            if !text.isEmpty { f.text = text }
            if status == "errors" { f.errorsOnly = true } else if let s = RecordStatus(rawValue: status) { f.statuses = [s] }
            if slow == "e2e" || slow == "either" { f.minE2EMs = Double(settings.slowE2E) / 1000 }
            if slow == "ttft" || slow == "either" { f.minTTFTMs = Double(settings.slowTTFT) / 1000 }
            return f
        }

        var items: [(String, String)] {
            [("model", model), ("status", status), ("slow", slow), ("tenant", tenant), ("q", text)].filter { !$0.1.isEmpty }
        }
    }

    static func seconds(_ ms: Double?) -> String {
        guard let ms else { return "–" }
        return ms < 1000 ? "\(Int(ms.rounded())) ms" : String(format: "%.2f s", ms / 1000)
    }

    static func ref(_ stored: StoredRecord) -> String { stored.record.id ?? "seq:\(stored.sequence)" }

    static func requests(_ view: DashboardView, filters: RequestFilters, page: RecordPage, models: [String], tenants: [String],
                         settings: DashboardSettings, totalRecords: Int) -> String {
        let statusOptions = [("", "any"), ("errors", "errors only")] + RecordStatus.allCases.map { ($0.rawValue, $0.rawValue.replacingOccurrences(of: "_", with: " ")) }
        let slowOptions = [("", "any"), ("e2e", "end-to-end ≥ \(Timestamp.formatDuration(settings.slowE2E))"),
                           ("ttft", "TTFT ≥ \(Timestamp.formatDuration(settings.slowTTFT))"), ("either", "either")]
        var controls = rangeControls(view)
        controls += select("model", label: "Model", options: [("", "all")] + models.map { ($0, $0) }, selected: filters.model)
        controls += select("status", label: "Status", options: statusOptions, selected: filters.status)
        controls += select("slow", label: "Slow", options: slowOptions, selected: filters.slow)
        controls += select("tenant", label: "Tenant", options: [("", "all")] + tenants.map { ($0, $0) }, selected: filters.tenant)
        controls += "<label>Search prompts and responses<input type=\"search\" name=\"q\" value=\"\(escape(filters.text))\" placeholder=\"text\"></label>"
        let keep = view.queryItems + filters.items
        var body = "<h1>Requests</h1>"
        if totalRecords == 0 {
            body += "<div class=\"banner info\" role=\"note\">\(escape(DashboardData.recordHint))</div>"
        }
        if page.records.isEmpty {
            if page.scanBudgetReached, let next = page.next {
                // The script follows `data-next` by itself, page by page (each one answered within
                // the listing's time budget), until a page holds matches or the range ends.
                let older = "/ui/requests" + query(keep + [("cursor", next.token)])
                body += "<p class=\"banner info\" id=\"no-match\" role=\"status\" aria-live=\"polite\" data-next=\"\(escape(older))\">No request matches these filters among those searched so far (back to \(time(next.start)) UTC). “Older →” searches further back.</p>"
            } else {
                body += "<p class=\"banner info\" id=\"no-match\">No request in this range matches these filters. Widen the time range or clear a filter.</p>"
            }
        } else {
            body += """
                <div class="table-wrap"><table class="list" id="request-list"><caption class="muted" style="text-align:left;padding:6px 8px">Newest first; times in UTC. Select a request to see its timeline.</caption>
                <thead><tr><th class="l" scope="col">Time (UTC)</th><th class="l" scope="col">Model</th><th class="l" scope="col">Variant</th><th class="l" scope="col">Status</th>
                <th class="l" scope="col">Tenant</th><th scope="col">Input tok</th><th scope="col">Output tok</th><th scope="col">Queue</th><th scope="col">TTFT</th><th scope="col">E2E</th><th class="l" scope="col">Prompt</th></tr></thead><tbody>
                """
            for stored in page.records {
                let r = stored.record
                let link = "/ui/requests/\(urlEncode(ref(stored)))\(query(view.queryItems))"
                let status = r.status == .ok ? "<span class=\"badge ok\">ok</span>" : "<span class=\"badge err\">\(escape(r.status.rawValue))\(r.httpStatus.map { " \($0)" } ?? "")</span>"
                body += "<tr><td class=\"l\"><a href=\"\(escape(link))\">\(time(r.start))</a></td><td class=\"l\">\(escape(r.model ?? "–"))</td><td class=\"l\">\(escape(r.variant ?? "–"))</td>"
                body += "<td class=\"l\">\(status)</td><td class=\"l\">\(escape(r.tenant ?? "–"))</td><td>\(r.inputTokens.map(String.init) ?? "–")</td><td>\(r.outputTokens.map(String.init) ?? "–")</td>"
                body += "<td>\(seconds(r.queueMs))</td><td>\(seconds(r.ttftMs))</td><td>\(seconds(r.e2eMs))</td><td class=\"prompt\">\(escape(String((r.prompt ?? "").prefix(80))))</td></tr>"
            }
            body += "</tbody></table></div>"
        }
        body += "<nav class=\"pager\" aria-label=\"Pages of requests\">"
        if filters.cursor != nil {
            body += "<a href=\"/ui/requests\(escape(query(keep)))\">← Newest</a>"
        }
        if let next = page.next {
            body += "<a id=\"older\" href=\"/ui/requests\(escape(query(keep + [("cursor", next.token)])))\">Older →</a>"
            if page.scanBudgetReached { body += "<span class=\"muted\">(searched back to \(time(next.start)) UTC; older requests may match)</span>" }
        }
        body += "</nav>"
        return layout(page: "requests", title: "Requests", view: view, controls: controls, content: body)
    }

    /// The timeline strip: queue, then prefill to the first token, then one tick per token at
    /// its gap, to the end; below it each gap as a bar, stalls (over 3x the median gap) in red.
    static func timeline(_ r: InferenceRecord) -> String {
        guard let e2e = r.e2eMs, e2e > 0 else { return "<p class=\"muted\">No end-to-end latency recorded: no timeline.</p>" }
        let W = 1000.0, L = 90.0, R = 10.0
        func x(_ ms: Double) -> Double { L + min(ms, e2e) / e2e * (W - L - R) }
        var svg = "<svg viewBox=\"0 0 \(Int(W)) 150\" role=\"img\" id=\"timeline\" aria-label=\"Timeline: queue \(seconds(r.queueMs)), first token at \(seconds(r.ttftMs)), end at \(seconds(e2e))\">"
        svg += "<text x=\"0\" y=\"30\">request</text>"
        let queue = min(r.queueMs ?? 0, r.ttftMs ?? e2e)
        if queue > 0 { svg += "<rect class=\"seg-queue\" x=\"\(x(0))\" y=\"18\" width=\"\(max(1, x(queue) - x(0)))\" height=\"18\"><title>queued \(seconds(queue))</title></rect>" }
        if let ttft = r.ttftMs {
            svg += "<rect class=\"seg-prefill\" x=\"\(x(queue))\" y=\"18\" width=\"\(max(1, x(ttft) - x(queue)))\" height=\"18\"><title>prefill to first token \(seconds(ttft - queue))</title></rect>"
            svg += "<rect class=\"seg-decode\" x=\"\(x(ttft))\" y=\"18\" width=\"\(max(0, x(e2e) - x(ttft)))\" height=\"18\"><title>decode \(seconds(e2e - ttft))</title></rect>"
            if let gaps = r.itlMs, !gaps.isEmpty {
                var t = ttft
                svg += "<path class=\"tick\" d=\""
                svg += "M\(String(format: "%.1f", x(t))) 18v18"
                for g in gaps { t += g; svg += "M\(String(format: "%.1f", x(t))) 18v18" }
                svg += "\"/>"
                let sorted = gaps.sorted()
                let median = sorted[sorted.count / 2]
                let top = max(sorted.last ?? 1, 1e-9)
                svg += "<text x=\"0\" y=\"100\">token gaps</text>"
                t = ttft
                for g in gaps {
                    let h = max(1, g / top * 60)
                    let stall = g > 3 * median
                    svg += "<rect class=\"gap\(stall ? " stall" : "")\" x=\"\(String(format: "%.1f", x(t)))\" y=\"\(String(format: "%.1f", 120 - h))\" width=\"\(String(format: "%.2f", max(0.6, x(t + g) - x(t) - 0.3)))\" height=\"\(String(format: "%.1f", h))\"><title>\(seconds(g))\(stall ? " (stall)" : "")</title></rect>"
                    t += g
                }
                svg += "<text x=\"\(L)\" y=\"56\">max gap \(seconds(sorted.last)), median \(seconds(median))</text>"
            }
        }
        for k in 0...4 {
            let ms = e2e * Double(k) / 4
            svg += "<text x=\"\(x(ms))\" y=\"145\" text-anchor=\"\(k == 0 ? "start" : k == 4 ? "end" : "middle")\">\(seconds(ms))</text>"
        }
        svg += "</svg>"
        let legend = "<p class=\"muted\" style=\"margin:4px 0 0\"><span style=\"color:#8a4b00\">■</span> queue · <span style=\"color:#5137b0\">■</span> prefill to first token · <span style=\"color:#1f4fb8\">|</span> each token · bars: gap before each token, <span style=\"color:#b0201a\">red</span>: stall (over 3× the median). Time axis: milliseconds/seconds since the request arrived.</p>"
        return "<div class=\"strip\">\(svg)\(legend)</div>"
    }

    static func request(_ view: DashboardView, stored: StoredRecord, costPerMillion: Double?) -> String {
        let r = stored.record
        var facts: [(String, String)] = [
            ("Started (UTC)", Timestamp.formatRFC3339(r.start)), ("Status", r.status.rawValue + (r.httpStatus.map { " (HTTP \($0))" } ?? "")),
            ("Model", r.model ?? "–"), ("Endpoint", r.endpoint ?? "–"), ("Variant", r.variant ?? "–"), ("Component", r.component ?? "–"),
            ("Instance", r.instance ?? "–"), ("Tenant", r.tenant ?? "–"), ("Queue", seconds(r.queueMs)), ("Time to first token", seconds(r.ttftMs)),
            ("End to end", seconds(r.e2eMs)), ("Time per output token", seconds(r.tpotMs)),
            ("Input tokens", r.inputTokens.map(String.init) ?? "–"), ("Output tokens", (r.outputTokens.map(String.init) ?? "–") + (r.tokensEstimated ? " (estimated)" : "")),
        ]
        if let out = r.outputTokens, let e2e = r.e2eMs, let ttft = r.ttftMs, e2e > ttft, out > 1 {
            facts.append(("Decode speed", String(format: "%.1f tokens/s", Double(out - 1) / ((e2e - ttft) / 1000))))
        }
        let tokens = Double((r.inputTokens ?? 0) + (r.outputTokens ?? 0))
        if let costPerMillion, tokens > 0 {
            facts.append(("Cost (estimated)", String(format: "$%.6f", costPerMillion * tokens / 1e6) + String(format: " at $%.2f per 1M tokens, the model's rate over that hour", costPerMillion)))
        } else {
            facts.append(("Cost (estimated)", "– (no price for this endpoint, or no tokens)"))
        }
        facts += [("Finish reason", r.finishReason ?? "–"), ("Streaming", r.streaming.map { $0 ? "yes" : "no" } ?? "–"),
                  ("Source", r.source.rawValue), ("Provider", r.provider ?? "–")]
        if let m = r.requestModel { facts.append(("Model asked for", m)) }
        if let e = r.error { facts.append(("Error", e)) }
        if let t = r.traceId { facts.append(("Trace id", t + (r.spanId.map { " / span \($0)" } ?? ""))) }
        facts.append(("Record id", r.id ?? "seq:\(stored.sequence)"))
        var body = "<p><a href=\"/ui/requests\(escape(query(view.queryItems)))\">← Requests</a></p><h1>Request \(escape(r.id ?? "seq:\(stored.sequence)"))</h1>"
        body += "<h2>Timeline</h2>" + timeline(r)
        body += "<h2>Details</h2><dl class=\"facts\" id=\"facts\">"
        for (k, v) in facts { body += "<div><dt>\(escape(k))</dt><dd>\(escape(v))</dd></div>" }
        body += "</dl><h2>Labels</h2>"
        if r.labels.isEmpty {
            body += "<p class=\"muted\">No free labels.</p>"
        } else {
            body += "<dl class=\"facts\">" + r.labels.keys.sorted().map { "<div><dt>\(escape($0))</dt><dd>\(escape(r.labels[$0]!))</dd></div>" }.joined() + "</dl>"
        }
        for (title, text) in [("Prompt", r.prompt), ("Response", r.response), ("Context", r.context), ("Reference", r.reference)] {
            guard let text else { continue }
            body += "<h2>\(title)</h2><pre class=\"text\">\(escape(text))</pre>"
        }
        if r.prompt == nil && r.response == nil {
            body += "<h2>Prompt and response</h2><p class=\"muted\">Not captured (texts are kept only when the source sends them, and for storage.retention.texts).</p>"
        }
        body += "<h2>Quality scores</h2><p class=\"muted\">Scores appear here once evaluators run on sampled traffic (see Quality).</p>"
        return layout(page: "requests", title: "Request", view: view, controls: rangeControls(view), content: body)
    }

    static func notFound(_ view: DashboardView, ref: String) -> String {
        layout(page: "requests", title: "Request not found", view: view, controls: rangeControls(view), content: """
            <h1>Request not found</h1><p class="banner info">No stored request has the id \(escape(ref)). Raw records are kept for storage.retention.raw (default 7 days).
            <a href="/ui/requests">Back to requests</a>.</p>
            """)
    }
}
