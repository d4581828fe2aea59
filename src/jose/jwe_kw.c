/*
 * JWE key management primitives in software: RSA-OAEP encryption to a
 * public key (RFC 7518 section 4.3), AES key wrap (section 4.4, RFC 3394)
 * and ECDH key agreement (section 4.6).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jwe_int.h"

hj_err
jwe_rsa_oaep_encrypt(EVP_PKEY *pkey, const char *digest, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	size_t need = 0;

	if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, digest, NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, digest, NULL) != 1 ||
	    EVP_PKEY_encrypt(ctx, NULL, &need, in, in_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "RSA-OAEP with %s: OpenSSL could not set up the encryption",
		    digest);
		goto out;
	}
	if (need > *out_len) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "RSA-OAEP: the %zu-byte encrypted key exceeds the maximum "
		    "of %zu bytes", need, *out_len);
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "RSA-OAEP with %s: OpenSSL encryption failed", digest);
		goto out;
	}
	r = HJ_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Returns the AES key wrap cipher for a key of kek_len bytes, or NULL. */
static const EVP_CIPHER *
jwe_aes_kw_cipher(size_t kek_len)
{
	switch (kek_len) {
	case 16: return EVP_aes_128_wrap();
	case 24: return EVP_aes_192_wrap();
	case 32: return EVP_aes_256_wrap();
	}
	return NULL;
}

/*
 * Runs AES key wrap (encrypt 1) or unwrap (encrypt 0) with the default
 * initial value A6A6A6A6A6A6A6A6. Unwrap fails when the integrity check
 * does not match.
 */
static hj_err
jwe_aes_kw(int encrypt, const uint8_t *kek, size_t kek_len, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const EVP_CIPHER *cipher = jwe_aes_kw_cipher(kek_len);
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, final_len = 0;

	*out_len = 0;
	if (cipher == NULL || in_len < 16 || in_len % 8 != 0 ||
	    in_len > JWE_CEK_MAX + JWE_KW_OVERHEAD) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "AES key wrap: a %zu-byte key and %zu bytes of input are "
		    "not valid", kek_len, in_len);
		goto out;
	}

	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory for AES key wrap");
		goto out;
	}
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, encrypt) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + n, &final_len) != 1) {
		r = hj_error_set(err, encrypt ? HJ_ERR_INTERNAL :
		    HJ_ERR_INVALID_ARGUMENT, encrypt ?
		    "AES key wrap: OpenSSL failed" :
		    "AES key unwrap: the integrity check failed");
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
jwe_aes_kw_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	/* Unwrapping checks the output length; wrapping needs it checked here. */
	if (in_len < 16 || in_len > JWE_CEK_MAX) {
		*out_len = 0;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "AES key wrap: a %zu-byte CEK is not valid", in_len);
	}
	return jwe_aes_kw(1, kek, kek_len, in, in_len, out, out_len, err);
}

hj_err
jwe_aes_kw_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	if (in_len < 16 + JWE_KW_OVERHEAD) {
		*out_len = 0;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "AES key unwrap: %zu bytes of input are too short", in_len);
	}
	return jwe_aes_kw(0, kek, kek_len, in, in_len, out, out_len, err);
}

hj_err
jwe_ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z, size_t *z_len,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	size_t need = 0;

	/* OpenSSL rejects an all-zero X25519 result (RFC 7748 section 6.1). */
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1 ||
	    EVP_PKEY_derive(ctx, NULL, &need) != 1 || need > *z_len ||
	    EVP_PKEY_derive(ctx, z, z_len) != 1) {
		OPENSSL_cleanse(z, *z_len);
		*z_len = 0;
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "ECDH key agreement failed");
		goto out;
	}
	r = HJ_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
