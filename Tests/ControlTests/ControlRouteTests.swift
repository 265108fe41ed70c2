import DNSSEC
import Foundation
import XCTest

/// The control API's routes driven in-process through the server's own HTTP pipeline: status codes,
/// headers and JSON fields, as an operator's client sees them.
final class ControlRouteTests: XCTestCase {
    let bearer = ["Authorization": "Bearer \(ControlFixture.token)"]

    func connection(token: String? = ControlFixture.token, metrics: Bool = false, maxBodyBytes: Int = 65536) throws -> Connection {
        try Connection(try ControlFixture.make(token: token, metrics: metrics), maxBodyBytes: maxBodyBytes)
    }

    /// The regions of `service` in the status document: name -> up.
    func regions(_ status: [String: Any], _ service: String) -> [String: Bool] {
        let services = status["services"] as? [[String: Any]] ?? []
        let regions = services.first { $0["name"] as? String == service }?["regions"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: regions.map { ($0["region"] as? String ?? "", $0["up"] as? Bool ?? false) })
    }

    // MARK: reads

    func testStatusListsZonesServicesEndpointsAndOverrides() throws {
        let r = try connection().request("GET", "/v1/status")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        XCTAssertEqual(r.headers["content-length"], "\(r.body.count)")
        let json = try XCTUnwrap(r.json)
        let zones = try XCTUnwrap(json["zones"] as? [[String: Any]])
        XCTAssertEqual(zones.count, 1)
        XCTAssertEqual(zones.first?["serial"] as? Int, 7)
        XCTAssertEqual((zones.first?["name"] as? String)?.hasPrefix("gslb.test"), true)
        let services = try XCTUnwrap(json["services"] as? [[String: Any]])
        XCTAssertEqual(services.map { $0["name"] as? String }, ["geo.gslb.test.", "fo.gslb.test."])
        XCTAssertEqual(services.map { $0["policy"] as? String }, ["geo", "failover"])
        XCTAssertEqual(services.map { $0["degraded"] as? Bool }, [false, false])
        XCTAssertEqual(regions(json, "geo.gslb.test."), ["eu": true, "na": true])
        let eu = (services[0]["regions"] as? [[String: Any]])?.first
        let endpoints = try XCTUnwrap(eu?["endpoints"] as? [[String: Any]])
        XCTAssertEqual(endpoints.map { $0["address"] as? String }, ["192.0.2.1", "2001:db8:1::1"])
        XCTAssertEqual(endpoints.map { $0["in_answers"] as? Bool }, [true, true])
        XCTAssertEqual((json["overrides"] as? [Any])?.count, 0)
    }

    /// `GET /v1/dnssec`: the keys of each signed zone as its key directory holds them; a directory
    /// that cannot be read is an error of that zone, not of the request.
    func testDNSSECListsTheKeysOfEachSignedZone() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("control-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let now = Int64(Date().timeIntervalSince1970)
        let key = try ZoneKey.generate(
            zone: "gslb.test.", algorithm: .ed25519, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
        try KeyFiles.write(key, ttl: 3600, directory: directory)
        let fixture = try ControlFixture.make(
            keyDirectories: [("gslb.test.", directory), ("other.test.", directory + "/missing")])
        let r = try Connection(fixture).request("GET", "/v1/dnssec")
        XCTAssertEqual(r.status, 200)
        let zones = try XCTUnwrap(r.json?["zones"] as? [[String: Any]])
        XCTAssertEqual(zones.map { $0["zone"] as? String }, ["gslb.test.", "other.test."])
        XCTAssertEqual(zones[0]["serial"] as? Int, 7)
        let keys = try XCTUnwrap(zones[0]["keys"] as? [[String: Any]])
        XCTAssertEqual(keys.map { $0["tag"] as? Int }, [Int(key.tag)])
        XCTAssertEqual(keys.first?["state"] as? String, "active")
        XCTAssertEqual(keys.first?["role"] as? String, "ksk/csk")
        XCTAssertEqual((keys.first?["events"] as? [String: String])?["activate"], KeyTime.format(now))
        XCTAssertNil(zones[1]["keys"])
        XCTAssertNotNil(zones[1]["error"] as? String)
    }

    func testMetricsIsPrometheusText() throws {
        let r = try connection(metrics: true).request("GET", "/metrics")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertTrue(r.text.contains("# TYPE meridian_build_info gauge"), r.text)
        XCTAssertTrue(r.text.contains("meridian_build_info{version=\"test\"} 1"), r.text)
    }

    func testMetricsWithoutSourcesIsEmpty() throws {
        let r = try connection().request("GET", "/metrics")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-length"], "0")
        XCTAssertEqual(r.body, [])
    }

    func testExplainGivesTheDecisionAndWhy() throws {
        let c = try connection()
        let r = try c.request("GET", "/v1/explain?name=geo.gslb.test.&type=A&client=198.51.100.7")
        XCTAssertEqual(r.status, 200)
        let lines = try XCTUnwrap(r.json?["lines"] as? [String])
        XCTAssertTrue(lines.contains("regions in order: na (up), eu (up)"), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("answer: region na: 198.51.100.1") }, "\(lines)")
        let aaaa = try c.request("GET", "/v1/explain?name=GEO.gslb.test&type=aaaa&client=192.0.2.0/24")
        XCTAssertEqual(aaaa.status, 200)
        XCTAssertTrue((aaaa.json?["lines"] as? [String] ?? []).contains { $0.hasPrefix("answer: region eu:") }, aaaa.text)
    }

