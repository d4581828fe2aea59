/* Unit tests of the YAML config parser. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsmjwt/alg.h"
#include "hsmjwt/config.h"

#define NAME "test.yaml"

/* An example config that sets every key, comments included. */
static const char full_example[] =
    "issuer: https://tokens.example.internal\n"
    "listen:\n"
    "  grpc: 127.0.0.1:50051        # TokenService and health; or unix:/run/hsmjwt/grpc.sock\n"
    "  http: 127.0.0.1:8080         # JWKS, discovery, metrics, health\n"
    "  admin: unix:/run/hsmjwt/admin.sock   # KeyAdmin (and health); socket mode 0600\n"
    "hsm:\n"
    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
    "  token: hsmjwt-dev            # token label; or uri: \"pkcs11:token=...\"\n"
    "  pin_file: /etc/hsmjwt/pin    # or pin_env: HSMJWT_PIN; never a command-line argument\n"
    "  generate_missing_keys: true  # create a key for each profile algorithm that has none\n"
    "keys:\n"
    "  pre_publish: 1h\n"
    "  rotate_every: 30d            # optional automatic rotation\n"
    "  refresh: 10s                 # how often the token is rescanned for keys that other replicas changed\n"
    "  clock_skew: 60s\n"
    "  decryption: [ECDH-ES+A256KW, RSA-OAEP]   # keep one active key for each: Decrypt and \"use\":\"enc\" in the JWKS\n"
    "recipients:\n"
    "  - name: partner-a\n"
    "    jwk_file: /etc/hsmjwt/partner-a.jwk.json   # a public JWK or a JWK Set\n"
    "profiles:\n"
    "  - name: default\n"
    "    alg: ES256\n"
    "    ttl: 5m\n"
    "    max_ttl: 1h\n"
    "    audiences: [billing, search]   # empty or absent: any\n"
    "  - name: nested\n"
    "    alg: ES256\n"
    "    ttl: 5m\n"
    "    max_ttl: 1h\n"
    "    encryption:\n"
    "      recipients: [partner-a]      # named recipients this profile may encrypt to\n"
    "      inline_recipients: true      # also accept SignRequest.encryption.recipient_jwk_json\n"
    "      required: false              # true: every token of this profile must be encrypted\n";

/* Lines 1 to 5: everything but the profiles. */
#define HEAD \
    "issuer: https://tokens.example.internal\n" \
    "hsm:\n" \
    "  module: /usr/lib/softhsm/libsofthsm2.so\n" \
    "  token: hsmjwt-dev\n" \
    "  pin_env: HSMJWT_PIN\n"

/* Lines 1 to 8: the smallest valid config. */
#define MINIMAL HEAD \
    "profiles:\n" \
    "  - name: default\n" \
    "    alg: ES256\n"

static hj_err
parse(const char *text, struct config **cfgp, struct hj_error *err)
{
	return config_parse(text, strlen(text), NAME, cfgp, err);
}

static struct config *
parse_ok(const char *text)
{
	struct config *cfg = NULL;
	struct hj_error err;
	hj_err r;

	r = parse(text, &cfg, &err);
	if (r != HJ_OK)
		print_error("unexpected error: %s\n", err.message);
	assert_int_equal(r, HJ_OK);
	assert_non_null(cfg);
	return cfg;
}

static void
expect_error(const char *text, const char *message)
{
	struct config *cfg = NULL;
	struct hj_error err;
	hj_err r;

	r = parse(text, &cfg, &err);
	assert_int_equal(r, HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_string_equal(err.message, message);
}

/* Writes "ES256, RS256, ..." from the algorithm table, as the messages list it. */
static void
alg_names(char *out, size_t size)
{
	const struct jose_alg *alg;
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; (alg = jose_alg_at(i)) != NULL; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s",
		    i > 0 ? ", " : "", alg->name);
}

