/*
 * Partition sizes from a board's headers, and udev rule matching: see
 * partitions.h.
 */
#include "lib/compat.h"

#include "targets/partitions.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PART_MAX_DEPTH 8

/* ---- expressions ------------------------------------------------------------ */

struct eval {
    const char *s;
    int (*lookup)(void *ud, const char *name, size_t len, int depth, uint64_t *out);
    void *ud;
    int depth;
};

static int eval_expr(struct eval *e, uint64_t *out);

static void skip_space(struct eval *e)
{
    while (*e->s == ' ' || *e->s == '\t')
        e->s++;
}

static int eval_number(struct eval *e, uint64_t *out)
{
    uint64_t v = 0, base = 10, mul = 1;

    if (e->s[0] == '0' && (e->s[1] == 'x' || e->s[1] == 'X')) {
        base = 16;
        e->s += 2;
        if (!isxdigit((unsigned char)*e->s))
            return OMV_EPARSE;
    }
    for (;; e->s++) {
        int c = (unsigned char)*e->s, d;

        if (isdigit(c))
            d = c - '0';
        else if (base == 16 && isxdigit(c))
            d = tolower(c) - 'a' + 10;
        else
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return OMV_EPARSE;
        v = v * base + (uint64_t)d;
    }
    /* integer suffixes (U, L) and the linker-script style K/M/G */
    switch (*e->s) {
    case 'K':
    case 'k':
        mul = 1024;
        e->s++;
        break;
    case 'M':
    case 'm':
        mul = 1024 * 1024;
        e->s++;
        break;
    case 'G':
    case 'g':
        mul = 1024 * 1024 * 1024;
        e->s++;
        break;
    default:
        break;
    }
    while (*e->s == 'u' || *e->s == 'U' || *e->s == 'l' || *e->s == 'L')
        e->s++;
    if (isalnum((unsigned char)*e->s) || *e->s == '_')
        return OMV_EPARSE;
    if (v > UINT64_MAX / mul)
        return OMV_EPARSE;
    *out = v * mul;
    return 0;
}

static int eval_factor(struct eval *e, uint64_t *out)
{
    int rc;

    skip_space(e);
    if (*e->s == '(') {
        e->s++;
        if ((rc = eval_expr(e, out)) < 0)
            return rc;
        skip_space(e);
        if (*e->s != ')')
            return OMV_EPARSE;
        e->s++;
        return 0;
    }
    if (isdigit((unsigned char)*e->s))
        return eval_number(e, out);
    if (isalpha((unsigned char)*e->s) || *e->s == '_') {
        const char *name = e->s;

        while (isalnum((unsigned char)*e->s) || *e->s == '_')
            e->s++;
        if (!e->lookup || e->depth >= PART_MAX_DEPTH)
            return OMV_EPARSE;
        return e->lookup(e->ud, name, (size_t)(e->s - name), e->depth + 1, out);
    }
    return OMV_EPARSE;
}

static int eval_term(struct eval *e, uint64_t *out)
{
    uint64_t a, b;
    int rc;

    if ((rc = eval_factor(e, &a)) < 0)
        return rc;
    for (;;) {
        char op;

        skip_space(e);
        op = *e->s;
        if (op != '*' && op != '/')
            break;
        e->s++;
        if ((rc = eval_factor(e, &b)) < 0)
            return rc;
        if (op == '*') {
            if (b && a > UINT64_MAX / b)
                return OMV_EPARSE;
            a *= b;
        } else {
            if (!b)
                return OMV_EPARSE;
            a /= b;
        }
    }
    *out = a;
    return 0;
}

static int eval_expr(struct eval *e, uint64_t *out)
{
    uint64_t a, b;
    int rc;

    if ((rc = eval_term(e, &a)) < 0)
        return rc;
    for (;;) {
        char op;

        skip_space(e);
        op = *e->s;
        if (op != '+' && op != '-')
            break;
        e->s++;
        if ((rc = eval_term(e, &b)) < 0)
            return rc;
        if (op == '+') {
            if (a > UINT64_MAX - b)
                return OMV_EPARSE;
            a += b;
        } else {
            if (b > a)
                return OMV_EPARSE;
            a -= b;
        }
    }
    *out = a;
    return 0;
}

int part_eval(const char *expr,
              int (*lookup)(void *ud, const char *name, size_t len, int depth, uint64_t *out),
              void *ud, int depth, uint64_t *out)
{
    struct eval e = {expr, lookup, ud, depth};
    uint64_t v;
    int rc;

    if ((rc = eval_expr(&e, &v)) < 0)
        return rc;
    skip_space(&e);
    if (*e.s)
        return OMV_EPARSE;
    *out = v;
    return 0;
}

/* ---- #define collection ------------------------------------------------------- */

