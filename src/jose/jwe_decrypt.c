/*
 * Compact JWE decryption (RFC 7516 section 5.2) with the key operations
 * done through the caller's callbacks.
 *
 * Errors up to and including the checks of the protected header name the
 * problem. After that, every failure returns JWE_DECRYPT_FAILED_MESSAGE and
 * puts the step into a separate detail for the log, so that a caller learns
 * nothing about which check failed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsmjwt/b64url.h"
#include "jwe_int.h"

enum {
	JWE_PART_HEADER,
	JWE_PART_ENCRYPTED_KEY,
	JWE_PART_IV,
	JWE_PART_CIPHERTEXT,
	JWE_PART_TAG,
	JWE_PART_COUNT
};

static const char *const jwe_part_names[JWE_PART_COUNT] = {
	"protected header", "encrypted key", "IV", "ciphertext",
	"authentication tag"
};

/* One part of the token: its text in the token, then its decoded bytes. */
struct jwe_part {
	const char *text;
	size_t text_len;
	uint8_t *data;
	size_t len;
};

/* The protected header and what its checks found in it. */
struct jwe_header {
	json_t *json;
	const struct jwe_alg *alg;
	const struct jwe_enc *enc;
	const char *kid;             /* in json, or NULL */
	const json_t *epk;           /* ECDH-ES only */
	uint8_t *apu;
	size_t apu_len;
	uint8_t *apv;
	size_t apv_len;
};

/* Splits token into exactly five parts on its four dots. */
static hj_err
jwe_split(const char *token, size_t token_len, struct jwe_part *parts,
    struct hj_error *err)
{
	size_t i, start = 0, count = 0;

	if (token == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE missing: pass the compact serialization");

	for (i = 0; i <= token_len; i++) {
		if (i < token_len && token[i] != '.')
			continue;
		if (count == JWE_PART_COUNT)
			break;
		parts[count].text = token + start;
		parts[count].text_len = i - start;
		count++;
		start = i + 1;
	}
	if (count != JWE_PART_COUNT || i <= token_len)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE is not in compact form: expected exactly five parts "
		    "separated by four '.'");
	return HJ_OK;
}

/* Decodes one part strictly, naming it in the error. */
static hj_err
jwe_decode_part(struct jwe_part *parts, int index, struct hj_error *err)
{
	struct jwe_part *part = &parts[index];
	struct hj_error decode_err;
	hj_err r;

	hj_error_clear(&decode_err);
	r = b64url_decode(part->text, part->text_len, &part->data, &part->len,
	    &decode_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "JWE %s: %s", jwe_part_names[index],
		    decode_err.message);
	return HJ_OK;
}

/* Finds the header's "alg" and "enc" in the tables. */
static hj_err
jwe_header_check_algs(struct jwe_header *h, struct hj_error *err)
{
	const json_t *alg = json_object_get(h->json, "alg");
	const json_t *enc = json_object_get(h->json, "enc");
	struct hj_error lookup_err;
	hj_err r;

	if (!json_is_string(alg) || !json_is_string(enc))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: \"alg\" and \"enc\" must be strings");
	if (strcmp(json_string_value(alg), "none") == 0)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: alg \"none\" is not accepted");

	hj_error_clear(&lookup_err);
	r = jwe_alg_lookup(json_string_value(alg), &h->alg, &lookup_err);
	if (r == HJ_OK)
		r = jwe_enc_lookup(json_string_value(enc), &h->enc,
		    &lookup_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "JWE header: %s",
		    lookup_err.message);
	return HJ_OK;
}

/* Decodes the optional base64url string member name into *datap. */
static hj_err
jwe_header_decode_member(const json_t *header, const char *name,
    uint8_t **datap, size_t *lenp, struct hj_error *err)
{
	const json_t *value = json_object_get(header, name);
	struct hj_error decode_err;
	hj_err r;

	if (value == NULL)
		return HJ_OK;
	if (!json_is_string(value))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: \"%s\" is not a string", name);
	hj_error_clear(&decode_err);
	r = b64url_decode(json_string_value(value), json_string_length(value),
	    datap, lenp, &decode_err);
	if (r != HJ_OK)
		return hj_error_set(err, r, "JWE header: \"%s\": %s", name,
		    decode_err.message);
	return HJ_OK;
}

