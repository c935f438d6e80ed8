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

TESTS(TEST(test_absolute), TEST(test_join), TEST(test_read_missing), TEST(test_xdg),
      TEST(test_write_atomic_modes))
