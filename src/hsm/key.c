/*
 * Key objects: listing, generation inside the token, protection attributes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hsm_int.h"

/*
 * Maximum number of private and secret key objects that hsm_key_list()
 * examines in one call. NOTE: objects past this count are not listed. The
 * limit is far above the key count of one issuer, but a shared token could
 * contain more.
 */
#define HSM_FIND_MAX 100000
#define HSM_FIND_BATCH 64

struct hsm_list_ctx {
	const char *prefix;
	CK_OBJECT_HANDLE *handles;
	size_t handle_count;
	size_t handle_cap;
	struct hsm_key *keys;
	size_t count;
	size_t cap;
};

struct hsm_generate_ctx {
	const struct jose_alg *alg;
	const char *label;
	uint8_t id[HSM_KEY_ID_LEN];
	bool generated;            /* so a retry only reads the new key */
	struct hsm_key *key;
};

struct hsm_protection_ctx {
	CK_OBJECT_HANDLE handle;
	struct hsm_key_protection *prot;
};

/* Grows ctx->handles to room for one more batch after handle_count. */
static CK_RV
hsm_handles_reserve(struct hsm_list_ctx *ctx)
{
	CK_OBJECT_HANDLE *grown;
	size_t cap = ctx->handle_count + HSM_FIND_BATCH;

	if (cap <= ctx->handle_cap)
		return CKR_OK;
	grown = realloc(ctx->handles, cap * sizeof(*ctx->handles));
	if (grown == NULL)
		return CKR_HOST_MEMORY;
	ctx->handles = grown;
	ctx->handle_cap = cap;
	return CKR_OK;
}

/*
 * Appends the handles of every token object of class to ctx->handles.
 * Session objects are left out: they are the short-lived secrets of
 * hsm_ecdh_derive() and hsm_aes_unwrap(), never keys of the service.
 */
static CK_RV
hsm_objects_find(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_CLASS class, struct hsm_list_ctx *ctx, const char **callp)
{
	CK_BBOOL token = CK_TRUE;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_TOKEN, &token, sizeof(token) },
	};
	CK_ULONG found;
	CK_RV rv;

	*callp = "C_FindObjectsInit";
	rv = hsm->p11->C_FindObjectsInit(session, template, 2);
	if (rv != CKR_OK)
		return rv;

	*callp = "C_FindObjects";
	while (ctx->handle_count + HSM_FIND_BATCH <= HSM_FIND_MAX) {
		rv = hsm_handles_reserve(ctx);
		if (rv != CKR_OK)
			break;
		found = 0;
		rv = hsm->p11->C_FindObjects(session,
		    ctx->handles + ctx->handle_count, HSM_FIND_BATCH, &found);
		if (rv != CKR_OK || found == 0 || found > HSM_FIND_BATCH)
			break;
		ctx->handle_count += found;
	}
	(void)hsm->p11->C_FindObjectsFinal(session);
	return rv;
}

static void
hsm_list_ctx_reset(struct hsm_list_ctx *ctx)
{
	free(ctx->handles);
	free(ctx->keys);
	ctx->handles = NULL;
	ctx->handle_count = 0;
	ctx->handle_cap = 0;
	ctx->keys = NULL;
	ctx->count = 0;
	ctx->cap = 0;
}

/* Returns a zeroed slot at the end of ctx->keys, growing the array. */
static struct hsm_key *
hsm_list_ctx_slot(struct hsm_list_ctx *ctx)
{
	struct hsm_key *grown;
	size_t cap;

	if (ctx->count == ctx->cap) {
		cap = ctx->cap == 0 ? 8 : ctx->cap * 2;
		grown = realloc(ctx->keys, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		ctx->keys = grown;
		ctx->cap = cap;
	}
	memset(&ctx->keys[ctx->count], 0, sizeof(ctx->keys[0]));
	return &ctx->keys[ctx->count];
}

static CK_RV
hsm_key_list_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_list_ctx *ctx = arg;
	struct hsm_key *key;
	bool match;
	size_t i;
	CK_RV rv;

	hsm_list_ctx_reset(ctx);
	rv = hsm_objects_find(hsm, session, CKO_PRIVATE_KEY, ctx, callp);
	if (rv == CKR_OK)
		rv = hsm_objects_find(hsm, session, CKO_SECRET_KEY, ctx, callp);
	if (rv != CKR_OK)
		return rv;

	for (i = 0; i < ctx->handle_count; i++) {
		key = hsm_list_ctx_slot(ctx);
		if (key == NULL)
			return CKR_HOST_MEMORY;
		rv = hsm_key_read_private(hsm, session, ctx->handles[i],
		    ctx->prefix, key, &match, callp);
		if (rv != CKR_OK)
			return rv;
		if (!match)
			continue;
		rv = hsm_key_read_public(hsm, session, key, callp);
		if (rv != CKR_OK)
			return rv;
		ctx->count++;
	}
	return CKR_OK;
}

