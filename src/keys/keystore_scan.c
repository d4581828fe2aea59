/*
 * Reading the token into a key ring snapshot: keys, their lifecycle
 * records, and the repair of keys found without a record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmjwt/log.h"
#include "keystore_int.h"

struct keystore_scan {
	struct hsm_key *found;
	size_t found_count;
	struct hsm_data *records;
	size_t record_count;
	struct keyring_key *keys;
	size_t count;
	bool *has_record;                  /* parallel to keys */
};

/* Returns the signing or decryption algorithm named in a label "hsmjwt:ALG". */
static const struct jose_alg *
keystore_label_alg(const char *label)
{
	size_t prefix_len = strlen(KEYRING_LABEL_PREFIX);
	const struct jose_alg *alg;

	if (strncmp(label, KEYRING_LABEL_PREFIX, prefix_len) != 0)
		return NULL;
	alg = jose_alg_find(label + prefix_len);
	return alg != NULL ? alg : jose_enc_alg_find(label + prefix_len);
}

/* Returns true when the token reports the key as sensitive and not extractable. */
static bool
keystore_key_protected(struct hsm *hsm, const struct hsm_key *hk, const char *label)
{
	struct hsm_key_protection prot;
	char reason[LOG_QUOTE_SIZE];
	struct hj_error err;

	if (hsm_key_protection(hsm, hk, &prot, &err) != HJ_OK) {
		log_event(LOG_LEVEL_ERROR, "key_skipped", "label=%s reason=%s", label,
		    log_quote(reason, err.message));
		return false;
	}
	if (!prot.sensitive || prot.extractable) {
		log_event(LOG_LEVEL_ERROR, "key_skipped",
		    "label=%s reason=\"the key is not sensitive or is extractable; destroy "
		    "it and let hsmjwt generate keys in the token\"", label);
		return false;
	}
	return true;
}

/*
 * Finds the record of a key by its label. Several records are left by a
 * rewrite that stopped before it removed the old one: the highest revision wins.
 */
static const struct hsm_data *
keystore_find_record(const struct keystore_scan *scan, const char *id_hex,
    struct lifecycle *times)
{
	const struct hsm_data *best = NULL;
	char label[HSM_LABEL_MAX + KEYRING_ID_HEX_MAX], alg[LIFECYCLE_ALG_MAX];
	char id[LIFECYCLE_ID_HEX_MAX];
	struct lifecycle candidate;
	size_t i;

	snprintf(label, sizeof(label), "%s%s", KEYRING_RECORD_PREFIX, id_hex);
	for (i = 0; i < scan->record_count; i++) {
		const struct hsm_data *rec = &scan->records[i];

		if (strcmp(rec->label, label) != 0 ||
		    lifecycle_decode((const char *)rec->value, rec->value_len, &candidate,
		    alg, id, NULL) != HJ_OK || strcmp(id, id_hex) != 0)
			continue;
		if (best == NULL || candidate.revision > times->revision) {
			best = rec;
			*times = candidate;
		}
	}
	return best;
}

/* Adds a usable token key to the scan; unusable keys are logged and left out. */
static hj_err
keystore_scan_add(struct keystore *s, struct keystore_scan *scan,
    const struct hsm_key *hk, struct hj_error *err)
{
	const struct jose_alg *alg = keystore_label_alg(hk->label);
	struct keyring_key *key = &scan->keys[scan->count];
	const struct hsm_data *record;
	char label[LOG_QUOTE_SIZE];
	hj_err r;

	log_quote(label, hk->label);
	if (alg == NULL || !hsm_key_fits_alg(hk, alg)) {
		log_event(LOG_LEVEL_WARN, "key_skipped", "label=%s reason=\"the label "
		    "names no supported algorithm, or the key type does not fit it\"", label);
		return HJ_OK;
	}
	if (alg->encryption && !keystore_uses_alg(s, alg)) {
		log_event(LOG_LEVEL_INFO, "key_skipped", "label=%s reason=\"keys.decryption "
		    "does not list %s, so the key is not published\"", label, alg->name);
		return HJ_OK;
	}
	if (!keystore_key_protected(s->opts.hsm, hk, label))
		return HJ_OK;

	memset(key, 0, sizeof(*key));
	key->hsm_key = *hk;
	if ((r = keyring_key_describe(key, alg, err)) != HJ_OK)
		return r;
	key->grace = keystore_grace(s, alg);
	record = keystore_find_record(scan, key->id_hex, &key->times);
	scan->has_record[scan->count] = record != NULL;
	key->record_handle = record != NULL ? record->handle : 0;
	scan->count++;
	return HJ_OK;
}

/* Returns true when alg has a key with a record that is not retired at now. */
static bool
keystore_scan_alg_usable(const struct keystore_scan *scan, const struct jose_alg *alg,
    int64_t now)
{
	size_t i;

	for (i = 0; i < scan->count; i++) {
		const struct keyring_key *key = &scan->keys[i];

		if (key->alg == alg && scan->has_record[i] &&
		    (key->times.retire_at == 0 || key->times.retire_at > now))
			return true;
	}
	return false;
}

