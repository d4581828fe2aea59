/*
 * Unit tests for what compact JWE (src/jose/jwe*.c) rejects: modified and
 * malformed tokens, unsupported headers, wrong keys, and recipient JWKs
 * that do not fit. The key callbacks use software keys with OpenSSL.
 */
#include "jwe_test.h"

/* Asserts that parsing json for alg fails with message. */
static void
assert_recipient_rejected(const char *json, const char *alg, const char *kid,
    const char *message)
{
	struct jwe_recipient *recipient = (struct jwe_recipient *)&recipient;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jwe_recipient_parse(json, strlen(json),
	    "recipient_jwk_json", alg, kid, &recipient, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, message);
	assert_null(recipient);
}

/*
 * Asserts that token fails after its header was parsed: the fixed message
 * goes to the caller and the step, containing detail_part, to the log.
 */
static void
assert_decrypt_failed(const char *token, struct soft_keys *keys,
    const char *detail_part)
{
	struct jwe_decrypted *result;
	struct hj_error err, detail;

	assert_int_equal(decrypt(token, keys, &result, &err, &detail),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_null(result);
	assert_string_equal(err.message, JWE_DECRYPT_FAILED_MESSAGE);
	assert_int_equal(detail.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(detail.message, detail_part);
}

/* Joins five part texts with dots into a new token. */
static char *
join_parts(char *const parts[5])
{
	struct buf b;
	char *token = NULL;
	int i;

	buf_init(&b);
	for (i = 0; i < 5; i++) {
		if (i > 0)
			buf_append(&b, ".", 1);
		buf_append_str(&b, parts[i]);
	}
	assert_int_equal(buf_finish(&b, &token, NULL), HJ_OK);
	return token;
}

/* Returns a copy of token with part index replaced by text. */
static char *
replace_part(const char *token, int index, const char *text)
{
	char *parts[5], *out;
	int i;

	for (i = 0; i < 5; i++)
		parts[i] = i == index ? strdup(text) : token_part(token, i);
	out = join_parts(parts);
	for (i = 0; i < 5; i++)
		free(parts[i]);
	return out;
}

/*
 * Returns a copy of token with one bit flipped in byte (counted from the
 * end when negative) of the decoded part index, re-encoded so that it
 * still decodes.
 */
static char *
flip_bit(const char *token, int index, long byte)
{
	char *part = token_part(token, index), *text, *out;
	size_t len = 0;
	uint8_t *data = b64u_bytes(part, &len);
	size_t at = byte < 0 ? len - (size_t)-byte : (size_t)byte;

	assert_true(at < len);
	data[at] ^= 0x01;
	text = b64u_text(data, len);
	out = replace_part(token, index, text);
	free(text);
	free(data);
	free(part);
	return out;
}

/*
 * Builds a token with the given header JSON, encrypted correctly with
 * content_enc under a random CEK wrapped by keys->aes, so that only a check
 * of the header itself can reject it.
 */
static char *
make_token(const char *header_json, const char *content_enc,
    struct soft_keys *keys)
{
	static const char plaintext[] = "{\"sub\":\"alice\"}";
	struct jwe_content_params params;
	uint8_t cek[64], iv[16], wrapped[72], tag[JWE_TAG_MAX], *ciphertext;
	bool gcm = strstr(content_enc, "GCM") != NULL;
	size_t cek_len = gcm ? (size_t)atoi(content_enc + 1) / 8 : 32;
	size_t iv_len = gcm ? 12 : 16;
	size_t wrapped_len = sizeof(wrapped), ciphertext_len = 0, tag_len = 0;
	struct hj_error err;
	char *parts[5], *token;
	int i;

	/* The CBC-HS case here is A128CBC-HS256, with a 32-byte CEK. */
	assert_int_equal(RAND_bytes(cek, sizeof(cek)), 1);
	assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
	hj_error_clear(&err);
	assert_int_equal(soft_aes_kw(keys, 1, cek, cek_len, wrapped,
	    &wrapped_len, &err), HJ_OK);

	parts[0] = b64u_text(header_json, strlen(header_json));
	memset(&params, 0, sizeof(params));
	params.cek = cek;
	params.cek_len = cek_len;
	params.iv = iv;
	params.iv_len = iv_len;
	params.aad = (const uint8_t *)parts[0];
	params.aad_len = strlen(parts[0]);
	if (jwe_content_encrypt(content_enc, &params,
	    (const uint8_t *)plaintext, strlen(plaintext), &ciphertext,
	    &ciphertext_len, tag, &tag_len, &err) != HJ_OK)
		fail_msg("make_token: %s", err.message);

	parts[1] = b64u_text(wrapped, wrapped_len);
	parts[2] = b64u_text(iv, iv_len);
	parts[3] = b64u_text(ciphertext, ciphertext_len);
	parts[4] = b64u_text(tag, tag_len);
	token = join_parts(parts);
	for (i = 0; i < 5; i++)
		free(parts[i]);
	free(ciphertext);
	return token;
}

/* Builds a token from header JSON and random parts of the given lengths. */
static char *
make_raw_token(const char *header_json, size_t encrypted_key_len,
    size_t iv_len, size_t ciphertext_len, size_t tag_len)
{
	uint8_t random[512];
	char *parts[5], *token;
	int i;

	assert_int_equal(RAND_bytes(random, sizeof(random)), 1);
	parts[0] = b64u_text(header_json, strlen(header_json));
	parts[1] = b64u_text(random, encrypted_key_len);
	parts[2] = b64u_text(random + 256, iv_len);
	parts[3] = b64u_text(random + 128, ciphertext_len);
	parts[4] = b64u_text(random + 384, tag_len);
	token = join_parts(parts);
	for (i = 0; i < 5; i++)
		free(parts[i]);
	return token;
}

/* make_token() output decrypts, so the rejections below are meaningful. */
static void
test_jwe_make_token_decrypts(void **state)
{
	static const char *const encs[] = {
		"A128GCM", "A256GCM", "A128CBC-HS256", NULL
	};
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	struct soft_keys keys;
	char header[128], *token;
	size_t i;

	soft_keys_init(&keys, false, NULL, 16);
	for (i = 0; encs[i] != NULL; i++) {
		snprintf(header, sizeof(header),
		    "{\"alg\":\"A128KW\",\"enc\":\"%s\"}", encs[i]);
		token = make_token(header, encs[i], &keys);
		if (decrypt(token, &keys, &result, &err, &detail) != HJ_OK)
			fail_msg("make_token %s does not decrypt: %s", encs[i],
			    detail.message);
		assert_string_equal((char *)result->plaintext,
		    "{\"sub\":\"alice\"}");
		assert_string_equal(result->protected_header, header);
		jwe_decrypted_free(result);
		free(token);
	}
	soft_keys_clear(&keys);
}

static void
test_jwe_flipped_tag(void **state)
{
	static const char *const encs[] = { "A128GCM", "A128CBC-HS256", NULL };
	struct soft_keys keys;
	char header[128], *token, *bad;
	size_t i;

	soft_keys_init(&keys, false, NULL, 16);
	for (i = 0; encs[i] != NULL; i++) {
		snprintf(header, sizeof(header),
		    "{\"alg\":\"A128KW\",\"enc\":\"%s\"}", encs[i]);
		token = make_token(header, encs[i], &keys);

		bad = flip_bit(token, 4, 0);
		assert_decrypt_failed(bad, &keys,
		    "the authentication tag does not match");
		free(bad);
		bad = flip_bit(token, 4, -1);
		assert_decrypt_failed(bad, &keys,
		    "the authentication tag does not match");
		free(bad);
		free(token);
	}
	soft_keys_clear(&keys);
}

static void
test_jwe_flipped_ciphertext(void **state)
{
	static const char *const encs[] = { "A128GCM", "A128CBC-HS256", NULL };
	struct soft_keys keys;
	char header[128], *token, *bad;
	size_t i;

	soft_keys_init(&keys, false, NULL, 16);
	for (i = 0; encs[i] != NULL; i++) {
		snprintf(header, sizeof(header),
		    "{\"alg\":\"A128KW\",\"enc\":\"%s\"}", encs[i]);
		token = make_token(header, encs[i], &keys);

		bad = flip_bit(token, 3, 0);
		assert_decrypt_failed(bad, &keys,
		    "the authentication tag does not match");
		free(bad);
		bad = flip_bit(token, 3, -1);
		assert_decrypt_failed(bad, &keys,
		    "the authentication tag does not match");
		free(bad);
		bad = flip_bit(token, 2, 0);
		assert_decrypt_failed(bad, &keys,
		    "the authentication tag does not match");
		free(bad);
		free(token);
	}
	soft_keys_clear(&keys);
}

/* A changed header changes the AAD, so the tag no longer matches. */
static void
test_jwe_changed_header(void **state)
{
	static const char other[] = "{\"alg\":\"A128KW\",\"enc\":\"A128GCM\","
	    "\"kid\":\"x\"}";
	struct soft_keys keys;
	char *token, *text, *bad;

	soft_keys_init(&keys, false, NULL, 16);
	token = make_token("{\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
	    "A128GCM", &keys);
	text = b64u_text(other, strlen(other));
	bad = replace_part(token, 0, text);
	assert_decrypt_failed(bad, &keys,
	    "the authentication tag does not match");

	free(bad);
	free(text);
	free(token);
	soft_keys_clear(&keys);
}

static void
test_jwe_flipped_encrypted_key(void **state)
{
	struct encrypt_case c;
	struct soft_keys keys;
	char *jwk, *token, *bad;

	soft_keys_init(&keys, true, NULL, 16);
	jwk = public_jwk_json(keys.rsa, NULL, NULL);
	memset(&c, 0, sizeof(c));
	c.alg = "RSA-OAEP";
	c.enc = "A128CBC-HS256";
	c.jwk_json = jwk;
	token = encrypt_case(&c, &keys, (const uint8_t *)"x", 1);
	bad = flip_bit(token, 1, 7);
	assert_decrypt_failed(bad, &keys,
	    "RSA-OAEP key management: soft RSA-OAEP decryption failed");
	free(bad);
	free(token);

	c.alg = "A128KW";
	c.jwk_json = NULL;
	token = encrypt_case(&c, &keys, (const uint8_t *)"x", 1);
	bad = flip_bit(token, 1, 0);
	assert_decrypt_failed(bad, &keys, "A128KW key management");
	free(bad);
	free(token);

	free(jwk);
	soft_keys_clear(&keys);
}

/* Encrypts to the public key of one set of keys, decrypts with another. */
static void
assert_wrong_key_fails(const char *alg, const char *crv, const char *detail)
{
	struct soft_keys keys, other;
	struct encrypt_case c;
	bool rsa = strncmp(alg, "RSA", 3) == 0;
	char *jwk = NULL, *token;

	soft_keys_init(&keys, rsa, crv, 16);
	soft_keys_init(&other, rsa, crv, 16);
	if (rsa || crv != NULL)
		jwk = public_jwk_json(rsa ? keys.rsa : keys.ecdh, crv, NULL);
	memset(&c, 0, sizeof(c));
	c.alg = alg;
	c.enc = "A256GCM";
	c.jwk_json = jwk;
	token = encrypt_case(&c, &keys, (const uint8_t *)nested_jwt,
	    strlen(nested_jwt));
	assert_decrypt_failed(token, &other, detail);

	free(token);
	free(jwk);
	soft_keys_clear(&keys);
	soft_keys_clear(&other);
}

static void
test_jwe_wrong_key(void **state)
{
	assert_wrong_key_fails("RSA-OAEP-256", NULL,
	    "RSA-OAEP-256 key management");
	assert_wrong_key_fails("ECDH-ES", "P-256",
	    "A256GCM content decryption: JWE A256GCM: the authentication tag "
	    "does not match");
	assert_wrong_key_fails("ECDH-ES+A128KW", "P-384",
	    "ECDH-ES+A128KW key management: AES key unwrap: the integrity "
	    "check failed");
	assert_wrong_key_fails("ECDH-ES+A256KW", "X25519",
	    "ECDH-ES+A256KW key management");
	assert_wrong_key_fails("A128KW", NULL, "A128KW key management");
}

/* Builds an ECDH-ES token whose header carries epk_json. */
static char *
make_epk_token(const char *epk_json)
{
	char header[512];

	snprintf(header, sizeof(header),
	    "{\"alg\":\"ECDH-ES\",\"enc\":\"A128GCM\",\"epk\":%s}", epk_json);
	return make_raw_token(header, 0, 12, 20, 16);
}

static void
test_jwe_epk_rejects(void **state)
{
	struct soft_keys keys;
	char *epk, *token;

	soft_keys_init(&keys, false, "P-256", 0);

	epk = epk_json("P-256", true, "");
	token = make_epk_token(epk);
	assert_decrypt_failed(token, &keys,
	    "epk: EC point is not on curve P-256");
	free(token);
	free(epk);

	epk = epk_json("P-256", false, ",\"d\":\"AAAA\"");
	token = make_epk_token(epk);
	assert_decrypt_failed(token, &keys,
	    "epk: private member \"d\" present");
	free(token);
	free(epk);

	epk = epk_json("P-384", false, "");
	token = make_epk_token(epk);
	assert_decrypt_failed(token, &keys,
	    "epk is on P-384, the recipient key on P-256");
	free(token);
	free(epk);

	token = make_epk_token("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	assert_decrypt_failed(token, &keys, "epk: ");
	free(token);

	token = make_raw_token("{\"alg\":\"ECDH-ES\",\"enc\":\"A128GCM\"}", 0,
	    12, 20, 16);
	assert_token_rejected(token, &keys,
	    "ECDH-ES requires \"epk\" as a JSON object");
	free(token);

	soft_keys_clear(&keys);
}

/* An X25519 epk of low order gives an all-zero Z, which is rejected. */
static void
test_jwe_epk_x25519_low_order(void **state)
{
	static const uint8_t zero[32];
	struct soft_keys keys;
	char epk[128], *x, *token;

	soft_keys_init(&keys, false, "X25519", 0);
	x = b64u_text(zero, sizeof(zero));
	snprintf(epk, sizeof(epk),
	    "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"%s\"}", x);
	token = make_epk_token(epk);
	assert_decrypt_failed(token, &keys, "soft ECDH failed");

	/* A token that returns the all-zero Z is caught here too. */
	keys.zero_z = true;
	assert_decrypt_failed(token, &keys,
	    "the ECDH shared secret is all zero");

	free(token);
	free(x);
	soft_keys_clear(&keys);
}

static void
test_jwe_truncated_parts(void **state)
{
	struct soft_keys keys;
	char *token, *part, *bad;
	size_t len;

	soft_keys_init(&keys, false, NULL, 16);
	token = make_token("{\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
	    "A128GCM", &keys);

	/* The tag: 22 characters for 16 bytes. */
	part = token_part(token, 4);
	len = strlen(part);
	part[len - 1] = '\0';
	bad = replace_part(token, 4, part);
	assert_decrypt_failed(bad, &keys,
	    "authentication tag: invalid base64url length 21");
	free(bad);
	part[len - 2] = '\0';
	bad = replace_part(token, 4, part);
	assert_decrypt_failed(bad, &keys, "the tag is 15 bytes, A128GCM "
	    "requires 16");
	free(bad);
	bad = replace_part(token, 4, "");
	assert_decrypt_failed(bad, &keys, "the tag is 0 bytes");
	free(bad);
	free(part);

	part = token_part(token, 2);
	part[strlen(part) - 4] = '\0';
	bad = replace_part(token, 2, part);
	assert_decrypt_failed(bad, &keys, "the IV is 9 bytes, A128GCM "
	    "requires 12");
	free(bad);
	free(part);

	part = token_part(token, 3);
	part[strlen(part) - 4] = '\0';
	bad = replace_part(token, 3, part);
	assert_decrypt_failed(bad, &keys,
	    "the authentication tag does not match");
	free(bad);
	free(part);

	part = token_part(token, 1);
	bad = replace_part(token, 1, "");
	assert_decrypt_failed(bad, &keys, "the encrypted key is 0 bytes");
	free(bad);
	free(part);

	/* 40 of the 43 header characters: 30 bytes of cut-off JSON. */
	part = token_part(token, 0);
	assert_int_equal(strlen(part), 43);
	part[40] = '\0';
	bad = replace_part(token, 0, part);
	assert_token_rejected(bad, &keys, "JWE header: invalid JSON");
	free(bad);
	free(part);

	free(token);
	soft_keys_clear(&keys);
}

static void
test_jwe_part_count(void **state)
{
	struct soft_keys keys;
	char *token, *bad;
	size_t len;

	soft_keys_init(&keys, false, NULL, 16);
	token = make_token("{\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
	    "A128GCM", &keys);
	len = strlen(token);
	bad = malloc(len + 8);
	assert_non_null(bad);

	/* Four parts: the tag and its dot removed. */
	memcpy(bad, token, len + 1);
	*strrchr(bad, '.') = '\0';
	assert_token_rejected(bad, &keys, "expected exactly five parts");

	/* Six parts. */
	snprintf(bad, len + 8, "%s.AAAA", token);
	assert_token_rejected(bad, &keys, "expected exactly five parts");
	snprintf(bad, len + 8, "%s.", token);
	assert_token_rejected(bad, &keys, "expected exactly five parts");

	assert_token_rejected("", &keys, "expected exactly five parts");
	assert_token_rejected("....", &keys, "JWE header: invalid JSON");
	assert_token_rejected(".....", &keys, "expected exactly five parts");

	free(bad);
	free(token);
	soft_keys_clear(&keys);
}

static void
test_jwe_header_rejects(void **state)
{
	static const struct {
		const char *header;
		const char *message;
	} cases[] = {
		{ "{\"alg\":\"none\",\"enc\":\"A128GCM\"}",
		    "alg \"none\" is not accepted" },
		{ "{\"alg\":\"RSA1_5\",\"enc\":\"A128GCM\"}",
		    "JWE alg \"RSA1_5\" not supported" },
		{ "{\"alg\":\"dir\",\"enc\":\"A128GCM\"}",
		    "JWE alg \"dir\" not supported" },
		{ "{\"alg\":\"A128KW\",\"enc\":\"A128CBC\"}",
		    "JWE enc \"A128CBC\" not supported" },
		{ "{\"alg\":\"A128KW\"}",
		    "\"alg\" and \"enc\" must be strings" },
		{ "{\"alg\":\"A128KW\",\"enc\":\"A128GCM\",\"zip\":\"DEF\"}",
		    "\"zip\" is not supported" },
		{ "{\"alg\":\"A128KW\",\"enc\":\"A128GCM\",\"crit\":[\"exp\"],"
		    "\"exp\":1}", "\"crit\" is not supported" },
		{ "{\"alg\":\"A128KW\",\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
		    "JWE header: invalid JSON" },
		{ "[\"A128KW\",\"A128GCM\"]", "JWE header: not a JSON object" },
		{ "{\"alg\":\"A128KW\",\"enc\":\"A128GCM\",\"kid\":7}",
		    "\"kid\" is not a string" },
		{ "{\"alg\":\"A128KW\",\"enc\":\"A128GCM\",\"kid\":\"a\\u0000b\"}",
		    "JWE header: invalid JSON" },
	};
	struct soft_keys keys;
	char *token;
	size_t i;

	soft_keys_init(&keys, false, NULL, 16);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		token = make_token(cases[i].header, "A128GCM", &keys);
		assert_token_rejected(token, &keys, cases[i].message);
		free(token);
	}
	soft_keys_clear(&keys);
}

/* A token for an alg that no callback serves fails like any other. */
static void
test_jwe_missing_callback(void **state)
{
	struct jwe_decrypt_keys table;
	struct jwe_decrypted *result = (struct jwe_decrypted *)&table;
	struct hj_error err, detail;
	struct soft_keys keys;
	char *token;

	soft_keys_init(&keys, false, NULL, 16);
	token = make_token("{\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
	    "A128GCM", &keys);
	table = soft_decrypt_keys(&keys);
	table.unwrap = NULL;

	hj_error_clear(&err);
	hj_error_clear(&detail);
	assert_int_equal(jwe_decrypt_compact(token, strlen(token), &table,
	    &result, &err, &detail), HJ_ERR_INVALID_ARGUMENT);
	assert_null(result);
	assert_string_equal(err.message, JWE_DECRYPT_FAILED_MESSAGE);
	assert_contains(detail.message,
	    "no key of this service serves alg A128KW");

	free(token);
	soft_keys_clear(&keys);
}

/* UNAVAILABLE from a callback passes through; other codes are masked. */
static void
test_jwe_callback_errors(void **state)
{
	struct jwe_decrypted *result = NULL;
	struct hj_error err, detail;
	struct soft_keys keys;
	char *token;

	soft_keys_init(&keys, false, NULL, 16);
	token = make_token("{\"alg\":\"A128KW\",\"enc\":\"A128GCM\"}",
	    "A128GCM", &keys);

	keys.fail_with = HJ_ERR_UNAVAILABLE;
	assert_int_equal(decrypt(token, &keys, &result, &err, &detail),
	    HJ_ERR_UNAVAILABLE);
	assert_null(result);
	assert_string_equal(err.message, "soft key failure");
	assert_int_equal(detail.code, HJ_ERR_UNAVAILABLE);

	keys.fail_with = HJ_ERR_NOT_FOUND;
	assert_decrypt_failed(token, &keys, "A128KW key management: soft key "
	    "failure");
	keys.fail_with = HJ_ERR_INTERNAL;
	assert_decrypt_failed(token, &keys, "A128KW key management: soft key "
	    "failure");

	free(token);
	soft_keys_clear(&keys);
}

/* Returns jwk_json with member (such as "\"d\":\"AAAA\"") added at the end. */
static char *
jwk_with(const char *jwk_json, const char *member)
{
	size_t len = strlen(jwk_json);
	char *out = malloc(len + strlen(member) + 2);

	assert_non_null(out);
	memcpy(out, jwk_json, len - 1);
	out[len - 1] = ',';
	strcpy(out + len, member);
	strcat(out, "}");
	return out;
}

static void
test_jwe_recipient_accepts(void **state)
{
	struct soft_keys keys;
	struct jwe_recipient *recipient;
	char *jwk, *with;

	soft_keys_init(&keys, true, "X25519", 0);
	jwk = public_jwk_json(keys.rsa, NULL, "r1");
	recipient = parse_recipient(jwk, "RSA-OAEP", NULL);
	assert_string_equal(jwe_recipient_kid(recipient), "r1");
	jwe_recipient_free(recipient);
	recipient = parse_recipient(jwk, "RSA-OAEP-256", "r1");
	jwe_recipient_free(recipient);
	with = jwk_with(jwk, "\"use\":\"enc\",\"key_ops\":[\"wrapKey\"],"
	    "\"alg\":\"RSA-OAEP\"");
	recipient = parse_recipient(with, "RSA-OAEP", NULL);
	jwe_recipient_free(recipient);
	free(with);
	free(jwk);

	jwk = public_jwk_json(keys.ecdh, "X25519", NULL);
	recipient = parse_recipient(jwk, "ECDH-ES+A128KW", NULL);
	assert_null(jwe_recipient_kid(recipient));
	jwe_recipient_free(recipient);
	with = jwk_with(jwk, "\"key_ops\":[\"deriveBits\"]");
	recipient = parse_recipient(with, "ECDH-ES", NULL);
	jwe_recipient_free(recipient);
	free(with);
	free(jwk);

	jwe_recipient_free(NULL);
	soft_keys_clear(&keys);
}

static void
test_jwe_recipient_off_curve(void **state)
{
	char *epk = epk_json("P-256", true, "");

	assert_recipient_rejected(epk, "ECDH-ES", NULL,
	    "recipient_jwk_json: EC point is not on curve P-256");
	free(epk);
	epk = epk_json("P-521", true, "");
	assert_recipient_rejected(epk, "ECDH-ES+A256KW", NULL,
	    "recipient_jwk_json: EC point is not on curve P-521");
	free(epk);
}

static void
test_jwe_recipient_private_member(void **state)
{
	struct soft_keys keys;
	char *jwk, *with;

	soft_keys_init(&keys, true, "P-256", 0);
	jwk = public_jwk_json(keys.ecdh, "P-256", NULL);
	with = jwk_with(jwk, "\"d\":\"AAAA\"");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "recipient_jwk_json: private member \"d\" present; send the "
	    "public key only");
	free(with);
	free(jwk);

	jwk = public_jwk_json(keys.rsa, NULL, NULL);
	with = jwk_with(jwk, "\"qi\":\"AAAA\"");
	assert_recipient_rejected(with, "RSA-OAEP", NULL,
	    "private member \"qi\" present");
	free(with);
	free(jwk);

	assert_recipient_rejected("{\"kty\":\"oct\",\"k\":\"AAAA\"}", "RSA-OAEP",
	    NULL, "private member \"k\" present");
	soft_keys_clear(&keys);
}

static void
test_jwe_recipient_rsa_1024(void **state)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char *jwk;

	assert_non_null(rsa);
	jwk = public_jwk_json(rsa, NULL, NULL);
	assert_recipient_rejected(jwk, "RSA-OAEP-256", NULL,
	    "recipient_jwk_json: JWK RSA modulus has 1024 bits, below the "
	    "minimum of 2048");
	free(jwk);
	EVP_PKEY_free(rsa);
}

