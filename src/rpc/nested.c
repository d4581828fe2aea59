/* Nested JWTs: the signed token encrypted to a recipient as a compact JWE with "cty":"JWT". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hsmjwt/jwe.h"
#include "hsmjwt/log.h"
#include "rpc_int.h"

#define NESTED_DEFAULT_ENC "A256GCM"

/* Puts "field: " before err's message, so that it names the request field. */
static hj_err
nested_prefix(struct hj_error *err, const char *field)
{
	char message[HJ_ERROR_MESSAGE_MAX];

	snprintf(message, sizeof(message), "%s", err->message);
	return hj_error_set(err, err->code, "%s: %s", field, message);
}

/* A recipient that shares an AES key in the token with the service. */
struct nested_shared {
	struct keyring *ring;
	char kid[128];
	size_t key_len;
};

static bool
nested_is_shared_alg(const char *alg)
{
	return strcmp(alg, "A128KW") == 0 || strcmp(alg, "A256KW") == 0;
}

static hj_err
nested_shared_wrap(void *arg, const uint8_t *cek, size_t cek_len, uint8_t *out,
    size_t *out_len, struct hj_error *err)
{
	struct nested_shared *shared = arg;

	return keyring_shared_wrap(shared->ring, shared->kid, shared->key_len, cek, cek_len,
	    out, out_len, err);
}

/*
 * Prepares A128KW or A256KW: only a configured recipient, whose JWK names
 * the shared key by "kid" and carries no "k", because the key stays in the
 * token.
 */
static hj_err
nested_shared_params(const struct rpc_context *ctx, const Hsmjwt__V1__Encryption *enc,
    const char *json, const char *field, const char *alg,
    struct jwe_encrypt_params *params, struct nested_shared *shared, struct hj_error *err)
{
	json_t *jwk = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	const char *kid = json_string_value(json_object_get(jwk, "kid"));
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *jwk_alg = json_string_value(json_object_get(jwk, "alg"));
	hj_err r = HJ_ERR_INVALID_ARGUMENT;

	if (enc->recipient[0] == '\0')
		hj_error_set(err, r, "%s: %s wraps with a key shared in the token, so name a "
		    "configured recipient instead of sending a JWK", field, alg);
	else if (kty == NULL || strcmp(kty, "oct") != 0 || kid == NULL || kid[0] == '\0')
		hj_error_set(err, r, "%s: %s needs a JWK {\"kty\":\"oct\",\"kid\":...} that "
		    "names the shared key in the token", field, alg);
	else if (json_object_get(jwk, "k") != NULL)
		hj_error_set(err, r, "%s: the JWK contains \"k\"; the shared key must stay in "
		    "the token, so remove it from the file", field);
	else if (jwk_alg != NULL && strcmp(jwk_alg, alg) != 0)
		hj_error_set(err, r, "%s: the JWK is for %.16s, not %s", field, jwk_alg, alg);
	else if (strlen(kid) >= sizeof(shared->kid))
		hj_error_set(err, r, "%s: the JWK's kid is too long", field);
	else
		r = HJ_OK;

	if (r == HJ_OK) {
		snprintf(shared->kid, sizeof(shared->kid), "%s", kid);
		shared->key_len = strcmp(alg, "A128KW") == 0 ? 16 : 32;
		shared->ring = keystore_current(ctx->store);
		params->wrap = nested_shared_wrap;
		params->wrap_ctx = shared;
		params->wrap_kid = shared->kid;
	}
	json_decref(jwk);
	return r;
}

/* Checks alg and enc separately, so that the message names the field that is wrong. */
static hj_err
nested_check_alg_enc(const char *alg, const char *enc, struct hj_error *err)
{
	if (jwe_check_alg_enc(alg, NESTED_DEFAULT_ENC, NULL) != HJ_OK)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "encryption.alg: \"%.32s\" is "
		    "not supported; use RSA-OAEP, RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, "
		    "ECDH-ES+A192KW, ECDH-ES+A256KW, A128KW or A256KW", alg);
	if (jwe_check_alg_enc(alg, enc, NULL) != HJ_OK)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "encryption.enc: \"%.32s\" is "
		    "not supported; use A128GCM, A192GCM, A256GCM, A128CBC-HS256, "
		    "A192CBC-HS384 or A256CBC-HS512", enc);
	return HJ_OK;
}

static const struct recipient *
nested_find_recipient(const struct rpc_context *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < ctx->recipient_count; i++) {
		if (strcmp(ctx->recipients[i].name, name) == 0)
			return &ctx->recipients[i];
	}
	return NULL;
}

static bool
nested_profile_names(const struct profile_encryption *enc, const char *name)
{
	size_t i;

	for (i = 0; i < enc->recipient_count; i++) {
		if (strcmp(enc->recipients[i], name) == 0)
			return true;
	}
	return false;
}

/* Picks the recipient's JWK text and the field name for messages. */
static hj_err
nested_recipient_json(const struct rpc_context *ctx, const struct profile *profile,
    const Hsmjwt__V1__Encryption *enc, const char **jsonp, const char **fieldp,
    struct hj_error *err)
{
	const struct recipient *named;

