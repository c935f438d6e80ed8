#include "tests/unit/test.h"

#include "lib/config.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(struct cfg *cfg, const char *text, char *err, size_t errlen)
{
    return cfg_parse_string(cfg, text, strlen(text), "t.ini", CFG_LEVEL_USER, err, errlen);
}

static void test_parse_and_lookup(void)
{
    struct cfg cfg = CFG_INIT;
    char err[256];
    const struct cfg_entry *e;

    CHECK_INT(parse(&cfg, "; comment\n[Build]\ntarget = OPENMV4 ; inline\n\n[sdk]\nmirror=x\n", err,
                    sizeof(err)),
              ==, 0);
    CHECK_INT(cfg.nr, ==, 2);
    e = cfg_lookup(&cfg, "build", "TARGET");
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(e->value, "OPENMV4");
        CHECK_INT(e->line, ==, 3);
        CHECK_STR(e->origin, "t.ini");
    }
    CHECK(cfg_lookup(&cfg, "build", "nope") == NULL);
    cfg_release(&cfg);
}

static void test_precedence(void)
{
    struct cfg cfg = CFG_INIT;
    const struct cfg_entry *e;

    cfg_add(&cfg, CFG_LEVEL_ENV, "a", "b", "env", "OMVDEV_A_B", 0);
    cfg_add(&cfg, CFG_LEVEL_DEFAULT, "a", "b", "default", NULL, 0);
    cfg_add(&cfg, CFG_LEVEL_PROJECT, "a", "b", "project", "p", 1);
    cfg_add(&cfg, CFG_LEVEL_USER, "a", "b", "user", "u", 1);
    e = cfg_lookup(&cfg, "a", "b");
    CHECK(e && !strcmp(e->value, "env"));
    cfg_add(&cfg, CFG_LEVEL_CMDLINE, "a", "b", "cli", NULL, 0);
    e = cfg_lookup(&cfg, "a", "b");
    CHECK(e && !strcmp(e->value, "cli"));
    CHECK(cfg_entry_wins(&cfg, e));
    CHECK(!cfg_entry_wins(&cfg, &cfg.entries[0]));
    /* Within one level the last definition wins. */
    cfg_add(&cfg, CFG_LEVEL_CMDLINE, "a", "b", "cli2", NULL, 0);
    e = cfg_lookup(&cfg, "a", "b");
    CHECK(e && !strcmp(e->value, "cli2"));
    cfg_release(&cfg);
}

