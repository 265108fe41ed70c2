import DNSWire

/// One RRset prepared for the wire: `records` RR bodies (TYPE CLASS TTL RDLENGTH RDATA) back to back
/// at `offset` in the zone's data area; the owner is written by the response writer.
public struct PreparedRRSet: Sendable {
    public let type: UInt16
    public let records: UInt16
    public let offset: Int32
    public let length: Int32

    public init(type: UInt16, records: UInt16, offset: Int32, length: Int32) {
        self.type = type
        self.records = records
        self.offset = offset
        self.length = length
    }

    /// No records (an RRset that is not signed).
    public static let empty = PreparedRRSet(type: 0, records: 0, offset: 0, length: 0)
}

/// A name in a compiled zone: its RRsets, and what the lookup needs to know about it.
public struct ZoneNode: Sendable {
    public static let delegation: UInt8 = 1 // NS below the apex: a zone cut (RFC 1034 §4.2.1)
    public static let alias: UInt8 = 2 // holds a CNAME
    public static let apex: UInt8 = 4

    public let nameOffset: Int32
    public let nameLength: UInt16
    public let firstRRSet: Int32
    public let rrsetCount: UInt16
    public let flags: UInt8
    /// Node index of the wildcard child "*.<this>", or -1 (RFC 4592 §2.1.1).
    public let wildcardChild: Int32
    /// Range in `glue` (delegations only): A/AAAA RRsets of the NS targets inside the zone.
    public let glueStart: Int32
    public let glueCount: UInt16

    @inlinable public var isDelegation: Bool { flags & ZoneNode.delegation != 0 }
    @inlinable public var isAlias: Bool { flags & ZoneNode.alias != 0 }
}

/// A glue RRset: its owner node and the RRset.
public struct GlueRef: Sendable {
    public let node: Int32
    public let rrset: Int32
}

/// An immutable, compiled zone: nodes found by hashing lower-case wire names, RRsets pre-encoded; and,
/// when the zone is signed, its DNSSEC material (`signatures`).
///
/// Invariants (established by `ZoneCompiler`): every ancestor of a node down to the apex is a node
/// (empty non-terminals included), so a top-down walk stops at the closest encloser; RRsets of a node
/// are sorted by type; `data`, `names` and the tables never change after init, which is what makes
/// sharing across worker threads safe (`@unchecked Sendable`). The tables belong to `tables`, which a
/// signed copy of the zone (`signed(_:)`) shares.
public final class CompiledZone: @unchecked Sendable {
    public let origin: [UInt8]
    public let originText: String
    /// Labels in the origin, the root excluded.
    public let originLabels: Int
    public let serial: UInt32
    public let apexNode: Int32
    /// The SOA RR body with TTL = min(SOA TTL, MINIMUM) for negative answers (RFC 2308 §3).
    public let negativeSOA: PreparedRRSet
    public let recordCount: Int
    /// RRSIGs and the NSEC3 chain, nil when the zone is not signed.
    public let signatures: ZoneSignatures?
    /// `signatures`' tables, for the query path (one plain pointer, kept valid by `signatures`).
    public let signatureTables: UnsafePointer<SignatureTables>?

    public let nodes: UnsafeBufferPointer<ZoneNode>
    public let rrsets: UnsafeBufferPointer<PreparedRRSet>
    public let glue: UnsafeBufferPointer<GlueRef>
    public let names: UnsafeRawBufferPointer
    public let data: UnsafeRawBufferPointer
    let slots: UnsafeBufferPointer<Int32>
    let slotMask: Int
    let tables: ZoneTables

    convenience init(
        origin: [UInt8], originText: String, serial: UInt32, apexNode: Int32, negativeSOA: PreparedRRSet,
        recordCount: Int, nodes: [ZoneNode], rrsets: [PreparedRRSet], glue: [GlueRef], names: [UInt8], data: [UInt8]
    ) {
        self.init(
            origin: origin, originText: originText, serial: serial, apexNode: apexNode, negativeSOA: negativeSOA,
            recordCount: recordCount, adoptingNodes: UnsafeBufferPointer.frozenCopy(of: nodes), rrsets: UnsafeBufferPointer.frozenCopy(of: rrsets), glue: glue,
            names: names, data: UnsafeBufferPointer.frozenCopy(of: data))
    }

    /// Takes `nodes`, `rrsets` and `data` as they are (allocated with `allocate(capacity:)`; freed with
    /// the tables): the compiler writes a large zone's tables once instead of building arrays and copying.
    convenience init(
        origin: [UInt8], originText: String, serial: UInt32, apexNode: Int32, negativeSOA: PreparedRRSet,
        recordCount: Int, adoptingNodes nodes: UnsafeBufferPointer<ZoneNode>, rrsets: UnsafeBufferPointer<PreparedRRSet>,
        glue: [GlueRef], names: [UInt8], data: UnsafeBufferPointer<UInt8>
    ) {
        let tables = ZoneTables(
            nodes: nodes, rrsets: rrsets, glue: UnsafeBufferPointer.frozenCopy(of: glue),
            names: UnsafeRawBufferPointer(UnsafeBufferPointer.frozenCopy(of: names)), data: UnsafeRawBufferPointer(data))
        self.init(
            origin: origin, originText: originText, serial: serial, apexNode: apexNode, negativeSOA: negativeSOA,
            recordCount: recordCount, tables: tables, signatures: nil)
    }

