import BifocalCore
internal import Foundation

/// Reads SageMaker AI Data Capture files (JSON Lines, one captured invocation per line) into records
/// with `source = .capture`.
///
/// A line looks like `{"captureData":{"endpointInput":{"observedContentType","mode":"INPUT","data","encoding"},
/// "endpointOutput":{...}},"eventMetadata":{"eventId","inferenceId"?,"inferenceTime"},"eventVersion":"0"}`,
/// where `encoding` is `JSON` (data is the payload text), `CSV` (text) or `BASE64`. Payloads are read as
/// OpenAI-style chat/completions (request `model`, `messages`/`prompt`, `stream`; response `usage`,
/// `choices`, `model`) or TGI/LMI-style (`inputs`, `parameters`; `generated_text`, `details`), streamed
/// responses (SSE `data:` lines or JSON lines) included. Token counts the payload does not report are
/// estimated (about 4 characters a token) and flagged with `tokens_estimated`. Captures carry no timings.
public enum CaptureDecoder {
    /// Decodes capture JSONL. The endpoint, variant and component are not in the lines (they are in the
    /// S3 path), so the caller names them; a line's `eventMetadata.inferenceComponentName`, when present,
    /// wins over `component`. Bad lines are rejected one by one (index = line number - 1).
    public static func decodeJSONL(_ body: UnsafeRawBufferPointer, endpoint: String? = nil, variant: String? = nil, component: String? = nil) -> DecodedRecords {
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        var result = DecodedRecords()
        RecordDecoder.forEachLine(bytes) { line, index in
            var scanner = JSONScanner(line, scratch: ScratchBuffer())
            defer { scanner.scratch.deallocate() }
            scanner.skipByteOrderMark()
            scanner.skipWhitespace()
            if scanner.atEnd { return }
            let value: JSONValue
            do throws(SyntaxFailure) {
                value = try scanner.readValue()
                scanner.skipWhitespace()
                guard scanner.atEnd else { throw scanner.failure("unexpected \(scanner.found()) after the capture (one per line)") }
            } catch {
                result.rejected.append(RecordRejection(index: index, field: nil, error: "invalid JSON: \(error.reason) at byte \(error.offset) of the line"))
                return
            }
            switch record(from: value, endpoint: endpoint, variant: variant, component: component) {
            case .success(let record):
                result.records.append(record)
                result.indices.append(index)
            case .failure(let problem):
                result.rejected.append(RecordRejection(index: index, field: problem.field, error: problem.error))
            }
        }
        return result
    }

    /// Decodes capture JSONL held in any byte collection.
    public static func decodeJSONL(_ body: some Collection<UInt8>, endpoint: String? = nil, variant: String? = nil, component: String? = nil) -> DecodedRecords {
        withContiguousBytes(body) { decodeJSONL($0, endpoint: endpoint, variant: variant, component: component) }
    }

    /// A decoded payload.
    enum Payload {
        /// One JSON document.
        case json(JSONValue)
        /// A stream of JSON chunks (SSE `data:` lines or JSON lines).
        case chunks([JSONValue])
        /// Anything else, as text.
        case text(String)
    }

    static func record(from line: JSONValue, endpoint: String?, variant: String?, component: String?) -> Result<InferenceRecord, RecordProblem> {
        guard line.isObject else { return .failure(RecordProblem(field: nil, error: "expected a capture object, got \(kindName(line))")) }
        guard let meta = line["eventMetadata"], meta.isObject else {
            return .failure(RecordProblem(field: "eventMetadata", error: "required object is missing"))
        }
        guard let timeText = meta["inferenceTime"]?.string else {
            return .failure(RecordProblem(field: "eventMetadata.inferenceTime", error: "expected an RFC 3339 time string"))
        }
        guard let start = Timestamp.parse(timeText) else {
            return .failure(RecordProblem(field: "eventMetadata.inferenceTime", error: "expected an RFC 3339 time, got '\(JSONScanner.clip(timeText))'"))
        }
        guard let capture = line["captureData"], capture.isObject else {
            return .failure(RecordProblem(field: "captureData", error: "required object is missing"))
        }
        var r = InferenceRecord(start: start, source: .capture)
        r.id = (meta["eventId"]?.string ?? meta["inferenceId"]?.string).map { clipped($0, RecordLimits.nameBytes) }
        if let inferenceId = meta["inferenceId"]?.string, meta["eventId"]?.string != nil {
            r.labels["inference_id"] = clipped(inferenceId, RecordLimits.labelBytes)
        }
        r.endpoint = endpoint
        r.variant = variant
        r.component = meta["inferenceComponentName"]?.string ?? component
        r.provider = "sagemaker"

        let input: Payload?
        let output: Payload?
        switch payload(capture["endpointInput"], field: "captureData.endpointInput") {
        case .success(let p): input = p
        case .failure(let problem): return .failure(problem)
        }
        switch payload(capture["endpointOutput"], field: "captureData.endpointOutput") {
        case .success(let p): output = p
        case .failure(let problem): return .failure(problem)
        }

        var requestModel: String?
        var maxNewTokens: Int?
        if let input { readRequest(input, into: &r, requestModel: &requestModel, maxNewTokens: &maxNewTokens) }
        if let output { readResponse(output, into: &r) }
        if r.model == nil { r.model = requestModel }
        r.requestModel = requestModel != r.model ? requestModel : nil
        if r.finishReason == nil, let maxNewTokens, let n = r.outputTokens, n >= maxNewTokens { r.finishReason = "length" }
        if r.inputTokens == nil, let prompt = r.prompt, !prompt.isEmpty {
            r.inputTokens = estimateTokens(prompt)
            r.tokensEstimated = true
        }
        if r.outputTokens == nil, let response = r.response, r.status == .ok {
            r.outputTokens = estimateTokens(response)
            r.tokensEstimated = true
        }
        r.prompt = r.prompt.map { clipped($0, RecordLimits.textBytes) }
        r.response = r.response.map { clipped($0, RecordLimits.textBytes) }
        r.error = r.error.map { clipped($0, RecordLimits.errorBytes) }
        return .success(r)
    }

