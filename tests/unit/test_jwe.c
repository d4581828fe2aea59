/*
 * Unit tests for compact JWE (src/jose/jwe*.c, src/jose/concatkdf.c):
 * RFC 7516 and RFC 7518 vectors, read from the folder named by
 * HSMJWT_TEST_VECTORS, and round trips of every alg and enc. The key
 * callbacks use software keys with OpenSSL in place of the token, so these
 * tests need no token. Rejections are in test_jwe_reject.c.
 */
#include "jwe_test.h"

/* Decodes hex text into a new buffer. */
static uint8_t *
hex_bytes(const char *hex, size_t *lenp)
{
	size_t i, len = strlen(hex) / 2;
	uint8_t *data = malloc(len + 1);
	unsigned int byte;

	assert_non_null(data);
	assert_int_equal(strlen(hex) % 2, 0);
	for (i = 0; i < len; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		data[i] = (uint8_t)byte;
	}
	*lenp = len;
	return data;
}

/* Converts the JSON array of integers name of obj into a new buffer. */
static uint8_t *
octets_member(const json_t *obj, const char *name, size_t *lenp)
{
	const json_t *array = json_object_get(obj, name);
	const json_t *value;
	uint8_t *data;
	size_t i;

	assert_true(json_is_array(array));
	data = malloc(json_array_size(array) + 1);
	assert_non_null(data);
	json_array_foreach(array, i, value) {
		assert_true(json_is_integer(value));
		data[i] = (uint8_t)json_integer_value(value);
	}
	*lenp = json_array_size(array);
	return data;
}

/* Decodes the base64url member name of a JWK into a BIGNUM. */
static BIGNUM *
jwk_bn(const json_t *jwk, const char *name)
{
	size_t len = 0;
	uint8_t *data = b64u_bytes(string_member(jwk, name), &len);
	BIGNUM *bn = BN_bin2bn(data, (int)len, NULL);

	assert_non_null(bn);
	free(data);
	return bn;
}

/* Imports an RSA private JWK with its CRT members. */
static EVP_PKEY *
rsa_private_from_jwk(const json_t *jwk)
{
	static const char *const members[] = {
		"n", "e", "d", "p", "q", "dp", "dq", "qi"
	};
	static const char *const params[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E,
		OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1
	};
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bns[8];
	OSSL_PARAM *built;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	size_t i;

	assert_non_null(bld);
	for (i = 0; i < 8; i++) {
		bns[i] = jwk_bn(jwk, members[i]);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, params[i], bns[i]),
		    1);
	}
	built = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(built);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, built),
	    1);

	for (i = 0; i < 8; i++)
		BN_clear_free(bns[i]);
	OSSL_PARAM_free(built);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* Imports an EC P-256 private JWK (x, y, d). */
static EVP_PKEY *
ec_private_from_jwk(const json_t *jwk)
{
	uint8_t point[65], *x, *y;
	size_t x_len = 0, y_len = 0;
	BIGNUM *d = jwk_bn(jwk, "d");
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM *built;
	EVP_PKEY *pkey = NULL;

	assert_string_equal(string_member(jwk, "crv"), "P-256");
	x = b64u_bytes(string_member(jwk, "x"), &x_len);
	y = b64u_bytes(string_member(jwk, "y"), &y_len);
	assert_int_equal(x_len, 32);
	assert_int_equal(y_len, 32);
	point[0] = 0x04;
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);

	assert_non_null(bld);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld,
	    OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld,
	    OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY,
	    d), 1);
	built = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(built);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, built),
	    1);

	OSSL_PARAM_free(built);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_clear_free(d);
	free(x);
	free(y);
	return pkey;
}

/* Decodes the protected header of token into a JSON object. */
static json_t *
token_header(const char *token)
{
	uint8_t *text = NULL;
	size_t len = 0;
	struct hj_error err;
	json_error_t jerr;
	json_t *header;

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(token, (size_t)(strchr(token, '.') -
	    token), &text, &len, &err), HJ_OK);
	header = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (header == NULL)
		fail_msg("token header is not JSON: %s", jerr.text);
	free(text);
	return header;
}

/* Asserts that data encodes to the base64url text expected. */
static void
assert_b64u_equal(const uint8_t *data, size_t len, const char *expected)
{
	char *text = NULL;

	assert_int_equal(b64url_encode(data, len, &text), HJ_OK);
	assert_string_equal(text, expected);
	free(text);
}

