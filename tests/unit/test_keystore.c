/* Unit tests of the key store and key ring on a real SoftHSM token, in real time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "hsmjwt/jwk.h"
#include "hsmjwt/jws.h"
#include "hsmjwt/keystore.h"
#include "softhsm_fixture.h"

#define PIN "keystore-test-pin"
#define PRE_PUBLISH 2
#define MAX_TTL 3

struct env {
	struct softhsm_fixture fixture;
	struct hsm *hsm;
	struct keystore_alg algs[3];
	struct keystore *store;
};

static struct keystore_options
options(struct env *e, bool generate_missing)
{
	struct keystore_options opts = {
		.hsm = e->hsm,
		.algs = e->algs,
		.alg_count = 3,
		.generate_missing = generate_missing,
		.pre_publish = PRE_PUBLISH,
		.clock_skew = 0,
	};

	return opts;
}

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct hsm_options opts = { 0 };
	struct hj_error err;

	if (e == NULL || softhsm_fixture_create(&e->fixture, "keystore-test", PIN) != 0)
		return -1;
	opts.module_path = e->fixture.module_path;
	opts.token_label = "keystore-test";
	opts.pool_size = 2;
	if (hsm_open(&opts, PIN, strlen(PIN), &e->hsm, &err) != HJ_OK) {
		fprintf(stderr, "hsm_open: %s\n", err.message);
		return -1;
	}
	e->algs[0] = (struct keystore_alg){ jose_alg_find("ES256"), MAX_TTL };
	e->algs[1] = (struct keystore_alg){ jose_alg_find("RS256"), MAX_TTL };
	e->algs[2] = (struct keystore_alg){ jose_alg_find("PS256"), MAX_TTL };
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	keystore_close(e->store);
	hsm_close(e->hsm);
	softhsm_fixture_destroy(&e->fixture);
	free(e);
	return 0;
}

static const struct keyring_key *
signing(struct keyring *ring, const char *alg)
{
	return keyring_signing_key(ring, jose_alg_find(alg), (int64_t)time(NULL));
}

static bool
jwks_has(const struct keyring *ring, const char *kid)
{
	json_t *jwks = json_loads(keyring_jwks_json(ring), JSON_REJECT_DUPLICATES, NULL);
	json_t *key;
	size_t i;
	bool found = false;

	json_array_foreach(json_object_get(jwks, "keys"), i, key)
		found = found || strcmp(json_string_value(json_object_get(key, "kid")), kid) == 0;
	json_decref(jwks);
	return found;
}

static size_t
count_state(const struct keyring *ring, const char *alg, enum key_state state)
{
	size_t i, n = 0;

	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);

		n += strcmp(key->alg->name, alg) == 0 && key->state == state;
	}
	return n;
}

/* Runs first: the token is empty. */
static void
keystore_missing_key_named(void **state)
{
	struct env *e = *state;
	struct keystore_options opts = options(e, false);
	struct keystore *store = NULL;
	struct hj_error err;

	assert_int_equal(keystore_open(&opts, &store, &err), HJ_ERR_CONFIG);
	assert_null(store);
	assert_non_null(strstr(err.message, "ES256"));
	assert_non_null(strstr(err.message, "generate_missing_keys"));
}

static void
keystore_generates_once(void **state)
{
	struct env *e = *state;
	struct keystore_options opts = options(e, true);
	struct keystore *replica = NULL;
	struct keyring *a, *b;
	struct hj_error err;
	size_t i;

	assert_int_equal(keystore_open(&opts, &e->store, &err), HJ_OK);
	a = keystore_current(e->store);
	assert_int_equal(keyring_key_count(a), 3);
	for (i = 0; i < 3; i++)
		assert_non_null(keyring_signing_key(a, e->algs[i].alg, (int64_t)time(NULL)));

	/* A second store on the same token finds the same keys and generates none. */
	opts.generate_missing = false;
	assert_int_equal(keystore_open(&opts, &replica, &err), HJ_OK);
	b = keystore_current(replica);
	assert_int_equal(keyring_key_count(b), 3);
	assert_string_equal(keyring_jwks_json(a), keyring_jwks_json(b));
	assert_string_equal(keyring_jwks_etag(a), keyring_jwks_etag(b));

	keyring_unref(a);
	keyring_unref(b);
	keystore_close(replica);
}