static void
test_jwe_recipient_kty_mismatch(void **state)
{
	struct soft_keys keys;
	char *rsa_jwk, *ec_jwk, *okp_jwk;

	soft_keys_init(&keys, true, "P-256", 0);
	rsa_jwk = public_jwk_json(keys.rsa, NULL, NULL);
	ec_jwk = public_jwk_json(keys.ecdh, "P-256", NULL);
	okp_jwk = epk_json("X25519", false, "");

	assert_recipient_rejected(rsa_jwk, "ECDH-ES", NULL,
	    "recipient_jwk_json: alg ECDH-ES needs an EC key");
	assert_recipient_rejected(rsa_jwk, "ECDH-ES+A192KW", NULL,
	    "alg ECDH-ES+A192KW needs an EC key");
	assert_recipient_rejected(ec_jwk, "RSA-OAEP", NULL,
	    "alg RSA-OAEP needs an RSA key");
	assert_recipient_rejected(okp_jwk, "RSA-OAEP-256", NULL,
	    "alg RSA-OAEP-256 needs an RSA key");
	assert_recipient_rejected(ec_jwk, "A128KW", NULL,
	    "alg A128KW wraps with a secret key in the token");

	free(rsa_jwk);
	free(ec_jwk);
	free(okp_jwk);
	soft_keys_clear(&keys);
}

