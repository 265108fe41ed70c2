// The one C entry point for ldns (Debian libldns-dev), OpenSSL's SHA-1 and its PEM reader. Zones, DNSSEC and the tests
// import it; Package.swift links libldns.a and the OpenSSL archives it needs.
// OpenSSL's SHA-1 block functions (declared deprecated in OpenSSL 3, kept: the EVP interface that
// replaces them looks the digest up per call, with locks and allocation)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdio.h>
#include <ldns/ldns.h>
#include <openssl/sha.h>
// PEM private keys (PKCS #8, as Knot keeps them) for `meridian dnssec import`
#include <openssl/evp.h>
#include <openssl/pem.h>

/// SHA-1 of `length` octets into `digest` (20 octets), on the stack: the NSEC3 hash of a name the
/// query path must prove absent (RFC 5155 §5, no salt, no extra iterations).
static inline void meridian_sha1(const unsigned char *data, size_t length, unsigned char *digest) {
    SHA_CTX context;
    SHA1_Init(&context);
    SHA1_Update(&context, data, length);
    SHA1_Final(digest, &context);
}
// mallopt (M_TOP_PAD) for the zone reader: see ZoneFileReader.heapKeptForLDNS
#include <malloc.h>
