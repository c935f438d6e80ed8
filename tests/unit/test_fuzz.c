/*
 * Fuzz-style tests for every parser of outside input in this module set:
 * INI config text, config edits, board files and command-line options. Each
 * runs many deterministic random mutations of valid input and checks that the
 * parser either accepts it or rejects it with a located message, never
 * crashes (ASan/UBSan watch the run) and never half-applies.
 */
#include "tests/unit/test.h"

#include "flash/dfu_file.h"
#include "lib/config.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/jsonc.h"
#include "lib/opts.h"
#include "lib/strbuf.h"
#include "targets/targets.h"

#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

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

/* ---- time-bounded harnesses (OMVDEV_FUZZ_SECONDS, OMVDEV_FUZZ_SEED) ------------------- */

/* Flip, insert (bytes or metacharacters), delete or duplicate a run, cut. */
static void fuzz_mutate(struct fuzz *f, struct strbuf *sb, const char *meta)
{
    int rounds = 1 + (int)fuzz_rand(f, 4);

    for (int r = 0; r < rounds; r++) {
        size_t at = sb->len ? fuzz_rand(f, (uint32_t)sb->len) : 0;
        struct strbuf t = STRBUF_INIT;
        size_t n;

        switch (fuzz_rand(f, 6)) {
        case 0:
            if (sb->len)
                sb->buf[at] = (char)fuzz_rand(f, 256);
            break;
        case 1:
        case 2:
            strbuf_add(&t, sb->buf, at);
            n = 1 + fuzz_rand(f, 3);
            for (size_t i = 0; i < n; i++)
                strbuf_addch(&t, meta[fuzz_rand(f, (uint32_t)strlen(meta))]);
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        case 3:
            n = fuzz_rand(f, 16);
            if (at + n > sb->len)
                n = sb->len - at;
            memmove(sb->buf + at, sb->buf + at + n, sb->len - at - n);
            strbuf_setlen(sb, sb->len - n);
            break;
        case 4:
            n = fuzz_rand(f, 64);
            if (at + n > sb->len)
                n = sb->len - at;
            strbuf_add(&t, sb->buf, at + n);
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        default:
            if (fuzz_rand(f, 4) == 0)
                strbuf_setlen(sb, at);
            break;
        }
    }
}

/* The .dfu parser: accepted files are self-consistent and rebuild to the same elements. */
static void check_dfu_rebuild(struct fuzz *f, const struct dfu_file *d)
{
    struct strbuf again = STRBUF_INIT;
    struct dfu_file d2 = DFU_FILE_INIT;
    char err[256];

    if (!d->dfuse)
        return;
    if (dfu_file_build_dfuse(&again, d->vid, d->pid, d->targets, d->nr_targets, err, sizeof(err)) <
        0)
        return; /* e.g. elements the builder refuses to place: not a parser property */
    if (dfu_file_parse(&d2, (const uint8_t *)again.buf, again.len, err, sizeof(err)) < 0) {
        FUZZ_FAIL(f, "a rebuilt DfuSe file does not parse: %s", err);
    } else if (d2.nr_targets != d->nr_targets) {
        FUZZ_FAIL(f, "rebuilt with %zu targets, not %zu", d2.nr_targets, d->nr_targets);
    } else {
        for (size_t i = 0; i < d->nr_targets; i++) {
            const struct dfu_target *a = &d->targets[i], *b = &d2.targets[i];

            if (a->alt != b->alt || a->nr != b->nr) {
                FUZZ_FAIL(f, "target %zu changed on rebuild", i);
                continue;
            }
            for (size_t j = 0; j < a->nr; j++)
                if (a->elems[j].address != b->elems[j].address ||
                    a->elems[j].size != b->elems[j].size ||
                    memcmp(a->elems[j].data, b->elems[j].data, a->elems[j].size))
                    FUZZ_FAIL(f, "element %zu.%zu changed on rebuild", i, j);
        }
    }
    dfu_file_release(&d2);
    strbuf_release(&again);
}

