/* Unit tests for the strict JSON object scanner (src/jose/jsontext.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsmjwt/buf.h"
#include "hsmjwt/jsontext.h"

#define TEST_MAX_DEPTH 8

struct accepted {
	const char *input;
	const char *output;
};

static const struct accepted accepted[] = {
	{ "{}", "{}" },
	{ " \t\r\n{ \t\r\n} \t\r\n", "{}" },
	{ "{ \"a\" : 1 }", "{\"a\":1}" },
	{ "{\"n\": 123456789012345678901234567890}",
	  "{\"n\":123456789012345678901234567890}" },
	{ "{\"n\": -123456789012345678901234567890.000000000000000000001}",
	  "{\"n\":-123456789012345678901234567890.000000000000000000001}" },
	{ "{\"f\": 1.5e-7, \"g\": -0.0E+10, \"h\": 0, \"i\": 2e5, \"j\": 0.25}",
	  "{\"f\":1.5e-7,\"g\":-0.0E+10,\"h\":0,\"i\":2e5,\"j\":0.25}" },
	{ "{\"a\": [1, [2, {\"b\": null}], {\"c\": true, \"d\": false}], \"e\": {}, \"f\": []}",
	  "{\"a\":[1,[2,{\"b\":null}],{\"c\":true,\"d\":false}],\"e\":{},\"f\":[]}" },
	{ "{\"s\": \"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"}",
	  "{\"s\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\"}" },
	{ "{\"u\": \"\\u00e9\\u20AC\\ud83d\\ude00\\uFFFF\"}",
	  "{\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\\uFFFF\"}" },
	{ "{\"emoji\": \"\xf0\x9f\x98\x80\"}", "{\"emoji\":\"\xf0\x9f\x98\x80\"}" },
	{ "{\"utf8\": \"\xc3\xa9 \xe2\x82\xac \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf\"}",
	  "{\"utf8\":\"\xc3\xa9 \xe2\x82\xac \xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf\"}" },
	{ "{\"\xc3\xa9t\xc3\xa9\": \"summer\"}", "{\"\xc3\xa9t\xc3\xa9\":\"summer\"}" },
	{ "{\"s\": \" a  b \"}", "{\"s\":\" a  b \"}" },
	{ "{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}, \"c\": [{\"a\": 3}, {\"a\": 4}]}",
	  "{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}" },
	{ "{\"a\": 1, \"\\u0062\": 2, \"A\": 3}", "{\"a\":1,\"\\u0062\":2,\"A\":3}" },
	{ "{\"\": \"\"}", "{\"\":\"\"}" },
};

struct rejected {
	const char *input;
	size_t len;   /* 0: strlen(input) */
	const char *message;
};

