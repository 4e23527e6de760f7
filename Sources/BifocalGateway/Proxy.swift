import AsyncHTTPClient
import BifocalCore
import Hummingbird
import HTTPTypes
import NIOCore
import NIOHTTP1

extension Gateway {
    /// Complete bodies up to this size are read whole before answering (one write to the client);
    /// streams and larger bodies are passed on as they arrive.
    static let wholeBodyLimit = 4 * 1024 * 1024

    /// Sends a request upstream and relays the answer, measuring it with the relay `makeRelay`
    /// builds once the response head is in (told whether the body is a stream). The record is
    /// finished and queued when the answer is complete, whatever happened.
    ///
    /// - Streams (`text/event-stream`, or `isStream` says so) go to the client buffer by buffer as
    ///   they arrive. A client that goes away is noticed when a write to it fails (at the latest on
    ///   the next event): the upstream request is then cancelled and the record says `cancelled`.
    ///   The connection is not watched otherwise: Hummingbird's inbound-close watch closes the
    ///   connection after the answer, and the reconnects that forced cost a 256-stream burst about
    ///   37 ms of TTFT at p99 (BENCHMARKS.md), so streamed answers keep the connection alive.
    /// - Complete bodies with a known length up to 4 MiB are read whole and answered in one write;
    ///   others are passed on as they arrive.
    /// - Upstream 4xx/5xx answers are passed on verbatim; a connection failure is 502, a timeout 504.
    func proxy(
        exchange: Exchange,
        upstream: Upstream,
        method: HTTPMethod,
        path: String,
        headers: HTTPHeaders,
        body: ByteBuffer,
        isStream: (@Sendable (HTTPClientResponse) -> Bool)? = nil,
        makeRelay: (HTTPClientResponse, Bool) -> any ResponseRelay
    ) async -> Response {
        var exchange = exchange
        let response: HTTPClientResponse
        let base: UpstreamURL
        do {
            (response, base) = try await upstream.send(method: method, path: path, headers: headers, body: body)
        } catch {
            return failed(&exchange, error)
        }
        if exchange.record.instance == nil { exchange.record.instance = base.authority }
        let code = Int(response.status.code)
        exchange.record.httpStatus = code
        exchange.record.status = Self.recordStatus(httpStatus: code)
        if let queue = response.headers.first(name: "x-queue-time"), let ms = Double(queue), ms >= 0 {
            exchange.record.queueMs = ms  // TGI reports its queue time in milliseconds
        }
        let streaming = code < 400 && (isStream?(response) ?? Self.isEventStream(response.headers))
        var relay = makeRelay(response, streaming)
        let length = response.headers.first(name: "content-length").flatMap { Int($0) }

        if !streaming, let length, length <= Self.wholeBodyLimit {
            // A complete answer: read it whole, answer in one write.
            let whole: ByteBuffer
            do {
                whole = try await response.body.collect(upTo: Self.wholeBodyLimit)
            } catch {
                return failed(&exchange, error)
            }
            let end = clock.now()
            if whole.readableBytes > 0 { _ = relay.consume(whole, at: end) }
            _ = relay.end(at: end)
            relay.fill(&exchange.record, end: end)
            finish(exchange, response: relay.capturedText)
            let fields = Self.responseHeaders(response.headers, keepLength: true, recordId: exchange.record.id)
            return Response(status: .init(code: code, reasonPhrase: response.status.reasonPhrase), headers: fields,
                            body: .init(byteBuffer: whole))
        }

        // Streamed, or too large to hold: pass each buffer on as it arrives. The relay may edit a
        // stream, so a stream's length is not passed on.
        var fields = Self.responseHeaders(response.headers, keepLength: !streaming, recordId: exchange.record.id)
        let upstreamBody = response.body
        let finalExchange = exchange
        let relayBox = relay
        let bodyLength = streaming ? nil : length
        return Response(
            status: .init(code: code, reasonPhrase: response.status.reasonPhrase),
            headers: fields,
            body: ResponseBody(contentLength: bodyLength) { writer in
                try await self.pump(upstreamBody, relay: relayBox, exchange: finalExchange, writer: &writer)
            }
        )
    }

