#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/config.h"
#include "schema.h"
#include "yamltree.h"

/* Largest config file that config_load() reads. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Maximum length of a profile name, in bytes. */
#define CONFIG_PROFILE_NAME_MAX 64

/* Defaults of the optional keys. Durations are in seconds. */
#define CONFIG_DEFAULT_LISTEN_GRPC "127.0.0.1:50051"
#define CONFIG_DEFAULT_LISTEN_HTTP "127.0.0.1:8080"
#define CONFIG_DEFAULT_PRE_PUBLISH 3600
#define CONFIG_DEFAULT_REFRESH 10
#define CONFIG_DEFAULT_CLOCK_SKEW 60
#define CONFIG_DEFAULT_TTL 300
#define CONFIG_DEFAULT_MAX_TTL 3600

/* JWE key management algorithms that keys.decryption accepts. */
static const char *const config_decryption_algs[] = {
	"RSA-OAEP", "RSA-OAEP-256", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW",
};

/* Splits "host:port" or "[IPv6]:port" and copies the host without brackets. */
static bool
listen_split(const char *address, char *host, size_t host_size,
    const char **portp, bool *bracketedp)
{
	const char *start = address, *colon, *end;
	size_t len;

	*bracketedp = address[0] == '[';
	if (*bracketedp) {
		end = strchr(address, ']');
		if (end == NULL || end[1] != ':')
			return false;
		start = address + 1;
		len = (size_t)(end - start);
		colon = end + 1;
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL)
			return false;
		len = (size_t)(colon - address);
		if (memchr(address, ':', len) != NULL)
			return false;
	}

	if (len >= host_size)
		return false;
	memcpy(host, start, len);
	host[len] = '\0';
	*portp = colon + 1;
	return true;
}

static bool
listen_port_valid(const char *text)
{
	unsigned long port = 0;
	size_t i;

	for (i = 0; text[i] != '\0'; i++) {
		if (i >= 5 || text[i] < '0' || text[i] > '9')
			return false;
		port = port * 10 + (unsigned long)(text[i] - '0');
	}
	return i > 0 && port >= 1 && port <= 65535;
}

/*
 * Returns true for 127.0.0.0/8, ::1 (and ::ffff:127.0.0.0/104) and
 * "localhost". Any other name is not resolved, so it counts as remote.
 */
static bool
listen_host_is_loopback(const char *host, bool bracketed)
{
	struct in6_addr addr6;
	struct in_addr addr4;

	if (bracketed) {
		if (inet_pton(AF_INET6, host, &addr6) != 1)
			return false;
		if (IN6_IS_ADDR_LOOPBACK(&addr6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&addr6) && addr6.s6_addr[12] == 127;
	}
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &addr4) != 1)
		return false;
	return (ntohl(addr4.s_addr) >> 24) == 127;
}

static hj_err
listen_check_unix(struct schema_ctx *ctx, size_t line, const char *path,
    const char *socket_path)
{
	struct sockaddr_un sun;

	if (socket_path[0] != '/')
		return schema_fail(ctx, line, path,
		    "unix socket path must be absolute, as in unix:/run/hsmjwt/grpc.sock");
	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return schema_fail(ctx, line, path,
		    "unix socket path is longer than %zu bytes; use a shorter path",
		    sizeof(sun.sun_path) - 1);
	return HJ_OK;
}

