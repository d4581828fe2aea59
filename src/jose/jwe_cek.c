/*
 * JWE content encryption: AES-GCM (RFC 7518 section 5.3) and
 * AES-CBC with HMAC-SHA-2 (RFC 7518 section 5.2).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "jwe_int.h"

/* Largest plaintext, ciphertext or AAD that the int-based EVP calls take. */
#define JWE_CONTENT_MAX ((size_t)INT_MAX - 64)

/* AES block length, which CBC padding adds at most. */
#define JWE_AES_BLOCK 16

/* Maximum HMAC output: SHA-512. */
#define JWE_HMAC_MAX 64

/* Looks up enc and checks the lengths in params and of the content. */
static hj_err
jwe_content_check(const char *enc_name, const struct jwe_content_params *p,
    size_t content_len, const struct jwe_enc **encp, struct hj_error *err)
{
	const struct jwe_enc *enc;
	hj_err r;

	*encp = NULL;
	r = jwe_enc_lookup(enc_name, &enc, err);
	if (r != HJ_OK)
		return r;
	if (p->cek == NULL || p->cek_len != enc->key_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the CEK must be %zu bytes, got %zu", enc->name,
		    enc->key_len, p->cek == NULL ? 0 : p->cek_len);
	if (p->iv == NULL || p->iv_len != enc->iv_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the IV must be %zu bytes, got %zu", enc->name,
		    enc->iv_len, p->iv == NULL ? 0 : p->iv_len);
	if ((p->aad == NULL && p->aad_len != 0) ||
	    p->aad_len > JWE_CONTENT_MAX || content_len > JWE_CONTENT_MAX)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the content and the AAD must each be below %zu "
		    "bytes", enc->name, JWE_CONTENT_MAX);
	*encp = enc;
	return HJ_OK;
}

/* Runs AES-GCM over in; on decryption, tag is the expected tag. */
static hj_err
jwe_gcm(const struct jwe_enc *enc, const struct jwe_content_params *p,
    int encrypt, const uint8_t *in, size_t in_len, uint8_t *out,
    uint8_t *tag, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, final_len = 0;

	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, enc->cipher(), NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)p->iv_len,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, p->cek, p->iv, encrypt) != 1 ||
	    (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
	    (int)enc->tag_len, tag) != 1) ||
	    EVP_CipherUpdate(ctx, NULL, &n, p->aad, (int)p->aad_len) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWE %s: OpenSSL AES-GCM failed", enc->name);
		goto out;
	}

	if (EVP_CipherFinal_ex(ctx, out + n, &final_len) != 1) {
		r = hj_error_set(err, encrypt ? HJ_ERR_INTERNAL :
		    HJ_ERR_INVALID_ARGUMENT, encrypt ?
		    "JWE %s: OpenSSL AES-GCM failed" :
		    "JWE %s: the authentication tag does not match", enc->name);
		goto out;
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    (int)enc->tag_len, tag) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWE %s: OpenSSL could not return the GCM tag", enc->name);
		goto out;
	}
	r = HJ_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * Computes the CBC-HS tag: the first tag_len bytes of
 * HMAC(MAC_KEY, AAD || IV || ciphertext || AL), where MAC_KEY is the first
 * half of the CEK and AL the AAD length in bits as a 64-bit big-endian
 * integer.
 */
static hj_err
jwe_cbc_hs_tag(const struct jwe_enc *enc, const struct jwe_content_params *p,
    const uint8_t *ciphertext, size_t ciphertext_len, uint8_t *tag,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint64_t aad_bits = (uint64_t)p->aad_len * 8;
	uint8_t al[8], mac[JWE_HMAC_MAX];
	size_t mac_len = 0;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
	OSSL_PARAM params[2];
	int i;

	for (i = 0; i < 8; i++)
		al[i] = (uint8_t)(aad_bits >> (56 - 8 * i));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)enc->hmac_digest, 0);
	params[1] = OSSL_PARAM_construct_end();

	if (ctx == NULL ||
	    EVP_MAC_init(ctx, p->cek, enc->key_len / 2, params) != 1 ||
	    EVP_MAC_update(ctx, p->aad, p->aad_len) != 1 ||
	    EVP_MAC_update(ctx, p->iv, p->iv_len) != 1 ||
	    EVP_MAC_update(ctx, ciphertext, ciphertext_len) != 1 ||
	    EVP_MAC_update(ctx, al, sizeof(al)) != 1 ||
	    EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) != 1 ||
	    mac_len != 2 * enc->tag_len) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWE %s: OpenSSL HMAC-%s failed", enc->name,
		    enc->hmac_digest);
		goto out;
	}
	memcpy(tag, mac, enc->tag_len);
	r = HJ_OK;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	ERR_clear_error();
	return r;
}

/*
 * Runs AES-CBC with PKCS#7 padding over in with ENC_KEY, the second half of
 * the CEK. *out_len receives the output length.
 */
