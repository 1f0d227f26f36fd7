/// The web client could not be loaded.
public struct WebAppError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
