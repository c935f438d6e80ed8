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

int fs_read_file(const char *path, struct strbuf *sb, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return omv_seterr(err, errlen, errno == ENOENT ? OMV_ENOENT : OMV_EIO,
                          "cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        ssize_t n;

        strbuf_grow(sb, 8192);
        n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
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
    return rc;
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

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    struct strbuf tmp = STRBUF_INIT, dir = STRBUF_INIT;
    struct stat st;
    int fd = -1, dfd, rc;

    dir_of(&dir, path);
    rc = fs_mkdir_p(dir.buf, 0777, err, errlen);
    if (rc < 0)
        goto out;
    if (stat(path, &st) == 0) {
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
