#include "tests/unit/test.h"

#include "lib/json.h"

static void test_nesting_and_escapes(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct json_writer jw;

    json_init(&jw, &sb);
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "s", "a\"b\\c\n\t\x01\x7f");
    json_null(&jw, "n");
    json_bool(&jw, "t", true);
    json_array_begin(&jw, "empty");
    json_array_end(&jw);
    json_array_begin(&jw, "list");
    json_int(&jw, NULL, -5);
    json_object_begin(&jw, NULL);
    json_string(&jw, "k", NULL);
    json_object_end(&jw);
    json_array_end(&jw);
    json_object_end(&jw);
    CHECK_STR(sb.buf, "{\n"
                      "  \"schema\": 1,\n"
                      "  \"s\": \"a\\\"b\\\\c\\n\\t\\u0001\\u007f\",\n"
                      "  \"n\": null,\n"
                      "  \"t\": true,\n"
                      "  \"empty\": [],\n"
                      "  \"list\": [\n"
                      "    -5,\n"
                      "    {\n"
                      "      \"k\": null\n"
                      "    }\n"
                      "  ]\n"
                      "}\n");
    strbuf_release(&sb);
}

static void test_utf8_passes_through(void)
{
    struct strbuf sb = STRBUF_INIT;

    json_quote(&sb, "µs – ok");
    CHECK_STR(sb.buf, "\"µs – ok\"");
    strbuf_release(&sb);
}

static void test_compact(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct json_writer jw;

    json_init(&jw, &sb);
    jw.compact = true;
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "event", "a\nb");
    json_array_begin(&jw, "x");
    json_bool(&jw, NULL, true);
    json_int(&jw, NULL, -2);
    json_array_end(&jw);
    json_object_begin(&jw, "empty");
    json_object_end(&jw);
    json_object_end(&jw);
    CHECK_STR(sb.buf, "{\"schema\": 1, \"event\": \"a\\nb\", \"x\": [true, -2], \"empty\": {}}\n");
    strbuf_release(&sb);
}

/* JSON text is UTF-8: bytes that are not become U+FFFD, valid sequences pass. */
static void test_invalid_utf8(void)
{
    struct strbuf sb = STRBUF_INIT;

    json_quote(&sb, "/home/x\xff\xc3(y/caf\xc3\xa9\xed\xa0\x80");
    CHECK_STR(sb.buf, "\"/home/x\\ufffd\\ufffd(y/caf\xc3\xa9\\ufffd\\ufffd\\ufffd\"");
    strbuf_release(&sb);
}

TESTS(TEST(test_nesting_and_escapes), TEST(test_utf8_passes_through), TEST(test_compact),
      TEST(test_invalid_utf8))
