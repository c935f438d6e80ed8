/* flash/runners: the argument vectors, compared with the seed's and upstream's commands. */
#include "lib/compat.h"
#include "tests/unit/test.h"

#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_argv(struct runner_argv *a, const char *want)
{
    struct strbuf sb = STRBUF_INIT;

    runner_argv_render(a, &sb);
    CHECK_STR(sb.buf, want);
    CHECK(a->v[a->n] == NULL);
    strbuf_release(&sb);
    runner_argv_release(a);
}

static void test_builders(void)
{
    struct runner_argv a = RUNNER_ARGV_INIT;
    struct strbuf script = STRBUF_INIT;
    struct runner_image n6[] = {{"build/OPENMV_N6/bin/openmv.bin", 0x70000000}};
    struct runner_image h7[] = {{"bin/firmware.bin", 0x08040000}, {"bin/romfs0.img", 0x081E0000}};
    struct runner_image ae3[] = {{"/b/bootloader.bin", 0x80000000},
                                 {"/b/firmware_pad.toc", 0x8057E000}};
    static const char *const fill[] = {"fill-memory", "0x2000", "4", "0xC0000008", "word", NULL};
    static const char *const wf[] = {"write-file", "0x20001C00", "sdphost_flash_loader.bin", NULL};
    char err[256];
    uint32_t v = 0;

    /* upstream's make deploy (facts §1.7) */
    runner_stlink_flash(&a, "STM32_Programmer_CLI",
                        "/sdk/stcubeprog/bin/ExternalLoader/MX25UM51245G_STM32N6570-NUCLEO.stldr",
                        n6, 1);
    check_argv(&a, "STM32_Programmer_CLI -c port=SWD mode=HOTPLUG ap=1 -el "
                   "/sdk/stcubeprog/bin/ExternalLoader/MX25UM51245G_STM32N6570-NUCLEO.stldr -w "
                   "build/OPENMV_N6/bin/openmv.bin 0x70000000 -hardRst");
    runner_stlink_flash(&a, "STM32_Programmer_CLI", NULL, h7, 2);
    check_argv(&a, "STM32_Programmer_CLI -c port=SWD mode=HOTPLUG ap=1 -w bin/firmware.bin "
                   "0x08040000 -w bin/romfs0.img 0x081E0000 -hardRst");
    /* seed §10.8.2 */
    runner_cubeprog_layout(&a, "STM32_Programmer_CLI", "OPENMV_N6/FlashLayout.tsv");
    check_argv(&a, "STM32_Programmer_CLI -c port=USB1 -d OPENMV_N6/FlashLayout.tsv");
    /* gdbrunner's J-Link backend (facts §1.8) */
    runner_jlink_gdbserver(&a, "JLinkGDBServer", "STM32H743VI", 100000, 2331);
    check_argv(&a, "JLinkGDBServer -nogui 1 -device STM32H743VI -if swd -speed 100000 -port 2331 "
                   "-halt");
    runner_gdb(&a, "arm-none-eabi-gdb", 2331, "build/OPENMV4/bin/firmware.elf", false, NULL);
    check_argv(&a, "arm-none-eabi-gdb -iex 'set confirm off' -ex 'target remote localhost:2331' "
                   "build/OPENMV4/bin/firmware.elf");
    /* seed §10.8.3, through the SDK's python and through PATH */
    runner_spsdk(&a, "/sdk/python/bin/python3", NULL, "blhost", "0x15A2,0x0073", 0, fill);
    check_argv(&a, "/sdk/python/bin/python3 -m spsdk.apps.blhost -u 0x15A2,0x0073 -- fill-memory "
                   "0x2000 4 0xC0000008 word");
    runner_spsdk(&a, NULL, "/usr/bin/sdphost", "sdphost", "0x1FC9,0x0135", 0, wf);
    check_argv(&a, "/usr/bin/sdphost -u 0x1FC9,0x0135 -- write-file 0x20001C00 "
                   "sdphost_flash_loader.bin");
    {
        static const char *const er[] = {"flash-erase-region", "0x60000000", "0x1000", NULL};

        runner_spsdk(&a, NULL, NULL, "blhost", "0x15A2,0x0073", 120000, er);
        check_argv(&a, "blhost -u 0x15A2,0x0073 -t 120000 -- flash-erase-region 0x60000000 "
                       "0x1000");
    }
    /* seed §10.8.4 */
    CHECK_INT(runner_alif_write_mram(&a, "app-write-mram", ae3, 2, err, sizeof(err)), ==, 0);
    check_argv(&a, "app-write-mram -i '/b/bootloader.bin 0x80000000 /b/firmware_pad.toc "
                   "0x8057E000'");
    {
        struct runner_image sp[] = {{"/my dir/bootloader.bin", 0x80000000}};

        CHECK_INT(runner_alif_write_mram(&a, "app-write-mram", sp, 1, err, sizeof(err)), ==,
                  OMV_EINVAL);
        CHECK_STR(err, "app-write-mram cannot take '/my dir/bootloader.bin': its -i list is "
                       "split at spaces");
        CHECK_INT(a.n, ==, 0);
    }
    /* seed §10.7.8 */
    runner_bossac(&a, "bossac", NULL, 0x16000, "firmware.bin");
    check_argv(&a, "bossac -e -w -v -R --offset=0x16000 firmware.bin");
    runner_picotool(&a, "picotool", "firmware.uf2");
    check_argv(&a, "picotool load -x firmware.uf2");
    /* J-Link Commander and its script */
    CHECK_INT(runner_jlink_flash(&a, &script, "JLinkExe", "/tmp/x.jlink", "STM32H743VI", 4000, h7,
                                 2, err, sizeof(err)),
              ==, 0);
    check_argv(&a, "JLinkExe -nogui 1 -ExitOnError 1 -CommanderScript /tmp/x.jlink");
    CHECK_STR(script.buf, "device STM32H743VI\nsi SWD\nspeed 4000\nconnect\nr\nh\n"
                          "loadbin \"bin/firmware.bin\",0x08040000\n"
                          "loadbin \"bin/romfs0.img\",0x081E0000\nr\ng\nq\n");
    strbuf_release(&script);
    {
        struct runner_image q[] = {{"a\"b.bin", 0}};

        CHECK_INT(
            runner_jlink_flash(&a, &script, "JLinkExe", "/tmp/x", "D", 1, q, 1, err, sizeof(err)),
            ==, OMV_EINVAL);
        CHECK_INT(a.n, ==, 0);
        CHECK_INT(script.len, ==, 0);
    }
    /* blhost's reply to efuse-read-once */
    {
        static const char reply[] = "Response status = 0 (0x0) Success.\nResponse word 1 = 4 "
                                    "(0x4)\nResponse word 2 = 16 (0x10)\n";

        CHECK_INT(runner_blhost_word(reply, strlen(reply), &v), ==, 0);
    }
    CHECK_INT(v, ==, 16);
    CHECK_INT(runner_blhost_word("Response status = 10004 (0x2714) Unknown\n", 41, &v), ==,
              OMV_EPARSE);
    CHECK_INT(runner_blhost_word("Response word 1 = 1 (0x123456789)\n", 34, &v), ==, OMV_EPARSE);
}

