#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "hsmjwt/claims.h"
#include "hsmjwt/log.h"
#include "hsmjwt.pb-c.h"
#include "rpc_int.h"

static bool
wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *value)
{
	unsigned shift;

	*value = 0;
	for (shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t byte = *(*p)++;

		*value |= (uint64_t)(byte & 0x7f) << shift;
		if ((byte & 0x80) == 0)
			return true;
	}
	return false;
}

/*
 * Returns true when a string field of a SignRequest (profile, claims_json,
 * audience) or of its Encryption (fields 1 to 4, with nested set) contains
 * a NUL byte. The message already decoded, so its framing is valid.
 */
static bool
sign_request_has_nul(const uint8_t *p, size_t len, bool nested)
{
	const uint8_t *end = p + len;
	uint64_t key, size;

	while (p < end) {
		if (!wire_read_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!wire_read_varint(&p, end, &size))
				return false;
			continue;
		case 1:
		case 5:
			size = (key & 7) == 1 ? 8 : 4;
			if (size > (uint64_t)(end - p))
				return false;
			p += size;
			continue;
		case 2:
			break;
		default:
			return false;
		}
		if (!wire_read_varint(&p, end, &size) || size > (uint64_t)(end - p))
			return false;
		if (!nested && (key >> 3) == 5) {
			if (sign_request_has_nul(p, (size_t)size, true))
				return true;
		} else if (((key >> 3) <= 4 && (nested || (key >> 3) != 3)) &&
		    memchr(p, 0, (size_t)size) != NULL) {
			return true;
		}
		p += size;
	}
	return false;
}

/* Packs a SignResponse into reply->body. */
static void
token_service_pack_sign(const char *token, const struct keyring_key *key,
    const struct claims_result *claims, struct rpc_reply *reply)
{
	Hsmjwt__V1__SignResponse response = HSMJWT__V1__SIGN_RESPONSE__INIT;

	response.token = (char *)token;
	response.kid = (char *)key->kid;
	response.alg = (char *)key->alg->name;
	response.issued_at = claims->issued_at;
	response.expires_at = claims->expires_at;
	response.jti = (char *)claims->jti;

	rpc_reply_pack(reply, &response.base);
}

static void
token_service_log_claims(const struct claims_result *claims, struct rpc_reply *reply)
{
	char aud[LOG_QUOTE_SIZE];

	log_quote(aud, claims->audience_json);
	rpc_reply_log(reply, " jti=%s aud=%s exp=%lld", claims->jti, aud,
	    (long long)claims->expires_at);
}

/* Checks the claims, signs them with the profile's key and packs the response. */
static void
token_service_issue(const struct rpc_context *ctx, const struct profile *profile,
    const Hsmjwt__V1__SignRequest *req, struct rpc_reply *reply)
{
	struct keyring *ring = keystore_current(ctx->store);
	struct claims_result claims = { 0 };
	struct claims_request creq;
	const struct keyring_key *key;
	int64_t now = (int64_t)time(NULL);
	struct hj_error err;
	char *token = NULL;
	hj_err r;

	key = keyring_signing_key(ring, profile->alg, now);
	if (key == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_FAILED_PRECONDITION,
		    "profile \"%s\": no active %s key; generate one with "
		    "hsmjwt keys generate --alg %s", profile->name, profile->alg->name,
		    profile->alg->name);
		goto out;
	}
	rpc_reply_log(reply, " kid=%s", key->kid);

	creq.json = req->claims_json;
	creq.json_len = strlen(req->claims_json);
	creq.audience = (const char *const *)req->audience;
	creq.audience_count = req->n_audience;
	creq.ttl_seconds = req->ttl_seconds;

	hj_error_clear(&err);
	if (claims_build(profile, ctx->issuer, &creq, now, &claims, &err) != HJ_OK ||
	    keyring_sign_compact(ring, key, claims.json, claims.json_len, &token, &err) != HJ_OK) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	if (req->encryption != NULL) {
		char *jws = token;

		token = NULL;
		r = nested_encrypt(ctx, profile, req->encryption, jws, &token, reply, &err);
		OPENSSL_clear_free(jws, strlen(jws));
		if (r != HJ_OK) {
			rpc_reply_error(reply, &err);
			goto out;
		}
	}
	token_service_log_claims(&claims, reply);
	token_service_pack_sign(token, key, &claims, reply);

out:
	free(token);
	claims_result_clear(&claims);
	keyring_unref(ring);
}

void
token_service_sign(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply)
{
	Hsmjwt__V1__SignRequest *req = NULL;
	const struct profile *profile;
	const char *name;
	char name_q[LOG_QUOTE_SIZE];

	if (request->has_payload)
		req = hsmjwt__v1__sign_request__unpack(NULL, request->len, request->data);
	if (req == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "request: not a valid hsmjwt.v1.SignRequest message; "
		    "send a protobuf-encoded SignRequest");
		return;
	}

	/* protobuf-c ends strings at their first NUL byte, so look at the wire bytes. */
	if (sign_request_has_nul(request->data, request->len, false)) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "request: a string field, such as claims_json, contains a NUL byte; "
		    "remove it");
		goto out;
	}

	name = req->profile[0] != '\0' ? req->profile : "default";
	rpc_reply_log(reply, " profile=%s", log_quote(name_q, name));
	profile = rpc_find_profile(ctx, name, reply);
	if (profile == NULL)
		goto out;
	if (req->encryption == NULL && profile->encryption->required) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "encryption: profile \"%s\" requires nested JWTs; set encryption "
		    "with a recipient", profile->name);
		goto out;
	}
	token_service_issue(ctx, profile, req, reply);

out:
	hsmjwt__v1__sign_request__free_unpacked(req, NULL);
}

void
token_service_get_jwks(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply)
{
	Hsmjwt__V1__GetJwksRequest *req = NULL;
	Hsmjwt__V1__GetJwksResponse response = HSMJWT__V1__GET_JWKS_RESPONSE__INIT;
	struct keyring *ring;

	/* An empty message has no bytes, so a missing payload is accepted too. */
	if (request->has_payload && request->len > 0) {
		req = hsmjwt__v1__get_jwks_request__unpack(NULL, request->len, request->data);
		if (req == NULL) {
			rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
			    "request: not a valid hsmjwt.v1.GetJwksRequest message");
			return;
		}
		hsmjwt__v1__get_jwks_request__free_unpacked(req, NULL);
	}

	ring = keystore_current(ctx->store);
	response.jwks_json = (char *)keyring_jwks_json(ring);
	rpc_reply_pack(reply, &response.base);
	keyring_unref(ring);
}
