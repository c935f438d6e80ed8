/*
 * Finding the openmv/openmv firmware repository a command runs in.
 *
 * Ownership: results go into the caller's strbuf.
 */
#ifndef OMVDEV_TARGETS_REPO_H
#define OMVDEV_TARGETS_REPO_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stddef.h>

/*
 * Walk up from `start` (absolute) to the first directory that looks like the
 * firmware repository: a Makefile and a boards/ directory beside it (current
 * layout), or src/Makefile and src/omv/boards/ (releases before 4.6). Its
 * path goes into root. OMV_ENOTREPO, with what was looked for, when none.
 */
int repo_find(const char *start, struct strbuf *root, char *err, size_t errlen);

#endif
