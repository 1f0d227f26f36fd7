public import Foundation

/// UTC timestamps as the store keeps them: ISO 8601 with microseconds and a `Z`,
/// e.g. `2026-11-23T19:50:12.123456Z`. They sort as strings in time order.
public enum Timestamp {
    /// The current time, formatted.
    public static func now() -> String { format(Date()) }

    /// The current time in seconds since 1970.
    public static func nowSeconds() -> Double { Date().timeIntervalSince1970 }

    /// `seconds` since 1970, formatted as `format(_:)` does.
    public static func format(secondsSince1970 seconds: Double) -> String { format(Date(timeIntervalSince1970: seconds)) }

    /// `date` formatted with microseconds in UTC.
    public static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = interval.rounded(.down)
        var micros = Int(((interval - seconds) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            micros -= 1_000_000
            seconds += 1
        }
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros
        )
    }

    /// Parses an ISO 8601 timestamp (with or without fraction, `Z` or a numeric offset,
    /// `T` or a space between date and time) into a date. Returns nil when it is not one.
    public static func parse(_ text: String) -> Date? {
        var normalised = text.trimmingCharacters(in: .whitespaces)
        if normalised.count > 10, normalised[normalised.index(normalised.startIndex, offsetBy: 10)] == " " {
            normalised.replaceSubrange(
                normalised.index(normalised.startIndex, offsetBy: 10)...normalised.index(normalised.startIndex, offsetBy: 10),
                with: "T"
            )
        }
        // Take the fraction off by hand: the formatter keeps only milliseconds.
        var fraction = 0.0
        if let dot = normalised.firstIndex(of: ".") {
            var end = normalised.index(after: dot)
            while end < normalised.endIndex, normalised[end].isASCII, normalised[end].isNumber {
                end = normalised.index(after: end)
            }
            guard end > normalised.index(after: dot), let value = Double("0" + normalised[dot..<end]) else { return nil }
            fraction = value
            normalised = String(normalised[..<dot]) + String(normalised[end...])
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let whole = formatter.date(from: normalised) else { return nil }
        return whole.addingTimeInterval(fraction)
    }

    /// `text` as a canonical stored timestamp, or nil when it is not a timestamp.
    public static func canonical(_ text: String) -> String? {
        parse(text).map(format)
    }
}
