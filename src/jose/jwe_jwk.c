/*
 * Public JWKs for JWE key agreement and key transport: import of EC, OKP
 * (X25519) and RSA keys with the checks that JWE adds to jwk_to_pkey(),
 * and the "epk" header member.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/jwk.h"
#include "jwe_int.h"

/* Members that only a private or secret JWK has (RFC 7518 section 6). */
static const char *const jwe_private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

hj_err
jwe_jwk_check_public(const json_t *jwk, const char *field,
    struct hj_error *err)
{
	size_t i;

	for (i = 0; jwe_private_members[i] != NULL; i++) {
		if (json_object_get(jwk, jwe_private_members[i]) != NULL)
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "%s: private member \"%s\" present; send the "
			    "public key only", field, jwe_private_members[i]);
	}
	return HJ_OK;
}

/* Sets *valuep to the string member name of jwk, which has no NUL. */
static hj_err
jwe_jwk_string(const json_t *jwk, const char *field, const char *name,
    const char **valuep, struct hj_error *err)
{
	const json_t *value = json_object_get(jwk, name);

	*valuep = NULL;
	if (!json_is_string(value) ||
	    strlen(json_string_value(value)) != json_string_length(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"%s\" missing or not a string", field, name);
	*valuep = json_string_value(value);
	return HJ_OK;
}

/* Checks that the base64url member name decodes to exactly len bytes. */
static hj_err
jwe_jwk_decode_fixed(const json_t *jwk, const char *field, const char *name,
    const struct jwe_curve *curve, uint8_t *out, struct hj_error *err)
{
	struct hj_error decode_err;
	const char *text;
	uint8_t *data = NULL;
	size_t len = 0;
	hj_err r;

	r = jwe_jwk_string(jwk, field, name, &text, err);
	if (r != HJ_OK)
		return r;
	hj_error_clear(&decode_err);
	r = b64url_decode(text, strlen(text), &data, &len, &decode_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "%s: \"%s\": %s", field, name,
		    decode_err.message);
	if (len != curve->field_len) {
		free(data);
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: \"%s\" is %zu bytes, expected %zu for %s", field, name,
		    len, curve->field_len, curve->crv);
	}
	memcpy(out, data, len);
	free(data);
	return HJ_OK;
}

/*
 * Imports an EC or OKP JWK on curve. The coordinates are decoded and their
 * lengths checked here first, so that the only input that jwk_to_pkey()
 * can still reject is an EC point that is not on the curve. Every 32-byte
 * string is a valid X25519 public key.
 */
static hj_err
jwe_jwk_import_curve(const json_t *jwk, const char *field,
    const struct jwe_curve *curve, EVP_PKEY **pkeyp, struct hj_error *err)
{
	uint8_t coordinate[JWE_ECDH_SECRET_MAX];
	struct hj_error import_err;
	hj_err r;

	r = jwe_jwk_decode_fixed(jwk, field, "x", curve, coordinate, err);
	if (r != HJ_OK)
		return r;
	if (curve->group_name != NULL) {
		r = jwe_jwk_decode_fixed(jwk, field, "y", curve, coordinate,
		    err);
		if (r != HJ_OK)
			return r;
	}

	hj_error_clear(&import_err);
	r = jwk_to_pkey(jwk, pkeyp, &import_err);
	if (r == HJ_ERR_INVALID_ARGUMENT && curve->group_name != NULL)
		return hj_error_set(err, r, "%s: EC point is not on curve %s",
		    field, curve->crv);
	if (r != HJ_OK)
		return hj_error_set(err, r, "%s: %s", field,
		    import_err.message);
	return HJ_OK;
}

/* Imports an RSA JWK; jwk_to_pkey() requires at least 2048 bits. */
static hj_err
jwe_jwk_import_rsa(const json_t *jwk, const char *field, EVP_PKEY **pkeyp,
    struct hj_error *err)
{
	struct hj_error import_err;
	hj_err r;

