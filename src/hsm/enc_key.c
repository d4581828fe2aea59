/*
 * Generating encryption keys: RSA key pairs for RSA-OAEP, EC key pairs for
 * ECDH-ES and AES keys for AES key wrap. Each private or secret key may do
 * its key management operations and nothing else: CKA_SIGN is false, so a
 * decryption key never signs a JWS.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "hsm_int.h"

#define HSM_ENC_RSA_BITS_DEFAULT 2048
#define HSM_ENC_RSA_BITS_MAX (HSM_RSA_MODULUS_MAX * 8)

struct hsm_enc_generate_ctx {
	const struct hsm_enc_spec *spec;
	const char *label;
	uint8_t id[HSM_KEY_ID_LEN];
	CK_ULONG rsa_bits;
	bool generated;            /* so a retry only reads the new key */
	struct hsm_key *key;
};

/* Generates an RSA key pair that decrypts and unwraps with RSA-OAEP. */
static CK_RV
hsm_enc_rsa_generate(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_enc_generate_ctx *ctx)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG label_len = strlen(ctx->label);
	CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE public[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
		{ CKA_MODULUS_BITS, &ctx->rsa_bits, sizeof(ctx->rsa_bits) },
		{ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) },
	};
	CK_ATTRIBUTE private[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_UNWRAP, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_SIGN_RECOVER, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
	};

	return hsm->p11->C_GenerateKeyPair(session, &mech, public,
	    sizeof(public) / sizeof(public[0]), private,
	    sizeof(private) / sizeof(private[0]), &ctx->key->public_handle,
	    &ctx->key->private_handle);
}

/* Generates an EC key pair whose private key only derives (ECDH). */
static CK_RV
hsm_enc_ec_generate(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_enc_generate_ctx *ctx)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG label_len = strlen(ctx->label);
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	size_t params_len;
	const unsigned char *params = hsm_curve_params(ctx->spec->crv,
	    &params_len);
	CK_ATTRIBUTE public[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
		{ CKA_EC_PARAMS, (void *)params, params_len },
	};
	CK_ATTRIBUTE private[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_DERIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
	};

	return hsm->p11->C_GenerateKeyPair(session, &mech, public,
	    sizeof(public) / sizeof(public[0]), private,
	    sizeof(private) / sizeof(private[0]), &ctx->key->public_handle,
	    &ctx->key->private_handle);
}

/*
 * Generates an AES key for RFC 3394 key wrap. C_WrapKey and C_UnwrapKey
 * need CKA_WRAP and CKA_UNWRAP. CKA_ENCRYPT and CKA_DECRYPT are set too, for
 * tokens that offer CKM_AES_KEY_WRAP only through C_Encrypt and C_Decrypt.
 */
static CK_RV
hsm_enc_aes_generate(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_enc_generate_ctx *ctx)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS class = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG len = ctx->spec->aes_len;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_WRAP, &yes, sizeof(yes) },
		{ CKA_UNWRAP, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
	};

	return hsm->p11->C_GenerateKey(session, &mech, template,
	    sizeof(template) / sizeof(template[0]), &ctx->key->private_handle);
}

static CK_RV
hsm_enc_generate_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_enc_generate_ctx *ctx = arg;
	struct hsm_key *key = ctx->key;
	CK_RV rv;

	if (!ctx->generated) {
		*callp = "C_GenerateKeyPair";
		if (ctx->spec->kty == JOSE_KTY_RSA)
			rv = hsm_enc_rsa_generate(hsm, session, ctx);
		else if (ctx->spec->kty == JOSE_KTY_EC)
			rv = hsm_enc_ec_generate(hsm, session, ctx);
		else {
			*callp = "C_GenerateKey";
			rv = hsm_enc_aes_generate(hsm, session, ctx);
		}
		if (rv != CKR_OK)
			return rv;
		ctx->generated = true;
	}

	/* Keep the new key's handles but clear what an earlier try read. */
	key->crv = NULL;
	key->ec_point_len = 0;
	key->rsa_n_len = 0;
	key->rsa_e_len = 0;
	key->secret_len = 0;
	return hsm_key_read_public(hsm, session, key, callp);
}

static bool
hsm_enc_curve_offered(const char *crv)
{
	return crv != NULL && (strcmp(crv, "P-256") == 0 ||
	    strcmp(crv, "P-384") == 0 || strcmp(crv, "P-521") == 0);
}