hj_err
hsm_key_list(struct hsm *hsm, const char *label_prefix,
    struct hsm_key **keysp, size_t *countp, struct hj_error *err)
{
	struct hsm_list_ctx ctx;
	hj_err r = HJ_ERR_INTERNAL;

	*keysp = NULL;
	*countp = 0;
	hj_error_clear(err);
	memset(&ctx, 0, sizeof(ctx));
	ctx.prefix = label_prefix != NULL ? label_prefix : "";

	r = hsm_session_run(hsm, "listing the keys", hsm_key_list_run, &ctx,
	    err);
	if (r != HJ_OK)
		goto out;

	*keysp = ctx.keys;
	*countp = ctx.count;
	ctx.keys = NULL;
	r = HJ_OK;
out:
	hsm_list_ctx_reset(&ctx);
	return r;
}

/* Generates the pair with the templates that alg needs. */
static CK_RV
hsm_key_pair_generate(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_generate_ctx *ctx)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = ctx->alg->rsa_bits, label_len = strlen(ctx->label);
	CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE public[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
		{ CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) },
	};
	CK_ATTRIBUTE private[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		/* A signing key does nothing else; SoftHSM's defaults would allow these. */
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, label_len },
	};
	CK_ULONG public_count = sizeof(public) / sizeof(public[0]);
	size_t params_len;
	const unsigned char *params;

	/* EC and OKP keys take CKA_EC_PARAMS in place of the RSA attributes. */
	if (ctx->alg->kty != JOSE_KTY_RSA) {
		params = hsm_curve_params(ctx->alg->crv, &params_len);
		mech.mechanism = ctx->alg->kty == JOSE_KTY_OKP ?
		    CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
		public[public_count - 2].type = CKA_EC_PARAMS;
		public[public_count - 2].pValue = (void *)params;
		public[public_count - 2].ulValueLen = params_len;
		public_count--;
	}

	return hsm->p11->C_GenerateKeyPair(session, &mech, public,
	    public_count, private, sizeof(private) / sizeof(private[0]),
	    &ctx->key->public_handle, &ctx->key->private_handle);
}

/*
 * Generates a generic secret key of alg->secret_len bytes for HMAC. It may
 * sign and verify, nothing else: CKA_DERIVE is false, so that no derived
 * key can carry its bits out of the token.
 */
static CK_RV
hsm_secret_generate(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_generate_ctx *ctx)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS class = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_ULONG len = ctx->alg->secret_len;
	CK_MECHANISM mech = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_ID, ctx->id, sizeof(ctx->id) },
		{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
	};

	return hsm->p11->C_GenerateKey(session, &mech, template,
	    sizeof(template) / sizeof(template[0]), &ctx->key->private_handle);
}

static CK_RV
hsm_key_generate_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_generate_ctx *ctx = arg;
	struct hsm_key *key = ctx->key;
	CK_RV rv;

	if (!ctx->generated) {
		if (ctx->alg->kty == JOSE_KTY_OCT) {
			*callp = "C_GenerateKey";
			rv = hsm_secret_generate(hsm, session, ctx);
		} else {
			*callp = "C_GenerateKeyPair";
			rv = hsm_key_pair_generate(hsm, session, ctx);
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

/* Checks that label fits CKA_LABEL of a new key and struct hsm_key. */
hj_err
hsm_label_check(const char *label, struct hj_error *err)
{
	if (label == NULL || label[0] == '\0' ||
	    strlen(label) >= HSM_LABEL_MAX) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "key label must have "
		    "1 to %d bytes", HSM_LABEL_MAX - 1);
	}
	return HJ_OK;
}

/* Checks that alg and label can make a key in this token. */
static hj_err
hsm_key_generate_check(const struct jose_alg *alg, const char *label,
    struct hj_error *err)
{
	size_t params_len;
	hj_err r;

	if ((r = hsm_label_check(label, err)) != HJ_OK)
		return r;
	if ((alg->kty == JOSE_KTY_EC || alg->kty == JOSE_KTY_OKP) &&
	    hsm_curve_params(alg->crv, &params_len) == NULL) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "%s: curve %s has no "
		    "PKCS#11 parameters here", alg->name,
		    alg->crv != NULL ? alg->crv : "(none)");
	}
	if (alg->kty == JOSE_KTY_OCT && alg->secret_len == 0) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "%s: the algorithm "
		    "table gives no secret key length", alg->name);
	}
	if (alg->kty == JOSE_KTY_RSA && alg->rsa_bits < HSM_RSA_BITS_MIN) {
		return hj_error_set(err, HJ_ERR_INTERNAL, "%s: RSA keys need "
		    "at least %d bits, the table gives %u", alg->name,
		    HSM_RSA_BITS_MIN, alg->rsa_bits);
	}
	return HJ_OK;
}

