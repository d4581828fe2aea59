/*
 * Session secret objects: a CEK written into the token to be wrapped, and
 * the value of a derived or unwrapped key read out of it. Both live only
 * in the borrowed session and are destroyed before the session goes back
 * to the pool.
 */
#include <openssl/crypto.h>

#include "hsm_int.h"

/*
 * Creates a generic secret session object of value_len bytes that
 * C_WrapKey may wrap: extractable, but sensitive, so that its value cannot
 * be read back.
 */
CK_RV
hsm_secret_create(struct hsm *hsm, CK_SESSION_HANDLE session,
    const uint8_t *value, size_t value_len, CK_OBJECT_HANDLE *objectp)
{
	CK_OBJECT_CLASS class = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_VALUE, (void *)value, value_len },
	};

	*objectp = CK_INVALID_HANDLE;
	return hsm->p11->C_CreateObject(session, template,
	    sizeof(template) / sizeof(template[0]), objectp);
}

/*
 * Reads the CKA_VALUE of a session secret object into buf (cap bytes) and
 * destroys the object, also when the read failed. A length that the token
 * reports beyond cap is CKR_BUFFER_TOO_SMALL. A failed C_DestroyObject is
 * returned as well, so that hsm_session_run() replaces the session, whose
 * close destroys the object. buf is cleansed on failure.
 */
CK_RV
hsm_secret_take(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, uint8_t *buf, size_t cap, size_t *lenp,
    const char **callp)
{
	CK_ATTRIBUTE attr = { CKA_VALUE, buf, cap };
	CK_RV rv, destroy_rv;

	*lenp = 0;
	*callp = "C_GetAttributeValue";
	rv = hsm->p11->C_GetAttributeValue(session, object, &attr, 1);
	if (rv == CKR_OK && (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
	    attr.ulValueLen > cap))
		rv = CKR_BUFFER_TOO_SMALL;

	destroy_rv = hsm->p11->C_DestroyObject(session, object);
	if (rv == CKR_OK && destroy_rv != CKR_OK) {
		*callp = "C_DestroyObject";
		rv = destroy_rv;
	}

	if (rv != CKR_OK) {
		OPENSSL_cleanse(buf, cap);
		return rv;
	}
	*lenp = attr.ulValueLen;
	return CKR_OK;
}
