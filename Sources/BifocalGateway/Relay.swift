import BifocalCore
import NIOCore

/// What a relay wants sent to the client for one upstream buffer.
enum RelayOutput {
    /// The buffer exactly as it arrived (the common case: no copy).
    case forward
    /// Other bytes (an edited stream).
    case send(ByteBuffer)
    /// Nothing yet (an incomplete event is held until it is complete).
    case hold
}

/// Watches a response body go by: measures it, and may edit it.
///
/// One relay serves one response, inside one task; the proxy calls `consume` with each buffer and
/// its arrival time, then `end` once the upstream is done, then `fill` to complete the record.
/// The SageMaker routes plug their own relays (event-stream framing, TGI payloads) into the same proxy.
protocol ResponseRelay: Sendable {
    /// Measures a buffer that arrived at `time` (nanoseconds) and says what the client gets.
    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput
    /// The upstream finished at `time`; returns bytes still held for the client, if any.
    mutating func end(at time: Int64) -> ByteBuffer?
    /// Writes what was measured into the record (timings, tokens, model, finish reason).
    func fill(_ record: inout InferenceRecord, end: Int64)
    /// The generated text kept for a sampled request (empty when not capturing).
    var capturedText: [UInt8] { get }
    /// Whether the stream's terminal event (`data: [DONE]`, `response.completed`) has been read:
    /// once it has reached the client, the answer is complete even if the client hangs up before
    /// the upstream closes (the openai client closes right after `[DONE]`).
    var sawTerminalEvent: Bool { get }
}

extension ResponseRelay {
    /// Relays without a terminal event: only the upstream's end completes the answer.
    var sawTerminalEvent: Bool { false }
}

/// Relays an OpenAI-compatible event stream (chat or text completions, or the Responses API).
///
/// It times every event that carries generated content and reads usage, model and finish reason.
/// When `strips` is set (the gateway, not the client, asked for `include_usage`) it removes what that
/// request added: the top-level `usage` member of every chunk (OpenAI sends `"usage":null` in each)
/// and the final chunk whose `choices` is empty and whose `usage` is an object. Everything else,
/// comments and line endings included, reaches the client byte for byte, in order; an event is held
/// only until its last byte has arrived. Without `strips` the client gets each buffer as it arrived.
struct OpenAIStreamRelay: ResponseRelay {
    let operation: OpenAIOperation
    let strips: Bool
    let capturing: Bool
    var timer: TokenTimer
    var facts = ResponseFacts()
    private var parser: SSEParser
    private var events = 0
    private(set) var sawTerminalEvent = false

