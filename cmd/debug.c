/*
 * omvdev debug: start the GDB server for the board's probe - SEGGER's
 * JLinkGDBServer (what upstream's `make debug` runs), OpenOCD for an ST-Link
 * or a CMSIS-DAP probe, ST's ST-LINK_gdbserver (--server st), or
 * qemu-system-arm halted with its GDB server for an emulated board - wait
 * until its port accepts connections, run gdb against it with the board's
 * debug ELF, and stop the server when gdb exits or on Ctrl-C. --server-only
 * keeps just the server, for VS Code's external mode; --batch and
 * --gdb-commands run gdb on a command file without a prompt.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "cmd/probe.h"
#include "flash/qemu.h"
#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/opts.h"
#include "lib/proc.h"
#include "lib/progress.h"
#include "lib/strbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const struct opt debug_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the board", NULL, OPT_CONFIG, NULL},
    {"probe", 0, OPT_VALUE, "PROBE", "the debug probe (default: the board's first)", probe_choices,
     OPT_CONFIG, NULL},
    {"server", 0, OPT_VALUE, "SERVER",
     "with --probe stlink: OpenOCD (default) or ST-LINK_gdbserver", probe_server_choices, 0, NULL},
    {"server-only", 0, OPT_FLAG, NULL, "run only the GDB server (for VS Code's external mode)",
     NULL, 0, NULL},
    {"port", 'p', OPT_VALUE, "PORT",
     "the GDB server's port (default: J-Link and ST 2331, OpenOCD 3333, QEMU 1234)", NULL,
     OPT_CONFIG, NULL},
    {"gdb", 0, OPT_VALUE, "PROGRAM",
     "the gdb to run (default: the SDK's arm-none-eabi-gdb, else gdb-multiarch)", NULL, OPT_CONFIG,
     NULL},
    {"speed", 0, OPT_VALUE, "KHZ",
     "SWD speed (J-Link default as make debug: 100000; OpenOCD: the target script's)", NULL,
     OPT_CONFIG, NULL},
    {"elf", 0, OPT_VALUE, "FILE", "debug FILE instead of the board's debug ELF", NULL, 0, NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for the server's port (0: no limit)",
     NULL, OPT_CONFIG, "20"},
    {"batch", 0, OPT_FLAG, NULL, "run gdb without a prompt: it exits after --gdb-commands", NULL, 0,
     NULL},
    {"gdb-commands", 'x', OPT_VALUE, "FILE", "gdb runs the commands in FILE once connected", NULL,
     0, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "print the commands and run nothing", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* The options, read once. */
struct debug_options {
    const char *target, *probe, *server, *gdb, *elf, *gdb_commands;
    bool server_only, dry, batch;
    unsigned port;   /* 0: the server's usual port */
    unsigned speed;  /* kHz; 0: the server's default */
    unsigned wait_s; /* 0: no limit */
};

/* One debug session: the board, the two programs and their processes. */
struct debug_session {
    struct omv_ctx *ctx;
    struct debug_options o;
    const struct target *t;
    const struct qemu_board *qb;
    const char *board;
    struct probe_pick pk;
    struct strbuf elf, sdk, console;
    struct runner_argv sargv, gargv;
    struct proc sp, gp;
    struct sigaction old_int, old_term;
    bool handlers;
};

/* Set by SIGINT/SIGTERM while the server runs alone: the one piece of mutable
 * state a signal handler may touch. */
static volatile sig_atomic_t debug_stop;

static void on_signal(int sig)
{
    (void)sig;
    debug_stop = 1;
}