static void test_render_quoting(void)
{
    struct runner_argv a = RUNNER_ARGV_INIT;

    runner_argv_add(&a, "prog");
    runner_argv_add(&a, "it's");
    runner_argv_add(&a, "");
    runner_argv_add(&a, "a b");
    check_argv(&a, "prog 'it'\\''s' '' 'a b'");
}

static void test_find(void)
{
    char dir[] = "/tmp/omvdev-runners-XXXXXX", err[512];
    struct strbuf p = STRBUF_INIT, sb = STRBUF_INIT;

    CHECK(mkdtemp(dir) != NULL);
    strbuf_addf(&p, "%s/sdk/stcubeprog/bin", dir);
    CHECK_INT(fs_mkdir_p(p.buf, 0755, err, sizeof(err)), ==, 0);
    strbuf_addstr(&p, "/STM32_Programmer_CLI");
    CHECK_INT(fs_write_atomic(p.buf, "#!/bin/sh\n", 10, 0755, err, sizeof(err)), ==, 0);
    strbuf_reset(&p);
    strbuf_addf(&p, "%s/path", dir);
    CHECK_INT(fs_mkdir_p(p.buf, 0755, err, sizeof(err)), ==, 0);
    strbuf_addstr(&p, "/STM32_Programmer_CLI");
    CHECK_INT(fs_write_atomic(p.buf, "#!/bin/sh\n", 10, 0755, err, sizeof(err)), ==, 0);
    strbuf_reset(&p);

    /* the SDK first, then PATH */
    strbuf_addf(&p, "%s/sdk", dir);
    {
        struct strbuf path = STRBUF_INIT;

        strbuf_addf(&path, "%s/path", dir);
        CHECK_INT(runner_find("STM32_Programmer_CLI", p.buf, "stcubeprog/bin", NULL, path.buf, &sb,
                              err, sizeof(err)),
                  ==, 0);
        CHECK_CONTAINS(sb.buf, "/sdk/stcubeprog/bin/STM32_Programmer_CLI");
        strbuf_reset(&sb);
        CHECK_INT(
            runner_find("STM32_Programmer_CLI", NULL, NULL, NULL, path.buf, &sb, err, sizeof(err)),
            ==, 0);
        CHECK_CONTAINS(sb.buf, "/path/STM32_Programmer_CLI");
        strbuf_reset(&sb);
        CHECK_INT(runner_find("JLinkExe", p.buf, "bin", NULL, path.buf, &sb, err, sizeof(err)), ==,
                  OMV_ENOENT);
        CHECK_CONTAINS(err, "'JLinkExe' is not in the SDK (");
        CHECK_CONTAINS(err, "/sdk/bin) nor on PATH");
        CHECK_INT(sb.len, ==, 0);
        CHECK_INT(runner_find("STM32_Programmer_CLI", "", "stcubeprog/bin", NULL, "", &sb, err,
                              sizeof(err)),
                  ==, OMV_ENOENT);
        CHECK_STR(err, "'STM32_Programmer_CLI' is not on PATH (and no SDK was found)");
        CHECK_INT(runner_find("JLinkExe", NULL, NULL, NULL, path.buf, &sb, err, sizeof(err)), ==,
                  OMV_ENOENT);
        CHECK_STR(err, "'JLinkExe' is not on PATH");
        CHECK_INT(runner_find("maintenance", NULL, NULL, "/se", "", &sb, err, sizeof(err)), ==,
                  OMV_ENOENT);
        CHECK_STR(err, "'maintenance' is not in /se nor on PATH");
        /* a configured directory comes after the SDK and before PATH */
        strbuf_reset(&sb);
        CHECK_INT(
            runner_find("STM32_Programmer_CLI", NULL, NULL, path.buf, "", &sb, err, sizeof(err)),
            ==, 0);
        CHECK_CONTAINS(sb.buf, "/path/STM32_Programmer_CLI");
        strbuf_release(&path);
    }
    strbuf_reset(&p);
    strbuf_addf(&p, "rm -rf '%s'", dir);
    CHECK_INT(system(p.buf), ==, 0);
    strbuf_release(&p);
    strbuf_release(&sb);
}