static void
test_jwe_recipient_alg_rejects(void **state)
{
	char *jwk = epk_json("P-256", false, "");

	assert_recipient_rejected(jwk, "RSA1_5", NULL,
	    "JWE alg \"RSA1_5\" not supported");
	assert_recipient_rejected(jwk, "dir", NULL,
	    "JWE alg \"dir\" not supported");
	assert_recipient_rejected(jwk, "none", NULL,
	    "JWE alg \"none\" not supported");
	assert_recipient_rejected(jwk, "ES256", NULL,
	    "JWE alg \"ES256\" not supported");
	free(jwk);
}

static void
test_jwe_recipient_intent(void **state)
{
	char *jwk = epk_json("P-256", false, ""), *with;

	with = jwk_with(jwk, "\"use\":\"sig\"");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "\"use\" must be \"enc\"");
	free(with);
	with = jwk_with(jwk, "\"key_ops\":[\"verify\"]");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "\"key_ops\" does not allow \"deriveKey\" or \"deriveBits\"");
	free(with);
	with = jwk_with(jwk, "\"key_ops\":\"deriveKey\"");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "\"key_ops\" must be an array of strings");
	free(with);
	with = jwk_with(jwk, "\"key_ops\":[\"wrapKey\"]");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "\"key_ops\" does not allow");
	free(with);
	with = jwk_with(jwk, "\"alg\":\"ECDH-ES+A256KW\"");
	assert_recipient_rejected(with, "ECDH-ES", NULL,
	    "the key's \"alg\" is not ECDH-ES");
	free(with);
	free(jwk);
}

