/*
 * Loading, initializing and unloading the PKCS#11 module, and the life of a
 * struct hsm: hsm_open() and hsm_close().
 */
/* RTLD_NODELETE is a GNU extension of dlopen(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

/* Maximum hsm_options.pool_size, far above the session limit of tokens. */
#define HSM_POOL_MAX 1024

/*
 * A module that this process initialized. Two struct hsm on the same
 * module share one C_Initialize, and the last hsm_close() calls C_Finalize,
 * because C_Finalize ends every session of the process on that module.
 */
struct hsm_module_ref {
	CK_FUNCTION_LIST_PTR p11;
	unsigned refs;
	bool owns_finalize;   /* our C_Initialize returned CKR_OK */
	struct hsm_module_ref *next;
};

static pthread_mutex_t hsm_modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_module_ref *hsm_modules;   /* guarded by hsm_modules_lock */

/* Calls C_Initialize for the first struct hsm of this process on the module. */
static CK_RV
hsm_module_initialize(CK_FUNCTION_LIST_PTR p11)
{
	CK_C_INITIALIZE_ARGS args;
	struct hsm_module_ref *ref;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&hsm_modules_lock);
	for (ref = hsm_modules; ref != NULL; ref = ref->next) {
		if (ref->p11 == p11)
			break;
	}
	if (ref != NULL) {
		ref->refs++;
		goto out;
	}

	ref = calloc(1, sizeof(*ref));
	if (ref == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = p11->C_Initialize(&args);

	/*
	 * NOTE: CKR_CRYPTOKI_ALREADY_INITIALIZED means that other code in this
	 * process (another library) initialized the module. It is used as is
	 * and never finalized here, so that the other code keeps working.
	 */
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		free(ref);
		goto out;
	}
	ref->owns_finalize = (rv == CKR_OK);
	ref->p11 = p11;
	ref->refs = 1;
	ref->next = hsm_modules;
	hsm_modules = ref;
	rv = CKR_OK;

out:
	pthread_mutex_unlock(&hsm_modules_lock);
	return rv;
}

/* Calls C_Finalize when the last struct hsm on the module closes. */
static void
hsm_module_finalize(CK_FUNCTION_LIST_PTR p11)
{
	struct hsm_module_ref **refp, *ref;

	pthread_mutex_lock(&hsm_modules_lock);
	for (refp = &hsm_modules; *refp != NULL; refp = &(*refp)->next) {
		if ((*refp)->p11 == p11)
			break;
	}
	ref = *refp;
	if (ref != NULL && --ref->refs == 0) {
		*refp = ref->next;
		if (ref->owns_finalize)
			(void)p11->C_Finalize(NULL);
		free(ref);
	}
	pthread_mutex_unlock(&hsm_modules_lock);
}

/* Fills hsm->module_description from C_GetInfo. */
static void
hsm_module_describe(struct hsm *hsm)
{
	CK_INFO info;
	char library[33], manufacturer[33];

	if (hsm->p11->C_GetInfo(&info) != CKR_OK) {
		snprintf(hsm->module_description,
		    sizeof(hsm->module_description), "unknown PKCS#11 module");
		return;
	}
	hsm_copy_padded(library, sizeof(library), info.libraryDescription,
	    sizeof(info.libraryDescription));
	hsm_copy_padded(manufacturer, sizeof(manufacturer),
	    info.manufacturerID, sizeof(info.manufacturerID));
	snprintf(hsm->module_description, sizeof(hsm->module_description),
	    "%s %u.%u (%s)", library, info.libraryVersion.major,
	    info.libraryVersion.minor, manufacturer);
}

