/*
 * hsmjwtd: wires the configuration, the token, the key ring and the gRPC
 * and HTTP servers together, then waits for a signal.
 *
 * Signals are handled in one place: SIGTERM, SIGINT and SIGHUP are blocked
 * in every thread before any thread starts, and the main thread takes them
 * with sigwait().
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/obj_mac.h>

#include "hsmjwt/config.h"
#include "hsmjwt/hsm.h"
#include "hsmjwt/http.h"
#include "hsmjwt/keystore.h"
#include "hsmjwt/log.h"
#include "hsmjwt/rpc.h"
#include "daemon.h"

#define EXIT_STARTUP_FAILED 1
#define EXIT_USAGE 2
#define WORKERS_MIN 4
#define WORKERS_MAX 64

struct daemon {
	struct config *cfg;
	struct hsm *hsm;
	struct keystore *store;
	struct recipient *recipients;
	struct rpc_context rpc_ctx;
	struct http_context http_ctx;
	struct rpc_server *grpc;
	struct rpc_server *admin;
	const char *alg_names[32];
	size_t alg_count;
	struct http_server *http;
	unsigned workers;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: hsmjwtd --config FILE [--log-level LEVEL]\n"
	    "\n"
	    "Issues JWTs signed with keys kept in a PKCS#11 token.\n"
	    "\n"
	    "  -c, --config FILE      the YAML configuration file (required)\n"
	    "  -l, --log-level LEVEL  lowest level logged: debug, info (default), warn, error\n"
	    "  -h, --help             print this help and exit\n"
	    "  -V, --version          print the version and exit\n"
	    "\n"
	    "The PIN comes from hsm.pin_file or hsm.pin_env in the configuration,\n"
	    "never from the command line.\n");
}

/* Parses the command line; returns -1 to continue, else an exit status. */
static int
parse_args(int argc, char **argv, const char **config_path)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, level;

	while ((c = getopt_long(argc, argv, "c:l:hV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config_path = optarg;
			break;
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "hsmjwtd: invalid --log-level \"%s\"; use debug, "
				    "info, warn or error\n", optarg);
				return EXIT_USAGE;
			}
			log_set_level((enum log_level)level);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("hsmjwtd %s\n", HSMJWT_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || *config_path == NULL) {
		fprintf(stderr, "hsmjwtd: %s\n", optind != argc ?
		    "unexpected argument; the PIN and keys never go on the command line" :
		    "missing --config FILE");
		usage(stderr);
		return EXIT_USAGE;
	}
	return -1;
}

static unsigned
daemon_worker_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long workers = cpus > 0 ? cpus * 2 : WORKERS_MIN;

	if (workers < WORKERS_MIN)
		workers = WORKERS_MIN;
	if (workers > WORKERS_MAX)
		workers = WORKERS_MAX;
	return (unsigned)workers;
}

static bool
daemon_serving(void *arg)
{
	struct daemon *d = arg;

	return hsm_is_logged_in(d->hsm);
}

static hj_err
daemon_open_hsm(struct daemon *d, struct hj_error *err)
{
	struct hsm_options opts = {
		.module_path = d->cfg->hsm_module,
		.token_label = d->cfg->hsm_token,
		.token_uri = d->cfg->hsm_uri,
		.pool_size = d->workers,
	};
	char *pin = NULL;
	size_t pin_len = 0;
	hj_err r;

	if ((r = pin_read(d->cfg, &pin, &pin_len, err)) != HJ_OK)
		return r;
	r = hsm_open(&opts, pin, pin_len, &d->hsm, err);
	pin_free(pin);
	if (r != HJ_OK)
		return r;

	log_event(LOG_LEVEL_INFO, "hsm_open", "module=%s library=\"%s\" token=\"%s\" sessions=%u",
	    d->cfg->hsm_module, hsm_module_description(d->hsm),
	    hsm_token_description(d->hsm), d->workers);
	return HJ_OK;
}

/* Collects each algorithm that a profile signs with and its largest max_ttl. */
static size_t
daemon_profile_algs(const struct config *cfg, struct keystore_alg *algs, size_t max)
{
	size_t count = 0, i, j;

	for (i = 0; i < cfg->profile_count; i++) {
		const struct profile *p = &cfg->profiles[i];

		for (j = 0; j < count && algs[j].alg != p->alg; j++)
			;
		if (j == count && count == max)
			continue;
		if (j == count)
			algs[count++] = (struct keystore_alg){ p->alg, 0 };
		if (p->max_ttl > algs[j].max_ttl)
			algs[j].max_ttl = p->max_ttl;
	}
	return count;
}

/*
 * Adds the key management algorithms of keys.decryption. Their keys are
 * retired like signing keys, with the grace period of the longest max_ttl.
 */
static size_t
daemon_decryption_algs(const struct config *cfg, struct keystore_alg *algs,
    size_t count, size_t max)
{
	size_t i;

	for (i = 0; i < cfg->keys_decryption_count && count < max; i++) {
		const struct jose_alg *alg = jose_enc_alg_find(cfg->keys_decryption[i]);

		if (alg != NULL)
			algs[count++] = (struct keystore_alg){ alg, 0 };
	}
	return count;
}