static void
test_jwe_recipient_format_rejects(void **state)
{
	char *jwk = epk_json("P-256", false, ""), *bad;

	assert_recipient_rejected("{\"kty\":\"EC\"", "ECDH-ES", NULL,
	    "recipient_jwk_json: invalid JSON");
	assert_recipient_rejected("[]", "ECDH-ES", NULL,
	    "recipient_jwk_json: not a JSON object");
	assert_recipient_rejected("{\"kty\":\"EC\",\"kty\":\"EC\"}", "ECDH-ES",
	    NULL, "recipient_jwk_json: invalid JSON");
	assert_recipient_rejected("{\"kty\":\"EC\",\"crv\":\"P-256K\","
	    "\"x\":\"AA\",\"y\":\"AA\"}", "ECDH-ES", NULL,
	    "curve \"P-256K\" not supported for kty \"EC\"");
	assert_recipient_rejected("{\"kty\":\"OKP\",\"crv\":\"X448\","
	    "\"x\":\"AA\"}", "ECDH-ES", NULL,
	    "curve \"X448\" not supported for kty \"OKP\"");
	assert_recipient_rejected("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
	    "ECDH-ES", NULL, "curve \"Ed25519\" not supported");
	assert_recipient_rejected("{\"kty\":\"OKP\",\"crv\":\"X25519\","
	    "\"x\":\"AAAA\"}", "ECDH-ES", NULL,
	    "\"x\" is 3 bytes, expected 32 for X25519");
	assert_recipient_rejected("{\"kty\":\"EC\",\"crv\":\"P-256\"}",
	    "ECDH-ES", NULL, "\"x\" missing or not a string");
	assert_recipient_rejected("{\"kty\":\"oct\"}", "ECDH-ES", NULL,
	    "kty \"oct\" not supported");
	bad = jwk_with(jwk, "\"kid\":5");
	assert_recipient_rejected(bad, "ECDH-ES", NULL,
	    "\"kid\" is not a string");
	free(bad);
	assert_recipient_rejected(jwk, "ECDH-ES", "other", "recipient_jwk_json: "
	    "the JWK does not have the requested kid");
	bad = jwk_with(jwk, "\"kid\":\"k1\"");
	assert_recipient_rejected(bad, "ECDH-ES", "k2",
	    "the JWK does not have the requested kid");
	free(bad);
	free(jwk);
}

