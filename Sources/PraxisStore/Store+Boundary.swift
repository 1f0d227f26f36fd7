/// SQLite's store is the first implementation of the store boundary.
extension Store: AuthStore, DataStore, SettingsStore {}
