/// `${…}` in script strings: `${name}` (a variable), `${name.path.0}` (a dotted path into its
/// value), `${ACTOR.id}`, `${ACTOR.email}`, `${run}`, and `${repeat:N:TEXT}` (TEXT N times,
/// N ≤ 100000).
enum ScriptTemplate {
    /// A template's text between references, or one reference.
    enum Piece: Equatable {
        case literal(String)
        case variable(String)
        case repeated(count: Int, text: String)
    }

    /// The pieces of `text`; a malformed `${…}` is an error (found when the script is loaded).
    static func pieces(of text: String) throws(ScriptFormatError) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${") {
            if start.lowerBound > rest.startIndex { pieces.append(.literal(String(rest[..<start.lowerBound]))) }
            let afterOpen = rest[start.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else { throw ScriptFormatError("unclosed ${ in \"\(text.prefix(80))\"") }
            let inner = String(afterOpen[..<close])
            pieces.append(try reference(inner))
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.literal(String(rest))) }
        return pieces
    }

    private static func reference(_ inner: String) throws(ScriptFormatError) -> Piece {
        if inner.hasPrefix("repeat:") {
            let parts = inner.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let count = Int(parts[1]), (0...100_000).contains(count), !parts[2].isEmpty else {
                throw ScriptFormatError("${\(inner)}: write ${repeat:N:TEXT} with N from 0 to 100000")
            }
            return .repeated(count: count, text: String(parts[2]))
        }
        let segments = inner.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.allSatisfy({ Script.isIdentifier(String($0)) }) else {
            throw ScriptFormatError("${\(inner)} is not a variable (write ${name}, ${name.path.0}, ${actor.id}, ${run} or ${repeat:N:TEXT})")
        }
        return .variable(inner)
    }
}
