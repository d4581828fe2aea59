/*
 * Lifecycle operations that write the token: generate, rotate, retire,
 * destroy. Each runs under the write lock on a fresh snapshot, so that a
 * change made by another replica is seen first, and reloads afterwards.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hsmjwt/log.h"
#include "keystore_int.h"

static int64_t
keystore_admin_now(void)
{
	return (int64_t)time(NULL);
}

/* Generates a signing key, or a decryption key for a JWE key management row. */
static hj_err
keystore_generate_in_token(struct keystore *s, const struct jose_alg *alg,
    const char *label, struct hsm_key *key, struct hj_error *err)
{
	struct hsm_enc_spec spec = {
		.kty = alg->kty,
		.crv = alg->crv,
		.rsa_bits = alg->rsa_bits,
	};

	if (!alg->encryption)
		return hsm_key_generate(s->opts.hsm, alg, label, key, err);
	return hsm_enc_key_generate(s->opts.hsm, &spec, label, key, err);
}

hj_err
keystore_generate_locked(struct keystore *s, const struct jose_alg *alg,
    int64_t activate_at, char *kid, struct hj_error *err)
{
	struct keyring_key key;
	char label[HSM_LABEL_MAX];
	int64_t now = keystore_admin_now();
	hj_err r;

	/* A decryption key of an algorithm the service does not accept would never be loaded. */
	if (alg->encryption && !keystore_uses_alg(s, alg))
		return hj_error_set(err, HJ_ERR_FAILED_PRECONDITION, "alg: the service keeps "
		    "no %s decryption keys: keys.decryption does not list it, or the token "
		    "cannot decrypt it (see the startup log)", alg->name);

	memset(&key, 0, sizeof(key));
	snprintf(label, sizeof(label), "%s%s", KEYRING_LABEL_PREFIX, alg->name);

	/*
	 * The key pair comes first, then its record: a crash in between leaves
	 * a key without a record, which the next load repairs before use.
	 */
	if ((r = keystore_generate_in_token(s, alg, label, &key.hsm_key, err)) != HJ_OK ||
	    (r = keyring_key_describe(&key, alg, err)) != HJ_OK)
		goto out;
	key.times.created_at = now;
	key.times.activate_at = activate_at > now ? activate_at : now;
	if ((r = keystore_write_record(s, &key, err)) != HJ_OK)
		goto out;

	strcpy(kid, key.kid);
	log_event(LOG_LEVEL_INFO, "key_generated", "kid=%s alg=%s activate_at=%lld",
	    key.kid, alg->name, (long long)key.times.activate_at);
	r = HJ_OK;

out:
	keyring_key_clear(&key);
	return r;
}

hj_err
keystore_generate(struct keystore *s, const struct jose_alg *alg,
    int64_t activate_at, char *kid, struct hj_error *err)
{
	hj_err r;

	if (activate_at == 0)
		activate_at = keystore_admin_now() + s->opts.pre_publish;
	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	if (r == HJ_OK)
		r = keystore_generate_locked(s, alg, activate_at, kid, err);
	if (r == HJ_OK)
		r = keystore_reload_locked(s, err);
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

/* Rewrites a key's record with new retirement times. */
static hj_err
keystore_set_retirement(struct keystore *s, const struct keyring_key *current,
    int64_t retire_at, int64_t unpublish_at, struct hj_error *err)
{
	struct keyring_key key = *current;

	key.public_jwk_json = NULL;
	key.times.retire_at = retire_at;
	key.times.unpublish_at = unpublish_at;
	return keystore_write_record(s, &key, err);
}

static hj_err
keystore_rotate_locked(struct keystore *s, const struct jose_alg *alg, char *kid,
    struct hj_error *err)
{
	struct keyring *ring = keystore_current(s);
	const struct keyring_key *active;
	int64_t now = keystore_admin_now(), activate_at;
	hj_err r;

	active = keyring_signing_key(ring, alg, now);
	activate_at = active != NULL ? now + s->opts.pre_publish : now;
	r = keystore_generate_locked(s, alg, activate_at, kid, err);
	if (r == HJ_OK && active != NULL) {
		r = keystore_set_retirement(s, active, activate_at,
		    activate_at + keystore_grace(s, alg), err);
		log_event(LOG_LEVEL_INFO, "key_rotated", "alg=%s old_kid=%s new_kid=%s "
		    "switch_at=%lld", alg->name, active->kid, kid, (long long)activate_at);
	}
	if (r == HJ_OK)
		r = keystore_reload_locked(s, err);
	keyring_unref(ring);
	return r;
}

hj_err
keystore_rotate(struct keystore *s, const struct jose_alg *alg, char *kid,
    struct hj_error *err)
{
	hj_err r;

	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	if (r == HJ_OK)
		r = keystore_rotate_locked(s, alg, kid, err);
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

/* Returns the pending key of alg that activates first, or NULL. */
static const struct keyring_key *
keystore_next_pending(const struct keyring *ring, const struct jose_alg *alg)
{
	const struct keyring_key *next = NULL;
	size_t i;

	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);

		if (key->alg != alg || key->state != KEY_STATE_PENDING)
			continue;
		if (next == NULL || key->times.activate_at < next->times.activate_at)
			next = key;
	}
	return next;
}

