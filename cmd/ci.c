/*
 * `omvdev ci github`: a GitHub Actions workflow for the firmware repository — omvdev built
 * once as a Debian package, a matrix over the boards, the SDK cached by SDK_VERSION and
 * its published checksum and installed with `omvdev sdk install`, `omvdev build --init`
 * per board, artefacts per board, and a job that posts the markdown size diff against the
 * base branch on pull requests.
 *
 * The workflow is YAML, which omvdev does not edit in place: it writes the whole file, with
 * a header line holding the SHA-256 of the body. A rerun replaces the file only while the
 * body still matches that hash (nobody edited it); an edited file, or one omvdev did not
 * write, is left alone unless --force.
 */
#include "lib/compat.h"

#include "cmd/cmd.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/proc.h"
#include "lib/strbuf.h"
#include "lib/template.h"
#include "sdk/digest.h"
#include "targets/fwtree.h"
#include "targets/targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef OMVDEV_VERSION
#define OMVDEV_VERSION "unknown"
#endif

#define CI_HASH_PREFIX    "# omvdev-sha256: "
#define CI_DEFAULT_OUTPUT ".github/workflows/firmware.yml"
#define CI_DEFAULT_GIT    "https://github.com/openmv/omvdev.git"

extern const struct embedded_file template_files[];
extern const size_t template_files_count;

