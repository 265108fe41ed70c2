import Health
import XCTest

@testable import Cluster

/// The NS set's key layout, the view built from etcd's keys and watch events, and the quorum rule.
final class ClusterViewTests: XCTestCase {
    let keys = ClusterKeys(prefix: "/meridian/default/")
    let web = Endpoint(address: "192.0.2.10", check: "web")
    let v6 = Endpoint(address: "2001:db8::1", check: "tls/strict")

    func testKeysRoundTripEveryKindAndEscapeSlashes() {
        XCTAssertEqual(keys.all, "/meridian/default/")
        XCTAssertEqual(keys.member("a/b%"), "/meridian/default/members/a%2Fb%25")
        XCTAssertEqual(keys.parse(keys.member("a/b%")), .member(node: "a/b%"))
        XCTAssertEqual(keys.verdict(node: "n1", v6), "/meridian/default/verdicts/n1/2001:db8::1/tls%2Fstrict")
        XCTAssertEqual(keys.parse(keys.verdict(node: "n1", v6)), .verdict(node: "n1", endpoint: v6))
        for target in [
            OverrideTarget(scope: .endpoint, name: "192.0.2.10"), OverrideTarget(scope: .region, name: "eu"),
            OverrideTarget(scope: .region, name: "eu", service: "www.gslb.example."), OverrideTarget(scope: .service, name: "www.gslb.example."),
        ] {
            XCTAssertEqual(keys.parse(keys.override(target)), .override(target), "\(target)")
        }
        // foreign or malformed keys are ignored, not misread
        XCTAssertNil(keys.parse("/meridian/default/verdicts/n1/192.0.2.10"))
        XCTAssertNil(keys.parse("/meridian/default/members/a/b"))
        XCTAssertNil(keys.parse("/meridian/default/overrides/planet/x"))
        XCTAssertNil(keys.parse("/meridian/default/overrides/service/x/y"))
        XCTAssertNil(keys.parse("/meridian/default/members/bad%zz"))
        XCTAssertNil(keys.parse("/other/members/n1"))
    }

    func testRangeEndIsThePrefixWithItsLastOctetIncremented() {
        XCTAssertEqual(EtcdClient.rangeEnd("/m/"), Array("/m0".utf8))
        XCTAssertEqual(EtcdClient.rangeEnd("ab"), Array("ac".utf8))
    }

    func testQuorumRule() {
        XCTAssertEqual(QuorumRule.majority.needed(probers: 1), 1)
        XCTAssertEqual(QuorumRule.majority.needed(probers: 2), 2)
        XCTAssertEqual(QuorumRule.majority.needed(probers: 3), 2)
        XCTAssertEqual(QuorumRule.majority.needed(probers: 4), 3)
        XCTAssertEqual(QuorumRule.atLeast(2).needed(probers: 5), 2)
        XCTAssertEqual(QuorumRule.atLeast(2).needed(probers: 2), 2)
        // fewer live than N: a majority of the live ones
        XCTAssertEqual(QuorumRule.atLeast(3).needed(probers: 2), 2)
        XCTAssertEqual(QuorumRule.atLeast(3).needed(probers: 1), 1)
    }

    private func member(_ node: String) -> EtcdClient.KeyValue {
        let info = MemberInfo(node: node, version: "t", configDigest: "d", zones: [:], listen: [], startedAt: 0)
        return kv(keys.member(node), Array(try! JSONEncoder().encode(info)))
    }

    private func kv(_ key: String, _ value: [UInt8]) -> EtcdClient.KeyValue {
        EtcdClient.KeyValue(key: key, value: value, modRevision: 1, lease: 0)
    }

    private func verdict(_ node: String, _ endpoint: Endpoint, _ up: Bool) -> EtcdClient.KeyValue {
        kv(keys.verdict(node: node, endpoint), Array((up ? "up" : "down").utf8))
    }

    func testOneInstanceThatSaysDownDoesNotWithdrawForAll() {
        let view = ClusterView(
            keys: keys, kvs: [member("a"), member("b"), member("c"), verdict("a", web, false), verdict("b", web, true), verdict("c", web, true)],
            revision: 7)
        XCTAssertEqual(view.revision, 7)
        XCTAssertEqual(view.votes(rule: .majority)[web], EndpointVote(probers: 3, down: 1, needed: 2))
        XCTAssertEqual(view.sharedVerdicts(rule: .majority)[web], true)
        // N = 1: any one prober withdraws it
        XCTAssertEqual(view.sharedVerdicts(rule: .atLeast(1))[web], false)
    }

    func testTwoOfThreeWithdraw() {
        let view = ClusterView(
            keys: keys, kvs: [member("a"), member("b"), member("c"), verdict("a", web, false), verdict("b", web, false), verdict("c", web, true)],
            revision: 7)
        XCTAssertEqual(view.sharedVerdicts(rule: .majority)[web], false)
    }

