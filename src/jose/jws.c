/*
 * Compact JWS (RFC 7515 section 7.1): signing through a callback, and
 * verification in software with OpenSSL EVP or through a callback.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jws.h"

/* The three parts of a compact JWS, as pointers into the token. */
struct jws_parts {
	const char *header;
	size_t header_len;
	const char *payload;
	size_t payload_len;
	const char *signature;
	size_t signature_len;
	size_t signing_input_len;  /* header "." payload */
};

/* The key of jws_verify_compact(), as the context of jws_evp_verify_fn(). */
struct jws_evp_verifier {
	const struct jose_alg *alg;
	EVP_PKEY *key;
};

/*
 * Rejects an algorithm that is not a row of the table. jose_alg_find()
 * never returns "none", but a caller could build its own row.
 */
static hj_err
jws_check_alg(const struct jose_alg *alg, struct hj_error *err)
{
	if (alg == NULL || alg->name == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS alg missing: pass a row of the algorithm table");
	if (strcmp(alg->name, "none") == 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS alg \"none\" is not accepted: use a signing algorithm");
	if (jose_alg_find(alg->name) != alg)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS alg is not a row of the algorithm table: "
		    "look it up with jose_alg_find()");
	return HJ_OK;
}

/* Appends the base64url encoding of data to b. */
static void
jws_append_b64url(struct buf *b, const uint8_t *data, size_t len)
{
	char *text;

	if (b64url_encode(data, len, &text) != HJ_OK) {
		b->failed = true;
		return;
	}
	buf_append_str(b, text);
	free(text);
}

/* Appends base64url({"alg":...,"kid":...,"typ":"JWT"}) to b. */
static void
jws_append_header(struct buf *b, const struct jose_alg *alg, const char *kid)
{
	struct buf header;

	buf_init(&header);
	buf_append_str(&header, "{\"alg\":");
	buf_append_json_string(&header, alg->name, strlen(alg->name));
	if (kid != NULL) {
		buf_append_str(&header, ",\"kid\":");
		buf_append_json_string(&header, kid, strlen(kid));
	}
	buf_append_str(&header, ",\"typ\":\"JWT\"}");

	if (header.failed)
		b->failed = true;
	else
		jws_append_b64url(b, (const uint8_t *)header.data, header.len);
	buf_clear(&header);
}

/* Checks the length that the sign callback returned. */
static hj_err
jws_check_signature_len(const struct jose_alg *alg, size_t sig_len,
    struct hj_error *err)
{
	if (sig_len == 0 || sig_len > JWS_SIGNATURE_MAX)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWS signer returned a signature of %zu bytes, "
		    "outside 1..%d", sig_len, JWS_SIGNATURE_MAX);
	if (alg->signature_len != 0 && sig_len != alg->signature_len)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWS signer returned a %s signature of %zu bytes, "
		    "expected %zu", alg->name, sig_len, alg->signature_len);
	return HJ_OK;
}

hj_err
jws_sign_compact(const struct jose_alg *alg, const char *kid,
    const char *payload, size_t payload_len, jws_sign_fn sign, void *signer,
    char **tokenp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t sig[JWS_SIGNATURE_MAX];
	size_t sig_len = sizeof(sig);
	struct buf token;

	*tokenp = NULL;
	buf_init(&token);

	r = jws_check_alg(alg, err);
	if (r != HJ_OK)
		goto out;

	jws_append_header(&token, alg, kid);
	buf_append(&token, ".", 1);
	jws_append_b64url(&token, (const uint8_t *)payload, payload_len);
	if (token.failed) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building the JWS signing input");
		goto out;
	}

	r = sign(signer, (const uint8_t *)token.data, token.len, sig,
	    &sig_len, err);
	if (r != HJ_OK)
		goto out;
	r = jws_check_signature_len(alg, sig_len, err);
	if (r != HJ_OK)
		goto out;

	buf_append(&token, ".", 1);
	jws_append_b64url(&token, sig, sig_len);
	if (buf_finish(&token, tokenp, NULL) != HJ_OK) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building the JWS");
		goto out;
	}
	r = HJ_OK;
