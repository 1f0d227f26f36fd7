import Testing

@testable import PraxisWebSocket

@Suite("FrameRules (RFC 6455 §5)")
struct FrameRulesTests {
    func rules(deflate: Bool = false, max: Int = 1000) -> FrameRules { FrameRules(maxMessageBytes: max, deflate: deflate) }

    @Test func section5_1_unmaskedClientFramesFail() {
        var rules = rules()
        #expect(rules.frame(fin: true, opcode: 1, rsv1: false, rsv2: false, rsv3: false, masked: false, length: 1) == .fail(code: 1002, reason: "client frames must be masked"))
    }

    @Test(arguments: [(true, false, false), (false, true, false), (false, false, true)])
    func section5_2_reservedBitsWithoutAnExtensionFail(rsv1: Bool, rsv2: Bool, rsv3: Bool) {
        var rules = rules()
        guard case .fail(1002, _) = rules.frame(fin: true, opcode: 1, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, masked: true, length: 1) else {
            Issue.record("expected 1002")
            return
        }
    }

    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 11, 12, 13, 14, 15])
    func section5_2_reservedOpcodesFail(opcode: UInt8) {
        var rules = rules()
        guard case .fail(1002, _) = rules.frame(fin: true, opcode: opcode, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 0) else {
            Issue.record("expected 1002")
            return
        }
    }

    @Test func section5_5_controlFramesAreShortAndWhole() {
        var rules = rules()
        guard case .fail(1002, _) = rules.frame(fin: false, opcode: 9, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 1) else {
            Issue.record("fragmented ping must fail")
            return
        }
        var other = self.rules()
        guard case .fail(1002, _) = other.frame(fin: true, opcode: 9, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 126) else {
            Issue.record("126-byte ping must fail")
            return
        }
        var fine = self.rules()
        #expect(fine.frame(fin: true, opcode: 9, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 125) == .control(.ping))
    }

    @Test func section5_4_fragmentationRules() {
        var rules = rules()
        guard case .fail(1002, _) = rules.frame(fin: true, opcode: 0, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 1) else {
            Issue.record("a lone continuation must fail")
            return
        }
        var sequence = self.rules()
        #expect(sequence.frame(fin: false, opcode: 1, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 2) == .data(text: true, compressed: false, final: false))
        #expect(sequence.frame(fin: true, opcode: 9, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 0) == .control(.ping))
        #expect(sequence.frame(fin: true, opcode: 0, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 2) == .data(text: true, compressed: false, final: true))
        var interleaved = self.rules()
        _ = interleaved.frame(fin: false, opcode: 2, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 2)
        guard case .fail(1002, _) = interleaved.frame(fin: true, opcode: 1, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 1) else {
            Issue.record("a new message inside a fragmented one must fail")
            return
        }
    }

    @Test func messagesOverTheLimitFailWith1009EvenAcrossFragments() {
        var rules = rules(max: 10)
        _ = rules.frame(fin: false, opcode: 2, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 6)
        guard case .fail(1009, _) = rules.frame(fin: false, opcode: 0, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 6) else {
            Issue.record("expected 1009")
            return
        }
    }

    @Test func rfc7692_rsv1MarksACompressedMessageOnlyOnItsFirstFrame() {
        var rules = rules(deflate: true)
        #expect(rules.frame(fin: false, opcode: 1, rsv1: true, rsv2: false, rsv3: false, masked: true, length: 3) == .data(text: true, compressed: true, final: false))
        guard case .fail(1002, _) = rules.frame(fin: true, opcode: 0, rsv1: true, rsv2: false, rsv3: false, masked: true, length: 3) else {
            Issue.record("RSV1 on a continuation must fail")
            return
        }
    }

    @Test func section8_1_invalidTextFailsWith1007() {
        var rules = rules()
        _ = rules.frame(fin: false, opcode: 1, rsv1: false, rsv2: false, rsv3: false, masked: true, length: 2)
        let cut: [UInt8] = [0xCE]
        #expect(cut.withUnsafeBytes { rules.checkText($0, final: false) } == nil)
        let end: [UInt8] = []
        guard case .fail(1007, _) = end.withUnsafeBytes({ rules.checkText($0, final: true) }) else {
            Issue.record("a message ending inside a character must fail")
            return
        }
    }
}
