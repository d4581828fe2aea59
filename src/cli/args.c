#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* getopt_long values of table options start here, above every short option. */
#define CLI_OPT_VAL_BASE 256

int
cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	if (command != NULL)
		fprintf(stderr, "%s: %s: ", CLI_PROGRAM, command);
	else
		fprintf(stderr, "%s: ", CLI_PROGRAM);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (command != NULL)
		fprintf(stderr, "\nTry '%s %s --help'.\n", CLI_PROGRAM, command);
	else
		fprintf(stderr, "\nTry '%s --help'.\n", CLI_PROGRAM);
	return CLI_EXIT_USAGE;
}

bool
cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *valuep)
{
	const char *digits = text[0] == '-' && min < 0 ? text + 1 : text;
	char *end = NULL;
	long long value;

	*valuep = 0;
	if (!isdigit((unsigned char)digits[0]))
		return false;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || value < min || value > max)
		return false;

	*valuep = value;
	return true;
}

void
cli_strings_free(struct cli_strings *strings)
{
	free(strings->items);
	strings->items = NULL;
	strings->count = 0;
}

static int
cli_strings_push(const char *command, struct cli_strings *strings, const char *value)
{
	const char **items;

	items = realloc(strings->items, (strings->count + 1) * sizeof(*items));
	if (items == NULL) {
		cli_error(command, "out of memory");
		return CLI_EXIT_FAIL;
	}
	items[strings->count++] = value;
	strings->items = items;
	return -1;
}

static int
cli_opt_store_number(const char *command, const struct cli_opt *opt, const char *value)
{
	int64_t max = opt->kind == CLI_OPT_UINT32 ? UINT32_MAX : INT64_MAX;
	int64_t number;

	if (!cli_parse_int64(value, 0, max, &number))
		return cli_usage_error(command, "--%s: '%.64s' is not a whole number "
		    "from 0 to %lld", opt->name, value, (long long)max);
	if (opt->kind == CLI_OPT_UINT32)
		*(uint32_t *)opt->dest = (uint32_t)number;
	else
		*(int64_t *)opt->dest = number;
	return -1;
}

/* Stores the value of one option. Returns -1 to go on, else an exit status. */
static int
cli_opt_store(const char *command, const struct cli_opt *opt, const char *value)
{
	switch (opt->kind) {
	case CLI_OPT_STRING:
		*(const char **)opt->dest = value;
		return -1;
	case CLI_OPT_STRINGS:
		return cli_strings_push(command, opt->dest, value);
	case CLI_OPT_FLAG:
		*(bool *)opt->dest = true;
		return -1;
	case CLI_OPT_UINT32:
	case CLI_OPT_INT64:
		return cli_opt_store_number(command, opt, value);
	}
	return -1;
}

static struct option *
cli_longopts_build(const struct cli_opt *opts, size_t opt_count)
{
	struct option *longopts;
	size_t i;

	longopts = calloc(opt_count + 2, sizeof(*longopts));
	if (longopts == NULL)
		return NULL;
	for (i = 0; i < opt_count; i++) {
		longopts[i].name = opts[i].name;
		longopts[i].has_arg = opts[i].kind == CLI_OPT_FLAG ? no_argument : required_argument;
		longopts[i].val = CLI_OPT_VAL_BASE + (int)i;
	}
	longopts[opt_count] = (struct option){ "help", no_argument, NULL, 'h' };
	return longopts;
}

/*
 * Reports the option that getopt_long rejected: c is ':' for a missing
 * value, '?' for an unknown option or a value given to a flag. The text
 * after '=' of an unknown option is left out of the message. A kid or token
 * may start with '-', so an unknown option of a command that takes one gets
 * a hint to put it after "--".
 */
static int
cli_opt_reject(const struct cli_command *cmd, int c, char **argv,
    const struct cli_opt *opts, size_t opt_count, const char *positional_name)
{
	const char *text = argv[optind - 1];
	char name[64];
	size_t index;

	if (optopt >= CLI_OPT_VAL_BASE && (size_t)(optopt - CLI_OPT_VAL_BASE) < opt_count) {
		index = (size_t)(optopt - CLI_OPT_VAL_BASE);
		if (c == ':')
			return cli_usage_error(cmd->name, "option --%s requires a value",
			    opts[index].name);
		return cli_usage_error(cmd->name, "option --%s takes no value", opts[index].name);
	}
	if (optopt == 'h')
		return cli_usage_error(cmd->name, "option --help takes no value");

	if (optopt != 0)
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(text, "="), text);
	if (positional_name == NULL)
		return cli_usage_error(cmd->name, "unknown option %s", name);
	return cli_usage_error(cmd->name, "unknown option %s; a %s that starts with '-' "
	    "goes after '--', as in 'hsmjwt %s -- %s'", name, positional_name, cmd->name,
	    positional_name);
}

static int
cli_parse_positional(const struct cli_command *cmd, int count, char **args,
    const char *positional_name, const char **positionalp)
{
	if (positional_name == NULL && count > 0)
		return cli_usage_error(cmd->name, "unexpected argument; '%s' takes none",
		    cmd->name);
	if (positional_name == NULL)
		return -1;
	if (count == 0)
		return cli_usage_error(cmd->name, "missing %s", positional_name);
	if (count > 1)
		return cli_usage_error(cmd->name, "too many arguments; '%s' takes one %s",
		    cmd->name, positional_name);
	*positionalp = args[0];
	return -1;
}

int
cli_parse(const struct cli_command *cmd, int argc, char **argv,
    const struct cli_opt *opts, size_t opt_count,
    const char *positional_name, const char **positionalp)
{
	struct option *longopts;
	int c, status = -1;

	if (positionalp != NULL)
		*positionalp = NULL;
	longopts = cli_longopts_build(opts, opt_count);
	if (longopts == NULL) {
		cli_error(cmd->name, "out of memory");
		return CLI_EXIT_FAIL;
	}

	/* optind 0 makes glibc reinitialize getopt for this argv. */
	optind = 0;
	opterr = 0;
	while (status < 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(cmd->help, stdout);
			status = CLI_EXIT_OK;
		} else if (c == ':' || c == '?') {
			status = cli_opt_reject(cmd, c, argv, opts, opt_count,
			    positional_name);
		} else {
			status = cli_opt_store(cmd->name, &opts[c - CLI_OPT_VAL_BASE], optarg);
		}
	}
	free(longopts);

	if (status >= 0)
		return status;
	return cli_parse_positional(cmd, argc - optind, argv + optind,
	    positional_name, positionalp);
}