/* RFC 7516 A.1: RSA-OAEP + A256GCM, decrypted with the RFC private key. */
static void
test_jwe_rfc7516_a1(void **state)
{
	json_t *vector = load_vector("rfc7516/A.1_RSA-OAEP_A256GCM.json");
	const char *plaintext = string_member(vector, "plaintext_utf8");
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	struct soft_keys keys;

	memset(&keys, 0, sizeof(keys));
	keys.rsa = rsa_private_from_jwk(json_object_get(vector, "key"));
	if (decrypt(string_member(vector, "compact"), &keys, &result, &err,
	    &detail) != HJ_OK)
		fail_msg("RFC 7516 A.1 does not decrypt: %s (%s)", err.message,
		    detail.message);

	assert_int_equal(result->plaintext_len, strlen(plaintext));
	assert_memory_equal(result->plaintext, plaintext, strlen(plaintext));
	assert_int_equal(result->plaintext[result->plaintext_len], '\0');
	assert_string_equal(result->protected_header,
	    string_member(vector, "protected_header_utf8"));
	assert_int_equal(result->protected_header_len,
	    strlen(string_member(vector, "protected_header_utf8")));
	assert_null(result->kid);
	assert_int_equal(keys.calls, 1);
	assert_string_equal(keys.alg, "RSA-OAEP");
	assert_string_equal(keys.kid, "(null)");

	jwe_decrypted_free(result);
	soft_keys_clear(&keys);
	json_decref(vector);
}

/* RFC 7516 A.1: with its CEK and IV, AES-256-GCM gives the RFC output. */
static void
test_jwe_rfc7516_a1_content(void **state)
{
	json_t *vector = load_vector("rfc7516/A.1_RSA-OAEP_A256GCM.json");
	const char *plaintext = string_member(vector, "plaintext_utf8");
	const char *aad = string_member(vector, "aad_ascii");
	struct jwe_content_params params;
	uint8_t *cek, *iv, *ciphertext = NULL, tag[JWE_TAG_MAX];
	size_t cek_len = 0, iv_len = 0, ciphertext_len = 0, tag_len = 0;
	struct hj_error err;

	cek = octets_member(vector, "cek_octets", &cek_len);
	iv = octets_member(vector, "iv_octets", &iv_len);
	memset(&params, 0, sizeof(params));
	params.cek = cek;
	params.cek_len = cek_len;
	params.iv = iv;
	params.iv_len = iv_len;
	params.aad = (const uint8_t *)aad;
	params.aad_len = strlen(aad);

	hj_error_clear(&err);
	if (jwe_content_encrypt("A256GCM", &params, (const uint8_t *)plaintext,
	    strlen(plaintext), &ciphertext, &ciphertext_len, tag, &tag_len,
	    &err) != HJ_OK)
		fail_msg("A256GCM encryption failed: %s", err.message);
	assert_b64u_equal(ciphertext, ciphertext_len,
	    string_member(vector, "ciphertext_b64u"));
	assert_b64u_equal(tag, tag_len, string_member(vector, "tag_b64u"));

	free(ciphertext);
	free(cek);
	free(iv);
	json_decref(vector);
}

/* Encrypts the RFC 7516 A.3 plaintext with the vector's KEK, CEK and IV. */
static char *
encrypt_a3(const json_t *vector, struct soft_keys *keys)
{
	const char *plaintext = string_member(vector, "plaintext_utf8");
	struct jwe_encrypt_params params;
	uint8_t *cek, *iv;
	size_t cek_len = 0, iv_len = 0;
	struct hj_error err;
	char *token = NULL;

	cek = octets_member(vector, "cek_octets", &cek_len);
	iv = octets_member(vector, "iv_octets", &iv_len);
	memset(&params, 0, sizeof(params));
	params.alg = "A128KW";
	params.enc = "A128CBC-HS256";
	params.wrap = soft_wrap;
	params.wrap_ctx = keys;
	params.test_cek = cek;
	params.test_cek_len = cek_len;
	params.test_iv = iv;
	params.test_iv_len = iv_len;

	hj_error_clear(&err);
	if (jwe_encrypt_compact(&params, (const uint8_t *)plaintext,
	    strlen(plaintext), &token, &err) != HJ_OK)
		fail_msg("RFC 7516 A.3 encryption failed: %s", err.message);
	free(cek);
	free(iv);
	return token;
}

