import PraxisDomain

extension JSONValue {
    /// Follows a dotted path (`body.0.id`): object keys, array indices, and `length` (the
    /// count of an array, or of a string's characters, unless the object has such a key).
    func value(atPath path: String) -> JSONValue? {
        var current = self
        for segment in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
            switch current {
            case .object(let fields):
                guard let next = fields[segment] else { return nil }
                current = next
            case .array(let items):
                if segment == "length" {
                    current = .int(items.count)
                } else {
                    guard let index = Int(segment), items.indices.contains(index) else { return nil }
                    current = items[index]
                }
            case .string(let text) where segment == "length":
                current = .int(text.count)
            default:
                return nil
            }
        }
        return current
    }

    /// Where the subset match fails first: `at body.0.text: expected "a", arrived "b"`; nil
    /// when it matches.
    func mismatch(with expected: JSONValue, at path: String = "") -> String? {
        let here = path.isEmpty ? "the top" : path
        func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        switch (expected, self) {
        case (.object(let want), .object(let have)):
            for key in want.keys.sorted() {
                guard let value = have[key] else { return "at \(here): the key \(key) is missing" }
                if let inner = value.mismatch(with: want[key]!, at: join(key)) { return inner }
            }
            return nil
        case (.array(let want), .array(let have)):
            guard want.count == have.count else {
                return "at \(here): expected \(want.count) element\(want.count == 1 ? "" : "s"), arrived \(have.count)"
            }
            for (index, pair) in zip(have, want).enumerated() {
                if let inner = pair.0.mismatch(with: pair.1, at: join(String(index))) { return inner }
            }
            return nil
        default:
            return self == expected ? nil : "at \(here): expected \(expected.truncated(120)), arrived \(truncated(120))"
        }
    }

    /// Subset match: every key of `expected` is present in `self` and matches, recursively;
    /// arrays match element by element and must have the same length; other values are equal.
    func contains(_ expected: JSONValue) -> Bool { mismatch(with: expected) == nil }
}
