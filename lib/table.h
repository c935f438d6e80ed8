/*
 * Tables of text cells rendered as aligned plain text, GitHub markdown or a
 * reStructuredText list-table.
 *
 *     struct table t = TABLE_INIT;
 *     table_header(&t, 3, "A", "B", "C");
 *     table_row(&t, "1", "2", "3");   (as many cells as the header has)
 *     table_render(&t, TABLE_MARKDOWN, &sb);
 *     table_release(&t);
 *
 * Ownership: the table copies every cell.
 */
#ifndef OMVDEV_LIB_TABLE_H
#define OMVDEV_LIB_TABLE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stddef.h>

enum table_format {
    TABLE_TEXT,
    TABLE_MARKDOWN,
    TABLE_RST,
};

struct table {
    size_t ncols;
    char **cells; /* row-major; row 0 is the header */
    size_t nrows;
    size_t alloc;
};

#define TABLE_INIT                                                                                 \
    {                                                                                              \
        0, NULL, 0, 0                                                                              \
    }

void table_header(struct table *t, size_t ncols, ...);
/* ncols cells (const char *); NULL is an empty cell. */
void table_row(struct table *t, ...);
void table_render(const struct table *t, enum table_format fmt, struct strbuf *out);
void table_release(struct table *t);

#endif
