/*
 * Finding the token (by CKA_LABEL or by an RFC 7512 URI) and logging in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "hsm_int.h"

/* Tries to read the slot list this many times while slots come and go. */
#define HSM_SLOT_LIST_TRIES 3

/* The token selector of hsm_options, with the parsed URI. */
struct hsm_token_query {
	const char *label;     /* trimmed CKA_LABEL to match; or */
	const char *uri_text;
	P11KitUri *uri;
	unsigned matches;
	char available[HJ_ERROR_MESSAGE_MAX];   /* token labels for messages */
};

void
hsm_copy_padded(char *out, size_t out_size, const unsigned char *padded,
    size_t padded_len)
{
	size_t len = 0;

	while (len < padded_len && padded[len] != '\0')
		len++;
	while (len > 0 && padded[len - 1] == ' ')
		len--;
	if (len > out_size - 1)
		len = out_size - 1;
	memcpy(out, padded, len);
	out[len] = '\0';
}

/* Reads the slots that have a token present into a new array. */
static hj_err
hsm_slot_list(struct hsm *hsm, CK_SLOT_ID **slotsp, CK_ULONG *countp,
    struct hj_error *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0;
	CK_RV rv = CKR_OK;
	int try;

	*slotsp = NULL;
	*countp = 0;

	for (try = 0; try < HSM_SLOT_LIST_TRIES; try++) {
		rv = hsm->p11->C_GetSlotList(CK_TRUE, NULL, &count);
		if (rv != CKR_OK)
			break;
		free(slots);
		slots = calloc(count + 1, sizeof(*slots));
		if (slots == NULL)
			return hj_error_set(err, HJ_ERR_NO_MEMORY,
			    "out of memory");

		/* A slot added between the calls gives CKR_BUFFER_TOO_SMALL. */
		rv = hsm->p11->C_GetSlotList(CK_TRUE, slots, &count);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		free(slots);
		return hj_error_set(err, HJ_ERR_UNAVAILABLE, "C_GetSlotList of "
		    "PKCS#11 module %s failed with %s",
		    hsm->module_description, hsm_rv_name(rv));
	}

	*slotsp = slots;
	*countp = count;
	return HJ_OK;
}

/* Appends a token label to the list of available tokens for error messages. */
static void
hsm_query_note_label(struct hsm_token_query *query, const char *label)
{
	size_t used = strlen(query->available);
	size_t room = sizeof(query->available) - used;

	snprintf(query->available + used, room, "%s\"%s\"",
	    used == 0 ? "" : ", ", label);
}

static bool
hsm_query_matches(const struct hsm_token_query *query, CK_TOKEN_INFO *info,
    const char *label)
{
	if (query->uri != NULL)
		return p11_kit_uri_match_token_info(query->uri, info) == 1;
	return strcmp(query->label, label) == 0;
}

/*
 * Parses the URI of the query. A URI with a pin-value is rejected without
 * echoing it.
 */
