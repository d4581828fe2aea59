#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "hsmjwt/http.h"
#include "hsmjwt/log.h"

#define HTTP_THREADS 2
#define HTTP_CONNECTION_LIMIT 512
#define HTTP_CONNECTION_TIMEOUT_SECONDS 15

struct http_server {
	struct MHD_Daemon *mhd;
	struct http_context ctx;
	int listen_fd;
	char *discovery_json;         /* the OpenID configuration document */
};

/* Builds the discovery document; jwks_uri is the issuer URL with the JWKS path. */
static char *
http_discovery_build(const struct http_context *ctx)
{
	json_t *doc, *algs;
	char jwks_uri[1024];
	size_t len = strlen(ctx->issuer), i;
	char *text;

	while (len > 0 && ctx->issuer[len - 1] == '/')
		len--;
	snprintf(jwks_uri, sizeof(jwks_uri), "%.*s/.well-known/jwks.json", (int)len, ctx->issuer);

	algs = json_array();
	for (i = 0; i < ctx->alg_count; i++)
		json_array_append_new(algs, json_string(ctx->algs[i]));
	doc = json_pack("{s:s, s:s, s:o, s:[s], s:[s]}", "issuer", ctx->issuer,
	    "jwks_uri", jwks_uri, "id_token_signing_alg_values_supported", algs,
	    "response_types_supported", "id_token", "subject_types_supported", "public");
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	return text;
}

/* Returns true when an If-None-Match value matches etag ("*", or one entry of a list). */
static bool
http_etag_matches(const char *if_none_match, const char *etag)
{
	size_t etag_len = strlen(etag);
	const char *p = if_none_match;

	while (*p != '\0') {
		p += strspn(p, " \t,");
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*')
			return true;
		if (strncmp(p, etag, etag_len) == 0 &&
		    (p[etag_len] == '\0' || strchr(" \t,", p[etag_len]) != NULL))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

static enum MHD_Result
http_send(struct MHD_Connection *conn, unsigned status, const char *content_type,
    const char *body, struct MHD_Response **responsep)
{
	struct MHD_Response *response;
	enum MHD_Result ret;

	response = MHD_create_response_from_buffer(strlen(body), (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (response == NULL)
		return MHD_NO;
	if (content_type != NULL)
		MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (responsep != NULL) {
		*responsep = response;
		return MHD_YES;
	}
	ret = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	return ret;
}

static unsigned
http_jwks(struct http_server *s, struct MHD_Connection *conn, enum MHD_Result *ret)
{
	struct keyring *ring = keystore_current(s->ctx.store);
	const char *etag = keyring_jwks_etag(ring);
	const char *if_none_match;
	struct MHD_Response *response = NULL;
	char cache_control[64];
	unsigned status = MHD_HTTP_OK;

	if_none_match = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (if_none_match != NULL && http_etag_matches(if_none_match, etag))
		status = MHD_HTTP_NOT_MODIFIED;

	*ret = http_send(conn, status, status == MHD_HTTP_OK ? "application/json" : NULL,
	    status == MHD_HTTP_OK ? keyring_jwks_json(ring) : "", &response);
	if (response == NULL) {
		keyring_unref(ring);
		return status;
	}

	snprintf(cache_control, sizeof(cache_control), "public, max-age=%u",
	    (unsigned)s->ctx.max_age);
	MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
	*ret = MHD_queue_response(conn, status, response);
	MHD_destroy_response(response);
	keyring_unref(ring);
	return status;
}

static unsigned
http_route(struct http_server *s, struct MHD_Connection *conn, const char *method,
    const char *url, enum MHD_Result *ret)
{
	bool serving;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		struct MHD_Response *response = NULL;

		*ret = http_send(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		    "method not allowed; use GET\n", &response);
		if (response != NULL) {
			MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
			*ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, response);
			MHD_destroy_response(response);
		}
		return MHD_HTTP_METHOD_NOT_ALLOWED;
	}

	if (strcmp(url, "/.well-known/jwks.json") == 0)
		return http_jwks(s, conn, ret);

	if (strcmp(url, "/.well-known/openid-configuration") == 0) {
		*ret = http_send(conn, MHD_HTTP_OK, "application/json", s->discovery_json, NULL);
		return MHD_HTTP_OK;
	}

	if (strcmp(url, "/healthz") == 0) {
		serving = s->ctx.serving == NULL || s->ctx.serving(s->ctx.serving_arg);
		*ret = http_send(conn, serving ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		    "text/plain", serving ? "ok\n" : "not serving: the HSM login is gone\n",
		    NULL);
		return serving ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	}

	*ret = http_send(conn, MHD_HTTP_NOT_FOUND, "text/plain",
	    "not found; the endpoints are /.well-known/jwks.json, "
	    "/.well-known/openid-configuration and /healthz\n", NULL);
	return MHD_HTTP_NOT_FOUND;
}

static enum MHD_Result
http_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	char url_q[LOG_QUOTE_SIZE], method_q[LOG_QUOTE_SIZE];
	enum MHD_Result ret = MHD_NO;
	unsigned status;

	/* The first call only announces the request, so the reply goes out on the second. */
	if (*req_cls == NULL) {
		*req_cls = s;
		return MHD_YES;
	}
	/* A request body is not expected: discard it. */
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}

	status = http_route(s, conn, method, url, &ret);
	log_event(LOG_LEVEL_INFO, "http", "method=%s path=%s status=%u",
	    log_quote(method_q, method), log_quote(url_q, url), status);
	return ret;
}

hj_err
http_server_start(int listen_fd, const struct http_context *ctx,
    struct http_server **serverp, struct hj_error *err)
{
	struct http_server *s;

	*serverp = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(listen_fd);
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
	}
	s->ctx = *ctx;
	s->listen_fd = listen_fd;
	s->discovery_json = http_discovery_build(ctx);
	if (s->discovery_json == NULL) {
		close(listen_fd);
		free(s);
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory");
	}

	s->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, http_handle, s,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_SECONDS,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		close(listen_fd);
		free(s->discovery_json);
		free(s);
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "cannot start the HTTP server (libmicrohttpd)");
	}
	*serverp = s;
	return HJ_OK;
}

void
http_server_stop(struct http_server *s)
{
	int fd;

	if (s == NULL)
		return;

	/* Quiescing hands the listening socket back, so that it is closed once. */
	fd = MHD_quiesce_daemon(s->mhd);
	MHD_stop_daemon(s->mhd);
	if (fd >= 0)
		close(fd);
	free(s->discovery_json);
	free(s);
}
