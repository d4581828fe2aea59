#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "cli.h"

/* Maximum length in bytes of a printed status message. Longer ones are cut. */
#define CLI_STATUS_MESSAGE_MAX 1024

/* State of one unary call: its gRPC objects and what the server sent back. */
struct cli_call {
	grpc_channel *channel;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_byte_buffer *request;
	grpc_metadata_array initial_metadata;
	grpc_metadata_array trailing_metadata;
	grpc_byte_buffer *response;         /* NULL when no message came */
	grpc_status_code status;
	grpc_slice details;                 /* the status message */
	const char *error_string;           /* debug detail from gRPC, freed with gpr_free() */
};

static const char *
cli_status_name(grpc_status_code status)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	if ((size_t)status < sizeof(names) / sizeof(names[0]))
		return names[status];
	return "UNKNOWN";
}

static void
cli_call_init(struct cli_call *c)
{
	memset(c, 0, sizeof(*c));
	grpc_metadata_array_init(&c->initial_metadata);
	grpc_metadata_array_init(&c->trailing_metadata);
	c->details = grpc_empty_slice();
	c->status = GRPC_STATUS_UNKNOWN;
}

static void
cli_call_free(struct cli_call *c)
{
	grpc_event ev;

	if (c->call != NULL)
		grpc_call_unref(c->call);
	if (c->cq != NULL) {
		/* A pluck queue is drained by plucking until it reports shutdown. */
		grpc_completion_queue_shutdown(c->cq);
		do {
			ev = grpc_completion_queue_pluck(c->cq, NULL,
			    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		} while (ev.type != GRPC_QUEUE_SHUTDOWN);
		grpc_completion_queue_destroy(c->cq);
	}
	if (c->channel != NULL)
		grpc_channel_destroy(c->channel);
	if (c->request != NULL)
		grpc_byte_buffer_destroy(c->request);
	if (c->response != NULL)
		grpc_byte_buffer_destroy(c->response);
	grpc_metadata_array_destroy(&c->initial_metadata);
	grpc_metadata_array_destroy(&c->trailing_metadata);
	grpc_slice_unref(c->details);
	gpr_free((void *)c->error_string);
}

/*
 * Creates a plaintext channel to address.
 * NOTE: the client has no TLS yet. The daemon serves plaintext gRPC only on
 * loopback addresses and unix sockets.
 */
static grpc_channel *
cli_channel_create(const char *address)
{
	grpc_channel_credentials *creds;
	grpc_channel *channel;
	/*
	 * A plaintext call goes to a local daemon, so an HTTP proxy named in
	 * the environment (http_proxy, grpc_proxy) must not carry it.
	 */
	grpc_arg arg = {
		.type = GRPC_ARG_INTEGER,
		.key = (char *)GRPC_ARG_ENABLE_HTTP_PROXY,
		.value.integer = 0,
	};
	grpc_channel_args args = { .num_args = 1, .args = &arg };

	creds = grpc_insecure_credentials_create();
	channel = grpc_channel_create(address, creds, &args);
	grpc_channel_credentials_release(creds);
	return channel;
}

static hj_err
cli_call_pack_request(struct cli_call *c, const ProtobufCMessage *request,
    struct hj_error *err)
{
	size_t len = protobuf_c_message_get_packed_size(request);
	grpc_slice slice = grpc_slice_malloc(len);

	protobuf_c_message_pack(request, GRPC_SLICE_START_PTR(slice));
	c->request = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	if (c->request == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory packing the request");
	return HJ_OK;
}

/* Starts the one batch of a unary call: send everything, receive everything. */
static grpc_call_error
cli_call_start_batch(struct cli_call *c)
{
	grpc_op ops[6];

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = c->request;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->initial_metadata;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->response;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->trailing_metadata;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	ops[5].data.recv_status_on_client.error_string = &c->error_string;

	return grpc_call_start_batch(c->call, ops, sizeof(ops) / sizeof(ops[0]), c, NULL);
}

/*
 * Runs the call and waits for its status. The call's deadline bounds the
 * wait: gRPC completes the batch with DEADLINE_EXCEEDED when it passes.
 */
static hj_err
cli_call_run(struct cli_call *c, const char *address, const char *method,
    long timeout_seconds, struct hj_error *err)
{
	gpr_timespec deadline;
	grpc_call_error rc;
	grpc_event ev;

	c->channel = cli_channel_create(address);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_seconds(timeout_seconds, GPR_TIMESPAN));
	c->call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
	    c->cq, grpc_slice_from_static_string(method), NULL, deadline, NULL);
	if (c->call == NULL)
		return hj_error_set(err, HJ_ERR_INTERNAL, "cannot create a call to %s", method);

	if ((rc = cli_call_start_batch(c)) != GRPC_CALL_OK)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "cannot start the call to %s: grpc_call_error %d", method, (int)rc);
	ev = grpc_completion_queue_pluck(c->cq, c, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (ev.type != GRPC_OP_COMPLETE || !ev.success)
		return hj_error_set(err, HJ_ERR_INTERNAL,
		    "the call to %s did not complete (completion type %d)", method, (int)ev.type);
	return HJ_OK;
}