/* Activates a successor of a compromised active key at once. */
static hj_err
keystore_replace_now(struct keystore *s, const struct keyring *ring,
    const struct jose_alg *alg, int64_t now, struct hj_error *err)
{
	const struct keyring_key *next = keystore_next_pending(ring, alg);
	char kid[KEYRING_KID_MAX];
	struct keyring_key key;

	if (next == NULL)
		return keystore_generate_locked(s, alg, now, kid, err);

	key = *next;
	key.public_jwk_json = NULL;
	key.times.activate_at = now;
	log_event(LOG_LEVEL_WARN, "key_activated_early", "kid=%s alg=%s "
	    "reason=\"the active key was retired immediately\"", key.kid, alg->name);
	return keystore_write_record(s, &key, err);
}

static hj_err
keystore_retire_locked(struct keystore *s, const char *kid, bool immediately,
    struct hj_error *err)
{
	struct keyring *ring = keystore_current(s);
	const struct keyring_key *key = keyring_find(ring, kid);
	int64_t now = keystore_admin_now();
	bool active;
	hj_err r;

	if (key == NULL) {
		r = hj_error_set(err, HJ_ERR_NOT_FOUND, "kid: no key %.64s in the token", kid);
		goto out;
	}
	active = keyring_signing_key(ring, key->alg, now) == key;
	if (key->state == KEY_STATE_EXPIRED ||
	    (key->state == KEY_STATE_RETIRED && !immediately)) {
		r = hj_error_set(err, HJ_ERR_FAILED_PRECONDITION,
		    "kid: key %s is already %s", kid, lifecycle_state_name(key->state));
		goto out;
	}
	if (active && !immediately) {
		r = hj_error_set(err, HJ_ERR_FAILED_PRECONDITION,
		    "kid: key %s is the active %s key; rotate it (hsmjwt keys rotate --alg %s), "
		    "or if it is compromised retire it immediately (hsmjwt keys retire --now -- KID)",
		    kid, key->alg->name, key->alg->name);
		goto out;
	}

	/* A pending key never signed, and a compromised key must not verify. */
	r = keystore_set_retirement(s, key, now, immediately ||
	    key->state == KEY_STATE_PENDING ? now : now + key->grace, err);
	if (r == HJ_OK && active)
		r = keystore_replace_now(s, ring, key->alg, now, err);
	if (r == HJ_OK) {
		log_event(LOG_LEVEL_WARN, "key_retired", "kid=%s alg=%s immediately=%s",
		    kid, key->alg->name, immediately ? "yes" : "no");
		r = keystore_reload_locked(s, err);
	}

out:
	keyring_unref(ring);
	return r;
}

hj_err
keystore_retire(struct keystore *s, const char *kid, bool immediately,
    struct hj_error *err)
{
	hj_err r;

	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	if (r == HJ_OK)
		r = keystore_retire_locked(s, kid, immediately, err);
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

static hj_err
keystore_destroy_locked(struct keystore *s, const char *kid, struct hj_error *err)
{
	struct keyring *ring = keystore_current(s);
	const struct keyring_key *key = keyring_find(ring, kid);
	hj_err r;

	if (key == NULL) {
		r = hj_error_set(err, HJ_ERR_NOT_FOUND, "kid: no key %.64s in the token", kid);
		goto out;
	}
	if (key->state != KEY_STATE_EXPIRED) {
		if (key->unpublish_at == 0)
			r = hj_error_set(err, HJ_ERR_FAILED_PRECONDITION, "kid: key %s is %s; "
			    "only expired keys can be destroyed, so rotate or retire it first",
			    kid, lifecycle_state_name(key->state));
		else
			r = hj_error_set(err, HJ_ERR_FAILED_PRECONDITION, "kid: key %s is %s; "
			    "only expired keys can be destroyed, and it expires at %lld (Unix "
			    "seconds)", kid, lifecycle_state_name(key->state),
			    (long long)key->unpublish_at);
		goto out;
	}

	/* The private half first, so that a crash never leaves it without its record. */
	r = hsm_object_destroy(s->opts.hsm, key->hsm_key.private_handle, err);
	if (r == HJ_OK && key->hsm_key.public_handle != 0)
		r = hsm_object_destroy(s->opts.hsm, key->hsm_key.public_handle, err);
	if (r == HJ_OK && key->record_handle != 0)
		r = hsm_object_destroy(s->opts.hsm, key->record_handle, err);
	if (r == HJ_OK) {
		log_event(LOG_LEVEL_WARN, "key_destroyed", "kid=%s alg=%s", kid, key->alg->name);
		r = keystore_reload_locked(s, err);
	}

out:
	keyring_unref(ring);
	return r;
}

hj_err
keystore_destroy(struct keystore *s, const char *kid, struct hj_error *err)
{
	hj_err r;

	pthread_mutex_lock(&s->write_lock);
	r = keystore_reload_locked(s, err);
	if (r == HJ_OK)
		r = keystore_destroy_locked(s, kid, err);
	pthread_mutex_unlock(&s->write_lock);
	return r;
}
