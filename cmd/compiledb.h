/*
 * The compilation database of a build: `build` passes make CC= and CXX=
 * assignments that run the compiler through `omvdev-cc LOG COMPILER ...`
 * (the wrapper below records each translation unit, then becomes the
 * compiler), and folds the records into <make dir>/build/<TARGET>/
 * compile_commands.json when make ends.
 *
 *     struct cdb_capture c;
 *     cdb_capture_begin(ctx, make_dir, "OPENMV4", &c);
 *     n = cdb_capture_args(&c, argv, n);   ... make ...
 *     cdb_capture_end(ctx, &c);      (also releases c)
 *
 * Ownership: struct cdb_capture owns its strings until cdb_capture_end().
 */
#ifndef OMVDEV_CMD_COMPILEDB_H
#define OMVDEV_CMD_COMPILEDB_H

#include "lib/compat.h"
#include "cmd/cmd.h"
#include "lib/strbuf.h"

struct cdb_capture {
    struct strbuf log, db; /* the records of this make run, the database */
    struct strbuf cc, cxx; /* "CC=..." and "CXX=..." for make's command line */
    char *target;
};

void cdb_capture_begin(struct omv_ctx *ctx, const char *make_dir, const char *target,
                       struct cdb_capture *c);
/* Append c's CC= and CXX= to make's argv[0..n) unless the command line sets that variable
 * itself (then its compiler runs unrecorded); returns the new n. argv needs room for 2. */
size_t cdb_capture_args(const struct cdb_capture *c, const char **argv, size_t n);
void cdb_capture_end(struct omv_ctx *ctx, struct cdb_capture *c);

/*
 * The wrapper make runs for each compile: args = {LOG, COMPILER, ARGS..., NULL}, n of
 * them (omvdev-cc LOG COMPILER ARGS..., or omvdev __cc LOG COMPILER ARGS...): record,
 * then exec the compiler. Returns only on failure (127, as a shell does for a command it
 * cannot run). Lives in cmd/ccwrap.c, which needs only the C library.
 */
int cdb_wrapper_main(int n, char **args);

#endif
