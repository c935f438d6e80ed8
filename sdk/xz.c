/*
 * xz decoding with liblzma's threaded decoder (see xz.h).
 */
/* MAP_ANONYMOUS is not in POSIX.1-2008: ask glibc for it before compat.h. */
#define _DEFAULT_SOURCE
#include "lib/compat.h"

#include "sdk/xz.h"

#include "lib/error.h"
#include "lib/libversion.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * The threaded decoder allocates and frees a block-sized output buffer per
 * block (12 MiB for upstream's xz -3). Through malloc those end up in heap
 * arenas that keep their pages after free(); mapping them directly gives the
 * memory back at once and keeps the resident size near what is in use.
 */
#define BIG_ALLOC ((size_t)256 << 10)

struct alloc_hdr {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
};

static void *xz_alloc(void *opaque, size_t nmemb, size_t size)
{
    size_t n;
    struct alloc_hdr *h;

    (void)opaque;
    if (size && nmemb > (SIZE_MAX - sizeof(*h)) / size)
        return NULL;
    n = nmemb * size + sizeof(*h);
    if (n >= BIG_ALLOC) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
            return NULL;
        h = p;
    } else {
        h = malloc(n);
        if (!h)
            return NULL;
    }
    h->size = n;
    return h + 1;
}

static void xz_free(void *opaque, void *ptr)
{
    struct alloc_hdr *h;

    (void)opaque;
    if (!ptr)
        return;
    h = (struct alloc_hdr *)ptr - 1;
    if (h->size >= BIG_ALLOC)
        munmap(h, h->size);
    else
        free(h);
}

static const lzma_allocator xz_allocator = {xz_alloc, xz_free, NULL};

int xz_dec_init(struct xz_dec *x, unsigned threads, uint64_t memlimit, char *err, size_t errlen)
{
    lzma_stream *s = xcalloc(1, sizeof(*s));
    lzma_mt mt;
    lzma_ret r;

    memset(x, 0, sizeof(*x));
    *s = (lzma_stream)LZMA_STREAM_INIT;
    s->allocator = &xz_allocator;
    memset(&mt, 0, sizeof(mt));
    mt.flags = 0; /* one stream; no LZMA_CONCATENATED: anything after it is garbage */
    mt.threads = threads ? threads : 1;
    mt.timeout = 0;
    /* Above memlimit_threading liblzma decodes single-threaded instead of failing;
     * memlimit_stop is the hard limit for a hostile header. */
    mt.memlimit_threading = memlimit;
    mt.memlimit_stop = (uint64_t)1 << 30;
    r = lzma_stream_decoder_mt(s, &mt);
    if (r != LZMA_OK) {
        free(s);
        return omv_seterr(err, errlen, OMV_EIO, "cannot start the xz decoder (liblzma error %d)",
                          (int)r);
    }
    x->strm = s;
    return 0;
}

void xz_dec_release(struct xz_dec *x)
{
    if (x->strm) {
        lzma_end(x->strm);
        free(x->strm);
    }
    x->strm = NULL;
}

static const char *lzma_text(lzma_ret r)
{
    switch (r) {
    case LZMA_FORMAT_ERROR:
        return "not xz data";
    case LZMA_OPTIONS_ERROR:
        return "unsupported xz options";
    case LZMA_DATA_ERROR:
        return "corrupt xz data";
    case LZMA_BUF_ERROR:
        return "truncated xz stream";
    case LZMA_MEM_ERROR:
        return "out of memory";
    case LZMA_MEMLIMIT_ERROR:
        return "the xz stream needs too much memory";
    case LZMA_UNSUPPORTED_CHECK:
        return "unsupported xz integrity check";
    default:
        return "xz decoder error";
    }
}

int xz_dec_run(struct xz_dec *x, const uint8_t **in, size_t *in_len, bool finish, uint8_t *out,
               size_t out_cap, size_t *out_len, char *err, size_t errlen)
{
    lzma_stream *s = x->strm;
    lzma_ret r;

    *out_len = 0;
    if (x->ended) {
        if (*in_len)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "garbage after the end of the xz stream (at byte %llu)",
                              (unsigned long long)x->in_total);
        return 0;
    }
    s->next_in = *in;
    s->avail_in = *in_len;
    s->next_out = out;
    s->avail_out = out_cap;
    r = lzma_code(s, finish ? LZMA_FINISH : LZMA_RUN);
    x->in_total += *in_len - s->avail_in;
    *in = s->next_in;
    *in_len = s->avail_in;
    *out_len = out_cap - s->avail_out;
    x->out_total += *out_len;
    if (r == LZMA_STREAM_END) {
        x->ended = true;
        if (*in_len)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "garbage after the end of the xz stream (at byte %llu)",
                              (unsigned long long)x->in_total);
        return 0;
    }
    if (r == LZMA_OK)
        return 0;
    if (r == LZMA_BUF_ERROR && !finish)
        return 0; /* needs more input */
    if (r == LZMA_BUF_ERROR) {
        x->truncated = true;
        return omv_seterr(err, errlen, OMV_EPARSE, "truncated xz stream: it ends after %llu bytes",
                          (unsigned long long)x->in_total);
    }
    return omv_seterr(err, errlen, OMV_EPARSE, "%s (at byte %llu)", lzma_text(r),
                      (unsigned long long)x->in_total);
}

void xz_libversion(struct libversion *v)
{
    v->name = "liblzma";
    snprintf(v->built, sizeof(v->built), "%s", LZMA_VERSION_STRING);
    snprintf(v->running, sizeof(v->running), "%s", lzma_version_string());
}
