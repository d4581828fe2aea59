/* Unit tests of the logger: value quoting, levels and the line format. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsmjwt/log.h"

#define CAPTURE_MAX 16384

static void
expect_quote(const char *input, const char *expected)
{
	char out[LOG_QUOTE_SIZE];

	assert_ptr_equal(log_quote(out, input), out);
	assert_string_equal(out, expected);
}

static void
quote_plain(void **state)
{
	expect_quote("abc", "abc");
	expect_quote("ipv4:127.0.0.1:5112", "ipv4:127.0.0.1:5112");
	expect_quote("a-b_c/d.e~f", "a-b_c/d.e~f");
}

static void
quote_space_and_equals(void **state)
{
	expect_quote("a b", "\"a b\"");
	expect_quote("a=b", "\"a=b\"");
	expect_quote(" ", "\" \"");
	expect_quote("", "\"\"");
}

static void
quote_quote_and_backslash(void **state)
{
	expect_quote("a\"b", "\"a\\\"b\"");
	expect_quote("a\\b", "\"a\\\\b\"");
	expect_quote("\"", "\"\\\"\"");
}

static void
quote_control_bytes(void **state)
{
	expect_quote("a\nb", "\"a\\x0ab\"");
	expect_quote("\r\t\x01\x1f", "\"\\x0d\\x09\\x01\\x1f\"");
	expect_quote("del\x7f", "\"del\\x7f\"");
	expect_quote("x=1\nlevel=error", "\"x=1\\x0alevel=error\"");
}

static void
quote_high_bytes(void **state)
{
	expect_quote("caf\xc3\xa9", "\"caf\\xc3\\xa9\"");
	expect_quote("\xff\xfe", "\"\\xff\\xfe\"");
	expect_quote("\x80", "\"\\x80\"");
}

static void
quote_null(void **state)
{
	expect_quote(NULL, "-");
}

static void
quote_long_value_cut(void **state)
{
	char input[301];
	char expected[LOG_VALUE_MAX + 4];

	memset(input, 'a', 300);
	input[300] = '\0';
	memset(expected, 'a', LOG_VALUE_MAX);
	memcpy(expected + LOG_VALUE_MAX, "...", 4);
	expect_quote(input, expected);

	input[LOG_VALUE_MAX] = '\0';
	expected[LOG_VALUE_MAX] = '\0';
	expect_quote(input, expected);
}

static void
quote_long_value_escaped(void **state)
{
	char input[301];
	char expected[LOG_QUOTE_SIZE];
	char out[LOG_QUOTE_SIZE];
	size_t i;

	memset(input, '\xff', 300);
	input[300] = '\0';
	expected[0] = '"';
	for (i = 0; i < LOG_VALUE_MAX; i++)
		memcpy(expected + 1 + i * 4, "\\xff", 4);
	memcpy(expected + 1 + LOG_VALUE_MAX * 4, "...\"", 5);

	log_quote(out, input);
	assert_string_equal(out, expected);
	assert_true(strlen(out) < LOG_QUOTE_SIZE);
}

static void
level_parse_names(void **state)
{
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
}

static void
level_parse_rejects_others(void **state)
{
	assert_int_equal(log_level_parse("warning"), -1);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_int_equal(log_level_parse("info "), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse("trace"), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

struct capture {
	FILE *file;
	int saved_stderr;
};

/* Points fd 2 at a new temporary file until capture_end(). */
static void
capture_begin(struct capture *c)
{
	c->file = tmpfile();
	assert_non_null(c->file);
	fflush(stderr);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(c->saved_stderr >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores fd 2 and returns what was written to it; the caller frees it. */
static char *
capture_end(struct capture *c, size_t *lenp)
{
	char *text = calloc(1, CAPTURE_MAX + 1);
	size_t len;

	assert_true(dup2(c->saved_stderr, STDERR_FILENO) >= 0);
	assert_int_equal(close(c->saved_stderr), 0);
	assert_non_null(text);
	rewind(c->file);
	len = fread(text, 1, CAPTURE_MAX, c->file);
	assert_int_equal(fclose(c->file), 0);
	*lenp = len;
	return text;
}

static size_t
count_newlines(const char *text, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

static void
event_line_format(void **state)
{
	struct capture c;
	regex_t re;
	struct tm tm;
	time_t before, after, stamp;
	char *text;
	size_t len;

	log_set_level(LOG_LEVEL_INFO);
	before = time(NULL);
	capture_begin(&c);
	log_event(LOG_LEVEL_INFO, "sign", "caller=%s status=%s dur_us=%d",
	    "ipv4:127.0.0.1:5112", "OK", 412);
	text = capture_end(&c, &len);
	after = time(NULL);

	assert_int_equal(regcomp(&re,
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "
	    "level=info event=sign caller=ipv4:127.0.0.1:5112 status=OK dur_us=412\n$",
	    REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, text, 0, NULL, 0), 0);
	regfree(&re);

	/* The timestamp is UTC and taken while the line was written. */
	memset(&tm, 0, sizeof(tm));
	assert_int_equal(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	stamp = timegm(&tm);
	assert_true(stamp >= before);
	assert_true(stamp <= after);
	free(text);
}

static void
event_without_fields(void **state)
{
	struct capture c;
	char *text;
	size_t len;

	log_set_level(LOG_LEVEL_INFO);
	capture_begin(&c);
	log_event(LOG_LEVEL_WARN, "stopping", "%s", "");
	log_event(LOG_LEVEL_ERROR, "stopped", NULL);
	text = capture_end(&c, &len);

	assert_int_equal(count_newlines(text, len), 2);
	assert_non_null(strstr(text, "Z level=warn event=stopping\n"));
	assert_non_null(strstr(text, "Z level=error event=stopped\n"));
	free(text);
}

static void
event_below_level_skipped(void **state)
{
	struct capture c;
	char *text;
	size_t len;

	log_set_level(LOG_LEVEL_WARN);
	capture_begin(&c);
	log_event(LOG_LEVEL_DEBUG, "skipped_debug", "n=1");
	log_event(LOG_LEVEL_INFO, "skipped_info", "n=2");
	log_event(LOG_LEVEL_WARN, "kept_warn", "n=3");
	log_event(LOG_LEVEL_ERROR, "kept_error", "n=4");
	text = capture_end(&c, &len);
	log_set_level(LOG_LEVEL_INFO);

	assert_int_equal(count_newlines(text, len), 2);
	assert_null(strstr(text, "skipped"));
	assert_non_null(strstr(text, " level=warn event=kept_warn n=3\n"));
	assert_non_null(strstr(text, " level=error event=kept_error n=4\n"));
	free(text);
}

static void
event_debug_level_writes_all(void **state)
{
	struct capture c;
	char *text;
	size_t len;

	log_set_level(LOG_LEVEL_DEBUG);
	capture_begin(&c);
	log_event(LOG_LEVEL_DEBUG, "detail", "n=1");
	text = capture_end(&c, &len);
	log_set_level(LOG_LEVEL_INFO);

	assert_non_null(strstr(text, " level=debug event=detail n=1\n"));
	free(text);
}

static void
event_long_line_cut(void **state)
{
	struct capture c;
	char *value = malloc(10001);
	char *text;
	size_t len;

	assert_non_null(value);
	memset(value, 'v', 10000);
	value[10000] = '\0';

	log_set_level(LOG_LEVEL_INFO);
	capture_begin(&c);
	log_event(LOG_LEVEL_INFO, "long", "value=%s", value);
	text = capture_end(&c, &len);

	assert_int_equal(len, 4096);
	assert_int_equal(count_newlines(text, len), 1);
	assert_memory_equal(text + len - 4, "...\n", 4);
	free(text);
	free(value);
}

static void
event_raw_newline_kept_on_one_line(void **state)
{
	struct capture c;
	char *text;
	size_t len;

	log_set_level(LOG_LEVEL_INFO);
	capture_begin(&c);
	log_event(LOG_LEVEL_INFO, "raw", "value=%s", "a\nlevel=error event=forged");
	text = capture_end(&c, &len);

	assert_int_equal(count_newlines(text, len), 1);
	assert_non_null(strstr(text, " event=raw value=a?level=error event=forged\n"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quote_plain),
		cmocka_unit_test(quote_space_and_equals),
		cmocka_unit_test(quote_quote_and_backslash),
		cmocka_unit_test(quote_control_bytes),
		cmocka_unit_test(quote_high_bytes),
		cmocka_unit_test(quote_null),
		cmocka_unit_test(quote_long_value_cut),
		cmocka_unit_test(quote_long_value_escaped),
		cmocka_unit_test(level_parse_names),
		cmocka_unit_test(level_parse_rejects_others),
		cmocka_unit_test(event_line_format),
		cmocka_unit_test(event_without_fields),
		cmocka_unit_test(event_below_level_skipped),
		cmocka_unit_test(event_debug_level_writes_all),
		cmocka_unit_test(event_long_line_cut),
		cmocka_unit_test(event_raw_newline_kept_on_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
