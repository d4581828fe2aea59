/* TokenService.Decrypt: a JWE addressed to one of the service's own keys. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <jansson.h>

#include "hsmjwt/b64url.h"
#include "hsmjwt/log.h"
#include "rpc_int.h"

static void
decrypt_pack(const struct jwe_decrypted *result, const struct keyring_key *key,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__DecryptResponse response = HSMJWT__V1__DECRYPT_RESPONSE__INIT;

	response.plaintext.data = result->plaintext;
	response.plaintext.len = result->plaintext_len;
	response.protected_header_json = result->protected_header;
	response.kid = (char *)key->kid;
	rpc_reply_pack(reply, &response.base);
}

/* Returns true when the JWE's protected header names alg; a malformed header is false. */
static bool
decrypt_header_names(const char *token, const char *alg)
{
	const char *dot = strchr(token, '.');
	uint8_t *json = NULL;
	size_t len = 0;
	json_t *header;
	bool names;

	if (dot == NULL || b64url_decode(token, (size_t)(dot - token), &json, &len, NULL) != HJ_OK)
		return false;
	header = json_loadb((const char *)json, len, 0, NULL);
	names = json_is_string(json_object_get(header, "alg")) &&
	    strcmp(json_string_value(json_object_get(header, "alg")), alg) == 0;
	json_decref(header);
	free(json);
	return names;
}

static void
decrypt_token(const struct rpc_context *ctx, const char *token, struct rpc_reply *reply)
{
	struct keyring *ring = keystore_current(ctx->store);
	struct jwe_decrypted *result = NULL;
	const struct keyring_key *key = NULL;
	char detail_q[LOG_QUOTE_SIZE];
	struct hj_error err, detail;

	hj_error_clear(&err);
	hj_error_clear(&detail);
	if (keyring_decrypt(ring, token, strlen(token), &result, &key, &err, &detail) != HJ_OK) {
		/* The caller gets one message; the failed step goes to the log only. */
		rpc_reply_error(reply, &err);
		if (detail.message[0] != '\0')
			rpc_reply_log(reply, " detail=%s", log_quote(detail_q, detail.message));
		goto out;
	}
	rpc_reply_log(reply, " kid=%s alg=%s", key->kid, key->alg->name);
	decrypt_pack(result, key, reply);
	OPENSSL_cleanse(result->plaintext, result->plaintext_len);

out:
	jwe_decrypted_free(result);
	keyring_unref(ring);
}

void
token_service_decrypt(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply)
{
	Hsmjwt__V1__DecryptRequest *req = NULL;

	if (request->has_payload)
		req = hsmjwt__v1__decrypt_request__unpack(NULL, request->len, request->data);
	if (req == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "request: not a valid hsmjwt.v1.DecryptRequest message");
		return;
	}
	if (req->token[0] == '\0')
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "token: missing; send the compact JWE to decrypt");
	else if (ctx->oaep256_unsupported && decrypt_header_names(req->token, "RSA-OAEP-256"))
		rpc_reply_status(reply, GRPC_STATUS_FAILED_PRECONDITION,
		    "token: alg RSA-OAEP-256 is not available, because the HSM cannot "
		    "decrypt RSA-OAEP with SHA-256; encrypt with RSA-OAEP or ECDH-ES");
	else
		decrypt_token(ctx, req->token, reply);
	hsmjwt__v1__decrypt_request__free_unpacked(req, NULL);
}
