/* Internals of the key store, shared by src/keys/keystore*.c. */
#ifndef HSMJWT_KEYSTORE_INT_H
#define HSMJWT_KEYSTORE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "hsmjwt/keystore.h"

struct keystore {
	struct keystore_options opts;
	struct keystore_alg *algs;         /* opts.algs copied */
	size_t alg_count;

	/* Serializes reloads and every write to the token. */
	pthread_mutex_t write_lock;

	pthread_mutex_t current_lock;
	struct keyring *current;           /* guarded by current_lock */

	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;                     /* guarded by stop_lock */
	bool thread_started;
	pthread_t thread;
};

/* Returns true when alg is a signing algorithm of a profile or listed in keys.decryption. */
bool keystore_uses_alg(const struct keystore *s, const struct jose_alg *alg);
int64_t keystore_grace(const struct keystore *s, const struct jose_alg *alg);
hj_err keystore_reload_locked(struct keystore *s, struct hj_error *err);

/* keystore_scan.c: reads the token into a new snapshot, repairing missing records. */
hj_err keystore_scan(struct keystore *s, int64_t now, struct keyring **ringp,
    struct hj_error *err);
hj_err keystore_write_record(struct keystore *s, struct keyring_key *key,
    struct hj_error *err);

/*
 * keystore_admin.c: writes a new key and its record without reloading, so
 * that the caller swaps in one snapshot after all of its writes.
 */
hj_err keystore_generate_locked(struct keystore *s, const struct jose_alg *alg,
    int64_t activate_at, char *kid, struct hj_error *err);

/* keystore_refresh.c */
hj_err keystore_start_refresh(struct keystore *s, struct hj_error *err);
void keystore_stop_refresh(struct keystore *s);

#endif
