/*
 * lib/compiledb: which compiler invocations are translation units (and of
 * which files), the make assignment that runs the wrapper, and the merge:
 * replace in place, keep what was not rebuilt, drop removed files, start a
 * broken database afresh.
 */
#include "lib/compat.h"
#include "lib/compiledb.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/omvdev-cdb-XXXXXX";

static void path(struct strbuf *sb, const char *name)
{
    strbuf_reset(sb);
    fs_path_join(sb, dir, name);
}

static void test_record(void)
{
    static const char *const link[] = {"gcc", "a.o", "b.o", "-o", "fw.elf", NULL};
    static const char *const pre[] = {"gcc", "-E", "x.c", NULL};
    static const char *const two[] = {"gcc", "-D",  "X.c", "-c",  "a.c", "-MF",
                                      "d.c", "b.S", "-o",  "o.c", NULL};
    struct strbuf log = STRBUF_INIT, text = STRBUF_INIT;
    char err[256];
    size_t n = 9;

    path(&log, "log");
    CHECK_INT(compiledb_record(log.buf, "/w", link, &n, err, sizeof(err)), ==, 0);
    CHECK_INT(n, ==, 0);
    CHECK_INT(compiledb_record(log.buf, "/w", pre, &n, err, sizeof(err)), ==, 0);
    CHECK_INT(n, ==, 0);
    CHECK(!fs_is_file(log.buf));
    /* the values of -D, -MF and -o are never sources, whatever they end in */
    CHECK_INT(compiledb_record(log.buf, "/w", two, &n, err, sizeof(err)), ==, 0);
    CHECK_INT(n, ==, 2);
    CHECK_INT(fs_read_file(log.buf, &text, err, sizeof(err)), ==, 0);
    CHECK_STR(text.buf,
              "{\"directory\": \"/w\", \"file\": \"a.c\", \"output\": \"o.c\", \"arguments\": "
              "[\"gcc\", \"-D\", \"X.c\", \"-c\", \"a.c\", \"-MF\", \"d.c\", \"b.S\", \"-o\", "
              "\"o.c\"]}\n"
              "{\"directory\": \"/w\", \"file\": \"b.S\", \"output\": \"o.c\", \"arguments\": "
              "[\"gcc\", \"-D\", \"X.c\", \"-c\", \"a.c\", \"-MF\", \"d.c\", \"b.S\", \"-o\", "
              "\"o.c\"]}\n");
    unlink(log.buf);
    CHECK_INT(compiledb_record("/nonexistent/dir/log", "/w", two, &n, err, sizeof(err)), ==,
              OMV_EIO);
    CHECK_CONTAINS(err, "cannot open '/nonexistent/dir/log'");
    strbuf_release(&log);
    strbuf_release(&text);
}

static void test_make_var(void)
{
    struct strbuf sb = STRBUF_INIT;

    static const char *const cc[] = {"/usr/bin/omvdev-cc", NULL};
    static const char *const spaced[] = {"/home/a b/omvdev", "__cc", NULL};

    compiledb_make_var(&sb, "CC", cc, "/b/log", "arm-none-eabi-gcc");
    CHECK_STR(sb.buf, "CC=/usr/bin/omvdev-cc /b/log arm-none-eabi-gcc");
    strbuf_reset(&sb);
    compiledb_make_var(&sb, "CXX", spaced, "/x/it's $HOME", "g++");
    CHECK_STR(sb.buf, "CXX='/home/a b/omvdev' __cc '/x/it'\\''s $$HOME' g++");
    strbuf_release(&sb);
}

static void test_merge(void)
{
    struct strbuf log = STRBUF_INIT, db = STRBUF_INIT, src = STRBUF_INIT, text = STRBUF_INIT;
    struct compiledb_stats st;
    const char *a[] = {"gcc", "-O2", "-c", NULL, "-o", "a.o", NULL};
    const char *b[] = {"gcc", "-c", NULL, "-o", "b.o", NULL};
    char err[256];
    size_t n;

    path(&log, "log");
    path(&db, "compile_commands.json");
    path(&src, "a.c");
    CHECK_INT(fs_write_atomic(src.buf, "", 0, 0644, err, sizeof(err)), ==, 0);
    path(&src, "b.c");
    CHECK_INT(fs_write_atomic(src.buf, "", 0, 0644, err, sizeof(err)), ==, 0);
    a[3] = "a.c";
    b[2] = "b.c";
    /* no log: nothing happens, no database appears */
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK(!fs_is_file(db.buf));
    compiledb_record(log.buf, dir, a, &n, err, sizeof(err));
    compiledb_record(log.buf, dir, b, &n, err, sizeof(err));
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK_INT(st.entries, ==, 2);
    CHECK(!fs_is_file(log.buf));
    /* a.c again with other flags: replaced in place, b.c kept */
    a[1] = "-Og";
    compiledb_record(log.buf, dir, a, &n, err, sizeof(err));
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK_INT(st.entries, ==, 2);
    CHECK_INT(st.recorded, ==, 1);
    CHECK_INT(fs_read_file(db.buf, &text, err, sizeof(err)), ==, 0);
    CHECK(strstr(text.buf, "\"-Og\"") && !strstr(text.buf, "\"-O2\""));
    CHECK(strstr(text.buf, "\"a.c\"") < strstr(text.buf, "\"b.c\""));
    /* b.c removed: dropped at the next merge */
    unlink(src.buf);
    compiledb_record(log.buf, dir, a, &n, err, sizeof(err));
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK_INT(st.entries, ==, 1);
    CHECK_INT(st.dropped, ==, 1);
    /* a broken database: started afresh */
    CHECK_INT(fs_write_atomic(db.buf, "{", 1, 0644, err, sizeof(err)), ==, 0);
    compiledb_record(log.buf, dir, a, &n, err, sizeof(err));
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK(st.replaced);
    CHECK_INT(st.entries, ==, 1);
    /* many entries of many key lengths: they collide in the index (ASan checks the
     * comparisons), every one is kept */
    for (int i = 0; i < 300; i++) {
        struct strbuf f = STRBUF_INIT;
        const char *argv[] = {"gcc", "-c", NULL, NULL};

        strbuf_addf(&f, "%.*s%d.c", i % 40, "dddddddddddddddddddddddddddddddddddddddd", i);
        argv[2] = f.buf;
        compiledb_record(log.buf, dir, argv, &n, err, sizeof(err));
        strbuf_release(&f);
    }
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, 0);
    CHECK_INT(st.recorded, ==, 300);
    CHECK_INT(st.dropped, ==, 300); /* none of those files exists */
    CHECK_INT(st.entries, ==, 1);
    /* a broken log line: an error, the log stays */
    CHECK_INT(fs_write_atomic(log.buf, "{\"x\":1}\n", 8, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(compiledb_merge(log.buf, db.buf, &st, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK(fs_is_file(log.buf));
    unlink(log.buf);
    unlink(db.buf);
    path(&src, "a.c");
    unlink(src.buf);
    strbuf_release(&log);
    strbuf_release(&db);
    strbuf_release(&src);
    strbuf_release(&text);
}

static void setup(void)
{
    if (!mkdtemp(dir))
        abort();
}

static void test_all(void)
{
    setup();
    test_record();
    test_make_var();
    test_merge();
    rmdir(dir);
}

TESTS(TEST(test_all))