    func testAVanishedMembersVotesAreNotCountedAndTheQuorumIsRecomputed() {
        var view = ClusterView(
            keys: keys, kvs: [member("a"), member("b"), member("c"), verdict("a", web, false), verdict("b", web, true), verdict("c", web, false)],
            revision: 7)
        XCTAssertEqual(view.sharedVerdicts(rule: .majority)[web], false)
        // c's lease expires: its member key and verdicts are deleted (here: the member key first)
        view.apply(keys: keys, events: [EtcdClient.Event(deleted: true, kv: kv(keys.member("c"), []))], revision: 8)
        XCTAssertEqual(view.votes(rule: .majority)[web], EndpointVote(probers: 2, down: 1, needed: 2))
        XCTAssertEqual(view.sharedVerdicts(rule: .majority)[web], true)
        XCTAssertEqual(view.revision, 8)
    }

    func testWatchEventsUpdateVerdictsAndOverrides() {
        var view = ClusterView(keys: keys, kvs: [member("a"), verdict("a", web, true)], revision: 3)
        let drain = OverrideTarget(scope: .region, name: "eu", service: "www.gslb.example.")
        view.apply(
            keys: keys,
            events: [
                EtcdClient.Event(deleted: false, kv: verdict("a", web, false)),
                EtcdClient.Event(deleted: false, kv: kv(keys.override(drain), Array("drain".utf8))),
            ], revision: 5)
        XCTAssertEqual(view.sharedVerdicts(rule: .majority)[web], false)
        XCTAssertEqual(view.overrides[drain], .drain)
        view.apply(keys: keys, events: [EtcdClient.Event(deleted: true, kv: kv(keys.override(drain), []))], revision: 6)
        XCTAssertNil(view.overrides[drain])
        view.apply(keys: keys, events: [EtcdClient.Event(deleted: true, kv: kv(keys.verdict(node: "a", web), []))], revision: 7)
        XCTAssertNil(view.sharedVerdicts(rule: .majority)[web], "no prober left: no shared verdict (the endpoint counts up)")
        XCTAssertTrue(view.verdicts.isEmpty)
    }

    func testUnreadableValuesCountAsAbsent() {
        let view = ClusterView(
            keys: keys, kvs: [kv(keys.member("a"), Array("{".utf8)), member("b"), kv(keys.verdict(node: "b", web), Array("maybe".utf8))],
            revision: 1)
        XCTAssertNil(view.members["a"])
        XCTAssertNil(view.votes(rule: .majority)[web])
    }

    func testTheSameKeysGiveTheSameViewInAnyOrder() {
        let kvs = [member("a"), member("b"), member("c"), verdict("a", web, false), verdict("b", web, false), verdict("c", v6, true)]
        let one = ClusterView(keys: keys, kvs: kvs, revision: 9)
        let other = ClusterView(keys: keys, kvs: kvs.reversed(), revision: 9)
        XCTAssertEqual(one, other)
        XCTAssertEqual(one.nodes(differingFrom: "d"), [])
        XCTAssertEqual(one.nodes(differingFrom: "other"), ["a", "b", "c"])
        XCTAssertEqual(one.sharedVerdicts(rule: .majority), other.sharedVerdicts(rule: .majority))
    }

    func testEndpointURLs() {
        XCTAssertEqual(EtcdEndpoint(url: "http://127.0.0.1:2379")?.description, "http://127.0.0.1:2379")
        XCTAssertEqual(EtcdEndpoint(url: "https://[::1]:2379/")?.description, "https://[::1]:2379")
        XCTAssertEqual(EtcdEndpoint(url: "https://etcd.example:2379")?.tls, true)
        XCTAssertNil(EtcdEndpoint(url: "127.0.0.1:2379"))
        XCTAssertNil(EtcdEndpoint(url: "http://127.0.0.1"))
        XCTAssertNil(EtcdEndpoint(url: "http://127.0.0.1:0"))
        XCTAssertNil(EtcdEndpoint(url: "http://[::1]2379"))
    }

    func testGatewayErrorsAreRefusalsOrUnavailability() {
        XCTAssertThrowsError(try EtcdClient.decode(HeaderReply.self, Array(#"{"error":"etcdserver: requested lease not found","code":5}"#.utf8))) {
            XCTAssertEqual($0 as? EtcdError, .refused(code: 5, message: "etcdserver: requested lease not found"))
        }
        XCTAssertThrowsError(try EtcdClient.decode(HeaderReply.self, Array(#"{"error":"etcdserver: no leader","code":14}"#.utf8))) {
            XCTAssertEqual($0 as? EtcdError, .unavailable("etcdserver: no leader"))
        }
        XCTAssertThrowsError(try EtcdClient.decode(HeaderReply.self, Array("<html>".utf8)))
        XCTAssertEqual(try EtcdClient.decode(HeaderReply.self, Array(#"{"header":{"revision":"42"}}"#.utf8)).header.revisionValue, 42)
    }
}
