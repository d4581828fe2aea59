#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "hsmjwt/log.h"
#include "rpc_int.h"

/* Calls to unknown methods that each queue keeps posted. */
#define RPC_GENERIC_SLOTS 2
/* How long shutdown waits for calls in progress before it cancels them. */
#define RPC_DRAIN_SECONDS 10
/* How often shutdown checks whether the calls in progress have finished. */
#define RPC_DRAIN_POLL_MS 50L

struct rpc_worker {
	struct rpc_server *server;
	grpc_completion_queue *cq;
	pthread_t thread;
	bool started;
};

struct rpc_server {
	grpc_server *grpc;
	struct rpc_context ctx;
	unsigned services;
	void *method_handles[16];     /* by index in rpc_methods; NULL: not served */
	struct rpc_worker *workers;
	unsigned worker_count;

	pthread_mutex_t lock;
	pthread_cond_t drained;
	bool shutting_down;           /* guarded by lock */
	bool shutdown_notified;       /* guarded by lock */
	int shutdown_tag;             /* its address is the shutdown tag */
	bool grpc_started;
	bool stopped;
	atomic_int active_calls;      /* calls taken and not yet finished */
};

enum rpc_call_state {
	RPC_CALL_POSTED,
	RPC_CALL_SENDING,
};

/* One call, from the posted request to the completion of the reply batch. */
struct rpc_call {
	enum rpc_call_state state;
	struct rpc_worker *worker;
	const struct rpc_method *method;    /* NULL: a generic (unknown) method */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array request_metadata;
	grpc_call_details details;          /* generic calls only */
	grpc_byte_buffer *payload;
	grpc_byte_buffer *response;
	grpc_slice status_details;
	bool has_status_details;
	bool active;                        /* counted in active_calls */
	int cancelled;
};

static void
rpc_call_free(struct rpc_call *c)
{
	if (c == NULL)
		return;
	if (c->active)
		atomic_fetch_sub(&c->worker->server->active_calls, 1);
	if (c->payload != NULL)
		grpc_byte_buffer_destroy(c->payload);
	if (c->response != NULL)
		grpc_byte_buffer_destroy(c->response);
	if (c->has_status_details)
		grpc_slice_unref(c->status_details);
	if (c->method == NULL)
		grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->request_metadata);
	if (c->call != NULL)
		grpc_call_unref(c->call);
	free(c);
}

/* Posts a request for the next call to method (NULL: any unknown method). */
static void
rpc_call_post(struct rpc_worker *w, const struct rpc_method *method)
{
	struct rpc_server *s = w->server;
	struct rpc_call *c;
	grpc_call_error rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_event(LOG_LEVEL_ERROR, "rpc_post_failed", "reason=\"out of memory\"");
		return;
	}
	c->worker = w;
	c->method = method;
	c->state = RPC_CALL_POSTED;
	grpc_metadata_array_init(&c->request_metadata);

	if (method != NULL) {
		rc = grpc_server_request_registered_call(s->grpc,
		    s->method_handles[method - rpc_methods], &c->call, &c->deadline,
		    &c->request_metadata, &c->payload, w->cq, w->cq, c);
	} else {
		grpc_call_details_init(&c->details);
		rc = grpc_server_request_call(s->grpc, &c->call, &c->details,
		    &c->request_metadata, w->cq, w->cq, c);
	}
	if (rc != GRPC_CALL_OK) {
		log_event(LOG_LEVEL_ERROR, "rpc_post_failed", "grpc_call_error=%d", (int)rc);
		rpc_call_free(c);
	}
}

/* Copies the request payload into one contiguous slice. */
static bool
rpc_call_read_payload(struct rpc_call *c, grpc_slice *slice)
{
	grpc_byte_buffer_reader reader;

	if (c->payload == NULL)
		return false;
	if (!grpc_byte_buffer_reader_init(&reader, c->payload))
		return false;
	*slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	return true;
}

