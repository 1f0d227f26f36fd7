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
        let (seconds, micros) = wholeSecondsAndMicros(date)
        guard let whole = Int(exactly: seconds) else { return "0000-00-00T00:00:00.000000Z" }
        let days = whole >= 0 ? whole / 86_400 : (whole - 86_399) / 86_400
        let inDay = whole - days * 86_400
        let (year, month, day) = civilDate(days: days)
        guard (0...9999).contains(year) else {
            return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", year, month, day, inDay / 3600, inDay / 60 % 60, inDay % 60, micros)
        }
        // By hand: String(format:) costs more than the rest of a data-API write's timestamps.
        var bytes = [UInt8](repeating: UInt8(ascii: "0"), count: 27)
        func put(_ value: Int, at index: Int, width: Int) {
            var value = value
            for position in stride(from: index + width - 1, through: index, by: -1) {
                bytes[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, width: 2)
        bytes[10] = UInt8(ascii: "T")
        put(inDay / 3600, at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(inDay / 60 % 60, at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(inDay % 60, at: 17, width: 2)
        bytes[19] = UInt8(ascii: ".")
        put(micros, at: 20, width: 6)
        bytes[26] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `date` as whole seconds since 1970 and the microseconds past them, rounded to the
    /// nearest microsecond (999,999.6 µs rounds up into the next second).
    static func wholeSecondsAndMicros(_ date: Date) -> (seconds: Double, micros: Int) {
        let interval = date.timeIntervalSince1970
        let seconds = interval.rounded(.down)
        let micros = Int(((interval - seconds) * 1_000_000).rounded())
        return micros >= 1_000_000 ? (seconds + 1, micros - 1_000_000) : (seconds, micros)
    }

    /// Parses an ISO 8601 timestamp (with or without fraction, `Z` or a numeric offset,
    /// `T` or a space between date and time) into a date. Returns nil when it is not one.
    ///
    /// The shape the store and clients send (``parseCommon(_:)``) is read by hand; anything
    /// else goes to Foundation's ISO 8601 formatter, which decides as it always did.
    public static func parse(_ text: String) -> Date? {
        parseCommon(text) ?? parseWithFormatter(text)
    }

    /// `YYYY-MM-DD`, `T` or a space, `HH:MM:SS`, an optional fraction of at most 15 digits,
    /// then `Z` or `±HH:MM`, a valid date of the years 1600–9999: the date, equal to what
    /// the formatter path makes of it. Nil for anything else (the formatter decides then).
    static func parseCommon(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            guard b.count >= 20 else { return nil }
            func number(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for index in start..<(start + count) {
                    let byte = b[index]
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                }
                return value
            }
            guard let year = number(0, 4), b[4] == UInt8(ascii: "-"), let month = number(5, 2), b[7] == UInt8(ascii: "-"),
                let day = number(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let hour = number(11, 2),
                b[13] == UInt8(ascii: ":"), let minute = number(14, 2), b[16] == UInt8(ascii: ":"), let second = number(17, 2)
            else { return nil }
            var index = 19
            var fraction = 0.0
            if b[index] == UInt8(ascii: ".") {
                var end = index + 1
                while end < b.count, b[end] >= UInt8(ascii: "0"), b[end] <= UInt8(ascii: "9") { end += 1 }
                let count = end - index - 1
                guard (1...15).contains(count), let digits = number(index + 1, count) else { return nil }
                // Both exact doubles, so the quotient is the decimal correctly rounded, as Double("0.…") reads it.
                fraction = Double(digits) / Self.powersOfTen[count]
                index = end
            }
            guard index < b.count else { return nil }
            var offset = 0
            switch b[index] {
            case UInt8(ascii: "Z"):
                guard index + 1 == b.count else { return nil }
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard index + 6 == b.count, let hours = number(index + 1, 2), b[index + 3] == UInt8(ascii: ":"),
                    let minutes = number(index + 4, 2), hours <= 23, minutes <= 59
                else { return nil }
                offset = (hours * 3600 + minutes * 60) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
            default:
                return nil
            }
            guard (1600...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysInMonth(month, year: year),
                hour <= 23, minute <= 59, second <= 59
            else { return nil }
            let whole = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
            return Date(timeIntervalSince1970: Double(whole)).addingTimeInterval(fraction)
        }
    }

    /// The general path: Foundation's ISO 8601 formatter (whole seconds) plus the fraction.
    static func parseWithFormatter(_ text: String) -> Date? {
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

    private static let powersOfTen: [Double] = (0...15).map { pow(10, Double($0)) }

    private static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Hinnant's `civil_from_days`).
    static func civilDate(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shifted + 2) / 5 + 1
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `text` as a canonical stored timestamp, or nil when it is not a timestamp.
    public static func canonical(_ text: String) -> String? {
        parse(text).map(format)
    }
}