/* Checks "zip", "crit", "kid", "epk", "apu" and "apv". */
static hj_err
jwe_header_check_members(struct jwe_header *h, struct hj_error *err)
{
	const json_t *kid = json_object_get(h->json, "kid");
	hj_err r;

	if (json_object_get(h->json, "zip") != NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: \"zip\" is not supported: send the "
		    "plaintext uncompressed");
	/* No header extension is implemented, so any "crit" list is unmet. */
	if (json_object_get(h->json, "crit") != NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: \"crit\" is not supported");
	if (kid != NULL && (!json_is_string(kid) ||
	    strlen(json_string_value(kid)) != json_string_length(kid)))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: \"kid\" is not a string");
	h->kid = json_string_value(kid);

	if (!jwe_alg_is_ecdh(h->alg))
		return HJ_OK;
	h->epk = json_object_get(h->json, "epk");
	if (!json_is_object(h->epk))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: %s requires \"epk\" as a JSON object",
		    h->alg->name);
	r = jwe_header_decode_member(h->json, "apu", &h->apu, &h->apu_len,
	    err);
	if (r != HJ_OK)
		return r;
	return jwe_header_decode_member(h->json, "apv", &h->apv, &h->apv_len,
	    err);
}

/* Parses the decoded protected header and runs every check on it. */
static hj_err
jwe_header_parse(const struct jwe_part *part, struct jwe_header *h,
    struct hj_error *err)
{
	json_error_t jerr;
	hj_err r;

	h->json = json_loadb((const char *)part->data, part->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (h->json == NULL)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: invalid JSON at byte %d: %s", jerr.position,
		    jerr.text);
	if (!json_is_object(h->json))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "JWE header: not a JSON object");

	r = jwe_header_check_algs(h, err);
	if (r != HJ_OK)
		return r;
	return jwe_header_check_members(h, err);
}

static void
jwe_header_clear(struct jwe_header *h)
{
	json_decref(h->json);
	free(h->apu);
	free(h->apv);
	memset(h, 0, sizeof(*h));
}

/* Checks the part lengths that alg and enc fix, before any key is used. */
static hj_err
jwe_check_lengths(const struct jwe_header *h, const struct jwe_part *parts,
    struct hj_error *why)
{
	const struct jwe_part *ek = &parts[JWE_PART_ENCRYPTED_KEY];
	bool direct = h->alg->mode == JWE_KEY_ECDH_DIRECT;

	if (direct ? ek->len != 0 :
	    (ek->len == 0 || ek->len > JWE_ENCRYPTED_KEY_MAX))
		return hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the encrypted key is %zu bytes, which %s does not allow",
		    ek->len, h->alg->name);
	if (parts[JWE_PART_IV].len != h->enc->iv_len)
		return hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the IV is %zu bytes, %s requires %zu",
		    parts[JWE_PART_IV].len, h->enc->name, h->enc->iv_len);
	if (parts[JWE_PART_TAG].len != h->enc->tag_len)
		return hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the tag is %zu bytes, %s requires %zu",
		    parts[JWE_PART_TAG].len, h->enc->name, h->enc->tag_len);
	return HJ_OK;
}

/*
 * Checks that the header's epk is a public key on the curve of the
 * recipient key, and writes its encoding for the ECDH callback to point.
 */
static hj_err
jwe_epk_point(const struct jwe_header *h, const struct jwe_curve *curve,
    uint8_t *point, size_t *point_len, struct hj_error *why)
{
	const struct jwe_curve *epk_curve = NULL;
	EVP_PKEY *epk = NULL;
	hj_err r;

	r = jwe_jwk_import(h->epk, "epk", &epk, &epk_curve, why);
	if (r != HJ_OK)
		return r;
	if (epk_curve == NULL)
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "epk is an RSA key, not a key on %s", curve->crv);
	else if (epk_curve != curve)
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "epk is on %s, the recipient key on %s", epk_curve->crv,
		    curve->crv);
	else
		r = jwe_public_point(epk, curve, point, point_len, why);
	EVP_PKEY_free(epk);
	return r;
}

/* Returns whether the len bytes of data are all zero, in constant time. */
static bool
jwe_is_zero(const uint8_t *data, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= data[i];
	return acc == 0;
}

