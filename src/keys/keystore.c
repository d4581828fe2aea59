#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmjwt/keystore.h"
#include "hsmjwt/log.h"
#include "keystore_int.h"

static int64_t
keystore_now(void)
{
	return (int64_t)time(NULL);
}

/* Seconds from retirement to unpublishing for alg: its longest TTL plus the clock skew. */
int64_t
keystore_grace(const struct keystore *s, const struct jose_alg *alg)
{
	uint32_t longest = 0, own = 0;
	size_t i;

	/* An algorithm without a max_ttl of its own (decryption keys) gets the longest. */
	for (i = 0; i < s->alg_count; i++) {
		if (s->algs[i].alg == alg)
			own = s->algs[i].max_ttl;
		if (s->algs[i].max_ttl > longest)
			longest = s->algs[i].max_ttl;
	}
	return (int64_t)(own != 0 ? own : longest) + s->opts.clock_skew;
}

bool
keystore_uses_alg(const struct keystore *s, const struct jose_alg *alg)
{
	size_t i;

	for (i = 0; i < s->alg_count; i++) {
		if (s->algs[i].alg == alg)
			return true;
	}
	return false;
}

/* Replaces the current snapshot with ring, which the store then owns. */
static void
keystore_swap(struct keystore *s, struct keyring *ring)
{
	struct keyring *old;

	pthread_mutex_lock(&s->current_lock);
	old = s->current;
	s->current = ring;
	pthread_mutex_unlock(&s->current_lock);
	keyring_unref(old);
}

struct keyring *
keystore_current(struct keystore *s)
{
	struct keyring *ring;

	pthread_mutex_lock(&s->current_lock);
	ring = keyring_ref(s->current);
	pthread_mutex_unlock(&s->current_lock);
	return ring;
}

/* Reloads with the write lock held. */
hj_err
keystore_reload_locked(struct keystore *s, struct hj_error *err)
{
	struct keyring *ring = NULL;
	hj_err r;

	r = keystore_scan(s, keystore_now(), &ring, err);
	if (r != HJ_OK)
		return r;
	keystore_swap(s, ring);
	return HJ_OK;
}

hj_err
keystore_reload(struct keystore *s, struct hj_error *err)
{
	hj_err r;

	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

/* Returns true when alg has an active or pending key in ring at now. */
static bool
keystore_alg_covered(const struct keyring *ring, const struct jose_alg *alg)
{
	size_t i;

	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);

		if (key->alg == alg && (key->state == KEY_STATE_ACTIVE ||
		    key->state == KEY_STATE_PENDING))
			return true;
	}
	return false;
}

/* Makes sure every algorithm in use has an active or pending key. */
static hj_err
keystore_fill_missing(struct keystore *s, struct hj_error *err)
{
	struct keyring *ring = keystore_current(s);
	char kid[KEYRING_KID_MAX];
	hj_err r = HJ_OK;
	size_t i;

	for (i = 0; i < s->alg_count && r == HJ_OK; i++) {
		const struct jose_alg *alg = s->algs[i].alg;

		if (keystore_alg_covered(ring, alg))
			continue;
		if (!s->opts.generate_missing) {
			r = hj_error_set(err, HJ_ERR_CONFIG,
			    "no %s key in the token; generate one, or set "
			    "hsm.generate_missing_keys: true", alg->name);
			break;
		}
		r = keystore_generate_locked(s, alg, keystore_now(), kid, err);
	}
	keyring_unref(ring);
	if (r == HJ_OK)
		r = keystore_reload_locked(s, err);
	return r;
}

hj_err
keystore_open(const struct keystore_options *opts, struct keystore **storep,
    struct hj_error *err)
{
	struct keystore *s;
	hj_err r = HJ_ERR_NO_MEMORY;

	*storep = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hj_error_set(err, r, "out of memory");
	s->opts = *opts;
	s->algs = calloc(opts->alg_count + 1, sizeof(*s->algs));
	if (s->algs == NULL) {
		free(s);
		return hj_error_set(err, r, "out of memory");
	}
	memcpy(s->algs, opts->algs, opts->alg_count * sizeof(*s->algs));
	s->alg_count = opts->alg_count;
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->current_lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_cond_init(&s->stop_cond, NULL);

	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	if (r == HJ_OK)
		r = keystore_fill_missing(s, err);
	pthread_mutex_unlock(&s->write_lock);
	if (r == HJ_OK)
		r = keystore_start_refresh(s, err);
	if (r != HJ_OK) {
		keystore_close(s);
		return r;
	}
	*storep = s;
	return HJ_OK;
}

void
keystore_close(struct keystore *s)
{
	if (s == NULL)
		return;
	keystore_stop_refresh(s);
	keyring_unref(s->current);
	pthread_cond_destroy(&s->stop_cond);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_mutex_destroy(&s->current_lock);
	pthread_mutex_destroy(&s->write_lock);
	free(s->algs);
	free(s);
}
