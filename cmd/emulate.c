/*
 * emulate: run an emulated board's firmware in qemu-system-arm as the
 * firmware's `make run` does (flash/qemu.c), with its serial console on this
 * terminal through the monitor's session. QEMU gets the slave of a pty omvdev
 * made (-serial /dev/pts/N) instead of allocating one (-serial pty), so the
 * console is watched from the first byte the firmware prints.
 */
#include "lib/compat.h"
#include "cmd/buildcmd.h"
#include "cmd/cmd.h"
#include "cmd/monitor.h"

#include "flash/console.h"
#include "flash/qemu.h"
#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const struct opt emulate_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the emulated board: MPS2_AN500 or MPS3_AN547", NULL,
     OPT_CONFIG, NULL},
    {"gdb", 0, OPT_VALUE, "PORT", "start halted with a GDB server on 127.0.0.1:PORT", NULL, 0,
     NULL},
    {"build", 0, OPT_FLAG, NULL, "build the board first (omvdev build -t TARGET)", NULL, 0, NULL},
    {"elf", 0, OPT_VALUE, "FILE", "run FILE instead of build/<TARGET>/bin/firmware.elf", NULL, 0,
     NULL},
    {"qemu", 0, OPT_VALUE, "PROGRAM", "the QEMU to run (default: qemu-system-arm on PATH)", NULL,
     OPT_CONFIG, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "print the QEMU command and run nothing", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

struct emulate_args {
    const struct qemu_board *board;
    const char *elf, *qemu;
    uint64_t gdb_port;
    bool build, dry_run;
};

static int read_emulate_opts(struct omv_ctx *ctx, struct omv_invocation *inv,
                             struct emulate_args *a)
{
    const struct opt_result *r = &inv->opts;
    const char *target = opt_value(r, emulate_opts, "target");
    char err[256], names[64] = "";
    size_t n;
    const struct qemu_board *all = ctx_qemu_boards(ctx, &n);

    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < n; i++)
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                 i ? (i + 1 == n ? " or " : ", ") : "", all[i].target);
    if (r->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", r->args[0]);
    if (!target)
        return usage_error(ctx, inv, "name the board: omvdev emulate -t TARGET (%s)", names);
    a->board = ctx_qemu_board(ctx, target);
    if (!a->board)
        return usage_error(ctx, inv, "'%s' is not an emulated board (%s)", target, names);
    if (cmd_number(inv, "gdb", &a->gdb_port, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    a->elf = opt_value(r, emulate_opts, "elf");
    a->qemu = opt_value(r, emulate_opts, "qemu");
    a->build = opt_count(r, emulate_opts, "build") > 0;
    a->dry_run = opt_count(r, emulate_opts, "dry-run") > 0;
    if (a->build && a->elf)
        return usage_error(ctx, inv,
                           "--build builds the board's own firmware; it goes without "
                           "--elf");
    return 0;
}

/* The firmware ELF and the romfs images `make run` loads, from the build directory. */
static int locate_images(struct omv_ctx *ctx, const struct emulate_args *a, struct strbuf *elf,
                         struct strbuf romfs[QEMU_ROMFS_PARTS])
{
    if (a->elf) {
        strbuf_addstr(elf, a->elf);
    } else {
        struct strbuf bin = STRBUF_INIT;

        /* build/<TARGET>/bin of the firmware tree, as flash finds its images */
        if (cmd_images_dir(ctx, a->board->target, &bin) != 0) {
            strbuf_release(&bin);
            return OMV_EXIT_FAILURE;
        }
        fs_path_join(elf, bin.buf, "firmware.elf");
        for (int i = 0; i < QEMU_ROMFS_PARTS; i++) {
            char name[16];

            snprintf(name, sizeof(name), "romfs%d.img", i);
            fs_path_join(&romfs[i], bin.buf, name);
            if (!a->board->romfs_origin[i] || !fs_is_file(romfs[i].buf))
                strbuf_reset(&romfs[i]);
        }
        strbuf_release(&bin);
    }
    if (!fs_is_file(elf->buf)) {
        error(ctx, "cannot open '%s': No such file or directory", elf->buf);
        if (!a->elf)
            hint(ctx, "omvdev emulate -t %s --build", a->board->target);
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

static int build_first(struct omv_ctx *ctx, const struct emulate_args *a)
{
    const char *argv[] = {"/proc/self/exe", "build", "-t", a->board->target, NULL};
    struct proc_spec spec = {.argv = argv};
    struct proc p;
    char err[256];
    int rc = proc_run(&p, &spec, -1, err, sizeof(err));

    if (rc < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
    } else if (!(p.exited && p.exit_code == 0)) {
        rc = p.exited ? p.exit_code : OMV_EXIT_FAILURE;
    }
    proc_release(&p);
    return rc;
}

static bool qemu_alive(void *ud)
{
    struct proc *p = ud;
    char err[64];

    /* 1 ms: proc_wait() reads what QEMU printed before it looks at the exit */
    return p->pid && proc_wait(p, 1, err, sizeof(err)) != 0;
}

/* QEMU's command line for this run; an exit status when it cannot be built. */
static int qemu_command(struct omv_ctx *ctx, const struct emulate_args *a, const char *serial,
                        const struct strbuf *elf, const struct strbuf romfs[QEMU_ROMFS_PARTS],
                        struct runner_argv *argv)
{
    struct strbuf prog = STRBUF_INIT;
    struct qemu_run r;
    char err[256];
    int rc;

    memset(&r, 0, sizeof(r));
    rc = proc_find_program(a->qemu ? a->qemu : QEMU_PROGRAM, NULL, &prog, err, sizeof(err));
    if (rc < 0 && !a->dry_run) {
        error(ctx, "%s", err);
        if (!a->qemu)
            hint(ctx, "sudo apt-get install %s", QEMU_DEBIAN_PACKAGE);
        strbuf_release(&prog);
        return OMV_EXIT_FAILURE;
    }
    r.program = rc < 0 ? (a->qemu ? a->qemu : QEMU_PROGRAM) : prog.buf;
    r.firmware = elf->buf;
    for (int i = 0; i < QEMU_ROMFS_PARTS; i++)
        r.romfs[i] = romfs[i].len ? romfs[i].buf : NULL;
    r.serial = serial;
    r.gdb_port = (unsigned)a->gdb_port;
    rc = qemu_argv(argv, a->board, &r, err, sizeof(err));
    strbuf_release(&prog);
    if (rc < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

/* Start QEMU on the pty and be its console until it exits or the user quits. */
static int emulate_run(struct omv_ctx *ctx, const struct emulate_args *a, struct runner_argv *argv,
                       struct console *con, const char *pty)
{
    struct proc_spec spec = {.argv = (const char *const *)argv->v,
                             .out = PROC_TEE,
                             .err = PROC_CAPTURE, /* shown when QEMU fails */
                             .stdin_null = true};
    struct proc p;
    char err[256], status[64];
    int rc = proc_spawn(&p, &spec, err, sizeof(err));

    if (rc < 0) {
        console_close(con);
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    note(ctx, "%s on %s (QEMU %s), console %s", a->board->target, a->board->machine, a->board->cpu,
         pty);
    if (a->gdb_port)
        note(ctx, "halted: GDB server on 127.0.0.1:%u (gdb-multiarch -ex 'target remote :%u')",
             (unsigned)a->gdb_port, (unsigned)a->gdb_port);
    rc = monitor_console(ctx, con, pty, qemu_alive, &p);
    if (p.pid) {
        proc_kill(&p, SIGTERM);
        if (proc_wait(&p, 3000, err, sizeof(err)) != 0) {
            proc_kill(&p, SIGKILL);
            proc_wait(&p, -1, err, sizeof(err));
        }
    } else if (rc == OMV_EXIT_OK && !(p.exited && p.exit_code == 0)) {
        fwrite(p.err.buf, 1, p.err.len, stderr);
        error(ctx, "QEMU ended with %s", proc_status_text(&p, status, sizeof(status)));
        rc = OMV_EXIT_FAILURE;
    }
    proc_release(&p);
    return rc;
}

int cmd_emulate(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct emulate_args a;
    struct strbuf elf = STRBUF_INIT, pty = STRBUF_INIT, shown = STRBUF_INIT;
    struct strbuf romfs[QEMU_ROMFS_PARTS] = {STRBUF_INIT, STRBUF_INIT};
    struct runner_argv argv = RUNNER_ARGV_INIT;
    struct console *con = NULL;
    int slave = -1, rc = read_emulate_opts(ctx, inv, &a);
    char err[256];

    if (rc)
        return rc;
    if (a.build && !a.dry_run && (rc = build_first(ctx, &a)) != 0)
        goto out;
    rc = locate_images(ctx, &a, &elf, romfs);
    if (rc)
        goto out;
    if (a.dry_run) {
        rc = qemu_command(ctx, &a, "pty", &elf, romfs, &argv);
        runner_argv_render(&argv, &shown);
        if (!rc)
            printf("%s\n", shown.buf);
        goto out;
    }
    if (console_open_pty(&con, &pty, &slave, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = qemu_command(ctx, &a, pty.buf, &elf, romfs, &argv);
    if (rc) {
        console_close(con);
        goto out;
    }
    rc = emulate_run(ctx, &a, &argv, con, pty.buf);
out:
    if (slave >= 0)
        close(slave);
    runner_argv_release(&argv);
    strbuf_release(&elf);
    strbuf_release(&pty);
    strbuf_release(&shown);
    for (int i = 0; i < QEMU_ROMFS_PARTS; i++)
        strbuf_release(&romfs[i]);
    return rc;
}
