#include "lib/compat.h"
#include "lib/config.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/libversion.h"
#include "lib/strbuf.h"

#include <ini.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *xstrdup_lower(const char *s)
{
    char *p = xstrdup(s);

    for (char *q = p; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    return p;
}

void cfg_release(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->nr; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].name);
        free(cfg->entries[i].value);
        free(cfg->entries[i].origin);
    }
    free(cfg->entries);
    cfg->entries = NULL;
    cfg->nr = cfg->alloc = 0;
}

void cfg_remove(struct cfg *cfg, size_t i)
{
    if (i >= cfg->nr)
        return;
    free(cfg->entries[i].section);
    free(cfg->entries[i].name);
    free(cfg->entries[i].value);
    free(cfg->entries[i].origin);
    memmove(&cfg->entries[i], &cfg->entries[i + 1], (cfg->nr - i - 1) * sizeof(cfg->entries[0]));
    cfg->nr--;
}

void cfg_add(struct cfg *cfg, enum cfg_level level, const char *section, const char *name,
             const char *value, const char *origin, unsigned line)
{
    struct cfg_entry *e;

    XGROW(cfg->entries, cfg->alloc, cfg->nr + 1);
    e = &cfg->entries[cfg->nr++];
    e->section = xstrdup(section);
    e->name = xstrdup(name);
    e->value = xstrdup(value);
    e->level = level;
    e->origin = origin ? xstrdup(origin) : NULL;
    e->line = line;
}

/* inih reads through this, so the handler knows the line it is on. */
struct ini_stream {
    const char *p, *end;
    unsigned line;
    unsigned too_long; /* first line that did not fit, 0 if none */
    unsigned nul;      /* first line with a NUL byte, 0 if none */
};

static char *ini_stream_read(char *str, int num, void *opaque)
{
    struct ini_stream *s = opaque;
    const char *nl;
    size_t n;

    if (s->p >= s->end || s->too_long || s->nul)
        return NULL;
    nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    n = nl ? (size_t)(nl - s->p) + 1 : (size_t)(s->end - s->p);
    s->line++;
    if (memchr(s->p, '\0', n)) {
        s->nul = s->line;
        return NULL;
    }
    if (n > (size_t)num - 1) {
        s->too_long = s->line;
        return NULL;
    }
    memcpy(str, s->p, n);
    str[n] = '\0';
    s->p += n;
    return str;
}

struct ini_parse_state {
    struct ini_stream stream;
    struct cfg *cfg;
    enum cfg_level level;
    const char *origin;
    char msg[128]; /* the handler's own complaint, for its line */
    unsigned msg_line;
};

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_parse_state *st = user;

    if (!*section) {
        if (!st->msg_line) {
            snprintf(st->msg, sizeof(st->msg), "key '%s' is outside any [section]", name);
            st->msg_line = st->stream.line;
        }
        return 0;
    }
    if (!*name) {
        if (!st->msg_line) {
            snprintf(st->msg, sizeof(st->msg), "missing key name before '='");
            st->msg_line = st->stream.line;
        }
        return 0;
    }
    cfg_add(st->cfg, st->level, section, name, value, st->origin, st->stream.line);
    return 1;
}

/* Why inih rejected line `line` of the text, in words. */
static const char *ini_line_problem(const char *text, size_t len, unsigned line)
{
    const char *p = text, *end = text + len;

    for (unsigned i = 1; i < line && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '[')
        return "section header is missing its closing ']'";
    return "expected 'key = value', '[section]' or a comment";
}

int cfg_parse_string(struct cfg *cfg, const char *text, size_t len, const char *origin,
                     enum cfg_level level, char *err, size_t errlen)
{
    struct cfg tmp = CFG_INIT;
    struct ini_parse_state st = {{text, text + len, 0, 0, 0}, &tmp, level, origin, "", 0};
    int line = ini_parse_stream(ini_stream_read, &st.stream, cfg_ini_handler, &st);
    int rc = 0;

    if (line < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "%s: cannot parse: out of memory", origin);
    } else if (st.stream.nul && (!line || st.stream.nul < (unsigned)line)) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%u: contains a NUL byte", origin,
                        st.stream.nul);
    } else if (st.stream.too_long && (!line || st.stream.too_long < (unsigned)line)) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%u: line is longer than %d characters", origin,
                        st.stream.too_long, INI_MAX_LINE - 2);
    } else if (line > 0) {
        const char *why =
            st.msg_line == (unsigned)line ? st.msg : ini_line_problem(text, len, (unsigned)line);
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%d: %s", origin, line, why);
    }
    if (rc < 0) {
        cfg_release(&tmp);
        return rc;
    }
    for (size_t i = 0; i < tmp.nr; i++) {
        XGROW(cfg->entries, cfg->alloc, cfg->nr + 1);
        cfg->entries[cfg->nr++] = tmp.entries[i];
    }
    free(tmp.entries);
    return 0;
}