/*
 * Derives key_len bytes with the recipient's ECDH key: checks the epk,
 * obtains Z through the callback and runs the Concat KDF with
 * algorithm_id.
 */
static hj_err
jwe_agree_recipient(const struct jwe_header *h,
    const struct jwe_decrypt_keys *keys, const char *algorithm_id,
    uint8_t *key, size_t key_len, struct hj_error *why)
{
	hj_err r = HJ_ERR_INTERNAL;
	const struct jwe_curve *curve = NULL;
	uint8_t point[JWE_ECDH_POINT_MAX], z[JWE_ECDH_SECRET_MAX];
	size_t point_len = sizeof(point), z_len = sizeof(z);
	const char *crv = NULL;

	r = keys->ecdh_curve(keys->ctx, h->kid, h->alg->name, &crv, why);
	if (r != HJ_OK)
		goto out;
	curve = jwe_curve_find(crv);
	if (curve == NULL) {
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the ecdh_curve callback returned an unsupported crv");
		goto out;
	}
	r = jwe_epk_point(h, curve, point, &point_len, why);
	if (r != HJ_OK)
		goto out;

	r = keys->ecdh(keys->ctx, h->kid, h->alg->name, curve->crv, point,
	    point_len, z, &z_len, why);
	if (r == HJ_OK && z_len != curve->field_len)
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the ECDH callback returned %zu bytes, expected %zu",
		    z_len, curve->field_len);
	/* A token may not reject an X25519 epk of low order (RFC 7748 6.1). */
	if (r == HJ_OK && jwe_is_zero(z, z_len))
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the ECDH shared secret is all zero: the epk has low order");
	if (r != HJ_OK)
		goto out;
	r = jwe_concat_kdf(z, z_len, algorithm_id, h->apu, h->apu_len, h->apv,
	    h->apv_len, key, key_len, why);
out:
	OPENSSL_cleanse(z, sizeof(z));
	return r;
}

/* Derives the key-encryption key by ECDH-ES, then unwraps the CEK. */
static hj_err
jwe_agree_and_unwrap(const struct jwe_header *h,
    const struct jwe_decrypt_keys *keys, const struct jwe_part *ek,
    uint8_t *cek, size_t *cek_len, struct hj_error *why)
{
	uint8_t kek[JWE_CEK_MAX];
	hj_err r;

	r = jwe_agree_recipient(h, keys, h->alg->name, kek,
	    h->alg->kw_key_len, why);
	if (r == HJ_OK)
		r = jwe_aes_kw_unwrap(kek, h->alg->kw_key_len, ek->data,
		    ek->len, cek, cek_len, why);
	OPENSSL_cleanse(kek, sizeof(kek));
	return r;
}

/* Returns whether keys has the callbacks that alg needs. */
static bool
jwe_keys_support(const struct jwe_decrypt_keys *keys,
    const struct jwe_alg *alg)
{
	if (keys == NULL)
		return false;
	switch (alg->mode) {
	case JWE_KEY_RSA_OAEP:
		return keys->rsa_decrypt != NULL;
	case JWE_KEY_ECDH_DIRECT:
	case JWE_KEY_ECDH_KW:
		return keys->ecdh_curve != NULL && keys->ecdh != NULL;
	case JWE_KEY_AES_KW:
		return keys->unwrap != NULL;
	}
	return false;
}

/* Recovers the CEK with the key management algorithm of the header. */
static hj_err
jwe_recover_cek(const struct jwe_header *h, const struct jwe_decrypt_keys *keys,
    const struct jwe_part *ek, uint8_t *cek, size_t *cek_len,
    struct hj_error *why)
{
	hj_err r = HJ_ERR_INTERNAL;

