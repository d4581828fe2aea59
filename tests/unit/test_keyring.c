/* Unit tests of the key ring on a real SoftHSM token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "hsmjwt/jwk.h"
#include "hsmjwt/jws.h"
#include "hsmjwt/keyring.h"
#include "softhsm_fixture.h"

#define PIN "keyring-test-pin"

struct env {
	struct softhsm_fixture fixture;
	struct hsm *hsm;
	const struct jose_alg *algs[3];
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct hsm_options opts = { 0 };
	struct hj_error err;

	if (e == NULL || softhsm_fixture_create(&e->fixture, "keyring-test", PIN) != 0)
		return -1;
	opts.module_path = e->fixture.module_path;
	opts.token_label = "keyring-test";
	opts.pool_size = 2;
	if (hsm_open(&opts, PIN, strlen(PIN), &e->hsm, &err) != HJ_OK) {
		fprintf(stderr, "hsm_open: %s\n", err.message);
		return -1;
	}
	e->algs[0] = jose_alg_find("ES256");
	e->algs[1] = jose_alg_find("RS256");
	e->algs[2] = jose_alg_find("PS256");
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	hsm_close(e->hsm);
	softhsm_fixture_destroy(&e->fixture);
	free(e);
	return 0;
}

static json_t *
jwks_find(const char *jwks_json, const char *kid)
{
	json_t *jwks = json_loads(jwks_json, JSON_REJECT_DUPLICATES, NULL);
	json_t *keys = json_object_get(jwks, "keys"), *key, *found = NULL;
	size_t i;

	json_array_foreach(keys, i, key) {
		if (strcmp(json_string_value(json_object_get(key, "kid")), kid) == 0)
			found = json_incref(key);
	}
	json_decref(jwks);
	return found;
}

/* Runs first: the token is empty. */
static void
keyring_missing_key_named(void **state)
{
	struct env *e = *state;
	struct keyring *ring = NULL;
	struct hj_error err;

	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &ring, &err), HJ_ERR_CONFIG);
	assert_null(ring);
	assert_non_null(strstr(err.message, "ES256"));
	assert_non_null(strstr(err.message, "generate_missing_keys"));
}

static void
keyring_generates_and_reloads(void **state)
{
	struct env *e = *state;
	struct keyring *first = NULL, *second = NULL;
	struct hj_error err;
	size_t i;

	assert_int_equal(keyring_load(e->hsm, e->algs, 3, true, &first, &err), HJ_OK);
	assert_int_equal(keyring_key_count(first), 3);
	for (i = 0; i < 3; i++)
		assert_non_null(keyring_signing_key(first, e->algs[i]));

	/* A second load finds the same keys and generates none. */
	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &second, &err), HJ_OK);
	assert_int_equal(keyring_key_count(second), 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(keyring_signing_key(first, e->algs[i])->kid,
		    keyring_signing_key(second, e->algs[i])->kid);
	assert_string_equal(keyring_jwks_json(first), keyring_jwks_json(second));
	assert_string_equal(keyring_jwks_etag(first), keyring_jwks_etag(second));

	keyring_free(first);
	keyring_free(second);
}

static void
keyring_jwks_members(void **state)
{
	struct env *e = *state;
	struct keyring *ring = NULL;
	struct hj_error err;
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	const char *etag;
	size_t i;

	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &ring, &err), HJ_OK);
	etag = keyring_jwks_etag(ring);
	assert_int_equal(etag[0], '"');
	assert_int_equal(etag[strlen(etag) - 1], '"');

	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);
		json_t *jwk = jwks_find(keyring_jwks_json(ring), key->kid);

		assert_non_null(jwk);
		assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
		assert_string_equal(json_string_value(json_object_get(jwk, "alg")), key->alg->name);
		assert_null(json_object_get(jwk, "d"));
		assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err), HJ_OK);
		assert_string_equal(thumbprint, key->kid);
		json_decref(jwk);
	}
	keyring_free(ring);
}

static void
keyring_sign_verifies(void **state)
{
	struct env *e = *state;
	struct keyring *ring = NULL;
	struct hj_error err;
	const char *payload = "{\"sub\":\"keyring\"}";
	size_t i;

	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &ring, &err), HJ_OK);
	for (i = 0; i < 3; i++) {
		const struct keyring_key *key = keyring_signing_key(ring, e->algs[i]);
		json_t *jwk = jwks_find(keyring_jwks_json(ring), key->kid);
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
	keyring_free(ring);
}

static void
keyring_smallest_kid_signs(void **state)
{
	struct env *e = *state;
	struct keyring *ring = NULL;
	struct hsm_key extra;
	struct hj_error err;
	const struct keyring_key *signing;
	size_t i, es256 = 0;

	assert_int_equal(hsm_key_generate(e->hsm, e->algs[0], "hsmjwt:ES256", &extra, &err), HJ_OK);
	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &ring, &err), HJ_OK);
	assert_int_equal(keyring_key_count(ring), 4);

	signing = keyring_signing_key(ring, e->algs[0]);
	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);

		if (key->alg != e->algs[0])
			continue;
		es256++;
		assert_true(strcmp(signing->kid, key->kid) <= 0);
	}
	assert_int_equal(es256, 2);
	keyring_free(ring);
}

static void
keyring_ignores_foreign_labels(void **state)
{
	struct env *e = *state;
	struct keyring *ring = NULL;
	struct hsm_key other;
	struct hj_error err;

	assert_int_equal(hsm_key_generate(e->hsm, e->algs[0], "another-app", &other, &err), HJ_OK);
	assert_int_equal(hsm_key_generate(e->hsm, e->algs[0], "hsmjwt:NOPE", &other, &err), HJ_OK);
	assert_int_equal(keyring_load(e->hsm, e->algs, 3, false, &ring, &err), HJ_OK);
	assert_int_equal(keyring_key_count(ring), 4);
	keyring_free(ring);
}

int
main(void)
{
	/* The tests share one token and run in this order. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keyring_missing_key_named),
		cmocka_unit_test(keyring_generates_and_reloads),
		cmocka_unit_test(keyring_jwks_members),
		cmocka_unit_test(keyring_sign_verifies),
		cmocka_unit_test(keyring_smallest_kid_signs),
		cmocka_unit_test(keyring_ignores_foreign_labels),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
