/*
 * Recipient keys for JWE encryption: a public JWK, or one key picked out of
 * a JWK Set, checked for the key management algorithm it will serve.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "jwe_int.h"

/* Returns whether key_ops (an array) contains one of the two operations. */
static bool
jwe_key_ops_allow(const json_t *key_ops, const char *op1, const char *op2)
{
	const json_t *op;
	size_t i;

	json_array_foreach(key_ops, i, op) {
		if (!json_is_string(op))
			continue;
		if (strcmp(json_string_value(op), op1) == 0 ||
		    strcmp(json_string_value(op), op2) == 0)
			return true;
	}
	return false;
}

/* Checks "use", "key_ops" and "alg" of jwk against alg. */
static hj_err
jwe_check_intent(const json_t *jwk, const char *field,
    const struct jwe_alg *alg, struct hj_error *err)
{
	const json_t *use = json_object_get(jwk, "use");
	const json_t *key_ops = json_object_get(jwk, "key_ops");
	const json_t *jwk_alg = json_object_get(jwk, "alg");
	bool ecdh = jwe_alg_is_ecdh(alg);

	if (use != NULL && (!json_is_string(use) ||
	    strcmp(json_string_value(use), "enc") != 0))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"use\" must be \"enc\" for an encryption key", field);
	if (key_ops != NULL && !json_is_array(key_ops))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"key_ops\" must be an array of strings", field);
	if (key_ops != NULL && !jwe_key_ops_allow(key_ops,
	    ecdh ? "deriveKey" : "wrapKey", ecdh ? "deriveBits" : "encrypt"))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"key_ops\" does not allow %s", field, ecdh ?
		    "\"deriveKey\" or \"deriveBits\"" :
		    "\"wrapKey\" or \"encrypt\"");
	if (jwk_alg != NULL && (!json_is_string(jwk_alg) ||
	    strcmp(json_string_value(jwk_alg), alg->name) != 0))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: the key's \"alg\" is not %s", field, alg->name);
	return HJ_OK;
}

/* Checks that the key type of jwk is the one that alg needs. */
static hj_err
jwe_check_kty(const json_t *jwk, const char *field, const struct jwe_alg *alg,
    struct hj_error *err)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	bool rsa = kty != NULL && strcmp(kty, "RSA") == 0;
	bool ec = kty != NULL &&
	    (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0);

	if (alg->mode == JWE_KEY_AES_KW)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: alg %s wraps with a secret key in the token and takes "
		    "no recipient JWK", field, alg->name);
	if (alg->mode == JWE_KEY_RSA_OAEP && !rsa)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: alg %s needs an RSA key (kty \"RSA\")", field,
		    alg->name);
	if (jwe_alg_is_ecdh(alg) && !ec)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: alg %s needs an EC key (kty \"EC\" or \"OKP\")", field,
		    alg->name);
	return HJ_OK;
}

/* Returns whether jwk could serve alg, without importing it. */
static bool
jwe_jwk_usable(const json_t *jwk, const struct jwe_alg *alg)
{
	return json_is_object(jwk) &&
	    jwe_check_kty(jwk, "", alg, NULL) == HJ_OK &&
	    jwe_check_intent(jwk, "", alg, NULL) == HJ_OK;
}

/* Returns whether jwk has a "kid" equal to kid. */
static bool
jwe_jwk_has_kid(const json_t *jwk, const char *kid)
{
	const json_t *value = json_object_get(jwk, "kid");

	return json_is_string(value) &&
	    strcmp(json_string_value(value), kid) == 0 &&
	    json_string_length(value) == strlen(kid);
}

/*
 * Picks the key of a JWK Set: the one whose "kid" is kid, or with kid
 * NULL the only key usable for alg.
 */
