/// Why a benchmark could not set up or go on (a refused sign-up, an unreachable data API,
/// a refused join, an error reply); the text names what failed.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
