/*
 * The PKCS#11 layer: the only module that calls a PKCS#11 module.
 *
 * hsm_open() loads the module with dlopen, initializes it with OS locking,
 * finds the token, logs in on a session that stays open for the life of the
 * struct hsm (so the login is held), and opens a pool of work sessions that
 * callers borrow for each operation. All functions are thread-safe.
 */
#ifndef HSMJWT_HSM_H
#define HSMJWT_HSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/error.h"

struct hsm;

struct hsm_options {
	const char *module_path;   /* the PKCS#11 module to dlopen */
	const char *token_label;   /* CKA_LABEL of the token; or */
	const char *token_uri;     /* an RFC 7512 "pkcs11:" URI that matches one token */
	unsigned pool_size;        /* work sessions; at least 1 */
};

#define HSM_ID_MAX 32
#define HSM_LABEL_MAX 64
#define HSM_EC_POINT_MAX 160    /* uncompressed P-521 point is 133 bytes */
#define HSM_RSA_MODULUS_MAX 1024

/*
 * A key in the token: a key pair with its public half read out, or a
 * secret key (kty JOSE_KTY_OCT) for HMAC or AES key wrap, which has no
 * public half. Handles are the token's object handles, valid for the life
 * of the struct hsm that listed them unless the object is destroyed.
 */
struct hsm_key {
	uint8_t id[HSM_ID_MAX];             /* CKA_ID */
	size_t id_len;
	char label[HSM_LABEL_MAX];          /* CKA_LABEL, NUL-terminated */
	enum jose_kty kty;
	unsigned long private_handle;       /* CK_OBJECT_HANDLE; OCT: secret key */
	unsigned long public_handle;        /* CK_OBJECT_HANDLE; 0 if absent */

	/*
	 * EC: the curve's JWK name and the uncompressed point 0x04 || X || Y.
	 * OKP: "Ed25519" and the 32-byte public key of RFC 8032, which is the
	 * JWK "x". crv is NULL for a secret key.
	 */
	const char *crv;
	uint8_t ec_point[HSM_EC_POINT_MAX];
	size_t ec_point_len;

	/* RSA: big-endian modulus and public exponent. */
	uint8_t rsa_n[HSM_RSA_MODULUS_MAX];
	size_t rsa_n_len;
	uint8_t rsa_e[16];
	size_t rsa_e_len;

	size_t secret_len;                  /* OCT: CKA_VALUE_LEN in bytes */
	bool aes;                           /* OCT: CKK_AES, for key wrap, not HMAC */
};

/* Protection attributes of a private or secret key, read from the token. */
struct hsm_key_protection {
	bool sensitive;          /* CKA_SENSITIVE */
	bool extractable;        /* CKA_EXTRACTABLE */
	bool always_sensitive;   /* CKA_ALWAYS_SENSITIVE */
	bool never_extractable;  /* CKA_NEVER_EXTRACTABLE */
	bool local;              /* CKA_LOCAL: generated in the token */
};

/*
 * Opens the token and logs in as the normal user with pin (pin_len bytes,
 * no NUL needed). The caller cleanses pin after the call. A rejected PIN is
 * HJ_ERR_CONFIG and is never retried. On success *hsmp is freed with
 * hsm_close().
 */
hj_err hsm_open(const struct hsm_options *opts, const char *pin,
    size_t pin_len, struct hsm **hsmp, struct hj_error *err);

/* Closes every session, finalizes and unloads the module. NULL is allowed. */
void hsm_close(struct hsm *hsm);

/* Returns "manufacturer model" of the token, for log lines. */
const char *hsm_token_description(const struct hsm *hsm);

/* Returns the PKCS#11 library description of the module, for log lines. */
const char *hsm_module_description(const struct hsm *hsm);

/*
 * Lists the private keys (EC, RSA, Ed25519), the generic secret keys and
 * the AES keys among the token objects whose CKA_LABEL starts with
 * label_prefix, each private key with its public key (from the
 * CKO_PUBLIC_KEY object with the same CKA_ID). An EC or OKP key on an
 * unknown curve, or whose point cannot be read, is listed with crv NULL,
 * so that hsm_key_fits_alg() rejects it but the caller can log it. *keysp
 * is an array of *countp keys that the caller frees with free().
 */
hj_err hsm_key_list(struct hsm *hsm, const char *label_prefix,
    struct hsm_key **keysp, size_t *countp, struct hj_error *err);

/*
 * Generates a key for alg inside the token: CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE true, CKA_EXTRACTABLE false, a random 16-byte CKA_ID and
 * the given CKA_LABEL on both halves. For HMAC it is one generic secret key
 * of alg->secret_len bytes with CKA_SIGN and CKA_VERIFY. *key describes the
 * new key.
 */
hj_err hsm_key_generate(struct hsm *hsm, const struct jose_alg *alg,
    const char *label, struct hsm_key *key, struct hj_error *err);

