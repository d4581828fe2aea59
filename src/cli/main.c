/*
 * hsmjwt: the command-line client of hsmjwtd. It parses the global options,
 * finds the command and runs it. Each command makes one gRPC call.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "cli.h"

static const char program_help[] =
"Usage: hsmjwt [--server ADDR] [--admin ADDR] [--json] [--timeout SECONDS]\n"
"              COMMAND [OPTIONS] [ARGUMENT]\n"
"\n"
"Client of the hsmjwtd token service: signs and checks tokens through\n"
"TokenService, and manages keys through KeyAdmin.\n"
"\n"
"Commands:\n"
"  sign               sign a claim set and print the token\n"
"  verify TOKEN       check a token that the service issued\n"
"  decrypt TOKEN      decrypt a JWE addressed to one of the service's keys\n"
"  jwks               print the JWK Set that verifiers use\n"
"  keys list          list the keys with their states and times\n"
"  keys generate      generate a key (--alg ALG)\n"
"  keys rotate        schedule a new key and the retirement of the current one\n"
"  keys retire KID    retire a key\n"
"  keys destroy KID   delete an expired key from the token\n"
"\n"
"Global options (before COMMAND):\n"
"  --server ADDR        TokenService address, HOST:PORT or unix:PATH\n"
"                       (default: $HSMJWT_SERVER, else " CLI_DEFAULT_SERVER ")\n"
"  --admin ADDR         KeyAdmin address for the keys commands\n"
"                       (default: $HSMJWT_ADMIN, else " CLI_DEFAULT_ADMIN ")\n"
"  --json               print the reply as one JSON object whose members are\n"
"                       the reply's fields, named as in the .proto file\n"
"  --timeout SECONDS    deadline of the call in seconds, 1 to 86400 (default 10)\n"
"  --version            print the version and exit\n"
"  -h, --help           print this help and exit\n"
"\n"
"The client speaks plaintext gRPC, which hsmjwtd serves on loopback addresses\n"
"and unix sockets.\n"
"\n"
"Exit status: 0 on success; 1 when the service rejects the request, the call\n"
"fails or verify finds the token invalid; 2 on a usage error.\n"
"Run 'hsmjwt COMMAND --help' for the options of a command.\n";

static const char keys_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys SUBCOMMAND [OPTIONS] [KID]\n"
"\n"
"Manages the service's keys through KeyAdmin, at the --admin address.\n"
"\n"
"Subcommands:\n"
"  list                 list the keys\n"
"  generate --alg ALG   generate a key; --activate-at UNIX_SECONDS sets when\n"
"                       it starts signing\n"
"  rotate --alg ALG     schedule a new key and the retirement of the current one\n"
"  retire [--now] KID   retire a key\n"
"  destroy KID          delete an expired key from the token\n"
"\n"
"Run 'hsmjwt keys SUBCOMMAND --help' for the options of a subcommand.\n";

enum {
	OPT_SERVER = 256,
	OPT_ADMIN,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERSION,
};

static const struct option global_options[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "admin", required_argument, NULL, OPT_ADMIN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *
env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value != NULL && value[0] != '\0' ? value : fallback;
}

static void
cli_defaults(struct cli *cli)
{
	memset(cli, 0, sizeof(*cli));
	cli->server = (struct cli_target){
		env_or("HSMJWT_SERVER", CLI_DEFAULT_SERVER), "--server", "HSMJWT_SERVER",
	};
	cli->admin = (struct cli_target){
		env_or("HSMJWT_ADMIN", CLI_DEFAULT_ADMIN), "--admin", "HSMJWT_ADMIN",
	};
	cli->timeout_seconds = CLI_DEFAULT_TIMEOUT_SECONDS;
}

/* Reports an option that getopt_long rejected, where c is ':' or '?'. */
static int
global_option_reject(int c, char **argv)
{
	const char *text = argv[optind - 1];
	const struct option *o;

	for (o = global_options; o->name != NULL; o++) {
		if (optopt == o->val && c == ':')
			return cli_usage_error(NULL, "option --%s requires a value", o->name);
		if (optopt == o->val)
			return cli_usage_error(NULL, "option --%s takes no value", o->name);
	}
	if (optopt != 0)
		return cli_usage_error(NULL, "unknown option -%c", optopt);
	return cli_usage_error(NULL, "unknown option %.*s", (int)strcspn(text, "="), text);
}

static int
global_option_store(struct cli *cli, int c, const char *value)
{
	int64_t seconds;

	switch (c) {
	case OPT_SERVER:
		cli->server.address = value;
		return -1;
	case OPT_ADMIN:
		cli->admin.address = value;
		return -1;
	case OPT_JSON:
		cli->json = true;
		return -1;
	case OPT_TIMEOUT:
		if (!cli_parse_int64(value, 1, CLI_MAX_TIMEOUT_SECONDS, &seconds))
			return cli_usage_error(NULL, "--timeout: '%.64s' is not a whole "
			    "number of seconds from 1 to %d", value, CLI_MAX_TIMEOUT_SECONDS);
		cli->timeout_seconds = (long)seconds;
		return -1;
	case OPT_VERSION:
		printf("hsmjwt %s\n", HSMJWT_VERSION);
		return cli_flush_stdout(NULL);
	case 'h':
		fputs(program_help, stdout);
		return cli_flush_stdout(NULL);
	}
	return -1;
}

/*
 * Parses the options before the command. Returns -1 to go on, with optind
 * at the command, or the exit status to return.
 */
static int
global_parse(struct cli *cli, int argc, char **argv)
{
	int c, status = -1;

	optind = 0;
	opterr = 0;
	/* '+' stops at the command, whose own options follow it. */
	while (status < 0 && (c = getopt_long(argc, argv, "+:h", global_options, NULL)) != -1) {
		if (c == ':' || c == '?')
			status = global_option_reject(c, argv);
		else
			status = global_option_store(cli, c, optarg);
	}
	return status;
}

static const struct cli_command *
command_find(const struct cli_command *table, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	}
	return NULL;
}

/* Finds "keys SUBCOMMAND" for args = { "keys", SUBCOMMAND, ... }. */
static int
keys_find(int argc, char **argv, const struct cli_command **cmdp)
{
	char name[64];

	*cmdp = NULL;
	if (argc < 2)
		return cli_usage_error("keys", "missing subcommand: list, generate, rotate, "
		    "retire or destroy");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(keys_help, stdout);
		return cli_flush_stdout(NULL);
	}

	snprintf(name, sizeof(name), "keys %s", argv[1]);
	*cmdp = command_find(cli_keys_commands, cli_keys_command_count, name);
	if (*cmdp == NULL)
		return cli_usage_error("keys", "unknown subcommand '%.32s'; expected list, "
		    "generate, rotate, retire or destroy", argv[1]);
	return -1;
}

static int
command_run(const struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd;
	int status;

	if (argc == 0)
		return cli_usage_error(NULL, "missing command");
	if (strcmp(argv[0], "keys") == 0) {
		if ((status = keys_find(argc, argv, &cmd)) >= 0)
			return status;
		argc--;
		argv++;
	} else {
		cmd = command_find(cli_token_commands, cli_token_command_count, argv[0]);
		if (cmd == NULL)
			return cli_usage_error(NULL, "unknown command '%.32s'", argv[0]);
	}

	grpc_init();
	status = cmd->run(cli, cmd, argc, argv);
	grpc_shutdown();
	return status;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	int status;

	cli_defaults(&cli);
	status = global_parse(&cli, argc, argv);
	if (status >= 0)
		return status;
	return command_run(&cli, argc - optind, argv + optind);
}
