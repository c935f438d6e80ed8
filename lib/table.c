#include "lib/compat.h"
#include "lib/table.h"

#include "lib/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void add_cells(struct table *t, va_list ap)
{
    XGROW(t->cells, t->alloc, (t->nrows + 1) * t->ncols);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);

        t->cells[t->nrows * t->ncols + c] = xstrdup(s ? s : "");
    }
    t->nrows++;
}

void table_header(struct table *t, size_t ncols, ...)
{
    va_list ap;

    t->ncols = ncols;
    va_start(ap, ncols);
    add_cells(t, ap);
    va_end(ap);
}

void table_row(struct table *t, ...)
{
    va_list ap;

    va_start(ap, t);
    add_cells(t, ap);
    va_end(ap);
}

void table_release(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Display width: count UTF-8 lead bytes, so "–" and "µ" take one column. */
static size_t width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static const char *cell(const struct table *t, size_t r, size_t c)
{
    return t->cells[r * t->ncols + c];
}

static void render_text(const struct table *t, struct strbuf *out)
{
    size_t *w = xcalloc(t->ncols, sizeof(*w));

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++)
            if (width(cell(t, r, c)) > w[c])
                w[c] = width(cell(t, r, c));
    for (size_t r = 0; r < t->nrows; r++) {
        size_t line = out->len;

        for (size_t c = 0; c < t->ncols; c++) {
            strbuf_addstr(out, cell(t, r, c));
            if (c + 1 < t->ncols)
                strbuf_addchars(out, ' ', w[c] - width(cell(t, r, c)) + 2);
        }
        while (out->len > line && out->buf[out->len - 1] == ' ')
            strbuf_setlen(out, out->len - 1);
        strbuf_addch(out, '\n');
    }
    free(w);
}

static void md_cell(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            strbuf_addch(out, '\\');
        strbuf_addch(out, *s);
    }
}

static void render_markdown(const struct table *t, struct strbuf *out)
{
    for (size_t r = 0; r < t->nrows; r++) {
        strbuf_addch(out, '|');
        for (size_t c = 0; c < t->ncols; c++) {
            strbuf_addch(out, ' ');
            md_cell(out, cell(t, r, c));
            strbuf_addstr(out, " |");
        }
        strbuf_addch(out, '\n');
        if (r == 0) {
            strbuf_addch(out, '|');
            for (size_t c = 0; c < t->ncols; c++)
                strbuf_addstr(out, "---|");
            strbuf_addch(out, '\n');
        }
    }
}

/* A cell as rst inline literal when it looks like a command line. */
static void rst_cell(struct strbuf *out, const char *s)
{
    if (s[0] == '-' && s[1] && s[1] != ' ') {
        strbuf_addf(out, "``%s``", s);
        return;
    }
    for (; *s; s++) {
        bool ref = *s == '_' && (s[1] == '\0' || s[1] == ' '); /* "word_" is a link */

        if (*s == '*' || *s == '`' || *s == '|' || *s == '\\' || ref)
            strbuf_addch(out, '\\');
        strbuf_addch(out, *s);
    }
}

static void render_rst(const struct table *t, struct strbuf *out)
{
    strbuf_addstr(out, ".. list-table::\n   :header-rows: 1\n\n");
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            strbuf_addstr(out, c == 0 ? "   * - " : "     - ");
            rst_cell(out, cell(t, r, c));
            strbuf_addch(out, '\n');
        }
    }
}

void table_render(const struct table *t, enum table_format fmt, struct strbuf *out)
{
    switch (fmt) {
    case TABLE_TEXT:
        render_text(t, out);
        break;
    case TABLE_MARKDOWN:
        render_markdown(t, out);
        break;
    case TABLE_RST:
        render_rst(t, out);
        break;
    }
}