/* Prints what the user can do about a failed connection or a deadline. */
static void
cli_print_hint(struct cli_call *c, const struct cli *cli,
    const struct cli_target *target, const char *command)
{
	bool connected = grpc_channel_check_connectivity_state(c->channel, 0) ==
	    GRPC_CHANNEL_READY;

	if (!connected && (c->status == GRPC_STATUS_UNAVAILABLE ||
	    c->status == GRPC_STATUS_DEADLINE_EXCEEDED)) {
		cli_error(command, "hint: cannot connect to hsmjwtd at %s; check that it "
		    "listens there, or set the address with %s ADDR or %s",
		    target->address, target->flag, target->env);
	} else if (c->status == GRPC_STATUS_DEADLINE_EXCEEDED) {
		cli_error(command, "hint: hsmjwtd at %s sent no reply within %ld s; "
		    "raise the limit with --timeout SECONDS",
		    target->address, cli->timeout_seconds);
	}
}

/* Prints "hsmjwt: COMMAND: STATUS: message", escaping the server's text. */
static void
cli_print_status(struct cli_call *c, const struct cli *cli,
    const struct cli_target *target, const char *command)
{
	size_t len = GRPC_SLICE_LENGTH(c->details);
	char *message;

	if (len > CLI_STATUS_MESSAGE_MAX)
		len = CLI_STATUS_MESSAGE_MAX;
	message = strndup((const char *)GRPC_SLICE_START_PTR(c->details), len);

	fprintf(stderr, "%s: %s: %s: ", CLI_PROGRAM, command, cli_status_name(c->status));
	cli_write_escaped(stderr, message != NULL ? message : "(out of memory)");
	fputc('\n', stderr);
	free(message);
	cli_print_hint(c, cli, target, command);
}

static int
cli_call_unpack(struct cli_call *c, const char *command,
    const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **responsep)
{
	grpc_byte_buffer_reader reader;
	grpc_slice slice;

	if (c->response == NULL || !grpc_byte_buffer_reader_init(&reader, c->response)) {
		cli_error(command, "the server returned status OK without a %s message",
		    descriptor->name);
		return CLI_EXIT_FAIL;
	}
	slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);

	*responsep = protobuf_c_message_unpack(descriptor, NULL, GRPC_SLICE_LENGTH(slice),
	    GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	if (*responsep == NULL) {
		cli_error(command, "the server's reply is not a valid %s message",
		    descriptor->name);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

int
cli_invoke(const struct cli *cli, const struct cli_target *target,
    const char *command, const char *method, const ProtobufCMessage *request,
    const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **responsep)
{
	struct hj_error err = { 0 };
	struct cli_call c;
	int status = CLI_EXIT_FAIL;

	*responsep = NULL;
	cli_call_init(&c);
	if (cli_call_pack_request(&c, request, &err) != HJ_OK ||
	    cli_call_run(&c, target->address, method, cli->timeout_seconds, &err) != HJ_OK) {
		cli_error(command, "%s", err.message);
		goto out;
	}

	if (c.status != GRPC_STATUS_OK) {
		cli_print_status(&c, cli, target, command);
		goto out;
	}
	status = cli_call_unpack(&c, command, descriptor, responsep);
out:
	cli_call_free(&c);
	return status;
}
