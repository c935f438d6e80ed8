/*
 * Safe, streamed tar extraction with libarchive (see extract.h).
 */
/* openat2's RESOLVE_* and syscall(2) are Linux's: ask glibc for them before
 * compat.h fixes the POSIX level. */
#define _DEFAULT_SOURCE
#include "lib/compat.h"

#include "sdk/extract.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/libversion.h"
#include "sdk/writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#define MAX_NAME 4096

/* Printable for messages: at most 200 bytes of the name. */
#define SHOW(s) (int)(strlen(s) > 200 ? 200 : strlen(s)), (s)

int extract_check_name(const char *name, struct strbuf *top, struct strbuf *out, char *err,
                       size_t errlen)
{
    const char *p = name;
    size_t depth = 0;

    strbuf_reset(out);
    if (!*name)
        return omv_seterr(err, errlen, OMV_EPARSE, "an entry has an empty name");
    if (strlen(name) > MAX_NAME)
        return omv_seterr(err, errlen, OMV_EPARSE, "entry name is too long: '%.*s...'", 100, name);
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return omv_seterr(err, errlen, OMV_EPARSE, "entry name has a control character: '%.*s'",
                              SHOW(name));
    if (name[0] == '/')
        return omv_seterr(err, errlen, OMV_EPARSE, "absolute path '%.*s'", SHOW(name));
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* "a//b" and "./a": nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            return omv_seterr(err, errlen, OMV_EPARSE, "'..' in entry name '%.*s'", SHOW(name));
        } else if (depth == 0) {
            if (!top->len) {
                strbuf_add(top, p, n);
            } else if (top->len != n || memcmp(top->buf, p, n)) {
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "more than one top-level directory: '%s' and '%.*s'", top->buf,
                                  (int)(n > 200 ? 200 : n), p);
            }
            depth++;
        } else {
            if (out->len)
                strbuf_addch(out, '/');
            strbuf_add(out, p, n);
            depth++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (depth == 0)
        return omv_seterr(err, errlen, OMV_EPARSE, "entry '%.*s' names no file", SHOW(name));
    if (!strcmp(out->buf, EXTRACT_MANIFEST_NAME))
        return omv_seterr(err, errlen, OMV_EPARSE, "entry '%.*s' uses the reserved name '%s'",
                          SHOW(name), EXTRACT_MANIFEST_NAME);
    return 0;
}