int cfg_parse_file(struct cfg *cfg, const char *path, enum cfg_level level, char *err,
                   size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    int rc = fs_read_file_max(path, &sb, FS_MAX_TEXT, err, errlen);

    if (rc == 0)
        rc = cfg_parse_string(cfg, sb.buf, sb.len, path, level, err, errlen);
    strbuf_release(&sb);
    return rc;
}

static bool entry_is(const struct cfg_entry *e, const char *section, const char *name)
{
    return !strcasecmp(e->section, section) && !strcasecmp(e->name, name);
}

const struct cfg_entry *cfg_lookup(const struct cfg *cfg, const char *section, const char *name)
{
    const struct cfg_entry *best = NULL;

    for (size_t i = 0; i < cfg->nr; i++) {
        const struct cfg_entry *e = &cfg->entries[i];

        if (entry_is(e, section, name) && (!best || e->level >= best->level))
            best = e;
    }
    return best;
}

bool cfg_entry_wins(const struct cfg *cfg, const struct cfg_entry *e)
{
    return cfg_lookup(cfg, e->section, e->name) == e;
}

static bool valid_name(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_')
            return false;
    }
    return true;
}

int cfg_split_key(const char *key, char **section, char **name, char *err, size_t errlen)
{
    const char *dot = strrchr(key, '.');
    char *s;

    if (!dot || !valid_name(key, (size_t)(dot - key)) || !valid_name(dot + 1, strlen(dot + 1)))
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "invalid key '%s': expected section.name, e.g. 'build.target'", key);
    s = xstrndup(key, (size_t)(dot - key));
    *section = xstrdup_lower(s);
    free(s);
    *name = xstrdup_lower(dot + 1);
    return 0;
}

int cfg_check_value(const char *value, char *err, size_t errlen)
{
    size_t n = strlen(value);

    if (strpbrk(value, "\n\r"))
        return omv_seterr(err, errlen, OMV_EINVAL, "a value cannot contain a line break");
    if (n && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1])))
        return omv_seterr(err, errlen, OMV_EINVAL, "a value cannot start or end with white space");
    /* We write "key = value", so a leading ';' follows a space too. */
    for (size_t i = 0; i < n; i++)
        if (value[i] == ';' && (i == 0 || isspace((unsigned char)value[i - 1])))
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "' ;' in a value would start a comment in the file");
    return 0;
}

/* ---- editing ---------------------------------------------------------- */

/* Longest line (without its newline) the reader above accepts. */
#define CFG_MAX_LINE (INI_MAX_LINE - 2)

/*
 * What inih makes of a line. An indented non-blank line that follows a key
 * in the same section continues that key's value (inih calls the handler
 * again with the same name, so the continuation is what a lookup finds).
 */
enum ini_kind {
    INI_BLANK,
    INI_COMMENT,
    INI_SECTION,
    INI_KEY,
    INI_CONT, /* continuation of the key on line `owner` */
};

struct ini_line {
    const char *p;
    size_t len; /* without the newline */
    bool newline;
    enum ini_kind kind;
    const char *name; /* INI_SECTION: the section name; INI_KEY: the key */
    size_t nlen;
    size_t section; /* index of the section header it is under, or (size_t)-1 */
    size_t owner;   /* INI_CONT: the key line */
};

/* inih's find_chars_or_comment(): the first of `chars`, or a ';' after white space. */
static const char *find_chars_or_comment(const char *p, const char *end, const char *chars)
{
    bool was_space = false;

    while (p < end && !strchr(chars, *p) && !(was_space && *p == ';')) {
        was_space = isspace((unsigned char)*p);
        p++;
    }
    return p;
}

/* Classify every line as inih reads it; `prev_key` is the key a continuation would extend. */
static void classify(struct ini_line *lines, size_t nr)
{
    size_t section = (size_t)-1, prev_key = (size_t)-1;

    for (size_t i = 0; i < nr; i++) {
        struct ini_line *l = &lines[i];
        const char *p = l->p, *end = l->p + l->len, *e;

        while (p < end && isspace((unsigned char)*p))
            p++;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        l->section = section;
        if (p == end) {
            l->kind = INI_BLANK;
        } else if (*p == ';' || *p == '#') {
            l->kind = INI_COMMENT;
        } else if (prev_key != (size_t)-1 && p > l->p) {
            l->kind = INI_CONT;
            l->owner = prev_key;
        } else if (*p == '[') {
            e = find_chars_or_comment(p + 1, end, "]");
            l->kind = INI_SECTION;
            l->name = p + 1;
            l->nlen = (size_t)(e - (p + 1));
            section = i;
            prev_key = (size_t)-1;
        } else {
            e = find_chars_or_comment(p, end, "=:");
            while (e > p && isspace((unsigned char)e[-1]))
                e--;
            l->kind = INI_KEY;
            l->name = p;
            l->nlen = (size_t)(e - p);
            prev_key = i;
        }
    }
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return n == strlen(name) && !strncasecmp(p, name, n);
}

