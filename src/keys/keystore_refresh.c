/*
 * The background thread: reloads the snapshot every opts.refresh seconds,
 * so that keys and records that another replica changed are picked up and
 * expired keys leave the JWKS, and rotates keys older than rotate_every.
 */
#include <errno.h>
#include <time.h>

#include "hsmjwt/log.h"
#include "keystore_int.h"

/* Rotates each algorithm whose active key is older than rotate_every and has no successor. */
static void
keystore_auto_rotate(struct keystore *s)
{
	struct keyring *ring = keystore_current(s);
	int64_t now = (int64_t)time(NULL);
	char kid[KEYRING_KID_MAX], message[LOG_QUOTE_SIZE];
	struct hj_error err;
	size_t i, j;

	for (i = 0; i < s->alg_count; i++) {
		const struct jose_alg *alg = s->algs[i].alg;
		const struct keyring_key *active = keyring_signing_key(ring, alg, now);
		bool pending = false;

		if (active == NULL || active->times.activate_at + s->opts.rotate_every > now)
			continue;
		for (j = 0; j < keyring_key_count(ring); j++) {
			const struct keyring_key *key = keyring_key_at(ring, j);

			pending = pending || (key->alg == alg && key->state == KEY_STATE_PENDING);
		}
		if (pending)
			continue;

		/* NOTE: replicas that rotate in the same second may both add a key; the newer one wins. */
		if (keystore_rotate(s, alg, kid, &err) != HJ_OK)
			log_event(LOG_LEVEL_ERROR, "rotate_failed", "alg=%s message=%s",
			    alg->name, log_quote(message, err.message));
	}
	keyring_unref(ring);
}

/* Sleeps for seconds; returns false when the store is stopping. */
static bool
keystore_sleep(struct keystore *s, uint32_t seconds)
{
	struct timespec deadline;
	bool stopping;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&s->stop_lock);
	while (!s->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &deadline);
	stopping = s->stopping;
	pthread_mutex_unlock(&s->stop_lock);
	return !stopping;
}

static void *
keystore_refresh_main(void *arg)
{
	struct keystore *s = arg;
	char message[LOG_QUOTE_SIZE];
	struct hj_error err;

	while (keystore_sleep(s, s->opts.refresh)) {
		if (keystore_reload(s, &err) != HJ_OK) {
			log_event(LOG_LEVEL_ERROR, "reload_failed", "message=%s action=\"serving "
			    "the previous key ring\"", log_quote(message, err.message));
			continue;
		}
		if (s->opts.rotate_every != 0)
			keystore_auto_rotate(s);
	}
	return NULL;
}

hj_err
keystore_start_refresh(struct keystore *s, struct hj_error *err)
{
	if (s->opts.refresh == 0)
		return HJ_OK;
	if (pthread_create(&s->thread, NULL, keystore_refresh_main, s) != 0)
		return hj_error_set(err, HJ_ERR_INTERNAL, "cannot start the key reload thread");
	s->thread_started = true;
	return HJ_OK;
}

void
keystore_stop_refresh(struct keystore *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->stop_lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->stop_cond);
	pthread_mutex_unlock(&s->stop_lock);
	pthread_join(s->thread, NULL);
	s->thread_started = false;
}