/* Builds a JWK Set from the given keys (JSON texts, NULL-terminated). */
static char *
jwks_json(const char *const *keys)
{
	struct buf b;
	char *out = NULL;
	size_t i;

	buf_init(&b);
	buf_append_str(&b, "{\"keys\":[");
	for (i = 0; keys[i] != NULL; i++) {
		if (i > 0)
			buf_append(&b, ",", 1);
		buf_append_str(&b, keys[i]);
	}
	buf_append_str(&b, "]}");
	assert_int_equal(buf_finish(&b, &out, NULL), HJ_OK);
	return out;
}

static void
test_jwe_recipient_jwks(void **state)
{
	struct soft_keys keys;
	struct jwe_recipient *recipient;
	char *rsa, *ec1, *ec2, *ec3, *ec2_sig, *set, *with_private;
	const char *members[5];

	soft_keys_init(&keys, true, "P-256", 0);
	rsa = public_jwk_json(keys.rsa, NULL, "r1");
	ec1 = public_jwk_json(keys.ecdh, "P-256", "e1");
	ec2 = epk_json("P-384", false, ",\"kid\":\"e2\"");
	ec2_sig = jwk_with(ec2, "\"use\":\"sig\"");
	ec3 = epk_json("X25519", false, ",\"kid\":\"e3\"");

	members[0] = rsa;
	members[1] = ec1;
	members[2] = ec2_sig;
	members[3] = NULL;
	set = jwks_json(members);
	recipient = parse_recipient(set, "ECDH-ES", NULL);
	assert_string_equal(jwe_recipient_kid(recipient), "e1");
	jwe_recipient_free(recipient);
	recipient = parse_recipient(set, "RSA-OAEP", NULL);
	assert_string_equal(jwe_recipient_kid(recipient), "r1");
	jwe_recipient_free(recipient);
	recipient = parse_recipient(set, "ECDH-ES+A128KW", "e1");
	assert_string_equal(jwe_recipient_kid(recipient), "e1");
	jwe_recipient_free(recipient);
	assert_recipient_rejected(set, "ECDH-ES", "e2",
	    "\"use\" must be \"enc\"");
	assert_recipient_rejected(set, "ECDH-ES", "zz",
	    "no key in the JWK Set has the requested kid");
	assert_recipient_rejected(set, "RSA-OAEP", "e1",
	    "alg RSA-OAEP needs an RSA key");
	free(set);

	members[2] = ec3;
	set = jwks_json(members);
	assert_recipient_rejected(set, "ECDH-ES", NULL,
	    "2 keys in the JWK Set are usable for alg ECDH-ES: pass a kid");
	recipient = parse_recipient(set, "ECDH-ES", "e3");
	assert_string_equal(jwe_recipient_kid(recipient), "e3");
	jwe_recipient_free(recipient);
	free(set);

	members[0] = ec2_sig;
	members[1] = NULL;
	set = jwks_json(members);
	assert_recipient_rejected(set, "ECDH-ES", NULL,
	    "no key in the JWK Set is usable for alg ECDH-ES");
	free(set);

	with_private = jwk_with(rsa, "\"d\":\"AAAA\"");
	members[0] = ec1;
	members[1] = with_private;
	members[2] = NULL;
	set = jwks_json(members);
	assert_recipient_rejected(set, "ECDH-ES", "e1",
	    "private member \"d\" present");
	free(set);

	assert_recipient_rejected("{\"keys\":{}}", "ECDH-ES", NULL,
	    "\"keys\" of the JWK Set is not an array");
	assert_recipient_rejected("{\"keys\":[]}", "ECDH-ES", NULL,
	    "no key in the JWK Set is usable");

	free(with_private);
	free(rsa);
	free(ec1);
	free(ec2);
	free(ec2_sig);
	free(ec3);
	soft_keys_clear(&keys);
}

