public import NIOCore
public import NIOHTTP1

/// SigV4 plugged into the proxy: signs each request to a `sagemaker` upstream just before it leaves,
/// over the exact method, URL, headers and body sent.
///
/// Every header the request carries is signed except those botocore leaves out
/// (`SigV4Signer.unsignedHeaders`: hop-by-hop, `user-agent`, `traceparent`, ...); `Host`, `X-Amz-Date`, `X-Amz-Security-Token`
/// and `Authorization` are set. The HTTP client keeps an explicit `Host` and adds only
/// `Content-Length`, which is not signed, so what is signed is what AWS receives.
public struct SigV4UpstreamSigner: UpstreamRequestSigner {
    /// The signer (credentials, region, service).
    public let signer: SigV4Signer
    /// Seconds since the epoch for `X-Amz-Date` (injectable for tests).
    public let clock: @Sendable () -> Int64

    /// Creates a signer that reads the wall clock.
    public init(signer: SigV4Signer, clock: (@Sendable () -> Int64)? = nil) {
        self.signer = signer
        self.clock = clock ?? { GatewayClock.system.wallMicros() / 1_000_000 }
    }

    /// Rewrites `headers` with the signature for this request.
    public func sign(method: String, url: String, headers: inout HTTPHeaders, body: ByteBuffer) async throws {
        var hasher = SHA256Hasher()
        body.withUnsafeReadableBytes { hasher.update($0.bindMemory(to: UInt8.self)) }
        let bodyHash = SigV4Crypto.hex(hasher.finalize())
        let signed = signer.sign(method: method, url: url, headers: headers.map { ($0.name, $0.value) },
                                 bodySHA256: bodyHash, date: clock())
        var out = HTTPHeaders()
        out.reserveCapacity(signed.headers.count)
        for (name, value) in signed.headers { out.add(name: name, value: value) }
        headers = out
    }

    /// The factory `Gateway` takes: for an upstream whose auth is `sigv4`, credentials from the
    /// standard AWS environment variables or the shared credentials profile (`SigV4Settings.profile`,
    /// else `AWS_PROFILE`), and the region from the settings, else `AWS_REGION`/`AWS_DEFAULT_REGION`
    /// or the profile's config. Throws (and the upstream answers 502, saying why, with no secret in
    /// the message) when either is missing.
    public static func factory(environment: [String: String], readFile: (@Sendable (String) -> String?)? = nil,
                               clock: (@Sendable () -> Int64)? = nil) -> UpstreamSignerFactory {
        { upstream in
            guard case .sigv4(let settings) = upstream.auth else { return nil }
            let (credentials, _) = try AWSCredentials.resolve(environment: environment, profile: settings.profile, readFile: readFile)
            guard let region = settings.region ?? AWSCredentials.region(environment: environment, profile: settings.profile, readFile: readFile)
            else {
                throw AWSCredentials.LookupError.noRegion(profile: settings.profile ?? environment["AWS_PROFILE"] ?? "default")
            }
            return SigV4UpstreamSigner(signer: SigV4Signer(credentials: credentials, region: region, service: settings.service), clock: clock)
        }
    }
}
