public import Hummingbird
import NIOCore

/// An error the API answers with: a status, a stable code, a message that says what, where and why,
/// and optional extra members (such as the byte `offset` of a JSON syntax error).
///
/// Rendered as `{"error": {"code": ..., "message": ..., ...}}`.
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable machine-readable code (`invalid_json`, `body_too_large`, ...).
    public var code: String
    /// For people: what is wrong, where, and why.
    public var message: String
    /// Extra integer members (`offset`).
    public var details: [(String, Int)]

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, code: String, message: String, details: [(String, Int)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// `status code: message`.
    public var description: String { "\(status.code) \(code): \(message)" }

    /// Renders the error as JSON.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONWriter()
        json.raw("{\"error\":{\"code\":")
        json.string(code)
        json.raw(",\"message\":")
        json.string(message)
        for (key, value) in details {
            json.raw(",")
            json.string(key)
            json.raw(":")
            json.number(value)
        }
        json.raw("}}\n")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"bifocal\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}

extension Response {
    /// A JSON response from pre-rendered bytes.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