static hj_err
jwe_cbc(const struct jwe_enc *enc, const struct jwe_content_params *p,
    int encrypt, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, final_len = 0;

	*out_len = 0;
	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, enc->cipher(), NULL,
	    p->cek + enc->key_len / 2, p->iv, encrypt) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "JWE %s: OpenSSL AES-CBC failed", enc->name);
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, out + n, &final_len) != 1) {
		r = hj_error_set(err, encrypt ? HJ_ERR_INTERNAL :
		    HJ_ERR_INVALID_ARGUMENT, encrypt ?
		    "JWE %s: OpenSSL AES-CBC failed" :
		    "JWE %s: invalid CBC padding", enc->name);
		goto out;
	}
	*out_len = (size_t)n + (size_t)final_len;
	r = HJ_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

hj_err
jwe_content_encrypt(const char *enc_name, const struct jwe_content_params *p,
    const uint8_t *plaintext, size_t plaintext_len, uint8_t **ciphertextp,
    size_t *ciphertext_lenp, uint8_t *tag, size_t *tag_lenp,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_enc *enc = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0;

	*ciphertextp = NULL;
	*ciphertext_lenp = 0;
	*tag_lenp = 0;
	r = jwe_content_check(enc_name, p, plaintext_len, &enc, err);
	if (r != HJ_OK)
		goto out;

	out = malloc(plaintext_len + JWE_AES_BLOCK);
	if (out == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory encrypting %zu bytes", plaintext_len);
		goto out;
	}

	if (enc->gcm) {
		r = jwe_gcm(enc, p, 1, plaintext, plaintext_len, out, tag, err);
		out_len = plaintext_len;
	} else {
		r = jwe_cbc(enc, p, 1, plaintext, plaintext_len, out, &out_len,
		    err);
		if (r == HJ_OK)
			r = jwe_cbc_hs_tag(enc, p, out, out_len, tag, err);
	}
	if (r != HJ_OK)
		goto out;

	*ciphertextp = out;
	*ciphertext_lenp = out_len;
	*tag_lenp = enc->tag_len;
	out = NULL;
	r = HJ_OK;
out:
	free(out);
	return r;
}

/* Checks that the received tag has the length that enc produces. */
static hj_err
jwe_tag_check(const struct jwe_enc *enc, const uint8_t *tag, size_t tag_len,
    struct hj_error *err)
{
	if (tag == NULL || tag_len != enc->tag_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the tag must be %zu bytes, got %zu", enc->name,
		    enc->tag_len, tag == NULL ? 0 : tag_len);
	return HJ_OK;
}

/* Verifies the CBC-HS tag in constant time, then decrypts. */
static hj_err
jwe_cbc_hs_decrypt(const struct jwe_enc *enc,
    const struct jwe_content_params *p, const uint8_t *ciphertext,
    size_t ciphertext_len, const uint8_t *tag, uint8_t *out, size_t *out_len,
    struct hj_error *err)
{
	uint8_t expected[JWE_TAG_MAX];
	hj_err r;

	*out_len = 0;
	r = jwe_cbc_hs_tag(enc, p, ciphertext, ciphertext_len, expected, err);
	if (r != HJ_OK)
		return r;

	if (CRYPTO_memcmp(expected, tag, enc->tag_len) != 0) {
		OPENSSL_cleanse(expected, sizeof(expected));
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the authentication tag does not match", enc->name);
	}
	OPENSSL_cleanse(expected, sizeof(expected));

	if (ciphertext_len == 0 || ciphertext_len % JWE_AES_BLOCK != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE %s: the ciphertext is %zu bytes, not a positive "
		    "multiple of %d", enc->name, ciphertext_len, JWE_AES_BLOCK);
	return jwe_cbc(enc, p, 0, ciphertext, ciphertext_len, out, out_len,
	    err);
}

hj_err
jwe_content_decrypt(const char *enc_name, const struct jwe_content_params *p,
    const uint8_t *ciphertext, size_t ciphertext_len, const uint8_t *tag,
    size_t tag_len, uint8_t **plaintextp, size_t *plaintext_lenp,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_enc *enc = NULL;
	uint8_t *out = NULL;
	size_t out_len = 0, out_cap = 0;

	*plaintextp = NULL;
	*plaintext_lenp = 0;
	r = jwe_content_check(enc_name, p, ciphertext_len, &enc, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_tag_check(enc, tag, tag_len, err);
	if (r != HJ_OK)
		goto out;

	out_cap = ciphertext_len + JWE_AES_BLOCK + 1;
	out = malloc(out_cap);
	if (out == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory decrypting %zu bytes", ciphertext_len);
		goto out;
	}

	if (enc->gcm) {
		r = jwe_gcm(enc, p, 0, ciphertext, ciphertext_len, out,
		    (uint8_t *)tag, err);
		out_len = ciphertext_len;
	} else {
		r = jwe_cbc_hs_decrypt(enc, p, ciphertext, ciphertext_len, tag,
		    out, &out_len, err);
	}
	if (r != HJ_OK)
		goto out;

	out[out_len] = '\0';
	*plaintextp = out;
	*plaintext_lenp = out_len;
	out = NULL;
	r = HJ_OK;
out:
	if (out != NULL)
		OPENSSL_clear_free(out, out_cap);
	return r;
}
