#include "lib/compat.h"
#include "lib/template.h"

#include "lib/json.h"

#include "lib/error.h"

#include <stdbool.h>
#include <string.h>

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void add_escaped(struct strbuf *out, const char *v, enum template_escape esc)
{
    if (esc == TEMPLATE_RAW)
        strbuf_addstr(out, v);
    else
        json_escape(out, v, strlen(v));
}

int template_expand(const char *text, size_t len, const char *name, const struct template_var *vars,
                    size_t nr_vars, enum template_escape esc, struct strbuf *out, char *err,
                    size_t errlen)
{
    struct strbuf line = STRBUF_INIT;
    unsigned lineno = 0;
    size_t pos = 0;
    int rc = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        bool drop = false;

        lineno++;
        strbuf_reset(&line);
        for (size_t i = pos; i < end; i++) {
            size_t j = i + 1;
            const struct template_var *v = NULL;

            if (text[i] != '@') {
                strbuf_addch(&line, text[i]);
                continue;
            }
            while (j < end && name_char(text[j]))
                j++;
            if (j == i + 1 || j >= end || text[j] != '@') {
                strbuf_addch(&line, '@');
                continue;
            }
            for (size_t k = 0; k < nr_vars; k++)
                if (strlen(vars[k].name) == j - i - 1 &&
                    !memcmp(vars[k].name, text + i + 1, j - i - 1))
                    v = &vars[k];
            if (!v) {
                rc = omv_seterr(err, errlen, OMV_EINVAL, "%s:%u: unknown placeholder %.*s", name,
                                lineno, (int)(j - i + 1), text + i);
                goto out;
            }
            if (v->value)
                add_escaped(&line, v->value, esc);
            else
                drop = true;
            i = j;
        }
        if (!drop)
            strbuf_add(out, line.buf, line.len);
        pos = end;
    }
out:
    strbuf_release(&line);
    return rc;
}