int extract_check_symlink(const char *where, const char *target, char *err, size_t errlen)
{
    size_t depth = 0, ups = 0;
    bool seen_name = false;
    const char *p;

    if (!*target)
        return omv_seterr(err, errlen, OMV_EPARSE, "symlink '%.*s' has an empty target",
                          SHOW(where));
    if (strlen(target) > MAX_NAME)
        return omv_seterr(err, errlen, OMV_EPARSE, "symlink '%.*s' has a too long target",
                          SHOW(where));
    for (const char *s = target; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "symlink '%.*s' has a control character in its target", SHOW(where));
    if (target[0] == '/')
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "symlink '%.*s' points outside the SDK (absolute target '%.*s')",
                          SHOW(where), SHOW(target));
    /* The link's directory depth inside the stripped tree. */
    for (const char *s = where; *s; s++)
        if (*s == '/')
            depth++;
    for (p = target; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (seen_name)
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "symlink '%.*s' has '..' after a name in its target '%.*s'",
                                  SHOW(where), SHOW(target));
            if (++ups > depth)
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "symlink '%.*s' points outside the SDK ('%.*s')", SHOW(where),
                                  SHOW(target));
        } else if (n && !(n == 1 && p[0] == '.')) {
            seen_name = true;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* The hardlink's target must be a regular file reached without symlinks. */
static int check_hardlink_target(const char *dest, const char *rel, const char *name, char *err,
                                 size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    struct stat st;
    const char *p = rel;
    int rc = 0;

    strbuf_addstr(&path, dest);
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        strbuf_addch(&path, '/');
        strbuf_add(&path, p, n);
        if (lstat(path.buf, &st) < 0 || (slash ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
            rc = omv_seterr(err, errlen, OMV_EPARSE,
                            "hardlink '%.*s' does not name a regular file extracted before it",
                            SHOW(name));
            break;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    strbuf_release(&path);
    return rc;
}

/* ---- paths beneath the destination, never through a symlink ---------------- */

/* Component by component, each opened with O_NOFOLLOW (where openat2 is not). */
static int open_walk(int root, const char *rel, int flags, mode_t mode)
{
    struct strbuf comp = STRBUF_INIT;
    int fd = dup(root);
    const char *p = rel;

    while (fd >= 0 && *p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int next;

        strbuf_reset(&comp);
        strbuf_add(&comp, p, n);
        p += n + (slash ? 1 : 0);
        next = *p ? openat(fd, comp.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                  : openat(fd, comp.buf, flags | O_NOFOLLOW, mode);
        close(fd);
        fd = next;
    }
    strbuf_release(&comp);
    return fd;
}

/* openat(root, rel) refusing any symlink on the way (ELOOP) and anything
 * outside root. */
static int open_beneath(int root, const char *rel, int flags, mode_t mode)
{
    if (!*rel)
        return dup(root);
#ifdef SYS_openat2
    {
        struct open_how how;
        long fd;

        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)(unsigned)flags;
        how.mode = flags & O_CREAT ? mode : 0;
        how.resolve = (uint64_t)(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH);
        fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
            return (int)fd;
    }
#endif
    return open_walk(root, rel, flags, mode);
}

/* ---- the extractor -------------------------------------------------------- */

struct dirfix {
    char *rel;
    mode_t mode;
    struct timespec times[2];
};

struct reader_glue {
    struct xwriter *w;
    int rc; /* the reader's error */
};

struct extractor {
    const char *dest;
    int root; /* dest */
    int pfd;  /* the parent directory of the last entry, -1 */
    struct strbuf pdir;
    struct archive *in;
    struct xwriter *w;
    struct reader_glue glue;
    const struct extract_opts *opts;
    struct extract_stats *stats;
    struct strbuf top, rel, link, orig, line;
    struct dirfix *fix;
    size_t nfix, afix;
    mode_t umask;
    uint64_t entries;
    bool dups; /* a path came twice: the manifest keeps the last */
    char *err;
    size_t errlen;
};

static la_ssize_t glue_read(struct archive *a, void *ud, const void **buf)
{
    struct reader_glue *g = ud;
    uint8_t *b;
    size_t len;
    int rc = xwriter_next(g->w, &b, &len);

    if (rc < 0) {
        g->rc = rc;
        archive_set_error(a, EIO, "read failed");
        return -1;
    }
    *buf = b;
    return (la_ssize_t)len;
}

/* A file-system failure at entry `name`. */
static int fs_fail(struct extractor *ex, int e, const char *what, const char *name)
{
    if (e == ENOSPC || e == EDQUOT)
        return omv_seterr(ex->err, ex->errlen, OMV_ENOSPC,
                          "no space left on the file system of '%s' (%s '%.*s')", ex->dest, what,
                          SHOW(name));
    if (e == ELOOP || e == ENOTDIR || e == EXDEV)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                          "cannot extract '%.*s': a directory in its path is a symlink or a file",
                          SHOW(name));
    if (e == ENAMETOOLONG)
        return omv_seterr(ex->err, ex->errlen, OMV_EINVAL,
                          "cannot extract '%.*s': the path is too long for the file system "
                          "under '%.*s'",
                          SHOW(name), SHOW(ex->dest));
    return omv_seterr(ex->err, ex->errlen, OMV_EIO, "cannot %s '%.*s': %s", what, SHOW(name),
                      strerror(e));
}

static void add_line(struct extractor *ex, char type, const char *a, const char *b,
                     const char *path)
{
    strbuf_reset(&ex->line);
    if (b)
        strbuf_addf(&ex->line, "%c\t%s\t%s\t%s\n", type, a, b, path);
    else if (a)
        strbuf_addf(&ex->line, "%c\t%s\t%s\n", type, a, path);
    else
        strbuf_addf(&ex->line, "%c\t%s\n", type, path);
    xwriter_line(ex->w, ex->line.buf);
}

/* Create the missing directories of `dir` (an archive without their entries). */
static int make_parents(struct extractor *ex, const char *dir, const char *name)
{
    struct strbuf sub = STRBUF_INIT;
    const char *p = dir;
    int fd = dup(ex->root), rc = 0;

    while (fd >= 0 && *p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char *comp = xmalloc(n + 1);
        int next;

        memcpy(comp, p, n);
        comp[n] = '\0';
        strbuf_add(&sub, p - (sub.len ? 1 : 0), n + (sub.len ? 1 : 0));
        p += n + (slash ? 1 : 0);
        if (mkdirat(fd, comp, 0755) == 0) {
            add_line(ex, 'd', NULL, NULL, sub.buf);
            ex->stats->dirs++;
        }
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(comp);
        close(fd);
        fd = next;
    }
    if (fd < 0)
        rc = fs_fail(ex, errno, "create the directories of", name);
    else
        close(fd);
    strbuf_release(&sub);
    return rc;
}

/* The directory an entry goes into (cached: entries come directory by
 * directory); *base is the entry's last component. */
static int parent_fd(struct extractor *ex, const char *rel, const char **base, const char *name)
{
    const char *slash = strrchr(rel, '/');
    size_t n = slash ? (size_t)(slash - rel) : 0;
    int fd;

    *base = slash ? slash + 1 : rel;
    if (ex->pfd >= 0 && ex->pdir.len == n && !memcmp(ex->pdir.buf, rel, n))
        return ex->pfd;
    if (ex->pfd >= 0)
        close(ex->pfd);
    ex->pfd = -1;
    strbuf_reset(&ex->pdir);
    strbuf_add(&ex->pdir, rel, n);
    fd = open_beneath(ex->root, ex->pdir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT) {
        int rc = make_parents(ex, ex->pdir.buf, name);

        if (rc < 0)
            return rc;
        fd = open_beneath(ex->root, ex->pdir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    }
    if (fd < 0)
        return fs_fail(ex, errno, "extract", name);
    ex->pfd = fd;
    return fd;
}

/*
 * A path listed a second time: the later entry wins, as with tar. What is
 * there is removed first (a directory only when empty), so a file still
 * being written by the writer thread keeps its own inode.
 */
static int make_room(struct extractor *ex, int pfd, const char *base, const char *name)
{
    struct stat st;

    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : fs_fail(ex, errno, "extract", name);
    ex->dups = true;
    if (unlinkat(pfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
        return 0;
    if (errno == ENOTEMPTY || errno == EEXIST)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                          "'%.*s' is listed twice, first as a directory with files in it",
                          SHOW(name));
    return fs_fail(ex, errno, "replace", name);
}

static void entry_times(struct archive_entry *e, struct timespec t[2])
{
    t[1].tv_sec = archive_entry_mtime(e);
    t[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        t[0].tv_sec = archive_entry_atime(e);
        t[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        t[0] = t[1];
    }
}

/* ---- one entry of each kind -------------------------------------------------- */

static int do_dir(struct extractor *ex, struct archive_entry *e, const char *rel, const char *name)
{
    const char *base;
    int pfd = parent_fd(ex, rel, &base, name);
    struct dirfix *f;
    struct stat st;

    if (pfd < 0)
        return pfd;
    if (mkdirat(pfd, base, 0700) < 0) {
        if (errno != EEXIST)
            return fs_fail(ex, errno, "create", name);
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
            ex->dups = true;
        } else {
            int rc = make_room(ex, pfd, base, name);

            if (rc < 0)
                return rc;
            if (mkdirat(pfd, base, 0700) < 0)
                return fs_fail(ex, errno, "create", name);
        }
    }
    /* Modes and times are set at the end, when nothing more goes in. */
    XGROW(ex->fix, ex->afix, ex->nfix + 1);
    f = &ex->fix[ex->nfix++];
    f->rel = xstrdup(rel);
    f->mode = archive_entry_perm(e) & 0777;
    entry_times(e, f->times);
    add_line(ex, 'd', NULL, NULL, rel);
    ex->stats->dirs++;
    return 0;
}

static int do_symlink(struct extractor *ex, struct archive_entry *e, const char *rel,
                      const char *name)
{
    const char *sl = archive_entry_symlink(e), *base;
    struct timespec t[2];
    int rc = extract_check_symlink(rel, sl ? sl : "", ex->err, ex->errlen), pfd;

    if (rc < 0)
        return rc;
    pfd = parent_fd(ex, rel, &base, name);
    if (pfd < 0)
        return pfd;
    if (symlinkat(sl, pfd, base) < 0) {
        if (errno != EEXIST)
            return fs_fail(ex, errno, "create", name);
        rc = make_room(ex, pfd, base, name);
        if (rc < 0)
            return rc;
        if (symlinkat(sl, pfd, base) < 0)
            return fs_fail(ex, errno, "create", name);
    }
    entry_times(e, t);
    utimensat(pfd, base, t, AT_SYMLINK_NOFOLLOW);
    add_line(ex, 'l', sl, NULL, rel);
    ex->stats->symlinks++;
    return 0;
}

static int do_hardlink(struct extractor *ex, const char *hl, const char *rel, const char *name)
{
    struct strbuf htop = STRBUF_INIT;
    const char *base;
    int rc, pfd;

    strbuf_addstr(&htop, ex->top.buf);
    rc = extract_check_name(hl, &htop, &ex->link, ex->err, ex->errlen);
    strbuf_release(&htop);
    if (rc == 0 && !ex->link.len)
        rc = omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "hardlink '%.*s' names a directory",
                        SHOW(name));
    if (rc == 0)
        rc = check_hardlink_target(ex->dest, ex->link.buf, name, ex->err, ex->errlen);
    if (rc < 0)
        return rc;
    pfd = parent_fd(ex, rel, &base, name);
    if (pfd < 0)
        return pfd;
    if (linkat(ex->root, ex->link.buf, pfd, base, 0) < 0) {
        if (errno != EEXIST)
            return fs_fail(ex, errno, "create", name);
        rc = make_room(ex, pfd, base, name);
        if (rc < 0)
            return rc;
        if (linkat(ex->root, ex->link.buf, pfd, base, 0) < 0)
            return fs_fail(ex, errno, "create", name);
    }
    /* The data is the target's: hashed once everything before is written. */
    xwriter_hash_path(ex->w, rel);
    ex->stats->hardlinks++;
    return 0;
}

/* Create the file (the owner can always read it: a fresh install verifies). */
static int create_file(struct extractor *ex, struct archive_entry *e, const char *rel,
                       const char *name)
{
    mode_t mode = (archive_entry_perm(e) & 0777) | S_IRUSR;
    const char *base;
    int pfd = parent_fd(ex, rel, &base, name), fd, rc;

    if (pfd < 0)
        return pfd;
    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST) {
        rc = make_room(ex, pfd, base, name);
        if (rc < 0)
            return rc;
        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    return fd < 0 ? fs_fail(ex, errno, "create", name) : fd;
}

static int do_file(struct extractor *ex, struct archive_entry *e, const char *rel, const char *name)
{
    uint64_t size = (uint64_t)archive_entry_size(e);
    struct timespec t[2];
    int fd, rc = 0;

    if (archive_entry_size(e) < 0 || ex->stats->bytes + size > ex->opts->max_bytes)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                          "the archive unpacks to more than %" PRIu64
                          " bytes (refused as unsafe, at '%.*s')",
                          ex->opts->max_bytes, SHOW(name));
    fd = create_file(ex, e, rel, name);
    if (fd < 0)
        return fd;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(ex->in, &buf, &len, &off);

        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_OK) {
            rc = ex->glue.rc ? ex->glue.rc
                             : omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                                          "cannot read '%.*s' from the archive: %s", SHOW(name),
                                          archive_error_string(ex->in));
            break;
        }
        if (len)
            xwriter_data(ex->w, fd, buf, len, (uint64_t)off);
    }
    entry_times(e, t);
    xwriter_close(ex->w, fd, size, t, rel); /* the writer closes fd in any case */
    ex->stats->files++;
    ex->stats->bytes += size;
    return rc;
}

