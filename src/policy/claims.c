#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/claims.h"
#include "hsmjwt/jsontext.h"

/* Registered claims that only the service sets. */
static const char *const service_claims[] = { "iss", "iat", "nbf", "exp", "jti" };

static hj_err
claims_check_reserved(const struct jsontext_object *obj, struct hj_error *err)
{
	size_t i;

	for (i = 0; i < sizeof(service_claims) / sizeof(service_claims[0]); i++) {
		if (jsontext_object_get(obj, service_claims[i]) != NULL)
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "claims_json: \"%s\" is a registered time or id claim that only "
			    "the service sets; remove it from the claims", service_claims[i]);
	}
	return HJ_OK;
}

static hj_err
claims_check_audience_value(const struct profile *profile, const char *field,
    const json_t *aud, struct hj_error *err)
{
	const char *value = json_string_value(aud);

	if (value == NULL || value[0] == '\0')
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: each audience must be a non-empty string", field);
	/* The value is a claim, which messages never repeat, so field names which one. */
	if (!profile_allows_audience(profile, value))
		return hj_error_set(err, HJ_ERR_PERMISSION_DENIED,
		    "%s: the audience is not allowed by profile \"%s\"; use one that "
		    "the profile lists", field, profile->name);
	return HJ_OK;
}

/*
 * Checks an "aud" claim sent in claims_json: a non-empty string or a
 * non-empty array of them, each allowed by the profile.
 */
static hj_err
claims_check_claimed_audience(const struct profile *profile,
    const struct jsontext_object *obj, const struct jsontext_member *member,
    struct hj_error *err)
{
	json_t *aud = NULL, *item;
	json_error_t jerr;
	size_t i;
	hj_err r = HJ_ERR_INVALID_ARGUMENT;

	aud = json_loadb(obj->text + member->value_offset, member->value_len,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (aud == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "claims_json.aud: must be a string or an array of strings");
		goto out;
	}

	if (json_is_string(aud)) {
		r = claims_check_audience_value(profile, "claims_json.aud", aud, err);
		goto out;
	}
	if (!json_is_array(aud) || json_array_size(aud) == 0) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "claims_json.aud: must be a string or a non-empty array of strings");
		goto out;
	}
	json_array_foreach(aud, i, item) {
		char field[48];

		snprintf(field, sizeof(field), "claims_json.aud[%zu]", i);
		r = claims_check_audience_value(profile, field, item, err);
		if (r != HJ_OK)
			goto out;
	}
	r = HJ_OK;

out:
	json_decref(aud);
	return r;
}

/*
 * Builds the compact "aud" value from SignRequest.audience: a string for
 * one audience, an array for several. *textp is freed by the caller.
 */
static hj_err
claims_request_audience(const struct profile *profile,
    const struct claims_request *request, char **textp, struct hj_error *err)
{
	json_t *aud = NULL, *item;
	size_t i;
	hj_err r = HJ_ERR_NO_MEMORY;

	*textp = NULL;
	aud = request->audience_count == 1 ? NULL : json_array();
	for (i = 0; i < request->audience_count; i++) {
		/* json_string() returns NULL for invalid UTF-8. */
		item = json_string(request->audience[i]);
		if (item == NULL) {
			r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "audience[%zu]: must be valid UTF-8", i);
			goto out;
		}
		char field[48];

		snprintf(field, sizeof(field), "audience[%zu]", i);
		r = claims_check_audience_value(profile, field, item, err);
		if (r != HJ_OK) {
			json_decref(item);
			goto out;
		}
		if (aud == NULL)
			aud = item;
		else if (json_array_append_new(aud, item) != 0)
			goto out;
	}

	*textp = json_dumps(aud, JSON_COMPACT | JSON_ENCODE_ANY);
	r = *textp != NULL ? HJ_OK : hj_error_set(err, HJ_ERR_NO_MEMORY,
	    "out of memory while encoding the audience");

out:
	json_decref(aud);
	return r;
}

static hj_err
claims_new_jti(char *jti, struct hj_error *err)
{
	uint8_t random[16];

	if (RAND_bytes(random, sizeof(random)) != 1)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "the OpenSSL random generator failed to produce a jti");
	b64url_encode_to(random, sizeof(random), jti);
	OPENSSL_cleanse(random, sizeof(random));
	return HJ_OK;
}

