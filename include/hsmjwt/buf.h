/*
 * A growable byte buffer for building JSON and tokens. An allocation
 * failure is sticky: later appends do nothing and buf_finish() reports it,
 * so that a builder checks once at the end.
 */
#ifndef HSMJWT_BUF_H
#define HSMJWT_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt/error.h"

struct buf {
	char *data;        /* NUL-terminated while !failed */
	size_t len;
	size_t cap;
	bool failed;
};

void buf_init(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Appends s as a JSON string with its quotes, escaping '"', '\\' and control
 * characters. s must be valid UTF-8; it is copied byte for byte otherwise.
 */
void buf_append_json_string(struct buf *b, const char *s, size_t len);

/*
 * Hands the contents to the caller: on success *outp is the NUL-terminated
 * data (the caller frees it) and *lenp its length (lenp may be NULL).
 * Returns HJ_ERR_NO_MEMORY after a failed append. The buffer is empty after.
 */
hj_err buf_finish(struct buf *b, char **outp, size_t *lenp);

/* Frees the contents, cleansing them first. */
void buf_clear(struct buf *b);

#endif
