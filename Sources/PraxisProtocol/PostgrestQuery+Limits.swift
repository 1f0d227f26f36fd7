extension PostgrestQuery {
    /// How large one query may be. Each bound keeps a request well inside what the
    /// database can plan (SQLite refuses an expression tree deeper than 1,000 terms and
    /// more than 32,766 bound values), so an oversized query is refused up front with
    /// `PGRST100` instead of failing inside the database.
    public struct Limits: Sendable, Equatable {
        /// Most filters (`column=op.value`) in one query. Default 100.
        public var maxFilters: Int
        /// Most `order=` terms. Default 32.
        public var maxOrderTerms: Int
        /// Most filter operands in all, counting every value of an `in.(…)` list.
        /// Default 1,000.
        public var maxFilterValues: Int

        public init(maxFilters: Int = 100, maxOrderTerms: Int = 32, maxFilterValues: Int = 1000) {
            self.maxFilters = maxFilters
            self.maxOrderTerms = maxOrderTerms
            self.maxFilterValues = maxFilterValues
        }

        /// Checks a parsed query against the bounds.
        func check(_ query: PostgrestQuery) throws(PostgrestQueryError) {
            if query.filters.count > maxFilters {
                throw .invalid("too many filters: \(query.filters.count) (at most \(maxFilters))")
            }
            if query.order.count > maxOrderTerms {
                throw .invalid("too many order terms: \(query.order.count) (at most \(maxOrderTerms))")
            }
            let values = query.filters.reduce(0) { $0 + $1.values.count }
            if values > maxFilterValues {
                throw .invalid("too many filter values: \(values) (at most \(maxFilterValues))")
            }
        }
    }
}