/* Checks "host:port", "[IPv6]:port" or "unix:/path" for a listener of proto. */
static hj_err
listen_check_address(struct schema_ctx *ctx, size_t line, const char *path,
    const char *proto, const char *address)
{
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char host[INET6_ADDRSTRLEN + 8];
	struct in6_addr addr6;
	const char *port;
	bool bracketed;

	if (strncmp(address, "unix:", 5) == 0)
		return listen_check_unix(ctx, line, path, address + 5);

	schema_excerpt_str(excerpt, address);
	if (!listen_split(address, host, sizeof(host), &port, &bracketed) ||
	    (bracketed && inet_pton(AF_INET6, host, &addr6) != 1))
		return schema_fail(ctx, line, path,
		    "invalid address \"%s\"; use host:port, [IPv6]:port or unix:/absolute/path",
		    excerpt);
	if (!listen_port_valid(port))
		return schema_fail(ctx, line, path,
		    "invalid port in \"%s\"; use a number from 1 to 65535", excerpt);

	if (listen_host_is_loopback(host, bracketed))
		return HJ_OK;

	/*
	 * Verifiers on other hosts fetch the JWKS, which is public, so HTTP may
	 * listen anywhere. A TLS proxy in front keeps the keys from being
	 * swapped on the way.
	 */
	if (strcmp(proto, "HTTP") == 0) {
		char gap[HJ_ERROR_MESSAGE_MAX + SCHEMA_EXCERPT_SIZE];

		snprintf(gap, sizeof(gap), "%s is not a loopback address and the JWKS "
		    "is served over plaintext HTTP; put a TLS proxy in front of it", excerpt);
		return schema_warn(ctx, line, path, gap);
	}

	/* TODO: accept other addresses with a tls block once TLS is built. */
	return schema_fail(ctx, line, path,
		    "%s is not a loopback address; plaintext %s is only allowed on loopback and unix sockets, and TLS is not supported yet",
		    excerpt, proto);
}

/*
 * Reads one listener address. Where allow_empty is set, "" or an empty
 * value turns the listener off.
 */
static hj_err
config_read_address(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *key, const char *proto, bool allow_empty, char **outp)
{
	const struct yamltree_pair *pair = yamltree_map_find(map, key);
	char path[SCHEMA_PATH_SIZE];
	hj_err r;

	if (pair == NULL)
		return HJ_OK;
	schema_path_key(path, "listen", key);

	if (allow_empty && pair->value->kind == YAMLTREE_SCALAR &&
	    (yamltree_is_null(pair->value) || pair->value->scalar_len == 0)) {
		free(*outp);
		*outp = NULL;
		return HJ_OK;
	}

	r = schema_read_string(ctx, pair->value, path, outp);
	if (r != HJ_OK)
		return r;
	return listen_check_address(ctx, pair->value->line, path, proto, *outp);
}

static hj_err
config_read_listen(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	static const struct schema_field fields[] = {
		SCHEMA_OTHER("grpc", false),
		SCHEMA_OTHER("http", false),
		SCHEMA_OTHER("admin", false),
	};
	struct config *cfg = ctx->cfg;
	hj_err r;

	r = schema_read_map(ctx, pair->value, "listen", pair->key->line, fields,
	    SCHEMA_COUNT(fields), NULL);
	if (r == HJ_OK)
		r = config_read_address(ctx, pair->value, "grpc", "gRPC", false,
		    &cfg->listen_grpc);
	if (r == HJ_OK)
		r = config_read_address(ctx, pair->value, "http", "HTTP", true,
		    &cfg->listen_http);
	if (r == HJ_OK)
		r = config_read_address(ctx, pair->value, "admin", "gRPC", true,
		    &cfg->listen_admin);
	return r;
}

static hj_err
config_read_tls(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("cert", SCHEMA_STRING, true, struct config_tls, cert),
		SCHEMA_FIELD("key", SCHEMA_STRING, true, struct config_tls, key),
		SCHEMA_FIELD("client_ca", SCHEMA_STRING, false, struct config_tls,
		    client_ca),
	};
	hj_err r;

	r = schema_read_map(ctx, pair->value, "tls", pair->key->line, fields,
	    SCHEMA_COUNT(fields), &ctx->cfg->tls);
	if (r != HJ_OK)
		return r;
	ctx->cfg->tls_present = true;
	return schema_warn(ctx, pair->key->line, "tls",
	    "TLS is not supported yet, so every listener serves plaintext on "
	    "loopback or a unix socket");
}

static bool
env_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
			continue;
		if (i > 0 && c >= '0' && c <= '9')
			continue;
		return false;
	}
	return i > 0;
}

