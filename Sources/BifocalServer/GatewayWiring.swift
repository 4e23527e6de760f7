import BifocalCore
import BifocalGateway
import BifocalStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The gateway as the server runs it: built from the `gateway:` section, its routes on a router of
/// their own, its records going to the store (and into `/metrics`' histograms), its record drain a
/// service, and its counters on `/metrics`.
///
/// Gateway paths (`/v1/chat/completions`, ..., `/endpoints/...`) are answered by the gateway's
/// router, not the main one: the main router's bearer check would reject the client's upstream
/// API key, which belongs to the upstream. The gateway checks `server.tokens` itself for the
/// upstreams whose credentials it holds.
final class GatewayWiring: Sendable {
    let gateway: Gateway
    let responder: RouterResponder<BifocalRequestContext>

    /// Nil when the configuration has no upstreams (the gateway is off).
    init?(configuration: BifocalConfiguration, store: any Store, metrics: SelfMetrics, logger: Logger) {
        guard !configuration.gateway.upstreams.isEmpty else { return nil }
        var settings = configuration.gateway
        settings.accessTokens = configuration.tokens
        let environment = ProcessInfo.processInfo.environment
        gateway = Gateway(configuration: settings, sink: GatewayRecordSink(store: store, metrics: metrics),
                          environment: environment, signers: SigV4UpstreamSigner.factory(environment: environment),
                          logger: logger)
        let router = Router(context: BifocalRequestContext.self)
        gateway.addRoutes(to: router)
        gateway.addSageMakerRoutes(to: router)
        responder = router.buildResponder()
    }

    /// Drains the records into the store until shutdown, then closes upstream connections.
    var service: any Service { GatewayService(gateway: gateway) }

    /// The gateway's counters in the Prometheus text format.
    var exposition: String {
        let records = gateway.records
        var out = ExpositionWriter()
        out.family("bifocal_gateway_records_dropped_total", type: "counter", help: "Gateway records dropped because the record queue was full (the requests themselves succeeded).")
        out.sample("bifocal_gateway_records_dropped_total", [], Double(records.dropped))
        out.family("bifocal_gateway_records_written_total", type: "counter", help: "Gateway records handed to the store.")
        out.sample("bifocal_gateway_records_written_total", [], Double(records.written))
        out.family("bifocal_gateway_records_failed_total", type: "counter", help: "Gateway records lost because the store failed to take them.")
        out.sample("bifocal_gateway_records_failed_total", [], Double(records.failed))
        out.family("bifocal_gateway_record_queue_records", type: "gauge", help: "Gateway records waiting for the store.")
        out.sample("bifocal_gateway_record_queue_records", [], Double(records.pending))
        return out.text
    }
}

/// Runs the gateway's record drain; on graceful shutdown hands over what is queued and closes the
/// upstream connections. Listed after the store's service, so it stops before the store closes.
struct GatewayService: Service {
    let gateway: Gateway

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await gateway.run()
        }
        await gateway.shutdown()
    }
}

/// Stores gateway records and counts them into `/metrics`' histograms, as the ingest API does.
struct GatewayRecordSink: RecordSink {
    let store: any Store
    let metrics: SelfMetrics

    func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        let outcome = try await store.insert(records)
        metrics.observe(records, duplicatePositions: outcome.duplicates)
        return outcome
    }
}

/// Sends gateway paths to the gateway's router and everything else to the main router.
struct GatewayDispatcher: HTTPResponder {
    typealias Context = BifocalRequestContext
    let gateway: RouterResponder<Context>?
    let main: RouterResponder<Context>

    init(gateway: GatewayWiring?, router: Router<Context>) {
        self.gateway = gateway?.responder
        self.main = router.buildResponder()
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        if let gateway, Gateway.servesPath(Substring(request.uri.path)) {
            return try await gateway.respond(to: request, context: context)
        }
        return try await main.respond(to: request, context: context)
    }
}

extension BifocalConfiguration {
    /// The gateway's configuration problems, with API keys looked up in this process's environment.
    func gatewayProblems() -> [String] {
        gateway.problems(environment: ProcessInfo.processInfo.environment)
    }
}
