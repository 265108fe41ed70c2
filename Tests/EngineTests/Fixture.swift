import Foundation

/// The acceptance fixture zone, kept in the repository as Tests/Fixtures/zones/gslb.test.zone (a copy of
/// ../shared/acceptance/fixture/gslb.test.zone) so the tests do not depend on files outside it.
enum Fixture {
    static let gslbZone: String = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/zones/gslb.test.zone").standardized.path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fatalError("missing fixture \(path)") }
        return text
    }()

    /// A second zone served beside gslb.test for cases the fixture does not have.
    static let extraZone = #"""
        $ORIGIN extra.test.
        $TTL 600
        @        600 IN SOA ns.extra.test. admin.extra.test. 7 3600 600 86400 60
        @            IN NS  ns
        ns           IN A   192.0.2.53
        dangling     IN CNAME nowhere
        out          IN CNAME www.gslb.test.
        loop1        IN CNAME loop2
        loop2        IN CNAME loop1
        *.w          IN CNAME target
        target       IN A   192.0.2.77
        chain1       IN CNAME chain2
        chain2       IN CNAME target

        """#

    /// A child zone of gslb.test (the delegated "sub"), for deepest-zone selection.
    static let subZone = #"""
        $ORIGIN sub.gslb.test.
        @        120 IN SOA ns.sub.gslb.test. admin.sub.gslb.test. 3 3600 600 86400 30
        @            IN NS  ns
        ns           IN A   127.0.0.3
        www       60 IN A   198.51.100.80

        """#
}
