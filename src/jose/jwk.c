/*
 * Public EC, RSA and OKP JWKs (RFC 7518 section 6, RFC 8037 section 2) and
 * RFC 7638 thumbprints.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/b64url.h"
#include "hsmjwt/buf.h"
#include "hsmjwt/jwk.h"

/* Minimum RSA modulus length (RFC 7518 section 3.3). */
#define JWK_RSA_MIN_BITS 2048

/* Maximum RSA modulus or exponent length that jwk_to_pkey() decodes. */
#define JWK_RSA_MAX_BITS 16384

/* Length of one coordinate on P-521, the largest supported curve, in bytes. */
#define JWK_EC_FIELD_MAX 66

/* A curve that JWKs may name. */
struct jwk_curve {
	const char *crv;          /* JWK "crv" */
	const char *group_name;   /* OpenSSL group name */
	size_t field_len;         /* bytes of one coordinate */
};

static const struct jwk_curve jwk_curves[] = {
	{ "P-256", "prime256v1", 32 },
	{ "P-384", "secp384r1", 48 },
	{ "P-521", "secp521r1", 66 },
};

/* An OKP subtype (RFC 8037 section 2) that JWKs may name. */
struct jwk_okp_curve {
	const char *crv;          /* JWK "crv" */
	const char *key_type;     /* OpenSSL key type name */
	size_t x_len;             /* bytes of the raw public key */
};

static const struct jwk_okp_curve jwk_okp_curves[] = {
	{ "Ed25519", "ED25519", 32 },
	{ "X25519", "X25519", 32 },
};

static const struct jwk_curve *
jwk_curve_find(const char *crv)
{
	size_t i;

	if (crv == NULL)
		return NULL;
	for (i = 0; i < sizeof(jwk_curves) / sizeof(jwk_curves[0]); i++) {
		if (strcmp(jwk_curves[i].crv, crv) == 0)
			return &jwk_curves[i];
	}
	return NULL;
}

static const struct jwk_okp_curve *
jwk_okp_curve_find(const char *crv)
{
	size_t i;

	if (crv == NULL)
		return NULL;
	for (i = 0; i < sizeof(jwk_okp_curves) / sizeof(jwk_okp_curves[0]);
	    i++) {
		if (strcmp(jwk_okp_curves[i].crv, crv) == 0)
			return &jwk_okp_curves[i];
	}
	return NULL;
}

/* Adds the member name with the base64url encoding of data to obj. */
static bool
jwk_set_b64url(json_t *obj, const char *name, const uint8_t *data, size_t len)
{
	char *text;
	int rc;

	if (b64url_encode(data, len, &text) != HJ_OK)
		return false;
	rc = json_object_set_new(obj, name, json_string(text));
	free(text);
	return rc == 0;
}

json_t *
jwk_from_ec_point(const char *crv, const uint8_t *point, size_t point_len,
    struct hj_error *err)
{
	const struct jwk_curve *curve = jwk_curve_find(crv);
	json_t *jwk = NULL;
	size_t n;

	if (curve == NULL) {
		hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "EC curve not supported for a JWK: use P-256, P-384 or P-521");
		return NULL;
	}
	n = curve->field_len;
	if (point == NULL || point_len != 1 + 2 * n || point[0] != 0x04) {
		hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "EC point for %s must be uncompressed: 0x04 followed by "
		    "two %zu-byte coordinates (%zu bytes), got %zu bytes",
		    curve->crv, n, 1 + 2 * n, point_len);
		return NULL;
	}

	jwk = json_object();
	if (jwk == NULL ||
	    json_object_set_new(jwk, "kty", json_string("EC")) != 0 ||
	    json_object_set_new(jwk, "crv", json_string(curve->crv)) != 0 ||
	    !jwk_set_b64url(jwk, "x", point + 1, n) ||
	    !jwk_set_b64url(jwk, "y", point + 1 + n, n)) {
		json_decref(jwk);
		hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building an EC JWK");
		return NULL;
	}
	return jwk;
}

/* Advances *datap past leading zero bytes, keeping at least one byte. */
static void
jwk_strip_zeros(const uint8_t **datap, size_t *lenp)
{
	while (*lenp > 1 && (*datap)[0] == 0) {
		(*datap)++;
		(*lenp)--;
	}
}