/* ---- the loop ------------------------------------------------------------------ */

/* The rules every entry must pass before anything is written for it. */
static int check_entry(struct extractor *ex, struct archive_entry *e, const char *name)
{
    mode_t type = archive_entry_filetype(e), mode = archive_entry_perm(e);
    const char *hl = archive_entry_hardlink(e);
    int rc;

    if (++ex->entries > ex->opts->max_entries)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                          "the archive has more than %" PRIu64 " entries (refused as unsafe)",
                          ex->opts->max_entries);
    rc = extract_check_name(name, &ex->top, &ex->rel, ex->err, ex->errlen);
    if (rc < 0)
        return rc;
    if (!ex->rel.len && (type != AE_IFDIR || hl))
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE,
                          "'%.*s' is not a directory: an SDK archive holds exactly one "
                          "top-level directory",
                          SHOW(name));
    if (!hl && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "'%.*s' is a %s (refused)", SHOW(name),
                          type == AE_IFCHR || type == AE_IFBLK ? "device node"
                          : type == AE_IFIFO                   ? "FIFO"
                          : type == AE_IFSOCK                  ? "socket"
                                                               : "special file");
    if (type != AE_IFDIR && (mode & (S_ISUID | S_ISGID)))
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "'%.*s' is set%cid (refused)",
                          SHOW(name), mode & S_ISUID ? 'u' : 'g');
    return 0;
}

