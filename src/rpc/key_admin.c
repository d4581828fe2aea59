/* The KeyAdmin service, served only on listen.admin. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmjwt/log.h"
#include "hsmjwt.pb-c.h"
#include "rpc_int.h"

#define KEY_ADMIN_URI_MAX 512

/* Fills a Key message from key with its state now; strings point into key and uri. */
static void
key_admin_describe(const struct keyring *ring, size_t index, char *uri,
    Hsmjwt__V1__Key *msg)
{
	const struct keyring_key *key = keyring_key_at(ring, index);
	enum key_state state;
	int64_t retire_at, unpublish_at;

	hsmjwt__v1__key__init(msg);
	keyring_key_state_at(ring, index, (int64_t)time(NULL), &state, &retire_at,
	    &unpublish_at);
	hsm_key_uri(keyring_hsm(ring), &key->hsm_key, uri, KEY_ADMIN_URI_MAX);
	msg->kid = (char *)key->kid;
	msg->alg = (char *)key->alg->name;
	msg->state = (Hsmjwt__V1__KeyState)state;
	msg->created_at = key->times.created_at;
	msg->activate_at = key->times.activate_at;
	msg->retire_at = retire_at;
	msg->unpublish_at = unpublish_at;
	msg->public_jwk_json = key->public_jwk_json != NULL ? key->public_jwk_json : "";
	msg->pkcs11_uri = uri;
}

/* Replies with the Key message of kid from the current snapshot. */
static void
key_admin_reply_key(const struct rpc_context *ctx, const char *kid,
    struct rpc_reply *reply)
{
	struct keyring *ring = keystore_current(ctx->store);
	char uri[KEY_ADMIN_URI_MAX];
	Hsmjwt__V1__Key msg;
	size_t i;

	for (i = 0; i < keyring_key_count(ring); i++) {
		if (strcmp(keyring_key_at(ring, i)->kid, kid) == 0)
			break;
	}
	if (i == keyring_key_count(ring)) {
		rpc_reply_status(reply, GRPC_STATUS_INTERNAL,
		    "key %s is missing from the reloaded key ring", kid);
	} else {
		key_admin_describe(ring, i, uri, &msg);
		rpc_reply_pack(reply, &msg.base);
	}
	keyring_unref(ring);
}

/* Decodes request as desc; replies INVALID_ARGUMENT and returns NULL when it is not one. */
static ProtobufCMessage *
key_admin_unpack(const ProtobufCMessageDescriptor *desc,
    const struct rpc_request *request, struct rpc_reply *reply)
{
	ProtobufCMessage *msg;

	msg = protobuf_c_message_unpack(desc, NULL, request->has_payload ? request->len : 0,
	    request->has_payload ? request->data : (const uint8_t *)"");
	if (msg == NULL)
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "request: not a valid %s message", desc->name);
	return msg;
}

/* Returns the signing algorithm named alg, or NULL after replying INVALID_ARGUMENT. */
static const struct jose_alg *
key_admin_alg(const char *name, struct rpc_reply *reply)
{
	const struct jose_alg *alg = jose_alg_find(name);
	char names[256] = "";
	size_t i;

	if (alg == NULL)
		alg = jose_enc_alg_find(name);
	if (alg != NULL)
		return alg;
	for (i = 0; jose_alg_at(i) != NULL; i++) {
		if (i > 0)
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, jose_alg_at(i)->name, sizeof(names) - strlen(names) - 1);
	}
	rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
	    "alg: \"%.32s\" is not a supported algorithm; use one of %s, or a key "
	    "management algorithm of keys.decryption", name, names);
	return NULL;
}

