/*
 * Unit tests for public JWKs and RFC 7638 thumbprints (src/jose/jwk.c),
 * with EC, RSA and OKP (RFC 8037) keys. Vectors are read from the folder
 * named by HSMJWT_TEST_VECTORS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/jwk.h"

static void
assert_contains(const char *message, const char *expected)
{
	if (strstr(message, expected) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", message,
		    expected);
}

/* Loads a JSON vector file relative to HSMJWT_TEST_VECTORS. */
static json_t *
load_vector(const char *name)
{
	const char *dir = getenv("HSMJWT_TEST_VECTORS");
	char path[4096];
	json_error_t jerr;
	json_t *vector;

	if (dir == NULL || dir[0] == '\0')
		fail_msg("HSMJWT_TEST_VECTORS is not set: run the test with "
		    "meson test, or set it to the tests/vectors folder");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	vector = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (vector == NULL)
		fail_msg("cannot read test vector %s: %s", path, jerr.text);
	return vector;
}

static const char *
string_member(const json_t *obj, const char *name)
{
	const char *value = json_string_value(json_object_get(obj, name));

	/* cmocka 1.1 does not mark fail_msg() noreturn, so return "" after it. */
	if (value == NULL) {
		fail_msg("JSON has no string member \"%s\"", name);
		return "";
	}
	return value;
}

/* Decodes the base64url string member name of obj. */
static uint8_t *
decode_member(const json_t *obj, const char *name, size_t *lenp)
{
	const char *text = string_member(obj, name);
	uint8_t *data = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	if (b64url_decode(text, strlen(text), &data, lenp, &err) != HJ_OK)
		fail_msg("member \"%s\" is not base64url: %s", name,
		    err.message);
	return data;
}

static void
assert_thumbprint_vector(const char *file)
{
	json_t *vector = load_vector(file);
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	struct hj_error err;

	hj_error_clear(&err);
	if (jwk_thumbprint(json_object_get(vector, "jwk"), thumbprint,
	    &err) != HJ_OK)
		fail_msg("jwk_thumbprint failed on %s: %s", file, err.message);
	assert_int_equal(strlen(thumbprint), JWK_THUMBPRINT_LEN);
	assert_string_equal(thumbprint,
	    string_member(vector, "thumbprint_b64u"));
	json_decref(vector);
}

static void
test_jwk_thumbprint_rfc7638(void **state)
{
	assert_thumbprint_vector("rfc7638/3.1_thumbprint.json");
}

static void
test_jwk_thumbprint_ec_p256(void **state)
{
	assert_thumbprint_vector("rfc7638/extra_EC_P-256_thumbprint.json");
}

/* RFC 8037 A.3: the thumbprint of the A.2 Ed25519 public key. */
static void
test_jwk_thumbprint_rfc8037(void **state)
{
	json_t *key = load_vector("rfc8037/A.2_public_key.json");
	json_t *vector = load_vector("rfc8037/A.3_thumbprint.json");
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	struct hj_error err;

	hj_error_clear(&err);
	if (jwk_thumbprint(json_object_get(key, "jwk"), thumbprint, &err) !=
	    HJ_OK)
		fail_msg("jwk_thumbprint failed on RFC 8037 A.2: %s",
		    err.message);
	assert_string_equal(thumbprint,
	    string_member(vector, "thumbprint_b64u"));
	json_decref(vector);
	json_decref(key);
}

static void
test_jwk_thumbprint_rejects(void **state)
{
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	struct hj_error err;
	json_t *jwk;

	jwk = json_pack("{s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x",
	    "AAAA");
	assert_non_null(jwk);
	hj_error_clear(&err);
	assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWK \"y\" missing or not a string");
	json_decref(jwk);

	jwk = json_pack("{s:s, s:s}", "kty", "oct", "k", "AAAA");
	assert_non_null(jwk);
	assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWK \"kty\" not supported");
	json_decref(jwk);

	jwk = json_pack("{s:s, s:i}", "kty", "RSA", "n", 5);
	assert_non_null(jwk);
	assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWK \"e\" missing or not a string");
	json_decref(jwk);
}

