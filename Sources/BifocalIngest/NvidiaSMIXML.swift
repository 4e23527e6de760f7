/// A small XML reader for `nvidia-smi -q -x`: elements, attributes, text, the five predefined
/// entities and numeric character references; the prolog, DOCTYPE, comments and processing
/// instructions are skipped, CDATA is text.
///
/// Why not FoundationXML: it pulls libxml2 into the server binary at run time, for a document
/// whose grammar is this simple.
enum MiniXML {
    struct Element {
        var name: String
        var attributes: [String: String] = [:]
        var children: [Element] = []
        var text = ""
        var line: Int

        func child(_ name: String) -> Element? { children.first { $0.name == name } }

        /// The element at a path of child names.
        func element(_ path: [String]) -> Element? {
            var node = self
            for name in path {
                guard let next = node.child(name) else { return nil }
                node = next
            }
            return node
        }

        /// The trimmed text at a path, nil when absent, empty or a "not available" marker.
        func value(_ path: String...) -> String? {
            guard let node = element(path) else { return nil }
            let text = NvidiaSMI.trimmed(node.text)
            return NvidiaSMI.isUnavailable(text) || text == "None" || text.hasPrefix("Requested functionality") ? nil : text
        }

        /// The number at a path (`12 MiB` → 12), nil when not available; an error when it is text.
        func number(_ path: String...) throws(NvidiaSMI.ParseError) -> Double? {
            guard let node = element(path) else { return nil }
            let text = NvidiaSMI.trimmed(node.text)
            if NvidiaSMI.isUnavailable(text) || text.hasPrefix("Requested functionality") || text == "Unknown Error"
                || text == "Not Supported" || text == "Insufficient Permissions" {
                return nil
            }
            let word = text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? text
            guard let value = Double(word), value.isFinite else {
                throw NvidiaSMI.ParseError(line: node.line, field: path.joined(separator: "/"), reason: "expected a number, found \"\(text)\"")
            }
            return value
        }
    }

    static func parse(_ text: String) throws(NvidiaSMI.ParseError) -> Element {
        var reader = Reader(bytes: Array(text.utf8))
        return try reader.document()
    }

    private struct Reader {
        let bytes: [UInt8]
        var i = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String, _ field: String? = nil) -> NvidiaSMI.ParseError {
            NvidiaSMI.ParseError(line: line, field: field, reason: reason)
        }

        func starts(with literal: String) -> Bool {
            let utf8 = Array(literal.utf8)
            return i + utf8.count <= bytes.count && bytes[i..<(i + utf8.count)].elementsEqual(utf8)
        }

        mutating func advance(_ count: Int = 1) {
            for _ in 0..<count where i < bytes.count {
                if bytes[i] == UInt8(ascii: "\n") { line += 1 }
                i += 1
            }
        }

        /// Skips past `terminator`, failing at the end of input.
        mutating func skip(past terminator: String, what: String) throws(NvidiaSMI.ParseError) {
            while i < bytes.count {
                if starts(with: terminator) { advance(terminator.utf8.count); return }
                advance()
            }
            throw fail("unterminated \(what)")
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { advance() }
        }

        /// Skips the prolog, DOCTYPE, comments and processing instructions; true when at a tag.
        mutating func skipMisc() throws(NvidiaSMI.ParseError) {
            while true {
                skipSpace()
                if starts(with: "<?") { try skip(past: "?>", what: "processing instruction") }
                else if starts(with: "<!--") { try skip(past: "-->", what: "comment") }
                else if starts(with: "<!DOCTYPE") { try skipDoctype() }
                else { return }
            }
        }

        mutating func skipDoctype() throws(NvidiaSMI.ParseError) {
            // A DOCTYPE may hold an internal subset in brackets, which may hold '>'.
            var depth = 0
            while i < bytes.count {
                let c = bytes[i]
                advance()
                if c == UInt8(ascii: "[") { depth += 1 }
                else if c == UInt8(ascii: "]") { depth -= 1 }
                else if c == UInt8(ascii: ">") && depth <= 0 { return }
            }
            throw fail("unterminated DOCTYPE")
        }

