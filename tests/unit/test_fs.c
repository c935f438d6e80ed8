#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_absolute(void)
{
    struct strbuf sb = STRBUF_INIT;

    fs_absolute(&sb, "/a/./b/../c//d/");
    CHECK_STR(sb.buf, "/a/c/d");
    strbuf_reset(&sb);
    fs_absolute(&sb, "/..");
    CHECK_STR(sb.buf, "/");
    strbuf_reset(&sb);
    fs_absolute(&sb, "/");
    CHECK_STR(sb.buf, "/");
    strbuf_release(&sb);
}

static void test_join(void)
{
    struct strbuf sb = STRBUF_INIT;

    fs_path_join(&sb, "/a/", "/b");
    CHECK_STR(sb.buf, "/a/b");
    strbuf_release(&sb);
}

static void test_read_missing(void)
{
    struct strbuf sb = STRBUF_INIT;
    char err[256];

    CHECK_INT(fs_read_file("/nonexistent/x", &sb, err, sizeof(err)), ==, OMV_ENOENT);
    CHECK_STR(err, "cannot open '/nonexistent/x': No such file or directory");
    strbuf_release(&sb);
}

static void test_xdg(void)
{
    struct strbuf sb = STRBUF_INIT;
    char err[256];

    setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
    setenv("HOME", "/home/me", 1);
    CHECK_INT(fs_xdg_config_home(&sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "/home/me/.config");
    strbuf_reset(&sb);
    setenv("XDG_CONFIG_HOME", "/x", 1);
    CHECK_INT(fs_xdg_config_home(&sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "/x");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    CHECK_INT(fs_xdg_config_home(&sb, err, sizeof(err)), ==, OMV_ENOENT);
    strbuf_release(&sb);
}

static void test_write_atomic_modes(void)
{
    char dir[] = "/tmp/omvdev-fs-XXXXXX";
    struct strbuf path = STRBUF_INIT;
    struct stat st;
    mode_t old = umask(077);
    char err[256];

    CHECK(mkdtemp(dir) != NULL);
    strbuf_addf(&path, "%s/new.ini", dir);
    /* A new file: the mode asked for, less the umask. */
    CHECK_INT(fs_write_atomic(path.buf, "a", 1, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(stat(path.buf, &st), ==, 0);
    CHECK_INT(st.st_mode & 07777, ==, 0600);
    /* An existing file keeps its own mode whatever the umask. */
    CHECK_INT(chmod(path.buf, 0640), ==, 0);
    CHECK_INT(fs_write_atomic(path.buf, "b", 1, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(stat(path.buf, &st), ==, 0);
    CHECK_INT(st.st_mode & 07777, ==, 0640);
    umask(old);
    unlink(path.buf);
    rmdir(dir);
    strbuf_release(&path);
}

/* Only regular files, within a bound: never a device, a FIFO or a directory. */
static void test_read_bounded(void)
{
    char dir[] = "/tmp/omvdev-fs-XXXXXX", err[256];
    struct strbuf sb = STRBUF_INIT, p = STRBUF_INIT;

    CHECK(mkdtemp(dir) != NULL);
    strbuf_addstr(&sb, "kept");
    CHECK_INT(fs_read_file_max("/dev/zero", &sb, 100, err, sizeof(err)), ==, OMV_EIO);
    CHECK_STR(err, "cannot read '/dev/zero': it is a character device, and omvdev reads only "
                   "regular files");
    CHECK_STR(sb.buf, "kept"); /* nothing appended on error */
    CHECK_INT(fs_read_file_max(dir, &sb, 100, err, sizeof(err)), ==, OMV_EIO);
    CHECK_CONTAINS(err, "it is a directory");
    CHECK_INT(fs_read_file_max("/dev/null", &sb, 100, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "kept");

    strbuf_addf(&p, "%s/fifo", dir);
    CHECK_INT(mkfifo(p.buf, 0600), ==, 0);
    CHECK_INT(fs_read_file_max(p.buf, &sb, 100, err, sizeof(err)), ==, OMV_EIO);
    CHECK_CONTAINS(err, "it is a FIFO (named pipe)");
    unlink(p.buf);
    CHECK_INT(symlink("/dev/zero", p.buf), ==, 0);
    CHECK_INT(fs_read_file_max(p.buf, &sb, 100, err, sizeof(err)), ==, OMV_EIO);
    CHECK_CONTAINS(err, "it is a symlink to a character device");
    unlink(p.buf);

    CHECK_INT(fs_write_atomic(p.buf, "0123456789", 10, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(fs_read_file_max(p.buf, &sb, 9, err, sizeof(err)), ==, OMV_ETOOBIG);
    CHECK_STR(sb.buf, "kept");
    CHECK_INT(fs_read_file_max(p.buf, &sb, 10, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "kept0123456789");
    unlink(p.buf);
    rmdir(dir);
    strbuf_release(&sb);
    strbuf_release(&p);
}

static void test_resolve_for_write(void)
{
    char dir[] = "/tmp/omvdev-fs-XXXXXX", err[512];
    struct strbuf repo = STRBUF_INIT, p = STRBUF_INIT, out = STRBUF_INIT;
    struct stat st;

    CHECK(mkdtemp(dir) != NULL);
    strbuf_addf(&repo, "%s/repo", dir);
    CHECK_INT(fs_mkdir_p(repo.buf, 0755, err, sizeof(err)), ==, 0);
    strbuf_addf(&p, "%s/new.json", repo.buf);
    CHECK_INT(fs_resolve_for_write(repo.buf, p.buf, &out, err, sizeof(err)), ==, 0);
    CHECK_STR(out.buf, p.buf);

    /* out of the repository, and dangling */
    CHECK_INT(symlink("../outside.json", p.buf), ==, 0);
    strbuf_reset(&out);
    CHECK_INT(fs_resolve_for_write(repo.buf, p.buf, &out, err, sizeof(err)), ==, OMV_EPERM);
    CHECK_CONTAINS(err, "which does not exist: omvdev does not replace a symlink");
    strbuf_reset(&out);
    {
        struct strbuf o = STRBUF_INIT;

        strbuf_addf(&o, "%s/outside.json", dir);
        CHECK_INT(fs_write_atomic(o.buf, "{}", 2, 0644, err, sizeof(err)), ==, 0);
        CHECK_INT(fs_resolve_for_write(repo.buf, p.buf, &out, err, sizeof(err)), ==, OMV_EPERM);
        CHECK_CONTAINS(err, "which is outside");
        /* without a root, a link is simply followed */
        strbuf_reset(&out);
        CHECK_INT(fs_resolve_for_write(NULL, p.buf, &out, err, sizeof(err)), ==, 0);
        CHECK_STR(out.buf, o.buf);
        unlink(o.buf);
        strbuf_release(&o);
    }
    unlink(p.buf);

    /* fs_write_atomic_mode: exact mode whatever the umask; fs_backup keeps the mode */
    {
        mode_t old = umask(077);
        struct strbuf bak = STRBUF_INIT;

        CHECK_INT(fs_write_atomic_mode(p.buf, "x", 1, 0644, err, sizeof(err)), ==, 0);
        CHECK(stat(p.buf, &st) == 0 && (st.st_mode & 07777) == 0644);
        umask(old);
        chmod(p.buf, 0600);
        strbuf_addf(&bak, "%s.bak", p.buf);
        CHECK_INT(fs_write_atomic(bak.buf, "older", 5, 0644, err, sizeof(err)), ==, 0);
        chmod(bak.buf, 0644);
        CHECK_INT(fs_backup(p.buf, bak.buf, err, sizeof(err)), ==, 0);
        CHECK(stat(bak.buf, &st) == 0 && (st.st_mode & 07777) == 0600);
        unlink(bak.buf);
        strbuf_release(&bak);
    }
    unlink(p.buf);
    rmdir(repo.buf);
    rmdir(dir);
    strbuf_release(&repo);
    strbuf_release(&p);
    strbuf_release(&out);
}

TESTS(TEST(test_absolute), TEST(test_join), TEST(test_read_missing), TEST(test_xdg),
      TEST(test_write_atomic_modes), TEST(test_read_bounded), TEST(test_resolve_for_write))
