#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"

/* Largest JWK or JWK Set file that a recipient may name. */
#define RECIPIENT_FILE_MAX (64 * 1024)

static hj_err
recipient_read(const struct config_recipient *cfg, struct recipient *out,
    struct hj_error *err)
{
	json_error_t jerr;
	json_t *jwk;

	jwk = json_load_file(cfg->jwk_file, JSON_REJECT_DUPLICATES, &jerr);
	if (jwk == NULL)
		return hj_error_set(err, HJ_ERR_CONFIG, "recipients: %s: cannot read the JWK "
		    "file %s: %s (line %d)", cfg->name, cfg->jwk_file, jerr.text, jerr.line);
	if (!json_is_object(jwk)) {
		json_decref(jwk);
		return hj_error_set(err, HJ_ERR_CONFIG, "recipients: %s: %s is not a JWK or "
		    "JWK Set object", cfg->name, cfg->jwk_file);
	}
	out->jwk_json = json_dumps(jwk, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(jwk);
	out->name = strdup(cfg->name);
	if (out->jwk_json == NULL || out->name == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
	if (strlen(out->jwk_json) > RECIPIENT_FILE_MAX)
		return hj_error_set(err, HJ_ERR_CONFIG, "recipients: %s: %s is larger than "
		    "%d bytes", cfg->name, cfg->jwk_file, RECIPIENT_FILE_MAX);
	return HJ_OK;
}

hj_err
recipients_load(const struct config *cfg, struct recipient **recipientsp,
    struct hj_error *err)
{
	struct recipient *list;
	size_t i;
	hj_err r;

	*recipientsp = NULL;
	list = calloc(cfg->recipient_count + 1, sizeof(*list));
	if (list == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
	for (i = 0; i < cfg->recipient_count; i++) {
		r = recipient_read(&cfg->recipients[i], &list[i], err);
		if (r != HJ_OK) {
			recipients_free(list, cfg->recipient_count);
			return r;
		}
	}
	*recipientsp = list;
	return HJ_OK;
}

void
recipients_free(struct recipient *recipients, size_t count)
{
	size_t i;

	if (recipients == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(recipients[i].name);
		free(recipients[i].jwk_json);
	}
	free(recipients);
}
