#!/usr/bin/env python3
"""Operations test for Meridian: the control API, metrics, reloads, the decision log and signals.

Usage: Tests/ops/ops_test.py BIN      (BIN = .build/release/meridian or .build/debug/meridian)

Writes a small zone (SOA, NS, www A, a TXT too big for 512 octets), a CIDR networks table, and a
config with a geo service (networks table -> region, so ECS queries pick regions), a failover
service, `control: {listen, token}` and `decision_log: {file, sample: 1}` into a temp dir, runs
`BIN serve` and checks:
  - GET /metrics (parsed with prometheus_client): exact deltas of the query, response, qtype, ECS,
    GSLB, truncation and reload counters after a known set of queries; build_info, region_up,
    zone_serial
  - GET /v1/status, GET /v1/explain (and its 400s)
  - POST /v1/reload: success (answers and serial change), then a broken config and a broken zone
    (4xx with file:line, old answers kept, failure counter), SIGHUP reload
  - POST /v1/override and /v1/push: 401 without / with a wrong token, 400 for bad bodies, 404, 405,
    a region override that moves a failover service and its clearing
  - the decision log's JSON lines
  - SIGTERM: an in-flight TCP query is answered, the process exits 0 within 3 s

Prints one PASS:/FAIL: line per check and "N passed, M failed, K skipped"; exits 1 on any failure.
Every wait is bounded; every process started is killed by PID at the end.

Needs: Python 3, dnspython, prometheus_client (pip).
"""
import http.client as httpclient
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, free_port, wait_for  # noqa: E402

TOKEN = "secret"
ORIGIN = "ops.test."
GEO = "geo.ops.test."
FO = "fo.ops.test."
SERIAL1, SERIAL2, SERIAL3 = 2026010101, 2026010102, 2026010103
WWW1, WWW2, WWW3 = "192.0.2.10", "192.0.2.20", "192.0.2.30"
GEO_POOLS = {"na": "192.0.2.1", "eu": "198.51.100.1", "ap": "203.0.113.1"}
FO_POOLS = {"na": "192.0.2.11", "eu": "198.51.100.11"}

tally = Tally()
result = tally.result


# ---------------------------------------------------------------- files

def zone_text(serial, www, extra=""):
    big = " ".join('"' + c * 200 + '"' for c in "abc")  # ~615 octets of RDATA: TC without EDNS
    return (f"$ORIGIN {ORIGIN}\n"
            "$TTL 300\n"
            f"@    IN SOA ns1 hostmaster {serial} 3600 900 604800 60\n"
            "@    IN NS  ns1\n"
            "ns1  IN A   127.0.0.1\n"
            f"www  IN A   {www}\n"
            f"big  IN TXT {big}\n"
            + extra)


def services_text(order=("geo", "fo")):
    parts = {
        "geo": (f"  {GEO}:\n"
                "    policy: geo\n"
                "    ttl: 30\n"
                "    networks: nets.csv\n"
                "    map: { default: na }\n"
                "    pools:\n"
                + "".join(f"      {r}: {{ addresses: [{a}] }}\n" for r, a in GEO_POOLS.items())),
        "fo": (f"  {FO}:\n"
               "    policy: failover\n"
               "    ttl: 20\n"
               "    order: [na, eu]\n"
               "    pools:\n"
               + "".join(f"      {r}: {{ addresses: [{a}] }}\n" for r, a in FO_POOLS.items())),
    }
    return "services:\n" + "".join(parts[o] for o in order)


def config_text(dns_port, control_port, tmp, extra="", order=("geo", "fo")):
    return (f'listen: ["127.0.0.1:{dns_port}"]\n'
            "zones:\n"
            f"  - origin: {ORIGIN}\n"
            "    file: ops.zone\n"
            f'control: {{ listen: "127.0.0.1:{control_port}", token: {TOKEN} }}\n'
            f"decision_log: {{ file: {tmp}/d.jsonl, sample: 1 }}\n"
            f"state_dir: {tmp}/state\n"
            + services_text(order) + extra)


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)  # atomic: a reload never reads half a file


# ---------------------------------------------------------------- clients

class Ctx:
    dns_port = 0
    control_port = 0


