/* The JWS algorithm table. */
#include <string.h>

#include <openssl/obj_mac.h>
#include <p11-kit/pkcs11.h>

#include "hsmjwt/alg.h"

static const struct jose_alg jose_algs[] = {
	{
		.name = "ES256",
		.kty = JOSE_KTY_EC,
		.crv = "P-256",
		.hash_nid = NID_sha256,
		.prehash = true,
		.mechanism = CKM_ECDSA,
		.pss = false,
		.signature_len = 64,
		.rsa_bits = 0,
	},
	{
		.name = "RS256",
		.kty = JOSE_KTY_RSA,
		.crv = NULL,
		.hash_nid = NID_sha256,
		.prehash = false,
		.mechanism = CKM_SHA256_RSA_PKCS,
		.pss = false,
		.signature_len = 0,
		.rsa_bits = 2048,
	},
	{
		.name = "PS256",
		.kty = JOSE_KTY_RSA,
		.crv = NULL,
		.hash_nid = NID_sha256,
		.prehash = false,
		.mechanism = CKM_SHA256_RSA_PKCS_PSS,
		.pss = true,
		.signature_len = 0,
		.rsa_bits = 2048,
	},
};

#define JOSE_ALG_COUNT (sizeof(jose_algs) / sizeof(jose_algs[0]))

const struct jose_alg *
jose_alg_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;

	for (i = 0; i < JOSE_ALG_COUNT; i++) {
		if (strcmp(jose_algs[i].name, name) == 0)
			return &jose_algs[i];
	}
	return NULL;
}

const struct jose_alg *
jose_alg_at(size_t i)
{
	if (i >= JOSE_ALG_COUNT)
		return NULL;
	return &jose_algs[i];
}
