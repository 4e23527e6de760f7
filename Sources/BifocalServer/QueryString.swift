import Foundation
import Hummingbird

extension Request {
    /// The query string's parameters, in order, decoded as HTML forms encode them
    /// (`application/x-www-form-urlencoded`): `+` is a space, then percent-escapes are decoded.
    /// Hummingbird's `queryParameters` keeps a `+` as it is, so a dashboard search for two words,
    /// which the browser sends as `q=refund+policy`, looked for "refund+policy".
    var formParameters: [(String, String)] {
        guard let query = uri.query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.formDecoded(parts[0]), parts.count > 1 ? Self.formDecoded(parts[1]) : "")
        }
    }

    /// `+` as a space, then percent-escapes decoded (a malformed escape stays as written).
    static func formDecoded(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
