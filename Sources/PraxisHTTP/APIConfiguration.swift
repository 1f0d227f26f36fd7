public import PraxisProtocol

/// Behaviour and limits of the auth and data APIs.
public struct APIConfiguration: Sendable {
    /// Lifetime of an access token, in seconds. Default 3600.
    public var accessTokenLifetime: Int
    /// Shortest accepted password. Default 6 (GoTrue's default).
    public var minimumPasswordLength: Int
    /// Failed sign-ins allowed per email per minute before 429. Default 10.
    public var maxFailedLoginsPerEmail: Int
    /// Failed sign-ins allowed per client IP per minute before 429. Default 50.
    public var maxFailedLoginsPerIP: Int
    /// Most rows a read returns when the request sets no smaller limit. Default 1000.
    public var maxRows: Int
    /// scrypt cost (log2 N) for new password hashes. Default 15.
    public var passwordHashLogN: Int
    /// Bounds on one data API query's filters and order terms (defaults in
    /// ``PostgrestQuery/Limits``).
    public var queryLimits: PostgrestQuery.Limits

    public init(
        accessTokenLifetime: Int = 3600, minimumPasswordLength: Int = 6, maxFailedLoginsPerEmail: Int = 10,
        maxFailedLoginsPerIP: Int = 50, maxRows: Int = 1000, passwordHashLogN: Int = 15,
        queryLimits: PostgrestQuery.Limits = PostgrestQuery.Limits()
    ) {
        self.queryLimits = queryLimits
        self.accessTokenLifetime = accessTokenLifetime
        self.minimumPasswordLength = minimumPasswordLength
        self.maxFailedLoginsPerEmail = maxFailedLoginsPerEmail
        self.maxFailedLoginsPerIP = maxFailedLoginsPerIP
        self.maxRows = maxRows
        self.passwordHashLogN = passwordHashLogN
    }
}