static const struct opt ci_github_opts[] = {
    {"boards", 'b', OPT_VALUE, "TARGET[,TARGET...]",
     "the matrix (default: every board both this repository and omvdev know)", NULL, 0, NULL},
    {"output", 'o', OPT_VALUE, "FILE", "where to write (default: " CI_DEFAULT_OUTPUT ")", NULL, 0,
     NULL},
    {"branch", 0, OPT_VALUE, "BRANCH",
     "the default branch pushes build and record sizes for (default: origin's, else master)", NULL,
     0, NULL},
    {"omvdev-git", 0, OPT_VALUE, "URL",
     "the omvdev repository CI builds omvdev from (default: " CI_DEFAULT_GIT ")", NULL, 0, NULL},
    {"omvdev-ref", 0, OPT_VALUE, "REF", "its branch or tag (default: main)", NULL, 0, NULL},
    {"print", 0, OPT_FLAG, NULL, "print the workflow instead of writing it", NULL, 0, NULL},
    {"force", 'f', OPT_FLAG, NULL, "overwrite the file even when it was edited", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static int cmd_ci_github(struct omv_ctx *ctx, struct omv_invocation *inv);

const struct omv_cmd ci_subcommands[] = {
    {"github", cmd_ci_github, "write a GitHub Actions workflow that builds every board",
     "[--boards TARGET,...] [--output FILE] [--branch B] [--print] [--force]",
     "Write .github/workflows/firmware.yml: omvdev built once as a Debian package, a matrix\n"
     "job per board (the SDK cached by SDK_VERSION and its published SHA-256, installed\n"
     "with 'omvdev sdk install'; 'omvdev build --init'; the board's images as an artefact),\n"
     "and on pull requests a comment with the size diff against the base branch. A rerun\n"
     "updates the file unless it was edited since (then --force).",
     ci_github_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COMPLETE_NONE},
};

struct ci_opts {
    const char *boards, *output, *branch, *git, *ref;
    bool print, force;
};

static void ci_read_opts(const struct omv_invocation *inv, struct ci_opts *o)
{
    const struct opt *t = ci_github_opts;

    o->boards = opt_value(&inv->opts, t, "boards");
    o->output = opt_value(&inv->opts, t, "output");
    o->branch = opt_value(&inv->opts, t, "branch");
    o->git = opt_value(&inv->opts, t, "omvdev-git");
    o->ref = opt_value(&inv->opts, t, "omvdev-ref");
    o->print = opt_count(&inv->opts, t, "print") > 0;
    o->force = opt_count(&inv->opts, t, "force") > 0;
    if (!o->git)
        o->git = CI_DEFAULT_GIT;
    if (!o->ref)
        o->ref = "main";
}

/* The default branch origin points at (origin/HEAD), else "master" (the firmware's). */
static void default_branch(const char *root, struct strbuf *out)
{
    const char *argv[] = {"git", "-C", root, "rev-parse", "--abbrev-ref", "origin/HEAD", NULL};
    struct proc_spec spec;
    struct proc p;
    char err[256];

    memset(&spec, 0, sizeof(spec));
    spec.argv = argv;
    spec.out = PROC_CAPTURE;
    spec.err = PROC_DISCARD;
    spec.stdin_null = true;
    if (proc_run(&p, &spec, 10000, err, sizeof(err)) == 0) {
        strbuf_trim_trailing(&p.out);
        if (p.exited && p.exit_code == 0 && !strncmp(p.out.buf, "origin/", 7) && p.out.buf[7])
            strbuf_addstr(out, p.out.buf + 7);
        proc_release(&p);
    }
    if (!out->len)
        strbuf_addstr(out, "master");
}

/* A name fit for a YAML flow list and a cache key. */
static bool plain_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* The matrix: --boards (each known to the repository), else the repository's boards that
 * the database knows. Returns 0 or an exit status after printing why. */
static int pick_boards(struct omv_ctx *ctx, const struct omv_invocation *inv,
                       const struct fw_tree *tree, const char *list, struct strbuf *out)
{
    const struct target_db *db = ctx_targets(ctx);
    struct fw_list have = FW_LIST_INIT;
    char err[512];
    int rc = 0;

    if (fw_tree_boards(tree, &have, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    if (list) {
        char *copy = xstrdup(list), *save = NULL;

        for (char *b = strtok_r(copy, ",", &save); b && !rc; b = strtok_r(NULL, ",", &save)) {
            bool found = false;

            for (size_t i = 0; i < have.nr; i++)
                found = found || !strcmp(have.items[i], b);
            if (!plain_name(b) || !found)
                rc = usage_error(ctx, inv, "board '%s' is not in this repository's boards/", b);
            else
                strbuf_addf(out, "%s%s", out->len ? ", " : "", b);
        }
        free(copy);
    } else {
        for (size_t i = 0; i < have.nr; i++)
            if (db && target_find(db, have.items[i]) && plain_name(have.items[i]))
                strbuf_addf(out, "%s%s", out->len ? ", " : "", have.items[i]);
    }
    if (!rc && !out->len) {
        error(ctx, "no board of this repository is in omvdev's board database");
        hint(ctx, "name them: omvdev ci github --boards TARGET,...");
        rc = OMV_EXIT_FAILURE;
    }
    fw_list_release(&have);
    return rc;
}

static void body_hash(const char *body, size_t len, char hex[DIGEST_HEX_LEN + 1])
{
    struct digest d;

    digest_init(&d);
    digest_update(&d, body, len);
    digest_final_hex(&d, hex);
    digest_release(&d);
}

/* The whole file: the header (with the body's hash), then the expanded template. */
static int render(const struct ci_opts *o, const char *boards, const char *branch,
                  struct strbuf *out, char *err, size_t errlen)
{
    const struct embedded_file *tmpl = NULL;
    struct strbuf body = STRBUF_INIT;
    char hex[DIGEST_HEX_LEN + 1];
    const struct template_var vars[] = {
        {"BOARDS", boards}, {"BRANCH", branch}, {"OMVDEV_GIT", o->git}, {"OMVDEV_REF", o->ref}};
    int rc;

    for (size_t i = 0; i < template_files_count; i++)
        if (!strcmp(template_files[i].name, "github.yml"))
            tmpl = &template_files[i];
    if (!tmpl)
        return omv_seterr(err, errlen, OMV_ENOENT, "the workflow template is missing from omvdev");
    rc = template_expand(tmpl->data, tmpl->len, "github.yml", vars, ARRAY_SIZE(vars), TEMPLATE_RAW,
                         &body, err, errlen);
    if (rc == 0) {
        body_hash(body.buf, body.len, hex);
        strbuf_addf(out,
                    "# Written by `omvdev ci github` (omvdev %s). Rerun it to update this file;\n"
                    "# once you edit it, omvdev leaves it alone (unless --force).\n" CI_HASH_PREFIX
                    "%s\n",
                    OMVDEV_VERSION, hex);
        strbuf_add(out, body.buf, body.len);
    }
    strbuf_release(&body);
    return rc;
}

/* Is `text` a file omvdev wrote and nobody changed since? */
static bool untouched(const char *text, size_t len)
{
    const char *h = strstr(text, "\n" CI_HASH_PREFIX);
    const char *body;
    char want[DIGEST_HEX_LEN + 1], hex[DIGEST_HEX_LEN + 1];

    if (!h || (size_t)(h - text) > 512)
        return false;
    h += 1 + strlen(CI_HASH_PREFIX);
    body = strchr(h, '\n');
    if (!body || body - h != DIGEST_HEX_LEN)
        return false;
    memcpy(want, h, DIGEST_HEX_LEN);
    want[DIGEST_HEX_LEN] = '\0';
    body++;
    body_hash(body, len - (size_t)(body - text), hex);
    return !strcmp(hex, want);
}

static void report_json(const char *path, const char *action, const char *boards)
{
    struct strbuf sb = STRBUF_INIT;
    struct json_writer jw;

    json_init(&jw, &sb);
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "file", path);
    json_string(&jw, "action", action);
    json_string(&jw, "boards", boards);
    json_object_end(&jw);
    out_write(sb.buf, sb.len);
    strbuf_release(&sb);
}

/* Write `text` to path unless an edited file is there. Returns an exit status. */
static int write_workflow(struct omv_ctx *ctx, const struct ci_opts *o, const char *path,
                          const struct strbuf *text, const char *boards)
{
    struct strbuf old = STRBUF_INIT;
    const char *action = "written";
    char err[1024];
    int rc = OMV_EXIT_OK;

    if (fs_read_file(path, &old, NULL, 0) == 0) {
        if (old.len == text->len && !memcmp(old.buf, text->buf, old.len)) {
            action = "unchanged";
            goto done;
        }
        if (!o->force && !untouched(old.buf, old.len)) {
            error(ctx, "'%s' was edited since omvdev wrote it (or omvdev did not write it)", path);
            hint(ctx,
                 "keep your edits and compare: omvdev ci github --print | diff %s -; "
                 "or replace it: omvdev ci github --force",
                 path);
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
        action = "updated";
    }
    if (fs_write_atomic(path, text->buf, text->len, 0644, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
done:
    if (ctx->json)
        report_json(path, action, boards);
    else
        note(ctx, "%s '%s' (boards: %s)", action, path, boards);
out:
    strbuf_release(&old);
    return rc;
}

static int cmd_ci_github(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct ci_opts o;
    struct fw_tree tree;
    struct strbuf boards = STRBUF_INIT, branch = STRBUF_INIT, text = STRBUF_INIT,
                  path = STRBUF_INIT;
    char err[1024];
    int rc;

    memset(&tree, 0, sizeof(tree));
    ci_read_opts(inv, &o);
    if (!ctx->project_root) {
        error(ctx, "not inside an openmv firmware repository");
        hint(ctx, "run omvdev inside a clone of the firmware (or -C DIR)");
        return OMV_EXIT_USAGE;
    }
    if (fw_tree_open(&tree, ctx->project_root, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if ((rc = pick_boards(ctx, inv, &tree, o.boards, &boards)))
        goto out;
    if (o.branch && !plain_name(o.branch)) {
        rc = usage_error(ctx, inv, "invalid --branch '%s'", o.branch);
        goto out;
    }
    if (o.branch)
        strbuf_addstr(&branch, o.branch);
    else
        default_branch(ctx->project_root, &branch);
    if (render(&o, boards.buf, branch.buf, &text, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (o.print) {
        out_write(text.buf, text.len);
        goto out;
    }
    if (o.output)
        strbuf_addstr(&path, o.output);
    else
        fs_path_join(&path, ctx->project_root, CI_DEFAULT_OUTPUT);
    rc = write_workflow(ctx, &o, path.buf, &text, boards.buf);
out:
    fw_tree_release(&tree);
    strbuf_release(&boards);
    strbuf_release(&branch);
    strbuf_release(&text);
    strbuf_release(&path);
    return rc;
}