/* The blhost reply parser reads outside input: random text never crashes it. */
static void test_blhost_fuzz(void)
{
    static const char alphabet[] = "Response word 0123456789abcdefxX()= \n";
    uint64_t st = 42;
    unsigned hits = 0;

    for (int round = 0; round < 20000; round++) {
        size_t n = test_rand(&st) % 64;
        char *s = malloc(n ? n : 1);
        uint32_t v;

        for (size_t i = 0; i < n; i++)
            s[i] = alphabet[test_rand(&st) % (sizeof(alphabet) - 1)];
        if (n > 30 && test_rand(&st) % 2)
            memcpy(s, "Response word 2 = 1 (0x1", 24);
        if (runner_blhost_word(s, n, &v) == 0)
            hits++;
        free(s);
    }
    CHECK(hits > 0);
}

/* The debug servers and gdb of the other probes: OpenOCD's configs and commands, ST's server
 * as upstream's make debug DEBUGGER=STLINK runs it, gdb in batch mode. */
static void test_probe_servers(void)
{
    struct runner_argv a = RUNNER_ARGV_INIT;
    struct runner_image h7[] = {{"bin/firmware.bin", 0x08040000}, {"bin/romfs0.img", 0x081E0000}};
    struct runner_image one[] = {{"/a b/fw.bin", 0x10000000}};
    struct runner_image brace[] = {{"/x/a}b.bin", 0x08000000}};
    char err[256];

    runner_openocd_server(&a, "openocd", "interface/stlink.cfg", "target/stm32h7x_dual_bank.cfg", 0,
                          3333);
    check_argv(&a, "openocd -f interface/stlink.cfg -f target/stm32h7x_dual_bank.cfg -c "
                   "'gdb_port 3333' -c 'tcl_port disabled' -c 'telnet_port disabled'");
    runner_openocd_server(&a, "openocd", "interface/cmsis-dap.cfg", "target/rp2040.cfg", 4000, 1);
    check_argv(&a, "openocd -f interface/cmsis-dap.cfg -f target/rp2040.cfg -c 'adapter speed "
                   "4000' -c 'gdb_port 1' -c 'tcl_port disabled' -c 'telnet_port disabled'");
    CHECK_INT(runner_openocd_program(&a, "openocd", "interface/cmsis-dap.cfg",
                                     "target/stm32h7x_dual_bank.cfg", 0, h7, 2, err, sizeof(err)),
              ==, 0);
    check_argv(&a, "openocd -f interface/cmsis-dap.cfg -f target/stm32h7x_dual_bank.cfg -c "
                   "'program {bin/firmware.bin} verify 0x08040000' -c 'program {bin/romfs0.img} "
                   "verify reset exit 0x081E0000'");
    /* one image: it is the last, so it resets and exits; spaces are fine inside braces */
    CHECK_INT(runner_openocd_program(&a, "openocd", "i.cfg", "t.cfg", 0, one, 1, err, sizeof(err)),
              ==, 0);
    check_argv(&a, "openocd -f i.cfg -f t.cfg -c 'program {/a b/fw.bin} verify reset exit "
                   "0x10000000'");
    CHECK_INT(
        runner_openocd_program(&a, "openocd", "i.cfg", "t.cfg", 0, brace, 1, err, sizeof(err)), ==,
        OMV_EINVAL);
    CHECK_CONTAINS(err, "cannot name '/x/a}b.bin' in an OpenOCD command");
    CHECK_INT(a.n, ==, 0);
    runner_argv_release(&a);
    /* gdbrunner's ST-Link backend */
    runner_stlink_gdbserver(&a, "ST-LINK_gdbserver", "/sdk/stcubeprog/bin",
                            "MX25UM51245G_STM32N6570-NUCLEO.stldr", 2331);
    check_argv(&a, "ST-LINK_gdbserver --persistent --port-number 2331 --stm32cubeprogrammer-path "
                   "/sdk/stcubeprog/bin --extload MX25UM51245G_STM32N6570-NUCLEO.stldr --apid 1 "
                   "--halt --verify --attach");
    runner_gdb(&a, "gdb-multiarch", 1234, "fw.elf", true, "session.gdb");
    check_argv(&a, "gdb-multiarch -batch -iex 'set confirm off' -ex 'target remote "
                   "localhost:1234' -x session.gdb fw.elf");
}

TESTS(TEST(test_builders), TEST(test_probe_servers), TEST(test_render_quoting), TEST(test_find),
      TEST(test_blhost_fuzz))
