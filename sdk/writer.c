/*
 * The file writer thread of an extraction (see writer.h).
 */
#include "lib/compat.h"

#include "sdk/writer.h"

#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/fs.h"
#include "sdk/digest.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Eight 512 KiB buffers: the one libarchive parses, and seven either decoded
 * ahead or holding data that waits for the writer; past that the read-ahead
 * thread waits. */
#define NBUF     8
#define BUF_SIZE ((size_t)512 << 10)
#define QLEN     512
/* Files handed over and not yet closed: at most this many, and at most a
 * quarter of the descriptor limit. */
#define MAX_OPEN 128

enum job_kind { JOB_DATA, JOB_CLOSE, JOB_LINE, JOB_HASH, JOB_STOP };

struct job {
    enum job_kind kind;
    int fd;
    int buf; /* the pool buffer data is in, or -1 */
    const uint8_t *data;
    uint8_t *owned; /* a copy of data that was not in the pool */
    size_t len;
    uint64_t off, size;
    char *text; /* CLOSE and HASH: the relative path; LINE: the line */
    struct timespec times[2];
};

struct xwriter {
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get, released, filled;
    struct job q[QLEN];
    size_t head, len;
    uint8_t *pool[NBUF];
    unsigned refs[NBUF]; /* the parser's hold on a buffer, and queued data in it */
    bool ready[NBUF];    /* filled by the read-ahead thread, not yet given out */
    size_t filled_len[NBUF];
    int held, next; /* the buffer libarchive reads (-1: none), the next to give */
    /* the read-ahead thread */
    pthread_t reader;
    bool reading; /* the thread runs (joined by xwriter_finish) */
    xwriter_read_fn read;
    xwriter_stop_fn stop;
    void *ud;
    int fill;          /* the next buffer it fills */
    bool ended;        /* it returned the end or an error: nothing more comes */
    int end_rc;        /* the read function's error, or 0 at the end */
    bool stopping;     /* xwriter_finish: fill no more */
    unsigned open;     /* CLOSE jobs queued and not yet done */
    unsigned max_open; /* the bound on open */
    pthread_t thread;
    /* the writer thread's own */
    struct filesum sum; /* of the file being written */
    uint64_t pos;
    FILE *manifest;
    char *root;
    /* set by the writer thread, read under mu */
    int rc;
    char err[1024];
};

static const uint8_t zeros[65536];

static void set_failure(struct xwriter *w, int e, const char *what, const char *rel)
{
    pthread_mutex_lock(&w->mu);
    if (w->rc == 0) {
        if (e == ENOSPC || e == EDQUOT)
            w->rc = omv_seterr(w->err, sizeof(w->err), OMV_ENOSPC,
                               "no space left on the file system of '%s' (%s '%s')", w->root, what,
                               rel);
        else
            w->rc = omv_seterr(w->err, sizeof(w->err), OMV_EIO, "cannot %s '%s': %s", what, rel,
                               strerror(e));
    }
    pthread_mutex_unlock(&w->mu);
}

static bool failed(struct xwriter *w)
{
    bool f;

    pthread_mutex_lock(&w->mu);
    f = w->rc != 0;
    pthread_mutex_unlock(&w->mu);
    return f;
}

static void hash_zeros(struct xwriter *w, uint64_t upto)
{
    while (w->pos < upto) {
        size_t n = upto - w->pos > sizeof(zeros) ? sizeof(zeros) : (size_t)(upto - w->pos);

        filesum_update(&w->sum, zeros, n);
        w->pos += n;
    }
}

static void do_data(struct xwriter *w, struct job *j)
{
    const uint8_t *p = j->data;
    size_t left = j->len;
    off_t off = (off_t)j->off;

    hash_zeros(w, j->off);
    filesum_update(&w->sum, j->data, j->len);
    w->pos = j->off + j->len;
    while (left) {
        ssize_t n = pwrite(j->fd, p, left, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_failure(w, n < 0 ? errno : EIO, "write", "a file");
            return;
        }
        p += n;
        off += n;
        left -= (size_t)n;
    }
}

static void manifest_file_line(struct xwriter *w, const char *hex, uint64_t size, const char *rel)
{
    fprintf(w->manifest, "f\t%s\t%" PRIu64 "\t%s\n", hex, size, rel);
}

