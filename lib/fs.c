/* realpath() is XSI. */
#define _XOPEN_SOURCE 700
#include "lib/compat.h"
#include "lib/fs.h"

#include "lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Is st /dev/null itself (which reads as empty)? */
static bool is_dev_null(const struct stat *st)
{
    struct stat null;

    return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
           st->st_rdev == null.st_rdev;
}

int fs_open_regular(const char *path, int *fd, uint64_t *size, char *err, size_t errlen)
{
    struct stat st, lst;
    bool link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
    int flags;

    /* O_NONBLOCK: opening a FIFO with no writer would wait forever. */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0) {
        int e = errno;

        if (e == ENXIO && stat(path, &st) == 0)
            return omv_seterr(err, errlen, OMV_EIO, "cannot read '%s': it is %s%s", path,
                              link ? "a symlink to " : "", file_kind(st.st_mode));
        return omv_seterr(err, errlen,
                          e == ENOENT   ? OMV_ENOENT
                          : e == EACCES ? OMV_EPERM
                                        : OMV_EIO,
                          "cannot open '%s': %s", path, strerror(e));
    }
    if (fstat(*fd, &st) < 0) {
        int e = errno;

        close(*fd);
        *fd = -1;
        return omv_seterr(err, errlen, OMV_EIO, "cannot read '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) && !is_dev_null(&st)) {
        close(*fd);
        *fd = -1;
        return omv_seterr(err, errlen, OMV_EIO,
                          "cannot read '%s': it is %s%s, and omvdev reads only regular files", path,
                          link ? "a symlink to " : "", file_kind(st.st_mode));
    }
    flags = fcntl(*fd, F_GETFL);
    if (flags >= 0)
        fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    return 0;
}

int fs_read_file_max(const char *path, struct strbuf *sb, size_t max, char *err, size_t errlen)
{
    size_t start = sb->len;
    uint64_t size;
    int fd, rc = fs_open_regular(path, &fd, &size, err, errlen);

    if (rc < 0)
        return rc;
    /* The size from fstat is a hint (/proc files say 0): the read is bounded too. */
    for (;;) {
        size_t room;
        ssize_t n;

        if (size > max || sb->len - start > max) {
            rc = omv_seterr(err, errlen, OMV_ETOOBIG,
                            "cannot read '%s': it is larger than %zu bytes, more than a file of "
                            "this kind may be",
                            path, max);
            break;
        }
        strbuf_grow(sb, size > 0 && size < 8192 ? (size_t)size + 1 : 8192);
        room = sb->alloc - sb->len - 1;
        if (room > max + 1 - (sb->len - start))
            room = max + 1 - (sb->len - start); /* one byte over says "too large" */
        n = read(fd, sb->buf + sb->len, room);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = omv_seterr(err, errlen, OMV_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        strbuf_setlen(sb, sb->len + (size_t)n);
    }
    close(fd);
    if (rc < 0)
        strbuf_setlen(sb, start);
    return rc;
}

int fs_read_file(const char *path, struct strbuf *sb, char *err, size_t errlen)
{
    return fs_read_file_max(path, sb, FS_MAX_FILE, err, errlen);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void dir_of(struct strbuf *dir, const char *path)
{
    const char *slash = strrchr(path, '/');

    strbuf_reset(dir);
    if (!slash)
        strbuf_addch(dir, '.');
    else if (slash == path)
        strbuf_addch(dir, '/');
    else
        strbuf_add(dir, path, (size_t)(slash - path));
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, bool exact,
                        char *err, size_t errlen)
{
    struct strbuf tmp = STRBUF_INIT, dir = STRBUF_INIT;
    struct stat st;
    int fd = -1, dfd, rc;

    dir_of(&dir, path);
    rc = fs_mkdir_p(dir.buf, 0777, err, errlen);
    if (rc < 0)
        goto out;
    if (exact) {
        /* as asked: neither the umask nor the file it replaces decides */
    } else if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        /* A new file gets `mode` less the umask, as open(2) would give it. */
        mode_t mask = umask(0);

        umask(mask);
        mode &= ~mask;
    }

    strbuf_addf(&tmp, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp.buf);
    if (fd < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot create a file in '%s': %s", dir.buf,
                        strerror(errno));
        goto out;
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot write '%s': %s", tmp.buf, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot write '%s': %s", tmp.buf, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.buf, path) < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot replace '%s': %s", path, strerror(errno));
        goto out;
    }
    strbuf_reset(&tmp); /* renamed: nothing left to remove */
    dfd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse it on directories */
        close(dfd);
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp.len)
        unlink(tmp.buf);
    strbuf_release(&tmp);
    strbuf_release(&dir);
    return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    return write_atomic(path, data, len, mode, false, err, errlen);
}

int fs_write_atomic_mode(const char *path, const void *data, size_t len, mode_t mode, char *err,
                         size_t errlen)
{
    return write_atomic(path, data, len, mode, true, err, errlen);
}

int fs_backup(const char *path, const char *bak, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    struct stat st;
    int rc = fs_read_file(path, &sb, err, errlen);

    if (rc == 0 && stat(path, &st) < 0)
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot read '%s': %s", path, strerror(errno));
    if (rc == 0)
        rc = fs_write_atomic_mode(bak, sb.buf, sb.len, st.st_mode & 07777, err, errlen);
    strbuf_release(&sb);
    return rc;
}

