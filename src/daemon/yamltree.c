#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yamltree.h"

struct tree_parser {
	yaml_parser_t parser;
	const char *name;
	struct hj_error *err;
};

static hj_err tree_parse_node(struct tree_parser *tp, const yaml_event_t *event,
    size_t depth, struct yamltree_node **nodep);

static size_t
tree_mark_line(const yaml_mark_t *mark)
{
	return mark->line + 1;
}

/* Converts the libyaml error of tp->parser into an hj_err. */
static hj_err
tree_syntax_error(struct tree_parser *tp)
{
	const yaml_parser_t *p = &tp->parser;
	const char *problem = p->problem != NULL ? p->problem : "unknown error";

	if (p->error == YAML_MEMORY_ERROR)
		return hj_error_set(tp->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory while parsing YAML", tp->name);
	if (p->error == YAML_READER_ERROR)
		return hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s: invalid YAML: %s at byte %zu", tp->name, problem,
		    p->problem_offset);
	if (p->context != NULL)
		return hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s:%zu: invalid YAML: %s %s", tp->name,
		    tree_mark_line(&p->problem_mark), problem, p->context);
	return hj_error_set(tp->err, HJ_ERR_CONFIG, "%s:%zu: invalid YAML: %s",
	    tp->name, tree_mark_line(&p->problem_mark), problem);
}

static hj_err
tree_next_event(struct tree_parser *tp, yaml_event_t *event)
{
	if (!yaml_parser_parse(&tp->parser, event))
		return tree_syntax_error(tp);
	return HJ_OK;
}

/* Reads an event that carries no data and returns its type and line. */
static hj_err
tree_next_type(struct tree_parser *tp, yaml_event_type_t *typep, size_t *linep)
{
	yaml_event_t event;
	hj_err r;

	r = tree_next_event(tp, &event);
	if (r != HJ_OK)
		return r;
	*typep = event.type;
	*linep = tree_mark_line(&event.start_mark);
	yaml_event_delete(&event);
	return HJ_OK;
}

/*
 * Reads the next event of a collection: either end_type, which sets *endp,
 * or the start of a node, which is parsed into *nodep.
 */
static hj_err
tree_parse_next(struct tree_parser *tp, size_t depth,
    yaml_event_type_t end_type, struct yamltree_node **nodep, bool *endp)
{
	yaml_event_t event;
	hj_err r;

	*nodep = NULL;
	*endp = false;

	r = tree_next_event(tp, &event);
	if (r != HJ_OK)
		return r;
	if (event.type == end_type)
		*endp = true;
	else
		r = tree_parse_node(tp, &event, depth, nodep);
	yaml_event_delete(&event);
	return r;
}

static hj_err
tree_grow(void **arrayp, size_t count, size_t *capp, size_t size)
{
	size_t cap = *capp != 0 ? *capp * 2 : 8;
	void *array;

	if (count < *capp)
		return HJ_OK;
	if (cap > SIZE_MAX / size)
		return HJ_ERR_NO_MEMORY;
	array = realloc(*arrayp, cap * size);
	if (array == NULL)
		return HJ_ERR_NO_MEMORY;
	*arrayp = array;
	*capp = cap;
	return HJ_OK;
}

static hj_err
tree_parse_sequence(struct tree_parser *tp, size_t depth,
    struct yamltree_node *node)
{
	struct yamltree_node *item;
	size_t cap = 0;
	bool end;
	hj_err r;

	for (;;) {
		r = tree_parse_next(tp, depth + 1, YAML_SEQUENCE_END_EVENT,
		    &item, &end);
		if (r != HJ_OK || end)
			return r;

		if (tree_grow((void **)&node->items, node->item_count, &cap,
		    sizeof(node->items[0])) != HJ_OK) {
			yamltree_free(item);
			return hj_error_set(tp->err, HJ_ERR_NO_MEMORY,
			    "%s: out of memory while parsing YAML", tp->name);
		}
		node->items[node->item_count++] = item;
	}
}

static hj_err
tree_parse_mapping(struct tree_parser *tp, size_t depth,
    struct yamltree_node *node)
{
	struct yamltree_pair *pair;
	struct yamltree_node *key;
	size_t cap = 0;
	bool end;
	hj_err r;

	for (;;) {
		r = tree_parse_next(tp, depth + 1, YAML_MAPPING_END_EVENT,
		    &key, &end);
		if (r != HJ_OK || end)
			return r;

		if (tree_grow((void **)&node->pairs, node->pair_count, &cap,
		    sizeof(node->pairs[0])) != HJ_OK) {
			yamltree_free(key);
			return hj_error_set(tp->err, HJ_ERR_NO_MEMORY,
			    "%s: out of memory while parsing YAML", tp->name);
		}
		pair = &node->pairs[node->pair_count++];
		pair->key = key;
		pair->value = NULL;

		/* libyaml reports a key without a value as an empty scalar. */
		r = tree_parse_next(tp, depth + 1, YAML_MAPPING_END_EVENT,
		    &pair->value, &end);
		if (r == HJ_OK && end)
			r = hj_error_set(tp->err, HJ_ERR_INTERNAL,
			    "%s:%zu: YAML mapping ended after a key", tp->name,
			    key->line);
		if (r != HJ_OK)
			return r;
	}
}

static hj_err
tree_copy_scalar(struct tree_parser *tp, const yaml_event_t *event,
    struct yamltree_node *node)
{
	size_t len = event->data.scalar.length;

	node->scalar = malloc(len + 1);
	if (node->scalar == NULL)
		return hj_error_set(tp->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory while parsing YAML", tp->name);
	memcpy(node->scalar, event->data.scalar.value, len);
	node->scalar[len] = '\0';
	node->scalar_len = len;
	node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return HJ_OK;
}

static const char *
tree_event_tag(const yaml_event_t *event)
{
	switch (event->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)event->data.scalar.tag;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)event->data.sequence_start.tag;
	case YAML_MAPPING_START_EVENT:
		return (const char *)event->data.mapping_start.tag;
	default:
		return NULL;
	}
}