/*
 * Checks the token and PIN choices of the hsm map. No message quotes
 * pin_file or pin_env, which may contain a PIN by mistake.
 */
static hj_err
config_check_hsm(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	const struct config *cfg = ctx->cfg;
	const struct yamltree_node *map = pair->value;
	char excerpt[SCHEMA_EXCERPT_SIZE];
	size_t line = pair->key->line;

	if (cfg->hsm_module[0] != '/')
		return schema_fail(ctx, schema_key_line(map, "module"), "hsm.module",
		    "\"%s\" is not an absolute path; give the full path of the PKCS#11 module, such as /usr/lib/softhsm/libsofthsm2.so",
		    schema_excerpt_str(excerpt, cfg->hsm_module));
	if (cfg->hsm_token != NULL && cfg->hsm_uri != NULL)
		return schema_fail(ctx, line, "hsm",
		    "token and uri are both set; keep only one of them");
	if (cfg->hsm_token == NULL && cfg->hsm_uri == NULL)
		return schema_fail(ctx, line, "hsm",
		    "missing token or uri; set the token label with token or a PKCS#11 URI with uri");
	if (cfg->hsm_uri != NULL && strncmp(cfg->hsm_uri, "pkcs11:", 7) != 0)
		return schema_fail(ctx, schema_key_line(map, "uri"), "hsm.uri",
		    "\"%s\" is not a PKCS#11 URI; it must start with \"pkcs11:\", as in pkcs11:token=hsmjwt-dev",
		    schema_excerpt_str(excerpt, cfg->hsm_uri));

	if (cfg->hsm_pin_file != NULL && cfg->hsm_pin_env != NULL)
		return schema_fail(ctx, line, "hsm",
		    "pin_file and pin_env are both set; keep only one of them");
	if (cfg->hsm_pin_file == NULL && cfg->hsm_pin_env == NULL)
		return schema_fail(ctx, line, "hsm",
		    "missing pin_file or pin_env; the PIN must come from a file (pin_file) or an environment variable (pin_env)");
	if (cfg->hsm_pin_env != NULL && !env_name_valid(cfg->hsm_pin_env))
		return schema_fail(ctx, schema_key_line(map, "pin_env"), "hsm.pin_env",
		    "invalid environment variable name; use letters, digits and '_', such as HSMJWT_PIN");
	return HJ_OK;
}

static hj_err
config_read_hsm(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("module", SCHEMA_STRING, true, struct config,
		    hsm_module),
		SCHEMA_FIELD("token", SCHEMA_STRING, false, struct config,
		    hsm_token),
		SCHEMA_FIELD("uri", SCHEMA_STRING, false, struct config, hsm_uri),
		SCHEMA_FIELD("pin_file", SCHEMA_STRING, false, struct config,
		    hsm_pin_file),
		SCHEMA_FIELD("pin_env", SCHEMA_STRING, false, struct config,
		    hsm_pin_env),
		SCHEMA_FIELD("generate_missing_keys", SCHEMA_BOOL, false,
		    struct config, hsm_generate_missing_keys),
	};
	const struct yamltree_pair *pin = yamltree_map_find(pair->value, "pin");
	hj_err r;

	if (pin != NULL)
		return schema_fail(ctx, pin->key->line, "hsm.pin",
		    "the PIN is never read from the config file; put it in a file named by pin_file or in an environment variable named by pin_env");

	r = schema_read_map(ctx, pair->value, "hsm", pair->key->line, fields,
	    SCHEMA_COUNT(fields), ctx->cfg);
	if (r != HJ_OK)
		return r;
	return config_check_hsm(ctx, pair);
}

static bool
strings_contain(const char *const *strings, size_t count, const char *s)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(strings[i], s) == 0)
			return true;
	}
	return false;
}