static void test_fuzz_dfu_timed(void)
{
    static const uint8_t data[] = "0123456789abcdefghij";
    struct dfu_element e[3] = {
        {0x08040000, 20, data}, {0x08041000, 5, data}, {0x90000000, 8, data}};
    struct dfu_target t[2] = {{0, true, "Internal Flash", e, 2}, {1, true, "QSPI", e + 2, 1}};
    struct strbuf seeds[3] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
    unsigned long accepted = 0;
    struct fuzz f;
    char err[512];

    CHECK_INT(dfu_file_build_dfuse(&seeds[0], 0x37C5, 0x9204, t, 1, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_build_dfuse(&seeds[1], 0x0483, 0xDF11, t, 2, err, sizeof(err)), ==, 0);
    dfu_file_build_plain(&seeds[2], data, sizeof(data), 0x37C5, 0x9204, 0xFFFF);
    fuzz_begin(&f, "dfu", 0xD0F1D0F1D0F1D0F1u, 0);
    while (fuzz_next(&f)) {
        const struct strbuf *b = &seeds[fuzz_rand(&f, 3)];
        struct strbuf sb = STRBUF_INIT;
        struct dfu_file d = DFU_FILE_INIT;
        uint8_t *copy;
        int rc;

        strbuf_add(&sb, b->buf, b->len);
        fuzz_mutate(&f, &sb, "\x00\x01\x10\xff\x1a\x11");
        if (sb.len >= 4 && fuzz_rand(&f, 4)) {
            uint32_t crc = dfu_crc32(sb.buf, sb.len - 4); /* usually: get past the CRC */

            for (size_t k = 0; k < 4; k++)
                sb.buf[sb.len - 4 + k] = (char)(crc >> (8 * k));
        }
        copy = malloc(sb.len ? sb.len : 1); /* exactly sb.len bytes: ASan sees overreads */
        memcpy(copy, sb.buf, sb.len);
        rc = dfu_file_parse(&d, copy, sb.len, err, sizeof(err));
        if (rc == 0) {
            accepted++;
            if (d.payload_len + d.suffix_len != sb.len)
                FUZZ_FAIL(&f, "payload and suffix do not cover the file");
            check_dfu_rebuild(&f, &d);
        } else if (rc != OMV_EPARSE || !err[0] || strchr(err, '\n')) {
            FUZZ_FAIL(&f, "rejected with %d '%s'", rc, err);
        }
        dfu_file_release(&d);
        free(copy);
        strbuf_release(&sb);
    }
    CHECK(accepted > 0);
    for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
        strbuf_release(&seeds[i]);
}

/* Config text a user might write: comments, continuations, indentation, a BOM, CRLF. */
static const char *const ini_seeds[] = {
    ("; user settings\n[core]\ncolor = never ; inline\n\n[sdk]\nmirror = http://a\n"
     "  http://b\n# note\nretries = 3\n[build]\ntarget = OPENMV4\n"),
    "\xEF\xBB\xBF[sdk]\r\nretries=2\r\n[targets]\r\n  format = rst\r\n",
    "[sdk]\nmirror = x\n\n; c\n    continued = line\n[sdk]\nretries : 9\n[ core ]\ncolor=auto\n",
    "",
};
static const char *const ini_keys[][2] = {
    {"sdk", "mirror"},   {"sdk", "retries"},    {"core", "color"},
    {"build", "target"}, {"targets", "format"}, {"new", "key"},
};

/* Every comment line the user wrote is still in the text. */
static bool comments_kept(const char *in, const char *out)
{
    for (const char *l = in; *l;) {
        const char *nl = strchr(l, '\n'), *p = l;
        size_t n = nl ? (size_t)(nl - l) : strlen(l);

        while (p < l + n && (*p == ' ' || *p == '\t'))
            p++;
        if (p < l + n && (*p == ';' || *p == '#')) {
            char *line = xstrndup(l, n);
            bool found = strstr(out, line) != NULL;

            free(line);
            if (!found)
                return false;
        }
        l = nl ? nl + 1 : l + n;
    }
    return true;
}

/* One edit's invariants: refused means no output; done means it parses, reads back
 * as asked, keeps every other key's value and every comment. */
static void check_ini_edit(struct fuzz *f, const char *in, size_t len, const char *sec,
                           const char *name, const char *value)
{
    struct cfg before = CFG_INIT, after = CFG_INIT;
    char *out = NULL, err[512];
    size_t outlen = 0;
    int parses = cfg_parse_string(&before, in, len, "in", CFG_LEVEL_USER, NULL, 0) == 0;
    int rc = cfg_edit_string(in, len, "in", sec, name, value, &out, &outlen, err, sizeof(err));
    const struct cfg_entry *e;

    if (rc < 0) {
        if (out)
            FUZZ_FAIL(f, "a refused edit produced text");
        if (!parses && rc != OMV_EPARSE && !(value && cfg_check_value(value, NULL, 0) < 0))
            FUZZ_FAIL(f, "unparseable input refused with %d", rc);
        goto out;
    }
    if (!parses)
        FUZZ_FAIL(f, "an input that does not parse was edited");
    if (cfg_parse_string(&after, out, outlen, "out", CFG_LEVEL_USER, err, sizeof(err)) < 0) {
        FUZZ_FAIL(f, "the edit does not parse: %s\n%s", err, out);
        goto out;
    }
    e = cfg_lookup(&after, sec, name);
    if (value ? !e || strcmp(e->value, value) : e != NULL)
        FUZZ_FAIL(f, "%s.%s reads back as '%s'", sec, name, e ? e->value : "(unset)");
    for (size_t i = 0; i < before.nr; i++) {
        const struct cfg_entry *b = &before.entries[i];

        if (!cfg_entry_wins(&before, b) ||
            (!strcasecmp(b->section, sec) && !strcasecmp(b->name, name)))
            continue;
        e = cfg_lookup(&after, b->section, b->name);
        if (!e || strcmp(e->value, b->value))
            FUZZ_FAIL(f, "%s.%s was lost or changed", b->section, b->name);
    }
    if (!comments_kept(in, out))
        FUZZ_FAIL(f, "a comment was lost:\n%s\n--- became\n%s", in, out);
out:
    free(out);
    cfg_release(&before);
    cfg_release(&after);
}

/* A refused edit of a file leaves it byte for byte. */
static void check_ini_file_refusal(struct fuzz *f, const char *in, size_t len)
{
    char path[] = "/tmp/omvdev-fuzz-XXXXXX", err[512];
    struct strbuf back = STRBUF_INIT;
    char value[300];
    int fd = mkstemp(path);

    if (fd < 0 || write(fd, in, len) != (ssize_t)len) {
        FUZZ_FAIL(f, "cannot write %s", path);
        goto out;
    }
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    /* too long for a line, and a value with a line break: always refused */
    if (cfg_edit_file(path, "sdk", "mirror", value, err, sizeof(err)) == 0 ||
        cfg_edit_file(path, "sdk", "mirror", "a\nb", err, sizeof(err)) == 0)
        FUZZ_FAIL(f, "an impossible value was stored");
    if (fs_read_file(path, &back, err, sizeof(err)) < 0 || back.len != len ||
        memcmp(back.buf, in, len))
        FUZZ_FAIL(f, "a refused edit changed the file");
out:
    if (fd >= 0)
        close(fd);
    unlink(path);
    strbuf_release(&back);
}

static void test_fuzz_ini_edit_timed(void)
{
    static const char alphabet[] = "abcXYZ09 ;#=:[]\"'\\/.-_\t\x1b\xff";
    struct fuzz f;

    fuzz_begin(&f, "ini-edit", 0x1E1D1E1D1E1D1E1Du, 0);
    while (fuzz_next(&f)) {
        struct strbuf sb = STRBUF_INIT;
        const char *const *k = ini_keys[fuzz_rand(&f, ARRAY_SIZE(ini_keys))];
        char value[240];
        size_t n = fuzz_rand(&f, 8) ? fuzz_rand(&f, 24) : fuzz_rand(&f, sizeof(value));

        strbuf_addstr(&sb, ini_seeds[fuzz_rand(&f, ARRAY_SIZE(ini_seeds))]);
        if (fuzz_rand(&f, 2))
            fuzz_mutate(&f, &sb, "[]=;#: \t\n\r");
        for (size_t i = 0; i < n; i++)
            value[i] = alphabet[fuzz_rand(&f, sizeof(alphabet) - 1)];
        value[n] = '\0';
        check_ini_edit(&f, sb.buf, sb.len, k[0], k[1], fuzz_rand(&f, 3) ? value : NULL);
        /* set then unset: the key is gone and nothing else moved */
        if (fuzz_rand(&f, 4) == 0) {
            char *out = NULL, err[256];
            size_t len;

            if (cfg_edit_string(sb.buf, sb.len, "in", k[0], k[1], "x", &out, &len, err,
                                sizeof(err)) == 0)
                check_ini_edit(&f, out, len, k[0], k[1], NULL);
            free(out);
        }
        if (fuzz_rand(&f, 32) == 0)
            check_ini_file_refusal(&f, sb.buf, sb.len);
        strbuf_release(&sb);
    }
}

/* The JSONC merge: user entries and comments kept byte for byte, the output parses,
 * a refusal produces nothing. */
static const char jsonc_skeleton[] = "{\"version\":\"0.2.0\",\"configurations\":[]}";
static const char *const jsonc_seeds[] = {
    "// mine\n{\n    \"version\": \"0.2.0\", /* v */\n    \"configurations\": [\n"
    "        {\"name\": \"my probe\", \"type\": \"cortex-debug\", \"x\": [1, 2,],},\n"
    "        // keep me\n        {\"name\": \"other\", \"a\": {\"b\": null}}\n    ],\n}\n",
    "{\r\n\t\"configurations\": [\r\n\t\t{\"name\": \"\\u00e9\\\"q\", \"k\": true}\r\n\t]\r\n}",
    "/* only a comment */",
    "",
};

static bool contains(const char *hay, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (!memcmp(hay + i, needle, n))
            return true;
    return false;
}

static void check_jsonc_merge(struct fuzz *f, const char *in, size_t len)
{
    static const char *const gen[] = {
        "{\"name\":\"OpenMV A (J-Link)\",\"type\":\"cortex-debug\",\"device\":\"X\"}",
        "{\"name\":\"OpenMV B (J-Link)\",\"type\":\"cortex-debug\"}",
    };
    struct jsonc_merge_item items[2] = {{gen[0], JSONC_MERGE_ADDED}, {gen[1], JSONC_MERGE_ADDED}};
    struct jsonc_doc before, after;
    struct strbuf out = STRBUF_INIT;
    char err[256];
    int parses, rc;

    jsonc_doc_init(&before);
    jsonc_doc_init(&after);
    parses = jsonc_parse(&before, in, len, "in", 0, NULL, 0) == 0;
    rc = jsonc_merge_array(in, len, "in", jsonc_skeleton, "configurations", "name", "omvdev", items,
                           2, fuzz_rand(f, 2), &out, err, sizeof(err));
    if (rc < 0) {
        if (out.len)
            FUZZ_FAIL(f, "a refused merge produced text");
        if (!err[0])
            FUZZ_FAIL(f, "refused without a message");
        goto out;
    }
    if (!parses)
        FUZZ_FAIL(f, "a document that does not parse was merged");
    if (jsonc_parse(&after, out.buf, out.len, "out", 0, err, sizeof(err)) < 0) {
        FUZZ_FAIL(f, "the merge does not parse: %s\n%s", err, out.buf);
        goto out;
    }
    /* Every element of the user's array that is not ours is there byte for byte. */
    if (before.root && before.root->type == JSONC_OBJECT) {
        const struct jsonc_node *c = jsonc_get(before.root, "configurations");

        for (size_t i = 0; c && c->type == JSONC_ARRAY && i < c->nr_kids; i++) {
            const struct jsonc_node *k = &c->kids[i];

            if (k->type == JSONC_OBJECT && jsonc_get(k, "omvdev"))
                continue;
            if (!contains(out.buf, out.len, in + k->start, k->end - k->start))
                FUZZ_FAIL(f, "user entry %zu was lost:\n%s\n--- became\n%s", i, in, out.buf);
        }
    }
    /* And the text before the first value (header comments) too. */
    if (before.root && memcmp(out.buf, in, before.root->start))
        FUZZ_FAIL(f, "the header changed");
out:
    jsonc_doc_release(&before);
    jsonc_doc_release(&after);
    strbuf_release(&out);
}

static void test_fuzz_jsonc_merge_timed(void)
{
    struct fuzz f;

    fuzz_begin(&f, "jsonc-merge", 0x15011501150115u, 0);
    while (fuzz_next(&f)) {
        struct strbuf sb = STRBUF_INIT;

        strbuf_addstr(&sb, jsonc_seeds[fuzz_rand(&f, ARRAY_SIZE(jsonc_seeds))]);
        if (fuzz_rand(&f, 4))
            fuzz_mutate(&f, &sb, "{}[],:\"/*\\\n\r\t 0e.u");
        check_jsonc_merge(&f, sb.buf, sb.len);
        strbuf_release(&sb);
    }
}

TESTS(TEST(test_fuzz_config_parse), TEST(test_fuzz_config_edit_roundtrip),
      TEST(test_fuzz_board_files), TEST(test_fuzz_options), TEST(test_fuzz_dfu_timed),
      TEST(test_fuzz_ini_edit_timed), TEST(test_fuzz_jsonc_merge_timed))
