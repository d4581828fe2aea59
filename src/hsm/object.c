/*
 * Data objects and object destruction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

#define HSM_DATA_FIND_BATCH 64
/* NOTE: data objects past this count are not listed. */
#define HSM_DATA_FIND_MAX 100000

struct hsm_data_list_ctx {
	const char *application;
	struct hsm_data *items;
	size_t count;
	size_t cap;
};

struct hsm_data_write_ctx {
	const char *application;
	const char *label;
	const uint8_t *value;
	size_t value_len;
	CK_OBJECT_HANDLE handle;
	bool created;              /* so a retry does not create a second object */
};

/* Reads label and value of one data object; *fitsp is false when either is too long. */
static CK_RV
hsm_data_read(struct hsm *hsm, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE handle,
    struct hsm_data *item, bool *fitsp)
{
	CK_ATTRIBUTE attrs[] = {
		{ CKA_LABEL, item->label, sizeof(item->label) - 1 },
		{ CKA_VALUE, item->value, sizeof(item->value) - 1 },
	};
	CK_RV rv;

	*fitsp = false;
	memset(item, 0, sizeof(*item));
	rv = hsm->p11->C_GetAttributeValue(session, handle, attrs, 2);
	if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	if (attrs[0].ulValueLen >= sizeof(item->label) ||
	    attrs[1].ulValueLen >= sizeof(item->value))
		return CKR_OK;

	item->handle = handle;
	item->label[attrs[0].ulValueLen] = '\0';
	item->value_len = attrs[1].ulValueLen;
	item->value[item->value_len] = '\0';
	*fitsp = true;
	return CKR_OK;
}

static CK_RV
hsm_data_append(struct hsm_data_list_ctx *ctx, const struct hsm_data *item)
{
	struct hsm_data *grown;
	size_t cap;

	if (ctx->count == ctx->cap) {
		cap = ctx->cap == 0 ? 8 : ctx->cap * 2;
		grown = realloc(ctx->items, cap * sizeof(*grown));
		if (grown == NULL)
			return CKR_HOST_MEMORY;
		ctx->items = grown;
		ctx->cap = cap;
	}
	ctx->items[ctx->count++] = *item;
	return CKR_OK;
}

/* Reads each object found in one C_FindObjects batch. */
static CK_RV
hsm_data_read_batch(struct hsm *hsm, CK_SESSION_HANDLE session,
    const CK_OBJECT_HANDLE *handles, CK_ULONG found, struct hsm_data_list_ctx *ctx)
{
	struct hsm_data item;
	CK_ULONG i;
	bool fits;
	CK_RV rv = CKR_OK;

	for (i = 0; i < found && rv == CKR_OK; i++) {
		rv = hsm_data_read(hsm, session, handles[i], &item, &fits);
		if (rv == CKR_OK && fits)
			rv = hsm_data_append(ctx, &item);
	}
	return rv;
}

static CK_RV
hsm_data_list_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_data_list_ctx *ctx = arg;
	CK_OBJECT_CLASS class = CKO_DATA;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_APPLICATION, (void *)ctx->application, strlen(ctx->application) },
	};
	CK_OBJECT_HANDLE handles[HSM_DATA_FIND_BATCH];
	CK_ULONG found;
	CK_RV rv;

	/* A retry starts over. */
	ctx->count = 0;

	*callp = "C_FindObjectsInit";
	rv = hsm->p11->C_FindObjectsInit(session, template, 2);
	if (rv != CKR_OK)
		return rv;

	*callp = "C_FindObjects";
	for (;;) {
		found = 0;
		rv = hsm->p11->C_FindObjects(session, handles, HSM_DATA_FIND_BATCH, &found);
		if (rv != CKR_OK || found == 0 || found > HSM_DATA_FIND_BATCH)
			break;
		*callp = "C_GetAttributeValue";
		rv = hsm_data_read_batch(hsm, session, handles, found, ctx);
		if (rv != CKR_OK || ctx->count >= HSM_DATA_FIND_MAX)
			break;
		*callp = "C_FindObjects";
	}
	(void)hsm->p11->C_FindObjectsFinal(session);
	return rv;
}