static void
test_jwk_from_ec_point(void **state)
{
	json_t *vector = load_vector("rfc7515/A.3_ES256.json");
	const json_t *expected = json_object_get(vector, "jwk");
	uint8_t *x, *y, point[65];
	size_t x_len = 0, y_len = 0;
	char built_tp[JWK_THUMBPRINT_LEN + 1], vector_tp[JWK_THUMBPRINT_LEN + 1];
	struct hj_error err;
	json_t *jwk;

	x = decode_member(expected, "x", &x_len);
	y = decode_member(expected, "y", &y_len);
	assert_int_equal(x_len, 32);
	assert_int_equal(y_len, 32);
	point[0] = 0x04;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);

	hj_error_clear(&err);
	jwk = jwk_from_ec_point("P-256", point, sizeof(point), &err);
	if (jwk == NULL)
		fail_msg("jwk_from_ec_point failed: %s", err.message);
	assert_string_equal(string_member(jwk, "kty"), "EC");
	assert_string_equal(string_member(jwk, "crv"), "P-256");
	assert_string_equal(string_member(jwk, "x"), string_member(expected, "x"));
	assert_string_equal(string_member(jwk, "y"), string_member(expected, "y"));
	assert_int_equal(json_object_size(jwk), 4);

	assert_int_equal(jwk_thumbprint(jwk, built_tp, &err), HJ_OK);
	assert_int_equal(jwk_thumbprint(expected, vector_tp, &err), HJ_OK);
	assert_string_equal(built_tp, vector_tp);

	json_decref(jwk);
	free(x);
	free(y);
	json_decref(vector);
}

/* RFC 7515 A.4: P-521 coordinates keep their leading zero byte (y has one). */
static void
test_jwk_from_ec_point_p521(void **state)
{
	json_t *vector = load_vector("rfc7515/A.4_ES512.json");
	const json_t *expected = json_object_get(vector, "jwk");
	uint8_t *x, *y, point[133];
	size_t x_len = 0, y_len = 0;
	struct hj_error err;
	json_t *jwk;

	x = decode_member(expected, "x", &x_len);
	y = decode_member(expected, "y", &y_len);
	assert_int_equal(x_len, 66);
	assert_int_equal(y_len, 66);
	assert_int_equal(y[0], 0x00);
	point[0] = 0x04;
	memcpy(point + 1, x, 66);
	memcpy(point + 67, y, 66);

	hj_error_clear(&err);
	jwk = jwk_from_ec_point("P-521", point, sizeof(point), &err);
	if (jwk == NULL)
		fail_msg("jwk_from_ec_point failed: %s", err.message);
	assert_string_equal(string_member(jwk, "crv"), "P-521");
	assert_string_equal(string_member(jwk, "x"), string_member(expected, "x"));
	assert_string_equal(string_member(jwk, "y"), string_member(expected, "y"));

	json_decref(jwk);
	free(x);
	free(y);
	json_decref(vector);
}

/* RFC 8037 A.2 built from its raw 32-byte key, with the A.3 thumbprint. */
static void
test_jwk_from_okp(void **state)
{
	json_t *vector = load_vector("rfc8037/A.2_public_key.json");
	json_t *tp_vector = load_vector("rfc8037/A.3_thumbprint.json");
	const json_t *expected = json_object_get(vector, "jwk");
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	uint8_t *x;
	size_t x_len = 0;
	struct hj_error err;
	json_t *jwk;

	x = decode_member(expected, "x", &x_len);
	assert_int_equal(x_len, 32);

	hj_error_clear(&err);
	jwk = jwk_from_okp("Ed25519", x, x_len, &err);
	if (jwk == NULL)
		fail_msg("jwk_from_okp failed: %s", err.message);
	assert_true(json_equal(jwk, expected));
	assert_int_equal(json_object_size(jwk), 3);

	assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err), HJ_OK);
	assert_string_equal(thumbprint,
	    string_member(tp_vector, "thumbprint_b64u"));

	json_decref(jwk);
	free(x);
	json_decref(tp_vector);
	json_decref(vector);
}

