# Meridian: `make run` serves the example on 127.0.0.1:5353; `make test` runs every test layer.
# Both install what they need on a fresh Debian machine (as root, or with sudo available).
SHELL := /bin/bash
.DEFAULT_GOAL := help

SWIFT ?= swift
ACCEPTANCE_DIR ?= $(abspath ../shared/acceptance)
ACCEPTANCE_PORT ?= 5354
RUN_CONFIG ?= zones/meridian.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# GeoLite2-City.mmdb of the PyPI package maxminddb-geolite2 (installed by test-deps), for tests.
GEOIP_DB = $(shell python3 -c 'import _maxminddb_geolite2,os;print(os.path.dirname(_maxminddb_geolite2.__file__)+"/GeoLite2-City.mmdb")' 2>/dev/null)
CEILING_ROUNDS ?= 5
CEILING_SECONDS ?= 10

# Debian packages: build (ldns, libmaxminddb) and test tools (dig, kdig, drill, unbound).
BUILD_PKGS := libldns-dev libssl-dev libyaml-dev libmaxminddb-dev pkg-config
TEST_PKGS := bind9-dnsutils knot-dnsutils knot knot-dnssecutils dnsviz python3-pygraphviz zonemaster-cli ldnsutils unbound python3 python3-pip tor-geoipdb dnsperf curl etcd-server iproute2

.PHONY: help deps test-deps build release run test no-foundation unit tsan format-check integration gslb-tests health-tests ops-tests dnssec-tests defence-tests cluster-tests reload-bench alloc-gate fuzz-replay fuzz soak soak-probes acceptance bench bench-signed bench-signing bench-defended bench-rrl bench-cluster ceiling latency microbench clean

help:
	@echo "make help           this list"
	@echo "make deps           install the Debian packages the build needs"
	@echo "make test-deps      install the build and test tools (dig, kdig, unbound, dnsperf, Python packages)"
	@echo "make build          debug build"
	@echo "make release        release build of the server (static Swift runtime, code layout)"
	@echo "make run            build (release) and serve zones/ on 127.0.0.1:5353"
	@echo "make test           install test deps, run every test layer below marked (test) and the fuzz corpus replay"
	@echo "make unit           every Swift unit test target (test)"
	@echo "make tsan           the health and control unit tests under ThreadSanitizer, in .build/tsan (test)"
	@echo "make format-check   swift format lint --strict with .swift-format over Sources, Tests, Benchmarks, Fuzz (test)"
	@echo "make no-foundation  fail on a Foundation import in Sources/ (test)"
	@echo "make integration    the Swift integration tests against the debug binary (test)"
	@echo "make gslb-tests     GSLB answers for random subnets against an independent Python model (test)"
	@echo "make health-tests   health checks against real HTTP/HTTPS/script backends on loopback (test)"
	@echo "make ops-tests      control API, metrics, reload, hostile input, TCP abuse (test)"
	@echo "make dnssec-tests   Unbound validates the signed zone (GSLB through ECS), drill chases, re-signing, a Knot secondary, ZSK and CSK rollovers under a Knot parent (test)"
	@echo "make defence-tests  a reflection flood against RRL, DNS cookies (dig, kdig, Knot), Unbound with ECS through RRL, TCP limits (test)"
	@echo "make cluster-tests  an NS set on etcd: 3 etcd members, 3 instances in network namespaces, quorum, overrides, etcd failures (test)"
	@echo "make alloc-gate     the query path must not allocate (Benchmarks package, release build) (test)"
	@echo "make fuzz-replay    replay the fuzz corpora and past crashes through the libFuzzer builds (test)"
	@echo "make fuzz           fuzz FUZZ_TARGET (query-engine, zone, config, tables, mmdb, control, dns-check) for FUZZ_SECONDS (default 600)"
	@echo "make acceptance     run ../shared/acceptance (ACCEPTANCE_DIR) against the fixture config"
	@echo "make reload-bench   queries lost while reloading under 50k qps (release)"
	@echo "make soak           long figures: probe soak, RSS across reloads, TCP non-reader, control flood (release)"
	@echo "make soak-probes    the probe soak alone, on the debug build"
	@echo "make bench          side by side with gdnsd, Knot and NSD (../shared/bench, BENCH_ARGS)"
	@echo "make bench-signed   DO=1 with per-query ECS: Meridian signed against Knot pre-signing with mod-geoip, and gdnsd"
	@echo "make bench-signing  signing a 1M-record zone at load against Knot; health change to signed answer, 1 and 1,000 services"
	@echo "make bench-defended RRL counting every response and cookies on, against gdnsd"
	@echo "make bench-rrl      a reflection flood against Meridian and Knot, each with and without RRL"
	@echo "make bench-cluster  an NS set on etcd: failover time to the last instance (p50/p99), qps cluster on/off, etcd writes at 5,000 endpoints"
	@echo "make ceiling        the ceiling of a UDP-socket server here, alternated with Meridian and gdnsd"
	@echo "make latency        latency at 20k qps for Meridian, gdnsd and fixed-answer, LATENCY_ROUNDS rounds"
	@echo "make microbench     ns per geo-table lookup and the query engine's allocations and instructions per query"
	@echo "make clean          remove the build directories"

