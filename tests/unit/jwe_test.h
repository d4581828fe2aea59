/*
 * Helpers shared by the JWE unit tests (test_jwe.c, test_jwe_reject.c):
 * software keys behind the JWE key callbacks, vector loading and token
 * surgery. The functions are static inline so that each test uses only
 * what it needs without unused-function warnings.
 */
#ifndef HSMJWT_TEST_JWE_TEST_H
#define HSMJWT_TEST_JWE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jwe.h"
#include "hsmjwt/jwk.h"

static const char *const all_encs[] = {
	"A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384",
	"A256CBC-HS512", NULL
};

static const char *const ecdh_algs[] = {
	"ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW", NULL
};

static const char nested_jwt[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlw"
    "IjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

/*
 * Software stand-ins for the service's keys. The callbacks below act as the
 * key ring's token callbacks would, and record what they were given.
 */
struct soft_keys {
	EVP_PKEY *rsa;             /* RSA private key */
	EVP_PKEY *ecdh;            /* ECDH private key on crv */
	const char *crv;
	uint8_t aes[32];           /* AES key-wrapping key */
	size_t aes_len;
	hj_err fail_with;          /* HJ_OK, or the code every callback returns */
	bool zero_z;               /* soft_ecdh returns an all-zero Z */
	int calls;
	char kid[64];              /* kid of the last call; "(null)" for NULL */
	char alg[32];              /* alg of the last call */
};

static inline void
assert_contains(const char *message, const char *expected)
{
	if (strstr(message, expected) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", message,
		    expected);
}

/* Loads a JSON vector file relative to HSMJWT_TEST_VECTORS. */
static inline json_t *
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

static inline const char *
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

/* Decodes base64url text into a new buffer. */
static inline uint8_t *
b64u_bytes(const char *text, size_t *lenp)
{
	uint8_t *data = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	if (b64url_decode(text, strlen(text), &data, lenp, &err) != HJ_OK)
		fail_msg("not base64url: %s", err.message);
	return data;
}

/* Builds a public key from the encoding that jwe_ecdh_fn receives. */
static inline EVP_PKEY *
peer_from_point(const char *crv, const uint8_t *point, size_t point_len)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;

	if (strcmp(crv, "X25519") == 0)
		return EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL,
		    point, point_len);

	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)crv, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)point, point_len);
	params[2] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* Records the kid and alg that a callback received. */
static inline void
soft_record(struct soft_keys *keys, const char *kid, const char *alg)
{
	keys->calls++;
	snprintf(keys->kid, sizeof(keys->kid), "%s",
	    kid != NULL ? kid : "(null)");
	snprintf(keys->alg, sizeof(keys->alg), "%s", alg);
}

/* A jwe_key_decrypt_fn for RSA-OAEP and RSA-OAEP-256 with keys->rsa. */
static inline hj_err
soft_rsa_decrypt(void *ctx, const char *kid, const char *alg,
    const uint8_t *encrypted_key, size_t encrypted_key_len, uint8_t *cek,
    size_t *cek_len, struct hj_error *err)
{
	struct soft_keys *keys = ctx;
	const char *md = strcmp(alg, "RSA-OAEP") == 0 ? "SHA1" : "SHA256";
	EVP_PKEY_CTX *pctx;
	uint8_t out[512];
	size_t out_len = sizeof(out);
	int ok;

	soft_record(keys, kid, alg);
	if (keys->fail_with != HJ_OK)
		return hj_error_set(err, keys->fail_with, "soft key failure");
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, keys->rsa, NULL);
	assert_non_null(pctx);
	assert_int_equal(EVP_PKEY_decrypt_init(pctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, md, NULL), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL), 1);
	ok = EVP_PKEY_decrypt(pctx, out, &out_len, encrypted_key,
	    encrypted_key_len) == 1 && out_len <= *cek_len;
	EVP_PKEY_CTX_free(pctx);
	if (!ok)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "soft RSA-OAEP decryption failed");
	memcpy(cek, out, out_len);
	*cek_len = out_len;
	return HJ_OK;
}

