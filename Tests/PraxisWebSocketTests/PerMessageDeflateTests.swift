import NIOCore
import Testing

@testable import PraxisWebSocket

@Suite("permessage-deflate (RFC 7692)")
struct PerMessageDeflateTests {
    @Test func acceptsThePlainOfferAndAlwaysAddsServerNoContextTakeover() {
        let accepted = PerMessageDeflate.negotiate(offers: ["permessage-deflate; client_max_window_bits"])
        #expect(accepted == PerMessageDeflate())
        #expect(accepted?.responseHeader == "permessage-deflate; server_no_context_takeover")
    }

    @Test func honoursParameters() {
        let accepted = PerMessageDeflate.negotiate(offers: ["permessage-deflate; client_no_context_takeover; server_max_window_bits=10"])
        #expect(accepted == PerMessageDeflate(clientNoContextTakeover: true, serverMaxWindowBits: 10))
        #expect(accepted?.responseHeader == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10")
    }

    @Test(arguments: [
        "permessage-deflate; foo=1", "permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover", "x-webkit-deflate-frame",
        "permessage-deflate; server_no_context_takeover=1",
    ])
    func declinesBadOffers(offer: String) {
        #expect(PerMessageDeflate.negotiate(offers: [offer]) == nil)
    }

    @Test func takesTheNextOfferWhenTheFirstIsBad() {
        #expect(PerMessageDeflate.negotiate(offers: ["permessage-deflate; foo=1, permessage-deflate"]) == PerMessageDeflate())
    }

    @Test func compressesAndInflatesBack() throws {
        let text = String(repeating: "the patient reports chest pain; ", count: 200)
        let compressed = try DeflateCodec.compress(ByteBuffer(string: text))
        #expect(compressed.readableBytes < text.utf8.count / 4)
        let inflated = try Inflater(resetAfterEachMessage: true).inflate(compressed, limit: 1 << 20, allocator: ByteBufferAllocator())
        #expect(String(buffer: inflated) == text)
    }

    @Test func inflationIsBoundedByTheMessageLimit() throws {
        let zeros = ByteBuffer(repeating: 0, count: 200_000)
        let compressed = try DeflateCodec.compress(zeros)
        #expect(throws: Inflater.Failure.tooLarge) {
            try Inflater(resetAfterEachMessage: true).inflate(compressed, limit: 65536, allocator: ByteBufferAllocator())
        }
    }
}
