/*
 * A strict RFC 8259 scanner for one JSON object. It copies every token of
 * the input to the output unchanged and drops the white space between
 * tokens, so numbers and string escapes stay exactly as the caller wrote
 * them.
 *
 * NOTE: the scanner recurses through up to four functions for each nested
 * array or object, so its stack use grows with max_depth. Keep max_depth
 * small, because no separate limit protects the stack.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsmjwt/buf.h"
#include "hsmjwt/jsontext.h"

/* Maximum length of a member name as shown in an error message, in bytes. */
#define JSONTEXT_NAME_SHOWN_MAX 64

/* A member name of one object, kept until the object ends. */
struct jsontext_name {
	char *name;           /* unescaped, NUL-terminated */
	size_t offset;        /* input offset of the name's opening quote */
	size_t value_offset;  /* output offset of the value */
	size_t value_len;
};

struct jsontext_names {
	struct jsontext_name *v;
	size_t count;
	size_t cap;
};

struct jsontext_scanner {
	const unsigned char *in;
	size_t len;
	size_t pos;
	size_t max_depth;
	const char *field;
	struct buf out;
	struct hj_error *err;
};

static hj_err jsontext_scan_value(struct jsontext_scanner *sc, size_t depth);

static hj_err
jsontext_fail(struct jsontext_scanner *sc, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the error "<field>: invalid JSON at byte <offset>: <what>". */
static hj_err
jsontext_fail(struct jsontext_scanner *sc, size_t offset, const char *fmt, ...)
{
	char what[HJ_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	return hj_error_set(sc->err, HJ_ERR_INVALID_ARGUMENT,
	    "%s: invalid JSON at byte %zu: %s", sc->field, offset, what);
}

static int
jsontext_peek(const struct jsontext_scanner *sc)
{
	if (sc->pos >= sc->len)
		return -1;
	return sc->in[sc->pos];
}

static void
jsontext_skip_space(struct jsontext_scanner *sc)
{
	int c;

	while ((c = jsontext_peek(sc)) == ' ' || c == '\t' || c == '\n' ||
	    c == '\r')
		sc->pos++;
}

/* Copies the input from start to the current position to the output. */
static void
jsontext_emit(struct jsontext_scanner *sc, size_t start)
{
	buf_append(&sc->out, sc->in + start, sc->pos - start);
}

static void
jsontext_names_clear(struct jsontext_names *names)
{
	size_t i;

	for (i = 0; i < names->count; i++)
		free(names->v[i].name);
	free(names->v);
	memset(names, 0, sizeof(*names));
}

static bool
jsontext_names_add(struct jsontext_names *names, char *name, size_t offset)
{
	struct jsontext_name *v;
	size_t cap;

	if (names->count == names->cap) {
		cap = names->cap != 0 ? names->cap * 2 : 8;
		if (cap > SIZE_MAX / sizeof(*v))
			return false;
		v = realloc(names->v, cap * sizeof(*v));
		if (v == NULL)
			return false;
		names->v = v;
		names->cap = cap;
	}

	memset(&names->v[names->count], 0, sizeof(names->v[0]));
	names->v[names->count].name = name;
	names->v[names->count].offset = offset;
	names->count++;
	return true;
}

/*
 * Writes name into out for an error message: printable ASCII as is, other
 * bytes, '"' and '\\' as \xHH. A rendering longer than
 * JSONTEXT_NAME_SHOWN_MAX bytes is cut and ends in "...".
 */
static void
jsontext_render_name(const char *name, char *out, size_t out_size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, mark = 0, room = JSONTEXT_NAME_SHOWN_MAX;
	char piece[4];
	size_t piece_len;
	unsigned char c;

	if (room > out_size - 1)
		room = out_size - 1;

	for (; *name != '\0'; name++) {
		c = (unsigned char)*name;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			piece[0] = (char)c;
			piece_len = 1;
		} else {
			piece[0] = '\\';
			piece[1] = 'x';
			piece[2] = hex[c >> 4];
			piece[3] = hex[c & 0xf];
			piece_len = 4;
		}

		if (n + piece_len > room) {
			memcpy(out + mark, "...", 4);
			return;
		}
		memcpy(out + n, piece, piece_len);
		n += piece_len;
		if (n + 3 <= room)
			mark = n;
	}
	out[n] = '\0';
}

static int
jsontext_compare_names(const void *a, const void *b)
{
	const struct jsontext_name *x = *(const struct jsontext_name *const *)a;
	const struct jsontext_name *y = *(const struct jsontext_name *const *)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * Rejects a repeated member name. Sorting by name, then by offset, puts
 * each repeat right after an earlier occurrence. The error names the repeat
 * that comes first in the document.
 */
static hj_err
jsontext_check_duplicates(struct jsontext_scanner *sc,
    const struct jsontext_names *names)
{
	const struct jsontext_name **sorted, *dup = NULL;
	char shown[JSONTEXT_NAME_SHOWN_MAX + 1];
	size_t i;

	if (names->count < 2)
		return HJ_OK;

	sorted = calloc(names->count, sizeof(*sorted));
	if (sorted == NULL)
		return hj_error_set(sc->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory checking member names", sc->field);
	for (i = 0; i < names->count; i++)
		sorted[i] = &names->v[i];
	qsort(sorted, names->count, sizeof(*sorted), jsontext_compare_names);

	for (i = 1; i < names->count; i++) {
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) != 0)
			continue;
		if (dup == NULL || sorted[i]->offset < dup->offset)
			dup = sorted[i];
	}
	free(sorted);

	if (dup == NULL)
		return HJ_OK;
	jsontext_render_name(dup->name, shown, sizeof(shown));
	return jsontext_fail(sc, dup->offset, "duplicate member name \"%s\"",
	    shown);
}

/* Returns the length of the UTF-8 sequence that lead (0xc2 to 0xf4) starts. */
static size_t
jsontext_utf8_length(unsigned char lead)
{
	if (lead < 0xe0)
		return 2;
	if (lead < 0xf0)
		return 3;
	return 4;
}

/*
 * Sets the range of the second byte after lead (RFC 3629 section 4). The
 * narrow ranges exclude overlong forms after 0xe0 and 0xf0, UTF-16
 * surrogates after 0xed and code points above U+10FFFF after 0xf4.
 */
static void
jsontext_utf8_second_range(unsigned char lead, unsigned char *lop,
    unsigned char *hip)
{
	*lop = 0x80;
	*hip = 0xbf;
	if (lead == 0xe0)
		*lop = 0xa0;
	else if (lead == 0xed)
		*hip = 0x9f;
	else if (lead == 0xf0)
		*lop = 0x90;
	else if (lead == 0xf4)
		*hip = 0x8f;
}

/*
 * Checks the UTF-8 sequence that starts at the current position with a
 * byte of 0x80 or above, and sets *lenp to its length.
 */
static hj_err
jsontext_check_utf8(struct jsontext_scanner *sc, size_t *lenp)
{
	const unsigned char *p = sc->in + sc->pos;
	size_t avail = sc->len - sc->pos, need, i;
	unsigned char lo, hi;

	*lenp = 0;
	if (p[0] < 0xc0)
		return jsontext_fail(sc, sc->pos,
		    "invalid UTF-8: unexpected continuation byte");
	if (p[0] < 0xc2)
		return jsontext_fail(sc, sc->pos,
		    "invalid UTF-8: overlong encoding");
	if (p[0] > 0xf7)
		return jsontext_fail(sc, sc->pos,
		    "invalid UTF-8: invalid lead byte");
	if (p[0] > 0xf4)
		return jsontext_fail(sc, sc->pos,
		    "invalid UTF-8: code point above U+10FFFF");

	need = jsontext_utf8_length(p[0]);
	jsontext_utf8_second_range(p[0], &lo, &hi);
	if (avail >= 2 && p[1] < lo && p[1] >= 0x80)
		return jsontext_fail(sc, sc->pos,
		    "invalid UTF-8: overlong encoding");
	if (avail >= 2 && p[1] > hi && p[1] <= 0xbf)
		return jsontext_fail(sc, sc->pos, p[0] == 0xed ?
		    "invalid UTF-8: UTF-16 surrogate encoded as UTF-8" :
		    "invalid UTF-8: code point above U+10FFFF");
	for (i = 1; i < need; i++) {
		if (i >= avail || p[i] < 0x80 || p[i] > 0xbf)
			return jsontext_fail(sc, sc->pos,
			    "invalid UTF-8: truncated sequence");
	}

	*lenp = need;
	return HJ_OK;
}

/* Appends code point cp to b as UTF-8. */
static void
jsontext_append_utf8(struct buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(b, u, n);
}

/*
 * Reads the 4 hex digits at offset at into *cpp. Returns false when any is
 * missing or not a hex digit.
 */
static bool
jsontext_read_hex4(const struct jsontext_scanner *sc, size_t at, uint32_t *cpp)
{
	uint32_t cp = 0;
	size_t i;
	int c;

	*cpp = 0;
	if (at > sc->len || sc->len - at < 4)
		return false;

	for (i = 0; i < 4; i++) {
		c = sc->in[at + i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return false;
		cp = cp << 4 | (uint32_t)c;
	}

	*cpp = cp;
	return true;
}

/*
 * Scans a \u escape at the current position (the backslash), and a second
 * one when the first is a high surrogate, and appends the code point to
 * name (which may be NULL).
 */
static hj_err
jsontext_scan_unicode_escape(struct jsontext_scanner *sc, struct buf *name)
{
	size_t start = sc->pos;
	uint32_t cp, low;

	if (!jsontext_read_hex4(sc, start + 2, &cp))
		return jsontext_fail(sc, start,
		    "invalid \\u escape: expected 4 hex digits");
	if (cp == 0)
		return jsontext_fail(sc, start, "\\u0000 is not allowed");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jsontext_fail(sc, start,
		    "lone low surrogate \\u escape without a high surrogate before it");
	sc->pos += 6;

	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (sc->len - sc->pos < 2 || sc->in[sc->pos] != '\\' ||
		    sc->in[sc->pos + 1] != 'u' ||
		    !jsontext_read_hex4(sc, sc->pos + 2, &low) ||
		    low < 0xdc00 || low > 0xdfff)
			return jsontext_fail(sc, start,
			    "high surrogate \\u escape not followed by a low surrogate \\u escape");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
		sc->pos += 6;
	}

	if (name != NULL)
		jsontext_append_utf8(name, cp);
	return HJ_OK;
}

/* Scans the escape sequence at the current position (the backslash). */
static hj_err
jsontext_scan_escape(struct jsontext_scanner *sc, struct buf *name)
{
	char c;

	if (sc->len - sc->pos < 2)
		return jsontext_fail(sc, sc->pos, "unterminated string");

	switch (sc->in[sc->pos + 1]) {
	case '"': c = '"'; break;
	case '\\': c = '\\'; break;
	case '/': c = '/'; break;
	case 'b': c = '\b'; break;
	case 'f': c = '\f'; break;
	case 'n': c = '\n'; break;
	case 'r': c = '\r'; break;
	case 't': c = '\t'; break;
	case 'u':
		return jsontext_scan_unicode_escape(sc, name);
	default:
		return jsontext_fail(sc, sc->pos, "invalid escape sequence");
	}

	if (name != NULL)
		buf_append(name, &c, 1);
	sc->pos += 2;
	return HJ_OK;
}

/*
 * Scans the string at the current position (the opening quote), copies it
 * to the output and appends its unescaped text to name unless it is NULL.
 */
static hj_err
jsontext_scan_string(struct jsontext_scanner *sc, struct buf *name)
{
	size_t start = sc->pos, n;
	hj_err r;
	int c;

	sc->pos++;
	for (;;) {
		c = jsontext_peek(sc);
		if (c == -1)
			return jsontext_fail(sc, start, "unterminated string");
		if (c == '"')
			break;

		if (c == '\\') {
			r = jsontext_scan_escape(sc, name);
		} else if (c < 0x20) {
			r = jsontext_fail(sc, sc->pos,
			    "raw control character in a string: write it as a \\u escape");
		} else if (c < 0x80) {
			if (name != NULL)
				buf_append(name, sc->in + sc->pos, 1);
			sc->pos++;
			r = HJ_OK;
		} else {
			r = jsontext_check_utf8(sc, &n);
			if (r == HJ_OK && name != NULL)
				buf_append(name, sc->in + sc->pos, n);
			sc->pos += n;
		}
		if (r != HJ_OK)
			return r;
	}

	sc->pos++;
	jsontext_emit(sc, start);
	return HJ_OK;
}

static bool
jsontext_at_digit(const struct jsontext_scanner *sc)
{
	int c = jsontext_peek(sc);

	return c >= '0' && c <= '9';
}

static void
jsontext_skip_digits(struct jsontext_scanner *sc)
{
	while (jsontext_at_digit(sc))
		sc->pos++;
}

/* Scans a number by the RFC 8259 grammar and copies it unchanged. */
static hj_err
jsontext_scan_number(struct jsontext_scanner *sc)
{
	size_t start = sc->pos;
	int c;

	if (jsontext_peek(sc) == '-')
		sc->pos++;
	if (!jsontext_at_digit(sc))
		return jsontext_fail(sc, sc->pos,
		    "expected a digit after '-' in a number");
	if (jsontext_peek(sc) == '0') {
		sc->pos++;
		if (jsontext_at_digit(sc))
			return jsontext_fail(sc, start,
			    "leading zero in a number");
	} else {
		jsontext_skip_digits(sc);
	}

	if (jsontext_peek(sc) == '.') {
		sc->pos++;
		if (!jsontext_at_digit(sc))
			return jsontext_fail(sc, sc->pos,
			    "expected a digit after '.' in a number");
		jsontext_skip_digits(sc);
	}

	c = jsontext_peek(sc);
	if (c == 'e' || c == 'E') {
		sc->pos++;
		c = jsontext_peek(sc);
		if (c == '+' || c == '-')
			sc->pos++;
		if (!jsontext_at_digit(sc))
			return jsontext_fail(sc, sc->pos,
			    "expected a digit in the exponent of a number");
		jsontext_skip_digits(sc);
	}

	jsontext_emit(sc, start);
	return HJ_OK;
}

static hj_err
jsontext_scan_literal(struct jsontext_scanner *sc)
{
	static const char *const literals[] = { "true", "false", "null" };
	size_t i, n;

	for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		n = strlen(literals[i]);
		if (sc->len - sc->pos >= n &&
		    memcmp(sc->in + sc->pos, literals[i], n) == 0) {
			sc->pos += n;
			jsontext_emit(sc, sc->pos - n);
			return HJ_OK;
		}
	}
	return jsontext_fail(sc, sc->pos,
	    "invalid literal: expected true, false or null");
}

