/*
 * p11shim: a PKCS#11 module that wraps a real one and fails chosen calls on
 * command, for fault tests.
 *
 * C_GetFunctionList loads the module named by HSMJWT_SHIM_MODULE, copies
 * its function list and replaces some entries with wrappers. Before every
 * wrapped call the shim reads the file named by HSMJWT_SHIM_CONTROL
 * (missing or empty: no faults). Each line names a function, the CK_RV it
 * returns in place of the real call and how many calls fail ("*": every
 * call), for example:
 *
 *	C_Sign CKR_SESSION_HANDLE_INVALID 1
 *
 * The CK_RV may also be a number (0x30) or GARBAGE: C_GetAttributeValue
 * then returns lengths and bytes that a broken token could return, and
 * C_FindObjects claims more objects than the caller requested. The shim
 * counts the injected failures in memory. A change of the file's content,
 * inode or modification time starts the counts over, so replacing the file
 * with rename() always does.
 *
 * Wrapped: C_GetSlotList, C_GetTokenInfo, C_OpenSession, C_CloseSession,
 * C_Login, C_FindObjectsInit, C_FindObjects, C_GetAttributeValue,
 * C_CreateObject, C_DestroyObject, C_GenerateKey, C_GenerateKeyPair,
 * C_SignInit, C_Sign, C_VerifyInit, C_Verify, C_DecryptInit, C_Decrypt,
 * C_DeriveKey, C_WrapKey, C_UnwrapKey.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <p11-kit/pkcs11.h>

#define SHIM_RULES_MAX 32
#define SHIM_CONTROL_MAX 4096
#define SHIM_GARBAGE ((CK_RV)-1)

struct shim_rule {
	char function[32];
	CK_RV rv;              /* SHIM_GARBAGE: corrupt the output */
	long remaining;        /* calls left to fail; -1: every call */
};

/* The version of the control file that shim_rules were parsed from. */
struct shim_control_key {
	char content[SHIM_CONTROL_MAX + 1];
	struct timespec mtime;
	ino_t inode;
};

static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST_PTR shim_real;       /* guarded by shim_lock */
static CK_FUNCTION_LIST shim_list;           /* guarded by shim_lock */
static struct shim_control_key shim_key;     /* guarded by shim_lock */
static struct shim_rule shim_rules[SHIM_RULES_MAX];
static size_t shim_rule_count;               /* guarded by shim_lock */
static unsigned long shim_garbage_seed = 0x9e3779b9UL;

#define SHIM_RV(name) { #name, name }

static const struct {
	const char *name;
	CK_RV rv;
} shim_rv_names[] = {
	SHIM_RV(CKR_HOST_MEMORY),
	SHIM_RV(CKR_SLOT_ID_INVALID),
	SHIM_RV(CKR_GENERAL_ERROR),
	SHIM_RV(CKR_FUNCTION_FAILED),
	SHIM_RV(CKR_ARGUMENTS_BAD),
	SHIM_RV(CKR_ATTRIBUTE_SENSITIVE),
	SHIM_RV(CKR_ATTRIBUTE_TYPE_INVALID),
	SHIM_RV(CKR_DEVICE_ERROR),
	SHIM_RV(CKR_DEVICE_MEMORY),
	SHIM_RV(CKR_DEVICE_REMOVED),
	SHIM_RV(CKR_ENCRYPTED_DATA_INVALID),
	SHIM_RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
	SHIM_RV(CKR_FUNCTION_CANCELED),
	SHIM_RV(CKR_KEY_HANDLE_INVALID),
	SHIM_RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
	SHIM_RV(CKR_MECHANISM_INVALID),
	SHIM_RV(CKR_MECHANISM_PARAM_INVALID),
	SHIM_RV(CKR_OBJECT_HANDLE_INVALID),
	SHIM_RV(CKR_OPERATION_ACTIVE),
	SHIM_RV(CKR_PIN_INCORRECT),
	SHIM_RV(CKR_PIN_LOCKED),
	SHIM_RV(CKR_PIN_EXPIRED),
	SHIM_RV(CKR_SESSION_CLOSED),
	SHIM_RV(CKR_SESSION_COUNT),
	SHIM_RV(CKR_SESSION_HANDLE_INVALID),
	SHIM_RV(CKR_TOKEN_NOT_PRESENT),
	SHIM_RV(CKR_TOKEN_NOT_RECOGNIZED),
	SHIM_RV(CKR_USER_NOT_LOGGED_IN),
	SHIM_RV(CKR_BUFFER_TOO_SMALL),
	SHIM_RV(CKR_WRAPPED_KEY_INVALID),
	SHIM_RV(CKR_WRAPPED_KEY_LEN_RANGE),
};