static const struct rejected rejected[] = {
	/* Top level. */
	{ "", 0, "at byte 0: empty input: expected a JSON object" },
	{ "  \n ", 0, "at byte 4: empty input" },
	{ "[1]", 0, "at byte 0: expected '{': the top level must be a JSON object" },
	{ "\"s\"", 0, "the top level must be a JSON object" },
	{ "1", 0, "the top level must be a JSON object" },
	{ "\xef\xbb\xbf{}", 0, "the top level must be a JSON object" },
	{ "{} x", 0, "at byte 3: unexpected content after the object" },
	{ "{}{}", 0, "at byte 2: unexpected content after the object" },
	{ "{}\0", 3, "at byte 2: unexpected content after the object" },

	/* Structure. */
	{ "{", 0, "at byte 1: expected a member name string" },
	{ "{\"a\":1,}", 0, "at byte 7: expected a member name string" },
	{ "{a:1}", 0, "at byte 1: expected a member name string" },
	{ "{\"a\" 1}", 0, "at byte 5: expected ':' after member name" },
	{ "{\"a\":1 \"b\":2}", 0, "at byte 7: expected ',' or '}' after member value" },
	{ "{\"a\":1", 0, "at byte 6: expected ',' or '}' after member value" },
	{ "{\"a\":}", 0, "at byte 5: expected a JSON value" },
	{ "{\"a\":", 0, "at byte 5: unexpected end of input: expected a value" },
	{ "{\"a\":[1 2]}", 0, "at byte 8: expected ',' or ']' after array element" },
	{ "{\"a\":[1,]}", 0, "at byte 8: expected a JSON value" },
	{ "{\"a\":[1}", 0, "at byte 7: expected ',' or ']' after array element" },
	{ "{\"a\":1}\f", 0, "unexpected content after the object" },
	{ "{\f}", 0, "expected a member name string" },

	/* Strings. */
	{ "{\"a\":\"abc}", 0, "at byte 5: unterminated string" },
	{ "{\"a\":\"abc\\", 0, "at byte 9: unterminated string" },
	{ "{\"a\":\"\\ud800\"}", 0, "at byte 6: high surrogate \\u escape not followed by a low surrogate" },
	{ "{\"a\":\"\\ud800\\u0041\"}", 0, "high surrogate \\u escape not followed by a low surrogate" },
	{ "{\"a\":\"\\udbff\\ud800\"}", 0, "high surrogate \\u escape not followed by a low surrogate" },
	{ "{\"a\":\"\\udc00\"}", 0, "at byte 6: lone low surrogate" },
	{ "{\"a\":\"x\\uDFFF\"}", 0, "at byte 7: lone low surrogate" },
	{ "{\"a\":\"\\u0000\"}", 0, "at byte 6: \\u0000 is not allowed" },
	{ "{\"\\u0000\":1}", 0, "\\u0000 is not allowed" },
	{ "{\"a\":\"\\u12\"}", 0, "invalid \\u escape: expected 4 hex digits" },
	{ "{\"a\":\"\\u12g4\"}", 0, "invalid \\u escape: expected 4 hex digits" },
	{ "{\"a\":\"\\x41\"}", 0, "at byte 6: invalid escape sequence" },
	{ "{\"a\":\"\\U0041\"}", 0, "invalid escape sequence" },
	{ "{\"a\":\"a\tb\"}", 0, "at byte 7: raw control character in a string" },
	{ "{\"a\":\"a\nb\"}", 0, "raw control character in a string" },
	{ "{\"a\":\"a\x1f\"}", 0, "raw control character in a string" },
	{ "{\"a\":\"a\0b\"}", 11, "at byte 7: raw control character in a string" },
	{ "{\"a\":'b'}", 0, "expected a JSON value" },

	/* UTF-8. */
	{ "{\"a\":\"\xc0\xaf\"}", 0, "at byte 6: invalid UTF-8: overlong encoding" },
	{ "{\"a\":\"\xc1\xbf\"}", 0, "invalid UTF-8: overlong encoding" },
	{ "{\"a\":\"\xe0\x80\xaf\"}", 0, "invalid UTF-8: overlong encoding" },
	{ "{\"a\":\"\xf0\x8f\xbf\xbf\"}", 0, "invalid UTF-8: overlong encoding" },
	{ "{\"a\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8: UTF-16 surrogate encoded as UTF-8" },
	{ "{\"a\":\"\xed\xbf\xbf\"}", 0, "invalid UTF-8: UTF-16 surrogate encoded as UTF-8" },
	{ "{\"a\":\"\xf4\x90\x80\x80\"}", 0, "invalid UTF-8: code point above U+10FFFF" },
	{ "{\"a\":\"\xf5\x80\x80\x80\"}", 0, "invalid UTF-8: code point above U+10FFFF" },
	{ "{\"a\":\"\xff\"}", 0, "invalid UTF-8: invalid lead byte" },
	{ "{\"a\":\"\x80\"}", 0, "invalid UTF-8: unexpected continuation byte" },
	{ "{\"a\":\"\xe2\x82\"}", 0, "at byte 6: invalid UTF-8: truncated sequence" },
	{ "{\"a\":\"\xf0\x9f\x98", 0, "invalid UTF-8: truncated sequence" },
	{ "{\"a\":\"\xc3\"}", 0, "invalid UTF-8: truncated sequence" },
	{ "{\"\xc0\xaf\":1}", 0, "at byte 2: invalid UTF-8: overlong encoding" },
	{ "{\"a\":1,\xc3\xa9}", 0, "expected a member name string" },

	/* Numbers and literals. */
	{ "{\"a\":01}", 0, "at byte 5: leading zero in a number" },
	{ "{\"a\":-01}", 0, "at byte 5: leading zero in a number" },
	{ "{\"a\":00}", 0, "leading zero in a number" },
	{ "{\"a\":+1}", 0, "at byte 5: number with a leading '+'" },
	{ "{\"a\":.5}", 0, "at byte 5: number without a digit before '.'" },
	{ "{\"a\":1.}", 0, "at byte 7: expected a digit after '.' in a number" },
	{ "{\"a\":1.e5}", 0, "expected a digit after '.' in a number" },
	{ "{\"a\":1e}", 0, "at byte 7: expected a digit in the exponent of a number" },
	{ "{\"a\":1e+}", 0, "expected a digit in the exponent of a number" },
	{ "{\"a\":-}", 0, "at byte 6: expected a digit after '-' in a number" },
	{ "{\"a\":-a}", 0, "expected a digit after '-' in a number" },
	{ "{\"a\":NaN}", 0, "at byte 5: expected a JSON value" },
	{ "{\"a\":Infinity}", 0, "expected a JSON value" },
	{ "{\"a\":-Infinity}", 0, "expected a digit after '-' in a number" },
	{ "{\"a\":0x10}", 0, "expected ',' or '}' after member value" },
	{ "{\"a\":1 2}", 0, "expected ',' or '}' after member value" },
	{ "{\"a\":tru}", 0, "at byte 5: invalid literal: expected true, false or null" },
	{ "{\"a\":nul}", 0, "invalid literal: expected true, false or null" },
	{ "{\"a\":True}", 0, "expected a JSON value" },
	{ "{\"a\":truex}", 0, "at byte 9: expected ',' or '}' after member value" },

	/* Duplicate member names. */
	{ "{\"a\":1,\"a\":2}", 0, "at byte 7: duplicate member name \"a\"" },
	{ "{\"a\":1,\"\\u0061\":2}", 0, "at byte 7: duplicate member name \"a\"" },
	{ "{\"\\u0061\":1,\"a\":2}", 0, "at byte 12: duplicate member name \"a\"" },
	{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 0,
	  "duplicate member name \"\\xf0\\x9f\\x98\\x80\"" },
	{ "{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", 0, "at byte 18: duplicate member name \"b\"" },
	{ "{\"x\":[{\"c\":1},{\"c\":1,\"c\":2}]}", 0, "duplicate member name \"c\"" },
	{ "{\"b\":1,\"a\":1,\"b\":2,\"a\":2}", 0, "at byte 13: duplicate member name \"b\"" },
	{ "{\"\\n\\\"\":1,\"\\n\\\"\":2}", 0, "duplicate member name \"\\x0a\\x22\"" },
	{ "{\"\":1,\"\":2}", 0, "at byte 6: duplicate member name \"\"" },
};