deps:
	@missing=""; for p in $(BUILD_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

# unbound's package would start a resolver on port 53; policy-rc.d keeps services down while installing.
test-deps: deps
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  made=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; $(SUDO) chmod +x /usr/sbin/policy-rc.d; made=1; fi; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; rc=$$?; \
	  [ $$made = 1 ] && $(SUDO) rm -f /usr/sbin/policy-rc.d; [ $$rc = 0 ] || exit $$rc; fi
	@python3 -c 'import dns.message, maxminddb, _maxminddb_geolite2, prometheus_client, cryptography' 2>/dev/null || \
	  python3 -m pip install -q dnspython maxminddb maxminddb-geolite2 prometheus_client cryptography 2>/dev/null || \
	  python3 -m pip install -q --break-system-packages dnspython maxminddb maxminddb-geolite2 prometheus_client cryptography

build: deps
	$(SWIFT) build

# The Swift runtime linked statically: 44 -> 40 MB resident serving GeoLite2-City
# (docs/PERFORMANCE.md), no Swift libraries needed where the binary is deployed. Linked by the
# toolchain's lld with packed relative relocations (DT_RELR, glibc >= 2.36: 2.3 MB of .rela.dyn
# becomes 19 KB, still position-independent) and without exporting every symbol (1.4 MB of
# .dynsym/.dynstr/.gnu.hash the dynamic linker would read): -3.2 MB resident. libstdc++ (the Swift
# runtime's C++ library) from its archive too: the toolchain's static-stdlib-args.lnk says -lstdc++,
# which finds STATIC_CXX's linker script before gcc's libstdc++.so (-1.1 MB resident).
STATIC_CXX = $(CURDIR)/.build/static-cxx
# Code layout: every function in a section of its own (Swift and C), and the functions the server
# runs while starting and serving linked first, in the order of Benchmarks/layout/meridian.order
# (profiled by Benchmarks/layout/profile-order.sh): the code it runs shares pages instead of being
# spread over 15 MB of .text.
RELEASE_FLAGS = -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
  -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic -Xlinker -L$(STATIC_CXX) \
  -Xlinker --symbol-ordering-file=$(CURDIR)/Benchmarks/layout/meridian.order -Xlinker --no-warn-symbol-ordering
release: deps $(STATIC_CXX)/libstdc++.so
	$(SWIFT) build -c release --static-swift-stdlib $(RELEASE_FLAGS) $(RELEASE_EXTRA) --product meridian

$(STATIC_CXX)/libstdc++.so:
	@mkdir -p $(STATIC_CXX)
	@archive=$$(clang -print-file-name=libstdc++.a); [ -f "$$archive" ] || { echo "no libstdc++.a (libstdc++-12-dev)"; exit 1; }; \
	  echo "INPUT($$(readlink -f $$archive))" > $@

run: release
	@.build/release/meridian check --config $(RUN_CONFIG)
	@echo
	@echo "Meridian serves zones/ on 127.0.0.1:5353 and [::1]:5353 (UDP and TCP). Try, in another shell:"
	@echo "  dig @127.0.0.1 -p 5353 www.gslb.example A"
	@echo "  dig @127.0.0.1 -p 5353 www.gslb.example AAAA +subnet=198.51.100.0/24   (eu-west, ECS scope /24)"
	@echo "  .build/release/meridian explain --config zones/meridian.yaml --client 203.0.113.200/32 www.gslb.example A"
	@echo "  dig @127.0.0.1 -p 5353 api.gslb.example A +tcp"
	@echo "  dig @127.0.0.1 -p 5353 gslb.example SOA +nsid"
	@echo "  dig @127.0.0.1 -p 5353 version.bind TXT CH"
	@echo "Ctrl-C stops it."
	@echo
	exec .build/release/meridian serve --config $(RUN_CONFIG)

test: test-deps
	$(SWIFT) build --build-tests
	MERIDIAN_GEOIP_DB=$(GEOIP_DB) MERIDIAN_BIN=$(CURDIR)/.build/debug/meridian $(SWIFT) test --skip-build
	$(MAKE) no-foundation format-check tsan gslb-tests health-tests ops-tests dnssec-tests defence-tests cluster-tests alloc-gate fuzz-replay

# The server links FoundationEssentials only (ArgumentParser needs it), not Foundation with ICU and
# CoreFoundation, whose start-up pages stayed resident (docs/PERFORMANCE.md, "What limits each figure"). Fails on an import.
no-foundation:
	@if grep -rnE '^\s*(@_implementationOnly |public |internal )?import (Foundation|FoundationNetworking|FoundationXML)\b' Sources; then \
	  echo "no-foundation: the server must not import Foundation (use FoundationEssentials, Glibc, or the helpers in Sources/)"; exit 1; fi
	@echo "no-foundation: no Foundation import in Sources/"

# GSLB answers for 2000 random subnets of the real database, computed independently in Python;
# Debian tor-geoipdb as a second, independent source.
gslb-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/gslb/random_subnets.py .build/debug/meridian
	python3 Tests/gslb/tor_geoip.py .build/debug/meridian

# Health checks against real HTTP/HTTPS/script backends on loopback: detection and restore times,
# TLS failures, all-down fallback, overrides across restarts.
health-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/health/health_test.py .build/debug/meridian
	python3 Tests/health/check_types_test.py .build/debug/meridian

# DNSSEC end to end: Unbound anchored at the zone's DS validates every kind of answer (GSLB regions
# through ECS included); drill chases signatures after a health change; re-signing before expiry.
dnssec-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/dnssec/dnssec_test.py .build/debug/meridian
	python3 Tests/dnssec/rollover_test.py .build/debug/meridian

# Defence on the open internet: a reflection flood against RRL (amplification with it on and off),
# DNS cookies with dig, kdig, a second instance and Knot's mod-cookies, Unbound with ECS through
# RRL, TCP query caps and keepalive, the control API's allow list.
defence-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/defence/defence_test.py .build/debug/meridian $(GEOIP_DB)

# An NS set on etcd: a 3-member etcd cluster (Debian etcd-server) and 3 instances, each in its own
# network namespace (as root): backend failures, one and two instances cut from a backend, shared
# overrides across restarts, etcd members killed under dnsperf load, kill -9 of an instance, fallback.
cluster-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/cluster/cluster_test.py .build/debug/meridian

# Control API, metrics (parsed by prometheus_client), reload (good and broken), decision log, SIGTERM;
# hostile input and unlucky operators (files changed under the server, limits, auth, state files).
ops-tests: test-deps
	$(SWIFT) build --product meridian
	python3 Tests/ops/ops_test.py .build/debug/meridian
	python3 Tests/ops/hardening_test.py .build/debug/meridian $(GEOIP_DB)
	python3 Tests/ops/tcp_abuse_test.py .build/debug/meridian

# Queries lost while reloading 20 times under 50k qps of dnsperf (a measurement; prints the figures).
reload-bench: release test-deps
	RUNS=3 Tests/ops/reload_under_load.sh .build/release/meridian

# The query path must not allocate: counts mallocs per query (release build of the Benchmarks
# package) and fails above 0.
alloc-gate: deps
	$(SWIFT) build -c release --package-path Benchmarks --product AllocationGate
	MERIDIAN_GEOIP_DB=$(GEOIP_DB) Benchmarks/.build/release/AllocationGate

# Every Swift unit test target (IntegrationTests, which runs the binary, is `make integration`).
UNIT_TESTS = SourceFilesTests|DNSWireTests|ZonesTests|EngineTests|ConfigTests|SnapshotAssemblyTests|GeoTests|SteeringTests|HealthTests|VerdictsTests|ClusterTests|ControlTests
unit: test-deps
	$(SWIFT) build --build-tests
	MERIDIAN_GEOIP_DB=$(GEOIP_DB) $(SWIFT) test --skip-build --filter '$(UNIT_TESTS)'

# The unit tests of the code that runs on several threads (health probes and monitor, the health
# publisher, the control API) under ThreadSanitizer, built apart from the debug build.
TSAN_TESTS = HealthTests|VerdictsTests|ControlTests
tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build/tsan --filter '$(TSAN_TESTS)'

# Style: the configuration in .swift-format, as `swift format -i` with it would write the files.
FORMAT_DIRS = Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Sources Fuzz/Package.swift Fuzz/Sources
format-check:
	$(SWIFT) format lint --strict --recursive --parallel --configuration .swift-format $(FORMAT_DIRS)

integration: test-deps
	$(SWIFT) build --build-tests
	MERIDIAN_GEOIP_DB=$(GEOIP_DB) MERIDIAN_BIN=$(CURDIR)/.build/debug/meridian $(SWIFT) test --skip-build --filter IntegrationTests

# Long figures, outside CI (release build): descriptors and CPU while checks probe misbehaving
# loopback backends (never answering, slow headers, stalled TLS, endless body, UDP echo) for
# SOAK_SECONDS; RSS across SOAK_RELOADS reloads of 300 services on distinct country maps and of a
# 1M-record zone; RSS under a TCP client that pipelines 4M queries and never reads.
SOAK_SECONDS ?= 600
SOAK_RELOADS ?= 50
soak: release test-deps
	DURATION=$(SOAK_SECONDS) python3 Tests/health/probe_soak.py .build/release/meridian
	python3 Tests/ops/reload_memory.py .build/release/meridian $(GEOIP_DB) --services 300 --reloads $(SOAK_RELOADS)
	python3 Tests/ops/reload_memory.py .build/release/meridian $(GEOIP_DB) --services 0 --zone-records 1000000 --reloads $(SOAK_RELOADS)
	python3 Tests/ops/tcp_nonreader.py .build/release/meridian 4000000
	python3 Tests/ops/control_flood.py .build/release/meridian 20000

# The probe soak alone, on the debug build.
soak-probes: deps
	$(SWIFT) build --product meridian
	DURATION=$(SOAK_SECONDS) python3 Tests/health/probe_soak.py .build/debug/meridian

# Replays the kept corpora and past crashes through the libFuzzer builds (query engine; zone files,
# config, CSV tables, .mmdb files; control API connections; replies to the DNS health check).
fuzz-replay: deps
	Fuzz/run.sh build
	Fuzz/run.sh replay

FUZZ_SECONDS ?= 600
FUZZ_TARGET ?= query-engine
fuzz: deps
	Fuzz/run.sh build
	Fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_TARGET)