static hj_err
hsm_query_parse_uri(struct hsm_token_query *query, struct hj_error *err)
{
	int rc;

	if (strstr(query->uri_text, "pin-value") != NULL) {
		return hj_error_set(err, HJ_ERR_CONFIG, "the token URI "
		    "contains a pin-value attribute: remove it and give the "
		    "PIN through the PIN file or environment variable");
	}

	query->uri = p11_kit_uri_new();
	if (query->uri == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");

	rc = p11_kit_uri_parse(query->uri_text, P11_KIT_URI_FOR_TOKEN,
	    query->uri);
	if (rc != P11_KIT_URI_OK) {
		return hj_error_set(err, HJ_ERR_CONFIG, "invalid PKCS#11 token "
		    "URI \"%s\": %s", query->uri_text, p11_kit_uri_message(rc));
	}
	return HJ_OK;
}

/* Reports zero or several matching tokens. */
static hj_err
hsm_query_error(const struct hsm_token_query *query, struct hj_error *err)
{
	const char *selector = query->uri != NULL ? "URI" : "label";
	const char *value = query->uri != NULL ? query->uri_text : query->label;
	const char *available = query->available[0] != '\0' ?
	    query->available : "none";

	if (query->matches == 0) {
		return hj_error_set(err, HJ_ERR_CONFIG, "no token with %s "
		    "\"%s\" was found; available tokens: %s", selector, value,
		    available);
	}
	return hj_error_set(err, HJ_ERR_CONFIG, "%u tokens match %s \"%s\": "
	    "use a pkcs11: URI with a serial to pick one; available tokens: %s",
	    query->matches, selector, value, available);
}

/* Fills the token label and description of hsm from the token info. */
static void
hsm_token_describe(struct hsm *hsm, const CK_TOKEN_INFO *info)
{
	char manufacturer[33], model[17];

	hsm_copy_padded(hsm->token_label, sizeof(hsm->token_label),
	    info->label, sizeof(info->label));
	hsm_copy_padded(manufacturer, sizeof(manufacturer),
	    info->manufacturerID, sizeof(info->manufacturerID));
	hsm_copy_padded(model, sizeof(model), info->model,
	    sizeof(info->model));
	snprintf(hsm->token_description, sizeof(hsm->token_description),
	    "%s %s", manufacturer, model);
}

hj_err
hsm_token_find(struct hsm *hsm, const struct hsm_options *opts,
    struct hj_error *err)
{
	struct hsm_token_query query;
	CK_SLOT_ID *slots = NULL;
	CK_ULONG count = 0, i;
	CK_TOKEN_INFO info;
	char label[HSM_TOKEN_LABEL_SIZE];
	hj_err r = HJ_ERR_INTERNAL;

	memset(&query, 0, sizeof(query));
	query.label = opts->token_label;
	query.uri_text = opts->token_uri;
	if (query.uri_text != NULL &&
	    (r = hsm_query_parse_uri(&query, err)) != HJ_OK)
		goto out;

	if ((r = hsm_slot_list(hsm, &slots, &count, err)) != HJ_OK)
		goto out;

	for (i = 0; i < count; i++) {
		/*
		 * A token removed since C_GetSlotList is not a candidate, and
		 * neither is an uninitialized one (SoftHSM always shows one).
		 */
		if (hsm->p11->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
		    (info.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		hsm_copy_padded(label, sizeof(label), info.label,
		    sizeof(info.label));
		hsm_query_note_label(&query, label);
		if (!hsm_query_matches(&query, &info, label))
			continue;
		query.matches++;
		hsm->slot = slots[i];
		hsm_token_describe(hsm, &info);
	}

	if (query.matches != 1) {
		r = hsm_query_error(&query, err);
		goto out;
	}
	r = HJ_OK;
out:
	if (query.uri != NULL)
		p11_kit_uri_free(query.uri);
	free(slots);
	return r;
}

/* Returns what the operator should do after C_Login failed with rv. */
static const char *
hsm_login_hint(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return "check the user PIN configured for this token";
	case CKR_PIN_LOCKED:
		return "the user PIN is locked: the security officer must "
		    "reset it";
	case CKR_PIN_EXPIRED:
		return "the user PIN has expired: set a new one";
	case CKR_USER_PIN_NOT_INITIALIZED:
		return "the token has no user PIN yet: initialize it";
	default:
		return "check the token and the PIN";
	}
}

hj_err
hsm_token_login(struct hsm *hsm, const char *pin, size_t pin_len,
    struct hj_error *err)
{
	CK_RV rv;

	rv = hsm_session_open(hsm, &hsm->login_session);
	if (rv != CKR_OK)
		return hsm_rv_error(hsm, rv, "C_OpenSession", "login", err);

	/*
	 * The PIN goes to the token as is and is not copied. A rejected PIN
	 * is not retried, so that the token never locks itself.
	 */
	rv = hsm->p11->C_Login(hsm->login_session, CKU_USER,
	    (CK_UTF8CHAR_PTR)pin, pin_len);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK && hsm_rv_is_unavailable(rv))
		return hsm_rv_error(hsm, rv, "C_Login", "login", err);
	if (rv != CKR_OK) {
		return hj_error_set(err, HJ_ERR_CONFIG, "login to token \"%s\" "
		    "failed with %s: %s", hsm->token_label, hsm_rv_name(rv),
		    hsm_login_hint(rv));
	}

	atomic_store(&hsm->logged_in, true);
	return HJ_OK;
}
