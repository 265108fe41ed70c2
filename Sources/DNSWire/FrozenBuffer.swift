extension UnsafeBufferPointer {
    /// An immutable heap copy of `array`, for the tables the query path indexes without reference
    /// counting or bounds bookkeeping (zone tables, a snapshot's reference and health tables). The
    /// owner frees it with `deallocate()` in its `deinit`; it is never deinitialised, so `Element`
    /// must be trivial (integers, flags, `Unmanaged` references).
    public static func frozenCopy(of array: [Element]) -> UnsafeBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: Swift.max(array.count, 1))
        _ = buffer.initialize(from: array)
        return UnsafeBufferPointer(rebasing: UnsafeBufferPointer(buffer)[0..<array.count])
    }
}
