/* Unit tests of the key lifecycle rules with injected times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsmjwt/lifecycle.h"

#define T0 1800000000
#define GRACE 3660

static struct lifecycle_key
key(const char *kid, int64_t activate_at, int64_t retire_at, int64_t unpublish_at)
{
	struct lifecycle_key k = {
		.alg = "ES256",
		.kid = kid,
		.times = { T0 - 10, activate_at, retire_at, unpublish_at },
		.grace = GRACE,
	};

	return k;
}

static void
lifecycle_pending_then_active(void **state)
{
	struct lifecycle_key keys[] = { key("a", T0 + 100, 0, 0) };

	lifecycle_compute(keys, 1, T0 + 99);
	assert_int_equal(keys[0].state, KEY_STATE_PENDING);
	lifecycle_compute(keys, 1, T0 + 100);
	assert_int_equal(keys[0].state, KEY_STATE_ACTIVE);
	assert_int_equal(keys[0].retire_at, 0);
	assert_int_equal(keys[0].unpublish_at, 0);
}

static void
lifecycle_rotation_timeline(void **state)
{
	/* "old" is retired when "new" activates, and unpublished GRACE later. */
	struct lifecycle_key keys[] = {
		key("old", T0, T0 + 100, T0 + 100 + GRACE),
		key("new", T0 + 100, 0, 0),
	};

	lifecycle_compute(keys, 2, T0 + 50);
	assert_int_equal(keys[0].state, KEY_STATE_ACTIVE);
	assert_int_equal(keys[1].state, KEY_STATE_PENDING);
	assert_int_equal(lifecycle_active_index(keys, 2, "ES256", T0 + 50), 0);

	lifecycle_compute(keys, 2, T0 + 100);
	assert_int_equal(keys[0].state, KEY_STATE_RETIRED);
	assert_int_equal(keys[1].state, KEY_STATE_ACTIVE);
	assert_int_equal(lifecycle_active_index(keys, 2, "ES256", T0 + 100), 1);

	lifecycle_compute(keys, 2, T0 + 100 + GRACE - 1);
	assert_int_equal(keys[0].state, KEY_STATE_RETIRED);
	lifecycle_compute(keys, 2, T0 + 100 + GRACE);
	assert_int_equal(keys[0].state, KEY_STATE_EXPIRED);
	assert_int_equal(keys[0].unpublish_at, T0 + 100 + GRACE);
}

static void
lifecycle_superseded_without_retirement(void **state)
{
	struct lifecycle_key keys[] = {
		key("old", T0, 0, 0),
		key("new", T0 + 100, 0, 0),
	};

	lifecycle_compute(keys, 2, T0 + 200);
	assert_int_equal(keys[0].state, KEY_STATE_RETIRED);
	assert_int_equal(keys[0].retire_at, T0 + 100);
	assert_int_equal(keys[0].unpublish_at, T0 + 100 + GRACE);
	assert_int_equal(keys[1].state, KEY_STATE_ACTIVE);

	lifecycle_compute(keys, 2, T0 + 100 + GRACE);
	assert_int_equal(keys[0].state, KEY_STATE_EXPIRED);
}

static void
lifecycle_tie_smallest_kid(void **state)
{
	struct lifecycle_key keys[] = {
		key("b", T0, 0, 0),
		key("a", T0, 0, 0),
	};

	lifecycle_compute(keys, 2, T0);
	assert_int_equal(keys[0].state, KEY_STATE_RETIRED);
	assert_int_equal(keys[1].state, KEY_STATE_ACTIVE);
}

static void
lifecycle_algorithms_separate(void **state)
{
	struct lifecycle_key keys[] = {
		key("es", T0, 0, 0),
		key("rs", T0 + 10, 0, 0),
	};

	keys[1].alg = "RS256";
	lifecycle_compute(keys, 2, T0 + 20);
	assert_int_equal(keys[0].state, KEY_STATE_ACTIVE);
	assert_int_equal(keys[1].state, KEY_STATE_ACTIVE);
	assert_int_equal(lifecycle_active_index(keys, 2, "RS256", T0 + 20), 1);
	assert_int_equal(lifecycle_active_index(keys, 2, "PS256", T0 + 20), -1);
}