    init(operation: OpenAIOperation, strips: Bool, timer: TokenTimer, captureLimit: Int?) {
        self.operation = operation
        self.strips = strips
        self.timer = timer
        self.capturing = captureLimit != nil
        facts.textLimit = captureLimit ?? 0
        parser = SSEParser(keepsRaw: strips)
    }

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        var out: [UInt8] = []
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let (next, ended) = parser.parse(bytes, from: offset)
                offset = next
                if ended {
                    block(at: time, into: &out)
                    parser.reset()
                }
            }
        }
        guard strips else { return .forward }
        // Whole events pass unchanged in the usual case (one event per buffer): no copy then.
        if out.count == buffer.readableBytes && parser.raw.isEmpty,
           buffer.withUnsafeReadableBytes({ $0.elementsEqual(out) }) {
            return .forward
        }
        return out.isEmpty ? .hold : .send(ByteBuffer(bytes: out))
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        var out: [UInt8] = []
        if parser.finish() {
            // An event the upstream never closed with a blank line: measured, and its bytes kept as sent.
            measure(at: time)
        }
        if strips, !parser.raw.isEmpty { out.append(contentsOf: parser.raw) }
        parser.reset()
        return out.isEmpty ? nil : ByteBuffer(bytes: out)
    }

    func fill(_ record: inout InferenceRecord, end: Int64) {
        timer.fill(&record, end: end)
        record.streaming = true
        if let model = facts.model { record.model = model }
        record.finishReason = facts.finishReason ?? record.finishReason
        if let error = facts.error, record.error == nil {
            // An error event inside a 200 stream: the serving stack failed part-way.
            record.error = error
            if record.status == .ok { record.status = .serverError }
        }
        if facts.inputTokens != nil || facts.outputTokens != nil {
            record.inputTokens = facts.inputTokens
            record.outputTokens = facts.outputTokens
        } else if timer.contentChunks > 0 || record.status == .ok {
            // No usage anywhere: one content chunk is about one token.
            record.outputTokens = timer.contentChunks
            record.tokensEstimated = true
        }
    }

    var capturedText: [UInt8] { facts.text }

    /// A block (up to a blank line) is complete: measure it, and in stripping mode decide its bytes.
    private mutating func block(at time: Int64, into out: inout [UInt8]) {
        guard parser.hasEvent else {
            if strips { out.append(contentsOf: parser.raw) }
            return
        }
        let reading = measure(at: time)
        guard strips else { return }
        guard let member = reading?.usageMember else {
            out.append(contentsOf: parser.raw)
            return
        }
        if !reading!.usageIsNull && reading!.choices == 0 {
            return  // the usage chunk only the gateway asked for
        }
        appendRemoving(member, into: &out)
    }

    /// Reads the current event and times it; nil for `[DONE]` and non-JSON data.
    @discardableResult
    private mutating func measure(at time: Int64) -> ChunkReading? {
        events += 1
        let data = parser.data
        guard let first = data.first(where: { $0 != 0x20 && $0 != 0x09 }), first == UInt8(ascii: "{") else {
            if data.elementsEqual("[DONE]".utf8) { sawTerminalEvent = true }
            return nil
        }
        let reading = data.withUnsafeBytes { bytes in
            operation == .responses
                ? ChunkReading.responses(bytes, facts: &facts, capturing: capturing)
                : ChunkReading.chat(bytes, facts: &facts, capturing: capturing)
        }
        if reading.content { timer.content(at: time) }
        return reading
    }

    /// Appends the block's raw bytes with the member (a range of the event's data) and one comma
    /// next to it removed, so the JSON stays valid and everything else stays as it was.
    private func appendRemoving(_ member: Range<Int>, into out: inout [UInt8]) {
        let data = parser.data
        // Widen to a neighbouring comma: `,"usage":null` or `"usage":null,`.
        var cut = member
        var before = member.lowerBound - 1
        while before >= 0, Self.isSpace(data[before]) { before -= 1 }
        if before >= 0, data[before] == UInt8(ascii: ",") {
            cut = before..<member.upperBound
        } else {
            var after = member.upperBound
            while after < data.count, Self.isSpace(data[after]) { after += 1 }
            if after < data.count, data[after] == UInt8(ascii: ",") { cut = member.lowerBound..<(after + 1) }
        }
        let raw = parser.raw
        if parser.dataLines == 1, let valueStart = Self.dataValueStart(in: raw) {
            // The usual case: one `data:` line; cut the member out of it in place.
            out.append(contentsOf: raw[0..<(valueStart + cut.lowerBound)])
            out.append(contentsOf: raw[(valueStart + cut.upperBound)...])
            return
        }
        // Data spread over several lines: keep every other line as it was, write the edited data
        // as `data:` lines where the first data line stood.
        var edited = Array(data[0..<cut.lowerBound])
        edited.append(contentsOf: data[cut.upperBound...])
        var wroteData = false
        var i = 0
        while i < raw.count {
            var j = i
            while j < raw.count, raw[j] != 0x0A, raw[j] != 0x0D { j += 1 }
            var end = j
            if end < raw.count { end += (raw[end] == 0x0D && end + 1 < raw.count && raw[end + 1] == 0x0A) ? 2 : 1 }
            let isData = j - i >= 4 && raw[i] == UInt8(ascii: "d") && raw[i + 1] == UInt8(ascii: "a") && raw[i + 2] == UInt8(ascii: "t")
                && raw[i + 3] == UInt8(ascii: "a") && (j - i == 4 || raw[i + 4] == UInt8(ascii: ":"))
            if isData {
                if !wroteData {
                    wroteData = true
                    let terminator = Array(raw[j..<end])
                    for line in edited.split(separator: 0x0A, omittingEmptySubsequences: false) {
                        out.append(contentsOf: Array("data: ".utf8))
                        out.append(contentsOf: line)
                        out.append(contentsOf: terminator.isEmpty ? [0x0A] : terminator)
                    }
                }
            } else {
                out.append(contentsOf: raw[i..<end])
            }
            i = end
        }
    }

    /// Offset in a raw block where the value of its `data` line starts.
    private static func dataValueStart(in raw: [UInt8]) -> Int? {
        var i = 0
        while i < raw.count {
            var j = i
            while j < raw.count, raw[j] != 0x0A, raw[j] != 0x0D { j += 1 }
            if j - i >= 5, raw[i] == UInt8(ascii: "d"), raw[i + 1] == UInt8(ascii: "a"), raw[i + 2] == UInt8(ascii: "t"),
               raw[i + 3] == UInt8(ascii: "a"), raw[i + 4] == UInt8(ascii: ":") {
                return i + 5 + (i + 5 < j && raw[i + 5] == 0x20 ? 1 : 0)
            }
            i = j + 1
        }
        return nil
    }

    @inline(__always) private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
}