/*
 * Scans one member name and its value, and adds the name to names with the
 * value's place in the output.
 */
static hj_err
jsontext_scan_member(struct jsontext_scanner *sc, size_t depth,
    struct jsontext_names *names)
{
	size_t offset = sc->pos;
	struct buf name;
	char *unescaped;
	hj_err r;

	buf_init(&name);
	r = jsontext_scan_string(sc, &name);
	if (r != HJ_OK) {
		buf_clear(&name);
		return r;
	}
	if (buf_finish(&name, &unescaped, NULL) != HJ_OK)
		return hj_error_set(sc->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory reading a member name", sc->field);
	if (!jsontext_names_add(names, unescaped, offset)) {
		free(unescaped);
		return hj_error_set(sc->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory reading a member name", sc->field);
	}

	jsontext_skip_space(sc);
	if (jsontext_peek(sc) != ':')
		return jsontext_fail(sc, sc->pos,
		    "expected ':' after member name");
	sc->pos++;
	buf_append(&sc->out, ":", 1);

	jsontext_skip_space(sc);
	names->v[names->count - 1].value_offset = sc->out.len;
	r = jsontext_scan_value(sc, depth);
	names->v[names->count - 1].value_len =
	    sc->out.len - names->v[names->count - 1].value_offset;
	return r;
}

/*
 * Scans the members of the object at the current position (the '{') into
 * names, which the caller clears.
 */
static hj_err
jsontext_scan_members(struct jsontext_scanner *sc, size_t depth,
    struct jsontext_names *names)
{
	hj_err r;
	int c;

	if (depth > sc->max_depth)
		return jsontext_fail(sc, sc->pos,
		    "nesting deeper than %zu arrays and objects",
		    sc->max_depth);
	sc->pos++;
	buf_append(&sc->out, "{", 1);

	jsontext_skip_space(sc);
	if (jsontext_peek(sc) == '}')
		goto close;

	for (;;) {
		jsontext_skip_space(sc);
		if (jsontext_peek(sc) != '"')
			return jsontext_fail(sc, sc->pos,
			    "expected a member name string");
		r = jsontext_scan_member(sc, depth, names);
		if (r != HJ_OK)
			return r;

		jsontext_skip_space(sc);
		c = jsontext_peek(sc);
		if (c == '}')
			break;
		if (c != ',')
			return jsontext_fail(sc, sc->pos,
			    "expected ',' or '}' after member value");
		sc->pos++;
		buf_append(&sc->out, ",", 1);
	}

close:
	sc->pos++;
	buf_append(&sc->out, "}", 1);
	return jsontext_check_duplicates(sc, names);
}

static hj_err
jsontext_scan_object(struct jsontext_scanner *sc, size_t depth)
{
	struct jsontext_names names;
	hj_err r;

	memset(&names, 0, sizeof(names));
	r = jsontext_scan_members(sc, depth, &names);
	jsontext_names_clear(&names);
	return r;
}

static hj_err
jsontext_scan_array(struct jsontext_scanner *sc, size_t depth)
{
	hj_err r;
	int c;

	if (depth > sc->max_depth)
		return jsontext_fail(sc, sc->pos,
		    "nesting deeper than %zu arrays and objects",
		    sc->max_depth);
	sc->pos++;
	buf_append(&sc->out, "[", 1);

	jsontext_skip_space(sc);
	if (jsontext_peek(sc) == ']')
		goto close;

	for (;;) {
		jsontext_skip_space(sc);
		r = jsontext_scan_value(sc, depth);
		if (r != HJ_OK)
			return r;

		jsontext_skip_space(sc);
		c = jsontext_peek(sc);
		if (c == ']')
			break;
		if (c != ',')
			return jsontext_fail(sc, sc->pos,
			    "expected ',' or ']' after array element");
		sc->pos++;
		buf_append(&sc->out, ",", 1);
	}

close:
	sc->pos++;
	buf_append(&sc->out, "]", 1);
	return HJ_OK;
}

/*
 * Scans the value at the current position. depth is the number of arrays
 * and objects that enclose it.
 */
static hj_err
jsontext_scan_value(struct jsontext_scanner *sc, size_t depth)
{
	int c = jsontext_peek(sc);

	switch (c) {
	case -1:
		return jsontext_fail(sc, sc->pos,
		    "unexpected end of input: expected a value");
	case '{':
		return jsontext_scan_object(sc, depth + 1);
	case '[':
		return jsontext_scan_array(sc, depth + 1);
	case '"':
		return jsontext_scan_string(sc, NULL);
	case 't':
	case 'f':
	case 'n':
		return jsontext_scan_literal(sc);
	case '+':
		return jsontext_fail(sc, sc->pos,
		    "number with a leading '+'");
	case '.':
		return jsontext_fail(sc, sc->pos,
		    "number without a digit before '.'");
	}

	if (c == '-' || (c >= '0' && c <= '9'))
		return jsontext_scan_number(sc);
	return jsontext_fail(sc, sc->pos, "expected a JSON value");
}

/* Moves the top-level names into obj->members. */
static hj_err
jsontext_take_members(struct jsontext_object *obj,
    struct jsontext_names *names)
{
	size_t i;

	if (names->count == 0)
		return HJ_OK;

	obj->members = calloc(names->count, sizeof(*obj->members));
	if (obj->members == NULL)
		return HJ_ERR_NO_MEMORY;

	for (i = 0; i < names->count; i++) {
		obj->members[i].name = names->v[i].name;
		obj->members[i].value_offset = names->v[i].value_offset;
		obj->members[i].value_len = names->v[i].value_len;
		names->v[i].name = NULL;
	}
	obj->member_count = names->count;
	return HJ_OK;
}

/* Scans the whole input as one object, keeping its top-level names. */
static hj_err
jsontext_scan_top(struct jsontext_scanner *sc, struct jsontext_names *names)
{
	hj_err r;

	jsontext_skip_space(sc);
	if (jsontext_peek(sc) == -1)
		return jsontext_fail(sc, sc->pos,
		    "empty input: expected a JSON object");
	if (jsontext_peek(sc) != '{')
		return jsontext_fail(sc, sc->pos,
		    "expected '{': the top level must be a JSON object");

	r = jsontext_scan_members(sc, 1, names);
	if (r != HJ_OK)
		return r;

	jsontext_skip_space(sc);
	if (jsontext_peek(sc) != -1)
		return jsontext_fail(sc, sc->pos,
		    "unexpected content after the object");
	return HJ_OK;
}

hj_err
jsontext_parse_object(const char *text, size_t len, size_t max_depth,
    const char *field, struct jsontext_object **objp, struct hj_error *err)
{
	hj_err r = HJ_ERR_INTERNAL;
	struct jsontext_scanner sc;
	struct jsontext_names names;
	struct jsontext_object *obj = NULL;

	*objp = NULL;
	memset(&sc, 0, sizeof(sc));
	memset(&names, 0, sizeof(names));
	sc.in = (const unsigned char *)text;
	sc.len = text != NULL ? len : 0;
	sc.max_depth = max_depth;
	sc.field = field != NULL ? field : "JSON text";
	sc.err = err;
	buf_init(&sc.out);

	r = jsontext_scan_top(&sc, &names);
	if (r != HJ_OK)
		goto out;

	obj = calloc(1, sizeof(*obj));
	if (obj == NULL ||
	    buf_finish(&sc.out, &obj->text, &obj->len) != HJ_OK ||
	    jsontext_take_members(obj, &names) != HJ_OK) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory copying the object", sc.field);
		goto out;
	}

	*objp = obj;
	obj = NULL;
	r = HJ_OK;
out:
	jsontext_object_free(obj);
	jsontext_names_clear(&names);
	buf_clear(&sc.out);
	return r;
}

const struct jsontext_member *
jsontext_object_get(const struct jsontext_object *obj, const char *name)
{
	size_t i;

	for (i = 0; i < obj->member_count; i++) {
		if (strcmp(obj->members[i].name, name) == 0)
			return &obj->members[i];
	}
	return NULL;
}

void
jsontext_object_free(struct jsontext_object *obj)
{
	size_t i;

	if (obj == NULL)
		return;

	for (i = 0; i < obj->member_count; i++)
		free(obj->members[i].name);
	free(obj->members);
	if (obj->text != NULL)
		OPENSSL_clear_free(obj->text, obj->len + 1);
	free(obj);
}
