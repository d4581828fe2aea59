/*
 * Compact JWE (RFC 7516) with the algorithms of RFC 7518 section 4 and 5.
 *
 * Encryption goes to a recipient's public JWK (RSA-OAEP, RSA-OAEP-256,
 * ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A192KW, ECDH-ES+A256KW) or through a
 * callback that wraps the content encryption key (CEK) with an AES key that
 * stays in the token (A128KW, A256KW). Decryption reaches the service's own
 * private and secret keys only through callbacks, so this module never
 * touches PKCS#11. RSA1_5, "dir" and "zip" are not supported.
 *
 * Content encryption: A128GCM, A192GCM, A256GCM, A128CBC-HS256,
 * A192CBC-HS384 and A256CBC-HS512. Every buffer that held a CEK, a derived
 * key, an ECDH shared secret or a MAC key is cleansed before it is freed.
 */
#ifndef HSMJWT_JWE_H
#define HSMJWT_JWE_H

#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"

/* Maximum CEK length: 64 bytes for A256CBC-HS512. */
#define JWE_CEK_MAX 64

/* Maximum encrypted key length: an RSA-16384 ciphertext. */
#define JWE_ENCRYPTED_KEY_MAX 2048

/* Maximum ECDH shared secret Z: 66 bytes on P-521. */
#define JWE_ECDH_SECRET_MAX 66

/* Maximum encoded ECDH public key: an uncompressed P-521 point. */
#define JWE_ECDH_POINT_MAX 133

/* Maximum authentication tag length: 32 bytes for A256CBC-HS512. */
#define JWE_TAG_MAX 32

/*
 * The message of every decryption failure after the protected header has
 * been parsed. It does not name the step that failed, so that a caller
 * cannot use the service as a padding or tag oracle.
 */
#define JWE_DECRYPT_FAILED_MESSAGE \
	"JWE could not be decrypted: it is not addressed to a key of this " \
	"service, or it was modified"

/*
 * Checks that alg is a key management algorithm and enc a content
 * encryption algorithm that this module offers. Returns
 * HJ_ERR_INVALID_ARGUMENT with a message that lists the supported values.
 */
hj_err jwe_check_alg_enc(const char *alg, const char *enc,
    struct hj_error *err);

/* A checked public key of a recipient, bound to one key management alg. */
struct jwe_recipient;

/*
 * Parses json (json_len bytes) as a public JWK or a JWK Set and checks the
 * key for alg ("RSA-OAEP", "ECDH-ES+A256KW", ...). From a JWK Set, the key
 * whose "kid" equals kid is taken. With kid NULL, the set must contain
 * exactly one key usable for alg. A single JWK must have the "kid" kid
 * when kid is not NULL.
 *
 * The key must fit alg: RSA of at least 2048 bits, EC on P-256, P-384 or
 * P-521 with its point on the curve, or OKP on X25519. It must contain no
 * private member (d, p, q, dp, dq, qi, oth, k). When present, "use" must be
 * "enc", "alg" must be alg, and "key_ops" must allow "encrypt" or
 * "wrapKey" (RSA) or "deriveKey" or "deriveBits" (ECDH).
 *
 * field names the input in error messages ("recipient_jwk_json"). Every
 * rejection is HJ_ERR_INVALID_ARGUMENT, and an allocation failure is
 * HJ_ERR_NO_MEMORY. On success *recipientp is a new recipient that the
 * caller frees with jwe_recipient_free().
 */
hj_err jwe_recipient_parse(const char *json, size_t json_len,
    const char *field, const char *alg, const char *kid,
    struct jwe_recipient **recipientp, struct hj_error *err);

/* Returns the recipient key's "kid", or NULL when it has none. */
const char *jwe_recipient_kid(const struct jwe_recipient *recipient);

/* Frees recipient (NULL is allowed). */
void jwe_recipient_free(struct jwe_recipient *recipient);

/*
 * Wraps the CEK (cek_len bytes) with the AES key behind ctx, as RFC 3394
 * AES key wrap with the default initial value. On entry *out_len is the
 * capacity of out (JWE_CEK_MAX + 8), and on success it is cek_len + 8.
 */
typedef hj_err (*jwe_wrap_fn)(void *ctx, const uint8_t *cek, size_t cek_len,
    uint8_t *out, size_t *out_len, struct hj_error *err);

/*
 * Parameters of jwe_encrypt_compact(). Zero the struct, then fill in the
 * members. Pointers are borrowed for the duration of the call.
 */
struct jwe_encrypt_params {
	const char *alg;          /* key management algorithm */
	const char *enc;          /* content encryption algorithm */

