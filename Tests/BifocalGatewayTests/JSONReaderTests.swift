@testable import BifocalGateway
import Testing

@Suite("JSONReader")
struct JSONReaderTests {
    /// Reads every key of a flat object, with integers read by `int()` and the rest as strings.
    func members(_ text: String) -> (keys: [String], ints: [Int], failed: Bool) {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            let buffer = UnsafeRawBufferPointer(raw)
            var reader = JSONReader(buffer)
            var keys: [String] = []
            var ints: [Int] = []
            guard reader.beginObject() else { return ([], [], true) }
            while let key = reader.nextKey() {
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[key]), as: UTF8.self)
                keys.append(name)
                if name == "model" { _ = reader.string() } else if let value = reader.int() { ints.append(value) }
                if reader.failed { break }
            }
            return (keys, ints, reader.failed)
        }
    }

    @Test("an integer followed by , or } leaves the reader on the next member")
    func integerThenMoreKeys() {
        let read = members(#"{"prompt_tokens":12,"completion_tokens":9 ,"total_tokens":21,"model":"m"}"#)
        #expect(read.failed == false)
        #expect(read.keys == ["prompt_tokens", "completion_tokens", "total_tokens", "model"])
        #expect(read.ints == [12, 9, 21])
    }

    @Test("fractions, exponents and long numbers are read as their integer part and skipped")
    func fractions() {
        let read = members(#"{"a":12.75,"b":3e2,"c":-4,"d":1234567890123456789012,"model":"m"}"#)
        #expect(read.failed == false)
        #expect(read.keys == ["a", "b", "c", "d", "model"])
        #expect(read.ints.prefix(3) == [12, 3, -4])
    }
}