static hj_err
config_check_decryption(struct schema_ctx *ctx, const struct yamltree_node *map)
{
	const struct config *cfg = ctx->cfg;
	const struct yamltree_pair *pair = yamltree_map_find(map, "decryption");
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char path[SCHEMA_PATH_SIZE];
	size_t i;

	for (i = 0; i < cfg->keys_decryption_count; i++) {
		if (strings_contain(config_decryption_algs,
		    SCHEMA_COUNT(config_decryption_algs), cfg->keys_decryption[i]))
			continue;
		schema_path_index(path, "keys.decryption", i);
		return schema_fail(ctx, pair->value->items[i]->line, path,
		    "unknown key management algorithm \"%s\"; use one of RSA-OAEP, RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW",
		    schema_excerpt_str(excerpt, cfg->keys_decryption[i]));
	}
	return HJ_OK;
}

static hj_err
config_read_keys(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("pre_publish", SCHEMA_DURATION, false, struct config,
		    keys_pre_publish),
		SCHEMA_FIELD("rotate_every", SCHEMA_DURATION, false, struct config,
		    keys_rotate_every),
		SCHEMA_FIELD("refresh", SCHEMA_DURATION, false, struct config,
		    keys_refresh),
		SCHEMA_FIELD("clock_skew", SCHEMA_DURATION, false, struct config,
		    keys_clock_skew),
		SCHEMA_LIST("decryption", struct config, keys_decryption,
		    keys_decryption_count),
	};
	const struct yamltree_node *map = pair->value;
	hj_err r;

	r = schema_read_map(ctx, map, "keys", pair->key->line, fields,
	    SCHEMA_COUNT(fields), ctx->cfg);
	if (r == HJ_OK)
		r = config_check_decryption(ctx, map);
	return r;
}

static hj_err
config_read_recipients(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("name", SCHEMA_STRING, true, struct config_recipient,
		    name),
		SCHEMA_FIELD("jwk_file", SCHEMA_STRING, true,
		    struct config_recipient, jwk_file),
	};
	const struct yamltree_node *list = pair->value;
	struct config *cfg = ctx->cfg;
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char path[SCHEMA_PATH_SIZE];
	char name_path[SCHEMA_PATH_SIZE];
	size_t i, j;
	hj_err r;

	if (list->kind != YAMLTREE_SEQUENCE)
		return schema_fail_type(ctx, list, "recipients", "a list");
	cfg->recipients = calloc(list->item_count + 1, sizeof(cfg->recipients[0]));
	if (cfg->recipients == NULL)
		return schema_fail_memory(ctx);

	for (i = 0; i < list->item_count; i++) {
		const struct yamltree_node *item = list->items[i];

		schema_path_index(path, "recipients", i);
		schema_path_key(name_path, path, "name");
		cfg->recipient_count++;
		r = schema_read_map(ctx, item, path, item->line, fields,
		    SCHEMA_COUNT(fields), &cfg->recipients[i]);
		if (r != HJ_OK)
			return r;

		for (j = 0; j < i; j++) {
			if (strcmp(cfg->recipients[j].name, cfg->recipients[i].name) == 0)
				return schema_fail(ctx, schema_key_line(item, "name"),
				    name_path,
				    "duplicate recipient name \"%s\"; the first is recipients[%zu]",
				    schema_excerpt_str(excerpt, cfg->recipients[i].name), j);
		}
	}

	return HJ_OK;
}

static bool
profile_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= CONFIG_PROFILE_NAME_MAX)
			return false;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')
			continue;
		return false;
	}
	return i > 0;
}

static hj_err
profile_check_name(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, size_t index)
{
	const struct profile *profiles = ctx->cfg->profiles;
	const char *name = profiles[index].name;
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char name_path[SCHEMA_PATH_SIZE];
	size_t line = schema_key_line(map, "name");
	size_t j;

	schema_path_key(name_path, path, "name");
	schema_excerpt_str(excerpt, name);
	if (!profile_name_valid(name))
		return schema_fail(ctx, line, name_path,
		    "invalid profile name \"%s\"; use 1 to %d letters, digits, '_', '.' or '-'",
		    excerpt, CONFIG_PROFILE_NAME_MAX);

	for (j = 0; j < index; j++) {
		if (strcmp(profiles[j].name, name) == 0)
			return schema_fail(ctx, line, name_path,
			    "duplicate profile name \"%s\"; the first is profiles[%zu]",
			    excerpt, j);
	}
	return HJ_OK;
}

