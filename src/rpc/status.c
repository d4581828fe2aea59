#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rpc_int.h"

grpc_status_code
rpc_status_from_err(hj_err code)
{
	switch (code) {
	case HJ_OK: return GRPC_STATUS_OK;
	case HJ_ERR_INVALID_ARGUMENT: return GRPC_STATUS_INVALID_ARGUMENT;
	case HJ_ERR_NOT_FOUND: return GRPC_STATUS_NOT_FOUND;
	case HJ_ERR_PERMISSION_DENIED: return GRPC_STATUS_PERMISSION_DENIED;
	case HJ_ERR_UNAUTHENTICATED: return GRPC_STATUS_UNAUTHENTICATED;
	case HJ_ERR_FAILED_PRECONDITION: return GRPC_STATUS_FAILED_PRECONDITION;
	case HJ_ERR_RESOURCE_EXHAUSTED: return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case HJ_ERR_UNAVAILABLE: return GRPC_STATUS_UNAVAILABLE;
	case HJ_ERR_CONFIG:
	case HJ_ERR_NO_MEMORY:
	case HJ_ERR_INTERNAL:
		break;
	}
	return GRPC_STATUS_INTERNAL;
}

const char *
rpc_status_name(grpc_status_code status)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	if ((size_t)status < sizeof(names) / sizeof(names[0]))
		return names[status];
	return "UNKNOWN";
}

void
rpc_reply_error(struct rpc_reply *reply, const struct hj_error *err)
{
	reply->status = rpc_status_from_err(err->code);
	snprintf(reply->message, sizeof(reply->message), "%s", err->message);
}

void
rpc_reply_status(struct rpc_reply *reply, grpc_status_code status,
    const char *fmt, ...)
{
	va_list ap;

	reply->status = status;
	va_start(ap, fmt);
	vsnprintf(reply->message, sizeof(reply->message), fmt, ap);
	va_end(ap);
}

void
rpc_reply_log(struct rpc_reply *reply, const char *fmt, ...)
{
	size_t used = strlen(reply->log_fields);
	va_list ap;

	if (used >= sizeof(reply->log_fields) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(reply->log_fields + used, sizeof(reply->log_fields) - used, fmt, ap);
	va_end(ap);
}
