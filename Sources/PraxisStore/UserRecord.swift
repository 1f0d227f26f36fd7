import GRDB
public import PraxisDomain

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

import Foundation
