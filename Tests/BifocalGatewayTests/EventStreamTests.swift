import BifocalGateway
import Foundation
import Testing

/// botocore's view of a message: headers by name as `{"bool"|"int"|"bytes"|"string": value}`.
func botocoreView(_ m: EventStreamMessage) -> [String: Any] {
    var headers: [String: Any] = [:]
    for h in m.headers {
        switch h.value {
        case let .bool(b): headers[h.name] = ["bool": b]
        case let .byte(v): headers[h.name] = ["int": Int64(v)]
        case let .short(v): headers[h.name] = ["int": Int64(v)]
        case let .integer(v): headers[h.name] = ["int": Int64(v)]
        case let .long(v), let .timestamp(v): headers[h.name] = ["int": v]
        case let .bytes(b), let .uuid(b): headers[h.name] = ["bytes": SigV4Crypto.hex(b)]
        case let .string(s): headers[h.name] = ["string": s]
        }
    }
    return ["headers": headers, "payloadHex": SigV4Crypto.hex(m.payload)]
}

/// Compares our view with botocore's, through JSON so that numbers compare by value.
func sameView(_ ours: [String: Any], _ theirs: [String: Any]) -> Bool {
    func canon(_ v: Any) -> String {
        let data = try! JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
    let keep = ["headers", "payloadHex"]
    return canon(ours.filter { keep.contains($0.key) }) == canon(theirs.filter { keep.contains($0.key) })
}

/// A header from the generator's `{"name", "type", "value"}` form.
func header(fromSpec s: [String: Any]) -> EventStreamHeader {
    let name = s["name"] as! String
    let v = s["value"]
    let n = (v as? NSNumber)?.int64Value ?? 0
    switch s["type"] as! String {
    case "true": return EventStreamHeader(name, .bool(true))
    case "false": return EventStreamHeader(name, .bool(false))
    case "byte": return EventStreamHeader(name, .byte(Int8(n)))
    case "short": return EventStreamHeader(name, .short(Int16(n)))
    case "integer": return EventStreamHeader(name, .integer(Int32(n)))
    case "long": return EventStreamHeader(name, .long(n))
    case "timestamp": return EventStreamHeader(name, .timestamp(n))
    case "bytes": return EventStreamHeader(name, .bytes(hexBytes(v as! String)))
    case "uuid": return EventStreamHeader(name, .uuid(hexBytes(v as! String)))
    default: return EventStreamHeader(name, .string(v as! String))
    }
}

/// Feeds `bytes` in pieces of the given sizes (cycled) and collects what comes out.
func decodeInPieces(_ bytes: [UInt8], sizes: [Int]) throws -> [EventStreamMessage] {
    var decoder = EventStreamDecoder()
    var out: [EventStreamMessage] = []
    var i = 0
    var k = 0
    while i < bytes.count {
        let n = max(1, sizes[k % sizes.count]); k += 1
        decoder.feed(bytes[i..<min(bytes.count, i + n)])
        i += n
        out += try decoder.nextAll()
    }
    #expect(decoder.bufferedByteCount == 0)
    return out
}

@Suite("AWS event stream")
struct EventStreamTests {
    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: gatewayCapture(name))) as! [String: Any]
    }

    @Test func crc32() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        let whole = CRC32.checksum(Array("hello world".utf8))
        #expect(CRC32.checksum(Array(" world".utf8), previous: CRC32.checksum(Array("hello".utf8))) == whole)
    }

    /// AWS's vectors from botocore's unit tests: each decodes to what botocore says, and encodes
    /// back to the same bytes.
    @Test func awsPositiveVectors() throws {
        let vectors = try Self.json("eventstream-aws-vectors.json")
        let positive = vectors["positive"] as! [[String: Any]]
        #expect(positive.count == 9)
        var all: [UInt8] = []
        var expected: [[String: Any]] = []
        for v in positive {
            let frame = hexBytes(v["frameHex"] as! String)
            var d = EventStreamDecoder()
            d.feed(frame)
            let messages = try d.nextAll()
            #expect(messages.count == 1, "\(v["name"]!)")
            guard let m = messages.first else { continue }
            #expect(sameView(botocoreView(m), v["botocore"] as! [String: Any]), "\(v["name"]!): \(botocoreView(m))")
            #expect(EventStreamCodec.encode(m) == frame, "\(v["name"]!) re-encodes")
            all += frame
            expected.append(v["botocore"] as! [String: Any])
        }
        // All of them in one stream, split every way.
        for sizes in [[1], [2], [3], [5, 1, 17], [7], [11, 2], [1000]] {
            let got = try decodeInPieces(all, sizes: sizes)
            #expect(got.count == expected.count)
            for (m, e) in zip(got, expected) { #expect(sameView(botocoreView(m), e)) }
        }
    }

    @Test func awsNegativeVectors() throws {
        let vectors = try Self.json("eventstream-aws-vectors.json")
        var seen: [String: EventStreamError] = [:]
        for v in vectors["negative"] as! [[String: Any]] {
            let name = v["name"] as! String
            var frame = hexBytes(v["frameHex"] as! String)
            if name == "INVALID_PAYLOAD_LENGTH" {
                // 24 MiB + 1 of "0": built here rather than committed.
                frame = hexBytes(v["preludeHex"] as! String)
                frame += [UInt8](repeating: 0x30, count: v["payloadLength"] as! Int)
                frame += hexBytes(v["crcHex"] as! String)
            }
            var d = EventStreamDecoder()
            d.feed(frame)
            do {
                _ = try d.next()
                Issue.record("\(name) decoded")
            } catch {
                seen[name] = error
                // The decoder stays failed.
                #expect(throws: EventStreamError.self) { _ = try d.next() }
            }
        }
        func kind(_ e: EventStreamError?) -> String {
            switch e {
            case .preludeChecksumMismatch?: "prelude"
            case .messageChecksumMismatch?: "message"
            case .headersTooLong?: "headers"
            case .payloadTooLong?: "payload"
            case .duplicateHeader?: "duplicate"
            default: "other \(String(describing: e))"
            }
        }
        // botocore's exception for each: ChecksumMismatch (prelude or message), DuplicateHeader,
        // InvalidHeadersLength, InvalidPayloadLength.
        #expect(kind(seen["CORRUPTED_LENGTH"]) == "prelude")
        #expect(kind(seen["CORRUPTED_HEADER_LENGTH"]) == "prelude")
        #expect(kind(seen["CORRUPTED_PAYLOAD"]) == "message")
        #expect(kind(seen["CORRUPTED_HEADERS"]) == "message")
        #expect(kind(seen["DUPLICATE_HEADER"]) == "duplicate")
        #expect(kind(seen["INVALID_HEADERS_LENGTH"]) == "headers")
        #expect(kind(seen["INVALID_PAYLOAD_LENGTH"]) == "payload")
    }

    /// Frames built by an independent Python encoder and accepted by botocore: same decoding as
    /// botocore's, and our encoder makes the same bytes from the same headers and payload.
    static func checkGenerated(_ data: [String: Any]) throws -> Int {
        let messages = data["messages"] as! [[String: Any]]
        for m in messages {
            let name = m["name"] as! String
            let frame = hexBytes(m["frameHex"] as! String)
            let decoded = try decodeInPieces(frame, sizes: [3, 1, 8])
            #expect(decoded.count == 1, "\(name)")
            if let d = decoded.first { #expect(sameView(botocoreView(d), m["botocore"] as! [String: Any]), "\(name)") }
            let built = EventStreamMessage(headers: (m["headers"] as! [[String: Any]]).map(header(fromSpec:)),
                                           payload: hexBytes(((m["botocore"] as! [String: Any])["payloadHex"] as! String)))
            #expect(EventStreamCodec.encode(built) == frame, "\(name) encodes to the same bytes")
        }
        // Whole SageMaker response streams, and what botocore's operation parser made of them.
        for s in data["streams"] as! [[String: Any]] {
            let bytes = (s["framesHex"] as! [String]).flatMap(hexBytes)
            let parsed = s["parsed"] as! [[String: Any]]
            for sizes in [[1], [4, 9], [13], [64]] {
                let got = try decodeInPieces(bytes, sizes: sizes)
                #expect(got.count == parsed.count)
                for (m, p) in zip(got, parsed) {
                    if let part = p["PayloadPart"] as? String {
                        #expect(m.messageType == "event" && m.eventType == "PayloadPart")
                        #expect(SigV4Crypto.hex(m.payload) == part)
                    } else {
                        #expect(m.messageType == "exception" && m.exceptionType == (p["code"] as? String))
                    }
                }
            }
        }
        return messages.count
    }

    @Test func botocoreCapture() throws {
        #expect(try Self.checkGenerated(Self.json("eventstream-botocore.json")) == 18)
    }

    /// `.ci/interop-sagemaker`: a fresh generated set in, and Swift-encoded frames out for botocore to decode.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIFOCAL_EVENTSTREAM_CASES"] != nil))
    func botocoreLive() throws {
        let env = ProcessInfo.processInfo.environment
        let data = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: env["BIFOCAL_EVENTSTREAM_CASES"]!))) as! [String: Any]
        let n = try Self.checkGenerated(data)
        print("eventstream-live: \(n) botocore-checked frames decoded")
        guard let outPath = env["BIFOCAL_EVENTSTREAM_OUT"] else { return }
        var rng = SplitMix(seed: UInt64(env["BIFOCAL_EVENTSTREAM_SEED"] ?? "1") ?? 1)
        var out: [[String: Any]] = []
        for i in 0..<60 {
            let m = Self.randomMessage(&rng)
            var view = botocoreView(m)
            view["name"] = "swift-\(i)"
            view["frameHex"] = SigV4Crypto.hex(EventStreamCodec.encode(m))
            view["expectHeaders"] = view.removeValue(forKey: "headers")
            out.append(view)
        }
        let json = try JSONSerialization.data(withJSONObject: ["messages": out], options: [.sortedKeys])
        try json.write(to: URL(fileURLWithPath: outPath))
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func randomMessage(_ rng: inout SplitMix) -> EventStreamMessage {
        var headers: [EventStreamHeader] = []
        let letters = Array("abcdefghijklmnopqrstuvwxyz:-")
        for k in 0..<rng.below(9) {
            let name = "\(k)" + String((0..<rng.below(12)).map { _ in letters[rng.below(letters.count)] })
            let value: EventStreamHeader.Value
            switch rng.below(10) {
            case 0: value = .bool(true)
            case 1: value = .bool(false)
            case 2: value = .byte(Int8(truncatingIfNeeded: rng.next()))
            case 3: value = .short(Int16(truncatingIfNeeded: rng.next()))
            case 4: value = .integer(Int32(truncatingIfNeeded: rng.next()))
            case 5: value = .long(Int64(bitPattern: rng.next()))
            case 6: value = .bytes((0..<rng.below(50)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            case 7: value = .string(String((0..<rng.below(30)).map { _ in Array("aé✓ \"\\\nZ")[rng.below(8)] }))
            case 8: value = .timestamp(Int64(rng.below(1 << 45)))
            default: value = .uuid((0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            }
            headers.append(EventStreamHeader(name, value))
        }
        let payload = (0..<[0, 1, 17, 300, 5000][rng.below(5)]).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return EventStreamMessage(headers: headers, payload: payload)
    }

    @Test func roundTripsAtEverySplit() throws {
        var rng = SplitMix(seed: 42)
        let messages = (0..<25).map { _ in Self.randomMessage(&rng) }
        let stream = messages.flatMap(EventStreamCodec.encode)
        for sizes in [[1], [2, 3], [16], [12], [100, 1], [4096]] {
            #expect(try decodeInPieces(stream, sizes: sizes) == messages)
        }
    }

    @Test func partialMessagesWaitAndLimitsHold() throws {
        var d = EventStreamDecoder()
        let frame = EventStreamCodec.encode(EventStreamMessage(headers: [EventStreamHeader(":event-type", .string("PayloadPart"))],
                                                               payload: Array("abc".utf8)))
        d.feed(frame.prefix(11))
        #expect(try d.next() == nil)
        d.feed(frame[11..<(frame.count - 1)])
        #expect(try d.next() == nil)
        #expect(d.bufferedByteCount == frame.count - 1)
        d.feed(frame.suffix(1))
        #expect(try d.next()?.eventType == "PayloadPart")
        #expect(try d.next() == nil)
        // A total length below 16 is refused as soon as the prelude is in.
        var bad: [UInt8] = [0, 0, 0, 8, 0, 0, 0, 0]
        let crc = CRC32.checksum(bad)
        bad += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        var e = EventStreamDecoder()
        e.feed(bad)
        #expect(throws: EventStreamError.invalidTotalLength(8)) { _ = try e.next() }
    }

    @Test func sageMakerAccessors() {
        let m = EventStreamMessage(headers: [
            EventStreamHeader(":message-type", .string("exception")),
            EventStreamHeader(":exception-type", .string("ModelStreamError")),
            EventStreamHeader(":content-type", .string("application/json")),
        ], payload: Array(#"{"Message":"x","ErrorCode":"StreamBroken"}"#.utf8))
        #expect(m.messageType == "exception" && m.exceptionType == "ModelStreamError" && m.eventType == nil)
        #expect(m.string(":content-type") == "application/json")
    }
}