static void
rpc_call_run_handler(struct rpc_call *c, const char *peer, struct rpc_reply *reply)
{
	struct rpc_request request = { .peer = peer };
	grpc_slice slice = grpc_empty_slice();

	if (c->method == NULL) {
		char *method = grpc_slice_to_c_string(c->details.method);

		rpc_reply_status(reply, GRPC_STATUS_UNIMPLEMENTED,
		    "method %.128s is not implemented by this server", method);
		gpr_free(method);
		return;
	}

	request.has_payload = rpc_call_read_payload(c, &slice);
	request.data = GRPC_SLICE_START_PTR(slice);
	request.len = GRPC_SLICE_LENGTH(slice);
	c->method->handler(&c->worker->server->ctx, &request, reply);
	grpc_slice_unref(slice);
}

static int64_t
rpc_elapsed_us(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	    (now.tv_nsec - start->tv_nsec) / 1000;
}

static void
rpc_call_log(const struct rpc_call *c, const char *peer,
    const struct rpc_reply *reply, const struct timespec *start)
{
	char peer_q[LOG_QUOTE_SIZE], message_q[LOG_QUOTE_SIZE];
	char method_q[LOG_QUOTE_SIZE];
	char *method = NULL;

	log_quote(peer_q, peer);
	if (c->method == NULL)
		method = grpc_slice_to_c_string(c->details.method);
	log_quote(method_q, c->method != NULL ? c->method->name : method);
	gpr_free(method);

	if (reply->status == GRPC_STATUS_OK) {
		/* Probes check health every few seconds: keep them out of the info log. */
		bool probe = c->method != NULL && c->method->service == RPC_SERVICE_HEALTH;

		log_event(probe ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "rpc",
		    "method=%s caller=%s%s status=OK dur_us=%lld",
		    method_q, peer_q, reply->log_fields, (long long)rpc_elapsed_us(start));
		return;
	}
	log_quote(message_q, reply->message);
	log_event(reply->status == GRPC_STATUS_INTERNAL ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
	    "rpc", "method=%s caller=%s%s status=%s message=%s dur_us=%lld",
	    method_q, peer_q, reply->log_fields, rpc_status_name(reply->status),
	    message_q, (long long)rpc_elapsed_us(start));
}

/* Builds the reply operations and starts them; the call ends when they complete. */
static bool
rpc_call_send_reply(struct rpc_call *c, struct rpc_reply *reply)
{
	grpc_op ops[4];
	grpc_op *op = ops;
	grpc_slice body;

	memset(ops, 0, sizeof(ops));
	op->op = GRPC_OP_SEND_INITIAL_METADATA;
	op++;

	if (reply->status == GRPC_STATUS_OK) {
		body = grpc_slice_from_copied_buffer((const char *)reply->body,
		    reply->body_len);
		c->response = grpc_raw_byte_buffer_create(&body, 1);
		grpc_slice_unref(body);
		op->op = GRPC_OP_SEND_MESSAGE;
		op->data.send_message.send_message = c->response;
		op++;
	}

	c->status_details = grpc_slice_from_copied_string(reply->message);
	c->has_status_details = true;
	op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	op->data.send_status_from_server.status = reply->status;
	op->data.send_status_from_server.status_details =
	    reply->status == GRPC_STATUS_OK ? NULL : &c->status_details;
	op++;

	op->op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op->data.recv_close_on_server.cancelled = &c->cancelled;
	op++;

	c->state = RPC_CALL_SENDING;
	return grpc_call_start_batch(c->call, ops, (size_t)(op - ops), c, NULL) ==
	    GRPC_CALL_OK;
}

/* Handles a call that arrived: runs its handler and starts the reply. */
static void
rpc_call_handle(struct rpc_call *c)
{
	struct rpc_reply reply;
	struct timespec start;
	char *peer;
	bool sent;

	clock_gettime(CLOCK_MONOTONIC, &start);
	memset(&reply, 0, sizeof(reply));
	peer = grpc_call_get_peer(c->call);

	rpc_call_run_handler(c, peer, &reply);
	rpc_call_log(c, peer, &reply, &start);
	sent = rpc_call_send_reply(c, &reply);

	free(reply.body);
	gpr_free(peer);
	if (!sent) {
		log_event(LOG_LEVEL_ERROR, "rpc_reply_failed",
		    "reason=\"grpc_call_start_batch failed\"");
		rpc_call_free(c);
	}
}

