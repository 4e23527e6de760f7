import Hummingbird

/// Checks `Authorization: Bearer TOKEN` against the configured tokens on every route but the
/// health checks. With no tokens configured (loopback only) it lets everything through.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [[UInt8]]

    init(tokens: [String]) { self.tokens = tokens.map { Array($0.utf8) } }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !tokens.isEmpty, request.uri.path != "/healthz", request.uri.path != "/readyz" else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, code: "unauthorized", message: "this server requires a bearer token: send Authorization: Bearer TOKEN")
        }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the Authorization header must be of the form 'Bearer TOKEN'")
        }
        let offered = Array(header.utf8.dropFirst(prefix.utf8.count))
        guard tokens.contains(where: { Self.constantTimeEqual($0, offered) }) else {
            throw APIError(.unauthorized, code: "unauthorized", message: "the bearer token is not one this server accepts")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response time does not reveal how much of a token matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
