/*
 * The JWS algorithm table: one row per algorithm that hsmjwt can sign with.
 * Anything not in the table, "none" included, is rejected by every module.
 *
 * The table lives with the JOSE code but also names the PKCS#11 mechanism,
 * so that one row describes everything about an algorithm. The mechanism is a
 * plain number here; only src/hsm/ interprets it.
 */
#ifndef HSMJWT_ALG_H
#define HSMJWT_ALG_H

#include <stdbool.h>
#include <stddef.h>

/* JWK "kty" values (RFC 7518 section 6.1, RFC 8037 section 2). */
enum jose_kty {
	JOSE_KTY_EC,
	JOSE_KTY_RSA,
	JOSE_KTY_OKP,              /* Ed25519 (JWS) and X25519 (JWE) */
	JOSE_KTY_OCT,              /* HMAC secret key, kept in the token */
};

struct jose_alg {
	const char *name;          /* JWS "alg" value, such as "ES256" */
	enum jose_kty kty;
	const char *crv;           /* JWK "crv" of EC and OKP keys, else NULL */
	int hash_nid;              /* OpenSSL hash NID, NID_undef for EdDSA */
	bool prehash;              /* hash in software before C_Sign */
	unsigned long mechanism;   /* CKM_ECDSA, CKM_EDDSA, ... */
	bool pss;                  /* RSASSA-PSS: MGF1 with the same hash, salt = hash length */
	size_t signature_len;      /* fixed signature length; 0 for RSA (modulus length) */

	/*
	 * Modulus length of newly generated RSA keys. Existing RSA keys of at
	 * least 2048 bits are accepted for every RSA row.
	 */
	unsigned rsa_bits;
	size_t secret_len;         /* HMAC: minimum and generated key length */

	/*
	 * A JWE key management algorithm of the service's own decryption keys
	 * (RSA-OAEP, ECDH-ES, ...) rather than a JWS algorithm. These rows are
	 * in a table of their own, which jose_alg_find() never searches, so no
	 * JWS can name them. For them hash_nid is the OAEP hash.
	 */
	bool encryption;
};

/* Returns the row for the JWS alg name, or NULL for "none" and unknown names. */
const struct jose_alg *jose_alg_find(const char *name);

/* Returns the row at index i, or NULL past the end; for iterating the table. */
const struct jose_alg *jose_alg_at(size_t i);

/*
 * Returns the row of a JWE key management algorithm for which the service
 * keeps decryption keys (RSA-OAEP, RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW,
 * ECDH-ES+A192KW, ECDH-ES+A256KW), or NULL.
 */
const struct jose_alg *jose_enc_alg_find(const char *name);

#endif
