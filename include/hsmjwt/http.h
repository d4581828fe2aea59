/*
 * The HTTP endpoints for verifiers and probes, on libmicrohttpd:
 *   GET /.well-known/jwks.json   the JWK Set, with ETag and Cache-Control
 *   GET /.well-known/openid-configuration   issuer, jwks_uri, signing algorithms
 *   GET /healthz                 200 while the service can sign, else 503
 */
#ifndef HSMJWT_HTTP_H
#define HSMJWT_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "hsmjwt/error.h"
#include "hsmjwt/keystore.h"

struct http_context {
	struct keystore *store;
	const char *issuer;
	const char *const *algs;      /* signing algorithms of the profiles */
	size_t alg_count;
	uint32_t max_age;             /* Cache-Control max-age of the JWKS, seconds */
	bool (*serving)(void *arg);   /* true while the service can sign */
	void *serving_arg;
};

struct http_server;

/*
 * Serves on listen_fd, a bound and listening socket that the server then
 * owns. ctx must outlive the server.
 */
hj_err http_server_start(int listen_fd, const struct http_context *ctx,
    struct http_server **serverp, struct hj_error *err);

/* Stops serving, closes the socket and frees the server. NULL is allowed. */
void http_server_stop(struct http_server *server);

#endif
