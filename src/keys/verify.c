/*
 * Signature verification of tokens that this service issued. The key is
 * found by kid among the published keys, HMAC keys included. The header's
 * alg must be the key's algorithm, so that an RSA or HMAC key can never be
 * used with another algorithm.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmjwt/jws.h"
#include "hsmjwt/jws_header.h"
#include "hsmjwt/keyring.h"

struct keyring_verifier {
	struct hsm *hsm;
	const struct keyring_key *key;
};

static hj_err
keyring_verify_in_token(void *arg, const uint8_t *input, size_t input_len,
    const uint8_t *sig, size_t sig_len, struct hj_error *err)
{
	struct keyring_verifier *v = arg;

	return hsm_verify(v->hsm, &v->key->hsm_key, v->key->alg, input, input_len,
	    sig, sig_len, err);
}

/* Verifies with the public JWK in software. */
static hj_err
keyring_verify_public(const struct keyring_key *key, const char *token, size_t len,
    char **payloadp, size_t *payload_lenp, struct hj_error *err)
{
	json_t *jwk = json_loads(key->public_jwk_json, 0, NULL);
	EVP_PKEY *pkey = NULL;
	hj_err r;

	if (jwk == NULL)
		return hj_error_set(err, HJ_ERR_INTERNAL, "the key's public JWK does not parse");
	r = jwk_to_pkey(jwk, &pkey, err);
	if (r == HJ_OK)
		r = jws_verify_compact(token, len, key->alg, pkey, payloadp, payload_lenp, err);
	EVP_PKEY_free(pkey);
	json_decref(jwk);
	return r;
}

/* Finds the key named by the header and checks that it may verify this token. */
static hj_err
keyring_verify_key(const struct keyring *ring, const struct jws_header *header,
    const struct keyring_key **keyp, struct hj_error *err)
{
	const struct jose_alg *alg = jose_alg_find(header->alg);
	const struct keyring_key *key;

	*keyp = NULL;
	if (alg == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "alg \"%.15s\" is not accepted", header->alg);
	if (header->has_crit)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the header has \"crit\", and no extension is supported");
	if (header->kid[0] == '\0')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "the header has no kid");

	key = keyring_find(ring, header->kid);
	if (key == NULL || key->state == KEY_STATE_EXPIRED)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "kid %.64s is not a published key of this service", header->kid);
	if (key->alg != alg)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "alg %s does not match key %s, which is %s", alg->name, key->kid,
		    key->alg->name);
	*keyp = key;
	return HJ_OK;
}

hj_err
keyring_verify(struct keyring *ring, const char *token, size_t token_len,
    const struct keyring_key **keyp, char **payloadp, size_t *payload_lenp,
    struct hj_error *err)
{
	struct keyring_verifier verifier;
	struct jws_header header;
	const struct keyring_key *key;
	hj_err r;

	*keyp = NULL;
	*payloadp = NULL;
	*payload_lenp = 0;
	if ((r = jws_header_parse(token, token_len, &header, err)) != HJ_OK ||
	    (r = keyring_verify_key(ring, &header, &key, err)) != HJ_OK)
		return r;

	if (key->hsm_key.kty == JOSE_KTY_OCT) {
		verifier.hsm = keyring_hsm(ring);
		verifier.key = key;
		r = jws_verify_compact_with(token, token_len, key->alg,
		    keyring_verify_in_token, &verifier, payloadp, payload_lenp, err);
	} else {
		r = keyring_verify_public(key, token, token_len, payloadp, payload_lenp, err);
	}
	if (r == HJ_OK)
		*keyp = key;
	return r;
}
