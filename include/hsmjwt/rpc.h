/*
 * The gRPC servers, on the gRPC core C API.
 *
 * Each server runs a fixed number of worker threads, each with its own
 * completion queue. Registered methods receive their request payload with
 * the call. A few generic slots per queue take calls to any other method
 * and reply UNIMPLEMENTED at once. A handler runs on the worker thread that
 * took the call, so the number of workers bounds the concurrent requests.
 */
#ifndef HSMJWT_RPC_H
#define HSMJWT_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmjwt/error.h"
#include "hsmjwt/keystore.h"
#include "hsmjwt/profile.h"

/* Services that one server offers. */
enum rpc_services {
	RPC_SERVICE_HEALTH = 1 << 0,
	RPC_SERVICE_TOKEN = 1 << 1,
	RPC_SERVICE_ADMIN = 1 << 2,
};

/* The state that handlers read, owned by the daemon, which keeps it alive until rpc_server_free(). */
struct rpc_context {
	const char *issuer;
	const struct profile *profiles;
	size_t profile_count;
	const struct recipient *recipients;   /* named recipients of nested JWTs */
	size_t recipient_count;
	struct keystore *store;
	uint32_t clock_skew;
	bool oaep256_unsupported;      /* the token cannot decrypt RSA-OAEP-256 */           /* seconds allowed on exp and nbf in Verify */
	/* Returns true while the service can sign; drives the health status. */
	bool (*serving)(void *arg);
	void *serving_arg;
};

struct rpc_server;

/*
 * Binds address ("127.0.0.1:50051", "[::1]:50051" or "unix:/path") with
 * plaintext credentials and starts workers threads. The caller checks that
 * the address may be served in plaintext.
 */
hj_err rpc_server_start(const char *address, unsigned services,
    unsigned workers, const struct rpc_context *ctx,
    struct rpc_server **serverp, struct hj_error *err);

/* Stops accepting calls, waits for the calls in progress and joins the workers. */
void rpc_server_shutdown(struct rpc_server *server);

/* Shuts the server down if needed and frees it. NULL is allowed. */
void rpc_server_free(struct rpc_server *server);

/* Process-wide gRPC setup and teardown; call once each, around all servers. */
void rpc_init(void);
void rpc_shutdown(void);

#endif
