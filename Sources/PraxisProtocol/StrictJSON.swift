import PraxisDomain

/// A strict RFC 8259 syntax check, run on request bodies before decoding, so lenient
/// parsers' extensions (trailing commas, comments, NaN) are refused as invalid JSON.
public enum StrictJSON {
    /// Whether `bytes` are exactly one JSON value (with optional surrounding whitespace).
    /// Nesting deeper than `maxDepth` is refused too. `JSONParser` checks, building nothing.
    public static func isValid(_ bytes: [UInt8], maxDepth: Int = 256) -> Bool {
        var parser = JSONParser(bytes: bytes, building: false, maxDepth: maxDepth)
        return (try? parser.parseDocument()) != nil
    }
}
