#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

enum duration_status {
	DURATION_OK,
	DURATION_INVALID,
	DURATION_TOO_LONG,
};

hj_err
schema_fail(struct schema_ctx *ctx, size_t line, const char *path,
    const char *fmt, ...)
{
	char problem[HJ_ERROR_MESSAGE_MAX];
	char where[HJ_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);

	if (line != 0)
		snprintf(where, sizeof(where), "%s:%zu", ctx->name, line);
	else
		snprintf(where, sizeof(where), "%s", ctx->name);

	if (path == NULL || path[0] == '\0')
		return hj_error_set(ctx->err, HJ_ERR_CONFIG, "%s: %s", where,
		    problem);
	return hj_error_set(ctx->err, HJ_ERR_CONFIG, "%s: %s: %s", where, path,
	    problem);
}

hj_err
schema_fail_memory(struct schema_ctx *ctx)
{
	return hj_error_set(ctx->err, HJ_ERR_NO_MEMORY,
	    "%s: out of memory while reading the config", ctx->name);
}

const char *
schema_excerpt(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len && i < SCHEMA_EXCERPT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0x0f];
		} else {
			out[o++] = (char)c;
		}
	}
	if (len > SCHEMA_EXCERPT_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

const char *
schema_excerpt_str(char *out, const char *s)
{
	return schema_excerpt(out, s, strlen(s));
}

static void schema_path_format(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a key path into out (SCHEMA_PATH_SIZE bytes). A longer path ends in "...". */
static void
schema_path_format(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, SCHEMA_PATH_SIZE, fmt, ap);
	va_end(ap);
	if (n >= SCHEMA_PATH_SIZE)
		memcpy(out + SCHEMA_PATH_SIZE - 4, "...", 4);
}

void
schema_path_key(char *out, const char *parent, const char *key)
{
	if (parent[0] == '\0')
		schema_path_format(out, "%s", key);
	else
		schema_path_format(out, "%s.%s", parent, key);
}

void
schema_path_index(char *out, const char *parent, size_t index)
{
	schema_path_format(out, "%s[%zu]", parent, index);
}

/* Returns true for a scalar that is not null and contains no NUL byte. */
static bool
schema_node_is_text(const struct yamltree_node *node)
{
	return node->kind == YAMLTREE_SCALAR && !yamltree_is_null(node) &&
	    strlen(node->scalar) == node->scalar_len;
}

hj_err
schema_fail_type(struct schema_ctx *ctx, const struct yamltree_node *node,
    const char *path, const char *expected)
{
	char excerpt[SCHEMA_EXCERPT_SIZE];

	if (node->kind == YAMLTREE_SEQUENCE)
		return schema_fail(ctx, node->line, path, "expected %s, got a list",
		    expected);
	if (node->kind == YAMLTREE_MAPPING)
		return schema_fail(ctx, node->line, path, "expected %s, got a map",
		    expected);
	if (yamltree_is_null(node))
		return schema_fail(ctx, node->line, path,
		    "expected %s, got an empty value", expected);
	return schema_fail(ctx, node->line, path, "expected %s, got \"%s\"",
	    expected, schema_excerpt(excerpt, node->scalar, node->scalar_len));
}

hj_err
schema_warn(struct schema_ctx *ctx, size_t line, const char *path,
    const char *gap)
{
	struct config *cfg = ctx->cfg;
	char text[HJ_ERROR_MESSAGE_MAX];
	char **warnings;
	char *copy;

	snprintf(text, sizeof(text),
	    "line %zu: %s: accepted, but %s", line, path, gap);
	copy = strdup(text);
	if (copy == NULL)
		return schema_fail_memory(ctx);
	warnings = realloc(cfg->warnings,
	    (cfg->warning_count + 1) * sizeof(cfg->warnings[0]));
	if (warnings == NULL) {
		free(copy);
		return schema_fail_memory(ctx);
	}
	warnings[cfg->warning_count++] = copy;
	cfg->warnings = warnings;
	return HJ_OK;
}

/* Parses a duration. A syntax error is reported before a range error. */
static enum duration_status
duration_parse(const char *text, uint32_t *secondsp)
{
	uint64_t value = 0, unit;
	const char *p = text;

	*secondsp = 0;
	if (text == NULL || *p < '0' || *p > '9')
		return DURATION_INVALID;

	/* Saturates above UINT32_MAX, so that any number of digits is safe. */
	for (; *p >= '0' && *p <= '9'; p++) {
		value = value * 10 + (uint64_t)(*p - '0');
		if (value > UINT32_MAX)
			value = (uint64_t)UINT32_MAX + 1;
	}

	switch (*p) {
	case '\0': unit = 1; break;
	case 's': unit = 1; p++; break;
	case 'm': unit = 60; p++; break;
	case 'h': unit = 3600; p++; break;
	case 'd': unit = 86400; p++; break;
	default: return DURATION_INVALID;
	}
	if (*p != '\0')
		return DURATION_INVALID;

	if (value * unit > UINT32_MAX)
		return DURATION_TOO_LONG;
	*secondsp = (uint32_t)(value * unit);
	return DURATION_OK;
}

/* Declared in hsmjwt/config.h. */
hj_err
config_parse_duration(const char *text, uint32_t *secondsp)
{
	if (duration_parse(text, secondsp) != DURATION_OK)
		return HJ_ERR_INVALID_ARGUMENT;
	return HJ_OK;
}

hj_err
schema_read_string(struct schema_ctx *ctx, const struct yamltree_node *node,
    const char *path, char **outp)
{
	const char *p;
	char *copy;

	if (node->kind != YAMLTREE_SCALAR || yamltree_is_null(node))
		return schema_fail_type(ctx, node, path, "a string");
	if (node->scalar_len == 0)
		return schema_fail(ctx, node->line, path,
		    "empty string; give a non-empty value");
	if (strlen(node->scalar) != node->scalar_len)
		return schema_fail(ctx, node->line, path,
		    "contains a NUL byte; remove it");
	for (p = node->scalar; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return schema_fail(ctx, node->line, path,
			    "contains a control character; remove it");
	}

	copy = strdup(node->scalar);
	if (copy == NULL)
		return schema_fail_memory(ctx);
	free(*outp);
	*outp = copy;
	return HJ_OK;
}

/* Accepts the booleans of the YAML 1.2 core schema, where "yes" and "on" are strings. */
static hj_err
schema_read_bool(struct schema_ctx *ctx, const struct yamltree_node *node,
    const char *path, bool *outp)
{
	static const char *const trues[] = { "true", "True", "TRUE" };
	static const char *const falses[] = { "false", "False", "FALSE" };
	size_t i;

	for (i = 0; node->kind == YAMLTREE_SCALAR && node->plain && i < 3; i++) {
		if (strcmp(node->scalar, trues[i]) == 0) {
			*outp = true;
			return HJ_OK;
		}
		if (strcmp(node->scalar, falses[i]) == 0) {
			*outp = false;
			return HJ_OK;
		}
	}
	return schema_fail_type(ctx, node, path, "true or false");
}

static hj_err
schema_read_duration(struct schema_ctx *ctx, const struct yamltree_node *node,
    const char *path, uint32_t *outp)
{
	char excerpt[SCHEMA_EXCERPT_SIZE];
	enum duration_status status;

	if (node->kind != YAMLTREE_SCALAR || yamltree_is_null(node))
		return schema_fail_type(ctx, node, path, "a duration");

	status = DURATION_INVALID;
	if (schema_node_is_text(node))
		status = duration_parse(node->scalar, outp);
	schema_excerpt(excerpt, node->scalar, node->scalar_len);
	if (status == DURATION_INVALID)
		return schema_fail(ctx, node->line, path,
		    "invalid duration \"%s\"; use seconds or a number with s, m, h or d",
		    excerpt);
	if (status == DURATION_TOO_LONG)
		return schema_fail(ctx, node->line, path,
		    "duration \"%s\" is too long; the maximum is %lu seconds (49710 days)",
		    excerpt, (unsigned long)UINT32_MAX);
	return HJ_OK;
}

static hj_err
schema_read_string_list(struct schema_ctx *ctx,
    const struct yamltree_node *node, const char *path, char ***listp,
    size_t *countp)
{
	char item_path[SCHEMA_PATH_SIZE];
	size_t i;
	hj_err r;

	if (node->kind != YAMLTREE_SEQUENCE)
		return schema_fail_type(ctx, node, path, "a list");

	*listp = calloc(node->item_count + 1, sizeof(**listp));
	if (*listp == NULL)
		return schema_fail_memory(ctx);

	for (i = 0; i < node->item_count; i++) {
		schema_path_index(item_path, path, i);
		r = schema_read_string(ctx, node->items[i], item_path,
		    &(*listp)[i]);
		if (r != HJ_OK)
			return r;
		(*countp)++;
	}
	return HJ_OK;
}

static hj_err
schema_read_field(struct schema_ctx *ctx, const struct yamltree_node *node,
    const char *path, const struct schema_field *field, void *target)
{
	char *base = target;

	switch (field->type) {
	case SCHEMA_STRING:
		return schema_read_string(ctx, node, path,
		    (char **)(void *)(base + field->offset));
	case SCHEMA_BOOL:
		return schema_read_bool(ctx, node, path,
		    (bool *)(void *)(base + field->offset));
	case SCHEMA_DURATION:
		return schema_read_duration(ctx, node, path,
		    (uint32_t *)(void *)(base + field->offset));
	case SCHEMA_STRING_LIST:
		return schema_read_string_list(ctx, node, path,
		    (char ***)(void *)(base + field->offset),
		    (size_t *)(void *)(base + field->count_offset));
	case SCHEMA_CUSTOM:
		break;
	}
	return HJ_OK;
}

static const struct schema_field *
schema_field_find(const struct schema_field *fields, size_t count,
    const char *key)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(fields[i].key, key) == 0)
			return &fields[i];
	}
	return NULL;
}

