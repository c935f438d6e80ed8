#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "sdk/buildenv.h"
#include "targets/fwtree.h"
#include "targets/repo.h"

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

static void rm_rf(const char *root)
{
    struct strbuf cmd = STRBUF_INIT;

    strbuf_addf(&cmd, "rm -rf '%s'", root);
    CHECK_INT(system(cmd.buf), ==, 0);
    strbuf_release(&cmd);
}

/* The v5.0.0-on layout: Makefile, boards/, ports/, lib/micropython, build/<T>/bin. */
static void test_fwtree_top(void)
{
    char root[] = "/tmp/omvdev-fwtree-XXXXXX", err[512];
    struct fw_tree t;
    struct fw_list l = FW_LIST_INIT;
    struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;

    CHECK(mkdtemp(root) != NULL);
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, OMV_ENOTREPO);
    CHECK_CONTAINS(err, "not an OpenMV firmware repository");

    put(root, "Makefile",
        "export BUILD:=$(TOP_DIR)/build/$(TARGET)\nifeq ($(DEBUG), 1)\nendif\nBUILD := $(BUILD)\n"
        "ifeq ($(PROFILE_ENABLE),1)\nendif\nifdef FOO_BAR\nendif\nsubmodules:\n\ttrue\n");
    put(root, "boards/OPENMV4/board_config.mk", "PORT=stm32\n");
    put(root, "boards/OPENMV_N6/board_config.mk", "PORT=stm32\n");
    put(root, "boards/.hidden/x", "");
    put(root, "ports/stm32/x", "");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, OMV_ENOTREPO); /* no micropython */
    put(root, ".gitmodules", "[submodule \"mp\"]\n\tpath = lib/micropython\n");
    put(root, "SDK_VERSION", "1.6.0\n");
    put(root, "build/OPENMV4/bin/firmware.bin", "x");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, 0);
    CHECK(!t.legacy);
    CHECK(!t.shared_bin);
    CHECK(t.submodules_goal);
    CHECK(t.sdk_version);
    CHECK(fw_tree_reads_var(&t, "DEBUG"));
    CHECK(fw_tree_reads_var(&t, "PROFILE_ENABLE"));
    CHECK(fw_tree_reads_var(&t, "FOO_BAR"));
    CHECK(!fw_tree_reads_var(&t, "PROFILE"));
    CHECK_STR(t.mpy_rel, "lib/micropython");

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
    strbuf_addf(&want, "%s/build/OPENMV4/bin", root);
    CHECK_STR(sb.buf, want.buf);
    fw_tree_rel(&t, sb.buf, &want);
    CHECK_STR(want.buf, "build/OPENMV4/bin");
    CHECK_INT(fw_tree_check_owner(&t, "OPENMV_N6", err, sizeof(err)), ==, 0);

    CHECK(!fw_tree_mpy_cross(&t, &sb));
    put(root, "lib/micropython/mpy-cross/build/mpy-cross", "#!/bin/sh\n");
    CHECK(!fw_tree_mpy_cross(&t, &sb)); /* not executable */
    CHECK_INT(chmod(sb.buf, 0755), ==, 0);
    CHECK(fw_tree_mpy_cross(&t, &sb));
    fw_tree_release(&t);

    /* v4.7.0 to v4.8.x: the same layout, but BUILD=$(TOP_DIR)/build for every board */
    put(root, "Makefile", "export BUILD=$(TOP_DIR)/build\nexport FW_DIR=$(BUILD)/bin\n");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, 0);
    CHECK(t.shared_bin);
    CHECK(!t.submodules_goal);
    fw_tree_bin_dir(&t, "OPENMV4", &sb);
    strbuf_reset(&want);
    strbuf_addf(&want, "%s/build/bin", root);
    CHECK_STR(sb.buf, want.buf);
    fw_tree_release(&t);
    rm_rf(root);
    strbuf_release(&sb);
    strbuf_release(&want);
}

