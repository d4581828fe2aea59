/*
 * The pool of work sessions, the retry of an operation on a lost session,
 * and the conversion of CK_RV into hj_err.
 */
#include <stdlib.h>

#include "hsm_int.h"

bool
hsm_rv_is_session_lost(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
	    rv == CKR_USER_NOT_LOGGED_IN;
}

bool
hsm_rv_is_unavailable(CK_RV rv)
{
	switch (rv) {
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_GENERAL_ERROR:
	case CKR_FUNCTION_FAILED:
	case CKR_FUNCTION_CANCELED:
	case CKR_SESSION_COUNT:
	case CKR_SLOT_ID_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return true;
	default:
		return hsm_rv_is_session_lost(rv);
	}
}

hj_err
hsm_rv_error(struct hsm *hsm, CK_RV rv, const char *call, const char *action,
    struct hj_error *err)
{
	if (rv == CKR_USER_NOT_LOGGED_IN) {
		return hj_error_set(err, HJ_ERR_UNAVAILABLE, "HSM unavailable: "
		    "%s failed with %s, the login to token \"%s\" is lost: "
		    "restart the service to log in again", call,
		    hsm_rv_name(rv), hsm->token_label);
	}
	if (hsm_rv_is_unavailable(rv)) {
		return hj_error_set(err, HJ_ERR_UNAVAILABLE, "HSM unavailable: "
		    "%s failed with %s, retry later", call, hsm_rv_name(rv));
	}
	if (rv == CKR_HOST_MEMORY) {
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "%s: %s failed with "
		    "%s", action, call, hsm_rv_name(rv));
	}
	if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
		return hj_error_set(err, HJ_ERR_NOT_FOUND, "%s: %s failed with "
		    "%s: the key is gone from token \"%s\", list the keys "
		    "again", action, call, hsm_rv_name(rv), hsm->token_label);
	}
	return hj_error_set(err, HJ_ERR_INTERNAL, "%s: %s failed with %s",
	    action, call, hsm_rv_name(rv));
}

hj_err
hsm_pool_open(struct hsm *hsm, unsigned pool_size, struct hj_error *err)
{
	CK_SESSION_HANDLE session;
	CK_RV rv;

	hsm->free_sessions = calloc(pool_size, sizeof(*hsm->free_sessions));
	if (hsm->free_sessions == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
	pthread_mutex_init(&hsm->lock, NULL);
	pthread_cond_init(&hsm->session_returned, NULL);
	hsm->pool_size = pool_size;
	hsm->pool_ready = true;

	while (hsm->free_count < pool_size) {
		rv = hsm_session_open(hsm, &session);
		if (rv != CKR_OK) {
			return hsm_rv_error(hsm, rv, "C_OpenSession",
			    "opening the session pool", err);
		}
		hsm->free_sessions[hsm->free_count++] = session;
	}
	return HJ_OK;
}

void
hsm_pool_close(struct hsm *hsm)
{
	unsigned i;

	if (!hsm->pool_ready)
		return;

	/* hsm_close() runs after the last operation: every session is back. */
	for (i = 0; i < hsm->free_count; i++) {
		if (hsm->free_sessions[i] != CK_INVALID_HANDLE)
			(void)hsm->p11->C_CloseSession(hsm->free_sessions[i]);
	}
	free(hsm->free_sessions);
	hsm->free_sessions = NULL;
	hsm->free_count = 0;
	pthread_cond_destroy(&hsm->session_returned);
	pthread_mutex_destroy(&hsm->lock);
	hsm->pool_ready = false;
}

static void
hsm_session_release(struct hsm *hsm, CK_SESSION_HANDLE session)
{
	pthread_mutex_lock(&hsm->lock);
	hsm->free_sessions[hsm->free_count++] = session;
	pthread_cond_signal(&hsm->session_returned);
	pthread_mutex_unlock(&hsm->lock);
}

/* Borrows a session from the pool, waiting until one is free. */
static CK_RV
hsm_session_acquire(struct hsm *hsm, CK_SESSION_HANDLE *sessionp)
{
	CK_SESSION_HANDLE session;
	CK_RV rv;

	pthread_mutex_lock(&hsm->lock);
	while (hsm->free_count == 0)
		pthread_cond_wait(&hsm->session_returned, &hsm->lock);
	session = hsm->free_sessions[--hsm->free_count];
	pthread_mutex_unlock(&hsm->lock);

	/* A slot whose earlier replacement failed: open it now. */
	if (session == CK_INVALID_HANDLE) {
		rv = hsm_session_open(hsm, &session);
		if (rv != CKR_OK) {
			hsm_session_release(hsm, CK_INVALID_HANDLE);
			return rv;
		}
	}
	*sessionp = session;
	return CKR_OK;
}

/*
 * Closes a session and opens a new one in its place. The close may fail
 * because the session is already gone, which is why its result is ignored.
 */
static CK_RV
hsm_session_replace(struct hsm *hsm, CK_SESSION_HANDLE *sessionp)
{
	(void)hsm->p11->C_CloseSession(*sessionp);
	return hsm_session_open(hsm, sessionp);
}

/*
 * Runs fn on a borrowed session. A session lost to the token is replaced
 * and fn runs once more. After any failure the session is replaced too, so
 * that operation state left in it (an active sign operation after
 * CKR_BUFFER_TOO_SMALL) never reaches the next borrower.
 */
hj_err
hsm_session_run(struct hsm *hsm, const char *action, hsm_session_fn fn,
    void *ctx, struct hj_error *err)
{
	CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
	const char *call = "C_OpenSession";
	CK_RV rv;

	if (!atomic_load(&hsm->logged_in)) {
		return hsm_rv_error(hsm, CKR_USER_NOT_LOGGED_IN,
		    "an earlier call", action, err);
	}

	rv = hsm_session_acquire(hsm, &session);
	if (rv != CKR_OK)
		return hsm_rv_error(hsm, rv, call, action, err);

	rv = fn(hsm, session, ctx, &call);
	if (hsm_rv_is_session_lost(rv)) {
		call = "C_OpenSession";
		rv = hsm_session_replace(hsm, &session);
		if (rv == CKR_OK)
			rv = fn(hsm, session, ctx, &call);
	}
	if (rv != CKR_OK && session != CK_INVALID_HANDLE)
		(void)hsm_session_replace(hsm, &session);
	hsm_session_release(hsm, session);

	if (rv == CKR_OK)
		return HJ_OK;

	/*
	 * NOTE: a new login needs the PIN, which is not kept, so a lost login
	 * lasts until the process opens the token again: the daemon must be
	 * restarted, and its health check reports NOT_SERVING meanwhile.
	 */
	if (rv == CKR_USER_NOT_LOGGED_IN)
		atomic_store(&hsm->logged_in, false);
	return hsm_rv_error(hsm, rv, call, action, err);
}