/// Relays a complete (non-streamed) body: forwards it as it comes and reads it once at the end.
///
/// Bodies up to `keepLimit` are kept whole (usually one buffer, kept without a copy); past it only
/// the last 64 KiB are kept and searched for `"usage"`, where OpenAI-compatible servers put it.
struct BodyRelay: ResponseRelay {
    let operation: OpenAIOperation?
    let timer: TokenTimer
    let isError: Bool
    var facts = ResponseFacts()
    private var single: ByteBuffer?
    private var kept: [UInt8] = []
    private var overflowed = false
    private var total = 0
    private let keepLimit: Int
    static let tailBytes = 64 * 1024

    init(operation: OpenAIOperation?, timer: TokenTimer, isError: Bool, captureLimit: Int?, keepLimit: Int = 4 * 1024 * 1024) {
        self.operation = operation
        self.timer = timer
        self.isError = isError
        self.keepLimit = isError ? 64 * 1024 : keepLimit
        facts.textLimit = captureLimit ?? 0
    }

    var capturing: Bool { facts.textLimit > 0 }
    var capturedText: [UInt8] { facts.text }

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        total += buffer.readableBytes
        if total == buffer.readableBytes {
            single = buffer
            return .forward
        }
        if let first = single {
            kept.append(contentsOf: first.readableBytesView)
            single = nil
        }
        if isError {
            // Only the start of an error body is read.
            kept.append(contentsOf: buffer.readableBytesView.prefix(max(0, keepLimit - kept.count)))
        } else {
            kept.append(contentsOf: buffer.readableBytesView)
            if kept.count > keepLimit {
                overflowed = true
                kept.removeFirst(kept.count - min(Self.tailBytes, keepLimit))
            }
        }
        return .forward
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        if let single {
            single.withUnsafeReadableBytes { read($0) }
        } else {
            kept.withUnsafeBytes { read($0) }
        }
        return nil
    }

    private mutating func read(_ whole: UnsafeRawBufferPointer) {
        if isError {
            let bytes = UnsafeRawBufferPointer(rebasing: whole.prefix(keepLimit))
            BodyReading.read(bytes, operation: operation ?? .chat, facts: &facts, capturing: false)
            if facts.error == nil {
                // Not an error JSON: keep the start of the text itself.
                let text = String(decoding: bytes.prefix(512), as: UTF8.self).trimmingWhitespace
                if !text.isEmpty { facts.error = text }
            }
        } else if overflowed || whole.count > keepLimit {
            BodyReading.readUsageInTail(UnsafeRawBufferPointer(rebasing: whole.suffix(Self.tailBytes)), facts: &facts)
        } else {
            BodyReading.read(whole, operation: operation ?? .chat, facts: &facts, capturing: capturing)
        }
    }

    func fill(_ record: inout InferenceRecord, end: Int64) {
        timer.fill(&record, end: end)
        record.streaming = false
        if let model = facts.model { record.model = model }
        if let finish = facts.finishReason { record.finishReason = finish }
        if let error = facts.error, isError { record.error = error }
        record.inputTokens = facts.inputTokens ?? record.inputTokens
        record.outputTokens = facts.outputTokens ?? record.outputTokens
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
