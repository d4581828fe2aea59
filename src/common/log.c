#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hsmjwt/log.h"

/*
 * Maximum length of a line, newline included. It equals PIPE_BUF on Linux,
 * so that one write(2) of a line to a pipe is atomic and lines from several
 * threads never interleave.
 */
#define LOG_LINE_MAX 4096

struct log_line {
	char data[LOG_LINE_MAX];
	size_t len;
	bool truncated;
};

static const char *const log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

#define LOG_LEVEL_COUNT (sizeof(log_level_names) / sizeof(log_level_names[0]))

static atomic_int log_min_level = LOG_LEVEL_INFO;

void
log_set_level(enum log_level level)
{
	atomic_store(&log_min_level, (int)level);
}

int
log_level_parse(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < LOG_LEVEL_COUNT; i++) {
		if (strcmp(name, log_level_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

static const char *
log_level_name(enum log_level level)
{
	if ((size_t)level >= LOG_LEVEL_COUNT)
		return "error";
	return log_level_names[level];
}

static void
log_line_vappend(struct log_line *line, const char *fmt, va_list ap)
{
	size_t room = sizeof(line->data) - line->len;
	int n;

	if (line->truncated)
		return;

	/* The NUL that vsnprintf() writes leaves room for the newline. */
	n = vsnprintf(line->data + line->len, room, fmt, ap);
	if (n < 0) {
		line->data[line->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		line->len += room - 1;
		line->truncated = true;
		return;
	}
	line->len += (size_t)n;
}

static void
log_line_append(struct log_line *line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line_vappend(line, fmt, ap);
	va_end(ap);
}

static void
log_line_append_time(struct log_line *line)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "-");
	log_line_append(line, "%s", stamp);
}

/*
 * Ends the line with "..." when it was cut and with a newline. Control
 * bytes that a caller passed without log_quote() become '?', so that an
 * event is always exactly one line.
 */
static void
log_line_finish(struct log_line *line)
{
	size_t i;

	if (line->truncated && line->len >= 3)
		memcpy(line->data + line->len - 3, "...", 3);

	for (i = 0; i < line->len; i++) {
		unsigned char c = (unsigned char)line->data[i];

		if (c < 0x20 || c == 0x7f)
			line->data[i] = '?';
	}
	line->data[line->len++] = '\n';
}

static void
log_line_write(const struct log_line *line)
{
	ssize_t n;

	/*
	 * A short write is not retried, because a second write(2) could
	 * interleave with the lines of other threads.
	 */
	do {
		n = write(STDERR_FILENO, line->data, line->len);
	} while (n < 0 && errno == EINTR);
}

void
log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	struct log_line line;
	size_t prefix_len;
	va_list ap;

	if ((int)level < atomic_load(&log_min_level))
		return;

	line.len = 0;
	line.truncated = false;
	log_line_append_time(&line);
	log_line_append(&line, " level=%s event=%s", log_level_name(level),
	    event != NULL ? event : "-");

	if (fmt != NULL) {
		prefix_len = line.len;
		log_line_append(&line, " ");
		va_start(ap, fmt);
		log_line_vappend(&line, fmt, ap);
		va_end(ap);

		/* Fields that format to nothing leave no trailing space. */
		if (line.len == prefix_len + 1)
			line.len = prefix_len;
	}

	log_line_finish(&line);
	log_line_write(&line);
}

/* Returns true when s[0..len) must be written in double quotes. */
static bool
log_quote_needed(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return true;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return true;
	}
	return false;
}

/* Writes the escaped form of c at out and returns its length (1, 2 or 4). */
static size_t
log_quote_byte(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		out[0] = '\\';
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 0x0f];
		return 4;
	}
	out[0] = (char)c;
	return 1;
}

/*
 * The output has at most 2 quotes, LOG_VALUE_MAX bytes of 4 characters each,
 * "..." and a NUL: LOG_VALUE_MAX * 4 + 6 bytes, within LOG_QUOTE_SIZE.
 * An empty value is written as "" so that the field stays visible.
 */
const char *
log_quote(char *out, const char *s)
{
	size_t len, i, o = 0;
	bool cut, quoted;

	if (s == NULL) {
		memcpy(out, "-", 2);
		return out;
	}

	len = strnlen(s, LOG_VALUE_MAX + 1);
	cut = len > LOG_VALUE_MAX;
	if (cut)
		len = LOG_VALUE_MAX;
	quoted = log_quote_needed(s, len);

	if (quoted)
		out[o++] = '"';
	for (i = 0; i < len; i++)
		o += log_quote_byte(out + o, (unsigned char)s[i]);
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (quoted)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}
