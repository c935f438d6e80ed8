/*
 * `size --save/--diff/--format/--all` and `build --json` (cmd/sizediff.c), called from
 * cmd/build.c with a few lines each:
 *
 *     struct sizediff_opts so;
 *     if ((rc = sizediff_read_opts(ctx, inv, size_opts, &so))) return rc;
 *     ... after the usual report: rc = sizediff_run(ctx, &so, &b, target);
 *
 *     struct build_doc doc;
 *     build_doc_begin(&doc, ctx);   // with --json, stdout carries only the document
 *     ... build_doc_add(&doc, ctx, &b, target, ok, note, seconds) per board ...
 *     build_doc_end(&doc);
 *
 * Every function returns an exit status after printing why (0 on success).
 * Ownership: struct build_doc owns its buffer until build_doc_end().
 */
#ifndef OMVDEV_CMD_SIZEDIFF_H
#define OMVDEV_CMD_SIZEDIFF_H

#include "lib/compat.h"
#include "cmd/buildcmd.h"
#include "cmd/cmd.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "targets/sizes.h"

#include <stdbool.h>

struct sizediff_opts {
    const char *save; /* NAME, FILE or DIR/ */
    const char *diff; /* NAME, FILE or DIR */
    enum sizes_format format;
    bool all;
};

/* Read --save, --diff, --format and --all once from `opts` (size's table). */
int sizediff_read_opts(struct omv_ctx *ctx, const struct omv_invocation *inv,
                       const struct opt *opts, struct sizediff_opts *o);
/* Does the command print the diff or JSON instead of the usual size report? */
bool sizediff_replaces_report(const struct sizediff_opts *o);
/* Measure `target`, then save and/or diff, or print it as JSON. */
int sizediff_run(struct omv_ctx *ctx, const struct sizediff_opts *o, const struct bld *b,
                 const char *target);
/* `size --all`: every board built in the repository, one table each or one document. */
int sizediff_all(struct omv_ctx *ctx, const struct sizediff_opts *o, const struct bld *b);

struct build_doc {
    int saved_stdout; /* -1: not --json */
    struct strbuf out;
    struct json_writer jw;
};

void build_doc_begin(struct build_doc *d, struct omv_ctx *ctx);
void build_doc_add(struct build_doc *d, struct omv_ctx *ctx, const struct bld *b,
                   const char *target, bool ok, const char *note, double seconds);
void build_doc_end(struct build_doc *d);

#endif
