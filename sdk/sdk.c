/*
 * The SDK install transaction, verify and remove (see sdk.h).
 *
 * Threads during an install: the calling thread receives bytes (libcurl or
 * read(2)), hashes them, appends them to the .part cache file and puts them
 * into a bounded ring; the extractor's read-ahead thread takes them out and
 * decodes the xz (liblzma adds its own two decoder threads) into the
 * extractor's buffers, the extractor thread parses the tar and creates the
 * files, and its writer thread writes and hashes them (sdk/writer.h). A
 * full ring makes the receiver wait, so memory stays bounded. On a resume a
 * downloader thread appends the rest to the .part while the calling thread
 * reads the part from byte 0 behind it; a reaper thread removes what killed
 * installs left, at the lowest priority.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING_SIZE  ((size_t)1 << 20)
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
    /* A read-only directory must become writable to be emptied. */
    if ((st.st_mode & 0700) != 0700 && fchmodat(parent_fd, name, 0700, 0) < 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot remove '%s': %s", top, strerror(errno));
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

/* Move leftovers of killed installs (".<base>.staging-*", ".<base>.old-*",
 * ".<base>.manifest-*", ".<base>.trash-*") aside under trash names; we hold
 * the lock, so nobody is using them. The names moved go into `trash`. */
static void leftovers_aside(const char *parent, const char *base, struct strbuf *trash)
{
    static const char *const kinds[] = {"staging-", "old-", "manifest-", "trash-"};
    struct strbuf prefix = STRBUF_INIT, from = STRBUF_INIT, to = STRBUF_INIT;
    DIR *d = opendir(parent);
    struct dirent *de;
    unsigned n = 0;

    while (d && (de = readdir(d))) {
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
            strbuf_reset(&prefix);
            strbuf_addf(&prefix, ".%s.%s", base, kinds[i]);
            if (strncmp(de->d_name, prefix.buf, prefix.len))
                continue;
            strbuf_reset(&from);
            fs_path_join(&from, parent, de->d_name);
            strbuf_reset(&to);
            strbuf_addf(&to, "%s/.%s.trash-%ld-%u", parent, base, (long)getpid(), n++);
            if (rename(from.buf, to.buf) == 0)
                strbuf_addf(trash, "%s%c", to.buf, '\0');
            break;
        }
    }
    if (d)
        closedir(d);
    strbuf_release(&prefix);
    strbuf_release(&from);
    strbuf_release(&to);
}

/* Rename path aside as ".<base>.trash-<pid>-<n>"; 0 when it is gone from path. */
static int move_to_trash(const char *path, const char *parent, const char *base)
{
    struct strbuf to = STRBUF_INIT;
    int rc = -1;

    for (unsigned n = 0; rc < 0 && n < 100; n++) {
        strbuf_reset(&to);
        strbuf_addf(&to, "%s/.%s.trash-%ld-x%u", parent, base, (long)getpid(), n);
        if (rename(path, to.buf) == 0)
            rc = 0;
        else if (errno != EEXIST && errno != ENOTEMPTY)
            break;
    }
    strbuf_release(&to);
    return rc;
}

/* The background removal of the trash: at the lowest priority, so that it
 * takes the CPU only when the install leaves it idle (a throttled download). */
struct reaper {
    pthread_t thread;
    bool started;
    struct strbuf trash; /* NUL-separated paths */
};

static void *reaper_main(void *ud)
{
    struct reaper *r = ud;

#ifdef SYS_gettid
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
#endif
    for (size_t i = 0; i < r->trash.len; i += strlen(r->trash.buf + i) + 1)
        sdk_remove_tree(r->trash.buf + i, NULL, 0);
    return NULL;
}

static void reaper_start(struct reaper *r, const char *parent, const char *base)
{
    leftovers_aside(parent, base, &r->trash);
    if (r->trash.len && pthread_create(&r->thread, NULL, reaper_main, r) == 0)
        r->started = true;
    else if (r->trash.len)
        reaper_main(r);
}

static void reaper_finish(struct reaper *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    r->started = false;
    strbuf_release(&r->trash);
}

/* ---- the lock ------------------------------------------------------------- */

/*
 * flock on "<parent>/.<base>.lock". The holder removes the file before it
 * lets go, so none is left behind; a waiter that then gets the lock on the
 * removed file sees that the path no longer names its file and starts over.
 * A killed holder's lock goes with its process; its file is removed by the
 * next holder.
 */
static int lock_open(const char *path, bool wait, const volatile sig_atomic_t *cancel, bool *busy,
                     int *fdp, char *err, size_t errlen)
{
    for (;;) {
        struct stat a, b;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

        if (fd < 0)
            return omv_seterr(err, errlen, errno == ENOSPC ? OMV_ENOSPC : OMV_EIO,
                              "cannot create the lock '%s': %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK || !wait) {
                int e = errno;

                *busy = e == EWOULDBLOCK;
                close(fd);
                return omv_seterr(err, errlen, OMV_EIO, "cannot lock '%s': %s", path,
                                  e == EWOULDBLOCK ? "another omvdev is installing or removing "
                                                     "this SDK"
                                                   : strerror(e));
            }
            while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR || (cancel && *cancel)) {
                    close(fd);
                    return omv_seterr(err, errlen, OMV_EINTR,
                                      "interrupted while waiting for the lock '%s'", path);
                }
            }
        }
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            *fdp = fd;
            return 0;
        }
        close(fd); /* the previous holder removed it: take the new one */
    }
}

static void lock_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

