/* Unit tests of the claim rules of a Sign request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/claims.h"

#define NOW 1700000000

static char *billing_search[] = { "billing", "search" };

static struct profile
test_profile(bool restrict_audience)
{
	struct profile p = {
		.name = "default",
		.alg = NULL,
		.ttl = 300,
		.max_ttl = 3600,
	};

	p.alg = jose_alg_find("ES256");
	if (restrict_audience) {
		p.audiences = billing_search;
		p.audience_count = 2;
	}
	return p;
}

static hj_err
build(const struct profile *p, const char *json, const char *const *aud,
    size_t aud_count, uint32_t ttl, struct claims_result *result,
    struct hj_error *err)
{
	struct claims_request req = {
		.json = json,
		.json_len = strlen(json),
		.audience = aud,
		.audience_count = aud_count,
		.ttl_seconds = ttl,
	};

	hj_error_clear(err);
	return claims_build(p, "https://issuer.example", &req, NOW, result, err);
}

static void
claims_service_members_appended(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	char expected[256];

	assert_int_equal(build(&p, "{\"sub\":\"alice\", \"n\": 1}", NULL, 0, 0, &result, &err), HJ_OK);
	snprintf(expected, sizeof(expected),
	    "{\"sub\":\"alice\",\"n\":1,\"iss\":\"https://issuer.example\","
	    "\"iat\":%d,\"exp\":%d,\"jti\":\"%s\"}", NOW, NOW + 300, result.jti);
	assert_string_equal(result.json, expected);
	assert_int_equal(result.json_len, strlen(expected));
	assert_int_equal(result.issued_at, NOW);
	assert_int_equal(result.expires_at, NOW + 300);
	assert_null(result.audience_json);
	claims_result_clear(&result);
}

static void
claims_exact_text_kept(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	const char *input = "{ \"big\" : 123456789012345678901234567890, \"f\": 1.50e-7,"
	    " \"s\": \"a\\u00e9\\n\", \"o\": {\"z\": [1, 2], \"a\": null} }";

	assert_int_equal(build(&p, input, NULL, 0, 0, &result, &err), HJ_OK);
	assert_non_null(strstr(result.json,
	    "{\"big\":123456789012345678901234567890,\"f\":1.50e-7,"
	    "\"s\":\"a\\u00e9\\n\",\"o\":{\"z\":[1,2],\"a\":null},\"iss\""));
	claims_result_clear(&result);
}

static void
claims_empty_is_empty_object(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;

	assert_int_equal(build(&p, "", NULL, 0, 0, &result, &err), HJ_OK);
	assert_int_equal(strncmp(result.json, "{\"iss\":", 7), 0);
	claims_result_clear(&result);
}

static void
claims_jti_unique_base64url(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result a, b;
	struct hj_error err;
	size_t i;

	assert_int_equal(build(&p, "{}", NULL, 0, 0, &a, &err), HJ_OK);
	assert_int_equal(build(&p, "{}", NULL, 0, 0, &b, &err), HJ_OK);
	assert_int_equal(strlen(a.jti), CLAIMS_JTI_LEN);
	assert_string_not_equal(a.jti, b.jti);
	for (i = 0; i < CLAIMS_JTI_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_", a.jti[i]));
	claims_result_clear(&a);
	claims_result_clear(&b);
}

static void
claims_reserved_rejected(void **state)
{
	static const char *const names[] = { "iss", "iat", "nbf", "exp", "jti" };
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	char json[64], quoted[16];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(json, sizeof(json), "{\"sub\":\"a\",\"%s\":1}", names[i]);
		snprintf(quoted, sizeof(quoted), "\"%s\"", names[i]);
		assert_int_equal(build(&p, json, NULL, 0, 0, &result, &err),
		    HJ_ERR_INVALID_ARGUMENT);
		assert_non_null(strstr(err.message, "claims_json"));
		assert_non_null(strstr(err.message, quoted));
		assert_null(result.json);
	}
}

static void
claims_malformed_json_rejected(void **state)
{
	static const char *const inputs[] = {
		"[]", "{", "{\"a\":1}x", "{\"a\":1,\"a\":2}", "\"s\"", "{\"a\":\"\\ud800\"}",
		"{\"a\":\"\xff\"}", "{\"a\":01}",
	};
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		assert_int_equal(build(&p, inputs[i], NULL, 0, 0, &result, &err),
		    HJ_ERR_INVALID_ARGUMENT);
		assert_non_null(strstr(err.message, "claims_json"));
	}
}

static void
claims_depth_limit(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	char json[256];
	size_t i, n = 0;

	/* The object itself is depth 1, so CLAIMS_MAX_DEPTH - 1 nested arrays fit. */
	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"a\":");
	for (i = 0; i < CLAIMS_MAX_DEPTH - 1; i++)
		json[n++] = '[';
	for (i = 0; i < CLAIMS_MAX_DEPTH - 1; i++)
		json[n++] = ']';
	snprintf(json + n, sizeof(json) - n, "}");
	assert_int_equal(build(&p, json, NULL, 0, 0, &result, &err), HJ_OK);
	claims_result_clear(&result);

	n = (size_t)snprintf(json, sizeof(json), "{\"a\":");
	for (i = 0; i < CLAIMS_MAX_DEPTH; i++)
		json[n++] = '[';
	for (i = 0; i < CLAIMS_MAX_DEPTH; i++)
		json[n++] = ']';
	snprintf(json + n, sizeof(json) - n, "}");
	assert_int_equal(build(&p, json, NULL, 0, 0, &result, &err), HJ_ERR_INVALID_ARGUMENT);
}