out:
	OPENSSL_cleanse(sig, sizeof(sig));
	buf_clear(&token);
	return r;
}

/* Splits token on exactly two dots. */
static hj_err
jws_split(const char *token, size_t token_len, struct jws_parts *parts,
    struct hj_error *err)
{
	size_t i, dots[2], count = 0;

	memset(parts, 0, sizeof(*parts));
	if (token == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS missing: pass the compact serialization");

	for (i = 0; i < token_len; i++) {
		if (token[i] != '.')
			continue;
		if (count == 2)
			break;
		dots[count++] = i;
	}
	if (count != 2 || i < token_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS is not in compact form: expected exactly two '.' "
		    "separating header, payload and signature");

	parts->header = token;
	parts->header_len = dots[0];
	parts->payload = token + dots[0] + 1;
	parts->payload_len = dots[1] - dots[0] - 1;
	parts->signature = token + dots[1] + 1;
	parts->signature_len = token_len - dots[1] - 1;
	parts->signing_input_len = dots[1];
	return HJ_OK;
}

/* Decodes one part, prefixing a decoding error with the part's name. */
static hj_err
jws_decode_part(const char *part_name, const char *text, size_t text_len,
    uint8_t **datap, size_t *lenp, struct hj_error *err)
{
	struct hj_error decode_err;
	hj_err r;

	hj_error_clear(&decode_err);
	r = b64url_decode(text, text_len, datap, lenp, &decode_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "JWS %s: %s", part_name,
		    decode_err.message);
	return HJ_OK;
}

/* Checks the header's "alg" member against the expected algorithm. */
static hj_err
jws_check_header_alg(const json_t *value, const struct jose_alg *alg,
    struct hj_error *err)
{
	if (!json_is_string(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: \"alg\" missing or not a string");
	if (strcmp(json_string_value(value), "none") == 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: alg \"none\" is not accepted");
	if (json_string_length(value) != strlen(alg->name) ||
	    strcmp(json_string_value(value), alg->name) != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: \"alg\" is not the expected %s", alg->name);
	return HJ_OK;
}

/* Parses the decoded header and checks "alg" and "crit". */
static hj_err
jws_check_header(const uint8_t *data, size_t len, const struct jose_alg *alg,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	json_error_t jerr;
	json_t *header;

	header = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (header == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: invalid JSON at byte %d: %s", jerr.position,
		    jerr.text);
		goto out;
	}
	if (!json_is_object(header)) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: not a JSON object");
		goto out;
	}

	r = jws_check_header_alg(json_object_get(header, "alg"), alg, err);
	if (r != HJ_OK)
		goto out;

	/* No header extension is implemented, so any "crit" list is unmet. */
	if (json_object_get(header, "crit") != NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS header: \"crit\" is not supported");
		goto out;
	}
	r = HJ_OK;
out:
	json_decref(header);
	return r;
}

/* Checks that key is an EC key on the curve that alg names. */
static hj_err
jws_check_ec_key(const struct jose_alg *alg, EVP_PKEY *key,
    struct hj_error *err)
{
	char group[64];
	int nid;

	nid = EC_curve_nist2nid(alg->crv);
	if (!EVP_PKEY_is_a(key, "EC") || nid == NID_undef ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), NULL) ||
	    strcmp(group, OBJ_nid2sn(nid)) != 0) {
		ERR_clear_error();
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS verification key is not an EC key on %s, "
		    "as %s requires", alg->crv, alg->name);
	}
	return HJ_OK;
}

