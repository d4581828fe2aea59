#include <stdarg.h>
#include <stdio.h>

#include "hsmjwt/error.h"

const char *
hj_err_str(hj_err code)
{
	switch (code) {
	case HJ_OK: return "ok";
	case HJ_ERR_INVALID_ARGUMENT: return "invalid argument";
	case HJ_ERR_NOT_FOUND: return "not found";
	case HJ_ERR_PERMISSION_DENIED: return "permission denied";
	case HJ_ERR_UNAUTHENTICATED: return "unauthenticated";
	case HJ_ERR_FAILED_PRECONDITION: return "failed precondition";
	case HJ_ERR_RESOURCE_EXHAUSTED: return "resource exhausted";
	case HJ_ERR_UNAVAILABLE: return "unavailable";
	case HJ_ERR_CONFIG: return "invalid configuration";
	case HJ_ERR_NO_MEMORY: return "out of memory";
	case HJ_ERR_INTERNAL: return "internal error";
	}
	return "unknown error";
}

hj_err
hj_error_set(struct hj_error *err, hj_err code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void
hj_error_clear(struct hj_error *err)
{
	if (err == NULL)
		return;
	err->code = HJ_OK;
	err->message[0] = '\0';
}
