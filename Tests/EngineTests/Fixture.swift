import Foundation

/// The acceptance fixture zone (../shared/acceptance/fixture/gslb.test.zone), embedded verbatim so the
/// tests do not depend on files outside the repository.
enum Fixture {
    static let gslbZone = #"""
; Acceptance-kit fixture zone (RFC 1035 master file).
; Every server under test must load this zone (plus the GSLB behaviour in gslb.json).
; SOA TTL (3600) deliberately differs from SOA MINIMUM (300): negative answers must carry TTL 300.
$ORIGIN gslb.test.
$TTL 3600
@        3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300
@             IN NS    ns1
@             IN NS    ns2
@             IN MX    10 mail
@             IN TXT   "v=spf1 -all"
@             IN CAA   0 issue "ca.example.net"
; name servers live on loopback so that any tool that follows the NS set stays on this machine
ns1           IN A     127.0.0.1
ns1           IN AAAA  ::1
ns2           IN A     127.0.0.2
www       300 IN A     192.0.2.10
www       300 IN AAAA  2001:db8::10
alias     300 IN CNAME www
mail          IN A     192.0.2.25
txt           IN TXT   "hello world"
_sip._tcp     IN SRV   10 60 5060 www
*.wild        IN TXT   "wildcard"
; a.b exists, so b.gslb.test is an empty non-terminal (NOERROR/NODATA, never NXDOMAIN)
a.b           IN A     192.0.2.30
; delegation to a child zone (referral: AA=0, NS in authority, glue in additional)
sub           IN NS    ns.sub
ns.sub        IN A     127.0.0.3
; GSLB names: these static records are the DEFAULT answers (no geo match / no ECS from a
; routable address). The geo/subnet-table answers are described in gslb.json.
geo        30 IN A     192.0.2.100
geo        30 IN AAAA  2001:db8:100::1
lat        30 IN A     192.0.2.100
lat        30 IN AAAA  2001:db8:100::1
hc         30 IN A     127.0.1.2
cdn       300 IN CNAME geo
; large RRsets: 'big' (~4 KB of TXT) must be truncated over UDP and complete over TCP;
; 'many' (40 A, ~700 bytes) exceeds 512 bytes but fits an EDNS 1232-byte buffer.
big      300 IN TXT "big-00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-01-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-02-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-04-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-05-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-06-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-07-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-08-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-09-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-10-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-11-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-12-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-13-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-14-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-15-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-16-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-17-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-18-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-19-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
many     300 IN A 192.0.2.101
many     300 IN A 192.0.2.102
many     300 IN A 192.0.2.103
many     300 IN A 192.0.2.104
many     300 IN A 192.0.2.105
many     300 IN A 192.0.2.106
many     300 IN A 192.0.2.107
many     300 IN A 192.0.2.108
many     300 IN A 192.0.2.109
many     300 IN A 192.0.2.110
many     300 IN A 192.0.2.111
many     300 IN A 192.0.2.112
many     300 IN A 192.0.2.113
many     300 IN A 192.0.2.114
many     300 IN A 192.0.2.115
many     300 IN A 192.0.2.116
many     300 IN A 192.0.2.117
many     300 IN A 192.0.2.118
many     300 IN A 192.0.2.119
many     300 IN A 192.0.2.120
many     300 IN A 192.0.2.121
many     300 IN A 192.0.2.122
many     300 IN A 192.0.2.123
many     300 IN A 192.0.2.124
many     300 IN A 192.0.2.125
many     300 IN A 192.0.2.126
many     300 IN A 192.0.2.127
many     300 IN A 192.0.2.128
many     300 IN A 192.0.2.129
many     300 IN A 192.0.2.130
many     300 IN A 192.0.2.131
many     300 IN A 192.0.2.132
many     300 IN A 192.0.2.133
many     300 IN A 192.0.2.134
many     300 IN A 192.0.2.135
many     300 IN A 192.0.2.136
many     300 IN A 192.0.2.137
many     300 IN A 192.0.2.138
many     300 IN A 192.0.2.139
many     300 IN A 192.0.2.140
"""#

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