static void
claims_size_limit(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;
	size_t len = CLAIMS_MAX_BYTES + 1;
	char *json = malloc(len + 1);

	assert_non_null(json);
	memset(json, ' ', len);
	json[0] = '{';
	json[len - 1] = '}';
	json[len] = '\0';
	assert_int_equal(build(&p, json, NULL, 0, 0, &result, &err), HJ_ERR_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(err.message, "claims_json"));

	/* At the limit itself the same object is accepted. */
	json[len - 2] = '}';
	json[len - 1] = '\0';
	assert_int_equal(build(&p, json, NULL, 0, 0, &result, &err), HJ_OK);
	claims_result_clear(&result);
	free(json);
}

static void
claims_request_audience_forms(void **state)
{
	const char *one[] = { "billing" };
	const char *two[] = { "billing", "search" };
	struct profile p = test_profile(true);
	struct claims_result result;
	struct hj_error err;

	assert_int_equal(build(&p, "{}", one, 1, 0, &result, &err), HJ_OK);
	assert_non_null(strstr(result.json, "{\"aud\":\"billing\",\"iss\""));
	assert_string_equal(result.audience_json, "\"billing\"");
	claims_result_clear(&result);

	assert_int_equal(build(&p, "{\"sub\":\"x\"}", two, 2, 0, &result, &err), HJ_OK);
	assert_non_null(strstr(result.json, "\"sub\":\"x\",\"aud\":[\"billing\",\"search\"],"));
	claims_result_clear(&result);
}

static void
claims_audience_rules(void **state)
{
	const char *billing[] = { "billing" };
	const char *other[] = { "other" };
	const char *empty[] = { "" };
	const char *bad_utf8[] = { "\xc3" };
	struct profile p = test_profile(true);
	struct claims_result result;
	struct hj_error err;

	assert_int_equal(build(&p, "{\"aud\":\"billing\"}", billing, 1, 0, &result, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(err.message, "audience"));

	assert_int_equal(build(&p, "{}", other, 1, 0, &result, &err), HJ_ERR_PERMISSION_DENIED);
	assert_non_null(strstr(err.message, "audience[0]"));
	assert_null(strstr(err.message, "other"));

	assert_int_equal(build(&p, "{\"aud\":[\"billing\",\"other\"]}", NULL, 0, 0, &result, &err),
	    HJ_ERR_PERMISSION_DENIED);
	assert_non_null(strstr(err.message, "claims_json.aud"));

	assert_int_equal(build(&p, "{\"aud\":5}", NULL, 0, 0, &result, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(build(&p, "{\"aud\":[]}", NULL, 0, 0, &result, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(build(&p, "{}", empty, 1, 0, &result, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(build(&p, "{}", bad_utf8, 1, 0, &result, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(err.message, "audience[0]"));

	assert_int_equal(build(&p, "{\"aud\":[\"billing\",\"search\"]}", NULL, 0, 0, &result, &err),
	    HJ_OK);
	assert_string_equal(result.audience_json, "[\"billing\",\"search\"]");
	claims_result_clear(&result);
}

static void
claims_any_audience_without_list(void **state)
{
	const char *aud[] = { "anything" };
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;

	assert_int_equal(build(&p, "{}", aud, 1, 0, &result, &err), HJ_OK);
	claims_result_clear(&result);
}

static void
claims_ttl_rules(void **state)
{
	struct profile p = test_profile(false);
	struct claims_result result;
	struct hj_error err;

	assert_int_equal(build(&p, "{}", NULL, 0, 3600, &result, &err), HJ_OK);
	assert_int_equal(result.expires_at, NOW + 3600);
	claims_result_clear(&result);

	assert_int_equal(build(&p, "{}", NULL, 0, 3601, &result, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(err.message, "ttl_seconds"));
	assert_non_null(strstr(err.message, "3600"));
}

static void
claims_issuer_escaped(void **state)
{
	struct profile p = test_profile(false);
	struct claims_request req = { .json = "{}", .json_len = 2 };
	struct claims_result result;
	struct hj_error err;
	json_t *parsed;

	assert_int_equal(claims_build(&p, "https://a\"b", &req, NOW, &result, &err), HJ_OK);
	parsed = json_loads(result.json, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(parsed);
	assert_string_equal(json_string_value(json_object_get(parsed, "iss")), "https://a\"b");
	json_decref(parsed);
	claims_result_clear(&result);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(claims_service_members_appended),
		cmocka_unit_test(claims_exact_text_kept),
		cmocka_unit_test(claims_empty_is_empty_object),
		cmocka_unit_test(claims_jti_unique_base64url),
		cmocka_unit_test(claims_reserved_rejected),
		cmocka_unit_test(claims_malformed_json_rejected),
		cmocka_unit_test(claims_depth_limit),
		cmocka_unit_test(claims_size_limit),
		cmocka_unit_test(claims_request_audience_forms),
		cmocka_unit_test(claims_audience_rules),
		cmocka_unit_test(claims_any_audience_without_list),
		cmocka_unit_test(claims_ttl_rules),
		cmocka_unit_test(claims_issuer_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
