/*
 * An xz decoder on liblzma's multi-threaded stream decoder (this file pair is
 * the only user of <lzma.h>). Exactly one .xz stream is accepted: bytes after
 * its end are an error ("garbage after the end"), and input that stops before
 * the end is reported by xz_dec_finish() as truncated.
 *
 * Ownership: struct xz_dec owns the lzma_stream; xz_dec_release() frees it.
 */
#ifndef OMVDEV_SDK_XZ_H
#define OMVDEV_SDK_XZ_H

#include "lib/compat.h"
#include "lib/libversion.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xz_dec {
    void *strm;     /* lzma_stream */
    bool ended;     /* the stream's end was decoded */
    bool truncated; /* the input ended before the stream's end */
    uint64_t in_total, out_total;
};

/* threads: decoder threads (1 = single-threaded); memlimit: bytes liblzma may
 * use before it falls back to single-threaded decoding. */
int xz_dec_init(struct xz_dec *x, unsigned threads, uint64_t memlimit, char *err, size_t errlen);
void xz_dec_release(struct xz_dec *x);

/*
 * Decode from *in (advancing it and *in_len) into out (up to out_cap bytes),
 * *out_len set to the bytes produced. `finish`: no more input will come.
 * OMV_EPARSE for corrupt data, garbage after the end, or (with finish) a
 * truncated stream. When x->ended is set, no more output will come.
 */
int xz_dec_run(struct xz_dec *x, const uint8_t **in, size_t *in_len, bool finish, uint8_t *out,
               size_t out_cap, size_t *out_len, char *err, size_t errlen);

/* liblzma's version: compiled against and loaded. */
void xz_libversion(struct libversion *v);

#endif