static hj_err
claims_ttl(const struct profile *profile, const struct claims_request *request,
    uint32_t *ttlp, struct hj_error *err)
{
	uint32_t ttl = request->ttl_seconds != 0 ? request->ttl_seconds : profile->ttl;

	*ttlp = 0;
	if (ttl > profile->max_ttl)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "ttl_seconds: %" PRIu32 " exceeds the max_ttl of profile \"%s\" "
		    "(%" PRIu32 " seconds); request a shorter TTL",
		    ttl, profile->name, profile->max_ttl);
	*ttlp = ttl;
	return HJ_OK;
}

/* Parses the caller's claims; an empty claims_json is an empty object. */
static hj_err
claims_parse(const struct claims_request *request, struct jsontext_object **objp,
    struct hj_error *err)
{
	if (request->json_len > CLAIMS_MAX_BYTES)
		return hj_error_set(err, HJ_ERR_RESOURCE_EXHAUSTED,
		    "claims_json: %zu bytes exceeds the maximum of %d bytes; "
		    "send fewer or shorter claims", request->json_len, CLAIMS_MAX_BYTES);
	if (request->json_len == 0)
		return jsontext_parse_object("{}", 2, CLAIMS_MAX_DEPTH,
		    "claims_json", objp, err);
	return jsontext_parse_object(request->json, request->json_len,
	    CLAIMS_MAX_DEPTH, "claims_json", objp, err);
}

/* Checks the audience rules and returns the "aud" text to append, if any. */
static hj_err
claims_audience(const struct profile *profile, const struct claims_request *request,
    const struct jsontext_object *obj, char **aud_textp, struct hj_error *err)
{
	const struct jsontext_member *aud = jsontext_object_get(obj, "aud");

	*aud_textp = NULL;
	if (aud != NULL && request->audience_count > 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "audience: \"aud\" is both in claims_json and in audience; "
		    "send it in one place only");
	if (aud != NULL) {
		hj_err r = claims_check_claimed_audience(profile, obj, aud, err);

		if (r == HJ_OK)
			*aud_textp = strndup(obj->text + aud->value_offset, aud->value_len);
		if (r == HJ_OK && *aud_textp == NULL)
			r = hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
		return r;
	}
	if (request->audience_count > 0)
		return claims_request_audience(profile, request, aud_textp, err);
	return HJ_OK;
}

hj_err
claims_build(const struct profile *profile, const char *issuer,
    const struct claims_request *request, int64_t now,
    struct claims_result *result, struct hj_error *err)
{
	struct jsontext_object *obj = NULL;
	char *aud_text = NULL;
	uint32_t ttl;
	struct buf b;
	hj_err r;

	memset(result, 0, sizeof(*result));
	buf_init(&b);

	if ((r = claims_parse(request, &obj, err)) != HJ_OK ||
	    (r = claims_check_reserved(obj, err)) != HJ_OK ||
	    (r = claims_audience(profile, request, obj, &aud_text, err)) != HJ_OK ||
	    (r = claims_ttl(profile, request, &ttl, err)) != HJ_OK ||
	    (r = claims_new_jti(result->jti, err)) != HJ_OK)
		goto out;

	result->issued_at = now;
	result->expires_at = now + ttl;

	/* The caller's object without its closing brace, then the service's claims. */
	buf_append(&b, obj->text, obj->len - 1);
	if (obj->member_count > 0)
		buf_append(&b, ",", 1);
	if (aud_text != NULL && request->audience_count > 0)
		buf_appendf(&b, "\"aud\":%s,", aud_text);
	buf_append_str(&b, "\"iss\":");
	buf_append_json_string(&b, issuer, strlen(issuer));
	buf_appendf(&b, ",\"iat\":%" PRId64 ",\"exp\":%" PRId64 ",\"jti\":\"%s\"}",
	    result->issued_at, result->expires_at, result->jti);

	r = buf_finish(&b, &result->json, &result->json_len);
	if (r != HJ_OK) {
		hj_error_set(err, r, "out of memory while building the claims");
		goto out;
	}
	result->audience_json = aud_text;
	aud_text = NULL;

out:
	if (r != HJ_OK)
		claims_result_clear(result);
	buf_clear(&b);
	free(aud_text);
	jsontext_object_free(obj);
	return r;
}

void
claims_result_clear(struct claims_result *result)
{
	if (result == NULL)
		return;
	if (result->json != NULL)
		OPENSSL_clear_free(result->json, result->json_len);
	free(result->audience_json);
	memset(result, 0, sizeof(*result));
}