	*cek_len = JWE_CEK_MAX;
	if (!jwe_keys_support(keys, h->alg))
		return hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "no key of this service serves alg %s", h->alg->name);

	switch (h->alg->mode) {
	case JWE_KEY_RSA_OAEP:
		r = keys->rsa_decrypt(keys->ctx, h->kid, h->alg->name, ek->data,
		    ek->len, cek, cek_len, why);
		break;
	case JWE_KEY_AES_KW:
		r = keys->unwrap(keys->ctx, h->kid, h->alg->name, ek->data,
		    ek->len, cek, cek_len, why);
		break;
	case JWE_KEY_ECDH_DIRECT:
		*cek_len = h->enc->key_len;
		r = jwe_agree_recipient(h, keys, h->enc->name, cek, *cek_len,
		    why);
		break;
	case JWE_KEY_ECDH_KW:
		r = jwe_agree_and_unwrap(h, keys, ek, cek, cek_len, why);
		break;
	}
	if (r == HJ_OK && *cek_len != h->enc->key_len)
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "the CEK is %zu bytes, %s requires %zu", *cek_len,
		    h->enc->name, h->enc->key_len);
	return r;
}

/* Decrypts the content with cek, authenticating the encoded header. */
static hj_err
jwe_decrypt_content(const struct jwe_header *h, const struct jwe_part *parts,
    const uint8_t *cek, size_t cek_len, uint8_t **plaintextp,
    size_t *plaintext_lenp, struct hj_error *why)
{
	struct jwe_content_params content;

	memset(&content, 0, sizeof(content));
	content.cek = cek;
	content.cek_len = cek_len;
	content.iv = parts[JWE_PART_IV].data;
	content.iv_len = parts[JWE_PART_IV].len;
	content.aad = (const uint8_t *)parts[JWE_PART_HEADER].text;
	content.aad_len = parts[JWE_PART_HEADER].text_len;
	return jwe_content_decrypt(h->enc->name, &content,
	    parts[JWE_PART_CIPHERTEXT].data, parts[JWE_PART_CIPHERTEXT].len,
	    parts[JWE_PART_TAG].data, parts[JWE_PART_TAG].len, plaintextp,
	    plaintext_lenp, why);
}

/* Returns whether a callback's error code goes to the caller unchanged. */
static bool
jwe_passes_through(hj_err r)
{
	return r == HJ_ERR_UNAVAILABLE || r == HJ_ERR_NO_MEMORY;
}

/*
 * Recovers the CEK and decrypts the content. When the CEK cannot be
 * recovered, a random one takes its place and the call still fails. A
 * failure then takes about the same time whichever step failed, as RFC 7516
 * section 11.5 recommends.
 */
static hj_err
jwe_decrypt_parts(const struct jwe_header *h, const struct jwe_part *parts,
    const struct jwe_decrypt_keys *keys, uint8_t **plaintextp,
    size_t *plaintext_lenp, struct hj_error *why)
{
	hj_err r = HJ_ERR_INTERNAL, key_r = HJ_ERR_INTERNAL;
	struct hj_error key_why, content_why;
	uint8_t cek[JWE_CEK_MAX];
	size_t cek_len = 0;

	hj_error_clear(&key_why);
	hj_error_clear(&content_why);
	key_r = jwe_recover_cek(h, keys, &parts[JWE_PART_ENCRYPTED_KEY], cek,
	    &cek_len, &key_why);
	if (jwe_passes_through(key_r)) {
		r = hj_error_set(why, key_r, "%s", key_why.message);
		goto out;
	}
	if (key_r != HJ_OK) {
		cek_len = h->enc->key_len;
		if (RAND_priv_bytes(cek, (int)cek_len) != 1)
			memset(cek, 0, cek_len);
		ERR_clear_error();
	}

	r = jwe_decrypt_content(h, parts, cek, cek_len, plaintextp,
	    plaintext_lenp, &content_why);
	if (key_r != HJ_OK) {
		r = hj_error_set(why, HJ_ERR_INVALID_ARGUMENT,
		    "%s key management: %s", h->alg->name, key_why.message);
		goto out;
	}
	if (r != HJ_OK)
		hj_error_set(why, r, "%s content decryption: %s", h->enc->name,
		    content_why.message);
out:
	if (r != HJ_OK && *plaintextp != NULL) {
		OPENSSL_clear_free(*plaintextp, *plaintext_lenp + 1);
		*plaintextp = NULL;
		*plaintext_lenp = 0;
	}
	OPENSSL_cleanse(cek, sizeof(cek));
	return r;
}

/* Moves the plaintext and copies the header and kid into a new result. */
static hj_err
jwe_result_new(const struct jwe_header *h, const struct jwe_part *header_part,
    uint8_t **plaintextp, size_t plaintext_len,
    struct jwe_decrypted **resultp, struct hj_error *err)
{
	struct jwe_decrypted *result = calloc(1, sizeof(*result));

