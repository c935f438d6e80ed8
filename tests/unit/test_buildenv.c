#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "sdk/buildenv.h"
#include "targets/fwtree.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);

    for (; *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static void test_compose(void)
{
    char *env[] = {"HOME=/h", "PATH=/usr/bin:/bin", "SDK_DIR=/old", "LANG=C", NULL};
    struct buildenv e = BUILDENV_INIT;
    size_t n = 0;

    buildenv_compose(&e, env, "/s", "Linux");
    CHECK_STR(env_get(e.envp, "SDK_DIR"), "/s");
    CHECK_STR(env_get(e.envp, "PATH"), "/s/gcc/bin:/s/llvm/bin:/s/cmake/bin:/s/python/bin:"
                                       "/s/stcubeprog/bin:/s/stedgeai/Utilities/linux:/s/bin:"
                                       "/usr/bin:/bin");
    CHECK_STR(e.path, env_get(e.envp, "PATH"));
    CHECK_STR(env_get(e.envp, "HOME"), "/h");
    CHECK_STR(env_get(e.envp, "LANG"), "C");
    for (char **p = e.envp; *p; p++)
        n++;
    CHECK_INT(n, ==, 4); /* the old SDK_DIR and PATH are replaced, not duplicated */
    buildenv_release(&e);

    buildenv_compose(&e, env, NULL, "Darwin"); /* no SDK_VERSION: unchanged */
    CHECK_STR(env_get(e.envp, "SDK_DIR"), "/old");
    CHECK_STR(env_get(e.envp, "PATH"), "/usr/bin:/bin");
    buildenv_release(&e);

    buildenv_compose(&e, (char *[]){"A=1", NULL}, "/s", "Darwin"); /* no PATH at all */
    CHECK_STR(e.path, "/s/gcc/bin:/s/llvm/bin:/s/cmake/bin:/s/python/bin:/s/stcubeprog/bin:"
                      "/s/stedgeai/Utilities/macarm:/s/bin");
    buildenv_release(&e);
}

static void test_gcc_version(void)
{
    unsigned v = 0;

    CHECK_INT(gcc_version_parse("14.3.1\n", &v), ==, 0);
    CHECK_INT(v, ==, 1403);
    CHECK_INT(gcc_version_parse("12.2", &v), ==, 0);
    CHECK_INT(v, ==, 1202);
    CHECK_INT(gcc_version_parse("14", &v), ==, 0);
    CHECK_INT(v, ==, 1400);
    CHECK_INT(gcc_version_parse("  10.3.1 20210824", &v), ==, 0);
    CHECK_INT(v, ==, 1003);
    CHECK_INT(gcc_version_parse("", &v), ==, OMV_EPARSE);
    CHECK_INT(gcc_version_parse("gcc", &v), ==, OMV_EPARSE);
    CHECK_INT(gcc_version_parse("99999999999999", &v), ==, OMV_EPARSE);
    CHECK_INT(gcc_version_parse("14.300", &v), ==, OMV_EPARSE);
}

/* Random strings of digits, dots and junk: no crash, and a result in range. */
static void test_gcc_version_fuzz(void)
{
    static const char alphabet[] = "0123456789..  \nx-";
    uint64_t state = 42;

    for (int i = 0; i < 20000; i++) {
        char buf[24];
        size_t n = test_rand(&state) % (sizeof(buf) - 1);
        unsigned v = 12345678;

        for (size_t k = 0; k < n; k++)
            buf[k] = alphabet[test_rand(&state) % (sizeof(alphabet) - 1)];
        buf[n] = '\0';
        if (gcc_version_parse(buf, &v) == 0)
            CHECK(v <= 9999 * 100 + 99);
        else
            CHECK_INT(v, ==, 12345678); /* untouched on error */
    }
}

static void put(const char *root, const char *rel, const char *text)
{
    struct strbuf p = STRBUF_INIT, dir = STRBUF_INIT;
    char err[256];

    fs_path_join(&p, root, rel);
    strbuf_addstr(&dir, p.buf);
    *strrchr(dir.buf, '/') = '\0';
    CHECK_INT(fs_mkdir_p(dir.buf, 0755, err, sizeof(err)), ==, 0);
    CHECK_INT(fs_write_atomic(p.buf, text, strlen(text), 0644, err, sizeof(err)), ==, 0);
    strbuf_release(&p);
    strbuf_release(&dir);
}

static void test_fwtree(void)
{
    char root[] = "/tmp/omvdev-fwtree-XXXXXX", err[512];
    struct fw_tree t;
    struct fw_list l = FW_LIST_INIT;
    struct strbuf sb = STRBUF_INIT, cmd = STRBUF_INIT;

    CHECK(mkdtemp(root) != NULL);
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, OMV_ENOTREPO);
    CHECK_CONTAINS(err, "not an OpenMV firmware repository");

    put(root, "boards/OPENMV4/board_config.mk", "PORT=stm32\n");
    put(root, "boards/OPENMV_N6/board_config.mk", "PORT=stm32\n");
    put(root, "boards/.hidden/x", "");
    put(root, ".gitmodules",
        "[submodule \"mp\"]\n\tpath = lib/micropython\n"
        "[submodule \"x\"]\n  path=lib/cmsis  \n[submodule \"evil\"]\n"
        "\tpath = ../outside\n");
    put(root, "lib/micropython/.gitmodules",
        "[submodule \"a\"]\n\tpath = lib/stm32lib\n[submodule \"b\"]\n\tpath = lib/nrfx\n");
    put(root, "lib/micropython/ports/stm32/Makefile", "GIT_SUBMODULES += lib/stm32lib\n");
    put(root, "build/OPENMV4/bin/firmware.bin", "x");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, 0);
    CHECK(!t.legacy);

    CHECK_INT(fw_tree_boards(&t, &l, err, sizeof(err)), ==, 0);
    CHECK_INT(l.nr, ==, 2);
    CHECK_STR(l.items[0], "OPENMV4");
    CHECK_STR(l.items[1], "OPENMV_N6");
    fw_list_release(&l);

    fw_tree_built(&t, &l);
    CHECK_INT(l.nr, ==, 1);
    CHECK_STR(l.items[0], "OPENMV4");
    fw_list_release(&l);

    fw_tree_bin_dir(&t, "OPENMV4", &sb);
    strbuf_addf(&cmd, "%s/build/OPENMV4/bin", root);
    CHECK_STR(sb.buf, cmd.buf);

    /* lib/cmsis missing; the port's lib/stm32lib missing; nrfx is not the port's */
    fw_tree_missing_submodules(&t, "stm32", &l);
    CHECK_INT(l.nr, ==, 2);
    CHECK_STR(l.items[0], "lib/cmsis");
    CHECK_STR(l.items[1], "lib/micropython/lib/stm32lib");
    fw_list_release(&l);
    fw_tree_missing_submodules(&t, NULL, &l);
    CHECK_INT(l.nr, ==, 1);
    fw_list_release(&l);

    CHECK(!fw_tree_mpy_cross(&t, &sb));
    put(root, "lib/micropython/mpy-cross/build/mpy-cross", "#!/bin/sh\n");
    CHECK(!fw_tree_mpy_cross(&t, &sb)); /* not executable */
    CHECK_INT(chmod(sb.buf, 0755), ==, 0);
    CHECK(fw_tree_mpy_cross(&t, &sb));
    fw_tree_release(&t);

    /* the layout of releases before 4.6 */
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "rm -rf '%s'", root);
    CHECK_INT(system(cmd.buf), ==, 0);
    CHECK_INT(mkdir(root, 0755), ==, 0);
    put(root, "src/omv/boards/OPENMV3/omv_boardconfig.h", "");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, 0);
    CHECK(t.legacy);
    fw_tree_bin_dir(&t, "OPENMV3", &sb);
    CHECK_CONTAINS(sb.buf, "/src/build/bin");
    CHECK_CONTAINS(t.mpy_dir, "/src/micropython");
    fw_tree_built(&t, &l);
    CHECK_INT(l.nr, ==, 0);
    fw_tree_release(&t);
    CHECK_INT(system(cmd.buf), ==, 0);
    strbuf_release(&sb);
    strbuf_release(&cmd);
}

TESTS(TEST(test_compose), TEST(test_gcc_version), TEST(test_gcc_version_fuzz), TEST(test_fwtree))
