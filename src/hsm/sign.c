/*
 * Signing the JWS signing input with a key in the token, and verifying a
 * signature in the token (for HMAC keys, whose secret never leaves it).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "hsm_int.h"

/* The PKCS#11 names of a hash, for RSASSA-PSS parameters. */
static const struct hsm_hash {
	int nid;
	CK_MECHANISM_TYPE mechanism;
	CK_RSA_PKCS_MGF_TYPE mgf;
	CK_ULONG len;
} hsm_hashes[] = {
	{ NID_sha256, CKM_SHA256, CKG_MGF1_SHA256, 32 },
	{ NID_sha384, CKM_SHA384, CKG_MGF1_SHA384, 48 },
	{ NID_sha512, CKM_SHA512, CKG_MGF1_SHA512, 64 },
};

/* One C_Sign or C_Verify operation. */
struct hsm_sign_ctx {
	CK_MECHANISM mechanism;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_OBJECT_HANDLE handle;
	const uint8_t *input;              /* data, or digest where prehashed */
	CK_ULONG input_len;
	uint8_t digest[EVP_MAX_MD_SIZE];

	/* hsm_sign(): the output buffer. */
	uint8_t *sig;
	CK_ULONG sig_cap;
	CK_ULONG sig_len;

	/* hsm_verify(): the signature to check and the token's verdict. */
	const uint8_t *check;
	CK_ULONG check_len;
	bool valid;
};

static const struct hsm_hash *
hsm_hash_find(int nid)
{
	size_t i;

	for (i = 0; i < sizeof(hsm_hashes) / sizeof(hsm_hashes[0]); i++) {
		if (hsm_hashes[i].nid == nid)
			return &hsm_hashes[i];
	}
	return NULL;
}

static CK_RV
hsm_sign_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_sign_ctx *ctx = arg;
	CK_RV rv;

	*callp = "C_SignInit";
	rv = hsm->p11->C_SignInit(session, &ctx->mechanism, ctx->handle);
	if (rv != CKR_OK)
		return rv;

	/* One call with the whole buffer, whose capacity hsm_sign() checked. */
	*callp = "C_Sign";
	ctx->sig_len = ctx->sig_cap;
	return hsm->p11->C_Sign(session, (CK_BYTE_PTR)ctx->input,
	    ctx->input_len, ctx->sig, &ctx->sig_len);
}

/* Returns the signature length of key for alg. */
static size_t
hsm_sign_expected_len(const struct hsm_key *key, const struct jose_alg *alg)
{
	if (alg->signature_len != 0)
		return alg->signature_len;
	if (key->kty == JOSE_KTY_EC)
		return key->ec_point_len - 1;
	return key->rsa_n_len;
}

/* Fills the mechanism of ctx, with RSASSA-PSS parameters from the hash. */
static hj_err
hsm_sign_mechanism(struct hsm_sign_ctx *ctx, const struct jose_alg *alg,
    struct hj_error *err)
{
	const struct hsm_hash *hash;

	ctx->mechanism.mechanism = alg->mechanism;
	ctx->mechanism.pParameter = NULL;
	ctx->mechanism.ulParameterLen = 0;
	if (!alg->pss)
		return HJ_OK;

	hash = hsm_hash_find(alg->hash_nid);
	if (hash == NULL) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "%s: hash NID %d has "
		    "no PKCS#11 mechanism here", alg->name, alg->hash_nid);
	}
	ctx->pss.hashAlg = hash->mechanism;
	ctx->pss.mgf = hash->mgf;
	ctx->pss.sLen = hash->len;
	ctx->mechanism.pParameter = &ctx->pss;
	ctx->mechanism.ulParameterLen = sizeof(ctx->pss);
	return HJ_OK;
}

/* Hashes data in software into ctx->digest and points the input at it. */
static hj_err
hsm_sign_digest(struct hsm_sign_ctx *ctx, const struct jose_alg *alg,
    const uint8_t *data, size_t data_len, struct hj_error *err)
{
	const EVP_MD *md = EVP_get_digestbynid(alg->hash_nid);
	unsigned digest_len = 0;

	if (md == NULL || EVP_Digest(data, data_len, ctx->digest, &digest_len,
	    md, NULL) != 1) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "%s: hashing the "
		    "signing input with NID %d failed", alg->name,
		    alg->hash_nid);
	}
	ctx->input = ctx->digest;
	ctx->input_len = digest_len;
	return HJ_OK;
}

