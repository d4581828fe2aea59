/* TokenService.Verify: a malformed or invalid token is valid=false with a reason, not an RPC error. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmjwt/claims.h"
#include "hsmjwt/log.h"
#include "hsmjwt.pb-c.h"
#include "rpc_int.h"

/* Checks signature, key, profile and claims; false with err's message as the reason. */
static hj_err
verify_token(const struct rpc_context *ctx, struct keyring *ring,
    const Hsmjwt__V1__VerifyRequest *req, const struct profile *profile,
    Hsmjwt__V1__VerifyResponse *response, char **payloadp, struct hj_error *err)
{
	struct claims_check check = {
		.issuer = ctx->issuer,
		.audience = req->audience,
		.now = (int64_t)time(NULL),
		.clock_skew = ctx->clock_skew,
	};
	const struct keyring_key *key;
	size_t payload_len;
	hj_err r;

	r = keyring_verify(ring, req->token, strlen(req->token), &key, payloadp,
	    &payload_len, err);
	if (r != HJ_OK)
		return r;
	response->kid = (char *)key->kid;
	response->alg = (char *)key->alg->name;
	if (profile != NULL && key->alg != profile->alg)
		return hj_error_set(err, HJ_ERR_INVALID_ARGUMENT,
		    "the token is signed with %s, but profile \"%s\" uses %s",
		    key->alg->name, profile->name, profile->alg->name);
	return claims_verify(*payloadp, payload_len, &check, err);
}

static void
verify_answer(const struct rpc_context *ctx, const Hsmjwt__V1__VerifyRequest *req,
    const struct profile *profile, struct rpc_reply *reply)
{
	Hsmjwt__V1__VerifyResponse response = HSMJWT__V1__VERIFY_RESPONSE__INIT;
	struct keyring *ring = keystore_current(ctx->store);
	char reason_q[LOG_QUOTE_SIZE];
	char *payload = NULL;
	struct hj_error err;
	hj_err r;

	hj_error_clear(&err);
	r = verify_token(ctx, ring, req, profile, &response, &payload, &err);
	if (r != HJ_OK && r != HJ_ERR_INVALID_ARGUMENT) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	response.valid = r == HJ_OK;
	response.reason = r == HJ_OK ? "" : err.message;
	response.claims_json = r == HJ_OK ? payload : "";
	rpc_reply_log(reply, " kid=%s valid=%s reason=%s", response.kid[0] != '\0' ?
	    response.kid : "-", response.valid ? "yes" : "no",
	    log_quote(reason_q, r == HJ_OK ? NULL : err.message));
	rpc_reply_pack(reply, &response.base);

out:
	free(payload);
	keyring_unref(ring);
}

void
token_service_verify(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply)
{
	Hsmjwt__V1__VerifyRequest *req = NULL;
	const struct profile *profile = NULL;

	if (request->has_payload)
		req = hsmjwt__v1__verify_request__unpack(NULL, request->len, request->data);
	if (req == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "request: not a valid hsmjwt.v1.VerifyRequest message");
		return;
	}
	if (req->token[0] == '\0') {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "token: missing; send the compact JWS to verify");
		goto out;
	}
	if (req->profile[0] != '\0' &&
	    (profile = rpc_find_profile(ctx, req->profile, reply)) == NULL)
		goto out;
	verify_answer(ctx, req, profile, reply);

out:
	hsmjwt__v1__verify_request__free_unpacked(req, NULL);
}