static bool in_section(const struct ini_line *lines, const struct ini_line *l, const char *section)
{
    const struct ini_line *h = l->section == (size_t)-1 ? NULL : &lines[l->section];

    return h && name_is(h->name, h->nlen, section);
}

/* Does line i define section.name (the key line itself, not a continuation)? */
static bool line_defines(const struct ini_line *lines, size_t i, const char *section,
                         const char *name)
{
    return lines[i].kind == INI_KEY && in_section(lines, &lines[i], section) &&
           name_is(lines[i].name, lines[i].nlen, name);
}

static void add_line(struct strbuf *out, const struct ini_line *l)
{
    strbuf_add(out, l->p, l->len);
    if (l->newline)
        strbuf_addch(out, '\n');
}

/* Rewrite a "key = value ;comment" line with a new value, keeping the
 * indentation, the key's spelling and any inline comment. */
static void add_replaced(struct strbuf *out, const struct ini_line *l, const char *value)
{
    const char *p = l->p, *end = l->p + l->len, *eq, *comment = NULL;

    eq = find_chars_or_comment(p, end, "=:");
    for (const char *q = eq + 1; q < end; q++) {
        if (*q == ';' && isspace((unsigned char)q[-1])) {
            comment = q;
            break;
        }
    }
    strbuf_add(out, p, (size_t)(eq - p));
    strbuf_addch(out, *eq);
    strbuf_addch(out, ' ');
    strbuf_addstr(out, value);
    if (comment) {
        strbuf_addch(out, ' ');
        strbuf_add(out, comment, (size_t)(end - comment));
    }
    strbuf_addch(out, '\n');
}

/* Append one new line, refusing one the reader could not take back. */
static int add_new_line(struct strbuf *out, const char *line, size_t len, char *err, size_t errlen)
{
    if (len > CFG_MAX_LINE)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "the line would be %zu characters long, and configuration lines can "
                          "have at most %d",
                          len, CFG_MAX_LINE);
    strbuf_add(out, line, len);
    strbuf_addch(out, '\n');
    return 0;
}

/* Split text into lines, the UTF-8 byte order mark inih skips kept apart. */
static struct ini_line *split_lines(const char *text, size_t len, size_t *nr, size_t *bom)
{
    struct ini_line *lines = NULL;
    size_t alloc = 0;

    *nr = 0;
    *bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    for (const char *p = text + *bom, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        XGROW(lines, alloc, *nr + 1);
        memset(&lines[*nr], 0, sizeof(lines[*nr]));
        lines[*nr].p = p;
        lines[*nr].len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lines[*nr].newline = nl != NULL;
        (*nr)++;
        p = nl ? nl + 1 : end;
    }
    classify(lines, *nr);
    return lines;
}

/* Write the edited lines into out; OMV_ENOENT when unsetting a key that is not there. */
static int apply_edit(const struct ini_line *lines, size_t nr, const char *section,
                      const char *name, const char *value, struct strbuf *out, char *err,
                      size_t errlen)
{
    struct strbuf line = STRBUF_INIT;
    size_t last_def = (size_t)-1, last_in_section = (size_t)-1;
    bool removed = false;
    int rc = 0;

    for (size_t i = 0; i < nr; i++) {
        if (lines[i].kind == INI_SECTION && name_is(lines[i].name, lines[i].nlen, section))
            last_in_section = i;
        else if ((lines[i].kind == INI_KEY || lines[i].kind == INI_CONT) &&
                 in_section(lines, &lines[i], section))
            last_in_section = i;
        if (line_defines(lines, i, section, name))
            last_def = i;
    }
    for (size_t i = 0; i < nr && rc == 0; i++) {
        bool defines = line_defines(lines, i, section, name);
        bool cont_of_def = lines[i].kind == INI_CONT &&
                           line_defines(lines, lines[i].owner, section, name) &&
                           (!value || lines[i].owner == last_def);

        if ((defines && !value) || cont_of_def) {
            removed = true; /* the value's continuation lines go with it */
            continue;
        }
        if (defines && i == last_def) {
            strbuf_reset(&line);
            add_replaced(&line, &lines[i], value);
            rc = add_new_line(out, line.buf, line.len - 1, err, errlen);
            continue;
        }
        add_line(out, &lines[i]);
        if (value && last_def == (size_t)-1 && i == last_in_section) {
            if (!lines[i].newline)
                strbuf_addch(out, '\n');
            strbuf_reset(&line);
            strbuf_addf(&line, "%s = %s", name, value);
            rc = add_new_line(out, line.buf, line.len, err, errlen);
        }
    }
    if (rc == 0 && value && last_in_section == (size_t)-1) {
        if (out->len && out->buf[out->len - 1] != '\n')
            strbuf_addch(out, '\n');
        if (out->len)
            strbuf_addch(out, '\n');
        strbuf_reset(&line);
        strbuf_addf(&line, "[%s]\n%s = %s", section, name, value);
        rc = add_new_line(out, line.buf, line.len, err, errlen);
    }
    strbuf_release(&line);
    if (rc == 0 && !value && !removed)
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s.%s' is not set there", section, name);
    return rc;
}