/* Reads the protection attributes of key's private or secret key object. */
hj_err hsm_key_protection(struct hsm *hsm, const struct hsm_key *key,
    struct hsm_key_protection *prot, struct hj_error *err);

/*
 * Returns true when key's type and size fit alg: an EC key on alg->crv, an
 * Ed25519 key for EdDSA, an RSA key of at least 2048 bits, a generic secret
 * key (not an AES key) of at least alg->secret_len bytes for HMAC.
 */
bool hsm_key_fits_alg(const struct hsm_key *key, const struct jose_alg *alg);

/*
 * Signs data (the JWS signing input) with key for alg and writes the JWS
 * signature into sig: raw R||S for ECDSA. On entry *sig_len is the capacity
 * of sig; on success the signature length. Hashes in software first where
 * alg->prehash. A session that fails with CKR_SESSION_HANDLE_INVALID,
 * CKR_SESSION_CLOSED or CKR_USER_NOT_LOGGED_IN is replaced and the operation
 * retried once; a second failure is HJ_ERR_UNAVAILABLE.
 */
hj_err hsm_sign(struct hsm *hsm, const struct hsm_key *key,
    const struct jose_alg *alg, const uint8_t *data, size_t data_len,
    uint8_t *sig, size_t *sig_len, struct hj_error *err);

/*
 * Verifies the JWS signature sig over data with key for alg inside the
 * token (C_Verify), for HMAC keys whose secret never leaves it. A key pair
 * verifies with its public key object. A signature that the token rejects
 * (CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE) is HJ_ERR_INVALID_ARGUMENT
 * "signature does not verify". Lost sessions are retried as in hsm_sign().
 */
hj_err hsm_verify(struct hsm *hsm, const struct hsm_key *key,
    const struct jose_alg *alg, const uint8_t *data, size_t data_len,
    const uint8_t *sig, size_t sig_len, struct hj_error *err);

/* Returns false once the token reported that the login is gone. */
bool hsm_is_logged_in(const struct hsm *hsm);

/* Returns the name of a CK_RV ("CKR_PIN_INCORRECT"), or "CKR_0x..." for unknown values. */
const char *hsm_rv_name(unsigned long rv);

/*
 * Data objects: CKO_DATA objects of an application (CKA_APPLICATION), which
 * hold the key ring's lifecycle records beside the keys. They are token
 * objects with CKA_PRIVATE true, so only a logged-in user reads them.
 */
#define HSM_DATA_VALUE_MAX 1024

struct hsm_data {
	unsigned long handle;          /* CK_OBJECT_HANDLE */
	char label[HSM_LABEL_MAX];     /* CKA_LABEL, NUL-terminated */
	uint8_t value[HSM_DATA_VALUE_MAX + 1];   /* CKA_VALUE, NUL-terminated */
	size_t value_len;
};

/*
 * Lists the data objects whose CKA_APPLICATION is application. Objects
 * whose label or value does not fit struct hsm_data are left out. *itemsp
 * is an array of *countp items that the caller frees with free().
 */
hj_err hsm_data_list(struct hsm *hsm, const char *application,
    struct hsm_data **itemsp, size_t *countp, struct hj_error *err);

/* Creates a data object and returns its handle in *handlep. */
hj_err hsm_data_create(struct hsm *hsm, const char *application,
    const char *label, const uint8_t *value, size_t value_len,
    unsigned long *handlep, struct hj_error *err);

/*
 * Writes the RFC 7512 URI of key ("pkcs11:token=...;object=...;id=...")
 * into out (size bytes; 512 is enough), for operators' tools.
 */
void hsm_key_uri(const struct hsm *hsm, const struct hsm_key *key, char *out,
    size_t size);

/* Destroys one object; an object that is already gone is not an error. */
hj_err hsm_object_destroy(struct hsm *hsm, unsigned long handle,
    struct hj_error *err);

/*
 * Encryption keys: the key management step of decrypting a JWE addressed
 * to the service (RSA-OAEP, ECDH-ES, AES key wrap), done with private and
 * secret keys that stay in the token. Every function runs on a pooled
 * session, and a lost session is replaced and the operation retried once,
 * as in hsm_sign().
 *
 * A ciphertext, wrapped key or peer point that the token or a check here
 * rejects is HJ_ERR_INVALID_ARGUMENT with one message per function that
 * does not say which check failed, so that the service is no padding
 * oracle. HJ_ERR_UNAVAILABLE is a device, session or login failure that
 * the token reported.
 */

/* Maximum length of a key that hsm_aes_wrap() wraps: an A256CBC-HS512 CEK. */
#define HSM_WRAP_KEY_MAX 64

/* Maximum length of an ECDH shared secret: 66 bytes on P-521. */
#define HSM_ECDH_SECRET_MAX 66