/* Parses a CK_RV name, a number or GARBAGE. Returns false for anything else. */
static bool
shim_rv_parse(const char *text, CK_RV *rvp)
{
	char *end;
	size_t i;

	if (strcmp(text, "GARBAGE") == 0) {
		*rvp = SHIM_GARBAGE;
		return true;
	}
	for (i = 0; i < sizeof(shim_rv_names) / sizeof(shim_rv_names[0]); i++) {
		if (strcmp(shim_rv_names[i].name, text) == 0) {
			*rvp = shim_rv_names[i].rv;
			return true;
		}
	}
	*rvp = strtoul(text, &end, 0);
	return end != text && *end == '\0' && *rvp != CKR_OK;
}

/* Parses one line into a rule. Returns false for a line to skip. */
static bool
shim_rule_parse(const char *line, struct shim_rule *rule)
{
	char function[32], rv[64], count[32];
	char *end;

	if (sscanf(line, "%31s %63s %31s", function, rv, count) != 3 ||
	    function[0] == '#')
		return false;
	if (!shim_rv_parse(rv, &rule->rv)) {
		fprintf(stderr, "p11shim: unknown CK_RV \"%s\" in the control "
		    "file; line skipped\n", rv);
		return false;
	}
	if (strcmp(count, "*") == 0) {
		rule->remaining = -1;
	} else {
		rule->remaining = strtol(count, &end, 10);
		if (end == count || *end != '\0' || rule->remaining <= 0) {
			fprintf(stderr, "p11shim: invalid count \"%s\" in the "
			    "control file; line skipped\n", count);
			return false;
		}
	}
	memcpy(rule->function, function, sizeof(rule->function));
	return true;
}

static void
shim_rules_parse_inlock(char *content)
{
	char *line, *save = NULL;

	shim_rule_count = 0;
	for (line = strtok_r(content, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (shim_rule_count == SHIM_RULES_MAX)
			break;
		if (shim_rule_parse(line, &shim_rules[shim_rule_count]))
			shim_rule_count++;
	}
}

/* Reads the control file and parses it again when it changed. */
static void
shim_control_reload_inlock(void)
{
	static struct shim_control_key current;
	const char *path = getenv("HSMJWT_SHIM_CONTROL");
	struct stat st;
	FILE *file = NULL;
	size_t len = 0;

	memset(&current, 0, sizeof(current));
	if (path != NULL && (file = fopen(path, "r")) != NULL) {
		if (fstat(fileno(file), &st) == 0) {
			current.mtime = st.st_mtim;
			current.inode = st.st_ino;
		}
		len = fread(current.content, 1, SHIM_CONTROL_MAX, file);
		fclose(file);
	}
	current.content[len] = '\0';

	if (memcmp(&current, &shim_key, sizeof(current)) == 0)
		return;
	shim_key = current;
	shim_rules_parse_inlock(current.content);
}

/* Returns the CK_RV to inject into function, or CKR_OK to call the real one. */
static CK_RV
shim_fault(const char *function)
{
	CK_RV rv = CKR_OK;
	size_t i;

	pthread_mutex_lock(&shim_lock);
	shim_control_reload_inlock();
	for (i = 0; i < shim_rule_count; i++) {
		if (strcmp(shim_rules[i].function, function) != 0 ||
		    shim_rules[i].remaining == 0)
			continue;
		if (shim_rules[i].remaining > 0)
			shim_rules[i].remaining--;
		rv = shim_rules[i].rv;
		break;
	}
	pthread_mutex_unlock(&shim_lock);
	return rv;
}

/* A xorshift generator: garbage only needs to vary, not to be unpredictable. */
static unsigned long
shim_garbage_next(void)
{
	unsigned long x;

	pthread_mutex_lock(&shim_lock);
	x = shim_garbage_seed;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	shim_garbage_seed = x;
	pthread_mutex_unlock(&shim_lock);
	return x;
}

static void
shim_garbage_fill(CK_BYTE *buf, CK_ULONG len)
{
	CK_ULONG i;

	for (i = 0; i < len; i++)
		buf[i] = (CK_BYTE)shim_garbage_next();
}

/*
 * Corrupts one attribute that the real call filled. cap is the caller's
 * buffer size: the shim writes only within it, like a token that reports
 * lengths it never wrote, or bytes that make no sense.
 */
static void
shim_garbage_attribute(CK_ATTRIBUTE *attr, CK_ULONG cap)
{
	CK_ULONG real = attr->ulValueLen;

	if (attr->pValue == NULL) {
		attr->ulValueLen = shim_garbage_next() % 100000;
		return;
	}
	if (real == CK_UNAVAILABLE_INFORMATION || real > cap)
		real = cap;

	switch (shim_garbage_next() % 5) {
	case 0:
		shim_garbage_fill(attr->pValue, cap);
		attr->ulValueLen = cap + 64;
		break;
	case 1:
		attr->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		break;
	case 2:
		attr->ulValueLen = real;
		break;
	case 3:
		attr->ulValueLen = real / 2;
		break;
	default:
		shim_garbage_fill(attr->pValue, real);
		attr->ulValueLen = real;
		break;
	}
}

static CK_RV
shim_C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
    CK_ATTRIBUTE_PTR template, CK_ULONG count)
{
	CK_ULONG caps[64], i;
	CK_RV rv = shim_fault("C_GetAttributeValue");

	if (rv != CKR_OK && rv != SHIM_GARBAGE)
		return rv;
	if (rv != SHIM_GARBAGE || count > 64)
		return shim_real->C_GetAttributeValue(session, object, template,
		    count);

	for (i = 0; i < count; i++)
		caps[i] = template[i].ulValueLen;
	(void)shim_real->C_GetAttributeValue(session, object, template, count);

	/* Class and key type stay true, so that the parsers see the rest. */
	for (i = 0; i < count; i++) {
		if (template[i].type != CKA_CLASS &&
		    template[i].type != CKA_KEY_TYPE)
			shim_garbage_attribute(&template[i], caps[i]);
	}
	return CKR_OK;
}