static void
config_full_example_fields(void **state)
{
	struct config *cfg = parse_ok(full_example);

	assert_string_equal(cfg->issuer, "https://tokens.example.internal");
	assert_string_equal(cfg->listen_grpc, "127.0.0.1:50051");
	assert_string_equal(cfg->listen_http, "127.0.0.1:8080");
	assert_string_equal(cfg->listen_admin, "unix:/run/hsmjwt/admin.sock");
	assert_false(cfg->tls_present);
	assert_string_equal(cfg->hsm_module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(cfg->hsm_token, "hsmjwt-dev");
	assert_null(cfg->hsm_uri);
	assert_string_equal(cfg->hsm_pin_file, "/etc/hsmjwt/pin");
	assert_null(cfg->hsm_pin_env);
	assert_true(cfg->hsm_generate_missing_keys);
	assert_int_equal(cfg->keys_pre_publish, 3600);
	assert_int_equal(cfg->keys_rotate_every, 30 * 86400);
	assert_int_equal(cfg->keys_refresh, 10);
	assert_int_equal(cfg->keys_clock_skew, 60);
	assert_int_equal(cfg->keys_decryption_count, 2);
	assert_string_equal(cfg->keys_decryption[0], "ECDH-ES+A256KW");
	assert_string_equal(cfg->keys_decryption[1], "RSA-OAEP");
	assert_int_equal(cfg->recipient_count, 1);
	assert_string_equal(cfg->recipients[0].name, "partner-a");
	assert_string_equal(cfg->recipients[0].jwk_file,
	    "/etc/hsmjwt/partner-a.jwk.json");
	config_free(cfg);
}

static void
config_full_example_profiles(void **state)
{
	struct config *cfg = parse_ok(full_example);
	const struct profile_encryption *enc;

	assert_int_equal(cfg->profile_count, 2);
	assert_string_equal(cfg->profiles[0].name, "default");
	assert_ptr_equal(cfg->profiles[0].alg, jose_alg_find("ES256"));
	assert_int_equal(cfg->profiles[0].ttl, 300);
	assert_int_equal(cfg->profiles[0].max_ttl, 3600);
	assert_int_equal(cfg->profiles[0].audience_count, 2);
	assert_string_equal(cfg->profiles[0].audiences[0], "billing");
	assert_string_equal(cfg->profiles[0].audiences[1], "search");
	assert_false(cfg->profile_encryption[0].present);

	assert_string_equal(cfg->profiles[1].name, "nested");
	assert_int_equal(cfg->profiles[1].audience_count, 0);
	enc = &cfg->profile_encryption[1];
	assert_true(enc->present);
	assert_int_equal(enc->recipient_count, 1);
	assert_string_equal(enc->recipients[0], "partner-a");
	assert_true(enc->inline_recipients);
	assert_false(enc->required);
	config_free(cfg);
}

static void
config_full_example_warnings(void **state)
{
	struct config *cfg = parse_ok(full_example);

	assert_int_equal(cfg->warning_count, 0);
	config_free(cfg);
}

static void
config_defaults(void **state)
{
	struct config *cfg = parse_ok(MINIMAL);

	assert_string_equal(cfg->listen_grpc, "127.0.0.1:50051");
	assert_string_equal(cfg->listen_http, "127.0.0.1:8080");
	assert_null(cfg->listen_admin);
	assert_false(cfg->tls_present);
	assert_false(cfg->hsm_generate_missing_keys);
	assert_int_equal(cfg->keys_pre_publish, 3600);
	assert_int_equal(cfg->keys_rotate_every, 0);
	assert_int_equal(cfg->keys_refresh, 10);
	assert_int_equal(cfg->keys_clock_skew, 60);
	assert_int_equal(cfg->keys_decryption_count, 0);
	assert_int_equal(cfg->recipient_count, 0);
	assert_int_equal(cfg->profile_count, 1);
	assert_int_equal(cfg->profiles[0].ttl, 300);
	assert_int_equal(cfg->profiles[0].max_ttl, 3600);
	assert_int_equal(cfg->profiles[0].audience_count, 0);
	assert_false(cfg->profile_encryption[0].present);
	assert_int_equal(cfg->warning_count, 0);
	config_free(cfg);
}

static void
config_uri_and_pin_env(void **state)
{
	struct config *cfg = parse_ok(
	    "issuer: http://localhost:8080\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  uri: \"pkcs11:token=hsmjwt-dev\"\n"
	    "  pin_env: HSMJWT_PIN\n"
	    "  generate_missing_keys: false\n"
	    "profiles:\n"
	    "  - {name: default, alg: ES256}\n");

	assert_string_equal(cfg->issuer, "http://localhost:8080");
	assert_null(cfg->hsm_token);
	assert_string_equal(cfg->hsm_uri, "pkcs11:token=hsmjwt-dev");
	assert_null(cfg->hsm_pin_file);
	assert_string_equal(cfg->hsm_pin_env, "HSMJWT_PIN");
	assert_false(cfg->hsm_generate_missing_keys);
	config_free(cfg);
}

static void
config_find_profile_by_name(void **state)
{
	struct config *cfg = parse_ok(full_example);

	assert_ptr_equal(config_find_profile(cfg, "nested"), &cfg->profiles[1]);
	assert_ptr_equal(config_find_profile(cfg, "default"), &cfg->profiles[0]);
	assert_null(config_find_profile(cfg, "missing"));
	assert_null(config_find_profile(cfg, ""));
	assert_null(config_find_profile(cfg, NULL));
	assert_null(config_find_profile(NULL, "default"));
	config_free(cfg);
	config_free(NULL);
}

static void
duration_valid_forms(void **state)
{
	static const struct {
		const char *text;
		uint32_t seconds;
	} cases[] = {
		{ "0", 0 },
		{ "90", 90 },
		{ "007", 7 },
		{ "0s", 0 },
		{ "90s", 90 },
		{ "5m", 300 },
		{ "1h", 3600 },
		{ "30d", 2592000 },
		{ "4294967295", UINT32_MAX },
		{ "4294967295s", UINT32_MAX },
		{ "71582788m", 4294967280u },
		{ "1193046h", 4294965600u },
		{ "49710d", 4294944000u },
	};
	uint32_t seconds;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seconds = 1;
		assert_int_equal(config_parse_duration(cases[i].text, &seconds),
		    HJ_OK);
		assert_int_equal(seconds, cases[i].seconds);
	}
}