/* Rejects the events that the tree does not represent. */
static hj_err
tree_check_event(struct tree_parser *tp, const yaml_event_t *event,
    size_t depth, size_t line)
{
	if (event->type == YAML_ALIAS_EVENT)
		return hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s:%zu: YAML aliases are not supported; write the value out in full",
		    tp->name, line);
	if (tree_event_tag(event) != NULL)
		return hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s:%zu: YAML tags are not supported; remove the tag",
		    tp->name, line);
	if (depth > YAMLTREE_DEPTH_MAX)
		return hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s:%zu: lists and maps are nested more than %d levels deep",
		    tp->name, line, YAMLTREE_DEPTH_MAX);
	return HJ_OK;
}

static hj_err
tree_parse_node(struct tree_parser *tp, const yaml_event_t *event,
    size_t depth, struct yamltree_node **nodep)
{
	struct yamltree_node *node = NULL;
	size_t line = tree_mark_line(&event->start_mark);
	hj_err r;

	*nodep = NULL;

	r = tree_check_event(tp, event, depth, line);
	if (r != HJ_OK)
		goto out;

	node = calloc(1, sizeof(*node));
	if (node == NULL) {
		r = hj_error_set(tp->err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory while parsing YAML", tp->name);
		goto out;
	}
	node->line = line;

	switch (event->type) {
	case YAML_SCALAR_EVENT:
		node->kind = YAMLTREE_SCALAR;
		r = tree_copy_scalar(tp, event, node);
		break;
	case YAML_SEQUENCE_START_EVENT:
		node->kind = YAMLTREE_SEQUENCE;
		r = tree_parse_sequence(tp, depth, node);
		break;
	case YAML_MAPPING_START_EVENT:
		node->kind = YAMLTREE_MAPPING;
		r = tree_parse_mapping(tp, depth, node);
		break;
	default:
		r = hj_error_set(tp->err, HJ_ERR_INTERNAL,
		    "%s:%zu: unexpected YAML event %d", tp->name, line,
		    (int)event->type);
		break;
	}
	if (r != HJ_OK)
		goto out;

	*nodep = node;
	node = NULL;
	r = HJ_OK;
out:
	yamltree_free(node);
	return r;
}

/* Parses the events of a whole stream: at most one document. */
static hj_err
tree_parse_stream(struct tree_parser *tp, struct yamltree_node **rootp)
{
	yaml_event_type_t type;
	size_t line;
	bool end;
	hj_err r;

	/* The stream start, then a document start or the stream end. */
	r = tree_next_type(tp, &type, &line);
	if (r == HJ_OK)
		r = tree_next_type(tp, &type, &line);
	if (r != HJ_OK || type == YAML_STREAM_END_EVENT)
		return r;

	/* The root node, then the document end. */
	r = tree_parse_next(tp, 1, YAML_DOCUMENT_END_EVENT, rootp, &end);
	if (r != HJ_OK || end)
		return r;
	r = tree_next_type(tp, &type, &line);
	if (r != HJ_OK)
		return r;

	r = tree_next_type(tp, &type, &line);
	if (r == HJ_OK && type != YAML_STREAM_END_EVENT)
		r = hj_error_set(tp->err, HJ_ERR_CONFIG,
		    "%s:%zu: a second YAML document starts here; keep only one",
		    tp->name, line);
	return r;
}

hj_err
yamltree_parse(const char *text, size_t len, const char *name,
    struct yamltree_node **rootp, struct hj_error *err)
{
	struct tree_parser tp;
	struct yamltree_node *root = NULL;
	hj_err r;

	*rootp = NULL;
	hj_error_clear(err);

	memset(&tp, 0, sizeof(tp));
	tp.name = name;
	tp.err = err;
	if (!yaml_parser_initialize(&tp.parser))
		return hj_error_set(err, HJ_ERR_NO_MEMORY,
		    "%s: out of memory while parsing YAML", name);
	yaml_parser_set_input_string(&tp.parser, (const unsigned char *)text,
	    len);

	r = tree_parse_stream(&tp, &root);
	yaml_parser_delete(&tp.parser);
	if (r != HJ_OK) {
		yamltree_free(root);
		return r;
	}

	*rootp = root;
	return HJ_OK;
}

const struct yamltree_pair *
yamltree_map_find(const struct yamltree_node *map, const char *key)
{
	size_t i, len = strlen(key);

	if (map == NULL || map->kind != YAMLTREE_MAPPING)
		return NULL;
	for (i = 0; i < map->pair_count; i++) {
		const struct yamltree_node *k = map->pairs[i].key;

		if (k->kind == YAMLTREE_SCALAR && k->scalar_len == len &&
		    memcmp(k->scalar, key, len) == 0)
			return &map->pairs[i];
	}
	return NULL;
}

bool
yamltree_is_null(const struct yamltree_node *node)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	size_t i;

	if (node == NULL || node->kind != YAMLTREE_SCALAR || !node->plain)
		return false;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (strcmp(node->scalar, nulls[i]) == 0)
			return true;
	}
	return false;
}

void
yamltree_free(struct yamltree_node *node)
{
	size_t i;

	if (node == NULL)
		return;
	for (i = 0; i < node->item_count; i++)
		yamltree_free(node->items[i]);
	for (i = 0; i < node->pair_count; i++) {
		yamltree_free(node->pairs[i].key);
		yamltree_free(node->pairs[i].value);
	}
	free(node->items);
	free(node->pairs);
	free(node->scalar);
	free(node);
}
