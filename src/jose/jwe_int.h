/* Declarations shared by the JWE source files, outside the public API. */
#ifndef HSMJWT_JWE_INT_H
#define HSMJWT_JWE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hsmjwt/buf.h"
#include "hsmjwt/error.h"
#include "hsmjwt/jwe.h"

/* Length of the RFC 3394 integrity check value that AES key wrap adds. */
#define JWE_KW_OVERHEAD 8

/* The way a key management algorithm delivers the CEK. */
enum jwe_key_mode {
	JWE_KEY_RSA_OAEP,     /* CEK encrypted to an RSA public key */
	JWE_KEY_ECDH_DIRECT,  /* the ECDH-ES agreed key is the CEK */
	JWE_KEY_ECDH_KW,      /* the ECDH-ES agreed key wraps the CEK */
	JWE_KEY_AES_KW,       /* an AES key in the token wraps the CEK */
};

/* A row of the key management algorithm table. */
struct jwe_alg {
	const char *name;            /* JWE "alg" */
	enum jwe_key_mode mode;
	const char *oaep_digest;     /* RSA-OAEP: OAEP and MGF1 digest */
	size_t kw_key_len;           /* AES key wrap key length in bytes, or 0 */
};

/* A row of the content encryption algorithm table. */
struct jwe_enc {
	const char *name;            /* JWE "enc" */
	bool gcm;                    /* AES-GCM; else AES-CBC with HMAC */
	size_t key_len;              /* CEK length in bytes */
	size_t iv_len;
	size_t tag_len;
	const EVP_CIPHER *(*cipher)(void);
	const char *hmac_digest;     /* CBC-HS only */
};

/* A curve that a recipient key or an ephemeral key may use. */
struct jwe_curve {
	const char *crv;             /* JWK "crv" */
	const char *kty;             /* JWK "kty": "EC" or "OKP" */
	const char *key_type;        /* OpenSSL key type name */
	const char *group_name;      /* OpenSSL group name for EC, else NULL */
	size_t field_len;            /* coordinate and Z length in bytes */
};

struct jwe_recipient {
	const struct jwe_alg *alg;
	const struct jwe_curve *curve;   /* NULL for RSA */
	EVP_PKEY *pkey;
	char *kid;
};

/* Returns the row for an offered "alg", or NULL. */
const struct jwe_alg *jwe_alg_find(const char *name);

/* Returns the row for an "enc", or NULL. */
const struct jwe_enc *jwe_enc_find(const char *name);

/* Returns the curve for a JWK "crv", or NULL. */
const struct jwe_curve *jwe_curve_find(const char *crv);

/* Finds an offered "alg", setting err to a message listing them when absent. */
hj_err jwe_alg_lookup(const char *name, const struct jwe_alg **algp,
    struct hj_error *err);

/* Finds an "enc", setting err to a message listing them when absent. */
hj_err jwe_enc_lookup(const char *name, const struct jwe_enc **encp,
    struct hj_error *err);

/* Returns whether alg agrees a key by ECDH-ES. */
bool jwe_alg_is_ecdh(const struct jwe_alg *alg);

/* Rejects a JWK that contains any private member. */
hj_err jwe_jwk_check_public(const json_t *jwk, const char *field,
    struct hj_error *err);

/*
 * Imports a public EC, OKP or RSA JWK after checking that it contains no
 * private member. field prefixes error messages. *curvep is NULL for RSA.
 */
hj_err jwe_jwk_import(const json_t *jwk, const char *field, EVP_PKEY **pkeyp,
    const struct jwe_curve **curvep, struct hj_error *err);

/* Writes the encoded public key of an EC or X25519 key (see jwe_ecdh_fn). */
hj_err jwe_public_point(EVP_PKEY *pkey, const struct jwe_curve *curve,
    uint8_t *point, size_t *point_len, struct hj_error *err);

/* Appends the epk JSON object of the public key pkey on curve to b. */
hj_err jwe_append_epk(struct buf *b, EVP_PKEY *pkey,
    const struct jwe_curve *curve, struct hj_error *err);

/* Computes ECDH Z of priv with peer. On entry *z_len is the capacity of z. */
hj_err jwe_ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *z,
    size_t *z_len, struct hj_error *err);

/* Wraps in with kek by AES key wrap (RFC 3394). out has room for in_len + 8. */
hj_err jwe_aes_kw_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in,
    size_t in_len, uint8_t *out, size_t *out_len, struct hj_error *err);

/* Unwraps in with kek. out has room for in_len - 8 bytes. */
hj_err jwe_aes_kw_unwrap(const uint8_t *kek, size_t kek_len,
    const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
    struct hj_error *err);

/* Encrypts in to pkey by RSA-OAEP with digest ("SHA1", "SHA256"). */
hj_err jwe_rsa_oaep_encrypt(EVP_PKEY *pkey, const char *digest,
    const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len,
    struct hj_error *err);

#endif
