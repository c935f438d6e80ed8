/*
 * lib/jsonc.c (reader, writer, editor, merges), lib/template.c and
 * lib/diff.c, on JSONC shaped like real .vscode/ files: comments everywhere,
 * trailing commas, CRLF, tabs, unrelated entries, "compounds". The fuzz
 * tests check that random valid inputs never lose a configuration that is
 * not omvdev's, and that random broken inputs are refused with a location.
 */
#include "tests/unit/test.h"

#include "lib/diff.h"
#include "lib/error.h"
#include "lib/jsonc.h"
#include "lib/strbuf.h"
#include "lib/template.h"

#include <stdlib.h>

static const char skeleton[] = "{\"version\":\"0.2.0\",\"configurations\":[]}";
static const char gen_a[] = "{\"name\":\"OpenMV A (J-Link)\",\"type\":\"cortex-debug\","
                            "\"device\":\"X\",\"nested\":{\"list\":[1,2,{\"k\":null}]}}";
static const char gen_b[] = "{\"name\":\"OpenMV B (J-Link)\",\"type\":\"cortex-debug\"}";

static int parse(struct jsonc_doc *doc, const char *text, unsigned flags, char *err, size_t len)
{
    return jsonc_parse(doc, text, strlen(text), "f.json", flags, err, len);
}

static void test_parse_real_world(void)
{
    static const char text[] =
        "\xEF\xBB\xBF// launch.json of a real project\r\n"
        "{\r\n"
        "\t/* block\r\n comment */ \"version\": \"0.2.0\", // trailing\r\n"
        "\t\"configurations\": [\r\n"
        "\t\t{ \"name\": \"a\\\"b\\u00e9\\ud83d\\ude00\", \"port\": -1.5e3, \"ok\": true, },\r\n"
        "\t\t// between\r\n"
        "\t\t{ \"name\": \"c\", \"x\": [1, 2,], \"n\": null, \"f\": false },\r\n"
        "\t],\r\n"
        "\t\"compounds\": [],\r\n"
        "}\r\n"
        "// after\r\n";
    struct jsonc_doc doc;
    const struct jsonc_node *c, *e;
    char err[256];

    jsonc_doc_init(&doc);
    CHECK_INT(parse(&doc, text, 0, err, sizeof(err)), ==, 0);
    CHECK(doc.root && doc.root->type == JSONC_OBJECT);
    c = jsonc_get(doc.root, "configurations");
    CHECK(c && c->type == JSONC_ARRAY && c->nr_kids == 2 && c->trailing_comma);
    if (c && c->nr_kids == 2) {
        e = jsonc_get(&c->kids[0], "name");
        CHECK_STR(e->str, "a\"b\xc3\xa9\xf0\x9f\x98\x80");
        e = jsonc_get(&c->kids[0], "port");
        CHECK(e->type == JSONC_NUMBER && !memcmp(text + e->start, "-1.5e3", 6));
        CHECK(jsonc_get(&c->kids[0], "ok")->boolean);
        CHECK(c->kids[0].trailing_comma);
        CHECK_INT(jsonc_get(&c->kids[1], "x")->nr_kids, ==, 2);
        CHECK(jsonc_get(&c->kids[1], "n")->type == JSONC_NULL);
        /* Offsets point at the bytes. */
        CHECK(text[c->kids[1].start] == '{' && text[c->kids[1].end - 1] == '}');
    }
    CHECK(jsonc_get(doc.root, "compounds")->nr_kids == 0);
    CHECK(jsonc_get(doc.root, "nope") == NULL);
    jsonc_doc_release(&doc);

    /* Empty, whitespace, only comments: no value, no error. */
    CHECK_INT(parse(&doc, "", 0, err, sizeof(err)), ==, 0);
    CHECK(doc.root == NULL);
    CHECK_INT(parse(&doc, " // just a note\n/* and another */\n", 0, err, sizeof(err)), ==, 0);
    CHECK(doc.root == NULL);
    /* Duplicate keys: the last wins, as in VS Code. */
    CHECK_INT(parse(&doc, "{\"a\": 1, \"a\": 2}", 0, err, sizeof(err)), ==, 0);
    CHECK(doc.root->type == JSONC_OBJECT &&
          doc.root->kids[1].start == jsonc_get(doc.root, "a")->start);
    /* A lone surrogate decodes as U+FFFD (as VS Code does), also at the very end. */
    CHECK_INT(parse(&doc, "[\"\\ud83dx\", \"\\ude00\", \"\\ud83d\"]", 0, err, sizeof(err)), ==, 0);
    CHECK_STR(doc.root->kids[0].str, "\xef\xbf\xbdx");
    CHECK_STR(doc.root->kids[1].str, "\xef\xbf\xbd");
    CHECK_STR(doc.root->kids[2].str, "\xef\xbf\xbd");
    /* "\u0000" survives in keys and values. */
    CHECK_INT(parse(&doc, "{\"a\\u0000b\": \"x\\u0000y\"}", 0, err, sizeof(err)), ==, 0);
    CHECK_INT(doc.root->kids[0].key_len, ==, 3);
    CHECK_INT(doc.root->kids[0].str_len, ==, 3);
    jsonc_doc_release(&doc);
}

