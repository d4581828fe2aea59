/* base64url without padding (RFC 4648 section 5), with a strict decoder. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "hsmjwt/b64url.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64url_encoded_len(size_t len)
{
	size_t rem = len % 3;

	return len / 3 * 4 + (rem != 0 ? rem + 1 : 0);
}

void
b64url_encode_to(const uint8_t *data, size_t len, char *out)
{
	size_t i;
	uint32_t v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 |
		    data[i + 2];
		*out++ = b64url_alphabet[v >> 18];
		*out++ = b64url_alphabet[(v >> 12) & 0x3f];
		*out++ = b64url_alphabet[(v >> 6) & 0x3f];
		*out++ = b64url_alphabet[v & 0x3f];
	}

	if (len - i == 1) {
		v = (uint32_t)data[i] << 16;
		*out++ = b64url_alphabet[v >> 18];
		*out++ = b64url_alphabet[(v >> 12) & 0x3f];
	} else if (len - i == 2) {
		v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
		*out++ = b64url_alphabet[v >> 18];
		*out++ = b64url_alphabet[(v >> 12) & 0x3f];
		*out++ = b64url_alphabet[(v >> 6) & 0x3f];
	}
	*out = '\0';
}

hj_err
b64url_encode(const uint8_t *data, size_t len, char **outp)
{
	char *out;

	*outp = NULL;

	/* b64url_encoded_len() would overflow past this length. */
	if (len > (SIZE_MAX - 8) / 4 * 3)
		return HJ_ERR_NO_MEMORY;

	out = malloc(b64url_encoded_len(len) + 1);
	if (out == NULL)
		return HJ_ERR_NO_MEMORY;

	b64url_encode_to(data, len, out);
	*outp = out;
	return HJ_OK;
}

/* Returns the 6-bit value of c, or -1 when c is not in the URL alphabet. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Sets err for the byte at offset that is not in the URL alphabet. */
static hj_err
b64url_reject_char(unsigned char c, size_t offset, struct hj_error *err)
{
	if (c == '=')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "base64url padding '=' at offset %zu: remove the padding",
		    offset);
	if (c == '+' || c == '/')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "standard base64 character '%c' at offset %zu: "
		    "base64url uses '-' and '_'", c, offset);
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "white space in base64url text at offset %zu", offset);
	return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
	    "invalid base64url character at offset %zu", offset);
}

/*
 * Decodes text_len characters into out. The length is not 4k+1, so a final
 * group of 2 or 3 characters gives 1 or 2 bytes, and the bits of its last
 * character that no byte uses must be zero (RFC 4648 section 3.5).
 */
static hj_err
b64url_decode_groups(const char *text, size_t text_len, uint8_t *out,
    struct hj_error *err)
{
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	for (i = 0; i < text_len; i++) {
		v = b64url_value((unsigned char)text[i]);
		if (v < 0)
			return b64url_reject_char((unsigned char)text[i], i,
			    err);

		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}

	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "non-zero unused bits in the last base64url character "
		    "at offset %zu", text_len - 1);
	return HJ_OK;
}

hj_err
b64url_decode(const char *text, size_t text_len, uint8_t **datap,
    size_t *lenp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t *out = NULL;
	size_t out_len;

	*datap = NULL;
	*lenp = 0;

	if (text_len % 4 == 1) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "invalid base64url length %zu: a length of 4k+1 "
		    "characters does not encode whole bytes", text_len);
		goto out;
	}

	out_len = text_len / 4 * 3 + (text_len % 4 != 0 ? text_len % 4 - 1 : 0);
	out = malloc(out_len + 1);
	if (out == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory decoding %zu base64url characters",
		    text_len);
		goto out;
	}

	r = b64url_decode_groups(text, text_len, out, err);
	if (r != HJ_OK)
		goto out;
	out[out_len] = '\0';

	*datap = out;
	*lenp = out_len;
	out = NULL;
	r = HJ_OK;
out:
	if (out != NULL)
		OPENSSL_clear_free(out, out_len + 1);
	return r;
}