static void do_close(struct xwriter *w, struct job *j)
{
    char hex[FILESUM_HEX_LEN + 1];
    uint64_t end = w->pos;

    if (!failed(w)) {
        if (j->size > end) {
            hash_zeros(w, j->size);
            end = j->size;
        }
        if (ftruncate(j->fd, (off_t)end) < 0)
            set_failure(w, errno, "write", j->text);
        else if (futimens(j->fd, j->times) < 0)
            set_failure(w, errno, "set the times of", j->text);
        filesum_hex(&w->sum, hex);
        manifest_file_line(w, hex, end, j->text);
    }
    if (close(j->fd) < 0 && !failed(w))
        set_failure(w, errno, "write", j->text);
    w->sum = (struct filesum)FILESUM_INIT;
    w->pos = 0;
}

static void do_hash(struct xwriter *w, struct job *j)
{
    struct strbuf path = STRBUF_INIT;
    char hex[FILESUM_HEX_LEN + 1], e[512];
    uint64_t size;

    fs_path_join(&path, w->root, j->text);
    if (filesum_file(path.buf, hex, &size, e, sizeof(e)) < 0)
        set_failure(w, EIO, "read", j->text);
    else
        manifest_file_line(w, hex, size, j->text);
    strbuf_release(&path);
}

static void run_job(struct xwriter *w, struct job *j)
{
    switch (j->kind) {
    case JOB_DATA:
        if (!failed(w))
            do_data(w, j);
        break;
    case JOB_CLOSE:
        do_close(w, j);
        break;
    case JOB_LINE:
        if (!failed(w))
            fputs(j->text, w->manifest);
        break;
    case JOB_HASH:
        if (!failed(w))
            do_hash(w, j);
        break;
    case JOB_STOP:
        break;
    }
}

static void *writer_main(void *ud)
{
    struct xwriter *w = ud;

    for (;;) {
        struct job j;

        pthread_mutex_lock(&w->mu);
        while (w->len == 0)
            pthread_cond_wait(&w->can_get, &w->mu);
        j = w->q[w->head];
        pthread_mutex_unlock(&w->mu);
        run_job(w, &j);
        pthread_mutex_lock(&w->mu);
        w->head = (w->head + 1) % QLEN;
        w->len--;
        if (j.buf >= 0 && --w->refs[j.buf] == 0)
            pthread_cond_broadcast(&w->released);
        if (j.kind == JOB_CLOSE)
            w->open--;
        pthread_cond_signal(&w->can_put);
        pthread_mutex_unlock(&w->mu);
        free(j.owned);
        free(j.text);
        if (j.kind == JOB_STOP)
            return NULL;
    }
}

static void put(struct xwriter *w, const struct job *j)
{
    pthread_mutex_lock(&w->mu);
    while (w->len == QLEN)
        pthread_cond_wait(&w->can_put, &w->mu);
    w->q[(w->head + w->len) % QLEN] = *j;
    w->len++;
    if (j->buf >= 0)
        w->refs[j->buf]++;
    if (j->kind == JOB_CLOSE)
        w->open++;
    pthread_cond_signal(&w->can_get);
    pthread_mutex_unlock(&w->mu);
}

/* Fill each buffer in turn once the parser and the writer are done with it. */
static void *reader_main(void *ud)
{
    struct xwriter *w = ud;

    for (;;) {
        size_t len = 0;
        int i, rc;

        pthread_mutex_lock(&w->mu);
        i = w->fill;
        while (!w->stopping && (w->refs[i] || w->ready[i]))
            pthread_cond_wait(&w->released, &w->mu);
        if (w->stopping) {
            w->ended = true;
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        pthread_mutex_unlock(&w->mu);
        rc = w->read(w->ud, w->pool[i], BUF_SIZE, &len);
        pthread_mutex_lock(&w->mu);
        if (rc < 0 || len == 0) {
            w->ended = true;
            w->end_rc = rc < 0 ? rc : 0;
        } else {
            w->ready[i] = true;
            w->filled_len[i] = len;
            w->fill = (i + 1) % NBUF;
        }
        pthread_cond_broadcast(&w->filled);
        pthread_mutex_unlock(&w->mu);
        if (rc < 0 || len == 0)
            return NULL;
    }
}

static void pool_release(struct xwriter *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->can_put);
    pthread_cond_destroy(&w->can_get);
    pthread_cond_destroy(&w->released);
    pthread_cond_destroy(&w->filled);
    for (int i = 0; i < NBUF; i++)
        free(w->pool[i]);
    free(w->root);
    free(w);
}

