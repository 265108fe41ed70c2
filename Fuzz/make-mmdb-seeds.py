#!/usr/bin/env python3
"""Writes the seed corpus of the `mmdb` fuzz target (Tests/FuzzCorpus/mmdb/): small MaxMind DB files
in the shapes Meridian reads (GeoLite2/GeoIP2 City and Country, DB-IP lite), made with the PyPI
package `mmdb-writer` (netaddr), so that libFuzzer starts from files libmaxminddb opens.

    python3 -m venv /tmp/mmdbw && /tmp/mmdbw/bin/pip install mmdb-writer
    /tmp/mmdbw/bin/python Fuzz/make-mmdb-seeds.py Tests/FuzzCorpus/mmdb
"""
import os
import sys

from mmdb_writer import MMDBWriter, MmdbF32
from netaddr import IPSet


def city(continent, country, subdivision=None, lat=None, lon=None):
    record = {"continent": {"code": continent, "names": {"en": continent}},
              "country": {"iso_code": country, "names": {"en": country}}}
    if subdivision:
        record["subdivisions"] = [{"iso_code": subdivision}]
    if lat is not None:
        record["location"] = {"latitude": lat, "longitude": lon, "accuracy_radius": 100}
    return record


def write(path, ip_version, networks, database_type, **options):
    writer = MMDBWriter(ip_version=ip_version, database_type=database_type, languages=["en"],
                        description={"en": "meridian fuzz seed"}, **options)
    for cidrs, record in networks:
        writer.insert_network(IPSet(cidrs), record)
    writer.to_db_file(path)


def main(out):
    os.makedirs(out, exist_ok=True)
    # IPv4 only, City shape: nested networks, every field, one network without location
    write(os.path.join(out, "city-ipv4.mmdb"), 4, [
        (["1.0.0.0/8"], city("OC", "AU", "NSW", -33.8, 151.2)),
        (["1.2.3.0/24"], city("AS", "JP", "13", 35.6, 139.7)),
        (["81.2.69.0/24", "81.2.70.0/23"], city("EU", "GB", "ENG", 51.5, -0.1)),
        (["198.51.100.0/25"], city("NA", "US", "CA")),
        (["203.0.113.128/25"], {"continent": {"code": "AS"}}),
    ], "GeoLite2-City")
    # IPv6 with the IPv4 data under ::/96 (as MaxMind writes it), City shape
    write(os.path.join(out, "city-ipv6.mmdb"), 6, [
        (["81.2.69.0/24"], city("EU", "GB", "ENG", 51.5, -0.1)),
        (["8.8.8.0/24"], city("NA", "US", "CA", 37.4, -122.1)),
        (["2001:db8::/32"], city("EU", "DE", "BE", 52.5, 13.4)),
        (["2001:db8:1::/48"], city("EU", "FR", None, 48.8, 2.3)),
        (["2a02::/16"], city("EU", "NL")),
        (["2c0f:f000::/20"], city("AF", "ZA", "GT", -26.2, 28.0)),
    ], "GeoLite2-City", ipv4_compatible=True)
    # Country shape (no subdivisions or location), 32-bit floats elsewhere
    write(os.path.join(out, "country-ipv6.mmdb"), 6, [
        (["10.0.0.0/8"], {"continent": {"code": "NA"}, "country": {"iso_code": "CA"}}),
        (["2400::/12"], {"continent": {"code": "AS"}, "country": {"iso_code": "IN"},
                         "registered_country": {"iso_code": "IN"}}),
    ], "GeoLite2-Country", ipv4_compatible=True, float_type="f32")
    # DB-IP lite shape: location with float (f32) coordinates, no subdivision codes
    write(os.path.join(out, "dbip-ipv4.mmdb"), 4, [
        (["100.64.0.0/10"], {"continent": {"code": "SA"}, "country": {"iso_code": "BR"},
                             "location": {"latitude": MmdbF32(-23.5), "longitude": MmdbF32(-46.6)}}),
        (["192.0.2.0/24"], {"city": {"names": {"en": "Test"}}}),
    ], "DBIP-City-Lite")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/FuzzCorpus/mmdb")
