/*
 * The file writer of an extraction: a thread that takes the data of regular
 * files from the parser, writes it (pwrite at the entry's offsets), hashes it
 * (SHA-256 per file), sets the times and closes the file, and writes the
 * manifest lines in the order they were queued.
 *
 * The tar stream is decoded into a small pool of buffers owned by the
 * writer; a piece of file data that lies in one of them is written from
 * there (no copy) and the buffer is reused only after the writer is done
 * with every piece in it. Memory is bounded by the pool and the job queue.
 *
 * Ownership: xwriter_start() returns a writer that xwriter_finish() frees;
 * file descriptors handed over with xwriter_close() are closed by the writer.
 * The parser thread is the only caller of every function here.
 */
#ifndef OMVDEV_SDK_WRITER_H
#define OMVDEV_SDK_WRITER_H

#include "lib/compat.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct xwriter;

/* root: the directory the relative paths of xwriter_hash_path() are in. */
struct xwriter *xwriter_start(const char *root, FILE *manifest, char *err, size_t errlen);

/*
 * The next buffer to decode the tar stream into (*cap bytes). The buffer
 * given by the previous call stays valid until this call; data in it that
 * was queued with xwriter_data() stays valid until written.
 */
uint8_t *xwriter_buffer(struct xwriter *w, size_t *cap);

/* Queue len bytes for fd at offset off (copied only when they are not in a
 * pool buffer). */
void xwriter_data(struct xwriter *w, int fd, const void *data, size_t len, uint64_t off);

/* After the last data of fd: hash zeros up to size (holes), truncate to
 * size, set the times, close fd and write "f <sha256> <size> <rel>". */
void xwriter_close(struct xwriter *w, int fd, uint64_t size, const struct timespec times[2],
                   const char *rel);

/* A manifest line (with its newline), written in queue order. */
void xwriter_line(struct xwriter *w, const char *line);

/* Hash root/rel as it is on disk once everything before is written, and
 * write its "f" line (a hardlink's data is its target's). */
void xwriter_hash_path(struct xwriter *w, const char *rel);

/* 0, or the writer's first failure (OMV_ENOSPC, OMV_EIO) with its message. */
int xwriter_failed(struct xwriter *w, char *err, size_t errlen);

/* Write everything queued, stop the thread and free the writer; its result. */
int xwriter_finish(struct xwriter *w, char *err, size_t errlen);

#endif
