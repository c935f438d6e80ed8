#include "lib/compat.h"
#include "lib/jsonc.h"

#include "lib/json.h"

#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONC_MAX_DEPTH 64

/* ---- reader ---------------------------------------------------------------- */

struct parser {
    const char *s;
    size_t len, pos;
    const char *name;
    unsigned flags;
    char *err;
    size_t errlen;
};

static void node_release(struct jsonc_node *n)
{
    for (size_t i = 0; i < n->nr_kids; i++)
        node_release(&n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->str);
}

void jsonc_doc_init(struct jsonc_doc *doc)
{
    doc->text = NULL;
    doc->len = 0;
    doc->root = NULL;
}

void jsonc_doc_release(struct jsonc_doc *doc)
{
    if (doc->root) {
        node_release(doc->root);
        free(doc->root);
    }
    jsonc_doc_init(doc);
}

const char *jsonc_where(const char *text, size_t len, size_t off, char *buf, size_t buflen)
{
    unsigned line = 1, col = 1;

    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n') {
            line++;
            col = 1;
        } else if (c != '\r' && (c & 0xC0) != 0x80) {
            col++;
        }
    }
    snprintf(buf, buflen, "%u:%u", line, col);
    return buf;
}

static int perr(struct parser *p, size_t off, const char *fmt, ...) OMV_PRINTF(3, 4);
static int perr(struct parser *p, size_t off, const char *fmt, ...)
{
    char where[32], msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return omv_seterr(p->err, p->errlen, OMV_EPARSE, "%s:%s: %s", p->name,
                      jsonc_where(p->s, p->len, off, where, sizeof(where)), msg);
}

/* What is at `off`, for messages: "'x'" or "the end of the file". */
static const char *what(const struct parser *p, size_t off, char *buf, size_t len)
{
    unsigned char c;

    if (off >= p->len)
        return "the end of the file";
    c = (unsigned char)p->s[off];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02X", c);
    return buf;
}

