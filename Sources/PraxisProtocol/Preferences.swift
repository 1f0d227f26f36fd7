/// The `Prefer` header of a PostgREST request.
public struct Preferences: Sendable, Equatable {
    public enum Return: String, Sendable {
        case representation, minimal
        case headersOnly = "headers-only"
    }

    public enum Resolution: String, Sendable {
        case mergeDuplicates = "merge-duplicates"
        case ignoreDuplicates = "ignore-duplicates"
    }

    public var returning: Return?
    public var countExact = false
    public var resolution: Resolution?
    /// `missing=default`: absent keys of a bulk insert take the column default, not null.
    public var missingDefault = false

    public init() {}

    /// Parses every `Prefer` header value (comma-separated `key=value` items; unknown ones ignored, as PostgREST does by default).
    public init(headerValues: [String]) {
        for value in headerValues {
            for item in value.split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces() }
                guard pair.count == 2 else { continue }
                switch pair[0] {
                case "return": returning = Return(rawValue: pair[1])
                case "count": countExact = ["exact", "planned", "estimated"].contains(pair[1])
                case "resolution": resolution = Resolution(rawValue: pair[1])
                case "missing": missingDefault = pair[1] == "default"
                default: continue
                }
            }
        }
    }
}
