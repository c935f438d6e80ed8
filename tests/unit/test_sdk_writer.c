/*
 * extract_run() with its writer thread on tar streams built here (ustar
 * headers written by hand) and handed over in odd-sized pieces, so that file
 * data straddles the decode buffers and libarchive's own buffer: every file's
 * bytes, mode and manifest line must come out right, a path listed twice
 * keeps its later entry, and the manifest lists each path once.
 */
#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"
#include "sdk/digest.h"
#include "sdk/extract.h"
#include "sdk/sdk.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOP "openmv-sdk-1.6.0-linux-x86_64/"

static void octal(char *field, size_t len, uint64_t v)
{
    snprintf(field, len, "%0*llo", (int)len - 1, (unsigned long long)v);
}

/* One ustar entry (header, data, padding) appended to tar. */
static void entry(struct strbuf *tar, const char *name, char type, unsigned mode, const char *link,
                  const void *data, size_t size)
{
    char h[512];
    unsigned sum = 0;

    memset(h, 0, sizeof(h));
    snprintf(h, 100, "%s", name);
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 1700000000);
    h[156] = type;
    if (link)
        snprintf(h + 157, 100, "%s", link);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < sizeof(h); i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    strbuf_add(tar, h, sizeof(h));
    if (size) {
        strbuf_add(tar, data, size);
        while (tar->len % 512)
            strbuf_addch(tar, '\0');
    }
}

struct pieces {
    const struct strbuf *tar;
    size_t pos;
    uint64_t rng;
};

/* Hand the stream over in pieces of 1..9000 bytes. */
static int piece_reader(void *ud, void *buf, size_t cap, size_t *len)
{
    struct pieces *p = ud;
    size_t n = 1 + test_rand(&p->rng) % 9000;

    if (n > cap)
        n = cap;
    if (n > p->tar->len - p->pos)
        n = p->tar->len - p->pos;
    memcpy(buf, p->tar->buf + p->pos, n);
    p->pos += n;
    *len = n;
    return 0;
}

/* The manifest's sum of data (filesum_update is checked against CRC-64/XZ's
 * check value in test_sdk_checksum). */
static void sum(const void *data, size_t len, char hex[FILESUM_HEX_LEN + 1])
{
    struct filesum s = FILESUM_INIT;

    filesum_update(&s, data, len);
    filesum_hex(&s, hex);
}

static int count_lines_ending(const char *text, const char *suffix)
{
    int n = 0;
    size_t sl = strlen(suffix);

    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);

        if (len >= sl && !memcmp(l + len - sl, suffix, sl) &&
            (len == sl || l[len - sl - 1] == '\t'))
            n++;
        l += len + (nl ? 1 : 0);
    }
    return n;
}

/* A new directory holding a manifest open for writing and an empty sdk/ to
 * extract into (its path left in *sdk); NULL when the manifest could not be
 * opened. */
static FILE *open_dest(char *dir, struct strbuf *sdk)
{
    FILE *m;

    CHECK(mkdtemp(dir) != NULL);
    strbuf_reset(sdk);
    fs_path_join(sdk, dir, "manifest");
    m = fopen(sdk->buf, "w+e");
    strbuf_reset(sdk);
    fs_path_join(sdk, dir, "sdk");
    CHECK_INT(mkdir(sdk->buf, 0755), ==, 0);
    return m;
}