static inline hj_err
soft_ecdh_curve(void *ctx, const char *kid, const char *alg, const char **crvp,
    struct hj_error *err)
{
	struct soft_keys *keys = ctx;

	soft_record(keys, kid, alg);
	*crvp = keys->crv;
	return HJ_OK;
}

/* A jwe_ecdh_fn with keys->ecdh. */
static inline hj_err
soft_ecdh(void *ctx, const char *kid, const char *alg, const char *crv,
    const uint8_t *point, size_t point_len, uint8_t *z, size_t *z_len,
    struct hj_error *err)
{
	struct soft_keys *keys = ctx;
	EVP_PKEY *peer;
	EVP_PKEY_CTX *pctx;
	int ok;

	soft_record(keys, kid, alg);
	if (keys->fail_with != HJ_OK)
		return hj_error_set(err, keys->fail_with, "soft key failure");
	if (keys->zero_z) {
		memset(z, 0, 32);
		*z_len = 32;
		return HJ_OK;
	}
	assert_string_equal(crv, keys->crv);
	peer = peer_from_point(crv, point, point_len);
	assert_non_null(peer);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, keys->ecdh, NULL);
	assert_non_null(pctx);
	ok = EVP_PKEY_derive_init(pctx) == 1 &&
	    EVP_PKEY_derive_set_peer(pctx, peer) == 1 &&
	    EVP_PKEY_derive(pctx, z, z_len) == 1;
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(peer);
	if (!ok)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "soft ECDH failed");
	return HJ_OK;
}

/* Runs AES key wrap or unwrap with keys->aes through EVP. */
static inline hj_err
soft_aes_kw(struct soft_keys *keys, int encrypt, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	const EVP_CIPHER *cipher = keys->aes_len == 16 ? EVP_aes_128_wrap() :
	    EVP_aes_256_wrap();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, final_len = 0, ok;

	assert_non_null(ctx);
	assert_true(*out_len >= in_len + 8);
	ok = EVP_CipherInit_ex(ctx, cipher, NULL, keys->aes, NULL,
	    encrypt) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + n, &final_len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "soft AES key %s failed", encrypt ? "wrap" : "unwrap");
	*out_len = (size_t)(n + final_len);
	return HJ_OK;
}

/* A jwe_wrap_fn with keys->aes. */
static inline hj_err
soft_wrap(void *ctx, const uint8_t *cek, size_t cek_len, uint8_t *out,
    size_t *out_len, struct hj_error *err)
{
	struct soft_keys *keys = ctx;

	keys->calls++;
	if (keys->fail_with != HJ_OK)
		return hj_error_set(err, keys->fail_with, "soft key failure");
	return soft_aes_kw(keys, 1, cek, cek_len, out, out_len, err);
}

/* A jwe_key_decrypt_fn for A128KW and A256KW with keys->aes. */
static inline hj_err
soft_unwrap(void *ctx, const char *kid, const char *alg,
    const uint8_t *encrypted_key, size_t encrypted_key_len, uint8_t *cek,
    size_t *cek_len, struct hj_error *err)
{
	struct soft_keys *keys = ctx;
	uint8_t out[JWE_CEK_MAX + 16];
	size_t out_len = sizeof(out);
	hj_err r;

	soft_record(keys, kid, alg);
	if (keys->fail_with != HJ_OK)
		return hj_error_set(err, keys->fail_with, "soft key failure");
	if (encrypted_key_len > JWE_CEK_MAX + 8)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "soft unwrap: input too long");
	r = soft_aes_kw(keys, 0, encrypted_key, encrypted_key_len, out,
	    &out_len, err);
	if (r != HJ_OK)
		return r;
	assert_true(out_len <= *cek_len);
	memcpy(cek, out, out_len);
	*cek_len = out_len;
	return HJ_OK;
}

