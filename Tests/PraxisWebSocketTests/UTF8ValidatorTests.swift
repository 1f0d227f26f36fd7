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
