/*
 * Unit tests for compact JWS (src/jose/jws.c) and the algorithm table
 * (src/jose/alg.c). RFC 7515 and RFC 8037 vectors are read from the folder
 * named by HSMJWT_TEST_VECTORS. Signing uses a software signer with OpenSSL
 * keys generated per test, so these tests need no token. HMAC tokens are
 * verified through jws_verify_compact_with() with a software callback.
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
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jwk.h"
#include "hsmjwt/jws.h"

/* A software key that signs like the key ring's HSM callback does. */
struct soft_signer {
	const struct jose_alg *alg;
	EVP_PKEY *key;             /* EC, RSA and OKP */
	uint8_t secret[64];        /* HMAC */
	size_t secret_len;
	size_t override_len;       /* non-zero: report this signature length */
	int verify_calls;          /* calls of soft_verify() */
	hj_err verify_result;      /* non-zero: soft_verify() returns this */
};

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
vector_string(const json_t *vector, const char *name)
{
	const char *value = json_string_value(json_object_get(vector, name));

	/* cmocka 1.1 does not mark fail_msg() noreturn, so return "" after it. */
	if (value == NULL) {
		fail_msg("test vector has no string member \"%s\"", name);
		return "";
	}
	return value;
}

/* Imports the public part of the vector's "jwk" member. */
static EVP_PKEY *
vector_key(const json_t *vector)
{
	EVP_PKEY *key = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	if (jwk_to_pkey(json_object_get(vector, "jwk"), &key, &err) != HJ_OK)
		fail_msg("jwk_to_pkey failed on the vector key: %s",
		    err.message);
	return key;
}

static const struct jose_alg *
find_alg(const char *name)
{
	const struct jose_alg *alg = jose_alg_find(name);

	if (alg == NULL)
		fail_msg("algorithm %s missing from the table", name);
	return alg;
}

/* Converts a DER ECDSA signature to raw R||S of 2 * half bytes. */
static void
ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t half, uint8_t *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *esig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;

	assert_non_null(esig);
	ECDSA_SIG_get0(esig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, raw, (int)half), (int)half);
	assert_int_equal(BN_bn2binpad(s, raw + half, (int)half), (int)half);
	ECDSA_SIG_free(esig);
}

/* Computes the HMAC of input with the signer's secret into mac. */
static size_t
soft_hmac(const struct soft_signer *signer, const uint8_t *input,
    size_t input_len, uint8_t *mac, size_t mac_cap)
{
	size_t mac_len = 0;

	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL,
	    OBJ_nid2sn(signer->alg->hash_nid), NULL, signer->secret,
	    signer->secret_len, input, input_len, mac, mac_cap, &mac_len));
	return mac_len;
}

/* Signs with OpenSSL EVP into sig: DER for ECDSA. */
static size_t
soft_evp_sign(const struct soft_signer *signer, const uint8_t *input,
    size_t input_len, uint8_t *sig, size_t sig_cap)
{
	const struct jose_alg *alg = signer->alg;
	const EVP_MD *md = NULL;
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t sig_len = sig_cap;

	if (alg->kty != JOSE_KTY_OKP)
		md = EVP_get_digestbynid(alg->hash_nid);
	assert_non_null(md_ctx);
	assert_int_equal(EVP_DigestSignInit(md_ctx, &pctx, md, NULL,
	    signer->key), 1);
	if (alg->pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(md_ctx, sig, &sig_len, input,
	    input_len), 1);
	EVP_MD_CTX_free(md_ctx);
	return sig_len;
}

/* A jws_sign_fn that signs with OpenSSL. */
static hj_err
soft_sign(void *ctx, const uint8_t *input, size_t input_len, uint8_t *sig,
    size_t *sig_len, struct hj_error *err)
{
	struct soft_signer *signer = ctx;
	const struct jose_alg *alg = signer->alg;
	uint8_t out[JWS_SIGNATURE_MAX];
	size_t out_len;

	if (alg->kty == JOSE_KTY_OCT)
		out_len = soft_hmac(signer, input, input_len, out, sizeof(out));
	else
		out_len = soft_evp_sign(signer, input, input_len, out,
		    sizeof(out));

	if (alg->kty == JOSE_KTY_EC) {
		assert_true(*sig_len >= alg->signature_len);
		ecdsa_der_to_raw(out, out_len, alg->signature_len / 2, sig);
		*sig_len = alg->signature_len;
	} else {
		assert_true(*sig_len >= out_len);
		memcpy(sig, out, out_len);
		*sig_len = out_len;
	}
	if (signer->override_len != 0)
		*sig_len = signer->override_len;
	return HJ_OK;
}