/* Skip whitespace and comments; fails on an unterminated block comment. */
static int skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p->pos++;
        } else if (c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == '/' &&
                   !(p->flags & JSONC_STRICT)) {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                p->pos++;
        } else if (c == '/' && p->pos + 1 < p->len && p->s[p->pos + 1] == '*' &&
                   !(p->flags & JSONC_STRICT)) {
            size_t start = p->pos;

            p->pos += 2;
            for (;;) {
                if (p->pos + 1 >= p->len) {
                    p->pos = p->len;
                    return perr(p, start, "comment is not closed ('*/' is missing)");
                }
                if (p->s[p->pos] == '*' && p->s[p->pos + 1] == '/') {
                    p->pos += 2;
                    break;
                }
                p->pos++;
            }
        } else {
            break;
        }
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s (the caller checked they are inside the text). */
static bool hex4(const char *s, unsigned *out)
{
    unsigned v = 0;

    for (size_t i = 0; i < 4; i++) {
        int h = hexval(s[i]);

        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

static int read_hex4(struct parser *p, size_t at, unsigned *out)
{
    unsigned v = 0;

    if (at + 4 > p->len)
        return perr(p, at, "\\u needs four hex digits");
    for (size_t i = 0; i < 4; i++) {
        int h = hexval(p->s[at + i]);

        if (h < 0)
            return perr(p, at + i, "\\u needs four hex digits");
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

static void add_utf8(struct strbuf *sb, unsigned cp)
{
    if (cp < 0x80) {
        strbuf_addch(sb, (int)cp);
    } else if (cp < 0x800) {
        strbuf_addch(sb, (int)(0xC0 | cp >> 6));
        strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        strbuf_addch(sb, (int)(0xE0 | cp >> 12));
        strbuf_addch(sb, (int)(0x80 | (cp >> 6 & 0x3F)));
        strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
    } else {
        strbuf_addch(sb, (int)(0xF0 | cp >> 18));
        strbuf_addch(sb, (int)(0x80 | (cp >> 12 & 0x3F)));
        strbuf_addch(sb, (int)(0x80 | (cp >> 6 & 0x3F)));
        strbuf_addch(sb, (int)(0x80 | (cp & 0x3F)));
    }
}

/* A string at p->pos (the opening quote), decoded into *out. */
static int parse_string(struct parser *p, char **out, size_t *out_len)
{
    struct strbuf sb = STRBUF_INIT;
    size_t start = p->pos;
    int rc = 0;

    p->pos++;
    for (;;) {
        unsigned char c;

        if (p->pos >= p->len) {
            rc = perr(p, start, "string is not closed");
            goto out;
        }
        c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            rc = perr(p, p->pos, "%s inside a string (write it as an escape)",
                      c == '\n' || c == '\r' ? "line break" : "control character");
            goto out;
        }
        if (c != '\\') {
            strbuf_addch(&sb, c);
            p->pos++;
            continue;
        }
        if (p->pos + 1 >= p->len) {
            rc = perr(p, start, "string is not closed");
            goto out;
        }
        c = (unsigned char)p->s[p->pos + 1];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            strbuf_addch(&sb, c);
            break;
        case 'b':
            strbuf_addch(&sb, '\b');
            break;
        case 'f':
            strbuf_addch(&sb, '\f');
            break;
        case 'n':
            strbuf_addch(&sb, '\n');
            break;
        case 'r':
            strbuf_addch(&sb, '\r');
            break;
        case 't':
            strbuf_addch(&sb, '\t');
            break;
        case 'u': {
            unsigned cp = 0, lo = 0;

            rc = read_hex4(p, p->pos + 2, &cp);
            if (rc < 0)
                goto out;
            if (cp >= 0xD800 && cp < 0xDC00 && p->pos + 11 < p->len && p->s[p->pos + 6] == '\\' &&
                p->s[p->pos + 7] == 'u' && hex4(p->s + p->pos + 8, &lo) && lo >= 0xDC00 &&
                lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->pos += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* a lone surrogate, as VS Code decodes it */
            }
            add_utf8(&sb, cp);
            p->pos += 4;
            break;
        }
        default:
            rc = perr(p, p->pos, "unknown escape '\\%c' in a string", c >= 0x20 ? c : '?');
            goto out;
        }
        p->pos += 2;
    }
    *out_len = sb.len;
    *out = strbuf_detach(&sb, NULL);
out:
    strbuf_release(&sb);
    return rc;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p)
{
    size_t start = p->pos;

    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return perr(p, start, "malformed number");
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return perr(p, start, "malformed number");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return perr(p, start, "malformed number");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (is_digit(p->s[p->pos]) || p->s[p->pos] == '.'))
        return perr(p, start, "malformed number");
    return 0;
}

static bool word_at(const struct parser *p, const char *w)
{
    size_t n = strlen(w);

    return p->len - p->pos >= n && !memcmp(p->s + p->pos, w, n);
}

static struct jsonc_node *add_kid(struct jsonc_node *c)
{
    struct jsonc_node *k;

    XGROW(c->kids, c->alloc_kids, c->nr_kids + 1);
    k = &c->kids[c->nr_kids++];
    memset(k, 0, sizeof(*k));
    return k;
}

static int parse_value(struct parser *p, struct jsonc_node *n, int depth);

static int parse_container(struct parser *p, struct jsonc_node *n, int depth)
{
    bool object = p->s[p->pos] == '{';
    char close = object ? '}' : ']';
    char buf[16];
    int rc;

    n->type = object ? JSONC_OBJECT : JSONC_ARRAY;
    if (depth >= JSONC_MAX_DEPTH)
        return perr(p, p->pos, "nested more than %d levels deep", JSONC_MAX_DEPTH);
    p->pos++;
    for (;;) {
        struct jsonc_node *k;
        size_t item;

        if ((rc = skip_ws(p)) < 0)
            return rc;
        if (p->pos < p->len && p->s[p->pos] == close) {
            if (n->trailing_comma && (p->flags & JSONC_STRICT))
                return perr(p, p->pos, "trailing comma before '%c'", close);
            p->pos++;
            return 0;
        }
        if (n->nr_kids > 0 && !n->trailing_comma)
            return perr(p, p->pos, "expected ',' or '%c' after %s, found %s", close,
                        object ? "a member" : "an element", what(p, p->pos, buf, sizeof(buf)));
        item = p->pos;
        k = add_kid(n);
        k->item_start = item;
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return perr(p, p->pos, "expected a member name in quotes, found %s",
                            what(p, p->pos, buf, sizeof(buf)));
            if ((rc = parse_string(p, &k->key, &k->key_len)) < 0)
                return rc;
            if ((rc = skip_ws(p)) < 0)
                return rc;
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return perr(p, p->pos, "expected ':' after the member name, found %s",
                            what(p, p->pos, buf, sizeof(buf)));
            p->pos++;
            if ((rc = skip_ws(p)) < 0)
                return rc;
        }
        if (!object && p->pos < p->len && p->s[p->pos] == ',')
            return perr(p, p->pos, "expected a value, found ','");
        if ((rc = parse_value(p, k, depth + 1)) < 0)
            return rc;
        if (!object)
            k->item_start = k->start;
        n->trailing_comma = false;
        if ((rc = skip_ws(p)) < 0)
            return rc;
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            n->trailing_comma = true;
        }
    }
}

static int parse_value(struct parser *p, struct jsonc_node *n, int depth)
{
    char buf[16];
    int rc = 0;

    n->start = p->pos;
    if (p->pos >= p->len)
        return perr(p, p->pos, "expected a value, found the end of the file");
    switch (p->s[p->pos]) {
    case '{':
    case '[':
        rc = parse_container(p, n, depth);
        break;
    case '"':
        n->type = JSONC_STRING;
        rc = parse_string(p, &n->str, &n->str_len);
        break;
    case 't':
    case 'f':
    case 'n':
        if (word_at(p, "true") || word_at(p, "false")) {
            n->type = JSONC_BOOL;
            n->boolean = p->s[p->pos] == 't';
            p->pos += n->boolean ? 4 : 5;
        } else if (word_at(p, "null")) {
            n->type = JSONC_NULL;
            p->pos += 4;
        } else {
            return perr(p, p->pos, "expected a value, found %s", what(p, p->pos, buf, sizeof(buf)));
        }
        break;
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) {
            n->type = JSONC_NUMBER;
            rc = parse_number(p);
        } else {
            return perr(p, p->pos, "expected a value, found %s", what(p, p->pos, buf, sizeof(buf)));
        }
    }
    n->end = p->pos;
    return rc;
}

