/*
 * Fuzz-style tests for every parser of outside input in this module set:
 * INI config text, config edits, board files and command-line options. Each
 * runs many deterministic random mutations of valid input and checks that the
 * parser either accepts it or rejects it with a located message, never
 * crashes (ASan/UBSan watch the run) and never half-applies.
 */
#include "tests/unit/test.h"

#include "lib/config.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/opts.h"
#include "lib/strbuf.h"
#include "targets/targets.h"

#include <stdlib.h>

extern const struct embedded_file target_files[];
extern const size_t target_files_count;

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    return test_rand(&rng_state);
}

/* Flip, insert, delete, duplicate a run, or splice in an INI metacharacter. */
static void mutate(struct strbuf *sb)
{
    static const char meta[] = "[]=;#:\n\r\t \\\"\xff\x80";
    int rounds = 1 + (int)(rnd() % 4);

    for (int r = 0; r < rounds; r++) {
        size_t at = sb->len ? rnd() % sb->len : 0;

        switch (rnd() % 5) {
        case 0:
            if (sb->len)
                sb->buf[at] = (char)(rnd() & 0xff);
            break;
        case 1: {
            char c = meta[rnd() % (sizeof(meta) - 1)];
            struct strbuf t = STRBUF_INIT;

            strbuf_add(&t, sb->buf, at);
            strbuf_addch(&t, c);
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        }
        case 2:
            if (sb->len) {
                size_t n = rnd() % 16;

                if (at + n > sb->len)
                    n = sb->len - at;
                memmove(sb->buf + at, sb->buf + at + n, sb->len - at - n);
                strbuf_setlen(sb, sb->len - n);
            }
            break;
        case 3: {
            size_t n = rnd() % 64;
            struct strbuf t = STRBUF_INIT;

            if (at + n > sb->len)
                n = sb->len - at;
            strbuf_add(&t, sb->buf, at + n);
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        }
        default:
            strbuf_addchars(sb, 'k', rnd() % 300);
            break;
        }
    }
}

static const char *const config_seed = "; user settings\n"
                                       "[core]\n"
                                       "color = never ; no colour\n"
                                       "\n"
                                       "[targets]\n"
                                       "format = markdown\n"
                                       "[build]\n"
                                       "target = OPENMV4\n";

static void test_fuzz_config_parse(void)
{
    for (int i = 0; i < 20000; i++) {
        struct strbuf sb = STRBUF_INIT;
        struct cfg cfg = CFG_INIT;
        char err[512] = "";
        int rc;

        strbuf_addstr(&sb, config_seed);
        mutate(&sb);
        rc = cfg_parse_string(&cfg, sb.buf, sb.len, "f.ini", CFG_LEVEL_USER, err, sizeof(err));
        if (rc == 0) {
            for (size_t j = 0; j < cfg.nr; j++)
                CHECK(cfg.entries[j].line >= 1);
        } else {
            CHECK_INT(rc, ==, OMV_EPARSE);
            CHECK(!strncmp(err, "f.ini:", 6));
            CHECK_INT(cfg.nr, ==, 0);
        }
        cfg_release(&cfg);
        strbuf_release(&sb);
    }
}

/* Any value cfg_check_value() accepts reads back exactly after an edit. */
static void test_fuzz_config_edit_roundtrip(void)
{
    static const char alphabet[] = "abcXYZ019 ;#=:[]\"'\\/.-_\t";

    for (int i = 0; i < 5000; i++) {
        char value[24];
        size_t n = rnd() % (sizeof(value) - 1);
        char *out = NULL, err[256];
        size_t len;
        int rc;

        for (size_t j = 0; j < n; j++)
            value[j] = alphabet[rnd() % (sizeof(alphabet) - 1)];
        value[n] = '\0';
        rc = cfg_edit_string(config_seed, strlen(config_seed), "f.ini", "targets", "format", value,
                             &out, &len, err, sizeof(err));
        if (cfg_check_value(value, err, sizeof(err)) < 0) {
            CHECK_INT(rc, ==, OMV_EINVAL);
            continue;
        }
        CHECK_INT(rc, ==, 0);
        if (rc == 0) {
            struct cfg cfg = CFG_INIT;
            const struct cfg_entry *e;

            CHECK_INT(cfg_parse_string(&cfg, out, len, "out", CFG_LEVEL_USER, err, sizeof(err)), ==,
                      0);
            e = cfg_lookup(&cfg, "targets", "format");
            if (!e || strcmp(e->value, value) != 0)
                test_fail(__FILE__, __LINE__, "value '%s' came back as '%s'", value,
                          e ? e->value : "(unset)");
            e = cfg_lookup(&cfg, "core", "color");
            CHECK(e && !strcmp(e->value, "never"));
            CHECK_CONTAINS(out, "; no colour");
            cfg_release(&cfg);
        }
        free(out);
    }
}

static void test_fuzz_board_files(void)
{
    for (int i = 0; i < 20000; i++) {
        const struct embedded_file *f = &target_files[rnd() % target_files_count];
        struct strbuf sb = STRBUF_INIT;
        struct target_db db = TARGET_DB_INIT;
        char err[512] = "";
        int rc;

        strbuf_add(&sb, f->data, f->len);
        mutate(&sb);
        rc = target_db_parse(&db, f->name, sb.buf, err, sizeof(err));
        if (rc == 0) {
            CHECK_INT(db.nr, ==, 1);
        } else {
            CHECK_INT(rc, ==, OMV_EPARSE);
            CHECK(!strncmp(err, f->name, strlen(f->name)));
            CHECK_INT(db.nr, ==, 0);
        }
        target_db_release(&db);
        strbuf_release(&sb);
    }
}

static void test_fuzz_options(void)
{
    static const char *const fmts[] = {"text", "rst", NULL};
    static const struct opt opts[] = {
        {"format", 'f', OPT_VALUE, "F", "", fmts, 0, NULL},
        {"all", 'a', OPT_FLAG, NULL, "", NULL, 0, NULL},
        {"set", 'c', OPT_VALUE, "K", "", NULL, OPT_REPEAT, NULL},
        {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
    };
    static const char *const words[] = {
        "-", "--",    "-a",  "-f", "-frst", "--format", "--format=", "--format=text", "-c",
        "x", "--all", "-ac", "-h", "--set", "--al",     "-af",       "rst",           "--help=1"};

    for (int i = 0; i < 20000; i++) {
        char *argv[8];
        int argc = (int)(rnd() % 8);
        struct opt_result r;
        char err[256];
        int rc;

        for (int j = 0; j < argc; j++)
            argv[j] = (char *)(uintptr_t)words[rnd() % ARRAY_SIZE(words)];
        opt_result_init(&r, opts);
        rc = opt_parse(opts, argc, argv, rnd() % 2 ? OPT_STOP_AT_ARG : 0, &r, err, sizeof(err));
        CHECK(rc == 0 || rc == OMV_EINVAL);
        if (rc == 0) {
            const char *f = opt_value(&r, opts, "format");

            CHECK(!f || !strcmp(f, "text") || !strcmp(f, "rst"));
            CHECK(r.nr_args <= argc);
        }
        opt_result_release(&r);
    }
}

TESTS(TEST(test_fuzz_config_parse), TEST(test_fuzz_config_edit_roundtrip),
      TEST(test_fuzz_board_files), TEST(test_fuzz_options))
