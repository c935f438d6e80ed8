/*
 * The version of one third-party library: the one its headers (or pkg-config) named when
 * omvdev was compiled, and the one the loaded shared library reports. Each library's
 * accessor lives in the one .c file that includes its header.
 *
 * Ownership: plain values; nothing is allocated.
 */
#ifndef OMVDEV_LIB_LIBVERSION_H
#define OMVDEV_LIB_LIBVERSION_H

struct libversion {
    const char *name; /* "libcurl" */
    char built[48];   /* from the headers or pkg-config at compile time */
    char running[48]; /* from the library at run time; "" when it cannot say */
};

#endif
