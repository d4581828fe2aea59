/*
 * The Concat KDF of RFC 7518 section 4.6, run as OpenSSL's single-step KDF
 * (SSKDF, NIST SP 800-56A) with SHA-256 and the JWE OtherInfo.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "hsmjwt/buf.h"
#include "hsmjwt/jwe.h"

/* Appends len as a 32-bit big-endian integer. */
static void
concatkdf_append_u32(struct buf *b, uint32_t len)
{
	uint8_t be[4];

	be[0] = (uint8_t)(len >> 24);
	be[1] = (uint8_t)(len >> 16);
	be[2] = (uint8_t)(len >> 8);
	be[3] = (uint8_t)len;
	buf_append(b, be, sizeof(be));
}

/* Appends data with its 32-bit big-endian length in front. */
static void
concatkdf_append_datalen(struct buf *b, const void *data, size_t len)
{
	concatkdf_append_u32(b, (uint32_t)len);
	if (len > 0)
		buf_append(b, data, len);
}

/*
 * Builds OtherInfo: AlgorithmID || PartyUInfo || PartyVInfo, each with its
 * length in front, then SuppPubInfo (the key length in bits). SuppPrivInfo
 * is empty.
 */
static void
concatkdf_other_info(struct buf *b, const char *algorithm_id,
    const uint8_t *apu, size_t apu_len, const uint8_t *apv, size_t apv_len,
    size_t key_len)
{
	concatkdf_append_datalen(b, algorithm_id, strlen(algorithm_id));
	concatkdf_append_datalen(b, apu, apu_len);
	concatkdf_append_datalen(b, apv, apv_len);
	concatkdf_append_u32(b, (uint32_t)(key_len * 8));
}

/* Runs OpenSSL's SSKDF with SHA-256 over z and info into key. */
static hj_err
concatkdf_derive(const uint8_t *z, size_t z_len, const struct buf *info,
    uint8_t *key, size_t key_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)z, z_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    info->data, info->len);
	params[3] = OSSL_PARAM_construct_end();

	if (ctx == NULL || EVP_KDF_derive(ctx, key, key_len, params) != 1) {
		OPENSSL_cleanse(key, key_len);
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "Concat KDF: OpenSSL SSKDF with SHA-256 failed");
		goto out;
	}
	r = HJ_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	ERR_clear_error();
	return r;
}

hj_err
jwe_concat_kdf(const uint8_t *z, size_t z_len, const char *algorithm_id,
    const uint8_t *apu, size_t apu_len, const uint8_t *apv, size_t apv_len,
    uint8_t *key, size_t key_len, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct buf info;

	buf_init(&info);
	if (z == NULL || z_len == 0 || key_len == 0 || algorithm_id == NULL ||
	    apu_len > UINT32_MAX || apv_len > UINT32_MAX ||
	    key_len > UINT32_MAX / 8) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "Concat KDF: the shared secret, the AlgorithmID and a key "
		    "length of 1 to %u bytes are required", UINT32_MAX / 8);
		goto out;
	}

	concatkdf_other_info(&info, algorithm_id, apu, apu_len, apv, apv_len,
	    key_len);
	if (info.failed) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building the Concat KDF OtherInfo");
		goto out;
	}
	r = concatkdf_derive(z, z_len, &info, key, key_len, err);
out:
	buf_clear(&info);
	return r;
}