/*
 * Checks that key fits alg and sets up the mechanism and input of ctx,
 * hashing data in software where alg->prehash.
 */
static hj_err
hsm_sign_prepare(struct hsm_sign_ctx *ctx, const struct hsm_key *key,
    const struct jose_alg *alg, const uint8_t *data, size_t data_len,
    struct hj_error *err)
{
	hj_err r;

	if (!hsm_key_fits_alg(key, alg)) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "key \"%s\" does not "
		    "fit algorithm %s", key->label, alg->name);
	}
	if ((r = hsm_sign_mechanism(ctx, alg, err)) != HJ_OK)
		return r;

	ctx->input = data;
	ctx->input_len = data_len;
	if (alg->prehash)
		return hsm_sign_digest(ctx, alg, data, data_len, err);
	return HJ_OK;
}

hj_err
hsm_sign(struct hsm *hsm, const struct hsm_key *key,
    const struct jose_alg *alg, const uint8_t *data, size_t data_len,
    uint8_t *sig, size_t *sig_len, struct hj_error *err)
{
	struct hsm_sign_ctx ctx;
	size_t expected, cap = *sig_len;
	char action[HSM_LABEL_MAX + 64];
	hj_err r = HJ_ERR_INTERNAL;

	*sig_len = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));

	if ((r = hsm_sign_prepare(&ctx, key, alg, data, data_len, err)) !=
	    HJ_OK)
		goto out;
	expected = hsm_sign_expected_len(key, alg);
	if (cap < expected) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "the signature buffer "
		    "has %zu bytes but a %s signature with key \"%s\" has %zu",
		    cap, alg->name, key->label, expected);
		goto out;
	}
	ctx.handle = key->private_handle;
	ctx.sig = sig;
	ctx.sig_cap = cap;

	snprintf(action, sizeof(action), "signing with key \"%s\"", key->label);
	r = hsm_session_run(hsm, action, hsm_sign_run, &ctx, err);
	if (r != HJ_OK)
		goto out;

	if (ctx.sig_len != expected) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "%s: C_Sign returned "
		    "%lu bytes, expected %zu", action, ctx.sig_len, expected);
		goto out;
	}
	*sig_len = ctx.sig_len;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}

static CK_RV
hsm_verify_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_sign_ctx *ctx = arg;
	CK_RV rv;

	ctx->valid = false;
	*callp = "C_VerifyInit";
	rv = hsm->p11->C_VerifyInit(session, &ctx->mechanism, ctx->handle);
	if (rv != CKR_OK)
		return rv;

	*callp = "C_Verify";
	rv = hsm->p11->C_Verify(session, (CK_BYTE_PTR)ctx->input,
	    ctx->input_len, (CK_BYTE_PTR)ctx->check, ctx->check_len);
	ctx->valid = rv == CKR_OK;

	/*
	 * C_Verify ends the operation, so a rejected signature leaves the
	 * session clean and is not a failure of the session.
	 */
	if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE)
		return CKR_OK;
	return rv;
}

hj_err
hsm_verify(struct hsm *hsm, const struct hsm_key *key,
    const struct jose_alg *alg, const uint8_t *data, size_t data_len,
    const uint8_t *sig, size_t sig_len, struct hj_error *err)
{
	struct hsm_sign_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	hj_err r = HJ_ERR_INTERNAL;

	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));

	if ((r = hsm_sign_prepare(&ctx, key, alg, data, data_len, err)) !=
	    HJ_OK)
		goto out;
	ctx.handle = key->kty == JOSE_KTY_OCT ? key->private_handle :
	    key->public_handle;
	if (ctx.handle == CK_INVALID_HANDLE) {
		r = hj_error_set(err, HJ_ERR_NOT_FOUND, "key \"%s\" has no "
		    "public key object in the token: verify its signatures "
		    "in software", key->label);
		goto out;
	}
	ctx.check = sig;
	ctx.check_len = sig_len;

	snprintf(action, sizeof(action), "verifying with key \"%s\"",
	    key->label);
	r = hsm_session_run(hsm, action, hsm_verify_run, &ctx, err);
	if (r != HJ_OK)
		goto out;
	if (!ctx.valid) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s signature "
		    "does not verify with key \"%s\"", alg->name, key->label);
		goto out;
	}
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}
