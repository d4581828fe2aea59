/*
 * Compact JWS (RFC 7515) signing through a callback, and verification in
 * software or through a callback.
 */
#ifndef HSMJWT_JWS_H
#define HSMJWT_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/error.h"

/* Large enough for an RSA-8192 signature. */
#define JWS_SIGNATURE_MAX 1024

/*
 * Signs input with the key behind signer. On entry *sig_len is the capacity
 * of sig (JWS_SIGNATURE_MAX); on success it is the signature length. The
 * signature is in JWS form: raw R||S for ECDSA, not DER.
 */
typedef hj_err (*jws_sign_fn)(void *signer, const uint8_t *input,
    size_t input_len, uint8_t *sig, size_t *sig_len, struct hj_error *err);

/*
 * Builds the protected header {"alg":...,"kid":...,"typ":"JWT"} (kid omitted
 * when NULL), signs header.payload through sign and returns the compact
 * serialization in *tokenp, which the caller frees. payload is the JSON
 * claim set, base64url-encoded here.
 */
hj_err jws_sign_compact(const struct jose_alg *alg, const char *kid,
    const char *payload, size_t payload_len, jws_sign_fn sign, void *signer,
    char **tokenp, struct hj_error *err);

/*
 * Checks sig (sig_len bytes, in JWS form) over input with the key behind
 * verifier. Returns HJ_OK when it verifies and HJ_ERR_INVALID_ARGUMENT when
 * it does not; any other code is a failure of the verifier itself.
 */
typedef hj_err (*jws_verify_fn)(void *verifier, const uint8_t *input,
    size_t input_len, const uint8_t *sig, size_t sig_len,
    struct hj_error *err);

/*
 * Verifies a compact JWS in software against key, requiring the header's
 * "alg" to equal alg->name. On success *payloadp is the decoded payload
 * (NUL-terminated, *payload_lenp bytes) that the caller frees. A token that
 * does not verify gets HJ_ERR_INVALID_ARGUMENT with the reason. HMAC
 * algorithms are rejected here: verify them with jws_verify_compact_with().
 */
hj_err jws_verify_compact(const char *token, size_t token_len,
    const struct jose_alg *alg, EVP_PKEY *key, char **payloadp,
    size_t *payload_lenp, struct hj_error *err);

/*
 * Verifies a compact JWS like jws_verify_compact(), but checks the signature
 * through verify, for keys that stay in the token (HMAC). The header is
 * checked and a signature of the wrong fixed length rejected before verify
 * is called.
 */
hj_err jws_verify_compact_with(const char *token, size_t token_len,
    const struct jose_alg *alg, jws_verify_fn verify, void *verifier,
    char **payloadp, size_t *payload_lenp, struct hj_error *err);

#endif
