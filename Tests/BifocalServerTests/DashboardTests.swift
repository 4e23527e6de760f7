import BifocalCore
@testable import BifocalServer
import BifocalStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Dashboard")
struct DashboardTests {
    /// Records for two models over the last hour, some failed, some slow, one with texts and gaps.
    static func traffic() -> String {
        var lines: [String] = []
        for i in 0..<40 {
            let model = i % 4 == 0 ? "mistral" : "llama"
            let status = i % 10 == 3 ? "server_error" : "ok"
            let slow = i % 8 == 1 ? 15_000.0 : 2000.0
            var extra = ",\"tenant\":\"team-\(i % 2)\""
            if i == 7 { extra += ",\"prompt\":\"What is the refund policy?\",\"response\":\"Thirty days.\",\"itl_ms\":[10,12,11,90,10],\"queue_ms\":40,\"labels\":{\"app\":\"chat\"}" }
            lines.append(recordJSON(id: "r\(i)", model: model, minutesAgo: Double(i) + 1.5, e2eMs: slow, status: status, extra: extra))
        }
        return lines.joined(separator: "\n")
    }

    @Test("every page is served as HTML with the navigation, and the script and style sheet come from the binary")
    func pagesServe() async throws {
        try await withServer { client in
            for path in ["/", "/ui/compare", "/ui/requests", "/ui/quality", "/ui/alerts", "/?range=7d&by=variant&refresh=5"] {
                let response = try await client.get(path)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let text = response.text
                #expect(text.contains("<nav aria-label=\"Pages\">"), "\(path)")
                #expect(text.contains("/ui/assets/bifocal.js"))
                #expect(!text.contains("src=\"http") && !text.contains("href=\"http"), "no external resource in \(path)")
            }
            let js = try await client.get("/ui/assets/bifocal.js")
            #expect(js.status == .ok && js.text.contains("data-points"))
            let css = try await client.get("/ui/assets/bifocal.css")
            #expect(css.status == .ok && css.headers[.contentType]?.hasPrefix("text/css") == true)
            let shared = try await client.get("/?range=7d&by=variant&refresh=5")
            #expect(shared.text.contains("<option value=\"7d\" selected>"))
            #expect(shared.text.contains("<option value=\"variant\" selected>"))
            #expect(shared.text.contains("data-refresh=\"5\""))
            #expect(shared.text.contains("href=\"/ui/requests?range=7d&amp;by=variant&amp;refresh=5\""), "links carry the view")
        }
    }

    @Test("an empty store's Overview says what to do instead of drawing empty charts")
    func emptyOverview() async throws {
        try await withServer { client in
            let response = try await client.get("/ui/data/overview")
            #expect(response.status == .ok)
            let hints = response.json["hints"] as? [String: Any]
            #expect((hints?["records"] as? String)?.contains("/api/v1/records") == true)
            #expect((hints?["series"] as? String)?.contains("scrape.targets") == true)
            let page = try await client.get("/ui/requests")
            #expect(page.text.contains("No inference records in the store yet"))
        }
    }