    init(
        origin: [UInt8], originText: String, serial: UInt32, apexNode: Int32, negativeSOA: PreparedRRSet,
        recordCount: Int, tables: ZoneTables, signatures: ZoneSignatures?
    ) {
        self.origin = origin
        self.originText = originText
        self.originLabels = origin.withUnsafeBufferPointer { WireName.labelCount($0.baseAddress!, length: $0.count) }
        self.serial = serial
        self.apexNode = apexNode
        self.negativeSOA = negativeSOA
        self.recordCount = recordCount
        self.signatures = signatures
        self.signatureTables = signatures?.tablesPointer
        self.tables = tables
        self.nodes = tables.nodes
        self.rrsets = tables.rrsets
        self.glue = tables.glue
        self.names = tables.names
        self.data = tables.data
        self.slots = tables.slots
        self.slotMask = tables.slotMask
    }

    /// The same zone with its DNSSEC material (the tables are shared, not copied).
    public func signed(_ signatures: ZoneSignatures) -> CompiledZone {
        CompiledZone(
            origin: origin, originText: originText, serial: serial, apexNode: apexNode, negativeSOA: negativeSOA,
            recordCount: recordCount, tables: tables, signatures: signatures)
    }

    // MARK: hot path (no allocation)

    /// The node with this lower-case wire name, or -1.
    @inline(__always)
    public func find(_ name: UnsafePointer<UInt8>, length: Int) -> Int32 {
        var slot = Int(truncatingIfNeeded: WireName.hash(name, length: length)) & slotMask
        let base = names.baseAddress!.assumingMemoryBound(to: UInt8.self)
        while true {
            let index = slots[slot]
            if index < 0 { return -1 }
            let node = nodes[Int(index)]
            if WireName.equal(base + Int(node.nameOffset), Int(node.nameLength), name, length) { return index }
            slot = (slot + 1) & slotMask
        }
    }

    /// Index into `rrsets` of the node's RRset of `type`, or -1.
    @inline(__always)
    public func rrset(of node: Int32, type: UInt16) -> Int32 {
        let n = nodes[Int(node)]
        var i = Int(n.firstRRSet)
        let end = i + Int(n.rrsetCount)
        while i < end {
            if rrsets[i].type == type { return Int32(i) }
            i += 1
        }
        return -1
    }

    /// The wire name of a node.
    @inline(__always)
    public func name(of node: Int32) -> (UnsafePointer<UInt8>, Int) {
        let n = nodes[Int(node)]
        return (names.baseAddress!.assumingMemoryBound(to: UInt8.self) + Int(n.nameOffset), Int(n.nameLength))
    }

    /// The pre-encoded bodies of an RRset.
    @inline(__always)
    public func bodies(_ set: PreparedRRSet) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: data[Int(set.offset)..<Int(set.offset + set.length)])
    }

    /// RDATA of the first record of an RRset (CNAME target, SOA fields).
    @inline(__always)
    public func firstRDATA(_ set: PreparedRRSet) -> UnsafeRawBufferPointer {
        let start = Int(set.offset)
        let rdlen = Int(data[start + 8]) << 8 | Int(data[start + 9])
        return UnsafeRawBufferPointer(rebasing: data[(start + 10)..<(start + 10 + rdlen)])
    }
}

/// The tables of a compiled zone and the name index over them; frees them when the last zone that
/// uses them (the unsigned zone and its signed copies) goes.
final class ZoneTables: @unchecked Sendable {
    let nodes: UnsafeBufferPointer<ZoneNode>
    let rrsets: UnsafeBufferPointer<PreparedRRSet>
    let glue: UnsafeBufferPointer<GlueRef>
    let names: UnsafeRawBufferPointer
    let data: UnsafeRawBufferPointer
    /// Open addressing over `nodes` by name hash (linear probing, at most half full).
    let slots: UnsafeBufferPointer<Int32>
    let slotMask: Int

    init(
        nodes: UnsafeBufferPointer<ZoneNode>, rrsets: UnsafeBufferPointer<PreparedRRSet>, glue: UnsafeBufferPointer<GlueRef>,
        names: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer
    ) {
        self.nodes = nodes
        self.rrsets = rrsets
        self.glue = glue
        self.names = names
        self.data = data
        var capacity = 16
        while capacity < nodes.count * 2 { capacity <<= 1 }
        let table = UnsafeMutableBufferPointer<Int32>.allocate(capacity: capacity)
        table.initialize(repeating: -1)
        let mask = capacity - 1
        let nameBytes = names.baseAddress!.assumingMemoryBound(to: UInt8.self)
        for (i, node) in nodes.enumerated() {
            var slot = Int(truncatingIfNeeded: WireName.hash(nameBytes + Int(node.nameOffset), length: Int(node.nameLength))) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(i)
        }
        self.slots = UnsafeBufferPointer(table)
        self.slotMask = mask
    }

    deinit {
        nodes.deallocate()
        rrsets.deallocate()
        glue.deallocate()
        names.deallocate()
        data.deallocate()
        slots.deallocate()
    }
}