static int one_entry(struct extractor *ex, struct archive_entry *e)
{
    const char *hl = archive_entry_hardlink(e), *name;
    mode_t type = archive_entry_filetype(e);
    int rc;

    if (!archive_entry_pathname(e))
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "an entry has no name");
    strbuf_reset(&ex->orig);
    strbuf_addstr(&ex->orig, archive_entry_pathname(e));
    name = ex->orig.buf;
    rc = check_entry(ex, e, name);
    if (rc < 0 || !ex->rel.len)
        return rc; /* the top-level directory itself: the destination */
    rc = xwriter_failed(ex->w, ex->err, ex->errlen);
    if (rc < 0)
        return rc;
    if (hl)
        return do_hardlink(ex, hl, ex->rel.buf, name);
    if (type == AE_IFDIR)
        return do_dir(ex, e, ex->rel.buf, name);
    if (type == AE_IFLNK)
        return do_symlink(ex, e, ex->rel.buf, name);
    return do_file(ex, e, ex->rel.buf, name);
}

static int all_entries(struct extractor *ex)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(ex->in, &e), rc;

        if (r == ARCHIVE_EOF)
            break;
        if (r <= ARCHIVE_WARN)
            return ex->glue.rc ? ex->glue.rc
                               : omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "damaged archive: %s",
                                            archive_error_string(ex->in));
        rc = one_entry(ex, e);
        if (rc < 0)
            return rc;
    }
    if (!ex->top.len)
        return omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "the archive is empty");
    /* Read the rest of the stream, so its end is checked too. */
    for (;;) {
        uint8_t *b;
        size_t len;
        int rc = xwriter_next(ex->w, &b, &len);

        if (rc < 0 || len == 0)
            return rc;
    }
}