    @Test("the Overview's data holds per-model and whole-endpoint charts and a status table with thresholds")
    func overviewData() async throws {
        try await withServer { client in
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: Self.traffic())
            let response = try await client.get("/ui/data/overview?range=1h&by=model")
            #expect(response.status == .ok)
            let json = response.json
            #expect(json["step"] as? Int == 60)
            let sections = json["sections"] as? [[String: Any]] ?? []
            #expect(sections.count == 2)
            let panels = sections.flatMap { $0["panels"] as? [[String: Any]] ?? [] }
            let requests = panels.first { $0["id"] as? String == "requests" }
            let names = (requests?["series"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["llama", "mistral", "all"])
            let compute = panels.first { $0["id"] as? String == "gpu-compute" }
            let bands = compute?["bands"] as? [[String: Any]] ?? []
            #expect(bands.map { $0["kind"] as? String } == ["low", "warn"])
            #expect(bands.first?["to"] as? Double == 0.3)
            let status = json["status"] as? [String: Any]
            let rows = status?["rows"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["name"] as? String } == ["llama", "mistral", "all"])
            // Every chart's points are unix seconds inside the range.
            let from = json["from"] as? Int ?? 0
            let to = json["to"] as? Int ?? 0
            for panel in panels {
                for series in panel["series"] as? [[String: Any]] ?? [] {
                    for point in series["points"] as? [[Any]] ?? [] {
                        let t = point[0] as? Int ?? -1
                        #expect(t >= from - 60 && t < to)
                    }
                }
            }
        }
    }

    @Test("thresholds come from the dashboard: section and reach the bands")
    func thresholds() async throws {
        let configuration = try BifocalConfiguration.parse(yaml: "dashboard:\n  compute_low: 0.2\n  memory_high: 0.9\n  slow_e2e: 5s\n")
        #expect(configuration.dashboard.computeLow == 0.2)
        #expect(configuration.dashboard.memoryHigh == 0.9)
        #expect(configuration.dashboard.slowE2E == 5 * Timestamp.microsPerSecond)
        #expect(configuration.dashboard.prewarm)
        #expect(try !BifocalConfiguration.parse(yaml: "dashboard:\n  prewarm: false\n").dashboard.prewarm)
        #expect(throws: ConfigurationError.self) { try BifocalConfiguration.parse(yaml: "dashboard:\n  memory_high: 85\n") }
        #expect(throws: ConfigurationError.self) { try BifocalConfiguration.parse(yaml: "dashboard:\n  colour: red\n") }
        var bad = BifocalConfiguration()
        bad.dashboard.computeLow = 0.9
        #expect(!bad.validate().isEmpty)
        try await withServer(configure: { $0.dashboard.memoryHigh = 0.9 }) { client in
            let json = try await client.get("/ui/data/overview").json
            let panels = (json["sections"] as? [[String: Any]] ?? []).flatMap { $0["panels"] as? [[String: Any]] ?? [] }
            let memory = panels.first { $0["id"] as? String == "gpu-memory" }
            #expect((memory?["bands"] as? [[String: Any]])?.first?["from"] as? Double == 0.9)
        }
    }

    @Test("the records listing filters by model, status, slowness, tenant and text, and pages with a cursor")
    func recordsListing() async throws {
        try await withServer { client in
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: Self.traffic())
            func refs(_ query: String) async throws -> ([String], String?) {
                let response = try await client.get("/api/v1/records?\(query)")
                #expect(response.status == .ok, "\(query): \(response.text)")
                let json = response.json
                let refs = (json["records"] as? [[String: Any]] ?? []).compactMap { $0["ref"] as? String }
                return (refs, json["next"] as? String)
            }
            let all = try await refs("limit=1000")
            #expect(all.0.count == 40)
            #expect(all.0.first == "r0", "newest first")
            #expect(all.1 == nil)
            #expect(try await refs("model=mistral").0.count == 10)
            #expect(try await refs("status=errors").0 == ["r3", "r13", "r23", "r33"])
            #expect(try await refs("status=server_error&model=mistral").0.isEmpty)
            #expect(try await refs("status=ok,server_error&model=llama&since=5m").0 == ["r1", "r2", "r3"])
            #expect(try await refs("slow=e2e").0 == ["r1", "r9", "r17", "r25", "r33"])
            #expect(try await refs("min_e2e=10s&tenant=team-1").0 == ["r1", "r9", "r17", "r25", "r33"])
            #expect(try await refs("q=REFUND").0 == ["r7"])
            #expect(try await refs("q=refund+policy").0 == ["r7"], "a + is a space, as browsers send a form's spaces")
            #expect(try await refs("q=refund%20policy").0 == ["r7"])
            #expect(try await refs("q=refund%2Bpolicy").0.isEmpty, "%2B is a plus sign")
            #expect(try await refs("q=%25").0.isEmpty, "% is plain text, not a wildcard")
            #expect(try await refs("since=10m").0.count == 9)
            // Pages of 7 cover everything once, in order.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await refs("limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += page.0
                cursor = page.1
            } while cursor != nil
            #expect(seen == all.0)
            for bad in ["limit=0", "status=fine", "slow=very", "cursor=abc", "colour=red", "from=yesterday"] {
                let response = try await client.get("/api/v1/records?\(bad)")
                #expect(response.status == .badRequest, "\(bad)")
            }
        }
    }

    @Test("a search page that ran out of time before finding anything tells the script where to go on")
    func searchGoesOn() throws {
        let now: Int64 = 1_796_000_000_000_000
        let view = DashboardView(parameters: ["range": "30d"], now: now)
        let filters = DashboardPages.RequestFilters(["q": "refund"])
        let stopped = RecordPage(records: [], next: RecordCursor(start: now - 3_600_000_000, sequence: 42), scanBudgetReached: true)
        let html = DashboardPages.requests(view, filters: filters, page: stopped, models: [], tenants: [], settings: DashboardSettings(), totalRecords: 10)
        #expect(html.contains("data-next=\"/ui/requests?"), "\(html)")
        #expect(html.contains("cursor=\(now - 3_600_000_000).42"))
        #expect(html.contains("q=refund"))
        #expect(html.contains("back to \(DashboardPages.time(now - 3_600_000_000)) UTC"))
        #expect(DashboardScript.js.contains("keepSearching(noMatch"))
    }

    @Test("one record comes back with its texts and gaps; an unknown id is a 404")
    func recordByID() async throws {
        try await withServer { client in
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: Self.traffic())
            let response = try await client.get("/api/v1/records/r7")
            #expect(response.status == .ok)
            let record = response.json["record"] as? [String: Any]
            #expect(record?["prompt"] as? String == "What is the refund policy?")
            #expect((record?["itl_ms"] as? [Double])?.count == 5)
            #expect((record?["labels"] as? [String: String])?["app"] == "chat")
            #expect(try await client.get("/api/v1/records/nope").status == .notFound)
            _ = try await client.post("/api/v1/records", contentType: "application/json", body: "[{\"start\":\(testNow / 1_000_000 - 30),\"model\":\"anon\"}]")
            let listed = try await client.get("/api/v1/records?model=anon").json
            let ref = ((listed["records"] as? [[String: Any]])?.first?["ref"] as? String) ?? ""
            #expect(ref.hasPrefix("seq:"))
            #expect(try await client.get("/api/v1/records/\(ref)").status == .ok)
        }
    }

    @Test("the request pages list, filter and show a timeline with token gaps and the captured texts")
    func requestPages() async throws {
        try await withServer { client in
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: Self.traffic())
            let list = try await client.get("/ui/requests?range=1h&model=mistral")
            #expect(list.status == .ok)
            #expect(list.text.components(separatedBy: "<tr><td class=\"l\">").count - 1 == 10)
            #expect(list.text.contains("<option value=\"mistral\" selected>"))
            let paged = try await client.get("/ui/requests?range=1h")
            #expect(!paged.text.contains("id=\"older\""), "40 records fit on one page of 50")
            let none = try await client.get("/ui/requests?range=1h&q=nothing-like-this")
            #expect(none.text.contains("id=\"no-match\""))
            #expect(!none.text.contains("data-next"), "the whole range was searched: nothing to go on with")
            let page = try await client.get("/ui/requests/r7")
            #expect(page.status == .ok)
            #expect(page.text.contains("id=\"timeline\""))
            #expect(page.text.contains("class=\"gap stall\""), "the 90 ms gap is a stall next to 10-12 ms ones")
            #expect(page.text.contains("What is the refund policy?"))
            #expect(try await client.get("/ui/requests/missing").status == .notFound)
        }
    }

    @Test("Compare puts the busiest groups on the same charts and summarises the range")
    func compareData() async throws {
        try await withServer { client in
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: Self.traffic())
            let json = try await client.get("/ui/data/compare?range=1h&dimension=model").json
            #expect(json["available"] as? [String] == ["llama", "mistral"])
            let rows = (json["summary"] as? [String: Any])?["rows"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["name"] as? String } == ["llama", "mistral"])
            #expect((rows.first?["cells"] as? [Any])?.first as? Double == 30)
            let only = try await client.get("/ui/data/compare?range=1h&dimension=model&only=mistral").json
            let panels = only["panels"] as? [[String: Any]] ?? []
            let names = Set(panels.flatMap { ($0["series"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } })
            #expect(names == ["mistral"])
        }
    }

    @Test("the view reads named and custom ranges from the URL and falls back on bad values")
    func viewParsing() {
        let now = testNow + 30 * Timestamp.microsPerSecond
        let hour = DashboardView(parameters: [:], now: now)
        #expect(hour.range == "1h" && hour.by == "model" && hour.refresh == 0)
        #expect(hour.to == testNow && hour.from == testNow - Timestamp.microsPerHour)
        let month = DashboardView(parameters: ["range": "30d", "by": "none", "refresh": "60"], now: now)
        #expect(month.step == 3 * Timestamp.microsPerHour && month.by.isEmpty && month.refresh == 60)
        let custom = DashboardView(parameters: ["range": "custom", "from": "2026-11-28T10:00", "to": "2026-11-28T22:00"], now: now)
        #expect(custom.range == "custom")
        #expect(custom.to - custom.from == 12 * Timestamp.microsPerHour)
        #expect(custom.step == 6 * Timestamp.microsPerMinute)
        let bad = DashboardView(parameters: ["range": "2y", "by": "colour", "refresh": "7"], now: now)
        #expect(bad.range == "1h" && bad.by == "model" && bad.refresh == 0)
    }
}