/* The kind and size of a new encryption key. */
struct hsm_enc_spec {
	enum jose_kty kty;   /* JOSE_KTY_RSA, JOSE_KTY_EC, or JOSE_KTY_OCT for AES */
	const char *crv;     /* EC: "P-256", "P-384" or "P-521" */
	unsigned rsa_bits;   /* RSA: modulus length, 2048 to 8192; 0: 2048 */
	size_t aes_len;      /* OCT: AES key length in bytes: 16, 24 or 32 */
};

/*
 * Generates an encryption key inside the token, with CKA_TOKEN,
 * CKA_PRIVATE and CKA_SENSITIVE true, CKA_EXTRACTABLE false and CKA_SIGN
 * false on its private or secret key, a random 16-byte CKA_ID and the given
 * CKA_LABEL on both halves. The public half is a public object, as for
 * signing keys.
 * - RSA (RSA-OAEP, RSA-OAEP-256): the private key may decrypt and unwrap,
 *   the public key may encrypt and wrap.
 * - EC (ECDH-ES*): the private key may derive.
 * - AES (A128KW, A192KW, A256KW): one CKK_AES key that may wrap, unwrap,
 *   encrypt and decrypt. It is listed as kty JOSE_KTY_OCT with aes true.
 * *key describes the new key as hsm_key_list() would. A spec that this
 * function does not offer is HJ_ERR_INVALID_ARGUMENT.
 */
hj_err hsm_enc_key_generate(struct hsm *hsm, const struct hsm_enc_spec *spec,
    const char *label, struct hsm_key *key, struct hj_error *err);

/*
 * Decrypts in (in_len bytes) with RSA key by RSAES-OAEP with hash_nid
 * (NID_sha1 for RSA-OAEP, NID_sha256 for RSA-OAEP-256), MGF1 with the same
 * hash and an empty label. On entry *out_len is the capacity of out, and
 * on success the plaintext length. A ciphertext that does not decrypt, or
 * whose plaintext does not fit out, is HJ_ERR_INVALID_ARGUMENT. A token
 * that rejects OAEP with this hash (SoftHSM 2.6.1 with SHA-256) is
 * HJ_ERR_FAILED_PRECONDITION.
 */
hj_err hsm_rsa_oaep_decrypt(struct hsm *hsm, const struct hsm_key *key,
    int hash_nid, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t *out_len, struct hj_error *err);

/*
 * Finds out whether the token decrypts RSAES-OAEP with hash_nid for RSA
 * key: encrypts a random block to key's public half with OpenSSL and
 * decrypts it in the token. *supported is false when the token rejects the
 * mechanism or its parameters, or returns another plaintext. Errors are
 * those of hsm_rsa_oaep_decrypt() that are not about the ciphertext.
 */
hj_err hsm_oaep_supported(struct hsm *hsm, const struct hsm_key *key,
    int hash_nid, bool *supported, struct hj_error *err);

/*
 * Computes the ECDH shared secret Z of EC key with the peer's public point
 * (peer_len bytes, uncompressed 0x04 || X || Y on key's curve) in the
 * token with CKM_ECDH1_DERIVE, and writes it into z. Only Z leaves the
 * token, through a session object that is destroyed after it was read.
 * On entry *z_len is the capacity of z (HSM_ECDH_SECRET_MAX is enough),
 * and on success the field size of the curve: 32, 48 or 66 bytes. A point
 * of another form or length, or not on the curve, is
 * HJ_ERR_INVALID_ARGUMENT.
 */
hj_err hsm_ecdh_derive(struct hsm *hsm, const struct hsm_key *key,
    const uint8_t *peer_point, size_t peer_len, uint8_t *z, size_t *z_len,
    struct hj_error *err);

/*
 * Wraps cek (16 to HSM_WRAP_KEY_MAX bytes, a multiple of 8) with AES key
 * by RFC 3394 key wrap (CKM_AES_KEY_WRAP): the CEK goes into the token as
 * a session object, is wrapped with C_WrapKey and destroyed. On entry
 * *out_len is the capacity of out, and on success cek_len + 8.
 */
hj_err hsm_aes_wrap(struct hsm *hsm, const struct hsm_key *key,
    const uint8_t *cek, size_t cek_len, uint8_t *out, size_t *out_len,
    struct hj_error *err);

/*
 * Unwraps an RFC 3394 wrapped key with AES key (C_UnwrapKey into a session
 * object, which is read and destroyed) and writes it into cek. On entry
 * *cek_len is the capacity of cek, and on success wrapped_len - 8. A
 * wrapped key that fails the integrity check, has a length that is not a
 * multiple of 8 from 24 to HSM_WRAP_KEY_MAX + 8, or does not fit cek is
 * HJ_ERR_INVALID_ARGUMENT.
 */
hj_err hsm_aes_unwrap(struct hsm *hsm, const struct hsm_key *key,
    const uint8_t *wrapped, size_t wrapped_len, uint8_t *cek, size_t *cek_len,
    struct hj_error *err);

#endif
