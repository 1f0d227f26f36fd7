import Testing

@testable import PraxisAuth

@Suite("PasswordHasher")
struct PasswordHasherTests {
    let hasher = PasswordHasher(logN: 10)

    @Test func hashVerifiesOnlyTheSamePassword() throws {
        let stored = try hasher.hash("correct horse")
        #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(hasher.verify("correct horse", against: stored))
        #expect(!hasher.verify("correct horsE", against: stored))
        #expect(!hasher.verify("", against: stored))
    }

    @Test func saltsDiffer() throws {
        #expect(try hasher.hash("same") != hasher.hash("same"))
    }

    @Test(arguments: ["", "plain", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "$scrypt$ln=10$x$y", "$bcrypt$ln=10,r=8,p=1$AAAA$AAAA"])
    func malformedHashesNeverMatch(stored: String) {
        #expect(!hasher.verify("plain", against: stored))
    }
}
