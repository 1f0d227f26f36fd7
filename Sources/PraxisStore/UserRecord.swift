import GRDB
public import PraxisDomain
import Foundation

/// An account, as the auth API needs it.
public struct UserRecord: Sendable, Equatable {
    public var id: String
    public var email: String
    public var hashedPassword: String
    public var fullName: String?
    public var role: String
    public var profession: String?
    public var isEmailVerified: Bool
    public var emailConfirmedAt: String?
    public var lastLoginAt: String?
    public var status: String
    public var metadata: JSONValue
    public var createdAt: String
    public var updatedAt: String

    public var isAdmin: Bool { role == "admin" }
    public var isActive: Bool { status == "active" }

    /// A user from its columns in ``PostgresDatabase/userColumns``' order, each as text.
    init?(text cells: [String?]) {
        guard cells.count == 13, let id = cells[0], let email = cells[1], let hashedPassword = cells[2], let role = cells[4],
            let status = cells[9], let createdAt = cells[11], let updatedAt = cells[12]
        else { return nil }
        self.id = id
        self.email = email
        self.hashedPassword = hashedPassword
        fullName = cells[3]
        self.role = role
        profession = cells[5]
        isEmailVerified = cells[6] == "true"
        emailConfirmedAt = cells[7]
        lastLoginAt = cells[8]
        self.status = status
        metadata = (try? JSONDecoder().decode(JSONValue.self, from: Data((cells[10] ?? "{}").utf8))) ?? .object([:])
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    init(row: GRDB.Row) {
        id = row["id"]
        email = row["email"]
        hashedPassword = row["hashed_password"]
        fullName = row["full_name"]
        role = row["role"]
        profession = row["profession"]
        isEmailVerified = row["is_email_verified"]
        emailConfirmedAt = row["email_confirmed_at"]
        lastLoginAt = row["last_login_at"]
        status = row["status"]
        let metadataText: String = row["user_metadata"] ?? "{}"
        metadata = (try? JSONDecoder().decode(JSONValue.self, from: Data(metadataText.utf8))) ?? .object([:])
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
    }
}
