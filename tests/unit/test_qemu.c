/* flash/qemu: the qemu-system-arm command lines, compared with what the firmware's
 * `make run` runs (ports/qemu/port_config.mk), and QEMU's pty announcement. */
#include "lib/compat.h"
#include "tests/unit/test.h"

#include "cmd/cmd.h"
#include "flash/qemu.h"
#include "lib/error.h"

#include <stdlib.h>
#include <string.h>

static void check_argv(struct runner_argv *a, const char *want)
{
    struct strbuf sb = STRBUF_INIT;

    runner_argv_render(a, &sb);
    CHECK_STR(sb.buf, want);
    CHECK(a->v[a->n] == NULL);
    strbuf_release(&sb);
    runner_argv_release(a);
}

/* The emulated boards come from their data files (targets/boards/MPS*.ini): the
 * machine, the core in QEMU's spelling, the ROMFS origin of romfs0.img, and whether
 * `make run` still uses QEMU (MPS3_AN547 names an FVP machine from v5.0.0). */
static struct omv_ctx ctx;

/* What omvdev.c's ctx_release() frees of what ctx_targets() loaded. */
static void ctx_done(void)
{
    if (ctx.db_loaded)
        target_db_release(&ctx.db);
    free(ctx.qemu);
    memset(&ctx, 0, sizeof(ctx));
}

static void test_boards(void)
{
    size_t n = 0;
    const struct qemu_board *all = ctx_qemu_boards(&ctx, &n);
    const struct qemu_board *b = ctx_qemu_board(&ctx, "MPS2_AN500");

    CHECK(n == 2);
    CHECK(b == &all[0]);
    CHECK_STR(b->target, "MPS2_AN500");
    CHECK_STR(b->machine, "mps2-an500");
    CHECK_STR(b->cpu, "cortex-m7");
    CHECK(b->romfs_origin[0] == 0x60C00000u && b->romfs_origin[1] == 0);
    CHECK(b->make_run_uses_qemu);
    b = ctx_qemu_board(&ctx, "MPS3_AN547");
    CHECK(b && !strcmp(b->machine, "mps3-an547") && !strcmp(b->cpu, "cortex-m55"));
    CHECK(b->romfs_origin[0] == 0x62000000u && b->romfs_origin[1] == 0);
    CHECK(!b->make_run_uses_qemu);
    CHECK(ctx_qemu_board(&ctx, "OPENMV4") == NULL);
    CHECK(ctx_qemu_board(&ctx, "mps2_an500") == &all[0]); /* any case, as every -t */
    CHECK(ctx_qemu_board(&ctx, NULL) == NULL);
    ctx_done();
}

static void test_argv(void)
{
    struct runner_argv a = RUNNER_ARGV_INIT;
    const struct qemu_board *an500 = ctx_qemu_board(&ctx, "MPS2_AN500");
    const struct qemu_board *an547 = ctx_qemu_board(&ctx, "MPS3_AN547");
    struct qemu_run r = {.firmware = "build/MPS2_AN500/bin/firmware.elf",
                         .romfs = {"build/MPS2_AN500/bin/romfs0.img", NULL}};
    char err[256];

    /* make run, word for word */
    CHECK(qemu_argv(&a, an500, &r, err, sizeof(err)) == 0);
    check_argv(&a, "qemu-system-arm -machine mps2-an500 -nographic -monitor null -semihosting "
                   "-device loader,file=build/MPS2_AN500/bin/romfs0.img,addr=0x60C00000,"
                   "force-raw=on -serial pty -kernel build/MPS2_AN500/bin/firmware.elf");
    /* halted with a GDB server on loopback, console on this terminal, no romfs built */
    r = (struct qemu_run){.program = "/usr/bin/qemu-system-arm",
                          .firmware = "fw.elf",
                          .serial = "stdio",
                          .gdb_port = 3333};
    CHECK(qemu_argv(&a, an547, &r, err, sizeof(err)) == 0);
    check_argv(&a, "/usr/bin/qemu-system-arm -machine mps3-an547 -nographic -monitor null "
                   "-semihosting -S -gdb tcp:127.0.0.1:3333 -serial stdio -kernel fw.elf");

    /* bad inputs leave the vector empty */
    r = (struct qemu_run){.firmware = NULL};
    CHECK(qemu_argv(&a, an500, &r, err, sizeof(err)) == OMV_EINVAL);
    CHECK_STR(err, "no firmware ELF for MPS2_AN500");
    CHECK(a.n == 0);
    r = (struct qemu_run){.firmware = "fw.elf", .romfs = {NULL, "romfs1.img"}};
    CHECK(qemu_argv(&a, an500, &r, err, sizeof(err)) == OMV_EINVAL);
    CHECK_STR(err, "MPS2_AN500 has no ROMFS part 1");
    CHECK(a.n == 0);
    r = (struct qemu_run){.firmware = "fw.elf", .romfs = {"a,b/romfs0.img", NULL}};
    CHECK(qemu_argv(&a, an500, &r, err, sizeof(err)) == OMV_EINVAL);
    CHECK_STR(err, "cannot pass 'a,b/romfs0.img' to QEMU: its path contains a ','");
    CHECK(a.n == 0);
    runner_argv_release(&a);
    ctx_done();
}

static void test_pty_line(void)
{
    struct strbuf sb = STRBUF_INIT;
    static const char line[] = "char device redirected to /dev/pts/17 (label serial0)";
    static const char bare[] = "char device redirected to /dev/pts/3";

    CHECK(qemu_parse_pty_line(line, strlen(line), &sb));
    CHECK_STR(sb.buf, "/dev/pts/17");
    CHECK(qemu_parse_pty_line(bare, strlen(bare), &sb));
    CHECK_STR(sb.buf, "/dev/pts/3");
    CHECK(!qemu_parse_pty_line("char device redirected to ", 26, &sb));
    CHECK(!qemu_parse_pty_line("qemu-system-arm: warning: x", 27, &sb));
    /* only the given length counts */
    CHECK(!qemu_parse_pty_line(line, 20, &sb));
    strbuf_release(&sb);
}

TESTS(TEST(test_boards), TEST(test_argv), TEST(test_pty_line))
