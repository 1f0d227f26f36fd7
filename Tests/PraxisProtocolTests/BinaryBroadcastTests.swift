import Testing

@testable import PraxisProtocol

/// Supabase's vsn 2.0.0 binary user broadcasts, byte by byte (no I/O).
@Suite("BinaryBroadcast codec")
struct BinaryBroadcastTests {
    /// A push as supabase-js builds it: 3, sizes, encoding, then the fields and the payload.
    @Test func decodesAUserBroadcastPush() throws {
        var frame: [UInt8] = [3, 1, 1, 14, 6, 0, 0]
        frame += Array("1".utf8) + Array("2".utf8) + Array("realtime:board".utf8) + Array("cursor".utf8) + [0xDE, 0xAD, 0x00, 0xFF]
        let push = try BinaryBroadcast.decodePush(frame)
        #expect(push == BinaryBroadcast.Push(
            joinRef: "1", ref: "2", topic: "realtime:board", event: "cursor", metadata: [], isJSON: false, payload: [0xDE, 0xAD, 0x00, 0xFF]
        ))
    }

    @Test func decodesAJSONPushWithMetadataAndNoRefs() throws {
        let metadata = Array(#"{"a":1}"#.utf8)
        let frame = try #require(BinaryBroadcast.encodePush(
            joinRef: nil, ref: nil, topic: "realtime:t", event: "e", metadata: metadata, payload: Array(#"{"x":1}"#.utf8), json: true
        ))
        #expect(Array(frame.prefix(7)) == [3, 0, 0, 10, 1, 7, 1])
        let push = try BinaryBroadcast.decodePush(frame)
        #expect(push.joinRef == nil && push.ref == nil && push.isJSON && push.metadata == metadata && push.payload == Array(#"{"x":1}"#.utf8))
    }

    @Test func anEmptyPayloadIsAllowed() throws {
        let frame = try #require(BinaryBroadcast.encodePush(joinRef: "1", ref: "2", topic: "realtime:t", event: "e", payload: [], json: false))
        #expect(try BinaryBroadcast.decodePush(frame).payload == [])
    }

    @Test func encodesAUserBroadcast() throws {
        let frame = try #require(BinaryBroadcast.encodeUserBroadcast(topic: "realtime:t", event: "ev", payload: [1, 2, 3], json: false))
        #expect(frame == [4, 10, 2, 0, 0] + Array("realtime:t".utf8) + Array("ev".utf8) + [1, 2, 3])
        let json = try #require(BinaryBroadcast.encodeUserBroadcast(topic: "t", event: "e", payload: Array("{}".utf8), json: true))
        #expect(json[4] == 1)
    }

    @Test(arguments: [
        ([UInt8](), "empty binary frame"),
        ([0, 1, 1, 1, 1], "binary frames of kind 0 are not supported (only 3, user_broadcast_push)"),
        ([4, 1, 1, 1, 0], "binary frames of kind 4 are not supported (only 3, user_broadcast_push)"),
        ([3, 0, 0, 1], "user_broadcast_push header is 7 bytes, the frame has 4"),
        ([3, 0, 0, 1, 1, 0, 2, 0x74, 0x65], "payload encoding must be 0 (binary) or 1 (JSON), not 2"),
        // Sizes that add up past the end of the frame (a topic of 200 bytes in a 10-byte frame).
        ([3, 0, 0, 200, 1, 0, 0, 0x74, 0x65, 0x76], "user_broadcast_push field sizes (0, 0, 200, 1, 0) run past the frame (10 bytes)"),
        ([3, 255, 255, 255, 255, 255, 0], "user_broadcast_push field sizes (255, 255, 255, 255, 255) run past the frame (7 bytes)"),
        ([3, 0, 0, 0, 1, 0, 0, 0x65], "user_broadcast_push needs a UTF-8 topic"),
        ([3, 0, 0, 1, 1, 0, 0, 0xFF, 0x65], "user_broadcast_push needs a UTF-8 topic"),
        ([3, 0, 0, 1, 1, 0, 1, 0x74, 0x65, 0x7B], "user_broadcast_push says its payload is JSON but it is not"),
        ([3, 0, 0, 1, 1, 1, 0, 0x74, 0x65, 0x7B], "user_broadcast_push metadata is not JSON"),
    ] as [([UInt8], String)])
    func malformedFramesAreErrorsNeverCrashes(frame: [UInt8], reason: String) {
        #expect(throws: BinaryBroadcast.DecodingError(reason: reason)) { try BinaryBroadcast.decodePush(frame) }
    }

    /// Every prefix of a valid frame, and every header byte set to 255, decodes or fails cleanly.
    @Test func truncationsAndOversizedLengthsNeverCrash() throws {
        let frame = try #require(BinaryBroadcast.encodePush(
            joinRef: "10", ref: "11", topic: "realtime:board", event: "cursor", metadata: Array("{}".utf8), payload: [9, 9, 9], json: false
        ))
        for length in 0..<frame.count {
            _ = try? BinaryBroadcast.decodePush(Array(frame.prefix(length)))
        }
        for index in 1..<7 {
            var bad = frame
            bad[index] = 255
            #expect(throws: BinaryBroadcast.DecodingError.self) { try BinaryBroadcast.decodePush(bad) }
        }
    }

    /// Fields over 255 bytes cannot be framed: the encoders say so instead of truncating.
    @Test func fieldsOver255BytesAreRefused() {
        let long = String(repeating: "x", count: 256)
        #expect(BinaryBroadcast.encodeUserBroadcast(topic: long, event: "e", payload: [], json: false) == nil)
        #expect(BinaryBroadcast.encodeUserBroadcast(topic: "t", event: long, payload: [], json: false) == nil)
        #expect(BinaryBroadcast.encodePush(joinRef: long, ref: nil, topic: "t", event: "e", payload: [], json: false) == nil)
        let edge = String(repeating: "x", count: 255)
        #expect(BinaryBroadcast.encodeUserBroadcast(topic: edge, event: edge, payload: [], json: false) != nil)
    }
}
