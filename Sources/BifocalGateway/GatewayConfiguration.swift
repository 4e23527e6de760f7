/// The gateway's settings: where requests go, how they are authenticated, what gets measured and
/// kept. The server reads them from the `gateway:` section of its YAML file; tests build them directly.
public struct GatewayConfiguration: Sendable, Hashable {
    /// The upstreams, in the order their models are matched.
    public var upstreams: [UpstreamConfiguration] = []
    /// The upstream that serves a model no upstream lists; without it such a model gets 404.
    public var defaultUpstream: String?
    /// The request header that names the tenant a request is made for (default `x-bifocal-tenant`).
    public var tenantHeader: String = "x-bifocal-tenant"
    /// Whether streamed chat and text completions ask the upstream for usage
    /// (`stream_options.include_usage`) when the client did not; what that adds to the stream is
    /// removed again before the client sees it. Default true.
    public var injectStreamUsage: Bool = true
    /// Share of requests whose prompt and response text is kept (after redaction), 0...1 (default 0).
    public var captureSampleRate: Double = 0
    /// Largest prompt or response text kept per record, in UTF-8 bytes (default 64 KiB).
    public var captureMaxBytes: Int = 64 * 1024
    /// Records waiting for the store at most; past it records are dropped and counted (default 10,000).
    public var recordQueueSize: Int = 10_000
    /// Largest request body accepted, in bytes (default 16 MiB); larger ones get 413.
    public var maxRequestBytes: Int = 16 * 1024 * 1024
    /// Inter-token gaps kept per record at most (default 16,384, the record's limit); the mean and
    /// maximum still cover every gap.
    public var maxGapsPerRecord: Int = 16_384
    /// Bearer tokens a client must present (as `Authorization: Bearer TOKEN`) to use an upstream
    /// whose credentials the gateway holds (`api_key`, `sigv4`, `none`). The server fills these in
    /// from `server.tokens`; empty means no check (loopback only). Passthrough upstreams check the
    /// client's own key themselves.
    public var accessTokens: [String] = []

    /// The defaults, with no upstreams.
    public init() {}

    /// Creates a configuration with upstreams.
    public init(upstreams: [UpstreamConfiguration], defaultUpstream: String? = nil) {
        self.upstreams = upstreams
        self.defaultUpstream = defaultUpstream
    }

    /// Mistakes that make the configuration unusable, each naming the setting (`gateway.upstreams[0].urls`).
    public func problems(environment: [String: String]) -> [String] {
        var problems: [String] = []
        var names = Set<String>()
        for (index, upstream) in upstreams.enumerated() {
            let path = "gateway.upstreams[\(index)]"
            if upstream.name.isEmpty { problems.append("\(path): an upstream needs a name") }
            if !names.insert(upstream.name).inserted { problems.append("\(path): upstream \(upstream.name) is listed twice") }
            let regionFromEnvironment = upstream.kind == .sagemaker
                && !(environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "").isEmpty
            if upstream.baseURLs.isEmpty && upstream.resolvedBaseURLs.isEmpty && !regionFromEnvironment {
                problems.append("\(path): upstream \(upstream.name) needs at least one url\(upstream.kind == .sagemaker ? " (or a region)" : "")")
            }
            for url in upstream.baseURLs where UpstreamURL(url) == nil {
                problems.append("\(path).urls: \"\(url)\" is not an http:// or https:// URL with a host")
            }
            switch upstream.auth {
            case .apiKey(let variable, _):
                if (environment[variable] ?? "").isEmpty {
                    problems.append("\(path).api_key_env: the environment variable \(variable) is not set (upstream \(upstream.name))")
                }
            case .sigv4, .passthrough, .none:
                // SigV4 credentials and region are looked up when the signer is made (environment,
                // shared files); an upstream that cannot sign answers 502 and the log says why.
                break
            }
        }
        if let defaultUpstream, !names.contains(defaultUpstream) {
            problems.append("gateway.default_upstream: no upstream is named \(defaultUpstream)")
        }
        if !(0...1).contains(captureSampleRate) { problems.append("gateway.capture.sample_rate must be in 0...1") }
        if recordQueueSize < 1 { problems.append("gateway.record_queue must be at least 1") }
        return problems
    }
}

/// What protocol an upstream speaks.
public enum UpstreamKind: String, Sendable, Hashable, CaseIterable {
    /// Any OpenAI-compatible server (vLLM, TGI's `/v1`, llama.cpp's llama-server, SGLang, OpenAI).
    case openai
    /// The SageMaker runtime API (`https://runtime.sagemaker.REGION.amazonaws.com`), signed with SigV4.
    case sagemaker
    /// A model container's own `/invocations` contract (LMI, TGI containers), unsigned.
    case sagemakerContainer = "sagemaker-container"
}

