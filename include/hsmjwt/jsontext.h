/*
 * A strict JSON object scanner that keeps the caller's text.
 *
 * Claims are validated here rather than through a JSON library's tree,
 * because a tree would change what the caller sent: numbers beyond 64 bits
 * or with a fraction would be rounded, and string escapes rewritten. The
 * scanner accepts exactly RFC 8259 JSON with these limits: one object at the
 * top level, valid UTF-8, no lone surrogate in a \u escape, no \u0000, no
 * duplicate member name at any depth (names compared after unescaping), at
 * most max_depth nested arrays and objects. Its output is the same text with
 * the white space outside strings removed.
 */
#ifndef HSMJWT_JSONTEXT_H
#define HSMJWT_JSONTEXT_H

#include <stddef.h>

#include "hsmjwt/error.h"

/* A top-level member of a scanned object. */
struct jsontext_member {
	char *name;           /* unescaped, NUL-terminated UTF-8 */
	size_t value_offset;  /* offset of the value in jsontext_object.text */
	size_t value_len;     /* length of the compact value text */
};

struct jsontext_object {
	char *text;           /* compact form of the whole object, NUL-terminated */
	size_t len;
	struct jsontext_member *members;   /* in document order */
	size_t member_count;
};

/*
 * Scans text as one JSON object. field names the input in error messages
 * ("claims_json"), which say what is wrong and at which byte offset. On
 * success *objp is a new object that the caller frees with
 * jsontext_object_free(). Errors are HJ_ERR_INVALID_ARGUMENT, or
 * HJ_ERR_NO_MEMORY when an allocation fails.
 */
hj_err jsontext_parse_object(const char *text, size_t len, size_t max_depth,
    const char *field, struct jsontext_object **objp, struct hj_error *err);

/* Returns the top-level member called name, or NULL. */
const struct jsontext_member *jsontext_object_get(
    const struct jsontext_object *obj, const char *name);

/* Frees obj (NULL is allowed), cleansing its text. */
void jsontext_object_free(struct jsontext_object *obj);

#endif
