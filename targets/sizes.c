/*
 * Size records of a board build (sizes.h): measured from build/<T>/bin, saved as text,
 * compared as tables or JSON.
 */
#include "lib/compat.h"

#include "targets/sizes.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "lib/table.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SIZES_MAGIC "omvdev-sizes 1"

void size_rec_release(struct size_rec *r)
{
    for (size_t i = 0; i < r->nr; i++) {
        free(r->items[i].file);
        free(r->items[i].section);
    }
    free(r->items);
    free(r->target);
    memset(r, 0, sizeof(*r));
}

static void rec_add(struct size_rec *r, enum size_kind kind, const char *file, const char *section,
                    uint64_t size, uint64_t max)
{
    struct size_entry *e;

    XGROW(r->items, r->alloc, r->nr + 1);
    e = &r->items[r->nr++];
    e->kind = kind;
    e->file = xstrdup(file);
    e->section = section ? xstrdup(section) : NULL;
    e->size = size;
    e->max = max;
}

uint64_t sizes_partition(const struct part_layout *layout, const struct target *board,
                         const char *file)
{
    const struct part_size *ps = layout ? part_layout_find(layout, file) : NULL;

    if (ps && ps->max)
        return ps->max;
    for (size_t k = 0; board && k < board->nr_images; k++)
        if (!strcmp(board->images[k].file, file))
            return board->images[k].max_size;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && !strcmp(s + n - m, suffix);
}

/* Sections that say nothing about flash or RAM use: debug information and notes. */
static bool section_counts(const char *name)
{
    return strncmp(name, ".debug", 6) && strncmp(name, ".stab", 5) && strcmp(name, ".comment") &&
           strcmp(name, ".ARM.attributes");
}

/* Parse `arm-none-eabi-size --format=SysV` output for one ELF into r. */
static int parse_sysv(struct size_rec *r, const char *elf, const char *text, char *err,
                      size_t errlen)
{
    const char *line = text;
    bool header = false;

    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char name[128], buf[256];
        unsigned long long size, addr;

        snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), line);
        line += len + (nl ? 1 : 0);
        if (!header) {
            header = !strncmp(buf, "section ", 8);
            continue;
        }
        if (!buf[0] || !strncmp(buf, "Total ", 6))
            continue;
        if (sscanf(buf, "%127s %llu %llu", name, &size, &addr) != 3)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "unexpected line from arm-none-eabi-size for '%s': '%s'", elf, buf);
        if (section_counts(name))
            rec_add(r, SIZE_SECTION, elf, name, size, 0);
    }
    if (!header)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "arm-none-eabi-size printed no section table for '%s'", elf);
    return 0;
}

