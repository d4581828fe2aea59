/*
 * A YAML document as a tree of nodes that keep their line numbers, so that
 * the config parser can check each value and name its line in a message.
 * Built with libyaml's event API. Aliases, tags and streams of more than
 * one document are rejected.
 */
#ifndef HSMJWT_YAMLTREE_H
#define HSMJWT_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmjwt/error.h"

/* Maximum nesting of lists and maps. The config nests 5 levels deep. */
#define YAMLTREE_DEPTH_MAX 32

enum yamltree_kind {
	YAMLTREE_SCALAR,
	YAMLTREE_SEQUENCE,
	YAMLTREE_MAPPING,
};

struct yamltree_pair {
	struct yamltree_node *key;
	struct yamltree_node *value;
};

struct yamltree_node {
	enum yamltree_kind kind;
	size_t line;                    /* 1-based line where the node starts */

	char *scalar;                   /* NUL-terminated scalar value */
	size_t scalar_len;              /* above strlen(scalar) after a NUL */
	bool plain;                     /* unquoted, so it can be null */

	struct yamltree_node **items;   /* sequence items */
	size_t item_count;

	struct yamltree_pair *pairs;    /* mapping entries in file order */
	size_t pair_count;
};

/*
 * Parses text into *rootp, which the caller frees with yamltree_free().
 * *rootp is NULL when the text contains no document. Errors are
 * HJ_ERR_CONFIG with "NAME:LINE: invalid YAML: problem", or
 * HJ_ERR_NO_MEMORY.
 */
hj_err yamltree_parse(const char *text, size_t len, const char *name,
    struct yamltree_node **rootp, struct hj_error *err);

/* Returns the first entry of map whose key is the scalar key, or NULL. */
const struct yamltree_pair *yamltree_map_find(const struct yamltree_node *map,
    const char *key);

/* Returns true for a plain empty scalar or a plain "~", "null", "Null" or "NULL". */
bool yamltree_is_null(const struct yamltree_node *node);

void yamltree_free(struct yamltree_node *node);

#endif
