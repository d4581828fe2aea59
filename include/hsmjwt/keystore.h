/*
 * The key store: owns the current key ring snapshot, reloads it from the
 * token, and carries out the key lifecycle operations (generate, rotate,
 * retire, destroy) by writing the token.
 *
 * Lifecycle times live in the token as one CKO_DATA object per key
 * (CKA_APPLICATION "hsmjwt", CKA_LABEL "hsmjwt-lifecycle:<CKA_ID in hex>",
 * CKA_VALUE a JSON record), so that every replica opening the token computes
 * the same states. A key found without its record (a crash between the two
 * steps of key generation) gets one at the next load: active at once when
 * its algorithm has no usable key, else pending for pre_publish. It is
 * never used before its record exists.
 */
#ifndef HSMJWT_KEYSTORE_H
#define HSMJWT_KEYSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "hsmjwt/keyring.h"

/* An algorithm that profiles sign with, and the longest TTL they issue. */
struct keystore_alg {
	const struct jose_alg *alg;
	uint32_t max_ttl;
};

struct keystore_options {
	struct hsm *hsm;
	const struct keystore_alg *algs;   /* algorithms in use; copied */
	size_t alg_count;
	bool generate_missing;     /* generate a key for an algorithm that has none */
	uint32_t pre_publish;      /* seconds a new key is published before it signs */
	uint32_t rotate_every;     /* seconds; 0: no automatic rotation */
	uint32_t refresh;          /* seconds between reloads; 0: no background reloads */
	uint32_t clock_skew;       /* seconds */
};

struct keystore;

/*
 * Loads the keys, repairs missing records, and makes sure that every
 * algorithm in use has an active or pending key: a missing one is generated
 * (active at once) when generate_missing, else the call fails with
 * HJ_ERR_CONFIG naming the algorithm. Starts the background reload thread
 * when refresh is set.
 */
hj_err keystore_open(const struct keystore_options *opts,
    struct keystore **storep, struct hj_error *err);

/* Stops the reload thread and frees the store. NULL is allowed. */
void keystore_close(struct keystore *store);

/* Returns a reference to the current snapshot; release it with keyring_unref(). */
struct keyring *keystore_current(struct keystore *store);

/* Reloads the snapshot from the token now. */
hj_err keystore_reload(struct keystore *store, struct hj_error *err);

/*
 * Generates a key for alg that becomes active at activate_at (0: now plus
 * pre_publish; a time in the past: now). On success *kid is the new kid.
 */
hj_err keystore_generate(struct keystore *store, const struct jose_alg *alg,
    int64_t activate_at, char *kid, struct hj_error *err);

/*
 * Schedules a new key for alg, active after pre_publish (at once when no
 * key of alg is active), and the retirement of the current key at that
 * moment. *kid is the new key's kid.
 */
hj_err keystore_rotate(struct keystore *store, const struct jose_alg *alg,
    char *kid, struct hj_error *err);

/*
 * Retires kid now. It stays published until its tokens expire. With
 * immediately, for a compromised key, it is also unpublished at once. When
 * it was the active key, a successor then activates at once: the pending
 * key of its algorithm, or a newly generated one. Without
 * immediately, retiring the only active key of an algorithm with no pending
 * successor is HJ_ERR_FAILED_PRECONDITION.
 */
hj_err keystore_retire(struct keystore *store, const char *kid,
    bool immediately, struct hj_error *err);

/* Destroys an expired key and its record; other states are HJ_ERR_FAILED_PRECONDITION. */
hj_err keystore_destroy(struct keystore *store, const char *kid,
    struct hj_error *err);

#endif
