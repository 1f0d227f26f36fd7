import NIOCore

extension HTTPServerConfiguration {
    /// NIO's adaptive receive allocator starting at `readBufferBytes` (clamped to its range).
    var receiveAllocator: AdaptiveRecvByteBufferAllocator {
        let initial = min(max(readBufferBytes, Self.readBufferRange.lowerBound), Self.readBufferRange.upperBound)
        return AdaptiveRecvByteBufferAllocator(minimum: Self.readBufferRange.lowerBound, initial: initial, maximum: Self.readBufferRange.upperBound)
    }
}