static hj_err
schema_fail_unknown_key(struct schema_ctx *ctx, size_t line,
    const char *path, const struct schema_field *fields, size_t count)
{
	char expected[HJ_ERROR_MESSAGE_MAX] = "";
	size_t i, len = 0;

	for (i = 0; i < count && len < sizeof(expected); i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len,
		    "%s%s", i > 0 ? ", " : "", fields[i].key);
	return schema_fail(ctx, line, path, "unknown key; expected one of %s",
	    expected);
}

hj_err
schema_check_keys(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, const struct schema_field *fields, size_t count)
{
	char excerpt[SCHEMA_EXCERPT_SIZE];
	char key_path[SCHEMA_PATH_SIZE];
	size_t i, j;

	if (map->kind != YAMLTREE_MAPPING)
		return schema_fail_type(ctx, map, path, "a map");

	for (i = 0; i < map->pair_count; i++) {
		const struct yamltree_node *key = map->pairs[i].key;

		if (!schema_node_is_text(key))
			return schema_fail_type(ctx, key, path, "a string as key");
		schema_path_key(key_path, path,
		    schema_excerpt(excerpt, key->scalar, key->scalar_len));
		if (schema_field_find(fields, count, key->scalar) == NULL)
			return schema_fail_unknown_key(ctx, key->line, key_path,
			    fields, count);

		for (j = 0; j < i; j++) {
			if (strcmp(map->pairs[j].key->scalar, key->scalar) == 0)
				return schema_fail(ctx, key->line, key_path,
				    "duplicate key; the first is on line %zu",
				    map->pairs[j].key->line);
		}
	}
	return HJ_OK;
}