/// How the gateway authenticates to an upstream.
public enum UpstreamAuth: Sendable, Hashable {
    /// The client's `Authorization` (and `api-key`/`x-api-key`) headers go through unchanged.
    case passthrough
    /// The gateway sends its own key, read from the environment variable at start. With the header
    /// `authorization` the value is `Bearer KEY`; any other header (`api-key`, `x-api-key`) gets the key itself.
    case apiKey(environmentVariable: String, header: String)
    /// AWS Signature Version 4 (credentials from the standard AWS environment variables or a shared
    /// credentials profile).
    case sigv4(SigV4Settings)
    /// The client's credentials are removed and none are sent.
    case none

    /// Whether the gateway, not the upstream, holds the credential (so the gateway checks `accessTokens`).
    public var gatewayHoldsCredential: Bool {
        if case .passthrough = self { return false }
        return true
    }
}

/// Where SigV4 credentials and scope come from.
public struct SigV4Settings: Sendable, Hashable {
    /// The AWS region (default: `AWS_REGION`, then `AWS_DEFAULT_REGION`).
    public var region: String?
    /// The service name in the credential scope (default `sagemaker`).
    public var service: String = "sagemaker"
    /// The shared credentials profile (default: `AWS_PROFILE`, then `default`), used when the
    /// environment has no `AWS_ACCESS_KEY_ID`.
    public var profile: String?

    /// Creates settings.
    public init(region: String? = nil, service: String = "sagemaker", profile: String? = nil) {
        self.region = region
        self.service = service
        self.profile = profile
    }
}

/// One named upstream: a group of equivalent servers that serve the same models.
public struct UpstreamConfiguration: Sendable, Hashable {
    /// The name routes and records refer to.
    public var name: String
    /// The protocol (default `openai`).
    public var kind: UpstreamKind = .openai
    /// Base URLs (`http://10.0.0.5:8000`), tried round-robin; a connection failure moves on to the
    /// next. Paths (`/v1/chat/completions`) are appended to them. A base URL may carry a path
    /// prefix (`https://host/openai`).
    public var baseURLs: [String] = []
    /// Model names (or SageMaker inference components) this upstream serves. Empty: only reached
    /// as the default upstream or by SageMaker endpoint name.
    public var models: [String] = []
    /// SageMaker endpoint names this upstream serves (kinds `sagemaker`, `sagemaker-container`);
    /// empty means any.
    public var sagemakerEndpoints: [String] = []
    /// How the gateway authenticates (default: pass the client's credentials through).
    public var auth: UpstreamAuth = .passthrough
    /// A PEM file of CA certificates to trust for `https` base URLs instead of the system's.
    public var caFile: String?
    /// Longest wait for a connection, in microseconds (default 5 s).
    public var connectTimeout: Int64 = 5_000_000
    /// Longest wait for the next bytes from the upstream (the response head or the next chunk), in
    /// microseconds (default 10 minutes: a long prompt can take that long before its first token).
    public var readTimeout: Int64 = 600_000_000
    /// Connections kept per upstream host (default 512, for many concurrent streams).
    public var poolSize: Int = 512
    /// The endpoint its records carry (joins `endpoints` for prices and GPUs).
    public var endpoint: String?
    /// The variant its records carry.
    public var variant: String?
    /// The instance its records carry; default: the `host:port` of the base URL that answered.
    public var instance: String?
    /// The provider its records carry (`vllm`, `llama.cpp`, `openai`); default: the kind.
    public var provider: String?
    /// Overrides `GatewayConfiguration.injectStreamUsage` for this upstream (for a server that
    /// rejects `stream_options`); nil follows the gateway's setting.
    public var injectStreamUsage: Bool?

    /// Creates an upstream.
    public init(name: String, kind: UpstreamKind = .openai, baseURLs: [String], models: [String] = [],
                auth: UpstreamAuth = .passthrough) {
        self.name = name
        self.kind = kind
        self.baseURLs = baseURLs
        self.models = models
        self.auth = auth
    }

    /// Whether text is a usable base URL: `http://` or `https://`, a host, no query or fragment.
    public static func isValidBaseURL(_ text: String) -> Bool { UpstreamURL(text) != nil }

    /// The base URLs requests go to: the configured ones, or for `sagemaker` with none configured,
    /// the regional runtime endpoint.
    public var resolvedBaseURLs: [String] {
        if !baseURLs.isEmpty { return baseURLs }
        if kind == .sagemaker, case .sigv4(let settings) = auth, let region = settings.region {
            return ["https://runtime.sagemaker.\(region).amazonaws.com"]
        }
        return []
    }
}

/// A base URL taken apart once at start, so requests only concatenate strings.
struct UpstreamURL: Sendable, Hashable {
    /// `http` or `https`.
    var scheme: String
    /// `host:port` as the URL gives it (the default instance name).
    var authority: String
    /// The URL without a trailing slash; request paths are appended to it.
    var prefix: String

    init?(_ text: String) {
        var trimmed = Substring(text)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let scheme: String
        if trimmed.lowercased().hasPrefix("http://") { scheme = "http" }
        else if trimmed.lowercased().hasPrefix("https://") { scheme = "https" }
        else { return nil }
        let rest = trimmed.dropFirst(scheme.count + 3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !rest.contains("?"), !rest.contains("#") else { return nil }
        self.scheme = scheme
        self.authority = String(authority)
        self.prefix = String(trimmed)
    }
}