/* Checks that key is of the type and, for EC, on the curve that alg names. */
static hj_err
jws_check_key(const struct jose_alg *alg, EVP_PKEY *key, struct hj_error *err)
{
	if (key == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS verification key missing");

	switch (alg->kty) {
	case JOSE_KTY_EC:
		return jws_check_ec_key(alg, key, err);
	case JOSE_KTY_RSA:
		if (!EVP_PKEY_is_a(key, "RSA") &&
		    !EVP_PKEY_is_a(key, "RSA-PSS"))
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "JWS verification key is not an RSA key, "
			    "as %s requires", alg->name);
		return HJ_OK;
	case JOSE_KTY_OKP:
		if (!EVP_PKEY_is_a(key, "ED25519"))
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "JWS verification key is not an Ed25519 key, "
			    "as %s requires", alg->name);
		return HJ_OK;
	case JOSE_KTY_OCT:
		break;
	}
	return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
	    "JWS %s needs the secret key, which stays in the token: verify "
	    "it with jws_verify_compact_with()", alg->name);
}

/*
 * Converts a raw R||S ECDSA signature (RFC 7518 section 3.4) of exactly
 * twice the field size into the DER form that EVP_DigestVerify expects.
 */
static hj_err
jws_ecdsa_to_der(const struct jose_alg *alg, EVP_PKEY *key, const uint8_t *sig,
    size_t sig_len, uint8_t **derp, size_t *der_lenp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	size_t half = ((size_t)EVP_PKEY_get_bits(key) + 7) / 8;
	ECDSA_SIG *esig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int der_len;

	*derp = NULL;
	*der_lenp = 0;
	if (sig_len != 2 * half || sig_len != alg->signature_len) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS signature: %zu bytes, expected %zu for %s",
		    sig_len, alg->signature_len, alg->name);
		goto out;
	}

	br = BN_bin2bn(sig, (int)half, NULL);
	bs = BN_bin2bn(sig + half, (int)half, NULL);
	esig = ECDSA_SIG_new();
	if (br == NULL || bs == NULL || esig == NULL ||
	    !ECDSA_SIG_set0(esig, br, bs)) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory converting the JWS signature");
		goto out;
	}
	br = bs = NULL;    /* owned by esig */

	der_len = i2d_ECDSA_SIG(esig, &der);
	if (der_len <= 0) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory converting the JWS signature");
		goto out;
	}

	*derp = der;
	*der_lenp = (size_t)der_len;
	r = HJ_OK;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(esig);
	ERR_clear_error();
	return r;
}

/*
 * Sets RSA PKCS#1 v1.5 padding, or PSS with MGF1 of the same hash and a salt
 * as long as the hash (RFC 7518 section 3.5).
 */
static bool
jws_set_rsa_padding(const struct jose_alg *alg, EVP_PKEY_CTX *pctx,
    const EVP_MD *md)
{
	if (!alg->pss)
		return EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) > 0;

	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
}

/*
 * Sets up ctx to verify with key for alg. Ed25519 takes no digest because
 * it hashes the whole input itself (RFC 8032 section 5.1.7).
 */
static bool
jws_evp_verify_init(const struct jose_alg *alg, EVP_PKEY *key,
    EVP_MD_CTX *ctx)
{
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md = NULL;

	if (alg->kty == JOSE_KTY_OKP)
		return EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1;

	md = EVP_get_digestbynid(alg->hash_nid);
	if (md == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) != 1)
		return false;
	return alg->kty != JOSE_KTY_RSA || jws_set_rsa_padding(alg, pctx, md);
}

/* Runs EVP_DigestVerify over input with sig in the form OpenSSL expects. */
static hj_err
jws_evp_verify(const struct jose_alg *alg, EVP_PKEY *key, const uint8_t *input,
    size_t input_len, const uint8_t *sig, size_t sig_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || !jws_evp_verify_init(alg, key, ctx)) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWS verification: OpenSSL could not set up %s",
		    alg->name);
		goto out;
	}

	if (EVP_DigestVerify(ctx, sig, sig_len, input, input_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS signature does not verify with the %s key", alg->name);
		goto out;
	}
	r = HJ_OK;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Verifies the decoded signature over the signing input. */
static hj_err
jws_verify_signature(const struct jose_alg *alg, EVP_PKEY *key,
    const uint8_t *input, size_t input_len, const uint8_t *sig, size_t sig_len,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t *der = NULL;
	size_t der_len = 0;

	if (alg->kty == JOSE_KTY_EC) {
		r = jws_ecdsa_to_der(alg, key, sig, sig_len, &der, &der_len,
		    err);
		if (r != HJ_OK)
			goto out;
		sig = der;
		sig_len = der_len;
	} else if (alg->kty == JOSE_KTY_RSA &&
	    sig_len != (size_t)EVP_PKEY_get_size(key)) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS signature: %zu bytes, expected %d for the %d-bit "
		    "RSA key", sig_len, EVP_PKEY_get_size(key),
		    EVP_PKEY_get_bits(key));
		goto out;
	}

	r = jws_evp_verify(alg, key, input, input_len, sig, sig_len, err);
