/*
 * Internal interfaces of the hsmjwt command-line client: global options,
 * option parsing, the unary gRPC call and output helpers.
 *
 * Every command function returns an exit status: CLI_EXIT_OK, CLI_EXIT_FAIL
 * for a rejected request or a local failure, CLI_EXIT_USAGE for a usage error.
 */
#ifndef HSMJWT_CLI_H
#define HSMJWT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "hsmjwt/error.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,
	CLI_EXIT_USAGE = 2,
};

#define CLI_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define CLI_PROGRAM "hsmjwt"
#define CLI_DEFAULT_SERVER "127.0.0.1:50051"
#define CLI_DEFAULT_ADMIN "unix:/run/hsmjwt/admin.sock"
#define CLI_DEFAULT_TIMEOUT_SECONDS 10
/* Maximum --timeout in seconds (one day). A unary call that needs longer is stuck. */
#define CLI_MAX_TIMEOUT_SECONDS 86400
/*
 * Maximum size in bytes of a file or stdin input (claims, JWK, token).
 * The daemon rejects requests above 256 KiB, so larger input cannot succeed.
 */
#define CLI_INPUT_MAX (1024 * 1024)

/* A daemon address and how the user changes it, for error hints. */
struct cli_target {
	const char *address;
	const char *flag;           /* "--server" */
	const char *env;            /* "HSMJWT_SERVER" */
};

/* Global options, set before the command runs. */
struct cli {
	struct cli_target server;   /* TokenService */
	struct cli_target admin;    /* KeyAdmin */
	bool json;
	long timeout_seconds;
};

/* A command: its full name ("keys rotate"), its function and its help text. */
struct cli_command {
	const char *name;
	int (*run)(const struct cli *cli, const struct cli_command *cmd,
	    int argc, char **argv);
	const char *help;
};

/* --- args.c: table-driven option parsing --- */

enum cli_opt_kind {
	CLI_OPT_STRING,             /* const char *: the last value wins */
	CLI_OPT_STRINGS,            /* struct cli_strings: repeatable */
	CLI_OPT_UINT32,             /* uint32_t, decimal */
	CLI_OPT_INT64,              /* int64_t, decimal, not negative */
	CLI_OPT_FLAG,               /* bool, set to true */
};

/* Values of a repeatable option, pointing into argv. */
struct cli_strings {
	const char **items;
	size_t count;
};

struct cli_opt {
	const char *name;           /* long name without "--" */
	enum cli_opt_kind kind;
	void *dest;
};

/*
 * Parses the options of cmd from argv, where argv[0] is the command name and
 * options may follow the positional argument. When positional_name ("TOKEN")
 * is set, exactly one positional argument is required and stored in
 * *positionalp. Otherwise none is allowed. Returns -1 to go on, or the exit
 * status to return: CLI_EXIT_OK after printing the help of cmd for --help,
 * CLI_EXIT_USAGE after printing a usage error.
 */
int cli_parse(const struct cli_command *cmd, int argc, char **argv,
    const struct cli_opt *opts, size_t opt_count,
    const char *positional_name, const char **positionalp);

/* Frees the array of a repeatable option. */
void cli_strings_free(struct cli_strings *strings);

/*
 * Parses text as a decimal integer in [min, max] and stores it in *valuep.
 * Returns false for anything else: a sign where min is 0, spaces, trailing
 * characters, overflow.
 */
bool cli_parse_int64(const char *text, int64_t min, int64_t max, int64_t *valuep);

/*
 * Prints "hsmjwt: COMMAND: MESSAGE" (command may be NULL) and a hint to
 * --help on stderr, and returns CLI_EXIT_USAGE.
 */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- input.c: reading argument values from files and stdin --- */

/*
 * Reads the value of an option or argument that may name its source:
 * "-" reads stdin, "@FILE" (when at_file is true) reads FILE, anything else
 * is the value itself. what names the value in errors ("--claims").
 * *valuep is a NUL-terminated copy that the caller frees. File or stdin
 * input that contains a NUL byte or exceeds CLI_INPUT_MAX is rejected.
 */
hj_err cli_input_read(const char *arg, bool at_file, const char *what,
    char **valuep, struct hj_error *err);

/*
 * Reads the whole file at path ("-": stdin) into *valuep as above.
 */
hj_err cli_input_read_file(const char *path, const char *what, char **valuep,
    struct hj_error *err);

/* Removes trailing ASCII white space (a newline after a pasted token). */
void cli_input_trim(char *s);

/* --- call.c: unary calls --- */

/*
 * Calls method ("/hsmjwt.v1.TokenService/Sign") on target with request and
 * unpacks the reply as a message of type descriptor into *responsep, which
 * the caller frees with protobuf_c_message_free_unpacked(). On a non-OK
 * status, or a reply that does not unpack, prints
 * "hsmjwt: COMMAND: STATUS: message" with a hint and returns CLI_EXIT_FAIL.
 */
int cli_invoke(const struct cli *cli, const struct cli_target *target,
    const char *command, const char *method, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **responsep);

/* --- output.c --- */

/* Prints "hsmjwt: COMMAND: MESSAGE" on stderr. */
void cli_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes s to f with control and non-ASCII bytes escaped as \xNN. */
void cli_write_escaped(FILE *f, const char *s);

/*
 * Formats Unix seconds as UTC ISO 8601 ("2024-05-01T12:00:00Z") into out;
 * 0 becomes "-", which the API uses for "not set".
 */
void cli_format_time(int64_t seconds, char *out, size_t size);
#define CLI_TIME_SIZE 32

/*
 * Sets member name of obj to a JSON string (value must be UTF-8) or an
 * integer. Returns false, with obj unchanged, when jansson rejects it.
 */
bool cli_json_set_string(json_t *obj, const char *name, const char *value);
bool cli_json_set_integer(json_t *obj, const char *name, int64_t value);

/*
 * Prints obj as one line of compact JSON on stdout and releases it. A NULL
 * obj, which a failed build returns, prints an error instead. Returns the
 * exit status.
 */
int cli_json_print(const char *command, json_t *obj);

/* Writes s and a newline to stdout. Returns CLI_EXIT_FAIL when writing fails. */
int cli_print_line(const char *command, const char *s);

/* Flushes stdout. Returns CLI_EXIT_FAIL, after printing why, when writing failed. */
int cli_flush_stdout(const char *command);

/* --- commands: the tables that main.c dispatches on --- */

extern const struct cli_command cli_token_commands[];   /* sign, verify, decrypt, jwks */
extern const size_t cli_token_command_count;
extern const struct cli_command cli_keys_commands[];    /* keys list, ... */
extern const size_t cli_keys_command_count;

#endif