static CK_RV
shim_C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects,
    CK_ULONG max_count, CK_ULONG_PTR countp)
{
	CK_RV fault = shim_fault("C_FindObjects");
	CK_RV rv;

	if (fault != CKR_OK && fault != SHIM_GARBAGE)
		return fault;
	rv = shim_real->C_FindObjects(session, objects, max_count, countp);
	if (rv == CKR_OK && fault == SHIM_GARBAGE)
		*countp = max_count + 1;
	return rv;
}

static CK_RV
shim_C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR slots,
    CK_ULONG_PTR countp)
{
	CK_RV rv = shim_fault("C_GetSlotList");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_GetSlotList(token_present, slots, countp);
}

static CK_RV
shim_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = shim_fault("C_GetTokenInfo");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_GetTokenInfo(slot, info);
}

static CK_RV
shim_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application,
    CK_NOTIFY notify, CK_SESSION_HANDLE_PTR sessionp)
{
	CK_RV rv = shim_fault("C_OpenSession");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_OpenSession(slot, flags, application, notify,
	    sessionp);
}

static CK_RV
shim_C_CloseSession(CK_SESSION_HANDLE session)
{
	CK_RV rv = shim_fault("C_CloseSession");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_CloseSession(session);
}

static CK_RV
shim_C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user,
    CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	CK_RV rv = shim_fault("C_Login");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_Login(session, user, pin, pin_len);
}

static CK_RV
shim_C_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template,
    CK_ULONG count)
{
	CK_RV rv = shim_fault("C_FindObjectsInit");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_FindObjectsInit(session, template, count);
}

static CK_RV
shim_C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_ATTRIBUTE_PTR public_template, CK_ULONG public_count,
    CK_ATTRIBUTE_PTR private_template, CK_ULONG private_count,
    CK_OBJECT_HANDLE_PTR publicp, CK_OBJECT_HANDLE_PTR privatep)
{
	CK_RV rv = shim_fault("C_GenerateKeyPair");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_GenerateKeyPair(session, mechanism,
	    public_template, public_count, private_template, private_count,
	    publicp, privatep);
}

static CK_RV
shim_C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE key)
{
	CK_RV rv = shim_fault("C_SignInit");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_SignInit(session, mechanism, key);
}

static CK_RV
shim_C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
    CK_BYTE_PTR sig, CK_ULONG_PTR sig_lenp)
{
	CK_RV rv = shim_fault("C_Sign");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_Sign(session, data, data_len, sig, sig_lenp);
}

static CK_RV
shim_C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template,
    CK_ULONG count, CK_OBJECT_HANDLE_PTR objectp)
{
	CK_RV rv = shim_fault("C_CreateObject");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_CreateObject(session, template, count, objectp);
}

static CK_RV
shim_C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object)
{
	CK_RV rv = shim_fault("C_DestroyObject");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_DestroyObject(session, object);
}

static CK_RV
shim_C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_ATTRIBUTE_PTR template, CK_ULONG count, CK_OBJECT_HANDLE_PTR keyp)
{
	CK_RV rv = shim_fault("C_GenerateKey");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_GenerateKey(session, mechanism, template, count,
	    keyp);
}

static CK_RV
shim_C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE key)
{
	CK_RV rv = shim_fault("C_VerifyInit");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_VerifyInit(session, mechanism, key);
}

static CK_RV
shim_C_Verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
    CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	CK_RV rv = shim_fault("C_Verify");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_Verify(session, data, data_len, sig, sig_len);
}

static CK_RV
shim_C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE key)
{
	CK_RV rv = shim_fault("C_DecryptInit");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_DecryptInit(session, mechanism, key);
}

