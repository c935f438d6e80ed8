/*
 * The layout of a checked-out openmv/openmv firmware repository: the one
 * place every command (build, size, clean, flash, flash --swd, debug,
 * recover, vscode, doctor, env) learns where make runs, where a board's
 * files and images are and what the tree's Makefile understands.
 *
 * Two layout families, both read from the tree itself:
 *   to v4.6.x   src/Makefile, src/omv/boards/<B>/omv_boardconfig.h,
 *               src/lib/micropython, output in src/build/bin (all boards)
 *   v4.7.0 on   Makefile, boards/<B>/omv_boardconfig.h (board_config.h from
 *               v5.0.0), lib/micropython; output in build/bin for all boards
 *               up to v4.8.x, build/<B>/bin from v5.0.0 (SDK_VERSION too)
 * Whether the output directory is shared comes from the Makefile's BUILD
 * assignment (does it name $(TARGET)?), not from a version number.
 *
 * In a shared output directory, which board's images are there is read
 * from the build: omvdev's record (<BUILD>/omvdev-build, written after each
 * build it runs, holding the board and the make options), trusted while no
 * image is newer than it; else the dependency files make wrote (*.d naming
 * boards/<B>/...). See fw_build_info_read().
 *
 * Ownership: struct fw_tree owns its strings until fw_tree_release();
 * string lists (struct fw_list) own their entries until fw_list_release();
 * struct fw_build_info owns its strings until fw_build_info_release().
 */
#ifndef OMVDEV_TARGETS_FWTREE_H
#define OMVDEV_TARGETS_FWTREE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

struct fw_list {
    char **items;
    size_t nr, alloc;
};

#define FW_LIST_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void fw_list_add(struct fw_list *l, const char *s);
bool fw_list_has(const struct fw_list *l, const char *s);
void fw_list_release(struct fw_list *l);

enum fw_layout {
    FW_LAYOUT_TOP, /* v4.7.0 on */
    FW_LAYOUT_SRC, /* up to v4.6.x: everything under src/ */
};

struct fw_tree {
    char *root;         /* the repository */
    char *make_dir;     /* where make runs: root, or root/src */
    char *boards_dir;   /* boards/ or src/omv/boards */
    char *mpy_dir;      /* lib/micropython or src/lib/micropython */
    char *mpy_rel;      /* mpy_dir relative to root */
    const char *prefix; /* make_dir relative to root with a trailing '/': "" or "src/" */
    enum fw_layout layout;
    bool legacy;              /* layout == FW_LAYOUT_SRC */
    bool shared_bin;          /* one output directory for every board */
    bool submodules_goal;     /* the Makefile has a `submodules` goal */
    bool sdk_version;         /* an SDK_VERSION file pins the SDK */
    struct fw_list make_vars; /* the variables the Makefile tests: ifeq ($(X), ...), ifdef X */
};

/* Describe the repository at `root` (as found by repo_find). OMV_ENOTREPO
 * when it has neither layout. */
int fw_tree_open(struct fw_tree *t, const char *root, char *err, size_t errlen);
void fw_tree_release(struct fw_tree *t);

/* The directory make builds TARGET in (its BUILD: build/<T>, build or
 * src/build), and the one it puts the images in (FW_DIR: BUILD/bin). */
void fw_tree_build_dir(const struct fw_tree *t, const char *target, struct strbuf *out);
void fw_tree_bin_dir(const struct fw_tree *t, const char *target, struct strbuf *out);

/* boards/<T> (or src/omv/boards/<T>). */
void fw_tree_board_dir(const struct fw_tree *t, const char *target, struct strbuf *out);

/* `path` (absolute, or relative to the repository) shown relative to the
 * repository root when it lies inside it. */
void fw_tree_rel(const struct fw_tree *t, const char *path, struct strbuf *out);

/* Does the Makefile test the variable `name`? */
bool fw_tree_reads_var(const struct fw_tree *t, const char *name);

/* The board directories (sorted). OMV_EIO when boards/ cannot be read. */
int fw_tree_boards(const struct fw_tree *t, struct fw_list *out, char *err, size_t errlen);

/* The boards with images in the output directory (sorted): the
 * build/<T> directories, or the board of a shared directory when known. */
void fw_tree_built(const struct fw_tree *t, struct fw_list *out);

/* The mpy-cross binary's path, and whether it is built. */
bool fw_tree_mpy_cross(const struct fw_tree *t, struct strbuf *path);

/* ---- what the output directory holds ------------------------------------------------- */

enum fw_info_source {
    FW_INFO_NONE,  /* nothing says */
    FW_INFO_PATH,  /* a per-board output directory: its name */
    FW_INFO_STAMP, /* omvdev's record of the build it ran */
    FW_INFO_DEPS,  /* the dependency files make wrote */
};

struct fw_build_info {
    char *board;   /* NULL when unknown */
    char *options; /* the make options of the build ("DEBUG=1", "" for none); NULL unknown */
    enum fw_info_source board_src;
};

#define FW_BUILD_INFO_INIT                                                                         \
    {                                                                                              \
        NULL, NULL, FW_INFO_NONE                                                                   \
    }

/*
 * What the output directory for `target` holds. Never fails: unknown parts
 * stay NULL. `target` picks the directory in the per-board layout.
 */
void fw_build_info_read(const struct fw_tree *t, const char *target, struct fw_build_info *bi);
void fw_build_info_release(struct fw_build_info *bi);

/* Record, after a successful build, that the output directory holds
 * `target` built with `options` (normalised by the caller). */
int fw_build_stamp_write(const struct fw_tree *t, const char *target, const char *options,
                         char *err, size_t errlen);

/* "omvdev's record (src/build/omvdev-build)" and the like, for messages. */
const char *fw_info_source_text(enum fw_info_source s);

/*
 * May the images in the output directory be used as `target`'s? 0 when
 * they are its own or nothing says otherwise; OMV_EINVAL with "the images
 * in '<bin>' were built for OPENMV4P, not OPENMVPT (read from ...)" when
 * they belong to another board.
 */
int fw_tree_check_owner(const struct fw_tree *t, const char *target, char *err, size_t errlen);

#endif