	/* RSA-OAEP, RSA-OAEP-256 and ECDH-ES*: parsed for the same alg. */
	const struct jwe_recipient *recipient;

	/* A128KW and A256KW: the wrapping callback and its key's kid. */
	jwe_wrap_fn wrap;
	void *wrap_ctx;
	const char *wrap_kid;     /* NULL: no "kid" in the header */

	const char *cty;          /* "JWT" for a nested JWT; NULL: no "cty" */

	/* ECDH-ES*: PartyUInfo and PartyVInfo, or NULL for no "apu" or "apv". */
	const uint8_t *apu;
	size_t apu_len;
	const uint8_t *apv;
	size_t apv_len;

	/*
	 * For known-answer tests only: a fixed CEK and IV in place of random
	 * ones. A fixed IV reused with the same CEK breaks AES-GCM, so
	 * production code leaves these NULL. test_cek cannot be combined with
	 * ECDH-ES, whose CEK is the agreed key.
	 */
	const uint8_t *test_cek;
	size_t test_cek_len;
	const uint8_t *test_iv;
	size_t test_iv_len;
};

/*
 * Encrypts plaintext as a compact JWE. The protected header has the
 * members "alg", "enc", "cty", "kid", "epk", "apu", "apv" in this order,
 * each only where it applies. "kid" is the recipient's kid or wrap_kid.
 * The CEK, the IV and ephemeral ECDH keys come from the OpenSSL CSPRNG.
 *
 * On success *tokenp is the NUL-terminated token, which the caller frees.
 * Errors: HJ_ERR_INVALID_ARGUMENT for an unsupported alg or enc, a missing
 * or mismatched recipient or callback, or bad test values; an error that
 * wrap returns is passed on; HJ_ERR_NO_MEMORY; HJ_ERR_INTERNAL when
 * OpenSSL fails.
 */
hj_err jwe_encrypt_compact(const struct jwe_encrypt_params *params,
    const uint8_t *plaintext, size_t plaintext_len, char **tokenp,
    struct hj_error *err);

/*
 * Decrypts the encrypted key of a token addressed to the key named by kid
 * (the header's "kid", NULL when absent) for alg: RSA-OAEP decryption for
 * RSA-OAEP and RSA-OAEP-256, AES key unwrap for A128KW and A256KW. On entry
 * *cek_len is the capacity of cek (JWE_CEK_MAX), and on success it is the
 * CEK length.
 *
 * The callback must return HJ_ERR_UNAVAILABLE only when the token cannot be
 * reached, never for bad input, because that code is passed on to the
 * caller. Any other error is reported as JWE_DECRYPT_FAILED_MESSAGE.
 */
typedef hj_err (*jwe_key_decrypt_fn)(void *ctx, const char *kid,
    const char *alg, const uint8_t *encrypted_key, size_t encrypted_key_len,
    uint8_t *cek, size_t *cek_len, struct hj_error *err);

/*
 * Sets *crvp to the JWK "crv" ("P-256", "P-384", "P-521", "X25519") of
 * the ECDH private key named by kid for alg, as a string that outlives the
 * call. The header's "epk" must lie on that curve.
 */
typedef hj_err (*jwe_ecdh_curve_fn)(void *ctx, const char *kid,
    const char *alg, const char **crvp, struct hj_error *err);

/*
 * Computes the ECDH shared secret Z of the private key named by kid with
 * the sender's ephemeral public key, which is already checked to lie on
 * crv. point is 0x04 || X || Y for the P curves and the 32-byte u-coordinate
 * for X25519. On entry *z_len is the capacity of z (JWE_ECDH_SECRET_MAX),
 * and on success it is the field size of the curve. The error codes follow
 * the rule of jwe_key_decrypt_fn.
 */
typedef hj_err (*jwe_ecdh_fn)(void *ctx, const char *kid, const char *alg,
    const char *crv, const uint8_t *point, size_t point_len, uint8_t *z,
    size_t *z_len, struct hj_error *err);

/*
 * The callbacks that reach the service's own keys. A NULL callback rejects
 * tokens of its algorithms.
 */
struct jwe_decrypt_keys {
	void *ctx;
	jwe_key_decrypt_fn rsa_decrypt;   /* RSA-OAEP, RSA-OAEP-256 */
	jwe_ecdh_curve_fn ecdh_curve;     /* ECDH-ES* */
	jwe_ecdh_fn ecdh;                 /* ECDH-ES* */
	jwe_key_decrypt_fn unwrap;        /* A128KW, A256KW */
};

