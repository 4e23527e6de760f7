import AsyncHTTPClient
public import BifocalCore
public import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The SageMaker runtime routes: `POST /endpoints/{name}/invocations` and
/// `POST /endpoints/{name}/invocations-response-stream`, as `sagemaker-runtime` clients (boto3's
/// `invoke_endpoint` and `invoke_endpoint_with_response_stream` with `endpoint_url` set to the
/// gateway) call them.
///
/// - Kind `sagemaker`: sent on to the runtime API (`https://runtime.sagemaker.REGION.amazonaws.com`,
///   or the upstream's `urls`) at the same path, re-signed with the gateway's SigV4 credentials
///   (the client's own signature names the gateway's host, so it cannot be reused). The response
///   stream is passed on frame for frame, unchanged, while it is decoded to time the `PayloadPart`s.
/// - Kind `sagemaker-container`: sent to the container's own `/invocations`, unsigned. On the stream
///   route the gateway frames the container's chunks as `PayloadPart` events, as the runtime would.
///
/// `Content-Type`, `Accept` and every `X-Amzn-SageMaker-*` header (inference component, target
/// variant, target model, custom attributes, inference id, session id, ...) go through. The record
/// carries the endpoint name, the inference component and the variant (the one SageMaker says it
/// invoked, else the one asked for).
extension Gateway {
    /// Adds the two SageMaker runtime routes.
    public func addSageMakerRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("/endpoints/:name/invocations") { request, context in
            await self.handleSageMaker(request, endpoint: context.parameters.get("name") ?? "", streamRoute: false)
        }
        router.post("/endpoints/:name/invocations-response-stream") { request, context in
            await self.handleSageMaker(request, endpoint: context.parameters.get("name") ?? "", streamRoute: true)
        }
    }

    /// The SageMaker-kind upstream for an endpoint: one that serves the inference component asked
    /// for, else one that lists the endpoint, else one that lists no endpoints (serves any).
    func sageMakerUpstream(endpoint: String, component: String?) -> Upstream? {
        let candidates = upstreams.filter { $0.configuration.kind != .openai }
        func serves(_ u: Upstream) -> Bool {
            u.configuration.sagemakerEndpoints.isEmpty || u.configuration.sagemakerEndpoints.contains(endpoint)
        }
        if let component, let u = candidates.first(where: { $0.configuration.models.contains(component) && serves($0) }) { return u }
        if let u = candidates.first(where: { $0.configuration.sagemakerEndpoints.contains(endpoint) }) { return u }
        return candidates.first { $0.configuration.sagemakerEndpoints.isEmpty }
    }

    func handleSageMaker(_ request: Request, endpoint: String, streamRoute: Bool) async -> Response {
        var exchange = beginExchange(request, operation: streamRoute ? "sagemaker.invocations-response-stream" : "sagemaker.invocations")
        exchange.record.endpoint = clipped(endpoint, 1024)
        exchange.record.provider = "sagemaker"
        exchange.record.streaming = streamRoute
        let headers = request.headers
        let component = headers[.sageMakerInferenceComponent].flatMap { $0.isEmpty ? nil : $0 }
        let targetVariant = headers[.sageMakerTargetVariant].flatMap { $0.isEmpty ? nil : $0 }
        let targetModel = headers[.sageMakerTargetModel].flatMap { $0.isEmpty ? nil : $0 }
        exchange.record.component = component.map { clipped($0, 1024) }
        exchange.record.variant = targetVariant.map { clipped($0, 1024) }

        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxRequestBytes)
        } catch {
            let tooLarge = error is NIOTooManyBytesError
            return sageMakerReject(&exchange, status: tooLarge ? .contentTooLarge : .badRequest, code: "ValidationError",
                                   message: tooLarge ? "the request body is larger than \(configuration.maxRequestBytes) bytes"
                                       : "the request body could not be read: \(error)")
        }
        let inspection = SageMakerPayload.inspectRequest(body, promptLimit: exchange.captureLimit)
        // The model: what the body names, else the target model (multi-model endpoints), else the
        // inference component, else the endpoint itself.
        let model = inspection.model ?? targetModel ?? component ?? endpoint
        exchange.record.model = clipped(model, 1024)
        exchange.record.requestModel = exchange.record.model
        if !streamRoute && inspection.stream { exchange.record.streaming = true }
        exchange.prompt = inspection.prompt

        guard !endpoint.isEmpty, let upstream = sageMakerUpstream(endpoint: endpoint, component: component) else {
            return sageMakerReject(&exchange, status: .badRequest, code: "ValidationError",
                                   message: "Endpoint \(endpoint) is not served by this gateway (no upstream of kind sagemaker or sagemaker-container lists it).")
        }
        guard clientMayUse(upstream, headers: headers) else {
            return sageMakerReject(&exchange, status: .unauthorized, code: "UnrecognizedClientException",
                                   message: "this gateway requires a bearer token: send Authorization: Bearer TOKEN")
        }
        exchange.apply(upstream)
        exchange.record.endpoint = clipped(endpoint, 1024)  // the endpoint called, whatever the upstream's default
        exchange.record.provider = upstream.configuration.provider ?? "sagemaker"
        // The variant asked for, else the upstream's; the one SageMaker says it invoked wins later.
        exchange.record.variant = targetVariant.map { clipped($0, 1024) } ?? upstream.configuration.variant

        let runtimeAPI = upstream.configuration.kind == .sagemaker
        let path = runtimeAPI
            ? "/endpoints/\(SigV4Signer.encodePathSegment(endpoint))/\(streamRoute ? "invocations-response-stream" : "invocations")"
            : "/invocations"
        let upstreamHeaders = Self.sageMakerHeaders(headers, runtimeAPI: runtimeAPI, streamRoute: streamRoute, trace: exchange.trace,
                                                    passesCredentials: !upstream.configuration.auth.gatewayHoldsCredential)
        let timer = TokenTimer(start: exchange.start, maxGaps: configuration.maxGapsPerRecord)
        let captureLimit = exchange.captureLimit
        let requestStreams = inspection.stream
        let wraps = streamRoute && !runtimeAPI

        var response = await proxy(
            exchange: exchange, upstream: upstream, method: .POST, path: path, headers: upstreamHeaders, body: body,
            isStream: { response in
                if runtimeAPI {
                    return streamRoute && Self.isAWSEventStream(response.headers)
                }
                // A container streams on the stream route, and on /invocations when asked to.
                return streamRoute || requestStreams || Self.isEventStream(response.headers)
            }
        ) { response, isStream in
            let variant = response.headers.first(name: "x-amzn-invoked-production-variant")
            let code = Int(response.status.code)
            guard isStream else {
                return SageMakerBodyRelay(timer: timer, status: code, runtimeAPI: runtimeAPI, captureLimit: captureLimit,
                                          invokedVariant: variant)
            }
            let meter = SageMakerStreamMeter(timer: timer, captureLimit: captureLimit)
            if runtimeAPI { return SageMakerEventStreamRelay(meter: meter, invokedVariant: variant) }
            if wraps { return SageMakerWrappingRelay(meter: meter) }
            return SageMakerRawStreamRelay(meter: meter)
        }
        if response.headers[.amznErrorType] == nil, [502, 504, 499].contains(response.status.code) {
            // The gateway's own failure answer (OpenAI-shaped JSON): name the error where botocore
            // looks for it, so an SDK client raises a ClientError with a meaningful code.
            response.headers[.amznErrorType] = response.status.code == 502 ? "BadGateway"
                : response.status.code == 504 ? "GatewayTimeout" : "ClientClosedRequest"
        }
        if wraps, response.status.code < 400 {
            // The client asked the runtime's stream operation: it reads event-stream frames, and the
            // container's own content type travels in X-Amzn-SageMaker-Content-Type, as SageMaker sends it.
            let inner = response.headers[.contentType] ?? "application/octet-stream"
            response.headers[.contentType] = "application/vnd.amazon.eventstream"
            response.headers[.sageMakerContentType] = inner
            response.headers[.contentLength] = nil
        }
        return response
    }

    /// The headers sent on: to the runtime API only what SageMaker reads (content type, accept,
    /// `X-Amzn-SageMaker-*`), all of them signed, plus `traceparent` (never signed); to a container
    /// the client's headers as the OpenAI routes forward them, with the AWS signing headers of the
    /// client's own request removed and `X-Amzn-SageMaker-Accept` as `Accept`.
    static func sageMakerHeaders(_ fields: HTTPFields, runtimeAPI: Bool, streamRoute: Bool, trace: TraceContext,
                                 passesCredentials: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        var accept: String?
        var sageMakerAccept: String?
        for field in fields {
            let name = field.name.canonicalName
            switch name {
            case "content-type":
                headers.add(name: "Content-Type", value: field.value)
            case "accept":
                accept = field.value
            case "x-amzn-sagemaker-accept":
                sageMakerAccept = field.value
            case "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "x-amz-user-agent":
                if passesCredentials && !runtimeAPI { headers.add(name: name, value: field.value) }
            case "host", "content-length", "accept-encoding", "traceparent", "expect", "user-agent":
                continue
            default:
                if name.hasPrefix("x-amzn-sagemaker-") {
                    headers.add(name: name, value: field.value)
                } else if !runtimeAPI && !hopByHop.contains(name) && !name.hasPrefix("x-bifocal-") && !name.hasPrefix("amz-sdk-") {
                    headers.add(name: name, value: field.value)
                }
            }
        }
        if runtimeAPI {
            // The stream operation takes its accept type as X-Amzn-SageMaker-Accept (botocore sends it so).
            if streamRoute {
                if let a = sageMakerAccept ?? accept { headers.add(name: "X-Amzn-SageMaker-Accept", value: a) }
            } else {
                if let a = accept ?? sageMakerAccept { headers.add(name: "Accept", value: a) }
                if let s = sageMakerAccept, accept != nil { headers.add(name: "X-Amzn-SageMaker-Accept", value: s) }
            }
        } else if let a = accept ?? sageMakerAccept {
            headers.add(name: "Accept", value: a)
        }
        headers.add(name: "traceparent", value: trace.header)
        return headers
    }

    static func isAWSEventStream(_ headers: HTTPHeaders) -> Bool {
        guard let type = headers.first(name: "content-type") else { return false }
        return type.lowercased().hasPrefix("application/vnd.amazon.eventstream")
    }

    /// The gateway's own error on a SageMaker route, shaped as the runtime API shapes them
    /// (`x-amzn-ErrorType` and `{"message": ...}`), so that botocore raises the named error.
    func sageMakerReject(_ exchange: inout Exchange, status: HTTPResponse.Status, code: String, message: String) -> Response {
        let end = clock.now()
        exchange.record.httpStatus = Int(status.code)
        exchange.record.status = Self.recordStatus(httpStatus: Int(status.code))
        exchange.record.error = message
        exchange.record.e2eMs = TokenTimer.ms(max(0, end - exchange.start))
        finish(exchange)
        var json = JSONText()
        json.raw("{\"message\":")
        json.string(message)
        json.raw("}\n")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.amznErrorType] = code
        if let id = exchange.record.id { headers[.bifocalRecordId] = id }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}

extension HTTPField.Name {
    static let sageMakerInferenceComponent = HTTPField.Name("X-Amzn-SageMaker-Inference-Component")!
    static let sageMakerTargetVariant = HTTPField.Name("X-Amzn-SageMaker-Target-Variant")!
    static let sageMakerTargetModel = HTTPField.Name("X-Amzn-SageMaker-Target-Model")!
    static let sageMakerContentType = HTTPField.Name("X-Amzn-SageMaker-Content-Type")!
    static let amznErrorType = HTTPField.Name("x-amzn-ErrorType")!
}
