import NIOHTTP1
import Testing

@testable import PraxisWebSocket

@Suite("Header text of the upgrade (no Foundation)")
struct HeaderTextTests {
    @Test(arguments: [
        ("13", "13"), (" 13", "13"), ("13\t", "13"), ("\t 13 \t", "13"), ("", ""), ("  \t ", ""), ("1 3", "1 3"),
        // Only SP and HTAB are optional whitespace (RFC 9110 §5.6.3): a no-break space stays.
        ("\u{A0}13", "\u{A0}13"),
        (" e\u{301}x\u{1F600} ", "e\u{301}x\u{1F600}"), ("\u{1F600}", "\u{1F600}"),
    ])
    func trimsOptionalWhitespaceOnly(value: String, expected: String) {
        #expect(String(HeaderText.trimmed(value)) == expected)
    }

    @Test func comparesTokensIgnoringASCIICase() {
        #expect(HeaderText.containsToken(["WebSocket"], "websocket"))
        #expect(HeaderText.containsToken(["UPGRADE"], "upgrade"))
        #expect(!HeaderText.containsToken(["websockets"], "websocket"))
        #expect(!HeaderText.containsToken(["websocke"], "websocket"))
        #expect(!HeaderText.containsToken([""], "upgrade"))
        #expect(!HeaderText.containsToken(["upgrade\u{0130}"], "upgrade"))
    }

    @Test func findsATokenAmongCommaSeparatedValues() {
        #expect(HeaderText.containsToken(["keep-alive, Upgrade"], "upgrade"))
        #expect(HeaderText.containsToken(["keep-alive", " UPGRADE\t"], "upgrade"))
        #expect(HeaderText.containsToken([",,upgrade,"], "upgrade"))
        #expect(!HeaderText.containsToken(["keep-alive, upgraded"], "upgrade"))
        #expect(!HeaderText.containsToken(["keep-alive;upgrade"], "upgrade"))
        #expect(!HeaderText.containsToken([], "upgrade"))
        #expect(!HeaderText.containsToken(["up grade"], "upgrade"))
        #expect(!HeaderText.containsToken(["upgrad"], "upgrade"))
    }

    @Test(arguments: [("/ws/echo", "/ws/echo"), ("/ws/echo?a=b?c", "/ws/echo"), ("?x", ""), ("/r\u{e9}altime?x", "/r\u{e9}altime")])
    func pathEndsAtTheQuery(uri: String, path: String) {
        #expect(HeaderText.path(of: uri) == path)
    }

    func upgradeHeaders(key: String, version: String = "13", upgrade: String = "websocket", connection: String = "Upgrade") -> HTTPHeaders {
        ["Upgrade": upgrade, "Connection": connection, "Sec-WebSocket-Version": version, "Sec-WebSocket-Key": key]
    }

    @Test func upgradeChecksAcceptPaddedValuesAndAnyCase() {
        let endpoints = WebSocketEndpoints(configuration: WebSocketConfiguration(), routes: ["/ws/echo": EchoApplication()])
        let headers = upgradeHeaders(key: "\tdGhlIHNhbXBsZSBub25jZQ== ", version: " 13 ", upgrade: "WebSocket", connection: "keep-alive, UPGRADE")
        #expect(endpoints.rejection(method: .GET, uri: "/ws/echo", headers: headers, remoteIP: "127.0.0.1") == nil)
    }

    @Test func upgradeChecksStillRefuseBadKeysVersionsAndTokens() {
        let endpoints = WebSocketEndpoints(configuration: WebSocketConfiguration(), routes: ["/ws/echo": EchoApplication()])
        func status(_ headers: HTTPHeaders) -> HTTPResponseStatus? {
            endpoints.rejection(method: .GET, uri: "/ws/echo", headers: headers, remoteIP: "127.0.0.1")?.status
        }
        // 15 bytes, not 16.
        #expect(status(upgradeHeaders(key: "dGhlIHNhbXBsZSBub25jZQ")) == .badRequest)
        #expect(status(upgradeHeaders(key: "AAAAAAAAAAAAAAAAAAAA")) == .badRequest)
        #expect(status(upgradeHeaders(key: "dGhlIHNhbXBsZSBub25jZQ==", version: "8")) == .upgradeRequired)
        #expect(status(upgradeHeaders(key: "dGhlIHNhbXBsZSBub25jZQ==", upgrade: "websockets")) == .badRequest)
        #expect(status(upgradeHeaders(key: "dGhlIHNhbXBsZSBub25jZQ==", connection: "keep-alive")) == .badRequest)
    }
}