static void
duration_invalid_forms(void **state)
{
	static const char *const cases[] = {
		"", "-5", "+5", "5x", "1.5h", ".5", "5 m", " 5", "5 ", "s", "m",
		"5ms", "5S", "5M", "1h30m", "0x10", "1e3", "4294967296",
		"4294967296s", "71582789m", "1193047h", "49711d",
		"99999999999999999999999999", "99999999999999999999999999d",
	};
	uint32_t seconds;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seconds = 1;
		assert_int_equal(config_parse_duration(cases[i], &seconds),
		    HJ_ERR_INVALID_ARGUMENT);
		assert_int_equal(seconds, 0);
	}
	assert_int_equal(config_parse_duration(NULL, &seconds),
	    HJ_ERR_INVALID_ARGUMENT);
}

static void
duration_forms_in_config(void **state)
{
	struct config *cfg = parse_ok(HEAD
	    "keys:\n"
	    "  pre_publish: 90\n"
	    "  clock_skew: \"45\"\n"
	    "profiles:\n"
	    "  - {name: a, alg: ES256, ttl: 30s, max_ttl: 2h}\n"
	    "  - {name: b, alg: ES256, ttl: 10m, max_ttl: 1d}\n");

	assert_int_equal(cfg->keys_pre_publish, 90);
	assert_int_equal(cfg->keys_clock_skew, 45);
	assert_int_equal(cfg->profiles[0].ttl, 30);
	assert_int_equal(cfg->profiles[0].max_ttl, 7200);
	assert_int_equal(cfg->profiles[1].ttl, 600);
	assert_int_equal(cfg->profiles[1].max_ttl, 86400);
	config_free(cfg);
}

static void
config_error_invalid_duration(void **state)
{
	expect_error(HEAD
	    "profiles:\n"
	    "  - name: a\n"
	    "    alg: ES256\n"
	    "  - name: b\n"
	    "    alg: ES256\n"
	    "    ttl: 5x\n",
	    NAME ":11: profiles[1].ttl: invalid duration \"5x\"; use seconds or a number with s, m, h or d");
	expect_error(HEAD "keys:\n  pre_publish: -5\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.pre_publish: invalid duration \"-5\"; use seconds or a number with s, m, h or d");
	expect_error(HEAD "keys:\n  clock_skew: 1.5m\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.clock_skew: invalid duration \"1.5m\"; use seconds or a number with s, m, h or d");
	expect_error(HEAD "keys:\n  clock_skew: \"\"\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.clock_skew: invalid duration \"\"; use seconds or a number with s, m, h or d");
	expect_error(HEAD "keys:\n  clock_skew:\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.clock_skew: expected a duration, got an empty value");
	expect_error(HEAD "keys:\n  refresh: [1]\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.refresh: expected a duration, got a list");
	expect_error(HEAD "keys:\n  pre_publish: 49711d\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.pre_publish: duration \"49711d\" is too long; the maximum is 4294967295 seconds (49710 days)");
}

static void
config_error_missing_required(void **state)
{
	expect_error(
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n"
	    "  pin_env: P\n"
	    "profiles: [{name: a, alg: ES256}]\n",
	    NAME ": issuer: missing required key");
	expect_error("issuer: https://x.example\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ": hsm: missing required key");
	expect_error(HEAD, NAME ": profiles: missing required key");
	expect_error(HEAD "profiles: []\n",
	    NAME ":6: profiles: empty list; add at least one profile");
	expect_error(HEAD "profiles:\n  - alg: ES256\n",
	    NAME ":7: profiles[0].name: missing required key");
	expect_error(HEAD "profiles:\n  - name: a\n",
	    NAME ":7: profiles[0].alg: missing required key");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  token: t\n"
	    "  pin_env: P\n"
	    "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":2: hsm.module: missing required key");
	expect_error(MINIMAL "recipients:\n  - name: a\n",
	    NAME ":10: recipients[0].jwk_file: missing required key");
	expect_error(MINIMAL "tls:\n  cert: /etc/c.pem\n",
	    NAME ":9: tls.key: missing required key");
}

static void
config_error_unknown_key(void **state)
{
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  tokn: t\n"
	    "  pin_env: P\n",
	    NAME ":4: hsm.tokn: unknown key; expected one of module, token, uri, pin_file, pin_env, generate_missing_keys");
	expect_error(MINIMAL "profile: []\n",
	    NAME ":9: profile: unknown key; expected one of issuer, listen, hsm, keys, recipients, profiles, tls");
	expect_error(MINIMAL "listen:\n  tls: {cert: /c, key: /k}\n",
	    NAME ":10: listen.tls: unknown key; expected one of grpc, http, admin");
	expect_error(HEAD "profiles:\n  - {name: a, alg: ES256, aud: [x]}\n",
	    NAME ":7: profiles[0].aud: unknown key; expected one of name, alg, ttl, max_ttl, audiences, encryption");
}

