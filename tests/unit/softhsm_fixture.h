/*
 * A SoftHSM2 token in a temporary folder, for tests that need a real token.
 *
 * softhsm_fixture_create() makes a folder under $TMPDIR (or /tmp), writes a
 * softhsm2.conf there whose token directory lies inside it, points
 * SOFTHSM2_CONF at that file and initializes one token with
 * softhsm2-util (HSMJWT_TEST_SOFTHSM_UTIL, else softhsm2-util on PATH).
 * The module to load is HSMJWT_TEST_MODULE. SoftHSM reads SOFTHSM2_CONF in
 * C_Initialize, so create the fixture before the test opens the module,
 * and use one fixture at a time in a process.
 *
 * Every function prints the reason of a failure on stderr and returns -1,
 * so that a test without SoftHSM fails with a clear message.
 *
 *	struct softhsm_fixture f;
 *
 *	assert_int_equal(softhsm_fixture_create(&f, "test-token", "1234"), 0);
 *	... hsm_open() with f.module_path and f.label ...
 *	softhsm_fixture_destroy(&f);
 */
#ifndef HSMJWT_SOFTHSM_FIXTURE_H
#define HSMJWT_SOFTHSM_FIXTURE_H

#include <limits.h>

struct softhsm_fixture {
	char dir[PATH_MAX];          /* temporary folder, removed by destroy */
	char conf_path[PATH_MAX];    /* dir/softhsm2.conf; SOFTHSM2_CONF */
	const char *module_path;     /* the SoftHSM2 PKCS#11 module to load */
	char label[33];              /* label of the first token */
	char pin[64];                /* user PIN of the first token */
};

/*
 * Creates the folder and configuration and initializes a token with label
 * (at most 32 bytes) and user PIN pin. Returns 0, or -1 after cleaning up.
 */
int softhsm_fixture_create(struct softhsm_fixture *f, const char *label,
    const char *pin);

/* Initializes one more token in the same folder. Returns 0 or -1. */
int softhsm_fixture_add_token(struct softhsm_fixture *f, const char *label,
    const char *pin);

/* Removes the folder with its tokens. Safe on a fixture whose create failed. */
void softhsm_fixture_destroy(struct softhsm_fixture *f);

#endif
