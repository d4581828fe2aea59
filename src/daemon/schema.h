/*
 * Reading a YAML tree against tables of known keys, for the config parser.
 * A table names each key of a map, its type and where its value goes. The
 * readers check each type and report a failure as
 * "NAME:LINE: key.path: problem; fix" in the error of the context.
 */
#ifndef HSMJWT_SCHEMA_H
#define HSMJWT_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt/config.h"
#include "hsmjwt/error.h"
#include "yamltree.h"

/* Size of a key path in a message, such as "profiles[3].encryption.recipients[1]". */
#define SCHEMA_PATH_SIZE 96
/* Bytes of a value that a message quotes before it cuts the value with "...". */
#define SCHEMA_EXCERPT_MAX 40
#define SCHEMA_EXCERPT_SIZE (SCHEMA_EXCERPT_MAX * 4 + 4)

struct schema_ctx {
	const char *name;             /* file name for messages */
	struct config *cfg;           /* receives the warnings */
	struct hj_error *err;
};

/* Type of the value of a key. The caller reads SCHEMA_CUSTOM values itself. */
enum schema_type {
	SCHEMA_STRING,                /* char *, without NUL or control bytes */
	SCHEMA_BOOL,                  /* bool, from true or false */
	SCHEMA_DURATION,              /* uint32_t seconds */
	SCHEMA_STRING_LIST,           /* char ** and a size_t count */
	SCHEMA_CUSTOM,
};

/* One key of a YAML map and where its value goes. */
struct schema_field {
	const char *key;
	enum schema_type type;
	bool required;
	size_t offset;                /* of the value in the target struct */
	size_t count_offset;          /* SCHEMA_STRING_LIST: of the item count */
};

#define SCHEMA_FIELD(key, type, required, st, member) \
	{ key, type, required, offsetof(st, member), 0 }
#define SCHEMA_LIST(key, st, member, count) \
	{ key, SCHEMA_STRING_LIST, false, offsetof(st, member), offsetof(st, count) }
#define SCHEMA_OTHER(key, required) \
	{ key, SCHEMA_CUSTOM, required, 0, 0 }
#define SCHEMA_COUNT(fields) (sizeof(fields) / sizeof(fields[0]))

/*
 * Sets ctx->err to HJ_ERR_CONFIG and "NAME:LINE: PATH: problem", and
 * returns HJ_ERR_CONFIG. A line of 0 or an empty path is left out.
 */
hj_err schema_fail(struct schema_ctx *ctx, size_t line, const char *path,
    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets ctx->err to HJ_ERR_NO_MEMORY and returns it. */
hj_err schema_fail_memory(struct schema_ctx *ctx);

/* Fails with "expected EXPECTED, got ..." that describes node. */
hj_err schema_fail_type(struct schema_ctx *ctx,
    const struct yamltree_node *node, const char *path, const char *expected);

/* Adds "line N: PATH: accepted, but GAP" to ctx->cfg->warnings. */
hj_err schema_warn(struct schema_ctx *ctx, size_t line, const char *path,
    const char *gap);

/*
 * Writes at most SCHEMA_EXCERPT_MAX bytes of s into out (SCHEMA_EXCERPT_SIZE
 * bytes), with '"', '\\' and bytes outside printable ASCII escaped, so that
 * a value from the file can be quoted in a message. Returns out.
 */
const char *schema_excerpt(char *out, const char *s, size_t len);
const char *schema_excerpt_str(char *out, const char *s);

/* Write "parent.key" or "parent[index]" into out (SCHEMA_PATH_SIZE bytes). */
void schema_path_key(char *out, const char *parent, const char *key);
void schema_path_index(char *out, const char *parent, size_t index);

/* Reads a non-empty string into *outp, freeing the value that was there. */
hj_err schema_read_string(struct schema_ctx *ctx,
    const struct yamltree_node *node, const char *path, char **outp);

/* Checks that map is a map whose keys are in fields, each used once. */
hj_err schema_check_keys(struct schema_ctx *ctx,
    const struct yamltree_node *map, const char *path,
    const struct schema_field *fields, size_t count);

/* Reads the keys of map that are present into target. */
hj_err schema_read_fields(struct schema_ctx *ctx,
    const struct yamltree_node *map, const char *path,
    const struct schema_field *fields, size_t count, void *target);

/*
 * Checks that map has every required key of fields. line is the line of
 * the key that names the map, or 0 at the top level.
 */
hj_err schema_check_required(struct schema_ctx *ctx,
    const struct yamltree_node *map, const char *path, size_t line,
    const struct schema_field *fields, size_t count);

/*
 * Runs schema_check_keys(), schema_read_fields() and schema_check_required(),
 * so that errors in values come before missing keys.
 */
hj_err schema_read_map(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, size_t line, const struct schema_field *fields,
    size_t count, void *target);

/* Returns the line of key in map, or the line of map when key is absent. */
size_t schema_key_line(const struct yamltree_node *map, const char *key);

#endif
