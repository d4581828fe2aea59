/*
 * p11bench: the raw ES256 signing rate of a PKCS#11 token, which bounds the
 * rate of hsmjwtd's Sign. Each signature does what an ES256 JWS signature
 * needs from the token: SHA-256 of the message in software (OpenSSL), then
 * C_SignInit and C_Sign with CKM_ECDSA on a P-256 private key that is found
 * by the prefix of its CKA_LABEL. Each thread signs on its own session for a
 * fixed time. The last signature of each thread is verified with OpenSSL
 * against the key's CKA_EC_POINT, so that a token that returns garbage fails
 * the run.
 *
 * The module is loaded with dlopen and called through its function list,
 * as src/hsm/ does. The user PIN is read from the environment variable
 * HSMJWT_PIN, never from the command line.
 *
 * Output: one line per thread count,
 *   threads=2 seconds=5.000 signatures=20153 rate=4030.6 cpu_us_per_sig=492.1
 * where rate is signatures per second (the sum over threads) and
 * cpu_us_per_sig is the process's user plus system CPU time per signature.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <p11-kit/pkcs11.h>

#define BENCH_THREADS_MAX 64
#define BENCH_MESSAGE_LEN 256      /* about a JWS signing input of a small claim set */
#define BENCH_LABEL_MAX 256
#define BENCH_ID_MAX 64
#define P256_POINT_LEN 65          /* 0x04 || X || Y */
#define P256_SIG_LEN 64            /* R || S */

/* DER of the OID prime256v1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS of a P-256 key. */
static const uint8_t p256_oid_der[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
};

struct bench {
	void *module;                   /* dlopen handle */
	CK_FUNCTION_LIST_PTR p11;
	bool initialized;               /* C_Initialize succeeded */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login_session;   /* keeps the login; 0 when closed */
	CK_OBJECT_HANDLE private_key;
	EVP_PKEY *public_key;
	EVP_MD *sha256;
	unsigned seconds;               /* duration of each run */
};

struct worker {
	struct bench *bench;
	pthread_barrier_t *start;
	CK_SESSION_HANDLE session;
	unsigned long signatures;
	double elapsed;                 /* seconds */
	const char *failed_call;        /* NULL on success */
	CK_RV rv;
	uint8_t message[BENCH_MESSAGE_LEN];
	uint8_t digest[32];
	uint8_t sig[P256_SIG_LEN];
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: p11bench [-m MODULE] -t TOKEN_LABEL [-l KEY_LABEL_PREFIX] "
	    "[-d SECONDS] [THREADS ...]\n"
	    "  -m  PKCS#11 module to load (default /usr/lib/softhsm/libsofthsm2.so)\n"
	    "  -t  CKA_LABEL of the token\n"
	    "  -l  prefix of the private key's CKA_LABEL (default \"hsmjwt:ES256\")\n"
	    "  -d  seconds of signing for each thread count (default 5)\n"
	    "  THREADS  thread counts to run, one run each (default 1 2)\n"
	    "The user PIN is read from the environment variable HSMJWT_PIN.\n");
}

static double
clock_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0.0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *
p11_rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
	case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
	case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
	case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	default: return NULL;
	}
}

static void
p11_report(const char *call, CK_RV rv)
{
	const char *name = p11_rv_name(rv);

	if (name != NULL)
		fprintf(stderr, "p11bench: %s failed: %s\n", call, name);
	else
		fprintf(stderr, "p11bench: %s failed: CK_RV 0x%08lx\n", call,
		    (unsigned long)rv);
}

static int
module_load(struct bench *b, const char *path)
{
	CK_C_GetFunctionList get_function_list;
	CK_C_INITIALIZE_ARGS init_args;
	CK_RV rv;

	b->module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (b->module == NULL) {
		fprintf(stderr, "p11bench: cannot load PKCS#11 module %s: %s; "
		    "install softhsm2 or pass the module with -m\n", path, dlerror());
		return -1;
	}

	get_function_list = (CK_C_GetFunctionList)dlsym(b->module,
	    "C_GetFunctionList");
	if (get_function_list == NULL) {
		fprintf(stderr, "p11bench: %s has no C_GetFunctionList: "
		    "it is not a PKCS#11 module\n", path);
		return -1;
	}
	rv = get_function_list(&b->p11);
	if (rv != CKR_OK) {
		p11_report("C_GetFunctionList", rv);
		return -1;
	}

	memset(&init_args, 0, sizeof(init_args));
	init_args.flags = CKF_OS_LOCKING_OK;
	rv = b->p11->C_Initialize(&init_args);
	if (rv != CKR_OK) {
		p11_report("C_Initialize", rv);
		return -1;
	}
	b->initialized = true;
	return 0;
}

