import NIOHTTP1

/// Reads a connection's first request head straight from its bytes, for the fast upgrade path
/// (`HTTPFastUpgradeHandler`), one byte at a time as they arrive (each byte is looked at once).
///
/// Only the plainest form is read: `GET /target HTTP/1.1`, header lines of token names and
/// visible-ASCII values, every line ending in CRLF, no body. Anything else (another method or
/// version, folded or padded lines, control or non-ASCII bytes, a body's headers, more than one
/// Host, Upgrade, Connection, Origin or Sec-WebSocket-Key/Version line) is `notPlain` at its
/// first byte that is off, and the connection goes to NIO's parser, which answers it as it
/// always has. Whatever this reads, llhttp reads the same way; and while this waits for more,
/// so would llhttp (every prefix this accepts is one llhttp accepts), so handing on never
/// delays an answer NIO would have given.
struct PlainHeadParser {
    enum Progress: Equatable {
        /// Everything so far is the start of a plain head.
        case incomplete
        /// The head is not of the plain form.
        case notPlain
        /// The head is complete and plain; it is this many bytes long.
        case complete(length: Int)
    }

    /// The most header lines read; a longer head goes to NIO's parser.
    static let maxHeaderLines = 64

    private enum State {
        /// At byte `Int` of `GET ` (the only method).
        case method(Int)
        case target
        /// At byte `Int` of `HTTP/1.1\r\n`.
        case version(Int)
        case lineStart
        case name
        case valueLeadingSpace
        case value
        case valueLF
        case finalLF
    }

    private var state = State.method(0)
    /// How many bytes were read.
    private(set) var position = 0
    private var start = 0
    private var nameRange = 0..<0
    private var seen: UInt32 = 0
    private(set) var uri = ""
    private(set) var headers: [(String, String)] = []

    /// Reads `bytes` from `position` on (`bytes` is everything received, its start the head's).
    mutating func read(_ bytes: UnsafeRawBufferPointer) -> Progress {
        while position < bytes.count {
            // Runs of target, name and value bytes are skipped in a tight loop; `step` sees the
            // byte that ends them (or the first one that is off).
            switch state {
            case .target:
                if position == start, bytes[position] != UInt8(ascii: "/") { return .notPlain }
                skip(bytes, Self.targetBytes)
            case .name:
                skip(bytes, Self.tokenBytes)
            case .value:
                skip(bytes, Self.valueBytes)
            default:
                break
            }
            guard position < bytes.count else { return .incomplete }
            if let progress = step(bytes[position], bytes) { return progress }
            position += 1
        }
        return .incomplete
    }

    private mutating func skip(_ bytes: UnsafeRawBufferPointer, _ set: ASCIISet) {
        var index = position
        while index < bytes.count, set.contains(bytes[index]) { index += 1 }
        position = index
    }

