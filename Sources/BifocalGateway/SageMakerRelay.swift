import BifocalCore
import NIOCore

/// Relays the SageMaker runtime API's response stream (`application/vnd.amazon.eventstream`):
/// every buffer goes to the client exactly as it arrived, while the frames are decoded beside it to
/// time the `PayloadPart` events that carry generated content and to notice exceptions.
struct SageMakerEventStreamRelay: ResponseRelay {
    var meter: SageMakerStreamMeter
    var decoder = EventStreamDecoder()
    var invokedVariant: String?
    /// An exception event, or a framing error (the bytes still go to the client unchanged).
    var streamError: (status: RecordStatus, message: String)?
    /// The frames could not be decoded: the rest is passed on without being read.
    var broken = false

    init(meter: SageMakerStreamMeter, invokedVariant: String?) {
        self.meter = meter
        self.invokedVariant = invokedVariant
    }

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        guard !broken else { return .forward }
        decoder.feed(buffer)
        drain(at: time)
        return .forward
    }

    private mutating func drain(at time: Int64) {
        while true {
            let message: EventStreamMessage?
            do {
                message = try decoder.next()
            } catch {
                broken = true
                streamError = (.serverError, "malformed event stream from SageMaker: \(error)")
                return
            }
            guard let message else { return }
            switch message.messageType {
            case "event":
                if message.eventType == "PayloadPart" {
                    message.payload.withUnsafeBytes { meter.feed($0, at: time) }
                }
            case "exception", "error":
                let kind = message.exceptionType ?? message.string(":error-code") ?? "error"
                let body = message.payload.withUnsafeBytes { SageMakerPayload.readModelError($0) }
                let text = body.message ?? message.string(":error-message") ?? String(decoding: message.payload.prefix(512), as: UTF8.self)
                let code = body.errorCode.map { " (\($0))" } ?? ""
                // A model that failed mid-answer is the model's error; the runtime's own failure is the server's.
                streamError = (kind == "ModelStreamError" ? .modelError : .serverError, "\(kind)\(code): \(text)")
            default:
                break
            }
        }
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        meter.finish(at: time)
        if !broken, streamError == nil, decoder.bufferedByteCount > 0 {
            streamError = (.serverError, "the SageMaker event stream ended inside a frame (\(decoder.bufferedByteCount) bytes left)")
        }
        return nil
    }

    func fill(_ record: inout InferenceRecord, end: Int64) {
        meter.fill(&record, end: end)
        if let invokedVariant { record.variant = invokedVariant }
        if let streamError {
            record.error = streamError.message
            if record.status == .ok || record.status == .modelError { record.status = streamError.status }
        }
    }

    var capturedText: [UInt8] { meter.text }
}

/// Stands in for the runtime API in front of a container (`sagemaker-container` kind, stream
/// route): each chunk the container sends becomes one `PayloadPart` frame, as SageMaker frames them,
/// and is measured on its way.
struct SageMakerWrappingRelay: ResponseRelay {
    var meter: SageMakerStreamMeter
    static let headers = [
        EventStreamHeader(":event-type", .string("PayloadPart")),
        EventStreamHeader(":content-type", .string("application/octet-stream")),
        EventStreamHeader(":message-type", .string("event")),
    ]

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        guard buffer.readableBytes > 0 else { return .hold }
        meter.feed(buffer, at: time)
        let frame = EventStreamCodec.encode(EventStreamMessage(headers: Self.headers, payload: Array(buffer.readableBytesView)))
        return .send(ByteBuffer(bytes: frame))
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        meter.finish(at: time)
        return nil
    }

    func fill(_ record: inout InferenceRecord, end: Int64) { meter.fill(&record, end: end) }

    var capturedText: [UInt8] { meter.text }
}

/// A container's own stream passed through unchanged (`/invocations` answered in pieces), measured.
struct SageMakerRawStreamRelay: ResponseRelay {
    var meter: SageMakerStreamMeter

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        meter.feed(buffer, at: time)
        return .forward
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        meter.finish(at: time)
        return nil
    }

    func fill(_ record: inout InferenceRecord, end: Int64) { meter.fill(&record, end: end) }

    var capturedText: [UInt8] { meter.text }
}

/// A whole SageMaker answer (or an error): forwarded as it comes, read once at the end for tokens,
/// finish reason and text, or for the error (`ModelError` with its `OriginalStatusCode`).
struct SageMakerBodyRelay: ResponseRelay {
    let timer: TokenTimer
    let status: Int
    /// Whether a 424 means the runtime API's `ModelError` (kind `sagemaker`).
    let runtimeAPI: Bool
    let capturing: Bool
    let captureLimit: Int
    var invokedVariant: String?
    private var kept: [UInt8] = []
    private var total = 0
    private var facts = SageMakerPayload.Body()
    private var modelError: SageMakerPayload.ModelError?
    private var errorText: String?
    private var text: [UInt8] = []
    private let keepLimit: Int

    init(timer: TokenTimer, status: Int, runtimeAPI: Bool, captureLimit: Int?, invokedVariant: String?) {
        self.timer = timer
        self.status = status
        self.runtimeAPI = runtimeAPI
        self.capturing = captureLimit != nil
        self.captureLimit = captureLimit ?? 0
        self.invokedVariant = invokedVariant
        keepLimit = status >= 400 ? 64 * 1024 : 4 * 1024 * 1024
    }

    mutating func consume(_ buffer: ByteBuffer, at time: Int64) -> RelayOutput {
        total += buffer.readableBytes
        if kept.count < keepLimit {
            kept.append(contentsOf: buffer.readableBytesView.prefix(keepLimit - kept.count))
        }
        return .forward
    }

    mutating func end(at time: Int64) -> ByteBuffer? {
        kept.withUnsafeBytes { bytes in
            if status >= 400 {
                let e = SageMakerPayload.readModelError(bytes)
                if status == 424 && runtimeAPI { modelError = e }
                errorText = e.message ?? {
                    let t = String(decoding: bytes.prefix(512), as: UTF8.self).trimmingWhitespace
                    return t.isEmpty ? nil : t
                }()
            } else if total <= keepLimit {
                facts = SageMakerPayload.readBody(bytes, capturing: capturing)
                if capturing, let t = facts.text { text = Array(t.utf8.prefix(captureLimit)) }
            }
        }
        return nil
    }

    func fill(_ record: inout InferenceRecord, end: Int64) {
        timer.fill(&record, end: end)
        record.streaming = false
        if let invokedVariant { record.variant = invokedVariant }
        if let m = facts.model { record.model = m }
        if let f = facts.finishReason { record.finishReason = f }
        record.inputTokens = facts.inputTokens ?? record.inputTokens
        record.outputTokens = facts.outputTokens ?? record.outputTokens
        if let modelError {
            // The container answered with an error; the runtime API says so with 424.
            record.status = .modelError
            if let original = modelError.originalStatusCode { record.labels["original_status_code"] = String(original) }
        }
        if let errorText { record.error = errorText } else if let e = facts.error, status >= 400 { record.error = e }
    }

    var capturedText: [UInt8] { text }
}
