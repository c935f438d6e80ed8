/*
 * The SDK install transaction, verify and remove (see sdk.h).
 *
 * Threads during an install: the calling thread receives bytes (libcurl or
 * read(2)), hashes them, appends them to the .part cache file and puts them
 * into a bounded ring; the extractor thread takes them out, decodes the xz
 * (liblzma adds its own two decoder threads) and writes the files. A full
 * ring makes the receiver wait, so memory stays bounded.
 */
/* realpath(3) and flock(2) are not in POSIX.1-2008 proper: ask glibc for them
 * before compat.h fixes the POSIX level. */
#define _DEFAULT_SOURCE
#include "lib/compat.h"

#include "sdk/sdk.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "sdk/extract.h"
#include "sdk/fetch.h"
#include "sdk/locate.h"
#include "sdk/xz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING_SIZE  ((size_t)2 << 20)
#define CHUNK_SIZE ((size_t)256 << 10)

void sdk_install_opts_init(struct sdk_install_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->retries = 4;
    o->retry_delay_ms = 1000;
    o->connect_timeout_s = 30;
    o->stall_timeout_s = 30;
    o->max_unpacked = (uint64_t)32 << 30;
    o->threads = 2;
}

/* ---- small helpers ---------------------------------------------------------- */

static void emit(const struct sdk_install_opts *o, enum sdk_event_kind kind, const char *phase,
                 const char *text, uint64_t done, uint64_t total)
{
    struct sdk_event ev = {kind, phase, text, done, total};

    if (o->event)
        o->event(o->ud, &ev);
}

static bool cancelled(const struct sdk_install_opts *o)
{
    return o->cancel && *o->cancel;
}

static void split_dir(const char *dir, struct strbuf *parent, struct strbuf *base)
{
    const char *slash = strrchr(dir, '/');

    if (!slash) {
        strbuf_addstr(parent, ".");
        strbuf_addstr(base, dir);
    } else {
        strbuf_add(parent, dir, slash == dir ? 1 : (size_t)(slash - dir));
        strbuf_addstr(base, slash + 1);
    }
}

void sdk_lock_path(const char *dir, struct strbuf *out)
{
    struct strbuf parent = STRBUF_INIT, base = STRBUF_INIT;

    split_dir(dir, &parent, &base);
    strbuf_addf(out, "%s/.%s.lock", parent.buf, base.buf);
    strbuf_release(&parent);
    strbuf_release(&base);
}

bool sdk_is_installed(const char *dir, const char *version)
{
    struct strbuf v = STRBUF_INIT;
    bool yes = sdk_read_stamp(dir, &v, NULL, 0) == 0 && !strcmp(v.buf, version);

    strbuf_release(&v);
    return yes;
}

int sdk_url_allowed(const char *url, bool pinned, char *err, size_t errlen)
{
    if (!strncasecmp(url, "https://", 8) || !strncasecmp(url, "file://", 7))
        return 0;
    if (!strncasecmp(url, "http://", 7)) {
        if (pinned || fetch_url_is_loopback(url))
            return 0;
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "refusing plain http:// from '%s': nothing would protect the download",
                          url);
    }
    return omv_seterr(err, errlen, OMV_EINVAL,
                      "unsupported URL '%s' (use https://, file:// or a loopback http://)", url);
}

/* The delay before retry number `attempt` (0-based): doubling, at most 30 s. */
static long backoff_ms(const struct sdk_install_opts *o, int attempt)
{
    long ms = o->retry_delay_ms;

    for (int i = 0; i < attempt && ms < 30000; i++)
        ms *= 2;
    return ms < 30000 ? ms : 30000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        break; /* a signal: let the caller look at cancel */
}

/* file:///a%20b -> /a b; NULL when not a local file URL. */
static char *file_url_path(const char *url)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p;

    if (strncasecmp(url, "file://", 7))
        return NULL;
    p = url + 7;
    if (!strncasecmp(p, "localhost/", 10))
        p += 9;
    if (*p != '/')
        return NULL;
    for (; *p; p++) {
        unsigned v;

        if (*p == '%' && sscanf(p + 1, "%2x", &v) == 1 && p[1] && p[2]) {
            strbuf_addch(&sb, (int)v);
            p += 2;
        } else {
            strbuf_addch(&sb, *p);
        }
    }
    return strbuf_detach(&sb, NULL);
}

/* ---- removing trees ------------------------------------------------------- */

static int remove_at(int parent_fd, const char *name, char *err, size_t errlen, const char *top)
{
    struct stat st;
    int fd, rc = 0;
    DIR *d;
    struct dirent *de;

    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0
                               : omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top,
                                            strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
            return omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top, strerror(errno));
        return 0;
    }
    if ((st.st_mode & 0700) != 0700)
        fchmodat(parent_fd, name, 0700, 0);
    fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top, strerror(errno));
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top, strerror(errno));
    }
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        rc = remove_at(dirfd(d), de->d_name, err, errlen, top);
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top, strerror(errno));
    return rc;
}

int sdk_remove_tree(const char *path, char *err, size_t errlen)
{
    return remove_at(AT_FDCWD, path, err, errlen, path);
}

/* Remove leftovers of killed installs: ".<base>.staging-*", ".<base>.old-*",
 * ".<base>.manifest-*" (we hold the lock, so nobody is using them). */
static void remove_leftovers(const char *parent, const char *base)
{
    static const char *const kinds[] = {"staging-", "old-", "manifest-"};
    struct strbuf prefix = STRBUF_INIT, path = STRBUF_INIT;
    DIR *d = opendir(parent);
    struct dirent *de;
    char err[256];

    if (!d)
        return;
    while ((de = readdir(d))) {
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
            strbuf_reset(&prefix);
            strbuf_addf(&prefix, ".%s.%s", base, kinds[i]);
            if (strncmp(de->d_name, prefix.buf, prefix.len))
                continue;
            strbuf_reset(&path);
            fs_path_join(&path, parent, de->d_name);
            sdk_remove_tree(path.buf, err, sizeof(err));
        }
    }
    closedir(d);
    strbuf_release(&prefix);
    strbuf_release(&path);
}

