/*
 * The file writer of an extraction: a thread that takes the data of regular
 * files from the parser, writes it (pwrite at the entry's offsets), sums it
 * (the manifest's CRC-64 per file), sets the times and closes the file, and
 * writes the manifest lines in the order they were queued.
 *
 * The tar stream is decoded into a small pool of buffers owned by the
 * writer, by a read-ahead thread of its own that fills each buffer as it
 * comes free, so decoding never waits for the parser's file creation (the
 * xz decoder's threads stall when their output is not taken). A piece of
 * file data that lies in one of the buffers is written from there (no
 * copy) and the buffer is refilled only after the parser has moved past it
 * and the writer is done with every piece in it. Memory is bounded by the
 * pool and the job queue.
 *
 * Ownership: xwriter_start() returns a writer that xwriter_finish() frees;
 * file descriptors handed over with xwriter_close() are closed by the writer.
 * The parser thread is the only caller of every function here; the read
 * function runs on the read-ahead thread.
 */
#ifndef OMVDEV_SDK_WRITER_H
#define OMVDEV_SDK_WRITER_H

#include "lib/compat.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct xwriter;

/* Fills buf (cap bytes) with the next bytes of the stream, *len set (0 only at
 * the end), or returns a negative omv_err. */
typedef int (*xwriter_read_fn)(void *ud, void *buf, size_t cap, size_t *len);
/* Makes a read blocked waiting for input return (with an error) soon. */
typedef void (*xwriter_stop_fn)(void *ud);

/*
 * root: the directory the relative paths of xwriter_hash_path() are in.
 * read(ud, ...) is called on the read-ahead thread until it returns an error
 * or the end; stop(ud) (may be NULL for a read that never blocks) is called
 * by xwriter_finish() when the parser stopped before the end.
 */
struct xwriter *xwriter_start(const char *root, FILE *manifest, xwriter_read_fn read,
                              xwriter_stop_fn stop, void *ud, char *err, size_t errlen);

/*
 * The next piece of the stream: *buf and *len (0 at the end, and at every
 * call after it), or the read function's error. The buffer given by the
 * previous call stays valid until this call; data in it that was queued with
 * xwriter_data() stays valid until written.
 */
int xwriter_next(struct xwriter *w, uint8_t **buf, size_t *len);

/* Queue len bytes for fd at offset off (copied only when they are not in a
 * pool buffer). */
void xwriter_data(struct xwriter *w, int fd, const void *data, size_t len, uint64_t off);

/* After the last data of fd: hash zeros up to size (holes), truncate to
 * size, set the times, close fd and write "f <crc64> <size> <rel>". */
void xwriter_close(struct xwriter *w, int fd, uint64_t size, const struct timespec times[2],
                   const char *rel);

/* A manifest line (with its newline), written in queue order. */
void xwriter_line(struct xwriter *w, const char *line);

/* Hash root/rel as it is on disk once everything before is written, and
 * write its "f" line (a hardlink's data is its target's). */
void xwriter_hash_path(struct xwriter *w, const char *rel);

/* 0, or the writer's first failure (OMV_ENOSPC, OMV_EIO) with its message. */
int xwriter_failed(struct xwriter *w, char *err, size_t errlen);

/* Write everything queued, stop the threads and free the writer; the
 * writer's result (the read function's errors come from xwriter_next()). */
int xwriter_finish(struct xwriter *w, char *err, size_t errlen);

#endif
