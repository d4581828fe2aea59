/*
 * Reading key objects: label, id and type of a private or secret key, the
 * public half from the CKO_PUBLIC_KEY object with the same CKA_ID, and the
 * length of a secret key. Every length that the token returns is checked
 * against the buffers of struct hsm_key.
 */
#include <string.h>

#include "hsm_int.h"

/* Maximum CKA_EC_PARAMS length read; the values of hsm_curves are shorter. */
#define HSM_EC_PARAMS_MAX 64
/* Maximum OCTET STRING header around a point of HSM_EC_POINT_MAX bytes. */
#define HSM_DER_HEADER_MAX 4

/*
 * Named curves, recognized by their CKA_EC_PARAMS. Tokens give an Edwards
 * curve as its DER OID or as its name in a DER PrintableString, so Ed25519
 * has two rows. SoftHSM 2.6.1 uses both: the OID on the public half of a
 * key generated with it, the name on the private half. The first row of a
 * curve gives the form used to generate keys.
 */
static const struct hsm_curve {
	const char *crv;                 /* JWK "crv" */
	enum jose_kty kty;
	unsigned char params[16];        /* DER CKA_EC_PARAMS */
	size_t params_len;
	size_t point_len;                /* EC: 0x04 || X || Y; OKP: raw key */
} hsm_curves[] = {
	/* prime256v1, 1.2.840.10045.3.1.7 */
	{ "P-256", JOSE_KTY_EC,
	    { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 },
	    10, 65 },
	/* secp384r1, 1.3.132.0.34 */
	{ "P-384", JOSE_KTY_EC, { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 },
	    7, 97 },
	/* secp521r1, 1.3.132.0.35 */
	{ "P-521", JOSE_KTY_EC, { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 },
	    7, 133 },
	/* id-Ed25519, 1.3.101.112 (RFC 8410) */
	{ "Ed25519", JOSE_KTY_OKP, { 0x06, 0x03, 0x2b, 0x65, 0x70 }, 5, 32 },
	/* PrintableString "edwards25519" */
	{ "Ed25519", JOSE_KTY_OKP,
	    { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1',
	    '9' }, 14, 32 },
};

#define HSM_CURVE_COUNT (sizeof(hsm_curves) / sizeof(hsm_curves[0]))

const unsigned char *
hsm_curve_params(const char *crv, size_t *params_lenp)
{
	size_t i;

	*params_lenp = 0;
	for (i = 0; crv != NULL && i < HSM_CURVE_COUNT; i++) {
		if (strcmp(hsm_curves[i].crv, crv) == 0) {
			*params_lenp = hsm_curves[i].params_len;
			return hsm_curves[i].params;
		}
	}
	return NULL;
}

static const struct hsm_curve *
hsm_curve_by_params(const unsigned char *params, size_t params_len)
{
	size_t i;

	for (i = 0; i < HSM_CURVE_COUNT; i++) {
		if (hsm_curves[i].params_len == params_len &&
		    memcmp(hsm_curves[i].params, params, params_len) == 0)
			return &hsm_curves[i];
	}
	return NULL;
}

bool
hsm_rv_is_fatal(CK_RV rv)
{
	return hsm_rv_is_unavailable(rv) || rv == CKR_HOST_MEMORY;
}

/*
 * Reads one attribute into buf (cap bytes). A value longer than cap, or a
 * length the token reports beyond cap, is CKR_BUFFER_TOO_SMALL.
 */
static CK_RV
hsm_attr_read(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, void *buf, size_t cap,
    size_t *lenp)
{
	CK_ATTRIBUTE attr = { type, buf, cap };
	CK_RV rv;

	*lenp = 0;
	rv = hsm->p11->C_GetAttributeValue(session, object, &attr, 1);
	if (rv != CKR_OK)
		return rv;
	if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	    attr.ulValueLen > cap)
		return CKR_BUFFER_TOO_SMALL;
	*lenp = attr.ulValueLen;
	return CKR_OK;
}

/* Reads an attribute of type CK_ULONG, which must have exactly that size. */
static CK_RV
hsm_attr_read_ulong(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, CK_ULONG *valuep)
{
	size_t len;
	CK_RV rv;

	rv = hsm_attr_read(hsm, session, object, type, valuep, sizeof(*valuep),
	    &len);
	if (rv == CKR_OK && len != sizeof(*valuep))
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	return rv;
}

/*
 * Parses the header of a DER OCTET STRING that fills all of der[0 .. len - 1]
 * and returns the offset of its content, or 0 when der is not one.
 */
