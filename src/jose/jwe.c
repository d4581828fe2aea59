/* Compact JWE encryption (RFC 7516 section 5.1 and 7.1). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsmjwt/b64url.h"
#include "jwe_int.h"

/* The key management output for one token. */
struct jwe_keys {
	uint8_t cek[JWE_CEK_MAX];
	size_t cek_len;
	uint8_t encrypted_key[JWE_ENCRYPTED_KEY_MAX];
	size_t encrypted_key_len;
	struct buf epk;            /* the "epk" object, empty unless ECDH-ES */
};

/* Checks that params supply the key that alg needs. */
static hj_err
jwe_check_key_source(const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, struct hj_error *err)
{
	if (alg->mode == JWE_KEY_AES_KW) {
		if (params->wrap == NULL)
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "JWE alg %s needs a wrap callback for the AES key "
			    "in the token", alg->name);
		return HJ_OK;
	}
	if (params->recipient == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE alg %s needs a recipient public key", alg->name);
	if (params->recipient->alg != alg)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE recipient was checked for alg %s, not %s: parse it "
		    "again for %s", params->recipient->alg->name, alg->name,
		    alg->name);
	return HJ_OK;
}

/* Checks the optional members of params for alg and enc. */
static hj_err
jwe_check_options(const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, const struct jwe_enc *enc,
    struct hj_error *err)
{
	if ((params->apu != NULL || params->apv != NULL) &&
	    !jwe_alg_is_ecdh(alg))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE apu and apv apply to ECDH-ES only, not to %s",
		    alg->name);
	if (params->test_cek != NULL && alg->mode == JWE_KEY_ECDH_DIRECT)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE test_cek cannot be used with ECDH-ES, whose CEK is "
		    "the agreed key");
	if (params->test_cek != NULL && params->test_cek_len != enc->key_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE test_cek must be %zu bytes for %s", enc->key_len,
		    enc->name);
	if (params->test_iv != NULL && params->test_iv_len != enc->iv_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE test_iv must be %zu bytes for %s", enc->iv_len,
		    enc->name);
	return HJ_OK;
}

/* Looks up alg and enc and checks every member of params. */
static hj_err
jwe_check_params(const struct jwe_encrypt_params *params,
    const struct jwe_alg **algp, const struct jwe_enc **encp,
    struct hj_error *err)
{
	hj_err r;

	r = jwe_alg_lookup(params->alg, algp, err);
	if (r != HJ_OK)
		return r;
	r = jwe_enc_lookup(params->enc, encp, err);
	if (r != HJ_OK)
		return r;
	r = jwe_check_key_source(params, *algp, err);
	if (r != HJ_OK)
		return r;
	return jwe_check_options(params, *algp, *encp, err);
}

/* Fills out with len bytes from test_value or, when it is NULL, the CSPRNG. */
static hj_err
jwe_random(uint8_t *out, size_t len, const uint8_t *test_value, bool secret,
    struct hj_error *err)
{
	int ok;

	if (test_value != NULL) {
		memcpy(out, test_value, len);
		return HJ_OK;
	}
	ok = secret ? RAND_priv_bytes(out, (int)len) : RAND_bytes(out, (int)len);
	if (ok != 1) {
		ERR_clear_error();
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "OpenSSL CSPRNG failed to produce %zu bytes", len);
	}
	return HJ_OK;
}

/* Generates an ephemeral key pair on the recipient's curve. */
static hj_err
jwe_ephemeral_key(const struct jwe_curve *curve, EVP_PKEY **pkeyp,
    struct hj_error *err)
{
	if (curve->group_name != NULL)
		*pkeyp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve->group_name);
	else
		*pkeyp = EVP_PKEY_Q_keygen(NULL, NULL, curve->key_type);
	if (*pkeyp == NULL) {
		ERR_clear_error();
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "OpenSSL could not generate an ephemeral %s key",
		    curve->crv);
	}
	return HJ_OK;
}

/*
 * Agrees key_len bytes with the recipient by ECDH-ES: a new ephemeral key,
 * Z, then the Concat KDF with algorithm_id. Appends the ephemeral public
 * key to keys->epk.
 */