/* A jws_verify_fn that checks an HMAC with the signer's secret. */
static hj_err
soft_verify(void *ctx, const uint8_t *input, size_t input_len,
    const uint8_t *sig, size_t sig_len, struct hj_error *err)
{
	struct soft_signer *signer = ctx;
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t mac_len;

	signer->verify_calls++;
	if (signer->verify_result != HJ_OK)
		return hj_error_set(err, signer->verify_result,
		    "soft_verify fails as the test asks");
	mac_len = soft_hmac(signer, input, input_len, mac, sizeof(mac));
	if (sig_len != mac_len || CRYPTO_memcmp(sig, mac, mac_len) != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "HMAC signature does not verify");
	return HJ_OK;
}

static struct soft_signer
soft_signer_new(const char *alg_name)
{
	struct soft_signer signer;
	const struct jose_alg *alg = find_alg(alg_name);

	memset(&signer, 0, sizeof(signer));
	signer.alg = alg;
	switch (alg->kty) {
	case JOSE_KTY_EC:
		signer.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg->crv);
		break;
	case JOSE_KTY_RSA:
		signer.key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)alg->rsa_bits);
		break;
	case JOSE_KTY_OKP:
		signer.key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case JOSE_KTY_OCT:
		signer.secret_len = alg->secret_len;
		assert_true(signer.secret_len <= sizeof(signer.secret));
		assert_int_equal(RAND_bytes(signer.secret,
		    (int)signer.secret_len), 1);
		return signer;
	}
	assert_non_null(signer.key);
	return signer;
}

/* Builds b64url(header).b64url(payload).b64url(signature) with signer. */
static char *
make_token(const char *header, const char *payload, struct soft_signer *signer)
{
	uint8_t sig[JWS_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	struct hj_error err;
	struct buf b;
	char *part, *token = NULL;

	buf_init(&b);
	assert_int_equal(b64url_encode((const uint8_t *)header, strlen(header),
	    &part), HJ_OK);
	buf_append_str(&b, part);
	free(part);
	buf_append_str(&b, ".");
	assert_int_equal(b64url_encode((const uint8_t *)payload,
	    strlen(payload), &part), HJ_OK);
	buf_append_str(&b, part);
	free(part);

	hj_error_clear(&err);
	assert_int_equal(soft_sign(signer, (const uint8_t *)b.data, b.len, sig,
	    &sig_len, &err), HJ_OK);
	assert_int_equal(b64url_encode(sig, sig_len, &part), HJ_OK);
	buf_append_str(&b, ".");
	buf_append_str(&b, part);
	free(part);
	assert_int_equal(buf_finish(&b, &token, NULL), HJ_OK);
	return token;
}

/*
 * Returns a copy of token with one bit flipped in the decoded part index
 * (0 header, 1 payload, 2 signature), re-encoded so that it still decodes.
 */
static char *
flip_bit(const char *token, int index, size_t byte)
{
	const char *start = token, *end;
	uint8_t *data = NULL;
	size_t len = 0;
	struct hj_error err;
	struct buf b;
	char *part, *out = NULL;
	int i;

	for (i = 0; i < index; i++)
		start = strchr(start, '.') + 1;
	end = strchr(start, '.');
	if (end == NULL)
		end = start + strlen(start);

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(start, (size_t)(end - start), &data,
	    &len, &err), HJ_OK);
	assert_true(byte < len);
	data[byte] ^= 0x01;
	assert_int_equal(b64url_encode(data, len, &part), HJ_OK);
	free(data);

	buf_init(&b);
	buf_append(&b, token, (size_t)(start - token));
	buf_append_str(&b, part);
	buf_append_str(&b, end);
	free(part);
	assert_int_equal(buf_finish(&b, &out, NULL), HJ_OK);
	return out;
}

/* Verifies token and returns the result, with err filled in. */
static hj_err
verify(const char *token, const char *alg_name, EVP_PKEY *key,
    struct hj_error *err)
{
	char *payload = (char *)"not cleared";
	size_t payload_len = 99;
	hj_err r;

	hj_error_clear(err);
	r = jws_verify_compact(token, strlen(token), jose_alg_find(alg_name),
	    key, &payload, &payload_len, err);
	if (r != HJ_OK) {
		assert_null(payload);
		assert_int_equal(payload_len, 0);
	}
	free(payload);
	return r;
}

/*
 * Verifies token with the signer's key: in software, or for HMAC through
 * soft_verify(). Returns the result, with err filled in.
 */
static hj_err
verify_signer(const char *token, const char *alg_name,
    struct soft_signer *signer, struct hj_error *err)
{
	char *payload = (char *)"not cleared";
	size_t payload_len = 99;
	hj_err r;

	if (signer->alg->kty != JOSE_KTY_OCT)
		return verify(token, alg_name, signer->key, err);

	hj_error_clear(err);
	r = jws_verify_compact_with(token, strlen(token),
	    jose_alg_find(alg_name), soft_verify, signer, &payload,
	    &payload_len, err);
	if (r != HJ_OK) {
		assert_null(payload);
		assert_int_equal(payload_len, 0);
	}
	free(payload);
	return r;
}

