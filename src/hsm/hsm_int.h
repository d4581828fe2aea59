/*
 * Internals of the PKCS#11 layer, shared by the files of src/hsm/ only.
 */
#ifndef HSMJWT_HSM_INT_H
#define HSMJWT_HSM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "hsmjwt/hsm.h"

/* Sizes of the trimmed token label and descriptions, with the NUL. */
#define HSM_TOKEN_LABEL_SIZE 33
#define HSM_DESCRIPTION_SIZE 128

/* Length of the random CKA_ID of generated keys. */
#define HSM_KEY_ID_LEN 16

/* Minimum modulus length of RSA keys, generated or listed. */
#define HSM_RSA_BITS_MIN 2048

struct hsm {
	void *dl;                          /* dlopen handle of the module */
	CK_FUNCTION_LIST_PTR p11;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login_session;   /* logged in; open until hsm_close */
	char token_label[HSM_TOKEN_LABEL_SIZE];
	char token_description[HSM_DESCRIPTION_SIZE];
	char module_description[HSM_DESCRIPTION_SIZE];
	atomic_bool logged_in;

	/*
	 * The session pool. free_sessions[0 .. free_count - 1] are the idle
	 * sessions, guarded by lock. A slot containing CK_INVALID_HANDLE is a
	 * session that could not be reopened; hsm_session_acquire() retries
	 * opening it.
	 */
	pthread_mutex_t lock;
	pthread_cond_t session_returned;
	CK_SESSION_HANDLE *free_sessions;
	unsigned free_count;
	unsigned pool_size;
	bool pool_ready;                   /* lock and condition initialized */
};

/*
 * An operation on one borrowed session. It returns the CK_RV of the first
 * call that failed and points *callp at that function's name ("C_Sign").
 * hsm_session_run() may call it twice, so it must reset its own outputs.
 */
typedef CK_RV (*hsm_session_fn)(struct hsm *hsm, CK_SESSION_HANDLE session,
    void *ctx, const char **callp);

/* module.c */
CK_RV hsm_session_open(struct hsm *hsm, CK_SESSION_HANDLE *sessionp);

/* token.c */
hj_err hsm_token_find(struct hsm *hsm, const struct hsm_options *opts,
    struct hj_error *err);
hj_err hsm_token_login(struct hsm *hsm, const char *pin, size_t pin_len,
    struct hj_error *err);
void hsm_copy_padded(char *out, size_t out_size, const unsigned char *padded,
    size_t padded_len);

/* session.c */
bool hsm_rv_is_session_lost(CK_RV rv);
bool hsm_rv_is_unavailable(CK_RV rv);
hj_err hsm_rv_error(struct hsm *hsm, CK_RV rv, const char *call,
    const char *action, struct hj_error *err);
hj_err hsm_pool_open(struct hsm *hsm, unsigned pool_size,
    struct hj_error *err);
void hsm_pool_close(struct hsm *hsm);
hj_err hsm_session_run(struct hsm *hsm, const char *action, hsm_session_fn fn,
    void *ctx, struct hj_error *err);

/* key.c */
hj_err hsm_label_check(const char *label, struct hj_error *err);

/* secret.c */
CK_RV hsm_secret_create(struct hsm *hsm, CK_SESSION_HANDLE session,
    const uint8_t *value, size_t value_len, CK_OBJECT_HANDLE *objectp);
CK_RV hsm_secret_take(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, uint8_t *buf, size_t cap, size_t *lenp,
    const char **callp);

/* keyattr.c */
bool hsm_rv_is_fatal(CK_RV rv);
const unsigned char *hsm_curve_params(const char *crv, size_t *params_lenp);
CK_RV hsm_key_read_private(struct hsm *hsm, CK_SESSION_HANDLE session,
    CK_OBJECT_HANDLE object, const char *prefix, struct hsm_key *key,
    bool *matchp, const char **callp);
CK_RV hsm_key_read_public(struct hsm *hsm, CK_SESSION_HANDLE session,
    struct hsm_key *key, const char **callp);

#endif
