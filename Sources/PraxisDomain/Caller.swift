/// Who is making a request, as the access rules see it (Supabase's `auth.uid()` and role).
public enum Caller: Sendable, Hashable {
    /// A visitor with the anon key and no user token.
    case anonymous
    /// A signed-in user.
    case user(id: String, isAdmin: Bool)
    /// The service-role key: trusted back ends; bypasses every rule.
    case service

    /// The signed-in user's id (`auth.uid()`), if any.
    public var userID: String? {
        if case .user(let id, _) = self { return id }
        return nil
    }

    public var isAdmin: Bool {
        if case .user(_, let isAdmin) = self { return isAdmin }
        return false
    }

    public var isService: Bool { self == .service }
}
