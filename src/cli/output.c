#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void
cli_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	if (command != NULL)
		fprintf(stderr, "%s: %s: ", CLI_PROGRAM, command);
	else
		fprintf(stderr, "%s: ", CLI_PROGRAM);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_write_escaped(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			fputc(*p, f);
		else
			fprintf(f, "\\x%02x", *p);
	}
}

void
cli_format_time(int64_t seconds, char *out, size_t size)
{
	time_t t = (time_t)seconds;
	struct tm tm;

	if (seconds == 0) {
		snprintf(out, size, "-");
		return;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "@%lld", (long long)seconds);
}

bool
cli_json_set_string(json_t *obj, const char *name, const char *value)
{
	return json_object_set_new(obj, name, json_string(value)) == 0;
}

bool
cli_json_set_integer(json_t *obj, const char *name, int64_t value)
{
	return json_object_set_new(obj, name, json_integer((json_int_t)value)) == 0;
}

int
cli_flush_stdout(const char *command)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(command, "cannot write to stdout: %s", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cli_print_line(const char *command, const char *s)
{
	fputs(s, stdout);
	fputc('\n', stdout);
	return cli_flush_stdout(command);
}

int
cli_json_print(const char *command, json_t *obj)
{
	if (obj == NULL) {
		cli_error(command, "cannot build the JSON output: a reply field is not "
		    "valid UTF-8, or memory ran out");
		return CLI_EXIT_FAIL;
	}
	if (json_dumpf(obj, stdout, JSON_COMPACT) != 0) {
		json_decref(obj);
		cli_error(command, "cannot write the JSON output to stdout");
		return CLI_EXIT_FAIL;
	}
	json_decref(obj);
	fputc('\n', stdout);
	return cli_flush_stdout(command);
}