/* ---- the lock ------------------------------------------------------------- */

static int take_lock(const struct sdk_install_opts *o, const char *path, int *fdp, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot open the lock '%s': %s", path,
                          strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            close(fd);
            return omv_seterr(err, errlen, OMV_EIO, "cannot lock '%s': %s", path, strerror(errno));
        }
        emit(o, SDK_EV_LOCK_WAIT, NULL, path, 0, 0);
        while (flock(fd, LOCK_EX) < 0) {
            if (errno != EINTR || cancelled(o)) {
                int e = errno;

                close(fd);
                return omv_seterr(err, errlen, OMV_EIO, "%s while waiting for the lock '%s'",
                                  cancelled(o) ? "interrupted" : strerror(e), path);
            }
        }
    }
    *fdp = fd;
    return 0;
}

/* ---- the ring between receiver and extractor -------------------------------- */

struct ring {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    uint8_t *buf;
    size_t cap, head, len;
    bool eof;      /* the receiver is done */
    bool consumer; /* the extractor has stopped (failed or finished) */
};

static void ring_init(struct ring *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->can_put, NULL);
    pthread_cond_init(&r->can_get, NULL);
    r->buf = xmalloc(cap);
    r->cap = cap;
}

static void ring_release(struct ring *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->can_put);
    pthread_cond_destroy(&r->can_get);
    free(r->buf);
}