/*
 * An injected failure ends the real decryption operation first, as a
 * failed C_Decrypt of a real token does.
 */
static CK_RV
shim_C_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR in, CK_ULONG in_len,
    CK_BYTE_PTR out, CK_ULONG_PTR out_lenp)
{
	CK_BYTE scratch[1024];
	CK_ULONG scratch_len = sizeof(scratch);
	CK_RV rv = shim_fault("C_Decrypt");

	if (rv == CKR_OK)
		return shim_real->C_Decrypt(session, in, in_len, out, out_lenp);
	(void)shim_real->C_Decrypt(session, in, in_len, scratch, &scratch_len);
	explicit_bzero(scratch, sizeof(scratch));
	return rv;
}

static CK_RV
shim_C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR template, CK_ULONG count,
    CK_OBJECT_HANDLE_PTR keyp)
{
	CK_RV rv = shim_fault("C_DeriveKey");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_DeriveKey(session, mechanism, base, template,
	    count, keyp);
}

static CK_RV
shim_C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, CK_BYTE_PTR out,
    CK_ULONG_PTR out_lenp)
{
	CK_RV rv = shim_fault("C_WrapKey");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_WrapKey(session, mechanism, wrapping, key, out,
	    out_lenp);
}

static CK_RV
shim_C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
    CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
    CK_ATTRIBUTE_PTR template, CK_ULONG count, CK_OBJECT_HANDLE_PTR keyp)
{
	CK_RV rv = shim_fault("C_UnwrapKey");

	if (rv != CKR_OK)
		return rv;
	return shim_real->C_UnwrapKey(session, mechanism, unwrapping, wrapped,
	    wrapped_len, template, count, keyp);
}

/*
 * Loads the real module once and builds the wrapped function list. The real
 * module is never unloaded: its C_Finalize resets it, and a test process
 * exits soon after.
 */
static CK_RV
shim_load_inlock(void)
{
	const char *path = getenv("HSMJWT_SHIM_MODULE");
	CK_C_GetFunctionList get_function_list;
	void *dl;
	CK_RV rv;

	if (shim_real != NULL)
		return CKR_OK;
	if (path == NULL || path[0] == '\0') {
		fprintf(stderr, "p11shim: set HSMJWT_SHIM_MODULE to the "
		    "PKCS#11 module to wrap\n");
		return CKR_GENERAL_ERROR;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "p11shim: cannot load %s: %s\n", path,
		    dlerror());
		return CKR_GENERAL_ERROR;
	}
	get_function_list = (CK_C_GetFunctionList)dlsym(dl,
	    "C_GetFunctionList");
	if (get_function_list == NULL)
		return CKR_GENERAL_ERROR;
	rv = get_function_list(&shim_real);
	if (rv != CKR_OK || shim_real == NULL) {
		shim_real = NULL;
		return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
	}

	/* The copy keeps every entry of the real list but a few wrapped. */
	shim_list = *shim_real;
	shim_list.C_GetSlotList = shim_C_GetSlotList;
	shim_list.C_GetTokenInfo = shim_C_GetTokenInfo;
	shim_list.C_OpenSession = shim_C_OpenSession;
	shim_list.C_CloseSession = shim_C_CloseSession;
	shim_list.C_Login = shim_C_Login;
	shim_list.C_FindObjectsInit = shim_C_FindObjectsInit;
	shim_list.C_FindObjects = shim_C_FindObjects;
	shim_list.C_GetAttributeValue = shim_C_GetAttributeValue;
	shim_list.C_GenerateKeyPair = shim_C_GenerateKeyPair;
	shim_list.C_SignInit = shim_C_SignInit;
	shim_list.C_Sign = shim_C_Sign;
	shim_list.C_CreateObject = shim_C_CreateObject;
	shim_list.C_DestroyObject = shim_C_DestroyObject;
	shim_list.C_GenerateKey = shim_C_GenerateKey;
	shim_list.C_VerifyInit = shim_C_VerifyInit;
	shim_list.C_Verify = shim_C_Verify;
	shim_list.C_DecryptInit = shim_C_DecryptInit;
	shim_list.C_Decrypt = shim_C_Decrypt;
	shim_list.C_DeriveKey = shim_C_DeriveKey;
	shim_list.C_WrapKey = shim_C_WrapKey;
	shim_list.C_UnwrapKey = shim_C_UnwrapKey;
	return CKR_OK;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR listp);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR listp)
{
	CK_RV rv;

	if (listp == NULL)
		return CKR_ARGUMENTS_BAD;

	pthread_mutex_lock(&shim_lock);
	rv = shim_load_inlock();
	if (rv == CKR_OK) {
		shim_list.C_GetFunctionList = C_GetFunctionList;
		*listp = &shim_list;
	}
	pthread_mutex_unlock(&shim_lock);
	return rv;
}