        mutating func document() throws(NvidiaSMI.ParseError) -> Element {
            try skipMisc()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw fail("expected the root element") }
            let root = try element()
            try skipMisc()
            guard i >= bytes.count else { throw fail("content after the root element </\(root.name)>") }
            return root
        }

        mutating func name() throws(NvidiaSMI.ParseError) -> String {
            let start = i
            while i < bytes.count {
                let c = bytes[i]
                let isNameByte = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") || c >= 0x80
                guard isNameByte else { break }
                i += 1
            }
            guard i > start else { throw fail("expected a name") }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        /// One element, with the reader at its `<`.
        mutating func element() throws(NvidiaSMI.ParseError) -> Element {
            advance() // <
            var element = Element(name: try name(), line: line)
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated tag <\(element.name)>", element.name) }
                if starts(with: "/>") { advance(2); return element }
                if bytes[i] == UInt8(ascii: ">") { advance(); break }
                let attribute = try name()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw fail("expected = after attribute \(attribute)", element.name) }
                advance()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                    throw fail("expected a quoted value for attribute \(attribute)", element.name)
                }
                let quote = bytes[i]
                advance()
                let start = i
                while i < bytes.count, bytes[i] != quote { advance() }
                guard i < bytes.count else { throw fail("unterminated attribute \(attribute)", element.name) }
                element.attributes[attribute] = try decode(bytes[start..<i], in: element.name)
                advance()
            }
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("missing </\(element.name)>", element.name) }
                if starts(with: "</") {
                    advance(2)
                    let closing = try name()
                    guard closing == element.name else { throw fail("</\(closing)> closes <\(element.name)>", element.name) }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("expected > after </\(closing)", element.name) }
                    advance()
                    element.text = try decode(text[...], in: element.name)
                    return element
                } else if starts(with: "<!--") {
                    try skip(past: "-->", what: "comment")
                } else if starts(with: "<![CDATA[") {
                    advance(9)
                    let start = i
                    try skip(past: "]]>", what: "CDATA section")
                    // CDATA is literal: escape '&' so that decoding leaves it alone.
                    for byte in bytes[start..<(i - 3)] { if byte == UInt8(ascii: "&") { text += Array("&amp;".utf8) } else { text.append(byte) } }
                } else if starts(with: "<?") {
                    try skip(past: "?>", what: "processing instruction")
                } else if bytes[i] == UInt8(ascii: "<") {
                    element.children.append(try self.element())
                } else {
                    text.append(bytes[i])
                    advance()
                }
            }
        }

        func decode(_ raw: ArraySlice<UInt8>, in element: String) throws(NvidiaSMI.ParseError) -> String {
            guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
            var out: [UInt8] = []
            var j = raw.startIndex
            while j < raw.endIndex {
                guard raw[j] == UInt8(ascii: "&") else { out.append(raw[j]); j += 1; continue }
                guard let semicolon = raw[j...].firstIndex(of: UInt8(ascii: ";")) else { throw fail("unterminated entity", element) }
                let entity = String(decoding: raw[(j + 1)..<semicolon], as: UTF8.self)
                switch entity {
                case "amp": out.append(UInt8(ascii: "&"))
                case "lt": out.append(UInt8(ascii: "<"))
                case "gt": out.append(UInt8(ascii: ">"))
                case "quot": out.append(UInt8(ascii: "\""))
                case "apos": out.append(UInt8(ascii: "'"))
                default:
                    let scalar: Unicode.Scalar?
                    if entity.hasPrefix("#x") { scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init) }
                    else if entity.hasPrefix("#") { scalar = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init) }
                    else { scalar = nil }
                    guard let scalar else { throw fail("unknown entity &\(entity);", element) }
                    out += Array(String(Character(scalar)).utf8)
                }
                j = semicolon + 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