static bool
rpc_server_is_shutting_down(struct rpc_server *s)
{
	bool down;

	pthread_mutex_lock(&s->lock);
	down = s->shutting_down;
	pthread_mutex_unlock(&s->lock);
	return down;
}

static void
rpc_worker_event(struct rpc_worker *w, grpc_event ev)
{
	struct rpc_server *s = w->server;
	struct rpc_call *c = ev.tag;

	if (ev.tag == &s->shutdown_tag) {
		pthread_mutex_lock(&s->lock);
		s->shutdown_notified = true;
		pthread_cond_broadcast(&s->drained);
		pthread_mutex_unlock(&s->lock);
		return;
	}

	if (c->state == RPC_CALL_SENDING || !ev.success) {
		/* A finished reply, or a posted request cancelled by shutdown. */
		rpc_call_free(c);
		return;
	}

	/* Keep the slot filled before the handler blocks on the token. */
	c->active = true;
	atomic_fetch_add(&s->active_calls, 1);
	if (!rpc_server_is_shutting_down(s))
		rpc_call_post(w, c->method);
	rpc_call_handle(c);
}

static void *
rpc_worker_main(void *arg)
{
	struct rpc_worker *w = arg;
	grpc_event ev;

	for (;;) {
		ev = grpc_completion_queue_next(w->cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			rpc_worker_event(w, ev);
	}
	return NULL;
}

static void
rpc_server_register_methods(struct rpc_server *s)
{
	size_t i;

	for (i = 0; i < rpc_method_count; i++) {
		if ((rpc_methods[i].service & s->services) == 0)
			continue;
		s->method_handles[i] = grpc_server_register_method(s->grpc,
		    rpc_methods[i].path, NULL,
		    GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
	}
}

/* Posts each queue's initial requests: the method slots and the generic slots. */
static void
rpc_worker_post_all(struct rpc_worker *w)
{
	struct rpc_server *s = w->server;
	unsigned n;
	size_t i;

	for (i = 0; i < rpc_method_count; i++) {
		if (s->method_handles[i] == NULL)
			continue;
		for (n = 0; n < rpc_methods[i].slots; n++)
			rpc_call_post(w, &rpc_methods[i]);
	}
	for (n = 0; n < RPC_GENERIC_SLOTS; n++)
		rpc_call_post(w, NULL);
}

static grpc_server *
rpc_grpc_server_create(void)
{
	grpc_arg args[2];
	grpc_channel_args channel_args = { 2, args };

	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = RPC_MAX_REQUEST_BYTES;
	/* gRPC sets SO_REUSEPORT by default, which lets a second daemon share the port. */
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
	args[1].value.integer = 0;
	return grpc_server_create(&channel_args, NULL);
}

static hj_err
rpc_server_bind(struct rpc_server *s, const char *address, struct hj_error *err)
{
	grpc_server_credentials *creds;
	int port;

	creds = grpc_insecure_server_credentials_create();
	port = grpc_server_add_http2_port(s->grpc, address, creds);
	grpc_server_credentials_release(creds);
	if (port == 0)
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "cannot listen on %s: the address is invalid or in use", address);
	return HJ_OK;
}

static hj_err
rpc_server_start_workers(struct rpc_server *s, struct hj_error *err)
{
	unsigned i;

	for (i = 0; i < s->worker_count; i++) {
		struct rpc_worker *w = &s->workers[i];

		rpc_worker_post_all(w);
		if (pthread_create(&w->thread, NULL, rpc_worker_main, w) != 0)
			return hj_error_set(err, HJ_ERR_INTERNAL,
			    "cannot start gRPC worker thread %u", i);
		w->started = true;
	}
	return HJ_OK;
}

hj_err
rpc_server_start(const char *address, unsigned services, unsigned workers,
    const struct rpc_context *ctx, struct rpc_server **serverp,
    struct hj_error *err)
{
	struct rpc_server *s = NULL;
	unsigned i;
	hj_err r = HJ_ERR_NO_MEMORY;

	*serverp = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->drained, NULL);
	s->ctx = *ctx;
	s->services = services;
	s->worker_count = workers > 0 ? workers : 1;
	s->workers = calloc(s->worker_count, sizeof(*s->workers));
	if (s->workers == NULL)
		goto out;

	s->grpc = rpc_grpc_server_create();
	rpc_server_register_methods(s);
	for (i = 0; i < s->worker_count; i++) {
		s->workers[i].server = s;
		s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(s->grpc, s->workers[i].cq, NULL);
	}
	if ((r = rpc_server_bind(s, address, err)) != HJ_OK)
		goto out;

	grpc_server_start(s->grpc);
	s->grpc_started = true;
	if ((r = rpc_server_start_workers(s, err)) != HJ_OK)
		goto out;

	*serverp = s;
	s = NULL;
	r = HJ_OK;

out:
	rpc_server_free(s);
	return r;
}

