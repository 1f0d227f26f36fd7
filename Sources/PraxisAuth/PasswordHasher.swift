import Crypto
import _CryptoExtras
import Foundation

/// Hashes and checks passwords with scrypt and a random per-user salt.
///
/// The stored form is self-describing, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64),
/// so the cost can be raised later without invalidating existing hashes.
/// Hashing is deliberately slow: call it off the event loop.
public struct PasswordHasher: Sendable {
    /// log2 of scrypt's CPU/memory cost N. Default 15 (N = 32768, 32 MiB with r = 8).
    public var logN: Int
    /// scrypt block size r. Default 8.
    public var blockSize: Int
    /// scrypt parallelism p. Default 1.
    public var parallelism: Int

    public init(logN: Int = 15, blockSize: Int = 8, parallelism: Int = 1) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// A new salted hash of `password` (which must not be empty).
    public func hash(_ password: String) throws -> String {
        precondition(!password.isEmpty, "empty passwords are refused before hashing")
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let key = try Self.derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return "$scrypt$ln=\(logN),r=\(blockSize),p=\(parallelism)$\(Data(salt).base64EncodedString())$\(key.base64EncodedString())"
    }

    /// Whether `password` matches `stored` (compared in constant time). A malformed
    /// stored hash never matches.
    public func verify(_ password: String, against stored: String) -> Bool {
        // scrypt is undefined for empty input here (and no stored password is empty).
        guard !password.isEmpty else { return false }
        let parts = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { return false }
        var params: [String: Int] = [:]
        for pair in parts[1].split(separator: ",") {
            let kv = pair.split(separator: "=")
            guard kv.count == 2, let value = Int(kv[1]) else { return false }
            params[String(kv[0])] = value
        }
        guard let ln = params["ln"], let r = params["r"], let p = params["p"],
            (1...22).contains(ln), (1...32).contains(r), (1...16).contains(p),
            let salt = Data(base64Encoded: String(parts[2])), !salt.isEmpty,
            let expected = Data(base64Encoded: String(parts[3])),
            let actual = try? Self.derive(password, salt: Array(salt), logN: ln, r: r, p: p)
        else { return false }
        return Self.constantTimeEquals(actual, expected)
    }

    private static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32,
            rounds: 1 << logN, blockSize: r, parallelism: p,
            maxMemory: 256 * 1024 * 1024
        )
        return key.withUnsafeBytes { Data($0) }
    }

    private static func constantTimeEquals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
