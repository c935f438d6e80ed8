/*
 * The archive entry-name and symlink-target rules of sdk/extract.c, with
 * fixed cases and deterministic random names.
 */
#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/strbuf.h"
#include "sdk/extract.h"

#include <stdbool.h>

#define TOP "openmv-sdk-1.6.0-linux-x86_64"

static int check(struct strbuf *top, const char *name, struct strbuf *out, char *err, size_t errlen)
{
    return extract_check_name(name, top, out, err, errlen);
}

static void test_names(void)
{
    struct strbuf top = STRBUF_INIT, out = STRBUF_INIT;
    char err[256];

    CHECK_INT(check(&top, TOP "/", &out, err, sizeof(err)), ==, 0);
    CHECK_STR(top.buf, TOP);
    CHECK_STR(out.buf, "");
    CHECK_INT(check(&top, TOP "/gcc/bin/arm-none-eabi-gcc", &out, err, sizeof(err)), ==, 0);
    CHECK_STR(out.buf, "gcc/bin/arm-none-eabi-gcc");
    CHECK_INT(check(&top, "./" TOP "//gcc/./bin/", &out, err, sizeof(err)), ==, 0);
    CHECK_STR(out.buf, "gcc/bin");
    CHECK_INT(check(&top, TOP "/a b/c", &out, err, sizeof(err)), ==, 0);
    CHECK_STR(out.buf, "a b/c");

    CHECK_INT(check(&top, "/etc/passwd", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "absolute path '/etc/passwd'");
    CHECK_INT(check(&top, TOP "/../x", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "'..' in entry name");
    CHECK_INT(check(&top, "../x", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(check(&top, TOP "/a/../../x", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(check(&top, "other/x", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "more than one top-level directory: '" TOP "' and 'other'");
    CHECK_INT(check(&top, "", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(check(&top, "./", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "names no file");
    CHECK_INT(check(&top, TOP "/a\nb", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "control character");
    CHECK_INT(check(&top, TOP "/a\tb", &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(check(&top, TOP "/" EXTRACT_MANIFEST_NAME, &out, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "reserved name");
    /* ".." inside a name is fine. */
    CHECK_INT(check(&top, TOP "/a..b/..c", &out, err, sizeof(err)), ==, 0);
    strbuf_release(&top);
    strbuf_release(&out);
}

static void test_symlinks(void)
{
    char err[256];

    CHECK_INT(extract_check_symlink("python/bin/python3", "python3.12", err, sizeof(err)), ==, 0);
    CHECK_INT(extract_check_symlink("bin/gcc", "../gcc/bin/arm-none-eabi-gcc", err, sizeof(err)),
              ==, 0);
    CHECK_INT(extract_check_symlink("a/b/c", "../../x", err, sizeof(err)), ==, 0);
    CHECK_INT(extract_check_symlink("a/b/c", "./.././../x/./y", err, sizeof(err)), ==, 0);
    CHECK_INT(extract_check_symlink("a/b/c", "../../../x", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "points outside the SDK");
    CHECK_INT(extract_check_symlink("x", "..", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(extract_check_symlink("x", "/tmp", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "absolute target '/tmp'");
    CHECK_INT(extract_check_symlink("a/x", "sub/../..", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "'..' after a name");
    CHECK_INT(extract_check_symlink("a/x", "", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(extract_check_symlink("a/x", "b\nc", err, sizeof(err)), ==, OMV_EPARSE);
}

/*
 * Random names over a small alphabet: an accepted name never yields a
 * stripped path that is absolute or holds a ".." component, and the top
 * directory never changes once set.
 */
static void test_fuzz_names(void)
{
    static const char *const parts[] = {TOP, "..", ".", "", "a", "b", "..x", "/", "\n", "c.d"};
    uint64_t rng = 7;

    for (int round = 0; round < 30000; round++) {
        struct strbuf top = STRBUF_INIT, out = STRBUF_INIT, name = STRBUF_INIT;
        char err[256];
        int n = 1 + (int)(test_rand(&rng) % 6);

        if (test_rand(&rng) % 2)
            strbuf_addstr(&top, TOP);
        for (int i = 0; i < n; i++) {
            if (i)
                strbuf_addch(&name, '/');
            strbuf_addstr(&name, parts[test_rand(&rng) % ARRAY_SIZE(parts)]);
        }
        if (extract_check_name(name.buf, &top, &out, err, sizeof(err)) == 0) {
            const char *p = out.buf;

            CHECK(out.buf[0] != '/');
            CHECK(name.buf[0] != '/');
            CHECK_STR(top.buf, top.len ? top.buf : "(set)");
            for (;;) {
                const char *s = strchr(p, '/');
                size_t len = s ? (size_t)(s - p) : strlen(p);

                CHECK(!(len == 2 && p[0] == '.' && p[1] == '.'));
                CHECK(len > 0 || !*out.buf);
                if (!s)
                    break;
                p = s + 1;
            }
            CHECK(!strchr(out.buf, '\n'));
        } else {
            CHECK(err[0] != '\0');
        }
        strbuf_release(&top);
        strbuf_release(&out);
        strbuf_release(&name);
    }
}

/* Random link targets: an accepted one, resolved lexically from the link's
 * directory, never leaves the tree. */
static void test_fuzz_symlinks(void)
{
    static const char *const parts[] = {"..", ".", "", "a", "b", "/"};
    static const char *const wheres[] = {"x", "a/x", "a/b/x", "a/b/c/x"};
    uint64_t rng = 11;

    for (int round = 0; round < 30000; round++) {
        struct strbuf target = STRBUF_INIT;
        const char *where = wheres[test_rand(&rng) % ARRAY_SIZE(wheres)];
        int n = 1 + (int)(test_rand(&rng) % 6), depth = 0;
        char err[256];

        for (const char *s = where; *s; s++)
            depth += *s == '/';
        for (int i = 0; i < n; i++) {
            if (i)
                strbuf_addch(&target, '/');
            strbuf_addstr(&target, parts[test_rand(&rng) % ARRAY_SIZE(parts)]);
        }
        if (extract_check_symlink(where, target.buf, err, sizeof(err)) == 0) {
            const char *p = target.buf;
            int level = depth;
            bool named = false;

            CHECK(target.buf[0] != '/');
            for (;;) {
                const char *s = strchr(p, '/');
                size_t len = s ? (size_t)(s - p) : strlen(p);

                if (len == 2 && p[0] == '.' && p[1] == '.') {
                    CHECK(!named);
                    level--;
                } else if (len && !(len == 1 && p[0] == '.')) {
                    named = true;
                    level++;
                }
                CHECK_INT(level, >=, 0);
                if (!s)
                    break;
                p = s + 1;
            }
        }
        strbuf_release(&target);
    }
}

TESTS(TEST(test_names), TEST(test_symlinks), TEST(test_fuzz_names), TEST(test_fuzz_symlinks))