hj_err
hsm_key_generate(struct hsm *hsm, const struct jose_alg *alg,
    const char *label, struct hsm_key *key, struct hj_error *err)
{
	struct hsm_generate_ctx ctx;
	char action[HSM_LABEL_MAX + 64];
	hj_err r = HJ_ERR_INTERNAL;

	memset(key, 0, sizeof(*key));
	hj_error_clear(err);
	if ((r = hsm_key_generate_check(alg, label, err)) != HJ_OK)
		goto out;

	memset(&ctx, 0, sizeof(ctx));
	ctx.alg = alg;
	ctx.label = label;
	ctx.key = key;
	if (RAND_bytes(ctx.id, sizeof(ctx.id)) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL, "RAND_bytes failed to "
		    "make a key id");
		goto out;
	}
	memcpy(key->id, ctx.id, sizeof(ctx.id));
	key->id_len = sizeof(ctx.id);
	snprintf(key->label, sizeof(key->label), "%s", label);
	key->kty = alg->kty;

	snprintf(action, sizeof(action), "generating %s key \"%s\"",
	    alg->name, label);
	if ((r = hsm_session_run(hsm, action, hsm_key_generate_run, &ctx,
	    err)) != HJ_OK)
		goto out;

	if (!hsm_key_fits_alg(key, alg)) {
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

static CK_RV
hsm_key_protection_run(struct hsm *hsm, CK_SESSION_HANDLE session,
    void *arg, const char **callp)
{
	struct hsm_protection_ctx *ctx = arg;
	CK_BBOOL values[5];
	CK_ATTRIBUTE template[] = {
		{ CKA_SENSITIVE, &values[0], sizeof(CK_BBOOL) },
		{ CKA_EXTRACTABLE, &values[1], sizeof(CK_BBOOL) },
		{ CKA_ALWAYS_SENSITIVE, &values[2], sizeof(CK_BBOOL) },
		{ CKA_NEVER_EXTRACTABLE, &values[3], sizeof(CK_BBOOL) },
		{ CKA_LOCAL, &values[4], sizeof(CK_BBOOL) },
	};
	bool *outs[5];
	size_t i;
	CK_RV rv;

	outs[0] = &ctx->prot->sensitive;
	outs[1] = &ctx->prot->extractable;
	outs[2] = &ctx->prot->always_sensitive;
	outs[3] = &ctx->prot->never_extractable;
	outs[4] = &ctx->prot->local;
	memset(values, 0, sizeof(values));

	/* A token fills the attributes it has and flags the missing ones. */
	*callp = "C_GetAttributeValue";
	rv = hsm->p11->C_GetAttributeValue(session, ctx->handle, template, 5);
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID &&
	    rv != CKR_ATTRIBUTE_SENSITIVE)
		return rv;

	/* A missing attribute reads as unprotected: extractable, else false. */
	for (i = 0; i < 5; i++) {
		*outs[i] = template[i].ulValueLen == sizeof(CK_BBOOL) &&
		    values[i] == CK_TRUE;
	}
	if (template[1].ulValueLen != sizeof(CK_BBOOL))
		ctx->prot->extractable = true;
	return CKR_OK;
}

hj_err
hsm_key_protection(struct hsm *hsm, const struct hsm_key *key,
    struct hsm_key_protection *prot, struct hj_error *err)
{
	struct hsm_protection_ctx ctx;
	char action[HSM_LABEL_MAX + 64];

	memset(prot, 0, sizeof(*prot));
	hj_error_clear(err);
	ctx.handle = key->private_handle;
	ctx.prot = prot;

	snprintf(action, sizeof(action), "reading the protection of key \"%s\"",
	    key->label);
	return hsm_session_run(hsm, action, hsm_key_protection_run, &ctx, err);
}

/* Returns the length of a big-endian unsigned integer in bits. */
static size_t
hsm_integer_bits(const uint8_t *value, size_t len)
{
	size_t bits;
	uint8_t top;

	while (len > 0 && value[0] == 0) {
		value++;
		len--;
	}
	if (len == 0)
		return 0;
	bits = (len - 1) * 8;
	for (top = value[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

bool
hsm_key_fits_alg(const struct hsm_key *key, const struct jose_alg *alg)
{
	if (key == NULL || alg == NULL || key->kty != alg->kty)
		return false;

	switch (key->kty) {
	case JOSE_KTY_EC:
	case JOSE_KTY_OKP:
		return key->crv != NULL && alg->crv != NULL &&
		    key->ec_point_len > 0 && strcmp(key->crv, alg->crv) == 0;
	case JOSE_KTY_RSA:
		return key->rsa_e_len > 0 && hsm_integer_bits(key->rsa_n,
		    key->rsa_n_len) >= HSM_RSA_BITS_MIN;
	case JOSE_KTY_OCT:
		return !key->aes && alg->secret_len > 0 &&
		    key->secret_len >= alg->secret_len;
	}
	return false;
}
