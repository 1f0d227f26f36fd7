/// A command's client id as its sender's own: the two peers may use the same ids without
/// clashing, so a remembered command is found by both.
package struct ClientKey: Hashable, Sendable {
    package var userID: String
    package var clientID: String

    package init(userID: String, clientID: String) {
        self.userID = userID
        self.clientID = clientID
    }
}