/* Compares a token label (32 bytes, padded with spaces) with label. */
static bool
token_label_equal(const CK_UTF8CHAR *padded, const char *label)
{
	size_t len = strlen(label);
	size_t i;

	if (len > 32)
		return false;
	if (memcmp(padded, label, len) != 0)
		return false;
	for (i = len; i < 32; i++) {
		if (padded[i] != ' ')
			return false;
	}
	return true;
}

static int
slot_find(struct bench *b, const char *token_label)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n_slots = 0, i;
	CK_TOKEN_INFO info;
	CK_RV rv;
	int r = -1;

	rv = b->p11->C_GetSlotList(CK_TRUE, NULL, &n_slots);
	if (rv != CKR_OK) {
		p11_report("C_GetSlotList", rv);
		goto out;
	}
	slots = calloc(n_slots + 1, sizeof(*slots));
	if (slots == NULL)
		goto out;
	rv = b->p11->C_GetSlotList(CK_TRUE, slots, &n_slots);
	if (rv != CKR_OK) {
		p11_report("C_GetSlotList", rv);
		goto out;
	}

	for (i = 0; i < n_slots; i++) {
		if (b->p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		if (token_label_equal(info.label, token_label)) {
			b->slot = slots[i];
			r = 0;
			goto out;
		}
	}
	fprintf(stderr, "p11bench: no token labelled \"%s\" among %lu tokens; "
	    "check SOFTHSM2_CONF and -t\n", token_label, (unsigned long)n_slots);

out:
	free(slots);
	return r;
}

