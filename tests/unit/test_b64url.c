/* Unit tests for base64url (src/jose/b64url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsmjwt/b64url.h"

#define ROUND_TRIP_MAX_LEN 300

struct vector {
	const char *data;
	size_t len;
	const char *encoded;
};

/*
 * RFC 4648 section 10, which has no '+' or '/', so the URL alphabet gives
 * the same text without padding. The last three rows cover '-' and '_'.
 */
static const struct vector vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xff\xbf", 3, "-_-_" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\xff", 1, "_w" },
};

struct rejection {
	const char *text;
	size_t len;
	const char *message;
};

static const struct rejection rejections[] = {
	{ "Zm8=", 4, "padding '=' at offset 3" },
	{ "Zg==", 4, "padding '=' at offset 2" },
	{ "Zm+v", 4, "standard base64 character '+' at offset 2" },
	{ "Zm/v", 4, "standard base64 character '/' at offset 2" },
	{ "Zm 9vYg", 7, "white space in base64url text at offset 2" },
	{ "Zm9v\nYg", 7, "white space in base64url text at offset 4" },
	{ "Zm9v\r\nYg", 8, "white space in base64url text at offset 4" },
	{ "Zm9vY", 5, "invalid base64url length 5" },
	{ "Z", 1, "invalid base64url length 1" },
	{ "Zh", 2, "non-zero unused bits in the last base64url character at offset 1" },
	{ "Zm9", 3, "non-zero unused bits in the last base64url character at offset 2" },
	{ "Zm\0v", 4, "invalid base64url character at offset 2" },
	{ "Zm*v", 4, "invalid base64url character at offset 2" },
	{ "Zm9v\x80g", 6, "invalid base64url character at offset 4" },
};

static void
assert_contains(const char *message, const char *expected)
{
	if (strstr(message, expected) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", message,
		    expected);
}

static void
test_b64url_rfc4648_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct hj_error err;
		uint8_t *data = NULL;
		size_t len = 99;
		char *text = NULL;

		assert_int_equal(b64url_encoded_len(v->len), strlen(v->encoded));
		assert_int_equal(b64url_encode((const uint8_t *)v->data, v->len,
		    &text), HJ_OK);
		assert_string_equal(text, v->encoded);

		hj_error_clear(&err);
		assert_int_equal(b64url_decode(v->encoded, strlen(v->encoded),
		    &data, &len, &err), HJ_OK);
		assert_int_equal(len, v->len);
		assert_memory_equal(data, v->data, v->len);
		assert_int_equal(data[len], '\0');

		free(text);
		free(data);
	}
}

/* Encodes data with OpenSSL and converts it to base64url without padding. */
static char *
encode_with_openssl(const uint8_t *data, size_t len)
{
	char *text = malloc(4 * ((len + 2) / 3) + 1);
	size_t i, n;

	assert_non_null(text);
	n = (size_t)EVP_EncodeBlock((unsigned char *)text, data, (int)len);
	while (n > 0 && text[n - 1] == '=')
		n--;
	text[n] = '\0';
	for (i = 0; i < n; i++) {
		if (text[i] == '+')
			text[i] = '-';
		else if (text[i] == '/')
			text[i] = '_';
	}
	return text;
}

static void
test_b64url_round_trip_random(void **state)
{
	uint8_t data[ROUND_TRIP_MAX_LEN];
	size_t len;

	for (len = 0; len <= ROUND_TRIP_MAX_LEN; len++) {
		char text[4 * (ROUND_TRIP_MAX_LEN / 3 + 1) + 1];
		char *expected;
		uint8_t *decoded = NULL;
		size_t decoded_len = 0;
		struct hj_error err;

		assert_int_equal(RAND_bytes(data, (int)sizeof(data)), 1);
		b64url_encode_to(data, len, text);
		expected = encode_with_openssl(data, len);
		assert_string_equal(text, expected);
		assert_int_equal(strlen(text), b64url_encoded_len(len));

		hj_error_clear(&err);
		assert_int_equal(b64url_decode(text, strlen(text), &decoded,
		    &decoded_len, &err), HJ_OK);
		assert_int_equal(decoded_len, len);
		assert_memory_equal(decoded, data, len);

		free(expected);
		free(decoded);
	}
}

static void
test_b64url_decode_rejects(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
		const struct rejection *c = &rejections[i];
		uint8_t *data = (uint8_t *)"not cleared";
		size_t len = 99;
		struct hj_error err;

		hj_error_clear(&err);
		assert_int_equal(b64url_decode(c->text, c->len, &data, &len,
		    &err), HJ_ERR_INVALID_ARGUMENT);
		assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
		assert_contains(err.message, c->message);
		assert_null(data);
		assert_int_equal(len, 0);
	}
}

static void
test_b64url_decode_empty(void **state)
{
	struct hj_error err;
	uint8_t *data = NULL;
	size_t len = 99;

	hj_error_clear(&err);
	assert_int_equal(b64url_decode("", 0, &data, &len, &err), HJ_OK);
	assert_non_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], '\0');
	free(data);
}

static void
test_b64url_decode_null_error(void **state)
{
	uint8_t *data = NULL;
	size_t len = 0;

	assert_int_equal(b64url_decode("Zm8=", 4, &data, &len, NULL),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_null(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_rfc4648_vectors),
		cmocka_unit_test(test_b64url_round_trip_random),
		cmocka_unit_test(test_b64url_decode_rejects),
		cmocka_unit_test(test_b64url_decode_empty),
		cmocka_unit_test(test_b64url_decode_null_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
