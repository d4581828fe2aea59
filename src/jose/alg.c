/*
 * The JWS algorithm table (RFC 7518 section 3, RFC 8037 section 3.1).
 * Fields that a row leaves out are zero: no curve, no PSS, no RSA modulus
 * length, no secret length.
 */
#include <string.h>

#include <openssl/obj_mac.h>
#include <p11-kit/pkcs11.h>

#include "hsmjwt/alg.h"

/* Modulus length of generated RSA keys, the minimum of RFC 7518 section 3.3. */
#define ALG_RSA_BITS 2048

static const struct jose_alg jose_algs[] = {
	/* ECDSA: SHA-2 in software, CKM_ECDSA on the digest, R || S padded. */
	{ .name = "ES256", .kty = JOSE_KTY_EC, .crv = "P-256",
	    .hash_nid = NID_sha256, .prehash = true, .mechanism = CKM_ECDSA,
	    .signature_len = 64 },
	{ .name = "ES384", .kty = JOSE_KTY_EC, .crv = "P-384",
	    .hash_nid = NID_sha384, .prehash = true, .mechanism = CKM_ECDSA,
	    .signature_len = 96 },
	{ .name = "ES512", .kty = JOSE_KTY_EC, .crv = "P-521",
	    .hash_nid = NID_sha512, .prehash = true, .mechanism = CKM_ECDSA,
	    .signature_len = 132 },

	/* RSASSA-PKCS1-v1_5: the token hashes. */
	{ .name = "RS256", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha256,
	    .mechanism = CKM_SHA256_RSA_PKCS, .rsa_bits = ALG_RSA_BITS },
	{ .name = "RS384", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha384,
	    .mechanism = CKM_SHA384_RSA_PKCS, .rsa_bits = ALG_RSA_BITS },
	{ .name = "RS512", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha512,
	    .mechanism = CKM_SHA512_RSA_PKCS, .rsa_bits = ALG_RSA_BITS },

	/* RSASSA-PSS: the token hashes, and MGF1 and salt length follow it. */
	{ .name = "PS256", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha256,
	    .mechanism = CKM_SHA256_RSA_PKCS_PSS, .pss = true,
	    .rsa_bits = ALG_RSA_BITS },
	{ .name = "PS384", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha384,
	    .mechanism = CKM_SHA384_RSA_PKCS_PSS, .pss = true,
	    .rsa_bits = ALG_RSA_BITS },
	{ .name = "PS512", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha512,
	    .mechanism = CKM_SHA512_RSA_PKCS_PSS, .pss = true,
	    .rsa_bits = ALG_RSA_BITS },

	/* Ed25519 only: CKM_EDDSA without parameters signs the input itself. */
	{ .name = "EdDSA", .kty = JOSE_KTY_OKP, .crv = "Ed25519",
	    .hash_nid = NID_undef, .mechanism = CKM_EDDSA,
	    .signature_len = 64 },

	/* HMAC with a generic secret key of at least the hash length. */
	{ .name = "HS256", .kty = JOSE_KTY_OCT, .hash_nid = NID_sha256,
	    .mechanism = CKM_SHA256_HMAC, .signature_len = 32,
	    .secret_len = 32 },
	{ .name = "HS384", .kty = JOSE_KTY_OCT, .hash_nid = NID_sha384,
	    .mechanism = CKM_SHA384_HMAC, .signature_len = 48,
	    .secret_len = 48 },
	{ .name = "HS512", .kty = JOSE_KTY_OCT, .hash_nid = NID_sha512,
	    .mechanism = CKM_SHA512_HMAC, .signature_len = 64,
	    .secret_len = 64 },
};

#define JOSE_ALG_COUNT (sizeof(jose_algs) / sizeof(jose_algs[0]))

/* Decryption keys: RSA-2048 for RSA-OAEP, P-256 for ECDH-ES. */
static const struct jose_alg jose_enc_algs[] = {
	{ .name = "RSA-OAEP", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha1,
	    .mechanism = CKM_RSA_PKCS_OAEP, .rsa_bits = 2048, .encryption = true },
	{ .name = "RSA-OAEP-256", .kty = JOSE_KTY_RSA, .hash_nid = NID_sha256,
	    .mechanism = CKM_RSA_PKCS_OAEP, .rsa_bits = 2048, .encryption = true },
	{ .name = "ECDH-ES", .kty = JOSE_KTY_EC, .crv = "P-256",
	    .mechanism = CKM_ECDH1_DERIVE, .encryption = true },
	{ .name = "ECDH-ES+A128KW", .kty = JOSE_KTY_EC, .crv = "P-256",
	    .mechanism = CKM_ECDH1_DERIVE, .encryption = true },
	{ .name = "ECDH-ES+A192KW", .kty = JOSE_KTY_EC, .crv = "P-256",
	    .mechanism = CKM_ECDH1_DERIVE, .encryption = true },
	{ .name = "ECDH-ES+A256KW", .kty = JOSE_KTY_EC, .crv = "P-256",
	    .mechanism = CKM_ECDH1_DERIVE, .encryption = true },
};

const struct jose_alg *
jose_enc_alg_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(jose_enc_algs) / sizeof(jose_enc_algs[0]); i++) {
		if (strcmp(jose_enc_algs[i].name, name) == 0)
			return &jose_enc_algs[i];
	}
	return NULL;
}

const struct jose_alg *
jose_alg_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;

	for (i = 0; i < JOSE_ALG_COUNT; i++) {
		if (strcmp(jose_algs[i].name, name) == 0)
			return &jose_algs[i];
	}
	return NULL;
}

const struct jose_alg *
jose_alg_at(size_t i)
{
	if (i >= JOSE_ALG_COUNT)
		return NULL;
	return &jose_algs[i];
}