struct xwriter *xwriter_start(const char *root, FILE *manifest, xwriter_read_fn read,
                              xwriter_stop_fn stop, void *ud, char *err, size_t errlen)
{
    struct xwriter *w = xcalloc(1, sizeof(*w));
    struct rlimit rl;

    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->can_put, NULL);
    pthread_cond_init(&w->can_get, NULL);
    pthread_cond_init(&w->released, NULL);
    pthread_cond_init(&w->filled, NULL);
    for (int i = 0; i < NBUF; i++)
        w->pool[i] = xmalloc(BUF_SIZE);
    w->held = -1;
    w->max_open = MAX_OPEN;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < MAX_OPEN)
        w->max_open = rl.rlim_cur / 4 > 4 ? (unsigned)(rl.rlim_cur / 4) : 4;
    w->manifest = manifest;
    w->root = xstrdup(root);
    w->read = read;
    w->stop = stop;
    w->ud = ud;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        omv_seterr(err, errlen, OMV_EIO, "cannot start the writer thread");
        pool_release(w);
        return NULL;
    }
    if (pthread_create(&w->reader, NULL, reader_main, w) != 0) {
        omv_seterr(err, errlen, OMV_EIO, "cannot start the read-ahead thread");
        xwriter_finish(w, NULL, 0);
        return NULL;
    }
    w->reading = true;
    return w;
}

int xwriter_next(struct xwriter *w, uint8_t **buf, size_t *len)
{
    int i, rc = 0;

    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&w->mu);
    if (w->held >= 0 && --w->refs[w->held] == 0)
        pthread_cond_broadcast(&w->released);
    w->held = -1;
    i = w->next;
    while (!w->ready[i] && !w->ended)
        pthread_cond_wait(&w->filled, &w->mu);
    if (w->ready[i]) {
        w->ready[i] = false;
        w->refs[i]++;
        w->held = i;
        w->next = (i + 1) % NBUF;
        *buf = w->pool[i];
        *len = w->filled_len[i];
    } else {
        rc = w->end_rc; /* the end, or the read's error: every call from now on */
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void xwriter_data(struct xwriter *w, int fd, const void *data, size_t len, uint64_t off)
{
    struct job j = {JOB_DATA, fd, -1, data, NULL, len, off, 0, NULL, {{0, 0}, {0, 0}}};
    const uint8_t *p = data;

    for (int i = 0; i < NBUF; i++)
        if (p >= w->pool[i] && p + len <= w->pool[i] + BUF_SIZE)
            j.buf = i;
    if (j.buf < 0) {
        /* libarchive's own buffer (an entry's data straddling two of ours) */
        j.owned = xmalloc(len ? len : 1);
        memcpy(j.owned, data, len);
        j.data = j.owned;
    }
    put(w, &j);
}

void xwriter_close(struct xwriter *w, int fd, uint64_t size, const struct timespec times[2],
                   const char *rel)
{
    struct job j = {JOB_CLOSE, fd, -1, NULL, NULL, 0, 0, size, xstrdup(rel), {times[0], times[1]}};

    put(w, &j);
    pthread_mutex_lock(&w->mu);
    while (w->open >= w->max_open)
        pthread_cond_wait(&w->can_put, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void xwriter_line(struct xwriter *w, const char *line)
{
    struct job j = {JOB_LINE, -1, -1, NULL, NULL, 0, 0, 0, xstrdup(line), {{0, 0}, {0, 0}}};

    put(w, &j);
}

void xwriter_hash_path(struct xwriter *w, const char *rel)
{
    struct job j = {JOB_HASH, -1, -1, NULL, NULL, 0, 0, 0, xstrdup(rel), {{0, 0}, {0, 0}}};

    put(w, &j);
}

int xwriter_failed(struct xwriter *w, char *err, size_t errlen)
{
    int rc;

    pthread_mutex_lock(&w->mu);
    rc = w->rc;
    if (rc)
        snprintf(err, errlen, "%s", w->err);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int xwriter_finish(struct xwriter *w, char *err, size_t errlen)
{
    struct job stop = {JOB_STOP, -1, -1, NULL, NULL, 0, 0, 0, NULL, {{0, 0}, {0, 0}}};
    bool early;
    int rc = 0;

    if (w->reading) {
        pthread_mutex_lock(&w->mu);
        early = !w->ended;
        w->stopping = true;
        pthread_cond_broadcast(&w->released);
        pthread_mutex_unlock(&w->mu);
        /* A read blocked waiting for input would hold up the join. */
        if (early && w->stop)
            w->stop(w->ud);
        pthread_join(w->reader, NULL);
    }
    put(w, &stop);
    pthread_join(w->thread, NULL);
    if (err)
        rc = xwriter_failed(w, err, errlen);
    pool_release(w);
    return rc;
}