static void
config_error_duplicate_key(void **state)
{
	expect_error(HEAD "issuer: https://y.example\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":6: issuer: duplicate key; the first is on line 1");
	expect_error(HEAD "  token: other\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":6: hsm.token: duplicate key; the first is on line 4");
}

static void
config_error_wrong_type(void **state)
{
	expect_error("issuer: [https://x.example]\n",
	    NAME ":1: issuer: expected a string, got a list");
	expect_error("issuer:\n  url: https://x.example\n",
	    NAME ":2: issuer: expected a string, got a map");
	expect_error("issuer:\n",
	    NAME ":1: issuer: expected a string, got an empty value");
	expect_error(HEAD "  generate_missing_keys: {a: b}\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":6: hsm.generate_missing_keys: expected true or false, got a map");
	expect_error(HEAD "  generate_missing_keys: yes\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":6: hsm.generate_missing_keys: expected true or false, got \"yes\"");
	expect_error(HEAD "  generate_missing_keys: \"true\"\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":6: hsm.generate_missing_keys: expected true or false, got \"true\"");
	expect_error(HEAD "profiles:\n  name: a\n",
	    NAME ":7: profiles: expected a list, got a map");
	expect_error(HEAD "profiles:\n  - default\n",
	    NAME ":7: profiles[0]: expected a map, got \"default\"");
	expect_error(HEAD "profiles: [{name: a, alg: ES256, audiences: billing}]\n",
	    NAME ":6: profiles[0].audiences: expected a list, got \"billing\"");
	expect_error(HEAD "profiles: [{name: a, alg: ES256, audiences: [[x]]}]\n",
	    NAME ":6: profiles[0].audiences[0]: expected a string, got a list");
	expect_error("- issuer: https://x.example\n",
	    NAME ":1: expected a map, got a list");
	expect_error(MINIMAL "? [a, b]\n: c\n",
	    NAME ":9: expected a string as key, got a list");
}

static void
config_error_invalid_strings(void **state)
{
	expect_error(HEAD "profiles: [{name: a, alg: ES256, audiences: [x, \"\"]}]\n",
	    NAME ":6: profiles[0].audiences[1]: empty string; give a non-empty value");
	expect_error(HEAD "profiles: [{name: \"a\\0b\", alg: ES256}]\n",
	    NAME ":6: profiles[0].name: contains a NUL byte; remove it");
	expect_error(HEAD "profiles: [{name: \"a\\nb\", alg: ES256}]\n",
	    NAME ":6: profiles[0].name: contains a control character; remove it");
}

static void
config_error_issuer(void **state)
{
	expect_error("issuer: tokens.example.internal\n",
	    NAME ":1: issuer: \"tokens.example.internal\" is not an http or https URL; use the URL that verifiers expect in \"iss\", such as https://tokens.example.com");
	expect_error("issuer: ftp://tokens.example.internal\n",
	    NAME ":1: issuer: \"ftp://tokens.example.internal\" is not an http or https URL; use the URL that verifiers expect in \"iss\", such as https://tokens.example.com");
	expect_error("issuer: \"https://tokens.example.internal \"\n",
	    NAME ":1: issuer: \"https://tokens.example.internal \" contains a space; remove it");
	expect_error("issuer: https://\n",
	    NAME ":1: issuer: \"https://\" has no host; use a URL such as https://tokens.example.com");
}

static void
config_error_yaml_syntax(void **state)
{
	struct config *cfg = NULL;
	struct hj_error err;
	const char *text = MINIMAL "listen:\n  grpc: [127.0.0.1:50051\n";
	const char *prefix = NAME ":11: invalid YAML: ";

	assert_int_equal(parse(text, &cfg, &err), HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_memory_equal(err.message, prefix, strlen(prefix));
	assert_true(strlen(err.message) > strlen(prefix));

	text = "issuer: https://x.example\nhsm: a: b\n";
	prefix = NAME ":2: invalid YAML: mapping values are not allowed";
	assert_int_equal(parse(text, &cfg, &err), HJ_ERR_CONFIG);
	assert_memory_equal(err.message, prefix, strlen(prefix));

	text = "issuer: \"https://x.example\xff\"\n";
	prefix = NAME ": invalid YAML: ";
	assert_int_equal(parse(text, &cfg, &err), HJ_ERR_CONFIG);
	assert_memory_equal(err.message, prefix, strlen(prefix));
}

static void
config_error_yaml_features(void **state)
{
	expect_error(HEAD "profiles:\n  - &p {name: a, alg: ES256}\n  - *p\n",
	    NAME ":8: YAML aliases are not supported; write the value out in full");
	expect_error("issuer: !!str https://x.example\n",
	    NAME ":1: YAML tags are not supported; remove the tag");
	expect_error(MINIMAL "---\nissuer: https://y.example\n",
	    NAME ":9: a second YAML document starts here; keep only one");
	expect_error("",
	    NAME ": the config is empty; expected a map with issuer, hsm and profiles");
	expect_error("# only a comment\n",
	    NAME ": the config is empty; expected a map with issuer, hsm and profiles");
}

static void
config_error_nesting_depth(void **state)
{
	char text[256];
	size_t i, len;

	len = (size_t)snprintf(text, sizeof(text), "issuer: ");
	for (i = 0; i < 40; i++)
		text[len++] = '[';
	for (i = 0; i < 40; i++)
		text[len++] = ']';
	text[len++] = '\n';
	text[len] = '\0';
	expect_error(text,
	    NAME ":1: lists and maps are nested more than 32 levels deep");
}

static void
config_error_hsm_token_choice(void **state)
{
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n"
	    "  uri: \"pkcs11:token=t\"\n"
	    "  pin_env: P\n",
	    NAME ":2: hsm: token and uri are both set; keep only one of them");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  pin_env: P\n",
	    NAME ":2: hsm: missing token or uri; set the token label with token or a PKCS#11 URI with uri");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  uri: token=t\n"
	    "  pin_env: P\n",
	    NAME ":4: hsm.uri: \"token=t\" is not a PKCS#11 URI; it must start with \"pkcs11:\", as in pkcs11:token=hsmjwt-dev");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: libsofthsm2.so\n"
	    "  token: t\n"
	    "  pin_env: P\n",
	    NAME ":3: hsm.module: \"libsofthsm2.so\" is not an absolute path; give the full path of the PKCS#11 module, such as /usr/lib/softhsm/libsofthsm2.so");
}