	if (enc->recipient[0] != '\0' && enc->recipient_jwk_json[0] != '\0')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "encryption: set "
		    "recipient or recipient_jwk_json, not both");
	if (enc->recipient[0] == '\0' && enc->recipient_jwk_json[0] == '\0')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "encryption: set "
		    "recipient (a configured name) or recipient_jwk_json (a public JWK)");

	if (enc->recipient_jwk_json[0] != '\0') {
		if (!profile->encryption->inline_recipients)
			return hj_error_set(err, HJ_ERR_PERMISSION_DENIED,
			    "encryption.recipient_jwk_json: profile \"%s\" does not accept "
			    "inline recipients; use a configured recipient", profile->name);
		*jsonp = enc->recipient_jwk_json;
		*fieldp = "encryption.recipient_jwk_json";
		return HJ_OK;
	}

	named = nested_find_recipient(ctx, enc->recipient);
	if (named == NULL)
		return hj_error_set(err, HJ_ERR_NOT_FOUND, "encryption.recipient: no "
		    "recipient named \"%.64s\" in the configuration", enc->recipient);
	if (!nested_profile_names(profile->encryption, enc->recipient))
		return hj_error_set(err, HJ_ERR_PERMISSION_DENIED, "encryption.recipient: "
		    "profile \"%s\" may not encrypt to \"%.64s\"", profile->name, enc->recipient);
	*jsonp = named->jwk_json;
	*fieldp = "encryption.recipient";
	return HJ_OK;
}

/*
 * Returns the key management algorithm: the request's, else the JWK's
 * "alg", else RSA-OAEP-256 for RSA keys and ECDH-ES+A256KW for EC and OKP.
 */
static hj_err
nested_default_alg(const char *requested, const char *jwk_json, char *alg, size_t size,
    struct hj_error *err)
{
	json_t *jwk;
	const char *value, *kty;

	if (requested[0] != '\0') {
		snprintf(alg, size, "%s", requested);
		return HJ_OK;
	}
	jwk = json_loads(jwk_json, 0, NULL);
	value = json_string_value(json_object_get(jwk, "alg"));
	kty = json_string_value(json_object_get(jwk, "kty"));
	if (value == NULL && kty != NULL && strcmp(kty, "RSA") == 0)
		value = "RSA-OAEP-256";
	else if (value == NULL && kty != NULL && strcmp(kty, "oct") == 0)
		value = "A256KW";
	else if (value == NULL && kty != NULL)
		value = "ECDH-ES+A256KW";
	if (value != NULL)
		snprintf(alg, size, "%s", value);
	json_decref(jwk);
	if (value == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "encryption.alg: missing, "
		    "and the recipient's key does not name one; set it, such as RSA-OAEP-256");
	return HJ_OK;
}

hj_err
nested_encrypt(const struct rpc_context *ctx, const struct profile *profile,
    const Hsmjwt__V1__Encryption *enc, const char *jws, char **tokenp,
    struct rpc_reply *reply, struct hj_error *err)
{
	struct jwe_encrypt_params params;
	struct nested_shared shared = { 0 };
	struct jwe_recipient *recipient = NULL;
	const char *json = NULL, *field = NULL;
	char alg[32], field_q[LOG_QUOTE_SIZE];
	hj_err r;

	*tokenp = NULL;
	if (!profile->encryption->present)
		return hj_error_set(err, HJ_ERR_PERMISSION_DENIED, "encryption: profile "
		    "\"%s\" does not allow nested JWTs; omit encryption or use a profile "
		    "with an encryption block", profile->name);
	if ((r = nested_recipient_json(ctx, profile, enc, &json, &field, err)) != HJ_OK ||
	    (r = nested_default_alg(enc->alg, json, alg, sizeof(alg), err)) != HJ_OK)
		return r;

	memset(&params, 0, sizeof(params));
	params.alg = alg;
	params.enc = enc->enc[0] != '\0' ? enc->enc : NESTED_DEFAULT_ENC;
	params.cty = "JWT";
	if ((r = nested_check_alg_enc(params.alg, params.enc, err)) != HJ_OK)
		return r;

	if (nested_is_shared_alg(alg)) {
		r = nested_shared_params(ctx, enc, json, field, alg, &params, &shared, err);
		if (r == HJ_OK)
			r = jwe_encrypt_compact(&params, (const uint8_t *)jws, strlen(jws), tokenp, err);
		keyring_unref(shared.ring);
	} else {
		r = jwe_recipient_parse(json, strlen(json), field, alg, NULL, &recipient, err);
		if (r == HJ_OK) {
			params.recipient = recipient;
			r = jwe_encrypt_compact(&params, (const uint8_t *)jws, strlen(jws), tokenp, err);
		}
	}
	if (r != HJ_OK && strncmp(err->message, "encryption", 10) != 0)
		nested_prefix(err, field);
	rpc_reply_log(reply, " recipient=%s jwe_alg=%s enc=%s",
	    enc->recipient[0] != '\0' ? log_quote(field_q, enc->recipient) : "inline",
	    alg, params.enc);
	jwe_recipient_free(recipient);
	return r;
}