int jsonc_parse(struct jsonc_doc *doc, const char *text, size_t len, const char *name,
                unsigned flags, char *err, size_t errlen)
{
    struct parser p = {text, len, 0, name, flags, err, errlen};
    struct jsonc_node *root = NULL;
    char buf[16];
    int rc;

    jsonc_doc_release(doc);
    doc->text = text;
    doc->len = len;
    if (!(flags & JSONC_STRICT) && len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        p.pos = 3;
    if ((rc = skip_ws(&p)) < 0)
        return rc;
    if (p.pos >= len) {
        if (flags & JSONC_STRICT)
            return perr(&p, p.pos, "expected a value, found the end of the file");
        return 0;
    }
    root = xcalloc(1, sizeof(*root));
    rc = parse_value(&p, root, 0);
    root->item_start = root->start;
    if (rc == 0)
        rc = skip_ws(&p);
    if (rc == 0 && p.pos < len)
        rc = perr(&p, p.pos, "unexpected %s after the end of the document",
                  what(&p, p.pos, buf, sizeof(buf)));
    if (rc < 0) {
        node_release(root);
        free(root);
        return rc;
    }
    doc->root = root;
    return 0;
}

const struct jsonc_node *jsonc_get(const struct jsonc_node *obj, const char *key)
{
    size_t klen = strlen(key);

    if (!obj || obj->type != JSONC_OBJECT)
        return NULL;
    for (size_t i = obj->nr_kids; i-- > 0;)
        if (obj->kids[i].key_len == klen && !memcmp(obj->kids[i].key, key, klen))
            return &obj->kids[i];
    return NULL;
}

/* ---- writer ---------------------------------------------------------------- */

void jsonc_quote(struct strbuf *out, const char *s, size_t len)
{
    strbuf_addch(out, '"');
    json_escape(out, s, len);
    strbuf_addch(out, '"');
}

static void write_indent(struct strbuf *out, const char *unit, int level)
{
    for (int i = 0; i < level; i++)
        strbuf_addstr(out, unit);
}

static void write_node(struct strbuf *out, const struct jsonc_node *n, const char *text,
                       const char *unit, const char *nl, const char *skip_key, int level)
{
    bool object = n->type == JSONC_OBJECT;
    size_t skip_len = skip_key ? strlen(skip_key) : 0;
    bool first = true;

    switch (n->type) {
    case JSONC_NULL:
        strbuf_addstr(out, "null");
        return;
    case JSONC_BOOL:
        strbuf_addstr(out, n->boolean ? "true" : "false");
        return;
    case JSONC_NUMBER:
        strbuf_add(out, text + n->start, n->end - n->start);
        return;
    case JSONC_STRING:
        jsonc_quote(out, n->str, n->str_len);
        return;
    case JSONC_ARRAY:
    case JSONC_OBJECT:
        break;
    }
    strbuf_addch(out, object ? '{' : '[');
    for (size_t i = 0; i < n->nr_kids; i++) {
        const struct jsonc_node *k = &n->kids[i];

        if (object && skip_key && k->key_len == skip_len && !memcmp(k->key, skip_key, skip_len))
            continue;
        if (!first)
            strbuf_addch(out, ',');
        first = false;
        if (unit) {
            strbuf_addstr(out, nl);
            write_indent(out, unit, level + 1);
        }
        if (object) {
            jsonc_quote(out, k->key, k->key_len);
            strbuf_addstr(out, unit ? ": " : ":");
        }
        write_node(out, k, text, unit, nl, NULL, level + 1);
    }
    if (unit && !first) {
        strbuf_addstr(out, nl);
        write_indent(out, unit, level);
    }
    strbuf_addch(out, object ? '}' : ']');
}

void jsonc_write(struct strbuf *out, const struct jsonc_node *n, const char *text, const char *unit,
                 const char *nl, const char *skip_key)
{
    write_node(out, n, text, unit, nl ? nl : "\n", skip_key, 0);
}

void jsonc_hash(const struct jsonc_node *n, const char *text, const char *skip_key, char hex[17])
{
    struct strbuf sb = STRBUF_INIT;
    uint64_t h = 0xcbf29ce484222325ULL;

    jsonc_write(&sb, n, text, NULL, NULL, skip_key);
    for (size_t i = 0; i < sb.len; i++) {
        h ^= (unsigned char)sb.buf[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
    strbuf_release(&sb);
}

/* ---- editing ---------------------------------------------------------------- */

void jsonc_style_detect(const char *text, size_t len, struct jsonc_style *style)
{
    size_t best = 0;
    bool tab = false, seen = false;

    strcpy(style->nl, "\n");
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') {
            if (i > 0 && text[i - 1] == '\r')
                strcpy(style->nl, "\r\n");
            break;
        }
    /* The smallest indentation of a line that has one is one level. */
    for (size_t i = 0; i < len; i++) {
        size_t n = 0;

        if (i > 0 && text[i - 1] != '\n')
            continue;
        if (text[i] == '\t') {
            tab = true;
            seen = true;
            break;
        }
        while (i + n < len && text[i + n] == ' ')
            n++;
        /* Comment lines say nothing about the layout of the values. */
        if (n > 0 && i + n < len && text[i + n] != '\n' && text[i + n] != '\r' &&
            text[i + n] != '*' && text[i + n] != '/' && (!seen || n < best)) {
            best = n;
            seen = true;
        }
    }
    if (tab)
        strcpy(style->unit, "\t");
    else if (seen)
        snprintf(style->unit, sizeof(style->unit), "%*s", (int)(best > 8 ? 8 : best), "");
    else
        strcpy(style->unit, "    ");
}

void jsonc_edits_init(struct jsonc_edits *e)
{
    e->v = NULL;
    e->nr = e->alloc = 0;
}

void jsonc_edits_release(struct jsonc_edits *e)
{
    for (size_t i = 0; i < e->nr; i++)
        free(e->v[i].repl);
    free(e->v);
    jsonc_edits_init(e);
}

void jsonc_edits_add(struct jsonc_edits *e, size_t start, size_t end, const char *repl)
{
    XGROW(e->v, e->alloc, e->nr + 1);
    e->v[e->nr].start = start;
    e->v[e->nr].end = end;
    e->v[e->nr].repl = xstrdup(repl);
    e->nr++;
}

void jsonc_edits_apply(const struct jsonc_edits *e, const char *text, size_t len,
                       struct strbuf *out)
{
    size_t pos = 0;
    bool *done = xcalloc(e->nr ? e->nr : 1, sizeof(*done));

    for (;;) {
        size_t best = e->nr;

        /* The next edit by start offset; ties keep the order of adding. */
        for (size_t i = 0; i < e->nr; i++)
            if (!done[i] && (best == e->nr || e->v[i].start < e->v[best].start))
                best = i;
        if (best == e->nr)
            break;
        done[best] = true;
        if (e->v[best].start < pos)
            continue; /* overlapping: a bug of the caller; the first one wins */
        strbuf_add(out, text + pos, e->v[best].start - pos);
        strbuf_addstr(out, e->v[best].repl);
        pos = e->v[best].end;
    }
    strbuf_add(out, text + pos, len - pos);
    free(done);
}

static size_t line_start(const char *text, size_t off)
{
    while (off > 0 && text[off - 1] != '\n')
        off--;
    return off;
}

/* The whitespace at the start of the line holding `off`. */
static void line_indent(struct strbuf *out, const char *text, size_t len, size_t off)
{
    size_t i = line_start(text, off);

    while (i < len && i < off && (text[i] == ' ' || text[i] == '\t'))
        strbuf_addch(out, text[i++]);
}

/* Only spaces and tabs between the start of its line and `off`? */
static bool starts_line(const char *text, size_t off)
{
    for (size_t i = line_start(text, off); i < off; i++)
        if (text[i] != ' ' && text[i] != '\t')
            return false;
    return true;
}

/*
 * Re-indent `item` (written with "\n" and `unit`-wide levels from column 0) so
 * that every line after the first starts with `base`: the text comes out with
 * the file's own newline.
 */
static void reindent(struct strbuf *out, const char *item, const char *base,
                     const struct jsonc_style *st)
{
    for (const char *p = item; *p; p++) {
        strbuf_addch(out, *p == '\n' ? 0 : *p);
        if (*p == '\n') {
            strbuf_setlen(out, out->len - 1);
            strbuf_addstr(out, st->nl);
            strbuf_addstr(out, base);
        }
    }
}

void jsonc_append(struct jsonc_edits *e, const struct jsonc_doc *doc, const struct jsonc_node *c,
                  const struct jsonc_style *style, const char *const *items, size_t n)
{
    const char *text = doc->text;
    size_t close = c->end - 1;
    struct strbuf indent = STRBUF_INIT, outer = STRBUF_INIT, ins = STRBUF_INIT;
    bool multiline, trailing = c->trailing_comma;

    if (n == 0)
        return;
    line_indent(&outer, text, doc->len, c->item_start);
    if (c->nr_kids > 0 && starts_line(text, c->kids[0].item_start)) {
        line_indent(&indent, text, doc->len, c->kids[0].item_start);
        multiline = true;
    } else {
        strbuf_addstr(&indent, outer.buf);
        strbuf_addstr(&indent, style->unit);
        multiline = c->nr_kids == 0;
    }
    if (!multiline) {
        /* [1, 2] style: carry on on the same line. */
        size_t at = trailing ? close : c->kids[c->nr_kids - 1].end;

        for (size_t i = 0; i < n; i++) {
            strbuf_addstr(&ins, i == 0 && !trailing ? ", " : " ");
            reindent(&ins, items[i], indent.buf, style);
            if (i + 1 < n || trailing)
                strbuf_addch(&ins, ',');
        }
        jsonc_edits_add(e, at, at, ins.buf);
        goto out;
    }
    if (c->nr_kids > 0 && !trailing)
        jsonc_edits_add(e, c->kids[c->nr_kids - 1].end, c->kids[c->nr_kids - 1].end, ",");
    for (size_t i = 0; i < n; i++) {
        strbuf_addstr(&ins, indent.buf);
        reindent(&ins, items[i], indent.buf, style);
        if (i + 1 < n || trailing)
            strbuf_addch(&ins, ',');
        strbuf_addstr(&ins, style->nl);
    }
    if (starts_line(text, close) && line_start(text, close) > c->start) {
        jsonc_edits_add(e, line_start(text, close), line_start(text, close), ins.buf);
    } else {
        struct strbuf full = STRBUF_INIT;

        strbuf_addstr(&full, style->nl);
        strbuf_addstr(&full, ins.buf);
        strbuf_addstr(&full, outer.buf);
        /* "[ // note" then "]" would comment the bracket out: not possible here,
         * since a line comment always ends before `close` on an earlier line. */
        jsonc_edits_add(e, close, close, full.buf);
        strbuf_release(&full);
    }
out:
    strbuf_release(&indent);
    strbuf_release(&outer);
    strbuf_release(&ins);
}

/* ---- merging ------------------------------------------------------------------ */

const char *jsonc_merge_status_name(enum jsonc_merge_status s)
{
    switch (s) {
    case JSONC_MERGE_ADDED:
        return "added";
    case JSONC_MERGE_REPLACED:
        return "updated";
    case JSONC_MERGE_UNCHANGED:
        return "unchanged";
    case JSONC_MERGE_KEPT_EDITED:
        return "kept (edited by you)";
    case JSONC_MERGE_FORCED:
        return "regenerated (--force)";
    case JSONC_MERGE_KEPT_FOREIGN:
        return "kept (yours)";
    }
    return "?";
}

/* A document to merge into: the old text, or the skeleton behind its comments. */
struct base {
    struct strbuf text; /* the whole text the edits apply to */
    struct jsonc_doc doc;
    struct jsonc_style style;
};

static int base_open(struct base *b, const char *old, size_t len, const char *name,
                     const char *skeleton, char *err, size_t errlen)
{
    struct jsonc_doc sk;
    int rc;

    strbuf_init(&b->text);
    jsonc_doc_init(&b->doc);
    jsonc_doc_init(&sk);
    strbuf_add(&b->text, old, len);
    rc = jsonc_parse(&b->doc, b->text.buf, b->text.len, name, 0, err, errlen);
    if (rc < 0)
        return rc;
    jsonc_style_detect(b->text.buf, b->text.len, &b->style);
    if (!b->doc.root) {
        /* Nothing but comments (or nothing): the skeleton goes after them. */
        rc = jsonc_parse(&sk, skeleton, strlen(skeleton), "skeleton", JSONC_STRICT, err, errlen);
        if (rc < 0)
            return rc;
        if (b->text.len && b->text.buf[b->text.len - 1] != '\n')
            strbuf_addstr(&b->text, b->style.nl);
        jsonc_write(&b->text, sk.root, skeleton, b->style.unit, b->style.nl, NULL);
        strbuf_addstr(&b->text, b->style.nl);
        jsonc_doc_release(&sk);
        rc = jsonc_parse(&b->doc, b->text.buf, b->text.len, name, 0, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (b->doc.root->type != JSONC_OBJECT) {
        char where[32];

        return omv_seterr(
            err, errlen, OMV_EPARSE, "%s:%s: expected an object ('{') at the top", name,
            jsonc_where(b->text.buf, b->text.len, b->doc.root->start, where, sizeof(where)));
    }
    return 0;
}

static void base_close(struct base *b)
{
    jsonc_doc_release(&b->doc);
    strbuf_release(&b->text);
}

/* The container `key` of the root, or NULL after queueing "key": [] / {} to be
 * added with `items` inside it. */
static const struct jsonc_node *base_container(struct base *b, const char *key,
                                               enum jsonc_type type, const char *name, char *err,
                                               size_t errlen, int *rc)
{
    const struct jsonc_node *a = jsonc_get(b->doc.root, key);
    char where[32];

    *rc = 0;
    if (a && a->type != type)
        *rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%s: '%s' is not %s", name,
                         jsonc_where(b->text.buf, b->text.len, a->start, where, sizeof(where)), key,
                         type == JSONC_ARRAY ? "an array" : "an object");
    return a;
}

/* "key": [ items ] as one item of the root object, in the file's style. */
static void new_array_member(struct strbuf *out, const char *key, const char *const *items,
                             size_t n, const struct jsonc_style *st)
{
    jsonc_quote(out, key, strlen(key));
    strbuf_addstr(out, ": [");
    for (size_t i = 0; i < n; i++) {
        strbuf_addch(out, '\n');
        strbuf_addstr(out, st->unit);
        for (const char *p = items[i]; *p; p++) {
            strbuf_addch(out, *p);
            if (*p == '\n')
                strbuf_addstr(out, st->unit);
        }
        if (i + 1 < n)
            strbuf_addch(out, ',');
    }
    strbuf_addstr(out, n ? "\n]" : "]");
}

/*
 * The end of a merge into the root's array `array_key`: append the new items
 * to the array (arr), or add the array with them when the root has none, then
 * write the result - the old text itself when nothing changed.
 */
static void finish_array_merge(struct jsonc_edits *e, struct base *b, const struct jsonc_node *arr,
                               const char *array_key, const char *const *append, size_t nr_append,
                               const char *old, size_t len, struct strbuf *out)
{
    if (nr_append && arr) {
        jsonc_append(e, &b->doc, arr, &b->style, append, nr_append);
    } else if (nr_append) {
        struct strbuf member = STRBUF_INIT;
        const char *one;

        new_array_member(&member, array_key, append, nr_append, &b->style);
        one = member.buf;
        jsonc_append(e, &b->doc, b->doc.root, &b->style, &one, 1);
        strbuf_release(&member);
    }
    if (e->nr == 0 && b->text.len == len)
        strbuf_add(out, old, len);
    else
        jsonc_edits_apply(e, b->text.buf, b->text.len, out);
}

static int parse_item(const char *json, struct jsonc_doc *doc, const char *id_key, const char **id,
                      char *err, size_t errlen)
{
    const struct jsonc_node *idn;
    int rc = jsonc_parse(doc, json, strlen(json), "generated entry", JSONC_STRICT, err, errlen);

    if (rc < 0)
        return rc;
    idn = jsonc_get(doc->root, id_key);
    if (!idn || idn->type != JSONC_STRING)
        return omv_seterr(err, errlen, OMV_EINVAL, "generated entry has no string '%s'", id_key);
    *id = idn->str;
    return 0;
}

/* Who owns an element: omvdev when it carries the marker comment, or (the previous
 * format) a marker member; rec is the hash recorded then, "" when unreadable. */
struct owner {
    bool ours;
    const struct jsonc_node *member; /* the previous format's marker member, or NULL */
    char rec[17];
};

/* The 16 hex digits at the end of `w` (len bytes), into out; "" when not. */
static void hash_word(const char *w, size_t len, char out[17])
{
    while (len && (w[len - 1] == ' ' || w[len - 1] == '\t' || w[len - 1] == '\r'))
        len--;
    out[0] = '\0';
    if (len >= 16 && strspn(w + len - 16, "0123456789abcdef") >= 16) {
        memcpy(out, w + len - 16, 16);
        out[16] = '\0';
    }
}

/*
 * The marker comment "// MARKER: generated HASH" (or the same in a block
 * comment) between an object's '{' and its first member. Only whitespace and
 * comments can stand there, so no string needs skipping.
 */
static bool marker_comment(const char *text, const struct jsonc_node *el, const char *marker,
                           char rec[17])
{
    size_t end = el->nr_kids ? el->kids[0].item_start : el->end - 1, mlen = strlen(marker);

    for (size_t i = el->start + 1; i + 1 < end; i++) {
        size_t body, stop;

        if (text[i] != '/' || (text[i + 1] != '/' && text[i + 1] != '*'))
            continue;
        body = i + 2;
        for (stop = body;
             stop < end &&
             (text[i + 1] == '/' ? text[stop] != '\n'
                                 : !(text[stop] == '*' && stop + 1 < end && text[stop + 1] == '/'));
             stop++)
            ;
        while (body < stop && text[body] == ' ')
            body++;
        if (stop - body > mlen + 12 && !memcmp(text + body, marker, mlen) &&
            !memcmp(text + body + mlen, ": generated ", 12)) {
            hash_word(text + body + mlen + 12, stop - body - mlen - 12, rec);
            return true;
        }
        i = stop;
    }
    return false;
}

static bool find_owner(const char *text, const struct jsonc_node *el, const char *marker,
                       struct owner *o)
{
    const struct jsonc_node *m;

    memset(o, 0, sizeof(*o));
    if (el->type != JSONC_OBJECT)
        return false;
    if (marker_comment(text, el, marker, o->rec)) {
        o->ours = true;
        return true;
    }
    m = jsonc_get(el, marker);
    if (!m)
        return false;
    o->ours = true;
    o->member = m;
    if (m->type == JSONC_STRING)
        hash_word(m->str, m->str_len, o->rec);
    return true;
}

/* The generated entry as the file gets it: the marker comment as its first line. */
static char *owned_text(const struct jsonc_node *gen, const char *json, const char *marker,
                        const char *hash, const struct jsonc_style *st)
{
    struct strbuf pretty = STRBUF_INIT, out = STRBUF_INIT;
    const char *nl;

    jsonc_write(&pretty, gen, json, st->unit, "\n", marker);
    nl = strchr(pretty.buf, '\n');
    if (!nl) { /* an empty object: "{}" */
        strbuf_addf(&out, "{\n%s// %s: generated %s\n}", st->unit, marker, hash);
    } else {
        strbuf_add(&out, pretty.buf, (size_t)(nl + 1 - pretty.buf));
        strbuf_addf(&out, "%s// %s: generated %s\n%s", st->unit, marker, hash, nl + 1);
    }
    strbuf_release(&pretty);
    return strbuf_detach(&out, NULL);
}

/* The first ',' at or after `from` outside comments, or SIZE_MAX before `to`. */
static size_t comma_after(const char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (text[i] == ',')
            return i;
        if (text[i] == '/' && i + 1 < to && text[i + 1] == '/')
            while (i < to && text[i] != '\n')
                i++;
        else if (text[i] == '/' && i + 1 < to && text[i + 1] == '*')
            for (i += 2; i + 1 < to && !(text[i] == '*' && text[i + 1] == '/'); i++)
                ;
    }
    return SIZE_MAX;
}

/*
 * An entry of the previous format that the user edited: keep every byte of
 * it but the marker member, and record the same hash in the marker comment
 * (so it still counts as edited).
 */
static void migrate_marker(struct jsonc_edits *e, const struct base *b, const struct jsonc_node *el,
                           const struct owner *o, const char *marker)
{
    const char *text = b->text.buf;
    const struct jsonc_node *m = o->member;
    size_t k = (size_t)(m - el->kids), from = m->item_start, to = m->end, c;
    struct strbuf ins = STRBUF_INIT, ind = STRBUF_INIT;
    bool first_on_brace_line = el->nr_kids > 0 && !starts_line(text, el->kids[0].item_start);

    /* The member's whole line goes, with the newline before it. */
    if (starts_line(text, from) && line_start(text, from) > el->start + 1) {
        from = line_start(text, from) - 1;
        if (from > el->start + 1 && text[from - 1] == '\r')
            from--;
    }
    if (k + 1 < el->nr_kids || el->trailing_comma) {
        c = comma_after(text, m->end, el->end); /* its own comma goes with it */
        if (c != SIZE_MAX)
            to = c + 1;
    } else if (k > 0) {
        c = comma_after(text, el->kids[k - 1].end, m->item_start); /* the one before it */
        if (c != SIZE_MAX && c < from)
            jsonc_edits_add(e, c, c + 1, "");
        else if (c != SIZE_MAX)
            from = c;
    }
    line_indent(&ind, text, b->text.len, el->start);
    strbuf_addf(&ins, "%s%s%s// %s: generated %s", b->style.nl, ind.buf, b->style.unit, marker,
                o->rec[0] ? o->rec : "0000000000000000");
    if (first_on_brace_line)
        strbuf_addf(&ins, "%s%s%s", b->style.nl, ind.buf, b->style.unit);
    /* One edit when the member starts right at the brace (edits must not overlap). */
    if (from == el->start + 1) {
        jsonc_edits_add(e, from, to, ins.buf);
    } else {
        jsonc_edits_add(e, from, to, "");
        jsonc_edits_add(e, el->start + 1, el->start + 1, ins.buf);
    }
    strbuf_release(&ins);
    strbuf_release(&ind);
}

/* How one generated item meets the element that is ours (found, owned by o). */
static enum jsonc_merge_status owned_status(const struct base *b, const struct jsonc_node *found,
                                            const struct owner *o, const char *marker,
                                            const char *new_hash, bool force)
{
    char cur_hash[17];

    jsonc_hash(found, b->text.buf, marker, cur_hash);
    if (!strcmp(cur_hash, new_hash) && !strcmp(o->rec, new_hash) && !o->member)
        return JSONC_MERGE_UNCHANGED;
    if (strcmp(cur_hash, o->rec) && strcmp(cur_hash, new_hash))
        return force ? JSONC_MERGE_FORCED : JSONC_MERGE_KEPT_EDITED;
    return JSONC_MERGE_REPLACED;
}

/* The element of `arr` with id `id`: ours (*o set) first, else a foreign one. */
static const struct jsonc_node *find_entry(const struct base *b, const struct jsonc_node *arr,
                                           const char *id_key, const char *id, const char *marker,
                                           struct owner *o, bool *ours)
{
    const struct jsonc_node *foreign = NULL;
    size_t id_len = strlen(id);

    *ours = false;
    for (size_t k = 0; arr && k < arr->nr_kids; k++) {
        const struct jsonc_node *el = &arr->kids[k], *idn = jsonc_get(el, id_key);

        if (!idn || idn->type != JSONC_STRING || idn->str_len != id_len ||
            memcmp(idn->str, id, id_len))
            continue;
        if (find_owner(b->text.buf, el, marker, o)) {
            *ours = true;
            return el;
        }
        if (!foreign)
            foreign = el;
    }
    return foreign;
}

int jsonc_merge_array(const char *old, size_t len, const char *name, const char *skeleton,
                      const char *array_key, const char *id_key, const char *marker_key,
                      struct jsonc_merge_item *items, size_t n, bool force, struct strbuf *out,
                      char *err, size_t errlen)
{
    struct base b;
    struct jsonc_edits e;
    struct jsonc_doc gen;
    const struct jsonc_node *arr;
    const char **append = xcalloc(n ? n : 1, sizeof(*append));
    char **owned = xcalloc(n ? n : 1, sizeof(*owned));
    size_t nr_append = 0;
    int rc;

    jsonc_edits_init(&e);
    jsonc_doc_init(&gen);
    rc = base_open(&b, old, len, name, skeleton, err, errlen);
    if (rc < 0)
        goto out;
    arr = base_container(&b, array_key, JSONC_ARRAY, name, err, errlen, &rc);
    if (rc < 0)
        goto out;

    for (size_t i = 0; i < n; i++) {
        const struct jsonc_node *found;
        struct owner own;
        char new_hash[17];
        const char *id = NULL;
        bool ours;

        rc = parse_item(items[i].json, &gen, id_key, &id, err, errlen);
        if (rc < 0)
            goto out;
        jsonc_hash(gen.root, items[i].json, marker_key, new_hash);
        owned[i] = owned_text(gen.root, items[i].json, marker_key, new_hash, &b.style);
        found = find_entry(&b, arr, id_key, id, marker_key, &own, &ours);
        if (found && !ours) {
            items[i].status = JSONC_MERGE_KEPT_FOREIGN;
            continue;
        }
        if (!found) {
            items[i].status = JSONC_MERGE_ADDED;
            append[nr_append++] = owned[i];
            continue;
        }
        items[i].status = owned_status(&b, found, &own, marker_key, new_hash, force);
        if (items[i].status == JSONC_MERGE_UNCHANGED)
            continue;
        if (items[i].status == JSONC_MERGE_KEPT_EDITED) {
            if (own.member)
                migrate_marker(&e, &b, found, &own, marker_key);
            continue;
        }
        {
            struct strbuf ind = STRBUF_INIT, repl = STRBUF_INIT;

            line_indent(&ind, b.text.buf, b.text.len, found->start);
            reindent(&repl, owned[i], ind.buf, &b.style);
            jsonc_edits_add(&e, found->start, found->end, repl.buf);
            strbuf_release(&ind);
            strbuf_release(&repl);
        }
    }
    finish_array_merge(&e, &b, arr, array_key, append, nr_append, old, len, out);
out:
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(append);
    jsonc_doc_release(&gen);
    jsonc_edits_release(&e);
    base_close(&b);
    return rc;
}

int jsonc_merge_strings(const char *old, size_t len, const char *name, const char *skeleton,
                        const char *array_key, const char *exclude_key, const char *const *values,
                        size_t n, bool *added, struct strbuf *out, char *err, size_t errlen)
{
    struct base b;
    struct jsonc_edits e;
    const struct jsonc_node *arr, *excl;
    char **quoted = xcalloc(n ? n : 1, sizeof(*quoted));
    const char **append = xcalloc(n ? n : 1, sizeof(*append));
    size_t nr_append = 0;
    int rc;

    jsonc_edits_init(&e);
    rc = base_open(&b, old, len, name, skeleton, err, errlen);
    if (rc < 0)
        goto out;
    arr = base_container(&b, array_key, JSONC_ARRAY, name, err, errlen, &rc);
    if (rc < 0)
        goto out;
    excl = jsonc_get(b.doc.root, exclude_key);
    for (size_t i = 0; i < n; i++) {
        struct strbuf q = STRBUF_INIT;
        bool have = false;

        for (int pass = 0; pass < 2; pass++) {
            const struct jsonc_node *a = pass ? excl : arr;

            for (size_t k = 0; a && a->type == JSONC_ARRAY && k < a->nr_kids; k++)
                have |= a->kids[k].type == JSONC_STRING && !strcmp(a->kids[k].str, values[i]);
        }
        if (added)
            added[i] = !have;
        if (have)
            continue;
        jsonc_quote(&q, values[i], strlen(values[i]));
        quoted[i] = strbuf_detach(&q, NULL);
        append[nr_append++] = quoted[i];
    }
    finish_array_merge(&e, &b, arr, array_key, append, nr_append, old, len, out);
out:
    for (size_t i = 0; i < n; i++)
        free(quoted[i]);
    free(quoted);
    free(append);
    jsonc_edits_release(&e);
    base_close(&b);
    return rc;
}

int jsonc_merge_members(const char *old, size_t len, const char *name, const char *skeleton,
                        const char *const *keys, const char *const *values, size_t n, bool force,
                        enum jsonc_merge_status *status, struct strbuf *out, char *err,
                        size_t errlen)
{
    struct base b;
    struct jsonc_edits e;
    struct jsonc_doc val;
    char **member = xcalloc(n ? n : 1, sizeof(*member));
    const char **append = xcalloc(n ? n : 1, sizeof(*append));
    size_t nr_append = 0;
    int rc;

    jsonc_edits_init(&e);
    jsonc_doc_init(&val);
    rc = base_open(&b, old, len, name, skeleton, err, errlen);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct jsonc_node *cur = jsonc_get(b.doc.root, keys[i]);
        struct strbuf m = STRBUF_INIT;
        char h1[17], h2[17];

        rc = jsonc_parse(&val, values[i], strlen(values[i]), "generated value", JSONC_STRICT, err,
                         errlen);
        if (rc < 0)
            goto out;
        if (cur) {
            jsonc_hash(cur, b.text.buf, NULL, h1);
            jsonc_hash(val.root, values[i], NULL, h2);
            if (!strcmp(h1, h2)) {
                status[i] = JSONC_MERGE_UNCHANGED;
            } else if (!force) {
                status[i] = JSONC_MERGE_KEPT_EDITED;
            } else {
                struct strbuf v = STRBUF_INIT, ind = STRBUF_INIT, r = STRBUF_INIT;

                status[i] = JSONC_MERGE_FORCED;
                jsonc_write(&v, val.root, values[i], b.style.unit, "\n", NULL);
                line_indent(&ind, b.text.buf, b.text.len, cur->item_start);
                reindent(&r, v.buf, ind.buf, &b.style);
                jsonc_edits_add(&e, cur->start, cur->end, r.buf);
                strbuf_release(&v);
                strbuf_release(&ind);
                strbuf_release(&r);
            }
            continue;
        }
        status[i] = JSONC_MERGE_ADDED;
        jsonc_quote(&m, keys[i], strlen(keys[i]));
        strbuf_addstr(&m, ": ");
        jsonc_write(&m, val.root, values[i], b.style.unit, "\n", NULL);
        member[i] = strbuf_detach(&m, NULL);
        append[nr_append++] = member[i];
    }
    jsonc_append(&e, &b.doc, b.doc.root, &b.style, append, nr_append);
    if (e.nr == 0 && b.text.len == len)
        strbuf_add(out, old, len);
    else
        jsonc_edits_apply(&e, b.text.buf, b.text.len, out);
out:
    for (size_t i = 0; i < n; i++)
        free(member[i]);
    free(member);
    free(append);
    jsonc_doc_release(&val);
    jsonc_edits_release(&e);
    base_close(&b);
    return rc;
}
