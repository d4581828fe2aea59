#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/jws_header.h"

/* Copies a string member into out; false when it is not a string or too long. */
static bool
jws_header_copy(const json_t *value, char *out, size_t size)
{
	const char *s = json_string_value(value);

	if (s == NULL || strlen(s) >= size)
		return false;
	strcpy(out, s);
	return true;
}

static hj_err
jws_header_read(const json_t *obj, struct jws_header *header, struct hj_error *err)
{
	const json_t *kid = json_object_get(obj, "kid");

	if (!json_is_object(obj))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the protected header is not a JSON object");
	if (!jws_header_copy(json_object_get(obj, "alg"), header->alg, sizeof(header->alg)))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the protected header has no valid \"alg\"");
	if (kid != NULL && !jws_header_copy(kid, header->kid, sizeof(header->kid)))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the protected header's \"kid\" is not a string of at most %d bytes",
		    JWS_HEADER_KID_MAX - 1);
	header->has_crit = json_object_get(obj, "crit") != NULL;
	return HJ_OK;
}

hj_err
jws_header_parse(const char *token, size_t token_len, struct jws_header *header,
    struct hj_error *err)
{
	const char *dot1, *dot2, *end = token + token_len;
	uint8_t *json = NULL;
	size_t json_len = 0;
	json_t *obj = NULL;
	hj_err r;

	memset(header, 0, sizeof(*header));
	dot1 = memchr(token, '.', token_len);
	dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "not a compact JWS: expected three parts separated by dots");

	r = b64url_decode(token, (size_t)(dot1 - token), &json, &json_len, err);
	if (r != HJ_OK)
		goto out;
	obj = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, NULL);
	if (obj == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the protected header is not valid JSON");
		goto out;
	}
	r = jws_header_read(obj, header, err);

out:
	json_decref(obj);
	free(json);
	return r;
}