json_t *
jwk_from_rsa(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
    struct hj_error *err)
{
	json_t *jwk = NULL;

	if (n != NULL)
		jwk_strip_zeros(&n, &n_len);
	if (e != NULL)
		jwk_strip_zeros(&e, &e_len);
	if (n == NULL || n_len == 0 || n[0] == 0 || e == NULL || e_len == 0 ||
	    e[0] == 0) {
		hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "RSA modulus and public exponent must be non-zero");
		return NULL;
	}

	jwk = json_object();
	if (jwk == NULL ||
	    json_object_set_new(jwk, "kty", json_string("RSA")) != 0 ||
	    !jwk_set_b64url(jwk, "n", n, n_len) ||
	    !jwk_set_b64url(jwk, "e", e, e_len)) {
		json_decref(jwk);
		hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building an RSA JWK");
		return NULL;
	}
	return jwk;
}

json_t *
jwk_from_okp(const char *crv, const uint8_t *x, size_t x_len,
    struct hj_error *err)
{
	const struct jwk_okp_curve *curve = jwk_okp_curve_find(crv);
	json_t *jwk = NULL;

	if (curve == NULL) {
		hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "OKP curve not supported for a JWK: use Ed25519 or X25519");
		return NULL;
	}
	if (x == NULL || x_len != curve->x_len) {
		hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s public key must be %zu bytes, got %zu bytes",
		    curve->crv, curve->x_len, x_len);
		return NULL;
	}

	jwk = json_object();
	if (jwk == NULL ||
	    json_object_set_new(jwk, "kty", json_string("OKP")) != 0 ||
	    json_object_set_new(jwk, "crv", json_string(curve->crv)) != 0 ||
	    !jwk_set_b64url(jwk, "x", x, x_len)) {
		json_decref(jwk);
		hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory building an OKP JWK");
		return NULL;
	}
	return jwk;
}

/* Sets *valuep to the string member name of jwk. */
static hj_err
jwk_get_string(const json_t *jwk, const char *name, const char **valuep,
    struct hj_error *err)
{
	json_t *value = json_object_get(jwk, name);

	*valuep = NULL;
	if (!json_is_string(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"%s\" missing or not a string", name);
	if (strlen(json_string_value(value)) != json_string_length(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"%s\" contains a NUL character", name);

	*valuep = json_string_value(value);
	return HJ_OK;
}

/* Sets *ktyp to the key type of jwk, which must be "EC", "RSA" or "OKP". */
static hj_err
jwk_get_kty(const json_t *jwk, enum jose_kty *ktyp, struct hj_error *err)
{
	const char *kty;
	hj_err r;

	*ktyp = JOSE_KTY_EC;
	if (!json_is_object(jwk))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK is not a JSON object");

	r = jwk_get_string(jwk, "kty", &kty, err);
	if (r != HJ_OK)
		return r;
	if (strcmp(kty, "EC") == 0)
		*ktyp = JOSE_KTY_EC;
	else if (strcmp(kty, "RSA") == 0)
		*ktyp = JOSE_KTY_RSA;
	else if (strcmp(kty, "OKP") == 0)
		*ktyp = JOSE_KTY_OKP;
	else
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"kty\" not supported: use \"EC\", \"RSA\" or "
		    "\"OKP\"");
	return HJ_OK;
}

/* Appends "name":"value" of jwk's string member name to b. */
static hj_err
jwk_append_member(struct buf *b, const json_t *jwk, const char *name,
    struct hj_error *err)
{
	const char *value;
	hj_err r;

	r = jwk_get_string(jwk, name, &value, err);
	if (r != HJ_OK)
		return r;

