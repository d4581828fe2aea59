#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jws.h"
#include "hsmjwt/keyring.h"

struct keyring {
	atomic_int refs;
	struct hsm *hsm;
	int64_t built_at;
	struct keyring_key *keys;          /* sorted by alg name, then kid */
	struct lifecycle_key *lifecycle;   /* parallel to keys */
	size_t count;
	char *jwks_json;
	char jwks_etag[JWK_THUMBPRINT_LEN + 3];
};

struct keyring_signer {
	struct hsm *hsm;
	const struct keyring_key *key;
};

static json_t *
keyring_public_jwk(const struct hsm_key *hk, struct hj_error *err)
{
	if (hk->kty == JOSE_KTY_EC)
		return jwk_from_ec_point(hk->crv, hk->ec_point, hk->ec_point_len, err);
	if (hk->kty == JOSE_KTY_RSA)
		return jwk_from_rsa(hk->rsa_n, hk->rsa_n_len, hk->rsa_e, hk->rsa_e_len, err);
	if (hk->kty == JOSE_KTY_OKP)
		return jwk_from_okp(hk->crv, hk->ec_point, hk->ec_point_len, err);
	hj_error_set(err, HJ_ERR_INTERNAL, "key type %d has no public JWK", (int)hk->kty);
	return NULL;
}

static void
keyring_id_hex(const struct hsm_key *hk, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < hk->id_len && i < HSM_ID_MAX; i++) {
		out[2 * i] = hex[hk->id[i] >> 4];
		out[2 * i + 1] = hex[hk->id[i] & 0xf];
	}
	out[2 * i] = '\0';
}

hj_err
keyring_key_describe(struct keyring_key *key, const struct jose_alg *alg,
    struct hj_error *err)
{
	json_t *jwk = NULL;
	hj_err r = HJ_ERR_NO_MEMORY;

	key->alg = alg;
	keyring_id_hex(&key->hsm_key, key->id_hex);

	/* An HMAC key has no public half: its kid is its random CKA_ID, and it is never published. */
	if (key->hsm_key.kty == JOSE_KTY_OCT) {
		if (key->hsm_key.id_len == 0 ||
		    b64url_encoded_len(key->hsm_key.id_len) >= sizeof(key->kid))
			return hj_error_set(err, HJ_ERR_INTERNAL,
			    "secret key %s has no usable CKA_ID for a kid", key->hsm_key.label);
		b64url_encode_to(key->hsm_key.id, key->hsm_key.id_len, key->kid);
		return HJ_OK;
	}

	jwk = keyring_public_jwk(&key->hsm_key, err);
	if (jwk == NULL) {
		r = err != NULL ? err->code : HJ_ERR_INTERNAL;
		goto out;
	}
	if ((r = jwk_thumbprint(jwk, key->kid, err)) != HJ_OK)
		goto out;

