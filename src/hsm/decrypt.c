/*
 * RSAES-OAEP decryption with an RSA key in the token, and the probe that
 * finds out which OAEP hashes the token supports.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "hsm_int.h"

/* Length of the random block that hsm_oaep_supported() encrypts. */
#define HSM_OAEP_PROBE_LEN 32

/* One message for every rejected ciphertext, so that none is an oracle. */
#define HSM_OAEP_REJECTED_FMT "RSA-OAEP decryption with key \"%s\" " \
	"failed: the ciphertext is invalid or was encrypted to another key"

/* The OAEP hashes of RFC 7518 section 4.3, with their PKCS#11 names. */
static const struct hsm_oaep_hash {
	int nid;
	const char *jwe_alg;
	const char *name;
	CK_MECHANISM_TYPE mechanism;
	CK_RSA_PKCS_MGF_TYPE mgf;
} hsm_oaep_hashes[] = {
	{ NID_sha1, "RSA-OAEP", "SHA-1", CKM_SHA_1, CKG_MGF1_SHA1 },
	{ NID_sha256, "RSA-OAEP-256", "SHA-256", CKM_SHA256, CKG_MGF1_SHA256 },
};

/* One C_DecryptInit and C_Decrypt, and what the token made of them. */
struct hsm_decrypt_ctx {
	CK_MECHANISM mechanism;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_OBJECT_HANDLE handle;
	const uint8_t *in;
	CK_ULONG in_len;
	uint8_t plain[HSM_RSA_MODULUS_MAX];
	CK_ULONG plain_len;
	bool unsupported;      /* C_DecryptInit rejected the mechanism */
	bool rejected;         /* C_Decrypt rejected the ciphertext */
};

static const struct hsm_oaep_hash *
hsm_oaep_hash_find(int nid)
{
	size_t i;

	for (i = 0; i < sizeof(hsm_oaep_hashes) / sizeof(hsm_oaep_hashes[0]);
	    i++) {
		if (hsm_oaep_hashes[i].nid == nid)
			return &hsm_oaep_hashes[i];
	}
	return NULL;
}

/* Returns true for the CK_RV of a token that rejects OAEP with this hash. */
static bool
hsm_rv_is_mechanism_rejected(CK_RV rv)
{
	return rv == CKR_MECHANISM_INVALID ||
	    rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD;
}

/*
 * Returns true for the CK_RV of a C_Decrypt that rejected the ciphertext.
 * SoftHSM 2.6.1 returns CKR_GENERAL_ERROR for a ciphertext that fails the
 * OAEP check or has the wrong length. That code and CKR_FUNCTION_FAILED
 * therefore count as rejections here, not as a lost token, because
 * HJ_ERR_UNAVAILABLE would tell a caller which ciphertexts pass the check.
 */
static bool
hsm_rv_is_ciphertext_rejected(CK_RV rv)
{
	switch (rv) {
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_GENERAL_ERROR:
	case CKR_FUNCTION_FAILED:
		return true;
	default:
		return false;
	}
}

static CK_RV
hsm_decrypt_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_decrypt_ctx *ctx = arg;
	CK_RV rv;

	ctx->unsupported = false;
	ctx->rejected = false;
	ctx->plain_len = 0;

	*callp = "C_DecryptInit";
	rv = hsm->p11->C_DecryptInit(session, &ctx->mechanism, ctx->handle);
	if (rv != CKR_OK) {
		ctx->unsupported = hsm_rv_is_mechanism_rejected(rv);
		return rv;
	}

	/*
	 * The plaintext buffer has room for the whole modulus, because
	 * SoftHSM 2.6.1 returns CKR_BUFFER_TOO_SMALL for anything shorter.
	 * C_Decrypt ends the operation on every other failure, so a rejected
	 * ciphertext leaves the session clean.
	 */
	*callp = "C_Decrypt";
	ctx->plain_len = sizeof(ctx->plain);
	rv = hsm->p11->C_Decrypt(session, (CK_BYTE_PTR)ctx->in, ctx->in_len,
	    ctx->plain, &ctx->plain_len);
	if (rv != CKR_OK)
		ctx->plain_len = 0;
	if (hsm_rv_is_ciphertext_rejected(rv)) {
		ctx->rejected = true;
		return CKR_OK;
	}
	return rv;
}

/*
 * Decrypts in with key in the token. Returns HJ_OK when the token
 * completed the call: with the plaintext in ctx, or with ctx->rejected or
 * ctx->unsupported set. Any other failure is an error.
 */
static hj_err
hsm_oaep_run(struct hsm *hsm, const struct hsm_key *key,
    const struct hsm_oaep_hash *hash, const uint8_t *in, size_t in_len,
    struct hsm_decrypt_ctx *ctx, struct hj_error *err)
{
	char action[HSM_LABEL_MAX + 64];
	hj_err r;

	ctx->oaep.hashAlg = hash->mechanism;
	ctx->oaep.mgf = hash->mgf;
	ctx->oaep.source = CKZ_DATA_SPECIFIED;
	ctx->oaep.pSourceData = NULL;
	ctx->oaep.ulSourceDataLen = 0;
	ctx->mechanism.mechanism = CKM_RSA_PKCS_OAEP;
	ctx->mechanism.pParameter = &ctx->oaep;
	ctx->mechanism.ulParameterLen = sizeof(ctx->oaep);
	ctx->handle = key->private_handle;
	ctx->in = in;
	ctx->in_len = in_len;

	snprintf(action, sizeof(action), "decrypting with key \"%s\"",
	    key->label);
	r = hsm_session_run(hsm, action, hsm_decrypt_run, ctx, err);
	if (ctx->unsupported) {
		hj_error_clear(err);
		return HJ_OK;
	}
	return r;
}

