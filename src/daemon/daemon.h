/* Helpers of hsmjwtd that are not modules of their own: the PIN and listening sockets. */
#ifndef HSMJWT_DAEMON_H
#define HSMJWT_DAEMON_H

#include <stddef.h>

#include "hsmjwt/config.h"
#include "hsmjwt/error.h"

/* Longest PIN accepted from pin_file or pin_env, in bytes. */
#define PIN_MAX 256

/*
 * Reads the PIN named by cfg: the contents of hsm.pin_file without one
 * trailing newline, or the variable hsm.pin_env, whose value is then wiped
 * from the environment. *pinp is released with pin_free(). Messages never
 * contain the PIN.
 */
hj_err pin_read(const struct config *cfg, char **pinp, size_t *lenp,
    struct hj_error *err);

/* Cleanses and frees a PIN from pin_read(). NULL is allowed. */
void pin_free(char *pin);

/*
 * Opens a listening stream socket on address: "HOST:PORT", "[V6]:PORT" or
 * "unix:/path". A stale unix socket at path is replaced. *fdp is
 * close-on-exec.
 */
hj_err listen_open(const char *address, int *fdp, struct hj_error *err);

/*
 * Reads the JWK file of each configured recipient. The keys are checked
 * against the requested algorithm when a Sign call uses them. *recipientsp
 * has cfg->recipient_count entries; free it with recipients_free().
 */
hj_err recipients_load(const struct config *cfg, struct recipient **recipientsp,
    struct hj_error *err);
void recipients_free(struct recipient *recipients, size_t count);

/* Returns the path of a "unix:/path" address, or NULL for other addresses. */
const char *listen_unix_path(const char *address);

/* Removes a stale unix socket at path; anything else at path is an error. */
hj_err listen_remove_stale_socket(const char *path, struct hj_error *err);

#endif