/* Directories get their modes (the owner keeps read and search) and times
 * last, deepest first. */
static int fix_dirs(struct extractor *ex)
{
    for (size_t i = ex->nfix; i-- > 0;) {
        struct dirfix *f = &ex->fix[i];
        int fd = open_beneath(ex->root, f->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);

        if (fd < 0)
            continue; /* replaced by a later entry */
        if (fchmod(fd, (f->mode & ~ex->umask) | S_IRUSR | S_IXUSR) < 0 ||
            futimens(fd, f->times) < 0) {
            int e = errno;

            close(fd);
            return fs_fail(ex, e, "set the mode of", f->rel);
        }
        close(fd);
    }
    return 0;
}

struct mline {
    const char *path;
    char *line;
    size_t idx;
    bool keep;
};

static int cmp_mline(const void *a, const void *b)
{
    const struct mline *x = a, *y = b;
    int c = strcmp(x->path, y->path);

    return c ? c : x->idx < y->idx ? -1 : 1;
}

static int cmp_idx(const void *a, const void *b)
{
    const struct mline *x = a, *y = b;

    return x->idx < y->idx ? -1 : 1;
}

/* A path listed twice keeps its last manifest line (the entry that won). */
static int manifest_dedupe(FILE *m, char *err, size_t errlen)
{
    struct strbuf text = STRBUF_INIT;
    struct mline *l = NULL;
    size_t n = 0, alloc = 0;
    char buf[65536], *s, *nl;
    size_t got;
    int rc = 0;

    if (fflush(m) != 0 || fseek(m, 0, SEEK_SET) != 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot read the manifest: %s", strerror(errno));
    while ((got = fread(buf, 1, sizeof(buf), m)) > 0)
        strbuf_add(&text, buf, got);
    for (s = text.buf; (nl = strchr(s, '\n')); s = nl + 1) {
        char *tab;

        *nl = '\0';
        tab = strrchr(s, '\t');
        XGROW(l, alloc, n + 1);
        l[n] = (struct mline){tab ? tab + 1 : "", s, n, true};
        n++;
    }
    /* line 0 is the header */
    if (n > 1)
        qsort(l + 1, n - 1, sizeof(*l), cmp_mline);
    for (size_t i = 1; i + 1 < n; i++)
        l[i].keep = strcmp(l[i].path, l[i + 1].path) != 0;
    qsort(l, n, sizeof(*l), cmp_idx);
    if (ftruncate(fileno(m), 0) < 0 || fseek(m, 0, SEEK_SET) != 0)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot rewrite the manifest: %s", strerror(errno));
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (l[i].keep)
            fprintf(m, "%s\n", l[i].line);
    free(l);
    strbuf_release(&text);
    return rc;
}

static void extractor_release(struct extractor *ex)
{
    if (ex->in)
        archive_read_free(ex->in);
    if (ex->pfd >= 0)
        close(ex->pfd);
    if (ex->root >= 0)
        close(ex->root);
    for (size_t i = 0; i < ex->nfix; i++)
        free(ex->fix[i].rel);
    free(ex->fix);
    strbuf_release(&ex->pdir);
    strbuf_release(&ex->top);
    strbuf_release(&ex->rel);
    strbuf_release(&ex->link);
    strbuf_release(&ex->orig);
    strbuf_release(&ex->line);
}

static int extractor_open(struct extractor *ex, const char *dest, extract_reader_fn reader,
                          void *reader_ud, FILE *manifest)
{
    ex->root = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ex->root < 0)
        return fs_fail(ex, errno, "open", dest);
    ex->umask = umask(0);
    umask(ex->umask);
    ex->in = archive_read_new();
    if (!ex->in)
        return omv_seterr(ex->err, ex->errlen, OMV_EIO, "libarchive: out of memory");
    ex->w = xwriter_start(dest, manifest, reader, ex->opts->reader_stop, reader_ud, ex->err,
                          ex->errlen);
    if (!ex->w)
        return OMV_EIO;
    ex->glue = (struct reader_glue){ex->w, 0};
    archive_read_support_format_tar(ex->in);
    if (archive_read_open(ex->in, &ex->glue, NULL, glue_read, NULL) != ARCHIVE_OK)
        return ex->glue.rc ? ex->glue.rc
                           : omv_seterr(ex->err, ex->errlen, OMV_EPARSE, "not a tar archive: %s",
                                        archive_error_string(ex->in));
    return 0;
}