out:
	OPENSSL_free(der);
	return r;
}

/* A jws_verify_fn over the OpenSSL key of jws_verify_compact(). */
static hj_err
jws_evp_verify_fn(void *verifier, const uint8_t *input, size_t input_len,
    const uint8_t *sig, size_t sig_len, struct hj_error *err)
{
	const struct jws_evp_verifier *evp = verifier;

	return jws_verify_signature(evp->alg, evp->key, input, input_len, sig,
	    sig_len, err);
}

/* Checks the header of the split token, then its signature through verify. */
static hj_err
jws_verify_parts(const struct jose_alg *alg, jws_verify_fn verify,
    void *verifier, const char *token, const struct jws_parts *parts,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t *header = NULL, *sig = NULL;
	size_t header_len = 0, sig_len = 0;

	r = jws_decode_part("header", parts->header, parts->header_len,
	    &header, &header_len, err);
	if (r != HJ_OK)
		goto out;
	r = jws_check_header(header, header_len, alg, err);
	if (r != HJ_OK)
		goto out;

	r = jws_decode_part("signature", parts->signature,
	    parts->signature_len, &sig, &sig_len, err);
	if (r != HJ_OK)
		goto out;
	if (alg->signature_len != 0 && sig_len != alg->signature_len) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS signature: %zu bytes, expected %zu for %s", sig_len,
		    alg->signature_len, alg->name);
		goto out;
	}
	r = verify(verifier, (const uint8_t *)token, parts->signing_input_len,
	    sig, sig_len, err);
out:
	free(header);
	free(sig);
	return r;
}

hj_err
jws_verify_compact(const char *token, size_t token_len,
    const struct jose_alg *alg, EVP_PKEY *key, char **payloadp,
    size_t *payload_lenp, struct hj_error *err)
{
	struct jws_evp_verifier evp = { alg, key };
	hj_err r;

	*payloadp = NULL;
	*payload_lenp = 0;

	r = jws_check_alg(alg, err);
	if (r != HJ_OK)
		return r;
	r = jws_check_key(alg, key, err);
	if (r != HJ_OK)
		return r;
	return jws_verify_compact_with(token, token_len, alg, jws_evp_verify_fn,
	    &evp, payloadp, payload_lenp, err);
}

hj_err
jws_verify_compact_with(const char *token, size_t token_len,
    const struct jose_alg *alg, jws_verify_fn verify, void *verifier,
    char **payloadp, size_t *payload_lenp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct jws_parts parts;
	uint8_t *payload = NULL;
	size_t payload_len = 0;

	*payloadp = NULL;
	*payload_lenp = 0;

	r = jws_check_alg(alg, err);
	if (r != HJ_OK)
		goto out;
	if (verify == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWS verification callback missing");
		goto out;
	}
	r = jws_split(token, token_len, &parts, err);
	if (r != HJ_OK)
		goto out;
	r = jws_verify_parts(alg, verify, verifier, token, &parts, err);
	if (r != HJ_OK)
		goto out;

	r = jws_decode_part("payload", parts.payload, parts.payload_len,
	    &payload, &payload_len, err);
	if (r != HJ_OK)
		goto out;

	*payloadp = (char *)payload;
	*payload_lenp = payload_len;
	payload = NULL;
	r = HJ_OK;
out:
	free(payload);
	return r;
}