/*
 * Writes a record for each key found without one: active at once when its
 * algorithm has no usable key, else pending for pre_publish, because
 * verifiers have not seen it yet.
 */
static hj_err
keystore_scan_repair(struct keystore *s, struct keystore_scan *scan, int64_t now,
    struct hj_error *err)
{
	size_t i;
	hj_err r;

	for (i = 0; i < scan->count; i++) {
		struct keyring_key *key = &scan->keys[i];

		if (scan->has_record[i])
			continue;
		key->times.created_at = now;
		key->times.activate_at = keystore_scan_alg_usable(scan, key->alg, now) ?
		    now + s->opts.pre_publish : now;
		if ((r = keystore_write_record(s, key, err)) != HJ_OK)
			return r;
		scan->has_record[i] = true;
		log_event(LOG_LEVEL_WARN, "key_repaired", "kid=%s alg=%s activate_at=%lld "
		    "reason=\"the key had no lifecycle record\"", key->kid, key->alg->name,
		    (long long)key->times.activate_at);
	}
	return HJ_OK;
}

static void
keystore_scan_report_orphans(const struct keystore_scan *scan)
{
	char label[LOG_QUOTE_SIZE];
	size_t i, j;

	for (i = 0; i < scan->record_count; i++) {
		for (j = 0; j < scan->count; j++) {
			if (scan->keys[j].record_handle == scan->records[i].handle)
				break;
		}
		if (j < scan->count)
			continue;
		log_event(LOG_LEVEL_WARN, "record_orphaned", "label=%s reason=\"no usable "
		    "key has this CKA_ID; the key was destroyed or is unreadable\"",
		    log_quote(label, scan->records[i].label));
	}
}

static void
keystore_scan_clear(struct keystore_scan *scan)
{
	size_t i;

	for (i = 0; i < scan->count; i++)
		keyring_key_clear(&scan->keys[i]);
	free(scan->keys);
	free(scan->has_record);
	free(scan->found);
	free(scan->records);
}

hj_err
keystore_scan(struct keystore *s, int64_t now, struct keyring **ringp,
    struct hj_error *err)
{
	struct keystore_scan scan;
	size_t i;
	hj_err r;

	*ringp = NULL;
	memset(&scan, 0, sizeof(scan));
	if ((r = hsm_key_list(s->opts.hsm, KEYRING_LABEL_PREFIX, &scan.found,
	    &scan.found_count, err)) != HJ_OK ||
	    (r = hsm_data_list(s->opts.hsm, KEYRING_APPLICATION, &scan.records,
	    &scan.record_count, err)) != HJ_OK)
		goto out;

	r = HJ_ERR_NO_MEMORY;
	scan.keys = calloc(scan.found_count + 1, sizeof(*scan.keys));
	scan.has_record = calloc(scan.found_count + 1, sizeof(*scan.has_record));
	if (scan.keys == NULL || scan.has_record == NULL) {
		hj_error_set(err, r, "out of memory listing keys");
		goto out;
	}
	for (i = 0; i < scan.found_count; i++) {
		if ((r = keystore_scan_add(s, &scan, &scan.found[i], err)) != HJ_OK)
			goto out;
	}
	if ((r = keystore_scan_repair(s, &scan, now, err)) != HJ_OK)
		goto out;
	keystore_scan_report_orphans(&scan);
	r = keyring_build(s->opts.hsm, scan.keys, scan.count, now, ringp, err);

out:
	keystore_scan_clear(&scan);
	return r;
}

/*
 * Writes a key's record. Tokens such as SoftHSM keep CKA_VALUE of a data
 * object read-only, so a rewrite creates a record with the next revision
 * and then destroys the old one. A crash in between leaves two records,
 * and the load takes the newer.
 */
hj_err
keystore_write_record(struct keystore *s, struct keyring_key *key,
    struct hj_error *err)
{
	unsigned long old = key->record_handle, created = 0;
	char label[HSM_LABEL_MAX + KEYRING_ID_HEX_MAX], message[LOG_QUOTE_SIZE];
	struct hj_error destroy_err;
	char *json = NULL;
	size_t len = 0;
	hj_err r;

	if (old != 0)
		key->times.revision++;
	r = lifecycle_encode(&key->times, key->alg->name, key->id_hex, &json, &len, err);
	if (r != HJ_OK)
		return r;
	snprintf(label, sizeof(label), "%s%s", KEYRING_RECORD_PREFIX, key->id_hex);
	r = hsm_data_create(s->opts.hsm, KEYRING_APPLICATION, label,
	    (const uint8_t *)json, len, &created, err);
	free(json);
	if (r != HJ_OK)
		return r;
	key->record_handle = created;

	if (old != 0 && hsm_object_destroy(s->opts.hsm, old, &destroy_err) != HJ_OK)
		log_event(LOG_LEVEL_WARN, "record_not_removed", "kid=%s message=%s",
		    key->kid, log_quote(message, destroy_err.message));
	return HJ_OK;
}
