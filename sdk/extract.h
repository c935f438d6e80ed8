/*
 * Safe extraction of an SDK tarball with libarchive (this file pair is the
 * only user of <archive.h>). The tar stream comes from a caller's reader
 * callback, so the bytes can be decoded while they arrive.
 *
 * Rules (an archive breaking one is refused as a whole, nothing is kept):
 *   - exactly one top-level directory, stripped (tar --strip-components=1);
 *   - no absolute names, no ".." components, no control characters;
 *   - symlinks must be relative and stay inside the tree: ".." only as
 *     leading components, never more of them than the link's depth;
 *   - hardlinks must name a regular file extracted earlier in the tree;
 *   - no device nodes, FIFOs or sockets; no setuid or setgid files (on
 *     directories those bits are dropped); nothing is written through a
 *     symlink (ARCHIVE_EXTRACT_SECURE_SYMLINKS);
 *   - the unpacked size and the number of entries are bounded.
 *
 * A path listed twice is extracted as tar does: the later entry replaces the
 * earlier one (a directory only when it is empty), and the manifest keeps
 * only the later one. Modes are kept (less the umask) except that the owner
 * can always read files and read and search directories, so that a fresh
 * install always verifies.
 *
 * Parsing runs on the caller's thread, the reader on a read-ahead thread;
 * the data of regular files is written and hashed by a writer thread
 * (sdk/writer.h) from the buffers the stream was decoded into. Every file,
 * directory and symlink goes into a manifest (see sdk.h).
 *
 * Ownership: the caller owns the reader and the manifest stream.
 */
#ifndef OMVDEV_SDK_EXTRACT_H
#define OMVDEV_SDK_EXTRACT_H

#include "lib/compat.h"
#include "lib/libversion.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The name the manifest has inside an installed SDK (reserved in archives). */
#define EXTRACT_MANIFEST_NAME ".omvdev-manifest"

/*
 * Fills buf (cap bytes) with the next bytes of the tar stream, *len set to
 * how many (0 only at the end), or returns a negative omv_err after
 * describing the failure itself (the extractor then reports the reader's
 * failure, not libarchive's). It runs on a read-ahead thread of the
 * extractor's, one call at a time, until it returns the end or an error.
 */
typedef int (*extract_reader_fn)(void *ud, void *buf, size_t cap, size_t *len);

struct extract_opts {
    uint64_t max_bytes;   /* bound on the sum of regular files' sizes */
    uint64_t max_entries; /* bound on the number of entries */
    /* When the extraction stops before the stream's end (a refused entry, a
     * full disk), this makes a reader blocked waiting for input return soon
     * (with an error). NULL for a reader that never blocks. */
    void (*reader_stop)(void *reader_ud);
};

struct extract_stats {
    uint64_t files, dirs, symlinks, hardlinks;
    uint64_t bytes;     /* sum of regular files' sizes */
    char top[256];      /* the stripped top-level directory */
    bool reader_failed; /* the failure is the reader's error, which reached the parser */
};

/*
 * Extract the tar stream into `dest` (an existing, empty directory whose path
 * contains no symlinks), writing one manifest line per entry to `manifest`
 * (opened for reading too: it is rewritten when a path came twice).
 * OMV_EPARSE (with the entry's name) for an archive that breaks a rule or is
 * damaged, OMV_ENOSPC for a full file system, OMV_EINVAL for a path too long
 * for it, OMV_EIO for another file-system error, or the reader's error.
 */
int extract_run(const char *dest, extract_reader_fn reader, void *reader_ud,
                const struct extract_opts *opts, FILE *manifest, struct extract_stats *stats,
                char *err, size_t errlen);

/*
 * Check one member name and strip its top-level directory. `top` holds the
 * top-level directory seen first (empty before the first call). The stripped
 * name goes into `out` ("" for the top-level directory itself).
 */
int extract_check_name(const char *name, struct strbuf *top, struct strbuf *out, char *err,
                       size_t errlen);

/*
 * May a symlink at `where` (a stripped name) point at `target`? Relative
 * only, ".." only as leading components and never above the tree.
 */
int extract_check_symlink(const char *where, const char *target, char *err, size_t errlen);

/* libarchive's version: compiled against and loaded. */
void extract_libversion(struct libversion *v);

#endif
