/*
 * Size records for review and CI: `size --save NAME`, `size --diff NAME|FILE|DIR` with
 * --format text|markdown|json, `size --all` and `build --json` (every board in one
 * document). The measuring, saving and comparing are targets/sizes.c's.
 */
#include "lib/compat.h"

#include "cmd/sizediff.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "targets/fwtree.h"
#include "targets/sizes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sizediff_read_opts(struct omv_ctx *ctx, const struct omv_invocation *inv,
                       const struct opt *opts, struct sizediff_opts *o)
{
    const char *f = opt_value(&inv->opts, opts, "format");

    memset(o, 0, sizeof(*o));
    o->save = opt_value(&inv->opts, opts, "save");
    o->diff = opt_value(&inv->opts, opts, "diff");
    o->all = opt_count(&inv->opts, opts, "all") > 0;
    o->format = ctx->json ? SIZES_JSON : SIZES_TEXT;
    if (f && !strcmp(f, "markdown"))
        o->format = SIZES_MARKDOWN;
    else if (f && !strcmp(f, "json"))
        o->format = SIZES_JSON;
    if (f && ctx->json && o->format != SIZES_JSON)
        return usage_error(ctx, inv, "--json and --format %s contradict each other", f);
    if (o->all && (o->save || o->diff))
        return usage_error(ctx, inv, "--save and --diff work on one board: use -t TARGET");
    if (f && !o->diff && o->format != SIZES_JSON)
        return usage_error(ctx, inv, "--format %s is for --diff", f);
    return 0;
}

/* Where NAME|FILE|DIR points for `target`: see the --save option. */
static void ref_path(const struct bld *b, const char *target, const char *ref, struct strbuf *out)
{
    size_t len = strlen(ref);

    strbuf_reset(out);
    if (fs_is_dir(ref) || (len && ref[len - 1] == '/')) {
        strbuf_add(out, ref, len && ref[len - 1] == '/' ? len - 1 : len);
        strbuf_addf(out, "/%s.sizes", target);
    } else if (strchr(ref, '/') || (len > 6 && !strcmp(ref + len - 6, ".sizes"))) {
        strbuf_addstr(out, ref);
    } else {
        /* build/omvdev-sizes/NAME/: beside build/<TARGET>, which `make clean` removes */
        fw_tree_bin_dir(&b->tree, target, out);
        for (int i = 0; i < 2; i++) {
            char *slash = strrchr(out->buf, '/');

            if (slash)
                strbuf_setlen(out, (size_t)(slash - out->buf));
        }
        strbuf_addf(out, "/omvdev-sizes/%s/%s.sizes", ref, target);
    }
}

static int measure(struct omv_ctx *ctx, const struct bld *b, const char *target, struct size_rec *r)
{
    const struct target_db *db = ctx_targets(ctx);
    struct part_layout layout = PART_LAYOUT_INIT;
    struct strbuf dir = STRBUF_INIT, board = STRBUF_INIT;
    struct sizes_input in;
    char err[1024];
    int rc;

    fw_tree_bin_dir(&b->tree, target, &dir);
    fs_path_join(&board, b->tree.boards_dir, target);
    if ((rc = part_layout_load(&layout, board.buf, err, sizeof(err))) < 0 && rc != OMV_ENOENT)
        warning(ctx, "%s", err);
    in.target = target;
    in.bin_dir = dir.buf;
    in.layout = &layout;
    in.board = db ? target_find(db, target) : NULL;
    in.envp = (const char *const *)b->env.envp;
    rc = sizes_measure(r, &in, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT)
            hint(ctx, "build it first: omvdev build -t %s", target);
        else
            hint(ctx, "arm-none-eabi-size comes with the SDK: omvdev sdk install");
    }
    part_layout_release(&layout);
    strbuf_release(&dir);
    strbuf_release(&board);
    return rc < 0 ? exit_status_for(rc) : 0;
}

static int save(struct omv_ctx *ctx, const struct bld *b, const char *target,
                const struct size_rec *r, const char *ref)
{
    struct strbuf path = STRBUF_INIT;
    char err[1024];
    int rc;

    ref_path(b, target, ref, &path);
    rc = sizes_save(r, path.buf, err, sizeof(err));
    if (rc < 0)
        error(ctx, "%s", err);
    else
        note(ctx, "saved the sizes of %s to '%s'", target, path.buf);
    strbuf_release(&path);
    return rc < 0 ? exit_status_for(rc) : 0;
}

static int diff(struct omv_ctx *ctx, const struct bld *b, const char *target,
                const struct size_rec *cur, const char *ref, enum sizes_format fmt)
{
    struct size_rec old = SIZE_REC_INIT;
    struct strbuf path = STRBUF_INIT, out = STRBUF_INIT;
    struct json_writer jw;
    char err[1024];
    int rc;

    ref_path(b, target, ref, &path);
    rc = sizes_load(&old, path.buf, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT)
            hint(ctx, "record it first, on the build to compare with: omvdev size -t %s --save %s",
                 target, ref);
        goto out;
    }
    if (strcmp(old.target, target)) {
        error(ctx, "'%s' records %s, not %s", path.buf, old.target, target);
        rc = OMV_EUSAGE;
        goto out;
    }
    json_init(&jw, &out);
    if (fmt == SIZES_JSON) {
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "boards");
    }
    sizes_diff(&old, cur, ref, fmt, &out, &jw);
    if (fmt == SIZES_JSON) {
        json_array_end(&jw);
        json_object_end(&jw);
    }
    out_write(out.buf, out.len);