static void
daemon_log_keys(struct daemon *d)
{
	struct keyring *ring = keystore_current(d->store);
	size_t i;

	for (i = 0; i < keyring_key_count(ring); i++) {
		const struct keyring_key *key = keyring_key_at(ring, i);

		log_event(LOG_LEVEL_INFO, "key", "kid=%s alg=%s state=%s activate_at=%lld",
		    key->kid, key->alg->name, lifecycle_state_name(key->state),
		    (long long)key->times.activate_at);
	}
	keyring_unref(ring);
}

/*
 * Returns false when the token cannot decrypt RSA-OAEP-256, found with a
 * probe key that is destroyed again. SoftHSM 2.6.1 rejects OAEP with
 * SHA-256 (CKR_ARGUMENTS_BAD).
 */
static bool
daemon_probe_oaep256(struct daemon *d)
{
	const struct hsm_enc_spec spec = { .kty = JOSE_KTY_RSA, .rsa_bits = 2048 };
	char message[LOG_QUOTE_SIZE];
	struct hsm_key probe;
	struct hj_error err;
	bool supported = false;

	memset(&probe, 0, sizeof(probe));
	if (hsm_enc_key_generate(d->hsm, &spec, "hsmjwt-probe:RSA-OAEP-256", &probe,
	    &err) != HJ_OK ||
	    hsm_oaep_supported(d->hsm, &probe, NID_sha256, &supported, &err) != HJ_OK)
		log_event(LOG_LEVEL_ERROR, "oaep_probe_failed", "message=%s",
		    log_quote(message, err.message));
	if (probe.private_handle != 0)
		(void)hsm_object_destroy(d->hsm, probe.private_handle, NULL);
	if (probe.public_handle != 0)
		(void)hsm_object_destroy(d->hsm, probe.public_handle, NULL);
	return supported;
}

/* Leaves out RSA-OAEP-256 when the token cannot decrypt it, so no such key is published. */
static size_t
daemon_check_decryption(struct daemon *d, struct keystore_alg *algs, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(algs[i].alg->name, "RSA-OAEP-256") != 0)
			continue;
		if (daemon_probe_oaep256(d))
			return count;
		d->rpc_ctx.oaep256_unsupported = true;
		log_event(LOG_LEVEL_WARN, "decryption_disabled", "alg=RSA-OAEP-256 "
		    "reason=\"the token rejects RSA-OAEP with SHA-256; no RSA-OAEP-256 key is "
		    "published, and Decrypt of such JWEs fails with FAILED_PRECONDITION\"");
		algs[i] = algs[count - 1];
		return count - 1;
	}
	return count;
}

/* Opens the key store with a key for each algorithm that a profile uses. */
static hj_err
daemon_load_keys(struct daemon *d, struct hj_error *err)
{
	struct keystore_alg algs[32];
	struct keystore_options opts = {
		.hsm = d->hsm,
		.algs = algs,
		.generate_missing = d->cfg->hsm_generate_missing_keys,
		.pre_publish = d->cfg->keys_pre_publish,
		.rotate_every = d->cfg->keys_rotate_every,
		.refresh = d->cfg->keys_refresh,
		.clock_skew = d->cfg->keys_clock_skew,
	};
	hj_err r;

	opts.alg_count = daemon_profile_algs(d->cfg, algs, sizeof(algs) / sizeof(algs[0]));
	for (d->alg_count = 0; d->alg_count < opts.alg_count; d->alg_count++)
		d->alg_names[d->alg_count] = algs[d->alg_count].alg->name;
	opts.alg_count = daemon_decryption_algs(d->cfg, algs, opts.alg_count,
	    sizeof(algs) / sizeof(algs[0]));
	opts.alg_count = daemon_check_decryption(d, algs, opts.alg_count);
	r = keystore_open(&opts, &d->store, err);
	if (r == HJ_OK)
		daemon_log_keys(d);
	return r;
}

static hj_err
daemon_start_admin(struct daemon *d, struct hj_error *err)
{
	const char *path = listen_unix_path(d->cfg->listen_admin);
	hj_err r;

	if (path != NULL && (r = listen_remove_stale_socket(path, err)) != HJ_OK)
		return r;
	r = rpc_server_start(d->cfg->listen_admin, RPC_SERVICE_HEALTH | RPC_SERVICE_ADMIN, 2,
	    &d->rpc_ctx,
	    &d->admin, err);
	if (r != HJ_OK)
		return r;
	if (path != NULL && chmod(path, 0600) != 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "listen.admin: cannot chmod %s: %s",
		    path, strerror(errno));
	return HJ_OK;
}