static int take_lock(const struct sdk_install_opts *o, const char *path, int *fdp, char *err,
                     size_t errlen)
{
    bool busy = false;
    int rc = lock_open(path, false, o->cancel, &busy, fdp, err, errlen);

    if (rc == 0 || !busy)
        return rc;
    emit(o, SDK_EV_LOCK_WAIT, NULL, path, 0, 0);
    return lock_open(path, true, o->cancel, &busy, fdp, err, errlen);
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

/* The extractor stops taking: the receiver's puts fail, and a get waiting
 * for bytes returns 0 at once. */
static void ring_stop_consumer(struct ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->consumer = true;
    pthread_cond_signal(&r->can_put);
    pthread_cond_broadcast(&r->can_get);
    pthread_mutex_unlock(&r->mu);
}

/* Take up to cap bytes; 0 only at the end, or (*stopped set) once the
 * consumer stopped. */
static size_t ring_get(struct ring *r, uint8_t *out, size_t cap, bool *stopped)
{
    size_t got = 0;

    pthread_mutex_lock(&r->mu);
    while (r->len == 0 && !r->eof && !r->consumer)
        pthread_cond_wait(&r->can_get, &r->mu);
    *stopped = r->consumer;
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
    uint8_t *in;
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
    char err[1024];    /* extractor's message */
    char rerr[1024];   /* decoder's message */
    bool xz_truncated; /* the stream ended before the xz end */
};

/* The extractor's reader (on its read-ahead thread): decode the ring's
 * bytes into its buffer. */
static int pipe_read(void *ud, void *buf, size_t cap, size_t *len)
{
    struct pipeline *p = ud;
    size_t have = 0;

    *len = 0;
    for (int idle = 0; have < cap; idle++) {
        size_t n = 0;
        int rc;

        if (p->in_len == 0 && !p->in_eof) {
            bool stopped;

            p->in_len = ring_get(&p->ring, p->in, CHUNK_SIZE, &stopped);
            p->in_next = p->in;
            /* The parser gave up first (pipe_stop): its error is the cause,
             * not a stream that seems to end here. */
            if (stopped)
                return OMV_EINTR;
            if (p->in_len == 0)
                p->in_eof = true;
        }
        if (p->xz.ended && p->in_len == 0 && p->in_eof)
            break;
        rc = xz_dec_run(&p->xz, &p->in_next, &p->in_len, p->in_eof, (uint8_t *)buf + have,
                        cap - have, &n, p->rerr, sizeof(p->rerr));
        if (rc < 0) {
            p->xz_truncated = p->xz.truncated;
            return rc;
        }
        have += n;
        if (n)
            idle = 0;
        if (idle > 1000000) {
            return omv_seterr(p->rerr, sizeof(p->rerr), OMV_EPARSE,
                              "the xz decoder makes no progress");
        }
    }
    *len = have;
    return 0;
}

/* The extraction stopped early: a pipe_read waiting for bytes gives up. */
static void pipe_stop(void *ud)
{
    struct pipeline *p = ud;

    ring_stop_consumer(&p->ring);
}

static void *extractor_main(void *ud)
{
    struct pipeline *p = ud;

    p->rc = extract_run(p->dest, pipe_read, p, &p->xopts, p->manifest, &p->stats, p->err,
                        sizeof(p->err));
    /* The reader runs ahead of the parser: its failure is the cause only when
     * the parser got to it, not when the parser failed first. */
    if (p->rc < 0 && p->stats.reader_failed)
        snprintf(p->err, sizeof(p->err), "%s", p->rerr);
    else
        p->xz_truncated = false;
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
    p->dest = dest;
    p->manifest = manifest;
    p->xopts.max_bytes = o->max_unpacked;
    p->xopts.max_entries = 2000000;
    p->xopts.reader_stop = pipe_stop;
    /* liblzma starts a block's decoding only while the blocks in flight and
     * the output not yet taken stay under this limit. A block of upstream's
     * xz -3 takes its 12 MiB of output, the 4 MiB dictionary and its
     * compressed bytes (under 6 MiB even for poorly compressing binaries):
     * 44 MiB lets two blocks decode at once on every pair of blocks, where 40
     * MiB left one thread idle whenever two neighbours compressed poorly
     * (measured on a tarball made like upstream's). Past the limit liblzma
     * waits for its output to be taken, or decodes with one thread, rather
     * than fail. */
    rc = xz_dec_init(&p->xz, o->threads, (uint64_t)44 << 20, err, errlen);
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
}

/* ---- one install attempt ---------------------------------------------------- */

/* A resume's download, running while the cached part is decoded: the
 * downloader thread appends to the part, the calling thread reads the part
 * behind it. Guarded by mu: received, done, rc and the pending retry. */
struct overlap {
    pthread_mutex_t mu;
    pthread_cond_t more;
    bool done;
    int rc;
    volatile sig_atomic_t stop; /* the calling thread gave up: abort the download */
    char retry[1024];           /* a retry to report from the calling thread */
    uint64_t retry_attempt, retry_ms;
    char err[1024];
};

struct attempt {
    const struct sdk_install_opts *o;
    struct sdk_install_result *res;
    struct pipeline pipe;
    const char *url;
    const char *part_path, *meta_path, *cache_dir;
    int part_fd;
    char validator[256];
    bool restart;           /* the server sent the whole file: start again from byte 0 */
    bool extractor_stopped; /* the bytes were refused because the extractor had stopped */
    uint64_t total;
    uint64_t received; /* bytes of the tarball received so far (ov->mu when overlapped) */
    int64_t last_event_ms;
    const char *phase;
    struct overlap *ov;
    char err[1024];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void progress(struct attempt *a, uint64_t done, bool force)
{
    int64_t t = now_ms();

    if (!force && t - a->last_event_ms < 100)
        return;
    a->last_event_ms = t;
    emit(a->o, SDK_EV_PROGRESS, a->phase, NULL, done, a->total);
}

static bool stopped(const struct attempt *a)
{
    return cancelled(a->o) || (a->ov && a->ov->stop);
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

static void human(uint64_t n, char *buf, size_t len)
{
    if (n >= (uint64_t)1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
}

/* Append to the .part; a full disk is named as such and the part kept. */
static int part_write(struct attempt *a, const void *buf, size_t len)
{
    char need[32], have[32];
    struct stat st;
    int e;

    if (a->part_fd < 0 || write_all(a->part_fd, buf, len) == 0)
        return 0;
    e = errno;
    if (e != ENOSPC && e != EDQUOT)
        return omv_seterr(a->err, sizeof(a->err), OMV_EIO, "cannot write '%s': %s", a->part_path,
                          strerror(e));
    st.st_size = 0;
    fstat(a->part_fd, &st);
    human(a->total > (uint64_t)st.st_size ? a->total - (uint64_t)st.st_size : len, need,
          sizeof(need));
    human((uint64_t)st.st_size, have, sizeof(have));
    return omv_seterr(a->err, sizeof(a->err), OMV_ENOSPC,
                      "no space left in '%s' for the download: %s more are needed (the %s "
                      "downloaded are kept in '%s')",
                      a->cache_dir, need, have, a->part_path);
}

/* The bytes of a direct download (or a local file): part, hash, extractor. */
static int attempt_bytes(struct attempt *a, const void *buf, size_t len)
{
    int rc;

    if (cancelled(a->o))
        return omv_seterr(a->err, sizeof(a->err), OMV_EINTR, "interrupted");
    rc = part_write(a, buf, len);
    if (rc < 0)
        return rc;
    if (pipeline_feed(&a->pipe, buf, len) < 0) {
        a->extractor_stopped = true;
        return omv_seterr(a->err, sizeof(a->err), OMV_EPARSE, "the extractor stopped");
    }
    a->received += len;
    progress(a, a->received, false);
    return 0;
}

/* The bytes of an overlapped resume: only into the part. */
static int overlap_bytes(struct attempt *a, const void *buf, size_t len)
{
    int rc;

    if (stopped(a))
        return omv_seterr(a->err, sizeof(a->err), OMV_EINTR, "interrupted");
    rc = part_write(a, buf, len);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&a->ov->mu);
    a->received += len;
    pthread_cond_signal(&a->ov->more);
    pthread_mutex_unlock(&a->ov->mu);
    return 0;
}

static uint64_t received(struct attempt *a)
{
    uint64_t n;

    if (!a->ov)
        return a->received;
    pthread_mutex_lock(&a->ov->mu);
    n = a->received;
    pthread_mutex_unlock(&a->ov->mu);
    return n;
}

static int on_begin(void *ud, const struct fetch_resp *r)
{
    struct attempt *a = ud;
    uint64_t have = received(a);

    if (have > 0 && (r->status != 206 || r->range_start != have)) {
        a->restart = true;
        return omv_seterr(a->err, sizeof(a->err), OMV_EIO,
                          r->status == 200 ? "the server sent the whole file again"
                                           : "the server sent an unexpected range");
    }
    if (a->ov)
        pthread_mutex_lock(&a->ov->mu); /* the calling thread reads total for progress */
    if (r->total > 0)
        a->total = (uint64_t)r->total;
    else if (r->length >= 0)
        a->total = have + (uint64_t)r->length;
    if (a->ov)
        pthread_mutex_unlock(&a->ov->mu);
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
    struct attempt *a = ud;

    return a->ov ? overlap_bytes(a, buf, len) : attempt_bytes(a, buf, len);
}

/* Feed a local file through the pipeline. */
static int feed_file(struct attempt *a, const char *path)
{
    uint8_t *buf = xmalloc(CHUNK_SIZE);
    uint64_t size;
    int fd, rc = fs_open_regular(path, &fd, &size, a->err, sizeof(a->err));

    if (rc < 0) {
        free(buf);
        return rc;
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK_SIZE);

        if (n < 0 && errno == EINTR && !cancelled(a->o))
            continue;
        if (n < 0) {
            rc = omv_seterr(a->err, sizeof(a->err), cancelled(a->o) ? OMV_EINTR : OMV_EIO,
                            "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = attempt_bytes(a, buf, (size_t)n);
        if (rc < 0)
            break;
    }
    close(fd);
    free(buf);
    return rc;
}

static void report_retry(struct attempt *a, const char *msg, int attempt, long ms)
{
    if (!a->ov) {
        emit(a->o, SDK_EV_RETRY, NULL, msg, (uint64_t)attempt + 1, (uint64_t)ms);
        return;
    }
    pthread_mutex_lock(&a->ov->mu);
    snprintf(a->ov->retry, sizeof(a->ov->retry), "%s", msg);
    a->ov->retry_attempt = (uint64_t)attempt + 1;
    a->ov->retry_ms = (uint64_t)ms;
    pthread_mutex_unlock(&a->ov->mu);
}

/* Why a request failed, for the command's hint. */
static enum sdk_failure download_failure(const struct attempt *a, const struct fetch_resp *r,
                                         int rc)
{
    if (r->cancelled || stopped(a) || rc == OMV_EINTR)
        return SDK_FAIL_INTERRUPTED;
    if (r->sink_failed)
        return rc == OMV_ENOSPC ? SDK_FAIL_NOSPACE : SDK_FAIL_FS;
    if (r->refused)
        return SDK_FAIL_REFUSED;
    if (r->tls)
        return SDK_FAIL_TLS;
    if (r->transient)
        return SDK_FAIL_NETWORK;
    return r->status >= 400 ? SDK_FAIL_HTTP : SDK_FAIL_NETWORK;
}

/* GET the tarball from received(a) on, with retries; the bytes go to on_data. */
static int download_loop(struct attempt *a, char *err, size_t errlen)
{
    const struct sdk_install_opts *o = a->o;
    struct fetch_cfg cfg = {o->cacert,          o->connect_timeout_s,
                            o->stall_timeout_s, o->sha256 != NULL,
                            o->cancel,          a->ov ? &a->ov->stop : NULL};

    for (int attempt = 0;; attempt++) {
        struct fetch_sink sink = {on_begin, on_data, a};
        struct fetch_resp resp;
        uint64_t before = received(a);
        int rc;

        a->err[0] = '\0';
        rc = fetch_get(&cfg, a->url, before, a->validator, &sink, &resp, err, errlen);
        if (rc == 0)
            return 0;
        if (resp.status == 416 && before > 0) {
            /* Nothing after the cached bytes: complete when the sizes agree,
             * otherwise the file changed. */
            if (resp.total >= 0 && (uint64_t)resp.total == before)
                return 0;
            a->restart = true;
            return omv_seterr(err, errlen, OMV_ENET,
                              "the cached part is longer than the file on the server");
        }
        if (resp.sink_failed || a->restart)
            snprintf(err, errlen, "%s", a->err);
        if (a->restart)
            return rc; /* the caller starts a fresh attempt */
        if (!resp.transient || attempt >= o->retries || resp.sink_failed || stopped(a)) {
            a->res->failure = download_failure(a, &resp, rc);
            return rc;
        }
        if (received(a) > before)
            attempt = 0; /* progress was made: the budget is per stall */
        if (received(a) > 0 && !a->validator[0]) {
            a->restart = true;
            return omv_seterr(err, errlen, OMV_ENET,
                              "the server gives no ETag or Last-Modified to resume with");
        }
        report_retry(a, err, attempt, backoff_ms(o, attempt));
        sleep_ms(backoff_ms(o, attempt));
        if (stopped(a)) {
            a->res->failure = SDK_FAIL_INTERRUPTED;
            return omv_seterr(err, errlen, OMV_EINTR, "interrupted");
        }
    }
}

static void *downloader_main(void *ud)
{
    struct attempt *a = ud;
    int rc = download_loop(a, a->ov->err, sizeof(a->ov->err));

    pthread_mutex_lock(&a->ov->mu);
    a->ov->rc = rc;
    a->ov->done = true;
    pthread_cond_signal(&a->ov->more);
    pthread_mutex_unlock(&a->ov->mu);
    return NULL;
}

/* Wait until the part holds more than `fed` bytes (or the download ended);
 * report a pending retry. How many bytes may be read; *done when no more
 * will come. */
static uint64_t overlap_wait(struct attempt *a, uint64_t fed, bool *done)
{
    struct overlap *ov = a->ov;
    char retry[1024] = "";
    uint64_t n, total, attempt = 0, ms = 0;

    pthread_mutex_lock(&ov->mu);
    if (fed == a->received && !ov->done && !cancelled(a->o)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ov->more, &ov->mu, &ts);
    }
    if (ov->retry[0]) {
        snprintf(retry, sizeof(retry), "%s", ov->retry);
        attempt = ov->retry_attempt;
        ms = ov->retry_ms;
        ov->retry[0] = '\0';
    }
    n = a->received - fed;
    *done = ov->done && n == 0;
    total = a->total;
    pthread_mutex_unlock(&ov->mu);
    if (retry[0])
        emit(a->o, SDK_EV_RETRY, NULL, retry, attempt, ms);
    if (now_ms() - a->last_event_ms >= 100 || *done) {
        a->last_event_ms = now_ms();
        emit(a->o, SDK_EV_PROGRESS, a->phase, NULL, fed + n, total);
    }
    return n;
}

/* Feed the part from byte 0 while its rest downloads; fed counts the bytes. */
static int overlap_feed(struct attempt *a, int fd)
{
    uint8_t *buf = xmalloc(CHUNK_SIZE);
    uint64_t fed = 0;
    int rc = 0;

    for (;;) {
        bool done;
        uint64_t avail = overlap_wait(a, fed, &done);
        size_t want = avail < CHUNK_SIZE ? (size_t)avail : CHUNK_SIZE;
        ssize_t n;

        if (cancelled(a->o)) {
            rc = omv_seterr(a->err, sizeof(a->err), OMV_EINTR, "interrupted");
            break;
        }
        if (done)
            break;
        if (!want)
            continue;
        n = pread(fd, buf, want, (off_t)fed);
        if (n <= 0) {
            rc = omv_seterr(a->err, sizeof(a->err), OMV_EIO, "cannot read '%s': %s", a->part_path,
                            n < 0 ? strerror(errno) : "it became shorter");
            break;
        }
        if (pipeline_feed(&a->pipe, buf, (size_t)n) < 0) {
            a->extractor_stopped = true;
            rc = omv_seterr(a->err, sizeof(a->err), OMV_EPARSE, "the extractor stopped");
            break;
        }
        fed += (uint64_t)n;
    }
    free(buf);
    return rc;
}

/*
 * A resume: the request for the remaining bytes (Range + If-Range) runs on a
 * thread of its own while the cached part is decoded, so the rerun takes
 * about as long as the longer of the two.
 */
static int resume_overlapped(struct attempt *a, uint64_t have, char *err, size_t errlen)
{
    struct overlap ov;
    pthread_t th;
    int fd = open(a->part_path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0) {
        a->res->failure = SDK_FAIL_FS;
        return omv_seterr(err, errlen, OMV_EIO, "cannot open '%s': %s", a->part_path,
                          strerror(errno));
    }
    memset(&ov, 0, sizeof(ov));
    pthread_mutex_init(&ov.mu, NULL);
    pthread_cond_init(&ov.more, NULL);
    a->received = have;
    a->ov = &ov;
    if (pthread_create(&th, NULL, downloader_main, a) != 0) {
        a->ov = NULL;
        a->res->failure = SDK_FAIL_FS;
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot start the download thread");
    } else {
        rc = overlap_feed(a, fd);
        if (rc < 0)
            ov.stop = 1;
        pthread_join(th, NULL);
        a->ov = NULL;
        if (rc < 0) {
            snprintf(err, errlen, "%s", a->err);
            if (rc == OMV_EINTR)
                a->res->failure = SDK_FAIL_INTERRUPTED;
            else if (!a->extractor_stopped)
                a->res->failure = SDK_FAIL_FS;
        } else if (ov.rc < 0) {
            rc = ov.rc;
            snprintf(err, errlen, "%s", ov.err);
        }
    }
    close(fd);
    pthread_mutex_destroy(&ov.mu);
    pthread_cond_destroy(&ov.more);
    return rc;
}

/* ---- the transaction -------------------------------------------------------- */

struct paths {
    struct strbuf parent, base, rparent, staging, manifest, lock, old, final;
    struct strbuf part, meta, kept, kept_sum, sum_url;
};

#define PATHS_FOR_EACH(p, var)                                                                     \
    struct strbuf *var##_all[] = {&(p)->parent,   &(p)->base, &(p)->rparent, &(p)->staging,        \
                                  &(p)->manifest, &(p)->lock, &(p)->old,     &(p)->final,          \
                                  &(p)->part,     &(p)->meta, &(p)->kept,    &(p)->kept_sum,       \
                                  &(p)->sum_url};                                                  \
    for (size_t var##_i = 0; var##_i < ARRAY_SIZE(var##_all); var##_i++)

static int fail(struct sdk_install_result *res, enum sdk_failure f, int rc)
{
    res->failure = f;
    return rc;
}

/* The expected digest: pinned, a kept download's, or the published .sha256. */
static int fetch_sumfile(const struct sdk_install_opts *o, const char *url, struct strbuf *body,
                         struct sdk_install_result *res, char *err, size_t errlen)
{
    struct fetch_cfg cfg = {
        o->cacert, o->connect_timeout_s, o->stall_timeout_s, o->sha256 != NULL, o->cancel, NULL};
    struct fetch_resp resp;
    int rc;

    for (int attempt = 0;; attempt++) {
        rc = fetch_small(&cfg, url, 4096, body, &resp, err, errlen);
        if (rc == 0 || !resp.transient || attempt >= o->retries || cancelled(o))
            break;
        emit(o, SDK_EV_RETRY, NULL, err, (uint64_t)attempt + 1, (uint64_t)backoff_ms(o, attempt));
        sleep_ms(backoff_ms(o, attempt));
    }
    if (rc == 0)
        return 0;
    if (resp.cancelled)
        return fail(res, SDK_FAIL_INTERRUPTED, rc);
    if (resp.refused)
        return fail(res, SDK_FAIL_REFUSED, rc);
    if (resp.tls)
        return fail(res, SDK_FAIL_TLS, rc);
    if (rc == OMV_ENOENT)
        return fail(res, SDK_FAIL_CHECKSUM_FILE,
                    omv_seterr(err, errlen, OMV_ENOENT, "no checksum at '%s' (HTTP %ld)", url,
                               resp.status));
    return fail(res, resp.transient ? SDK_FAIL_NETWORK : SDK_FAIL_CHECKSUM_FILE, rc);
}

static int expected_digest(const struct sdk_install_opts *o, struct paths *p, const char *url,
                           const char *local, char hex[DIGEST_HEX_LEN + 1],
                           struct sdk_install_result *res, char *err, size_t errlen)
{
    struct strbuf body = STRBUF_INIT;
    char e[512];
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
        if (rc < 0)
            fail(res, SDK_FAIL_CHECKSUM_FILE, rc);
    } else {
        strbuf_addf(&p->sum_url, "%s.sha256", url);
        rc = fetch_sumfile(o, p->sum_url.buf, &body, res, err, errlen);
    }
    if (rc == 0) {
        rc = digest_parse_sumfile(body.buf, body.len, o->tarball, hex, e, sizeof(e));
        if (rc < 0)
            fail(res, SDK_FAIL_CHECKSUM_FILE,
                 omv_seterr(err, errlen, rc, "%s: %s", p->sum_url.buf, e));
    }
    strbuf_release(&body);
    return rc;
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
    uint64_t have = 0;
    int rc;

    if (local) {
        a->phase = "unpack";
        a->total = file_size(local);
        emit(o, SDK_EV_SOURCE, NULL, local, 0, a->total);
        rc = feed_file(a, local);
        if (rc < 0) {
            snprintf(err, errlen, "%s", a->err);
            if (!a->extractor_stopped)
                a->res->failure = rc == OMV_EINTR ? SDK_FAIL_INTERRUPTED : SDK_FAIL_FS;
        }
        return rc;
    }
    a->phase = "download";
    emit(o, SDK_EV_SOURCE, NULL, a->url, 0, 0);
    if (p->part.len) {
        have = file_size(p->part.buf);
        read_meta(p->meta.buf, a->validator, sizeof(a->validator));
        if (!have || !a->validator[0]) {
            unlink(p->part.buf);
            unlink(p->meta.buf);
            have = 0;
        }
        a->part_fd = open(p->part.buf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (a->part_fd < 0)
            return fail(a->res, errno == ENOSPC ? SDK_FAIL_NOSPACE : SDK_FAIL_FS,
                        omv_seterr(err, errlen, errno == ENOSPC ? OMV_ENOSPC : OMV_EIO,
                                   "cannot create '%s': %s", p->part.buf, strerror(errno)));
    }
    if (!have)
        return download_loop(a, err, errlen);
    a->res->resumed_from = have;
    emit(o, SDK_EV_RESUME, NULL, NULL, have, 0);
    return resume_overlapped(a, have, err, errlen);
}

struct install {
    const struct sdk_install_opts *o;
    struct sdk_install_result *res;
    struct paths p;
    struct attempt a;
    struct reaper reaper;
    char want[DIGEST_HEX_LEN + 1], got[DIGEST_HEX_LEN + 1];
    char *local;
    FILE *manifest;
    int lock_fd;
    bool pipe_live, keep_part;
    char *err;
    size_t errlen;
};

/* Where the bytes come from: a local file, a file:// URL or a URL allowed. */
static int install_source(struct install *t)
{
    const struct sdk_install_opts *o = t->o;
    int rc;

    if (o->from_file) {
        t->local = xstrdup(o->from_file);
        return 0;
    }
    if (!o->url)
        return fail(t->res, SDK_FAIL_USAGE,
                    omv_seterr(t->err, t->errlen, OMV_EINVAL, "no URL and no file"));
    rc = sdk_url_allowed(o->url, o->sha256 != NULL, t->err, t->errlen);
    if (rc < 0)
        return fail(t->res, SDK_FAIL_USAGE, rc);
    t->local = file_url_path(o->url);
    if (!t->local && !strncasecmp(o->url, "file://", 7))
        return fail(t->res, SDK_FAIL_USAGE,
                    omv_seterr(t->err, t->errlen, OMV_EINVAL,
                               "'%s': a file:// URL must name an absolute path", o->url));
    return 0;
}

/* The parent without symlinks (the extractor refuses to write through them),
 * and every path beside it within the system's limit. */
static int install_parent(struct install *t)
{
    struct paths *p = &t->p;
    char rbuf[PATH_MAX];
    int rc;

    split_dir(t->o->dir, &p->parent, &p->base);
    /* The longest path the install itself writes: the manifest in staging. */
    if (strlen(p->parent.buf) + 2 * strlen(p->base.buf) + 64 >= PATH_MAX ||
        strlen(p->base.buf) + 32 > NAME_MAX)
        return fail(t->res, SDK_FAIL_PATH,
                    omv_seterr(t->err, t->errlen, OMV_EINVAL,
                               "the SDK directory '%.40s...%s' is %zu characters long: too long "
                               "for this system's paths (at most %d characters, and the SDK's "
                               "own files need room below it)",
                               t->o->dir, p->base.buf, strlen(t->o->dir), PATH_MAX - 1));
    rc = fs_mkdir_p(p->parent.buf, 0755, t->err, t->errlen);
    if (rc < 0)
        return fail(t->res, SDK_FAIL_FS, rc);
    if (!realpath(p->parent.buf, rbuf))
        return fail(t->res, SDK_FAIL_FS,
                    omv_seterr(t->err, t->errlen, OMV_EIO, "cannot resolve '%s': %s", p->parent.buf,
                               strerror(errno)));
    strbuf_addstr(&p->rparent, rbuf);
    strbuf_addf(&p->lock, "%s/.%s.lock", p->rparent.buf, p->base.buf);
    fs_path_join(&p->final, p->rparent.buf, p->base.buf);
    return 0;
}

/* Without --force, the directory must be empty or absent. */
static int install_dest_free(struct install *t)
{
    struct strbuf stamp = STRBUF_INIT;
    struct dirent *de;
    bool empty = true;
    int s, rc;
    DIR *d;

    if (t->o->force)
        return 0;
    d = opendir(t->p.final.buf);
    if (d) {
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                empty = false;
        closedir(d);
    } else if (errno != ENOENT) {
        empty = false;
    }
    if (empty)
        return 0;
    s = sdk_read_stamp(t->p.final.buf, &stamp, NULL, 0);
    rc = fail(t->res, SDK_FAIL_EXISTS,
              omv_seterr(t->err, t->errlen, OMV_EINVAL,
                         s == 0 ? "'%s' holds SDK %s, not %s"
                                : "'%s' exists but holds no complete SDK%s%s",
                         t->o->dir, s == 0 ? stamp.buf : "", s == 0 ? t->o->version : ""));
    strbuf_release(&stamp);
    return rc;
}

/* The lock, then what a killed install left goes aside (removed in the
 * background). 1: someone installed it while we waited. */
static int install_lock(struct install *t)
{
    int rc = take_lock(t->o, t->p.lock.buf, &t->lock_fd, t->err, t->errlen);

    if (rc < 0)
        return fail(t->res, rc == OMV_EINTR ? SDK_FAIL_INTERRUPTED : SDK_FAIL_FS, rc);
    if (!t->o->force && sdk_is_installed(t->o->dir, t->o->version)) {
        t->res->already = true;
        return 1;
    }
    reaper_start(&t->reaper, t->p.rparent.buf, t->p.base.buf);
    return install_dest_free(t);
}

/* A kept download, the expected digest, the .part of a resumable download. */
static int install_cache(struct install *t)
{
    const struct sdk_install_opts *o = t->o;
    struct paths *p = &t->p;
    int rc;

    if (!t->local && o->cache_dir) {
        fs_path_join(&p->kept, o->cache_dir, o->tarball);
        strbuf_addf(&p->kept_sum, "%s.sha256", p->kept.buf);
        if (!o->force && fs_is_file(p->kept.buf) && fs_is_file(p->kept_sum.buf) && !o->sha256) {
            t->local = xstrdup(p->kept.buf);
            t->res->from_cache = true;
        }
    }
    rc = expected_digest(o, p, o->url, t->local, t->want, t->res, t->err, t->errlen);
    if (rc < 0 || t->local || !o->cache_dir)
        return rc;
    rc = fs_mkdir_p(o->cache_dir, 0755, t->err, t->errlen);
    if (rc < 0)
        return fail(t->res, rc == OMV_ENOSPC ? SDK_FAIL_NOSPACE : SDK_FAIL_FS, rc);
    strbuf_addf(&p->part, "%s.part", p->kept.buf);
    strbuf_addf(&p->meta, "%s.part.meta", p->kept.buf);
    return 0;
}

/* A fresh staging directory, manifest and pipeline for one attempt. */
static int attempt_begin(struct install *t)
{
    struct paths *p = &t->p;
    long pid = (long)getpid();
    int rc;

    strbuf_reset(&p->staging);
    strbuf_addf(&p->staging, "%s/.%s.staging-%ld", p->rparent.buf, p->base.buf, pid);
    strbuf_reset(&p->manifest);
    strbuf_addf(&p->manifest, "%s/.%s.manifest-%ld", p->rparent.buf, p->base.buf, pid);
    if (mkdir(p->staging.buf, 0755) < 0)
        return fail(t->res, errno == ENOSPC ? SDK_FAIL_NOSPACE : SDK_FAIL_FS,
                    omv_seterr(t->err, t->errlen, errno == ENOSPC ? OMV_ENOSPC : OMV_EIO,
                               "cannot create '%s': %s", p->staging.buf, strerror(errno)));
    t->manifest = fopen(p->manifest.buf, "w+e");
    if (!t->manifest)
        return fail(t->res, SDK_FAIL_FS,
                    omv_seterr(t->err, t->errlen, OMV_EIO, "cannot create '%s': %s",
                               p->manifest.buf, strerror(errno)));
    fprintf(t->manifest, "%s\n", SDK_MANIFEST_HEADER);
    memset(&t->a, 0, sizeof(t->a));
    t->a.o = t->o;
    t->a.res = t->res;
    t->a.url = t->o->url;
    t->a.part_fd = -1;
    t->a.part_path = p->part.len ? p->part.buf : NULL;
    t->a.meta_path = p->meta.len ? p->meta.buf : NULL;
    t->a.cache_dir = t->o->cache_dir;
    t->pipe_live = true;
    rc = pipeline_start(&t->a.pipe, t->o, p->staging.buf, t->manifest, t->err, t->errlen);
    return rc < 0 ? fail(t->res, SDK_FAIL_FS, rc) : 0;
}

/* Undo one attempt's staging, manifest and pipeline. */
static void attempt_end(struct install *t)
{
    if (t->a.part_fd >= 0)
        close(t->a.part_fd);
    t->a.part_fd = -1;
    if (t->pipe_live)
        pipeline_release(&t->a.pipe);
    t->pipe_live = false;
    if (t->manifest)
        fclose(t->manifest);
    t->manifest = NULL;
}

/* Download (or read) and extract; a server that will not resume makes the
 * download start again from byte 0 (twice at most). */
static int install_stream(struct install *t)
{
    int rc = 0;

    for (int restarts = 0;; restarts++) {
        rc = attempt_begin(t);
        if (rc < 0)
            return rc;
        rc = run_attempt(&t->a, &t->p, t->local, t->err, t->errlen);
        if (t->a.part_fd >= 0)
            close(t->a.part_fd);
        t->a.part_fd = -1;
        if (rc == 0 || !t->a.restart || restarts >= 2 || cancelled(t->o))
            break;
        emit(t->o, SDK_EV_RESTART, NULL, t->err, 0, 0);
        attempt_end(t);
        sdk_remove_tree(t->p.staging.buf, NULL, 0);
        unlink(t->p.manifest.buf);
        unlink(t->p.part.buf);
        unlink(t->p.meta.buf);
        t->res->resumed_from = 0;
    }
    progress(&t->a, t->a.pipe.fed, true);
    return rc;
}

/* After a failed stream: which failure it was, and whether the part stays. */
static int install_stream_failed(struct install *t, int rc)
{
    struct attempt *a = &t->a;

    /* The extractor may have stopped first (a refused archive): its error is the cause. */
    pipeline_finish(&a->pipe);
    if (a->extractor_stopped && a->pipe.rc < 0 && !a->pipe.xz_truncated) {
        snprintf(t->err, t->errlen, "%s", a->pipe.err);
        rc = a->pipe.rc;
        t->res->failure = rc == OMV_ENOSPC ? SDK_FAIL_NOSPACE
                          : rc == OMV_EIO  ? SDK_FAIL_FS
                                           : SDK_FAIL_ARCHIVE;
    }
    if (t->res->failure == SDK_FAIL_NONE)
        t->res->failure = SDK_FAIL_NETWORK; /* the server kept ignoring the range */
    t->keep_part = !a->restart &&
                   (t->res->failure == SDK_FAIL_NETWORK ||
                    t->res->failure == SDK_FAIL_INTERRUPTED || t->res->failure == SDK_FAIL_NOSPACE);
    return rc;
}

/* After the stream: the digest, the extractor's result, the stamp. */
static int install_check(struct install *t)
{
    struct attempt *a = &t->a;
    struct strbuf stamp = STRBUF_INIT;
    char e[512];
    int rc = pipeline_finish(&a->pipe);

    digest_final_hex(&a->pipe.hash, t->got);
    snprintf(t->res->sha256, sizeof(t->res->sha256), "%s", t->got);
    t->res->download_bytes = a->pipe.fed;
    if (rc < 0 && a->pipe.xz_truncated && !t->local && strcmp(t->got, t->want)) {
        /* The server closed early (e.g. a wrong Content-Length): resumable. */
        t->keep_part = true;
        return fail(t->res, SDK_FAIL_NETWORK,
                    omv_seterr(t->err, t->errlen, OMV_ENET,
                               "the download from %s ended early after %" PRIu64
                               " bytes (the xz stream is incomplete)",
                               t->o->url, a->pipe.fed));
    }
    if (strcmp(t->got, t->want))
        return fail(t->res, SDK_FAIL_CHECKSUM,
                    omv_seterr(t->err, t->errlen, OMV_EPARSE,
                               "checksum mismatch for %s: expected %s, got %s", t->o->tarball,
                               t->want, t->got));
    if (rc < 0) {
        snprintf(t->err, t->errlen, "%s", a->pipe.err);
        return fail(t->res,
                    rc == OMV_ENOSPC ? SDK_FAIL_NOSPACE
                    : rc == OMV_EIO  ? SDK_FAIL_FS
                                     : SDK_FAIL_ARCHIVE,
                    rc);
    }
    rc = sdk_read_stamp(t->p.staging.buf, &stamp, e, sizeof(e));
    if (rc == OMV_ENOENT)
        rc = fail(t->res, SDK_FAIL_ARCHIVE,
                  omv_seterr(t->err, t->errlen, OMV_EPARSE,
                             "%s has no sdk.version stamp: not an OpenMV SDK", t->o->tarball));
    else if (rc < 0)
        rc = fail(t->res, SDK_FAIL_ARCHIVE,
                  omv_seterr(t->err, t->errlen, rc, "%s: %s", t->o->tarball, e));
    else if (strcmp(stamp.buf, t->o->version))
        rc =
            fail(t->res, SDK_FAIL_ARCHIVE,
                 omv_seterr(t->err, t->errlen, OMV_EPARSE, "%s is SDK %s (its sdk.version), not %s",
                            t->o->tarball, stamp.buf, t->o->version));
    t->res->unpacked_bytes = a->pipe.stats.bytes;
    t->res->files = a->pipe.stats.files + a->pipe.stats.hardlinks;
    strbuf_release(&stamp);
    return rc;
}

/* The manifest into the tree, then one rename (the old SDK aside first). */
static int install_commit(struct install *t)
{
    struct paths *p = &t->p;
    struct strbuf mpath = STRBUF_INIT;
    int fd, rc = 0;

    if (fflush(t->manifest) != 0 || fsync(fileno(t->manifest)) < 0 || fclose(t->manifest) != 0)
        rc = omv_seterr(t->err, t->errlen, errno == ENOSPC ? OMV_ENOSPC : OMV_EIO,
                        "cannot write '%s': %s", p->manifest.buf, strerror(errno));
    t->manifest = NULL;
    fs_path_join(&mpath, p->staging.buf, EXTRACT_MANIFEST_NAME);
    if (rc == 0 && rename(p->manifest.buf, mpath.buf) < 0)
        rc = omv_seterr(t->err, t->errlen, OMV_EIO, "cannot rename '%s': %s", p->manifest.buf,
                        strerror(errno));
    strbuf_release(&mpath);
    if (rc < 0)
        return fail(t->res, rc == OMV_ENOSPC ? SDK_FAIL_NOSPACE : SDK_FAIL_FS, rc);
    if (cancelled(t->o)) {
        t->keep_part = true;
        return fail(t->res, SDK_FAIL_INTERRUPTED,
                    omv_seterr(t->err, t->errlen, OMV_EINTR, "interrupted"));
    }
    strbuf_addf(&p->old, "%s/.%s.old-%ld", p->rparent.buf, p->base.buf, (long)getpid());
    if (rename(p->final.buf, p->old.buf) < 0 && errno != ENOENT)
        return fail(t->res, SDK_FAIL_FS,
                    omv_seterr(t->err, t->errlen, OMV_EIO, "cannot move '%s' aside: %s",
                               p->final.buf, strerror(errno)));
    if (rename(p->staging.buf, p->final.buf) < 0) {
        int e = errno;

        rename(p->old.buf, p->final.buf); /* put the old one back */
        return fail(t->res, SDK_FAIL_FS,
                    omv_seterr(t->err, t->errlen, OMV_EIO, "cannot rename '%s' to '%s': %s",
                               p->staging.buf, p->final.buf, strerror(e)));
    }
    fd = open(p->rparent.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    sdk_remove_tree(p->old.buf, NULL, 0);
    emit(t->o, SDK_EV_COMMIT, NULL, t->o->dir, 0, 0);
    return 0;
}

/* The download: kept for offline reuse, or dropped. */
static void install_keep_download(struct install *t)
{
    struct paths *p = &t->p;

    if (!p->part.len)
        return;
    if (t->o->keep_download) {
        struct strbuf line = STRBUF_INIT;
        char e[256];

        strbuf_addf(&line, "%s  %s\n", t->got, t->o->tarball);
        if (rename(p->part.buf, p->kept.buf) == 0)
            fs_write_atomic(p->kept_sum.buf, line.buf, line.len, 0644, e, sizeof(e));
        strbuf_release(&line);
    }
    unlink(p->part.buf);
    unlink(p->meta.buf);
}

static void install_release(struct install *t, int rc)
{
    struct paths *p = &t->p;

    attempt_end(t);
    if (rc < 0) {
        /* After a resumable failure the rerun comes soon: its reaper removes
         * the partial tree in the background, so neither run waits for it. */
        if (p->staging.len && t->keep_part)
            move_to_trash(p->staging.buf, p->rparent.buf, p->base.buf);
        if (p->staging.len)
            sdk_remove_tree(p->staging.buf, NULL, 0);
        if (p->manifest.len)
            unlink(p->manifest.buf);
        if (p->part.len && !t->keep_part) {
            unlink(p->part.buf);
            unlink(p->meta.buf);
        }
        /* A kept download that fails its checksum or unpacking is no use. */
        if (t->res->from_cache &&
            (t->res->failure == SDK_FAIL_CHECKSUM || t->res->failure == SDK_FAIL_ARCHIVE)) {
            unlink(p->kept.buf);
            unlink(p->kept_sum.buf);
        }
    }
    reaper_finish(&t->reaper);
    lock_release(p->lock.buf, t->lock_fd);
    free(t->local);
    {
        PATHS_FOR_EACH(p, sb) strbuf_release(sb_all[sb_i]);
    }
}

int sdk_install(const struct sdk_install_opts *o, struct sdk_install_result *res, char *err,
                size_t errlen)
{
    struct install t;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&t, 0, sizeof(t));
    t.o = o;
    t.res = res;
    t.err = err;
    t.errlen = errlen;
    t.lock_fd = t.a.part_fd = -1;
    {
        PATHS_FOR_EACH(&t.p, sb) strbuf_init(sb_all[sb_i]);
    }
    strbuf_init(&t.reaper.trash);
    if (!o->force && sdk_is_installed(o->dir, o->version)) {
        res->already = true;
        rc = 0;
        goto out;
    }
    rc = install_source(&t);
    if (rc == 0)
        rc = install_parent(&t);
    if (rc == 0)
        rc = install_lock(&t);
    if (rc == 0)
        rc = install_cache(&t);
    if (rc == 0) {
        rc = install_stream(&t);
        rc = rc < 0 ? install_stream_failed(&t, rc) : install_check(&t);
    }
    if (rc == 0)
        rc = install_commit(&t);
    if (rc == 0)
        install_keep_download(&t);
    if (rc > 0)
        rc = 0; /* installed by another omvdev while we waited */
out:
    install_release(&t, rc);
    return rc;
}

/* ---- verify ----------------------------------------------------------------- */

int sdk_manifest_version(const char *first_line)
{
    static const char v1[] = "# omvdev sdk manifest 1";

    if (!strcmp(first_line, SDK_MANIFEST_HEADER))
        return 2;
    return strcmp(first_line, v1) ? 0 : 1;
}

int sdk_manifest_parse_line(char *line, int version, struct sdk_manifest_entry *e)
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

        if (n != 4 || !*f[2])
            return -1;
        if (version == 1 ? !digest_hex_valid(f[1], e->sum) : !filesum_hex_valid(f[1], e->sum))
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

static const char MISSING[] = "is missing";

/* What is wrong with one manifest entry on disk (MISSING), or NULL. */
static const char *entry_problem(const char *dir, int version, const struct sdk_manifest_entry *e,
                                 unsigned flags, struct strbuf *path)
{
    char hex[DIGEST_HEX_LEN + 1], e2[256], target[PATH_MAX];
    struct stat st;
    ssize_t n;

    strbuf_reset(path);
    fs_path_join(path, dir, e->path);
    if (lstat(path->buf, &st) < 0)
        return MISSING;
    if (e->type == 'd')
        return S_ISDIR(st.st_mode) ? NULL : "is no longer a directory";
    if (e->type == 'l') {
        n = S_ISLNK(st.st_mode) ? readlink(path->buf, target, sizeof(target) - 1) : -1;
        if (n < 0)
            return "is no longer a symlink";
        target[n] = '\0';
        return strcmp(target, e->target) ? "points elsewhere" : NULL;
    }
    if (!S_ISREG(st.st_mode))
        return "is no longer a regular file";
    if ((uint64_t)st.st_size != e->size)
        return "has changed size";
    if (flags & SDK_VERIFY_SIZES_ONLY)
        return NULL;
    if ((version == 1 ? digest_file(path->buf, hex, NULL, e2, sizeof(e2))
                      : filesum_file(path->buf, hex, NULL, e2, sizeof(e2))) < 0)
        return "cannot be read";
    return strcmp(hex, e->sum) ? "has changed content" : NULL;
}

int sdk_verify(const char *dir, unsigned flags, sdk_problem_fn fn, void *ud,
               struct sdk_verify_result *res, char *err, size_t errlen)
{
    struct strbuf text = STRBUF_INIT, path = STRBUF_INIT, link = STRBUF_INIT;
    struct walk w;
    size_t alloc = 0, lineno = 0;
    int version = 0;
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
        const char *what;

        next = strchr(line, '\n');
        if (!next) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: the last line is incomplete", path.buf);
            goto out;
        }
        *next++ = '\0';
        lineno++;
        if (lineno == 1) {
            version = sdk_manifest_version(line);
            if (!version) {
                rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: not an omvdev manifest", path.buf);
                goto out;
            }
            continue;
        }
        if (sdk_manifest_parse_line(line, version, &e) < 0) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%zu: damaged line", path.buf, lineno);
            goto out;
        }
        XGROW(w.names, alloc, w.nr + 1);
        w.names[w.nr++] = xstrdup(e.path);
        res->checked++;
        what = entry_problem(dir, version, &e, flags, &link);
        if (what == MISSING) {
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
    bool busy = false;
    int fd = -1, rc = 0;

    split_dir(dir, &parent, &base);
    if (!fs_is_dir(dir)) {
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s' does not exist", dir);
        goto out;
    }
    sdk_lock_path(dir, &lock);
    rc = lock_open(lock.buf, false, NULL, &busy, &fd, err, errlen);
    if (rc < 0)
        goto out;
    strbuf_addf(&old, "%s/.%s.old-%ld", parent.buf, base.buf, (long)getpid());
    if (rename(dir, old.buf) < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot move '%s' aside: %s", dir, strerror(errno));
        goto out;
    }
    rc = sdk_remove_tree(old.buf, err, errlen);
    if (rc == 0) {
        struct strbuf trash = STRBUF_INIT;

        /* What killed or interrupted installs left beside it goes too. */
        leftovers_aside(parent.buf, base.buf, &trash);
        for (size_t i = 0; i < trash.len; i += strlen(trash.buf + i) + 1)
            sdk_remove_tree(trash.buf + i, NULL, 0);
        strbuf_release(&trash);
    }
out:
    lock_release(lock.buf, fd);
    strbuf_release(&parent);
    strbuf_release(&base);
    strbuf_release(&lock);
    strbuf_release(&old);
    return rc;
}