	hj_error_clear(&import_err);
	r = jwk_to_pkey(jwk, pkeyp, &import_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "%s: %s", field,
		    import_err.message);
	return HJ_OK;
}

/* Finds the curve of an EC or OKP JWK and checks that it fits kty. */
static hj_err
jwe_jwk_curve(const json_t *jwk, const char *field, const char *kty,
    const struct jwe_curve **curvep, struct hj_error *err)
{
	const char *crv;
	hj_err r;

	*curvep = NULL;
	r = jwe_jwk_string(jwk, field, "crv", &crv, err);
	if (r != HJ_OK)
		return r;
	*curvep = jwe_curve_find(crv);
	if (*curvep == NULL || strcmp((*curvep)->kty, kty) != 0) {
		*curvep = NULL;
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: curve \"%.32s\" not supported for kty \"%s\": use %s",
		    field, crv, kty, strcmp(kty, "EC") == 0 ?
		    "P-256, P-384 or P-521" : "X25519");
	}
	return HJ_OK;
}

hj_err
jwe_jwk_import(const json_t *jwk, const char *field, EVP_PKEY **pkeyp,
    const struct jwe_curve **curvep, struct hj_error *err)
{
	const char *kty;
	hj_err r;

	*pkeyp = NULL;
	*curvep = NULL;
	if (!json_is_object(jwk))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: the JWK is not a JSON object", field);
	r = jwe_jwk_check_public(jwk, field, err);
	if (r != HJ_OK)
		return r;
	r = jwe_jwk_string(jwk, field, "kty", &kty, err);
	if (r != HJ_OK)
		return r;

	if (strcmp(kty, "RSA") == 0)
		return jwe_jwk_import_rsa(jwk, field, pkeyp, err);
	if (strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: kty \"%.32s\" not supported: use \"RSA\", \"EC\" or "
		    "\"OKP\"", field, kty);

	r = jwe_jwk_curve(jwk, field, kty, curvep, err);
	if (r != HJ_OK)
		return r;
	return jwe_jwk_import_curve(jwk, field, *curvep, pkeyp, err);
}

hj_err
jwe_public_point(EVP_PKEY *pkey, const struct jwe_curve *curve,
    uint8_t *point, size_t *point_len, struct hj_error *err)
{
	size_t cap = *point_len;
	int ok;

	if (curve->group_name == NULL) {
		ok = EVP_PKEY_get_raw_public_key(pkey, point, point_len) == 1 &&
		    *point_len == curve->field_len;
	} else {
		ok = EVP_PKEY_get_octet_string_param(pkey,
		    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, cap,
		    point_len) == 1 &&
		    *point_len == 1 + 2 * curve->field_len && point[0] == 0x04;
	}
	ERR_clear_error();
	if (!ok) {
		*point_len = 0;
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "OpenSSL could not encode the %s public key", curve->crv);
	}
	return HJ_OK;
}

hj_err
jwe_append_epk(struct buf *b, EVP_PKEY *pkey, const struct jwe_curve *curve,
    struct hj_error *err)
{
	uint8_t point[JWE_ECDH_POINT_MAX];
	size_t point_len = sizeof(point);
	struct hj_error build_err;
	json_t *jwk = NULL;
	char *text = NULL;
	hj_err r;

	r = jwe_public_point(pkey, curve, point, &point_len, err);
	if (r != HJ_OK)
		return r;

	hj_error_clear(&build_err);
	if (curve->group_name != NULL)
		jwk = jwk_from_ec_point(curve->crv, point, point_len,
		    &build_err);
	else
		jwk = jwk_from_okp(curve->crv, point, point_len, &build_err);
	if (jwk == NULL)
		return hj_error_set(err, build_err.code == HJ_ERR_NO_MEMORY ?
		    HJ_ERR_NO_MEMORY : HJ_ERR_INTERNAL, "epk: %s",
		    build_err.message);

	/* jansson keeps insertion order: kty, crv, x, then y for EC. */
	text = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	if (text == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory encoding the epk");
	buf_append_str(b, text);
	free(text);
	return HJ_OK;
}