    /// Decodes `endpointInput` / `endpointOutput`; nil when absent or empty.
    static func payload(_ value: JSONValue?, field: String) -> Result<Payload?, RecordProblem> {
        guard let value, value != .null else { return .success(nil) }
        guard value.isObject else { return .failure(RecordProblem(field: field, error: "expected an object, got \(kindName(value))")) }
        guard let data = value["data"]?.string else {
            if value["data"] == nil || value["data"] == .null { return .success(nil) }
            return .failure(RecordProblem(field: "\(field).data", error: "expected a string, got \(kindName(value["data"]!))"))
        }
        let encoding = value["encoding"]?.string?.uppercased()
        let contentType = value["observedContentType"]?.string?.lowercased() ?? ""
        var bytes: [UInt8]
        if encoding == "BASE64" {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                return .failure(RecordProblem(field: "\(field).data", error: "invalid base64"))
            }
            bytes = [UInt8](decoded)
        } else {
            bytes = Array(data.utf8)
        }
        var first = 0
        while first < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[first]) { first += 1 }
        if first == bytes.count { return .success(nil) }
        let text = { () -> String in String(decoding: bytes, as: UTF8.self) }
        // Streams: SSE (`data: {...}`) or JSON lines.
        if contentType.contains("event-stream") || bytes[first...].starts(with: Array("data:".utf8)) {
            return .success(.chunks(sseChunks(text())))
        }
        let declaredJSON = encoding == "JSON" || contentType.contains("json")
        guard declaredJSON || bytes[first] == UInt8(ascii: "{") || bytes[first] == UInt8(ascii: "[") else {
            return .success(.text(text()))
        }
        let parsed: Result<JSONValue, SyntaxFailure> = bytes.withUnsafeBufferPointer { buffer in
            do throws(SyntaxFailure) { return .success(try JSONScanner.parseDocument(buffer)) } catch { return .failure(error) }
        }
        switch parsed {
        case .success(let json):
            return .success(.json(json))
        case .failure(let error):
            // JSON lines (`application/jsonlines`, LMI streaming): every non-blank line a document.
            let lines = text().split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
            if lines.count > 1 {
                let chunks = lines.compactMap { line in Array(line.utf8).withUnsafeBufferPointer { try? JSONScanner.parseDocument($0) } }
                if chunks.count == lines.count { return .success(.chunks(chunks)) }
            }
            if declaredJSON {
                return .failure(RecordProblem(field: "\(field).data", error: "invalid JSON payload: \(error.reason) at byte \(error.offset)"))
            }
            return .success(.text(text()))
        }
    }

    static func sseChunks(_ text: String) -> [JSONValue] {
        var chunks: [JSONValue] = []
        for line in text.split(whereSeparator: \.isNewline) {
            guard line.hasPrefix("data:") else { continue }
            let body = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
            if body.isEmpty || body == "[DONE]" { continue }
            if let chunk = Array(body.utf8).withUnsafeBufferPointer({ try? JSONScanner.parseDocument($0) }) { chunks.append(chunk) }
        }
        return chunks
    }

    static func readRequest(_ input: Payload, into r: inout InferenceRecord, requestModel: inout String?, maxNewTokens: inout Int?) {
        switch input {
        case .text(let text):
            r.prompt = text
        case .chunks:
            break
        case .json(let request):
            requestModel = request["model"]?.string
            if let stream = request["stream"]?.bool { r.streaming = stream }
            if let messages = request["messages"]?.array {
                r.prompt = renderMessages(messages)
            } else if let prompt = request["prompt"] {
                r.prompt = prompt.string ?? prompt.array?.compactMap(\.string).joined(separator: "\n")
            } else if let inputs = request["inputs"] {
                r.prompt = inputs.string ?? inputs.array?.compactMap(\.string).joined(separator: "\n")
            } else if let text = request["text_inputs"]?.string {
                r.prompt = text
            }
            let parameters = request["parameters"]
            maxNewTokens = parameters?["max_new_tokens"]?.count ?? request["max_tokens"]?.count ?? request["max_completion_tokens"]?.count
        }
    }

    /// One message: its text; several: `role: text` lines.
    static func renderMessages(_ messages: [JSONValue]) -> String {
        func text(of message: JSONValue) -> String {
            guard let content = message["content"] else { return "" }
            if let s = content.string { return s }
            // Content parts: [{"type":"text","text":"..."}, {"type":"image_url",...}]
            return content.array?.compactMap { $0["text"]?.string }.joined(separator: "\n") ?? ""
        }
        if messages.count == 1 { return text(of: messages[0]) }
        return messages.map { "\($0["role"]?.string ?? "user"): \(text(of: $0))" }.joined(separator: "\n")
    }

    static func readResponse(_ output: Payload, into r: inout InferenceRecord) {
        switch output {
        case .text(let text):
            r.response = text
        case .json(let json):
            if let array = json.array {
                // TGI: [{"generated_text": ...}]; LMI batch answers likewise.
                if let first = array.first { readGeneration(first, into: &r) }
                return
            }
            if json["choices"] != nil {
                readOpenAI(json, into: &r)
            } else if json["generated_text"] != nil || json["details"] != nil {
                readGeneration(json, into: &r)
            } else if let error = json["error"] {
                r.status = .modelError
                r.error = error.string ?? error["message"]?.string ?? "model error"
            } else if let text = json["generation"]?.string ?? json["outputs"]?.array?.first?.string {
                r.response = text
            }
        case .chunks(let chunks):
            r.streaming = true
            var text = ""
            var sawText = false
            for chunk in chunks {
                if let model = chunk["model"]?.string { r.model = model }
                if let usage = chunk["usage"], usage.isObject { readUsage(usage, into: &r) }
                if let choice = chunk["choices"]?.array?.first {
                    if let piece = choice["delta"]?["content"]?.string ?? choice["text"]?.string {
                        text += piece
                        sawText = true
                    }
                    if let reason = choice["finish_reason"]?.string { r.finishReason = reason }
                }
                // TGI/LMI streams: {"token":{"text"}, "generated_text": null until the end, "details"}
                if let piece = chunk["token"]?["text"]?.string, chunk["token"]?["special"]?.bool != true {
                    text += piece
                    sawText = true
                }
                if let details = chunk["details"], details.isObject { readDetails(details, into: &r) }
                if let full = chunk["generated_text"]?.string {
                    text = full
                    sawText = true
                }
            }
            if sawText { r.response = text }
        }
    }

    static func readOpenAI(_ json: JSONValue, into r: inout InferenceRecord) {
        if let model = json["model"]?.string { r.model = model }
        if let usage = json["usage"], usage.isObject { readUsage(usage, into: &r) }
        guard let choice = json["choices"]?.array?.first else { return }
        if let message = choice["message"] {
            if let content = message["content"]?.string {
                r.response = content
            } else if let calls = message["tool_calls"]?.array {
                r.response = calls.compactMap { call in
                    call["function"].map { "\($0["name"]?.string ?? "")(\($0["arguments"]?.string ?? ""))" }
                }.joined(separator: "\n")
            }
        } else if let text = choice["text"]?.string {
            r.response = text
        }
        r.finishReason = choice["finish_reason"]?.string
    }

    static func readUsage(_ usage: JSONValue, into r: inout InferenceRecord) {
        if let n = usage["prompt_tokens"]?.count ?? usage["input_tokens"]?.count { r.inputTokens = n }
        if let n = usage["completion_tokens"]?.count ?? usage["output_tokens"]?.count { r.outputTokens = n }
    }

    static func readGeneration(_ json: JSONValue, into r: inout InferenceRecord) {
        if let text = json["generated_text"]?.string { r.response = text }
        if let details = json["details"], details.isObject { readDetails(details, into: &r) }
    }

    /// TGI `details`: generated_tokens, finish_reason (`length`, `eos_token`, `stop_sequence`), prefill.
    static func readDetails(_ details: JSONValue, into r: inout InferenceRecord) {
        if let n = details["generated_tokens"]?.count { r.outputTokens = n }
        if let reason = details["finish_reason"]?.string {
            // TGI's names, in the OpenAI words the rest of Bifocal uses.
            r.finishReason = reason == "eos_token" || reason == "stop_sequence" ? "stop" : reason
        }
        if let prefill = details["prefill"]?.array, !prefill.isEmpty { r.inputTokens = prefill.count }
        if let n = details["prompt_tokens"]?.count ?? details["input_tokens"]?.count { r.inputTokens = n }
    }

    /// About four characters a token (the usual rule of thumb for English with BPE tokenizers); at least 1.
    static func estimateTokens(_ text: String) -> Int {
        max(1, (text.unicodeScalars.count + 3) / 4)
    }

    /// The longest prefix of `text` of at most `limit` UTF-8 bytes, cut between scalars.
    static func clipped(_ text: String, _ limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var bytes = 0
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > limit { break }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    static func kindName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