/* Checks the spec and sets ctx->rsa_bits. */
static hj_err
hsm_enc_spec_check(const struct hsm_enc_spec *spec,
    struct hsm_enc_generate_ctx *ctx, struct hj_error *err)
{
	switch (spec->kty) {
	case JOSE_KTY_RSA:
		ctx->rsa_bits = spec->rsa_bits != 0 ? spec->rsa_bits :
		    HSM_ENC_RSA_BITS_DEFAULT;
		if (ctx->rsa_bits >= HSM_RSA_BITS_MIN &&
		    ctx->rsa_bits <= HSM_ENC_RSA_BITS_MAX)
			return HJ_OK;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "RSA "
		    "encryption key of %lu bits: use %d to %d bits",
		    ctx->rsa_bits, HSM_RSA_BITS_MIN, HSM_ENC_RSA_BITS_MAX);
	case JOSE_KTY_EC:
		if (hsm_enc_curve_offered(spec->crv))
			return HJ_OK;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "EC "
		    "encryption key on curve %s: use P-256, P-384 or P-521",
		    spec->crv != NULL ? spec->crv : "(none)");
	case JOSE_KTY_OCT:
		if (spec->aes_len == 16 || spec->aes_len == 24 ||
		    spec->aes_len == 32)
			return HJ_OK;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "AES "
		    "encryption key of %zu bytes: use 16, 24 or 32 bytes",
		    spec->aes_len);
	case JOSE_KTY_OKP:
		break;
	}
	return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "unsupported "
	    "encryption key type: use RSA, EC or AES");
}

/* Checks that the token returned the public half or length of the spec. */
static bool
hsm_enc_key_matches(const struct hsm_key *key,
    const struct hsm_enc_generate_ctx *ctx)
{
	switch (ctx->spec->kty) {
	case JOSE_KTY_RSA:
		return key->rsa_e_len > 0 &&
		    key->rsa_n_len == (ctx->rsa_bits + 7) / 8;
	case JOSE_KTY_EC:
		return key->crv != NULL && key->ec_point_len > 0 &&
		    strcmp(key->crv, ctx->spec->crv) == 0;
	case JOSE_KTY_OCT:
		return key->secret_len == ctx->spec->aes_len;
	case JOSE_KTY_OKP:
		break;
	}
	return false;
}

/* Fills ctx and the fixed members of key: id, label, type. */
static hj_err
hsm_enc_generate_prepare(struct hsm_enc_generate_ctx *ctx,
    const struct hsm_enc_spec *spec, const char *label, struct hsm_key *key,
    struct hj_error *err)
{
	hj_err r;

	if (spec == NULL)
		return hj_error_set(err, HJ_ERR_INTERNAL, "no key spec given");
	if ((r = hsm_label_check(label, err)) != HJ_OK)
		return r;
	if ((r = hsm_enc_spec_check(spec, ctx, err)) != HJ_OK)
		return r;
	if (RAND_bytes(ctx->id, sizeof(ctx->id)) != 1) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "RAND_bytes failed to "
		    "make a key id");
	}
	ctx->spec = spec;
	ctx->label = label;
	ctx->key = key;

	memcpy(key->id, ctx->id, sizeof(ctx->id));
	key->id_len = sizeof(ctx->id);
	snprintf(key->label, sizeof(key->label), "%s", label);
	key->kty = spec->kty;
	key->aes = spec->kty == JOSE_KTY_OCT;
	return HJ_OK;
}

hj_err
hsm_enc_key_generate(struct hsm *hsm, const struct hsm_enc_spec *spec,
    const char *label, struct hsm_key *key, struct hj_error *err)
{
	struct hsm_enc_generate_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	hj_err r = HJ_ERR_INTERNAL;

	memset(key, 0, sizeof(*key));
	memset(&ctx, 0, sizeof(ctx));
	hj_error_clear(err);
	if ((r = hsm_enc_generate_prepare(&ctx, spec, label, key, err)) !=
	    HJ_OK)
		goto out;

	snprintf(action, sizeof(action), "generating encryption key \"%s\"",
	    label);
	r = hsm_session_run(hsm, action, hsm_enc_generate_run, &ctx, err);
	if (r != HJ_OK)
		goto out;

	if (!hsm_enc_key_matches(key, &ctx)) {
		/* NOTE: the new key stays in the token and is listed. */
		r = hj_error_set(err, HJ_ERR_INTERNAL, "%s: the token returned "
		    "no usable public key or key length for the new key",
		    action);
		goto out;
	}
	r = HJ_OK;
out:
	if (r != HJ_OK)
		memset(key, 0, sizeof(*key));
	return r;
}
