import BifocalCore
import BifocalGateway
import BifocalServer
import BifocalStore
import BifocalTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite("Gateway in the server")
struct GatewayServerTests {
    @Test("the gateway section is read, with defaults")
    func configuration() throws {
        let configuration = try BifocalConfiguration.parse(yaml: """
            gateway:
              default_upstream: local
              tenant_header: X-Team
              stream_usage: false
              record_queue: 500
              max_request_bytes: 1MiB
              capture: {sample_rate: 0.25, max_bytes: 4KiB}
              upstreams:
                - name: local
                  urls: [http://127.0.0.1:8080, "http://127.0.0.1:8081/"]
                  models: [smollm2]
                  endpoint: llm-prod
                  variant: blue
                  provider: llama.cpp
                  connect_timeout: 2s
                  read_timeout: 1m
                  pool_size: 64
                  stream_usage: false
                - name: openai
                  url: https://api.openai.com
                  models: gpt-4o-mini
                  auth: api_key
                  api_key_env: OPENAI_API_KEY
                  ca_file: /etc/ssl/ca.pem
                - name: sm
                  kind: sagemaker
                  aws_region: eu-west-1
                  sagemaker_endpoints: [llm-prod]
            """)
        let gateway = configuration.gateway
        #expect(gateway.defaultUpstream == "local" && gateway.tenantHeader == "x-team" && !gateway.injectStreamUsage)
        #expect(gateway.recordQueueSize == 500 && gateway.maxRequestBytes == 1 << 20)
        #expect(gateway.captureSampleRate == 0.25 && gateway.captureMaxBytes == 4096)
        let local = gateway.upstreams[0]
        #expect(local.baseURLs.count == 2 && local.models == ["smollm2"] && local.endpoint == "llm-prod" && local.variant == "blue")
        #expect(local.connectTimeout == 2_000_000 && local.readTimeout == 60_000_000 && local.poolSize == 64 && local.provider == "llama.cpp")
        #expect(local.auth == .passthrough && local.kind == .openai && local.injectStreamUsage == false)
        #expect(gateway.upstreams[1].injectStreamUsage == nil)
        #expect(gateway.upstreams[1].auth == .apiKey(environmentVariable: "OPENAI_API_KEY", header: "authorization"))
        #expect(gateway.upstreams[1].models == ["gpt-4o-mini"] && gateway.upstreams[1].caFile == "/etc/ssl/ca.pem")
        #expect(gateway.upstreams[2].auth == .sigv4(SigV4Settings(region: "eu-west-1")))
        #expect(gateway.upstreams[2].resolvedBaseURLs == ["https://runtime.sagemaker.eu-west-1.amazonaws.com"])
        #expect(gateway.problems(environment: ["OPENAI_API_KEY": "sk-x"]).isEmpty)
        #expect(gateway.problems(environment: [:]) == ["gateway.upstreams[1].api_key_env: the environment variable OPENAI_API_KEY is not set (upstream openai)"])
    }

    @Test("gateway mistakes are reported with line and column")
    func mistakes() {
        let yaml = """
            gateway:
              default_upstream: nowhere
              upstreams:
                - name: a
                  kind: grpc
                  urls: [ftp://x]
                  auth: api_key
                - name: b
                  urls: http://127.0.0.1:1
                  colour: blue
            """
        #expect(throws: ConfigurationError.self) { try BifocalConfiguration.parse(yaml: yaml) }
        do {
            _ = try BifocalConfiguration.parse(yaml: yaml)
        } catch let error as ConfigurationError {
            let lines = error.issues.map(\.description)
            #expect(lines.contains { $0.hasPrefix("5:") && $0.contains("gateway.upstreams[0].kind") && $0.contains("grpc") })
            #expect(lines.contains { $0.hasPrefix("6:") && $0.contains("ftp://x") })
            #expect(lines.contains { $0.contains("gateway.upstreams[0].api_key_env") })
            #expect(lines.contains { $0.hasPrefix("10:") && $0.contains("gateway.upstreams[1].colour") })
            #expect(lines.contains { $0.contains("gateway.default_upstream") && $0.contains("nowhere") })
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("gateway routes bypass the server's bearer check, records reach the store, /metrics counts drops")
    func endToEnd() async throws {
        let upstream = Router(context: BasicRequestContext.self)
        upstream.post("/v1/chat/completions") { request, _ in
            // The client's own key reached the upstream.
            guard request.headers[.authorization] == "Bearer sk-client" else { return Response(status: .unauthorized) }
            let body = #"{"model":"m-1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let upstreamApp = Application(router: upstream, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await upstreamApp.test(.live) { up in
            let folder = try TemporaryDirectory()
            var configuration = BifocalConfiguration()
            configuration.storage.directory = folder.path
            configuration.port = 0
            configuration.tokens = ["bifocal-token-0123456789"]
            var settings = UpstreamConfiguration(name: "up", baseURLs: ["http://127.0.0.1:\(up.port!)"], models: ["m"])
            settings.endpoint = "llm-prod"
            configuration.gateway = GatewayConfiguration(upstreams: [settings])
            let store = try SQLiteStore.open(configuration.storage)
            let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "test"), clock: { testNow })
            try await app.test(.live) { client in
                let answer = try await client.execute(uri: "/v1/chat/completions", method: .post,
                                                      headers: [.authorization: "Bearer sk-client", .contentType: "application/json"],
                                                      body: ByteBuffer(string: #"{"model":"m","messages":[]}"#))
                #expect(answer.status == .ok)
                #expect(answer.headers[HTTPField.Name("x-bifocal-record-id")!] != nil)
                // Everything else still needs the server's token.
                #expect(try await client.get("/metrics").status == .unauthorized)
                var stored = 0
                for _ in 0..<100 {
                    stored = try await store.statistics().records
                    if stored == 1 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(stored == 1)
                let metrics = try await client.get("/metrics", headers: [.authorization: "Bearer bifocal-token-0123456789"])
                let text = String(buffer: metrics.body)
                #expect(text.contains("bifocal_gateway_records_dropped_total 0"))
                #expect(text.contains("bifocal_gateway_records_written_total 1"))
                #expect(text.contains("bifocal_ingest_records_total{source=\"gateway\"} 1"))
            }
            try await store.close()
            _ = folder
        }
    }
}