	buf_append_json_string(b, name, strlen(name));
	buf_append(b, ":", 1);
	buf_append_json_string(b, value, strlen(value));
	return HJ_OK;
}

/*
 * Appends the RFC 7638 form of jwk to b: the required members of its key
 * type in lexicographic order, with no white space.
 */
static hj_err
jwk_append_required(struct buf *b, const json_t *jwk, struct hj_error *err)
{
	static const char *const ec_members[] = {
		"crv", "kty", "x", "y", NULL
	};
	static const char *const rsa_members[] = { "e", "kty", "n", NULL };
	static const char *const okp_members[] = { "crv", "kty", "x", NULL };
	const char *const *members;
	enum jose_kty kty;
	hj_err r;
	size_t i;

	r = jwk_get_kty(jwk, &kty, err);
	if (r != HJ_OK)
		return r;
	if (kty == JOSE_KTY_EC)
		members = ec_members;
	else if (kty == JOSE_KTY_OKP)
		members = okp_members;
	else
		members = rsa_members;

	buf_append(b, "{", 1);
	for (i = 0; members[i] != NULL; i++) {
		if (i > 0)
			buf_append(b, ",", 1);
		r = jwk_append_member(b, jwk, members[i], err);
		if (r != HJ_OK)
			return r;
	}
	buf_append(b, "}", 1);
	return HJ_OK;
}

hj_err
jwk_thumbprint(const json_t *jwk, char *out, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	struct buf canonical;

	out[0] = '\0';
	buf_init(&canonical);

	r = jwk_append_required(&canonical, jwk, err);
	if (r != HJ_OK)
		goto out;
	if (canonical.failed) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory computing a JWK thumbprint");
		goto out;
	}

	if (EVP_Digest(canonical.data, canonical.len, digest, &digest_len,
	    EVP_sha256(), NULL) != 1 || digest_len != 32) {
		ERR_clear_error();
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "SHA-256 failed computing a JWK thumbprint");
		goto out;
	}
	b64url_encode_to(digest, digest_len, out);
	r = HJ_OK;
out:
	buf_clear(&canonical);
	return r;
}

/* Decodes the base64url string member name of jwk. */
static hj_err
jwk_decode_member(const json_t *jwk, const char *name, uint8_t **datap,
    size_t *lenp, struct hj_error *err)
{
	struct hj_error decode_err;
	const char *text;
	hj_err r;

	*datap = NULL;
	*lenp = 0;
	r = jwk_get_string(jwk, name, &text, err);
	if (r != HJ_OK)
		return r;

	hj_error_clear(&decode_err);
	r = b64url_decode(text, strlen(text), datap, lenp, &decode_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "JWK \"%s\": %s", name,
		    decode_err.message);
	return HJ_OK;
}

/*
 * Builds a public key of type key_type ("EC", "RSA") from params and
 * validates it, setting invalid_message as the error when either step
 * rejects the key. OpenSSL 3.0 already rejects an EC point that is not on
 * the curve in EVP_PKEY_fromdata(); EVP_PKEY_public_check() repeats that
 * check and, for RSA, requires an odd composite modulus and an odd exponent
 * above 1 (OpenSSL 3.0 outside FIPS mode; the FIPS provider also requires
 * 2^16 < e < 2^256).
 */
static hj_err
jwk_pkey_from_params(const char *key_type, OSSL_PARAM *params,
    const char *invalid_message, EVP_PKEY **pkeyp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	EVP_PKEY_CTX *ctx = NULL, *check_ctx = NULL;
	EVP_PKEY *pkey = NULL;

	*pkeyp = NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, key_type, NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "OpenSSL could not set up a %s key import", key_type);
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s",
		    invalid_message);
		goto out;
	}

	check_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (check_ctx == NULL || EVP_PKEY_public_check(check_ctx) != 1) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s",
		    invalid_message);
		goto out;
	}

	*pkeyp = pkey;
	pkey = NULL;
	r = HJ_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(check_ctx);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/* Decodes coordinate name, which must be exactly field_len bytes, into dst. */
static hj_err
jwk_decode_coordinate(const json_t *jwk, const char *name,
    const struct jwk_curve *curve, uint8_t *dst, struct hj_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	hj_err r;

	r = jwk_decode_member(jwk, name, &data, &len, err);
	if (r != HJ_OK)
		return r;
	if (len != curve->field_len) {
		free(data);
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"%s\" is %zu bytes, expected %zu for %s", name, len,
		    curve->field_len, curve->crv);
	}
	memcpy(dst, data, len);
	free(data);
	return HJ_OK;
}