/* Writes the names of the algorithm table, separated by ", ", into out. */
static void
alg_list_names(char *out, size_t size)
{
	const struct jose_alg *alg;
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; (alg = jose_alg_at(i)) != NULL && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
		    i > 0 ? ", " : "", alg->name);
}

static hj_err
profile_read_alg(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, struct profile *profile)
{
	const struct yamltree_pair *pair = yamltree_map_find(map, "alg");
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char alg_path[SCHEMA_PATH_SIZE];
	char names[128];
	char *name = NULL;
	hj_err r;

	schema_path_key(alg_path, path, "alg");
	r = schema_read_string(ctx, pair->value, alg_path, &name);
	if (r != HJ_OK)
		goto out;

	profile->alg = jose_alg_find(name);
	if (profile->alg != NULL)
		goto out;

	alg_list_names(names, sizeof(names));
	if (strcasecmp(name, "none") == 0)
		r = schema_fail(ctx, pair->value->line, alg_path,
		    "\"%s\" is not allowed, because every token must be signed; use one of %s",
		    schema_excerpt_str(excerpt, name), names);
	else
		r = schema_fail(ctx, pair->value->line, alg_path,
		    "unknown algorithm \"%s\"; use one of %s",
		    schema_excerpt_str(excerpt, name), names);
out:
	free(name);
	return r;
}

static hj_err
profile_check_ttl(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, const struct profile *profile)
{
	char ttl_path[SCHEMA_PATH_SIZE];
	size_t line;

	schema_path_key(ttl_path, path, "ttl");
	if (profile->ttl == 0)
		return schema_fail(ctx, schema_key_line(map, "ttl"), ttl_path,
		    "must be greater than 0; use a duration such as 5m");

	if (profile->ttl <= profile->max_ttl)
		return HJ_OK;
	line = yamltree_map_find(map, "ttl") != NULL ?
	    schema_key_line(map, "ttl") : schema_key_line(map, "max_ttl");
	return schema_fail(ctx, line, ttl_path,
	    "%lu seconds is longer than max_ttl (%lu seconds); lower ttl or raise max_ttl",
	    (unsigned long)profile->ttl, (unsigned long)profile->max_ttl);
}

static hj_err
encryption_check_recipients(struct schema_ctx *ctx,
    const struct yamltree_node *map, const char *path,
    const struct profile_encryption *enc)
{
	const struct config *cfg = ctx->cfg;
	const struct yamltree_pair *pair = yamltree_map_find(map, "recipients");
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char item_path[SCHEMA_PATH_SIZE];
	char list_path[SCHEMA_PATH_SIZE];
	size_t i, j;

	schema_path_key(list_path, path, "recipients");
	for (i = 0; i < enc->recipient_count; i++) {
		for (j = 0; j < cfg->recipient_count; j++) {
			if (strcmp(cfg->recipients[j].name, enc->recipients[i]) == 0)
				break;
		}
		if (j < cfg->recipient_count)
			continue;

		schema_path_index(item_path, list_path, i);
		return schema_fail(ctx, pair->value->items[i]->line, item_path,
		    "unknown recipient \"%s\"; add it to the top-level recipients list",
		    schema_excerpt_str(excerpt, enc->recipients[i]));
	}
	return HJ_OK;
}