static void
keystore_jwks_members(void **state)
{
	struct env *e = *state;
	struct keyring *ring = keystore_current(e->store);
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	json_t *jwks, *jwk;
	struct hj_error err;
	size_t i;

	jwks = json_loads(keyring_jwks_json(ring), JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(jwks);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 3);
	json_array_foreach(json_object_get(jwks, "keys"), i, jwk) {
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		const struct keyring_key *key = keyring_find(ring, kid);

		assert_non_null(key);
		assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
		assert_string_equal(json_string_value(json_object_get(jwk, "alg")), key->alg->name);
		assert_null(json_object_get(jwk, "d"));
		assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err), HJ_OK);
		assert_string_equal(thumbprint, kid);
	}
	json_decref(jwks);
	keyring_unref(ring);
}

static void
keystore_sign_verifies(void **state)
{
	struct env *e = *state;
	struct keyring *ring = keystore_current(e->store);
	const char *payload = "{\"sub\":\"keystore\"}";
	struct hj_error err;
	size_t i;

	for (i = 0; i < 3; i++) {
		const struct keyring_key *key = signing(ring, e->algs[i].alg->name);
		json_t *jwk = json_loads(key->public_jwk_json, 0, NULL);
		EVP_PKEY *pkey = NULL;
		char *token = NULL, *verified = NULL;
		size_t verified_len = 0;

		assert_int_equal(keyring_sign_compact(ring, key, payload, strlen(payload),
		    &token, &err), HJ_OK);
		assert_int_equal(jwk_to_pkey(jwk, &pkey, &err), HJ_OK);
		assert_int_equal(jws_verify_compact(token, strlen(token), key->alg, pkey,
		    &verified, &verified_len, &err), HJ_OK);
		assert_string_equal(verified, payload);
		free(verified);
		free(token);
		EVP_PKEY_free(pkey);
		json_decref(jwk);
	}
	keyring_unref(ring);
}

