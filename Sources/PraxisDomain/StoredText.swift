/// The one rule for text that Praxis keeps: it never contains U+0000 (NUL).
///
/// SQLite's C interface ends text at a NUL, so such text would be cut silently when it is
/// stored, and PostgreSQL refuses NUL in `text` and `jsonb` alike. Rather than keep it
/// whole on one backend and lose it on another, every path that stores text refuses it
/// with ``refusal``: data API values and filters, JSON documents (strings and keys), auth
/// fields, room turns and room command fields.
public enum StoredText {
    /// The reason given when text holds a NUL.
    public static let refusal = "text may not contain the NUL character (U+0000)"

    /// Whether `text` may be stored.
    public static func isStorable(_ text: some StringProtocol) -> Bool {
        !text.utf8.contains(0)
    }

    /// Whether every string and key in `json` may be stored.
    public static func isStorable(_ json: JSONValue) -> Bool {
        switch json {
        case .null, .bool, .number: true
        case .string(let text): isStorable(text)
        case .array(let items): items.allSatisfy { isStorable($0) }
        case .object(let members): members.allSatisfy { isStorable($0.key) && isStorable($0.value) }
        }
    }
}