static int measure_elf(struct size_rec *r, const struct sizes_input *in, const char *name,
                       char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    const char *argv[] = {"arm-none-eabi-size", "--format=SysV", NULL, NULL};
    struct proc_spec spec;
    struct proc p;
    int rc;

    fs_path_join(&path, in->bin_dir, name);
    argv[2] = path.buf;
    memset(&spec, 0, sizeof(spec));
    spec.argv = argv;
    spec.envp = in->envp;
    spec.out = PROC_CAPTURE;
    spec.err = PROC_CAPTURE;
    spec.stdin_null = true;
    rc = proc_run(&p, &spec, -1, err, errlen);
    if (rc < 0)
        goto out;
    if (!p.exited || p.exit_code != 0) {
        strbuf_trim_trailing(&p.err);
        rc = omv_seterr(err, errlen, OMV_EIO, "'arm-none-eabi-size %s' failed%s%s", path.buf,
                        p.err.len ? ": " : "", p.err.buf);
    } else {
        rc = parse_sysv(r, name, p.out.buf, err, errlen);
    }
    proc_release(&p);
out:
    strbuf_release(&path);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sizes_measure(struct size_rec *r, const struct sizes_input *in, char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    char **names = NULL;
    size_t nr = 0, alloc = 0, elfs = 0;
    struct dirent *e;
    DIR *d = opendir(in->bin_dir);
    int rc = 0;

    if (!d && errno == ENOENT)
        return omv_seterr(err, errlen, OMV_ENOENT, "no build of %s: '%s' holds no .elf file",
                          in->target, in->bin_dir);
    if (!d)
        return omv_seterr(err, errlen, OMV_EIO, "cannot open '%s': %s", in->bin_dir,
                          strerror(errno));
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        XGROW(names, alloc, nr + 1);
        names[nr++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (nr)
        qsort(names, nr, sizeof(*names), cmp_str);
    free(r->target);
    r->target = xstrdup(in->target);
    for (size_t i = 0; i < nr && rc == 0; i++) {
        struct stat st;

        strbuf_reset(&path);
        fs_path_join(&path, in->bin_dir, names[i]);
        if (stat(path.buf, &st) < 0 || !S_ISREG(st.st_mode) || strpbrk(names[i], " \t\n"))
            continue;
        if (ends_with(names[i], ".elf")) {
            elfs++;
            rc = measure_elf(r, in, names[i], err, errlen);
        } else if (!ends_with(names[i], ".map")) {
            rec_add(r, SIZE_IMAGE, names[i], NULL, (uint64_t)st.st_size,
                    sizes_partition(in->layout, in->board, names[i]));
        }
    }
    if (rc == 0 && !elfs)
        rc = omv_seterr(err, errlen, OMV_ENOENT, "no build of %s: '%s' holds no .elf file",
                        in->target, in->bin_dir);
    for (size_t i = 0; i < nr; i++)
        free(names[i]);
    free(names);
    strbuf_release(&path);
    return rc;
}

int sizes_save(const struct size_rec *r, const char *path, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT, dir = STRBUF_INIT;
    const char *slash = strrchr(path, '/');
    int rc = 0;

    strbuf_addf(&sb, "%s\ntarget %s\n", SIZES_MAGIC, r->target);
    for (size_t i = 0; i < r->nr; i++) {
        const struct size_entry *e = &r->items[i];

        if (e->kind == SIZE_IMAGE)
            strbuf_addf(&sb, "image %s %" PRIu64 " %" PRIu64 "\n", e->file, e->size, e->max);
        else
            strbuf_addf(&sb, "section %s %s %" PRIu64 "\n", e->file, e->section, e->size);
    }
    if (slash && slash != path) {
        strbuf_add(&dir, path, (size_t)(slash - path));
        rc = fs_mkdir_p(dir.buf, 0755, err, errlen);
    }
    if (rc == 0)
        rc = fs_write_atomic(path, sb.buf, sb.len, 0644, err, errlen);
    strbuf_release(&sb);
    strbuf_release(&dir);
    return rc;
}

/* One line of a record after the magic; 0, or OMV_EPARSE without a message. */
static int parse_line(struct size_rec *r, const char *line)
{
    char a[128], b[128];
    unsigned long long size, max;
    int n = 0;

    if (sscanf(line, "target %127s%n", a, &n) == 1 && !line[n] && !r->target) {
        r->target = xstrdup(a);
        return 0;
    }
    if (sscanf(line, "image %127s %llu %llu%n", a, &size, &max, &n) == 3 && !line[n]) {
        rec_add(r, SIZE_IMAGE, a, NULL, size, max);
        return 0;
    }
    if (sscanf(line, "section %127s %127s %llu%n", a, b, &size, &n) == 3 && !line[n]) {
        rec_add(r, SIZE_SECTION, a, b, size, 0);
        return 0;
    }
    return OMV_EPARSE;
}

int sizes_load(struct size_rec *r, const char *path, char *err, size_t errlen)
{
    struct strbuf text = STRBUF_INIT;
    char *line, *save = NULL;
    int rc, lineno = 1;

    rc = fs_read_file(path, &text, err, errlen);
    if (rc < 0)
        goto out;
    line = strtok_r(text.buf, "\n", &save);
    if (!line || strcmp(line, SIZES_MAGIC)) {
        rc = omv_seterr(err, errlen, OMV_EPARSE,
                        "%s:1: not a size record of omvdev (no '" SIZES_MAGIC "' line)", path);
        goto out;
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        lineno++;
        if (parse_line(r, line) < 0) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%d: not a size record line: '%.80s'", path,
                            lineno, line);
            goto out;
        }
    }
    if (!r->target)
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: no 'target' line", path);
out:
    strbuf_release(&text);
    return rc;
}

