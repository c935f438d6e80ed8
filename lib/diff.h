/*
 * A unified diff of two texts, line by line (the "diff -u" format with three
 * lines of context), for `--diff` options that show what a command would
 * change.
 *
 * Ownership: the result goes into the caller's strbuf.
 */
#ifndef OMVDEV_LIB_DIFF_H
#define OMVDEV_LIB_DIFF_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stddef.h>

/*
 * Append "--- <name_a>", "+++ <name_b>" and the hunks turning a into b;
 * nothing at all when they are equal. A last line without a newline is
 * marked "\ No newline at end of file" as diff(1) does. Texts whose line
 * counts multiply past a few million are shown as one hunk.
 */
void diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *name_a,
                  const char *name_b, struct strbuf *out);

#endif
