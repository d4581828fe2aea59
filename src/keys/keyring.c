/*
 * NOTE: key lifecycle times are not stored in the token yet. Every key found
 * is published, and for each algorithm the key with the smallest kid signs,
 * so that replicas opening the same token agree on it.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jws.h"
#include "hsmjwt/keyring.h"
#include "hsmjwt/log.h"

struct keyring {
	struct hsm *hsm;
	struct keyring_key *keys;     /* sorted by alg name, then kid */
	size_t count;
	char *jwks_json;
	char jwks_etag[JWK_THUMBPRINT_LEN + 3];
};

struct keyring_signer {
	struct hsm *hsm;
	const struct keyring_key *key;
};

/* Returns the algorithm named in a label "hsmjwt:ALG" or "hsmjwt:ALG:...". */
static const struct jose_alg *
keyring_label_alg(const char *label)
{
	char name[HSM_LABEL_MAX];
	size_t prefix_len = strlen(KEYRING_LABEL_PREFIX);
	size_t len;

	if (strncmp(label, KEYRING_LABEL_PREFIX, prefix_len) != 0)
		return NULL;
	label += prefix_len;
	len = strcspn(label, ":");
	if (len >= sizeof(name))
		return NULL;
	memcpy(name, label, len);
	name[len] = '\0';
	return jose_alg_find(name);
}

static json_t *
keyring_public_jwk(const struct hsm_key *hk, struct hj_error *err)
{
	if (hk->kty == JOSE_KTY_EC)
		return jwk_from_ec_point(hk->crv, hk->ec_point, hk->ec_point_len, err);
	return jwk_from_rsa(hk->rsa_n, hk->rsa_n_len, hk->rsa_e, hk->rsa_e_len, err);
}

/* Fills key from a token key: kid, JWK with kid, use and alg. */
static hj_err
keyring_key_init(struct keyring_key *key, const struct hsm_key *hk,
    const struct jose_alg *alg, struct hj_error *err)
{
	json_t *jwk = NULL;
	hj_err r = HJ_ERR_NO_MEMORY;

	memset(key, 0, sizeof(*key));
	key->hsm_key = *hk;
	key->alg = alg;

	jwk = keyring_public_jwk(hk, err);
	if (jwk == NULL) {
		r = err != NULL ? err->code : HJ_ERR_INTERNAL;
		goto out;
	}
	if ((r = jwk_thumbprint(jwk, key->kid, err)) != HJ_OK)
		goto out;

	r = HJ_ERR_NO_MEMORY;
	if (json_object_set_new(jwk, "kid", json_string(key->kid)) != 0 ||
	    json_object_set_new(jwk, "use", json_string("sig")) != 0 ||
	    json_object_set_new(jwk, "alg", json_string(alg->name)) != 0)
		goto out;
	key->public_jwk_json = json_dumps(jwk, JSON_COMPACT);
	if (key->public_jwk_json == NULL)
		goto out;
	r = HJ_OK;

out:
	json_decref(jwk);
	return r;
}

/* Returns true when the token reports the private key as protected. */
static bool
keyring_key_protected(struct hsm *hsm, const struct hsm_key *hk,
    const char *label)
{
	struct hsm_key_protection prot;
	struct hj_error err;

	if (hsm_key_protection(hsm, hk, &prot, &err) != HJ_OK) {
		log_event(LOG_LEVEL_ERROR, "key_skipped", "label=%s reason=\"%s\"",
		    label, err.message);
		return false;
	}
	if (!prot.sensitive || prot.extractable) {
		log_event(LOG_LEVEL_ERROR, "key_skipped",
		    "label=%s reason=\"private key is not sensitive or is extractable; "
		    "destroy it and let hsmjwt generate keys in the token\"", label);
		return false;
	}
	return true;
}

/* Adds a token key to the ring unless it is unusable, which is logged. */
static hj_err
keyring_add(struct keyring *ring, const struct hsm_key *hk, struct hj_error *err)
{
	const struct jose_alg *alg = keyring_label_alg(hk->label);
	char label[LOG_QUOTE_SIZE];
	hj_err r;

	log_quote(label, hk->label);
	if (alg == NULL || !hsm_key_fits_alg(hk, alg)) {
		log_event(LOG_LEVEL_WARN, "key_skipped",
		    "label=%s reason=\"the label names no supported algorithm, or the "
		    "key type does not fit it\"", label);
		return HJ_OK;
	}
	if (!keyring_key_protected(ring->hsm, hk, label))
		return HJ_OK;

	r = keyring_key_init(&ring->keys[ring->count], hk, alg, err);
	if (r != HJ_OK)
		return r;
	ring->count++;
	return HJ_OK;
}

static int
keyring_key_compare(const void *a, const void *b)
{
	const struct keyring_key *ka = a, *kb = b;
	int c = strcmp(ka->alg->name, kb->alg->name);

	return c != 0 ? c : strcmp(ka->kid, kb->kid);
}

static hj_err
keyring_generate(struct keyring *ring, const struct jose_alg *alg,
    struct hj_error *err)
{
	char label[HSM_LABEL_MAX];
	struct hsm_key hk;
	hj_err r;

	snprintf(label, sizeof(label), "%s%s", KEYRING_LABEL_PREFIX, alg->name);
	r = hsm_key_generate(ring->hsm, alg, label, &hk, err);
	if (r != HJ_OK)
		return r;
	r = keyring_key_init(&ring->keys[ring->count], &hk, alg, err);
	if (r != HJ_OK)
		return r;