/* Asserts that jwe_encrypt_compact rejects params with code and message. */
static void
assert_encrypt_rejected(const struct jwe_encrypt_params *params, hj_err code,
    const char *message)
{
	struct hj_error err;
	char *token = (char *)"not cleared";

	hj_error_clear(&err);
	assert_int_equal(jwe_encrypt_compact(params, (const uint8_t *)"x", 1,
	    &token, &err), code);
	assert_contains(err.message, message);
	assert_null(token);
}

/* A jwe_wrap_fn that returns one byte too few. */
static hj_err
short_wrap(void *ctx, const uint8_t *cek, size_t cek_len, uint8_t *out,
    size_t *out_len, struct hj_error *err)
{
	hj_err r = soft_wrap(ctx, cek, cek_len, out, out_len, err);

	*out_len -= 1;
	return r;
}

static void
test_jwe_encrypt_rejects(void **state)
{
	static const uint8_t sixteen[16];
	struct jwe_encrypt_params params;
	struct jwe_recipient *recipient;
	struct soft_keys keys;
	char *jwk;

	soft_keys_init(&keys, true, NULL, 16);
	jwk = public_jwk_json(keys.rsa, NULL, NULL);
	recipient = parse_recipient(jwk, "RSA-OAEP", NULL);

	memset(&params, 0, sizeof(params));
	params.alg = "RSA-OAEP";
	params.enc = "A128CBC";
	params.recipient = recipient;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE enc \"A128CBC\" not supported: use A128GCM");
	params.enc = NULL;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE enc missing");
	params.enc = "A128GCM";
	params.alg = "RSA1_5";
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE alg \"RSA1_5\" not supported");
	params.alg = "dir";
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE alg \"dir\" not supported");
	params.alg = "RSA-OAEP-256";
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "checked for alg RSA-OAEP, not RSA-OAEP-256");
	params.alg = "RSA-OAEP";
	params.apu = sixteen;
	params.apu_len = sizeof(sixteen);
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "apu and apv apply to ECDH-ES only");
	params.apu = NULL;
	params.test_cek = sixteen;
	params.test_cek_len = 15;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "test_cek must be 16 bytes for A128GCM");
	params.test_cek = NULL;
	params.test_iv = sixteen;
	params.test_iv_len = 16;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "test_iv must be 12 bytes for A128GCM");
	params.test_iv = NULL;
	params.recipient = NULL;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE alg RSA-OAEP needs a recipient public key");

	params.alg = "A256KW";
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "JWE alg A256KW needs a wrap callback");
	params.wrap = short_wrap;
	params.wrap_ctx = &keys;
	assert_encrypt_rejected(&params, HJ_ERR_INTERNAL,
	    "JWE wrap callback returned 23 bytes, expected 24");
	params.wrap = soft_wrap;
	keys.fail_with = HJ_ERR_UNAVAILABLE;
	assert_encrypt_rejected(&params, HJ_ERR_UNAVAILABLE,
	    "soft key failure");

	jwe_recipient_free(recipient);
	free(jwk);
	soft_keys_clear(&keys);
}

