/*
 * RFC 3394 AES key wrap with an AES key in the token. SoftHSM 2.6.1 offers
 * CKM_AES_KEY_WRAP only to C_WrapKey and C_UnwrapKey (C_EncryptInit
 * returns CKR_MECHANISM_INVALID), so the CEK passes through a session
 * object on both ways.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsm_int.h"

/* RFC 3394 section 2: at least two 64-bit blocks, plus the 8-byte IV. */
#define HSM_WRAP_KEY_MIN 16
#define HSM_WRAP_OVERHEAD 8

/* One message for every rejected wrapped key, whatever the check. */
#define HSM_UNWRAP_REJECTED_FMT "AES key unwrap with key \"%s\" failed: " \
	"the wrapped key is invalid or was wrapped with another key"

struct hsm_wrap_ctx {
	CK_MECHANISM mechanism;
	CK_OBJECT_HANDLE wrapping;         /* the AES key */

	/* hsm_aes_wrap() */
	const uint8_t *cek;
	size_t cek_len;
	uint8_t *out;
	CK_ULONG out_cap;
	CK_ULONG out_len;

	/* hsm_aes_unwrap() */
	const uint8_t *wrapped;
	CK_ULONG wrapped_len;
	uint8_t unwrapped[HSM_WRAP_KEY_MAX];
	size_t unwrapped_len;
	bool rejected;                     /* C_UnwrapKey rejected the input */
};

static bool
hsm_wrap_len_is_valid(size_t key_len)
{
	return key_len >= HSM_WRAP_KEY_MIN && key_len <= HSM_WRAP_KEY_MAX &&
	    key_len % 8 == 0;
}

/*
 * Returns true for the CK_RV of a C_UnwrapKey that rejected the wrapped
 * key. SoftHSM 2.6.1 returns CKR_GENERAL_ERROR when the integrity check
 * fails, so that code and CKR_FUNCTION_FAILED count as rejections here,
 * not as a lost token.
 */
static bool
hsm_rv_is_wrapped_rejected(CK_RV rv)
{
	switch (rv) {
	case CKR_WRAPPED_KEY_INVALID:
	case CKR_WRAPPED_KEY_LEN_RANGE:
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_GENERAL_ERROR:
	case CKR_FUNCTION_FAILED:
		return true;
	default:
		return false;
	}
}

static CK_RV
hsm_wrap_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_wrap_ctx *ctx = arg;
	CK_OBJECT_HANDLE cek = CK_INVALID_HANDLE;
	CK_RV rv, destroy_rv;

	ctx->out_len = 0;
	*callp = "C_CreateObject";
	rv = hsm_secret_create(hsm, session, ctx->cek, ctx->cek_len, &cek);
	if (rv != CKR_OK)
		return rv;

	*callp = "C_WrapKey";
	ctx->out_len = ctx->out_cap;
	rv = hsm->p11->C_WrapKey(session, &ctx->mechanism, ctx->wrapping, cek,
	    ctx->out, &ctx->out_len);
	if (rv != CKR_OK)
		ctx->out_len = 0;

	/*
	 * A failed destroy is returned, so that hsm_session_run() replaces
	 * the session and the object goes with it.
	 */
	destroy_rv = hsm->p11->C_DestroyObject(session, cek);
	if (rv == CKR_OK && destroy_rv != CKR_OK) {
		*callp = "C_DestroyObject";
		rv = destroy_rv;
	}
	return rv;
}

static CK_RV
hsm_unwrap_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_wrap_ctx *ctx = arg;
	CK_OBJECT_CLASS class = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
	CK_RV rv;

	ctx->rejected = false;
	OPENSSL_cleanse(ctx->unwrapped, sizeof(ctx->unwrapped));
	ctx->unwrapped_len = 0;

	*callp = "C_UnwrapKey";
	rv = hsm->p11->C_UnwrapKey(session, &ctx->mechanism, ctx->wrapping,
	    (CK_BYTE_PTR)ctx->wrapped, ctx->wrapped_len, template,
	    sizeof(template) / sizeof(template[0]), &object);
	if (hsm_rv_is_wrapped_rejected(rv)) {
		ctx->rejected = true;
		return CKR_OK;
	}
	if (rv != CKR_OK)
		return rv;
	return hsm_secret_take(hsm, session, object, ctx->unwrapped,
	    sizeof(ctx->unwrapped), &ctx->unwrapped_len, callp);
}