/*
 * The guard every edit passes before it is written: the new text parses, the
 * key reads back as set (or is gone), and every other key reads as before.
 */
static int edit_reads_back(const char *old, size_t oldlen, const char *text, size_t len,
                           const char *origin, const char *section, const char *name,
                           const char *value, char *err, size_t errlen)
{
    struct cfg before = CFG_INIT, after = CFG_INIT;
    const struct cfg_entry *e;
    char perr[256];
    int rc = cfg_parse_string(&after, text, len, origin, CFG_LEVEL_USER, perr, sizeof(perr));

    cfg_parse_string(&before, old, oldlen, origin, CFG_LEVEL_USER, NULL, 0);
    e = rc == 0 ? cfg_lookup(&after, section, name) : NULL;
    if (rc == 0 && (value ? !e || strcmp(e->value, value) : e != NULL))
        rc = OMV_EINVAL;
    for (size_t i = 0; i < before.nr && rc == 0; i++) {
        const struct cfg_entry *b = &before.entries[i];

        if (!cfg_entry_wins(&before, b) ||
            (!strcasecmp(b->section, section) && !strcasecmp(b->name, name)))
            continue;
        e = cfg_lookup(&after, b->section, b->name);
        if (!e || strcmp(e->value, b->value))
            rc = OMV_EINVAL;
    }
    cfg_release(&before);
    cfg_release(&after);
    if (rc < 0)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "%s: this edit of '%s.%s' would not read back as intended, so it was "
                          "not made",
                          origin, section, name);
    return 0;
}

int cfg_edit_string(const char *text, size_t len, const char *origin, const char *section,
                    const char *name, const char *value, char **out, size_t *outlen, char *err,
                    size_t errlen)
{
    struct cfg check = CFG_INIT;
    struct strbuf sb = STRBUF_INIT;
    struct ini_line *lines = NULL;
    size_t nr, bom;
    int rc;

    if (value && (rc = cfg_check_value(value, err, errlen)) < 0)
        return rc;
    /* Refuse to edit what we cannot read: the user would lose the rest. */
    rc = cfg_parse_string(&check, text, len, origin, CFG_LEVEL_USER, err, errlen);
    cfg_release(&check);
    if (rc < 0)
        return rc;

    lines = split_lines(text, len, &nr, &bom);
    strbuf_add(&sb, text, bom);
    rc = apply_edit(lines, nr, section, name, value, &sb, err, errlen);
    if (rc == 0)
        rc = edit_reads_back(text, len, sb.buf, sb.len, origin, section, name, value, err, errlen);
    free(lines);
    if (rc < 0) {
        strbuf_release(&sb);
        return rc;
    }
    *out = strbuf_detach(&sb, outlen);
    return 0;
}

int cfg_edit_file(const char *path, const char *section, const char *name, const char *value,
                  char *err, size_t errlen)
{
    struct strbuf old = STRBUF_INIT;
    char *text = NULL;
    size_t len = 0;
    int rc = fs_read_file_max(path, &old, FS_MAX_TEXT, err, errlen);

    if (rc == OMV_ENOENT && value)
        rc = 0;
    if (rc < 0)
        goto out;
    rc = cfg_edit_string(old.buf, old.len, path, section, name, value, &text, &len, err, errlen);
    if (rc < 0)
        goto out;
    rc = fs_write_atomic(path, text, len, 0644, err, errlen);
out:
    free(text);
    strbuf_release(&old);
    return rc;
}

const char *cfg_level_name(enum cfg_level level)
{
    switch (level) {
    case CFG_LEVEL_DEFAULT:
        return "default";
    case CFG_LEVEL_USER:
        return "user";
    case CFG_LEVEL_PROJECT:
        return "project";
    case CFG_LEVEL_ENV:
        return "environment";
    case CFG_LEVEL_CMDLINE:
        return "command line";
    }
    return "?";
}

#ifndef OMVDEV_INIH_VERSION
#define OMVDEV_INIH_VERSION ""
#endif

void cfg_libversion(struct libversion *v)
{
    v->name = "inih";
    snprintf(v->built, sizeof(v->built), "%s", OMVDEV_INIH_VERSION);
    v->running[0] = '\0';
}
