import Testing

@testable import PraxisWebSocket

@Suite("Sec-WebSocket-Accept")
struct WebSocketUpgraderTests {
    @Test(arguments: [
        // RFC 6455 §1.3's example, then values computed with another SHA-1 and base64.
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="),
        ("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
        ("/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g="),
    ])
    func acceptValue(key: String, accept: String) {
        #expect(WebSocketUpgrader.acceptValue(forKey: key) == accept)
    }

    @Test func base64PadsAsRFC4648Says() {
        #expect(WebSocketUpgrader.base64([UInt8]()) == "")
        #expect(WebSocketUpgrader.base64(Array("a".utf8)) == "YQ==")
        #expect(WebSocketUpgrader.base64(Array("ab".utf8)) == "YWI=")
        #expect(WebSocketUpgrader.base64(Array("abc".utf8)) == "YWJj")
        #expect(WebSocketUpgrader.base64([0xFB, 0xFF]) == "+/8=")
    }
}
