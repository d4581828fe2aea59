#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsmjwt/buf.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

static bool
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *data;

	if (b->failed)
		return false;
	if (extra > SIZE_MAX - b->len - 1)
		goto fail;

	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;

	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;

	/* Grow by copying so that the old contents can be cleansed. */
	data = malloc(cap);
	if (data == NULL)
		goto fail;
	if (b->data != NULL) {
		memcpy(data, b->data, b->len + 1);
		OPENSSL_clear_free(b->data, b->cap);
	} else {
		data[0] = '\0';
	}
	b->data = data;
	b->cap = cap;
	return true;

fail:
	b->failed = true;
	return false;
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n)) {
		b->failed = true;
		return;
	}

	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_append_json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	buf_append(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;

		buf_append(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			buf_append(b, esc, sizeof(esc));
			break;
		}
	}
	buf_append(b, s + start, len - start);
	buf_append(b, "\"", 1);
}

hj_err
buf_finish(struct buf *b, char **outp, size_t *lenp)
{
	*outp = NULL;
	if (lenp != NULL)
		*lenp = 0;

	if (b->failed) {
		buf_clear(b);
		return HJ_ERR_NO_MEMORY;
	}
	if (b->data == NULL && !buf_reserve(b, 0))
		return HJ_ERR_NO_MEMORY;

	*outp = b->data;
	if (lenp != NULL)
		*lenp = b->len;
	buf_init(b);
	return HJ_OK;
}

void
buf_clear(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_clear_free(b->data, b->cap);
	buf_init(b);
}