/* Sets keys->aes to the vector's 128-bit "oct" key. */
static void
soft_keys_from_oct(struct soft_keys *keys, const json_t *vector)
{
	const json_t *jwk = json_object_get(vector, "key");
	size_t len = 0;
	uint8_t *k = b64u_bytes(string_member(jwk, "k"), &len);

	memset(keys, 0, sizeof(*keys));
	assert_int_equal(len, 16);
	memcpy(keys->aes, k, len);
	keys->aes_len = len;
	free(k);
}

/* RFC 7516 A.3: A128KW + A128CBC-HS256 reproduced byte for byte. */
static void
test_jwe_rfc7516_a3_encrypt(void **state)
{
	json_t *vector = load_vector("rfc7516/A.3_A128KW_A128CBC-HS256.json");
	struct soft_keys keys;
	char *token;

	soft_keys_from_oct(&keys, vector);
	token = encrypt_a3(vector, &keys);
	assert_string_equal(token, string_member(vector, "compact"));
	assert_int_equal(keys.calls, 1);

	free(token);
	json_decref(vector);
}

static void
test_jwe_rfc7516_a3_decrypt(void **state)
{
	json_t *vector = load_vector("rfc7516/A.3_A128KW_A128CBC-HS256.json");
	const char *plaintext = string_member(vector, "plaintext_utf8");
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	struct soft_keys keys;

	soft_keys_from_oct(&keys, vector);
	if (decrypt(string_member(vector, "compact"), &keys, &result, &err,
	    &detail) != HJ_OK)
		fail_msg("RFC 7516 A.3 does not decrypt: %s (%s)", err.message,
		    detail.message);
	assert_int_equal(result->plaintext_len, strlen(plaintext));
	assert_memory_equal(result->plaintext, plaintext, strlen(plaintext));
	assert_string_equal(result->protected_header,
	    string_member(vector, "protected_header_utf8"));
	assert_string_equal(keys.alg, "A128KW");

	jwe_decrypted_free(result);
	json_decref(vector);
}

/*
 * RFC 7516 A.2: RSA1_5 is not offered, so the vector's content is
 * decrypted directly with its CEK to exercise A128CBC-HS256, and the token
 * itself is rejected.
 */
static void
test_jwe_rfc7516_a2_content(void **state)
{
	json_t *vector = load_vector("rfc7516/A.2_RSA1_5_A128CBC-HS256.json");
	const char *plaintext = string_member(vector, "plaintext_utf8");
	const char *aad = string_member(vector, "aad_ascii");
	struct jwe_content_params params;
	uint8_t *cek, *iv, *ciphertext, *tag, *out = NULL;
	size_t cek_len = 0, iv_len = 0, ciphertext_len = 0, tag_len = 0;
	size_t out_len = 0;
	struct hj_error err;
	struct soft_keys keys;

	cek = octets_member(vector, "cek_octets", &cek_len);
	iv = octets_member(vector, "iv_octets", &iv_len);
	ciphertext = b64u_bytes(string_member(vector, "ciphertext_b64u"),
	    &ciphertext_len);
	tag = b64u_bytes(string_member(vector, "tag_b64u"), &tag_len);
	memset(&params, 0, sizeof(params));
	params.cek = cek;
	params.cek_len = cek_len;
	params.iv = iv;
	params.iv_len = iv_len;
	params.aad = (const uint8_t *)aad;
	params.aad_len = strlen(aad);

	hj_error_clear(&err);
	if (jwe_content_decrypt("A128CBC-HS256", &params, ciphertext,
	    ciphertext_len, tag, tag_len, &out, &out_len, &err) != HJ_OK)
		fail_msg("A.2 content does not decrypt: %s", err.message);
	assert_int_equal(out_len, strlen(plaintext));
	assert_memory_equal(out, plaintext, out_len);

	memset(&keys, 0, sizeof(keys));
	assert_token_rejected(string_member(vector, "compact"), &keys,
	    "JWE header: JWE alg \"RSA1_5\" not supported");

	free(out);
	free(cek);
	free(iv);
	free(ciphertext);
	free(tag);
	json_decref(vector);
}

