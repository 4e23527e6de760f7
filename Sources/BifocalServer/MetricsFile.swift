import BifocalIngest
import Foundation

/// `bifocal metrics parse`: a scrape file checked by Bifocal's Prometheus/OpenMetrics parser.
public enum MetricsFile {
    /// A file that is not valid exposition text, with `file:line:column: reason`.
    public struct Invalid: Error, CustomStringConvertible {
        /// `file:line:column: reason`.
        public var description: String
    }

    /// Parses the file and returns one JSON line per sample (`{"name","labels","value","timestamp"}`).
    /// `openMetrics` applies every rule of OpenMetrics 1.0; `checkValues: false` skips the rules about
    /// values (negative histogram sums and the like, which some real exporters emit).
    public static func parse(path: String, openMetrics: Bool, checkValues: Bool) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "\(path): cannot read the file")
        }
        do {
            let result = try PrometheusTextParser.parse(data, openMetrics: openMetrics, checkValues: checkValues)
            return result.samples.map { $0.jsonLine() }
        } catch {
            throw Invalid(description: "\(path):\(error)")
        }
    }
}