/* Up to v4.6.x: src/Makefile, src/omv/boards, src/lib/micropython, src/build/bin shared. */
static void test_fwtree_src(void)
{
    char root[] = "/tmp/omvdev-fwtree-XXXXXX", err[512];
    struct fw_tree t;
    struct fw_list l = FW_LIST_INIT;
    struct fw_build_info bi = FW_BUILD_INFO_INIT;
    struct strbuf sb = STRBUF_INIT, inside = STRBUF_INIT, start = STRBUF_INIT;

    CHECK(mkdtemp(root) != NULL);
    put(root, "src/Makefile",
        "BUILD=$(TOP_DIR)/build\nFW_DIR=$(BUILD)/bin\nifeq ($(PROFILE), 1)\nendif\n");
    put(root, "src/omv/Makefile", "");
    put(root, "src/omv/boards/OPENMV4/omv_boardconfig.h", "");
    put(root, "src/omv/boards/OPENMVPT/omv_boardconfig.h", "");
    put(root, "src/omv/ports/stm32/x", "");
    put(root, "src/omv/imlib/fmath.c", "");
    put(root, ".gitmodules", "[submodule \"m\"]\n\tpath = src/lib/micropython\n");
    put(root, "src/lib/micropython/.gitmodules", "[submodule \"s\"]\n\tpath = lib/stm32lib\n");
    put(root, "src/lib/micropython/ports/stm32/Makefile", "");
    put(root, "src/lib/micropython/ports/stm32/boards/OPENMV4/x", "");
    put(root, "src/lib/micropython/lib/stm32lib/README", "");
    CHECK_INT(fw_tree_open(&t, root, err, sizeof(err)), ==, 0);
    CHECK(t.legacy);
    CHECK(t.shared_bin);
    CHECK_STR(t.prefix, "src/");
    CHECK_STR(t.mpy_rel, "src/lib/micropython");
    CHECK(fw_tree_reads_var(&t, "PROFILE"));
    CHECK(!fw_tree_reads_var(&t, "PROFILE_ENABLE"));
    fw_tree_bin_dir(&t, "OPENMV4", &sb);
    CHECK_CONTAINS(sb.buf, "/src/build/bin");

    /* from deep inside: src/omv (which has a Makefile and boards/) is not the root */
    strbuf_reset(&sb);
    strbuf_addf(&start, "%s/src/omv/imlib", root);
    CHECK_INT(repo_find(start.buf, &sb, &inside, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, root);
    CHECK_STR(inside.buf, "");
    /* from MicroPython's port (a Makefile and boards/ too), nested submodule included */
    strbuf_reset(&start);
    strbuf_reset(&sb);
    strbuf_addf(&start, "%s/src/lib/micropython/ports/stm32/boards", root);
    CHECK_INT(repo_find(start.buf, &sb, &inside, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, root);
    CHECK_STR(inside.buf, "src/lib/micropython");
    strbuf_reset(&start);
    strbuf_reset(&sb);
    strbuf_reset(&inside);
    strbuf_addf(&start, "%s/src/lib/micropython/lib/stm32lib", root);
    CHECK_INT(repo_find(start.buf, &sb, &inside, err, sizeof(err)), ==, 0);
    CHECK_STR(inside.buf, "src/lib/micropython/lib/stm32lib");

    /* nothing built: no owner; the build's dependency files name the board */
    fw_build_info_read(&t, "OPENMV4", &bi);
    CHECK(bi.board == NULL);
    fw_build_info_release(&bi);
    put(root, "src/build/bin/firmware.elf", "x");
    put(root, "src/build/omv/imlib/fmath.d",
        "fmath.o: imlib/fmath.c /x/src/omv/boards/OPENMV4P//omv_boardconfig.h \\\n x.h\n");
    fw_build_info_read(&t, "OPENMVPT", &bi);
    CHECK_STR(bi.board, "OPENMV4P");
    CHECK_INT(bi.board_src, ==, FW_INFO_DEPS);
    fw_build_info_release(&bi);
    CHECK_INT(fw_tree_check_owner(&t, "OPENMVPT", err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_CONTAINS(err, "the images in 'src/build/bin' were built for OPENMV4P, not OPENMVPT");
    fw_tree_built(&t, &l);
    CHECK_INT(l.nr, ==, 1);
    CHECK_STR(l.items[0], "OPENMV4P");
    fw_list_release(&l);

    /* omvdev's record wins while no image is newer than it */
    CHECK_INT(fw_build_stamp_write(&t, "OPENMVPT", "DEBUG=1", err, sizeof(err)), ==, 0);
    fw_build_info_read(&t, "OPENMVPT", &bi);
    CHECK_STR(bi.board, "OPENMVPT");
    CHECK_STR(bi.options, "DEBUG=1");
    CHECK_INT(bi.board_src, ==, FW_INFO_STAMP);
    fw_build_info_release(&bi);
    CHECK_INT(fw_tree_check_owner(&t, "OPENMVPT", err, sizeof(err)), ==, 0);
    /* a plain make afterwards: the record is stale, the dependency files speak */
    strbuf_reset(&sb);
    strbuf_addf(&sb, "touch -d '+2 seconds' '%s/src/build/bin/firmware.elf'", root);
    CHECK_INT(system(sb.buf), ==, 0);
    fw_build_info_read(&t, "OPENMVPT", &bi);
    CHECK_STR(bi.board, "OPENMV4P");
    CHECK(bi.options == NULL);
    fw_build_info_release(&bi);
    fw_tree_release(&t);
    rm_rf(root);
    strbuf_release(&sb);
    strbuf_release(&inside);
    strbuf_release(&start);
}

/* Without git: .gitmodules (nested ones too) and the directories; the port filter. */
static void test_submodules_dirs(void)
{
    char root[] = "/tmp/omvdev-fwtree-XXXXXX", err[512];
    struct repo_subs s = REPO_SUBS_INIT;
    struct strbuf fix = STRBUF_INIT;

    CHECK(mkdtemp(root) != NULL);
    put(root, ".gitmodules",
        "[submodule \"mp\"]\n\tpath = lib/micropython\n"
        "[submodule \"x\"]\n  path=lib/cmsis  \n[submodule \"evil\"]\n"
        "\tpath = ../outside\n");
    put(root, "lib/micropython/.gitmodules",
        "[submodule \"a\"]\n\tpath = lib/stm32lib\n[submodule \"b\"]\n\tpath = lib/nrfx\n"
        "[submodule \"c\"]\n\tpath = lib/micropython-lib\n");
    put(root, "lib/micropython/ports/stm32/Makefile",
        "GIT_SUBMODULES += lib/libhydrogen lib/stm32lib\n");
    put(root, "lib/micropython/py/mkrules.mk",
        "ifneq ($(FROZEN_MANIFEST),)\nGIT_SUBMODULES += lib/micropython-lib\nendif\n");
    CHECK_INT(mkdir(strcat(strcpy(err, root), "/lib/cmsis"), 0755), ==, 0);
    CHECK_INT(repo_submodules(root, "lib/micropython", "stm32", &s, err, sizeof(err)), ==, 0);
    CHECK(!s.from_git);
    CHECK_INT(s.nr, ==, 4);
    CHECK_STR(s.items[0].path, "lib/micropython");
    CHECK_INT(s.items[0].state, ==, REPO_SUB_OK);
    CHECK_STR(s.items[1].path, "lib/cmsis");
    CHECK_INT(s.items[1].state, ==, REPO_SUB_UNINIT);
    CHECK_STR(s.items[2].path, "lib/micropython/lib/stm32lib");
    CHECK_INT(s.items[2].state, ==, REPO_SUB_MISSING);
    CHECK_STR(s.items[2].parent, "lib/micropython");
    CHECK_STR(s.items[3].path, "lib/micropython/lib/micropython-lib");
    CHECK_INT(repo_subs_bad(&s), ==, 3);
    repo_subs_fix(root, &s, &fix, NULL, NULL);
    strbuf_addf(&fix, "|");
    CHECK_CONTAINS(fix.buf, "submodule update --init --depth=1 lib/cmsis && git -C ");
    CHECK_CONTAINS(fix.buf, "/lib/micropython submodule update --init --depth=1 lib/stm32lib "
                            "lib/micropython-lib|");
    repo_subs_release(&s);
    /* no port: only the top-level ones */
    CHECK_INT(repo_submodules(root, "lib/micropython", NULL, &s, err, sizeof(err)), ==, 0);
    CHECK_INT(s.nr, ==, 2);
    repo_subs_release(&s);
    rm_rf(root);
    strbuf_release(&fix);
}

TESTS(TEST(test_compose), TEST(test_gcc_version), TEST(test_gcc_version_fuzz),
      TEST(test_fwtree_top), TEST(test_fwtree_src), TEST(test_submodules_dirs))
