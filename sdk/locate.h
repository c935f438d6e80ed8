/*
 * Where an OpenMV SDK lives and which one a firmware repository needs: the
 * rules of upstream's Makefile and tools/ci.sh, shared by `sdk`, `build`,
 * `env`, `doctor`, `vscode` and `debug`.
 *
 *   SDK_VERSION    one line in the repository root: "1.6.0"
 *   SDK_DIR        $SDK_DIR when set (upstream's Makefile uses ?=), else
 *                  [sdk] root (default $HOME) + "/openmv-sdk-<version>"
 *   stamp          <SDK_DIR>/sdk.version, one line equal to the version
 *
 * Ownership: results go into caller-owned strbufs.
 */
#ifndef OMVDEV_SDK_LOCATE_H
#define OMVDEV_SDK_LOCATE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The SDK platform name for uname's sysname and machine: "linux-x86_64" or
 * "darwin-arm64". Anything else gives OMV_EINVAL with "no SDK is published
 * for <os>-<arch>" in err (the name still goes into out, for messages).
 */
int sdk_platform(const char *sysname, const char *machine, struct strbuf *out, char *err,
                 size_t errlen);
/* The same for this machine (uname(2)). */
int sdk_host_platform(struct strbuf *out, char *err, size_t errlen);

/* "openmv-sdk-<version>-<platform>.tar.xz" */
void sdk_tarball_name(const char *version, const char *platform, struct strbuf *out);

/*
 * A version string as it may appear in SDK_VERSION, a stamp or a directory
 * name: 1..64 of [0-9A-Za-z._+-], not starting with '.' or '-'.
 */
int sdk_version_valid(const char *version);

/*
 * The SDK version the repository at repo_root needs: its SDK_VERSION file,
 * trimmed and validated. OMV_ENOENT when the file is missing (releases
 * before 4.7 had none), OMV_EPARSE when it holds no valid version.
 */
int sdk_repo_version(const char *repo_root, struct strbuf *version, char *err, size_t errlen);

/*
 * The directory the SDK `version` is (or would be) installed in. `root` is
 * the parent directory ([sdk] root); NULL means $HOME. $SDK_DIR, when set and
 * non-empty, wins, as it does for upstream's Makefile. OMV_ENOENT when
 * neither $SDK_DIR, root nor $HOME is set.
 */
int sdk_dir(const char *root, const char *version, struct strbuf *dir, char *err, size_t errlen);

/*
 * The stamp of the SDK in `dir` (its sdk.version, trimmed). OMV_ENOENT when
 * there is none, OMV_EIO when it cannot be read, OMV_EPARSE when it does not
 * hold a valid version.
 */
int sdk_read_stamp(const char *dir, struct strbuf *version, char *err, size_t errlen);

/*
 * The directories upstream's Makefile puts in front of PATH, in its order,
 * joined with ':' and without the trailing old PATH: gcc/bin, llvm/bin,
 * cmake/bin, python/bin, stcubeprog/bin, stedgeai/Utilities/<linux|macarm>,
 * bin. `sysname` picks the stedgeai directory ("Darwin" → macarm).
 */
void sdk_path_prefix(const char *sdk_dir, const char *sysname, struct strbuf *out);

/* ---- the one place that finds SDKs on disk -------------------------------------------- */

/* Compare version strings by their numeric parts: "1.10.0" > "1.9.2". */
int sdk_vercmp(const char *a, const char *b);

struct sdk_found {
    char *dir;     /* absolute */
    char *version; /* its stamp, NULL when it has no valid one */
};

struct sdk_found_list {
    struct sdk_found *items;
    size_t nr, alloc;
};

#define SDK_FOUND_LIST_INIT                                                                        \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * The "openmv-sdk-<version>" directories in `parent` (NULL: $HOME), then
 * $SDK_DIR when set and not among them; sorted by the version in the
 * directory name, oldest first ($SDK_DIR last).
 */
void sdk_find_installed(const char *parent, struct sdk_found_list *out);
void sdk_found_list_release(struct sdk_found_list *l);

enum sdk_pick {
    SDK_PICK_NONE,   /* nothing found: dir is empty */
    SDK_PICK_ENV,    /* $SDK_DIR */
    SDK_PICK_PINNED, /* the version the repository's SDK_VERSION names */
    SDK_PICK_NEWEST, /* no SDK_VERSION: the newest one installed */
};

/*
 * The SDK a command uses: $SDK_DIR when set; else the one the repository at
 * repo_root (may be NULL) pins, under `parent` (NULL: $HOME), whether it is
 * installed or not; else, when `newest` is set, the newest installed one.
 * OMV_EPARSE when SDK_VERSION is malformed (err says so; dir stays empty).
 */
int sdk_locate(const char *parent, const char *repo_root, bool newest, struct strbuf *dir,
               enum sdk_pick *how, char *err, size_t errlen);

/* The shells `omvdev env` and `omvdev sdk env` write for. */
enum sdk_shell {
    SDK_SHELL_SH, /* bash, zsh, sh */
    SDK_SHELL_FISH,
    SDK_SHELL_POWERSHELL,
};

/*
 * Commands for `shell` that export SDK_DIR and put the SDK in front of PATH:
 * sdk_path_prefix()'s directories, then <sdk>/make (GNU make 4.4.1, which
 * upstream's tools/ci.sh also puts on PATH), then the old PATH. Every value
 * is quoted for the shell.
 */
void sdk_env_script(struct strbuf *out, enum sdk_shell shell, const char *sdk_dir,
                    const char *sysname);

#endif