static const struct size_entry *rec_find(const struct size_rec *r, const struct size_entry *like)
{
    for (size_t i = 0; r && i < r->nr; i++) {
        const struct size_entry *e = &r->items[i];

        if (e->kind == like->kind && !strcmp(e->file, like->file) &&
            (e->kind == SIZE_IMAGE || !strcmp(e->section, like->section)))
            return e;
    }
    return NULL;
}

/* A signed byte count: "+120", "-8", "0". */
static void signed_bytes(char *buf, size_t len, uint64_t before, uint64_t after)
{
    if (after >= before)
        snprintf(buf, len, "%s%" PRIu64, after > before ? "+" : "", after - before);
    else
        snprintf(buf, len, "-%" PRIu64, before - after);
}

static void fill(char *buf, size_t len, const struct size_entry *e)
{
    if (!e || !e->max)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f %%", (double)e->size * 100.0 / (double)e->max);
}

/* Every entry of `kind` in cur, then those only old has: each once, in a stable order. */
struct diff_row {
    const struct size_entry *old, *cur;
};

static size_t diff_rows(const struct size_rec *old, const struct size_rec *cur, enum size_kind kind,
                        struct diff_row **rows)
{
    size_t n = 0;

    *rows = xcalloc(old->nr + cur->nr + 1, sizeof(**rows));
    for (size_t i = 0; i < cur->nr; i++)
        if (cur->items[i].kind == kind)
            (*rows)[n++] = (struct diff_row){rec_find(old, &cur->items[i]), &cur->items[i]};
    for (size_t i = 0; i < old->nr; i++)
        if (old->items[i].kind == kind && !rec_find(cur, &old->items[i]))
            (*rows)[n++] = (struct diff_row){&old->items[i], NULL};
    return n;
}

static bool row_changed(const struct diff_row *d)
{
    return !d->old || !d->cur || d->old->size != d->cur->size || d->old->max != d->cur->max;
}

static void json_size(struct json_writer *jw, const char *key, const struct size_entry *e, bool max)
{
    if (!e || (max && !e->max))
        json_null(jw, key);
    else
        json_int(jw, key, (int64_t)(max ? e->max : e->size));
}

static void diff_json(const struct diff_row *rows, size_t n, enum size_kind kind,
                      struct json_writer *jw)
{
    json_array_begin(jw, kind == SIZE_IMAGE ? "images" : "sections");
    for (size_t i = 0; i < n; i++) {
        const struct size_entry *any = rows[i].cur ? rows[i].cur : rows[i].old;
        uint64_t b = rows[i].old ? rows[i].old->size : 0, a = rows[i].cur ? rows[i].cur->size : 0;

        json_object_begin(jw, NULL);
        json_string(jw, kind == SIZE_IMAGE ? "file" : "elf", any->file);
        if (kind == SIZE_SECTION)
            json_string(jw, "section", any->section);
        json_size(jw, "before", rows[i].old, false);
        json_size(jw, "after", rows[i].cur, false);
        json_int(jw, "delta", (int64_t)a - (int64_t)b);
        if (kind == SIZE_IMAGE) {
            json_size(jw, "partition_before", rows[i].old, true);
            json_size(jw, "partition_after", rows[i].cur, true);
        }
        json_object_end(jw);
    }
    json_array_end(jw);
}

static void diff_table(const struct diff_row *rows, size_t n, enum size_kind kind,
                       enum table_format tf, struct strbuf *out)
{
    struct table tb = TABLE_INIT;
    size_t same = 0;