/* 0, or -1 when the extractor has stopped. */
static int ring_put(struct ring *r, const uint8_t *data, size_t len)
{
    pthread_mutex_lock(&r->mu);
    while (len) {
        size_t n, tail;

        while (r->len == r->cap && !r->consumer)
            pthread_cond_wait(&r->can_put, &r->mu);
        if (r->consumer) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        tail = (r->head + r->len) % r->cap;
        n = r->cap - r->len;
        if (n > r->cap - tail)
            n = r->cap - tail;
        if (n > len)
            n = len;
        memcpy(r->buf + tail, data, n);
        r->len += n;
        data += n;
        len -= n;
        pthread_cond_signal(&r->can_get);
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static void ring_close(struct ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->eof = true;
    pthread_cond_signal(&r->can_get);
    pthread_mutex_unlock(&r->mu);
}

static void ring_stop_consumer(struct ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->consumer = true;
    pthread_cond_signal(&r->can_put);
    pthread_mutex_unlock(&r->mu);
}

/* Take up to cap bytes; 0 only at the end. */
static size_t ring_get(struct ring *r, uint8_t *out, size_t cap)
{
    size_t got = 0;

    pthread_mutex_lock(&r->mu);
    while (r->len == 0 && !r->eof)
        pthread_cond_wait(&r->can_get, &r->mu);
    while (r->len && got < cap) {
        size_t n = r->cap - r->head;

        if (n > r->len)
            n = r->len;
        if (n > cap - got)
            n = cap - got;
        memcpy(out + got, r->buf + r->head, n);
        r->head = (r->head + n) % r->cap;
        r->len -= n;
        got += n;
    }
    pthread_cond_signal(&r->can_put);
    pthread_mutex_unlock(&r->mu);
    return got;
}

/* ---- one pass: receiver side + extractor thread ---------------------------- */

struct pipeline {
    struct ring ring;
    struct digest hash;
    struct xz_dec xz;
    uint8_t *in, *out;
    const uint8_t *in_next;
    size_t in_len;
    bool in_eof;
    uint64_t fed; /* bytes given to the ring */
    /* extractor thread */
    pthread_t thread;
    bool started;
    const char *dest;
    FILE *manifest;
    struct extract_opts xopts;
    struct extract_stats stats;
    int rc;            /* extractor's result */
    int reader_rc;     /* the decoder's failure, when it caused rc */
    char err[1024];    /* extractor's message */
    char rerr[1024];   /* decoder's message */
    bool xz_truncated; /* the stream ended before the xz end */
};

static int pipe_read(void *ud, const void **buf, size_t *len)
{
    struct pipeline *p = ud;

    *len = 0;
    for (int idle = 0;; idle++) {
        size_t n = 0;
        int rc;

        if (p->in_len == 0 && !p->in_eof) {
            p->in_len = ring_get(&p->ring, p->in, CHUNK_SIZE);
            p->in_next = p->in;
            if (p->in_len == 0)
                p->in_eof = true;
        }
        if (p->xz.ended && p->in_len == 0 && p->in_eof)
            return 0;
        rc = xz_dec_run(&p->xz, &p->in_next, &p->in_len, p->in_eof, p->out, CHUNK_SIZE, &n, p->rerr,
                        sizeof(p->rerr));
        if (rc < 0) {
            p->xz_truncated = p->in_eof && !p->xz.ended && strstr(p->rerr, "truncated");
            p->reader_rc = rc;
            return rc;
        }
        if (n) {
            *buf = p->out;
            *len = n;
            return 0;
        }
        if (p->xz.ended && p->in_len == 0 && !p->in_eof)
            continue; /* look for garbage after the end */
        if (idle > 1000000) {
            p->reader_rc = omv_seterr(p->rerr, sizeof(p->rerr), OMV_EPARSE,
                                      "the xz decoder makes no progress");
            return p->reader_rc;
        }
    }
}

static void *extractor_main(void *ud)
{
    struct pipeline *p = ud;

    p->rc = extract_run(p->dest, pipe_read, p, &p->xopts, p->manifest, &p->stats, p->err,
                        sizeof(p->err));
    if (p->rc < 0 && p->reader_rc < 0)
        snprintf(p->err, sizeof(p->err), "%s", p->rerr);
    ring_stop_consumer(&p->ring);
    return NULL;
}

static int pipeline_start(struct pipeline *p, const struct sdk_install_opts *o, const char *dest,
                          FILE *manifest, char *err, size_t errlen)
{
    int rc;

    memset(p, 0, sizeof(*p));
    ring_init(&p->ring, RING_SIZE);
    digest_init(&p->hash);
    p->in = xmalloc(CHUNK_SIZE);
    p->out = xmalloc(CHUNK_SIZE);
    p->dest = dest;
    p->manifest = manifest;
    p->xopts.max_bytes = o->max_unpacked;
    p->xopts.max_entries = 2000000;
    /* Up to 40 MiB for the decoder's threads and their output queue: two
     * threads on upstream's xz -3 blocks (12 MiB out + 4 MiB dictionary + the
     * compressed block each). Past that liblzma waits for output to be taken,
     * or decodes with one thread, rather than fail. */
    rc = xz_dec_init(&p->xz, o->threads, (uint64_t)40 << 20, err, errlen);
    if (rc < 0)
        return rc;
    if (pthread_create(&p->thread, NULL, extractor_main, p) != 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot start the extractor thread");
    p->started = true;
    return 0;
}

/* Give bytes to hash and extractor; -1 when the extractor has stopped. */
static int pipeline_feed(struct pipeline *p, const void *data, size_t len)
{
    digest_update(&p->hash, data, len);
    p->fed += len;
    return ring_put(&p->ring, data, len);
}

/* End the input and wait for the extractor; its result. */
static int pipeline_finish(struct pipeline *p)
{
    if (p->started) {
        ring_close(&p->ring);
        pthread_join(p->thread, NULL);
        p->started = false;
    }
    return p->rc;
}

static void pipeline_release(struct pipeline *p)
{
    if (p->started) {
        /* Abort: stop the extractor by ending its input (it fails on a
         * truncated stream) and wait for it. */
        ring_close(&p->ring);
        pthread_join(p->thread, NULL);
    }
    ring_release(&p->ring);
    digest_release(&p->hash);
    xz_dec_release(&p->xz);
    free(p->in);
    free(p->out);
}

/* ---- one install attempt ---------------------------------------------------- */

struct attempt {
    const struct sdk_install_opts *o;
    struct sdk_install_result *res;
    struct pipeline pipe;
    const char *url;
    const char *part_path, *meta_path;
    int part_fd;
    char validator[256];
    bool restart; /* the server sent the whole file: start again from byte 0 */
    uint64_t total;
    int64_t last_event_ms;
    const char *phase;
    char err[1024];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void progress(struct attempt *a, bool force)
{
    int64_t t = now_ms();

    if (!force && t - a->last_event_ms < 100)
        return;
    a->last_event_ms = t;
    emit(a->o, SDK_EV_PROGRESS, a->phase, NULL, a->pipe.fed, a->total);
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int attempt_bytes(struct attempt *a, const void *buf, size_t len)
{
    if (cancelled(a->o))
        return omv_seterr(a->err, sizeof(a->err), OMV_EIO, "interrupted");
    if (a->part_fd >= 0 && write_all(a->part_fd, buf, len) < 0)
        return omv_seterr(a->err, sizeof(a->err), OMV_EIO, "cannot write '%s': %s", a->part_path,
                          strerror(errno));
    if (pipeline_feed(&a->pipe, buf, len) < 0)
        return omv_seterr(a->err, sizeof(a->err), OMV_EPARSE, "the extractor stopped");
    progress(a, false);
    return 0;
}

static int on_begin(void *ud, const struct fetch_resp *r)
{
    struct attempt *a = ud;
    uint64_t have = a->pipe.fed;

    if (have > 0 && (r->status != 206 || r->range_start != have)) {
        a->restart = true;
        return omv_seterr(a->err, sizeof(a->err), OMV_EIO,
                          r->status == 200 ? "the server sent the whole file again"
                                           : "the server sent an unexpected range");
    }
    if (r->total > 0)
        a->total = (uint64_t)r->total;
    else if (r->length >= 0)
        a->total = have + (uint64_t)r->length;
    if (have == 0) {
        /* A fresh download: remember its validator for If-Range. */
        const char *v = r->etag[0] && strncmp(r->etag, "W/", 2) ? r->etag : r->last_modified;
        struct strbuf meta = STRBUF_INIT;
        char e[256];

        snprintf(a->validator, sizeof(a->validator), "%s", v);
        if (a->meta_path) {
            strbuf_addf(&meta, "%s\n", a->validator);
            if (!a->validator[0] ||
                fs_write_atomic(a->meta_path, meta.buf, meta.len, 0644, e, sizeof(e)) < 0)
                unlink(a->meta_path); /* no validator: the part cannot be resumed */
            strbuf_release(&meta);
        }
    }
    return 0;
}

static int on_data(void *ud, const void *buf, size_t len)
{
    return attempt_bytes(ud, buf, len);
}

/* Feed a local file (or the cached part) through the pipeline. */
static int feed_file(struct attempt *a, const char *path, uint64_t limit, bool to_part)
{
    uint8_t *buf = xmalloc(CHUNK_SIZE);
    uint64_t done = 0, size;
    int fd, rc = fs_open_regular(path, &fd, &size, a->err, sizeof(a->err)), part_fd = a->part_fd;

    if (rc < 0) {
        free(buf);
        return rc;
    }
    if (!to_part)
        a->part_fd = -1;
    while (done < limit) {
        size_t want = limit - done < CHUNK_SIZE ? (size_t)(limit - done) : CHUNK_SIZE;
        ssize_t n = read(fd, buf, want);

        if (n < 0 && errno == EINTR && !cancelled(a->o))
            continue;
        if (n < 0) {
            rc = omv_seterr(a->err, sizeof(a->err), OMV_EIO, "cannot read '%s': %s", path,
                            strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = attempt_bytes(a, buf, (size_t)n);
        if (rc < 0)
            break;
        done += (uint64_t)n;
    }
    a->part_fd = part_fd;
    close(fd);
    free(buf);
    return rc;
}

/* ---- the transaction -------------------------------------------------------- */

struct paths {
    struct strbuf parent, base, rparent, staging, manifest, lock, old, final;
    struct strbuf part, meta, kept, kept_sum, sum_url;
};

static void paths_release(struct paths *p)
{
    struct strbuf *all[] = {&p->parent, &p->base,     &p->rparent, &p->staging, &p->manifest,
                            &p->lock,   &p->old,      &p->final,   &p->part,    &p->meta,
                            &p->kept,   &p->kept_sum, &p->sum_url};

    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        strbuf_release(all[i]);
}

static int fail(struct sdk_install_result *res, enum sdk_failure f, int rc)
{
    res->failure = f;
    return rc;
}

/* The expected digest: pinned, a kept download's, or the published .sha256. */
static int expected_digest(const struct sdk_install_opts *o, struct paths *p, const char *url,
                           const char *local, char hex[DIGEST_HEX_LEN + 1],
                           struct sdk_install_result *res, char *err, size_t errlen)
{
    struct strbuf body = STRBUF_INIT;
    int rc;

    if (o->sha256) {
        if (!digest_hex_valid(o->sha256, hex))
            return fail(res, SDK_FAIL_USAGE,
                        omv_seterr(err, errlen, OMV_EINVAL, "'%s' is not a SHA-256 (64 hex digits)",
                                   o->sha256));
        return 0;
    }
    if (local) {
        strbuf_addf(&p->sum_url, "%s.sha256", local);
        rc = fs_read_file_max(p->sum_url.buf, &body, FS_MAX_TEXT, err, errlen);
        if (rc == OMV_ENOENT)
            rc = omv_seterr(err, errlen, OMV_ENOENT, "no checksum file '%s' beside '%s'",
                            p->sum_url.buf, local);
    } else {
        struct fetch_cfg cfg = {o->cacert, o->connect_timeout_s, o->stall_timeout_s, true,
                                o->cancel};
        struct fetch_resp resp;

        strbuf_addf(&p->sum_url, "%s.sha256", url);
        for (int attempt = 0;; attempt++) {
            rc = fetch_small(&cfg, p->sum_url.buf, 4096, &body, &resp, err, errlen);
            if (rc == 0 || !resp.transient || attempt >= o->retries || cancelled(o))
                break;
            emit(o, SDK_EV_RETRY, NULL, err, (uint64_t)attempt + 1,
                 (uint64_t)backoff_ms(o, attempt));
            sleep_ms(backoff_ms(o, attempt));
        }
        if (rc < 0) {
            strbuf_release(&body);
            if (resp.cancelled)
                return fail(res, SDK_FAIL_INTERRUPTED, rc);
            if (resp.tls)
                return fail(res, SDK_FAIL_TLS, rc);
            if (rc == OMV_ENOENT)
                return fail(res, SDK_FAIL_CHECKSUM_FILE,
                            omv_seterr(err, errlen, OMV_ENOENT, "no checksum at '%s' (HTTP %ld)",
                                       p->sum_url.buf, resp.status));
            return fail(res, resp.transient ? SDK_FAIL_NETWORK : SDK_FAIL_CHECKSUM_FILE, rc);
        }
    }
    if (rc == 0) {
        char e[512];

        rc = digest_parse_sumfile(body.buf, body.len, o->tarball, hex, e, sizeof(e));
        if (rc < 0)
            omv_seterr(err, errlen, rc, "%s: %s", p->sum_url.buf, e);
    }
    strbuf_release(&body);
    return rc < 0 ? fail(res, SDK_FAIL_CHECKSUM_FILE, rc) : 0;
}

/* Read the validator stored beside a .part. */
static void read_meta(const char *path, char *out, size_t cap)
{
    struct strbuf sb = STRBUF_INIT;

    out[0] = '\0';
    if (fs_read_file_max(path, &sb, FS_MAX_TEXT, NULL, 0) == 0) {
        strbuf_trim_trailing(&sb);
        if (sb.len < cap && !strchr(sb.buf, '\n') && !strchr(sb.buf, '\r'))
            snprintf(out, cap, "%s", sb.buf);
    }
    strbuf_release(&sb);
}

static uint64_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
}

/* Download (or read) once through a fresh pipeline. */
static int run_attempt(struct attempt *a, struct paths *p, const char *local, char *err,
                       size_t errlen)
{
    const struct sdk_install_opts *o = a->o;
    struct fetch_cfg cfg = {o->cacert, o->connect_timeout_s, o->stall_timeout_s, true, o->cancel};
    int rc = 0;

    if (local) {
        a->phase = "unpack";
        a->total = file_size(local);
        emit(o, SDK_EV_SOURCE, NULL, local, 0, a->total);
        rc = feed_file(a, local, UINT64_MAX, false);
        if (rc < 0) {
            snprintf(err, errlen, "%s", a->err);
            a->res->failure = cancelled(o) ? SDK_FAIL_INTERRUPTED : SDK_FAIL_FS;
        }
        return rc;
    }

    a->phase = "download";
    emit(o, SDK_EV_SOURCE, NULL, a->url, 0, 0);
    /* Resume: the cached part (with its validator) goes through first. */
    if (p->part.len) {
        uint64_t have = file_size(p->part.buf);

        read_meta(p->meta.buf, a->validator, sizeof(a->validator));
        if (have && a->validator[0]) {
            a->part_fd = -1;
            rc = feed_file(a, p->part.buf, have, false);
            if (rc < 0) {
                snprintf(err, errlen, "%s", a->err);
                a->res->failure = cancelled(o) ? SDK_FAIL_INTERRUPTED : SDK_FAIL_FS;
                return rc;
            }
            a->res->resumed_from = have;
            emit(o, SDK_EV_RESUME, NULL, NULL, have, 0);
        } else {
            unlink(p->part.buf);
            unlink(p->meta.buf);
        }
        a->part_fd = open(p->part.buf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (a->part_fd < 0) {
            a->res->failure = SDK_FAIL_FS;
            return omv_seterr(err, errlen, OMV_EIO, "cannot open '%s': %s", p->part.buf,
                              strerror(errno));
        }
    }
    for (int attempt = 0;; attempt++) {
        struct fetch_sink sink = {on_begin, on_data, a};
        struct fetch_resp resp;
        uint64_t before = a->pipe.fed;

        a->err[0] = '\0';
        rc = fetch_get(&cfg, a->url, a->pipe.fed, a->validator, &sink, &resp, err, errlen);
        if (rc == 0)
            break;
        if (resp.status == 416 && a->pipe.fed > 0) {
            /* Nothing after the cached bytes: complete when the sizes agree,
             * otherwise the file changed. */
            if (resp.total >= 0 && (uint64_t)resp.total == a->pipe.fed) {
                rc = 0;
                break;
            }
            a->restart = true;
            snprintf(err, errlen, "the cached part is longer than the file on the server");
            return rc;
        }
        if (resp.sink_failed || a->restart)
            snprintf(err, errlen, "%s", a->err);
        if (a->restart)
            return rc; /* the caller starts a fresh attempt */
        if (resp.cancelled || cancelled(o)) {
            a->res->failure = SDK_FAIL_INTERRUPTED;
            return rc;
        }
        if (resp.sink_failed) {
            a->res->failure = SDK_FAIL_FS;
            return rc;
        }
        if (!resp.transient || attempt >= o->retries) {
            a->res->failure = resp.tls             ? SDK_FAIL_TLS
                              : resp.transient     ? SDK_FAIL_NETWORK
                              : resp.status >= 400 ? SDK_FAIL_HTTP
                                                   : SDK_FAIL_NETWORK;
            return rc;
        }
        if (a->pipe.fed > before)
            attempt = 0; /* progress was made: the budget is per stall */
        if (a->pipe.fed > 0 && !a->validator[0]) {
            a->restart = true;
            snprintf(err, errlen, "the server gives no ETag or Last-Modified to resume with");
            return rc;
        }
        emit(o, SDK_EV_RETRY, NULL, err, (uint64_t)attempt + 1, (uint64_t)backoff_ms(o, attempt));
        sleep_ms(backoff_ms(o, attempt));
        if (cancelled(o)) {
            a->res->failure = SDK_FAIL_INTERRUPTED;
            return omv_seterr(err, errlen, OMV_EIO, "interrupted");
        }
    }
    return 0;
}

int sdk_install(const struct sdk_install_opts *o, struct sdk_install_result *res, char *err,
                size_t errlen)
{
    struct paths p;
    struct attempt a;
    char want[DIGEST_HEX_LEN + 1], got[DIGEST_HEX_LEN + 1], rbuf[PATH_MAX];
    char *local = NULL;
    FILE *manifest = NULL;
    int lock_fd = -1, rc = 0, restarts = 0;
    bool pipe_live = false, keep_part = false;
    struct strbuf stamp = STRBUF_INIT;

    memset(res, 0, sizeof(*res));
    memset(&p, 0, sizeof(p));
    memset(&a, 0, sizeof(a));
    {
        struct strbuf *all[] = {&p.parent, &p.base,     &p.rparent, &p.staging, &p.manifest,
                                &p.lock,   &p.old,      &p.final,   &p.part,    &p.meta,
                                &p.kept,   &p.kept_sum, &p.sum_url};

        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
            strbuf_init(all[i]);
    }
    a.part_fd = -1;

    if (!o->force && sdk_is_installed(o->dir, o->version)) {
        res->already = true;
        goto out;
    }
    if (o->from_file) {
        local = xstrdup(o->from_file);
    } else if (o->url) {
        rc = sdk_url_allowed(o->url, o->sha256 != NULL, err, errlen);
        if (rc < 0) {
            fail(res, SDK_FAIL_USAGE, rc);
            goto out;
        }
        local = file_url_path(o->url);
        if (!local && !strncasecmp(o->url, "file://", 7)) {
            rc = fail(res, SDK_FAIL_USAGE,
                      omv_seterr(err, errlen, OMV_EINVAL,
                                 "'%s': a file:// URL must name an absolute path", o->url));
            goto out;
        }
    } else {
        rc = fail(res, SDK_FAIL_USAGE, omv_seterr(err, errlen, OMV_EINVAL, "no URL and no file"));
        goto out;
    }

    /* The parent, without symlinks (libarchive refuses to write through them). */
    split_dir(o->dir, &p.parent, &p.base);
    rc = fs_mkdir_p(p.parent.buf, 0755, err, errlen);
    if (rc < 0) {
        fail(res, SDK_FAIL_FS, rc);
        goto out;
    }
    if (!realpath(p.parent.buf, rbuf)) {
        rc = fail(res, SDK_FAIL_FS,
                  omv_seterr(err, errlen, OMV_EIO, "cannot resolve '%s': %s", p.parent.buf,
                             strerror(errno)));
        goto out;
    }
    strbuf_addstr(&p.rparent, rbuf);
    strbuf_addf(&p.lock, "%s/.%s.lock", p.rparent.buf, p.base.buf);
    rc = take_lock(o, p.lock.buf, &lock_fd, err, errlen);
    if (rc < 0) {
        fail(res, cancelled(o) ? SDK_FAIL_INTERRUPTED : SDK_FAIL_FS, rc);
        goto out;
    }
    /* Someone else may have installed it while we waited. */
    if (!o->force && sdk_is_installed(o->dir, o->version)) {
        res->already = true;
        goto out;
    }
    remove_leftovers(p.rparent.buf, p.base.buf);
    fs_path_join(&p.final, p.rparent.buf, p.base.buf);
    if (!o->force) {
        DIR *d = opendir(p.final.buf);
        struct dirent *de;
        bool empty = true;

        if (d) {
            while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                    empty = false;
            closedir(d);
        } else if (errno != ENOENT) {
            empty = false;
        }
        if (!empty) {
            int s = sdk_read_stamp(p.final.buf, &stamp, NULL, 0);

            rc = fail(res, SDK_FAIL_EXISTS,
                      omv_seterr(err, errlen, OMV_EINVAL,
                                 s == 0 ? "'%s' holds SDK %s, not %s"
                                        : "'%s' exists but holds no complete SDK%s%s",
                                 o->dir, s == 0 ? stamp.buf : "", s == 0 ? o->version : ""));
            goto out;
        }
    }

    /* Where the bytes come from. */
    if (!local && o->cache_dir) {
        fs_path_join(&p.kept, o->cache_dir, o->tarball);
        strbuf_addf(&p.kept_sum, "%s.sha256", p.kept.buf);
        if (!o->force && fs_is_file(p.kept.buf) && fs_is_file(p.kept_sum.buf) && !o->sha256) {
            local = xstrdup(p.kept.buf);
            res->from_cache = true;
        }
    }
    rc = expected_digest(o, &p, o->url, local, want, res, err, errlen);
    if (rc < 0)
        goto out;
    if (!local && o->cache_dir) {
        rc = fs_mkdir_p(o->cache_dir, 0755, err, errlen);
        if (rc < 0) {
            fail(res, SDK_FAIL_FS, rc);
            goto out;
        }
        strbuf_addf(&p.part, "%s.part", p.kept.buf);
        strbuf_addf(&p.meta, "%s.part.meta", p.kept.buf);
    }

    for (;;) {
        strbuf_reset(&p.staging);
        strbuf_addf(&p.staging, "%s/.%s.staging-%ld", p.rparent.buf, p.base.buf, (long)getpid());
        strbuf_reset(&p.manifest);
        strbuf_addf(&p.manifest, "%s/.%s.manifest-%ld", p.rparent.buf, p.base.buf, (long)getpid());
        if (mkdir(p.staging.buf, 0755) < 0) {
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot create '%s': %s", p.staging.buf,
                                 strerror(errno)));
            goto out;
        }
        manifest = fopen(p.manifest.buf, "we");
        if (!manifest) {
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot create '%s': %s", p.manifest.buf,
                                 strerror(errno)));
            goto out;
        }
        fprintf(manifest, "%s\n", SDK_MANIFEST_HEADER);
        a.o = o;
        a.res = res;
        a.url = o->url;
        a.part_path = p.part.len ? p.part.buf : NULL;
        a.meta_path = p.meta.len ? p.meta.buf : NULL;
        a.restart = false;
        a.total = 0;
        rc = pipeline_start(&a.pipe, o, p.staging.buf, manifest, err, errlen);
        pipe_live = true;
        if (rc < 0) {
            fail(res, SDK_FAIL_FS, rc);
            goto out;
        }
        rc = run_attempt(&a, &p, local, err, errlen);
        if (a.part_fd >= 0) {
            close(a.part_fd);
            a.part_fd = -1;
        }
        if (rc < 0 && a.restart && restarts++ < 2 && !cancelled(o)) {
            /* The server ignored the range or the file changed: start over. */
            emit(o, SDK_EV_RESTART, NULL, err, 0, 0);
            pipeline_release(&a.pipe);
            pipe_live = false;
            fclose(manifest);
            manifest = NULL;
            sdk_remove_tree(p.staging.buf, NULL, 0);
            unlink(p.manifest.buf);
            unlink(p.part.buf);
            unlink(p.meta.buf);
            memset(&a, 0, sizeof(a));
            a.part_fd = -1;
            res->resumed_from = 0;
            continue;
        }
        break;
    }
    progress(&a, true);
    if (rc < 0) {
        /* The extractor may have stopped first (a refused archive): its error is the cause. */
        pipeline_finish(&a.pipe);
        if (a.pipe.rc < 0 && !a.pipe.xz_truncated && res->failure != SDK_FAIL_INTERRUPTED &&
            strstr(err, "the extractor stopped")) {
            snprintf(err, errlen, "%s", a.pipe.err);
            fail(res, SDK_FAIL_ARCHIVE, a.pipe.rc);
        }
        if (res->failure == SDK_FAIL_NONE)
            res->failure = SDK_FAIL_NETWORK; /* the server kept ignoring the range */
        keep_part = !a.restart &&
                    (res->failure == SDK_FAIL_NETWORK || res->failure == SDK_FAIL_INTERRUPTED);
        goto out;
    }
    rc = pipeline_finish(&a.pipe);
    digest_final_hex(&a.pipe.hash, got);
    snprintf(res->sha256, sizeof(res->sha256), "%s", got);
    res->download_bytes = a.pipe.fed;
    if (rc < 0 && a.pipe.xz_truncated && !local && strcmp(got, want)) {
        /* The server closed early (e.g. a wrong Content-Length): resumable. */
        rc = fail(res, SDK_FAIL_NETWORK,
                  omv_seterr(err, errlen, OMV_EIO,
                             "the download from %s ended early after %" PRIu64
                             " bytes (the xz stream is incomplete)",
                             o->url, a.pipe.fed));
        keep_part = true;
        goto out;
    }
    if (strcmp(got, want)) {
        rc = fail(res, SDK_FAIL_CHECKSUM,
                  omv_seterr(err, errlen, OMV_EPARSE,
                             "checksum mismatch for %s: expected %s, got %s", o->tarball, want,
                             got));
        goto out;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s", a.pipe.err);
        fail(res, SDK_FAIL_ARCHIVE, rc);
        goto out;
    }
    strbuf_reset(&stamp);
    rc = sdk_read_stamp(p.staging.buf, &stamp, NULL, 0);
    if (rc < 0 || strcmp(stamp.buf, o->version)) {
        rc = fail(res, SDK_FAIL_ARCHIVE,
                  rc < 0 ? omv_seterr(err, errlen, OMV_EPARSE,
                                      "%s has no sdk.version stamp: not an OpenMV SDK", o->tarball)
                         : omv_seterr(err, errlen, OMV_EPARSE,
                                      "%s is SDK %s (its sdk.version), not %s", o->tarball,
                                      stamp.buf, o->version));
        goto out;
    }
    res->unpacked_bytes = a.pipe.stats.bytes;
    res->files = a.pipe.stats.files + a.pipe.stats.hardlinks;

    /* Commit: the manifest into the tree, then one rename. */
    {
        struct strbuf mpath = STRBUF_INIT;
        int fd;

        if (fflush(manifest) != 0 || fsync(fileno(manifest)) < 0 || fclose(manifest) != 0) {
            manifest = NULL;
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot write '%s': %s", p.manifest.buf,
                                 strerror(errno)));
            goto out;
        }
        manifest = NULL;
        fs_path_join(&mpath, p.staging.buf, EXTRACT_MANIFEST_NAME);
        if (rename(p.manifest.buf, mpath.buf) < 0) {
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot rename '%s': %s", p.manifest.buf,
                                 strerror(errno)));
            strbuf_release(&mpath);
            goto out;
        }
        strbuf_release(&mpath);
        if (cancelled(o)) {
            rc = fail(res, SDK_FAIL_INTERRUPTED, omv_seterr(err, errlen, OMV_EIO, "interrupted"));
            keep_part = true;
            goto out;
        }
        strbuf_addf(&p.old, "%s/.%s.old-%ld", p.rparent.buf, p.base.buf, (long)getpid());
        if (rename(p.final.buf, p.old.buf) < 0 && errno != ENOENT) {
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot move '%s' aside: %s", p.final.buf,
                                 strerror(errno)));
            goto out;
        }
        if (rename(p.staging.buf, p.final.buf) < 0) {
            int e = errno;

            rename(p.old.buf, p.final.buf); /* put the old one back */
            rc = fail(res, SDK_FAIL_FS,
                      omv_seterr(err, errlen, OMV_EIO, "cannot rename '%s' to '%s': %s",
                                 p.staging.buf, p.final.buf, strerror(e)));
            goto out;
        }
        fd = open(p.rparent.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        sdk_remove_tree(p.old.buf, NULL, 0);
        emit(o, SDK_EV_COMMIT, NULL, o->dir, 0, 0);
    }
    /* The download: kept for offline reuse, or dropped. */
    if (p.part.len) {
        if (o->keep_download) {
            struct strbuf line = STRBUF_INIT;
            char e[256];

            strbuf_addf(&line, "%s  %s\n", got, o->tarball);
            if (rename(p.part.buf, p.kept.buf) == 0)
                fs_write_atomic(p.kept_sum.buf, line.buf, line.len, 0644, e, sizeof(e));
            strbuf_release(&line);
        }
        unlink(p.part.buf);
        unlink(p.meta.buf);
    }
    rc = 0;
