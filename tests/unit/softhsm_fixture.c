/* A SoftHSM2 token in a temporary folder; see softhsm_fixture.h. */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "softhsm_fixture.h"

/* Security officer PIN of fixture tokens; the tests never log in as SO. */
#define FIXTURE_SO_PIN "fixture-so-pin"

static void fixture_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
fixture_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "softhsm fixture: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Writes the configuration that keeps the tokens inside f->dir. */
static int
fixture_write_conf(struct softhsm_fixture *f)
{
	char tokens[PATH_MAX];
	FILE *conf;
	int n;

	n = snprintf(tokens, sizeof(tokens), "%s/tokens", f->dir);
	if (n < 0 || (size_t)n >= sizeof(tokens)) {
		fixture_fail("temporary folder path %s is too long", f->dir);
		return -1;
	}
	n = snprintf(f->conf_path, sizeof(f->conf_path), "%s/softhsm2.conf",
	    f->dir);
	if (n < 0 || (size_t)n >= sizeof(f->conf_path)) {
		fixture_fail("temporary folder path %s is too long", f->dir);
		return -1;
	}
	if (mkdir(tokens, 0700) != 0) {
		fixture_fail("cannot create %s", tokens);
		return -1;
	}

	conf = fopen(f->conf_path, "w");
	if (conf == NULL) {
		fixture_fail("cannot write %s", f->conf_path);
		return -1;
	}
	fprintf(conf, "directories.tokendir = %s\n", tokens);
	fprintf(conf, "objectstore.backend = file\n");
	fprintf(conf, "log.level = ERROR\n");
	if (fclose(conf) != 0) {
		fixture_fail("cannot write %s", f->conf_path);
		return -1;
	}
	return 0;
}

/* Runs softhsm2-util with argv (argv[0] is the program) and waits for it. */
static int
fixture_run_util(char *const argv[])
{
	int status, devnull;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		fixture_fail("fork failed: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Its "token initialized" line would clutter test output. */
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		if (strchr(argv[0], '/') != NULL)
			execv(argv[0], argv);
		else
			execvp(argv[0], argv);
		fprintf(stderr, "softhsm fixture: cannot run %s: %s; install "
		    "softhsm2 or set HSMJWT_TEST_SOFTHSM_UTIL\n", argv[0],
		    strerror(errno));
		_exit(127);
	}

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fixture_fail("waitpid failed: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fixture_fail("%s --init-token failed", argv[0]);
		return -1;
	}
	return 0;
}

int
softhsm_fixture_add_token(struct softhsm_fixture *f, const char *label,
    const char *pin)
{
	char util_default[] = "softhsm2-util";
	char *util = getenv("HSMJWT_TEST_SOFTHSM_UTIL");
	char *argv[] = {
		util != NULL && util[0] != '\0' ? util : util_default,
		"--init-token", "--free",
		"--label", (char *)label,
		"--pin", (char *)pin,
		"--so-pin", FIXTURE_SO_PIN,
		NULL,
	};

	if (strlen(label) > 32) {
		fixture_fail("token label \"%s\" is longer than 32 bytes",
		    label);
		return -1;
	}
	if (setenv("SOFTHSM2_CONF", f->conf_path, 1) != 0) {
		fixture_fail("cannot set SOFTHSM2_CONF to %s", f->conf_path);
		return -1;
	}
	return fixture_run_util(argv);
}

/* Checks that the module named by HSMJWT_TEST_MODULE exists. */
static int
fixture_find_module(struct softhsm_fixture *f)
{
	f->module_path = getenv("HSMJWT_TEST_MODULE");
	if (f->module_path == NULL || f->module_path[0] == '\0') {
		fixture_fail("HSMJWT_TEST_MODULE is not set: run the test "
		    "through meson test, or set it to the SoftHSM2 module");
		return -1;
	}
	if (access(f->module_path, R_OK) != 0) {
		fixture_fail("SoftHSM2 module %s not found: install softhsm2",
		    f->module_path);
		return -1;
	}
	return 0;
}

int
softhsm_fixture_create(struct softhsm_fixture *f, const char *label,
    const char *pin)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	if (fixture_find_module(f) != 0)
		return -1;
	if (strlen(label) >= sizeof(f->label) ||
	    strlen(pin) >= sizeof(f->pin)) {
		fixture_fail("label or PIN of token \"%s\" is too long", label);
		return -1;
	}

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/hsmjwt-softhsm-XXXXXX", tmp);
	if (mkdtemp(f->dir) == NULL) {
		fixture_fail("mkdtemp in %s failed", tmp);
		f->dir[0] = '\0';
		return -1;
	}

	if (fixture_write_conf(f) != 0 ||
	    softhsm_fixture_add_token(f, label, pin) != 0) {
		softhsm_fixture_destroy(f);
		return -1;
	}
	snprintf(f->label, sizeof(f->label), "%s", label);
	snprintf(f->pin, sizeof(f->pin), "%s", pin);
	return 0;
}

static int
fixture_remove_entry(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	if (remove(path) != 0)
		fprintf(stderr, "softhsm fixture: cannot remove %s\n", path);
	return 0;
}

void
softhsm_fixture_destroy(struct softhsm_fixture *f)
{
	if (f->dir[0] == '\0')
		return;
	nftw(f->dir, fixture_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	f->dir[0] = '\0';
}