out:
    size_rec_release(&old);
    strbuf_release(&path);
    strbuf_release(&out);
    return rc < 0 ? exit_status_for(rc) : 0;
}

static void board_json(struct json_writer *jw, const struct size_rec *r)
{
    json_object_begin(jw, NULL);
    json_string(jw, "target", r->target);
    sizes_json_fields(r, jw);
    json_object_end(jw);
}

int sizediff_run(struct omv_ctx *ctx, const struct sizediff_opts *o, const struct bld *b,
                 const char *target)
{
    struct size_rec r = SIZE_REC_INIT;
    int rc;

    if ((rc = measure(ctx, b, target, &r)))
        goto out;
    if (o->save && (rc = save(ctx, b, target, &r, o->save)))
        goto out;
    if (o->diff) {
        rc = diff(ctx, b, target, &r, o->diff, o->format);
    } else if (o->format == SIZES_JSON) {
        struct strbuf out = STRBUF_INIT;
        struct json_writer jw;

        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "boards");
        board_json(&jw, &r);
        json_array_end(&jw);
        json_object_end(&jw);
        out_write(out.buf, out.len);
        strbuf_release(&out);
    }
out:
    size_rec_release(&r);
    return rc;
}

bool sizediff_replaces_report(const struct sizediff_opts *o)
{
    return o->diff || o->format == SIZES_JSON;
}

int sizediff_all(struct omv_ctx *ctx, const struct sizediff_opts *o, const struct bld *b)
{
    const struct target_db *db = ctx_targets(ctx);
    struct fw_list built = FW_LIST_INIT;
    struct strbuf out = STRBUF_INIT;
    struct json_writer jw;
    int rc = 0;

    fw_tree_built(&b->tree, &built);
    json_init(&jw, &out);
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_array_begin(&jw, "boards");
    for (size_t i = 0; i < built.nr; i++) {
        struct size_rec r = SIZE_REC_INIT;
        struct strbuf text = STRBUF_INIT;

        if (db && !target_find(db, built.items[i]))
            continue;
        if (measure(ctx, b, built.items[i], &r) != 0) {
            rc = OMV_EXIT_FAILURE; /* said why; the other boards still count */
        } else if (o->format == SIZES_JSON) {
            board_json(&jw, &r);
        } else {
            sizes_images_table(&r, &text);
            printf("%s\n%s\n", built.items[i], text.buf);
        }
        strbuf_release(&text);
        size_rec_release(&r);
    }
    json_array_end(&jw);
    json_object_end(&jw);
    if (!built.nr) {
        error(ctx, "no board of this repository has been built");
        hint(ctx, "build one first: omvdev build -t TARGET (or --all)");
        rc = OMV_EXIT_FAILURE;
    } else if (o->format == SIZES_JSON) {
        out_write(out.buf, out.len);
    }
    strbuf_release(&out);
    fw_list_release(&built);
    return rc;
}

/* ---- build --json ----------------------------------------------------------------------- */

void build_doc_begin(struct build_doc *d, struct omv_ctx *ctx)
{
    memset(d, 0, sizeof(*d));
    d->saved_stdout = -1;
    strbuf_init(&d->out);
    if (!ctx->json)
        return;
    /* make's and the report's output go to stderr: stdout carries the one document. */
    fflush(stdout);
    d->saved_stdout = dup(1);
    if (d->saved_stdout >= 0)
        dup2(2, 1);
    json_init(&d->jw, &d->out);
    json_object_begin(&d->jw, NULL);
    json_int(&d->jw, "schema", 1);
    json_array_begin(&d->jw, "boards");
}

void build_doc_add(struct build_doc *d, struct omv_ctx *ctx, const struct bld *b,
                   const char *target, bool ok, const char *note, double seconds)
{
    struct size_rec r = SIZE_REC_INIT;

    if (d->saved_stdout < 0)
        return;
    json_object_begin(&d->jw, NULL);
    json_string(&d->jw, "target", target);
    json_string(&d->jw, "result", ok ? "ok" : "failed");
    json_int(&d->jw, "milliseconds", (int64_t)(seconds * 1000.0 + 0.5));
    json_string(&d->jw, "note", note && *note ? note : NULL);
    if (ok && measure(ctx, b, target, &r) == 0)
        sizes_json_fields(&r, &d->jw);
    json_object_end(&d->jw);
    size_rec_release(&r);
}

void build_doc_end(struct build_doc *d)
{
    if (d->saved_stdout >= 0) {
        json_array_end(&d->jw);
        json_object_end(&d->jw);
        fflush(stdout);
        dup2(d->saved_stdout, 1);
        close(d->saved_stdout);
        out_write(d->out.buf, d->out.len);
    }
    strbuf_release(&d->out);
}