hj_err
schema_read_fields(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, const struct schema_field *fields, size_t count,
    void *target)
{
	const struct yamltree_pair *pair;
	char field_path[SCHEMA_PATH_SIZE];
	size_t i;
	hj_err r;

	for (i = 0; i < count; i++) {
		pair = yamltree_map_find(map, fields[i].key);
		if (pair == NULL)
			continue;
		schema_path_key(field_path, path, fields[i].key);
		r = schema_read_field(ctx, pair->value, field_path, &fields[i],
		    target);
		if (r != HJ_OK)
			return r;
	}
	return HJ_OK;
}

hj_err
schema_check_required(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, size_t line, const struct schema_field *fields,
    size_t count)
{
	char field_path[SCHEMA_PATH_SIZE];
	size_t i;

	for (i = 0; i < count; i++) {
		if (!fields[i].required ||
		    yamltree_map_find(map, fields[i].key) != NULL)
			continue;
		schema_path_key(field_path, path, fields[i].key);
		return schema_fail(ctx, line, field_path, "missing required key");
	}
	return HJ_OK;
}

hj_err
schema_read_map(struct schema_ctx *ctx, const struct yamltree_node *map,
    const char *path, size_t line, const struct schema_field *fields,
    size_t count, void *target)
{
	hj_err r;

	r = schema_check_keys(ctx, map, path, fields, count);
	if (r == HJ_OK)
		r = schema_read_fields(ctx, map, path, fields, count, target);
	if (r == HJ_OK)
		r = schema_check_required(ctx, map, path, line, fields, count);
	return r;
}

size_t
schema_key_line(const struct yamltree_node *map, const char *key)
{
	const struct yamltree_pair *pair = yamltree_map_find(map, key);

	return pair != NULL ? pair->key->line : map->line;
}