static void
lifecycle_retired_immediately(void **state)
{
	/* An emergency retirement unpublishes at once, and nothing is active after it. */
	struct lifecycle_key keys[] = { key("a", T0, T0 + 10, T0 + 10) };

	lifecycle_compute(keys, 1, T0 + 10);
	assert_int_equal(keys[0].state, KEY_STATE_EXPIRED);
	assert_int_equal(lifecycle_active_index(keys, 1, "ES256", T0 + 10), -1);
}

static void
lifecycle_retired_pending_never_active(void **state)
{
	struct lifecycle_key keys[] = { key("a", T0 + 100, T0 + 5, T0 + 5) };

	lifecycle_compute(keys, 1, T0 + 50);
	assert_int_equal(keys[0].state, KEY_STATE_EXPIRED);
	lifecycle_compute(keys, 1, T0 + 200);
	assert_int_equal(keys[0].state, KEY_STATE_EXPIRED);
	assert_int_equal(lifecycle_active_index(keys, 1, "ES256", T0 + 200), -1);
}

static void
lifecycle_record_round_trip(void **state)
{
	struct lifecycle in = { 1, 2, 3, 4, 5 }, out;
	char alg[LIFECYCLE_ALG_MAX], id[LIFECYCLE_ID_HEX_MAX];
	struct hj_error err;
	char *json = NULL;
	size_t len = 0;

	assert_int_equal(lifecycle_encode(&in, "ES256", "00ff", &json, &len, &err), HJ_OK);
	assert_string_equal(json, "{\"v\":1,\"alg\":\"ES256\",\"id\":\"00ff\",\"rev\":5,\"created_at\":1,"
	    "\"activate_at\":2,\"retire_at\":3,\"unpublish_at\":4}");
	assert_int_equal(lifecycle_decode(json, len, &out, alg, id, &err), HJ_OK);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_string_equal(alg, "ES256");
	assert_string_equal(id, "00ff");
	free(json);
}

static void
lifecycle_record_rejects_malformed(void **state)
{
	static const char *const records[] = {
		"", "[]", "{\"v\":1}",
		"{\"v\":2,\"alg\":\"ES256\",\"id\":\"00\",\"rev\":0,\"created_at\":1,\"activate_at\":2,\"retire_at\":0,\"unpublish_at\":0}",
		"{\"v\":1,\"alg\":\"ES256\",\"id\":\"00\",\"rev\":0,\"created_at\":-1,\"activate_at\":2,\"retire_at\":0,\"unpublish_at\":0}",
		"{\"v\":1,\"alg\":\"\",\"id\":\"00\",\"rev\":0,\"created_at\":1,\"activate_at\":2,\"retire_at\":0,\"unpublish_at\":0}",
		"{\"v\":1,\"alg\":\"ES256\",\"id\":\"00\",\"rev\":0,\"created_at\":1,\"activate_at\":2,\"retire_at\":0,\"unpublish_at\":0,\"x\":1}",
		"{\"v\":1,\"v\":1,\"alg\":\"ES256\",\"id\":\"00\",\"rev\":0,\"created_at\":1,\"activate_at\":2,\"retire_at\":0,\"unpublish_at\":0}",
	};
	char alg[LIFECYCLE_ALG_MAX], id[LIFECYCLE_ID_HEX_MAX];
	struct lifecycle out;
	struct hj_error err;
	size_t i;

	for (i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		assert_int_equal(lifecycle_decode(records[i], strlen(records[i]), &out, alg, id,
		    &err), HJ_ERR_INVALID_ARGUMENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle_pending_then_active),
		cmocka_unit_test(lifecycle_rotation_timeline),
		cmocka_unit_test(lifecycle_superseded_without_retirement),
		cmocka_unit_test(lifecycle_tie_smallest_kid),
		cmocka_unit_test(lifecycle_algorithms_separate),
		cmocka_unit_test(lifecycle_retired_immediately),
		cmocka_unit_test(lifecycle_retired_pending_never_active),
		cmocka_unit_test(lifecycle_record_round_trip),
		cmocka_unit_test(lifecycle_record_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
