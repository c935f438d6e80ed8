/*
 * A compilation database (compile_commands.json, as clangd and the C/C++
 * extension read it) recorded while make builds: make runs the compiler
 * through a wrapper (`omvdev-cc LOG COMPILER ARGS...`) that appends one
 * line per translation unit to LOG and then becomes the compiler; after make,
 * compiledb_merge() folds LOG into the database, keeping the entries of files
 * not compiled this time.
 *
 *     compiledb_make_var(&v, "CC", wrapper, log, "arm-none-eabi-gcc");
 *     ... make ... v.buf ...  (each compile: compiledb_record(log, cwd, argv))
 *     compiledb_merge(log, "build/OPENMV4/compile_commands.json", &st, err, len);
 *
 * Ownership: results go into caller strbufs; nothing is kept.
 */
#ifndef OMVDEV_LIB_COMPILEDB_H
#define OMVDEV_LIB_COMPILEDB_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * A make command-line assignment NAME=<wrapper words> <log> <compiler>, each
 * word quoted for the shell make runs recipes in and with '$' doubled for
 * make, so that a recipe's `$(CC) -c x.c` runs the wrapper. On make's command
 * line it wins over the Makefile's own assignment and reaches recursive makes.
 * `wrapper` is NULL-terminated: {"/usr/bin/omvdev-cc", NULL}.
 */
void compiledb_make_var(struct strbuf *out, const char *name, const char *const *wrapper,
                        const char *log, const char *compiler);

/*
 * The translation units of one compiler invocation (argv[0] the compiler):
 * nothing unless it compiles (-c) one or more C, C++ or assembler sources.
 * Appends one JSON line per source, {"directory", "file", "output",
 * "arguments"}, to `log` with one write each (O_APPEND: parallel compilers do
 * not interleave). *recorded says how many.
 */
int compiledb_record(const char *log, const char *cwd, const char *const *argv, size_t *recorded,
                     char *err, size_t errlen);

struct compiledb_stats {
    size_t entries;  /* in the database written */
    size_t recorded; /* lines of the log taken */
    size_t dropped;  /* old entries whose source file is gone */
    bool replaced;   /* the old database did not parse: it was started afresh */
};

/*
 * Merge `log` into the database `db` (created when missing): an entry with
 * the same directory, file and output is replaced in place, new ones are
 * appended, entries whose source no longer exists are dropped. The database
 * is written atomically and the log removed. No log: nothing happens (0).
 * A database that does not parse is started afresh (st->replaced, its
 * message in err); OMV_EPARSE for a log line that is not what this module
 * writes (the log is left for a look).
 */
int compiledb_merge(const char *log, const char *db, struct compiledb_stats *st, char *err,
                    size_t errlen);

#endif