static hj_err
profile_read_encryption(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, struct profile_encryption *enc)
{
	static const struct schema_field fields[] = {
		SCHEMA_LIST("recipients", struct profile_encryption, recipients,
		    recipient_count),
		SCHEMA_FIELD("inline_recipients", SCHEMA_BOOL, false,
		    struct profile_encryption, inline_recipients),
		SCHEMA_FIELD("required", SCHEMA_BOOL, false,
		    struct profile_encryption, required),
	};
	const struct yamltree_pair *pair = yamltree_map_find(map, "encryption");
	char enc_path[SCHEMA_PATH_SIZE];
	char required_path[SCHEMA_PATH_SIZE];
	hj_err r;

	if (pair == NULL)
		return HJ_OK;
	schema_path_key(enc_path, path, "encryption");
	r = schema_read_map(ctx, pair->value, enc_path, pair->key->line, fields,
	    SCHEMA_COUNT(fields), enc);
	if (r != HJ_OK)
		return r;
	enc->present = true;

	r = encryption_check_recipients(ctx, pair->value, enc_path, enc);
	if (r != HJ_OK)
		return r;
	schema_path_key(required_path, enc_path, "required");
	if (enc->required && enc->recipient_count == 0 && !enc->inline_recipients)
		return schema_fail(ctx, schema_key_line(pair->value, "required"),
		    required_path,
		    "true, but the profile names no recipients and does not allow "
		    "inline_recipients, so it could not issue any token");
	return HJ_OK;
}

static hj_err
config_read_profile(struct schema_ctx *ctx, const struct yamltree_node *map,
    size_t index)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("name", SCHEMA_STRING, true, struct profile, name),
		SCHEMA_OTHER("alg", true),
		SCHEMA_FIELD("ttl", SCHEMA_DURATION, false, struct profile, ttl),
		SCHEMA_FIELD("max_ttl", SCHEMA_DURATION, false, struct profile,
		    max_ttl),
		SCHEMA_LIST("audiences", struct profile, audiences, audience_count),
		SCHEMA_OTHER("encryption", false),
	};
	struct profile *profile = &ctx->cfg->profiles[index];
	char path[SCHEMA_PATH_SIZE];
	hj_err r;

	schema_path_index(path, "profiles", index);
	profile->ttl = CONFIG_DEFAULT_TTL;
	profile->max_ttl = CONFIG_DEFAULT_MAX_TTL;

	r = schema_read_map(ctx, map, path, map->line, fields,
	    SCHEMA_COUNT(fields), profile);
	if (r == HJ_OK)
		r = profile_check_name(ctx, map, path, index);
	if (r == HJ_OK)
		r = profile_read_alg(ctx, map, path, profile);
	if (r == HJ_OK)
		r = profile_check_ttl(ctx, map, path, profile);
	if (r == HJ_OK)
		r = profile_read_encryption(ctx, map, path,
		    &ctx->cfg->profile_encryption[index]);
	return r;
}

static hj_err
config_read_profiles(struct schema_ctx *ctx, const struct yamltree_pair *pair)
{
	const struct yamltree_node *list = pair->value;
	struct config *cfg = ctx->cfg;
	size_t i, count;
	hj_err r;

	if (list->kind != YAMLTREE_SEQUENCE)
		return schema_fail_type(ctx, list, "profiles", "a list");
	count = list->item_count;
	if (count == 0)
		return schema_fail(ctx, pair->key->line, "profiles",
		    "empty list; add at least one profile");

	cfg->profiles = calloc(count, sizeof(cfg->profiles[0]));
	cfg->profile_encryption = calloc(count, sizeof(cfg->profile_encryption[0]));
	if (cfg->profiles == NULL || cfg->profile_encryption == NULL)
		return schema_fail_memory(ctx);
	cfg->profile_count = count;

	for (i = 0; i < count; i++) {
		cfg->profiles[i].encryption = &cfg->profile_encryption[i];
		r = config_read_profile(ctx, list->items[i], i);
		if (r != HJ_OK)
			return r;
	}
	return HJ_OK;
}