static void
config_error_hsm_pin_choice(void **state)
{
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n"
	    "  pin_file: /etc/hsmjwt/pin\n"
	    "  pin_env: P\n",
	    NAME ":2: hsm: pin_file and pin_env are both set; keep only one of them");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n",
	    NAME ":2: hsm: missing pin_file or pin_env; the PIN must come from a file (pin_file) or an environment variable (pin_env)");
	expect_error(
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n"
	    "  pin_env: 1234\n",
	    NAME ":5: hsm.pin_env: invalid environment variable name; use letters, digits and '_', such as HSMJWT_PIN");
}

static void
config_error_pin_in_config(void **state)
{
	struct config *cfg = NULL;
	struct hj_error err;
	const char *text =
	    "issuer: https://x.example\n"
	    "hsm:\n"
	    "  module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "  token: t\n"
	    "  pin: 987654\n"
	    "profiles: [{name: a, alg: ES256}]\n";

	assert_int_equal(parse(text, &cfg, &err), HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_string_equal(err.message,
	    NAME ":5: hsm.pin: the PIN is never read from the config file; put it in a file named by pin_file or in an environment variable named by pin_env");
	assert_null(strstr(err.message, "987654"));
}

static void
config_error_alg(void **state)
{
	char names[128];
	char expected[HJ_ERROR_MESSAGE_MAX];

	alg_names(names, sizeof(names));
	snprintf(expected, sizeof(expected),
	    NAME ":8: profiles[0].alg: unknown algorithm \"ES257\"; use one of %s",
	    names);
	expect_error(HEAD "profiles:\n  - name: a\n    alg: ES257\n", expected);

	snprintf(expected, sizeof(expected),
	    NAME ":8: profiles[0].alg: \"none\" is not allowed, because every token must be signed; use one of %s",
	    names);
	expect_error(HEAD "profiles:\n  - name: a\n    alg: none\n", expected);

	snprintf(expected, sizeof(expected),
	    NAME ":8: profiles[0].alg: \"NONE\" is not allowed, because every token must be signed; use one of %s",
	    names);
	expect_error(HEAD "profiles:\n  - name: a\n    alg: NONE\n", expected);
}

static void
config_error_profile_name(void **state)
{
	char text[512];
	char expected[HJ_ERROR_MESSAGE_MAX];
	char long_name[66];

	expect_error(HEAD "profiles: [{name: \"a b\", alg: ES256}]\n",
	    NAME ":6: profiles[0].name: invalid profile name \"a b\"; use 1 to 64 letters, digits, '_', '.' or '-'");
	expect_error(HEAD "profiles: [{name: a/b, alg: ES256}]\n",
	    NAME ":6: profiles[0].name: invalid profile name \"a/b\"; use 1 to 64 letters, digits, '_', '.' or '-'");
	expect_error(HEAD "profiles:\n  - {name: a, alg: ES256}\n  - {name: a, alg: RS256}\n",
	    NAME ":8: profiles[1].name: duplicate profile name \"a\"; the first is profiles[0]");

	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	snprintf(text, sizeof(text), HEAD "profiles: [{name: %s, alg: ES256}]\n",
	    long_name);
	snprintf(expected, sizeof(expected),
	    NAME ":6: profiles[0].name: invalid profile name \"%.40s...\"; use 1 to 64 letters, digits, '_', '.' or '-'",
	    long_name);
	expect_error(text, expected);

	long_name[64] = '\0';
	snprintf(text, sizeof(text), HEAD "profiles: [{name: A.z_0-9%s, alg: ES256}]\n",
	    long_name + 7);
	config_free(parse_ok(text));
}

static void
config_error_ttl(void **state)
{
	expect_error(HEAD "profiles:\n  - name: a\n    alg: ES256\n    ttl: 0\n",
	    NAME ":9: profiles[0].ttl: must be greater than 0; use a duration such as 5m");
	expect_error(HEAD "profiles:\n  - name: a\n    alg: ES256\n    ttl: 2h\n",
	    NAME ":9: profiles[0].ttl: 7200 seconds is longer than max_ttl (3600 seconds); lower ttl or raise max_ttl");
	expect_error(HEAD "profiles:\n  - name: a\n    alg: ES256\n    max_ttl: 1m\n",
	    NAME ":9: profiles[0].ttl: 300 seconds is longer than max_ttl (60 seconds); lower ttl or raise max_ttl");
}

static void
config_error_encryption(void **state)
{
	expect_error(HEAD
	    "recipients:\n"
	    "  - {name: partner-a, jwk_file: /etc/a.jwk}\n"
	    "profiles:\n"
	    "  - name: a\n"
	    "    alg: ES256\n"
	    "    encryption:\n"
	    "      required: true\n",
	    NAME ":12: profiles[0].encryption.required: true, but the profile names no recipients and does not allow inline_recipients, so it could not issue any token");
	expect_error(HEAD
	    "profiles:\n"
	    "  - name: a\n"
	    "    alg: ES256\n"
	    "    encryption:\n"
	    "      recipients:\n"
	    "        - partner-b\n",
	    NAME ":11: profiles[0].encryption.recipients[0]: unknown recipient \"partner-b\"; add it to the top-level recipients list");
	expect_error(HEAD
	    "recipients:\n"
	    "  - {name: partner-a, jwk_file: /etc/a.jwk}\n"
	    "  - {name: partner-a, jwk_file: /etc/b.jwk}\n"
	    "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":8: recipients[1].name: duplicate recipient name \"partner-a\"; the first is recipients[0]");
}

static void
config_error_decryption_alg(void **state)
{
	expect_error(HEAD "keys:\n  decryption: [RSA-OAEP, RSA1_5]\n" "profiles: [{name: a, alg: ES256}]\n",
	    NAME ":7: keys.decryption[1]: unknown key management algorithm \"RSA1_5\"; use one of RSA-OAEP, RSA-OAEP-256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW");
}

static void
config_warning_tls(void **state)
{
	struct config *cfg = parse_ok(MINIMAL
	    "tls:\n"
	    "  cert: /etc/hsmjwt/cert.pem\n"
	    "  key: /etc/hsmjwt/key.pem\n"
	    "  client_ca: /etc/hsmjwt/ca.pem\n");

	assert_true(cfg->tls_present);
	assert_string_equal(cfg->tls.cert, "/etc/hsmjwt/cert.pem");
	assert_string_equal(cfg->tls.key, "/etc/hsmjwt/key.pem");
	assert_string_equal(cfg->tls.client_ca, "/etc/hsmjwt/ca.pem");
	assert_int_equal(cfg->warning_count, 1);
	assert_string_equal(cfg->warnings[0],
	    "line 9: tls: accepted, but TLS is not supported yet, so every listener serves plaintext on loopback or a unix socket");
	config_free(cfg);
}

static void
config_warning_rotation_off(void **state)
{
	struct config *cfg = parse_ok(MINIMAL "keys:\n  rotate_every: 0\n  decryption: []\n");

	assert_int_equal(cfg->keys_rotate_every, 0);
	assert_int_equal(cfg->warning_count, 0);
	config_free(cfg);
}

static void
listen_loopback_accepted(void **state)
{
	static const char *const addresses[] = {
		"127.0.0.1:50051", "127.1.2.3:1", "[::1]:65535", "localhost:50051",
		"[::ffff:127.0.0.1]:50051", "unix:/run/hsmjwt/grpc.sock",
	};
	struct config *cfg;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "listen:\n  grpc: \"%s\"\n  http: \"%s\"\n  admin: \"%s\"\n",
		    addresses[i], addresses[i], addresses[i]);
		cfg = parse_ok(text);
		assert_string_equal(cfg->listen_grpc, addresses[i]);
		assert_string_equal(cfg->listen_http, addresses[i]);
		assert_string_equal(cfg->listen_admin, addresses[i]);
		config_free(cfg);
	}
}

