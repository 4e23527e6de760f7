/// An incremental parser for Server-Sent Events (the WHATWG `text/event-stream` rules), fed with
/// bytes exactly as the network delivers them.
///
/// Events may be split across chunks anywhere, even between the CR and LF of one line ending.
/// Lines end with LF, CRLF or CR; `:` lines are comments; `data` lines accumulate with `\n`
/// between them; a blank line ends a *block*. Feed bytes with `parse(_:from:)` until it reports a
/// finished block, read `data`/`event` (and `raw` when `keepsRaw`), then call `reset()`.
///
/// With `keepsRaw` the parser also keeps every byte of the current block as received (its lines,
/// comments and terminators), so a relay can pass a block on unchanged, edit it, or drop it.
struct SSEParser {
    /// The event's data: its `data` lines joined with `\n`.
    private(set) var data: [UInt8] = []
    /// The event's type (`event:` field); empty when the block had none.
    private(set) var event: [UInt8] = []
    /// How many `data` lines the block had (0: a block of comments only, or an empty one).
    private(set) var dataLines = 0
    /// Every byte of the current block as received, when `keepsRaw`.
    private(set) var raw: [UInt8] = []
    /// Whether `raw` is kept.
    let keepsRaw: Bool

    private var line: [UInt8] = []
    private var afterCR = false
    private var atStreamStart = true

    init(keepsRaw: Bool) {
        self.keepsRaw = keepsRaw
        data.reserveCapacity(512)
        if keepsRaw { raw.reserveCapacity(512) }
    }

    /// Whether the finished block carries an event (at least one `data` line).
    var hasEvent: Bool { dataLines > 0 }

    /// Forgets the finished block; call after reading it.
    mutating func reset() {
        data.removeAll(keepingCapacity: true)
        event.removeAll(keepingCapacity: true)
        raw.removeAll(keepingCapacity: true)
        dataLines = 0
    }

    /// Parses from `start` until a block ends (returns the offset after its blank line and true)
    /// or the bytes run out (returns `bytes.count` and false; the partial block is kept).
    mutating func parse(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (next: Int, blockEnded: Bool) {
        var i = start
        let n = bytes.count
        if atStreamStart, i < n {
            // A leading byte-order mark is not part of the first field name.
            if line.isEmpty, n - i >= 3, bytes[i] == 0xEF, bytes[i + 1] == 0xBB, bytes[i + 2] == 0xBF {
                if keepsRaw { raw.append(contentsOf: bytes[i..<(i + 3)]) }
                i += 3
            }
            atStreamStart = false
        }
        while i < n {
            if afterCR {
                afterCR = false
                if bytes[i] == 0x0A {
                    if keepsRaw { raw.append(0x0A) }
                    i += 1
                    continue
                }
            }
            // Find the end of the line.
            var j = i
            while j < n, bytes[j] != 0x0A, bytes[j] != 0x0D { j += 1 }
            if j == n {
                line.append(contentsOf: bytes[i..<n])
                if keepsRaw { raw.append(contentsOf: bytes[i..<n]) }
                return (n, false)
            }
            let terminator = bytes[j]
            if keepsRaw { raw.append(contentsOf: bytes[i...j]) }
            let blank: Bool
            if line.isEmpty {
                blank = j == i
                if !blank { process(UnsafeRawBufferPointer(rebasing: bytes[i..<j])) }
            } else {
                line.append(contentsOf: bytes[i..<j])
                blank = false
                line.withUnsafeBytes { process($0) }
                line.removeAll(keepingCapacity: true)
            }
            i = j + 1
            if terminator == 0x0D {
                if i < n {
                    if bytes[i] == 0x0A {
                        if keepsRaw { raw.append(0x0A) }
                        i += 1
                    }
                } else {
                    afterCR = true
                }
            }
            if blank {
                if !data.isEmpty, data.last == 0x0A { data.removeLast() }
                return (i, true)
            }
        }
        return (i, false)
    }

    /// At the end of the stream: treats an unterminated last line as complete and reports whether
    /// an event without its closing blank line is pending (lenient: the bytes arrived, so they count).
    mutating func finish() -> Bool {
        if !line.isEmpty {
            line.withUnsafeBytes { process($0) }
            line.removeAll(keepingCapacity: true)
        }
        if !data.isEmpty, data.last == 0x0A { data.removeLast() }
        return dataLines > 0
    }

    private mutating func process(_ line: UnsafeRawBufferPointer) {
        guard let first = line.first, first != UInt8(ascii: ":") else { return }
        var colon = 0
        while colon < line.count, line[colon] != UInt8(ascii: ":") { colon += 1 }
        var valueStart = min(colon + 1, line.count)
        if valueStart < line.count, line[valueStart] == 0x20 { valueStart += 1 }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<line.count])
        if Self.equals(name, "data") {
            data.append(contentsOf: value)
            data.append(0x0A)
            dataLines += 1
        } else if Self.equals(name, "event") {
            event.removeAll(keepingCapacity: true)
            event.append(contentsOf: value)
        }
        // `id` and `retry` mean nothing to a meter; unknown fields are ignored, as the rules say.
    }

    @inline(__always) private static func equals(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        for k in 0..<bytes.count where bytes[k] != word.utf8Start[k] { return false }
        return true
    }
}
