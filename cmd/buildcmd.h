/*
 * What `build` and `doctor` share: the firmware repository, the SDK it
 * needs and the environment make runs in, opened once per command.
 *
 *     struct bld b;
 *     if ((rc = bld_open(ctx, &b, false))) return rc;   // printed why
 *     ... b.tree.root, b.version.buf, b.sdk_dir.buf, b.env.envp ...
 *     bld_release(&b);
 *
 * Ownership: struct bld owns everything in it until bld_release(), which is
 * safe after a failed bld_open().
 */
#ifndef OMVDEV_CMD_BUILDCMD_H
#define OMVDEV_CMD_BUILDCMD_H

#include "lib/compat.h"
#include "cmd/cmd.h"
#include "lib/strbuf.h"
#include "sdk/buildenv.h"
#include "targets/fwtree.h"

#include <stdbool.h>

struct bld {
    struct fw_tree tree;
    bool have_tree;
    bool no_version;       /* no SDK_VERSION: a release before the SDK */
    struct strbuf version; /* SDK_VERSION */
    struct strbuf sdk_dir; /* where that SDK is or would be */
    int stamp_rc;          /* sdk_read_stamp's result */
    struct strbuf stamp;   /* the installed SDK's version, when stamp_rc == 0 */
    char stamp_err[512];
    const char *sysname; /* "Linux" or "Darwin" */
    struct buildenv env; /* SDK_DIR and the prefixed PATH */
};

/* Find the repository and its SDK. Returns 0, or an exit status after printing
 * an error (nothing is printed when `quiet`). */
int bld_open(struct omv_ctx *ctx, struct bld *b, bool quiet);
void bld_release(struct bld *b);

/* Is the SDK the repository needs installed (or does it need none)? */
bool bld_sdk_ok(const struct bld *b);
/* One line saying what is wrong with the SDK, for an error or a doctor check. */
void bld_explain_sdk(struct omv_ctx *ctx, const struct bld *b, struct strbuf *msg);

/*
 * Which arm-none-eabi-gcc make would run with b's PATH, and whether it is new
 * enough for `t` (NULL: any version). 0 with "BIN (GCC X.Y)" in `problem`;
 * -1 with the problem and its fix otherwise.
 */
int bld_check_gcc(struct omv_ctx *ctx, const struct bld *b, const struct target *t,
                  struct strbuf *problem, struct strbuf *fix);

/* ---- discovery for every command (cmd/discover.c) ------------------------------------ */

/*
 * The firmware repository of this run (ctx->project_root) as a struct
 * fw_tree. When the command was started inside one of its submodules
 * without -C, a note names the root chosen. Returns 0, or an exit status
 * after printing why (nothing is printed when `quiet`).
 */
int cmd_tree_open(struct omv_ctx *ctx, struct fw_tree *t, bool quiet);

/*
 * Where `target`'s images are: the tree's output directory for it, or
 * build/<T>/bin relative to the working directory outside a repository.
 * In a shared output directory (up to v4.8.x) that holds another board's
 * images, prints the error and a hint and returns OMV_EXIT_FAILURE.
 */
int cmd_images_dir(struct omv_ctx *ctx, const char *target, struct strbuf *dir);

/* `target`'s make output directory (BUILD) relative to the repository root:
 * build/<T>, build or src/build; build/<T> outside a repository. */
void cmd_build_dir_rel(struct omv_ctx *ctx, const char *target, struct strbuf *out);

/*
 * The SDK directory tools come from: $SDK_DIR, else the one the repository
 * pins, else (`newest`) the newest installed; empty when it does not exist.
 */
void cmd_sdk_dir(struct omv_ctx *ctx, bool newest, struct strbuf *out);

/*
 * Warn when the ELF at `elf` is not a debug build: no .debug_info, or more
 * compilation units built with -O1..-O3/-Os than with -O0/-Og (read from
 * DW_AT_producer). Silent when it is one, or when it cannot be read.
 */
void cmd_warn_not_debug(struct omv_ctx *ctx, const char *target, const char *elf);

/* This program's path (/proc/self/exe, else omvdev on PATH), for running
 * `omvdev sdk ...` or writing it into a VS Code task. */
void cmd_self_exe(struct strbuf *out);

#endif
