/// What the request handler tells `HTTPTimeoutHandler` (an outbound user event: it travels
/// from the end of the pipeline to the front, where the timeout handler sits).
enum HTTPRequestProgress: Sendable {
    case headReceived
    case requestEnded
    /// The response's end was written; the connection stays open.
    case responseEnded
}