/* Reads the hex member name of a test case into a new buffer. */
static uint8_t *
case_hex(const json_t *test_case, const char *name, size_t *lenp)
{
	return hex_bytes(string_member(test_case, name), lenp);
}

/* Checks one RFC 7518 Appendix B case in both directions. */
static void
assert_cbc_hs_case(const json_t *test_case)
{
	const char *enc = string_member(test_case, "enc");
	struct jwe_content_params params;
	uint8_t *k, *p, *iv, *a, *e, *t, *out = NULL, tag[JWE_TAG_MAX];
	size_t k_len, p_len, iv_len, a_len, e_len, t_len, out_len = 0;
	size_t tag_len = 0;
	struct hj_error err;

	k = case_hex(test_case, "K_hex", &k_len);
	p = case_hex(test_case, "P_hex", &p_len);
	iv = case_hex(test_case, "IV_hex", &iv_len);
	a = case_hex(test_case, "A_hex", &a_len);
	e = case_hex(test_case, "E_hex", &e_len);
	t = case_hex(test_case, "T_hex", &t_len);
	memset(&params, 0, sizeof(params));
	params.cek = k;
	params.cek_len = k_len;
	params.iv = iv;
	params.iv_len = iv_len;
	params.aad = a;
	params.aad_len = a_len;

	hj_error_clear(&err);
	if (jwe_content_encrypt(enc, &params, p, p_len, &out, &out_len, tag,
	    &tag_len, &err) != HJ_OK)
		fail_msg("%s encryption failed: %s", enc, err.message);
	assert_int_equal(out_len, e_len);
	assert_memory_equal(out, e, e_len);
	assert_int_equal(tag_len, t_len);
	assert_memory_equal(tag, t, t_len);
	free(out);

	if (jwe_content_decrypt(enc, &params, e, e_len, t, t_len, &out,
	    &out_len, &err) != HJ_OK)
		fail_msg("%s decryption failed: %s", enc, err.message);
	assert_int_equal(out_len, p_len);
	assert_memory_equal(out, p, p_len);

	free(out);
	free(k);
	free(p);
	free(iv);
	free(a);
	free(e);
	free(t);
}

/* RFC 7518 B.1-B.3: AES-CBC-HMAC-SHA2 ciphertext and tag byte for byte. */
static void
test_jwe_rfc7518_b(void **state)
{
	json_t *vector = load_vector("rfc7518/B_aes_cbc_hmac_sha2.json");
	const json_t *cases = json_object_get(vector, "cases");
	const json_t *test_case;
	size_t i;

	assert_int_equal(json_array_size(cases), 3);
	json_array_foreach(cases, i, test_case)
		assert_cbc_hs_case(test_case);
	json_decref(vector);
}

/* RFC 7518 C: the ECDH-ES shared secret and Concat KDF output. */
static void
test_jwe_rfc7518_c(void **state)
{
	json_t *vector = load_vector("rfc7518/C_ecdh_es_concat_kdf.json");
	const json_t *header = json_object_get(vector, "header");
	uint8_t *z, *apu, *apv, *expected, key[16], derived[JWE_ECDH_SECRET_MAX];
	uint8_t point[65];
	size_t z_len = 0, apu_len = 0, apv_len = 0, expected_len = 0;
	size_t derived_len = sizeof(derived), point_len = sizeof(point);
	struct soft_keys keys;
	EVP_PKEY *alice;
	struct hj_error err;

	z = octets_member(vector, "Z_octets", &z_len);
	apu = b64u_bytes(string_member(header, "apu"), &apu_len);
	apv = b64u_bytes(string_member(header, "apv"), &apv_len);
	expected = octets_member(vector, "derived_key_octets", &expected_len);
	assert_int_equal(expected_len, sizeof(key));

	hj_error_clear(&err);
	if (jwe_concat_kdf(z, z_len, string_member(header, "enc"), apu,
	    apu_len, apv, apv_len, key, sizeof(key), &err) != HJ_OK)
		fail_msg("Concat KDF failed: %s", err.message);
	assert_memory_equal(key, expected, sizeof(key));
	assert_b64u_equal(key, sizeof(key),
	    string_member(vector, "derived_key_b64u"));

	/* Bob's private key with Alice's ephemeral public key gives Z. */
	memset(&keys, 0, sizeof(keys));
	keys.crv = "P-256";
	keys.ecdh = ec_private_from_jwk(json_object_get(vector,
	    "bob_static_jwk"));
	alice = ec_private_from_jwk(json_object_get(vector,
	    "alice_ephemeral_jwk"));
	assert_int_equal(EVP_PKEY_get_octet_string_param(alice,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
	    &point_len), 1);
	assert_int_equal(soft_ecdh(&keys, NULL, "ECDH-ES", "P-256", point,
	    point_len, derived, &derived_len, &err), HJ_OK);
	assert_int_equal(derived_len, z_len);
	assert_memory_equal(derived, z, z_len);

	EVP_PKEY_free(alice);
	soft_keys_clear(&keys);
	free(z);
	free(apu);
	free(apv);
	free(expected);
	json_decref(vector);
}

