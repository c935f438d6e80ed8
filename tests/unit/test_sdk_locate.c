#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "sdk/locate.h"

#include <stdlib.h>
#include <unistd.h>

static void test_platform(void)
{
    struct strbuf sb = STRBUF_INIT;
    char err[256];

    CHECK_INT(sdk_platform("Linux", "x86_64", &sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "linux-x86_64");
    CHECK_INT(sdk_platform("Darwin", "arm64", &sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "darwin-arm64");
    CHECK_INT(sdk_platform("Linux", "aarch64", &sb, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(sb.buf, "linux-aarch64");
    CHECK_CONTAINS(err, "no SDK is published for linux-aarch64");
    CHECK_INT(sdk_platform("Darwin", "x86_64", &sb, err, sizeof(err)), ==, OMV_EINVAL);
    strbuf_reset(&sb);
    sdk_tarball_name("1.6.0", "linux-x86_64", &sb);
    CHECK_STR(sb.buf, "openmv-sdk-1.6.0-linux-x86_64.tar.xz");
    strbuf_release(&sb);
}

static void test_version_valid(void)
{
    CHECK(sdk_version_valid("1.6.0"));
    CHECK(sdk_version_valid("1.7.0-rc1+local"));
    CHECK(!sdk_version_valid(""));
    CHECK(!sdk_version_valid("../x"));
    CHECK(!sdk_version_valid("1.6 .0"));
    CHECK(!sdk_version_valid("-x"));
    CHECK(!sdk_version_valid("1/2"));
}

static void test_dir_and_stamp(void)
{
    char tmpl[] = "/tmp/omvdev-locate-XXXXXX";
    char *root = mkdtemp(tmpl);
    struct strbuf dir = STRBUF_INIT, ver = STRBUF_INIT, path = STRBUF_INIT;
    char err[256];

    CHECK(root != NULL);
    unsetenv("SDK_DIR");
    CHECK_INT(sdk_dir(root, "1.6.0", &dir, err, sizeof(err)), ==, 0);
    strbuf_addf(&path, "%s/openmv-sdk-1.6.0", root);
    CHECK_STR(dir.buf, path.buf);

    CHECK_INT(sdk_read_stamp(dir.buf, &ver, err, sizeof(err)), ==, OMV_ENOENT);
    strbuf_addstr(&path, "/sdk.version");
    CHECK_INT(fs_write_atomic(path.buf, "1.6.0\n", 6, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_read_stamp(dir.buf, &ver, err, sizeof(err)), ==, 0);
    CHECK_STR(ver.buf, "1.6.0");
    CHECK_INT(fs_write_atomic(path.buf, "garbage here\n", 13, 0644, err, sizeof(err)), ==, 0);
    strbuf_reset(&ver);
    CHECK_INT(sdk_read_stamp(dir.buf, &ver, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "not a version");
    unlink(path.buf);

    setenv("SDK_DIR", "/opt/sdk", 1);
    strbuf_reset(&dir);
    CHECK_INT(sdk_dir(root, "1.6.0", &dir, err, sizeof(err)), ==, 0);
    CHECK_STR(dir.buf, "/opt/sdk");
    unsetenv("SDK_DIR");

    strbuf_reset(&path);
    strbuf_addf(&path, "%s/SDK_VERSION", root);
    strbuf_reset(&ver);
    CHECK_INT(sdk_repo_version(root, &ver, err, sizeof(err)), ==, OMV_ENOENT);
    CHECK_INT(fs_write_atomic(path.buf, "1.6.0\n", 6, 0644, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_repo_version(root, &ver, err, sizeof(err)), ==, 0);
    CHECK_STR(ver.buf, "1.6.0");
    unlink(path.buf);
    strbuf_reset(&path);
    strbuf_addf(&path, "%s/openmv-sdk-1.6.0", root);
    rmdir(path.buf);
    rmdir(root);
    strbuf_release(&dir);
    strbuf_release(&ver);
    strbuf_release(&path);
}

static void test_path_prefix(void)
{
    struct strbuf sb = STRBUF_INIT;

    sdk_path_prefix("/h/openmv-sdk-1.6.0", "Linux", &sb);
    CHECK_STR(sb.buf, "/h/openmv-sdk-1.6.0/gcc/bin:/h/openmv-sdk-1.6.0/llvm/bin:"
                      "/h/openmv-sdk-1.6.0/cmake/bin:/h/openmv-sdk-1.6.0/python/bin:"
                      "/h/openmv-sdk-1.6.0/stcubeprog/bin:"
                      "/h/openmv-sdk-1.6.0/stedgeai/Utilities/linux:/h/openmv-sdk-1.6.0/bin");
    strbuf_reset(&sb);
    sdk_path_prefix("/s", "Darwin", &sb);
    CHECK_CONTAINS(sb.buf, ":/s/stedgeai/Utilities/macarm:");
    strbuf_release(&sb);
}

/* Every PowerShell single quote in a path is doubled: ' and U+2018..U+201B. */
static void test_powershell_quotes(void)
{
    static const char *const quotes[] = {"'", "\u2018", "\u2019", "\u201a", "\u201b"};

    for (size_t i = 0; i < ARRAY_SIZE(quotes); i++) {
        struct strbuf dir = STRBUF_INIT, out = STRBUF_INIT, want = STRBUF_INIT;

        strbuf_addf(&dir, "/home/x%s; rm -rf ~ ;%s", quotes[i], quotes[i]);
        sdk_env_script(&out, SDK_SHELL_POWERSHELL, dir.buf, "Linux");
        strbuf_addf(&want, "$env:SDK_DIR = '/home/x%s%s; rm -rf ~ ;%s%s'\n", quotes[i], quotes[i],
                    quotes[i], quotes[i]);
        if (strncmp(out.buf, want.buf, want.len) != 0)
            test_fail(__FILE__, __LINE__, "quote %zu: got %s", i, out.buf);
        strbuf_release(&dir);
        strbuf_release(&out);
        strbuf_release(&want);
    }
}

static void mk(const char *root, const char *rel, const char *stamp)
{
    struct strbuf p = STRBUF_INIT;
    char err[256];

    fs_path_join(&p, root, rel);
    CHECK_INT(fs_mkdir_p(p.buf, 0755, err, sizeof(err)), ==, 0);
    if (stamp) {
        fs_path_join(&p, "", "sdk.version");
        CHECK_INT(fs_write_atomic(p.buf, stamp, strlen(stamp), 0644, err, sizeof(err)), ==, 0);
    }
    strbuf_release(&p);
}

/* The one place SDKs are found: installed ones by version, and the one a repository uses. */
static void test_find_and_locate(void)
{
    char root[] = "/tmp/omvdev-sdks-XXXXXX", err[256];
    struct sdk_found_list l = SDK_FOUND_LIST_INIT;
    struct strbuf dir = STRBUF_INIT, want = STRBUF_INIT, cmd = STRBUF_INIT;
    enum sdk_pick how;

    CHECK(mkdtemp(root) != NULL);
    unsetenv("SDK_DIR");
    mk(root, "openmv-sdk-1.10.0", "1.10.0\n");
    mk(root, "openmv-sdk-1.9.2", "1.9.2\n");
    mk(root, "openmv-sdk-1.11.0", NULL); /* no stamp: half installed */
    mk(root, "openmv-sdk-..", NULL);     /* not a version */
    mk(root, "other", NULL);
    mk(root, "repo/boards", NULL);
    sdk_find_installed(root, &l);
    CHECK_INT(l.nr, ==, 3);
    CHECK_CONTAINS(l.items[0].dir, "/openmv-sdk-1.9.2");
    CHECK_STR(l.items[0].version, "1.9.2");
    CHECK_CONTAINS(l.items[1].dir, "/openmv-sdk-1.10.0");
    CHECK_CONTAINS(l.items[2].dir, "/openmv-sdk-1.11.0");
    CHECK(l.items[2].version == NULL);
    sdk_found_list_release(&l);

    /* no SDK_VERSION: none, or with `newest` the newest with a stamp */
    strbuf_addf(&cmd, "%s/repo", root);
    CHECK_INT(sdk_locate(root, cmd.buf, false, &dir, &how, err, sizeof(err)), ==, 0);
    CHECK_INT(how, ==, SDK_PICK_NONE);
    CHECK_INT(dir.len, ==, 0);
    CHECK_INT(sdk_locate(root, cmd.buf, true, &dir, &how, err, sizeof(err)), ==, 0);
    CHECK_INT(how, ==, SDK_PICK_NEWEST);
    CHECK_CONTAINS(dir.buf, "/openmv-sdk-1.10.0");
    /* SDK_VERSION pins one, installed or not */
    mk(root, "repo", NULL);
    strbuf_addstr(&cmd, "/SDK_VERSION");
    CHECK_INT(fs_write_atomic(cmd.buf, "1.12.0\n", 7, 0644, err, sizeof(err)), ==, 0);
    strbuf_setlen(&cmd, cmd.len - strlen("/SDK_VERSION"));
    CHECK_INT(sdk_locate(root, cmd.buf, true, &dir, &how, err, sizeof(err)), ==, 0);
    CHECK_INT(how, ==, SDK_PICK_PINNED);
    strbuf_addf(&want, "%s/openmv-sdk-1.12.0", root);
    CHECK_STR(dir.buf, want.buf);
    /* $SDK_DIR wins, and is listed last when it is not among them */
    setenv("SDK_DIR", "/opt/sdk", 1);
    CHECK_INT(sdk_locate(root, cmd.buf, true, &dir, &how, err, sizeof(err)), ==, 0);
    CHECK_INT(how, ==, SDK_PICK_ENV);
    CHECK_STR(dir.buf, "/opt/sdk");
    sdk_find_installed(root, &l);
    CHECK_INT(l.nr, ==, 4);
    CHECK_STR(l.items[3].dir, "/opt/sdk");
    sdk_found_list_release(&l);
    unsetenv("SDK_DIR");
    /* a malformed SDK_VERSION is an error, not a guess */
    strbuf_addstr(&cmd, "/SDK_VERSION");
    CHECK_INT(fs_write_atomic(cmd.buf, "one point six\n", 14, 0644, err, sizeof(err)), ==, 0);
    strbuf_setlen(&cmd, cmd.len - strlen("/SDK_VERSION"));
    CHECK_INT(sdk_locate(root, cmd.buf, true, &dir, &how, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_INT(dir.len, ==, 0);

    CHECK(sdk_vercmp("1.10.0", "1.9.2") > 0);
    CHECK(sdk_vercmp("1.9.2", "1.9.2") == 0);
    CHECK(sdk_vercmp("1.9", "1.9.1") < 0);
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "rm -rf '%s'", root);
    CHECK_INT(system(cmd.buf), ==, 0);
    strbuf_release(&dir);
    strbuf_release(&want);
    strbuf_release(&cmd);
}

TESTS(TEST(test_powershell_quotes), TEST(test_platform), TEST(test_version_valid),
      TEST(test_dir_and_stamp), TEST(test_find_and_locate), TEST(test_path_prefix))
