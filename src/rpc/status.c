#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
rpc_reply_pack(struct rpc_reply *reply, const ProtobufCMessage *msg)
{
	reply->body_len = protobuf_c_message_get_packed_size(msg);
	reply->body = malloc(reply->body_len > 0 ? reply->body_len : 1);
	if (reply->body == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_INTERNAL, "out of memory");
		return;
	}
	protobuf_c_message_pack(msg, reply->body);
	reply->status = GRPC_STATUS_OK;
}

const struct profile *
rpc_find_profile(const struct rpc_context *ctx, const char *name,
    struct rpc_reply *reply)
{
	char names[160] = "";
	size_t i, used = 0;

	for (i = 0; i < ctx->profile_count; i++) {
		if (strcmp(ctx->profiles[i].name, name) == 0)
			return &ctx->profiles[i];
	}
	for (i = 0; i < ctx->profile_count && used < sizeof(names) - 1; i++) {
		int n = snprintf(names + used, sizeof(names) - used, "%s%s",
		    i > 0 ? ", " : "", ctx->profiles[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	rpc_reply_status(reply, GRPC_STATUS_NOT_FOUND,
	    "profile: no profile named \"%.64s\"; configured profiles: %s", name, names);
	return NULL;
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