/* Loads the module with dlopen and initializes it. */
static hj_err
hsm_module_load(struct hsm *hsm, const char *path, struct hj_error *err)
{
	CK_C_GetFunctionList get_function_list;
	CK_RV rv;

	/*
	 * RTLD_NODELETE keeps the module mapped after dlclose(), so that a
	 * module thread still running at exit cannot jump into unmapped code,
	 * and LeakSanitizer can name the module in a report.
	 */
	hsm->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (hsm->dl == NULL) {
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "cannot load the PKCS#11 module: %s", dlerror());
	}

	get_function_list = (CK_C_GetFunctionList)dlsym(hsm->dl,
	    "C_GetFunctionList");
	if (get_function_list == NULL) {
		return hj_error_set(err, HJ_ERR_CONFIG, "%s is not a PKCS#11 "
		    "module: it has no C_GetFunctionList symbol", path);
	}

	rv = get_function_list(&hsm->p11);
	if (rv != CKR_OK || hsm->p11 == NULL) {
		hsm->p11 = NULL;
		return hj_error_set(err, HJ_ERR_CONFIG, "C_GetFunctionList of "
		    "PKCS#11 module %s failed with %s", path,
		    hsm_rv_name(rv));
	}

	rv = hsm_module_initialize(hsm->p11);
	if (rv != CKR_OK) {
		hsm->p11 = NULL;
		return hj_error_set(err, HJ_ERR_CONFIG, "C_Initialize of "
		    "PKCS#11 module %s failed with %s: check the module's own "
		    "configuration", path, hsm_rv_name(rv));
	}

	hsm_module_describe(hsm);
	return HJ_OK;
}

/* Checks the options for mistakes that the config layer should have caught. */
static hj_err
hsm_options_check(const struct hsm_options *opts, const char *pin,
    size_t pin_len, struct hj_error *err)
{
	if (opts == NULL || opts->module_path == NULL ||
	    opts->module_path[0] == '\0') {
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "no PKCS#11 module path is set: give the module to load");
	}
	if ((opts->token_label == NULL) == (opts->token_uri == NULL)) {
		return hj_error_set(err, HJ_ERR_CONFIG, "set exactly one of "
		    "the token label and the token URI");
	}
	if (opts->pool_size < 1 || opts->pool_size > HSM_POOL_MAX) {
		return hj_error_set(err, HJ_ERR_CONFIG, "session pool size %u "
		    "is out of range: use 1 to %d", opts->pool_size,
		    HSM_POOL_MAX);
	}
	if (pin == NULL && pin_len != 0)
		return hj_error_set(err, HJ_ERR_INTERNAL, "the PIN is NULL");
	return HJ_OK;
}

CK_RV
hsm_session_open(struct hsm *hsm, CK_SESSION_HANDLE *sessionp)
{
	CK_RV rv;

	*sessionp = CK_INVALID_HANDLE;
	rv = hsm->p11->C_OpenSession(hsm->slot,
	    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, sessionp);
	if (rv != CKR_OK)
		*sessionp = CK_INVALID_HANDLE;
	return rv;
}

hj_err
hsm_open(const struct hsm_options *opts, const char *pin, size_t pin_len,
    struct hsm **hsmp, struct hj_error *err)
{
	struct hsm *hsm = NULL;
	hj_err r = HJ_ERR_INTERNAL;

	*hsmp = NULL;
	hj_error_clear(err);

	r = hsm_options_check(opts, pin, pin_len, err);
	if (r != HJ_OK)
		goto out;

	hsm = calloc(1, sizeof(*hsm));
	if (hsm == NULL) {
		r = hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
		goto out;
	}
	hsm->login_session = CK_INVALID_HANDLE;
	atomic_init(&hsm->logged_in, false);

	if ((r = hsm_module_load(hsm, opts->module_path, err)) != HJ_OK)
		goto out;
	if ((r = hsm_token_find(hsm, opts, err)) != HJ_OK)
		goto out;
	if ((r = hsm_token_login(hsm, pin, pin_len, err)) != HJ_OK)
		goto out;
	if ((r = hsm_pool_open(hsm, opts->pool_size, err)) != HJ_OK)
		goto out;

	*hsmp = hsm;
	hsm = NULL;
	r = HJ_OK;
out:
	hsm_close(hsm);
	return r;
}

void
hsm_close(struct hsm *hsm)
{
	if (hsm == NULL)
		return;

	hsm_pool_close(hsm);

	/*
	 * No C_Logout: the login belongs to the whole process, and another
	 * struct hsm on the same token may still use it. The token ends the
	 * login when the process closes its last session there.
	 */
	if (hsm->login_session != CK_INVALID_HANDLE)
		(void)hsm->p11->C_CloseSession(hsm->login_session);

	if (hsm->p11 != NULL)
		hsm_module_finalize(hsm->p11);
	if (hsm->dl != NULL)
		dlclose(hsm->dl);
	free(hsm);
}

const char *
hsm_token_description(const struct hsm *hsm)
{
	return hsm->token_description;
}

const char *
hsm_module_description(const struct hsm *hsm)
{
	return hsm->module_description;
}

bool
hsm_is_logged_in(const struct hsm *hsm)
{
	return atomic_load(&hsm->logged_in);
}
