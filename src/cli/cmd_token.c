/* The TokenService commands: sign, verify, decrypt, jwks. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hsmjwt.pb-c.h"
#include "cli.h"

#define SIGN_METHOD "/hsmjwt.v1.TokenService/Sign"
#define VERIFY_METHOD "/hsmjwt.v1.TokenService/Verify"
#define DECRYPT_METHOD "/hsmjwt.v1.TokenService/Decrypt"
#define GET_JWKS_METHOD "/hsmjwt.v1.TokenService/GetJwks"

static const char sign_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] sign [OPTIONS]\n"
"\n"
"Signs a claim set with the active key of a profile and prints the token: a\n"
"compact JWS, or a nested JWT (signed, then encrypted as a compact JWE) when\n"
"a recipient is given. The service sets iss, iat, exp and jti itself.\n"
"\n"
"Options:\n"
"  --profile NAME     token profile (default: the profile named \"default\")\n"
"  --claims JSON      claim set as one JSON object; @FILE reads it from FILE\n"
"                     and - from stdin (default: {})\n"
"  --ttl SECONDS      token lifetime in seconds, up to the profile's max_ttl\n"
"                     (default 0: the profile's ttl)\n"
"  --aud AUD          audience (the aud claim); repeat for several\n"
"  --encrypt-to FILE  encrypt to the public JWK in FILE (- reads stdin); the\n"
"                     JWK travels inline with the request\n"
"  --recipient NAME   encrypt to a recipient named in the daemon's config\n"
"  --enc-alg ALG      JWE key management algorithm (RSA-OAEP-256,\n"
"                     ECDH-ES+A256KW, ...); required with a recipient\n"
"  --enc ENC          JWE content encryption algorithm (A256GCM, ...);\n"
"                     required with a recipient\n"
"  -h, --help         print this help and exit\n"
"\n"
"Output: the token alone on one line. With --json: {\"token\", \"kid\", \"alg\",\n"
"\"issued_at\", \"expires_at\", \"jti\"}, times in Unix seconds.\n";

static const char verify_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] verify [OPTIONS] TOKEN\n"
"\n"
"Asks the service to check a compact JWS that it issued: signature, key,\n"
"times and, when given, audience and profile. TOKEN - reads the token from\n"
"stdin.\n"
"\n"
"Options:\n"
"  --audience AUD   require this audience in the aud claim\n"
"  --profile NAME   require the token to match this profile\n"
"  -h, --help       print this help and exit\n"
"\n"
"Output: \"valid\" with the kid, alg and claims, exit status 0; or\n"
"\"invalid: REASON\", exit status 1. With --json: {\"valid\", \"reason\",\n"
"\"claims_json\", \"kid\", \"alg\"}.\n";

static const char decrypt_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] decrypt TOKEN\n"
"\n"
"Asks the service to decrypt a compact JWE addressed to one of its own keys.\n"
"TOKEN - reads the JWE from stdin.\n"
"\n"
"Options:\n"
"  -h, --help   print this help and exit\n"
"\n"
"Output: the plaintext bytes exactly, with no newline added. With --json:\n"
"{\"plaintext\" (standard base64), \"protected_header_json\", \"kid\"}.\n";

static const char jwks_help[] =
"Usage: hsmjwt [GLOBAL OPTIONS] jwks\n"
"\n"
"Prints the JWK Set that verifiers use, as the service returns it.\n"
"\n"
"Options:\n"
"  -h, --help   print this help and exit\n"
"\n"
"Output: the JWK Set JSON as the service returns it. With --json:\n"
"{\"jwks_json\"}, the JWK Set as a JSON string.\n";

struct sign_args {
	const char *profile;
	const char *claims;
	uint32_t ttl;
	struct cli_strings audience;
	const char *encrypt_to;
	const char *recipient;
	const char *enc_alg;
	const char *enc;
};

/* Frees a token or plaintext after cleansing it: both are bearer secrets. */
static void
cli_secret_free(void *data, size_t len)
{
	if (data != NULL)
		OPENSSL_clear_free(data, len);
}

