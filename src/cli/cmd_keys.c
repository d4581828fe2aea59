/* The KeyAdmin commands: keys list, generate, rotate, retire, destroy. */
#include <stdlib.h>
#include <string.h>

#include "hsmjwt.pb-c.h"
#include "cli.h"

#define LIST_KEYS_METHOD "/hsmjwt.v1.KeyAdmin/ListKeys"
#define GENERATE_KEY_METHOD "/hsmjwt.v1.KeyAdmin/GenerateKey"
#define ROTATE_KEY_METHOD "/hsmjwt.v1.KeyAdmin/RotateKey"
#define RETIRE_KEY_METHOD "/hsmjwt.v1.KeyAdmin/RetireKey"
#define DESTROY_KEY_METHOD "/hsmjwt.v1.KeyAdmin/DestroyKey"

#define KEY_OUTPUT_HELP \
"Output: the key's kid, alg, state, times (UTC, ISO 8601; - when not set),\n" \
"PKCS#11 URI and public JWK. With --json: the Key fields {\"kid\", \"alg\",\n" \
"\"state\", \"created_at\", \"activate_at\", \"retire_at\", \"unpublish_at\",\n" \
"\"public_jwk_json\", \"pkcs11_uri\"}, times in Unix seconds.\n"

#define KID_DASH_HELP \
"A kid is base64url text and may start with '-'; put '--' before such a KID.\n"

static const char list_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys list\n"
"\n"
"Lists the service's keys with their states: pending (published, not yet\n"
"signing), active (signing), retired (published until its tokens expire) and\n"
"expired (unpublished; may be destroyed).\n"
"\n"
"Options:\n"
"  -h, --help   print this help and exit\n"
"\n"
"Output: a table of kid, alg, state and the created, activate, retire and\n"
"unpublish times (UTC, ISO 8601; - when not set). With --json:\n"
"{\"keys\": [Key, ...]}, each Key as in 'hsmjwt keys generate --help'.\n";

static const char generate_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys generate --alg ALG [--activate-at UNIX_SECONDS]\n"
"\n"
"Generates a key inside the token. It is published at once and signs from\n"
"its activation time.\n"
"\n"
"Options:\n"
"  --alg ALG                    key algorithm: a JWS algorithm (ES256, RS256,\n"
"                               PS256, ...) or a JWE key management algorithm\n"
"                               (RSA-OAEP, ECDH-ES+A256KW, ...); required\n"
"  --activate-at UNIX_SECONDS   activation time in Unix seconds; a past time\n"
"                               activates the key at once (default 0: now plus\n"
"                               the configured keys.pre_publish delay)\n"
"  -h, --help                   print this help and exit\n"
"\n"
KEY_OUTPUT_HELP;

static const char rotate_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys rotate --alg ALG\n"
"\n"
"Schedules a new key of the algorithm and the retirement of the current one.\n"
"\n"
"Options:\n"
"  --alg ALG    algorithm whose key to rotate (ES256, RS256, ...); required\n"
"  -h, --help   print this help and exit\n"
"\n"
KEY_OUTPUT_HELP
"The key printed is the new one.\n";

static const char retire_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys retire [--now] [--] KID\n"
"\n"
"Retires the key KID so that it no longer signs. The service rejects the\n"
"active key without --now; 'hsmjwt keys rotate' replaces it on schedule.\n"
KID_DASH_HELP
"\n"
"Options:\n"
"  --now        retire and unpublish the key immediately, for a compromised\n"
"               key: tokens that it signed stop verifying, and another key of\n"
"               its algorithm signs at once\n"
"  -h, --help   print this help and exit\n"
"\n"
KEY_OUTPUT_HELP;

static const char destroy_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] keys destroy [--] KID\n"
"\n"
"Deletes the expired key KID from the token. The service rejects any other\n"
"state with FAILED_PRECONDITION.\n"
KID_DASH_HELP
"\n"
"Options:\n"
"  -h, --help   print this help and exit\n"
"\n"
"Output: \"destroyed KID\". With --json: {} (the reply has no fields).\n";

static const char *
key_state_name(Hsmjwt__V1__KeyState state)
{
	switch (state) {
	case HSMJWT__V1__KEY_STATE__KEY_STATE_PENDING: return "pending";
	case HSMJWT__V1__KEY_STATE__KEY_STATE_ACTIVE: return "active";
	case HSMJWT__V1__KEY_STATE__KEY_STATE_RETIRED: return "retired";
	case HSMJWT__V1__KEY_STATE__KEY_STATE_EXPIRED: return "expired";
	default: break;
	}
	return "unspecified";
}