struct define {
    const char *name, *value; /* value: NUL-terminated, comments removed */
    size_t name_len;
};

struct defines {
    struct define *d;
    size_t nr, alloc;
    char *text; /* owned copy the pointers point into */
};

static int defines_lookup(void *ud, const char *name, size_t len, int depth, uint64_t *out)
{
    const struct defines *ds = ud;

    /* the last definition wins, as the preprocessor's redefinition would */
    for (size_t i = ds->nr; i-- > 0;)
        if (ds->d[i].name_len == len && !memcmp(ds->d[i].name, name, len))
            return part_eval(ds->d[i].value, defines_lookup, ud, depth, out);
    return OMV_EPARSE;
}

static void defines_collect(struct defines *ds, const char *text)
{
    char *line;

    ds->text = xstrdup(text);
    for (line = ds->text; line && *line;) {
        char *next = strchr(line, '\n'), *p = line, *name, *cut;

        if (next)
            *next++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '#')
            goto next_line;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "define", 6) || (p[6] != ' ' && p[6] != '\t'))
            goto next_line;
        p += 6;
        while (*p == ' ' || *p == '\t')
            p++;
        name = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        if (p == name || (*p != ' ' && *p != '\t'))
            goto next_line; /* empty, or a function-like macro */
        *p++ = '\0';
        if ((cut = strstr(p, "//")))
            *cut = '\0';
        if ((cut = strstr(p, "/*")))
            *cut = '\0';
        for (cut = p + strlen(p); cut > p && isspace((unsigned char)cut[-1]);)
            *--cut = '\0';
        XGROW(ds->d, ds->alloc, ds->nr + 1);
        ds->d[ds->nr].name = name;
        ds->d[ds->nr].name_len = strlen(name);
        ds->d[ds->nr].value = p;
        ds->nr++;
next_line:
        line = next;
    }
}

static void layout_set(struct part_layout *l, const char *file, uint64_t max, const char *define)
{
    for (size_t i = 0; i < l->nr; i++) {
        if (!strcmp(l->items[i].file, file)) {
            l->items[i].max = max;
            free(l->items[i].define);
            l->items[i].define = xstrdup(define);
            return;
        }
    }
    XGROW(l->items, l->alloc, l->nr + 1);
    l->items[l->nr].file = xstrdup(file);
    l->items[l->nr].max = max;
    l->items[l->nr].define = xstrdup(define);
    l->items[l->nr].header = NULL;
    l->nr++;
}

size_t part_layout_parse(struct part_layout *l, const char *text)
{
    struct defines ds = {NULL, 0, 0, NULL};
    size_t found = 0;

    defines_collect(&ds, text);
    for (size_t i = 0; i < ds.nr; i++) {
        const struct define *d = &ds.d[i];
        char file[32];
        unsigned n;
        int used = 0;
        uint64_t v;

        if (!strcmp(d->name, "OMV_FLASH_TXT_LENGTH"))
            snprintf(file, sizeof(file), "firmware.bin");
        else if (!strcmp(d->name, "OMV_FLASH_BOOT_LENGTH"))
            snprintf(file, sizeof(file), "bootloader.bin");
        else if (sscanf(d->name, "OMV_ROMFS_PART%u_LENGTH%n", &n, &used) == 1 &&
                 (size_t)used == d->name_len && n < 100)
            snprintf(file, sizeof(file), "romfs%u.img", n);
        else
            continue;
        if (part_eval(d->value, defines_lookup, &ds, 0, &v) < 0 || v == 0)
            continue;
        layout_set(l, file, v, d->name);
        found++;
    }
    free(ds.d);
    free(ds.text);
    return found;
}

/* Does `text` have a "#define NAME" line? */
static bool defines(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; (p = strstr(p, name)); p += n) {
        const char *q = p;

        if (p[n] != ' ' && p[n] != '\t')
            continue;
        while (q > text && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        if (q - text >= 7 && !strncmp(q - 7, "#define", 7))
            return true;
    }
    return false;
}

/* Which header each size's #define is in. */
static void header_of_defines(struct part_layout *l, const char *board_dir,
                              const char *const *names, size_t nr)
{
    struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;

    for (size_t h = 0; h < nr; h++) {
        strbuf_reset(&path);
        strbuf_reset(&text);
        fs_path_join(&path, board_dir, names[h]);
        if (fs_read_file_max(path.buf, &text, FS_MAX_TEXT, NULL, 0) < 0)
            continue;
        for (size_t i = 0; i < l->nr; i++)
            if (!l->items[i].header && defines(text.buf, l->items[i].define))
                l->items[i].header = xstrdup(names[h]);
    }
    strbuf_release(&path);
    strbuf_release(&text);
}