static hj_err
config_check_issuer(struct schema_ctx *ctx, const struct yamltree_node *root)
{
	const char *issuer = ctx->cfg->issuer;
	size_t line = schema_key_line(root, "issuer");
	char excerpt[SCHEMA_EXCERPT_SIZE];
	size_t scheme_len;

	if (strncmp(issuer, "https://", 8) == 0)
		scheme_len = 8;
	else if (strncmp(issuer, "http://", 7) == 0)
		scheme_len = 7;
	else
		return schema_fail(ctx, line, "issuer",
		    "\"%s\" is not an http or https URL; use the URL that verifiers expect in \"iss\", such as https://tokens.example.com",
		    schema_excerpt_str(excerpt, issuer));

	if (issuer[scheme_len] == '\0' || issuer[scheme_len] == '/')
		return schema_fail(ctx, line, "issuer",
		    "\"%s\" has no host; use a URL such as https://tokens.example.com",
		    schema_excerpt_str(excerpt, issuer));
	if (strchr(issuer, ' ') != NULL)
		return schema_fail(ctx, line, "issuer",
		    "\"%s\" contains a space; remove it",
		    schema_excerpt_str(excerpt, issuer));
	return HJ_OK;
}

/*
 * Reads each section that is present. Recipients come before the profiles
 * that name them.
 */
static hj_err
config_read_sections(struct schema_ctx *ctx, const struct yamltree_node *root)
{
	static const struct {
		const char *key;
		hj_err (*read)(struct schema_ctx *, const struct yamltree_pair *);
	} sections[] = {
		{ "listen", config_read_listen },
		{ "tls", config_read_tls },
		{ "hsm", config_read_hsm },
		{ "keys", config_read_keys },
		{ "recipients", config_read_recipients },
		{ "profiles", config_read_profiles },
	};
	const struct yamltree_pair *pair;
	size_t i;
	hj_err r;

	for (i = 0; i < SCHEMA_COUNT(sections); i++) {
		pair = yamltree_map_find(root, sections[i].key);
		if (pair == NULL)
			continue;
		r = sections[i].read(ctx, pair);
		if (r != HJ_OK)
			return r;
	}
	return HJ_OK;
}

static hj_err
config_read_root(struct schema_ctx *ctx, const struct yamltree_node *root)
{
	static const struct schema_field fields[] = {
		SCHEMA_FIELD("issuer", SCHEMA_STRING, true, struct config, issuer),
		SCHEMA_OTHER("listen", false),
		SCHEMA_OTHER("hsm", true),
		SCHEMA_OTHER("keys", false),
		SCHEMA_OTHER("recipients", false),
		SCHEMA_OTHER("profiles", true),
		SCHEMA_OTHER("tls", false),
	};
	hj_err r;

	if (root == NULL)
		return schema_fail(ctx, 0, NULL,
		    "the config is empty; expected a map with issuer, hsm and profiles");

	r = schema_check_keys(ctx, root, "", fields, SCHEMA_COUNT(fields));
	if (r == HJ_OK)
		r = schema_read_fields(ctx, root, "", fields, SCHEMA_COUNT(fields),
		    ctx->cfg);
	if (r == HJ_OK && ctx->cfg->issuer != NULL)
		r = config_check_issuer(ctx, root);
	if (r == HJ_OK)
		r = config_read_sections(ctx, root);
	if (r == HJ_OK)
		r = schema_check_required(ctx, root, "", 0, fields,
		    SCHEMA_COUNT(fields));
	return r;
}