static hj_err
jwk_ec_to_pkey(const json_t *jwk, EVP_PKEY **pkeyp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwk_curve *curve;
	uint8_t point[1 + 2 * JWK_EC_FIELD_MAX];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	const char *crv;

	r = jwk_get_string(jwk, "crv", &crv, err);
	if (r != HJ_OK)
		goto out;
	curve = jwk_curve_find(crv);
	if (curve == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"crv\" not supported: use P-256, P-384 or P-521");
		goto out;
	}

	point[0] = 0x04;
	r = jwk_decode_coordinate(jwk, "x", curve, point + 1, err);
	if (r != HJ_OK)
		goto out;
	r = jwk_decode_coordinate(jwk, "y", curve, point + 1 + curve->field_len,
	    err);
	if (r != HJ_OK)
		goto out;

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve->group_name, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, 1 + 2 * curve->field_len) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory importing an EC JWK");
		goto out;
	}

	r = jwk_pkey_from_params("EC", params,
	    "JWK: the EC point (x, y) is not on the curve", pkeyp, err);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* Decodes the big-endian integer member name of jwk into *bnp. */
static hj_err
jwk_decode_bn(const json_t *jwk, const char *name, BIGNUM **bnp,
    struct hj_error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	hj_err r;

	*bnp = NULL;
	r = jwk_decode_member(jwk, name, &data, &len, err);
	if (r != HJ_OK)
		return r;
	if (len == 0 || len > JWK_RSA_MAX_BITS / 8) {
		free(data);
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"%s\" is %zu bytes, expected 1 to %d", name, len,
		    JWK_RSA_MAX_BITS / 8);
	}

	*bnp = BN_bin2bn(data, (int)len, NULL);
	free(data);
	if (*bnp == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory importing an RSA JWK");
	return HJ_OK;
}

static hj_err
jwk_rsa_to_pkey(const json_t *jwk, EVP_PKEY **pkeyp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;

	r = jwk_decode_bn(jwk, "n", &n, err);
	if (r != HJ_OK)
		goto out;
	r = jwk_decode_bn(jwk, "e", &e, err);
	if (r != HJ_OK)
		goto out;
	if (BN_num_bits(n) < JWK_RSA_MIN_BITS) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK RSA modulus has %d bits, below the minimum of %d",
		    BN_num_bits(n), JWK_RSA_MIN_BITS);
		goto out;
	}

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory importing an RSA JWK");
		goto out;
	}

	r = jwk_pkey_from_params("RSA", params,
	    "JWK: invalid RSA public key: the modulus must be odd and "
	    "composite, the exponent odd and above 1", pkeyp,
	    err);
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

/*
 * Imports an OKP public key. NOTE: OpenSSL 3.0 checks only the length of a
 * raw Ed25519 key here, so an x that is not a curve point is accepted and
 * then fails every signature verification.
 */
static hj_err
jwk_okp_to_pkey(const json_t *jwk, EVP_PKEY **pkeyp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwk_okp_curve *curve;
	uint8_t *x = NULL;
	size_t x_len = 0;
	const char *crv;

	r = jwk_get_string(jwk, "crv", &crv, err);
	if (r != HJ_OK)
		goto out;
	curve = jwk_okp_curve_find(crv);
	if (curve == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"crv\" not supported for OKP: use Ed25519 or X25519");
		goto out;
	}

	r = jwk_decode_member(jwk, "x", &x, &x_len, err);
	if (r != HJ_OK)
		goto out;
	if (x_len != curve->x_len) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWK \"x\" is %zu bytes, expected %zu for %s", x_len,
		    curve->x_len, curve->crv);
		goto out;
	}

	*pkeyp = EVP_PKEY_new_raw_public_key_ex(NULL, curve->key_type, NULL,
	    x, x_len);
	if (*pkeyp == NULL) {
		ERR_clear_error();
		r = hj_error_set(err, HJ_ERR_INTERNAL,
		    "OpenSSL could not import a %s public key", curve->crv);
		goto out;
	}
	r = HJ_OK;
out:
	free(x);
	return r;
}

hj_err
jwk_to_pkey(const json_t *jwk, EVP_PKEY **pkeyp, struct hj_error *err)
{
	enum jose_kty kty;
	hj_err r;

	*pkeyp = NULL;
	r = jwk_get_kty(jwk, &kty, err);
	if (r != HJ_OK)
		return r;

	if (kty == JOSE_KTY_EC)
		return jwk_ec_to_pkey(jwk, pkeyp, err);
	if (kty == JOSE_KTY_OKP)
		return jwk_okp_to_pkey(jwk, pkeyp, err);
	return jwk_rsa_to_pkey(jwk, pkeyp, err);
}
