/*
 * ECDH with an EC private key in the token: C_DeriveKey with
 * CKM_ECDH1_DERIVE and no KDF gives the shared secret Z, which the JOSE
 * layer feeds into the Concat KDF in software.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "hsm_int.h"

/* One message for every rejected peer point, whatever the check. */
#define HSM_ECDH_REJECTED_FMT "ECDH with key \"%s\" failed: the peer " \
	"public key is not an uncompressed point on %s"

struct hsm_derive_ctx {
	CK_ECDH1_DERIVE_PARAMS params;
	CK_MECHANISM mechanism;
	CK_OBJECT_HANDLE handle;           /* the EC private key */
	CK_ULONG field_len;
	uint8_t z[HSM_ECDH_SECRET_MAX];
	size_t z_len;
};

/* Returns the OpenSSL NID of a JWK curve name, or NID_undef. */
static int
hsm_ecdh_curve_nid(const char *crv)
{
	if (strcmp(crv, "P-256") == 0)
		return NID_X9_62_prime256v1;
	if (strcmp(crv, "P-384") == 0)
		return NID_secp384r1;
	if (strcmp(crv, "P-521") == 0)
		return NID_secp521r1;
	return NID_undef;
}

/*
 * Returns true when point (len bytes) is an uncompressed point on crv
 * other than the point at infinity. Only such points reach the token,
 * because SoftHSM 2.6.1 returns CKR_GENERAL_ERROR for a point off the
 * curve, which would read as a lost token.
 */
static bool
hsm_ecdh_point_is_valid(const char *crv, const uint8_t *point, size_t len)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(hsm_ecdh_curve_nid(crv));
	EC_POINT *decoded = NULL;
	bool valid = false;

	if (group == NULL || len == 0 || point[0] != 0x04)
		goto out;
	decoded = EC_POINT_new(group);
	if (decoded == NULL ||
	    EC_POINT_oct2point(group, decoded, point, len, NULL) != 1)
		goto out;
	valid = EC_POINT_is_on_curve(group, decoded, NULL) == 1 &&
	    EC_POINT_is_at_infinity(group, decoded) == 0;
out:
	EC_POINT_free(decoded);
	EC_GROUP_free(group);
	return valid;
}

static CK_RV
hsm_derive_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_derive_ctx *ctx = arg;
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
		{ CKA_VALUE_LEN, &ctx->field_len, sizeof(ctx->field_len) },
	};
	CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
	CK_RV rv;

	OPENSSL_cleanse(ctx->z, sizeof(ctx->z));
	ctx->z_len = 0;

	*callp = "C_DeriveKey";
	rv = hsm->p11->C_DeriveKey(session, &ctx->mechanism, ctx->handle,
	    template, sizeof(template) / sizeof(template[0]), &secret);
	if (rv != CKR_OK)
		return rv;
	return hsm_secret_take(hsm, session, secret, ctx->z, sizeof(ctx->z),
	    &ctx->z_len, callp);
}

/* Checks that key is an EC key with a point, and the capacity of z. */
static hj_err
hsm_ecdh_check(const struct hsm_key *key, size_t z_cap,
    struct hj_error *err)
{
	size_t field_len;

	if (key->kty != JOSE_KTY_EC || key->crv == NULL ||
	    key->ec_point_len < 3 ||
	    hsm_ecdh_curve_nid(key->crv) == NID_undef) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "key \"%s\" is not an "
		    "EC key on P-256, P-384 or P-521: ECDH needs one",
		    key->label);
	}
	field_len = (key->ec_point_len - 1) / 2;
	if (z_cap < field_len || field_len > HSM_ECDH_SECRET_MAX) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "the ECDH secret "
		    "buffer has %zu bytes but %s needs %zu", z_cap, key->crv,
		    field_len);
	}
	return HJ_OK;
}

/*
 * Fills the mechanism of ctx with the raw peer point, which the PKCS#11
 * description of CK_ECDH1_DERIVE_PARAMS requires every token to accept.
 * The DER OCTET STRING form is optional. SoftHSM 2.6.1 takes both and
 * returns the same Z.
 */
static void
hsm_derive_prepare(struct hsm_derive_ctx *ctx, const struct hsm_key *key,
    const uint8_t *peer_point, size_t peer_len)
{
	ctx->params.kdf = CKD_NULL;
	ctx->params.ulSharedDataLen = 0;
	ctx->params.pSharedData = NULL;
	ctx->params.ulPublicDataLen = peer_len;
	ctx->params.pPublicData = (CK_BYTE_PTR)peer_point;
	ctx->mechanism.mechanism = CKM_ECDH1_DERIVE;
	ctx->mechanism.pParameter = &ctx->params;
	ctx->mechanism.ulParameterLen = sizeof(ctx->params);
	ctx->handle = key->private_handle;
	ctx->field_len = (key->ec_point_len - 1) / 2;
}

hj_err
hsm_ecdh_derive(struct hsm *hsm, const struct hsm_key *key,
    const uint8_t *peer_point, size_t peer_len, uint8_t *z, size_t *z_len,
    struct hj_error *err)
{
	struct hsm_derive_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	size_t cap = *z_len;
	hj_err r = HJ_ERR_INTERNAL;

	*z_len = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = hsm_ecdh_check(key, cap, err)) != HJ_OK)
		goto out;
	if (peer_len != key->ec_point_len ||
	    !hsm_ecdh_point_is_valid(key->crv, peer_point, peer_len)) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    HSM_ECDH_REJECTED_FMT, key->label, key->crv);
		goto out;
	}

	hsm_derive_prepare(&ctx, key, peer_point, peer_len);

	snprintf(action, sizeof(action), "deriving with key \"%s\"",
	    key->label);
	if ((r = hsm_session_run(hsm, action, hsm_derive_run, &ctx, err)) !=
	    HJ_OK)
		goto out;
	if (ctx.z_len != ctx.field_len) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "%s: the token returned "
		    "a shared secret of %zu bytes, expected %lu", action,
		    ctx.z_len, ctx.field_len);
		goto out;
	}
	memcpy(z, ctx.z, ctx.z_len);
	*z_len = ctx.z_len;
	r = HJ_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	return r;
}
