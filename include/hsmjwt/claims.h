/*
 * The claim set of one Sign request: strict parsing of the caller's JSON,
 * the rules on registered claims, and the service's own claims.
 *
 * The caller's members keep their order and exact text. The service then
 * appends "aud" (when it comes from the request), "iss", "iat", "exp" and
 * "jti" in that order. A caller may not send "iss", "iat", "nbf", "exp" or
 * "jti".
 */
#ifndef HSMJWT_CLAIMS_H
#define HSMJWT_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"
#include "hsmjwt/profile.h"

#define CLAIMS_MAX_BYTES (64 * 1024)
#define CLAIMS_MAX_DEPTH 32
/* 128 random bits in base64url: 22 characters. */
#define CLAIMS_JTI_LEN 22

struct claims_request {
	const char *json;              /* claims_json, not NUL-terminated */
	size_t json_len;
	const char *const *audience;   /* SignRequest.audience */
	size_t audience_count;
	uint32_t ttl_seconds;          /* 0: the profile's ttl */
};

struct claims_result {
	char *json;                    /* the final claim set, compact */
	size_t json_len;
	char *audience_json;           /* the compact "aud" value, or NULL; for the audit log */
	char jti[CLAIMS_JTI_LEN + 1];
	int64_t issued_at;
	int64_t expires_at;
};

/*
 * Checks request against profile and builds the claim set for issuer at
 * time now (Unix seconds). Errors: HJ_ERR_INVALID_ARGUMENT for malformed
 * JSON, a registered claim sent by the caller, "aud" both in the claims and
 * the request, a malformed "aud" or a TTL above max_ttl;
 * HJ_ERR_RESOURCE_EXHAUSTED for claims over CLAIMS_MAX_BYTES;
 * HJ_ERR_PERMISSION_DENIED for an audience the profile does not allow.
 * Free the result with claims_result_clear().
 */
hj_err claims_build(const struct profile *profile, const char *issuer,
    const struct claims_request *request, int64_t now,
    struct claims_result *result, struct hj_error *err);

/* Conditions that the claims of a verified token must meet. */
struct claims_check {
	const char *issuer;            /* "iss" must equal it */
	const char *audience;          /* NULL or "": not checked; else in "aud" */
	int64_t now;                   /* Unix seconds */
	uint32_t clock_skew;           /* seconds allowed on "exp" and "nbf" */
};

/*
 * Checks the registered claims of a verified payload: "exp" present and
 * not passed, "nbf" (when present) reached, "iss", and "aud". A failure is
 * HJ_ERR_INVALID_ARGUMENT with the reason in err.
 */
hj_err claims_verify(const char *payload, size_t len,
    const struct claims_check *check, struct hj_error *err);

/* Frees and cleanses the result's JSON. */
void claims_result_clear(struct claims_result *result);

#endif