    /// The head read, once `read` said `complete`.
    var head: HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: HTTPHeaders(headers))
    }

    /// One byte; nil to go on.
    private mutating func step(_ byte: UInt8, _ bytes: UnsafeRawBufferPointer) -> Progress? {
        switch state {
        case .method(let index):
            guard byte == Self.method[index] else { return .notPlain }
            state = index + 1 == Self.method.count ? .target : .method(index + 1)
            start = position + 1
        case .target:
            if byte == UInt8(ascii: " ") {
                guard position > start else { return .notPlain }
                uri = Self.string(bytes, start..<position)
                state = .version(0)
            } else if !Self.targetBytes.contains(byte) || (position == start && byte != UInt8(ascii: "/")) {
                return .notPlain
            }
        case .version(let index):
            guard byte == Self.version[index] else { return .notPlain }
            state = index + 1 == Self.version.count ? .lineStart : .version(index + 1)
        case .lineStart:
            if byte == Self.cr {
                state = .finalLF
            } else {
                guard Self.tokenBytes.contains(byte), headers.count < Self.maxHeaderLines else { return .notPlain }
                start = position
                state = .name
            }
        case .name:
            if byte == UInt8(ascii: ":") {
                nameRange = start..<position
                state = .valueLeadingSpace
            } else if !Self.tokenBytes.contains(byte) {
                return .notPlain
            }
        case .valueLeadingSpace:
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { return nil }
            guard Self.isVisible(byte) else { return .notPlain }  // An empty value, or a control byte.
            start = position
            state = .value
        case .value:
            if byte == Self.cr { return endOfValue(bytes) }
            guard Self.isVisible(byte) || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") else { return .notPlain }
        case .valueLF:
            guard byte == Self.lf else { return .notPlain }
            state = .lineStart
        case .finalLF:
            return byte == Self.lf ? .complete(length: position + 1) : .notPlain
        }
        return nil
    }

    /// At the CR after a value: no trailing whitespace, no repeated single header, then LF.
    private mutating func endOfValue(_ bytes: UnsafeRawBufferPointer) -> Progress? {
        let last = bytes[position - 1]
        guard last != UInt8(ascii: " "), last != UInt8(ascii: "\t") else { return .notPlain }
        if let flag = Self.singleFlag(UnsafeRawBufferPointer(rebasing: bytes[nameRange])) {
            guard flag != 0, seen & flag == 0 else { return .notPlain }
            seen |= flag
        }
        headers.append((Self.string(bytes, nameRange), Self.string(bytes, start..<position)))
        state = .valueLF
        return nil
    }

    /// For a header that must come at most once, its bit; 0 for one that must not come at all
    /// (a body's framing); nil for any other header.
    private static func singleFlag(_ name: UnsafeRawBufferPointer) -> UInt32? {
        switch name.count {
        case 4: return equalsLowercase(name, "host") ? 1 : nil
        case 6: return equalsLowercase(name, "origin") ? 2 : nil
        case 7: return equalsLowercase(name, "upgrade") ? 4 : nil
        case 10: return equalsLowercase(name, "connection") ? 8 : nil
        case 14: return equalsLowercase(name, "content-length") ? 0 : nil
        case 17:
            if equalsLowercase(name, "sec-websocket-key") { return 16 }
            return equalsLowercase(name, "transfer-encoding") ? 0 : nil
        case 21: return equalsLowercase(name, "sec-websocket-version") ? 32 : nil
        default: return nil
        }
    }

    private static func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let other = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let lower = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
            if lower != other[index] { return false }
        }
        return true
    }

    private static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private static func isVisible(_ byte: UInt8) -> Bool { (0x21...0x7E).contains(byte) }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let method = Array("GET ".utf8)
    private static let version = Array("HTTP/1.1\r\n".utf8)
    /// RFC 9110 §5.6.2 `tchar`.
    private static let tokenBytes = ASCIISet(alphanumericsAnd: "!#$%&'*+-.^_`|~")
    /// An origin-form target (RFC 9112 §3.2.1): RFC 3986 `pchar`, `/` and `?`.
    private static let targetBytes = ASCIISet(alphanumericsAnd: "-._~!$&'()*+,;=:@/?%")
    /// Inside a header value: visible ASCII, space and tab.
    private static let valueBytes = ASCIISet(alphanumericsAnd: "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t")

    /// A set of ASCII bytes as two 64-bit masks.
    private struct ASCIISet {
        private var low: UInt64 = 0
        private var high: UInt64 = 0

        init(alphanumericsAnd others: String) {
            for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { insert(byte) }
            for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { insert(byte) }
            for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { insert(byte) }
            for byte in others.utf8 { insert(byte) }
        }

        private mutating func insert(_ byte: UInt8) {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }

        @inline(__always)
        func contains(_ byte: UInt8) -> Bool {
            if byte < 64 { return low & (1 << UInt64(byte)) != 0 }
            if byte < 128 { return high & (1 << UInt64(byte - 64)) != 0 }
            return false
        }
    }
}