static void
assert_contains(const char *message, const char *expected)
{
	if (strstr(message, expected) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", message,
		    expected);
}

static void
test_jsontext_accepted(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		const struct accepted *c = &accepted[i];
		struct jsontext_object *obj = NULL;
		struct hj_error err;

		hj_error_clear(&err);
		if (jsontext_parse_object(c->input, strlen(c->input),
		    TEST_MAX_DEPTH, "claims_json", &obj, &err) != HJ_OK)
			fail_msg("case %zu rejected: %s", i, err.message);
		assert_string_equal(obj->text, c->output);
		assert_int_equal(obj->len, strlen(c->output));
		jsontext_object_free(obj);
	}
}

static void
test_jsontext_rejected(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		const struct rejected *c = &rejected[i];
		size_t len = c->len != 0 ? c->len : strlen(c->input);
		struct jsontext_object *obj = (struct jsontext_object *)&len;
		struct hj_error err;
		hj_err r;

		hj_error_clear(&err);
		r = jsontext_parse_object(c->input, len, TEST_MAX_DEPTH,
		    "claims_json", &obj, &err);
		if (r != HJ_ERR_INVALID_ARGUMENT)
			fail_msg("case %zu (%s): result %s, expected invalid "
			    "argument", i, c->message, hj_err_str(r));
		assert_int_equal(err.code, HJ_ERR_INVALID_ARGUMENT);
		assert_contains(err.message, "claims_json: invalid JSON at byte ");
		assert_contains(err.message, c->message);
		assert_null(obj);
	}
}

