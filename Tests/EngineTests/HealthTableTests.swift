@testable import Engine
import XCTest

/// `HealthTable` keeps its flags once, flat: every accessor reads the row it was given.
final class HealthTableTests: XCTestCase {
    func testFlatRowsReadBackAsGiven() {
        let up: [[Bool]] = [[true, false, true], [], [false], [true, true]]
        let addressUp: [[Bool]] = [[false, true], [true], [], [true, false, false, true]]
        let degraded = [true, false, true, false]
        let table = HealthTable(up: up, addressUp: addressUp, degraded: degraded)
        XCTAssertEqual(table.serviceCount, 4)
        for s in 0..<4 {
            XCTAssertEqual(table.up(s), up[s], "service \(s)")
            XCTAssertEqual(table.isDegraded(s), degraded[s])
            XCTAssertEqual(table.rowLengths(s).pools, up[s].count)
            XCTAssertEqual(table.rowLengths(s).addresses, addressUp[s].count)
            for p in up[s].indices { XCTAssertEqual(table.isUp(service: s, pool: p), up[s][p], "service \(s) pool \(p)") }
            for i in addressUp[s].indices {
                XCTAssertEqual(table.isAddressUp(service: s, address: i), addressUp[s][i], "service \(s) address \(i)")
            }
        }
    }
}