/* ECDH-ES derives its CEK, so a fixed test CEK is rejected. */
static void
test_jwe_encrypt_ecdh_test_cek(void **state)
{
	static const uint8_t sixteen[16];
	struct jwe_encrypt_params params;
	struct jwe_recipient *recipient;
	char *jwk = epk_json("P-256", false, "");

	recipient = parse_recipient(jwk, "ECDH-ES", NULL);
	memset(&params, 0, sizeof(params));
	params.alg = "ECDH-ES";
	params.enc = "A128GCM";
	params.recipient = recipient;
	params.test_cek = sixteen;
	params.test_cek_len = sizeof(sixteen);
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "test_cek cannot be used with ECDH-ES");

	jwe_recipient_free(recipient);
	free(jwk);
}

/* OpenSSL rejects the all-zero X25519 result of a low-order recipient key. */
static void
test_jwe_encrypt_x25519_low_order(void **state)
{
	static const char jwk[] = "{\"kty\":\"OKP\",\"crv\":\"X25519\","
	    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
	struct jwe_encrypt_params params;
	struct jwe_recipient *recipient;

	recipient = parse_recipient(jwk, "ECDH-ES+A128KW", NULL);
	memset(&params, 0, sizeof(params));
	params.alg = "ECDH-ES+A128KW";
	params.enc = "A128GCM";
	params.recipient = recipient;
	assert_encrypt_rejected(&params, HJ_ERR_INVALID_ARGUMENT,
	    "ECDH key agreement failed");
	jwe_recipient_free(recipient);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwe_make_token_decrypts),
		cmocka_unit_test(test_jwe_flipped_tag),
		cmocka_unit_test(test_jwe_flipped_ciphertext),
		cmocka_unit_test(test_jwe_changed_header),
		cmocka_unit_test(test_jwe_flipped_encrypted_key),
		cmocka_unit_test(test_jwe_wrong_key),
		cmocka_unit_test(test_jwe_epk_rejects),
		cmocka_unit_test(test_jwe_epk_x25519_low_order),
		cmocka_unit_test(test_jwe_truncated_parts),
		cmocka_unit_test(test_jwe_part_count),
		cmocka_unit_test(test_jwe_header_rejects),
		cmocka_unit_test(test_jwe_missing_callback),
		cmocka_unit_test(test_jwe_callback_errors),
		cmocka_unit_test(test_jwe_recipient_accepts),
		cmocka_unit_test(test_jwe_recipient_off_curve),
		cmocka_unit_test(test_jwe_recipient_private_member),
		cmocka_unit_test(test_jwe_recipient_rsa_1024),
		cmocka_unit_test(test_jwe_recipient_kty_mismatch),
		cmocka_unit_test(test_jwe_recipient_alg_rejects),
		cmocka_unit_test(test_jwe_recipient_intent),
		cmocka_unit_test(test_jwe_recipient_format_rejects),
		cmocka_unit_test(test_jwe_recipient_jwks),
		cmocka_unit_test(test_jwe_encrypt_rejects),
		cmocka_unit_test(test_jwe_encrypt_ecdh_test_cek),
		cmocka_unit_test(test_jwe_encrypt_x25519_low_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