static void
listen_remote_rejected(void **state)
{
	static const char *const addresses[] = {
		"0.0.0.0:50051", "10.0.0.1:50051", "[::]:50051", "[2001:db8::1]:443",
		"example.com:50051", ":50051", "128.0.0.1:50051",
	};
	char text[512];
	char expected[HJ_ERROR_MESSAGE_MAX];
	size_t i;

	for (i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "listen:\n  grpc: \"%s\"\n",
		    addresses[i]);
		snprintf(expected, sizeof(expected),
		    NAME ":10: listen.grpc: %s is not a loopback address; plaintext gRPC is only allowed on loopback and unix sockets, and TLS is not supported yet",
		    addresses[i]);
		expect_error(text, expected);
	}
}

static void
listen_remote_http_warned(void **state)
{
	struct config *cfg = parse_ok(MINIMAL "listen:\n  http: 0.0.0.0:8080\n");

	assert_string_equal(cfg->listen_http, "0.0.0.0:8080");
	assert_int_equal(cfg->warning_count, 1);
	assert_string_equal(cfg->warnings[0],
	    "line 10: listen.http: accepted, but 0.0.0.0:8080 is not a loopback address "
	    "and the JWKS is served over plaintext HTTP; put a TLS proxy in front of it");
	config_free(cfg);
}

