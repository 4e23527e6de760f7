public import BifocalCore
import BifocalIngest
import BifocalStore
import Foundation

/// Reads a file of records and sends it, in batches, to a running server or straight into a data folder.
public struct FileIngest: Sendable {
    /// What the file holds.
    public enum Format: String, Sendable, CaseIterable {
        /// A JSON array of records.
        case json
        /// One record per line.
        case ndjson
        /// SageMaker Data Capture JSONL.
        case capture

        /// Guesses from the file name: `.json` is an array, `.jsonl`/`.ndjson` are lines.
        public static func guess(path: String) -> Format {
            path.hasSuffix(".json") ? .json : .ndjson
        }
    }

    /// Where the records go.
    public enum Destination: Sendable {
        /// A running server's ingest API.
        case server(RemoteClient)
        /// A data folder that no server holds (opened and closed by `run`).
        case dataFolder(BifocalConfiguration)
    }

    /// The totals of one file.
    public struct Summary: Sendable {
        /// Records stored.
        public var accepted = 0
        /// Records already stored (same id).
        public var duplicates = 0
        /// Records rejected, with their position in the file (array index, or line number - 1).
        public var rejected: [(index: Int, field: String?, error: String)] = []
    }

    /// The file's format.
    public var format: Format
    /// Records per batch (default 1,000).
    public var batchSize: Int
    /// For captures: the endpoint the file was captured from (its S3 path names it).
    public var endpoint: String?
    /// For captures: the variant.
    public var variant: String?

    /// Creates an ingest job.
    public init(format: Format, batchSize: Int = 1000, endpoint: String? = nil, variant: String? = nil) {
        self.format = format
        self.batchSize = max(1, batchSize)
        self.endpoint = endpoint
        self.variant = variant
    }

    /// Sends the file; `progress` is called with (bytes done, bytes total) after each batch.
    public func run(path: String, to destination: Destination, progress: @Sendable (Int, Int) -> Void) async throws -> Summary {
        var store: (any Store)?
        if case .dataFolder(let configuration) = destination {
            store = try SQLiteStore.open(configuration.storage)
        }
        do {
            let summary = try await send(path: path, to: destination, store: store, progress: progress)
            try await store?.close()
            return summary
        } catch {
            try? await store?.close()
            throw error
        }
    }

    private func send(path: String, to destination: Destination, store: (any Store)?, progress: @Sendable (Int, Int) -> Void) async throws -> Summary {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var summary = Summary()
        let total = data.count
        // Decode in chunks of whole lines (NDJSON, capture) so memory stays flat on big files;
        // a JSON array is decoded whole, as its structure demands.
        var chunks: [(range: Range<Int>, firstIndex: Int)] = []
        if format == .json {
            chunks = [(0..<total, 0)]
        } else {
            var start = 0
            var line = 0
            var linesInChunk = 0
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                for i in 0..<total where bytes[i] == 0x0A {
                    linesInChunk += 1
                    if linesInChunk == batchSize {
                        chunks.append((start..<(i + 1), line))
                        line += linesInChunk
                        linesInChunk = 0
                        start = i + 1
                    }
                }
            }
            if start < total { chunks.append((start..<total, line)) }
        }
        for chunk in chunks {
            let decoded: DecodedRecords = try data[chunk.range].withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                switch format {
                case .json:
                    do { return try RecordDecoder.decodeJSONArray(bytes) } catch let error as BodySyntaxError {
                        throw FileIngestError(message: "\(path): not a JSON array of records: \(error.reason) at byte \(error.offset)")
                    }
                case .ndjson: return RecordDecoder.decodeNDJSON(bytes)
                case .capture: return CaptureDecoder.decodeJSONL(bytes, endpoint: endpoint, variant: variant)
                }
            }
            summary.rejected += decoded.rejected.map { (chunk.firstIndex + $0.index, $0.field, $0.error) }
            var batchStart = 0
            while batchStart < decoded.records.count {
                let batchEnd = min(batchStart + batchSize, decoded.records.count)
                let batch = Array(decoded.records[batchStart..<batchEnd])
                switch destination {
                case .server(let client):
                    let answer = try await client.postRecords(ndjson: RecordEncoder.encodeNDJSON(batch))
                    summary.accepted += answer.accepted
                    summary.duplicates += answer.duplicates.count
                    summary.rejected += answer.rejected.map { (chunk.firstIndex + decoded.indices[batchStart + $0.index], $0.field, $0.error) }
                case .dataFolder:
                    let outcome = try await store!.insert(batch)
                    summary.accepted += outcome.accepted
                    summary.duplicates += outcome.duplicates.count
                }
                batchStart = batchEnd
            }
            progress(chunk.range.upperBound, total)
        }
        summary.rejected.sort { $0.index < $1.index }
        return summary
    }
}

/// A file that cannot be ingested at all.
public struct FileIngestError: Error, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