static void
test_jsontext_error_message_exact(void **state)
{
	const char *input = "{\"sub\":\"x\", \"sub\" :\"y\"}";
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, strlen(input),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_string_equal(err.message,
	    "claims_json: invalid JSON at byte 12: duplicate member name \"sub\"");
}

static void
test_jsontext_error_omits_values(void **state)
{
	const char *input = "{\"pin\":\"s3cr3t-value\" \"x\":1}";
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, strlen(input),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_null(strstr(err.message, "s3cr3t"));
}

static void
test_jsontext_duplicate_long_name(void **state)
{
	char name[201], input[512];
	struct jsontext_object *obj = NULL;
	struct hj_error err;
	const char *quote;

	memset(name, 'k', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(input, sizeof(input), "{\"%s\":1,\"%s\":2}", name, name);

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, strlen(input),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "duplicate member name \"kkkk");
	quote = strchr(err.message, '"');
	assert_non_null(quote);
	/* At most 64 bytes between the quotes, ending in "...". */
	assert_true(strlen(quote + 1) <= 64 + 1);
	assert_contains(quote, "...\"");
}

/* Builds {"a":[[...]]} with depth containers in all: one object, depth - 1 arrays. */
static char *
nested_input(size_t depth)
{
	struct buf b;
	char *text = NULL;
	size_t i;

	buf_init(&b);
	buf_append_str(&b, "{\"a\":");
	for (i = 1; i < depth; i++)
		buf_append_str(&b, "[");
	buf_append_str(&b, "0");
	for (i = 1; i < depth; i++)
		buf_append_str(&b, "]");
	buf_append_str(&b, "}");
	assert_int_equal(buf_finish(&b, &text, NULL), HJ_OK);
	return text;
}

