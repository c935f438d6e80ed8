/*
 * Finding the openmv/openmv firmware repository a command runs in, and the
 * state of its git submodules.
 *
 * The repository is recognised by what only it has, in either layout:
 *   v4.7.0 on    Makefile, boards/, ports/ and lib/micropython at the top
 *   to v4.6.x    src/Makefile, src/omv/boards/ and src/lib/micropython
 * (lib/micropython may be an empty directory, or only named in .gitmodules).
 * MicroPython's own ports (lib/micropython/ports/stm32 has a Makefile and a
 * boards/ directory) and the src/omv directory of old releases do not match,
 * so the walk goes up past them.
 *
 *     struct strbuf root = STRBUF_INIT, inside = STRBUF_INIT;
 *     rc = repo_find(cwd, &root, &inside, err, sizeof(err));
 *     // inside: "lib/micropython" when cwd lies in that submodule
 *
 *     struct repo_subs s = REPO_SUBS_INIT;
 *     rc = repo_submodules(root.buf, "lib/micropython", "stm32", &s, err, sizeof(err));
 *     ... s.items[i].path, s.items[i].state ...
 *     repo_subs_release(&s);
 *
 * Ownership: results go into the caller's strbufs; struct repo_subs owns its
 * entries until repo_subs_release().
 */
#ifndef OMVDEV_TARGETS_REPO_H
#define OMVDEV_TARGETS_REPO_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Is `dir` the root of a firmware repository? *src_layout (may be NULL) says
 * which layout. */
bool repo_is_root(const char *dir, bool *src_layout);

/*
 * Walk up from `start` to the first directory repo_is_root() accepts; its
 * absolute path goes into root. When start lies inside one of the
 * repository's submodules (its .gitmodules, or MicroPython's nested
 * .gitmodules), `inside` (may be NULL) gets that submodule's path relative
 * to root, the innermost one. OMV_ENOTREPO, with what was looked for, when
 * no directory up to / matches.
 */
int repo_find(const char *start, struct strbuf *root, struct strbuf *inside, char *err,
              size_t errlen);

enum repo_sub_state {
    REPO_SUB_OK,      /* checked out at the commit the parent records */
    REPO_SUB_MISSING, /* no directory at all */
    REPO_SUB_UNINIT,  /* not initialised: an empty directory */
    REPO_SUB_STALE,   /* checked out at another commit than the parent records */
};

struct repo_sub {
    char *path;   /* relative to the repository root */
    char *parent; /* the repository that records it, relative to root ("" for the top) */
    enum repo_sub_state state;
};

struct repo_subs {
    struct repo_sub *items;
    size_t nr, alloc;
    bool from_git; /* read from git's records; false: only .gitmodules and the directories */
};

#define REPO_SUBS_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, false                                                                          \
    }

/*
 * The submodules of the repository at `root` that a board of `port` needs:
 * every submodule of root's .gitmodules, and of those nested in MicroPython
 * (at `mpy_rel`, relative to root) the ones its ports/<port>/Makefile names
 * in GIT_SUBMODULES (port may be NULL: none of them). Nested submodules of
 * other submodules count too.
 *
 * In a git checkout (root/.git exists) the states come from
 * `git submodule status --recursive`, which reads only local data (the
 * index, the submodules' HEADs) and so needs no network. Without git, a
 * submodule is UNINIT when its directory is empty and MISSING when absent.
 * OMV_EIO when git runs but fails.
 */
int repo_submodules(const char *root, const char *mpy_rel, const char *port, struct repo_subs *out,
                    char *err, size_t errlen);

/* How many entries are not REPO_SUB_OK. */
size_t repo_subs_bad(const struct repo_subs *s);

void repo_subs_release(struct repo_subs *s);

/* "missing", "not initialised", "at another commit" or "checked out". */
const char *repo_sub_state_text(enum repo_sub_state s);

/*
 * The commands that check out the submodules of `s` that are not
 * REPO_SUB_OK, one per repository that records them, parents first:
 *   git -C <root> submodule update --init --depth=1 <path>...
 *   git -C <root>/<parent> submodule update --init --depth=1 <path>...
 * They need no Makefile goal, so they work on every release. `cmds` gets
 * them as shell text joined with " && "; argvs (may be NULL) gets them as
 * argument vectors: *nr_argv NULL-terminated vectors the caller frees with
 * repo_argv_free().
 */
void repo_subs_fix(const char *root, const struct repo_subs *s, struct strbuf *cmds, char ****argvs,
                   size_t *nr_argv);
void repo_argv_free(char ***argvs, size_t nr);

#endif