# Runs the acceptance kit against Meridian with Tests/Fixtures/acceptance/meridian.yaml, then with
# meridian-signed.yaml (the same contract, the zone signed).
acceptance: release test-deps
	@test -d "$(ACCEPTANCE_DIR)" || { echo "acceptance kit not found at $(ACCEPTANCE_DIR) (set ACCEPTANCE_DIR)"; exit 2; }
	ACCEPTANCE_DIR="$(ACCEPTANCE_DIR)" PORT=$(ACCEPTANCE_PORT) MERIDIAN=.build/release/meridian Tests/acceptance.sh
	ACCEPTANCE_DIR="$(ACCEPTANCE_DIR)" PORT=$(ACCEPTANCE_PORT) MERIDIAN=.build/release/meridian CONFIG=meridian-signed.yaml \
	  Tests/acceptance.sh

# Side by side with gdnsd, Knot and NSD (../shared/bench/compare.sh), one UDP worker; WORKERS=2 for the
# two-worker figure. Writes nothing under ../shared.
bench: release
	Benchmarks/run-bench.sh $(BENCH_ARGS)

# With RRL counting every response (the load generator exempt, so none is dropped) and cookies on, against gdnsd.
bench-defended: release
	DEFENDED=1 Benchmarks/run-bench.sh --peers gdnsd $(BENCH_ARGS)

