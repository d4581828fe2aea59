#include <stdlib.h>
#include <string.h>

#include "health.pb-c.h"
#include "rpc_int.h"

/* Returns true for the service names that this process reports on. */
static bool
health_known_service(const char *service)
{
	return service[0] == '\0' ||
	    strcmp(service, "hsmjwt.v1.TokenService") == 0 ||
	    strcmp(service, "grpc.health.v1.Health") == 0;
}

void
health_check(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Grpc__Health__V1__HealthCheckRequest *req = NULL;
	Grpc__Health__V1__HealthCheckResponse response =
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	const char *service = "";

	if (request->has_payload && request->len > 0) {
		req = grpc__health__v1__health_check_request__unpack(NULL,
		    request->len, request->data);
		if (req == NULL) {
			rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
			    "request: not a valid grpc.health.v1.HealthCheckRequest message");
			return;
		}
		service = req->service;
	}

	if (!health_known_service(service)) {
		rpc_reply_status(reply, GRPC_STATUS_NOT_FOUND,
		    "service: unknown service \"%.64s\"; use \"\" or "
		    "\"hsmjwt.v1.TokenService\"", service);
		goto out;
	}

	response.status = ctx->serving == NULL || ctx->serving(ctx->serving_arg) ?
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING :
	    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	rpc_reply_pack(reply, &response.base);

out:
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}
