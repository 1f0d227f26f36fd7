import NIOCore
import PraxisProtocol

/// The Phoenix messages of the unmasked server frames in `buffer` (as a test channel's
/// outbound bytes hold them: one or more whole text frames).
func phoenixMessages(inServerFrames buffer: inout ByteBuffer) throws -> [PhoenixMessage] {
    var out: [PhoenixMessage] = []
    while buffer.readableBytes > 0 {
        _ = buffer.readInteger(as: UInt8.self)
        var length = Int(buffer.readInteger(as: UInt8.self)! & 0x7F)
        if length == 126 { length = Int(buffer.readInteger(as: UInt16.self)!) }
        if length == 127 { length = Int(buffer.readInteger(as: UInt64.self)!) }
        out.append(try PhoenixMessage.decode(buffer.readBytes(length: length)!, version: .v1))
    }
    return out
}
