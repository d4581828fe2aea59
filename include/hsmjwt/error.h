/*
 * Error codes shared by every module, and the error record that carries the
 * message returned to a caller.
 *
 * A module converts a foreign error (CK_RV, the OpenSSL error queue, a
 * jansson or libyaml error) into one of these codes where it happens and
 * writes a message that names the field or object and the fix. The message
 * never contains a PIN, a token, a claim value or key material.
 */
#ifndef HSMJWT_ERROR_H
#define HSMJWT_ERROR_H

#include <stddef.h>

typedef enum hj_err {
	HJ_OK = 0,
	HJ_ERR_INVALID_ARGUMENT,   /* malformed input: claims, JWK, TTL, alg */
	HJ_ERR_NOT_FOUND,          /* unknown profile, kid, recipient, object */
	HJ_ERR_PERMISSION_DENIED,  /* caller not allowed this profile or audience */
	HJ_ERR_UNAUTHENTICATED,    /* no caller identity where one is required */
	HJ_ERR_FAILED_PRECONDITION,/* no active key, wrong key state */
	HJ_ERR_RESOURCE_EXHAUSTED, /* request too large, queue full */
	HJ_ERR_UNAVAILABLE,        /* HSM unreachable or logged out; retryable */
	HJ_ERR_CONFIG,             /* invalid configuration; stops startup */
	HJ_ERR_NO_MEMORY,
	HJ_ERR_INTERNAL,           /* a bug; never for bad input */
} hj_err;

#define HJ_ERROR_MESSAGE_MAX 256

/* An error code with its message. Cleared by hj_error_clear(). */
struct hj_error {
	hj_err code;
	char message[HJ_ERROR_MESSAGE_MAX];
};

/* Returns a short, static name for code ("invalid argument"). */
const char *hj_err_str(hj_err code);

/*
 * Sets err (which may be NULL) to code and a printf-style message, and
 * returns code so that callers can write "return hj_error_set(...)".
 * A message longer than HJ_ERROR_MESSAGE_MAX - 1 bytes is truncated.
 */
hj_err hj_error_set(struct hj_error *err, hj_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets err (which may be NULL) to HJ_OK and an empty message. */
void hj_error_clear(struct hj_error *err);

#endif