def http(method, path, body=None, token=None, raw_body=None):
    conn = httpclient.HTTPConnection("127.0.0.1", Ctx.control_port, timeout=10)
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        return resp.status, resp.getheader("Content-Type") or "", text
    finally:
        conn.close()


def http_json(method, path, body=None, token=None, raw_body=None):
    status, _, text = http(method, path, body, token, raw_body)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"_raw": text}


def query(name, rdtype="A", tcp=False, ecs=None, edns=None, timeout=2.0):
    options = [dns.edns.ECSOption(*ecs)] if ecs else []
    use_edns = 0 if (ecs or edns) else False
    q = dns.message.make_query(name, rdtype, use_edns=use_edns, options=options,
                               payload=edns or 1232)
    q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, "127.0.0.1", port=Ctx.dns_port, timeout=timeout)
    return dns.query.udp(q, "127.0.0.1", port=Ctx.dns_port, timeout=timeout, ignore_trailing=True)


def addresses(resp, rdtype="A"):
    out = []
    for rrset in resp.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out += [r.to_text() for r in rrset]
    return sorted(out)


def answer_of(name, **kw):
    try:
        return addresses(query(name, **kw))
    except Exception as e:  # noqa: BLE001 - a timeout is a test outcome
        return [f"error: {e!r}"]