int extract_run(const char *dest, extract_reader_fn reader, void *reader_ud,
                const struct extract_opts *opts, FILE *manifest, struct extract_stats *stats,
                char *err, size_t errlen)
{
    struct extractor ex;
    char werr[1024];
    int rc, wrc = 0;

    memset(&ex, 0, sizeof(ex));
    memset(stats, 0, sizeof(*stats));
    ex.dest = dest;
    ex.root = ex.pfd = -1;
    ex.opts = opts;
    ex.stats = stats;
    ex.err = err;
    ex.errlen = errlen;
    strbuf_init(&ex.pdir);
    strbuf_init(&ex.top);
    strbuf_init(&ex.rel);
    strbuf_init(&ex.link);
    strbuf_init(&ex.orig);
    strbuf_init(&ex.line);
    rc = extractor_open(&ex, dest, reader, reader_ud, manifest);
    if (rc == 0)
        rc = all_entries(&ex);
    if (ex.w)
        wrc = xwriter_finish(ex.w, werr, sizeof(werr));
    /* The writer's failure (a full disk) is the cause of a parser's later one. */
    if (wrc < 0 && (rc == 0 || rc == OMV_EIO || rc == OMV_ENOSPC)) {
        snprintf(err, errlen, "%s", werr);
        rc = wrc;
    }
    if (rc == 0)
        rc = fix_dirs(&ex);
    if (rc == 0 && ex.dups)
        rc = manifest_dedupe(manifest, err, errlen);
    if (rc == 0) {
        snprintf(stats->top, sizeof(stats->top), "%s", ex.top.buf);
        if (fflush(manifest) != 0 || ferror(manifest))
            rc = omv_seterr(err, errlen, errno == ENOSPC ? OMV_ENOSPC : OMV_EIO,
                            "cannot write the manifest: %s", strerror(errno));
    }
    stats->reader_failed = rc < 0 && ex.glue.rc != 0;
    extractor_release(&ex);
    return rc;
}

static void archive_number(char *buf, size_t len, int n)
{
    snprintf(buf, len, "%d.%d.%d", n / 1000000, n / 1000 % 1000, n % 1000);
}

void extract_libversion(struct libversion *v)
{
    v->name = "libarchive";
    archive_number(v->built, sizeof(v->built), ARCHIVE_VERSION_NUMBER);
    archive_number(v->running, sizeof(v->running), archive_version_number());
}