    /// Relays the upstream body to the client, then finishes the record. Throws when the answer
    /// could not be completed, so the server aborts the response instead of ending it cleanly.
    private func pump(_ body: HTTPClientResponse.Body, relay: any ResponseRelay, exchange: Exchange,
                      writer: inout any ResponseBodyWriter) async throws {
        var relay = relay
        var exchange = exchange
        enum Outcome { case complete, clientGone, upstream(UpstreamFailure) }
        var outcome = Outcome.complete
        // Whether the stream's terminal event has been written to the client.
        var deliveredTerminal = false
        do {
            // The iterator lives only in this scope: dropping it cancels the upstream request.
            var iterator = body.makeAsyncIterator()
            while true {
                let next: ByteBuffer?
                do {
                    next = try await iterator.next()
                } catch {
                    outcome = Task.isCancelled ? .clientGone : .upstream(Upstream.classify(error, base: nil))
                    break
                }
                guard let buffer = next else { break }
                let time = clock.now()
                do {
                    switch relay.consume(buffer, at: time) {
                    case .forward: try await writer.write(buffer)
                    case .send(let edited): try await writer.write(edited)
                    case .hold: break
                    }
                    deliveredTerminal = relay.sawTerminalEvent
                } catch {
                    outcome = .clientGone
                    break
                }
            }
        }
        let end = clock.now()
        let rest = relay.end(at: end)
        relay.fill(&exchange.record, end: end)
        // A client that hangs up after it got the terminal event had the whole answer.
        if case .clientGone = outcome, deliveredTerminal { outcome = .complete }
        if case .upstream(.cancelled) = outcome, deliveredTerminal { outcome = .complete }
        switch outcome {
        case .complete:
            do {
                if let rest { try await writer.write(rest) }
                try await writer.finish(nil)
            } catch where !deliveredTerminal {
                exchange.record.status = .cancelled
                exchange.record.error = "the client went away before the answer was complete"
            } catch {
                // The answer was complete; the client just left first.
            }
        case .clientGone:
            exchange.record.status = .cancelled
            exchange.record.error = "the client went away before the answer was complete"
        case .upstream(let failure):
            switch failure {
            case .timeout(let message):
                exchange.record.status = .timeout
                exchange.record.error = message
            case .cancelled:
                exchange.record.status = .cancelled
                exchange.record.error = "the client went away before the answer was complete"
            case .unreachable(let message), .hungUp(let message), .misconfigured(let message):
                exchange.record.status = .serverError
                exchange.record.error = "the upstream failed mid-answer: \(message)"
            }
        }
        finish(exchange, response: relay.capturedText)
        if case .complete = outcome { return }
        throw CancellationError()
    }

    /// The gateway's own answer when no upstream response came: 502, 504, or (client gone) 499.
    func failed(_ exchange: inout Exchange, _ error: any Error) -> Response {
        let failure = (error as? UpstreamFailure) ?? Upstream.classify(error, base: nil)
        switch failure {
        case .timeout(let message):
            return reject(&exchange, status: .gatewayTimeout, message: message, type: "server_error", code: "upstream_timeout")
        case .unreachable(let message), .hungUp(let message):
            return reject(&exchange, status: .badGateway, message: message, type: "server_error", code: "upstream_unreachable")
        case .misconfigured(let message):
            return reject(&exchange, status: .badGateway, message: message, type: "server_error", code: "upstream_misconfigured")
        case .cancelled:
            return reject(&exchange, status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                          message: "the client went away before the answer was complete", type: "server_error", code: "cancelled")
        }
    }

    static func isEventStream(_ headers: HTTPHeaders) -> Bool {
        guard let type = headers.first(name: "content-type") else { return false }
        return type.utf8.count >= 17 && type.prefix(17).lowercased() == "text/event-stream"
    }
}
