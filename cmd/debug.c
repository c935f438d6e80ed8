/*
 * omvdev debug: what upstream's `make debug` (gdbrunner's J-Link backend)
 * does - start JLinkGDBServer for the board's device, wait until its port
 * accepts connections, run the SDK's arm-none-eabi-gdb against it with the
 * board's debug ELF, and stop the server when gdb exits or on Ctrl-C.
 * --server-only keeps just the server, for VS Code's external mode.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"

#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"
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
    {"server-only", 0, OPT_FLAG, NULL, "run only the GDB server (for VS Code's external mode)",
     NULL, 0, NULL},
    {"port", 'p', OPT_VALUE, "PORT", "the GDB server's port", NULL, OPT_CONFIG, "2331"},
    {"gdb", 0, OPT_VALUE, "PROGRAM", "the gdb to run (default: the SDK's arm-none-eabi-gdb)", NULL,
     OPT_CONFIG, NULL},
    {"speed", 0, OPT_VALUE, "KHZ", "SWD speed (default as make debug: 100000, the probe's most)",
     NULL, OPT_CONFIG, "100000"},
    {"elf", 0, OPT_VALUE, "FILE", "debug FILE instead of the board's debug ELF", NULL, 0, NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for the server's port", NULL, OPT_CONFIG,
     "20"},
    {"dry-run", 'n', OPT_FLAG, NULL, "print the commands and run nothing", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
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

static long num(const char *s, long lo, long hi)
{
    char *end;
    long v;

    errno = 0;
    v = s ? strtol(s, &end, 10) : -1;
    return !s || errno || *end || end == s || v < lo || v > hi ? -1 : v;
}

/* Warn when the ELF is not a debug build (cmd/discover.c reads its DWARF). */
static void check_elf(struct omv_ctx *ctx, const struct target *t, const char *elf)
{
    cmd_warn_not_debug(ctx, t->name, elf);
}

static void stop_server(struct proc *p)
{
    char err[128];

    if (!p->pid)
        return;
    proc_kill(p, SIGTERM);
    if (proc_wait(p, 3000, err, sizeof(err)) < 0) {
        proc_kill(p, SIGKILL);
        proc_wait(p, -1, err, sizeof(err));
    }
}