	log_event(LOG_LEVEL_INFO, "key_generated", "kid=%s alg=%s label=%s",
	    ring->keys[ring->count].kid, alg->name, label);
	ring->count++;
	return HJ_OK;
}

/* Builds {"keys":[...]} and its ETag, the base64url SHA-256 of the document. */
static hj_err
keyring_build_jwks(struct keyring *ring, struct hj_error *err)
{
	uint8_t digest[32];
	unsigned digest_len = sizeof(digest);
	struct buf b;
	size_t i;

	buf_init(&b);
	buf_append_str(&b, "{\"keys\":[");
	for (i = 0; i < ring->count; i++) {
		if (i > 0)
			buf_append(&b, ",", 1);
		buf_append_str(&b, ring->keys[i].public_jwk_json);
	}
	buf_append_str(&b, "]}");
	if (buf_finish(&b, &ring->jwks_json, NULL) != HJ_OK)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory building the JWKS");

	if (EVP_Digest(ring->jwks_json, strlen(ring->jwks_json), digest,
	    &digest_len, EVP_sha256(), NULL) != 1)
		return hj_error_set(err, HJ_ERR_INTERNAL, "SHA-256 of the JWKS failed");
	ring->jwks_etag[0] = '"';
	b64url_encode_to(digest, sizeof(digest), ring->jwks_etag + 1);
	strcat(ring->jwks_etag, "\"");
	return HJ_OK;
}

/* Generates a key for each algorithm in algs that the ring has none of. */
static hj_err
keyring_fill_missing(struct keyring *ring, const struct jose_alg *const *algs,
    size_t count, bool generate_missing, struct hj_error *err)
{
	size_t i;
	hj_err r;

	for (i = 0; i < count; i++) {
		if (keyring_signing_key(ring, algs[i]) != NULL)
			continue;
		if (!generate_missing)
			return hj_error_set(err, HJ_ERR_CONFIG,
			    "no %s key in the token; generate one, or set "
			    "hsm.generate_missing_keys: true", algs[i]->name);
		if ((r = keyring_generate(ring, algs[i], err)) != HJ_OK)
			return r;
	}
	return HJ_OK;
}

hj_err
keyring_load(struct hsm *hsm, const struct jose_alg *const *algs, size_t count,
    bool generate_missing, struct keyring **ringp, struct hj_error *err)
{
	struct keyring *ring = NULL;
	struct hsm_key *found = NULL;
	size_t found_count = 0, i;
	hj_err r = HJ_ERR_NO_MEMORY;

	*ringp = NULL;

	ring = calloc(1, sizeof(*ring));
	if (ring == NULL)
		goto out;
	ring->hsm = hsm;

	r = hsm_key_list(hsm, KEYRING_LABEL_PREFIX, &found, &found_count, err);
	if (r != HJ_OK)
		goto out;

	/* Room for every key found and one new key per algorithm. */
	r = HJ_ERR_NO_MEMORY;
	ring->keys = calloc(found_count + count + 1, sizeof(*ring->keys));
	if (ring->keys == NULL)
		goto out;
	for (i = 0; i < found_count; i++) {
		if ((r = keyring_add(ring, &found[i], err)) != HJ_OK)
			goto out;
	}
	qsort(ring->keys, ring->count, sizeof(*ring->keys), keyring_key_compare);

	if ((r = keyring_fill_missing(ring, algs, count, generate_missing, err)) != HJ_OK)
		goto out;
	qsort(ring->keys, ring->count, sizeof(*ring->keys), keyring_key_compare);

	if ((r = keyring_build_jwks(ring, err)) != HJ_OK)
		goto out;

	*ringp = ring;
	ring = NULL;
	r = HJ_OK;

out:
	free(found);
	keyring_free(ring);
	return r;
}

void
keyring_free(struct keyring *ring)
{
	size_t i;

	if (ring == NULL)
		return;
	for (i = 0; i < ring->count; i++)
		free(ring->keys[i].public_jwk_json);
	free(ring->keys);
	free(ring->jwks_json);
	free(ring);
}

size_t
keyring_key_count(const struct keyring *ring)
{
	return ring->count;
}

const struct keyring_key *
keyring_key_at(const struct keyring *ring, size_t i)
{
	return i < ring->count ? &ring->keys[i] : NULL;
}

const struct keyring_key *
keyring_signing_key(const struct keyring *ring, const struct jose_alg *alg)
{
	size_t i;

	/* Keys are sorted, so the first of an algorithm has the smallest kid. */
	for (i = 0; i < ring->count; i++) {
		if (ring->keys[i].alg == alg)
			return &ring->keys[i];
	}
	return NULL;
}

static hj_err
keyring_sign_callback(void *signer, const uint8_t *input, size_t input_len,
    uint8_t *sig, size_t *sig_len, struct hj_error *err)
{
	struct keyring_signer *s = signer;

	return hsm_sign(s->hsm, &s->key->hsm_key, s->key->alg, input, input_len,
	    sig, sig_len, err);
}

hj_err
keyring_sign_compact(struct keyring *ring, const struct keyring_key *key,
    const char *payload, size_t payload_len, char **tokenp,
    struct hj_error *err)
{
	struct keyring_signer signer = { ring->hsm, key };

	return jws_sign_compact(key->alg, key->kid, payload, payload_len,
	    keyring_sign_callback, &signer, tokenp, err);
}

const char *
keyring_jwks_json(const struct keyring *ring)
{
	return ring->jwks_json;
}

const char *
keyring_jwks_etag(const struct keyring *ring)
{
	return ring->jwks_etag;
}