static void test_parse_errors(void)
{
    static const struct {
        const char *text;
        const char *err;
    } cases[] = {
        {"{\n  \"a\": 1\n  \"b\": 2\n}",
         "f.json:3:3: expected ',' or '}' after a member, found '\"'"},
        {"{\"a\" 1}", "f.json:1:6: expected ':' after the member name, found '1'"},
        {"[1,,2]", "f.json:1:4: expected a value, found ','"},
        {"[,]", "f.json:1:2: expected a value, found ','"},
        {"{,}", "f.json:1:2: expected a member name in quotes, found ','"},
        {"{\"a\": [1, 2}", "f.json:1:12: expected ',' or ']' after an element, found '}'"},
        {"{\"a\": tru}", "f.json:1:7: expected a value, found 't'"},
        {"{\"a\": 01}", "f.json:1:7: malformed number"},
        {"{\"a\": 1.}", "f.json:1:7: malformed number"},
        {"{\"a\": \"x\ny\"}", "f.json:1:9: line break inside a string (write it as an escape)"},
        {"{\"a\": \"\\q\"}", "f.json:1:8: unknown escape '\\q' in a string"},
        {"{\"a\": \"\\u12G4\"}", "f.json:1:12: \\u needs four hex digits"},
        {"{\"a\": \"open", "f.json:1:7: string is not closed"},
        {"{\"a\": 1", "f.json:1:8: expected ',' or '}' after a member, found the end of the file"},
        {"{} {}", "f.json:1:4: unexpected '{' after the end of the document"},
        {"/* never closed\n{}", "f.json:1:1: comment is not closed ('*/' is missing)"},
        {"\t{\r\n\t\t\"é\": x}", "f.json:2:8: expected a value, found 'x'"},
        {"{\"a\": 1}\x01", "f.json:1:9: unexpected byte 0x01 after the end of the document"},
    };
    struct jsonc_doc doc;
    char err[256];

    jsonc_doc_init(&doc);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        CHECK_INT(parse(&doc, cases[i].text, 0, err, sizeof(err)), ==, OMV_EPARSE);
        CHECK_STR(err, cases[i].err);
        CHECK(doc.root == NULL);
    }
    /* Nesting is bounded. */
    {
        struct strbuf deep = STRBUF_INIT;

        strbuf_addchars(&deep, '[', 100);
        strbuf_addchars(&deep, ']', 100);
        CHECK_INT(parse(&doc, deep.buf, 0, err, sizeof(err)), ==, OMV_EPARSE);
        CHECK_CONTAINS(err, "nested more than 64 levels deep");
        strbuf_release(&deep);
    }
}

