/* Reading the protected header of a compact JWS before its key is known. */
#ifndef HSMJWT_JWS_HEADER_H
#define HSMJWT_JWS_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt/error.h"

#define JWS_HEADER_ALG_MAX 16
#define JWS_HEADER_KID_MAX 128

struct jws_header {
	char alg[JWS_HEADER_ALG_MAX];   /* "alg"; required */
	char kid[JWS_HEADER_KID_MAX];   /* "kid"; empty when absent */
	bool has_crit;                  /* "crit" is present */
};

/*
 * Parses the protected header of a compact JWS: three parts separated by
 * dots, the first strict base64url of a JSON object without duplicate
 * members, with a string "alg" and an optional string "kid". It does not
 * verify anything. A token that does not fit is HJ_ERR_INVALID_ARGUMENT
 * with the reason.
 */
hj_err jws_header_parse(const char *token, size_t token_len,
    struct jws_header *header, struct hj_error *err);

#endif