static hj_err
daemon_start_servers(struct daemon *d, struct hj_error *err)
{
	const char *grpc_path = listen_unix_path(d->cfg->listen_grpc);
	int fd;
	hj_err r;

	d->rpc_ctx = (struct rpc_context){
		.oaep256_unsupported = d->rpc_ctx.oaep256_unsupported,
		.issuer = d->cfg->issuer,
		.profiles = d->cfg->profiles,
		.profile_count = d->cfg->profile_count,
		.recipients = d->recipients,
		.recipient_count = d->cfg->recipient_count,
		.store = d->store,
		.clock_skew = d->cfg->keys_clock_skew,
		.serving = daemon_serving,
		.serving_arg = d,
	};
	d->http_ctx = (struct http_context){
		.store = d->store,
		.issuer = d->cfg->issuer,
		.algs = d->alg_names,
		.alg_count = d->alg_count,
		.max_age = d->cfg->keys_pre_publish,
		.serving = daemon_serving,
		.serving_arg = d,
	};

	if (d->cfg->listen_http != NULL) {
		if ((r = listen_open(d->cfg->listen_http, &fd, err)) != HJ_OK ||
		    (r = http_server_start(fd, &d->http_ctx, &d->http, err)) != HJ_OK)
			return r;
	}
	if (grpc_path != NULL && (r = listen_remove_stale_socket(grpc_path, err)) != HJ_OK)
		return r;
	r = rpc_server_start(d->cfg->listen_grpc, RPC_SERVICE_TOKEN | RPC_SERVICE_HEALTH,
	    d->workers, &d->rpc_ctx, &d->grpc, err);
	if (r != HJ_OK)
		return r;
	if (d->cfg->listen_admin != NULL && (r = daemon_start_admin(d, err)) != HJ_OK)
		return r;

	log_event(LOG_LEVEL_INFO, "listening", "grpc=%s http=%s admin=%s workers=%u",
	    d->cfg->listen_grpc, d->cfg->listen_http != NULL ? d->cfg->listen_http : "-",
	    d->cfg->listen_admin != NULL ? d->cfg->listen_admin : "-", d->workers);
	return HJ_OK;
}

static void
daemon_stop(struct daemon *d)
{
	rpc_server_free(d->admin);
	rpc_server_free(d->grpc);
	http_server_stop(d->http);
	keystore_close(d->store);
	if (d->cfg != NULL)
		recipients_free(d->recipients, d->cfg->recipient_count);
	hsm_close(d->hsm);
	config_free(d->cfg);
}

/* Waits for SIGTERM or SIGINT; SIGHUP is logged and ignored. */
static void
daemon_wait(const sigset_t *signals)
{
	int sig = 0;

	for (;;) {
		if (sigwait(signals, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		log_event(LOG_LEVEL_WARN, "sighup",
		    "action=ignored reason=\"configuration reload is not supported yet; restart hsmjwtd\"");
	}
	log_event(LOG_LEVEL_INFO, "stopping", "signal=%s action=\"draining calls in progress\"",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
daemon_block_signals(sigset_t *signals)
{
	sigemptyset(signals);
	sigaddset(signals, SIGTERM);
	sigaddset(signals, SIGINT);
	sigaddset(signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, signals, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static hj_err
daemon_start(struct daemon *d, const char *config_path, struct hj_error *err)
{
	size_t i;
	hj_err r;

	if ((r = config_load(config_path, &d->cfg, err)) != HJ_OK)
		return r;
	for (i = 0; i < d->cfg->warning_count; i++)
		log_event(LOG_LEVEL_WARN, "config", "message=\"%s\"", d->cfg->warnings[i]);

	d->workers = daemon_worker_count();
	if ((r = recipients_load(d->cfg, &d->recipients, err)) != HJ_OK ||
	    (r = daemon_open_hsm(d, err)) != HJ_OK ||
	    (r = daemon_load_keys(d, err)) != HJ_OK ||
	    (r = daemon_start_servers(d, err)) != HJ_OK)
		return r;
	return HJ_OK;
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct hj_error err;
	const char *config_path = NULL;
	char message[LOG_QUOTE_SIZE];
	sigset_t signals;
	int status;

	status = parse_args(argc, argv, &config_path);
	if (status >= 0)
		return status;

	/* Sockets and anything else created are private to the service user. */
	umask(077);
	daemon_block_signals(&signals);
	memset(&d, 0, sizeof(d));
	hj_error_clear(&err);

	log_event(LOG_LEVEL_INFO, "starting", "version=%s config=%s", HSMJWT_VERSION,
	    config_path);
	rpc_init();
	if (daemon_start(&d, config_path, &err) != HJ_OK) {
		log_event(LOG_LEVEL_ERROR, "startup_failed", "error=\"%s\" message=%s",
		    hj_err_str(err.code), log_quote(message, err.message));
		daemon_stop(&d);
		rpc_shutdown();
		return EXIT_STARTUP_FAILED;
	}
	log_event(LOG_LEVEL_INFO, "ready", "issuer=%s profiles=%zu", d.cfg->issuer,
	    d.cfg->profile_count);

	daemon_wait(&signals);
	daemon_stop(&d);
	rpc_shutdown();
	log_event(LOG_LEVEL_INFO, "stopped", "status=0");
	return EXIT_SUCCESS;
}