	if (result != NULL) {
		result->protected_header = malloc(header_part->len + 1);
		result->kid = h->kid != NULL ? strdup(h->kid) : NULL;
	}
	if (result == NULL || result->protected_header == NULL ||
	    (h->kid != NULL && result->kid == NULL)) {
		jwe_decrypted_free(result);
		return hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "out of memory returning the decrypted JWE");
	}

	memcpy(result->protected_header, header_part->data, header_part->len);
	result->protected_header[header_part->len] = '\0';
	result->protected_header_len = header_part->len;
	result->plaintext = *plaintextp;
	result->plaintext_len = plaintext_len;
	*plaintextp = NULL;
	*resultp = result;
	return HJ_OK;
}

/* Decodes the four parts after the header, with a failure in why. */
static hj_err
jwe_decode_body(struct jwe_part *parts, struct hj_error *why)
{
	hj_err r;
	int i;

	for (i = JWE_PART_ENCRYPTED_KEY; i < JWE_PART_COUNT; i++) {
		r = jwe_decode_part(parts, i, why);
		if (r != HJ_OK)
			return r;
	}
	return HJ_OK;
}

/*
 * Runs every step after the header has been parsed. A failure is returned
 * with the step in why; the caller replaces the message.
 */
static hj_err
jwe_decrypt_checked(const struct jwe_header *h, struct jwe_part *parts,
    const struct jwe_decrypt_keys *keys, struct jwe_decrypted **resultp,
    struct hj_error *why)
{
	hj_err r = HJ_ERR_INTERNAL;
	uint8_t *plaintext = NULL;
	size_t plaintext_len = 0;

	r = jwe_decode_body(parts, why);
	if (r != HJ_OK)
		goto out;
	r = jwe_check_lengths(h, parts, why);
	if (r != HJ_OK)
		goto out;
	r = jwe_decrypt_parts(h, parts, keys, &plaintext, &plaintext_len, why);
	if (r != HJ_OK)
		goto out;
	r = jwe_result_new(h, &parts[JWE_PART_HEADER], &plaintext,
	    plaintext_len, resultp, why);
out:
	if (plaintext != NULL)
		OPENSSL_clear_free(plaintext, plaintext_len + 1);
	return r;
}

static void
jwe_parts_clear(struct jwe_part *parts)
{
	int i;

	for (i = 0; i < JWE_PART_COUNT; i++) {
		if (parts[i].data != NULL)
			OPENSSL_clear_free(parts[i].data, parts[i].len + 1);
	}
}

hj_err
jwe_decrypt_compact(const char *token, size_t token_len,
    const struct jwe_decrypt_keys *keys, struct jwe_decrypted **resultp,
    struct hj_error *err, struct hj_error *detail)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct jwe_part parts[JWE_PART_COUNT];
	struct jwe_header header;
	struct hj_error why;

	*resultp = NULL;
	memset(parts, 0, sizeof(parts));
	memset(&header, 0, sizeof(header));
	hj_error_clear(&why);
	hj_error_clear(detail);

	r = jwe_split(token, token_len, parts, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_decode_part(parts, JWE_PART_HEADER, err);
	if (r != HJ_OK)
		goto out;
	r = jwe_header_parse(&parts[JWE_PART_HEADER], &header, err);
	if (r != HJ_OK)
		goto out;

	r = jwe_decrypt_checked(&header, parts, keys, resultp, &why);
	if (r != HJ_OK) {
		hj_error_set(detail, r, "%s", why.message);
		if (!jwe_passes_through(r))
			r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s",
			    JWE_DECRYPT_FAILED_MESSAGE);
		else
			hj_error_set(err, r, "%s", why.message);
	}
out:
	jwe_header_clear(&header);
	jwe_parts_clear(parts);
	return r;
}

void
jwe_decrypted_free(struct jwe_decrypted *result)
{
	if (result == NULL)
		return;
	if (result->plaintext != NULL)
		OPENSSL_clear_free(result->plaintext, result->plaintext_len + 1);
	free(result->protected_header);
	free(result->kid);
	free(result);
}