static char *
cli_or_empty(const char *s)
{
	return (char *)(s != NULL ? s : protobuf_c_empty_string);
}

static bool
sign_reads_stdin(const char *arg, bool at_file)
{
	return arg != NULL && (strcmp(arg, "-") == 0 || (at_file && strcmp(arg, "@-") == 0));
}

static int
sign_check_args(const struct cli_command *cmd, const struct sign_args *a)
{
	bool encrypt = a->encrypt_to != NULL || a->recipient != NULL;

	if (a->encrypt_to != NULL && a->recipient != NULL)
		return cli_usage_error(cmd->name, "--encrypt-to and --recipient both name "
		    "the recipient; give only one");
	if (!encrypt && (a->enc_alg != NULL || a->enc != NULL))
		return cli_usage_error(cmd->name, "--enc-alg and --enc need a recipient; "
		    "add --encrypt-to FILE or --recipient NAME");
	if (encrypt && (a->enc_alg == NULL || a->enc == NULL))
		return cli_usage_error(cmd->name, "missing --enc-alg or --enc; both are "
		    "required with --encrypt-to or --recipient");
	if (sign_reads_stdin(a->claims, true) && sign_reads_stdin(a->encrypt_to, false))
		return cli_usage_error(cmd->name, "--claims and --encrypt-to cannot both "
		    "read stdin");
	return -1;
}

