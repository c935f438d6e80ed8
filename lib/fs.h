/*
 * File-system helpers: whole-file reads, atomic replacement, directories and
 * the XDG base directories. Errors are negative omv_err with the path and
 * strerror(errno) in err.
 *
 * Ownership: results go into caller-owned strbufs; nothing is kept.
 */
#ifndef OMVDEV_LIB_FS_H
#define OMVDEV_LIB_FS_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Append the whole file to sb. A missing file gives OMV_ENOENT. */
int fs_read_file(const char *path, struct strbuf *sb, char *err, size_t errlen);

/*
 * Replace `path` with `data` so that a reader sees either the old or the new
 * file, never a mix: write a temporary file beside it, fsync, rename over,
 * fsync the directory. The new file keeps the old one's permissions (or gets
 * `mode` less the umask when it is new). Creates missing parent directories.
 */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen);

/* mkdir -p. */
int fs_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

bool fs_is_dir(const char *path);
bool fs_is_file(const char *path);

/* Append "a/b" to sb, with exactly one slash between. `a` and `b` must not
 * point into sb (appending may move its buffer). */
void fs_path_join(struct strbuf *sb, const char *a, const char *b);

/* The absolute form of `path` (relative to the working directory), without
 * resolving links, with "." and ".." folded. */
void fs_absolute(struct strbuf *sb, const char *path);

/*
 * $XDG_CONFIG_HOME, else $HOME/.config. Gives OMV_ENOENT when neither is
 * set (or the value is not absolute, which the XDG spec says to ignore).
 */
int fs_xdg_config_home(struct strbuf *sb, char *err, size_t errlen);

#endif
