// The one C entry point for ldns (Debian libldns-dev). Only Zones (and tests) import it; Package.swift
// links libldns.a and the OpenSSL archives it needs.
#include <stdio.h>
#include <ldns/ldns.h>
// mallopt (M_TOP_PAD) for the zone reader: see ZoneFileReader.heapKeptForLDNS
#include <malloc.h>