int part_layout_load(struct part_layout *l, const char *board_dir, char *err, size_t errlen)
{
    /* v5.0.0 on: board_config.h, boot_config.h; up to v4.8.x: omv_boardconfig.h,
     * omv_bootconfig.h */
    static const char *const names[] = {"board_config.h", "boot_config.h", "omv_boardconfig.h",
                                        "omv_bootconfig.h"};
    struct strbuf text = STRBUF_INIT, path = STRBUF_INIT, source = STRBUF_INIT;
    int rc = 0, seen = 0;

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        strbuf_reset(&path);
        fs_path_join(&path, board_dir, names[i]);
        rc = fs_read_file_max(path.buf, &text, FS_MAX_TEXT, err, errlen);
        if (rc == OMV_ENOENT) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            goto out;
        strbuf_addch(&text, '\n');
        strbuf_addf(&source, "%s%s", source.len ? " + " : "", names[i]);
        seen++;
    }
    if (!seen) {
        rc = omv_seterr(err, errlen, OMV_ENOENT,
                        "no board_config.h, boot_config.h, omv_boardconfig.h or omv_bootconfig.h "
                        "in '%s'",
                        board_dir);
        goto out;
    }
    part_layout_parse(l, text.buf);
    free(l->source);
    l->source = strbuf_detach(&source, NULL);
    header_of_defines(l, board_dir, names, ARRAY_SIZE(names));
out:
    strbuf_release(&text);
    strbuf_release(&path);
    strbuf_release(&source);
    return rc;
}

const struct part_size *part_layout_find(const struct part_layout *l, const char *file)
{
    for (size_t i = 0; i < l->nr; i++)
        if (!strcmp(l->items[i].file, file))
            return &l->items[i];
    return NULL;
}

void part_layout_release(struct part_layout *l)
{
    for (size_t i = 0; i < l->nr; i++) {
        free(l->items[i].file);
        free(l->items[i].define);
        free(l->items[i].header);
    }
    free(l->source);
    free(l->items);
    l->items = NULL;
    l->source = NULL;
    l->nr = l->alloc = 0;
}

/* ---- udev rules ------------------------------------------------------------------ */

/*
 * Does the value of `key` (e.g. ATTRS{idVendor}) on this rule line equal `id`
 * (4 hex digits), allowing "a|b" alternatives and "a"|"b" lists? -1 when the
 * key is not on the line.
 */
static int attr_matches(const char *line, size_t len, const char *key, unsigned id)
{
    size_t klen = strlen(key);
    char want[8];

    snprintf(want, sizeof(want), "%04x", id);
    for (size_t i = 0; i + klen < len; i++) {
        const char *p;

        if (strncasecmp(line + i, key, klen))
            continue;
        p = line + i + klen;
        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        if (p + 2 > line + len || p[0] != '=' || p[1] != '=')
            continue;
        p += 2;
        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        /* one or more quoted strings joined by '|', each holding '|'-separated values */
        while (p < line + len && *p == '"') {
            const char *end = memchr(p + 1, '"', (size_t)(line + len - p - 1));
            const char *v = p + 1;

            if (!end)
                return 0;
            while (v < end) {
                const char *bar = memchr(v, '|', (size_t)(end - v));
                const char *ve = bar ? bar : end;

                if (ve - v == 4 && !strncasecmp(v, want, 4))
                    return 1;
                v = ve + 1;
            }
            p = end + 1;
            if (p < line + len && *p == '|')
                p++;
            else
                break;
        }
        return 0;
    }
    return -1;
}

static int id_matches(const char *line, size_t len, const char *attr, unsigned id)
{
    char key[32];
    int r;

    snprintf(key, sizeof(key), "ATTRS{%s}", attr);
    if ((r = attr_matches(line, len, key, id)) >= 0)
        return r;
    snprintf(key, sizeof(key), "ATTR{%s}", attr);
    return attr_matches(line, len, key, id);
}

static bool grants_access(const char *line, size_t len)
{
    static const char *const keys[] = {"MODE", "GROUP", "uaccess"};

    for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
        size_t klen = strlen(keys[k]);

        for (size_t i = 0; i + klen <= len; i++)
            if (!memcmp(line + i, keys[k], klen))
                return true;
    }
    return false;
}

bool udev_rules_cover(const char *text, uint16_t vid, int pid)
{
    const char *line = text;

    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *p = line;

        while (p < line + len && (*p == ' ' || *p == '\t'))
            p++;
        if (p < line + len && *p != '#' && id_matches(line, len, "idVendor", vid) == 1 &&
            grants_access(line, len)) {
            int prod = pid >= 0 ? id_matches(line, len, "idProduct", (unsigned)pid) : -1;

            if (prod != 0)
                return true;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}