static int
token_login(struct bench *b)
{
	const char *pin = getenv("HSMJWT_PIN");
	CK_RV rv;

	if (pin == NULL || *pin == '\0') {
		fprintf(stderr, "p11bench: HSMJWT_PIN is not set; "
		    "export the token's user PIN in it\n");
		return -1;
	}

	rv = b->p11->C_OpenSession(b->slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &b->login_session);
	if (rv != CKR_OK) {
		p11_report("C_OpenSession", rv);
		return -1;
	}
	rv = b->p11->C_Login(b->login_session, CKU_USER,
	    (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		p11_report("C_Login", rv);
		return -1;
	}
	return 0;
}

/*
 * Reads one variable-length attribute of obj into buf (cap bytes).
 * Returns its length, or -1 when it is absent or longer than cap.
 */
static long
attribute_read(struct bench *b, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
    void *buf, size_t cap)
{
	CK_ATTRIBUTE attr = { type, buf, cap };
	CK_RV rv;

	rv = b->p11->C_GetAttributeValue(b->login_session, obj, &attr, 1);
	if (rv != CKR_OK || attr.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return -1;
	return (long)attr.ulValueLen;
}

/*
 * Finds the objects that match templ and calls match on each until it
 * returns true. Returns the number of objects seen, or -1 when the search
 * fails.
 */
static long
objects_find(struct bench *b, CK_ATTRIBUTE *templ, CK_ULONG templ_len,
    bool (*match)(struct bench *, CK_OBJECT_HANDLE, void *), void *arg)
{
	CK_OBJECT_HANDLE found[16];
	CK_ULONG n_found = 0, i;
	long seen = 0;
	bool done = false;
	CK_RV rv;

	rv = b->p11->C_FindObjectsInit(b->login_session, templ, templ_len);
	if (rv != CKR_OK) {
		p11_report("C_FindObjectsInit", rv);
		return -1;
	}
	while (!done) {
		rv = b->p11->C_FindObjects(b->login_session, found, 16, &n_found);
		if (rv != CKR_OK) {
			p11_report("C_FindObjects", rv);
			seen = -1;
			break;
		}
		if (n_found == 0)
			break;
		for (i = 0; i < n_found && !done; i++) {
			seen++;
			done = match(b, found[i], arg);
		}
	}
	b->p11->C_FindObjectsFinal(b->login_session);
	return seen;
}

struct key_match {
	const char *label_prefix;
	char label[BENCH_LABEL_MAX];
	uint8_t id[BENCH_ID_MAX];
	long id_len;
	CK_OBJECT_HANDLE handle;
	bool found;
};

static bool
key_match_private(struct bench *b, CK_OBJECT_HANDLE obj, void *arg)
{
	struct key_match *m = arg;
	uint8_t params[64];
	long len;

	len = attribute_read(b, obj, CKA_LABEL, m->label, sizeof(m->label) - 1);
	if (len < 0)
		return false;
	m->label[len] = '\0';
	if (strncmp(m->label, m->label_prefix, strlen(m->label_prefix)) != 0)
		return false;

	len = attribute_read(b, obj, CKA_EC_PARAMS, params, sizeof(params));
	if (len != (long)sizeof(p256_oid_der) ||
	    memcmp(params, p256_oid_der, sizeof(p256_oid_der)) != 0) {
		fprintf(stderr, "p11bench: skipping key \"%s\": not on P-256\n",
		    m->label);
		return false;
	}

	m->id_len = attribute_read(b, obj, CKA_ID, m->id, sizeof(m->id));
	if (m->id_len < 0)
		return false;
	m->handle = obj;
	m->found = true;
	return true;
}

static int
key_find(struct bench *b, const char *label_prefix, struct key_match *m)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_EC;
	CK_ATTRIBUTE templ[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &type, sizeof(type) },
	};
	long seen;

	memset(m, 0, sizeof(*m));
	m->label_prefix = label_prefix;
	seen = objects_find(b, templ, 2, key_match_private, m);
	if (seen < 0)
		return -1;
	if (!m->found) {
		fprintf(stderr, "p11bench: no P-256 private key whose label starts "
		    "with \"%s\" among %ld EC private keys; start hsmjwtd with "
		    "generate_missing_keys: true first\n", label_prefix, seen);
		return -1;
	}
	b->private_key = m->handle;
	return 0;
}

static bool
key_match_any(struct bench *b, CK_OBJECT_HANDLE obj, void *arg)
{
	*(CK_OBJECT_HANDLE *)arg = obj;
	return true;
}

/* Builds an OpenSSL P-256 public key from an uncompressed point. */
static EVP_PKEY *
public_key_from_point(const uint8_t *point, size_t point_len)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, point_len))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;

out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/*
 * Reads the public half (the CKO_PUBLIC_KEY with the private key's CKA_ID)
 * and keeps it for checking signatures. CKA_EC_POINT is the DER OCTET STRING
 * of the uncompressed point.
 */
static int
public_key_load(struct bench *b, const struct key_match *m)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE templ[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)m->id, (CK_ULONG)m->id_len },
	};
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	uint8_t der[P256_POINT_LEN + 2];
	long len;

	if (objects_find(b, templ, 2, key_match_any, &obj) < 0)
		return -1;
	if (obj == CK_INVALID_HANDLE) {
		fprintf(stderr, "p11bench: key \"%s\" has no public key object "
		    "with the same CKA_ID\n", m->label);
		return -1;
	}

	len = attribute_read(b, obj, CKA_EC_POINT, der, sizeof(der));
	if (len != (long)sizeof(der) || der[0] != 0x04 ||
	    der[1] != P256_POINT_LEN || der[2] != 0x04) {
		fprintf(stderr, "p11bench: CKA_EC_POINT of \"%s\" is not a DER "
		    "uncompressed P-256 point\n", m->label);
		return -1;
	}
	b->public_key = public_key_from_point(der + 2, P256_POINT_LEN);
	if (b->public_key == NULL) {
		fprintf(stderr, "p11bench: OpenSSL rejected the public key of "
		    "\"%s\"\n", m->label);
		return -1;
	}
	return 0;
}