int cmd_debug(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct opt *o = inv->cmd->opts;
    const char *tname = opt_value(&inv->opts, o, "target");
    bool server_only = opt_count(&inv->opts, o, "server-only") > 0;
    bool dry = opt_count(&inv->opts, o, "dry-run") > 0;
    long port = num(opt_value(&inv->opts, o, "port"), 1, 65535);
    long speed = num(opt_value(&inv->opts, o, "speed"), 1, 100000);
    long wait_s = num(opt_value(&inv->opts, o, "wait"), 1, 600);
    struct strbuf elf = STRBUF_INIT, sdk = STRBUF_INIT, server = STRBUF_INIT, gdb = STRBUF_INIT,
                  setsid = STRBUF_INIT, shown = STRBUF_INIT;
    struct runner_argv sargv = RUNNER_ARGV_INIT, gargv = RUNNER_ARGV_INIT;
    struct proc sp, gp;
    struct sigaction sa, old_int, old_term;
    bool handlers = false;
    const struct target *t;
    char err[512], st[64];
    int rc = OMV_EXIT_OK;

    memset(&sp, 0, sizeof(sp));
    memset(&gp, 0, sizeof(gp));
    sp.out_fd = sp.err_fd = gp.out_fd = gp.err_fd = -1; /* proc_release() closes what is >= 0 */
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (port < 0)
        return usage_error(ctx, inv, "--port takes a TCP port from 1 to 65535");
    if (speed < 0)
        return usage_error(ctx, inv, "--speed takes kHz from 1 to 100000");
    if (wait_s < 0)
        return usage_error(ctx, inv, "--wait takes whole seconds from 1 to 600");
    if (!tname)
        return usage_error(ctx, inv, "name the board: omvdev debug -t TARGET");
    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    t = ctx_target(ctx, tname);
    if (!t)
        return OMV_EXIT_USAGE;
    if (!target_has_runner(t, TARGET_RUNNER_SWD_JLINK) || !t->jlink_device) {
        error(ctx,
              "%s cannot be debugged with a J-Link: the board database names no J-Link "
              "device for it",
              t->name);
        hint(ctx, "upstream's make debug has no OMV_JLINK_ARGS for %s either", t->name);
        return OMV_EXIT_USAGE;
    }
    if (opt_value(&inv->opts, o, "elf")) {
        strbuf_addstr(&elf, opt_value(&inv->opts, o, "elf"));
    } else {
        if ((rc = cmd_images_dir(ctx, t->name, &elf)))
            goto out;
        fs_path_join(&elf, "", t->debug_elf);
    }
    if (!server_only && !fs_is_file(elf.buf)) {
        error(ctx, "cannot open '%s': No such file or directory", elf.buf);
        hint(ctx, "build it first: make TARGET=%s DEBUG=1", t->name);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    tools_sdk_dir(ctx, &sdk);
    /* Linux ships both; the CLExe one never opens a window. */
    if (runner_find("JLinkGDBServerCLExe", NULL, NULL, NULL, NULL, &server, err, sizeof(err)) < 0 &&
        runner_find("JLinkGDBServer", NULL, NULL, NULL, NULL, &server, err, sizeof(err)) < 0) {
        if (!dry) {
            tools_find(ctx, "JLinkGDBServer", NULL, NULL, NULL, &server);
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
        strbuf_addstr(&server, "JLinkGDBServer");
    }
    if (!server_only) {
        const char *g = opt_value(&inv->opts, o, "gdb");

        if (g && runner_find(g, NULL, NULL, NULL, NULL, &gdb, err, sizeof(err)) < 0) {
            rc = (error(ctx, "%s", err), OMV_EXIT_FAILURE);
            goto out;
        }
        if (!g && runner_find("arm-none-eabi-gdb", sdk.buf, "gcc/bin", NULL, NULL, &gdb, err,
                              sizeof(err)) < 0) {
            if (!dry) {
                tools_find(ctx, "arm-none-eabi-gdb", sdk.buf, "gcc/bin", NULL, &gdb);
                rc = OMV_EXIT_FAILURE;
                goto out;
            }
            strbuf_addstr(&gdb, "arm-none-eabi-gdb");
        }
        runner_gdb(&gargv, gdb.buf, (unsigned)port, elf.buf);
    }
    runner_jlink_gdbserver(&sargv, server.buf, t->jlink_device, (unsigned)speed, (unsigned)port);
    if (!server_only)
        check_elf(ctx, t, elf.buf); /* a dry run warns too: it shows what would be loaded */
    if (dry) {
        struct strbuf outb = STRBUF_INIT;

        strbuf_addf(&outb, "debug %s (%s) with a J-Link:\n  $ ", t->name, t->camera);
        runner_argv_render(&sargv, &outb);
        strbuf_addf(&outb, "\n  wait for localhost:%ld\n", port);
        if (!server_only) {
            strbuf_addstr(&outb, "  $ ");
            runner_argv_render(&gargv, &outb);
            strbuf_addstr(&outb, "\n  then stop the server\n");
        }
        out_write(outb.buf, outb.len);
        strbuf_release(&outb);
        goto out;
    }
    if (port_open((unsigned)port)) {
        error(ctx, "localhost:%ld is already in use (another GDB server?)", port);
        hint(ctx, "stop it, or use another port: omvdev debug -t %s --port %ld", t->name, port + 1);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    {
        /* Its own session (as upstream's old `setsid JLinkGDBServer`), so the Ctrl-C meant for
         * gdb does not kill the server. */
        struct runner_argv full = RUNNER_ARGV_INIT;
        struct proc_spec spec = {NULL,
                                 NULL,
                                 NULL,
                                 ctx->verbosity > 0 ? PROC_INHERIT : PROC_DISCARD,
                                 ctx->verbosity > 0 ? PROC_INHERIT : PROC_DISCARD,
                                 true,
                                 NULL,
                                 NULL};
        int64_t deadline = progress_now_ms() + wait_s * 1000;
        int prc;

        if (runner_find("setsid", NULL, NULL, NULL, NULL, &setsid, err, sizeof(err)) == 0)
            runner_argv_add(&full, setsid.buf);
        for (size_t i = 0; i < sargv.n; i++)
            runner_argv_add(&full, sargv.v[i]);
        runner_argv_render(&sargv, &shown);
        note(ctx, "$ %s", shown.buf);
        spec.argv = (const char *const *)full.v;
        prc = proc_spawn(&sp, &spec, err, sizeof(err));
        runner_argv_release(&full);
        if (prc < 0) {
            rc = (error(ctx, "%s", err), OMV_EXIT_FAILURE);
            goto out;
        }
        /* The server lives in its own session: a Ctrl-C from now on must stop it through us. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        debug_stop = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        handlers = true;
        for (;;) {
            struct timespec ts = {0, 100000000L};

            if (port_open((unsigned)port))
                break;
            if (debug_stop) {
                error(ctx, "interrupted while waiting for the GDB server");
                rc = OMV_EXIT_FAILURE;
                goto out;
            }
            if (proc_wait(&sp, 0, err, sizeof(err)) == 0) {
                error(ctx, "'%s' stopped (%s) before listening on port %ld", sargv.v[0],
                      proc_status_text(&sp, st, sizeof(st)), port);
                hint(ctx, "is the J-Link connected and the camera powered? omvdev -v debug shows "
                          "the server's output");
                rc = OMV_EXIT_DEVICE;
                goto out;
            }
            if (progress_now_ms() >= deadline) {
                error(ctx, "'%s' did not listen on port %ld within %ld s", sargv.v[0], port,
                      wait_s);
                hint(ctx, "is the J-Link connected? omvdev -v debug shows the server's output");
                rc = OMV_EXIT_DEVICE;
                goto out;
            }
            nanosleep(&ts, NULL);
        }
    }
    if (server_only) {
        note(ctx, "the GDB server listens on localhost:%ld (pid %ld); Ctrl-C stops it", port,
             (long)sp.pid);
        while (!debug_stop && proc_wait(&sp, 200, err, sizeof(err)) < 0)
            ;
        if (!sp.pid && !debug_stop) {
            error(ctx, "the GDB server stopped (%s)", proc_status_text(&sp, st, sizeof(st)));
            rc = OMV_EXIT_DEVICE;
        }
        goto out;
    }
    {
        struct proc_spec spec = {(const char *const *)gargv.v,
                                 NULL,
                                 NULL,
                                 PROC_INHERIT,
                                 PROC_INHERIT,
                                 false,
                                 NULL,
                                 NULL};
        int prc;

        strbuf_reset(&shown);
        runner_argv_render(&gargv, &shown);
        note(ctx, "$ %s", shown.buf);
        /* While gdb runs, Ctrl-C is gdb's (it halts the target), as in a shell: our handler
         * (installed above) only notes it, and gdb starts with the default disposition. */
        prc = proc_spawn(&gp, &spec, err, sizeof(err));
        if (prc == 0)
            prc = proc_wait(&gp, -1, err, sizeof(err));
        if (prc < 0) {
            rc = (error(ctx, "%s", err), OMV_EXIT_FAILURE);
        } else if (!gp.exited || gp.exit_code) {
            error(ctx, "'%s' exited with %s", gargv.v[0], proc_status_text(&gp, st, sizeof(st)));
            rc = OMV_EXIT_FAILURE;
        }
    }
out:
    if (sp.pid) {
        stop_server(&sp);
        note(ctx, "stopped the GDB server");
    }
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    proc_release(&sp);
    proc_release(&gp);
    runner_argv_release(&sargv);
    runner_argv_release(&gargv);
    strbuf_release(&elf);
    strbuf_release(&sdk);
    strbuf_release(&server);
    strbuf_release(&gdb);
    strbuf_release(&setsid);
    strbuf_release(&shown);
    return rc;
}