    func testExplainOfAStaticNameAndBadQueries() throws {
        let c = try connection()
        let r = try c.request("GET", "/v1/explain?name=static.gslb.test.&client=192.0.2.7")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.json?["lines"] as? [String], ["static.gslb.test. is not a GSLB service: static records, scope 0"])
        XCTAssertEqual(try c.request("GET", "/v1/explain?client=192.0.2.7").status, 400)
        XCTAssertEqual(
            try c.request("GET", "/v1/explain?name=geo.gslb.test.&client=192.0.2.7&type=MX").json?["error"] as? String,
            "type must be A or AAAA")
        XCTAssertEqual(
            try c.request("GET", "/v1/explain?name=geo.gslb.test.&client=nowhere").json?["error"] as? String,
            "client must be an address or network")
    }

    func testHeadAnswersGetsHeadWithoutBody() throws {
        let c = try connection()
        let get = try c.request("GET", "/v1/status")
        let responses = try c.exchange(
            "HEAD /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n",
            heads: [true, false])
        XCTAssertEqual(responses.map(\.status), [200, 200])
        XCTAssertEqual(responses[0].headers["content-length"], "\(get.body.count)")
        XCTAssertEqual(responses[0].body, [])
        // the GET right after it is read whole: the HEAD's answer carried no body octets
        XCTAssertEqual(responses[1].body, get.body)
    }

    // MARK: routing

    func testUnknownPathIs404() throws {
        let r = try connection().request("GET", "/v1/nothing?x=1")
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.json?["error"] as? String, "no such endpoint: /v1/nothing")
    }

    func testWrongMethodIs405WithAllow() throws {
        let c = try connection()
        let post = try c.request("POST", "/v1/status", body: "{}", headers: bearer)
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["allow"], "GET, HEAD")
        let get = try c.request("GET", "/v1/override")
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.headers["allow"], "POST")
        XCTAssertEqual(try c.request("DELETE", "/metrics").headers["allow"], "GET, HEAD")
        XCTAssertEqual(try c.request("GET", "/v1/reload").headers["allow"], "POST")
    }

    // MARK: writes

    func testOverrideAppliesAndShowsInStatusAndExplain() throws {
        let c = try connection()
        let r = try c.request(
            "POST", "/v1/override", body: #"{"scope":"region","name":"na","service":"geo.gslb.test","state":"down"}"#,
            headers: bearer)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["target"] as? String, "region na of geo.gslb.test.")
        XCTAssertEqual(r.json?["state"] as? String, "down")
        let status = try XCTUnwrap(try c.request("GET", "/v1/status").json)
        XCTAssertEqual(regions(status, "geo.gslb.test."), ["eu": true, "na": false])
        XCTAssertEqual(regions(status, "fo.gslb.test."), ["eu": true, "na": true])
        let overrides = status["overrides"] as? [[String: String]]
        XCTAssertEqual(overrides ?? [], [["target": "region na of geo.gslb.test.", "state": "down"]])
        let lines = try c.request("GET", "/v1/explain?name=geo.gslb.test.&client=198.51.100.7").json?["lines"] as? [String] ?? []
        XCTAssertTrue(lines.contains("regions in order: na (down), eu (up)"), "\(lines)")
        XCTAssertTrue(lines.contains("override: region na of geo.gslb.test. forced down"), "\(lines)")
        // clearing it restores the region
        let clear = try c.request(
            "POST", "/v1/override", body: #"{"scope":"region","name":"na","service":"geo.gslb.test.","state":"clear"}"#,
            headers: bearer)
        XCTAssertEqual(clear.status, 200)
        XCTAssertEqual(regions(try XCTUnwrap(try c.request("GET", "/v1/status").json), "geo.gslb.test."), ["eu": true, "na": true])
    }

    func testOverrideOfUnknownTargetIs404() throws {
        let c = try connection()
        let region = try c.request("POST", "/v1/override", body: #"{"scope":"region","name":"mars","state":"down"}"#, headers: bearer)
        XCTAssertEqual(region.status, 404)
        XCTAssertEqual(region.json?["error"] as? String, "no region mars in any service")
        let endpoint = try c.request("POST", "/v1/override", body: #"{"scope":"endpoint","name":"192.0.2.99","state":"drain"}"#, headers: bearer)
        XCTAssertEqual(endpoint.status, 404)
        let service = try c.request("POST", "/v1/override", body: #"{"scope":"service","name":"www.gslb.test","state":"up"}"#, headers: bearer)
        XCTAssertEqual(service.status, 404)
        XCTAssertEqual(service.json?["error"] as? String, "no service www.gslb.test.")
        XCTAssertEqual((try c.request("GET", "/v1/status").json?["overrides"] as? [Any])?.count, 0)
    }

    func testOverrideWithBadBodyIs400() throws {
        let c = try connection()
        for body in ["{not json", "[1,2]", "\"down\"", ""] {
            let r = try c.request("POST", "/v1/override", body: body, headers: bearer)
            XCTAssertEqual(r.status, 400, body)
            XCTAssertEqual(r.json?["error"] as? String, "the body must be a JSON object", body)
        }
        let scope = try c.request("POST", "/v1/override", body: #"{"scope":"planet","name":"x","state":"down"}"#, headers: bearer)
        XCTAssertEqual(scope.json?["error"] as? String, "scope must be endpoint, region or service")
        let state = try c.request("POST", "/v1/override", body: #"{"scope":"region","name":"eu","state":"off"}"#, headers: bearer)
        XCTAssertEqual(state.status, 400)
        XCTAssertEqual(state.json?["error"] as? String, "state must be up, down, drain or clear")
    }

    func testWritesNeedTheBearerToken() throws {
        let c = try connection()
        let body = #"{"scope":"region","name":"eu","state":"down"}"#
        let none = try c.request("POST", "/v1/override", body: body)
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.headers["www-authenticate"], "Bearer realm=\"meridian\"")
        XCTAssertEqual(none.json?["error"] as? String, "a bearer token is required for writes")
        for value in ["Bearer wrong-token", "Basic \(ControlFixture.token)", "Bearer", "Bearer \(ControlFixture.token)x"] {
            let wrong = try c.request("POST", "/v1/override", body: body, headers: ["Authorization": value])
            XCTAssertEqual(wrong.status, 401, value)
            XCTAssertEqual(wrong.json?["error"] as? String, "the bearer token is wrong", value)
        }
        // checked before the body is read: a bad body without the token is still 401
        XCTAssertEqual(try c.request("POST", "/v1/override", body: "{not json").status, 401)
        XCTAssertEqual((try c.request("GET", "/v1/status").json?["overrides"] as? [Any])?.count, 0)
        // the scheme is case-insensitive (RFC 9110 §11.1)
        let ok = try c.request("POST", "/v1/override", body: body, headers: ["Authorization": "bearer  \(ControlFixture.token)"])
        XCTAssertEqual(ok.status, 200, ok.text)
    }

    func testSocketModeTakesWritesWithoutToken() throws {
        let c = try connection(token: nil)
        let r = try c.request("POST", "/v1/override", body: #"{"scope":"endpoint","name":"198.51.100.1","state":"drain"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json?["target"] as? String, "endpoint 198.51.100.1")
        let status = try XCTUnwrap(try c.request("GET", "/v1/status").json)
        XCTAssertEqual(status["overrides"] as? [[String: String]] ?? [], [["target": "endpoint 198.51.100.1", "state": "drain"]])
        XCTAssertEqual(try connection(token: "").request("POST", "/v1/override", body: #"{"scope":"region","name":"eu","state":"up"}"#).status, 200)
    }

    func testOversizedBodyIs413AndNotActedOn() throws {
        let c = try connection(maxBodyBytes: 64)
        let body = #"{"scope":"region","name":"eu","state":"down","pad":""# + String(repeating: "x", count: 64) + #""}"#
        let r = try c.request("POST", "/v1/override", body: body, headers: bearer)
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(r.headers["connection"], "close")
        XCTAssertEqual(r.json?["error"] as? String, "the request body is over 64 octets")
        XCTAssertFalse(c.channel.isActive, "a 413 closes the connection")
        let fresh = try Connection(try ControlFixture.make(), maxBodyBytes: 64)
        let fits = try fresh.request("POST", "/v1/override", body: #"{"scope":"region","name":"eu","state":"down"}"#, headers: bearer)
        XCTAssertEqual(fits.status, 200, "a body at the limit is read: \(fits.text)")
    }

    func testPushWithoutMonitorAndReloadWithoutReloader() throws {
        let c = try connection()
        let push = try c.request("POST", "/v1/push", body: #"{"address":"192.0.2.1","check":"web","state":"up"}"#, headers: bearer)
        XCTAssertEqual(push.status, 404)
        XCTAssertEqual(push.json?["error"] as? String, "no push-check endpoint 192.0.2.1/web")
        let incomplete = try c.request("POST", "/v1/push", body: #"{"address":"192.0.2.1","state":"sideways"}"#, headers: bearer)
        XCTAssertEqual(incomplete.status, 400)
        let reload = try c.request("POST", "/v1/reload", headers: bearer)
        XCTAssertEqual(reload.status, 503)
        XCTAssertEqual(reload.json?["error"] as? String, "reload is not available")
    }
}
