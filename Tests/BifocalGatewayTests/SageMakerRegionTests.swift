@testable import BifocalGateway
import Logging
import Testing

@Suite("SageMaker upstream region")
struct SageMakerRegionTests {
    @Test("a sagemaker upstream without urls or aws_region takes AWS_REGION for its runtime URL")
    func regionFromEnvironment() async throws {
        var upstream = UpstreamConfiguration(name: "sm", kind: .sagemaker, baseURLs: [], auth: .sigv4(SigV4Settings()))
        upstream.sagemakerEndpoints = ["my-endpoint"]
        let configuration = GatewayConfiguration(upstreams: [upstream])
        let environment = ["AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"]
        #expect(configuration.problems(environment: environment).isEmpty)
        #expect(!configuration.problems(environment: [:]).isEmpty)
        let gateway = Gateway(configuration: configuration, sink: CollectingSink(), clock: .system, environment: environment,
                              logger: Logger(label: "test"))
        #expect(gateway.upstreams.first?.urls.map(\.prefix) == ["https://runtime.sagemaker.eu-west-1.amazonaws.com"])
        await gateway.shutdown()
    }
}