static json_t *
sign_to_json(const Hsmjwt__V1__SignResponse *resp)
{
	json_t *obj = json_object();

	if (obj == NULL ||
	    !cli_json_set_string(obj, "token", resp->token) ||
	    !cli_json_set_string(obj, "kid", resp->kid) ||
	    !cli_json_set_string(obj, "alg", resp->alg) ||
	    !cli_json_set_integer(obj, "issued_at", resp->issued_at) ||
	    !cli_json_set_integer(obj, "expires_at", resp->expires_at) ||
	    !cli_json_set_string(obj, "jti", resp->jti)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Calls Sign with req and prints the reply. */
static int
sign_call(const struct cli *cli, const struct cli_command *cmd,
    const Hsmjwt__V1__SignRequest *req)
{
	Hsmjwt__V1__SignResponse *resp;
	ProtobufCMessage *msg = NULL;
	int status;

	status = cli_invoke(cli, &cli->server, cmd->name, SIGN_METHOD, &req->base,
	    &hsmjwt__v1__sign_response__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		return status;

	resp = (Hsmjwt__V1__SignResponse *)msg;
	if (cli->json)
		status = cli_json_print(cmd->name, sign_to_json(resp));
	else
		status = cli_print_line(cmd->name, resp->token);
	OPENSSL_cleanse(resp->token, strlen(resp->token));
	protobuf_c_message_free_unpacked(msg, NULL);
	return status;
}

static int
sign_run(const struct cli *cli, const struct cli_command *cmd, const struct sign_args *a)
{
	Hsmjwt__V1__SignRequest req = HSMJWT__V1__SIGN_REQUEST__INIT;
	Hsmjwt__V1__Encryption enc = HSMJWT__V1__ENCRYPTION__INIT;
	struct hj_error err = { 0 };
	char *claims = NULL, *jwk = NULL;
	int status = CLI_EXIT_FAIL;

	if (cli_input_read(a->claims != NULL ? a->claims : "{}", true, "--claims",
	    &claims, &err) != HJ_OK ||
	    (a->encrypt_to != NULL &&
	    cli_input_read_file(a->encrypt_to, "--encrypt-to", &jwk, &err) != HJ_OK)) {
		cli_error(cmd->name, "%s", err.message);
		goto out;
	}

	req.profile = cli_or_empty(a->profile);
	req.claims_json = claims;
	req.ttl_seconds = a->ttl;
	req.n_audience = a->audience.count;
	req.audience = (char **)a->audience.items;
	if (a->encrypt_to != NULL || a->recipient != NULL) {
		enc.recipient = cli_or_empty(a->recipient);
		enc.recipient_jwk_json = cli_or_empty(jwk);
		enc.alg = cli_or_empty(a->enc_alg);
		enc.enc = cli_or_empty(a->enc);
		req.encryption = &enc;
	}
	status = sign_call(cli, cmd, &req);
out:
	free(claims);
	free(jwk);
	return status;
}

static int
cmd_sign(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	struct sign_args a = { 0 };
	const struct cli_opt opts[] = {
		{ "profile", CLI_OPT_STRING, &a.profile },
		{ "claims", CLI_OPT_STRING, &a.claims },
		{ "ttl", CLI_OPT_UINT32, &a.ttl },
		{ "aud", CLI_OPT_STRINGS, &a.audience },
		{ "encrypt-to", CLI_OPT_STRING, &a.encrypt_to },
		{ "recipient", CLI_OPT_STRING, &a.recipient },
		{ "enc-alg", CLI_OPT_STRING, &a.enc_alg },
		{ "enc", CLI_OPT_STRING, &a.enc },
	};
	int status;

	status = cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), NULL, NULL);
	if (status < 0)
		status = sign_check_args(cmd, &a);
	if (status < 0)
		status = sign_run(cli, cmd, &a);
	cli_strings_free(&a.audience);
	return status;
}

/* Reads TOKEN ("-": stdin) into *tokenp. Returns -1 to go on, else an exit status. */
static int
token_read(const struct cli_command *cmd, const char *arg, char **tokenp)
{
	struct hj_error err = { 0 };

	if (cli_input_read(arg, false, "TOKEN", tokenp, &err) != HJ_OK) {
		cli_error(cmd->name, "%s", err.message);
		return CLI_EXIT_FAIL;
	}
	cli_input_trim(*tokenp);
	return -1;
}

static json_t *
verify_to_json(const Hsmjwt__V1__VerifyResponse *resp)
{
	json_t *obj = json_object();

	if (obj == NULL ||
	    json_object_set_new(obj, "valid", json_boolean(resp->valid)) != 0 ||
	    !cli_json_set_string(obj, "reason", resp->reason) ||
	    !cli_json_set_string(obj, "claims_json", resp->claims_json) ||
	    !cli_json_set_string(obj, "kid", resp->kid) ||
	    !cli_json_set_string(obj, "alg", resp->alg)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* Prints a Verify reply. A token found invalid makes the exit status 1. */
static int
verify_print(const struct cli *cli, const struct cli_command *cmd,
    const Hsmjwt__V1__VerifyResponse *resp)
{
	int status;

	if (cli->json) {
		status = cli_json_print(cmd->name, verify_to_json(resp));
	} else if (resp->valid) {
		printf("valid\nkid: %s\nalg: %s\nclaims: %s\n",
		    resp->kid, resp->alg, resp->claims_json);
		status = cli_flush_stdout(cmd->name);
	} else {
		printf("invalid: %s\n", resp->reason);
		status = cli_flush_stdout(cmd->name);
	}
	if (status == CLI_EXIT_OK && !resp->valid)
		status = CLI_EXIT_FAIL;
	return status;
}

static int
cmd_verify(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__VerifyRequest req = HSMJWT__V1__VERIFY_REQUEST__INIT;
	const char *audience = NULL, *profile = NULL, *token_arg = NULL;
	const struct cli_opt opts[] = {
		{ "audience", CLI_OPT_STRING, &audience },
		{ "profile", CLI_OPT_STRING, &profile },
	};
	ProtobufCMessage *msg = NULL;
	char *token = NULL;
	int status;

	status = cli_parse(cmd, argc, argv, opts, CLI_COUNT(opts), "TOKEN", &token_arg);
	if (status < 0)
		status = token_read(cmd, token_arg, &token);
	if (status >= 0)
		goto out;

	req.token = token;
	req.audience = cli_or_empty(audience);
	req.profile = cli_or_empty(profile);
	status = cli_invoke(cli, &cli->server, cmd->name, VERIFY_METHOD, &req.base,
	    &hsmjwt__v1__verify_response__descriptor, &msg);
	if (status == CLI_EXIT_OK)
		status = verify_print(cli, cmd, (Hsmjwt__V1__VerifyResponse *)msg);
out:
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
	cli_secret_free(token, token != NULL ? strlen(token) : 0);
	return status;
}

/* Encodes data as standard base64 with padding, as the proto3 JSON mapping does for bytes. */
static json_t *
decrypt_base64(const uint8_t *data, size_t len)
{
	size_t size = 4 * ((len + 2) / 3) + 1;
	unsigned char *text;
	json_t *value;

	if (len > INT32_MAX / 2 || (text = malloc(size)) == NULL)
		return NULL;
	EVP_EncodeBlock(text, data, (int)len);
	value = json_string((const char *)text);
	cli_secret_free(text, size);
	return value;
}

static json_t *
decrypt_to_json(const Hsmjwt__V1__DecryptResponse *resp)
{
	json_t *obj = json_object();

	if (obj == NULL ||
	    json_object_set_new(obj, "plaintext",
	    decrypt_base64(resp->plaintext.data, resp->plaintext.len)) != 0 ||
	    !cli_json_set_string(obj, "protected_header_json", resp->protected_header_json) ||
	    !cli_json_set_string(obj, "kid", resp->kid)) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int
decrypt_print(const struct cli *cli, const struct cli_command *cmd,
    const Hsmjwt__V1__DecryptResponse *resp)
{
	if (cli->json)
		return cli_json_print(cmd->name, decrypt_to_json(resp));
	if (resp->plaintext.len > 0)
		fwrite(resp->plaintext.data, 1, resp->plaintext.len, stdout);
	return cli_flush_stdout(cmd->name);
}

static int
cmd_decrypt(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__DecryptRequest req = HSMJWT__V1__DECRYPT_REQUEST__INIT;
	Hsmjwt__V1__DecryptResponse *resp = NULL;
	const char *token_arg = NULL;
	ProtobufCMessage *msg = NULL;
	char *token = NULL;
	int status;

	status = cli_parse(cmd, argc, argv, NULL, 0, "TOKEN", &token_arg);
	if (status < 0)
		status = token_read(cmd, token_arg, &token);
	if (status >= 0)
		goto out;

	req.token = token;
	status = cli_invoke(cli, &cli->server, cmd->name, DECRYPT_METHOD, &req.base,
	    &hsmjwt__v1__decrypt_response__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		goto out;
	resp = (Hsmjwt__V1__DecryptResponse *)msg;
	status = decrypt_print(cli, cmd, resp);
	OPENSSL_cleanse(resp->plaintext.data, resp->plaintext.len);
out:
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
	cli_secret_free(token, token != NULL ? strlen(token) : 0);
	return status;
}

static int
cmd_jwks(const struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	Hsmjwt__V1__GetJwksRequest req = HSMJWT__V1__GET_JWKS_REQUEST__INIT;
	Hsmjwt__V1__GetJwksResponse *resp;
	ProtobufCMessage *msg = NULL;
	json_t *obj;
	int status;

	status = cli_parse(cmd, argc, argv, NULL, 0, NULL, NULL);
	if (status >= 0)
		return status;
	status = cli_invoke(cli, &cli->server, cmd->name, GET_JWKS_METHOD, &req.base,
	    &hsmjwt__v1__get_jwks_response__descriptor, &msg);
	if (status != CLI_EXIT_OK)
		return status;

	resp = (Hsmjwt__V1__GetJwksResponse *)msg;
	if (cli->json) {
		obj = json_object();
		if (obj != NULL && !cli_json_set_string(obj, "jwks_json", resp->jwks_json)) {
			json_decref(obj);
			obj = NULL;
		}
		status = cli_json_print(cmd->name, obj);
	} else {
		status = cli_print_line(cmd->name, resp->jwks_json);
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	return status;
}

const struct cli_command cli_token_commands[] = {
	{ "sign", cmd_sign, sign_help },
	{ "verify", cmd_verify, verify_help },
	{ "decrypt", cmd_decrypt, decrypt_help },
	{ "jwks", cmd_jwks, jwks_help },
};
const size_t cli_token_command_count = CLI_COUNT(cli_token_commands);