static hj_err
jwe_agree(const struct jwe_encrypt_params *params, const char *algorithm_id,
    struct jwe_keys *keys, uint8_t *key, size_t key_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_recipient *recipient = params->recipient;
	uint8_t z[JWE_ECDH_SECRET_MAX];
	size_t z_len = sizeof(z);
	EVP_PKEY *ephemeral = NULL;

	r = jwe_ephemeral_key(recipient->curve, &ephemeral, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_ecdh_derive(ephemeral, recipient->pkey, z, &z_len, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_concat_kdf(z, z_len, algorithm_id, params->apu,
	    params->apu_len, params->apv, params->apv_len, key, key_len, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_append_epk(&keys->epk, ephemeral, recipient->curve, err);
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_free(ephemeral);
	return r;
}

/* Wraps keys->cek with the AES key of the token through the callback. */
static hj_err
jwe_wrap_with_callback(const struct jwe_encrypt_params *params,
    struct jwe_keys *keys, struct hj_error *err)
{
	hj_err r;

	keys->encrypted_key_len = JWE_CEK_MAX + JWE_KW_OVERHEAD;
	r = params->wrap(params->wrap_ctx, keys->cek, keys->cek_len,
	    keys->encrypted_key, &keys->encrypted_key_len, err);
	if (r != HJ_OK)
		return r;
	if (keys->encrypted_key_len != keys->cek_len + JWE_KW_OVERHEAD)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWE wrap callback returned %zu bytes, expected %zu",
		    keys->encrypted_key_len, keys->cek_len + JWE_KW_OVERHEAD);
	return HJ_OK;
}

/*
 * Agrees a key-encryption key with the recipient by ECDH-ES and wraps
 * keys->cek with it (ECDH-ES+A128KW, +A192KW, +A256KW).
 */
static hj_err
jwe_agree_and_wrap(const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, struct jwe_keys *keys, struct hj_error *err)
{
	uint8_t kek[JWE_CEK_MAX];
	hj_err r;

	r = jwe_agree(params, alg->name, keys, kek, alg->kw_key_len, err);
	if (r == HJ_OK)
		r = jwe_aes_kw_wrap(kek, alg->kw_key_len, keys->cek,
		    keys->cek_len, keys->encrypted_key,
		    &keys->encrypted_key_len, err);
	OPENSSL_cleanse(kek, sizeof(kek));
	return r;
}

/* Produces the CEK and, except for ECDH-ES, its encrypted form. */
static hj_err
jwe_manage_key(const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, const struct jwe_enc *enc,
    struct jwe_keys *keys, struct hj_error *err)
{
	hj_err r;

	keys->cek_len = enc->key_len;
	if (alg->mode == JWE_KEY_ECDH_DIRECT)
		return jwe_agree(params, enc->name, keys, keys->cek,
		    keys->cek_len, err);

	r = jwe_random(keys->cek, keys->cek_len, params->test_cek, true, err);
	if (r != HJ_OK)
		return r;
	keys->encrypted_key_len = sizeof(keys->encrypted_key);
	switch (alg->mode) {
	case JWE_KEY_RSA_OAEP:
		return jwe_rsa_oaep_encrypt(params->recipient->pkey,
		    alg->oaep_digest, keys->cek, keys->cek_len,
		    keys->encrypted_key, &keys->encrypted_key_len, err);
	case JWE_KEY_ECDH_KW:
		return jwe_agree_and_wrap(params, alg, keys, err);
	case JWE_KEY_AES_KW:
		return jwe_wrap_with_callback(params, keys, err);
	case JWE_KEY_ECDH_DIRECT:
		break;
	}
	return hj_error_set(err, HJ_ERR_INTERNAL,
	    "JWE alg %s has no key management step", alg->name);
}

/* Appends ,"name":"base64url(data)" to b. */
static void
jwe_append_b64url_member(struct buf *b, const char *name, const uint8_t *data,
    size_t len)
{
	char *text = NULL;

	if (b64url_encode(data, len, &text) != HJ_OK) {
		b->failed = true;
		return;
	}
	buf_appendf(b, ",\"%s\":\"%s\"", name, text);
	free(text);
}

/* Builds the protected header JSON in its fixed member order. */
static void
jwe_build_header(struct buf *b, const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, const struct jwe_enc *enc,
    const struct jwe_keys *keys)
{
	const char *kid = alg->mode == JWE_KEY_AES_KW ? params->wrap_kid :
	    jwe_recipient_kid(params->recipient);

	buf_appendf(b, "{\"alg\":\"%s\",\"enc\":\"%s\"", alg->name, enc->name);
	if (params->cty != NULL) {
		buf_append_str(b, ",\"cty\":");
		buf_append_json_string(b, params->cty, strlen(params->cty));
	}
	if (kid != NULL) {
		buf_append_str(b, ",\"kid\":");
		buf_append_json_string(b, kid, strlen(kid));
	}
	if (keys->epk.len > 0) {
		buf_append_str(b, ",\"epk\":");
		buf_append(b, keys->epk.data, keys->epk.len);
	}
	if (params->apu != NULL)
		jwe_append_b64url_member(b, "apu", params->apu, params->apu_len);
	if (params->apv != NULL)
		jwe_append_b64url_member(b, "apv", params->apv, params->apv_len);
	buf_append(b, "}", 1);
}

/* Appends "." and the base64url encoding of data to b. */
static void
jwe_append_part(struct buf *b, const uint8_t *data, size_t len)
{
	char *text = NULL;

	buf_append(b, ".", 1);
	if (b64url_encode(data, len, &text) != HJ_OK) {
		b->failed = true;
		return;
	}
	buf_append_str(b, text);
	free(text);
}

/*
 * Appends the encoded protected header to token. Its text is the AAD of
 * the content encryption.
 */
static hj_err
jwe_append_header(struct buf *token, const struct jwe_encrypt_params *params,
    const struct jwe_alg *alg, const struct jwe_enc *enc,
    const struct jwe_keys *keys, struct hj_error *err)
{
	struct buf header;
	char *text = NULL;
	bool ok = false;

	buf_init(&header);
	jwe_build_header(&header, params, alg, enc, keys);
	if (!keys->epk.failed && !header.failed &&
	    b64url_encode((const uint8_t *)header.data, header.len,
	    &text) == HJ_OK) {
		buf_append_str(token, text);
		ok = !token->failed;
		free(text);
	}
	buf_clear(&header);

	if (!ok)
		return hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building the JWE header");
	return HJ_OK;
}

/* Encrypts plaintext and appends the last four parts to token. */
static hj_err
jwe_append_content(struct buf *token, const struct jwe_encrypt_params *params,
    const struct jwe_enc *enc, const struct jwe_keys *keys,
    const uint8_t *plaintext, size_t plaintext_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct jwe_content_params content;
	uint8_t iv[16], tag[JWE_TAG_MAX];
	uint8_t *ciphertext = NULL;
	size_t ciphertext_len = 0, tag_len = 0;

	r = jwe_random(iv, enc->iv_len, params->test_iv, false, err);
	if (r != HJ_OK)
		goto out;

	memset(&content, 0, sizeof(content));
	content.cek = keys->cek;
	content.cek_len = keys->cek_len;
	content.iv = iv;
	content.iv_len = enc->iv_len;
	content.aad = (const uint8_t *)token->data;
	content.aad_len = token->len;
	r = jwe_content_encrypt(enc->name, &content, plaintext, plaintext_len,
	    &ciphertext, &ciphertext_len, tag, &tag_len, err);
	if (r != HJ_OK)
		goto out;

	jwe_append_part(token, keys->encrypted_key, keys->encrypted_key_len);
	jwe_append_part(token, iv, enc->iv_len);
	jwe_append_part(token, ciphertext, ciphertext_len);
	jwe_append_part(token, tag, tag_len);
	r = HJ_OK;
out:
	free(ciphertext);
	return r;
}

hj_err
jwe_encrypt_compact(const struct jwe_encrypt_params *params,
    const uint8_t *plaintext, size_t plaintext_len, char **tokenp,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_alg *alg = NULL;
	const struct jwe_enc *enc = NULL;
	struct jwe_keys keys;
	struct buf token;

	*tokenp = NULL;
	memset(&keys, 0, sizeof(keys));
	buf_init(&keys.epk);
	buf_init(&token);

	r = jwe_check_params(params, &alg, &enc, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_manage_key(params, alg, enc, &keys, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_append_header(&token, params, alg, enc, &keys, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_append_content(&token, params, enc, &keys, plaintext,
	    plaintext_len, err);
	if (r != HJ_OK)
		goto out;

	if (buf_finish(&token, tokenp, NULL) != HJ_OK) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building the JWE");
		goto out;
	}
	r = HJ_OK;
out:
	OPENSSL_cleanse(keys.cek, sizeof(keys.cek));
	buf_clear(&keys.epk);
	buf_clear(&token);
	return r;
}
