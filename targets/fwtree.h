/*
 * The layout of a checked-out openmv/openmv firmware repository, for `build`,
 * `clean`, `size` and `doctor`: where make runs, where the boards and the
 * build output are, which submodules a board needs and whether mpy-cross is
 * built. Two layouts: the current one (Makefile, boards/, lib/micropython,
 * build/<TARGET>/bin) and releases before 4.6 (src/Makefile, src/omv/boards,
 * src/micropython, src/build/bin).
 *
 * Ownership: struct fw_tree owns its strings until fw_tree_release();
 * string lists (struct fw_list) own their entries until fw_list_release().
 */
#ifndef OMVDEV_TARGETS_FWTREE_H
#define OMVDEV_TARGETS_FWTREE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

struct fw_tree {
    char *root;       /* the repository */
    char *make_dir;   /* where make runs: root, or root/src */
    char *boards_dir; /* boards/ or src/omv/boards */
    char *mpy_dir;    /* lib/micropython or src/micropython */
    bool legacy;      /* the src/ layout */
};

struct fw_list {
    char **items;
    size_t nr, alloc;
};

#define FW_LIST_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void fw_list_add(struct fw_list *l, const char *s);
void fw_list_release(struct fw_list *l);

/* Describe the repository at `root` (as found by repo_find). OMV_ENOTREPO
 * when it has neither layout. */
int fw_tree_open(struct fw_tree *t, const char *root, char *err, size_t errlen);
void fw_tree_release(struct fw_tree *t);

/* Where make puts TARGET's images: build/<T>/bin, or src/build/bin. */
void fw_tree_bin_dir(const struct fw_tree *t, const char *target, struct strbuf *out);

/* The board directories (sorted). OMV_EIO when boards/ cannot be read. */
int fw_tree_boards(const struct fw_tree *t, struct fw_list *out, char *err, size_t errlen);

/* The targets with a directory under build/ (sorted; empty for the legacy
 * layout, which has one shared build directory). */
void fw_tree_built(const struct fw_tree *t, struct fw_list *out);

/*
 * The submodules that are not checked out (missing or empty directories):
 * every path in the repository's .gitmodules, and those of MicroPython's
 * .gitmodules that ports/<port>/Makefile names in GIT_SUBMODULES. `port`
 * may be NULL (then only the top-level ones). Paths are relative to root.
 */
void fw_tree_missing_submodules(const struct fw_tree *t, const char *port, struct fw_list *out);

/* The mpy-cross binary's path, and whether it is built. */
bool fw_tree_mpy_cross(const struct fw_tree *t, struct strbuf *path);

#endif
