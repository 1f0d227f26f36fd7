import Testing

@testable import PraxisWebSocket

@Suite("UTF8Validator (RFC 3629, Autobahn 6.x)")
struct UTF8ValidatorTests {
    @Test(arguments: [
        [UInt8](), Array("hello".utf8), Array("κόσμε".utf8), [0xF4, 0x8F, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF], [0xEF, 0xBB, 0xBF],
        [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
    ])
    func acceptsValid(bytes: [UInt8]) {
        #expect(UTF8Validator.isValid(bytes))
    }

    @Test(arguments: [
        [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xCE], [0xE1, 0xBD], [0x80],
    ])
    func rejectsInvalid(bytes: [UInt8]) {
        #expect(!UTF8Validator.isValid(bytes))
    }

    /// The raw-memory path skips ASCII a word at a time: a character or a bad byte at every
    /// offset around the word boundaries must give what the byte-by-byte path gives.
    @Test(arguments: 0..<20)
    func rawMemoryAgreesAtEveryOffset(offset: Int) {
        let cases: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x80]]
        for inner in cases {
            let bytes = Array(repeating: UInt8(ascii: "a"), count: offset) + inner + Array(repeating: UInt8(ascii: "b"), count: 19 - offset)
            var raw = UTF8Validator()
            let rawResult = bytes.withUnsafeBytes { raw.consume($0) } && raw.isComplete
            #expect(rawResult == UTF8Validator.isValid(bytes), "\(inner) at \(offset)")
            #expect(rawResult == (String(validating: bytes, as: UTF8.self) != nil), "\(inner) at \(offset)")
        }
    }

    @Test func failsFastInsideAFragment() {
        var validator = UTF8Validator()
        let first = validator.consume([0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5])
        let second = validator.consume([0xED, 0xA0, 0x80])
        #expect(first)
        #expect(!second)
        #expect(validator.hasFailed)
    }

    @Test func aCharacterSplitAcrossFragmentsIsValid() {
        var validator = UTF8Validator()
        for byte in Array("😀".utf8) {
            let accepted = validator.consume([byte])
            #expect(accepted)
        }
        #expect(validator.isComplete)
    }
}
