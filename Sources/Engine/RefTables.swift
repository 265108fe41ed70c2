import DNSWire
import Steering
import Zones

/// Unmanaged copies of a snapshot's object references (see `Snapshot.zoneRefs`); frees them when the
/// last snapshot sharing it goes. The references stay valid because every such snapshot holds the
/// arrays they were copied from.
final class RefTables: @unchecked Sendable {
    let zones: UnsafeBufferPointer<Unmanaged<CompiledZone>>
    let services: UnsafeBufferPointer<Unmanaged<CompiledService>>
    let nodeServices: UnsafeBufferPointer<Int32>
    let nodeServiceStart: UnsafeBufferPointer<Int>

    init(zones: [CompiledZone], services: [CompiledService], serviceOfNode: [[Int32]]) {
        self.zones = UnsafeBufferPointer.frozenCopy(of: zones.map { Unmanaged.passUnretained($0) })
        self.services = UnsafeBufferPointer.frozenCopy(of: services.map { Unmanaged.passUnretained($0) })
        nodeServiceStart = UnsafeBufferPointer.frozenCopy(of: rowStarts(serviceOfNode))
        nodeServices = UnsafeBufferPointer.frozenCopy(of: Array(serviceOfNode.joined()))
    }

    deinit {
        zones.deallocate()
        services.deallocate()
        nodeServices.deallocate()
        nodeServiceStart.deallocate()
    }
}

/// Where each row starts when `rows` are laid end to end (`Array(rows.joined())`).
func rowStarts<T>(_ rows: [[T]]) -> [Int] {
    var starts: [Int] = []
    var at = 0
    for row in rows {
        starts.append(at)
        at += row.count
    }
    starts.append(at) // the end of the last row
    return starts
}