# A reflection flood (dnsperf -Q, one source /24) against Meridian and Knot, each with and without RRL:
# octets back, amplification, server CPU per incoming query.
bench-rrl: release test-deps
	python3 Benchmarks/rrl-flood.py .build/release/meridian

# An NS set on etcd (as root): failover time to the last instance over 20 trials (p50/p99), UDP qps
# with the cluster on against standalone, etcd writes with 5,000 endpoints on 3 instances.
bench-cluster: release test-deps
	python3 Benchmarks/cluster/cluster-bench.py .build/release/meridian 20

# DO=1 with per-query ECS against Knot pre-signing with mod-geoip, and gdnsd (Meridian's zone signed).
bench-signed: release
	SIGNED=1 Benchmarks/run-bench.sh --mode ecsmix-do --peers knot-signed,gdnsd $(BENCH_ARGS)

# Signing at load (1M records, one signing thread each) side by side with Knot, and the time from a
# health change to the new answer served with its RRSIG for 1 and 1,000 services.
bench-signing: release test-deps
	SIGN=1 LOAD_TIMEOUT=900 Benchmarks/zone-load.sh 1 1000000
	Benchmarks/signed-health-change.py --counts 1,1000 --rounds 10

# The ceiling of a UDP-socket server here: fixed-answer.c (same sockets and batching, no DNS work)
# alternated with Meridian and gdnsd under make bench's load (run make bench once first: it installs gdnsd).
ceiling: release
	Benchmarks/ceiling/ceiling.sh $(CEILING_ROUNDS) $(CEILING_SECONDS)

