/// Why ``StoreCopier`` refused or failed: one line for the command to print.
package struct StoreCopyError: Error, CustomStringConvertible, Sendable {
    package let message: String

    package init(_ message: String) {
        self.message = message
    }

    package var description: String { message }
}