/* Waits up to ms milliseconds for the shutdown tag; returns true once it has come. */
static bool
rpc_server_wait_notified(struct rpc_server *s, long ms)
{
	struct timespec until;
	bool notified;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&s->lock);
	while (!s->shutdown_notified && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->drained, &s->lock, &until);
	notified = s->shutdown_notified;
	pthread_mutex_unlock(&s->lock);
	return notified;
}

/*
 * Waits for the shutdown tag. gRPC core's shutdown also waits for clients
 * to close their connections, so once no call is in progress, cancelling
 * closes the idle ones. Calls still running after RPC_DRAIN_SECONDS are
 * cancelled.
 */
static void
rpc_server_wait_drained(struct rpc_server *s)
{
	long waited_ms;

	for (waited_ms = 0; waited_ms < RPC_DRAIN_SECONDS * 1000L; waited_ms += RPC_DRAIN_POLL_MS) {
		if (rpc_server_wait_notified(s, RPC_DRAIN_POLL_MS))
			return;
		if (atomic_load(&s->active_calls) == 0)
			grpc_server_cancel_all_calls(s->grpc);
	}

	log_event(LOG_LEVEL_WARN, "rpc_drain_timeout",
	    "seconds=%d action=\"cancelling the calls in progress\"", RPC_DRAIN_SECONDS);
	grpc_server_cancel_all_calls(s->grpc);
	while (!rpc_server_wait_notified(s, RPC_DRAIN_POLL_MS))
		;
}

/* Drains a queue whose worker never ran, so that it can be destroyed. */
static void
rpc_queue_drain(grpc_completion_queue *cq)
{
	grpc_event ev;

	do {
		ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_OP_COMPLETE && ev.tag != NULL)
			rpc_call_free(ev.tag);
	} while (ev.type != GRPC_QUEUE_SHUTDOWN);
}

void
rpc_server_shutdown(struct rpc_server *s)
{
	unsigned i;

	if (s == NULL || s->stopped)
		return;
	s->stopped = true;

	pthread_mutex_lock(&s->lock);
	s->shutting_down = true;
	pthread_mutex_unlock(&s->lock);

	/* Workers start in order, so the first queue has a worker when any has. */
	if (s->grpc_started && s->workers[0].started) {
		grpc_server_shutdown_and_notify(s->grpc, s->workers[0].cq, &s->shutdown_tag);
		rpc_server_wait_drained(s);
	} else if (s->grpc_started) {
		/* No worker ever ran: no call is in progress. */
		grpc_server_shutdown_and_notify(s->grpc, s->workers[0].cq, NULL);
		grpc_server_cancel_all_calls(s->grpc);
	}

	for (i = 0; i < s->worker_count; i++)
		grpc_completion_queue_shutdown(s->workers[i].cq);
	for (i = 0; i < s->worker_count; i++) {
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
		else
			rpc_queue_drain(s->workers[i].cq);
	}
}

void
rpc_server_free(struct rpc_server *s)
{
	unsigned i;

	if (s == NULL)
		return;

	if (s->workers != NULL && s->workers[0].cq != NULL)
		rpc_server_shutdown(s);
	if (s->grpc != NULL)
		grpc_server_destroy(s->grpc);
	for (i = 0; s->workers != NULL && i < s->worker_count; i++) {
		if (s->workers[i].cq != NULL)
			grpc_completion_queue_destroy(s->workers[i].cq);
	}
	free(s->workers);
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void
rpc_init(void)
{
	grpc_init();
}

void
rpc_shutdown(void)
{
	grpc_shutdown();
}