/* Hashes w->message and signs the digest on w->session. */
static bool
worker_sign_once(struct worker *w)
{
	CK_FUNCTION_LIST_PTR p11 = w->bench->p11;
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	CK_ULONG sig_len = sizeof(w->sig);

	if (EVP_Digest(w->message, sizeof(w->message), w->digest, NULL,
	    w->bench->sha256, NULL) != 1) {
		w->failed_call = "EVP_Digest";
		return false;
	}

	w->rv = p11->C_SignInit(w->session, &mech, w->bench->private_key);
	if (w->rv != CKR_OK) {
		w->failed_call = "C_SignInit";
		return false;
	}
	w->rv = p11->C_Sign(w->session, w->digest, sizeof(w->digest), w->sig,
	    &sig_len);
	if (w->rv != CKR_OK || sig_len != P256_SIG_LEN) {
		w->failed_call = "C_Sign";
		return false;
	}
	return true;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	double start, deadline, now;

	pthread_barrier_wait(w->start);
	start = clock_seconds();
	deadline = start + w->bench->seconds;

	do {
		/* A different message each time, as real tokens differ. */
		memcpy(w->message, &w->signatures, sizeof(w->signatures));
		if (!worker_sign_once(w))
			break;
		w->signatures++;
		now = clock_seconds();
	} while (now < deadline);

	w->elapsed = clock_seconds() - start;
	return NULL;
}

/* Checks w's last signature (raw R || S over w->digest) with OpenSSL. */
static bool
worker_signature_valid(const struct worker *w)
{
	ECDSA_SIG *sig = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int der_len;
	bool valid = false;

	r = BN_bin2bn(w->sig, P256_SIG_LEN / 2, NULL);
	s = BN_bin2bn(w->sig + P256_SIG_LEN / 2, P256_SIG_LEN / 2, NULL);
	sig = ECDSA_SIG_new();
	if (r == NULL || s == NULL || sig == NULL || !ECDSA_SIG_set0(sig, r, s))
		goto out;
	r = s = NULL;   /* owned by sig now */

	der_len = i2d_ECDSA_SIG(sig, &der);
	ctx = EVP_PKEY_CTX_new(w->bench->public_key, NULL);
	if (der_len <= 0 || ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0)
		goto out;
	valid = EVP_PKEY_verify(ctx, der, der_len, w->digest,
	    sizeof(w->digest)) == 1;

out:
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	return valid;
}

static int
workers_open(struct bench *b, struct worker *workers, unsigned n,
    pthread_barrier_t *start)
{
	unsigned i;
	CK_RV rv;

	memset(workers, 0, n * sizeof(*workers));
	for (i = 0; i < n; i++) {
		workers[i].bench = b;
		workers[i].start = start;
		memset(workers[i].message, 'a', sizeof(workers[i].message));
		rv = b->p11->C_OpenSession(b->slot, CKF_SERIAL_SESSION, NULL,
		    NULL, &workers[i].session);
		if (rv != CKR_OK) {
			p11_report("C_OpenSession", rv);
			return -1;
		}
	}
	return 0;
}

static void
workers_close(struct bench *b, struct worker *workers, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (workers[i].session != CK_INVALID_HANDLE)
			b->p11->C_CloseSession(workers[i].session);
	}
}

/* Adds up the workers of one run, checks them and prints the result line. */
static int
run_report(const struct worker *workers, unsigned n, double cpu)
{
	unsigned long signatures = 0;
	double rate = 0.0, elapsed = 0.0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (workers[i].failed_call != NULL) {
			fprintf(stderr, "p11bench: thread %u: ", i);
			p11_report(workers[i].failed_call, workers[i].rv);
			return -1;
		}
		if (!worker_signature_valid(&workers[i])) {
			fprintf(stderr, "p11bench: thread %u: the token's signature "
			    "does not verify with its public key\n", i);
			return -1;
		}
		signatures += workers[i].signatures;
		rate += (double)workers[i].signatures / workers[i].elapsed;
		if (workers[i].elapsed > elapsed)
			elapsed = workers[i].elapsed;
	}

	printf("threads=%u seconds=%.3f signatures=%lu rate=%.1f "
	    "cpu_us_per_sig=%.1f\n", n, elapsed, signatures, rate,
	    cpu * 1e6 / (double)signatures);
	fflush(stdout);
	return 0;
}