static void
listen_remote_rejected_with_tls(void **state)
{
	expect_error(MINIMAL
	    "tls: {cert: /c.pem, key: /k.pem}\n"
	    "listen:\n"
	    "  grpc: 0.0.0.0:50051\n",
	    NAME ":11: listen.grpc: 0.0.0.0:50051 is not a loopback address; plaintext gRPC is only allowed on loopback and unix sockets, and TLS is not supported yet");
}

static void
listen_invalid_addresses(void **state)
{
	expect_error(MINIMAL "listen:\n  grpc: 127.0.0.1\n",
	    NAME ":10: listen.grpc: invalid address \"127.0.0.1\"; use host:port, [IPv6]:port or unix:/absolute/path");
	expect_error(MINIMAL "listen:\n  grpc: \"::1:50051\"\n",
	    NAME ":10: listen.grpc: invalid address \"::1:50051\"; use host:port, [IPv6]:port or unix:/absolute/path");
	expect_error(MINIMAL "listen:\n  grpc: \"[::1]\"\n",
	    NAME ":10: listen.grpc: invalid address \"[::1]\"; use host:port, [IPv6]:port or unix:/absolute/path");
	expect_error(MINIMAL "listen:\n  grpc: \"[localhost]:1\"\n",
	    NAME ":10: listen.grpc: invalid address \"[localhost]:1\"; use host:port, [IPv6]:port or unix:/absolute/path");
	expect_error(MINIMAL "listen:\n  grpc: 127.0.0.1:0\n",
	    NAME ":10: listen.grpc: invalid port in \"127.0.0.1:0\"; use a number from 1 to 65535");
	expect_error(MINIMAL "listen:\n  grpc: 127.0.0.1:65536\n",
	    NAME ":10: listen.grpc: invalid port in \"127.0.0.1:65536\"; use a number from 1 to 65535");
	expect_error(MINIMAL "listen:\n  grpc: \"127.0.0.1:\"\n",
	    NAME ":10: listen.grpc: invalid port in \"127.0.0.1:\"; use a number from 1 to 65535");
	expect_error(MINIMAL "listen:\n  grpc: 127.0.0.1:http\n",
	    NAME ":10: listen.grpc: invalid port in \"127.0.0.1:http\"; use a number from 1 to 65535");
	expect_error(MINIMAL "listen:\n  grpc: \"\"\n",
	    NAME ":10: listen.grpc: empty string; give a non-empty value");
}

static void
listen_unix_paths(void **state)
{
	char text[512];
	char path[120];

	expect_error(MINIMAL "listen:\n  admin: unix:run/admin.sock\n",
	    NAME ":10: listen.admin: unix socket path must be absolute, as in unix:/run/hsmjwt/grpc.sock");

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[108] = '\0';
	snprintf(text, sizeof(text), MINIMAL "listen:\n  admin: unix:%s\n", path);
	expect_error(text,
	    NAME ":10: listen.admin: unix socket path is longer than 107 bytes; use a shorter path");

	path[107] = '\0';
	snprintf(text, sizeof(text), MINIMAL "listen:\n  admin: unix:%s\n", path);
	config_free(parse_ok(text));
}

static void
listen_http_disabled(void **state)
{
	struct config *cfg = parse_ok(MINIMAL "listen:\n  http: \"\"\n  admin:\n");

	assert_null(cfg->listen_http);
	assert_null(cfg->listen_admin);
	assert_string_equal(cfg->listen_grpc, "127.0.0.1:50051");
	config_free(cfg);
}

/* Writes text to a new file in a temporary folder and returns its path. */
static char *
write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/hsmjwt-config-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