static size_t
hsm_der_octet_string(const uint8_t *der, size_t len)
{
	size_t content_len = 0, count, i;

	if (len < 2 || der[0] != 0x04)
		return 0;
	if (der[1] < 0x80)
		return 2 + (size_t)der[1] == len ? 2 : 0;

	/*
	 * In the long form, 0x80 | count is followed by count length bytes.
	 * A lone 0x80 (indefinite length) is BER, not DER.
	 */
	count = der[1] & 0x7f;
	if (count == 0 || count > 2 || len < 2 + count)
		return 0;
	for (i = 0; i < count; i++)
		content_len = content_len << 8 | der[2 + i];
	if (content_len != len - 2 - count)
		return 0;
	return 2 + count;
}

/*
 * Returns true when point (curve->point_len bytes) has the form of the
 * curve: EC points must be uncompressed, OKP keys are any 32 bytes.
 */
static bool
hsm_point_is_valid(const struct hsm_curve *curve, const uint8_t *point)
{
	return curve->kty != JOSE_KTY_EC || point[0] == 0x04;
}

/*
 * Finds the point of the curve in a CKA_EC_POINT value: a DER OCTET STRING
 * around it, as PKCS#11 2.40 and 3.0 specify, or the raw point that some
 * tokens return. The two differ in length, so a raw Ed25519 key whose first
 * bytes look like a DER header is still read as raw. Returns NULL when the
 * value is neither.
 */
static const uint8_t *
hsm_ec_point_find(const uint8_t *value, size_t len,
    const struct hsm_curve *curve)
{
	size_t offset = hsm_der_octet_string(value, len);

	if (offset != 0 && len - offset == curve->point_len &&
	    hsm_point_is_valid(curve, value + offset))
		return value + offset;
	if (len == curve->point_len && hsm_point_is_valid(curve, value))
		return value;
	return NULL;
}

/*
 * Reads the curve and point of an EC or OKP public key. key->crv stays NULL
 * when the curve is unknown, belongs to the other key type, or the point
 * cannot be read.
 */