static json_t *
key_to_json(const Hsmjwt__V1__Key *key)
{
	json_t *obj = json_object();

	if (obj == NULL ||
	    !cli_json_set_string(obj, "kid", key->kid) ||
	    !cli_json_set_string(obj, "alg", key->alg) ||
	    !cli_json_set_string(obj, "state", key_state_name(key->state)) ||
	    !cli_json_set_integer(obj, "created_at", key->created_at) ||
	    !cli_json_set_integer(obj, "activate_at", key->activate_at) ||
	    !cli_json_set_integer(obj, "retire_at", key->retire_at) ||
	    !cli_json_set_integer(obj, "unpublish_at", key->unpublish_at) ||
	    !cli_json_set_string(obj, "public_jwk_json", key->public_jwk_json) ||
	    !cli_json_set_string(obj, "pkcs11_uri", key->pkcs11_uri)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Prints one key as "name: value" lines. */
static int
key_print(const struct cli *cli, const struct cli_command *cmd, const Hsmjwt__V1__Key *key)
{
	char created[CLI_TIME_SIZE], activate[CLI_TIME_SIZE];
	char retire[CLI_TIME_SIZE], unpublish[CLI_TIME_SIZE];

	if (cli->json)
		return cli_json_print(cmd->name, key_to_json(key));

	cli_format_time(key->created_at, created, sizeof(created));
	cli_format_time(key->activate_at, activate, sizeof(activate));
	cli_format_time(key->retire_at, retire, sizeof(retire));
	cli_format_time(key->unpublish_at, unpublish, sizeof(unpublish));
	printf("kid:        %s\nalg:        %s\nstate:      %s\n"
	    "created:    %s\nactivate:   %s\nretire:     %s\nunpublish:  %s\n"
	    "pkcs11_uri: %s\npublic_jwk: %s\n",
	    key->kid, key->alg, key_state_name(key->state),
	    created, activate, retire, unpublish, key->pkcs11_uri, key->public_jwk_json);
	return cli_flush_stdout(cmd->name);
}

/* Calls a KeyAdmin method whose reply is a Key, and prints the key. */
static int
key_call(const struct cli *cli, const struct cli_command *cmd, const char *method,
    const ProtobufCMessage *req)
{
	ProtobufCMessage *msg = NULL;
	int status;

	status = cli_invoke(cli, &cli->admin, cmd->name, method, req,
	    &hsmjwt__v1__key__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		return status;
	status = key_print(cli, cmd, (Hsmjwt__V1__Key *)msg);
	protobuf_c_message_free_unpacked(msg, NULL);
	return status;
}

static int
list_print_json(const struct cli_command *cmd, const Hsmjwt__V1__ListKeysResponse *resp)
{
	json_t *obj = json_object(), *keys = json_array();
	size_t i;

	if (obj == NULL || json_object_set_new(obj, "keys", keys) != 0) {
		json_decref(obj);
		return cli_json_print(cmd->name, NULL);
	}
	for (i = 0; i < resp->n_keys; i++) {
		if (json_array_append_new(keys, key_to_json(resp->keys[i])) != 0) {
			json_decref(obj);
			return cli_json_print(cmd->name, NULL);
		}
	}
	return cli_json_print(cmd->name, obj);
}

static int
list_print_table(const struct cli_command *cmd, const Hsmjwt__V1__ListKeysResponse *resp)
{
	char times[4][CLI_TIME_SIZE];
	int kid_width = 3;
	const Hsmjwt__V1__Key *key;
	size_t i;

	for (i = 0; i < resp->n_keys; i++) {
		if (strlen(resp->keys[i]->kid) > (size_t)kid_width)
			kid_width = (int)strlen(resp->keys[i]->kid);
	}
	printf("%-*s  %-14s  %-7s  %-20s  %-20s  %-20s  %s\n", kid_width, "KID", "ALG",
	    "STATE", "CREATED", "ACTIVATE", "RETIRE", "UNPUBLISH");
	for (i = 0; i < resp->n_keys; i++) {
		key = resp->keys[i];
		cli_format_time(key->created_at, times[0], sizeof(times[0]));
		cli_format_time(key->activate_at, times[1], sizeof(times[1]));
		cli_format_time(key->retire_at, times[2], sizeof(times[2]));
		cli_format_time(key->unpublish_at, times[3], sizeof(times[3]));
		printf("%-*s  %-14s  %-7s  %-20s  %-20s  %-20s  %s\n", kid_width, key->kid,
		    key->alg, key_state_name(key->state), times[0], times[1], times[2], times[3]);
	}
	return cli_flush_stdout(cmd->name);
}

static int
cmd_keys_list(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__ListKeysRequest req = HSMJWT__V1__LIST_KEYS_REQUEST__INIT;
	Hsmjwt__V1__ListKeysResponse *resp;
	ProtobufCMessage *msg = NULL;
	int status;

	status = cli_parse(cmd, argc, argv, NULL, 0, NULL, NULL);
	if (status >= 0)
		return status;
	status = cli_invoke(cli, &cli->admin, cmd->name, LIST_KEYS_METHOD, &req.base,
	    &hsmjwt__v1__list_keys_response__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		return status;

	resp = (Hsmjwt__V1__ListKeysResponse *)msg;
	if (cli->json)
		status = list_print_json(cmd, resp);
	else
		status = list_print_table(cmd, resp);
	protobuf_c_message_free_unpacked(msg, NULL);
	return status;
}

static int
cmd_keys_generate(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__GenerateKeyRequest req = HSMJWT__V1__GENERATE_KEY_REQUEST__INIT;
	const char *alg = NULL;
	int64_t activate_at = 0;
	const struct cli_opt opts[] = {
		{ "alg", CLI_OPT_STRING, &alg },
		{ "activate-at", CLI_OPT_INT64, &activate_at },
	};
	int status;

	status = cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), NULL, NULL);
	if (status >= 0)
		return status;
	if (alg == NULL)
		return cli_usage_error(cmd->name, "missing --alg ALG");

	req.alg = (char *)alg;
	req.activate_at = activate_at;
	return key_call(cli, cmd, GENERATE_KEY_METHOD, &req.base);
}

static int
cmd_keys_rotate(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__RotateKeyRequest req = HSMJWT__V1__ROTATE_KEY_REQUEST__INIT;
	const char *alg = NULL;
	const struct cli_opt opts[] = {
		{ "alg", CLI_OPT_STRING, &alg },
	};
	int status;

	status = cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), NULL, NULL);
	if (status >= 0)
		return status;
	if (alg == NULL)
		return cli_usage_error(cmd->name, "missing --alg ALG");

	req.alg = (char *)alg;
	return key_call(cli, cmd, ROTATE_KEY_METHOD, &req.base);
}

