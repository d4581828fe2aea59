/*
 * Logging: one line per event on stderr, as key=value fields after a
 * timestamp and level:
 *
 *   2026-12-04T20:14:02Z level=info event=sign caller=ipv4:127.0.0.1:5112 status=OK dur_us=412
 *
 * Values that come from the network or the token go through log_quote(),
 * which escapes and caps them. Never log claims, tokens, PINs or keys.
 */
#ifndef HSMJWT_LOG_H
#define HSMJWT_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Maximum length of a value that log_quote() keeps before it cuts it and appends "...". It fits any hj_error message. */
#define LOG_VALUE_MAX 256
/* Size of the buffer that log_quote() writes: every byte may become \xNN. */
#define LOG_QUOTE_SIZE (LOG_VALUE_MAX * 4 + 8)

/* Sets the lowest level that is written; the default is LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_level_parse(const char *name);

/*
 * Writes one line: timestamp, level=..., event=<event>, then the fields that
 * fmt formats (already "key=value key=value"). Thread-safe; a line is written
 * with one write(2).
 */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes s into out (LOG_QUOTE_SIZE bytes) as a safe log value: unchanged
 * when it is made of printable ASCII without spaces, quotes, '=' or '\\';
 * otherwise in double quotes with those bytes escaped. Values longer than
 * LOG_VALUE_MAX bytes are cut and end in "...". NULL becomes "-".
 * Returns out.
 */
const char *log_quote(char *out, const char *s);

#endif