/* Appends len as a 32-bit big-endian integer followed by data. */
static void
append_datalen(struct buf *b, const void *data, size_t len)
{
	uint8_t be[4] = {
		(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
		(uint8_t)len
	};

	buf_append(b, be, sizeof(be));
	buf_append(b, data, len);
}

/*
 * A 64-byte key takes two SHA-256 rounds. The expected value is computed
 * here step by step from RFC 7518 section 4.6.2: round i hashes
 * counter i || Z || OtherInfo.
 */
static void
test_jwe_concat_kdf_two_rounds(void **state)
{
	static const char alg[] = "A256CBC-HS512";
	static const uint8_t supp_pub_info[4] = { 0, 0, 2, 0 };
	uint8_t z[32], key[64], expected[64];
	unsigned int digest_len = 0;
	struct hj_error err;
	struct buf input;
	uint8_t counter;

	memset(z, 0x42, sizeof(z));
	for (counter = 1; counter <= 2; counter++) {
		buf_init(&input);
		buf_append(&input, "\0\0\0", 3);
		buf_append(&input, &counter, 1);
		buf_append(&input, z, sizeof(z));
		append_datalen(&input, alg, strlen(alg));
		append_datalen(&input, "A", 1);
		append_datalen(&input, "", 0);
		buf_append(&input, supp_pub_info, sizeof(supp_pub_info));
		assert_false(input.failed);
		assert_int_equal(EVP_Digest(input.data, input.len,
		    expected + 32 * (counter - 1), &digest_len, EVP_sha256(),
		    NULL), 1);
		buf_clear(&input);
	}

	hj_error_clear(&err);
	assert_int_equal(jwe_concat_kdf(z, sizeof(z), alg,
	    (const uint8_t *)"A", 1, NULL, 0, key, sizeof(key), &err), HJ_OK);
	assert_memory_equal(key, expected, sizeof(key));
}

static void
test_jwe_concat_kdf_rejects(void **state)
{
	uint8_t z[32] = { 1 }, key[32];
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jwe_concat_kdf(z, 0, "A128GCM", NULL, 0, NULL, 0, key,
	    16, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "Concat KDF");
	hj_error_clear(&err);
	assert_int_equal(jwe_concat_kdf(z, sizeof(z), "A128GCM", NULL, 0, NULL,
	    0, key, 0, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "Concat KDF");
}

/* Checks the epk of an ECDH-ES header: public members of the curve only. */
static void
assert_epk(const json_t *header, const char *crv)
{
	const json_t *epk = json_object_get(header, "epk");
	bool okp = strcmp(crv, "X25519") == 0;

	assert_true(json_is_object(epk));
	assert_string_equal(string_member(epk, "kty"), okp ? "OKP" : "EC");
	assert_string_equal(string_member(epk, "crv"), crv);
	assert_non_null(json_object_get(epk, "x"));
	assert_int_equal(json_object_get(epk, "y") != NULL, !okp);
	assert_null(json_object_get(epk, "d"));
	assert_int_equal(json_object_size(epk), okp ? 3 : 4);
}

/* Checks the protected header of a token made for c. */
static void
assert_header(const char *token, const struct encrypt_case *c,
    const char *crv)
{
	json_t *header = token_header(token);
	size_t members = 3;

	assert_string_equal(string_member(header, "alg"), c->alg);
	assert_string_equal(string_member(header, "enc"), c->enc);
	assert_string_equal(string_member(header, "cty"), "JWT");
	assert_null(json_object_get(header, "zip"));
	if (c->kid != NULL) {
		assert_string_equal(string_member(header, "kid"), c->kid);
		members++;
	} else {
		assert_null(json_object_get(header, "kid"));
	}
	if (strncmp(c->alg, "ECDH-ES", 7) == 0) {
		assert_epk(header, crv);
		members++;
	} else {
		assert_null(json_object_get(header, "epk"));
	}
	members += (c->apu != NULL) + (c->apv != NULL);
	assert_int_equal(json_object_size(header), members);
	json_decref(header);
}

/* Returns the decoded length of part index of token. */
static size_t
part_len(const char *token, int index)
{
	char *text = token_part(token, index);
	size_t len = 0;
	uint8_t *data = b64u_bytes(text, &len);

	free(data);
	free(text);
	return len;
}

/* Encrypts a nested JWT for c, checks the token and decrypts it. */
static void
assert_round_trip(const struct encrypt_case *c, struct soft_keys *keys,
    const char *crv)
{
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	char *token;

	keys->calls = 0;
	token = encrypt_case(c, keys, (const uint8_t *)nested_jwt,
	    strlen(nested_jwt));
	assert_header(token, c, crv);
	assert_int_equal(part_len(token, 1) == 0,
	    strcmp(c->alg, "ECDH-ES") == 0);

	if (decrypt(token, keys, &result, &err, &detail) != HJ_OK)
		fail_msg("%s %s token does not decrypt: %s (%s)", c->alg,
		    c->enc, err.message, detail.message);
	assert_int_equal(result->plaintext_len, strlen(nested_jwt));
	assert_memory_equal(result->plaintext, nested_jwt, strlen(nested_jwt));
	if (c->kid != NULL)
		assert_string_equal(result->kid, c->kid);
	else
		assert_null(result->kid);
	assert_string_equal(keys->alg, c->alg);
	assert_string_equal(keys->kid, c->kid != NULL ? c->kid : "(null)");

	jwe_decrypted_free(result);
	free(token);
}

/* Round trips every ECDH-ES alg with every enc to a key on crv. */
static void
assert_ecdh_round_trips(const char *crv)
{
	struct encrypt_case c;
	struct soft_keys keys;
	char *jwk;
	size_t i, j;

	soft_keys_init(&keys, false, crv, 0);
	jwk = public_jwk_json(keys.ecdh, crv, "ecdh-1");
	memset(&c, 0, sizeof(c));
	c.jwk_json = jwk;
	c.kid = "ecdh-1";
	for (i = 0; ecdh_algs[i] != NULL; i++) {
		for (j = 0; all_encs[j] != NULL; j++) {
			c.alg = ecdh_algs[i];
			c.enc = all_encs[j];
			assert_round_trip(&c, &keys, crv);
		}
	}
	free(jwk);
	soft_keys_clear(&keys);
}

static void
test_jwe_round_trip_p256(void **state)
{
	assert_ecdh_round_trips("P-256");
}

static void
test_jwe_round_trip_p384(void **state)
{
	assert_ecdh_round_trips("P-384");
}

static void
test_jwe_round_trip_p521(void **state)
{
	assert_ecdh_round_trips("P-521");
}

static void
test_jwe_round_trip_x25519(void **state)
{
	assert_ecdh_round_trips("X25519");
}

static void
test_jwe_round_trip_rsa(void **state)
{
	static const char *const algs[] = { "RSA-OAEP", "RSA-OAEP-256", NULL };
	struct encrypt_case c;
	struct soft_keys keys;
	char *jwk;
	size_t i, j;

	soft_keys_init(&keys, true, NULL, 0);
	jwk = public_jwk_json(keys.rsa, NULL, "rsa-1");
	memset(&c, 0, sizeof(c));
	c.jwk_json = jwk;
	c.kid = "rsa-1";
	for (i = 0; algs[i] != NULL; i++) {
		for (j = 0; all_encs[j] != NULL; j++) {
			c.alg = algs[i];
			c.enc = all_encs[j];
			assert_round_trip(&c, &keys, NULL);
		}
	}
	free(jwk);
	soft_keys_clear(&keys);
}

static void
test_jwe_round_trip_aes_kw(void **state)
{
	struct encrypt_case c;
	struct soft_keys keys;
	size_t j;

	memset(&c, 0, sizeof(c));
	for (j = 0; all_encs[j] != NULL; j++) {
		soft_keys_init(&keys, false, NULL, 16);
		c.alg = "A128KW";
		c.enc = all_encs[j];
		c.kid = "wrap-128";
		assert_round_trip(&c, &keys, NULL);

		keys.aes_len = 32;
		c.alg = "A256KW";
		c.kid = NULL;
		assert_round_trip(&c, &keys, NULL);
		soft_keys_clear(&keys);
	}
}

/* apu and apv enter the KDF and appear base64url-encoded in the header. */
static void
test_jwe_apu_apv(void **state)
{
	struct encrypt_case c;
	struct soft_keys keys;
	json_t *header;
	char *jwk, *token;

	soft_keys_init(&keys, false, "P-256", 0);
	jwk = public_jwk_json(keys.ecdh, "P-256", NULL);
	memset(&c, 0, sizeof(c));
	c.alg = "ECDH-ES";
	c.enc = "A128GCM";
	c.jwk_json = jwk;
	c.apu = "Alice";
	c.apv = "Bob";
	assert_round_trip(&c, &keys, "P-256");

	token = encrypt_case(&c, &keys, (const uint8_t *)"x", 1);
	header = token_header(token);
	assert_string_equal(string_member(header, "apu"), "QWxpY2U");
	assert_string_equal(string_member(header, "apv"), "Qm9i");
	json_decref(header);

	free(token);
	free(jwk);
	soft_keys_clear(&keys);
}

/* The header members come in a fixed order. */
static void
test_jwe_header_order(void **state)
{
	struct encrypt_case c;
	struct soft_keys keys;
	uint8_t *header = NULL;
	size_t header_len = 0;
	struct hj_error err;
	char *jwk, *token;

	soft_keys_init(&keys, false, "P-256", 0);
	jwk = public_jwk_json(keys.ecdh, "P-256", "k\"1");
	memset(&c, 0, sizeof(c));
	c.alg = "ECDH-ES+A256KW";
	c.enc = "A256GCM";
	c.jwk_json = jwk;
	c.apu = "u";
	c.apv = "v";
	token = encrypt_case(&c, &keys, (const uint8_t *)"x", 1);

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(token, (size_t)(strchr(token, '.') -
	    token), &header, &header_len, &err), HJ_OK);
	assert_true(strncmp((char *)header, "{\"alg\":\"ECDH-ES+A256KW\","
	    "\"enc\":\"A256GCM\",\"cty\":\"JWT\",\"kid\":\"k\\\"1\","
	    "\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"", 99) == 0);
	assert_non_null(strstr((char *)header, "\"},\"apu\":\"dQ\","
	    "\"apv\":\"dg\"}"));

	free(header);
	free(token);
	free(jwk);
	soft_keys_clear(&keys);
}

/* An empty plaintext encrypts and decrypts with GCM and with CBC-HS. */
static void
test_jwe_empty_plaintext(void **state)
{
	static const char *const encs[] = { "A128GCM", "A128CBC-HS256", NULL };
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	struct encrypt_case c;
	struct soft_keys keys;
	char *token;
	size_t i;

	soft_keys_init(&keys, false, NULL, 16);
	memset(&c, 0, sizeof(c));
	c.alg = "A128KW";
	for (i = 0; encs[i] != NULL; i++) {
		c.enc = encs[i];
		token = encrypt_case(&c, &keys, NULL, 0);
		if (decrypt(token, &keys, &result, &err, &detail) != HJ_OK)
			fail_msg("empty %s token does not decrypt: %s",
			    encs[i], detail.message);
		assert_int_equal(result->plaintext_len, 0);
		assert_int_equal(result->plaintext[0], '\0');
		jwe_decrypted_free(result);
		free(token);
	}
	soft_keys_clear(&keys);
}

/* Two encryptions of the same plaintext share no CEK, IV or ciphertext. */
static void
test_jwe_fresh_randomness(void **state)
{
	struct encrypt_case c;
	struct soft_keys keys;
	char *jwk, *first, *second, *a, *b;
	int i;

	soft_keys_init(&keys, true, NULL, 0);
	jwk = public_jwk_json(keys.rsa, NULL, NULL);
	memset(&c, 0, sizeof(c));
	c.alg = "RSA-OAEP-256";
	c.enc = "A256GCM";
	c.jwk_json = jwk;
	first = encrypt_case(&c, &keys, (const uint8_t *)nested_jwt,
	    strlen(nested_jwt));
	second = encrypt_case(&c, &keys, (const uint8_t *)nested_jwt,
	    strlen(nested_jwt));

	for (i = 0; i < 5; i++) {
		a = token_part(first, i);
		b = token_part(second, i);
		if (i == 0)
			assert_string_equal(a, b);
		else
			assert_string_not_equal(a, b);
		free(a);
		free(b);
	}

	free(first);
	free(second);
	free(jwk);
	soft_keys_clear(&keys);
}

static void
test_jwe_check_alg_enc(void **state)
{
	struct hj_error err;
	size_t i;

	hj_error_clear(&err);
	for (i = 0; all_encs[i] != NULL; i++) {
		assert_int_equal(jwe_check_alg_enc("ECDH-ES+A256KW",
		    all_encs[i], &err), HJ_OK);
	}
	assert_int_equal(jwe_check_alg_enc("A128KW", "A128GCM", &err), HJ_OK);
	assert_int_equal(jwe_check_alg_enc("RSA1_5", "A128GCM", &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWE alg \"RSA1_5\" not supported");
	assert_int_equal(jwe_check_alg_enc(NULL, "A128GCM", &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWE alg missing");
	assert_int_equal(jwe_check_alg_enc("A128KW", "a128gcm", &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWE enc \"a128gcm\" not supported");
	assert_int_equal(jwe_check_alg_enc("A192KW", "A128GCM", &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "JWE alg \"A192KW\" not supported");
}

/* Content decryption checks the CEK, IV and tag lengths for enc. */
static void
test_jwe_content_lengths(void **state)
{
	static const uint8_t bytes[64];
	struct jwe_content_params params;
	uint8_t *out = (uint8_t *)"not cleared";
	size_t out_len = 99;
	struct hj_error err;

	memset(&params, 0, sizeof(params));
	params.cek = bytes;
	params.cek_len = 16;
	params.iv = bytes;
	params.iv_len = 12;
	hj_error_clear(&err);
	assert_int_equal(jwe_content_decrypt("A128CBC-HS256", &params, bytes,
	    16, bytes, 16, &out, &out_len, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "the CEK must be 32 bytes, got 16");
	assert_null(out);
	assert_int_equal(out_len, 0);

	params.cek_len = 32;
	assert_int_equal(jwe_content_decrypt("A128CBC-HS256", &params, bytes,
	    16, bytes, 16, &out, &out_len, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "the IV must be 16 bytes, got 12");

	params.iv_len = 16;
	assert_int_equal(jwe_content_decrypt("A128CBC-HS256", &params, bytes,
	    16, bytes, 32, &out, &out_len, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "the tag must be 16 bytes, got 32");

	assert_int_equal(jwe_content_decrypt("A128CBC-HS256", &params, bytes,
	    16, bytes, 16, &out, &out_len, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "the authentication tag does not match");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwe_rfc7516_a1),
		cmocka_unit_test(test_jwe_rfc7516_a1_content),
		cmocka_unit_test(test_jwe_rfc7516_a3_encrypt),
		cmocka_unit_test(test_jwe_rfc7516_a3_decrypt),
		cmocka_unit_test(test_jwe_rfc7516_a2_content),
		cmocka_unit_test(test_jwe_rfc7518_b),
		cmocka_unit_test(test_jwe_rfc7518_c),
		cmocka_unit_test(test_jwe_concat_kdf_two_rounds),
		cmocka_unit_test(test_jwe_concat_kdf_rejects),
		cmocka_unit_test(test_jwe_round_trip_p256),
		cmocka_unit_test(test_jwe_round_trip_p384),
		cmocka_unit_test(test_jwe_round_trip_p521),
		cmocka_unit_test(test_jwe_round_trip_x25519),
		cmocka_unit_test(test_jwe_round_trip_rsa),
		cmocka_unit_test(test_jwe_round_trip_aes_kw),
		cmocka_unit_test(test_jwe_apu_apv),
		cmocka_unit_test(test_jwe_header_order),
		cmocka_unit_test(test_jwe_empty_plaintext),
		cmocka_unit_test(test_jwe_fresh_randomness),
		cmocka_unit_test(test_jwe_check_alg_enc),
		cmocka_unit_test(test_jwe_content_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
