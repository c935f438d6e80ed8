/*
 * Files built into the binary by cmake/embed.cmake (board data, templates).
 * The generated tables are const and live for the whole program.
 */
#ifndef OMVDEV_LIB_EMBED_H
#define OMVDEV_LIB_EMBED_H

#include "lib/compat.h"

#include <stddef.h>

struct embedded_file {
    const char *name; /* base name, e.g. "OPENMV4.ini" */
    const char *data; /* NUL-terminated, len bytes before the NUL */
    size_t len;
};

#endif
