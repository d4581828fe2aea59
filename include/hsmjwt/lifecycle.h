/*
 * Key lifecycle: the times stored in the token beside each key, and the
 * state that every replica computes from them and the clock.
 *
 *   pending   now < activate_at; published, does not sign
 *   active    the newest key of its algorithm whose activate_at has passed
 *             and that is not retired; signs
 *   retired   past retire_at, or superseded by a newer active key; still
 *             published until unpublish_at so that its tokens verify
 *   expired   past unpublish_at; unpublished, may be destroyed
 *
 * An explicit unpublish_at is stored when a key is retired. A key that a
 * newer key superseded without an explicit retirement is retired at the
 * newer key's activate_at and unpublished a grace period later (the
 * largest max_ttl of the profiles using the algorithm plus the clock skew).
 */
#ifndef HSMJWT_LIFECYCLE_H
#define HSMJWT_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"

/* Values match hsmjwt.v1.KeyState. */
enum key_state {
	KEY_STATE_PENDING = 1,
	KEY_STATE_ACTIVE = 2,
	KEY_STATE_RETIRED = 3,
	KEY_STATE_EXPIRED = 4,
};

/* Unix seconds; 0 means not set. */
struct lifecycle {
	int64_t created_at;
	int64_t activate_at;
	int64_t retire_at;
	int64_t unpublish_at;
	int64_t revision;      /* grows with each rewrite; the highest record wins */
};

#define LIFECYCLE_ALG_MAX 16
#define LIFECYCLE_ID_HEX_MAX 65

/* One key, as input and output of lifecycle_compute(). */
struct lifecycle_key {
	const char *alg;               /* JWS or JWE "alg" */
	const char *kid;               /* breaks ties between equal activate_at */
	struct lifecycle times;
	int64_t grace;                 /* seconds from retirement to unpublishing */

	/* Set by lifecycle_compute(). */
	enum key_state state;
	int64_t retire_at;             /* effective; 0 while none is due */
	int64_t unpublish_at;          /* effective; 0 while none is due */
};

/* Computes state, retire_at and unpublish_at of each key at time now. */
void lifecycle_compute(struct lifecycle_key *keys, size_t count, int64_t now);

/* Returns the index of the active key of alg at time now, or -1 when none is. */
long lifecycle_active_index(const struct lifecycle_key *keys, size_t count,
    const char *alg, int64_t now);

/* Returns "pending", "active", "retired" or "expired". */
const char *lifecycle_state_name(enum key_state state);

/*
 * Encodes a lifecycle record, the CKA_VALUE of the key's data object:
 * {"v":1,"alg":...,"id":...,"rev":...,"created_at":...,"activate_at":...,
 *  "retire_at":...,"unpublish_at":...}. *jsonp is freed by the caller.
 */
hj_err lifecycle_encode(const struct lifecycle *times, const char *alg,
    const char *id_hex, char **jsonp, size_t *lenp, struct hj_error *err);

/* Decodes a record; a malformed one is HJ_ERR_INVALID_ARGUMENT with the reason. */
hj_err lifecycle_decode(const char *json, size_t len, struct lifecycle *times,
    char *alg, char *id_hex, struct hj_error *err);

#endif
