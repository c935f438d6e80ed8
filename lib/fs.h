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
#include <stdint.h>
#include <sys/types.h>

/*
 * Size bounds for whole-file reads: FS_MAX_TEXT for the text files omvdev
 * reads from a repository or a configuration (.omvdev.ini, SDK_VERSION,
 * launch.json, headers), FS_MAX_FILE for everything else (firmware images,
 * ELF files, manifests).
 */
#define FS_MAX_TEXT ((size_t)4 << 20)
#define FS_MAX_FILE ((size_t)256 << 20)

/*
 * Append the whole file to sb, reading at most `max` bytes. Only a regular
 * file is read (or /dev/null, which reads as empty): a FIFO, a device, a
 * directory or a socket, also through a symlink, is OMV_EIO at once, so
 * a symlink to /dev/zero or a FIFO in a cloned repository neither exhausts
 * memory nor blocks. A larger file is OMV_ETOOBIG; a missing one OMV_ENOENT.
 * Nothing is appended on error.
 */
int fs_read_file_max(const char *path, struct strbuf *sb, size_t max, char *err, size_t errlen);

/* fs_read_file_max() with FS_MAX_FILE. */
int fs_read_file(const char *path, struct strbuf *sb, char *err, size_t errlen);

/*
 * Open `path` for reading only if it is a regular file (or /dev/null): the
 * open does not block on a FIFO, and anything else is refused as above.
 * *fd is then a blocking descriptor the caller closes; *size its size.
 */
int fs_open_regular(const char *path, int *fd, uint64_t *size, char *err, size_t errlen);

/*
 * Replace `path` with `data` so that a reader sees either the old or the new
 * file, never a mix: write a temporary file beside it, fsync, rename over,
 * fsync the directory. The new file keeps the old one's permissions (or gets
 * `mode` less the umask when it is new). Creates missing parent directories.
 */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen);

/* fs_write_atomic() giving the file exactly `mode`, whatever the umask and
 * the mode of the file it replaces (udev rules: 0644 for every reader). */
int fs_write_atomic_mode(const char *path, const void *data, size_t len, mode_t mode, char *err,
                         size_t errlen);

/* Copy `path` to `bak` atomically; the copy has the original's mode (a
 * 0600 file's backup is 0600 too). */
int fs_backup(const char *path, const char *bak, char *err, size_t errlen);

/*
 * The path to write when replacing `path`, with symlinks followed: a file
 * that is a symlink is written through (the link stays a link). A dangling
 * symlink is refused (a file would silently replace the link), and with
 * `root` (a repository) so is anything that leads outside root, through a
 * symlink of its own or of a directory. OMV_EPERM says where it points;
 * a path that does not exist yet comes back unchanged.
 */
int fs_resolve_for_write(const char *root, const char *path, struct strbuf *out, char *err,
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