	r = HJ_ERR_NO_MEMORY;
	if (json_object_set_new(jwk, "kid", json_string(key->kid)) != 0 ||
	    json_object_set_new(jwk, "use", json_string(alg->encryption ? "enc" : "sig")) != 0 ||
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

void
keyring_key_clear(struct keyring_key *key)
{
	free(key->public_jwk_json);
	key->public_jwk_json = NULL;
}

static int
keyring_key_compare(const void *a, const void *b)
{
	const struct keyring_key *ka = a, *kb = b;
	int c = strcmp(ka->alg->name, kb->alg->name);

	return c != 0 ? c : strcmp(ka->kid, kb->kid);
}

static bool
keyring_is_published(const struct keyring_key *key)
{
	return key->public_jwk_json != NULL && key->state != KEY_STATE_EXPIRED;
}

/* Builds {"keys":[...]} of the published keys and its ETag, the base64url SHA-256. */
static hj_err
keyring_build_jwks(struct keyring *ring, struct hj_error *err)
{
	uint8_t digest[32];
	unsigned digest_len = sizeof(digest);
	bool first = true;
	struct buf b;
	size_t i;

	buf_init(&b);
	buf_append_str(&b, "{\"keys\":[");
	for (i = 0; i < ring->count; i++) {
		if (!keyring_is_published(&ring->keys[i]))
			continue;
		if (!first)
			buf_append(&b, ",", 1);
		buf_append_str(&b, ring->keys[i].public_jwk_json);
		first = false;
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

/* Computes every key's state at now through the lifecycle rules. */
static void
keyring_compute_states(struct keyring *ring, int64_t now)
{
	size_t i;

	for (i = 0; i < ring->count; i++) {
		struct lifecycle_key *lk = &ring->lifecycle[i];

		lk->alg = ring->keys[i].alg->name;
		lk->kid = ring->keys[i].kid;
		lk->times = ring->keys[i].times;
		lk->grace = ring->keys[i].grace;
	}
	lifecycle_compute(ring->lifecycle, ring->count, now);
	for (i = 0; i < ring->count; i++) {
		ring->keys[i].state = ring->lifecycle[i].state;
		ring->keys[i].retire_at = ring->lifecycle[i].retire_at;
		ring->keys[i].unpublish_at = ring->lifecycle[i].unpublish_at;
	}
}

hj_err
keyring_build(struct hsm *hsm, struct keyring_key *keys, size_t count,
    int64_t now, struct keyring **ringp, struct hj_error *err)
{
	struct keyring *ring = NULL;
	size_t i;
	hj_err r = HJ_ERR_NO_MEMORY;

	*ringp = NULL;
	ring = calloc(1, sizeof(*ring));
	if (ring == NULL)
		goto out;
	atomic_init(&ring->refs, 1);
	ring->hsm = hsm;
	ring->built_at = now;
	ring->keys = calloc(count + 1, sizeof(*ring->keys));
	ring->lifecycle = calloc(count + 1, sizeof(*ring->lifecycle));
	if (ring->keys == NULL || ring->lifecycle == NULL)
		goto out;

	for (i = 0; i < count; i++) {
		ring->keys[i] = keys[i];
		keys[i].public_jwk_json = NULL;
	}
	ring->count = count;
	qsort(ring->keys, ring->count, sizeof(*ring->keys), keyring_key_compare);
	keyring_compute_states(ring, now);

	if ((r = keyring_build_jwks(ring, err)) != HJ_OK)
		goto out;
	*ringp = ring;
	ring = NULL;
	r = HJ_OK;

out:
	if (r == HJ_ERR_NO_MEMORY && err != NULL && err->code != HJ_ERR_NO_MEMORY)
		hj_error_set(err, r, "out of memory building the key ring");
	keyring_unref(ring);
	return r;
}

struct keyring *
keyring_ref(struct keyring *ring)
{
	atomic_fetch_add(&ring->refs, 1);
	return ring;
}

void
keyring_unref(struct keyring *ring)
{
	size_t i;

	if (ring == NULL || atomic_fetch_sub(&ring->refs, 1) != 1)
		return;
	for (i = 0; i < ring->count; i++)
		keyring_key_clear(&ring->keys[i]);
	free(ring->keys);
	free(ring->lifecycle);
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
keyring_find(const struct keyring *ring, const char *kid)
{
	size_t i;

	for (i = 0; i < ring->count; i++) {
		if (strcmp(ring->keys[i].kid, kid) == 0)
			return &ring->keys[i];
	}
	return NULL;
}

const struct keyring_key *
keyring_signing_key(const struct keyring *ring, const struct jose_alg *alg,
    int64_t now)
{
	long i = lifecycle_active_index(ring->lifecycle, ring->count, alg->name, now);

	return i >= 0 ? &ring->keys[i] : NULL;
}

void
keyring_key_state_at(const struct keyring *ring, size_t i, int64_t now,
    enum key_state *statep, int64_t *retire_atp, int64_t *unpublish_atp)
{
	struct lifecycle_key *copy = calloc(ring->count + 1, sizeof(*copy));

	*statep = ring->keys[i].state;
	*retire_atp = ring->keys[i].retire_at;
	*unpublish_atp = ring->keys[i].unpublish_at;
	if (copy == NULL)
		return;
	memcpy(copy, ring->lifecycle, ring->count * sizeof(*copy));
	lifecycle_compute(copy, ring->count, now);
	*statep = copy[i].state;
	*retire_atp = copy[i].retire_at;
	*unpublish_atp = copy[i].unpublish_at;
	free(copy);
}

int64_t
keyring_built_at(const struct keyring *ring)
{
	return ring->built_at;
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

struct hsm *
keyring_hsm(const struct keyring *ring)
{
	return ring->hsm;
}