static void test_extract_pieces(void)
{
    char dir[] = "/tmp/omvdev-writer-XXXXXX", err[1024], hex[FILESUM_HEX_LEN + 1];
    struct strbuf tar = STRBUF_INIT, path = STRBUF_INIT, got = STRBUF_INIT, line = STRBUF_INIT;
    size_t big_len = (size_t)1500 * 1000 + 7;
    uint8_t *big = xmalloc(big_len);
    uint64_t rng = 42;
    struct pieces pc = {&tar, 0, 7};
    struct extract_opts xo = {(uint64_t)1 << 30, 1000, NULL};
    struct extract_stats st;
    struct stat sb;
    FILE *m;
    int rc;

    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)test_rand(&rng);
    entry(&tar, TOP, '5', 0755, NULL, NULL, 0);
    entry(&tar, TOP "bin/", '5', 0755, NULL, NULL, 0);
    entry(&tar, TOP "bin/big", '0', 0755, NULL, big, big_len);
    entry(&tar, TOP "README", '0', 0644, NULL, "first\n", 6);
    entry(&tar, TOP "locked", '0', 0000, NULL, "secret\n", 7);
    entry(&tar, TOP "bin/link", '2', 0777, "big", NULL, 0);
    entry(&tar, TOP "hard", '1', 0644, TOP "README", NULL, 0);
    entry(&tar, TOP "README", '0', 0644, NULL, "the later one\n", 14);
    entry(&tar, TOP "implicit/dir/file", '0', 0644, NULL, "x", 1);
    entry(&tar, TOP "sdk.version", '0', 0644, NULL, "1.6.0\n", 6);
    strbuf_add(&tar, big, 1024); /* stands for the two zero blocks' place */
    memset(tar.buf + tar.len - 1024, 0, 1024);

    m = open_dest(dir, &path);
    CHECK(m != NULL);
    if (!m)
        goto out;
    fprintf(m, "%s\n", SDK_MANIFEST_HEADER);
    rc = extract_run(path.buf, piece_reader, &pc, &xo, m, &st, err, sizeof(err));
    CHECK_INT(rc, ==, 0);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_INT(st.files, ==, 6);
    CHECK_INT(st.hardlinks, ==, 1);
    CHECK_INT(st.symlinks, ==, 1);

    /* the big file straddled every kind of buffer and is intact */
    strbuf_reset(&path);
    fs_path_join(&path, dir, "sdk/bin/big");
    strbuf_reset(&got);
    CHECK_INT(fs_read_file(path.buf, &got, err, sizeof(err)), ==, 0);
    CHECK_INT(got.len, ==, big_len);
    CHECK(got.len == big_len && !memcmp(got.buf, big, big_len));
    /* a path listed twice: the later entry */
    strbuf_reset(&path);
    fs_path_join(&path, dir, "sdk/README");
    strbuf_reset(&got);
    CHECK_INT(fs_read_file(path.buf, &got, err, sizeof(err)), ==, 0);
    CHECK_STR(got.buf, "the later one\n");
    /* mode 000: the owner can read it */
    strbuf_reset(&path);
    fs_path_join(&path, dir, "sdk/locked");
    CHECK_INT(stat(path.buf, &sb), ==, 0);
    CHECK_INT(sb.st_mode & 0777, ==, 0400);

    /* the manifest: one line per path, the sums of what is on disk */
    fflush(m);
    strbuf_reset(&path);
    fs_path_join(&path, dir, "manifest");
    strbuf_reset(&got);
    CHECK_INT(fs_read_file(path.buf, &got, err, sizeof(err)), ==, 0);
    CHECK_INT(count_lines_ending(got.buf, "README"), ==, 1);
    sum("the later one\n", 14, hex);
    strbuf_addf(&line, "f\t%s\t14\tREADME\n", hex);
    CHECK_CONTAINS(got.buf, line.buf);
    sum(big, big_len, hex);
    strbuf_reset(&line);
    strbuf_addf(&line, "f\t%s\t%zu\tbin/big\n", hex, big_len);
    CHECK_CONTAINS(got.buf, line.buf);
    /* the hardlink was made to the first README and keeps its content */
    sum("first\n", 6, hex);
    strbuf_reset(&line);
    strbuf_addf(&line, "f\t%s\t6\thard\n", hex);
    CHECK_CONTAINS(got.buf, line.buf);
    CHECK_CONTAINS(got.buf, "l\tbig\tbin/link\n");
    CHECK_CONTAINS(got.buf, "d\timplicit/dir\n");
    fclose(m);
out:
    sdk_remove_tree(dir, err, sizeof(err));
    free(big);
    strbuf_release(&tar);
    strbuf_release(&path);
    strbuf_release(&got);
    strbuf_release(&line);
}

/* Many small files under a low descriptor limit: the writer keeps fewer of
 * them open than the limit allows. */
static void test_few_descriptors(void)
{
    char dir[] = "/tmp/omvdev-writer-XXXXXX", err[1024], name[64];
    struct strbuf tar = STRBUF_INIT, path = STRBUF_INIT;
    struct pieces pc = {&tar, 0, 9};
    struct extract_opts xo = {(uint64_t)1 << 30, 10000, NULL};
    struct extract_stats st;
    struct rlimit old, low;
    FILE *m;
    int rc;

    entry(&tar, TOP, '5', 0755, NULL, NULL, 0);
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof(name), TOP "f%03d", i);
        entry(&tar, name, '0', 0644, NULL, name, strlen(name));
    }
    strbuf_addch(&tar, '\0');
    while (tar.len % 512 || tar.len % 1024)
        strbuf_addch(&tar, '\0');
    m = open_dest(dir, &path);
    CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), ==, 0);
    low = old;
    low.rlim_cur = 20;
    CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
    rc = m ? extract_run(path.buf, piece_reader, &pc, &xo, m, &st, err, sizeof(err)) : -1;
    setrlimit(RLIMIT_NOFILE, &old);
    CHECK_INT(rc, ==, 0);
    if (rc)
        fprintf(stderr, "%s\n", err);
    CHECK_INT(st.files, ==, 600);
    if (m)
        fclose(m);
    sdk_remove_tree(dir, err, sizeof(err));
    strbuf_release(&tar);
    strbuf_release(&path);
}