/* Asserts that token fails verification with message in the error. */
static void
assert_rejected(const char *token, const char *alg_name, EVP_PKEY *key,
    const char *message)
{
	struct hj_error err;

	assert_int_equal(verify(token, alg_name, key, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, message);
}

/* Asserts that the vector's compact JWS verifies as alg_name with its key. */
static void
assert_vector_verifies(const char *file, const char *alg_name)
{
	json_t *vector = load_vector(file);
	const char *compact = vector_string(vector, "compact");
	const char *expected = vector_string(vector, "payload_utf8");
	EVP_PKEY *key = vector_key(vector);
	char *payload = NULL;
	size_t payload_len = 0;
	struct hj_error err;

	hj_error_clear(&err);
	if (jws_verify_compact(compact, strlen(compact), find_alg(alg_name),
	    key, &payload, &payload_len, &err) != HJ_OK)
		fail_msg("%s does not verify: %s", file, err.message);
	assert_int_equal(payload_len, strlen(expected));
	assert_memory_equal(payload, expected, payload_len);
	assert_int_equal(payload[payload_len], '\0');

	free(payload);
	EVP_PKEY_free(key);
	json_decref(vector);
}

static void
test_jws_rfc7515_a3_es256(void **state)
{
	assert_vector_verifies("rfc7515/A.3_ES256.json", "ES256");
}

static void
test_jws_rfc7515_a2_rs256(void **state)
{
	assert_vector_verifies("rfc7515/A.2_RS256.json", "RS256");
}

/* Asserts that the vector's compact JWS fails with any of four bits flipped. */
static void
assert_flipped_bits_fail(const char *file, const char *alg)
{
	json_t *vector = load_vector(file);
	const char *compact = vector_string(vector, "compact");
	EVP_PKEY *key = vector_key(vector);
	char *token;

	token = flip_bit(compact, 1, 0);
	assert_rejected(token, alg, key, "signature does not verify");
	free(token);

	token = flip_bit(compact, 1, 5);
	assert_rejected(token, alg, key, "signature does not verify");
	free(token);

	token = flip_bit(compact, 2, 0);
	assert_rejected(token, alg, key, "signature does not verify");
	free(token);

	token = flip_bit(compact, 2, 63);
	assert_rejected(token, alg, key, "signature does not verify");
	free(token);

	EVP_PKEY_free(key);
	json_decref(vector);
}

static void
test_jws_flipped_bit_es256(void **state)
{
	assert_flipped_bits_fail("rfc7515/A.3_ES256.json", "ES256");
}

static void
test_jws_flipped_bit_rs256(void **state)
{
	assert_flipped_bits_fail("rfc7515/A.2_RS256.json", "RS256");
}

/* Decodes the header of token into a new NUL-terminated string. */
static char *
decode_header(const char *token)
{
	uint8_t *header = NULL;
	size_t len = 0;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(token, (size_t)(strchr(token, '.') -
	    token), &header, &len, &err), HJ_OK);
	return (char *)header;
}

/* RFC 7515 A.4: S begins with a zero byte, which the 132 bytes must keep. */
static void
test_jws_rfc7515_a4_es512(void **state)
{
	json_t *vector = load_vector("rfc7515/A.4_ES512.json");
	const char *compact = vector_string(vector, "compact");
	const char *sig = strrchr(compact, '.') + 1;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(sig, strlen(sig), &raw, &raw_len, &err),
	    HJ_OK);
	assert_int_equal(raw_len, 132);
	assert_int_equal(raw[66], 0x00);

	assert_vector_verifies("rfc7515/A.4_ES512.json", "ES512");
	free(raw);
	json_decref(vector);
}

static void
test_jws_flipped_bit_es512(void **state)
{
	assert_flipped_bits_fail("rfc7515/A.4_ES512.json", "ES512");
}

/* Returns a soft signer for alg_name with the vector's JWK secret "k". */
static struct soft_signer
vector_hmac_signer(const json_t *vector, const char *alg_name)
{
	const char *k = json_string_value(json_object_get(json_object_get(
	    vector, "jwk"), "k"));
	struct soft_signer signer;
	uint8_t *secret = NULL;
	size_t secret_len = 0;
	struct hj_error err;

	memset(&signer, 0, sizeof(signer));
	signer.alg = find_alg(alg_name);
	assert_non_null(k);
	hj_error_clear(&err);
	assert_int_equal(b64url_decode(k, strlen(k), &secret, &secret_len,
	    &err), HJ_OK);
	assert_true(secret_len <= sizeof(signer.secret));
	memcpy(signer.secret, secret, secret_len);
	signer.secret_len = secret_len;
	OPENSSL_clear_free(secret, secret_len);
	return signer;
}