static int
cmd_keys_retire(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__RetireKeyRequest req = HSMJWT__V1__RETIRE_KEY_REQUEST__INIT;
	const char *kid = NULL;
	bool now = false;
	const struct cli_opt opts[] = {
		{ "now", CLI_OPT_FLAG, &now },
	};
	int status;

	status = cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), "KID", &kid);
	if (status >= 0)
		return status;

	req.kid = (char *)kid;
	req.immediately = now;
	return key_call(cli, cmd, RETIRE_KEY_METHOD, &req.base);
}

static int
cmd_keys_destroy(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__DestroyKeyRequest req = HSMJWT__V1__DESTROY_KEY_REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	const char *kid = NULL;
	int status;

	status = cli_parse(cmd, argc, argv, NULL, 0, "KID", &kid);
	if (status >= 0)
		return status;

	req.kid = (char *)kid;
	status = cli_invoke(cli, &cli->admin, cmd->name, DESTROY_KEY_METHOD, &req.base,
	    &hsmjwt__v1__destroy_key_response__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		return status;
	protobuf_c_message_free_unpacked(msg, NULL);

	if (cli->json)
		return cli_json_print(cmd->name, json_object());
	printf("destroyed %s\n", kid);
	return cli_flush_stdout(cmd->name);
}

const struct cli_command cli_keys_commands[] = {
	{ "keys list", cmd_keys_list, list_help },
	{ "keys generate", cmd_keys_generate, generate_help },
	{ "keys rotate", cmd_keys_rotate, rotate_help },
	{ "keys retire", cmd_keys_retire, retire_help },
	{ "keys destroy", cmd_keys_destroy, destroy_help },
};
const size_t cli_keys_command_count = CLI_COUNT(cli_keys_commands);
