/*
 * The key ring: a snapshot of the keys in the token at one moment, with
 * their public JWKs, kids, lifecycle times and states, and the JWK Set
 * document. A snapshot is immutable and reference-counted, so worker
 * threads read it without a lock while the key store (keystore.h) builds
 * the next one.
 */
#ifndef HSMJWT_KEYRING_H
#define HSMJWT_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/error.h"
#include "hsmjwt/hsm.h"
#include "hsmjwt/jwe.h"
#include "hsmjwt/jwk.h"
#include "hsmjwt/lifecycle.h"

/* CKA_LABEL of every key that hsmjwt manages is this prefix and the alg: "hsmjwt:ES256". */
#define KEYRING_LABEL_PREFIX "hsmjwt:"
/* CKA_APPLICATION of the lifecycle data objects. */
#define KEYRING_APPLICATION "hsmjwt"
/* CKA_LABEL of a lifecycle data object: this prefix and the key's CKA_ID in hex. */
#define KEYRING_RECORD_PREFIX "hsmjwt-lifecycle:"

/* CKA_LABEL of an AES key shared with a recipient for A128KW or A256KW: this prefix and the kid. */
#define KEYRING_SHARED_PREFIX "hsmjwt-kw:"

#define KEYRING_KID_MAX (JWK_THUMBPRINT_LEN + 1)
#define KEYRING_ID_HEX_MAX (2 * HSM_ID_MAX + 1)

struct keyring;

struct keyring_key {
	char kid[KEYRING_KID_MAX];          /* RFC 7638 thumbprint; HMAC: base64url CKA_ID */
	char id_hex[KEYRING_ID_HEX_MAX];    /* CKA_ID in hex */
	const struct jose_alg *alg;
	struct hsm_key hsm_key;
	/* The JWK with kid, alg and use ("enc" for decryption keys); NULL for HMAC keys. */
	char *public_jwk_json;
	struct lifecycle times;             /* as stored in the token */
	unsigned long record_handle;        /* lifecycle data object */

	/* At the time the snapshot was built. */
	enum key_state state;
	int64_t retire_at;                  /* effective; 0 while none is due */
	int64_t unpublish_at;               /* effective; 0 while none is due */
	int64_t grace;                      /* seconds from retirement to unpublishing */
};

/*
 * Builds a snapshot from keys (count entries, copied) at time now: computes
 * states and the JWK Set of the published keys. Each key's kid, alg,
 * hsm_key, public_jwk_json (moved into the ring: set to NULL in the input),
 * times, record_handle and grace must be set. The ring signs with hsm,
 * which must outlive it. It starts with one reference.
 */
hj_err keyring_build(struct hsm *hsm, struct keyring_key *keys, size_t count,
    int64_t now, struct keyring **ringp, struct hj_error *err);

/* Adds a reference to ring and returns it. */
struct keyring *keyring_ref(struct keyring *ring);

/* Drops a reference; the last one frees the ring. NULL is allowed. */
void keyring_unref(struct keyring *ring);

size_t keyring_key_count(const struct keyring *ring);
const struct keyring_key *keyring_key_at(const struct keyring *ring, size_t i);

/* Returns the key with kid, or NULL. */
const struct keyring_key *keyring_find(const struct keyring *ring, const char *kid);

/* Returns the key that signs for alg at time now, or NULL when none is active. */
const struct keyring_key *keyring_signing_key(const struct keyring *ring,
    const struct jose_alg *alg, int64_t now);

/*
 * Computes the state and effective retire_at and unpublish_at of the key at
 * index i at time now, which may be later than the snapshot. The fields of
 * struct keyring_key are those values at the time the snapshot was built.
 */
void keyring_key_state_at(const struct keyring *ring, size_t i, int64_t now,
    enum key_state *statep, int64_t *retire_atp, int64_t *unpublish_atp);

/* Returns the time at which the snapshot was built. */
int64_t keyring_built_at(const struct keyring *ring);

/*
 * Signs payload (a JSON claim set) with key as a compact JWS whose header
 * carries key's alg and kid. *tokenp is freed by the caller.
 */
hj_err keyring_sign_compact(struct keyring *ring,
    const struct keyring_key *key, const char *payload, size_t payload_len,
    char **tokenp, struct hj_error *err);

/*
 * Verifies the signature of a compact JWS with the published key named by
 * its kid. The header's alg must be that key's algorithm, and "crit" is
 * rejected. HMAC keys verify in the token. On success *keyp is the key and
 * *payloadp the payload (NUL-terminated, freed by the caller). A token that
 * does not verify is HJ_ERR_INVALID_ARGUMENT with the reason; a token
 * failure is HJ_ERR_UNAVAILABLE.
 */
hj_err keyring_verify(struct keyring *ring, const char *token, size_t token_len,
    const struct keyring_key **keyp, char **payloadp, size_t *payload_lenp,
    struct hj_error *err);

/*
 * Decrypts a compact JWE addressed to one of the ring's published
 * decryption keys (by kid, or the active key of its alg). The key
 * management step runs in the token. On success *resultp is freed with
 * jwe_decrypted_free() and *keyp is the key used. Errors are as
 * jwe_decrypt_compact() returns them: one fixed message in err, the step
 * that failed in detail (for the log only).
 */
hj_err keyring_decrypt(struct keyring *ring, const char *token, size_t token_len,
    struct jwe_decrypted **resultp, const struct keyring_key **keyp,
    struct hj_error *err, struct hj_error *detail);

/*
 * Wraps cek with RFC 3394 under the AES key of key_len bytes that the
 * service shares with the recipient kid. The token stores that key with
 * CKA_LABEL KEYRING_SHARED_PREFIX + kid. A missing key is
 * HJ_ERR_FAILED_PRECONDITION. On entry *out_len is the capacity of out.
 */
hj_err keyring_shared_wrap(struct keyring *ring, const char *kid, size_t key_len,
    const uint8_t *cek, size_t cek_len, uint8_t *out, size_t *out_len,
    struct hj_error *err);

/* Returns the JWK Set document ({"keys":[...]}), compact, owned by ring. */
const char *keyring_jwks_json(const struct keyring *ring);

/* Returns the strong ETag of the JWK Set document, quotes included. */
const char *keyring_jwks_etag(const struct keyring *ring);

/* Returns the token that the ring's keys live in. */
struct hsm *keyring_hsm(const struct keyring *ring);

/* Fills key's kid, public JWK and alg fields from its hsm_key; used by the key store. */
hj_err keyring_key_describe(struct keyring_key *key, const struct jose_alg *alg,
    struct hj_error *err);

/* Frees the members of a key that keyring_key_describe() allocated. */
void keyring_key_clear(struct keyring_key *key);

#endif