# Latency at 20k qps (dnsperf, as make bench's latency run) for Meridian, gdnsd and fixed-answer in
# rotated turns, LATENCY_ROUNDS rounds: medians of p50/p99 instead of one run each.
LATENCY_ROUNDS ?= 11
latency: release
	CEILING_KIND=latency Benchmarks/ceiling/ceiling.sh $(LATENCY_ROUNDS) $(CEILING_SECONDS)

# In-process micro-benchmarks: ns per geo-table lookup for IPv4 and IPv6 clients (GeoLookupBench), and
# the lookup's instructions and simulated cache misses (callgrind: 64 KiB D1, 2 MiB last level) when
# 4 KiB are read elsewhere between lookups; the query engine's allocations and instructions per query.
BENCH_BIN = Benchmarks/.build/release
microbench: deps
	$(SWIFT) build -c release --package-path Benchmarks --product AllocationGate
	$(SWIFT) build -c release --package-path Benchmarks --product GeoLookupBench
	$(BENCH_BIN)/GeoLookupBench $(GEOIP_DB)
	objcopy --strip-debug $(BENCH_BIN)/GeoLookupBench /tmp/meridian-geolookupbench
	@# per lookup: the counts over the warm-up pass and the one round, 2 x 100,000 lookups
	@for f in 4 6; do valgrind --tool=callgrind --cache-sim=yes --D1=65536,8,64 --LL=2097152,16,64 \
	  --toggle-collect='*tableLookup*' --callgrind-out-file=/tmp/meridian-geolookup.out \
	  /tmp/meridian-geolookupbench $(GEOIP_DB) --family $$f --evict 4 --lookups 100000 --rounds 1 2>&1 | \
	  awk -v f=$$f '/Collected/ { n = 200000; printf "IPv%s lookup, 4 KiB read elsewhere between lookups (callgrind): %.1f instructions, %.2f D1 and %.2f last-level read misses per lookup\n", f, $$4 / n, $$8 / n, $$11 / n }'; done
	MERIDIAN_GEOIP_DB=$(GEOIP_DB) $(BENCH_BIN)/AllocationGate --queries 1000000
	@# valgrind 3.19 cannot read this toolchain's DWARF ("possibly corrupted debuginfo"): symbols only
	objcopy --strip-debug $(BENCH_BIN)/AllocationGate /tmp/meridian-allocationgate
	@# one dump per measured set (static, GSLB, both with DO=1 on the signed zone, static DO=1 with NSEC, then the DO=1
	@# sets' very queries with DO=0 on the signed zone: the baseline of DO=1; then the UDP halves of static and GSLB
	@# with RRL and cookies off and on, none over the limit; static queries carrying a valid server cookie): 20,000 each
	rm -f /tmp/meridian-callgrind.out*
	valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*AllocationGate7measure*' --dump-after='$$s14AllocationGate7measure*' \
	  --callgrind-out-file=/tmp/meridian-callgrind.out /tmp/meridian-allocationgate $(GEOIP_DB) --queries 20000 2>&1 | grep -E 'Collected'
	@set -- static gslb static-DO=1 gslb-DO=1 static-DO=1-NSEC static-DO=0-same-queries gslb-DO=0-same-queries \
	  static-UDP gslb-UDP static-UDP-RRL+cookies gslb-UDP-RRL+cookies static-valid-cookie-RRL+cookies; \
	  for f in 1 2 3 4 5 6 7 8 9 10 11 12; do f=/tmp/meridian-callgrind.out.$$f; \
	  awk -v set=$$1 '/^totals:/ { printf "%s: %.1f instructions per query (callgrind, 20,000 queries)\n", set, $$2 / 20000 }' $$f; shift; done
	callgrind_annotate /tmp/meridian-callgrind.out.2 2>/dev/null | head -30

clean:
	rm -rf .build Fuzz/.build Fuzz/.build-fuzz Benchmarks/.build
