#include <string.h>

#include <jansson.h>

#include "hsmjwt/claims.h"

/* Reads an optional NumericDate; *presentp is false when the claim is absent. */
static hj_err
claims_numeric_date(const json_t *payload, const char *name, int64_t *valuep,
    bool *presentp, struct hj_error *err)
{
	const json_t *value = json_object_get(payload, name);

	*presentp = value != NULL;
	*valuep = 0;
	if (value == NULL)
		return HJ_OK;
	if (!json_is_integer(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "claim \"%s\" is not an integer NumericDate", name);
	*valuep = (int64_t)json_integer_value(value);
	return HJ_OK;
}

static hj_err
claims_check_times(const json_t *payload, const struct claims_check *check,
    struct hj_error *err)
{
	int64_t exp, nbf;
	bool has_exp, has_nbf;
	hj_err r;

	if ((r = claims_numeric_date(payload, "exp", &exp, &has_exp, err)) != HJ_OK ||
	    (r = claims_numeric_date(payload, "nbf", &nbf, &has_nbf, err)) != HJ_OK)
		return r;
	if (!has_exp)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "the token has no \"exp\"");
	if (check->now >= exp + (int64_t)check->clock_skew)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the token expired at %lld", (long long)exp);
	if (has_nbf && check->now + (int64_t)check->clock_skew < nbf)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the token is not valid before %lld", (long long)nbf);
	return HJ_OK;
}

static bool
claims_has_audience(const json_t *aud, const char *audience)
{
	const json_t *item;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), audience) == 0;
	json_array_foreach(aud, i, item) {
		if (json_is_string(item) && strcmp(json_string_value(item), audience) == 0)
			return true;
	}
	return false;
}

hj_err
claims_verify(const char *payload, size_t len, const struct claims_check *check,
    struct hj_error *err)
{
	json_t *obj = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
	const char *iss;
	hj_err r = HJ_ERR_INVALID_ARGUMENT;

	if (!json_is_object(obj)) {
		hj_error_set(err, r, "the payload is not a JSON object");
		goto out;
	}
	if ((r = claims_check_times(obj, check, err)) != HJ_OK)
		goto out;

	r = HJ_ERR_INVALID_ARGUMENT;
	iss = json_string_value(json_object_get(obj, "iss"));
	if (iss == NULL || strcmp(iss, check->issuer) != 0) {
		hj_error_set(err, r, "the token was not issued by %s", check->issuer);
		goto out;
	}
	if (check->audience != NULL && check->audience[0] != '\0' &&
	    !claims_has_audience(json_object_get(obj, "aud"), check->audience)) {
		hj_error_set(err, r, "the token is not for audience \"%.64s\"", check->audience);
		goto out;
	}
	r = HJ_OK;

out:
	json_decref(obj);
	return r;
}