static bool port_open(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A number option through cmd_number() (its one range); *out is kept when
 * the option has no value. 0 or the usage exit status. */
static int number_opt(struct omv_ctx *ctx, struct omv_invocation *inv, const char *name,
                      unsigned *out)
{
    char err[256];
    uint64_t v = *out;

    if (cmd_number(inv, name, &v, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    *out = (unsigned)v;
    return 0;
}

static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct debug_options *d)
{
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *r = &inv->opts;
    int rc;

    memset(d, 0, sizeof(*d));
    if (r->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", r->args[0]);
    d->target = opt_value(r, o, "target");
    d->probe = opt_value(r, o, "probe");
    d->server = opt_value(r, o, "server");
    d->gdb = opt_value(r, o, "gdb");
    d->elf = opt_value(r, o, "elf");
    d->gdb_commands = opt_value(r, o, "gdb-commands");
    d->server_only = opt_count(r, o, "server-only") > 0;
    d->dry = opt_count(r, o, "dry-run") > 0;
    d->batch = opt_count(r, o, "batch") > 0;
    d->wait_s = 20;
    if ((rc = number_opt(ctx, inv, "port", &d->port)) ||
        (rc = number_opt(ctx, inv, "speed", &d->speed)) ||
        (rc = number_opt(ctx, inv, "wait", &d->wait_s)))
        return rc;
    if (d->server_only && (d->batch || d->gdb_commands))
        return usage_error(ctx, inv,
                           "--server-only runs no gdb: --batch and --gdb-commands do "
                           "not go with it");
    if (d->gdb_commands && !fs_is_file(d->gdb_commands)) {
        error(ctx, "cannot open '%s': No such file or directory", d->gdb_commands);
        return OMV_EXIT_FAILURE;
    }
    if (!d->target)
        return usage_error(ctx, inv, "name the board: omvdev debug -t TARGET");
    return OMV_EXIT_OK;
}

/* The board, its probe and the ELF. */
static int resolve(struct debug_session *s)
{
    struct omv_ctx *ctx = s->ctx;
    int rc = probe_board(ctx, s->o.target, &s->t, &s->qb);

    if (rc != OMV_EXIT_OK)
        return rc;
    s->board = s->qb ? s->qb->target : s->t->name;
    rc = probe_pick(ctx, s->t, s->qb, s->o.probe, s->o.server, PROBE_FOR_DEBUG, &s->pk);
    if (rc != OMV_EXIT_OK)
        return rc;
    /* J-Link and ST as upstream's make debug (gdbrunner: 2331), OpenOCD's and QEMU's own. */
    if (!s->o.port)
        s->o.port = s->pk.probe == PROBE_QEMU                ? 1234
                    : s->pk.probe == PROBE_JLINK || s->pk.st ? 2331
                                                             : 3333;
    if (s->o.elf) {
        strbuf_addstr(&s->elf, s->o.elf);
    } else {
        if ((rc = cmd_images_dir(ctx, s->board, &s->elf)))
            return rc;
        fs_path_join(&s->elf, "", s->t->debug_elf ? s->t->debug_elf : "firmware.elf");
    }
    /* QEMU loads the ELF itself, so it is needed even for the server alone. */
    if ((!s->o.server_only || s->qb) && !s->o.dry && !fs_is_file(s->elf.buf)) {
        error(ctx, "cannot open '%s': No such file or directory", s->elf.buf);
        hint(ctx, "build it first: omvdev build -t %s --debug (make TARGET=%s DEBUG=1)", s->board,
             s->board);
        return OMV_EXIT_FAILURE;
    }
    tools_sdk_dir(ctx, &s->sdk);
    return OMV_EXIT_OK;
}

static int jlink_server(struct debug_session *s, struct strbuf *prog)
{
    char err[512];

    /* Linux ships both; the CLExe one never opens a window. */
    if (runner_find("JLinkGDBServerCLExe", NULL, NULL, NULL, NULL, prog, err, sizeof(err)) < 0 &&
        probe_tool(s->ctx, "JLinkGDBServer", NULL, NULL,
                   "install SEGGER's J-Link Software Pack and put its directory on PATH (e.g. "
                   "export PATH=/opt/SEGGER/JLink:$PATH)",
                   s->o.dry, prog) < 0)
        return -1;
    runner_jlink_gdbserver(&s->sargv, prog->buf, s->t->jlink_device,
                           s->o.speed ? s->o.speed : 100000, s->o.port);
    return 0;
}

static int st_server(struct debug_session *s, struct strbuf *prog)
{
    struct strbuf cp = STRBUF_INIT;

    if (probe_tool(s->ctx, "ST-LINK_gdbserver", NULL, NULL,
                   "ST-LINK_gdbserver comes with STM32CubeIDE: put its directory on PATH, or use "
                   "OpenOCD (--server openocd)",
                   s->o.dry, prog) < 0)
        return -1;
    /* -cp names STM32CubeProgrammer's bin directory: the SDK's. */
    if (s->sdk.len)
        fs_path_join(&cp, s->sdk.buf, "stcubeprog/bin");
    else
        strbuf_addstr(&cp, "STM32CubeProgrammer/bin");
    /* The N6 boots from external flash: the server needs the board's loader for it. */
    runner_stlink_gdbserver(&s->sargv, prog->buf, cp.buf, s->t->swd_loader, s->o.port);
    strbuf_release(&cp);
    return 0;
}

static int qemu_server(struct debug_session *s, struct strbuf *prog)
{
    struct qemu_run run;
    char err[512];

    if (probe_tool(s->ctx, QEMU_PROGRAM, NULL, NULL, "sudo apt-get install " QEMU_DEBIAN_PACKAGE,
                   s->o.dry, prog) < 0)
        return -1;
    struct strbuf romfs[QEMU_ROMFS_PARTS];
    const char *slash = strrchr(s->elf.buf, '/');
    int rc = 0;

    memset(&run, 0, sizeof(run));
    run.program = prog->buf;
    run.firmware = s->elf.buf;
    run.gdb_port = s->o.port;
    /* The ROMFS images the build put beside the ELF go where make run loads them. */
    for (size_t i = 0; i < QEMU_ROMFS_PARTS; i++) {
        strbuf_init(&romfs[i]);
        if (slash)
            strbuf_add(&romfs[i], s->elf.buf, (size_t)(slash + 1 - s->elf.buf));
        strbuf_addf(&romfs[i], "romfs%zu.img", i);
        if (s->qb->romfs_origin[i] && fs_is_file(romfs[i].buf))
            run.romfs[i] = romfs[i].buf;
    }
    if (qemu_argv(&s->sargv, s->qb, &run, err, sizeof(err)) < 0)
        rc = error(s->ctx, "%s", err);
    for (size_t i = 0; i < QEMU_ROMFS_PARTS; i++)
        strbuf_release(&romfs[i]);
    return rc < 0 ? -1 : 0;
}

/* The server's and gdb's argument vectors. */
static int commands(struct debug_session *s)
{
    struct strbuf prog = STRBUF_INIT, gdb = STRBUF_INIT;
    int rc = 0;

    if (s->pk.probe == PROBE_JLINK)
        rc = jlink_server(s, &prog);
    else if (s->pk.probe == PROBE_QEMU)
        rc = qemu_server(s, &prog);
    else if (s->pk.st)
        rc = st_server(s, &prog);
    else if ((rc = probe_tool(s->ctx, "openocd", s->sdk.buf, "openocd/bin",
                              "sudo apt-get install openocd (or put OpenOCD on PATH)", s->o.dry,
                              &prog)) == 0)
        runner_openocd_server(&s->sargv, prog.buf, s->pk.openocd_interface, s->pk.openocd_target,
                              s->o.speed, s->o.port);
    if (rc == 0 && !s->o.server_only) {
        rc = probe_gdb(s->ctx, s->o.gdb, s->sdk.buf, s->o.dry, &gdb);
        if (rc == 0)
            runner_gdb(&s->gargv, gdb.buf, s->o.port, s->elf.buf, s->o.batch, s->o.gdb_commands);
    }
    strbuf_release(&prog);
    strbuf_release(&gdb);
    return rc < 0 ? OMV_EXIT_FAILURE : OMV_EXIT_OK;
}

static void print_dry_run(const struct debug_session *s)
{
    struct strbuf outb = STRBUF_INIT;

    strbuf_addf(&outb, "debug %s (%s) with %s:\n  $ ", s->board, s->t->camera,
                probe_label(s->pk.probe));
    runner_argv_render(&s->sargv, &outb);
    strbuf_addf(&outb, "\n  wait for localhost:%u\n", s->o.port);
    if (!s->o.server_only) {
        strbuf_addstr(&outb, "  $ ");
        runner_argv_render(&s->gargv, &outb);
        strbuf_addstr(&outb, "\n  then stop the server\n");
    }
    out_write(outb.buf, outb.len);
    strbuf_release(&outb);
}

/* QEMU prints the pseudo-terminal of the board's serial console on stdout (only QEMU's
 * output is captured: it writes little, so its pipes never fill while gdb runs). */
static void server_line(void *ud, int fd, const char *line, size_t len)
{
    struct debug_session *s = ud;

    (void)fd;
    if (!s->console.len && qemu_parse_pty_line(line, len, &s->console))
        note(s->ctx, "the board's serial console is %s (omvdev monitor --port %s)", s->console.buf,
             s->console.buf);
    else if (s->ctx->verbosity > 0)
        fprintf(stderr, "%.*s\n", (int)len, line);
}

/* Start the server in its own session (as upstream's old `setsid JLinkGDBServer`), so the
 * Ctrl-C meant for gdb does not kill it; from then on Ctrl-C reaches it through us. */
static int start_server(struct debug_session *s, struct proc_spec *spec)
{
    struct runner_argv full = RUNNER_ARGV_INIT;
    struct strbuf setsid = STRBUF_INIT, shown = STRBUF_INIT;
    struct sigaction sa;
    char err[512];
    int rc;

    if (runner_find("setsid", NULL, NULL, NULL, NULL, &setsid, err, sizeof(err)) == 0)
        runner_argv_add(&full, setsid.buf);
    for (size_t i = 0; i < s->sargv.n; i++)
        runner_argv_add(&full, s->sargv.v[i]);
    runner_argv_render(&s->sargv, &shown);
    note(s->ctx, "$ %s", shown.buf);
    spec->argv = (const char *const *)full.v;
    rc = proc_spawn(&s->sp, spec, err, sizeof(err));
    runner_argv_release(&full);
    strbuf_release(&setsid);
    strbuf_release(&shown);
    if (rc < 0) {
        error(s->ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    debug_stop = 0;
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
    s->handlers = true;
    return OMV_EXIT_OK;
}

/* Wait until the server listens, stops, times out or Ctrl-C comes. */
static int wait_for_port(struct debug_session *s)
{
    int64_t deadline = progress_now_ms() + (int64_t)s->o.wait_s * 1000;
    bool qemu = s->pk.probe == PROBE_QEMU;
    char err[256], st[64];

    for (;;) {
        struct timespec ts = {0, 100000000L};

        if (port_open(s->o.port)) {
            /* Take what it printed so far; QEMU names its console's pty within moments. */
            for (int i = 0; i < 10 && (i == 0 || (qemu && !s->console.len)); i++)
                proc_wait(&s->sp, i ? 50 : 0, err, sizeof(err));
            return OMV_EXIT_OK;
        }
        if (debug_stop) {
            error(s->ctx, "interrupted while waiting for the GDB server");
            return OMV_EXIT_FAILURE;
        }
        if (proc_wait(&s->sp, 0, err, sizeof(err)) == 0) {
            error(s->ctx, "'%s' stopped (%s) before listening on port %u", s->sargv.v[0],
                  proc_status_text(&s->sp, st, sizeof(st)), s->o.port);
            if (qemu)
                hint(s->ctx, "omvdev -v debug shows QEMU's output");
            else
                hint(s->ctx,
                     "is %s connected and the camera powered? omvdev -v debug shows the "
                     "server's output",
                     probe_label(s->pk.probe));
            return qemu ? OMV_EXIT_FAILURE : OMV_EXIT_DEVICE;
        }
        if (s->o.wait_s && progress_now_ms() >= deadline) {
            error(s->ctx, "'%s' did not listen on port %u within %u s", s->sargv.v[0], s->o.port,
                  s->o.wait_s);
            hint(s->ctx, "is %s connected? omvdev -v debug shows the server's output",
                 probe_label(s->pk.probe));
            return OMV_EXIT_DEVICE;
        }
        nanosleep(&ts, NULL);
    }
}

static int serve_alone(struct debug_session *s)
{
    char err[128], st[64];

    note(s->ctx, "the GDB server listens on localhost:%u (pid %ld); Ctrl-C stops it", s->o.port,
         (long)s->sp.pid);
    while (!debug_stop && proc_wait(&s->sp, 200, err, sizeof(err)) < 0)
        ;
    if (!s->sp.pid && !debug_stop) {
        error(s->ctx, "the GDB server stopped (%s)", proc_status_text(&s->sp, st, sizeof(st)));
        return OMV_EXIT_DEVICE;
    }
    return OMV_EXIT_OK;
}

/* While gdb runs, Ctrl-C is gdb's (it halts the target), as in a shell: our handler only
 * notes it, and gdb starts with the default disposition. */
static int run_gdb(struct debug_session *s)
{
    struct proc_spec spec = {
        (const char *const *)s->gargv.v, NULL, NULL, PROC_INHERIT, PROC_INHERIT, false, NULL, NULL};
    struct strbuf shown = STRBUF_INIT;
    char err[512], st[64];
    int rc = OMV_EXIT_OK;

    runner_argv_render(&s->gargv, &shown);
    note(s->ctx, "$ %s", shown.buf);
    strbuf_release(&shown);
    if (proc_spawn(&s->gp, &spec, err, sizeof(err)) < 0 ||
        proc_wait(&s->gp, -1, err, sizeof(err)) < 0) {
        error(s->ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
    } else if (!s->gp.exited || s->gp.exit_code) {
        error(s->ctx, "'%s' exited with %s", s->gargv.v[0],
              proc_status_text(&s->gp, st, sizeof(st)));
        rc = OMV_EXIT_FAILURE;
    }
    return rc;
}

static void stop_server(struct debug_session *s)
{
    char err[128];

    if (s->sp.pid) {
        proc_kill(&s->sp, SIGTERM);
        if (proc_wait(&s->sp, 3000, err, sizeof(err)) < 0) {
            proc_kill(&s->sp, SIGKILL);
            proc_wait(&s->sp, -1, err, sizeof(err));
        }
        note(s->ctx, "stopped the GDB server");
    }
    if (s->handlers) {
        sigaction(SIGINT, &s->old_int, NULL);
        sigaction(SIGTERM, &s->old_term, NULL);
        s->handlers = false;
    }
}

static int run_session(struct debug_session *s)
{
    bool loud = s->ctx->verbosity > 0;
    struct proc_spec spec = {NULL,
                             NULL,
                             NULL,
                             s->qb  ? PROC_CAPTURE
                             : loud ? PROC_INHERIT
                                    : PROC_DISCARD,
                             s->qb  ? PROC_CAPTURE
                             : loud ? PROC_INHERIT
                                    : PROC_DISCARD,
                             true,
                             server_line,
                             s};
    int rc;

    if (port_open(s->o.port)) {
        error(s->ctx, "localhost:%u is already in use (another GDB server?)", s->o.port);
        hint(s->ctx, "stop it, or use another port: omvdev debug -t %s --port %u", s->board,
             s->o.port + 1);
        return OMV_EXIT_FAILURE;
    }
    rc = start_server(s, &spec);
    if (rc == OMV_EXIT_OK)
        rc = wait_for_port(s);
    if (rc == OMV_EXIT_OK)
        rc = s->o.server_only ? serve_alone(s) : run_gdb(s);
    stop_server(s);
    return rc;
}

int cmd_debug(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct debug_session s;
    int rc;

    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    strbuf_init(&s.elf);
    strbuf_init(&s.sdk);
    strbuf_init(&s.console);
    s.sp.out_fd = s.sp.err_fd = s.gp.out_fd = s.gp.err_fd = -1; /* proc_release() closes >= 0 */
    rc = read_options(ctx, inv, &s.o);
    if (rc == OMV_EXIT_OK)
        rc = resolve(&s);
    if (rc == OMV_EXIT_OK)
        rc = commands(&s);
    /* A dry run warns too: it shows what would be loaded. */
    if (rc == OMV_EXIT_OK && !s.o.server_only)
        cmd_warn_not_debug(ctx, s.board, s.elf.buf);
    if (rc == OMV_EXIT_OK && s.o.dry)
        print_dry_run(&s);
    else if (rc == OMV_EXIT_OK)
        rc = run_session(&s);
    proc_release(&s.sp);
    proc_release(&s.gp);
    runner_argv_release(&s.sargv);
    runner_argv_release(&s.gargv);
    strbuf_release(&s.elf);
    strbuf_release(&s.sdk);
    strbuf_release(&s.console);
    return rc;
}
