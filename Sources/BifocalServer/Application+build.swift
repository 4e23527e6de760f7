public import BifocalCore
public import BifocalStore
import Foundation
public import Hummingbird
public import Logging
import ServiceLifecycle

/// The request context of every Bifocal route.
public typealias BifocalRequestContext = BasicRequestContext

/// Builds the whole server from a configuration: opens the store (taking the data folder's lock),
/// mounts every route and attaches the background services. `bifocal serve` runs what this returns;
/// tests call it too.
public func buildApplication(
    configuration: BifocalConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let problems = configuration.validate()
    guard problems.isEmpty else {
        throw ConfigurationError(issues: problems.map { ConfigurationIssue(path: "", message: $0) })
    }
    let store = try SQLiteStore.open(configuration.storage)
    return buildApplication(configuration: configuration, store: store, logger: logger, onServerRunning: onServerRunning)
}

/// Builds the server over a store that is already open (tests pass their own).
public func buildApplication(
    configuration: BifocalConfiguration,
    store: any Store,
    logger: Logger,
    clock: @escaping @Sendable () -> Int64 = Timestamp.now,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let targets = TargetRegistry(targets: configuration.scrapeTargets)
    let metrics = SelfMetrics()
    let gateway = GatewayWiring(configuration: configuration, store: store, metrics: metrics, logger: logger)
    let dashboardCache = DashboardCache()
    let router = buildRouter(configuration: configuration, store: store, targets: targets, clock: clock, metrics: metrics, gateway: gateway,
                             dashboardCache: dashboardCache)
    var services: [any Service] = [StoreMaintenanceService(store: store, interval: configuration.retentionInterval, clock: clock, logger: logger)]
    if !configuration.scrapeTargets.isEmpty {
        services.append(ScrapeService(targets: configuration.scrapeTargets, sink: StoreSeriesSink(store: store),
                                      registry: targets, clock: clock, logger: logger))
    }
    if configuration.gpuSampler.mode != .off {
        services.append(GPUSamplerService(settings: configuration.gpuSampler, sink: StoreSeriesSink(store: store), clock: clock, logger: logger))
    }
    if let gateway { services.append(gateway.service) }  // after the store's service: stops first, flushing its records
    if configuration.dashboard.prewarm {
        services.append(DashboardWarmer(data: DashboardData(store: store, settings: configuration.dashboard, cache: dashboardCache), clock: clock, logger: logger))
    }
    return Application(
        responder: GatewayDispatcher(gateway: gateway, router: router),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "bifocal"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// Mounts every route on one router.
func buildRouter(configuration: BifocalConfiguration, store: any Store, targets: TargetRegistry,
                 clock: @escaping @Sendable () -> Int64, metrics: SelfMetrics = SelfMetrics(),
                 gateway: GatewayWiring? = nil, dashboardCache: DashboardCache = DashboardCache()) -> Router<BifocalRequestContext> {
    let router = Router(context: BifocalRequestContext.self)
    router.add(middleware: RequestCountingMiddleware(metrics: metrics))
    router.add(middleware: BearerAuthMiddleware(tokens: configuration.tokens))
    router.get("/healthz") { _, _ in Response.json(Array("{\"status\":\"ok\"}\n".utf8)) }
    router.get("/readyz") { _, _ in
        do {
            _ = try await store.statistics()
            return Response.json(Array("{\"status\":\"ready\"}\n".utf8))
        } catch {
            throw APIError(.serviceUnavailable, code: "not_ready", message: "the store cannot be read: \(error)")
        }
    }
    router.get("/metrics") { _, _ in
        let statistics = try? await store.statistics()
        var text = metrics.render(storeRecords: statistics?.records, storeSizeBytes: statistics?.sizeBytes) + (gateway?.exposition ?? "")
        text += await DashboardExposition(store: store).render(now: clock())
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    IngestRoutes(sink: StoreRecordSink(store: store), metrics: metrics, maxBodyBytes: configuration.maxBodyBytes).add(to: router)
    OTLPRoutes(records: StoreRecordSink(store: store), series: StoreSeriesSink(store: store), metrics: metrics,
               maxBodyBytes: configuration.maxBodyBytes).add(to: router)
    QueryRoutes(store: store, clock: clock).add(to: router)
    RecordsRoutes(store: store, settings: configuration.dashboard, clock: clock).add(to: router)
    DashboardRoutes(store: store, settings: configuration.dashboard, clock: clock, cache: dashboardCache).add(to: router)
    targets.add(to: router)
    return router
}

/// Counts every request by route and status for `/metrics`.
struct RequestCountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: SelfMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = request.uri.path.hasPrefix("/api/") || ["/metrics", "/healthz", "/readyz"].contains(request.uri.path) ? request.uri.path : "other"
        do {
            let response = try await next(request, context)
            metrics.countRequest(route: route, code: Int(response.status.code))
            return response
        } catch let error as any HTTPResponseError {
            metrics.countRequest(route: route, code: Int(error.status.code))
            throw error
        }
    }
}

/// Runs retention on an interval and closes the store (flushing it) when the server shuts down.
struct StoreMaintenanceService: Service {
    let store: any Store
    let interval: Int64
    let clock: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let report = try await store.enforceRetention(now: clock())
                    if report.recordsDeleted + report.rollupsDeleted + report.textsCleared > 0 {
                        logger.info("retention pass", metadata: [
                            "retention.records_deleted": "\(report.recordsDeleted)",
                            "retention.texts_cleared": "\(report.textsCleared)",
                            "retention.rollups_deleted": "\(report.rollupsDeleted)",
                        ])
                    }
                } catch {
                    logger.error("retention pass failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .microseconds(interval))
            }
        }
        do {
            try await store.close()
            logger.info("store closed")
        } catch {
            logger.error("store close failed", metadata: ["error": "\(error)"])
        }
    }
}
