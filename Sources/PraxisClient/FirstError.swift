import Synchronization

/// The first error text of a run, from any thread.
final class FirstError: Sendable {
    private let value = Mutex<String?>(nil)

    var text: String? { value.withLock { $0 } }

    func record(_ text: @autoclosure () -> String) {
        value.withLock { if $0 == nil { $0 = text() } }
    }
}
