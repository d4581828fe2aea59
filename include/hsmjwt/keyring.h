/*
 * The key ring: the signing keys found in the token, their public JWKs and
 * kids, the key that signs for each algorithm, and the JWK Set document.
 *
 * A key ring is immutable once loaded, so worker threads read it without a
 * lock.
 */
#ifndef HSMJWT_KEYRING_H
#define HSMJWT_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/error.h"
#include "hsmjwt/hsm.h"
#include "hsmjwt/jwk.h"

/* CKA_LABEL of every key that hsmjwt manages starts with this prefix. */
#define KEYRING_LABEL_PREFIX "hsmjwt:"

struct keyring;

struct keyring_key {
	char kid[JWK_THUMBPRINT_LEN + 1];   /* RFC 7638 thumbprint */
	const struct jose_alg *alg;
	struct hsm_key hsm_key;
	char *public_jwk_json;              /* {"kty",...,"kid","use","alg"} */
};

/*
 * Loads the keys in hsm whose label starts with KEYRING_LABEL_PREFIX and
 * makes sure every algorithm in algs (count entries) has a key: a missing
 * one is generated when generate_missing, else the call fails with
 * HJ_ERR_CONFIG naming the algorithm. Every key must be sensitive and not
 * extractable. The key ring keeps a pointer to hsm, which must outlive it.
 */
hj_err keyring_load(struct hsm *hsm, const struct jose_alg *const *algs,
    size_t count, bool generate_missing, struct keyring **ringp,
    struct hj_error *err);

void keyring_free(struct keyring *ring);

size_t keyring_key_count(const struct keyring *ring);
const struct keyring_key *keyring_key_at(const struct keyring *ring, size_t i);

/* Returns the key that signs for alg, or NULL when there is none. */
const struct keyring_key *keyring_signing_key(const struct keyring *ring,
    const struct jose_alg *alg);

/*
 * Signs payload (a JSON claim set) with key as a compact JWS whose header
 * carries key's alg and kid. *tokenp is freed by the caller.
 */
hj_err keyring_sign_compact(struct keyring *ring,
    const struct keyring_key *key, const char *payload, size_t payload_len,
    char **tokenp, struct hj_error *err);

/* Returns the JWK Set document ({"keys":[...]}), compact, owned by ring. */
const char *keyring_jwks_json(const struct keyring *ring);

/* Returns the strong ETag of the JWK Set document, quotes included. */
const char *keyring_jwks_etag(const struct keyring *ring);

#endif
