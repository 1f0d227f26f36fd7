/// Why a realtime request was refused; the message is the `reason` of the error reply.
struct RealtimeError: Error, Sendable, Equatable {
    let reason: String

    static func badConfig(_ reason: String) -> RealtimeError { RealtimeError(reason: reason) }
    static let invalidToken = RealtimeError(reason: "invalid access token: signature or format is wrong")
    static let expiredToken = RealtimeError(reason: "access token has expired: refresh it and send access_token")
    /// Supabase's reasons for its limits (RealtimeConfiguration).
    static let tooManyChannels = RealtimeError(reason: "ChannelRateLimitReached: Too many channels")
    static let tooManyJoins = RealtimeError(reason: "ClientJoinRateLimitReached: Too many joins per second")
    static let tooManyMessages = RealtimeError(reason: "Too many messages per second")
    static let tooManyPresence = RealtimeError(reason: "Too many presence messages per second")
    static let payloadTooLarge = RealtimeError(reason: "payload_size_exceeded: Payload size exceeds tenant limit")
    static let signedOut = RealtimeError(reason: "the token's user is disabled or its session has ended (signed out): sign in again")
}
