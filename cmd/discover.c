/*
 * Discovery shared by every command: the firmware tree, the output directory
 * of a board, the SDK and this program (see buildcmd.h).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "flash/elf.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "sdk/locate.h"
#include "targets/repo.h"

#include <string.h>
#include <unistd.h>

/* Say which root was chosen when the working directory lies in one of its submodules. */
static void note_submodule(struct omv_ctx *ctx, const char *cwd, const char *root)
{
    struct strbuf found = STRBUF_INIT, inside = STRBUF_INIT;

    if (!ctx->dir_given && repo_find(cwd, &found, &inside, NULL, 0) == 0 && inside.len)
        note(ctx,
             "inside the submodule '%s': using the firmware repository at '%s' (-C DIR picks "
             "another)",
             inside.buf, root);
    strbuf_release(&found);
    strbuf_release(&inside);
}

int cmd_tree_open(struct omv_ctx *ctx, struct fw_tree *t, bool quiet)
{
    struct strbuf root = STRBUF_INIT;
    char err[1024], cwd[4096];
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (!getcwd(cwd, sizeof(cwd)))
        strcpy(cwd, ".");
    if (!ctx->project_root) {
        if (!quiet) {
            repo_find(cwd, &root, NULL, err, sizeof(err));
            error(ctx, "%s", err);
            hint(ctx, "run omvdev inside a clone of the firmware (git clone --recursive "
                      "https://github.com/openmv/openmv.git), or name it: omvdev -C DIR ...");
        }
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (fw_tree_open(t, ctx->project_root, err, sizeof(err)) < 0) {
        if (!quiet)
            error(ctx, "%s", err);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (!quiet)
        note_submodule(ctx, cwd, t->root);
out:
    strbuf_release(&root);
    return rc;
}

int cmd_images_dir(struct omv_ctx *ctx, const char *target, struct strbuf *dir)
{
    struct fw_tree t;
    char err[1024];
    int rc = 0;

    strbuf_reset(dir);
    if (!ctx->project_root || cmd_tree_open(ctx, &t, true)) {
        strbuf_addf(dir, "build/%s/bin", target);
        return 0;
    }
    {
        char cwd[4096];

        if (getcwd(cwd, sizeof(cwd)))
            note_submodule(ctx, cwd, t.root);
    }
    fw_tree_bin_dir(&t, target, dir);
    if (fw_tree_check_owner(&t, target, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx,
             "build %s's images first (this layout keeps one board's images at a time): "
             "omvdev build -t %s",
             target, target);
        rc = OMV_EXIT_FAILURE;
    }
    fw_tree_release(&t);
    return rc;
}

void cmd_build_dir_rel(struct omv_ctx *ctx, const char *target, struct strbuf *out)
{
    struct fw_tree t;
    struct strbuf abs = STRBUF_INIT;

    strbuf_reset(out);
    if (!ctx->project_root || cmd_tree_open(ctx, &t, true)) {
        strbuf_addf(out, "build/%s", target);
        return;
    }
    fw_tree_build_dir(&t, target, &abs);
    fw_tree_rel(&t, abs.buf, out);
    strbuf_release(&abs);
    fw_tree_release(&t);
}

void cmd_sdk_dir(struct omv_ctx *ctx, bool newest, struct strbuf *out)
{
    const struct cfg_entry *root = cfg_lookup(&ctx->cfg, "sdk", "root");
    enum sdk_pick how;

    if (sdk_locate(root ? root->value : NULL, ctx->project_root, newest, out, &how, NULL, 0) < 0 ||
        (out->len && !fs_is_dir(out->buf)))
        strbuf_reset(out);
}

void cmd_self_exe(struct strbuf *out)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    strbuf_reset(out);
    if (n > 0) {
        buf[n] = '\0';
        strbuf_addstr(out, buf);
    } else if (proc_find_program("omvdev", NULL, out, NULL, 0) < 0) {
        strbuf_addstr(out, "omvdev");
    }
}

void cmd_warn_not_debug(struct omv_ctx *ctx, const char *target, const char *elf)
{
    struct strbuf data = STRBUF_INIT;
    struct elf_producers pr;
    char err[256];

    if (fs_read_file(elf, &data, err, sizeof(err)) < 0)
        goto out;
    if (elf_producers((const uint8_t *)data.buf, data.len, &pr, err, sizeof(err)) < 0) {
        warning(ctx, "'%s': %s", elf, err);
        goto out;
    }
    if (!pr.has_debug_info)
        warning(ctx,
                "'%s' has no debug information (no .debug_info): not a DEBUG=1 build, so "
                "variables show as <optimized out>",
                elf);
    else if (pr.optimised_cus > pr.debug_cus)
        warning(ctx,
                "'%s' is not a debug build: %u of its %u compilation units were optimised (%s); "
                "variables will show as <optimized out> and steps will jump",
                elf, pr.optimised_cus, pr.cus, pr.sample[1]);
    else
        goto out;
    hint(ctx, "make TARGET=%s DEBUG=1 after a make clean, or: omvdev build -t %s --debug", target,
         target);
out:
    strbuf_release(&data);
}