out:
    if (a.part_fd >= 0)
        close(a.part_fd);
    if (pipe_live)
        pipeline_release(&a.pipe);
    if (manifest)
        fclose(manifest);
    if (rc < 0) {
        if (p.staging.len)
            sdk_remove_tree(p.staging.buf, NULL, 0);
        if (p.manifest.len)
            unlink(p.manifest.buf);
        if (p.part.len && !keep_part) {
            unlink(p.part.buf);
            unlink(p.meta.buf);
        }
        /* A kept download that fails its checksum or unpacking is no use. */
        if (res->from_cache &&
            (res->failure == SDK_FAIL_CHECKSUM || res->failure == SDK_FAIL_ARCHIVE)) {
            unlink(p.kept.buf);
            unlink(p.kept_sum.buf);
        }
    }
    if (lock_fd >= 0)
        close(lock_fd);
    free(local);
    strbuf_release(&stamp);
    paths_release(&p);
    return rc;
}

/* ---- verify ----------------------------------------------------------------- */

int sdk_manifest_parse_line(char *line, struct sdk_manifest_entry *e)
{
    char *f[4];
    int n = 0;
    char *s = line;

    memset(e, 0, sizeof(*e));
    while (n < 4) {
        f[n++] = s;
        s = strchr(s, '\t');
        if (!s)
            break;
        *s++ = '\0';
    }
    if (s && n == 4)
        return -1; /* too many fields */
    if (strlen(f[0]) != 1)
        return -1;
    e->type = f[0][0];
    switch (e->type) {
    case 'f': {
        char *end;

        if (n != 4 || !digest_hex_valid(f[1], e->sha256) || !*f[2])
            return -1;
        errno = 0;
        e->size = strtoull(f[2], &end, 10);
        if (*end || errno || f[2][0] == '-')
            return -1;
        e->path = f[3];
        break;
    }
    case 'l':
        if (n != 3 || !*f[1])
            return -1;
        e->target = f[1];
        e->path = f[2];
        break;
    case 'd':
        if (n != 2)
            return -1;
        e->path = f[1];
        break;
    default:
        return -1;
    }
    if (!*e->path || e->path[0] == '/' || strstr(e->path, "..") == e->path ||
        strstr(e->path, "/../") || !strcmp(e->path, ".."))
        return -1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct walk {
    char **names;
    size_t nr;
    const char *root;
    sdk_problem_fn fn;
    void *ud;
    struct sdk_verify_result *res;
};

static void walk_extra(struct walk *w, const char *rel)
{
    struct strbuf path = STRBUF_INIT, sub = STRBUF_INIT;
    DIR *d;
    struct dirent *de;

    fs_path_join(&path, w->root, rel);
    d = opendir(path.buf);
    while (d && (de = readdir(d))) {
        struct stat st;
        const char *key;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        strbuf_reset(&sub);
        if (*rel)
            strbuf_addf(&sub, "%s/", rel);
        strbuf_addstr(&sub, de->d_name);
        if (!*rel && !strcmp(de->d_name, EXTRACT_MANIFEST_NAME))
            continue;
        key = sub.buf;
        if (!bsearch(&key, w->names, w->nr, sizeof(*w->names), cmp_str)) {
            w->res->extra++;
            if (w->fn)
                w->fn(w->ud, SDK_PROB_EXTRA, sub.buf, "not in the manifest");
            continue;
        }
        strbuf_reset(&path);
        fs_path_join(&path, w->root, sub.buf);
        if (lstat(path.buf, &st) == 0 && S_ISDIR(st.st_mode)) {
            char *copy = xstrdup(sub.buf);

            walk_extra(w, copy);
            free(copy);
        }
    }
    if (d)
        closedir(d);
    strbuf_release(&path);
    strbuf_release(&sub);
}

int sdk_verify(const char *dir, unsigned flags, sdk_problem_fn fn, void *ud,
               struct sdk_verify_result *res, char *err, size_t errlen)
{
    struct strbuf text = STRBUF_INIT, path = STRBUF_INIT, link = STRBUF_INIT;
    struct walk w;
    size_t alloc = 0, lineno = 0;
    char *line, *next;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&w, 0, sizeof(w));
    fs_path_join(&path, dir, EXTRACT_MANIFEST_NAME);
    rc = fs_read_file(path.buf, &text, err, errlen);
    if (rc < 0) {
        if (rc == OMV_ENOENT)
            omv_seterr(err, errlen, OMV_ENOENT, "'%s' has no manifest (%s)", dir,
                       EXTRACT_MANIFEST_NAME);
        goto out;
    }
    for (line = text.buf; *line; line = next) {
        struct sdk_manifest_entry e;
        struct stat st;
        const char *what = NULL;
        bool missing = false;

        next = strchr(line, '\n');
        if (!next) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: the last line is incomplete", path.buf);
            goto out;
        }
        *next++ = '\0';
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, SDK_MANIFEST_HEADER)) {
                rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: not an omvdev manifest", path.buf);
                goto out;
            }
            continue;
        }
        if (sdk_manifest_parse_line(line, &e) < 0) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%zu: damaged line", path.buf, lineno);
            goto out;
        }
        XGROW(w.names, alloc, w.nr + 1);
        w.names[w.nr++] = xstrdup(e.path);
        res->checked++;
        strbuf_reset(&link);
        fs_path_join(&link, dir, e.path);
        if (lstat(link.buf, &st) < 0) {
            missing = true;
        } else if (e.type == 'd') {
            if (!S_ISDIR(st.st_mode))
                what = "is no longer a directory";
        } else if (e.type == 'l') {
            char target[PATH_MAX];
            ssize_t n = S_ISLNK(st.st_mode) ? readlink(link.buf, target, sizeof(target) - 1) : -1;

            if (n < 0)
                what = "is no longer a symlink";
            else if (target[n] = '\0', strcmp(target, e.target))
                what = "points elsewhere";
        } else if (!S_ISREG(st.st_mode)) {
            what = "is no longer a regular file";
        } else if ((uint64_t)st.st_size != e.size) {
            what = "has changed size";
        } else if (!(flags & SDK_VERIFY_SIZES_ONLY)) {
            char hex[DIGEST_HEX_LEN + 1];
            char e2[256];

            if (digest_file(link.buf, hex, NULL, e2, sizeof(e2)) < 0)
                what = "cannot be read";
            else if (strcmp(hex, e.sha256))
                what = "has changed content";
        }
        if (missing) {
            res->missing++;
            if (fn)
                fn(ud, SDK_PROB_MISSING, e.path, "is missing");
        } else if (what) {
            res->changed++;
            if (fn)
                fn(ud, SDK_PROB_CHANGED, e.path, what);
        }
    }
    if (lineno == 0) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s is empty", path.buf);
        goto out;
    }
    qsort(w.names, w.nr, sizeof(*w.names), cmp_str);
    w.root = dir;
    w.fn = fn;
    w.ud = ud;
    w.res = res;
    walk_extra(&w, "");
