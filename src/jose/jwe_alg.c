/* The JWE algorithm tables (RFC 7518 sections 4.1, 5.1 and 6.2.1.1). */
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "jwe_int.h"

/* RSA1_5 and "dir" are left out on purpose: hsmjwt does not offer them. */
static const struct jwe_alg jwe_algs[] = {
	{ "RSA-OAEP", JWE_KEY_RSA_OAEP, "SHA1", 0 },
	{ "RSA-OAEP-256", JWE_KEY_RSA_OAEP, "SHA256", 0 },
	{ "ECDH-ES", JWE_KEY_ECDH_DIRECT, NULL, 0 },
	{ "ECDH-ES+A128KW", JWE_KEY_ECDH_KW, NULL, 16 },
	{ "ECDH-ES+A192KW", JWE_KEY_ECDH_KW, NULL, 24 },
	{ "ECDH-ES+A256KW", JWE_KEY_ECDH_KW, NULL, 32 },
	{ "A128KW", JWE_KEY_AES_KW, NULL, 16 },
	{ "A256KW", JWE_KEY_AES_KW, NULL, 32 },
};

static const struct jwe_enc jwe_encs[] = {
	{ "A128GCM", true, 16, 12, 16, EVP_aes_128_gcm, NULL },
	{ "A192GCM", true, 24, 12, 16, EVP_aes_192_gcm, NULL },
	{ "A256GCM", true, 32, 12, 16, EVP_aes_256_gcm, NULL },
	{ "A128CBC-HS256", false, 32, 16, 16, EVP_aes_128_cbc, "SHA256" },
	{ "A192CBC-HS384", false, 48, 16, 24, EVP_aes_192_cbc, "SHA384" },
	{ "A256CBC-HS512", false, 64, 16, 32, EVP_aes_256_cbc, "SHA512" },
};

static const struct jwe_curve jwe_curves[] = {
	{ "P-256", "EC", "EC", "prime256v1", 32 },
	{ "P-384", "EC", "EC", "secp384r1", 48 },
	{ "P-521", "EC", "EC", "secp521r1", 66 },
	{ "X25519", "OKP", "X25519", NULL, 32 },
};

#define JWE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct jwe_alg *
jwe_alg_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < JWE_COUNT(jwe_algs); i++) {
		if (strcmp(jwe_algs[i].name, name) == 0)
			return &jwe_algs[i];
	}
	return NULL;
}

const struct jwe_enc *
jwe_enc_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < JWE_COUNT(jwe_encs); i++) {
		if (strcmp(jwe_encs[i].name, name) == 0)
			return &jwe_encs[i];
	}
	return NULL;
}

const struct jwe_curve *
jwe_curve_find(const char *crv)
{
	size_t i;

	if (crv == NULL)
		return NULL;
	for (i = 0; i < JWE_COUNT(jwe_curves); i++) {
		if (strcmp(jwe_curves[i].crv, crv) == 0)
			return &jwe_curves[i];
	}
	return NULL;
}

bool
jwe_alg_is_ecdh(const struct jwe_alg *alg)
{
	return alg->mode == JWE_KEY_ECDH_DIRECT || alg->mode == JWE_KEY_ECDH_KW;
}

hj_err
jwe_alg_lookup(const char *name, const struct jwe_alg **algp,
    struct hj_error *err)
{
	static const char algs[] = "use RSA-OAEP, RSA-OAEP-256, ECDH-ES, "
	    "ECDH-ES+A128KW, ECDH-ES+A192KW, ECDH-ES+A256KW, A128KW or A256KW";

	*algp = jwe_alg_find(name);
	if (name == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE alg missing: %s", algs);
	if (*algp == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE alg \"%.32s\" not supported: %s", name, algs);
	return HJ_OK;
}

hj_err
jwe_enc_lookup(const char *name, const struct jwe_enc **encp,
    struct hj_error *err)
{
	static const char encs[] = "use A128GCM, A192GCM, A256GCM, "
	    "A128CBC-HS256, A192CBC-HS384 or A256CBC-HS512";

	*encp = jwe_enc_find(name);
	if (name == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE enc missing: %s", encs);
	if (*encp == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE enc \"%.32s\" not supported: %s", name, encs);
	return HJ_OK;
}

hj_err
jwe_check_alg_enc(const char *alg, const char *enc, struct hj_error *err)
{
	const struct jwe_alg *alg_row;
	const struct jwe_enc *enc_row;
	hj_err r;

	r = jwe_alg_lookup(alg, &alg_row, err);
	if (r != HJ_OK)
		return r;
	return jwe_enc_lookup(enc, &enc_row, err);
}