/* Returns the callback table for keys. */
static inline struct jwe_decrypt_keys
soft_decrypt_keys(struct soft_keys *keys)
{
	struct jwe_decrypt_keys table;

	memset(&table, 0, sizeof(table));
	table.ctx = keys;
	table.rsa_decrypt = soft_rsa_decrypt;
	table.ecdh_curve = soft_ecdh_curve;
	table.ecdh = soft_ecdh;
	table.unwrap = soft_unwrap;
	return table;
}

/* Generates the software keys: RSA-2048 when rsa, ECDH on crv, AES. */
static inline void
soft_keys_init(struct soft_keys *keys, bool rsa, const char *crv,
    size_t aes_len)
{
	memset(keys, 0, sizeof(*keys));
	if (rsa) {
		keys->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		assert_non_null(keys->rsa);
	}
	if (crv != NULL && strcmp(crv, "X25519") == 0) {
		keys->ecdh = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		assert_non_null(keys->ecdh);
	} else if (crv != NULL) {
		keys->ecdh = EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv);
		assert_non_null(keys->ecdh);
	}
	keys->crv = crv;
	keys->aes_len = aes_len;
	assert_int_equal(RAND_bytes(keys->aes, sizeof(keys->aes)), 1);
}

static inline void
soft_keys_clear(struct soft_keys *keys)
{
	EVP_PKEY_free(keys->rsa);
	EVP_PKEY_free(keys->ecdh);
	memset(keys, 0, sizeof(*keys));
}

/* Returns the public JWK of pkey as JSON text, with kid when not NULL. */
static inline char *
public_jwk_json(EVP_PKEY *pkey, const char *crv, const char *kid)
{
	uint8_t point[256], n[1024], e[16];
	size_t point_len = sizeof(point);
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	struct hj_error err;
	json_t *jwk;
	char *text;

	hj_error_clear(&err);
	if (crv == NULL) {
		assert_int_equal(EVP_PKEY_get_bn_param(pkey,
		    OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(pkey,
		    OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
		jwk = jwk_from_rsa(n, (size_t)BN_bn2bin(bn_n, n), e,
		    (size_t)BN_bn2bin(bn_e, e), &err);
		BN_free(bn_n);
		BN_free(bn_e);
	} else if (strcmp(crv, "X25519") == 0) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, point,
		    &point_len), 1);
		jwk = jwk_from_okp(crv, point, point_len, &err);
	} else {
		assert_int_equal(EVP_PKEY_get_octet_string_param(pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
		    &point_len), 1);
		jwk = jwk_from_ec_point(crv, point, point_len, &err);
	}
	if (jwk == NULL)
		fail_msg("cannot build the test JWK: %s", err.message);
	if (kid != NULL)
		assert_int_equal(json_object_set_new(jwk, "kid",
		    json_string(kid)), 0);
	text = json_dumps(jwk, JSON_COMPACT);
	assert_non_null(text);
	json_decref(jwk);
	return text;
}

/* Parses json as the recipient for alg and fails the test on an error. */
static inline struct jwe_recipient *
parse_recipient(const char *json, const char *alg, const char *kid)
{
	struct jwe_recipient *recipient = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	if (jwe_recipient_parse(json, strlen(json), "recipient_jwk_json", alg,
	    kid, &recipient, &err) != HJ_OK)
		fail_msg("jwe_recipient_parse for %s failed: %s", alg,
		    err.message);
	return recipient;
}

/* Decrypts token with keys, filling err and detail. */
static inline hj_err
decrypt(const char *token, struct soft_keys *keys,
    struct jwe_decrypted **resultp, struct hj_error *err,
    struct hj_error *detail)
{
	struct jwe_decrypt_keys table = soft_decrypt_keys(keys);

	hj_error_clear(err);
	hj_error_clear(detail);
	keys->calls = 0;
	*resultp = (struct jwe_decrypted *)resultp;
	return jwe_decrypt_compact(token, strlen(token), &table, resultp, err,
	    detail);
}