static int
bench_run(struct bench *b, unsigned n)
{
	struct worker workers[BENCH_THREADS_MAX];
	pthread_t threads[BENCH_THREADS_MAX];
	pthread_barrier_t start;
	unsigned started = 0, i;
	double cpu_before;
	int r = -1;

	if (pthread_barrier_init(&start, NULL, n + 1) != 0)
		return -1;
	if (workers_open(b, workers, n, &start) != 0)
		goto out;

	for (started = 0; started < n; started++) {
		if (pthread_create(&threads[started], NULL, worker_main,
		    &workers[started]) != 0) {
			fprintf(stderr, "p11bench: pthread_create: %s\n",
			    strerror(errno));
			/* The barrier never opens without every thread. */
			exit(1);
		}
	}
	cpu_before = cpu_seconds();
	pthread_barrier_wait(&start);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);

	r = run_report(workers, n, cpu_seconds() - cpu_before);

out:
	workers_close(b, workers, n);
	pthread_barrier_destroy(&start);
	return r;
}

static void
bench_close(struct bench *b)
{
	EVP_PKEY_free(b->public_key);
	EVP_MD_free(b->sha256);
	if (b->login_session != CK_INVALID_HANDLE) {
		b->p11->C_Logout(b->login_session);
		b->p11->C_CloseSession(b->login_session);
	}
	if (b->initialized)
		b->p11->C_Finalize(NULL);
	if (b->module != NULL)
		dlclose(b->module);
}

static int
bench_open(struct bench *b, const char *module, const char *token_label,
    const char *label_prefix)
{
	struct key_match m;

	b->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (b->sha256 == NULL) {
		fprintf(stderr, "p11bench: OpenSSL has no SHA256\n");
		return -1;
	}
	if (module_load(b, module) != 0 || slot_find(b, token_label) != 0 ||
	    token_login(b) != 0 || key_find(b, label_prefix, &m) != 0 ||
	    public_key_load(b, &m) != 0)
		return -1;

	printf("module=%s token=%s key=%s\n", module, token_label, m.label);
	return 0;
}

/* Parses a positive integer no larger than max; returns 0 when invalid. */
static unsigned
number_parse(const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		return 0;
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	const char *module = "/usr/lib/softhsm/libsofthsm2.so";
	const char *token_label = NULL, *label_prefix = "hsmjwt:ES256";
	unsigned runs[BENCH_THREADS_MAX] = { 1, 2 };
	unsigned n_runs = 2, i;
	struct bench b;
	int ch, r = 1;

	memset(&b, 0, sizeof(b));
	b.seconds = 5;
	while ((ch = getopt(argc, argv, "m:t:l:d:h")) != -1) {
		switch (ch) {
		case 'm': module = optarg; break;
		case 't': token_label = optarg; break;
		case 'l': label_prefix = optarg; break;
		case 'd':
			b.seconds = number_parse(optarg, 3600);
			if (b.seconds == 0) {
				fprintf(stderr, "p11bench: -d %s: expected whole "
				    "seconds from 1 to 3600\n", optarg);
				return 2;
			}
			break;
		default: usage(); return 2;
		}
	}
	if (token_label == NULL || argc - optind > BENCH_THREADS_MAX) {
		usage();
		return 2;
	}

	if (optind < argc)
		n_runs = (unsigned)(argc - optind);
	for (i = 0; optind + (int)i < argc; i++) {
		runs[i] = number_parse(argv[optind + i], BENCH_THREADS_MAX);
		if (runs[i] == 0) {
			fprintf(stderr, "p11bench: thread count %s: expected 1 "
			    "to %d\n", argv[optind + i], BENCH_THREADS_MAX);
			return 2;
		}
	}

	if (bench_open(&b, module, token_label, label_prefix) != 0)
		goto out;
	for (i = 0; i < n_runs; i++) {
		if (bench_run(&b, runs[i]) != 0)
			goto out;
	}
	r = 0;

out:
	bench_close(&b);
	return r;
}