static void test_strict(void)
{
    struct jsonc_doc doc;
    char err[256];

    jsonc_doc_init(&doc);
    CHECK_INT(parse(&doc, "{\"a\": [1, 2]}", JSONC_STRICT, err, sizeof(err)), ==, 0);
    CHECK_INT(parse(&doc, "{\"a\": [1, 2,]}", JSONC_STRICT, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_STR(err, "f.json:1:13: trailing comma before ']'");
    CHECK_INT(parse(&doc, "// c\n{}", JSONC_STRICT, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(parse(&doc, "{} /* c */", JSONC_STRICT, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(parse(&doc, "", JSONC_STRICT, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(parse(&doc, "\xEF\xBB\xBF{}", JSONC_STRICT, err, sizeof(err)), ==, OMV_EPARSE);
    jsonc_doc_release(&doc);
}

static void test_write_and_hash(void)
{
    static const char a[] = "// x\n{ \"b\" : [ 1 , \"\\u0041\\t\" , ], /* y */ \"c\": {}, }";
    static const char b[] = "{\"b\":[1,\"A\\t\"],\"c\":{}}";
    struct jsonc_doc da, db;
    struct strbuf sb = STRBUF_INIT;
    char ha[17], hb[17], hs[17];
    char err[256];

    jsonc_doc_init(&da);
    jsonc_doc_init(&db);
    CHECK_INT(parse(&da, a, 0, err, sizeof(err)), ==, 0);
    CHECK_INT(parse(&db, b, JSONC_STRICT, err, sizeof(err)), ==, 0);
    jsonc_write(&sb, da.root, a, NULL, NULL, NULL);
    CHECK_STR(sb.buf, b);
    strbuf_reset(&sb);
    jsonc_write(&sb, da.root, a, "\t", "\r\n", "c");
    CHECK_STR(sb.buf, "{\r\n\t\"b\": [\r\n\t\t1,\r\n\t\t\"A\\t\"\r\n\t]\r\n}");
    /* Layout and comments do not change the hash; content does. */
    jsonc_hash(da.root, a, NULL, ha);
    jsonc_hash(db.root, b, NULL, hb);
    CHECK_STR(ha, hb);
    CHECK_INT(strlen(ha), ==, 16);
    jsonc_hash(da.root, a, "c", hs);
    CHECK(strcmp(ha, hs) != 0);
    strbuf_release(&sb);
    jsonc_doc_release(&da);
    jsonc_doc_release(&db);
}

static void test_style(void)
{
    struct jsonc_style st;

    jsonc_style_detect("{\r\n\t\"a\": 1\r\n}", 12, &st);
    CHECK_STR(st.nl, "\r\n");
    CHECK_STR(st.unit, "\t");
    jsonc_style_detect("{\n  \"a\": {\n    \"b\": 1\n  }\n}", 26, &st);
    CHECK_STR(st.nl, "\n");
    CHECK_STR(st.unit, "  ");
    {
        static const char odd[] = "{\n  // a comment indented less\n    \"a\": 1\n}";

        jsonc_style_detect(odd, strlen(odd), &st);
    }
    CHECK_STR(st.unit, "    ");
    jsonc_style_detect("{}", 2, &st);
    CHECK_STR(st.unit, "    ");
}

/* Merge gen_a and gen_b into `old`; returns the result (caller frees). */
static char *merge(const char *old, bool force, enum jsonc_merge_status *sa,
                   enum jsonc_merge_status *sb_, int *rc, char *err, size_t errlen)
{
    struct jsonc_merge_item items[2] = {{gen_a, JSONC_MERGE_ADDED}, {gen_b, JSONC_MERGE_ADDED}};
    struct strbuf out = STRBUF_INIT;

    *rc = jsonc_merge_array(old, strlen(old), "launch.json", skeleton, "configurations", "name",
                            "omvdev", items, 2, force, &out, err, errlen);
    if (sa)
        *sa = items[0].status;
    if (sb_)
        *sb_ = items[1].status;
    return strbuf_detach(&out, NULL);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_merge_real_world(void)
{
    static const char user[] =
        "// My launch configurations. Do not lose this comment.\r\n"
        "{\r\n"
        "\t\"version\": \"0.2.0\", /* inline */\r\n"
        "\t\"configurations\": [\r\n"
        "\t\t// Python first\r\n"
        "\t\t{\r\n"
        "\t\t\t\"name\": \"Python: current file\",\r\n"
        "\t\t\t\"type\": \"debugpy\", // trailing comma next\r\n"
        "\t\t},\r\n"
        "\t\t{ \"name\": \"gdb\", \"type\": \"cppdbg\" } // last, no comma\r\n"
        "\t],\r\n"
        "\t\"compounds\": [\r\n"
        "\t\t{ \"name\": \"both\", \"configurations\": [\"gdb\", \"Python: current file\"] },\r\n"
        "\t],\r\n"
        "}\r\n";
    enum jsonc_merge_status sa, sb;
    char err[256], *out, *again;
    struct jsonc_doc doc;
    int rc;

    out = merge(user, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK_INT(sa, ==, JSONC_MERGE_ADDED);
    CHECK_INT(sb, ==, JSONC_MERGE_ADDED);
    /* Everything before the insertion point is byte for byte the same ... */
    CHECK(!strncmp(out, user, (size_t)(strstr(user, "} // last") + 1 - user)));
    /* ... the last entry got its comma before its comment ... */
    CHECK_CONTAINS(out, "\t\t{ \"name\": \"gdb\", \"type\": \"cppdbg\" }, // last, no comma\r\n"
                        "\t\t{\r\n\t\t\t// omvdev: generated ");
    CHECK_CONTAINS(out, "\r\n\t\t\t\"name\": \"OpenMV A (J-Link)\",\r\n");
    /* ... and everything from the closing bracket on is the same too. */
    CHECK_CONTAINS(out, strstr(user, "\t],\r\n\t\"compounds\""));
    CHECK_INT(count(out, "\n"), ==, count(out, "\r\n"));
    CHECK_CONTAINS(out, "\t\t\t\"nested\": {\r\n\t\t\t\t\"list\": [\r\n\t\t\t\t\t1,\r\n");
    CHECK_CONTAINS(out, "\t\t\t// omvdev: generated ");
    CHECK(strstr(out, "\"omvdev\"") == NULL); /* no member a schema would flag */
    jsonc_doc_init(&doc);
    CHECK_INT(jsonc_parse(&doc, out, strlen(out), "out", 0, err, sizeof(err)), ==, 0);
    CHECK_INT(jsonc_get(doc.root, "configurations")->nr_kids, ==, 4);
    jsonc_doc_release(&doc);

    /* A second run changes nothing at all. */
    again = merge(out, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_STR(again, out);
    CHECK_INT(sa, ==, JSONC_MERGE_UNCHANGED);
    CHECK_INT(sb, ==, JSONC_MERGE_UNCHANGED);
    free(again);
    free(out);
}

static void test_merge_owned_entries(void)
{
    enum jsonc_merge_status sa, sb;
    char err[256], *first, *edited, *out;
    struct strbuf tmp = STRBUF_INIT;
    char *p;
    int rc;

    first = merge("", false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK(!strncmp(first, "{\n    \"version\": \"0.2.0\",\n    \"configurations\": [\n        {\n",
                   56));

    /* The user reformats an owned entry (same content): still unchanged. */
    strbuf_addstr(&tmp, first);
    p = strstr(tmp.buf, "\"type\": \"cortex-debug\",\n            \"device\"");
    CHECK(p != NULL);
    if (p)
        memcpy(p, "\"type\":\"cortex-debug\" ,\n            \"device\"", 44);
    out = merge(tmp.buf, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sa, ==, JSONC_MERGE_UNCHANGED);
    CHECK_STR(out, tmp.buf);
    free(out);

    /* The user edits one: kept and reported; the other one is still ours. */
    strbuf_reset(&tmp);
    strbuf_addstr(&tmp, first);
    p = strstr(tmp.buf, "\"device\": \"X\"");
    p[11] = 'Y';
    edited = xstrdup(tmp.buf);
    out = merge(edited, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sa, ==, JSONC_MERGE_KEPT_EDITED);
    CHECK_INT(sb, ==, JSONC_MERGE_UNCHANGED);
    CHECK_STR(out, edited);
    free(out);
    /* --force puts the generated one back, in place. */
    out = merge(edited, true, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sa, ==, JSONC_MERGE_FORCED);
    CHECK_STR(out, first);
    free(out);
    free(edited);

    /* A generator change (what omvdev makes now differs) replaces in place. */
    strbuf_reset(&tmp);
    strbuf_addstr(&tmp, "// keep\n");
    strbuf_addstr(&tmp, first);
    {
        struct jsonc_merge_item items[1] = {
            {"{\"name\":\"OpenMV A (J-Link)\",\"type\":\"cortex-debug\",\"device\":\"Z\"}",
             JSONC_MERGE_ADDED}};
        struct strbuf o = STRBUF_INIT;

        rc = jsonc_merge_array(tmp.buf, tmp.len, "l", skeleton, "configurations", "name", "omvdev",
                               items, 1, false, &o, err, sizeof(err));
        CHECK_INT(rc, ==, 0);
        CHECK_INT(items[0].status, ==, JSONC_MERGE_REPLACED);
        CHECK(!strncmp(o.buf, "// keep\n{\n", 10));
        CHECK_CONTAINS(o.buf, "{\n            // omvdev: generated ");
        CHECK_CONTAINS(o.buf, "\"device\": \"Z\"\n        }");
        CHECK(strstr(o.buf, "\"nested\"") == NULL);
        CHECK_CONTAINS(o.buf, "\"name\": \"OpenMV B (J-Link)\"");
        strbuf_release(&o);
    }

    /* Same name, no marker: the user's own, never replaced, not duplicated. */
    {
        static const char mine[] = "{\"configurations\": [{\"name\": \"OpenMV A (J-Link)\"}]}";

        out = merge(mine, true, &sa, &sb, &rc, err, sizeof(err));
        CHECK_INT(sa, ==, JSONC_MERGE_KEPT_FOREIGN);
        CHECK_INT(sb, ==, JSONC_MERGE_ADDED);
        CHECK_INT(count(out, "OpenMV A"), ==, 1);
        CHECK(!strncmp(out, mine, strlen(mine) - 2));
        CHECK_STR(out + strlen(out) - 2, "]}");
        free(out);
    }
    strbuf_release(&tmp);
    free(first);
}

static void test_merge_shapes(void)
{
    static const struct {
        const char *old, *want_prefix, *want_contains;
    } ok[] = {
        /* only comments: they stay, the skeleton follows */
        {"// notes\n/* more */", "// notes\n/* more */\n{\n    \"version\"", NULL},
        /* empty file */
        {"", "{\n    \"version\": \"0.2.0\",\n", NULL},
        /* no configurations yet: added at the end, after the other members */
        {"{\n  \"version\": \"0.2.0\" // v\n}\n",
         "{\n  \"version\": \"0.2.0\", // v\n  \"configurations\": [\n    {\n      // omvdev: "
         "generated ",
         NULL},
        /* an empty array on one line */
        {"{\"configurations\": []}", "{\"configurations\": [\n    {\n        // omvdev", NULL},
        /* an empty array with a comment inside */
        {"{\n    \"configurations\": [\n        // none yet\n    ]\n}",
         "{\n    \"configurations\": [\n        // none yet\n        {\n", NULL},
        /* inline array with an element */
        {"{\"configurations\": [{\"name\": \"u\"}]}",
         "{\"configurations\": [{\"name\": \"u\"}, {\n", NULL},
        /* an indented comment before the document: the new member lines up with the root */
        {"  // note\n{\n\"version\": 1}",
         "  // note\n{\n\"version\": 1,\n\"configurations\": [\n    {\n", NULL},
        /* closing bracket right after the last element */
        {"{\n  \"configurations\": [\n    {\"name\": \"u\"}]}",
         "{\n  \"configurations\": [\n    {\"name\": \"u\"},\n    {\n", "\n  ]}"},
    };
    static const struct {
        const char *old, *err;
    } bad[] = {
        {"[]", "launch.json:1:1: expected an object ('{') at the top"},
        {"{\"configurations\": {}}", "launch.json:1:20: 'configurations' is not an array"},
        {"{\n  \"configurations\": [\n    {\"name\": \"u\",,}\n  ]\n}",
         "launch.json:3:18: expected a member name in quotes, found ','"},
    };
    char err[256];
    int rc;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        char *out = merge(ok[i].old, false, NULL, NULL, &rc, err, sizeof(err));
        struct jsonc_doc doc;

        CHECK_INT(rc, ==, 0);
        if (strncmp(out, ok[i].want_prefix, strlen(ok[i].want_prefix)))
            test_fail(__FILE__, __LINE__, "case %zu:\n%s", i, out);
        if (ok[i].want_contains)
            CHECK_CONTAINS(out, ok[i].want_contains);
        jsonc_doc_init(&doc);
        CHECK_INT(jsonc_parse(&doc, out, strlen(out), "out", 0, err, sizeof(err)), ==, 0);
        CHECK_INT(jsonc_get(doc.root, "configurations")->nr_kids, >=, 2);
        jsonc_doc_release(&doc);
        free(out);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *out = merge(bad[i].old, false, NULL, NULL, &rc, err, sizeof(err));

        CHECK_INT(rc, ==, OMV_EPARSE);
        CHECK_STR(err, bad[i].err);
        CHECK_STR(out, "");
        free(out);
    }
}

static void test_merge_strings_and_members(void)
{
    static const char *const recs[] = {"a.one", "b.two", "c.three"};
    static const char old[] = "{\n\t// mine\n\t\"recommendations\": [\"z.user\", \"a.one\"],\n"
                              "\t\"unwantedRecommendations\": [\"c.three\"]\n}\n";
    static const char *const keys[] = {"k.path", "k.server", "k.same"};
    static const char *const vals[] = {"\"/new\"", "\"/srv\"", "[1,2]"};
    static const char settings[] =
        "{\r\n  \"k.path\": \"/old\", // mine\r\n  \"k.same\": [ 1, 2 ]\r\n}";
    enum jsonc_merge_status st[3];
    struct strbuf out = STRBUF_INIT;
    bool added[3];
    char err[256];
    int rc;

    rc = jsonc_merge_strings(old, strlen(old), "e", "{\"recommendations\":[]}", "recommendations",
                             "unwantedRecommendations", recs, 3, added, &out, err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK(!added[0] && added[1] && !added[2]);
    CHECK_STR(out.buf, "{\n\t// mine\n\t\"recommendations\": [\"z.user\", \"a.one\", \"b.two\"],\n"
                       "\t\"unwantedRecommendations\": [\"c.three\"]\n}\n");
    strbuf_reset(&out);
    rc = jsonc_merge_strings("", 0, "e", "{\"recommendations\":[]}", "recommendations",
                             "unwantedRecommendations", recs, 3, added, &out, err, sizeof(err));
    CHECK_STR(out.buf, "{\n    \"recommendations\": [\n        \"a.one\",\n        \"b.two\",\n"
                       "        \"c.three\"\n    ]\n}\n");

    strbuf_reset(&out);
    rc = jsonc_merge_members(settings, strlen(settings), "s", "{}", keys, vals, 3, false, st, &out,
                             err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK_INT(st[0], ==, JSONC_MERGE_KEPT_EDITED);
    CHECK_INT(st[1], ==, JSONC_MERGE_ADDED);
    CHECK_INT(st[2], ==, JSONC_MERGE_UNCHANGED);
    CHECK_STR(out.buf, "{\r\n  \"k.path\": \"/old\", // mine\r\n  \"k.same\": [ 1, 2 ],\r\n"
                       "  \"k.server\": \"/srv\"\r\n}");
    strbuf_reset(&out);
    rc = jsonc_merge_members(settings, strlen(settings), "s", "{}", keys, vals, 3, true, st, &out,
                             err, sizeof(err));
    CHECK_INT(st[0], ==, JSONC_MERGE_FORCED);
    CHECK_CONTAINS(out.buf, "\"k.path\": \"/new\", // mine\r\n");
    strbuf_release(&out);
}

static void test_template(void)
{
    static const char t[] = "{\n  \"a\": \"@X@\",\n  \"b\": \"@GONE@\",\n  \"mail\": \"me@host\",\n"
                            "  \"c\": \"@X@-@Y_2@\"\n}\n";
    const struct template_var vars[] = {{"X", "q\"\\\n\x01"}, {"GONE", NULL}, {"Y_2", "y"}};
    struct strbuf out = STRBUF_INIT;
    char err[256];
    int rc;

    rc = template_expand(t, strlen(t), "t.json", vars, 3, TEMPLATE_JSON_STRING, &out, err,
                         sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out.buf, "{\n  \"a\": \"q\\\"\\\\\\n\\u0001\",\n  \"mail\": \"me@host\",\n"
                       "  \"c\": \"q\\\"\\\\\\n\\u0001-y\"\n}\n");
    strbuf_reset(&out);
    rc = template_expand("x\n@NOPE@\n", 9, "t.json", vars, 3, TEMPLATE_RAW, &out, err, sizeof(err));
    CHECK_INT(rc, ==, OMV_EINVAL);
    CHECK_STR(err, "t.json:2: unknown placeholder @NOPE@");
    strbuf_release(&out);
}

static void test_diff(void)
{
    static const char a[] = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
    static const char b[] = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13";
    struct strbuf out = STRBUF_INIT;

    diff_unified(a, strlen(a), a, strlen(a), "a", "b", &out);
    CHECK_STR(out.buf, "");
    diff_unified(a, strlen(a), b, strlen(b), "a/x", "b/x", &out);
    CHECK_STR(out.buf, "--- a/x\n+++ b/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
                       "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n\\ No newline at end of file\n");
    strbuf_reset(&out);
    diff_unified("", 0, "x\n", 2, "/dev/null", "b/x", &out);
    CHECK_STR(out.buf, "--- /dev/null\n+++ b/x\n@@ -0,0 +1,1 @@\n+x\n");
    strbuf_release(&out);
}

/* ---- fuzz ------------------------------------------------------------------- */

static uint64_t rng = 0x243F6A8885A308D3u;

static uint32_t rnd(uint32_t n)
{
    return test_rand(&rng) % n;
}

struct gen {
    struct strbuf sb;
    const char *nl;
    const char *unit;
};

static void gap(struct gen *g, int level)
{
    switch (rnd(6)) {
    case 0:
        strbuf_addstr(&g->sb, " /* c */ ");
        break;
    case 1:
        strbuf_addstr(&g->sb, " // line comment, with \"quotes\" and { braces [");
        strbuf_addstr(&g->sb, g->nl);
        for (int i = 0; i < level; i++)
            strbuf_addstr(&g->sb, g->unit);
        break;
    case 2:
        strbuf_addstr(&g->sb, g->nl);
        for (int i = 0; i < level; i++)
            strbuf_addstr(&g->sb, g->unit);
        break;
    default:
        break;
    }
}

/* A random user configuration; its exact text goes into `copy`. n < 0: the user's own
 * entry under the name of a generated one (no marker). */
static void user_entry(struct gen *g, int n, int level, struct strbuf *copy)
{
    size_t start = g->sb.len;
    int members = 1 + (int)rnd(4);

    strbuf_addch(&g->sb, '{');
    for (int m = 0; m < members; m++) {
        gap(g, level + 1);
        if (m == 0 && n < 0)
            strbuf_addstr(&g->sb, "\"name\": \"OpenMV B (J-Link)\"");
        else if (m == 0)
            strbuf_addf(&g->sb, "\"name\": \"user %d \\\"q\\\" \\u00e9\"", n);
        else if (rnd(2))
            strbuf_addf(&g->sb, "\"k%d\": [1, -2.5e3, true, null, {\"x\": \"y\"},]", m);
        else
            strbuf_addf(&g->sb, "\"k%d\" : \"/* not a comment */ // nor this\"", m);
        if (m + 1 < members || rnd(2))
            strbuf_addch(&g->sb, ',');
    }
    gap(g, level);
    strbuf_addch(&g->sb, '}');
    strbuf_add(copy, g->sb.buf + start, g->sb.len - start);
}

static void test_fuzz_merge_keeps_user_entries(void)
{
    int checked = 0, crlf = 0, tabs = 0, nr_foreign = 0;

    for (int round = 0; round < 400; round++) {
        struct gen g = {STRBUF_INIT, rnd(2) ? "\r\n" : "\n", rnd(3) ? "    " : "\t"};
        struct strbuf copies[6], out = STRBUF_INIT, again = STRBUF_INIT;
        struct jsonc_merge_item items[2] = {{gen_a, JSONC_MERGE_ADDED}, {gen_b, JSONC_MERGE_ADDED}};
        int users = (int)rnd(6), owned_first = (int)rnd(3);
        bool compounds = rnd(2), has_array = rnd(8) != 0, foreign = rnd(4) == 0;
        struct jsonc_doc doc;
        char err[256];
        int rc;

        if (rnd(3) == 0)
            strbuf_addf(&g.sb, "// header%s", g.nl);
        strbuf_addch(&g.sb, '{');
        gap(&g, 1);
        strbuf_addstr(&g.sb, "\"version\": \"0.2.0\",");
        if (compounds && rnd(2)) {
            gap(&g, 1);
            strbuf_addstr(&g.sb, "\"compounds\": [{\"name\": \"c\", \"configurations\": []}],");
        }
        gap(&g, 1);
        if (has_array) {
            strbuf_addstr(&g.sb, "\"configurations\": [");
            for (int u = 0; u < users; u++) {
                strbuf_init(&copies[u]);
                gap(&g, 2);
                user_entry(&g, u == 0 && foreign ? -1 : u, 2, &copies[u]);
                if (u + 1 < users || rnd(2))
                    strbuf_addch(&g.sb, ',');
                gap(&g, 2);
            }
            strbuf_addstr(&g.sb, "]");
            if (rnd(2))
                strbuf_addch(&g.sb, ',');
        } else {
            users = 0;
            strbuf_addstr(&g.sb, "\"other\": 1");
        }
        gap(&g, 0);
        strbuf_addf(&g.sb, "}%s", rnd(2) ? g.nl : "");

        /* Sometimes omvdev was here before (its entries are somewhere inside). */
        if (owned_first == 0 && has_array) {
            struct strbuf pre = STRBUF_INIT;

            rc = jsonc_merge_array(g.sb.buf, g.sb.len, "f", skeleton, "configurations", "name",
                                   "omvdev", items, 1, false, &pre, err, sizeof(err));
            CHECK_INT(rc, ==, 0);
            strbuf_release(&g.sb);
            g.sb = pre;
        }
        rc = jsonc_merge_array(g.sb.buf, g.sb.len, "f", skeleton, "configurations", "name",
                               "omvdev", items, 2, false, &out, err, sizeof(err));
        if (rc < 0) {
            test_fail(__FILE__, __LINE__, "round %d: %s\n%s", round, err, g.sb.buf);
            break;
        }
        checked += users;
        crlf += !strcmp(g.nl, "\r\n");
        tabs += !strcmp(g.unit, "\t");
        for (int u = 0; u < users; u++) {
            if (!strstr(out.buf, copies[u].buf))
                test_fail(__FILE__, __LINE__, "round %d lost user entry %d:\n%s\n--- became\n%s",
                          round, u, g.sb.buf, out.buf);
            strbuf_release(&copies[u]);
        }
        if (strncmp(out.buf, g.sb.buf, strcspn(g.sb.buf, "{")))
            test_fail(__FILE__, __LINE__, "round %d: header changed", round);
        jsonc_doc_init(&doc);
        rc = jsonc_parse(&doc, out.buf, out.len, "out", 0, err, sizeof(err));
        if (rc < 0) {
            test_fail(__FILE__, __LINE__, "round %d: result does not parse: %s\n%s", round, err,
                      out.buf);
        } else {
            const struct jsonc_node *c = jsonc_get(doc.root, "configurations");

            /* a user entry named like a generated one keeps its place instead */
            CHECK(c && (int)c->nr_kids == users + 2 - (foreign && users > 0));
            nr_foreign += foreign && users > 0;
            CHECK(jsonc_get(doc.root, "version") != NULL);
        }
        jsonc_doc_release(&doc);
        /* Idempotent: a second merge is the identity. */
        rc = jsonc_merge_array(out.buf, out.len, "f", skeleton, "configurations", "name", "omvdev",
                               items, 2, false, &again, err, sizeof(err));
        CHECK_INT(rc, ==, 0);
        if (strcmp(again.buf, out.buf))
            test_fail(__FILE__, __LINE__, "round %d: not idempotent", round);
        CHECK_INT(items[0].status, ==, JSONC_MERGE_UNCHANGED);
        strbuf_release(&g.sb);
        strbuf_release(&out);
        strbuf_release(&again);
    }
    /* The random documents really had user entries, CRLF and tabs. */
    CHECK_INT(checked, >, 600);
    CHECK_INT(crlf, >, 100);
    CHECK_INT(tabs, >, 50);
    CHECK_INT(nr_foreign, >, 30);
}

static void test_fuzz_broken_inputs(void)
{
    static const char base[] =
        "// c\n{\n\t\"version\": \"0.2.0\", /* x */\n\t\"configurations\": "
        "[\n\t\t{\"name\": \"u\\u00e9\", \"a\": [1, 2.5, true, null],},\n\t]\n}\n";
    static const char meta[] = "{}[],:\"/*\\\n\r\t 0-eE.u";

    for (int round = 0; round < 3000; round++) {
        struct strbuf sb = STRBUF_INIT, out = STRBUF_INIT;
        struct jsonc_merge_item items[1] = {{gen_a, JSONC_MERGE_ADDED}};
        int edits = 1 + (int)rnd(3);
        char err[256];
        int rc;

        strbuf_addstr(&sb, base);
        for (int e = 0; e < edits; e++) {
            size_t at = rnd((uint32_t)sb.len);

            switch (rnd(3)) {
            case 0:
                sb.buf[at] = meta[rnd(sizeof(meta) - 1)];
                break;
            case 1:
                memmove(sb.buf + at, sb.buf + at + 1, sb.len - at - 1);
                strbuf_setlen(&sb, sb.len - 1);
                break;
            default:
                sb.buf[at] = (char)rnd(256);
                break;
            }
        }
        err[0] = '\0';
        rc = jsonc_merge_array(sb.buf, sb.len, "f.json", skeleton, "configurations", "name",
                               "omvdev", items, 1, false, &out, err, sizeof(err));
        if (rc < 0) {
            /* Refused with a place, and nothing produced. */
            unsigned line, col;

            CHECK_INT(rc, ==, OMV_EPARSE);
            CHECK(sscanf(err, "f.json:%u:%u: ", &line, &col) == 2);
            CHECK_INT(out.len, ==, 0);
        } else {
            struct jsonc_doc doc;

            jsonc_doc_init(&doc);
            CHECK_INT(jsonc_parse(&doc, out.buf, out.len, "out", 0, err, sizeof(err)), ==, 0);
            jsonc_doc_release(&doc);
        }
        strbuf_release(&sb);
        strbuf_release(&out);
    }
}

/* Apply a unified diff made by diff_unified() to `a`; NULL when it does not fit. */
static char *apply_diff(const char *a, const char *diff)
{
    struct strbuf out = STRBUF_INIT;
    const char *p = strchr(diff, '\n'), *src = a;
    size_t line = 1;

    if (!*diff)
        return xstrdup(a);
    p = strchr(p + 1, '\n') + 1; /* past ---/+++ */
    while (*p) {
        size_t from, nfrom, to, nto;
        const char *eol = strchr(p, '\n');

        if (sscanf(p, "@@ -%zu,%zu +%zu,%zu @@", &from, &nfrom, &to, &nto) != 4)
            goto fail;
        if (nfrom == 0)
            from++;
        while (line < from) { /* copy up to the hunk */
            const char *nl = strchr(src, '\n');

            if (!nl)
                goto fail;
            strbuf_add(&out, src, (size_t)(nl - src) + 1);
            src = nl + 1;
            line++;
        }
        p = eol + 1;
        while (*p && *p != '@') {
            const char *nl = strchr(p, '\n');
            size_t len = (size_t)(nl - p);
            bool no_nl = !strncmp(nl + 1, "\\ No newline", 12);

            if (*p == ' ' || *p == '-') {
                if (strncmp(src, p + 1, len - 1) || (!no_nl && src[len - 1] != '\n'))
                    goto fail;
                src += len - (no_nl ? 1 : 0);
                line++;
            }
            if (*p == ' ' || *p == '+') {
                strbuf_add(&out, p + 1, len - 1);
                if (!no_nl)
                    strbuf_addch(&out, '\n');
            }
            p = nl + 1;
            if (no_nl)
                p = strchr(p, '\n') + 1;
        }
    }
    strbuf_addstr(&out, src);
    return strbuf_detach(&out, NULL);
fail:
    strbuf_release(&out);
    return NULL;
}

static void test_fuzz_diff_applies(void)
{
    static const char *const words[] = {"{", "}", "a", "b", "\"x\": 1,", ""};

    for (int round = 0; round < 500; round++) {
        struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, d = STRBUF_INIT;
        int na = (int)rnd(40), nb;
        char *back;

        for (int i = 0; i < na; i++)
            strbuf_addf(&a, "%s\n", words[rnd(ARRAY_SIZE(words))]);
        if (rnd(4) == 0)
            strbuf_addstr(&a, "tail");
        /* b: a with random lines changed, dropped and added */
        for (const char *p = a.buf; *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

            switch (rnd(8)) {
            case 0:
                break;
            case 1:
                strbuf_addf(&b, "new %u\n", rnd(5));
                strbuf_add(&b, p, len);
                break;
            case 2:
                strbuf_addstr(&b, "changed\n");
                break;
            default:
                strbuf_add(&b, p, len);
            }
            p += len;
        }
        nb = (int)rnd(3);
        for (int i = 0; i < nb; i++)
            strbuf_addstr(&b, "appended\n");
        diff_unified(a.buf, a.len, b.buf, b.len, "a", "b", &d);
        back = apply_diff(a.buf, d.buf);
        if (!back || strcmp(back, b.buf))
            test_fail(__FILE__, __LINE__, "round %d: the diff does not turn a into b:\n%s", round,
                      d.buf);
        CHECK_INT(d.len == 0, ==, !strcmp(a.buf, b.buf));
        free(back);
        strbuf_release(&a);
        strbuf_release(&b);
        strbuf_release(&d);
    }
}

static void test_fuzz_template(void)
{
    static const char pieces[] = "@AB_1\n\"x{}";
    const struct template_var vars[] = {{"A", "v\"\\"}, {"AB_1", NULL}, {"B", ""}};

    for (int round = 0; round < 3000; round++) {
        struct strbuf t = STRBUF_INIT, out = STRBUF_INIT;
        int n = (int)rnd(30);
        char err[256];
        int rc;

        for (int i = 0; i < n; i++)
            strbuf_addch(&t, pieces[rnd(sizeof(pieces) - 1)]);
        err[0] = '\0';
        rc = template_expand(t.buf, t.len, "t", vars, ARRAY_SIZE(vars), TEMPLATE_JSON_STRING, &out,
                             err, sizeof(err));
        if (rc < 0) {
            CHECK_INT(rc, ==, OMV_EINVAL);
            CHECK_CONTAINS(err, ": unknown placeholder @");
        } else {
            /* Never more lines than went in, and no placeholder of a known name left. */
            size_t lines_in = 0, lines_out = 0;

            for (size_t i = 0; i < t.len; i++)
                lines_in += t.buf[i] == '\n';
            for (size_t i = 0; i < out.len; i++)
                lines_out += out.buf[i] == '\n';
            CHECK_INT(lines_out, <=, lines_in);
            CHECK(strstr(out.buf, "@AB_1@") == NULL);
        }
        strbuf_release(&t);
        strbuf_release(&out);
    }
}

/* The hash omvdev records for a generated entry. */
static void gen_hash(const char *json, char hex[17])
{
    struct jsonc_doc d;

    jsonc_doc_init(&d);
    CHECK_INT(jsonc_parse(&d, json, strlen(json), "g", JSONC_STRICT, NULL, 0), ==, 0);
    jsonc_hash(d.root, json, "omvdev", hex);
    jsonc_doc_release(&d);
}

/* Files of the previous format carry the marker as an "omvdev" member (which the
 * schemas flag): untouched entries are rewritten with the comment, edited ones keep
 * every byte but that member and stay edited. */
static void test_merge_migrates_marker_member(void)
{
    char ha[17], hb[17], err[256], *out, *again;
    struct strbuf old = STRBUF_INIT;
    enum jsonc_merge_status sa, sb;
    int rc;

    gen_hash(gen_a, ha);
    gen_hash(gen_b, hb);
    strbuf_addf(&old,
                "{\n    \"version\": \"0.2.0\",\n    \"configurations\": [\n        {\n"
                "            \"name\": \"OpenMV A (J-Link)\",\n"
                "            \"type\": \"cortex-debug\",\n"
                "            \"device\": \"MINE\", // my probe\n"
                "            \"nested\": {\"list\": [1, 2, {\"k\": null}]},\n"
                "            \"omvdev\": \"generated %s\"\n        },\n"
                "        {\n            \"name\": \"OpenMV B (J-Link)\",\n"
                "            \"type\": \"cortex-debug\",\n"
                "            \"omvdev\": \"generated %s\"\n        }\n    ]\n}\n",
                ha, hb);
    out = merge(old.buf, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    CHECK_INT(sa, ==, JSONC_MERGE_KEPT_EDITED);
    CHECK_INT(sb, ==, JSONC_MERGE_REPLACED);
    CHECK(strstr(out, "\"omvdev\"") == NULL);
    /* the edited one: the user's bytes, the recorded hash now in the comment */
    CHECK_CONTAINS(out, "        {\n            // omvdev: generated ");
    CHECK_CONTAINS(out, ha);
    CHECK_CONTAINS(out, "\"device\": \"MINE\", // my probe\n"
                        "            \"nested\": {\"list\": [1, 2, {\"k\": null}]}\n        },");
    CHECK_CONTAINS(out, hb);
    /* ... and the result is stable: still edited, nothing changes */
    again = merge(out, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sa, ==, JSONC_MERGE_KEPT_EDITED);
    CHECK_INT(sb, ==, JSONC_MERGE_UNCHANGED);
    CHECK_STR(again, out);
    free(again);
    /* --force regenerates it */
    again = merge(out, true, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sa, ==, JSONC_MERGE_FORCED);
    CHECK(strstr(again, "MINE") == NULL);
    free(again);
    free(out);

    /* marker member first, on the brace's line, with a trailing comma elsewhere */
    strbuf_reset(&old);
    strbuf_addf(&old,
                "{\"configurations\": [{\"omvdev\": \"generated %s\", \"name\": \"OpenMV B "
                "(J-Link)\", \"type\": \"cortex-debug\", \"x\": 1,},]}",
                hb);
    out = merge(old.buf, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sb, ==, JSONC_MERGE_KEPT_EDITED);
    CHECK(strstr(out, "\"omvdev\"") == NULL);
    CHECK_CONTAINS(out, "\"x\": 1,}");
    {
        struct jsonc_doc d;

        jsonc_doc_init(&d);
        CHECK_INT(jsonc_parse(&d, out, strlen(out), "out", 0, err, sizeof(err)), ==, 0);
        jsonc_doc_release(&d);
    }
    again = merge(out, false, &sa, &sb, &rc, err, sizeof(err));
    CHECK_INT(sb, ==, JSONC_MERGE_KEPT_EDITED);
    CHECK_STR(again, out);
    free(again);
    free(out);
    strbuf_release(&old);
}

TESTS(TEST(test_parse_real_world), TEST(test_parse_errors), TEST(test_strict),
      TEST(test_write_and_hash), TEST(test_style), TEST(test_merge_real_world),
      TEST(test_merge_owned_entries), TEST(test_merge_shapes), TEST(test_merge_strings_and_members),
      TEST(test_template), TEST(test_diff), TEST(test_fuzz_merge_keeps_user_entries),
      TEST(test_fuzz_broken_inputs), TEST(test_fuzz_diff_applies), TEST(test_fuzz_template),
      TEST(test_merge_migrates_marker_member))
