/// The canonical order of domain names (RFC 4034 §6.1): names compared label by label from the
/// rightmost, each label as an octet string of lower-case letters, a label that is a prefix of
/// another sorting first, and an ancestor before its descendants. NSEC chains follow it.
///
/// Names are compared through a *key*: the labels from right to left, each as length + octets, then a
/// zero octet. Keys are made once, at signing time; the query path compares a name against keys with
/// the label offsets it already has, without allocating.
public enum CanonicalOrder {
    /// The key of a lower-case wire name.
    public static func key(_ name: [UInt8]) -> [UInt8] {
        var starts: [Int] = []
        var pos = 0
        while pos < name.count, name[pos] != 0 {
            starts.append(pos)
            pos += Int(name[pos]) + 1
        }
        var key: [UInt8] = []
        key.reserveCapacity(name.count)
        for start in starts.reversed() { key += name[start...(start + Int(name[start]))] }
        key.append(0)
        return key
    }

    /// Whether key `a` sorts before key `b`.
    public static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in compare(pa.baseAddress!, pb.baseAddress!) < 0 } }
    }

    /// Negative, zero or positive as key `a` sorts before, with or after key `b`.
    public static func compare(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>) -> Int {
        var i = 0, j = 0
        while true {
            let la = Int(a[i]), lb = Int(b[j])
            if la == 0 || lb == 0 { return la - lb } // the shorter name is the ancestor
            let c = compareLabels(a + i + 1, la, b + j + 1, lb)
            if c != 0 { return c }
            i += la + 1
            j += lb + 1
        }
    }

    /// Negative, zero or positive as the lower-case wire name `name` (its `labels` labels start at
    /// `offsets[0..<labels]`, left to right) sorts before, with or after key `key`. Query path: no
    /// allocation.
    @inline(__always)
    public static func compare(name: UnsafePointer<UInt8>, offsets: UnsafePointer<Int>, labels: Int, key: UnsafePointer<UInt8>) -> Int {
        var label = labels - 1
        var j = 0
        while true {
            let lk = Int(key[j])
            if label < 0 { return lk == 0 ? 0 : -1 }
            if lk == 0 { return 1 }
            let start = offsets[label]
            let c = compareLabels(name + start + 1, Int(name[start]), key + j + 1, lk)
            if c != 0 { return c }
            label -= 1
            j += lk + 1
        }
    }

    /// Two labels' octets compared; a label that is a prefix of the other first.
    @inline(__always)
    static func compareLabels(_ a: UnsafePointer<UInt8>, _ la: Int, _ b: UnsafePointer<UInt8>, _ lb: Int) -> Int {
        for k in 0..<min(la, lb) where a[k] != b[k] { return Int(a[k]) - Int(b[k]) }
        return la - lb
    }
}
