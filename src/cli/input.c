#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hsmjwt/buf.h"
#include "cli.h"

/* Appends the whole stream f to b, up to CLI_INPUT_MAX + 1 bytes. */
static hj_err
cli_input_read_stream(FILE *f, const char *source, const char *what,
    struct buf *b, struct hj_error *err)
{
	char chunk[4096];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf_append(b, chunk, n);
		if (b->len > CLI_INPUT_MAX)
			return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
			    "%s: %s is larger than %d bytes", what, source, CLI_INPUT_MAX);
	}
	if (ferror(f))
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s: cannot read %s: %s",
		    what, source, strerror(errno));
	return HJ_OK;
}

hj_err
cli_input_read_file(const char *path, const char *what, char **valuep,
    struct hj_error *err)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *source = is_stdin ? "stdin" : path;
	FILE *f = NULL;
	struct buf b;
	size_t len;
	hj_err r = HJ_ERR_INTERNAL;

	*valuep = NULL;
	buf_init(&b);
	f = is_stdin ? stdin : fopen(path, "rb");
	if (f == NULL) {
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT, "%s: cannot open %s: %s",
		    what, path, strerror(errno));
		goto out;
	}

	if ((r = cli_input_read_stream(f, source, what, &b, err)) != HJ_OK)
		goto out;
	if ((r = buf_finish(&b, valuep, &len)) != HJ_OK) {
		hj_error_set(err, r, "%s: out of memory reading %s", what, source);
		goto out;
	}
	if (memchr(*valuep, '\0', len) != NULL) {
		free(*valuep);
		*valuep = NULL;
		r = hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "%s: %s contains a NUL byte; expected text", what, source);
		goto out;
	}
	r = HJ_OK;
out:
	if (f != NULL && !is_stdin)
		fclose(f);
	buf_clear(&b);
	return r;
}

hj_err
cli_input_read(const char *arg, bool at_file, const char *what, char **valuep,
    struct hj_error *err)
{
	*valuep = NULL;
	if (strcmp(arg, "-") == 0)
		return cli_input_read_file("-", what, valuep, err);
	if (at_file && arg[0] == '@')
		return cli_input_read_file(arg + 1, what, valuep, err);

	*valuep = strdup(arg);
	if (*valuep == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "%s: out of memory", what);
	return HJ_OK;
}

void
cli_input_trim(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		s[--len] = '\0';
}
