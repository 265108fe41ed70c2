/// A configuration problem reported with its config location, or a reload that would need a restart
/// (the message then names the settings that changed and says nothing was reloaded).
public struct ReloadRefused: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