static hj_err
jwe_jwks_select(const json_t *keys, const char *field, const char *kid,
    const struct jwe_alg *alg, const json_t **jwkp, struct hj_error *err)
{
	const json_t *jwk;
	size_t i, count = 0;

	*jwkp = NULL;
	json_array_foreach(keys, i, jwk) {
		if (kid != NULL ? !jwe_jwk_has_kid(jwk, kid) :
		    !jwe_jwk_usable(jwk, alg))
			continue;
		count++;
		*jwkp = jwk;
	}

	if (count == 1)
		return HJ_OK;
	*jwkp = NULL;
	if (kid != NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: %s key in the JWK Set has the requested kid", field,
		    count == 0 ? "no" : "more than one");
	if (count == 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: no key in the JWK Set is usable for alg %s", field,
		    alg->name);
	return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
	    "%s: %zu keys in the JWK Set are usable for alg %s: pass a kid",
	    field, count, alg->name);
}

/*
 * Finds the JWK in doc, a JWK or a JWK Set. Every key of a set is checked
 * for private members, because a set that contains one leaks a secret.
 */
static hj_err
jwe_find_jwk(const json_t *doc, const char *field, const char *kid,
    const struct jwe_alg *alg, const json_t **jwkp, struct hj_error *err)
{
	const json_t *keys = json_object_get(doc, "keys");
	const json_t *jwk;
	hj_err r;
	size_t i;

	*jwkp = NULL;
	if (keys == NULL) {
		if (kid != NULL && !jwe_jwk_has_kid(doc, kid))
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "%s: the JWK does not have the requested kid",
			    field);
		*jwkp = doc;
		return HJ_OK;
	}
	if (!json_is_array(keys))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"keys\" of the JWK Set is not an array", field);

	json_array_foreach(keys, i, jwk) {
		r = jwe_jwk_check_public(jwk, field, err);
		if (r != HJ_OK)
			return r;
	}
	return jwe_jwks_select(keys, field, kid, alg, jwkp, err);
}

/* Checks jwk for alg and imports it into a new recipient. */
static hj_err
jwe_recipient_new(const json_t *jwk, const char *field,
    const struct jwe_alg *alg, struct jwe_recipient **recipientp,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct jwe_recipient *recipient = NULL;
	const json_t *kid = json_object_get(jwk, "kid");

	*recipientp = NULL;
	if (kid != NULL && (!json_is_string(kid) ||
	    strlen(json_string_value(kid)) != json_string_length(kid))) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"kid\" is not a string", field);
		goto out;
	}
	recipient = calloc(1, sizeof(*recipient));
	if (recipient == NULL ||
	    (kid != NULL && (recipient->kid = strdup(json_string_value(kid))) ==
	    NULL)) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory reading %s", field);
		goto out;
	}
	recipient->alg = alg;

	r = jwe_jwk_import(jwk, field, &recipient->pkey, &recipient->curve,
	    err);
	if (r != HJ_OK)
		goto out;
	r = jwe_check_kty(jwk, field, alg, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_check_intent(jwk, field, alg, err);
	if (r != HJ_OK)
		goto out;

	*recipientp = recipient;
	recipient = NULL;
	r = HJ_OK;
out:
	jwe_recipient_free(recipient);
	return r;
}

hj_err
jwe_recipient_parse(const char *json, size_t json_len, const char *field,
    const char *alg_name, const char *kid, struct jwe_recipient **recipientp,
    struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_alg *alg;
	const json_t *jwk = NULL;
	json_error_t jerr;
	json_t *doc = NULL;

	*recipientp = NULL;
	r = jwe_alg_lookup(alg_name, &alg, err);
	if (r != HJ_OK)
		goto out;

	if (json == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s missing: pass a public JWK or a JWK Set", field);
		goto out;
	}
	doc = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: invalid JSON at byte %d: %s", field, jerr.position,
		    jerr.text);
		goto out;
	}
	if (!json_is_object(doc)) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: not a JSON object: pass a public JWK or a JWK Set",
		    field);
		goto out;
	}

	r = jwe_find_jwk(doc, field, kid, alg, &jwk, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_recipient_new(jwk, field, alg, recipientp, err);
out:
	json_decref(doc);
	return r;
}

const char *
jwe_recipient_kid(const struct jwe_recipient *recipient)
{
	return recipient->kid;
}

void
jwe_recipient_free(struct jwe_recipient *recipient)
{
	if (recipient == NULL)
		return;
	EVP_PKEY_free(recipient->pkey);
	free(recipient->kid);
	free(recipient);
}
