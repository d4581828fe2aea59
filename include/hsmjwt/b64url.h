/* base64url without padding (RFC 4648 section 5, RFC 7515 section 2). */
#ifndef HSMJWT_B64URL_H
#define HSMJWT_B64URL_H

#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"

/* Returns the length of the unpadded encoding of len bytes, without a NUL. */
size_t b64url_encoded_len(size_t len);

/*
 * Encodes len bytes into out, which has room for b64url_encoded_len(len) + 1
 * bytes, and NUL-terminates it.
 */
void b64url_encode_to(const uint8_t *data, size_t len, char *out);

/* Encodes into a new NUL-terminated string that the caller frees. */
hj_err b64url_encode(const uint8_t *data, size_t len, char **outp);

/*
 * Decodes text strictly: only the 64 URL-safe characters, no padding, no
 * white space, and the unused bits of the last character zero. On success
 * *datap is a new buffer of *lenp bytes that the caller frees; it is also
 * NUL-terminated (not counted in *lenp) so that decoded JSON can be parsed
 * in place.
 */
hj_err b64url_decode(const char *text, size_t text_len, uint8_t **datap,
    size_t *lenp, struct hj_error *err);

#endif