static void
test_jws_rfc7515_a1_hs256(void **state)
{
	json_t *vector = load_vector("rfc7515/A.1_HS256.json");
	const char *compact = vector_string(vector, "compact");
	const char *expected = vector_string(vector, "payload_utf8");
	struct soft_signer signer = vector_hmac_signer(vector, "HS256");
	char *payload = NULL;
	size_t payload_len = 0;
	struct hj_error err;

	hj_error_clear(&err);
	if (jws_verify_compact_with(compact, strlen(compact), find_alg("HS256"),
	    soft_verify, &signer, &payload, &payload_len, &err) != HJ_OK)
		fail_msg("RFC 7515 A.1 does not verify: %s", err.message);
	assert_int_equal(signer.verify_calls, 1);
	assert_int_equal(payload_len, strlen(expected));
	assert_memory_equal(payload, expected, payload_len);

	free(payload);
	json_decref(vector);
}

static void
test_jws_flipped_bit_hs256(void **state)
{
	json_t *vector = load_vector("rfc7515/A.1_HS256.json");
	const char *compact = vector_string(vector, "compact");
	struct soft_signer signer = vector_hmac_signer(vector, "HS256");
	const size_t spots[][2] = { { 1, 0 }, { 1, 20 }, { 2, 0 }, { 2, 31 } };
	struct hj_error err;
	char *token;
	size_t i;

	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		token = flip_bit(compact, (int)spots[i][0], spots[i][1]);
		assert_int_equal(verify_signer(token, "HS256", &signer, &err),
		    HJ_ERR_INVALID_ARGUMENT);
		assert_contains(err.message, "signature does not verify");
		free(token);
	}
	json_decref(vector);
}

/* RFC 8037 A.5: the A.4 Ed25519 signature verifies with the A.2 public key. */
static void
test_jws_rfc8037_a5_eddsa(void **state)
{
	assert_vector_verifies("rfc8037/A.4_A.5_ed25519_signature.json",
	    "EdDSA");
}

static void
test_jws_flipped_bit_eddsa(void **state)
{
	assert_flipped_bits_fail("rfc8037/A.4_A.5_ed25519_signature.json",
	    "EdDSA");
}

/*
 * Signs with every row of the table, checks the header and the signature
 * length, verifies, and rejects a changed payload and signature.
 */
static void
test_jws_sign_every_alg(void **state)
{
	const char *claims = "{\"sub\":\"alice\"}";
	const struct jose_alg *alg;
	struct soft_signer signer;
	char *token, *tampered, *header, expected[128];
	uint8_t *sig;
	size_t i, sig_len;
	struct hj_error err;

	for (i = 0; (alg = jose_alg_at(i)) != NULL; i++) {
		signer = soft_signer_new(alg->name);
		hj_error_clear(&err);
		if (jws_sign_compact(alg, "k1", claims, strlen(claims),
		    soft_sign, &signer, &token, &err) != HJ_OK)
			fail_msg("jws_sign_compact %s failed: %s", alg->name,
			    err.message);

		header = decode_header(token);
		snprintf(expected, sizeof(expected),
		    "{\"alg\":\"%s\",\"kid\":\"k1\",\"typ\":\"JWT\"}",
		    alg->name);
		assert_string_equal(header, expected);
		free(header);

		assert_int_equal(b64url_decode(strrchr(token, '.') + 1,
		    strlen(strrchr(token, '.') + 1), &sig, &sig_len, &err),
		    HJ_OK);
		if (alg->signature_len != 0)
			assert_int_equal(sig_len, alg->signature_len);
		else
			assert_int_equal(sig_len, alg->rsa_bits / 8);
		free(sig);

		if (verify_signer(token, alg->name, &signer, &err) != HJ_OK)
			fail_msg("%s token does not verify: %s", alg->name,
			    err.message);

		tampered = flip_bit(token, 1, 3);
		assert_int_equal(verify_signer(tampered, alg->name, &signer,
		    &err), HJ_ERR_INVALID_ARGUMENT);
		assert_contains(err.message, "signature does not verify");
		free(tampered);
		tampered = flip_bit(token, 2, sig_len - 1);
		assert_int_equal(verify_signer(tampered, alg->name, &signer,
		    &err), HJ_ERR_INVALID_ARGUMENT);
		assert_contains(err.message, "signature does not verify");
		free(tampered);

		free(token);
		EVP_PKEY_free(signer.key);
	}
	assert_int_equal(i, 13);
}

/* HMAC needs the secret key in the token: the software path rejects it. */
static void
test_jws_hmac_needs_callback(void **state)
{
	json_t *vector = load_vector("rfc7515/A.1_HS256.json");
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	EVP_PKEY *ec_key = vector_key(es256);
	const char *compact = vector_string(vector, "compact");

	assert_rejected(compact, "HS256", ec_key,
	    "needs the secret key, which stays in the token");
	assert_rejected(compact, "HS256", NULL, "verification key missing");

	EVP_PKEY_free(ec_key);
	json_decref(es256);
	json_decref(vector);
}