void
key_admin_list(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__ListKeysResponse response = HSMJWT__V1__LIST_KEYS_RESPONSE__INIT;
	ProtobufCMessage *req;
	struct keyring *ring;
	Hsmjwt__V1__Key *keys = NULL, **ptrs = NULL;
	char (*uris)[KEY_ADMIN_URI_MAX] = NULL;
	size_t i, n;

	if ((req = key_admin_unpack(&hsmjwt__v1__list_keys_request__descriptor, request,
	    reply)) == NULL)
		return;
	protobuf_c_message_free_unpacked(req, NULL);

	ring = keystore_current(ctx->store);
	n = keyring_key_count(ring);
	keys = calloc(n + 1, sizeof(*keys));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	uris = calloc(n + 1, sizeof(*uris));
	if (keys == NULL || ptrs == NULL || uris == NULL) {
		rpc_reply_status(reply, GRPC_STATUS_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		key_admin_describe(ring, i, uris[i], &keys[i]);
		ptrs[i] = &keys[i];
	}
	response.n_keys = n;
	response.keys = ptrs;
	rpc_reply_pack(reply, &response.base);

out:
	free(uris);
	free(ptrs);
	free(keys);
	keyring_unref(ring);
}

void
key_admin_generate(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__GenerateKeyRequest *req;
	const struct jose_alg *alg;
	char kid[KEYRING_KID_MAX];
	struct hj_error err;

	req = (Hsmjwt__V1__GenerateKeyRequest *)key_admin_unpack(
	    &hsmjwt__v1__generate_key_request__descriptor, request, reply);
	if (req == NULL)
		return;
	rpc_reply_log(reply, " alg=%.32s", req->alg);
	if ((alg = key_admin_alg(req->alg, reply)) == NULL)
		goto out;
	if (req->activate_at < 0) {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "activate_at: must be Unix seconds, or 0 for now plus pre_publish");
		goto out;
	}
	if (keystore_generate(ctx->store, alg, req->activate_at, kid, &err) != HJ_OK) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	rpc_reply_log(reply, " kid=%s", kid);
	key_admin_reply_key(ctx, kid, reply);

out:
	hsmjwt__v1__generate_key_request__free_unpacked(req, NULL);
}

void
key_admin_rotate(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__RotateKeyRequest *req;
	const struct jose_alg *alg;
	char kid[KEYRING_KID_MAX];
	struct hj_error err;

	req = (Hsmjwt__V1__RotateKeyRequest *)key_admin_unpack(
	    &hsmjwt__v1__rotate_key_request__descriptor, request, reply);
	if (req == NULL)
		return;
	rpc_reply_log(reply, " alg=%.32s", req->alg);
	if ((alg = key_admin_alg(req->alg, reply)) == NULL)
		goto out;
	if (keystore_rotate(ctx->store, alg, kid, &err) != HJ_OK) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	rpc_reply_log(reply, " kid=%s", kid);
	key_admin_reply_key(ctx, kid, reply);

out:
	hsmjwt__v1__rotate_key_request__free_unpacked(req, NULL);
}

/* Checks that kid is present; replies INVALID_ARGUMENT otherwise. */
static bool
key_admin_kid(const char *kid, struct rpc_reply *reply)
{
	char kid_q[LOG_QUOTE_SIZE];

	if (kid[0] == '\0') {
		rpc_reply_status(reply, GRPC_STATUS_INVALID_ARGUMENT,
		    "kid: missing; list the keys with ListKeys (hsmjwt keys list)");
		return false;
	}
	rpc_reply_log(reply, " kid=%s", log_quote(kid_q, kid));
	return true;
}

void
key_admin_retire(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__RetireKeyRequest *req;
	struct hj_error err;

	req = (Hsmjwt__V1__RetireKeyRequest *)key_admin_unpack(
	    &hsmjwt__v1__retire_key_request__descriptor, request, reply);
	if (req == NULL)
		return;
	if (!key_admin_kid(req->kid, reply))
		goto out;
	rpc_reply_log(reply, " immediately=%s", req->immediately ? "yes" : "no");
	if (keystore_retire(ctx->store, req->kid, req->immediately, &err) != HJ_OK) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	key_admin_reply_key(ctx, req->kid, reply);

out:
	hsmjwt__v1__retire_key_request__free_unpacked(req, NULL);
}

void
key_admin_destroy(const struct rpc_context *ctx, const struct rpc_request *request,
    struct rpc_reply *reply)
{
	Hsmjwt__V1__DestroyKeyResponse response = HSMJWT__V1__DESTROY_KEY_RESPONSE__INIT;
	Hsmjwt__V1__DestroyKeyRequest *req;
	struct hj_error err;

	req = (Hsmjwt__V1__DestroyKeyRequest *)key_admin_unpack(
	    &hsmjwt__v1__destroy_key_request__descriptor, request, reply);
	if (req == NULL)
		return;
	if (!key_admin_kid(req->kid, reply))
		goto out;
	if (keystore_destroy(ctx->store, req->kid, &err) != HJ_OK) {
		rpc_reply_error(reply, &err);
		goto out;
	}
	rpc_reply_pack(reply, &response.base);

out:
	hsmjwt__v1__destroy_key_request__free_unpacked(req, NULL);
}