static struct config *
config_new(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->listen_grpc = strdup(CONFIG_DEFAULT_LISTEN_GRPC);
	cfg->listen_http = strdup(CONFIG_DEFAULT_LISTEN_HTTP);
	cfg->keys_pre_publish = CONFIG_DEFAULT_PRE_PUBLISH;
	cfg->keys_rotate_every = 0;
	cfg->keys_refresh = CONFIG_DEFAULT_REFRESH;
	cfg->keys_clock_skew = CONFIG_DEFAULT_CLOCK_SKEW;
	if (cfg->listen_grpc == NULL || cfg->listen_http == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

hj_err
config_parse(const char *text, size_t len, const char *name,
    struct config **cfgp, struct hj_error *err)
{
	struct yamltree_node *root = NULL;
	struct schema_ctx ctx;
	hj_err r;

	*cfgp = NULL;
	hj_error_clear(err);

	ctx.name = name;
	ctx.err = err;
	ctx.cfg = config_new();
	if (ctx.cfg == NULL) {
		r = schema_fail_memory(&ctx);
		goto out;
	}

	r = yamltree_parse(text, len, name, &root, err);
	if (r != HJ_OK)
		goto out;
	r = config_read_root(&ctx, root);
	if (r != HJ_OK)
		goto out;

	*cfgp = ctx.cfg;
	ctx.cfg = NULL;
	r = HJ_OK;
out:
	config_free(ctx.cfg);
	yamltree_free(root);
	return r;
}

/*
 * Reads fd into text, which has room for CONFIG_FILE_MAX + 1 bytes. One byte
 * more than the limit distinguishes a file at the limit from a longer one.
 */
static int
config_read_fd(int fd, char *text, size_t *lenp)
{
	size_t len = 0;
	ssize_t n;

	*lenp = 0;
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, text + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*lenp = len;
	return 0;
}

/* Reads at most CONFIG_FILE_MAX bytes of a regular file into *textp. */
static hj_err
config_read_file(const char *path, char **textp, size_t *lenp,
    struct hj_error *err)
{
	char *text = NULL;
	struct stat st;
	size_t len;
	int fd, errnum;
	hj_err r = HJ_ERR_CONFIG;

	*textp = NULL;
	*lenp = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hj_error_set(err, r, "cannot read config %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		hj_error_set(err, r, "cannot read config %s: not a regular file",
		    path);
		goto out;
	}

	text = malloc(CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "cannot read config %s: out of memory", path);
		goto out;
	}
	errnum = config_read_fd(fd, text, &len);
	if (errnum != 0) {
		hj_error_set(err, r, "cannot read config %s: %s", path,
		    strerror(errnum));
		goto out;
	}
	if (len > CONFIG_FILE_MAX) {
		hj_error_set(err, r,
		    "config %s is larger than %d bytes; shorten it", path,
		    CONFIG_FILE_MAX);
		goto out;
	}

	*textp = text;
	*lenp = len;
	text = NULL;
	r = HJ_OK;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return r;
}

hj_err
config_load(const char *path, struct config **cfgp, struct hj_error *err)
{
	char *text = NULL;
	size_t len;
	hj_err r;

	*cfgp = NULL;
	hj_error_clear(err);

	r = config_read_file(path, &text, &len, err);
	if (r == HJ_OK)
		r = config_parse(text, len, path, cfgp, err);
	free(text);
	return r;
}

const struct profile *
config_find_profile(const struct config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->profile_count; i++) {
		if (cfg->profiles[i].name != NULL &&
		    strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	}
	return NULL;
}

static void
strings_free(char **strings, size_t count)
{
	size_t i;

	if (strings == NULL)
		return;
	for (i = 0; i < count; i++)
		free(strings[i]);
	free(strings);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;

	free(cfg->issuer);
	free(cfg->listen_grpc);
	free(cfg->listen_http);
	free(cfg->listen_admin);
	free(cfg->tls.cert);
	free(cfg->tls.key);
	free(cfg->tls.client_ca);
	free(cfg->hsm_module);
	free(cfg->hsm_token);
	free(cfg->hsm_uri);
	free(cfg->hsm_pin_file);
	free(cfg->hsm_pin_env);
	strings_free(cfg->keys_decryption, cfg->keys_decryption_count);

	for (i = 0; i < cfg->recipient_count; i++) {
		free(cfg->recipients[i].name);
		free(cfg->recipients[i].jwk_file);
	}
	free(cfg->recipients);

	for (i = 0; i < cfg->profile_count; i++) {
		profile_clear(&cfg->profiles[i]);
		strings_free(cfg->profile_encryption[i].recipients,
		    cfg->profile_encryption[i].recipient_count);
	}
	free(cfg->profiles);
	free(cfg->profile_encryption);

	strings_free(cfg->warnings, cfg->warning_count);
	free(cfg);
}