static void
test_jwk_from_okp_rejects(void **state)
{
	uint8_t x[33];
	struct hj_error err;
	json_t *jwk;

	memset(x, 0x42, sizeof(x));
	hj_error_clear(&err);
	assert_null(jwk_from_okp("Ed25519", x, 31, &err));
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "must be 32 bytes, got 31 bytes");
	assert_null(jwk_from_okp("Ed25519", x, 33, &err));
	assert_contains(err.message, "got 33 bytes");
	assert_null(jwk_from_okp("Ed25519", NULL, 32, &err));
	assert_contains(err.message, "must be 32 bytes");
	assert_null(jwk_from_okp("Ed448", x, 32, &err));
	assert_contains(err.message, "OKP curve not supported");
	assert_null(jwk_from_okp("P-256", x, 32, &err));
	assert_contains(err.message, "OKP curve not supported");
	assert_null(jwk_from_okp(NULL, x, 32, &err));
	assert_contains(err.message, "OKP curve not supported");

	/* X25519 keys are JWE recipients; they build the same way. */
	jwk = jwk_from_okp("X25519", x, 32, &err);
	assert_non_null(jwk);
	assert_string_equal(string_member(jwk, "crv"), "X25519");
	json_decref(jwk);
}

static void
test_jwk_from_ec_point_rejects(void **state)
{
	uint8_t point[66];
	struct hj_error err;

	memset(point, 0x11, sizeof(point));
	point[0] = 0x04;

	hj_error_clear(&err);
	assert_null(jwk_from_ec_point("P-256", point, 64, &err));
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "(65 bytes), got 64 bytes");

	assert_null(jwk_from_ec_point("P-256", point, 66, &err));
	assert_contains(err.message, "got 66 bytes");

	point[0] = 0x02;
	assert_null(jwk_from_ec_point("P-256", point, 33, &err));
	assert_contains(err.message, "must be uncompressed");
	assert_null(jwk_from_ec_point("P-256", point, 65, &err));
	assert_contains(err.message, "must be uncompressed");

	point[0] = 0x04;
	assert_null(jwk_from_ec_point("secp256k1", point, 65, &err));
	assert_contains(err.message, "EC curve not supported");
	assert_null(jwk_from_ec_point(NULL, point, 65, &err));
	assert_contains(err.message, "EC curve not supported");
}

static void
test_jwk_from_rsa_strips_zeros(void **state)
{
	json_t *vector = load_vector("rfc7638/3.1_thumbprint.json");
	const json_t *expected = json_object_get(vector, "jwk");
	static const uint8_t e[] = { 0x00, 0x00, 0x01, 0x00, 0x01 };
	uint8_t *n, *padded;
	size_t n_len = 0;
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
	struct hj_error err;
	json_t *jwk;

	n = decode_member(expected, "n", &n_len);
	assert_int_equal(n_len, 256);
	padded = calloc(1, n_len + 2);
	assert_non_null(padded);
	memcpy(padded + 2, n, n_len);

	hj_error_clear(&err);
	jwk = jwk_from_rsa(padded, n_len + 2, e, sizeof(e), &err);
	if (jwk == NULL)
		fail_msg("jwk_from_rsa failed: %s", err.message);
	assert_string_equal(string_member(jwk, "kty"), "RSA");
	assert_string_equal(string_member(jwk, "n"), string_member(expected, "n"));
	assert_string_equal(string_member(jwk, "e"), "AQAB");
	assert_int_equal(json_object_size(jwk), 3);

	assert_int_equal(jwk_thumbprint(jwk, thumbprint, &err), HJ_OK);
	assert_string_equal(thumbprint, string_member(vector, "thumbprint_b64u"));

	json_decref(jwk);
	free(padded);
	free(n);
	json_decref(vector);
}

static void
test_jwk_from_rsa_rejects_zero(void **state)
{
	static const uint8_t zeros[] = { 0x00, 0x00 };
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	struct hj_error err;

	hj_error_clear(&err);
	assert_null(jwk_from_rsa(zeros, sizeof(zeros), e, sizeof(e), &err));
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "must be non-zero");
	assert_null(jwk_from_rsa(e, sizeof(e), zeros, 0, &err));
	assert_contains(err.message, "must be non-zero");
}

static void
assert_to_pkey_accepts(const char *file, const char *type, int bits)
{
	json_t *vector = load_vector(file);
	EVP_PKEY *key = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	if (jwk_to_pkey(json_object_get(vector, "jwk"), &key, &err) != HJ_OK)
		fail_msg("jwk_to_pkey failed on %s: %s", file, err.message);
	assert_true(EVP_PKEY_is_a(key, type));
	assert_int_equal(EVP_PKEY_get_bits(key), bits);
	EVP_PKEY_free(key);
	json_decref(vector);
}