    if (kind == SIZE_IMAGE)
        table_header(&tb, 5, "IMAGE", "BEFORE", "AFTER", "CHANGE", "PARTITION FILL");
    else
        table_header(&tb, 5, "ELF", "SECTION", "BEFORE", "AFTER", "CHANGE");
    for (size_t i = 0; i < n; i++) {
        const struct diff_row *d = &rows[i];
        const struct size_entry *any = d->cur ? d->cur : d->old;
        char b[32] = "-", a[32] = "-", c[32], fb[32], fa[32], f[80];

        if (kind == SIZE_SECTION && !row_changed(d)) {
            same++;
            continue;
        }
        if (d->old)
            snprintf(b, sizeof(b), "%" PRIu64, d->old->size);
        if (d->cur)
            snprintf(a, sizeof(a), "%" PRIu64, d->cur->size);
        signed_bytes(c, sizeof(c), d->old ? d->old->size : 0, d->cur ? d->cur->size : 0);
        fill(fb, sizeof(fb), d->old);
        fill(fa, sizeof(fa), d->cur);
        if (!strcmp(fb, fa))
            snprintf(f, sizeof(f), "%s", fa);
        else
            snprintf(f, sizeof(f), "%s -> %s", fb, fa);
        if (kind == SIZE_IMAGE)
            table_row(&tb, any->file, b, a, c, f);
        else
            table_row(&tb, any->file, any->section, b, a, c);
    }
    if (tb.nrows > 1)
        table_render(&tb, tf, out);
    if (kind == SIZE_SECTION && same)
        strbuf_addf(out, "%s%zu section%s unchanged\n", tb.nrows > 1 ? "\n" : "", same,
                    same == 1 ? "" : "s");
    table_release(&tb);
}

void sizes_diff(const struct size_rec *old, const struct size_rec *cur, const char *label,
                enum sizes_format fmt, struct strbuf *out, struct json_writer *jw)
{
    struct diff_row *img, *sec;
    size_t ni = diff_rows(old, cur, SIZE_IMAGE, &img), ns = diff_rows(old, cur, SIZE_SECTION, &sec);

    if (fmt == SIZES_JSON) {
        json_object_begin(jw, NULL);
        json_string(jw, "target", cur->target);
        json_string(jw, "against", label);
        diff_json(img, ni, SIZE_IMAGE, jw);
        diff_json(sec, ns, SIZE_SECTION, jw);
        json_object_end(jw);
    } else {
        enum table_format tf = fmt == SIZES_MARKDOWN ? TABLE_MARKDOWN : TABLE_TEXT;

        strbuf_addf(
            out, fmt == SIZES_MARKDOWN ? "### %s: sizes against %s\n\n" : "%s: sizes against %s\n",
            cur->target, label);
        diff_table(img, ni, SIZE_IMAGE, tf, out);
        strbuf_addch(out, '\n');
        diff_table(sec, ns, SIZE_SECTION, tf, out);
    }
    free(img);
    free(sec);
}

void sizes_json_fields(const struct size_rec *r, struct json_writer *jw)
{
    for (int kind = SIZE_IMAGE; kind <= SIZE_SECTION; kind++) {
        json_array_begin(jw, kind == SIZE_IMAGE ? "images" : "sections");
        for (size_t i = 0; i < r->nr; i++) {
            const struct size_entry *e = &r->items[i];

            if ((int)e->kind != kind)
                continue;
            json_object_begin(jw, NULL);
            json_string(jw, kind == SIZE_IMAGE ? "file" : "elf", e->file);
            if (kind == SIZE_SECTION)
                json_string(jw, "section", e->section);
            json_int(jw, "size", (int64_t)e->size);
            if (kind == SIZE_IMAGE && e->max)
                json_int(jw, "partition", (int64_t)e->max);
            else if (kind == SIZE_IMAGE)
                json_null(jw, "partition");
            json_object_end(jw);
        }
        json_array_end(jw);
    }
}

void sizes_images_table(const struct size_rec *r, struct strbuf *out)
{
    struct table tb = TABLE_INIT;

    table_header(&tb, 4, "IMAGE", "SIZE", "PARTITION", "FILL");
    for (size_t i = 0; i < r->nr; i++) {
        const struct size_entry *e = &r->items[i];
        char size[32], max[32] = "-", f[32];

        if (e->kind != SIZE_IMAGE)
            continue;
        snprintf(size, sizeof(size), "%" PRIu64, e->size);
        if (e->max)
            snprintf(max, sizeof(max), "%" PRIu64, e->max);
        fill(f, sizeof(f), e);
        table_row(&tb, e->file, size, max, f);
    }
    table_render(&tb, TABLE_TEXT, out);
    table_release(&tb);
}