static void expect_error(const char *text, const char *msg)
{
    struct cfg cfg = CFG_INIT;
    char err[256] = "";

    CHECK_INT(parse(&cfg, text, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_STR(err, msg);
    CHECK_INT(cfg.nr, ==, 0); /* nothing from a broken file is used */
    cfg_release(&cfg);
}

static void test_malformed(void)
{
    expect_error("[core]\ncolor = auto\n[build\ntarget = X\n",
                 "t.ini:3: section header is missing its closing ']'");
    expect_error("[core]\ncolor = auto\njust words\n",
                 "t.ini:3: expected 'key = value', '[section]' or a comment");
    expect_error("color = auto\n", "t.ini:1: key 'color' is outside any [section]");
    expect_error("[core]\n= auto\n", "t.ini:2: missing key name before '='");
    {
        char text[] = "[core]\ncolor = a\0b\n";
        struct cfg cfg = CFG_INIT;
        char err[256];

        CHECK_INT(cfg_parse_string(&cfg, text, sizeof(text) - 1, "t.ini", CFG_LEVEL_USER, err,
                                   sizeof(err)),
                  ==, OMV_EPARSE);
        CHECK_STR(err, "t.ini:2: contains a NUL byte");
        cfg_release(&cfg);
    }
    {
        struct strbuf sb = STRBUF_INIT;

        strbuf_addstr(&sb, "[core]\ncolor = ");
        strbuf_addchars(&sb, 'x', 300);
        strbuf_addstr(&sb, "\n");
        expect_error(sb.buf, "t.ini:2: line is longer than 198 characters");
        strbuf_release(&sb);
    }
}

static char *edit(const char *text, const char *section, const char *name, const char *value,
                  int *rc)
{
    char *out = NULL;
    size_t len;
    char err[256];

    *rc = cfg_edit_string(text, strlen(text), "t.ini", section, name, value, &out, &len, err,
                          sizeof(err));
    return out;
}

static void test_edit_keeps_everything_else(void)
{
    const char *text = "# my settings\n"
                       "[core]\n"
                       "color = never ; I hate colour\n"
                       "\n"
                       "; builds\n"
                       "[build]\n"
                       "target = OPENMV4\n"
                       "\n"
                       "[sdk]\n"
                       "mirror = https://example.invalid/sdk\n";
    char *out;
    int rc;

    out = edit(text, "core", "color", "always", &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, "# my settings\n"
                   "[core]\n"
                   "color = always ; I hate colour\n"
                   "\n"
                   "; builds\n"
                   "[build]\n"
                   "target = OPENMV4\n"
                   "\n"
                   "[sdk]\n"
                   "mirror = https://example.invalid/sdk\n");
    free(out);

    out = edit(text, "build", "jobs", "4", &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, "# my settings\n"
                   "[core]\n"
                   "color = never ; I hate colour\n"
                   "\n"
                   "; builds\n"
                   "[build]\n"
                   "target = OPENMV4\n"
                   "jobs = 4\n"
                   "\n"
                   "[sdk]\n"
                   "mirror = https://example.invalid/sdk\n");
    free(out);

    out = edit(text, "targets", "format", "rst", &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_CONTAINS(out, "mirror = https://example.invalid/sdk\n\n[targets]\nformat = rst\n");
    free(out);

    out = edit(text, "build", "target", NULL, &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, "# my settings\n"
                   "[core]\n"
                   "color = never ; I hate colour\n"
                   "\n"
                   "; builds\n"
                   "[build]\n"
                   "\n"
                   "[sdk]\n"
                   "mirror = https://example.invalid/sdk\n");
    free(out);

    out = edit(text, "build", "nope", NULL, &rc);
    CHECK_INT(rc, ==, OMV_ENOENT);
    CHECK(out == NULL);

    /* No final newline, and an empty file. */
    out = edit("[core]\ncolor = auto", "core", "pager", "less", &rc);
    CHECK_STR(out, "[core]\ncolor = auto\npager = less\n");
    free(out);
    out = edit("", "core", "color", "auto", &rc);
    CHECK_STR(out, "[core]\ncolor = auto\n");
    free(out);
}

static void test_edit_refuses(void)
{
    char *out;
    int rc;

    out = edit("[core\ncolor = auto\n", "core", "color", "never", &rc);
    CHECK_INT(rc, ==, OMV_EPARSE);
    CHECK(out == NULL);
    out = edit("", "core", "color", "a\nb", &rc);
    CHECK_INT(rc, ==, OMV_EINVAL);
    out = edit("", "core", "color", " padded", &rc);
    CHECK_INT(rc, ==, OMV_EINVAL);
    out = edit("", "core", "color", "a ;b", &rc);
    CHECK_INT(rc, ==, OMV_EINVAL);
    out = edit("", "core", "color", "a;b", &rc); /* no space: not a comment to inih */
    CHECK_INT(rc, ==, 0);
    free(out);
}

/* An indented line continues the value before it: inih reports it as a
 * second definition, so an edit that left it behind would not take effect. */
static void test_edit_continuation_lines(void)
{
    const char *text = "[sdk]\n"
                       "mirror = http://a\n"
                       "; the old mirror\n"
                       "  http://b\n"
                       "retries = 3\n"
                       "[core]\n"
                       "color = never\n";
    struct cfg cfg = CFG_INIT;
    char err[256], *out;
    int rc;

    out = edit(text, "sdk", "mirror", "http://c", &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out,
              "[sdk]\nmirror = http://c\n; the old mirror\nretries = 3\n[core]\ncolor = never\n");
    CHECK_INT(parse(&cfg, out, err, sizeof(err)), ==, 0);
    CHECK_STR(cfg_lookup(&cfg, "sdk", "mirror")->value, "http://c");
    cfg_release(&cfg);
    free(out);

    /* Unset takes the continuation too: what is left still parses. */
    out = edit("[sdk]\nmirror = http://a\n  http://b\n", "sdk", "mirror", NULL, &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, "[sdk]\n");
    CHECK_INT(parse(&cfg, out, err, sizeof(err)), ==, 0);
    cfg_release(&cfg);
    free(out);

    /* An indented "key = value" after a key is a continuation, not a key. */
    out = edit("[sdk]\nmirror = a\n  retries = 9\n", "sdk", "retries", "2", &rc);
    CHECK_INT(rc, ==, 0);
    CHECK_STR(out, "[sdk]\nmirror = a\n  retries = 9\nretries = 2\n");
    free(out);
    out = edit("[sdk]\nmirror = a\n  retries = 9\n", "sdk", "retries", NULL, &rc);
    CHECK_INT(rc, ==, OMV_ENOENT);

    /* ...but the first key of a section may be indented. */
    out = edit("[sdk]\n  retries = 9\n", "sdk", "retries", "1", &rc);
    CHECK_STR(out, "[sdk]\n  retries = 1\n");
    free(out);

    /* A byte order mark is kept and does not hide the first section. */
    out = edit("\xEF\xBB\xBF[sdk]\nretries = 9\n", "sdk", "retries", NULL, &rc);
    CHECK_STR(out, "\xEF\xBB\xBF[sdk]\n");
    free(out);

    /* "[ sdk ]" is the section " sdk " to inih, not "sdk". */
    out = edit("[ sdk ]\nretries = 9\n", "sdk", "retries", NULL, &rc);
    CHECK_INT(rc, ==, OMV_ENOENT);
}

/* inih reads lines of up to 198 characters: a longer one would break the file. */
static void test_edit_long_line(void)
{
    char value[260], err[256], *out = NULL;
    size_t len;
    int rc;

    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    rc = cfg_edit_string("[sdk]\n", 6, "t.ini", "sdk", "mirror", value, &out, &len, err,
                         sizeof(err));
    CHECK_INT(rc, ==, OMV_EINVAL);
    CHECK(out == NULL);
    CHECK_CONTAINS(err, "at most 198");
    /* The longest value that fits is stored and reads back. */
    value[198 - strlen("mirror = ")] = '\0';
    out = edit("[sdk]\nmirror = a ; keep\n", "sdk", "mirror", value, &rc);
    CHECK_INT(rc, ==, OMV_EINVAL); /* the inline comment makes the line too long */
    out = edit("[sdk]\n", "sdk", "mirror", value, &rc);
    CHECK_INT(rc, ==, 0);
    free(out);
}

static void test_edit_file_atomic(void)
{
    char dir[] = "/tmp/omvdev-test-XXXXXX";
    struct strbuf path = STRBUF_INIT, got = STRBUF_INIT;
    const char *broken = "[core\n# keep me\n";
    struct stat st;
    char err[512];
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    fs_path_join(&path, dir, "sub/config.ini");
    /* A missing file (and directory) is created. */
    CHECK_INT(cfg_edit_file(path.buf, "core", "color", "never", err, sizeof(err)), ==, 0);
    CHECK_INT(fs_read_file(path.buf, &got, err, sizeof(err)), ==, 0);
    CHECK_STR(got.buf, "[core]\ncolor = never\n");
    /* Permissions survive the rewrite. */
    CHECK_INT(chmod(path.buf, 0600), ==, 0);
    CHECK_INT(cfg_edit_file(path.buf, "core", "color", "auto", err, sizeof(err)), ==, 0);
    CHECK_INT(stat(path.buf, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
    /* A broken file is left byte for byte as it was, and the error names it. */
    f = fopen(path.buf, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(broken, f);
        fclose(f);
    }
    CHECK_INT(cfg_edit_file(path.buf, "core", "color", "auto", err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "config.ini:1: section header is missing");
    strbuf_reset(&got);
    CHECK_INT(fs_read_file(path.buf, &got, err, sizeof(err)), ==, 0);
    CHECK_STR(got.buf, broken);
    /* No temporary file is left behind. */
    {
        struct strbuf cmd = STRBUF_INIT;

        strbuf_addf(&cmd, "test $(ls -A '%s/sub' | wc -l) -eq 1 && rm -rf '%s'", dir, dir);
        CHECK_INT(system(cmd.buf), ==, 0);
        strbuf_release(&cmd);
    }
    strbuf_release(&path);
    strbuf_release(&got);
}

static void test_split_key(void)
{
    char *s = NULL, *n = NULL;
    char err[128];

    CHECK_INT(cfg_split_key("Build.Target", &s, &n, err, sizeof(err)), ==, 0);
    CHECK_STR(s, "build");
    CHECK_STR(n, "target");
    free(s);
    free(n);
    CHECK_INT(cfg_split_key("nodot", &s, &n, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_INT(cfg_split_key(".x", &s, &n, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_INT(cfg_split_key("a.", &s, &n, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_INT(cfg_split_key("a b.c", &s, &n, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_CONTAINS(err, "expected section.name");
}

TESTS(TEST(test_edit_continuation_lines), TEST(test_edit_long_line), TEST(test_parse_and_lookup),
      TEST(test_precedence), TEST(test_malformed), TEST(test_edit_keeps_everything_else),
      TEST(test_edit_refuses), TEST(test_edit_file_atomic), TEST(test_split_key))
