import NIOCore
import NIOHTTP1
import Testing

@testable import PraxisHTTP

@Suite("The plain first request head the fast upgrade path reads")
struct PlainHeadParserTests {
    /// Reads `text` in pieces of `piece` bytes (the whole so far each time, as the handler does).
    func read(_ text: String, piece: Int = .max) -> (PlainHeadParser.Progress, PlainHeadParser) {
        let bytes = Array(text.utf8)
        var parser = PlainHeadParser()
        var upTo = 0
        while true {
            upTo = piece >= bytes.count - upTo ? bytes.count : upTo + piece
            let progress = bytes[..<upTo].withUnsafeBytes { parser.read($0) }
            if progress != .incomplete || upTo == bytes.count { return (progress, parser) }
        }
    }

    static let upgrade = "GET /ws/echo?apikey=a.b-c_d~e%20&vsn=1.0.0 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nX-Inner-Space:  a\tb c\r\n\r\n"

    @Test(arguments: [1, 2, 3, 7, 64, Int.max])
    func anUpgradeHeadReadsAsNIOReadsItInAnyPieces(piece: Int) throws {
        let (progress, parser) = read(Self.upgrade + "\u{81}\u{80}rest", piece: piece)
        #expect(progress == .complete(length: Self.upgrade.utf8.count))
        let head = parser.head
        #expect(head.method == .GET)
        #expect(head.version == .http1_1)
        #expect(head.uri == "/ws/echo?apikey=a.b-c_d~e%20&vsn=1.0.0")
        #expect(head.headers.map { $0.name } == [
            "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions", "X-Inner-Space",
        ])
        #expect(head.headers.first(name: "x-inner-space") == "a\tb c")
        #expect(head.headers.first(name: "sec-websocket-extensions") == "permessage-deflate; client_max_window_bits")
    }

    @Test func aHeadWithoutHeadersAndOneCutShort() {
        #expect(read("GET / HTTP/1.1\r\n\r\n").0 == .complete(length: 18))
        #expect(read("GET / HTTP/1.1\r\nHost: x\r\n\r").0 == .incomplete)
        #expect(read("GET / HT").0 == .incomplete)
        #expect(read("G").0 == .incomplete)
    }

    @Test(arguments: [
        "POST /ws HTTP/1.1\r\nHost: x\r\n\r\n",
        "get /ws HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws HTTP/1.0\r\nHost: x\r\n\r\n",
        "GET /ws HTTP/2.0\r\nHost: x\r\n\r\n",
        "GET http://x/ws HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /w\"s HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws#frag HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /wé HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET  /ws HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /ws HTTP/1.1 \r\nHost: x\r\n\r\n",
        "GET /ws HTTP/1.1\nHost: x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\n\tfolded\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET /ws HTTP/1.1\r\n Host: x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHo(st: x\r\n\r\n",
        "GET /ws HTTP/1.1\r\n: x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost x\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost:\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost:  \r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x \r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\t\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\ry\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\u{0}y\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: é\r\n\r\n",
        "GET /ws HTTP/1.1\r\n\r\r\n",
        "GET /ws HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "GET /ws HTTP/1.1\r\ncontent-length: 5\r\n\r\n",
        "GET /ws HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /ws HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nUPGRADE: websocket\r\n\r\n",
        "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nConnection: keep-alive\r\n\r\n",
        "GET /ws HTTP/1.1\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: b\r\n\r\n",
        "GET /ws HTTP/1.1\r\nSec-WebSocket-Version: 13\r\nsec-websocket-version: 13\r\n\r\n",
        "GET /ws HTTP/1.1\r\nOrigin: a\r\nOrigin: b\r\n\r\n",
        "\u{16}\u{3}\u{1}\u{0}\u{5}GET\r\n\r\n",
    ])
    func anythingUnusualIsNotPlain(text: String) {
        #expect(read(text).0 == .notPlain)
        #expect(read(text, piece: 1).0 == .notPlain)
    }

    @Test func theFirstByteThatIsOffDecidesWithoutWaitingForTheEnd() {
        #expect(read("\u{16}").0 == .notPlain)
        #expect(read("GET /ws HTTP/1.1\r\nHost: x\u{0}").0 == .notPlain)
        #expect(read("GET /ws HTTP/1.1\r\nHost: x\r\n folded").0 == .notPlain)
        #expect(read("PUT").0 == .notPlain)
    }

    @Test func headersThatMayRepeatStillRead() {
        let (progress, parser) = read("GET /ws HTTP/1.1\r\nSec-WebSocket-Extensions: a\r\nSec-WebSocket-Extensions: b\r\nX: 1\r\nX: 2\r\n\r\n")
        #expect(progress != .notPlain)
        #expect(parser.head.headers["sec-websocket-extensions"] == ["a", "b"])
        #expect(parser.head.headers["x"] == ["1", "2"])
    }

    @Test func atMostSixtyFourHeaderLines() {
        let lines = (0..<PlainHeadParser.maxHeaderLines).map { "X-\($0): v\r\n" }.joined()
        let (progress, parser) = read("GET / HTTP/1.1\r\n\(lines)\r\n")
        #expect(progress != .notPlain && progress != .incomplete)
        #expect(parser.head.headers.count == PlainHeadParser.maxHeaderLines)
        #expect(read("GET / HTTP/1.1\r\n\(lines)Y: v\r\n\r\n").0 == .notPlain)
    }
}