static void
test_jsontext_depth_limit(void **state)
{
	struct jsontext_object *obj = NULL;
	struct hj_error err;
	char *at_limit = nested_input(TEST_MAX_DEPTH);
	char *over_limit = nested_input(TEST_MAX_DEPTH + 1);
	const char *objects = "{\"a\":{\"b\":{}}}";

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(at_limit, strlen(at_limit),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_OK);
	assert_string_equal(obj->text, at_limit);
	jsontext_object_free(obj);

	obj = NULL;
	assert_int_equal(jsontext_parse_object(over_limit, strlen(over_limit),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "nesting deeper than 8 arrays and objects");
	assert_null(obj);

	assert_int_equal(jsontext_parse_object(objects, strlen(objects), 3,
	    "claims_json", &obj, &err), HJ_OK);
	jsontext_object_free(obj);
	obj = NULL;
	assert_int_equal(jsontext_parse_object(objects, strlen(objects), 2,
	    "claims_json", &obj, &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "at byte 10: nesting deeper than 2");

	assert_int_equal(jsontext_parse_object("{}", 2, 0, "claims_json", &obj,
	    &err), HJ_ERR_INVALID_ARGUMENT);
	assert_contains(err.message, "nesting deeper than 0");

	free(at_limit);
	free(over_limit);
}

/* Asserts that member name exists with the compact value text expected. */
static void
assert_member(const struct jsontext_object *obj, const char *name,
    const char *expected)
{
	const struct jsontext_member *m = jsontext_object_get(obj, name);

	if (m == NULL)
		fail_msg("member \"%s\" not found", name);
	assert_int_equal(m->value_len, strlen(expected));
	assert_true(m->value_offset + m->value_len <= obj->len);
	assert_memory_equal(obj->text + m->value_offset, expected,
	    m->value_len);
}

static void
test_jsontext_member_lookup(void **state)
{
	const char *input = "{ \"sub\" : \"alice\",\n \"n\": 123456789012345678901234567890,"
	    " \"o\" : { \"a\" : [ 1 , 2 ] }, \"\\u0061b\\u00e9\": null, \"t\": true }";
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, strlen(input),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_OK);

	assert_int_equal(obj->member_count, 5);
	assert_string_equal(obj->members[0].name, "sub");
	assert_string_equal(obj->members[1].name, "n");
	assert_string_equal(obj->members[2].name, "o");
	assert_string_equal(obj->members[3].name, "ab\xc3\xa9");
	assert_string_equal(obj->members[4].name, "t");

	assert_member(obj, "sub", "\"alice\"");
	assert_member(obj, "n", "123456789012345678901234567890");
	assert_member(obj, "o", "{\"a\":[1,2]}");
	assert_member(obj, "ab\xc3\xa9", "null");
	assert_member(obj, "t", "true");
	assert_null(jsontext_object_get(obj, "a"));
	assert_null(jsontext_object_get(obj, "SUB"));
	assert_null(jsontext_object_get(obj, "missing"));

	jsontext_object_free(obj);
}

static void
test_jsontext_empty_object_members(void **state)
{
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object("{ }", 3, TEST_MAX_DEPTH,
	    "claims_json", &obj, &err), HJ_OK);
	assert_int_equal(obj->member_count, 0);
	assert_null(jsontext_object_get(obj, "a"));
	jsontext_object_free(obj);
	jsontext_object_free(NULL);
}

static void
test_jsontext_empty_member_name(void **state)
{
	const char *input = "{\"\": 1, \"a\": 2}";
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, strlen(input),
	    TEST_MAX_DEPTH, "claims_json", &obj, &err), HJ_OK);
	assert_int_equal(obj->member_count, 2);
	assert_string_equal(obj->members[0].name, "");
	assert_member(obj, "", "1");
	assert_member(obj, "a", "2");
	jsontext_object_free(obj);
}

static void
test_jsontext_length_bounds_input(void **state)
{
	const char *input = "{\"a\":1}garbage";
	struct jsontext_object *obj = NULL;
	struct hj_error err;

	hj_error_clear(&err);
	assert_int_equal(jsontext_parse_object(input, 7, TEST_MAX_DEPTH,
	    "claims_json", &obj, &err), HJ_OK);
	assert_string_equal(obj->text, "{\"a\":1}");
	jsontext_object_free(obj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsontext_accepted),
		cmocka_unit_test(test_jsontext_rejected),
		cmocka_unit_test(test_jsontext_error_message_exact),
		cmocka_unit_test(test_jsontext_error_omits_values),
		cmocka_unit_test(test_jsontext_duplicate_long_name),
		cmocka_unit_test(test_jsontext_depth_limit),
		cmocka_unit_test(test_jsontext_member_lookup),
		cmocka_unit_test(test_jsontext_empty_object_members),
		cmocka_unit_test(test_jsontext_empty_member_name),
		cmocka_unit_test(test_jsontext_length_bounds_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
