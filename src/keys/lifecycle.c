#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hsmjwt/lifecycle.h"

const char *
lifecycle_state_name(enum key_state state)
{
	switch (state) {
	case KEY_STATE_PENDING: return "pending";
	case KEY_STATE_ACTIVE: return "active";
	case KEY_STATE_RETIRED: return "retired";
	case KEY_STATE_EXPIRED: return "expired";
	}
	return "unknown";
}

/* Returns true when a signs in preference to b: newer activate_at, then smaller kid. */
static bool
lifecycle_newer(const struct lifecycle_key *a, const struct lifecycle_key *b)
{
	if (a->times.activate_at != b->times.activate_at)
		return a->times.activate_at > b->times.activate_at;
	return strcmp(a->kid, b->kid) < 0;
}

/* True for a key that may sign at now: activated and not explicitly retired. */
static bool
lifecycle_is_candidate(const struct lifecycle_key *k, int64_t now)
{
	return k->times.activate_at <= now &&
	    (k->times.retire_at == 0 || now < k->times.retire_at);
}

/* Sets state from an effective retirement; retire_at == 0 means none. */
static void
lifecycle_set_retired(struct lifecycle_key *k, int64_t retire_at,
    int64_t unpublish_at, int64_t now)
{
	k->retire_at = retire_at;
	k->unpublish_at = unpublish_at != 0 ? unpublish_at : retire_at + k->grace;
	k->state = now >= k->unpublish_at ? KEY_STATE_EXPIRED : KEY_STATE_RETIRED;
}

long
lifecycle_active_index(const struct lifecycle_key *keys, size_t count,
    const char *alg, int64_t now)
{
	long best = -1;
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(keys[i].alg, alg) != 0 || !lifecycle_is_candidate(&keys[i], now))
			continue;
		if (best < 0 || lifecycle_newer(&keys[i], &keys[best]))
			best = (long)i;
	}
	return best;
}

static void
lifecycle_compute_one(struct lifecycle_key *keys, size_t count,
    struct lifecycle_key *k, int64_t now)
{
	long active;

	k->retire_at = k->times.retire_at;
	k->unpublish_at = k->times.unpublish_at;

	/* Retirement comes first: a pending key may be retired before it activates. */
	if (k->times.retire_at != 0 && now >= k->times.retire_at) {
		lifecycle_set_retired(k, k->times.retire_at, k->times.unpublish_at, now);
		return;
	}
	if (now < k->times.activate_at) {
		k->state = KEY_STATE_PENDING;
		return;
	}

	/* k is a candidate itself, so some key of its algorithm is active. */
	active = lifecycle_active_index(keys, count, k->alg, now);
	if (active < 0 || &keys[active] == k) {
		k->state = KEY_STATE_ACTIVE;
		return;
	}
	/* Superseded: retired when the newer key became active. */
	lifecycle_set_retired(k, keys[active].times.activate_at, 0, now);
}

void
lifecycle_compute(struct lifecycle_key *keys, size_t count, int64_t now)
{
	size_t i;

	for (i = 0; i < count; i++)
		lifecycle_compute_one(keys, count, &keys[i], now);
}

hj_err
lifecycle_encode(const struct lifecycle *times, const char *alg,
    const char *id_hex, char **jsonp, size_t *lenp, struct hj_error *err)
{
	json_t *record;

	*jsonp = NULL;
	*lenp = 0;
	record = json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
	    "v", 1, "alg", alg, "id", id_hex, "rev", (json_int_t)times->revision,
	    "created_at", (json_int_t)times->created_at,
	    "activate_at", (json_int_t)times->activate_at,
	    "retire_at", (json_int_t)times->retire_at,
	    "unpublish_at", (json_int_t)times->unpublish_at);
	if (record != NULL)
		*jsonp = json_dumps(record, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(record);
	if (*jsonp == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory encoding a lifecycle record");
	*lenp = strlen(*jsonp);
	return HJ_OK;
}

static bool
lifecycle_copy_string(const json_t *value, char *out, size_t size)
{
	const char *s = json_string_value(value);

	if (s == NULL || s[0] == '\0' || strlen(s) >= size)
		return false;
	strcpy(out, s);
	return true;
}

hj_err
lifecycle_decode(const char *json, size_t len, struct lifecycle *times,
    char *alg, char *id_hex, struct hj_error *err)
{
	json_int_t version = 0, revision = 0, created = 0, activate = 0, retire = 0;
	json_int_t unpublish = 0;
	json_t *record, *alg_value = NULL, *id_value = NULL;
	json_error_t jerr;
	hj_err r = HJ_ERR_INVALID_ARGUMENT;

	memset(times, 0, sizeof(*times));
	record = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (record == NULL ||
	    json_unpack_ex(record, &jerr, JSON_STRICT, "{s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I}",
	    "v", &version, "alg", &alg_value, "id", &id_value, "rev", &revision,
	    "created_at", &created,
	    "activate_at", &activate, "retire_at", &retire, "unpublish_at", &unpublish) != 0) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "lifecycle record is malformed: %s", jerr.text);
		goto out;
	}
	if (version != 1 || !lifecycle_copy_string(alg_value, alg, LIFECYCLE_ALG_MAX) ||
	    !lifecycle_copy_string(id_value, id_hex, LIFECYCLE_ID_HEX_MAX) ||
	    revision < 0 || created < 0 || activate < 0 || retire < 0 || unpublish < 0) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "lifecycle record has an unknown version or invalid values");
		goto out;
	}

	times->created_at = created;
	times->activate_at = activate;
	times->retire_at = retire;
	times->unpublish_at = unpublish;
	times->revision = revision;
	r = HJ_OK;

out:
	json_decref(record);
	return r;
}
