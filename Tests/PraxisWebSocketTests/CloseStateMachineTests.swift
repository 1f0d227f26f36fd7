import Testing

@testable import PraxisWebSocket

@Suite("CloseStateMachine (RFC 6455 §7)")
struct CloseStateMachineTests {
    @Test func section7_1_3_aPeerCloseIsAnsweredWithTheSameCodeThenTCPCloses() {
        var machine = CloseStateMachine()
        #expect(machine.peerSentClose(.code(1001, reason: "bye")) == .sendCloseThenDisconnect(.init(code: 1001)))
        #expect(machine.state == .closed)
        #expect(!machine.acceptsData)
    }

    @Test func section7_1_5_anEmptyCloseIsAnsweredEmpty() {
        var machine = CloseStateMachine()
        #expect(machine.peerSentClose(.empty) == .sendCloseThenDisconnect(.init(code: nil)))
    }

    @Test func section7_4_anInvalidCloseFailsWithItsCode() {
        var machine = CloseStateMachine()
        #expect(machine.peerSentClose(.invalid(failWith: 1002)) == .sendCloseThenDisconnect(.init(code: 1002, reason: "invalid close frame")))
    }

    @Test func section7_1_2_ourCloseWaitsForThePeersThenDisconnects() {
        var machine = CloseStateMachine()
        #expect(machine.close(code: 1000, reason: "done") == .sendCloseAndWait(.init(code: 1000, reason: "done")))
        #expect(machine.state == .closeSent)
        #expect(!machine.acceptsData)
        #expect(machine.close(code: 1000, reason: "again") == .none)
        #expect(machine.peerSentClose(.code(1000, reason: "")) == .disconnect)
        #expect(machine.peerSentClose(.code(1000, reason: "")) == .none)
    }

    @Test func section7_1_1_aPeerThatNeverAnswersIsTimedOut() {
        var machine = CloseStateMachine()
        _ = machine.close(code: 1001, reason: "idle")
        #expect(machine.closeTimedOut() == .disconnect)
        #expect(machine.closeTimedOut() == .none)
    }

    @Test func section7_1_7_failingSendsTheCodeOnce() {
        var machine = CloseStateMachine()
        #expect(machine.fail(code: 1007, reason: "bad utf-8") == .sendCloseThenDisconnect(.init(code: 1007, reason: "bad utf-8")))
        #expect(machine.fail(code: 1002, reason: "again") == .none)
        #expect(machine.closeTimedOut() == .none)
    }

    @Test func failingAfterOurCloseJustDisconnects() {
        var machine = CloseStateMachine()
        _ = machine.close(code: 1000, reason: "")
        #expect(machine.fail(code: 1002, reason: "x") == .disconnect)
    }

    @Test(arguments: [UInt16(0), 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
    func section7_4_1_reservedCodesAreInvalidOnTheWire(code: UInt16) {
        #expect(!CloseCode.isValidOnWire(code))
        #expect(CloseCode.parse([UInt8(code >> 8), UInt8(code & 0xFF)]) == .invalid(failWith: 1002))
    }

    @Test(arguments: [UInt16(1000), 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999])
    func section7_4_1_registeredAndPrivateCodesAreValid(code: UInt16) {
        #expect(CloseCode.parse([UInt8(code >> 8), UInt8(code & 0xFF)]) == .code(code, reason: ""))
    }

    @Test func section5_5_1_closePayloadRules() {
        #expect(CloseCode.parse([]) == .empty)
        #expect(CloseCode.parse([0x03]) == .invalid(failWith: 1002))
        #expect(CloseCode.parse([0x03, 0xE8, 0xFF]) == .invalid(failWith: 1007))
        #expect(CloseCode.parse([0x03, 0xE8] + Array("ok".utf8)) == .code(1000, reason: "ok"))
    }
}