static void
load_file(void **state)
{
	char *path = write_temp(full_example, strlen(full_example));
	struct config *cfg = NULL;
	struct hj_error err;

	assert_int_equal(config_load(path, &cfg, &err), HJ_OK);
	assert_non_null(cfg);
	assert_int_equal(cfg->profile_count, 2);
	config_free(cfg);
	unlink(path);
	free(path);
}

static void
load_error_named_after_path(void **state)
{
	const char *text = HEAD "profiles: []\n";
	char *path = write_temp(text, strlen(text));
	char expected[HJ_ERROR_MESSAGE_MAX];
	struct config *cfg = NULL;
	struct hj_error err;

	snprintf(expected, sizeof(expected),
	    "%s:6: profiles: empty list; add at least one profile", path);
	assert_int_equal(config_load(path, &cfg, &err), HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_string_equal(err.message, expected);
	unlink(path);
	free(path);
}

static void
load_missing_file(void **state)
{
	struct config *cfg = NULL;
	struct hj_error err;
	char dir[] = "/tmp/hsmjwt-config-XXXXXX";
	char path[64];
	char expected[HJ_ERROR_MESSAGE_MAX];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	snprintf(expected, sizeof(expected),
	    "cannot read config %s: No such file or directory", path);

	assert_int_equal(config_load(path, &cfg, &err), HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_string_equal(err.message, expected);

	snprintf(expected, sizeof(expected),
	    "cannot read config %s: not a regular file", dir);
	assert_int_equal(config_load(dir, &cfg, &err), HJ_ERR_CONFIG);
	assert_string_equal(err.message, expected);
	assert_int_equal(rmdir(dir), 0);
}

/* Returns MINIMAL padded with a comment line to len bytes. */
static char *
padded_config(size_t len)
{
	size_t head = strlen(MINIMAL);
	char *text = malloc(len);

	assert_non_null(text);
	assert_true(len > head + 2);
	memcpy(text, MINIMAL, head);
	text[head] = '#';
	memset(text + head + 1, 'x', len - head - 2);
	text[len - 1] = '\n';
	return text;
}

static void
load_size_limit(void **state)
{
	char *text = padded_config(1024 * 1024);
	char *path = write_temp(text, 1024 * 1024);
	char expected[HJ_ERROR_MESSAGE_MAX];
	struct config *cfg = NULL;
	struct hj_error err;

	assert_int_equal(config_load(path, &cfg, &err), HJ_OK);
	config_free(cfg);
	unlink(path);
	free(path);
	free(text);

	text = padded_config(1024 * 1024 + 1);
	path = write_temp(text, 1024 * 1024 + 1);
	snprintf(expected, sizeof(expected),
	    "config %s is larger than 1048576 bytes; shorten it", path);
	assert_int_equal(config_load(path, &cfg, &err), HJ_ERR_CONFIG);
	assert_null(cfg);
	assert_string_equal(err.message, expected);
	unlink(path);
	free(path);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_full_example_fields),
		cmocka_unit_test(config_full_example_profiles),
		cmocka_unit_test(config_full_example_warnings),
		cmocka_unit_test(config_defaults),
		cmocka_unit_test(config_uri_and_pin_env),
		cmocka_unit_test(config_find_profile_by_name),
		cmocka_unit_test(duration_valid_forms),
		cmocka_unit_test(duration_invalid_forms),
		cmocka_unit_test(duration_forms_in_config),
		cmocka_unit_test(config_error_invalid_duration),
		cmocka_unit_test(config_error_missing_required),
		cmocka_unit_test(config_error_unknown_key),
		cmocka_unit_test(config_error_duplicate_key),
		cmocka_unit_test(config_error_wrong_type),
		cmocka_unit_test(config_error_invalid_strings),
		cmocka_unit_test(config_error_issuer),
		cmocka_unit_test(config_error_yaml_syntax),
		cmocka_unit_test(config_error_yaml_features),
		cmocka_unit_test(config_error_nesting_depth),
		cmocka_unit_test(config_error_hsm_token_choice),
		cmocka_unit_test(config_error_hsm_pin_choice),
		cmocka_unit_test(config_error_pin_in_config),
		cmocka_unit_test(config_error_alg),
		cmocka_unit_test(config_error_profile_name),
		cmocka_unit_test(config_error_ttl),
		cmocka_unit_test(config_error_encryption),
		cmocka_unit_test(config_error_decryption_alg),
		cmocka_unit_test(config_warning_tls),
		cmocka_unit_test(config_warning_rotation_off),
		cmocka_unit_test(listen_loopback_accepted),
		cmocka_unit_test(listen_remote_rejected),
		cmocka_unit_test(listen_remote_http_warned),
		cmocka_unit_test(listen_remote_rejected_with_tls),
		cmocka_unit_test(listen_invalid_addresses),
		cmocka_unit_test(listen_unix_paths),
		cmocka_unit_test(listen_http_disabled),
		cmocka_unit_test(load_file),
		cmocka_unit_test(load_error_named_after_path),
		cmocka_unit_test(load_missing_file),
		cmocka_unit_test(load_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
