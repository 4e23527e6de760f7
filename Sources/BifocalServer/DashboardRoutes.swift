import BifocalCore
import BifocalStore
import Foundation
import Hummingbird

/// The web dashboard: `/` (Overview), `/ui/compare`, `/ui/requests`, `/ui/requests/{id}`,
/// `/ui/quality`, `/ui/alerts`, their data (`/ui/data/overview`, `/ui/data/compare`) and the
/// script and style sheet they load (`/ui/assets/...`). Everything is served from the binary.
struct DashboardRoutes {
    let store: any Store
    let settings: DashboardSettings
    let clock: @Sendable () -> Int64
    /// Shared with `DashboardWarmer`.
    var cache = DashboardCache()

    static func parameters(_ request: Request) -> (single: [String: String], all: [(String, String)]) {
        var single: [String: String] = [:]
        var all: [(String, String)] = []
        for (key, value) in request.formParameters {
            single[key] = value
            all.append((key, value))
        }
        return (single, all)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        // Short caching: the binary's version is the asset's version.
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Names of a record label's groups in the range, busiest first (for the filter pickers).
    static func groups(_ store: any Store, label: String, view: DashboardView) async -> [String] {
        let query = SignalQuery(signal: "requests.count", by: [label], shape: .instant(at: view.to, window: view.to - view.from))
        guard let result = try? await store.query(query) else { return [] }
        return result.series
            .map { ($0.labels[label] ?? "", $0.points.first?.value ?? 0) }
            .filter { !$0.0.isEmpty }
            .sorted { $0.1 > $1.1 }
            .map(\.0)
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        let store = store
        let settings = settings
        let clock = clock
        let data = DashboardData(store: store, settings: settings, cache: cache)
        router.get("/ui/assets/bifocal.css") { _, _ in Self.asset(DashboardStyle.css, type: "text/css; charset=utf-8") }
        router.get("/ui/assets/bifocal.js") { _, _ in Self.asset(DashboardScript.js, type: "text/javascript; charset=utf-8") }
        router.get("/") { request, _ in
            Self.html(DashboardPages.overview(DashboardView(parameters: Self.parameters(request).single, now: clock())))
        }
        router.get("/ui") { request, _ in
            Response(status: .seeOther, headers: [.location: "/" + (request.uri.query.map { "?\($0)" } ?? "")])
        }
        router.get("/ui/compare") { request, _ in
            let p = Self.parameters(request).single
            let dimension = p["dimension"].flatMap { DashboardData.compareDimensions.contains($0) ? $0 : nil } ?? "model"
            return Self.html(DashboardPages.compare(DashboardView(parameters: p, now: clock()), dimension: dimension))
        }
        router.get("/ui/quality") { request, _ in
            Self.html(DashboardPages.quality(DashboardView(parameters: Self.parameters(request).single, now: clock())))
        }
        router.get("/ui/alerts") { request, _ in
            Self.html(DashboardPages.alerts(DashboardView(parameters: Self.parameters(request).single, now: clock())))
        }
        router.get("/ui/data/overview") { request, _ in
            let now = clock()
            let view = DashboardView(parameters: Self.parameters(request).single, now: now)
            return Response.json(try await data.overview(view, now: now))
        }
        router.get("/ui/data/compare") { request, _ in
            let now = clock()
            let (single, all) = Self.parameters(request)
            let view = DashboardView(parameters: single, now: now)
            let dimension = single["dimension"].flatMap { DashboardData.compareDimensions.contains($0) ? $0 : nil } ?? "model"
            let only = all.filter { $0.0 == "only" }.map(\.1).filter { !$0.isEmpty }
            return Response.json(try await data.compare(view, dimension: dimension, only: only, now: now))
        }
        router.get("/ui/requests") { request, _ in
            let p = Self.parameters(request).single
            let view = DashboardView(parameters: p, now: clock())
            let filters = DashboardPages.RequestFilters(p)
            async let page = store.records(matching: filters.filter(view, settings: settings), limit: 50, before: filters.cursor)
            async let models = Self.groups(store, label: "model", view: view)
            async let tenants = Self.groups(store, label: "tenant", view: view)
            async let statistics = store.statistics()
            return Self.html(DashboardPages.requests(view, filters: filters, page: try await page, models: await models, tenants: await tenants,
                                                     settings: settings, totalRecords: try await statistics.records))
        }
        router.get("/ui/requests/{id}") { request, context in
            let view = DashboardView(parameters: Self.parameters(request).single, now: clock())
            let raw = context.parameters.get("id") ?? ""
            let ref = raw.removingPercentEncoding ?? raw
            guard let stored = try await store.record(id: ref) else {
                return Self.html(DashboardPages.notFound(view, ref: ref), status: .notFound)
            }
            // The request's share of cost: its tokens at the model's cost per 1M tokens over the
            // hour around it (a request has no price of its own; its GPUs serve many at once).
            var cost: Double?
            if let model = stored.record.model {
                let query = SignalQuery(signal: "cost.per_1m_tokens", matchers: [LabelMatcher(name: "model", value: model)],
                                        shape: .instant(at: stored.record.start + 30 * Timestamp.microsPerMinute, window: Timestamp.microsPerHour))
                cost = (try? await store.query(query))?.series.first?.points.first?.value ?? nil
            }
            return Self.html(DashboardPages.request(view, stored: stored, costPerMillion: cost))
        }
    }
}