/* Checks that run before the callback keep it from being called. */
static void
test_jws_verify_with_checks(void **state)
{
	json_t *vector = load_vector("rfc7515/A.1_HS256.json");
	json_t *none = load_vector("rfc7515/A.5_none.json");
	const char *compact = vector_string(vector, "compact");
	struct soft_signer signer = vector_hmac_signer(vector, "HS256");
	char *payload = (char *)"not cleared", token[512], *part;
	const char *sig = strrchr(compact, '.') + 1;
	uint8_t *raw = NULL;
	size_t payload_len = 99, raw_len = 0;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jws_verify_compact_with(compact, strlen(compact),
	    find_alg("HS256"), NULL, NULL, &payload, &payload_len, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "callback missing");
	assert_null(payload);
	assert_int_equal(payload_len, 0);

	/* The signature without its last byte. */
	assert_int_equal(b64url_decode(sig, strlen(sig), &raw, &raw_len, &err),
	    HJ_OK);
	assert_int_equal(b64url_encode(raw, raw_len - 1, &part), HJ_OK);
	snprintf(token, sizeof(token), "%.*s%s", (int)(sig - compact), compact,
	    part);
	free(part);
	assert_int_equal(verify_signer(token, "HS256", &signer, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "31 bytes, expected 32 for HS256");

	assert_int_equal(verify_signer(compact, "HS384", &signer, &err),
	    HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "\"alg\" is not the expected HS384");
	assert_int_equal(verify_signer(vector_string(none, "compact"), "HS256",
	    &signer, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "alg \"none\" is not accepted");
	assert_int_equal(signer.verify_calls, 0);

	free(raw);
	json_decref(none);
	json_decref(vector);
}

/* An error of the callback itself reaches the caller unchanged. */
static void
test_jws_verify_with_error(void **state)
{
	json_t *vector = load_vector("rfc7515/A.1_HS256.json");
	const char *compact = vector_string(vector, "compact");
	struct soft_signer signer = vector_hmac_signer(vector, "HS256");
	struct hj_error err;

	signer.verify_result = HJ_ERR_UNAVAILABLE;
	assert_int_equal(verify_signer(compact, "HS256", &signer, &err),
	    HJ_ERR_UNAVAILABLE);
	assert_int_equal(err.code, HJ_ERR_UNAVAILABLE);
	assert_contains(err.message, "soft_verify fails");
	assert_int_equal(signer.verify_calls, 1);
	json_decref(vector);
}

/* Keys of the wrong type or curve for EdDSA, ES256 and ES512. */
static void
test_jws_key_type_mismatch(void **state)
{
	json_t *ed = load_vector("rfc8037/A.4_A.5_ed25519_signature.json");
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	json_t *es512 = load_vector("rfc7515/A.4_ES512.json");
	EVP_PKEY *ed_key = vector_key(ed);
	EVP_PKEY *p256_key = vector_key(es256);

	assert_rejected(vector_string(ed, "compact"), "EdDSA", p256_key,
	    "not an Ed25519 key, as EdDSA requires");
	assert_rejected(vector_string(es256, "compact"), "ES256", ed_key,
	    "not an EC key on P-256");
	assert_rejected(vector_string(es512, "compact"), "ES512", p256_key,
	    "not an EC key on P-521");
	assert_rejected(vector_string(ed, "compact"), "ES256", p256_key,
	    "\"alg\" is not the expected ES256");

	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(p256_key);
	json_decref(ed);
	json_decref(es256);
	json_decref(es512);
}

static void
test_jws_eddsa_signature_length(void **state)
{
	json_t *vector = load_vector("rfc8037/A.4_A.5_ed25519_signature.json");
	const char *compact = vector_string(vector, "compact");
	const char *sig = strrchr(compact, '.') + 1;
	EVP_PKEY *key = vector_key(vector);
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	char token[512], *part;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(b64url_decode(sig, strlen(sig), &raw, &raw_len, &err),
	    HJ_OK);
	assert_int_equal(raw_len, 64);
	assert_int_equal(b64url_encode(raw, 63, &part), HJ_OK);
	snprintf(token, sizeof(token), "%.*s%s", (int)(sig - compact), compact,
	    part);
	free(part);
	assert_rejected(token, "EdDSA", key, "63 bytes, expected 64 for EdDSA");

	free(raw);
	EVP_PKEY_free(key);
	json_decref(vector);
}

static void
test_jws_rfc7515_a5_none(void **state)
{
	json_t *none = load_vector("rfc7515/A.5_none.json");
	json_t *crit = load_vector("rfc7515/E_crit_negative.json");
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	json_t *rs256 = load_vector("rfc7515/A.2_RS256.json");
	EVP_PKEY *ec_key = vector_key(es256);
	EVP_PKEY *rsa_key = vector_key(rs256);

	assert_rejected(vector_string(none, "compact"), "ES256", ec_key,
	    "alg \"none\" is not accepted");
	assert_rejected(vector_string(none, "compact"), "RS256", rsa_key,
	    "alg \"none\" is not accepted");
	assert_rejected(vector_string(crit, "compact"), "ES256", ec_key,
	    "alg \"none\" is not accepted");

	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	json_decref(none);
	json_decref(crit);
	json_decref(es256);
	json_decref(rs256);
}

static void
test_jws_none_row_rejected(void **state)
{
	struct jose_alg none;
	struct hj_error err;
	char *token = (char *)"not cleared";
	char *payload = (char *)"not cleared";
	size_t payload_len = 99;

	memcpy(&none, find_alg("ES256"), sizeof(none));
	none.name = "none";

	hj_error_clear(&err);
	assert_int_equal(jws_sign_compact(&none, "k1", "{}", 2, soft_sign, NULL,
	    &token, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "\"none\" is not accepted");
	assert_null(token);

	hj_error_clear(&err);
	assert_int_equal(jws_verify_compact("e30.e30.", 8, &none, NULL,
	    &payload, &payload_len, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "\"none\" is not accepted");
	assert_null(payload);
	assert_int_equal(payload_len, 0);
}

static void
test_jws_alg_mismatch(void **state)
{
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	json_t *rs256 = load_vector("rfc7515/A.2_RS256.json");
	EVP_PKEY *ec_key = vector_key(es256);
	EVP_PKEY *rsa_key = vector_key(rs256);
	struct soft_signer signer = soft_signer_new("ES256");
	char *token;

	assert_rejected(vector_string(es256, "compact"), "RS256", rsa_key,
	    "\"alg\" is not the expected RS256");
	assert_rejected(vector_string(rs256, "compact"), "PS256", rsa_key,
	    "\"alg\" is not the expected PS256");

	/* The right key type, but a header that names another algorithm. */
	token = make_token("{\"alg\":\"ES384\"}", "{}", &signer);
	assert_rejected(token, "ES256", signer.key,
	    "\"alg\" is not the expected ES256");
	free(token);
	token = make_token("{\"alg\":\"es256\"}", "{}", &signer);
	assert_rejected(token, "ES256", signer.key,
	    "\"alg\" is not the expected ES256");
	free(token);
	token = make_token("{\"typ\":\"JWT\"}", "{}", &signer);
	assert_rejected(token, "ES256", signer.key,
	    "\"alg\" missing or not a string");
	free(token);

	/* The key must match the expected algorithm too. */
	assert_rejected(vector_string(es256, "compact"), "ES256", rsa_key,
	    "not an EC key on P-256");
	assert_rejected(vector_string(rs256, "compact"), "RS256", ec_key,
	    "not an RSA key");

	EVP_PKEY_free(signer.key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	json_decref(es256);
	json_decref(rs256);
}

static void
test_jws_header_rejects(void **state)
{
	struct soft_signer signer = soft_signer_new("ES256");
	char *token;

	token = make_token("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
	    "{}", &signer);
	assert_rejected(token, "ES256", signer.key, "\"crit\" is not supported");
	free(token);

	token = make_token("{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{}",
	    &signer);
	assert_rejected(token, "ES256", signer.key, "JWS header: invalid JSON");
	free(token);

	token = make_token("[\"ES256\"]", "{}", &signer);
	assert_rejected(token, "ES256", signer.key,
	    "JWS header: not a JSON object");
	free(token);

	token = make_token("{\"alg\":\"ES256\"", "{}", &signer);
	assert_rejected(token, "ES256", signer.key, "JWS header: invalid JSON");
	free(token);

	EVP_PKEY_free(signer.key);
}

static void
test_jws_compact_form(void **state)
{
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	EVP_PKEY *key = vector_key(es256);
	const char *compact = vector_string(es256, "compact");
	char token[1024];

	assert_rejected("", "ES256", key, "expected exactly two '.'");
	assert_rejected("abc", "ES256", key, "expected exactly two '.'");
	assert_rejected("eyJhbGciOiJFUzI1NiJ9.e30", "ES256", key,
	    "expected exactly two '.'");
	snprintf(token, sizeof(token), "%s.", compact);
	assert_rejected(token, "ES256", key, "expected exactly two '.'");
	snprintf(token, sizeof(token), "%s=", compact);
	assert_rejected(token, "ES256", key, "JWS signature: base64url padding");
	snprintf(token, sizeof(token), "%s", compact);
	token[3] = '+';
	assert_rejected(token, "ES256", key, "JWS header: standard base64 character");

	/*
	 * A payload that is not base64url fails at the signature check, which
	 * runs before the payload is decoded.
	 */
	snprintf(token, sizeof(token), "%s", compact);
	token[strchr(compact, '.') - compact + 1] = '*';
	assert_rejected(token, "ES256", key, "signature does not verify");

	EVP_PKEY_free(key);
	json_decref(es256);
}

static void
test_jws_ecdsa_signature_length(void **state)
{
	json_t *es256 = load_vector("rfc7515/A.3_ES256.json");
	EVP_PKEY *key = vector_key(es256);
	const char *compact = vector_string(es256, "compact");
	const char *sig = strrchr(compact, '.') + 1;
	uint8_t *raw = NULL, der[128];
	size_t raw_len = 0;
	char token[1024], *part;
	struct hj_error err;
	unsigned char *p = der;
	ECDSA_SIG *esig;
	int der_len;

	/* 63 bytes: the signature without its last byte. */
	hj_error_clear(&err);
	assert_int_equal(b64url_decode(sig, strlen(sig), &raw, &raw_len, &err),
	    HJ_OK);
	assert_int_equal(raw_len, 64);
	assert_int_equal(b64url_encode(raw, 63, &part), HJ_OK);
	snprintf(token, sizeof(token), "%.*s%s", (int)(sig - compact), compact,
	    part);
	free(part);
	assert_rejected(token, "ES256", key, "63 bytes, expected 64");

	/* The same signature in DER form is not accepted either. */
	esig = ECDSA_SIG_new();
	assert_non_null(esig);
	assert_int_equal(ECDSA_SIG_set0(esig, BN_bin2bn(raw, 32, NULL),
	    BN_bin2bn(raw + 32, 32, NULL)), 1);
	der_len = i2d_ECDSA_SIG(esig, &p);
	assert_true(der_len > 64);
	assert_int_equal(b64url_encode(der, (size_t)der_len, &part), HJ_OK);
	snprintf(token, sizeof(token), "%.*s%s", (int)(sig - compact), compact,
	    part);
	free(part);
	assert_rejected(token, "ES256", key, "expected 64");

	ECDSA_SIG_free(esig);
	free(raw);
	EVP_PKEY_free(key);
	json_decref(es256);
}

/* Signs payload with a new key for alg_name, verifies it and checks the header. */
static void
assert_sign_round_trip(const char *alg_name, const char *kid,
    const char *expected_header)
{
	const char *claims = "{\"sub\":\"alice\",\"n\":123456789012345678901234567890}";
	struct soft_signer signer = soft_signer_new(alg_name);
	char *token = NULL, *payload = NULL, *header;
	size_t payload_len = 0;
	struct hj_error err;
	hj_err r;

	hj_error_clear(&err);
	if (jws_sign_compact(signer.alg, kid, claims, strlen(claims), soft_sign,
	    &signer, &token, &err) != HJ_OK)
		fail_msg("jws_sign_compact %s failed: %s", alg_name,
		    err.message);

	header = decode_header(token);
	assert_string_equal(header, expected_header);

	if (signer.alg->kty == JOSE_KTY_OCT)
		r = jws_verify_compact_with(token, strlen(token), signer.alg,
		    soft_verify, &signer, &payload, &payload_len, &err);
	else
		r = jws_verify_compact(token, strlen(token), signer.alg,
		    signer.key, &payload, &payload_len, &err);
	if (r != HJ_OK)
		fail_msg("%s token does not verify: %s", alg_name, err.message);
	assert_int_equal(payload_len, strlen(claims));
	assert_string_equal(payload, claims);

	free(header);
	free(payload);
	free(token);
	EVP_PKEY_free(signer.key);
}

static void
test_jws_sign_es256(void **state)
{
	assert_sign_round_trip("ES256", "k1",
	    "{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}");
}

static void
test_jws_sign_kid_escaped(void **state)
{
	assert_sign_round_trip("ES256", "a\"b\\c\n",
	    "{\"alg\":\"ES256\",\"kid\":\"a\\\"b\\\\c\\n\",\"typ\":\"JWT\"}");
}

static void
test_jws_sign_without_kid(void **state)
{
	assert_sign_round_trip("ES256", NULL,
	    "{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
}

static void
test_jws_sign_rs256(void **state)
{
	assert_sign_round_trip("RS256", "r1",
	    "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}");
}

static void
test_jws_sign_ps256(void **state)
{
	assert_sign_round_trip("PS256", "p1",
	    "{\"alg\":\"PS256\",\"kid\":\"p1\",\"typ\":\"JWT\"}");
}

static void
test_jws_ps256_not_rs256(void **state)
{
	struct soft_signer signer = soft_signer_new("PS256");
	char *token = NULL;

	/* A PSS signature under a header that claims PKCS#1 v1.5. */
	signer.alg = find_alg("PS256");
	token = make_token("{\"alg\":\"RS256\"}", "{}", &signer);
	assert_rejected(token, "RS256", signer.key, "signature does not verify");
	free(token);

	/* A PKCS#1 v1.5 signature under a header that claims PSS. */
	signer.alg = find_alg("RS256");
	token = make_token("{\"alg\":\"PS256\"}", "{}", &signer);
	assert_rejected(token, "PS256", signer.key, "signature does not verify");
	free(token);

	EVP_PKEY_free(signer.key);
}

static void
test_jws_sign_bad_signer_length(void **state)
{
	struct soft_signer signer = soft_signer_new("ES256");
	char *token = (char *)"not cleared";
	struct hj_error err;

	signer.override_len = 63;
	hj_error_clear(&err);
	assert_int_equal(jws_sign_compact(signer.alg, "k1", "{}", 2, soft_sign,
	    &signer, &token, &err), HJ_ERR_INTERNAL);
	assert_contains(err.message, "63 bytes, expected 64");
	assert_null(token);

	EVP_PKEY_free(signer.key);
}

/* Checks one row against the properties of its key type. */
static void
assert_alg_row(const struct jose_alg *alg)
{
	const EVP_MD *md = EVP_get_digestbynid(alg->hash_nid);
	EC_GROUP *group;

	switch (alg->kty) {
	case JOSE_KTY_EC:
		group = EC_GROUP_new_by_curve_name(EC_curve_nist2nid(alg->crv));
		assert_non_null(group);
		assert_int_equal(alg->signature_len,
		    2 * (((size_t)EC_GROUP_get_degree(group) + 7) / 8));
		assert_true(alg->prehash);
		EC_GROUP_free(group);
		break;
	case JOSE_KTY_RSA:
		assert_int_equal(alg->rsa_bits, 2048);
		assert_int_equal(alg->signature_len, 0);
		assert_false(alg->prehash);
		break;
	case JOSE_KTY_OKP:
		assert_string_equal(alg->crv, "Ed25519");
		assert_int_equal(alg->signature_len, 64);
		assert_null(md);
		break;
	case JOSE_KTY_OCT:
		assert_non_null(md);
		assert_int_equal(alg->signature_len, EVP_MD_get_size(md));
		assert_int_equal(alg->secret_len, EVP_MD_get_size(md));
		assert_null(alg->crv);
		break;
	}
}

static void
test_alg_find(void **state)
{
	static const char *const names[] = { "ES256", "ES384", "ES512",
		"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
		"HS256", "HS384", "HS512" };
	static const char *const rejected[] = { "none", "None", "", "es256",
		"ES256 ", "ES521", "EDDSA", "Ed25519", "HS1", "RS1", "A256KW",
		"RSA-OAEP" };
	const struct jose_alg *alg;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		alg = jose_alg_find(names[i]);
		if (alg == NULL)
			fail_msg("algorithm %s missing from the table",
			    names[i]);
		assert_string_equal(alg->name, names[i]);
		assert_alg_row(alg);
	}
	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		if (jose_alg_find(rejected[i]) != NULL)
			fail_msg("jose_alg_find accepts \"%s\"", rejected[i]);
	}
	assert_null(jose_alg_find(NULL));

	alg = jose_alg_find("PS384");
	assert_true(alg->pss);
	assert_int_equal(alg->hash_nid, NID_sha384);
	assert_false(jose_alg_find("RS384")->pss);

	for (i = 0; jose_alg_at(i) != NULL; i++)
		assert_ptr_equal(jose_alg_find(jose_alg_at(i)->name),
		    jose_alg_at(i));
	assert_int_equal(i, sizeof(names) / sizeof(names[0]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jws_rfc7515_a3_es256),
		cmocka_unit_test(test_jws_rfc7515_a2_rs256),
		cmocka_unit_test(test_jws_flipped_bit_es256),
		cmocka_unit_test(test_jws_flipped_bit_rs256),
		cmocka_unit_test(test_jws_rfc7515_a4_es512),
		cmocka_unit_test(test_jws_flipped_bit_es512),
		cmocka_unit_test(test_jws_rfc7515_a1_hs256),
		cmocka_unit_test(test_jws_flipped_bit_hs256),
		cmocka_unit_test(test_jws_rfc8037_a5_eddsa),
		cmocka_unit_test(test_jws_flipped_bit_eddsa),
		cmocka_unit_test(test_jws_sign_every_alg),
		cmocka_unit_test(test_jws_hmac_needs_callback),
		cmocka_unit_test(test_jws_verify_with_checks),
		cmocka_unit_test(test_jws_verify_with_error),
		cmocka_unit_test(test_jws_key_type_mismatch),
		cmocka_unit_test(test_jws_eddsa_signature_length),
		cmocka_unit_test(test_jws_rfc7515_a5_none),
		cmocka_unit_test(test_jws_none_row_rejected),
		cmocka_unit_test(test_jws_alg_mismatch),
		cmocka_unit_test(test_jws_header_rejects),
		cmocka_unit_test(test_jws_compact_form),
		cmocka_unit_test(test_jws_ecdsa_signature_length),
		cmocka_unit_test(test_jws_sign_es256),
		cmocka_unit_test(test_jws_sign_kid_escaped),
		cmocka_unit_test(test_jws_sign_without_kid),
		cmocka_unit_test(test_jws_sign_rs256),
		cmocka_unit_test(test_jws_sign_ps256),
		cmocka_unit_test(test_jws_ps256_not_rs256),
		cmocka_unit_test(test_jws_sign_bad_signer_length),
		cmocka_unit_test(test_alg_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