/* Asserts that token is rejected before decryption with message. */
static inline void
assert_token_rejected(const char *token, struct soft_keys *keys,
    const char *message)
{
	struct jwe_decrypted *result;
	struct hj_error err, detail;

	assert_int_equal(decrypt(token, keys, &result, &err, &detail),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_null(result);
	assert_contains(err.message, message);
	assert_string_equal(detail.message, "");
	assert_int_equal(keys->calls, 0);
}

/* What one encryption in a test uses. */
struct encrypt_case {
	const char *alg;
	const char *enc;
	const char *jwk_json;      /* recipient; NULL for A128KW and A256KW */
	const char *kid;           /* expected "kid" in the header, or NULL */
	const char *apu;           /* PartyUInfo text, or NULL */
	const char *apv;
};

/* Encrypts plaintext for c, wrapping with keys for A128KW and A256KW. */
static inline char *
encrypt_case(const struct encrypt_case *c, struct soft_keys *keys,
    const uint8_t *plaintext, size_t plaintext_len)
{
	struct jwe_recipient *recipient = NULL;
	struct jwe_encrypt_params params;
	struct hj_error err;
	char *token = NULL;

	memset(&params, 0, sizeof(params));
	params.alg = c->alg;
	params.enc = c->enc;
	params.cty = "JWT";
	if (c->jwk_json != NULL) {
		recipient = parse_recipient(c->jwk_json, c->alg, NULL);
		params.recipient = recipient;
	} else {
		params.wrap = soft_wrap;
		params.wrap_ctx = keys;
		params.wrap_kid = c->kid;
	}
	if (c->apu != NULL) {
		params.apu = (const uint8_t *)c->apu;
		params.apu_len = strlen(c->apu);
	}
	if (c->apv != NULL) {
		params.apv = (const uint8_t *)c->apv;
		params.apv_len = strlen(c->apv);
	}

	hj_error_clear(&err);
	if (jwe_encrypt_compact(&params, plaintext, plaintext_len, &token,
	    &err) != HJ_OK)
		fail_msg("encryption with %s and %s failed: %s", c->alg, c->enc,
		    err.message);
	jwe_recipient_free(recipient);
	return token;
}

/* Returns a copy of the text of part index (0 to 4) of token. */
static inline char *
token_part(const char *token, int index)
{
	const char *start = token, *end;
	char *part;
	int i;

	for (i = 0; i < index; i++) {
		start = strchr(start, '.');
		assert_non_null(start);
		start++;
	}
	end = strchr(start, '.');
	if (end == NULL)
		end = start + strlen(start);
	part = strndup(start, (size_t)(end - start));
	assert_non_null(part);
	return part;
}

/* Returns b64url(data) as a new string. */
static inline char *
b64u_text(const void *data, size_t len)
{
	char *text = NULL;

	assert_int_equal(b64url_encode(data, len, &text), HJ_OK);
	return text;
}

/* Returns the epk JSON of a fresh key on crv, with y changed when off. */
static inline char *
epk_json(const char *crv, bool off_curve, const char *extra)
{
	EVP_PKEY *pkey = strcmp(crv, "X25519") == 0 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "X25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv);
	char *text = public_jwk_json(pkey, crv, NULL), *y, *out;
	size_t len = strlen(text);

	assert_non_null(pkey);
	if (off_curve) {
		/* Change the last character of y: a point that is off the curve. */
		y = strstr(text, "\"y\":\"");
		assert_non_null(y);
		y = strchr(y + 5, '"') - 1;
		*y = *y == 'A' ? 'E' : 'A';
	}
	out = malloc(len + strlen(extra) + 1);
	assert_non_null(out);
	memcpy(out, text, len - 1);
	strcpy(out + len - 1, extra);
	strcat(out, "}");

	free(text);
	EVP_PKEY_free(pkey);
	return out;
}

#endif