static void
keystore_rotation_timeline(void **state)
{
	struct env *e = *state;
	char old_kid[KEYRING_KID_MAX], new_kid[KEYRING_KID_MAX];
	struct keyring *ring;
	struct hj_error err;

	ring = keystore_current(e->store);
	strcpy(old_kid, signing(ring, "ES256")->kid);
	keyring_unref(ring);

	if (keystore_rotate(e->store, jose_alg_find("ES256"), new_kid, &err) != HJ_OK)
		fail_msg("keystore_rotate: %s", err.message);
	ring = keystore_current(e->store);
	assert_string_equal(signing(ring, "ES256")->kid, old_kid);
	assert_int_equal(keyring_find(ring, new_kid)->state, KEY_STATE_PENDING);
	assert_true(jwks_has(ring, new_kid));
	assert_true(jwks_has(ring, old_kid));
	keyring_unref(ring);

	/* After pre_publish the new key signs and the old one is retired but published. */
	sleep(PRE_PUBLISH + 1);
	assert_int_equal(keystore_reload(e->store, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_string_equal(signing(ring, "ES256")->kid, new_kid);
	assert_int_equal(keyring_find(ring, old_kid)->state, KEY_STATE_RETIRED);
	assert_true(jwks_has(ring, old_kid));
	keyring_unref(ring);

	/* After max_ttl + clock_skew the old key expires and leaves the JWKS. */
	sleep(MAX_TTL + 1);
	assert_int_equal(keystore_reload(e->store, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_int_equal(keyring_find(ring, old_kid)->state, KEY_STATE_EXPIRED);
	assert_false(jwks_has(ring, old_kid));
	assert_true(jwks_has(ring, new_kid));
	keyring_unref(ring);

	assert_int_equal(keystore_destroy(e->store, old_kid, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_null(keyring_find(ring, old_kid));
	keyring_unref(ring);
}

static void
keystore_retire_rules(void **state)
{
	struct env *e = *state;
	char active_kid[KEYRING_KID_MAX];
	struct keyring *ring;
	struct hj_error err;

	ring = keystore_current(e->store);
	strcpy(active_kid, signing(ring, "RS256")->kid);
	keyring_unref(ring);

	assert_int_equal(keystore_retire(e->store, active_kid, false, &err),
	    HJ_ERR_FAILED_PRECONDITION);
	assert_non_null(strstr(err.message, "rotate"));
	assert_int_equal(keystore_retire(e->store, "no-such-kid", false, &err), HJ_ERR_NOT_FOUND);
	assert_int_equal(keystore_destroy(e->store, active_kid, &err), HJ_ERR_FAILED_PRECONDITION);
	assert_non_null(strstr(err.message, "active"));

	/* An emergency retirement unpublishes the key and activates a new one at once. */
	assert_int_equal(keystore_retire(e->store, active_kid, true, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_int_equal(keyring_find(ring, active_kid)->state, KEY_STATE_EXPIRED);
	assert_false(jwks_has(ring, active_kid));
	assert_non_null(signing(ring, "RS256"));
	assert_string_not_equal(signing(ring, "RS256")->kid, active_kid);
	keyring_unref(ring);

	assert_int_equal(keystore_destroy(e->store, active_kid, &err), HJ_OK);
	assert_int_equal(keystore_destroy(e->store, active_kid, &err), HJ_ERR_NOT_FOUND);
}

static void
keystore_generate_pending(void **state)
{
	struct env *e = *state;
	char kid[KEYRING_KID_MAX];
	struct keyring *ring;
	struct hj_error err;

	assert_int_equal(keystore_generate(e->store, jose_alg_find("PS256"), 0, kid, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_int_equal(keyring_find(ring, kid)->state, KEY_STATE_PENDING);
	assert_int_equal(keyring_find(ring, kid)->times.activate_at,
	    keyring_find(ring, kid)->times.created_at + PRE_PUBLISH);
	assert_int_equal(count_state(ring, "PS256", KEY_STATE_ACTIVE), 1);
	keyring_unref(ring);

	/* Retiring a pending key unpublishes it at once: it never signed. */
	assert_int_equal(keystore_retire(e->store, kid, false, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_int_equal(keyring_find(ring, kid)->state, KEY_STATE_EXPIRED);
	keyring_unref(ring);
}

static void
keystore_repairs_key_without_record(void **state)
{
	struct env *e = *state;
	char kid[KEYRING_KID_MAX];
	struct keyring *ring;
	struct hsm_key orphan;
	struct keyring_key described;
	struct hj_error err;

	/* A key generated without its record, as after a crash between the two steps. */
	assert_int_equal(hsm_key_generate(e->hsm, jose_alg_find("ES256"), "hsmjwt:ES256",
	    &orphan, &err), HJ_OK);
	memset(&described, 0, sizeof(described));
	described.hsm_key = orphan;
	assert_int_equal(keyring_key_describe(&described, jose_alg_find("ES256"), &err), HJ_OK);
	strcpy(kid, described.kid);
	keyring_key_clear(&described);

	assert_int_equal(keystore_reload(e->store, &err), HJ_OK);
	ring = keystore_current(e->store);
	assert_non_null(keyring_find(ring, kid));
	assert_int_not_equal(keyring_find(ring, kid)->record_handle, 0);
	assert_int_equal(keyring_find(ring, kid)->state, KEY_STATE_PENDING);
	assert_string_not_equal(signing(ring, "ES256")->kid, kid);
	keyring_unref(ring);
}

static void
keystore_ignores_foreign_labels(void **state)
{
	struct env *e = *state;
	struct keyring *before, *after;
	struct hsm_key other;
	struct hj_error err;

	before = keystore_current(e->store);
	assert_int_equal(hsm_key_generate(e->hsm, jose_alg_find("ES256"), "another-app",
	    &other, &err), HJ_OK);
	assert_int_equal(hsm_key_generate(e->hsm, jose_alg_find("ES256"), "hsmjwt:NOPE",
	    &other, &err), HJ_OK);
	assert_int_equal(keystore_reload(e->store, &err), HJ_OK);
	after = keystore_current(e->store);
	assert_int_equal(keyring_key_count(after), keyring_key_count(before));
	keyring_unref(before);
	keyring_unref(after);
}

int
main(void)
{
	/* The tests share one token and run in this order. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keystore_missing_key_named),
		cmocka_unit_test(keystore_generates_once),
		cmocka_unit_test(keystore_jwks_members),
		cmocka_unit_test(keystore_sign_verifies),
		cmocka_unit_test(keystore_rotation_timeline),
		cmocka_unit_test(keystore_retire_rules),
		cmocka_unit_test(keystore_generate_pending),
		cmocka_unit_test(keystore_repairs_key_without_record),
		cmocka_unit_test(keystore_ignores_foreign_labels),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
