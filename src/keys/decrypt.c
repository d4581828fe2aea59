/*
 * Decryption of JWEs addressed to the service's own keys. The JOSE layer
 * parses the token and calls back here for the key management step, which
 * runs in the token: C_Decrypt for RSA-OAEP, C_DeriveKey for ECDH-ES.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hsmjwt/keyring.h"

struct keyring_decryptor {
	struct keyring *ring;
	const struct keyring_key *used;    /* the key that the JWE named */
};

/* Finds the published decryption key for kid, or the active one of alg when kid is NULL. */
static hj_err
keyring_decrypt_key(struct keyring_decryptor *d, const char *kid, const char *alg,
    const struct keyring_key **keyp, struct hj_error *err)
{
	const struct jose_alg *row = jose_enc_alg_find(alg);
	const struct keyring_key *key;

	*keyp = NULL;
	if (row == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "alg %.32s has no decryption key", alg);
	key = kid != NULL ? keyring_find(d->ring, kid) :
	    keyring_signing_key(d->ring, row, (int64_t)time(NULL));
	if (key == NULL || key->alg != row || key->state == KEY_STATE_EXPIRED)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "no published %s key %.64s", alg, kid != NULL ? kid : "(no kid)");
	d->used = key;
	*keyp = key;
	return HJ_OK;
}

static hj_err
keyring_decrypt_rsa(void *ctx, const char *kid, const char *alg,
    const uint8_t *encrypted_key, size_t encrypted_key_len, uint8_t *cek,
    size_t *cek_len, struct hj_error *err)
{
	struct keyring_decryptor *d = ctx;
	const struct keyring_key *key;
	hj_err r;

	if ((r = keyring_decrypt_key(d, kid, alg, &key, err)) != HJ_OK)
		return r;
	return hsm_rsa_oaep_decrypt(keyring_hsm(d->ring), &key->hsm_key, key->alg->hash_nid,
	    encrypted_key, encrypted_key_len, cek, cek_len, err);
}

static hj_err
keyring_decrypt_curve(void *ctx, const char *kid, const char *alg, const char **crvp,
    struct hj_error *err)
{
	struct keyring_decryptor *d = ctx;
	const struct keyring_key *key;
	hj_err r;

	*crvp = NULL;
	if ((r = keyring_decrypt_key(d, kid, alg, &key, err)) != HJ_OK)
		return r;
	*crvp = key->hsm_key.crv;
	return HJ_OK;
}

static hj_err
keyring_decrypt_ecdh(void *ctx, const char *kid, const char *alg, const char *crv,
    const uint8_t *point, size_t point_len, uint8_t *z, size_t *z_len,
    struct hj_error *err)
{
	struct keyring_decryptor *d = ctx;
	const struct keyring_key *key;
	hj_err r;

	if ((r = keyring_decrypt_key(d, kid, alg, &key, err)) != HJ_OK)
		return r;
	if (key->hsm_key.crv == NULL || strcmp(key->hsm_key.crv, crv) != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "epk curve %.16s is not the "
		    "key's curve", crv);
	return hsm_ecdh_derive(keyring_hsm(d->ring), &key->hsm_key, point, point_len, z,
	    z_len, err);
}

hj_err
keyring_decrypt(struct keyring *ring, const char *token, size_t token_len,
    struct jwe_decrypted **resultp, const struct keyring_key **keyp,
    struct hj_error *err, struct hj_error *detail)
{
	struct keyring_decryptor d = { ring, NULL };
	struct jwe_decrypt_keys keys = {
		.ctx = &d,
		.rsa_decrypt = keyring_decrypt_rsa,
		.ecdh_curve = keyring_decrypt_curve,
		.ecdh = keyring_decrypt_ecdh,
		.unwrap = NULL,
	};
	hj_err r;

	*keyp = NULL;
	r = jwe_decrypt_compact(token, token_len, &keys, resultp, err, detail);
	if (r == HJ_OK)
		*keyp = d.used;
	return r;
}
