/*
 * @NAME@ substitution over text templates (the skeletons in templates/,
 * embedded at build time). NAME is [A-Z0-9_]+; any other '@' is literal.
 * Values are escaped for the output format. A line holding a placeholder
 * whose value is NULL is left out, so optional members of a JSON template
 * sit one per line.
 *
 * Ownership: the caller owns vars and the result strbuf.
 */
#ifndef OMVDEV_LIB_TEMPLATE_H
#define OMVDEV_LIB_TEMPLATE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stddef.h>

struct template_var {
    const char *name;  /* without the @s */
    const char *value; /* NULL: leave out the lines that use it */
};

enum template_escape {
    TEMPLATE_RAW,         /* values go in as they are */
    TEMPLATE_JSON_STRING, /* values sit inside "..." of a JSON string */
};

/*
 * Expand `text` into out. An unknown placeholder is OMV_EINVAL with
 * "<name>:<line>: unknown placeholder @X@" in err.
 */
int template_expand(const char *text, size_t len, const char *name, const struct template_var *vars,
                    size_t nr_vars, enum template_escape esc, struct strbuf *out, char *err,
                    size_t errlen);

#endif
