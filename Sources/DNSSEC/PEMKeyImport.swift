import CLDNS

extension ZoneKey {
    /// A key read from a PEM private key (PKCS #8, unencrypted): the form Knot keeps its keys in
    /// (`keys/<id>.pem` in its KASP database) and `openssl genpkey` writes. ECDSA P-256 and Ed25519;
    /// the role and timing are not in the file (Knot keeps them in its database) and are given here.
    public static func fromPEM(_ pem: String, zone: String, role: KeyRole, timing: KeyTiming) throws -> ZoneKey {
        let zone = ZoneKey.canonical(zone)
        let bytes = Array(pem.utf8)
        guard let bio = BIO_new_mem_buf(bytes, Int32(bytes.count)) else { throw DNSSECError("cannot read the PEM text") }
        defer { BIO_free(bio) }
        // no passphrase callback: an encrypted key is refused rather than asked for on the terminal
        guard let pkey = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil) else {
            throw DNSSECError("not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)")
        }
        let algorithm: SigningAlgorithm
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_ED25519:
            algorithm = .ed25519
        case EVP_PKEY_EC:
            var group = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(pkey, &group, group.count, &length) == 1,
                ["prime256v1", "P-256", "secp256r1"].contains(String(cString: group))
            else {
                EVP_PKEY_free(pkey)
                throw DNSSECError("an ECDSA key on curve \(String(cString: group)): only P-256 (ecdsap256sha256) is supported")
            }
            algorithm = .ecdsap256sha256
        default:
            EVP_PKEY_free(pkey)
            throw DNSSECError("the PEM key is neither ECDSA P-256 nor Ed25519")
        }
        guard let key = ldns_key_new() else {
            EVP_PKEY_free(pkey)
            throw DNSSECError("ldns cannot hold the key")
        }
        ldns_key_set_algorithm(key, algorithm.ldns)
        ldns_key_set_evp_key(key, pkey) // the ldns key owns it from here
        return try adopt(key, zone: zone, algorithm: algorithm, role: role, timing: timing)
    }
}
