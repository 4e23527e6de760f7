import AsyncHTTPClient
import BifocalCore
public import NIOCore
public import NIOHTTP1
import NIOSSL
import Synchronization

/// Signs (or otherwise authenticates) a request just before it goes upstream: it may add or
/// replace headers, given the method, the full URL and the body. AWS Signature V4 for the
/// `sagemaker` kind is one; anything else that must see the exact bytes sent can be another.
public protocol UpstreamRequestSigner: Sendable {
    /// Rewrites `headers` for a request about to be sent.
    func sign(method: String, url: String, headers: inout HTTPHeaders, body: ByteBuffer) async throws
}

/// Makes the signer of an upstream whose auth is `sigv4`; nil when it cannot (then the gateway
/// answers that upstream's requests with 502 and says why in its log).
public typealias UpstreamSignerFactory = @Sendable (UpstreamConfiguration) throws -> (any UpstreamRequestSigner)?

/// Why a request could not be answered by the upstream.
enum UpstreamFailure: Error {
    /// No base URL could be connected to (refused, unreachable, DNS, TLS).
    case unreachable(String)
    /// The upstream closed the connection after the request was sent (never resent: the model
    /// may have started on it).
    case hungUp(String)
    /// The upstream did not answer in time (connect or read timeout).
    case timeout(String)
    /// The client went away.
    case cancelled
    /// The gateway cannot reach this upstream as configured (missing key or signer).
    case misconfigured(String)
}

/// How the gateway presents credentials to one upstream, resolved once at start.
enum UpstreamCredential: Sendable {
    case passthrough
    /// A header with a fixed value (`authorization: Bearer KEY`, `api-key: KEY`).
    case header(name: String, value: String)
    case signer(any UpstreamRequestSigner)
    case none
    /// Cannot authenticate; every request gets 502 with this reason.
    case broken(String)
}

/// One upstream as the proxy uses it: parsed base URLs, the round-robin cursor, the credential,
/// and the shared HTTP client its requests go through.
final class Upstream: Sendable {
    let configuration: UpstreamConfiguration
    let urls: [UpstreamURL]
    let client: HTTPClient
    let tls: TLSConfiguration?
    let credential: UpstreamCredential
    /// The provider its records carry.
    let provider: String
    private let cursor = Atomic<Int>(0)

    init(configuration: UpstreamConfiguration, client: HTTPClient, credential: UpstreamCredential) {
        self.configuration = configuration
        self.urls = configuration.resolvedBaseURLs.compactMap(UpstreamURL.init)
        self.client = client
        self.credential = credential
        self.provider = configuration.provider ?? configuration.kind.rawValue
        if let caFile = configuration.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            self.tls = tls
        } else {
            self.tls = nil
        }
    }

    /// The base URLs in the order this request tries them: the next in round-robin order first.
    func attemptOrder() -> [Int] {
        let n = urls.count
        guard n > 1 else { return n == 1 ? [0] : [] }
        let first = cursor.wrappingAdd(1, ordering: .relaxed).oldValue % n
        return (0..<n).map { (first + $0) % n }
    }

    /// Sends a request, trying the next base URL when one cannot be connected to. Returns the
    /// response (its body still streaming) and the base URL that answered.
    func send(method: HTTPMethod, path: String, headers: HTTPHeaders, body: ByteBuffer,
              deadline: NIODeadline = .distantFuture) async throws(UpstreamFailure)
        -> (HTTPClientResponse, UpstreamURL)
    {
        if case .broken(let reason) = credential { throw .misconfigured(reason) }
        var lastFailure = UpstreamFailure.unreachable("upstream \(configuration.name) has no base URL")
        for index in attemptOrder() {
            let base = urls[index]
            var request = HTTPClientRequest(url: base.prefix + path)
            request.method = method
            request.headers = headers
            request.body = .bytes(body)
            request.tlsConfiguration = tls
            switch credential {
            case .header(let name, let value):
                request.headers.replaceOrAdd(name: name, value: value)
            case .signer(let signer):
                do {
                    try await signer.sign(method: method.rawValue, url: request.url, headers: &request.headers, body: body)
                } catch {
                    throw .misconfigured("cannot sign the request for upstream \(configuration.name): \(error)")
                }
            case .passthrough, .none, .broken:
                break
            }
            do {
                let response = try await client.execute(request, deadline: deadline)
                return (response, base)
            } catch {
                let failure = Self.classify(error, base: base)
                switch failure {
                case .unreachable:
                    lastFailure = failure
                    continue  // the request never left: try the next base URL
                case .timeout(let message) where Self.isConnectTimeout(error):
                    lastFailure = .timeout(message)
                    continue
                default:
                    throw failure
                }
            }
        }
        throw lastFailure
    }

    static func isConnectTimeout(_ error: any Error) -> Bool {
        guard let e = error as? HTTPClientError else { return false }
        return e == .connectTimeout || e == .tlsHandshakeTimeout
    }

    /// Sorts an error from the HTTP client into what the client is told.
    static func classify(_ error: any Error, base: UpstreamURL?) -> UpstreamFailure {
        let at = base.map { " (\($0.authority))" } ?? ""
        if error is CancellationError { return .cancelled }
        if let e = error as? HTTPClientError {
            switch e {
            case .readTimeout, .deadlineExceeded, .writeTimeout:
                return .timeout("the upstream did not answer in time\(at)")
            case .connectTimeout, .tlsHandshakeTimeout:
                return .timeout("timed out connecting to the upstream\(at)")
            case .cancelled:
                return .cancelled
            case .remoteConnectionClosed:
                // The request may have reached the model: never resent.
                return .hungUp("the upstream closed the connection before answering\(at)")
            default:
                return .unreachable("cannot reach the upstream\(at): \(e)")
            }
        }
        if case ChannelError.connectTimeout = error {
            return .timeout("timed out connecting to the upstream\(at)")
        }
        return .unreachable("cannot connect to the upstream\(at): \(error)")
    }
}