def metrics():
    """{(sample name, frozenset(labels)): value} and the content type."""
    status, ctype, text = http("GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out, ctype, text


def m(snapshot, name, **labels):
    return snapshot.get((name, frozenset(labels.items())))


# ---------------------------------------------------------------- the tests

def test_metrics(bin_path):
    before, _, _ = metrics()
    # 5 x www A (UDP), 3 x NXDOMAIN (UDP), 2 x www A over TCP, 4 x geo A with ECS (UDP),
    # 1 x big TXT without EDNS (UDP, truncated)
    ok = all(answer_of(f"www.{ORIGIN}") == [WWW1] for _ in range(5))
    result(ok, "5 UDP www A answered with the zone's address")
    nx = [query(f"nx{i}.{ORIGIN}").rcode() for i in range(3)]
    result(nx == [dns.rcode.NXDOMAIN] * 3, "3 NXDOMAIN answers", f"got {nx}")
    result(all(answer_of(f"www.{ORIGIN}", tcp=True) == [WWW1] for _ in range(2)), "2 TCP www A answered")
    ecs_cases = [("198.51.100.0", 24, "eu"), ("198.51.100.77", 24, "eu"), ("203.0.113.0", 24, "ap"),
                 ("192.0.2.0", 24, "na")]
    for addr, plen, region in ecs_cases:
        got = answer_of(GEO, ecs=(addr, plen))
        result(got == [GEO_POOLS[region]], f"ECS {addr}/{plen} -> region {region}", f"got {got}")
    big = query(f"big.{ORIGIN}", "TXT")
    result(bool(big.flags & dns.flags.TC), "big TXT without EDNS over UDP is truncated (TC)")

    after, ctype, text = metrics()
    result(ctype.startswith("text/plain") and "version=0.0.4" in ctype, "/metrics Content-Type is text/plain; version=0.0.4",
           ctype)

    def delta(name, **labels):
        a, b = m(after, name, **labels), m(before, name, **labels)
        return None if a is None or b is None else a - b

    expected = [
        (("meridian_queries_total", {"transport": "udp"}), 5 + 3 + 4 + 1),
        (("meridian_queries_total", {"transport": "tcp"}), 2),
        (("meridian_responses_total", {"rcode": "NOERROR"}), 5 + 2 + 4 + 1),
        (("meridian_responses_total", {"rcode": "NXDOMAIN"}), 3),
        (("meridian_responses_total", {"rcode": "SERVFAIL"}), 0),
        (("meridian_responses_total", {"rcode": "REFUSED"}), 0),
        (("meridian_queries_by_qtype_total", {"qtype": "A"}), 5 + 3 + 2 + 4),
        (("meridian_queries_by_qtype_total", {"qtype": "TXT"}), 1),
        (("meridian_ecs_queries_total", {}), 4),
        (("meridian_truncated_total", {}), 1),
        (("meridian_dropped_total", {}), 0),
        (("meridian_gslb_answers_total", {"service": GEO, "region": "eu"}), 2),
        (("meridian_gslb_answers_total", {"service": GEO, "region": "ap"}), 1),
        (("meridian_gslb_answers_total", {"service": GEO, "region": "na"}), 1),
        (("meridian_gslb_answers_total", {"service": FO, "region": "na"}), 0),
        (("meridian_gslb_answers_total", {"service": FO, "region": "eu"}), 0),
        (("meridian_reloads_total", {"result": "success"}), 0),
        (("meridian_reloads_total", {"result": "failure"}), 0),
    ]
    for (name, labels), want in expected:
        if name == "meridian_queries_by_qtype_total" and m(before, name, **labels) is None:
            got = m(after, name, **labels)  # a qtype line appears only once counted
        else:
            got = delta(name, **labels)
        label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        result(got == want, f"{name}{{{label_text}}} delta == {want}", f"got {got}")

    result(m(after, "meridian_build_info", version=Ctx.version) == 1,
           f'meridian_build_info{{version="{Ctx.version}"}} == 1',
           "; ".join(line for line in text.splitlines() if line.startswith("meridian_build_info")))
    for service, pools in ((GEO, GEO_POOLS), (FO, FO_POOLS)):
        for region in pools:
            v = m(after, "meridian_region_up", service=service, region=region)
            result(v == 1, f"meridian_region_up{{{service},{region}}} == 1", f"got {v}")
    v = m(after, "meridian_zone_serial", zone=ORIGIN)
    result(v == SERIAL1, f"meridian_zone_serial{{{ORIGIN}}} == {SERIAL1}", f"got {v}")
    result(m(after, "meridian_tcp_connections") is not None, "meridian_tcp_connections present")


def test_status():
    status, j = http_json("GET", "/v1/status")
    result(status == 200, "GET /v1/status -> 200", f"got {status}")
    zones = {z.get("name"): z for z in j.get("zones", [])}
    result(zones.get(ORIGIN, {}).get("serial") == SERIAL1, f"status: zone {ORIGIN} serial {SERIAL1}", f"{j.get('zones')}")
    result(zones.get(ORIGIN, {}).get("records", 0) >= 5, "status: zone record count", f"{zones.get(ORIGIN)}")
    services = {s.get("name"): s for s in j.get("services", [])}
    result(set(services) == {GEO, FO}, "status: services geo and fo", f"got {sorted(services)}")
    for name, pools, policy in ((GEO, GEO_POOLS, "geo"), (FO, FO_POOLS, "failover")):
        s = services.get(name, {})
        result(s.get("policy") == policy, f"status: {name} policy {policy}", f"got {s.get('policy')}")
        regions = {r.get("region"): r for r in s.get("regions", [])}
        result(list(regions) == list(pools), f"status: {name} regions {list(pools)}", f"got {list(regions)}")
        for region, addr in pools.items():
            r = regions.get(region, {})
            eps = [e.get("address") for e in r.get("endpoints", [])]
            result(r.get("up") is True and eps == [addr] and r["endpoints"][0].get("in_answers") is True,
                   f"status: {name} region {region} up with endpoint {addr} in answers", f"got {r}")
    result(j.get("overrides") == [], "status: no overrides", f"got {j.get('overrides')}")


def test_explain():
    cases = [("198.51.100.0/24", "eu"), ("203.0.113.9", "ap"), ("192.0.2.0/24", "na")]
    for client, region in cases:
        status, j = http_json("GET", f"/v1/explain?name={GEO}&type=A&client={client}")
        lines = j.get("lines", [])
        ok = status == 200 and any(f"region {region}" in line for line in lines) and \
            any(GEO_POOLS[region] in line for line in lines)
        result(ok, f"explain {GEO} A {client} -> region {region}", f"{status} {lines}")
    status, j = http_json("GET", f"/v1/explain?name={GEO}&type=AAAA&client=198.51.100.0/24")
    result(status == 200 and any("eu" in line for line in j.get("lines", [])), "explain AAAA -> 200 with the region",
           f"{status} {j}")
    status, j = http_json("GET", f"/v1/explain?name=www.{ORIGIN}&type=A&client=198.51.100.1")
    result(status == 200 and any("not a GSLB service" in line for line in j.get("lines", [])),
           "explain of a static name -> 'not a GSLB service'", f"{status} {j}")
    for path, what in [("/v1/explain", "no parameters"),
                       (f"/v1/explain?type=A&client=198.51.100.0/24", "no name"),
                       (f"/v1/explain?name={GEO}&type=A", "no client"),
                       (f"/v1/explain?name={GEO}&type=A&client=not-an-ip", "bad client"),
                       (f"/v1/explain?name={GEO}&type=MX&client=198.51.100.0/24", "type MX")]:
        status, j = http_json("GET", path)
        result(status == 400 and "error" in j, f"explain with {what} -> 400", f"{status} {j}")


def test_override_push():
    body = {"scope": "region", "name": "na", "service": FO, "state": "down"}
    status, j = http_json("POST", "/v1/override", body)
    result(status == 401, "override without token -> 401", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", body, token="wrong")
    result(status == 401, "override with a wrong token -> 401", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", token=TOKEN, raw_body="{not json")
    result(status == 400, "override with malformed JSON -> 400", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", token=TOKEN, raw_body="[1, 2]")
    result(status == 400, "override with a JSON array body -> 400", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", {"scope": "galaxy", "name": "na", "state": "down"}, token=TOKEN)
    result(status == 400, "override with an unknown scope -> 400", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", {"scope": "region", "name": "na", "state": "sideways"}, token=TOKEN)
    result(status == 400, "override with an unknown state -> 400", f"{status} {j}")
    status, j = http_json("POST", "/v1/override", {"scope": "region", "state": "down"}, token=TOKEN)
    result(status == 400, "override without a name -> 400", f"{status} {j}")
    for method, path, want in [("GET", "/v1/nope", 404), ("POST", "/v1/nope", 404), ("GET", "/", 404),
                               ("GET", "/v1/override", 405), ("GET", "/v1/push", 405), ("GET", "/v1/reload", 405),
                               ("DELETE", "/v1/status", 405), ("POST", "/metrics", 405), ("PUT", "/v1/explain", 405)]:
        status, j = http_json(method, path, token=TOKEN)
        result(status == want, f"{method} {path} -> {want}", f"{status} {j}")
    status, j = http_json("POST", "/v1/push", {"address": "192.0.2.11", "check": "x", "state": "up"})
    result(status == 401, "push without token -> 401", f"{status} {j}")
    status, j = http_json("POST", "/v1/push", {"address": "192.0.2.11"}, token=TOKEN)
    result(status == 400, "push without check/state -> 400", f"{status} {j}")
    status, j = http_json("POST", "/v1/push", {"address": "192.0.2.11", "check": "x", "state": "up"}, token=TOKEN)
    result(status == 404, "push for an endpoint without a push check -> 404", f"{status} {j}")

    # a real override: region na of the failover service down -> eu answers, then cleared
    result(answer_of(FO) == [FO_POOLS["na"]], "failover service answers na before the override")
    status, j = http_json("POST", "/v1/override", body, token=TOKEN)
    result(status == 200 and j.get("state") == "down", "override region na of fo down with token -> 200", f"{status} {j}")
    result(wait_for(lambda: answer_of(FO) == [FO_POOLS["eu"]], 3), "override: failover service now answers eu",
           f"got {answer_of(FO)}")
    result(answer_of(GEO, ecs=("192.0.2.0", 24)) == [GEO_POOLS["na"]], "override limited to fo: geo still answers na")
    snap, _, _ = metrics()
    result(m(snap, "meridian_region_up", service=FO, region="na") == 0 and
           m(snap, "meridian_region_up", service=GEO, region="na") == 1,
           "meridian_region_up{fo,na} == 0 under the override, {geo,na} == 1")
    status, j = http_json("GET", "/v1/status")
    result(any(o.get("state") == "down" and "na" in o.get("target", "") for o in j.get("overrides", [])),
           "status lists the override", f"{j.get('overrides')}")
    status, j = http_json("GET", f"/v1/explain?name={FO}&type=A&client=192.0.2.0/24")
    result(any("override" in line for line in j.get("lines", [])), "explain mentions the override", f"{j}")
    status, j = http_json("POST", "/v1/override", dict(body, state="clear"), token=TOKEN)
    result(status == 200, "override clear -> 200", f"{status} {j}")
    result(wait_for(lambda: answer_of(FO) == [FO_POOLS["na"]], 3), "after clear the failover service answers na again")


def test_decision_log(tmp):
    path = os.path.join(tmp, "d.jsonl")
    # earlier sections sent 4 ECS geo queries and a few fo queries; send marked ones now
    answer_of(GEO, ecs=("203.0.113.128", 25))
    answer_of(GEO)  # no ECS: decided on the source address 127.0.0.1 -> default na

    def records():
        out = []
        try:
            with open(path) as f:
                for line in f:
                    out.append(json.loads(line))
        except (OSError, ValueError):
            pass
        return out

    want = lambda r: r.get("ecs") == "203.0.113.128/25"  # noqa: E731
    ok = wait_for(lambda: any(want(r) for r in records()) and any(r.get("ecs") is None and r.get("qname") == GEO
                                                                   for r in records()), 3)
    recs = records()
    result(ok, "decision log has lines for the queries just sent (within 3 s)", f"{len(recs)} lines")
    fields = {"time", "qname", "qtype", "client", "ecs", "policy", "region", "answer", "scope"}
    result(recs != [] and all(fields <= set(r) for r in recs), "every decision line has " + ", ".join(sorted(fields)),
           f"{[sorted(set(r)) for r in recs[:2]]}")
    geo = [r for r in recs if r.get("qname") == GEO]
    ecs = {r.get("ecs"): r for r in geo if r.get("ecs")}
    r = ecs.get("198.51.100.0/24", {})
    result(r.get("region") == "eu" and r.get("policy") == "geo" and r.get("answer") == [GEO_POOLS["eu"]]
           and r.get("scope") == 24 and r.get("qtype") == "A" and r.get("client") == "198.51.100.0"
           and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", r.get("time", "")) is not None,
           "decision for ECS 198.51.100.0/24: geo, eu, answer, scope 24, client, time", f"{r}")
    r = ecs.get("203.0.113.0/24", {})
    result(r.get("region") == "ap" and r.get("answer") == [GEO_POOLS["ap"]], "decision for ECS 203.0.113.0/24: ap",
           f"{r}")
    r = ecs.get("192.0.2.0/24", {})
    result(r.get("region") == "na", "decision for ECS 192.0.2.0/24 (not in the table): default na", f"{r}")
    r = [x for x in geo if x.get("ecs") is None]
    result(r != [] and r[-1].get("client") == "127.0.0.1" and r[-1].get("region") == "na",
           "decision without ECS: client is the source address, region na", f"{r[-1:] }")
    n_ecs = sum(1 for x in geo if x.get("ecs") in ("198.51.100.0/24", "198.51.100.77/24"))
    # the ECS address is sent as given; Meridian truncates it to the source prefix length
    result(n_ecs == 2, "two decisions for the two 198.51.100.x/24 queries", f"got {n_ecs}: "
           f"{[x.get('ecs') for x in geo]}")
    fo = [x for x in recs if x.get("qname") == FO]
    result(fo != [] and all(x.get("policy") == "failover" for x in fo)
           and any(x.get("region") == "eu" and x.get("answer") == [FO_POOLS["eu"]] for x in fo),
           "decisions for the failover service, including eu under the override", f"{fo[-3:]}")
    static = [x for x in recs if x.get("qname") == f"www.{ORIGIN}"]
    result(static == [], "no decision lines for static names", f"{static[:2]}")

    # GSLB queries over TCP
    before = len(records())
    answer_of(GEO, ecs=("198.51.100.0", 24), tcp=True)
    got = wait_for(lambda: len(records()) > before, 1.5)
    result(got, "decision log has a line for a GSLB query over TCP",
              "no decision-log line for a GSLB answer over TCP")


def reload_api(token=TOKEN):
    return http_json("POST", "/v1/reload", token=token)


def test_reload(tmp, cfg_path, zone_path, cfg_good):
    snap0, _, _ = metrics()
    ok0 = m(snap0, "meridian_reloads_total", result="success")
    fail0 = m(snap0, "meridian_reloads_total", result="failure")

    status, j = reload_api(token=None)
    result(status == 401, "reload without token -> 401", f"{status} {j}")
    status, j = reload_api(token="wrong")
    result(status == 401, "reload with a wrong token -> 401", f"{status} {j}")

    # 1. a good change: www and the serial
    write(zone_path, zone_text(SERIAL2, WWW2))
    status, j = reload_api()
    result(status == 200 and j.get("result") == "reloaded" and
           {"name": ORIGIN, "serial": SERIAL2} in j.get("zones", []),
           f"reload with token -> 200, zone serial {SERIAL2}", f"{status} {j}")
    result(answer_of(f"www.{ORIGIN}") == [WWW2], f"after reload www answers {WWW2}", f"got {answer_of(f'www.{ORIGIN}')}")
    soa = query(ORIGIN, "SOA")
    result(soa.answer and soa.answer[0][0].serial == SERIAL2, f"SOA serial {SERIAL2} served")
    status, js = http_json("GET", "/v1/status")
    result([z.get("serial") for z in js.get("zones", [])] == [SERIAL2], f"status shows serial {SERIAL2}", f"{js.get('zones')}")
    snap, _, _ = metrics()
    result(m(snap, "meridian_reloads_total", result="success") == ok0 + 1 and
           m(snap, "meridian_reloads_total", result="failure") == fail0,
           'meridian_reloads_total{result="success"} +1, failure +0',
           f"success {m(snap, 'meridian_reloads_total', result='success')}, failure {m(snap, 'meridian_reloads_total', result='failure')}")
    result(m(snap, "meridian_zone_serial", zone=ORIGIN) == SERIAL2, f"meridian_zone_serial == {SERIAL2}")

    # 2. a broken config: an unknown top-level key on a known line
    broken = cfg_good + "bogus_key: 1\n"
    bad_line = broken.count("\n")  # the last line
    write(cfg_path, broken)
    status, j = reload_api()
    err = j.get("error", "")
    result(400 <= status < 500 and j.get("result") == "failed", "reload of a config with an unknown key -> 4xx",
           f"{status} {j}")
    result(f"{os.path.basename(cfg_path)}:{bad_line}:" in err and "bogus_key" in err,
           f"the error names {os.path.basename(cfg_path)}:{bad_line} and the key", err)
    result(answer_of(f"www.{ORIGIN}") == [WWW2], "old answers keep being served after the failed reload")
    snap, _, _ = metrics()
    result(m(snap, "meridian_reloads_total", result="failure") == fail0 + 1 and
           m(snap, "meridian_reloads_total", result="success") == ok0 + 1,
           'meridian_reloads_total{result="failure"} +1')
    write(cfg_path, cfg_good)

    # 3. a broken zone: a syntax error on a known line (with a changed serial and www: must not apply)
    zbroken = zone_text(SERIAL3, WWW3, extra="oops IN A not-an-address\n")
    zline = zbroken.count("\n")
    write(zone_path, zbroken)
    status, j = reload_api()
    err = j.get("error", "")
    result(400 <= status < 500 and j.get("result") == "failed", "reload of a zone with a syntax error -> 4xx",
           f"{status} {j}")
    result(f"{os.path.basename(zone_path)}:{zline}:" in err, f"the error names {os.path.basename(zone_path)}:{zline}", err)
    result(answer_of(f"www.{ORIGIN}") == [WWW2], "old answers keep being served after the failed zone reload")
    status, js = http_json("GET", "/v1/status")
    result([z.get("serial") for z in js.get("zones", [])] == [SERIAL2], f"status still shows serial {SERIAL2}")
    snap, _, _ = metrics()
    result(m(snap, "meridian_reloads_total", result="failure") == fail0 + 2, 'meridian_reloads_total{result="failure"} +1 again')

    # 4. a broken YAML (syntax): still file:line
    write(cfg_path, cfg_good.replace("zones:\n", "zones: [\n", 1))
    status, j = reload_api()
    result(400 <= status < 500 and re.search(re.escape(os.path.basename(cfg_path)) + r":\d+:", j.get("error", "")),
           "reload of a config with a YAML syntax error -> 4xx with file:line", f"{status} {j}")
    write(cfg_path, cfg_good)

    # 5. SIGHUP: fix the zone, change www again
    write(zone_path, zone_text(SERIAL3, WWW3))
    os.kill(Ctx.proc.pid, signal.SIGHUP)
    ok = wait_for(lambda: answer_of(f"www.{ORIGIN}") == [WWW3], 5)
    result(ok, f"SIGHUP reload: www answers {WWW3} within 5 s", f"got {answer_of(f'www.{ORIGIN}')}")
    result(Ctx.proc.poll() is None, "the server is still running after SIGHUP")
    snap, _, _ = metrics()
    result(m(snap, "meridian_reloads_total", result="success") == ok0 + 2 and
           m(snap, "meridian_reloads_total", result="failure") == fail0 + 3,
           "SIGHUP reload counted as a success (success +2, failure +3 in all)",
           f"success {m(snap, 'meridian_reloads_total', result='success')}, failure {m(snap, 'meridian_reloads_total', result='failure')}")
    result(m(snap, "meridian_zone_serial", zone=ORIGIN) == SERIAL3, f"meridian_zone_serial == {SERIAL3} after SIGHUP")

    # 6. ctl reload (the CLI client)
    out = subprocess.run([Ctx.bin, "ctl", "--control", f"http://127.0.0.1:{Ctx.control_port}", "--token", TOKEN, "reload"],
                         capture_output=True, text=True, timeout=15)
    result(out.returncode == 0 and "reloaded" in out.stdout, "BIN ctl reload -> exit 0", f"{out.returncode} {out.stdout}{out.stderr}")
    out = subprocess.run([Ctx.bin, "ctl", "--control", f"http://127.0.0.1:{Ctx.control_port}", "reload"],
                         capture_output=True, text=True, timeout=15, env={k: v for k, v in os.environ.items() if k != "MERIDIAN_TOKEN"})
    result(out.returncode != 0, "BIN ctl reload without a token -> non-zero exit", f"{out.returncode} {out.stdout}")

    # 7. a reload that reorders the services must not move one service's counters onto another
    before, _, _ = metrics()
    answer_of(GEO, ecs=("198.51.100.0", 24))
    geo_eu = m(before, "meridian_gslb_answers_total", service=GEO, region="eu") + 1
    fo_na = m(before, "meridian_gslb_answers_total", service=FO, region="na")
    write(cfg_path, config_text(Ctx.dns_port, Ctx.control_port, tmp, order=("fo", "geo")))
    status, j = reload_api()
    result(status == 200, "reload with the services reordered -> 200", f"{status} {j}")
    after, _, _ = metrics()
    got = (m(after, "meridian_gslb_answers_total", service=GEO, region="eu"),
           m(after, "meridian_gslb_answers_total", service=FO, region="na"))
    result(got == (geo_eu, fo_na),
              "meridian_gslb_answers_total keeps each service's counts across a reload that reorders services",
              f"want geo/eu={geo_eu} fo/na={fo_na}, got geo/eu={got[0]} fo/na={got[1]}")
    write(cfg_path, cfg_good)
    status, j = reload_api()
    result(status == 200, "reload back to the original order -> 200", f"{status} {j}")

    # 8. a reload that changes control.token must apply it, or fail saying a restart is needed
    write(cfg_path, cfg_good.replace(f"token: {TOKEN}", "token: rotated"))
    status, j = reload_api()
    new_ok = http_json("POST", "/v1/reload", token="rotated")[0] == 200
    result((status == 200 and new_ok) or (400 <= status < 500 and "restart" in j.get("error", "")),
              "a reload that changes control.token applies it or reports that a restart is needed",
              f"reload answered {status} {j.get('result')}, yet the new token is "
              f"{'accepted' if new_ok else 'refused (401)'}")
    write(cfg_path, cfg_good)
    for token in (TOKEN, "rotated"):
        if reload_api(token=token)[0] == 200:
            break


def tcp_exchange_send(s, name):
    wire = dns.message.make_query(name, "A").to_wire()
    s.sendall(struct.pack("!H", len(wire)) + wire)


def tcp_read_answer(s):
    data = b""
    try:
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        print(f"# recv: {e!r}")
    if len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        return None
    return addresses(dns.message.from_wire(data[2:2 + struct.unpack("!H", data[:2])[0]]))


def test_sigterm():
    """SIGTERM with a TCP connection open: the query sent just before it is answered, the open
    connection keeps being served during the drain, new connections are refused, and the process
    exits 0 within 3 s even though the client holds its connection open."""
    expected = answer_of(f"www.{ORIGIN}")
    s = socket.create_connection(("127.0.0.1", Ctx.dns_port), timeout=3)
    t0 = time.monotonic()
    try:
        s.settimeout(3)
        tcp_exchange_send(s, f"www.{ORIGIN}")  # first exchange: the connection is accepted
        result(tcp_read_answer(s) == expected, "TCP connection open and answering before SIGTERM")
        tcp_exchange_send(s, f"www.{ORIGIN}")
        os.kill(Ctx.proc.pid, signal.SIGTERM)  # right after the query
        t0 = time.monotonic()
        got = tcp_read_answer(s)
        result(got == expected, "TCP query sent just before SIGTERM is answered", f"got {got}, want {expected}")
        time.sleep(0.3)
        tcp_exchange_send(s, f"www.{ORIGIN}")
        got = tcp_read_answer(s)
        result(got == expected, "the open TCP connection is still served 0.3 s after SIGTERM", f"got {got}")
        try:
            c = socket.create_connection(("127.0.0.1", Ctx.dns_port), timeout=1)
            c.close()
            refused = False
        except OSError:
            refused = True
        result(refused, "new TCP connections are refused after SIGTERM")
        try:
            rc = Ctx.proc.wait(timeout=max(0.1, 3 - (time.monotonic() - t0)))
            result(rc == 0, f"SIGTERM: exit status 0 within 3 s while a client holds a connection "
                            f"(after {time.monotonic() - t0:.3f} s)", f"got {rc}")
        except subprocess.TimeoutExpired:
            result(False, "SIGTERM: the process exits within 3 s while a client holds a connection")
    finally:
        s.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    Ctx.bin = os.path.abspath(sys.argv[1])
    v = subprocess.run([Ctx.bin, "--version"], capture_output=True, text=True, timeout=10)
    Ctx.version = v.stdout.strip()
    tmp = tempfile.mkdtemp(prefix="meridian-ops.")
    Ctx.dns_port, Ctx.control_port = free_port(), free_port()
    while Ctx.control_port == Ctx.dns_port:
        Ctx.control_port = free_port()
    cfg_path, zone_path = os.path.join(tmp, "meridian.yaml"), os.path.join(tmp, "ops.zone")
    write(zone_path, zone_text(SERIAL1, WWW1))
    write(os.path.join(tmp, "nets.csv"), "# network,region\n198.51.100.0/24,eu\n203.0.113.0/24,ap\n")
    cfg_good = config_text(Ctx.dns_port, Ctx.control_port, tmp)
    write(cfg_path, cfg_good)
    log = open(os.path.join(tmp, "log"), "w")
    Ctx.proc = None
    try:
        Ctx.proc = subprocess.Popen([Ctx.bin, "serve", "--config", cfg_path], stdout=log, stderr=subprocess.STDOUT)

        def ready():
            if Ctx.proc.poll() is not None:
                return True
            try:
                return http("GET", "/v1/status")[0] == 200 and query(ORIGIN, "SOA", timeout=0.3).rcode() == 0
            except Exception:  # noqa: BLE001
                return False
        up = wait_for(ready, 15, 0.1) and Ctx.proc.poll() is None
        if not result(up, "meridian serve starts and answers (DNS and control) within 15 s"):
            return 1
        for name, fn in [("metrics", lambda: test_metrics(Ctx.bin)), ("status", test_status), ("explain", test_explain),
                         ("override/push", test_override_push), ("decision log", lambda: test_decision_log(tmp)),
                         ("reload", lambda: test_reload(tmp, cfg_path, zone_path, cfg_good)),
                         ("sigterm", test_sigterm)]:
            print(f"# {name}", flush=True)
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - one section's crash must not hide the others
                result(False, f"{name} section ran without an exception", repr(e))
            if Ctx.proc.poll() is not None and name != "sigterm":
                result(False, f"meridian still running after the {name} section", f"exit {Ctx.proc.returncode}")
                break
    finally:
        if Ctx.proc is not None and Ctx.proc.poll() is None:
            os.kill(Ctx.proc.pid, signal.SIGKILL)
            try:
                Ctx.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        log.close()
        if tally.failed:
            with open(os.path.join(tmp, "log")) as f:
                print("# meridian log (last 30 lines):")
                for line in f.readlines()[-30:]:
                    print("#   " + line.rstrip())
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