/* Checks that key is an RSA key and hash_nid an OAEP hash. */
static hj_err
hsm_oaep_check(const struct hsm_key *key, int hash_nid,
    const struct hsm_oaep_hash **hashp, struct hj_error *err)
{
	*hashp = hsm_oaep_hash_find(hash_nid);
	if (*hashp == NULL) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "hash NID %d is not "
		    "an RSA-OAEP hash: use NID_sha1 or NID_sha256", hash_nid);
	}
	if (key->kty != JOSE_KTY_RSA || key->rsa_n_len == 0 ||
	    key->rsa_n_len > HSM_RSA_MODULUS_MAX) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "key \"%s\" is not an "
		    "RSA key with a modulus: RSA-OAEP needs one", key->label);
	}
	return HJ_OK;
}

static hj_err
hsm_oaep_unsupported(const struct hsm_oaep_hash *hash, struct hj_error *err)
{
	return hj_error_set(err, HJ_ERR_FAILED_PRECONDITION, "the token does "
	    "not support %s (OAEP with %s): use %s with this token",
	    hash->jwe_alg, hash->name, hash->nid == NID_sha1 ?
	    "another token" : "RSA-OAEP (OAEP with SHA-1)");
}

hj_err
hsm_rsa_oaep_decrypt(struct hsm *hsm, const struct hsm_key *key,
    int hash_nid, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len, struct hj_error *err)
{
	const struct hsm_oaep_hash *hash;
	struct hsm_decrypt_ctx ctx;
	size_t cap = *out_len;
	hj_err r = HJ_ERR_INTERNAL;

	*out_len = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = hsm_oaep_check(key, hash_nid, &hash, err)) != HJ_OK)
		goto out;

	/* A ciphertext has the modulus length (RFC 8017 section 7.1.2). */
	if (in_len != key->rsa_n_len) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    HSM_OAEP_REJECTED_FMT, key->label);
		goto out;
	}
	if ((r = hsm_oaep_run(hsm, key, hash, in, in_len, &ctx, err)) !=
	    HJ_OK)
		goto out;

	if (ctx.unsupported) {
		r = hsm_oaep_unsupported(hash, err);
		goto out;
	}
	if (ctx.rejected || ctx.plain_len > sizeof(ctx.plain) ||
	    ctx.plain_len > cap) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    HSM_OAEP_REJECTED_FMT, key->label);
		goto out;
	}
	memcpy(out, ctx.plain, ctx.plain_len);
	*out_len = ctx.plain_len;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}

/* Builds an OpenSSL public key from the modulus and exponent of key. */
static EVP_PKEY *
hsm_rsa_public_pkey(const struct hsm_key *key)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = BN_bin2bn(key->rsa_n, (int)key->rsa_n_len, NULL);
	BIGNUM *e = BN_bin2bn(key->rsa_e, (int)key->rsa_e_len, NULL);

	if (bld == NULL || n == NULL || e == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (params != NULL && pctx != NULL &&
	    EVP_PKEY_fromdata_init(pctx) == 1)
		(void)EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY,
		    params);
out:
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/*
 * Encrypts block to key's public half with OpenSSL, by RSAES-OAEP with
 * hash for the label hash and MGF1. *out_len is the capacity of out on
 * entry, the ciphertext length on success.
 */
static hj_err
hsm_oaep_encrypt_soft(const struct hsm_key *key,
    const struct hsm_oaep_hash *hash, const uint8_t *block, size_t block_len,
    uint8_t *out, size_t *out_len, struct hj_error *err)
{
	const EVP_MD *md = EVP_get_digestbynid(hash->nid);
	EVP_PKEY *pkey = hsm_rsa_public_pkey(key);
	EVP_PKEY_CTX *pctx = NULL;
	hj_err r = HJ_ERR_INTERNAL;

	if (md == NULL || pkey == NULL ||
	    (pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
	    EVP_PKEY_encrypt(pctx, out, out_len, block, block_len) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "encrypting the %s probe "
		    "to the public key of \"%s\" with OpenSSL failed",
		    hash->jwe_alg, key->label);
		goto out;
	}
	r = HJ_OK;
out:
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	return r;
}

hj_err
hsm_oaep_supported(struct hsm *hsm, const struct hsm_key *key, int hash_nid,
    bool *supported, struct hj_error *err)
{
	const struct hsm_oaep_hash *hash;
	struct hsm_decrypt_ctx ctx;
	uint8_t block[HSM_OAEP_PROBE_LEN], encrypted[HSM_RSA_MODULUS_MAX];
	size_t encrypted_len = sizeof(encrypted);
	hj_err r = HJ_ERR_INTERNAL;

	*supported = false;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = hsm_oaep_check(key, hash_nid, &hash, err)) != HJ_OK)
		goto out;
	if (RAND_bytes(block, sizeof(block)) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "RAND_bytes failed to "
		    "make the OAEP probe");
		goto out;
	}
	if ((r = hsm_oaep_encrypt_soft(key, hash, block, sizeof(block),
	    encrypted, &encrypted_len, err)) != HJ_OK)
		goto out;
	if ((r = hsm_oaep_run(hsm, key, hash, encrypted, encrypted_len, &ctx,
	    err)) != HJ_OK)
		goto out;

	*supported = !ctx.unsupported && !ctx.rejected &&
	    ctx.plain_len == sizeof(block) &&
	    CRYPTO_memcmp(ctx.plain, block, sizeof(block)) == 0;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	OPENSSL_cleanse(block, sizeof(block));
	return r;
}
