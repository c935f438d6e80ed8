#include "lib/compat.h"
#include "lib/json.h"

#include <inttypes.h>
#include <string.h>

void json_init(struct json_writer *jw, struct strbuf *out)
{
    jw->out = out;
    jw->depth = 0;
    jw->need_comma[0] = false;
    jw->compact = false;
}

void json_escape(struct strbuf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : utf8_seq_len(s + i, len - i);

        if (n == 0) {
            /* JSON text is UTF-8: a byte that is not (a path, a config value) is U+FFFD. */
            strbuf_addstr(out, "\\ufffd");
            continue;
        }
        if (n > 1) {
            strbuf_add(out, s + i, n);
            i += n - 1;
            continue;
        }
        switch (c) {
        case '"':
            strbuf_addstr(out, "\\\"");
            break;
        case '\\':
            strbuf_addstr(out, "\\\\");
            break;
        case '\n':
            strbuf_addstr(out, "\\n");
            break;
        case '\r':
            strbuf_addstr(out, "\\r");
            break;
        case '\t':
            strbuf_addstr(out, "\\t");
            break;
        case '\b':
            strbuf_addstr(out, "\\b");
            break;
        case '\f':
            strbuf_addstr(out, "\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                strbuf_addstr(out, "\\u00");
                strbuf_addch(out, hex[c >> 4]);
                strbuf_addch(out, hex[c & 15]);
            } else {
                strbuf_addch(out, c);
            }
        }
    }
}

void json_quote(struct strbuf *out, const char *s)
{
    strbuf_addch(out, '"');
    json_escape(out, s, strlen(s));
    strbuf_addch(out, '"');
}

/* Comma, newline, indent and key before a value at the current depth. */
static void json_prefix(struct json_writer *jw, const char *key)
{
    if (jw->depth > 0) {
        if (jw->need_comma[jw->depth])
            strbuf_addstr(jw->out, jw->compact ? ", " : ",");
        if (!jw->compact) {
            strbuf_addch(jw->out, '\n');
            strbuf_addchars(jw->out, ' ', 2 * (size_t)jw->depth);
        }
    }
    jw->need_comma[jw->depth] = true;
    if (key) {
        json_quote(jw->out, key);
        strbuf_addstr(jw->out, ": ");
    }
}

static void json_open(struct json_writer *jw, const char *key, int c)
{
    json_prefix(jw, key);
    strbuf_addch(jw->out, c);
    if (jw->depth + 1 < JSON_MAX_DEPTH)
        jw->depth++;
    jw->need_comma[jw->depth] = false;
}

static void json_close(struct json_writer *jw, int c)
{
    bool had_items = jw->need_comma[jw->depth];

    if (jw->depth > 0)
        jw->depth--;
    if (had_items && !jw->compact) {
        strbuf_addch(jw->out, '\n');
        strbuf_addchars(jw->out, ' ', 2 * (size_t)jw->depth);
    }
    strbuf_addch(jw->out, c);
    if (jw->depth == 0)
        strbuf_addch(jw->out, '\n');
}

void json_object_begin(struct json_writer *jw, const char *key)
{
    json_open(jw, key, '{');
}

void json_object_end(struct json_writer *jw)
{
    json_close(jw, '}');
}

void json_array_begin(struct json_writer *jw, const char *key)
{
    json_open(jw, key, '[');
}

void json_array_end(struct json_writer *jw)
{
    json_close(jw, ']');
}

void json_string(struct json_writer *jw, const char *key, const char *value)
{
    json_prefix(jw, key);
    if (value)
        json_quote(jw->out, value);
    else
        strbuf_addstr(jw->out, "null");
}

void json_int(struct json_writer *jw, const char *key, int64_t value)
{
    json_prefix(jw, key);
    strbuf_addf(jw->out, "%" PRId64, value);
}

void json_bool(struct json_writer *jw, const char *key, bool value)
{
    json_prefix(jw, key);
    strbuf_addstr(jw->out, value ? "true" : "false");
}

void json_null(struct json_writer *jw, const char *key)
{
    json_prefix(jw, key);
    strbuf_addstr(jw->out, "null");
}
