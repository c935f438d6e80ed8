/*
 * The environment a firmware build runs in, and the compiler it will get:
 * our environment with SDK_DIR set and PATH prefixed as upstream's Makefile
 * prefixes it (sdk_path_prefix()), for `build`, `clean`, `size`, `env` and
 * `doctor`.
 *
 *     struct buildenv e = BUILDENV_INIT;
 *     buildenv_compose(&e, environ, sdk_dir, "Linux");
 *     ... spec.envp = (const char *const *)e.envp; ... e.path ...
 *     buildenv_release(&e);
 *
 * Ownership: struct buildenv owns envp and path until buildenv_release().
 */
#ifndef OMVDEV_SDK_BUILDENV_H
#define OMVDEV_SDK_BUILDENV_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stddef.h>

struct buildenv {
    char **envp; /* NULL-terminated */
    size_t nr;
    char *path; /* the PATH value in envp */
};

#define BUILDENV_INIT                                                                              \
    {                                                                                              \
        NULL, 0, NULL                                                                              \
    }

/*
 * Copy `env` (NULL-terminated "NAME=VALUE" strings), replacing SDK_DIR with
 * sdk_dir and PATH with the SDK's directories in front of env's PATH. A NULL
 * sdk_dir (a release without SDK_VERSION) copies env unchanged.
 */
void buildenv_compose(struct buildenv *e, char *const *env, const char *sdk_dir,
                      const char *sysname);
void buildenv_release(struct buildenv *e);

/*
 * The major*100+minor of a GCC version string as `gcc -dumpversion` prints
 * it ("14.3.1", "12.2", "14"). OMV_EPARSE when it does not start with a
 * number.
 */
int gcc_version_parse(const char *text, unsigned *out);

/*
 * Which `name` (e.g. arm-none-eabi-gcc) the PATH value `path` runs, and its
 * output for `arg` (trimmed). OMV_ENOENT when it is not on PATH, OMV_EIO when
 * it does not run or exits non-zero (err has its first line of stderr); when
 * the dynamic loader could not find a shared library, missing_lib (may be
 * NULL) gets its name ("libncurses.so.5").
 */
int toolchain_probe(const char *name, const char *path, const char *arg, struct strbuf *bin,
                    struct strbuf *output, struct strbuf *missing_lib, char *err, size_t errlen);

#endif
