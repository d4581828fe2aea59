/*
 * Public JWKs (RFC 7517, RFC 7518 section 6, RFC 8037 section 2) and
 * RFC 7638 thumbprints.
 */
#ifndef HSMJWT_JWK_H
#define HSMJWT_JWK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hsmjwt/error.h"

/* Length of a SHA-256 thumbprint in base64url, without the NUL. */
#define JWK_THUMBPRINT_LEN 43

/*
 * Builds {"kty":"EC","crv":crv,"x":...,"y":...} from an uncompressed point
 * (0x04 || X || Y) on the curve crv ("P-256"). The coordinates are left-padded
 * to the curve size. Returns a new reference, or NULL with err set.
 */
json_t *jwk_from_ec_point(const char *crv, const uint8_t *point,
    size_t point_len, struct hj_error *err);

/* Builds {"kty":"RSA","n":...,"e":...} from big-endian n and e (leading zeros stripped). */
json_t *jwk_from_rsa(const uint8_t *n, size_t n_len, const uint8_t *e,
    size_t e_len, struct hj_error *err);

/*
 * Builds {"kty":"OKP","crv":crv,"x":...} from the raw public key x of
 * x_len bytes: the RFC 8032 encoding for "Ed25519", the RFC 7748 u
 * coordinate for "X25519" (32 bytes each). Returns a new reference, or NULL
 * with err set.
 */
json_t *jwk_from_okp(const char *crv, const uint8_t *x, size_t x_len,
    struct hj_error *err);

/*
 * Computes the RFC 7638 SHA-256 thumbprint of a public JWK: its required
 * members in lexicographic order, compact, hashed, base64url-encoded into
 * out (JWK_THUMBPRINT_LEN + 1 bytes).
 */
hj_err jwk_thumbprint(const json_t *jwk, char *out, struct hj_error *err);

/*
 * Converts a public EC, RSA or OKP (Ed25519, X25519) JWK to an OpenSSL key
 * that the caller frees. Private members such as "d" are ignored.
 */
hj_err jwk_to_pkey(const json_t *jwk, EVP_PKEY **pkeyp, struct hj_error *err);

#endif