hj_err
hsm_data_list(struct hsm *hsm, const char *application, struct hsm_data **itemsp,
    size_t *countp, struct hj_error *err)
{
	struct hsm_data_list_ctx ctx = { .application = application };
	hj_err r;

	*itemsp = NULL;
	*countp = 0;
	r = hsm_session_run(hsm, "list data objects", hsm_data_list_run, &ctx, err);
	if (r != HJ_OK) {
		free(ctx.items);
		return r;
	}
	*itemsp = ctx.items;
	*countp = ctx.count;
	return HJ_OK;
}

static CK_RV
hsm_data_create_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	struct hsm_data_write_ctx *ctx = arg;
	CK_OBJECT_CLASS class = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE template[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_MODIFIABLE, &yes, sizeof(yes) },
		{ CKA_APPLICATION, (void *)ctx->application, strlen(ctx->application) },
		{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
		{ CKA_VALUE, (void *)ctx->value, ctx->value_len },
	};
	CK_RV rv;

	if (ctx->created)
		return CKR_OK;
	*callp = "C_CreateObject";
	rv = hsm->p11->C_CreateObject(session, template,
	    sizeof(template) / sizeof(template[0]), &ctx->handle);
	if (rv == CKR_OK)
		ctx->created = true;
	return rv;
}

hj_err
hsm_data_create(struct hsm *hsm, const char *application, const char *label,
    const uint8_t *value, size_t value_len, unsigned long *handlep,
    struct hj_error *err)
{
	struct hsm_data_write_ctx ctx = {
		.application = application,
		.label = label,
		.value = value,
		.value_len = value_len,
	};
	hj_err r;

	*handlep = 0;
	if (value_len > HSM_DATA_VALUE_MAX || strlen(label) >= HSM_LABEL_MAX)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "data object \"%s\" is larger than the key ring stores", label);
	r = hsm_session_run(hsm, "create a data object", hsm_data_create_run, &ctx, err);
	if (r == HJ_OK)
		*handlep = ctx.handle;
	return r;
}

static CK_RV
hsm_object_destroy_run(struct hsm *hsm, CK_SESSION_HANDLE session, void *arg,
    const char **callp)
{
	CK_OBJECT_HANDLE *handle = arg;
	CK_RV rv;

	*callp = "C_DestroyObject";
	rv = hsm->p11->C_DestroyObject(session, *handle);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_OK;
	return rv;
}

hj_err
hsm_object_destroy(struct hsm *hsm, unsigned long handle, struct hj_error *err)
{
	CK_OBJECT_HANDLE object = handle;

	return hsm_session_run(hsm, "destroy an object", hsm_object_destroy_run,
	    &object, err);
}

/* Appends s to out percent-encoded as an RFC 7512 attribute value. */
static void
hsm_uri_append(char *out, size_t size, const uint8_t *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t used = strlen(out), i;

	for (i = 0; i < len && used + 4 < size; i++) {
		uint8_t c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
			out[used++] = (char)c;
			continue;
		}
		out[used++] = '%';
		out[used++] = hex[c >> 4];
		out[used++] = hex[c & 0xf];
	}
	out[used] = '\0';
}

void
hsm_key_uri(const struct hsm *hsm, const struct hsm_key *key, char *out, size_t size)
{
	out[0] = '\0';
	if (size < 64)
		return;
	snprintf(out, size, "pkcs11:token=");
	hsm_uri_append(out, size, (const uint8_t *)hsm->token_label, strlen(hsm->token_label));
	strncat(out, ";object=", size - strlen(out) - 1);
	hsm_uri_append(out, size, (const uint8_t *)key->label, strlen(key->label));
	strncat(out, ";id=", size - strlen(out) - 1);
	hsm_uri_append(out, size, key->id, key->id_len);
}
