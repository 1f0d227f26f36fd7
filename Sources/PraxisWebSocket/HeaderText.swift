/// Header-value text helpers for the upgrade path, in plain UTF-8 (no Foundation bridging:
/// `trimmingCharacters(in:)` went through `NSString` and was a tenth of the server's user-space
/// CPU per accepted WebSocket in a connect-and-close profile).
enum HeaderText {
    /// `value` without leading and trailing optional whitespace (RFC 9110 §5.6.3: SP and HTAB).
    /// Scans the UTF-8 bytes (not `Character`s: grapheme breaking cost a thousand instructions
    /// a call); the bounds it finds are those of Unicode scalars next to OWS or the ends.
    static func trimmed(_ value: String) -> Substring {
        let value = value[...]
        let utf8 = value.utf8
        let isOWS: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = utf8.firstIndex(where: { !isOWS($0) }), let last = utf8.lastIndex(where: { !isOWS($0) }) else {
            return value[value.endIndex...]
        }
        return value[first..<utf8.index(after: last)]
    }

    /// Whether any of a header's comma-separated values is `lowercaseToken`, ignoring ASCII
    /// case and optional whitespace (what NIO's `headers[canonicalForm:]` gives, without its
    /// lower-cased copies: that getter cost 6,000 instructions a call in the upgrade path).
    static func containsToken(_ values: [String], _ lowercaseToken: StaticString) -> Bool {
        let token = UnsafeRawBufferPointer(start: lowercaseToken.utf8Start, count: lowercaseToken.utf8CodeUnitCount)
        for value in values {
            // One pass over the bytes: each element between commas, its OWS skipped, compared.
            var index = 0
            var matching = true
            var trailingSpace = false
            func elementEnds() -> Bool { matching && index == token.count }
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: ","):
                    if elementEnds() { return true }
                    (index, matching, trailingSpace) = (0, true, false)
                case UInt8(ascii: " "), UInt8(ascii: "\t"):
                    // Leading OWS is skipped; after the token only more OWS may follow.
                    if index > 0 { trailingSpace = true }
                default:
                    let lower = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                    if trailingSpace || index >= token.count || lower != token[index] { matching = false }
                    index += 1
                }
            }
            if elementEnds() { return true }
        }
        return false
    }

    /// The path of a request target: `uri` up to its query (`?`), found in its UTF-8 bytes.
    static func path(of uri: String) -> Substring {
        guard let query = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri[...] }
        return uri[..<query]
    }
}