/*
 * A reader that hands over the whole stream and then waits for more input
 * that never comes (a stalled download), until stop() is called. The
 * archive is refused at its second entry: the extraction must end with that
 * error, at once, having called stop() to free the read-ahead thread.
 */
struct stalling {
    struct strbuf *tar;
    size_t pos;
    bool blocked, stopped;
    unsigned stops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int stalling_read(void *ud, void *buf, size_t cap, size_t *len)
{
    struct stalling *s = ud;
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (s->pos < s->tar->len) {
        *len = s->tar->len - s->pos < cap ? s->tar->len - s->pos : cap;
        memcpy(buf, s->tar->buf + s->pos, *len);
        s->pos += *len;
    } else {
        s->blocked = true;
        while (!s->stopped)
            pthread_cond_wait(&s->cv, &s->mu);
        rc = omv_seterr(NULL, 0, OMV_EIO, "stopped");
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void stalling_stop(void *ud)
{
    struct stalling *s = ud;

    pthread_mutex_lock(&s->mu);
    s->stopped = true;
    s->stops++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void test_stop_blocked_reader(void)
{
    char dir[] = "/tmp/omvdev-writer-XXXXXX", err[1024] = "";
    struct strbuf tar = STRBUF_INIT, path = STRBUF_INIT;
    struct stalling s = {
        &tar, 0, false, false, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    size_t big_len = (size_t)3 << 20;
    uint8_t *big = xcalloc(1, big_len);
    struct extract_opts xo = {(uint64_t)1 << 30, 1000, stalling_stop};
    struct extract_stats st;
    FILE *m;
    int rc;

    entry(&tar, TOP, '5', 0755, NULL, NULL, 0);
    entry(&tar, TOP "README", '0', 0644, NULL, "first\n", 6);
    /* the reader has handed over all it has (in 512 KiB pieces) and waits by
     * the time the parser is through this file and meets the next entry */
    entry(&tar, TOP "big", '0', 0644, NULL, big, big_len);
    entry(&tar, "/etc/omvdev-test", '0', 0644, NULL, "x", 1);
    m = open_dest(dir, &path);
    rc = m ? extract_run(path.buf, stalling_read, &s, &xo, m, &st, err, sizeof(err)) : -1;
    CHECK_INT(rc, ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "absolute path '/etc/omvdev-test'");
    CHECK_INT(s.stops, ==, 1);
    CHECK_INT(access("/etc/omvdev-test", F_OK), !=, 0);
    if (!s.blocked)
        fprintf(stderr, "note: the reader had not blocked yet when the parser stopped\n");
    if (m)
        fclose(m);
    sdk_remove_tree(dir, err, sizeof(err));
    strbuf_release(&tar);
    strbuf_release(&path);
    free(big);
}

static unsigned *stop_count;

static void count_stop(void *ud)
{
    (void)ud;
    (*stop_count)++;
}

/* A stream that ends cleanly never calls stop(). */
static void test_no_stop_at_end(void)
{
    char dir[] = "/tmp/omvdev-writer-XXXXXX", err[1024] = "";
    struct strbuf tar = STRBUF_INIT, path = STRBUF_INIT;
    struct pieces pc = {&tar, 0, 11};
    unsigned stops = 0;
    struct extract_opts xo = {(uint64_t)1 << 30, 1000, count_stop};
    struct extract_stats st;
    FILE *m;
    int rc;

    stop_count = &stops;
    entry(&tar, TOP, '5', 0755, NULL, NULL, 0);
    entry(&tar, TOP "sdk.version", '0', 0644, NULL, "1.6.0\n", 6);
    while (tar.len % 1024 || tar.len < 4096)
        strbuf_addch(&tar, '\0');
    m = open_dest(dir, &path);
    rc = m ? extract_run(path.buf, piece_reader, &pc, &xo, m, &st, err, sizeof(err)) : -1;
    CHECK_INT(rc, ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(stops, ==, 0);
    CHECK_INT(st.files, ==, 1);
    if (m)
        fclose(m);
    sdk_remove_tree(dir, err, sizeof(err));
    strbuf_release(&tar);
    strbuf_release(&path);
}

TESTS(TEST(test_extract_pieces), TEST(test_few_descriptors), TEST(test_stop_blocked_reader),
      TEST(test_no_stop_at_end))