static void
test_jwk_to_pkey_accepts(void **state)
{
	assert_to_pkey_accepts("rfc7515/A.3_ES256.json", "EC", 256);
	assert_to_pkey_accepts("rfc7638/extra_EC_P-256_thumbprint.json", "EC", 256);
	assert_to_pkey_accepts("rfc7638/3.1_thumbprint.json", "RSA", 2048);
	assert_to_pkey_accepts("rfc7515/A.2_RS256.json", "RSA", 2048);
	assert_to_pkey_accepts("rfc7515/A.4_ES512.json", "EC", 521);
	assert_to_pkey_accepts("rfc8037/A.2_public_key.json", "ED25519", 256);
}

/* The imported Ed25519 key has the JWK's x as its raw public key. */
static void
test_jwk_to_pkey_ed25519(void **state)
{
	json_t *vector = load_vector("rfc8037/A.1_private_key.json");
	const json_t *jwk = json_object_get(vector, "jwk");
	uint8_t *x, raw[32];
	size_t x_len = 0, raw_len = sizeof(raw);
	EVP_PKEY *key = NULL;
	struct hj_error err;

	x = decode_member(jwk, "x", &x_len);
	hj_error_clear(&err);
	if (jwk_to_pkey(jwk, &key, &err) != HJ_OK)
		fail_msg("jwk_to_pkey failed on RFC 8037 A.1: %s", err.message);
	assert_true(EVP_PKEY_is_a(key, "ED25519"));
	assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &raw_len), 1);
	assert_int_equal(raw_len, x_len);
	assert_memory_equal(raw, x, x_len);

	/* The private "d" of A.1 is ignored: the key is public only. */
	raw_len = sizeof(raw);
	assert_int_not_equal(EVP_PKEY_get_raw_private_key(key, raw, &raw_len),
	    1);

	EVP_PKEY_free(key);
	free(x);
	json_decref(vector);
}

/* An X25519 key survives jwk_from_okp() and jwk_to_pkey(). */
static void
test_jwk_to_pkey_x25519(void **state)
{
	EVP_PKEY *original = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY *key = NULL;
	uint8_t raw[32];
	size_t raw_len = sizeof(raw);
	struct hj_error err;
	json_t *jwk;

	assert_non_null(original);
	assert_int_equal(EVP_PKEY_get_raw_public_key(original, raw, &raw_len),
	    1);
	hj_error_clear(&err);
	jwk = jwk_from_okp("X25519", raw, raw_len, &err);
	assert_non_null(jwk);
	if (jwk_to_pkey(jwk, &key, &err) != HJ_OK)
		fail_msg("jwk_to_pkey failed on X25519: %s", err.message);
	assert_true(EVP_PKEY_is_a(key, "X25519"));
	assert_int_equal(EVP_PKEY_eq(original, key), 1);

	json_decref(jwk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(original);
}

/* Asserts that jwk_to_pkey rejects jwk with message in the error. */
static void
assert_to_pkey_rejects(const json_t *jwk, const char *message)
{
	EVP_PKEY *key = (EVP_PKEY *)&key;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jwk_to_pkey(jwk, &key, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, message);
	assert_null(key);
}

/* Returns a copy of the vector's JWK with member name set to value (NULL: removed). */
static json_t *
vector_jwk_with(const json_t *vector, const char *name, const char *value)
{
	json_t *jwk = json_deep_copy(json_object_get(vector, "jwk"));

	assert_non_null(jwk);
	if (value == NULL)
		assert_int_equal(json_object_del(jwk, name), 0);
	else
		assert_int_equal(json_object_set_new(jwk, name,
		    json_string(value)), 0);
	return jwk;
}

static void
test_jwk_to_pkey_off_curve(void **state)
{
	json_t *vector = load_vector("rfc7515/A.3_ES256.json");
	uint8_t *y;
	size_t y_len = 0;
	char *text;
	json_t *jwk;

	/* The A.3 point with the last bit of y flipped is not on P-256. */
	y = decode_member(json_object_get(vector, "jwk"), "y", &y_len);
	y[y_len - 1] ^= 0x01;
	assert_int_equal(b64url_encode(y, y_len, &text), HJ_OK);
	jwk = vector_jwk_with(vector, "y", text);
	assert_to_pkey_rejects(jwk, "not on the curve");
	json_decref(jwk);
	free(text);

	/* (0, 0) is not on P-256 either. */
	memset(y, 0, y_len);
	assert_int_equal(b64url_encode(y, y_len, &text), HJ_OK);
	jwk = vector_jwk_with(vector, "y", text);
	assert_int_equal(json_object_set_new(jwk, "x", json_string(text)), 0);
	assert_to_pkey_rejects(jwk, "not on the curve");
	json_decref(jwk);
	free(text);

	free(y);
	json_decref(vector);
}

/* Builds the public JWK of a new RSA key of bits bits. */
static json_t *
rsa_jwk(unsigned bits)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[1024], eb[16];
	int n_len, e_len;
	struct hj_error err;
	json_t *jwk;

	assert_non_null(key);
	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	n_len = BN_bn2bin(n, nb);
	e_len = BN_bn2bin(e, eb);

	hj_error_clear(&err);
	jwk = jwk_from_rsa(nb, (size_t)n_len, eb, (size_t)e_len, &err);
	if (jwk == NULL)
		fail_msg("jwk_from_rsa failed: %s", err.message);

	BN_free(n);
	BN_free(e);
	EVP_PKEY_free(key);
	return jwk;
}