static CK_RV
hsm_key_read_ec(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, struct hsm_key *key)
{
	uint8_t params[HSM_EC_PARAMS_MAX];
	uint8_t value[HSM_DER_HEADER_MAX + HSM_EC_POINT_MAX];
	const struct hsm_curve *curve;
	const uint8_t *point;
	size_t len;
	CK_RV rv;

	rv = hsm_attr_read(hsm, session, object, CKA_EC_PARAMS, params,
	    sizeof(params), &len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;
	curve = hsm_curve_by_params(params, len);
	if (curve == NULL || curve->kty != key->kty)
		return CKR_OK;

	rv = hsm_attr_read(hsm, session, object, CKA_EC_POINT, value,
	    sizeof(value), &len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;
	point = hsm_ec_point_find(value, len, curve);
	if (point == NULL || curve->point_len > sizeof(key->ec_point))
		return CKR_OK;

	memcpy(key->ec_point, point, curve->point_len);
	key->ec_point_len = curve->point_len;
	key->crv = curve->crv;
	return CKR_OK;
}

/*
 * Reads a big-endian integer attribute into out (cap bytes) without its
 * leading zero bytes, which RFC 7518 section 6.3.1 forbids in "n" and "e".
 * *out_lenp stays 0 when the value is missing or too long.
 */
static CK_RV
hsm_attr_read_integer(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type, uint8_t *out,
    size_t cap, size_t *out_lenp)
{
	uint8_t value[HSM_RSA_MODULUS_MAX + 8];
	size_t len, skip = 0;
	CK_RV rv;

	*out_lenp = 0;
	rv = hsm_attr_read(hsm, session, object, type, value, sizeof(value),
	    &len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;

	while (skip < len && value[skip] == 0)
		skip++;
	if (len - skip > cap)
		return CKR_OK;
	memcpy(out, value + skip, len - skip);
	*out_lenp = len - skip;
	return CKR_OK;
}

static CK_RV
hsm_key_read_rsa(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, struct hsm_key *key)
{
	CK_RV rv;

	rv = hsm_attr_read_integer(hsm, session, object, CKA_MODULUS,
	    key->rsa_n, sizeof(key->rsa_n), &key->rsa_n_len);
	if (rv != CKR_OK)
		return rv;
	rv = hsm_attr_read_integer(hsm, session, object, CKA_PUBLIC_EXPONENT,
	    key->rsa_e, sizeof(key->rsa_e), &key->rsa_e_len);
	if (rv == CKR_OK && key->rsa_e_len == 0)
		key->rsa_n_len = 0;
	return rv;
}

/*
 * Reads the CKA_VALUE_LEN of a secret key into key->secret_len, which stays
 * 0 when the token does not return it.
 */
static CK_RV
hsm_key_read_secret(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_key *key)
{
	CK_ULONG len = 0;
	CK_RV rv;

	rv = hsm_attr_read_ulong(hsm, session, key->private_handle,
	    CKA_VALUE_LEN, &len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;
	key->secret_len = len;
	return CKR_OK;
}

/* Finds the CKO_PUBLIC_KEY object whose CKA_ID equals key->id. */
static CK_RV
hsm_public_find(struct hsm *hsm, CK_SESSION_HANDLE session,
    const struct hsm_key *key, CK_OBJECT_HANDLE *handlep, const char **callp)
{
	CK_OBJECT_CLASS class = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_ID, (void *)key->id, key->id_len },
	};
	CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
	CK_ULONG count = 0;
	CK_RV rv;

	*handlep = CK_INVALID_HANDLE;
	*callp = "C_FindObjectsInit";
	rv = hsm->p11->C_FindObjectsInit(session, template, 2);
	if (rv != CKR_OK)
		return rv;

	*callp = "C_FindObjects";
	rv = hsm->p11->C_FindObjects(session, &found, 1, &count);
	(void)hsm->p11->C_FindObjectsFinal(session);
	if (rv != CKR_OK)
		return rv;
	if (count == 1)
		*handlep = found;
	return CKR_OK;
}

/*
 * Reads the public half of key into it, or for a secret key its length.
 * key->public_handle, when 0, is looked up by CKA_ID first. Without a
 * public object, the RSA modulus and exponent come from the private object,
 * which has them too. An EC or OKP key without a public object gets no
 * point and crv NULL.
 */
CK_RV
hsm_key_read_public(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_key *key, const char **callp)
{
	CK_OBJECT_HANDLE object;
	CK_RV rv;

	if (key->kty == JOSE_KTY_OCT) {
		*callp = "C_GetAttributeValue";
		return hsm_key_read_secret(hsm, session, key);
	}
	if (key->public_handle == CK_INVALID_HANDLE) {
		rv = hsm_public_find(hsm, session, key, &object, callp);
		if (rv != CKR_OK)
			return rv;
		key->public_handle = object;
	}
	object = key->public_handle;
	if (object == CK_INVALID_HANDLE)
		object = key->private_handle;

	*callp = "C_GetAttributeValue";
	if (key->kty == JOSE_KTY_RSA)
		return hsm_key_read_rsa(hsm, session, object, key);
	return hsm_key_read_ec(hsm, session, object, key);
}

/* Maps a PKCS#11 key type to a JWK key type. Returns false for others. */
static bool
hsm_key_type_kty(CK_KEY_TYPE type, enum jose_kty *ktyp)
{
	switch (type) {
	case CKK_EC:
		*ktyp = JOSE_KTY_EC;
		return true;
	case CKK_RSA:
		*ktyp = JOSE_KTY_RSA;
		return true;
	case CKK_EC_EDWARDS:
		*ktyp = JOSE_KTY_OKP;
		return true;
	case CKK_GENERIC_SECRET:
	case CKK_AES:
		*ktyp = JOSE_KTY_OCT;
		return true;
	default:
		return false;
	}
}

/*
 * Reads the label, id and type of a private or secret key into key.
 * *matchp is false when the label does not start with prefix, or the
 * object cannot be used (attributes missing or too long, a key type other
 * than EC, RSA, EC_EDWARDS, GENERIC_SECRET or AES).
 */
CK_RV
hsm_key_read_private(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, const char *prefix, struct hsm_key *key,
    bool *matchp, const char **callp)
{
	CK_KEY_TYPE type;
	size_t len;
	CK_RV rv;

	*matchp = false;
	memset(key, 0, sizeof(*key));
	key->private_handle = object;
	*callp = "C_GetAttributeValue";

	rv = hsm_attr_read(hsm, session, object, CKA_LABEL, key->label,
	    sizeof(key->label) - 1, &len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;
	key->label[len] = '\0';
	if (strlen(key->label) != len ||
	    strncmp(key->label, prefix, strlen(prefix)) != 0)
		return CKR_OK;

	rv = hsm_attr_read(hsm, session, object, CKA_ID, key->id,
	    sizeof(key->id), &key->id_len);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;

	rv = hsm_attr_read_ulong(hsm, session, object, CKA_KEY_TYPE, &type);
	if (rv != CKR_OK)
		return hsm_rv_is_fatal(rv) ? rv : CKR_OK;
	if (!hsm_key_type_kty(type, &key->kty))
		return CKR_OK;
	key->aes = type == CKK_AES;

	*matchp = true;
	return CKR_OK;
}
