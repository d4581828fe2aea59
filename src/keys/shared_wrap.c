/*
 * A128KW and A256KW for nested JWTs: the CEK is wrapped with an AES key
 * that the service shares with the recipient and that lives in the token
 * with CKA_LABEL "hsmjwt-kw:<kid>". The security team imports it; hsmjwt
 * never generates or exports it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmjwt/keyring.h"

/* Finds the token's AES key for kid, of key_len bytes. */
static hj_err
keyring_shared_key_find(struct hsm *hsm, const char *kid, size_t key_len,
    struct hsm_key *key, struct hj_error *err)
{
	char label[HSM_LABEL_MAX];
	struct hsm_key *keys = NULL;
	size_t count = 0, i;
	hj_err r;

	if (snprintf(label, sizeof(label), "%s%s", KEYRING_SHARED_PREFIX, kid) >=
	    (int)sizeof(label))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "the recipient's kid is "
		    "too long for a token label");
	if ((r = hsm_key_list(hsm, label, &keys, &count, err)) != HJ_OK)
		return r;

	r = hj_error_set(err, HJ_ERR_FAILED_PRECONDITION, "no AES key with CKA_LABEL "
	    "\"%s\" of %zu bytes in the token; import the key shared with the recipient",
	    label, key_len);
	for (i = 0; i < count; i++) {
		if (strcmp(keys[i].label, label) == 0 && keys[i].aes &&
		    keys[i].secret_len == key_len) {
			*key = keys[i];
			r = HJ_OK;
			break;
		}
	}
	free(keys);
	return r;
}

hj_err
keyring_shared_wrap(struct keyring *ring, const char *kid, size_t key_len,
    const uint8_t *cek, size_t cek_len, uint8_t *out, size_t *out_len,
    struct hj_error *err)
{
	struct hsm_key key;
	hj_err r;

	r = keyring_shared_key_find(keyring_hsm(ring), kid, key_len, &key, err);
	if (r != HJ_OK)
		return r;
	return hsm_aes_wrap(keyring_hsm(ring), &key, cek, cek_len, out, out_len, err);
}
