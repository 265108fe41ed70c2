extension StringProtocol {
    /// The text without leading and trailing white space (spaces, tabs, line ends), as operators' files
    /// and values are padded; what Foundation's `trimmingCharacters(in:)` did, without Foundation.
    public func trimmingWhitespace() -> SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
