#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hsmjwt/log.h"
#include "daemon.h"

/* Removes one trailing "\n" or "\r\n". */
static size_t
pin_strip_newline(const char *pin, size_t len)
{
	if (len > 0 && pin[len - 1] == '\n')
		len--;
	if (len > 0 && pin[len - 1] == '\r')
		len--;
	return len;
}

static hj_err
pin_check_file(int fd, const char *path, struct hj_error *err)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "hsm.pin_file: cannot stat %s: %s",
		    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "hsm.pin_file: %s is not a regular file", path);
	if ((st.st_mode & 077) != 0)
		log_event(LOG_LEVEL_WARN, "pin_file_mode",
		    "path=%s mode=%03o fix=\"chmod 600 the PIN file\"", path,
		    (unsigned)(st.st_mode & 0777));
	return HJ_OK;
}

static hj_err
pin_read_file(const char *path, char *pin, size_t *lenp, struct hj_error *err)
{
	hj_err r = HJ_ERR_CONFIG;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return hj_error_set(err, HJ_ERR_CONFIG, "hsm.pin_file: cannot open %s: %s",
		    path, strerror(errno));
	if ((r = pin_check_file(fd, path, err)) != HJ_OK)
		goto out;

	/* Read one byte past PIN_MAX so that an oversized file is detected. */
	while (len <= PIN_MAX && (n = read(fd, pin + len, PIN_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hj_error_set(err, HJ_ERR_CONFIG, "hsm.pin_file: cannot read %s: %s",
			    path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	len = pin_strip_newline(pin, len);
	if (len > PIN_MAX) {
		r = hj_error_set(err, HJ_ERR_CONFIG,
		    "hsm.pin_file: %s is longer than %d bytes; it must contain only the PIN",
		    path, PIN_MAX);
		goto out;
	}
	*lenp = len;
	r = HJ_OK;

out:
	close(fd);
	return r;
}

static hj_err
pin_read_env(const char *name, char *pin, size_t *lenp, struct hj_error *err)
{
	char *value = getenv(name);
	size_t len;

	if (value == NULL)
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "hsm.pin_env: the environment variable %s is not set", name);
	len = strlen(value);
	if (len > PIN_MAX)
		return hj_error_set(err, HJ_ERR_CONFIG,
		    "hsm.pin_env: the value of %s is longer than %d bytes", name, PIN_MAX);
	memcpy(pin, value, len);

	/*
	 * Wipe the value where it lies, which is also what /proc/PID/environ
	 * shows for the initial environment, then drop the variable.
	 */
	OPENSSL_cleanse(value, len);
	unsetenv(name);
	*lenp = len;
	return HJ_OK;
}

hj_err
pin_read(const struct config *cfg, char **pinp, size_t *lenp, struct hj_error *err)
{
	char *pin;
	size_t len = 0;
	hj_err r;

	*pinp = NULL;
	*lenp = 0;
	pin = OPENSSL_zalloc(PIN_MAX + 2);
	if (pin == NULL)
		return hj_error_set(err, HJ_ERR_NO_MEMORY, "out of memory for the PIN");

	if (cfg->hsm_pin_file != NULL)
		r = pin_read_file(cfg->hsm_pin_file, pin, &len, err);
	else
		r = pin_read_env(cfg->hsm_pin_env, pin, &len, err);
	if (r == HJ_OK && len == 0)
		r = hj_error_set(err, HJ_ERR_CONFIG, "%s: the PIN is empty",
		    cfg->hsm_pin_file != NULL ? "hsm.pin_file" : "hsm.pin_env");
	if (r != HJ_OK) {
		pin_free(pin);
		return r;
	}
	*pinp = pin;
	*lenp = len;
	return HJ_OK;
}

void
pin_free(char *pin)
{
	if (pin != NULL)
		OPENSSL_clear_free(pin, PIN_MAX + 2);
}
