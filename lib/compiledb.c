#include "lib/compat.h"
#include "lib/compiledb.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/jsonc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* s quoted for sh when it needs it, '$' doubled for make. */
static void add_word(struct strbuf *out, const char *s)
{
    bool plain = *s != '\0';

    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+,:@%=",
                       *p) != NULL;
    if (!plain)
        strbuf_addch(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            strbuf_addstr(out, "'\\''");
        else if (*p == '$')
            strbuf_addstr(out, "$$");
        else
            strbuf_addch(out, *p);
    }
    if (!plain)
        strbuf_addch(out, '\'');
}

void compiledb_make_var(struct strbuf *out, const char *name, const char *const *wrapper,
                        const char *log, const char *compiler)
{
    strbuf_addf(out, "%s=", name);
    for (; *wrapper; wrapper++) {
        add_word(out, *wrapper);
        strbuf_addch(out, ' ');
    }
    add_word(out, log);
    strbuf_addch(out, ' ');
    add_word(out, compiler);
}

static bool is_source(const char *a)
{
    static const char *const ext[] = {".c", ".cc", ".cpp", ".cxx", ".s", ".S"};
    const char *dot = strrchr(a, '.');

    if (!dot || a[0] == '-')
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(ext); i++)
        if (!strcmp(dot, ext[i]))
            return true;
    return false;
}

/* Options whose value is the next argument (so it is never a source). */
static bool takes_value(const char *a)
{
    static const char *const opts[] = {"-o",        "-MF",       "-MT",         "-MQ",
                                       "-I",        "-D",        "-U",          "-include",
                                       "-imacros",  "-isystem",  "-iquote",     "-idirafter",
                                       "-x",        "-Xlinker",  "-Xassembler", "-Xpreprocessor",
                                       "--param",   "-T",        "-L",          "-l",
                                       "-isysroot", "--sysroot", "-iprefix",    "-aux-info"};

    for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
        if (!strcmp(a, opts[i]))
            return true;
    return false;
}

static void entry_json(struct strbuf *line, const char *cwd, const char *file, const char *output,
                       const char *const *argv)
{
    struct json_writer jw;

    json_init(&jw, line);
    jw.compact = true;
    json_object_begin(&jw, NULL);
    json_string(&jw, "directory", cwd);
    json_string(&jw, "file", file);
    if (output)
        json_string(&jw, "output", output);
    json_array_begin(&jw, "arguments");
    for (const char *const *a = argv; *a; a++)
        json_string(&jw, NULL, *a);
    json_array_end(&jw);
    json_object_end(&jw);
}

int compiledb_record(const char *log, const char *cwd, const char *const *argv, size_t *recorded,
                     char *err, size_t errlen)
{
    const char *output = NULL;
    bool compiles = false;
    struct strbuf lines = STRBUF_INIT;
    int fd, rc = 0;

    *recorded = 0;
    for (size_t i = 1; argv[0] && argv[i]; i++) {
        if (!strcmp(argv[i], "-c"))
            compiles = true;
        else if (!strcmp(argv[i], "-o") && argv[i + 1])
            output = argv[i + 1];
        if (takes_value(argv[i]) && argv[i + 1])
            i++;
    }
    if (!compiles)
        return 0;
    for (size_t i = 1; argv[i]; i++) {
        if (takes_value(argv[i]) && argv[i + 1]) {
            i++;
            continue;
        }
        if (!is_source(argv[i]))
            continue;
        entry_json(&lines, cwd, argv[i], output, argv);
        (*recorded)++;
    }
    if (!lines.len)
        return 0;
    fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot open '%s': %s", log, strerror(errno));
    else if (write(fd, lines.buf, lines.len) != (ssize_t)lines.len)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot write '%s': %s", log, strerror(errno));
    if (fd >= 0)
        close(fd);
    strbuf_release(&lines);
    return rc;
}

/* One entry: its identity and its text as the database carries it. */
struct cdb_entry {
    char *key; /* directory NUL file NUL output */
    size_t key_len;
    char *path; /* the source, absolute */
    char *json; /* compact */
};

struct cdb {
    struct cdb_entry *v;
    size_t n, alloc;
    size_t *slot; /* open addressing over key hashes: index + 1, 0 = empty */
    size_t nr_slots;
};

static uint64_t key_hash(const char *k, size_t len)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

/* The slot of `key`: where it is, or the empty one where it would go. */
static size_t *find_slot(struct cdb *db, const char *key, size_t len)
{
    size_t i = (size_t)(key_hash(key, len) & (db->nr_slots - 1));

    while (db->slot[i] &&
           (db->v[db->slot[i] - 1].key_len != len || memcmp(db->v[db->slot[i] - 1].key, key, len)))
        i = (i + 1) & (db->nr_slots - 1);
    return &db->slot[i];
}

/* Keep the table at most half full. */
static void grow_slots(struct cdb *db)
{
    if (db->n * 2 < db->nr_slots)
        return;
    free(db->slot);
    db->nr_slots = db->nr_slots ? db->nr_slots * 2 : 64;
    db->slot = xcalloc(db->nr_slots, sizeof(*db->slot));
    for (size_t i = 0; i < db->n; i++)
        *find_slot(db, db->v[i].key, db->v[i].key_len) = i + 1;
}

