/* Internal interfaces of the gRPC layer: the method table, handlers, status mapping. */
#ifndef HSMJWT_RPC_INT_H
#define HSMJWT_RPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "hsmjwt/error.h"
#include "hsmjwt/rpc.h"
#include "hsmjwt.pb-c.h"

/* Largest request a server accepts; gRPC rejects larger ones with RESOURCE_EXHAUSTED. */
#define RPC_MAX_REQUEST_BYTES (256 * 1024)

/* Space for the handler's fields in the request's log line. */
#define RPC_LOG_FIELDS_MAX 768

struct rpc_request {
	const uint8_t *data;        /* the serialized request message */
	size_t len;
	bool has_payload;           /* false when the client sent no message */
	const char *peer;           /* grpc_call_get_peer(): "ipv4:127.0.0.1:5112" */
};

struct rpc_reply {
	grpc_status_code status;
	char message[HJ_ERROR_MESSAGE_MAX];
	uint8_t *body;              /* packed response message (malloc), when OK */
	size_t body_len;
	char log_fields[RPC_LOG_FIELDS_MAX];   /* " key=value" pairs for the log */
};

typedef void (*rpc_handler_fn)(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);

struct rpc_method {
	const char *path;           /* "/hsmjwt.v1.TokenService/Sign" */
	const char *name;           /* "Sign", for the log */
	unsigned service;           /* RPC_SERVICE_* */
	rpc_handler_fn handler;
	unsigned slots;             /* requests kept posted on each queue */
};

extern const struct rpc_method rpc_methods[];
extern const size_t rpc_method_count;

/* Maps an error code to the gRPC status that the API documents for it. */
grpc_status_code rpc_status_from_err(hj_err code);

/* Returns the canonical name of a status ("INVALID_ARGUMENT"). */
const char *rpc_status_name(grpc_status_code status);

/* Sets reply to the status for err and its message. */
void rpc_reply_error(struct rpc_reply *reply, const struct hj_error *err);

/* Sets reply to status with a printf-style message. */
void rpc_reply_status(struct rpc_reply *reply, grpc_status_code status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Packs msg into reply->body and sets the status to OK (INTERNAL when out of memory). */
void rpc_reply_pack(struct rpc_reply *reply, const ProtobufCMessage *msg);

/*
 * Returns the profile called name. When there is none, replies NOT_FOUND
 * with the names of the configured profiles and returns NULL.
 */
const struct profile *rpc_find_profile(const struct rpc_context *ctx,
    const char *name, struct rpc_reply *reply);

/* Appends " key=value" text to the reply's log fields. */
void rpc_reply_log(struct rpc_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Encrypts jws to the recipient that enc names, within what profile allows.
 * *tokenp is the compact JWE, freed by the caller.
 */
hj_err nested_encrypt(const struct rpc_context *ctx, const struct profile *profile,
    const Hsmjwt__V1__Encryption *enc, const char *jws, char **tokenp,
    struct rpc_reply *reply, struct hj_error *err);

/* Handlers. */
void token_service_sign(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void token_service_verify(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void token_service_decrypt(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void token_service_get_jwks(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void key_admin_list(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void key_admin_generate(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void key_admin_rotate(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void key_admin_retire(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void key_admin_destroy(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);
void health_check(const struct rpc_context *ctx,
    const struct rpc_request *request, struct rpc_reply *reply);

#endif