/* Is `p` `root` or below it (both absolute, without links)? */
static bool path_inside(const char *root, const char *p)
{
    size_t n = strlen(root);

    if (n == 1 && root[0] == '/')
        return true;
    return !strncmp(root, p, n) && (p[n] == '/' || p[n] == '\0');
}

/* "'x' is a symlink to 'y'" for messages, or just "'x'". */
static void describe_link(struct strbuf *sb, const char *path)
{
    char target[4096];
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    strbuf_addf(sb, "'%s'", path);
    if (n > 0) {
        target[n] = '\0';
        strbuf_addf(sb, " is a symlink to '%s', which", target);
    }
}

int fs_resolve_for_write(const char *root, const char *path, struct strbuf *out, char *err,
                         size_t errlen)
{
    struct strbuf dir = STRBUF_INIT, what = STRBUF_INIT;
    char *rroot = NULL, *real = NULL;
    struct stat lst;
    int rc = 0;

    if (root && !(rroot = realpath(root, NULL))) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot resolve '%s': %s", root, strerror(errno));
        goto out;
    }
    if (lstat(path, &lst) < 0 && errno == ENOENT) {
        /* A new file: the directory it goes into must not lead out of root. */
        dir_of(&dir, path);
        real = realpath(dir.buf, NULL);
        if (rroot && real && !path_inside(rroot, real)) {
            rc = omv_seterr(err, errlen, OMV_EPERM,
                            "'%s' leads to '%s', outside '%s': omvdev does not write there",
                            dir.buf, real, root);
            goto out;
        }
        strbuf_addstr(out, path);
        goto out;
    }
    real = realpath(path, NULL);
    if (!real) {
        int e = errno;

        describe_link(&what, path);
        if (S_ISLNK(lst.st_mode) && e == ENOENT)
            rc = omv_seterr(err, errlen, OMV_EPERM,
                            "%s does not exist: omvdev does not replace a symlink; remove it, or "
                            "create what it points to",
                            what.buf);
        else
            rc = omv_seterr(err, errlen, OMV_EIO, "cannot resolve '%s': %s", path, strerror(e));
        goto out;
    }
    if (rroot && !path_inside(rroot, real)) {
        describe_link(&what, path);
        rc = omv_seterr(err, errlen, OMV_EPERM,
                        "%s%s is outside '%s': omvdev does not write through it", what.buf,
                        S_ISLNK(lst.st_mode) ? "" : " leads to a place that", root);
        goto out;
    }
    strbuf_addstr(out, real);
out:
    free(rroot);
    free(real);
    strbuf_release(&dir);
    strbuf_release(&what);
    return rc;
}

int fs_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    int rc = 0;

    strbuf_addstr(&sb, path);
    for (size_t i = 1; i <= sb.len; i++) {
        if (sb.buf[i] != '/' && sb.buf[i] != '\0')
            continue;
        sb.buf[i] = '\0';
        if (mkdir(sb.buf, mode) < 0 && errno != EEXIST) {
            rc = omv_seterr(err, errlen, OMV_EIO, "cannot create directory '%s': %s", sb.buf,
                            strerror(errno));
            break;
        }
        if (i < sb.len)
            sb.buf[i] = '/';
    }
    if (!rc && !fs_is_dir(path))
        rc = omv_seterr(err, errlen, OMV_EIO, "'%s' exists and is not a directory", path);
    strbuf_release(&sb);
    return rc;
}

bool fs_is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool fs_is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void fs_path_join(struct strbuf *sb, const char *a, const char *b)
{
    strbuf_addstr(sb, a);
    if (sb->len && sb->buf[sb->len - 1] != '/')
        strbuf_addch(sb, '/');
    while (*b == '/')
        b++;
    strbuf_addstr(sb, b);
}

void fs_absolute(struct strbuf *sb, const char *path)
{
    struct strbuf in = STRBUF_INIT;
    size_t base = sb->len;
    const char *p;

    if (path[0] != '/') {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)))
            strbuf_addstr(&in, cwd);
        strbuf_addch(&in, '/');
    }
    strbuf_addstr(&in, path);

    /* Fold the components: "." vanishes, ".." drops the previous one. */
    for (p = in.buf; *p;) {
        const char *end;
        size_t n;

        while (*p == '/')
            p++;
        end = strchr(p, '/');
        n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (sb->len > base && sb->buf[sb->len - 1] != '/')
                sb->len--;
            if (sb->len > base)
                sb->len--;
            strbuf_setlen(sb, sb->len);
        } else {
            strbuf_addch(sb, '/');
            strbuf_add(sb, p, n);
        }
        p += n;
    }
    if (sb->len == base)
        strbuf_addch(sb, '/');
    strbuf_release(&in);
}

int fs_xdg_config_home(struct strbuf *sb, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (xdg && xdg[0] == '/') {
        strbuf_addstr(sb, xdg);
        return 0;
    }
    if (home && home[0] == '/') {
        fs_path_join(sb, home, ".config");
        return 0;
    }
    return omv_seterr(err, errlen, OMV_ENOENT,
                      "neither XDG_CONFIG_HOME nor HOME is set to an absolute path");
}
