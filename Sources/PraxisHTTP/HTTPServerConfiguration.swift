/// Limits and behaviour of the HTTP/1.1 layer.
public struct HTTPServerConfiguration: Sendable {
    /// Largest request body accepted; larger ones get 413. Default 1 MiB.
    public var maxBodyBytes: Int
    /// Origins allowed to call the API from a browser (CORS). `["*"]` (default) allows any.
    public var corsAllowedOrigins: [String]

    public init(maxBodyBytes: Int = 1 << 20, corsAllowedOrigins: [String] = ["*"]) {
        self.maxBodyBytes = maxBodyBytes
        self.corsAllowedOrigins = corsAllowedOrigins
    }
}
