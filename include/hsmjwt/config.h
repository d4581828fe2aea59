/*
 * The daemon's YAML configuration (hsmjwtd --config FILE).
 *
 * The parser accepts every key of the documented format. An unknown key, a
 * value of the wrong type, an invalid value or a missing required key stops
 * startup with a message that names the key and its line. A known key whose
 * feature is not built yet is accepted and listed in config.warnings.
 * Durations are integer seconds or a number followed by s, m, h or d.
 */
#ifndef HSMJWT_CONFIG_H
#define HSMJWT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"
#include "hsmjwt/profile.h"

struct config_tls {
	char *cert;
	char *key;
	char *client_ca;
};

struct config_recipient {
	char *name;
	char *jwk_file;
};


struct config {
	char *issuer;                  /* required */

	char *listen_grpc;             /* default 127.0.0.1:50051 */
	char *listen_http;             /* default 127.0.0.1:8080; NULL when set to "" */
	char *listen_admin;            /* NULL when absent */
	bool tls_present;
	struct config_tls tls;

	char *hsm_module;              /* required */
	char *hsm_token;               /* token label; or */
	char *hsm_uri;                 /* a pkcs11: URI; exactly one of the two */
	char *hsm_pin_file;            /* exactly one of pin_file and pin_env */
	char *hsm_pin_env;
	bool hsm_generate_missing_keys;   /* default false */

	uint32_t keys_pre_publish;     /* seconds; default 3600 */
	uint32_t keys_rotate_every;    /* seconds; 0: no automatic rotation */
	uint32_t keys_refresh;         /* seconds; default 10 */
	uint32_t keys_clock_skew;      /* seconds; default 60 */
	char **keys_decryption;        /* JWE "alg" values */
	size_t keys_decryption_count;

	struct config_recipient *recipients;
	size_t recipient_count;

	struct profile *profiles;      /* at least one */
	struct profile_encryption *profile_encryption;  /* parallel to profiles */
	size_t profile_count;

	/* "line N: key: accepted, but ... is not supported yet" messages. */
	char **warnings;
	size_t warning_count;
};

/*
 * Reads and checks the file at path. On success *cfgp is freed with
 * config_free(). Errors are HJ_ERR_CONFIG with "PATH:LINE: key: problem"
 * in err.
 */
hj_err config_load(const char *path, struct config **cfgp,
    struct hj_error *err);

/* Same as config_load() on text in memory; name stands for the path in messages. */
hj_err config_parse(const char *text, size_t len, const char *name,
    struct config **cfgp, struct hj_error *err);

/* Parses a duration ("90", "90s", "5m", "1h", "30d") into seconds. */
hj_err config_parse_duration(const char *text, uint32_t *secondsp);

/* Returns the profile called name, or NULL. */
const struct profile *config_find_profile(const struct config *cfg,
    const char *name);

void config_free(struct config *cfg);

#endif