static void
test_jwk_to_pkey_rsa_1024(void **state)
{
	json_t *jwk = rsa_jwk(1024);

	assert_to_pkey_rejects(jwk, "RSA modulus has 1024 bits, below the minimum of 2048");
	json_decref(jwk);
}

static void
test_jwk_to_pkey_rsa_bad_exponent(void **state)
{
	json_t *vector = load_vector("rfc7638/3.1_thumbprint.json");
	uint8_t *n;
	size_t n_len = 0;
	char *text;
	json_t *jwk;

	/* The OpenSSL public key check wants an odd e above 1. */
	jwk = vector_jwk_with(vector, "e", "AQAA");
	assert_to_pkey_rejects(jwk, "invalid RSA public key");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "e", "AQ");
	assert_to_pkey_rejects(jwk, "invalid RSA public key");
	json_decref(jwk);

	/* An even modulus. */
	n = decode_member(json_object_get(vector, "jwk"), "n", &n_len);
	n[n_len - 1] &= 0xfe;
	assert_int_equal(b64url_encode(n, n_len, &text), HJ_OK);
	jwk = vector_jwk_with(vector, "n", text);
	assert_to_pkey_rejects(jwk, "invalid RSA public key");
	json_decref(jwk);
	free(text);
	free(n);

	jwk = vector_jwk_with(vector, "e", "");
	assert_to_pkey_rejects(jwk, "JWK \"e\" is 0 bytes");
	json_decref(jwk);

	json_decref(vector);
}