/* A decrypted token. All members are owned by the struct. */
struct jwe_decrypted {
	uint8_t *plaintext;        /* NUL-terminated, not counted in plaintext_len */
	size_t plaintext_len;
	char *protected_header;    /* the decoded protected header JSON */
	size_t protected_header_len;
	char *kid;                 /* the header's "kid", or NULL */
};

/*
 * Decrypts a compact JWE. Parsing is strict: exactly five base64url parts,
 * a protected header without duplicate members, an "alg" and "enc" that
 * this module offers, no "zip", no "crit", and an IV and tag of the length
 * that enc requires. CBC-HS tags are compared in constant time.
 *
 * A malformed token or header gets HJ_ERR_INVALID_ARGUMENT with a message
 * that names the problem. Every failure after the header has been parsed
 * gets HJ_ERR_INVALID_ARGUMENT with JWE_DECRYPT_FAILED_MESSAGE, and detail
 * (which may be NULL) receives the step that failed, for the log only.
 * When the encrypted key cannot be decrypted, a random CEK takes its place
 * and content decryption still runs (RFC 7516 section 11.5). Exceptions:
 * HJ_ERR_UNAVAILABLE and HJ_ERR_NO_MEMORY from a callback are passed on,
 * and HJ_ERR_NO_MEMORY is returned when an allocation here fails.
 *
 * On success *resultp is a new result that the caller frees with
 * jwe_decrypted_free().
 */
hj_err jwe_decrypt_compact(const char *token, size_t token_len,
    const struct jwe_decrypt_keys *keys, struct jwe_decrypted **resultp,
    struct hj_error *err, struct hj_error *detail);

/* Frees result (NULL is allowed), cleansing the plaintext. */
void jwe_decrypted_free(struct jwe_decrypted *result);

/*
 * Building blocks of the functions above, public for known-answer tests
 * (RFC 7518 Appendix B and C) and for vectors whose key management
 * algorithm is not offered.
 */

/* The key, IV and additional authenticated data of one content encryption. */
struct jwe_content_params {
	const uint8_t *cek;
	size_t cek_len;
	const uint8_t *iv;
	size_t iv_len;
	const uint8_t *aad;        /* ASCII of the encoded protected header */
	size_t aad_len;
};

/*
 * Encrypts plaintext with enc (RFC 7518 section 5.2 and 5.3). On success
 * *ciphertextp is a new buffer of *ciphertext_lenp bytes that the caller
 * frees, and tag contains *tag_lenp bytes (tag has room for JWE_TAG_MAX).
 * Errors: HJ_ERR_INVALID_ARGUMENT for an unknown enc or a CEK or IV of the
 * wrong length; HJ_ERR_NO_MEMORY; HJ_ERR_INTERNAL when OpenSSL fails.
 */
hj_err jwe_content_encrypt(const char *enc,
    const struct jwe_content_params *params, const uint8_t *plaintext,
    size_t plaintext_len, uint8_t **ciphertextp, size_t *ciphertext_lenp,
    uint8_t *tag, size_t *tag_lenp, struct hj_error *err);

/*
 * Verifies the tag and decrypts ciphertext with enc. On success
 * *plaintextp is a new NUL-terminated buffer of *plaintext_lenp bytes
 * (the NUL not counted) that the caller frees. A tag that does not match
 * or bad padding gets HJ_ERR_INVALID_ARGUMENT.
 */
hj_err jwe_content_decrypt(const char *enc,
    const struct jwe_content_params *params, const uint8_t *ciphertext,
    size_t ciphertext_len, const uint8_t *tag, size_t tag_len,
    uint8_t **plaintextp, size_t *plaintext_lenp, struct hj_error *err);

/*
 * Derives key_len bytes from the ECDH shared secret z with the Concat KDF
 * of RFC 7518 section 4.6 (NIST SP 800-56A single-step KDF with SHA-256).
 * algorithm_id is the "enc" value for ECDH-ES and the "alg" value for
 * ECDH-ES+A*KW. apu and apv are the decoded PartyUInfo and PartyVInfo
 * (NULL with length 0 when absent). Errors: HJ_ERR_INVALID_ARGUMENT for an
 * empty z or key_len 0; HJ_ERR_NO_MEMORY; HJ_ERR_INTERNAL when OpenSSL fails.
 */
hj_err jwe_concat_kdf(const uint8_t *z, size_t z_len,
    const char *algorithm_id, const uint8_t *apu, size_t apu_len,
    const uint8_t *apv, size_t apv_len, uint8_t *key, size_t key_len,
    struct hj_error *err);

#endif