/* Checks that key is an AES key and fills the mechanism of ctx. */
static hj_err
hsm_wrap_prepare(struct hsm_wrap_ctx *ctx, const struct hsm_key *key,
    struct hj_error *err)
{
	if (key->kty != JOSE_KTY_OCT || !key->aes) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "key \"%s\" is not an "
		    "AES key: AES key wrap needs one", key->label);
	}
	ctx->mechanism.mechanism = CKM_AES_KEY_WRAP;
	ctx->mechanism.pParameter = NULL;
	ctx->mechanism.ulParameterLen = 0;
	ctx->wrapping = key->private_handle;
	return HJ_OK;
}

/* Checks the length of the key to wrap and the capacity of the output. */
static hj_err
hsm_wrap_check(size_t cek_len, size_t cap, struct hj_error *err)
{
	if (!hsm_wrap_len_is_valid(cek_len)) {
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "the key to "
		    "wrap has %zu bytes: AES key wrap takes %d to %d bytes in "
		    "steps of 8", cek_len, HSM_WRAP_KEY_MIN, HSM_WRAP_KEY_MAX);
	}
	if (cap < cek_len + HSM_WRAP_OVERHEAD) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "the wrapped key "
		    "buffer has %zu bytes but needs %zu", cap,
		    cek_len + HSM_WRAP_OVERHEAD);
	}
	return HJ_OK;
}

hj_err
hsm_aes_wrap(struct hsm *hsm, const struct hsm_key *key, const uint8_t *cek,
    size_t cek_len, uint8_t *out, size_t *out_len, struct hj_error *err)
{
	struct hsm_wrap_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	size_t cap = *out_len;
	hj_err r = HJ_ERR_INTERNAL;

	*out_len = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = hsm_wrap_prepare(&ctx, key, err)) != HJ_OK)
		goto out;
	if ((r = hsm_wrap_check(cek_len, cap, err)) != HJ_OK)
		goto out;
	ctx.cek = cek;
	ctx.cek_len = cek_len;
	ctx.out = out;
	ctx.out_cap = cap;

	snprintf(action, sizeof(action), "wrapping with key \"%s\"",
	    key->label);
	if ((r = hsm_session_run(hsm, action, hsm_wrap_run, &ctx, err)) !=
	    HJ_OK)
		goto out;
	if (ctx.out_len != cek_len + HSM_WRAP_OVERHEAD) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "%s: C_WrapKey returned "
		    "%lu bytes, expected %zu", action, ctx.out_len,
		    cek_len + HSM_WRAP_OVERHEAD);
		goto out;
	}
	*out_len = ctx.out_len;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}

hj_err
hsm_aes_unwrap(struct hsm *hsm, const struct hsm_key *key,
    const uint8_t *wrapped, size_t wrapped_len, uint8_t *cek, size_t *cek_len,
    struct hj_error *err)
{
	struct hsm_wrap_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	size_t cap = *cek_len;
	hj_err r = HJ_ERR_INTERNAL;

	*cek_len = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = hsm_wrap_prepare(&ctx, key, err)) != HJ_OK)
		goto out;
	if (wrapped_len < HSM_WRAP_OVERHEAD ||
	    !hsm_wrap_len_is_valid(wrapped_len - HSM_WRAP_OVERHEAD) ||
	    wrapped_len - HSM_WRAP_OVERHEAD > cap) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    HSM_UNWRAP_REJECTED_FMT, key->label);
		goto out;
	}
	ctx.wrapped = wrapped;
	ctx.wrapped_len = wrapped_len;

	snprintf(action, sizeof(action), "unwrapping with key \"%s\"",
	    key->label);
	if ((r = hsm_session_run(hsm, action, hsm_unwrap_run, &ctx, err)) !=
	    HJ_OK)
		goto out;
	if (ctx.rejected) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    HSM_UNWRAP_REJECTED_FMT, key->label);
		goto out;
	}
	if (ctx.unwrapped_len != wrapped_len - HSM_WRAP_OVERHEAD) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "%s: the token returned "
		    "a key of %zu bytes, expected %zu", action,
		    ctx.unwrapped_len, wrapped_len - HSM_WRAP_OVERHEAD);
		goto out;
	}
	memcpy(cek, ctx.unwrapped, ctx.unwrapped_len);
	*cek_len = ctx.unwrapped_len;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}