static void
test_jwk_to_pkey_missing_member(void **state)
{
	json_t *ec = load_vector("rfc7515/A.3_ES256.json");
	json_t *rsa = load_vector("rfc7638/3.1_thumbprint.json");
	json_t *jwk;

	jwk = vector_jwk_with(ec, "x", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"x\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(ec, "y", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"y\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(ec, "crv", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"crv\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(rsa, "n", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"n\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(rsa, "e", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"e\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(rsa, "kty", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"kty\" missing or not a string");
	json_decref(jwk);

	json_decref(ec);
	json_decref(rsa);
}

static void
test_jwk_to_pkey_wrong_kty(void **state)
{
	json_t *ec = load_vector("rfc7515/A.3_ES256.json");
	json_t *rsa = load_vector("rfc7638/3.1_thumbprint.json");
	json_t *jwk;

	jwk = vector_jwk_with(ec, "kty", "oct");
	assert_to_pkey_rejects(jwk, "JWK \"kty\" not supported");
	json_decref(jwk);
	jwk = vector_jwk_with(ec, "kty", "ec");
	assert_to_pkey_rejects(jwk, "JWK \"kty\" not supported");
	json_decref(jwk);

	/* An EC JWK labelled RSA lacks "n" and "e". */
	jwk = vector_jwk_with(ec, "kty", "RSA");
	assert_to_pkey_rejects(jwk, "JWK \"n\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(rsa, "kty", "EC");
	assert_to_pkey_rejects(jwk, "JWK \"crv\" missing or not a string");
	json_decref(jwk);

	json_decref(ec);
	json_decref(rsa);
}

static void
test_jwk_to_pkey_bad_coordinates(void **state)
{
	json_t *ec = load_vector("rfc7515/A.3_ES256.json");
	uint8_t *x;
	size_t x_len = 0;
	char *text;
	json_t *jwk;
	json_t *array;

	x = decode_member(json_object_get(ec, "jwk"), "x", &x_len);
	assert_int_equal(b64url_encode(x, x_len - 1, &text), HJ_OK);
	jwk = vector_jwk_with(ec, "x", text);
	assert_to_pkey_rejects(jwk, "JWK \"x\" is 31 bytes, expected 32 for P-256");
	json_decref(jwk);
	free(text);
	free(x);
	jwk = vector_jwk_with(ec, "x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=");
	assert_to_pkey_rejects(jwk, "JWK \"x\": base64url padding");
	json_decref(jwk);
	jwk = vector_jwk_with(ec, "crv", "P-192");
	assert_to_pkey_rejects(jwk, "JWK \"crv\" not supported");
	json_decref(jwk);

	array = json_array();
	assert_non_null(array);
	assert_to_pkey_rejects(array, "JWK is not a JSON object");
	json_decref(array);

	json_decref(ec);
}

static void
test_jwk_to_pkey_okp_rejects(void **state)
{
	json_t *vector = load_vector("rfc8037/A.2_public_key.json");
	json_t *jwk;

	jwk = vector_jwk_with(vector, "crv", "Ed448");
	assert_to_pkey_rejects(jwk, "JWK \"crv\" not supported for OKP");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "crv", "P-256");
	assert_to_pkey_rejects(jwk, "JWK \"crv\" not supported for OKP");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "crv", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"crv\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "x", NULL);
	assert_to_pkey_rejects(jwk, "JWK \"x\" missing or not a string");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "x",
	    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUQ");
	assert_to_pkey_rejects(jwk, "JWK \"x\" is 31 bytes, expected 32 for "
	    "Ed25519");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "x",
	    "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	assert_to_pkey_rejects(jwk, "JWK \"x\": base64url padding");
	json_decref(jwk);

	/* An OKP key labelled EC names a curve that EC does not have. */
	jwk = vector_jwk_with(vector, "kty", "EC");
	assert_to_pkey_rejects(jwk, "JWK \"crv\" not supported: use P-256");
	json_decref(jwk);
	jwk = vector_jwk_with(vector, "kty", "okp");
	assert_to_pkey_rejects(jwk, "JWK \"kty\" not supported");
	json_decref(jwk);

	json_decref(vector);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwk_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_thumbprint_ec_p256),
		cmocka_unit_test(test_jwk_thumbprint_rfc8037),
		cmocka_unit_test(test_jwk_thumbprint_rejects),
		cmocka_unit_test(test_jwk_from_ec_point),
		cmocka_unit_test(test_jwk_from_ec_point_p521),
		cmocka_unit_test(test_jwk_from_ec_point_rejects),
		cmocka_unit_test(test_jwk_from_okp),
		cmocka_unit_test(test_jwk_from_okp_rejects),
		cmocka_unit_test(test_jwk_from_rsa_strips_zeros),
		cmocka_unit_test(test_jwk_from_rsa_rejects_zero),
		cmocka_unit_test(test_jwk_to_pkey_accepts),
		cmocka_unit_test(test_jwk_to_pkey_ed25519),
		cmocka_unit_test(test_jwk_to_pkey_x25519),
		cmocka_unit_test(test_jwk_to_pkey_okp_rejects),
		cmocka_unit_test(test_jwk_to_pkey_off_curve),
		cmocka_unit_test(test_jwk_to_pkey_rsa_1024),
		cmocka_unit_test(test_jwk_to_pkey_rsa_bad_exponent),
		cmocka_unit_test(test_jwk_to_pkey_missing_member),
		cmocka_unit_test(test_jwk_to_pkey_wrong_kty),
		cmocka_unit_test(test_jwk_to_pkey_bad_coordinates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