static const char *str_member(const struct jsonc_node *o, const char *k)
{
    const struct jsonc_node *n = jsonc_get(o, k);

    return n && n->type == JSONC_STRING ? n->str : NULL;
}

/* Add (or replace in place) the entry `o` of `text`. */
static int cdb_put(struct cdb *db, const struct jsonc_node *o, const char *text, const char *name,
                   char *err, size_t errlen)
{
    const char *dir = str_member(o, "directory"), *file = str_member(o, "file");
    const char *output = str_member(o, "output");
    struct strbuf key = STRBUF_INIT, path = STRBUF_INIT, json = STRBUF_INIT;
    size_t i, *slot;

    if (o->type != JSONC_OBJECT || !dir || !file || !jsonc_get(o, "arguments"))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "%s: an entry without \"directory\", \"file\" and \"arguments\"", name);
    strbuf_addf(&key, "%s%c%s%c%s", dir, 0, file, 0, output ? output : "");
    if (file[0] == '/')
        strbuf_addstr(&path, file);
    else
        fs_path_join(&path, dir, file);
    jsonc_write(&json, o, text, NULL, NULL, NULL);
    grow_slots(db);
    slot = find_slot(db, key.buf, key.len);
    if (!*slot) {
        XGROW(db->v, db->alloc, db->n + 1);
        i = db->n++;
        *slot = db->n;
    } else {
        i = *slot - 1;
        free(db->v[i].key);
        free(db->v[i].path);
        free(db->v[i].json);
    }
    db->v[i].key = xmalloc(key.len + 1);
    memcpy(db->v[i].key, key.buf, key.len + 1);
    db->v[i].key_len = key.len;
    db->v[i].path = strbuf_detach(&path, NULL);
    db->v[i].json = strbuf_detach(&json, NULL);
    strbuf_release(&key);
    return 0;
}

static void cdb_release(struct cdb *db)
{
    for (size_t i = 0; i < db->n; i++) {
        free(db->v[i].key);
        free(db->v[i].path);
        free(db->v[i].json);
    }
    free(db->v);
    free(db->slot);
}

static int load_db(struct cdb *db, const char *path, char *err, size_t errlen)
{
    struct strbuf text = STRBUF_INIT;
    struct jsonc_doc doc;
    int rc = fs_read_file(path, &text, err, errlen);

    jsonc_doc_init(&doc);
    if (rc == OMV_ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc == 0)
        rc = jsonc_parse(&doc, text.buf, text.len, path, JSONC_STRICT, err, errlen);
    if (rc == 0 && (!doc.root || doc.root->type != JSONC_ARRAY))
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: not a JSON array", path);
    for (size_t i = 0; rc == 0 && i < doc.root->nr_kids; i++)
        rc = cdb_put(db, &doc.root->kids[i], text.buf, path, err, errlen);
out:
    jsonc_doc_release(&doc);
    strbuf_release(&text);
    return rc;
}

static int load_log(struct cdb *db, const struct strbuf *text, const char *path, size_t *nr,
                    char *err, size_t errlen)
{
    int rc = 0;

    for (size_t pos = 0; rc == 0 && pos < text->len;) {
        const char *nl = memchr(text->buf + pos, '\n', text->len - pos);
        size_t end = nl ? (size_t)(nl - text->buf) : text->len;
        struct jsonc_doc doc;

        jsonc_doc_init(&doc);
        rc = jsonc_parse(&doc, text->buf + pos, end - pos, path, JSONC_STRICT, err, errlen);
        if (rc == 0 && doc.root)
            rc = cdb_put(db, doc.root, text->buf + pos, path, err, errlen);
        if (rc == 0 && doc.root)
            (*nr)++;
        jsonc_doc_release(&doc);
        pos = end + 1;
    }
    return rc;
}

int compiledb_merge(const char *log, const char *db_path, struct compiledb_stats *st, char *err,
                    size_t errlen)
{
    struct strbuf text = STRBUF_INIT, out = STRBUF_INIT;
    struct cdb db = {NULL, 0, 0, NULL, 0};
    int rc;

    memset(st, 0, sizeof(*st));
    rc = fs_read_file(log, &text, err, errlen);
    if (rc == OMV_ENOENT) {
        rc = 0;
        goto out;
    }
    if (rc == 0 && load_db(&db, db_path, err, errlen) < 0) {
        cdb_release(&db);
        memset(&db, 0, sizeof(db));
        st->replaced = true;
    }
    if (rc == 0)
        rc = load_log(&db, &text, log, &st->recorded, err, errlen);
    if (rc < 0)
        goto out;
    strbuf_addstr(&out, "[");
    for (size_t i = 0; i < db.n; i++) {
        if (!fs_is_file(db.v[i].path)) {
            st->dropped++;
            continue;
        }
        strbuf_addf(&out, "%s\n  %s", st->entries++ ? "," : "", db.v[i].json);
    }
    strbuf_addstr(&out, st->entries ? "\n]\n" : "]\n");
    rc = fs_write_atomic(db_path, out.buf, out.len, 0666 & ~(mode_t)022, err, errlen);
    if (rc == 0 && unlink(log) < 0)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", log, strerror(errno));
out:
    cdb_release(&db);
    strbuf_release(&text);
    strbuf_release(&out);
    return rc;
}