out:
    for (size_t i = 0; i < w.nr; i++)
        free(w.names[i]);
    free(w.names);
    strbuf_release(&text);
    strbuf_release(&path);
    strbuf_release(&link);
    return rc;
}

/* ---- remove ------------------------------------------------------------------- */

int sdk_remove(const char *dir, char *err, size_t errlen)
{
    struct strbuf parent = STRBUF_INIT, base = STRBUF_INIT, lock = STRBUF_INIT, old = STRBUF_INIT;
    int fd = -1, rc = 0;

    split_dir(dir, &parent, &base);
    if (!fs_is_dir(dir)) {
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s' does not exist", dir);
        goto out;
    }
    strbuf_addf(&lock, "%s/.%s.lock", parent.buf, base.buf);
    fd = open(lock.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot lock '%s': %s", lock.buf,
                        errno == EWOULDBLOCK ? "an install is running" : strerror(errno));
        goto out;
    }
    strbuf_addf(&old, "%s/.%s.old-%ld", parent.buf, base.buf, (long)getpid());
    if (rename(dir, old.buf) < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot move '%s' aside: %s", dir, strerror(errno));
        goto out;
    }
    rc = sdk_remove_tree(old.buf, err, errlen);
out:
    if (fd >= 0)
        close(fd);
    strbuf_release(&parent);
    strbuf_release(&base);
    strbuf_release(&lock);
    strbuf_release(&old);
    return rc;
}
