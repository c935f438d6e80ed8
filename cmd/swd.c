/*
 * omvdev flash --swd: the fastest edit-build-flash cycle - write the build
 * over a debug probe: an ST-Link with the SDK's STM32_Programmer_CLI (as
 * upstream's `make deploy`) or with OpenOCD (--server openocd), a CMSIS-DAP
 * probe with OpenOCD, or a J-Link with SEGGER's JLinkExe and a generated
 * command script. Images, addresses and the external loader come from the
 * board database (swd_images, swd_loader).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "cmd/probe.h"
#include "flash/runners.h"
#include "lib/config.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/opts.h"
#include "lib/proc.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* flash's options that apply to --swd, read once. */
struct swd_options {
    const char *target, *probe, *server, *firmware, *romfs;
    bool dry;
    unsigned speed;  /* kHz; 0: not given */
    unsigned wait_s; /* how long the tool may take; 0: no limit */
};

/* One flash --swd run. */
struct swd_run {
    struct omv_ctx *ctx;
    struct swd_options o;
    const struct target *t;
    struct probe_pick pk;
    struct runner_image *imgs;
    char **paths;
    size_t n;
    struct strbuf sdk, prog, loader, script, script_path;
    struct runner_argv argv;
    int script_fd;
};

static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct swd_options *so)
{
    static const char *const not_with_swd[] = {
        "file",           "alt",    "address", "erase-fs",  "no-reset", "serial",
        "skip-unchanged", "verify", "all",     "mass-erase"};
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *r = &inv->opts;
    const struct cfg_entry *probe_cfg = cfg_lookup(&ctx->cfg, "debug", "probe");
    char err[256];
    uint64_t v;

    memset(so, 0, sizeof(*so));
    if (r->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", r->args[0]);
    for (size_t i = 0; i < ARRAY_SIZE(not_with_swd); i++)
        if (opt_count(r, o, not_with_swd[i]))
            return usage_error(ctx, inv, "--%s does not go with --swd", not_with_swd[i]);
    so->target = opt_value(r, o, "target");
    so->probe = opt_value(r, o, "probe");
    if (!so->probe && probe_cfg)
        so->probe = probe_cfg->value;
    so->server = opt_value(r, o, "server");
    so->firmware = opt_value(r, o, "firmware");
    so->romfs = opt_value(r, o, "romfs");
    so->dry = opt_count(r, o, "dry-run") > 0;
    if (opt_value(r, o, "speed")) {
        if (cmd_number(inv, "speed", &v, err, sizeof(err)) < 0)
            return usage_error(ctx, inv, "%s", err);
        so->speed = (unsigned)v;
    }
    /* --wait, when given on the command line, bounds how long the probe tool may take. */
    so->wait_s = 300;
    if (opt_count(r, o, "wait")) {
        if (cmd_number(inv, "wait", &v, err, sizeof(err)) < 0)
            return usage_error(ctx, inv, "%s", err);
        so->wait_s = (unsigned)v;
    }
    if (!so->target)
        return usage_error(ctx, inv,
                           "--swd needs the board: omvdev flash --swd -t TARGET (a probe cannot "
                           "tell which camera it is wired to)");
    return OMV_EXIT_OK;
}

/* The images to write and where: the build's, or --firmware / --romfs. */
static int images(struct swd_run *s)
{
    struct omv_ctx *ctx = s->ctx;
    struct strbuf bin = STRBUF_INIT;
    int rc = cmd_images_dir(ctx, s->t->name, &bin);

    if (rc != OMV_EXIT_OK) {
        strbuf_release(&bin);
        return rc;
    }
    s->n = s->t->nr_swd_images;
    s->imgs = xcalloc(s->n, sizeof(*s->imgs));
    s->paths = xcalloc(s->n, sizeof(*s->paths));
    for (size_t i = 0; i < s->n && rc == OMV_EXIT_OK; i++) {
        const char *file = s->t->swd_images[i].file;
        const char *over = !strcmp(file, "firmware.bin") ? s->o.firmware
                           : !strcmp(file, "romfs0.img") ? s->o.romfs
                                                         : NULL;
        struct strbuf p = STRBUF_INIT;

        if (over)
            strbuf_addstr(&p, over);
        else
            fs_path_join(&p, bin.buf, file);
        s->paths[i] = strbuf_detach(&p, NULL);
        s->imgs[i].path = s->paths[i];
        s->imgs[i].address = s->t->swd_images[i].address;
        if (!fs_is_file(s->paths[i])) {
            error(ctx, "cannot open '%s': No such file or directory", s->paths[i]);
            hint(ctx, "build it first (omvdev build -t %s)", s->t->name);
            rc = OMV_EXIT_FAILURE;
        }
    }
    strbuf_release(&bin);
    return rc;
}

/* The board, its probe and its images. */
static int resolve(struct swd_run *s)
{
    struct omv_ctx *ctx = s->ctx;
    const struct qemu_board *qb;
    int rc = probe_board(ctx, s->o.target, &s->t, &qb);

    if (rc != OMV_EXIT_OK)
        return rc;
    if (qb) {
        error(ctx, "%s is an emulated board: there is nothing to flash, QEMU loads the ELF",
              qb->target);
        hint(ctx, "omvdev debug -t %s (or omvdev emulate -t %s)", qb->target, qb->target);
        return OMV_EXIT_USAGE;
    }
    rc = probe_pick(ctx, s->t, NULL, s->o.probe, s->o.server, PROBE_FOR_FLASH, &s->pk);
    if (rc != OMV_EXIT_OK)
        return rc;
    if (!s->t->nr_swd_images) {
        error(ctx, "the board database names no images to write over SWD for %s", s->t->name);
        hint(ctx, "omvdev flash -t %s flashes it over USB", s->t->name);
        return OMV_EXIT_USAGE;
    }
    if (s->o.speed && s->pk.st)
        note(ctx, "--speed is for J-Link and OpenOCD; STM32_Programmer_CLI picks the ST-Link's "
                  "speed");
    tools_sdk_dir(ctx, &s->sdk);
    return images(s);
}

static int jlink_command(struct swd_run *s)
{
    const char *tmp = getenv("TMPDIR");
    char err[512];

    if (probe_tool(s->ctx, "JLinkExe", NULL, NULL,
                   "install SEGGER's J-Link Software Pack and put its directory on PATH (e.g. "
                   "export PATH=/opt/SEGGER/JLink:$PATH)",
                   s->o.dry, &s->prog) < 0)
        return OMV_EXIT_FAILURE;
    if (!s->o.dry) {
        strbuf_addf(&s->script_path, "%s/omvdev-jlink-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        s->script_fd = mkstemp(s->script_path.buf);
        if (s->script_fd < 0) {
            error(s->ctx, "cannot create '%s': %s", s->script_path.buf, strerror(errno));
            return OMV_EXIT_FAILURE;
        }
    }
    if (runner_jlink_flash(&s->argv, &s->script, s->prog.buf,
                           s->o.dry ? "SCRIPT" : s->script_path.buf, s->t->jlink_device,
                           s->o.speed ? s->o.speed : 4000, s->imgs, s->n, err, sizeof(err)) < 0) {
        error(s->ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    if (!s->o.dry && write(s->script_fd, s->script.buf, s->script.len) != (ssize_t)s->script.len) {
        error(s->ctx, "cannot write '%s': %s", s->script_path.buf, strerror(errno));
        return OMV_EXIT_FAILURE;
    }
    return OMV_EXIT_OK;
}

static int cubeprog_command(struct swd_run *s)
{
    if (probe_tool(s->ctx, "STM32_Programmer_CLI", s->sdk.buf, "stcubeprog/bin",
                   s->sdk.len ? "the SDK looks incomplete: reinstall it (omvdev sdk install)"
                              : "install the OpenMV SDK (omvdev sdk install) or set SDK_DIR",
                   s->o.dry, &s->prog) < 0)
        return OMV_EXIT_FAILURE;
    if (s->t->swd_loader) {
        /* The loaders ship beside the programmer: <stcubeprog>/bin/ExternalLoader/. */
        const char *slash = strrchr(s->prog.buf, '/');

        if (slash)
            strbuf_add(&s->loader, s->prog.buf, (size_t)(slash - s->prog.buf + 1));
        strbuf_addf(&s->loader, "ExternalLoader/%s", s->t->swd_loader);
        if (!s->o.dry && !fs_is_file(s->loader.buf)) {
            error(s->ctx, "cannot open '%s': No such file or directory", s->loader.buf);
            hint(s->ctx, "the external-flash loader comes with STM32CubeProgrammer in the SDK: "
                         "reinstall the SDK (omvdev sdk install)");
            return OMV_EXIT_FAILURE;
        }
    }
    runner_stlink_flash(&s->argv, s->prog.buf, s->loader.len ? s->loader.buf : NULL, s->imgs, s->n);
    return OMV_EXIT_OK;
}

static int openocd_command(struct swd_run *s)
{
    char err[512];

    if (probe_tool(s->ctx, "openocd", s->sdk.buf, "openocd/bin",
                   "sudo apt-get install openocd (or put OpenOCD on PATH)", s->o.dry, &s->prog) < 0)
        return OMV_EXIT_FAILURE;
    if (runner_openocd_program(&s->argv, s->prog.buf, s->pk.openocd_interface, s->pk.openocd_target,
                               s->o.speed, s->imgs, s->n, err, sizeof(err)) < 0) {
        error(s->ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    return OMV_EXIT_OK;
}

static void print_dry_run(const struct swd_run *s)
{
    struct strbuf outb = STRBUF_INIT;

    strbuf_addf(&outb, "flash %s (%s) over SWD with %s:\n  $ ", s->t->name, s->t->camera,
                probe_label(s->pk.probe));
    runner_argv_render(&s->argv, &outb);
    strbuf_addch(&outb, '\n');
    if (s->pk.probe == PROBE_JLINK) {
        strbuf_addstr(&outb, "  SCRIPT:\n");
        for (const char *l = s->script.buf; *l;) {
            const char *nl = strchr(l, '\n');

            strbuf_addf(&outb, "    %.*s\n", (int)(nl - l), l);
            l = nl + 1;
        }
    }
    out_write(outb.buf, outb.len);
    strbuf_release(&outb);
}

static int run_tool(struct swd_run *s)
{
    struct proc p;
    struct proc_spec spec = {
        (const char *const *)s->argv.v, NULL, NULL, PROC_INHERIT, PROC_INHERIT, true, NULL, NULL};
    struct strbuf shown = STRBUF_INIT;
    char err[512], st[64];
    int rc = OMV_EXIT_OK;

    runner_argv_render(&s->argv, &shown);
    note(s->ctx, "$ %s", shown.buf);
    strbuf_release(&shown);
    memset(&p, 0, sizeof(p));
    p.out_fd = p.err_fd = -1;
    if (proc_run(&p, &spec, s->o.wait_s ? (int)s->o.wait_s * 1000 : -1, err, sizeof(err)) < 0) {
        error(s->ctx, "%s", err);
        hint(s->ctx, "is the probe connected to the camera and the camera powered? (--wait "
                     "SECONDS allows the tool longer)");
        rc = OMV_EXIT_DEVICE;
    } else if (!p.exited || p.exit_code) {
        error(s->ctx, "'%s' failed (%s)", s->argv.v[0], proc_status_text(&p, st, sizeof(st)));
        hint(s->ctx, "its output is above; check the probe's wiring and power, and try a lower "
                     "speed (--speed 1000) or another probe (--probe)");
        rc = OMV_EXIT_DEVICE;
    } else {
        note(s->ctx, "done: %s flashed over SWD and restarted", s->t->name);
    }
    proc_release(&p);
    return rc;
}

static void swd_run_release(struct swd_run *s)
{
    if (s->script_fd >= 0) {
        close(s->script_fd);
        unlink(s->script_path.buf);
    }
    for (size_t i = 0; s->paths && i < s->n; i++)
        free(s->paths[i]);
    free(s->paths);
    free(s->imgs);
    runner_argv_release(&s->argv);
    strbuf_release(&s->sdk);
    strbuf_release(&s->prog);
    strbuf_release(&s->loader);
    strbuf_release(&s->script);
    strbuf_release(&s->script_path);
}

int cmd_flash_swd(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct swd_run s;
    int rc;

    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.script_fd = -1;
    strbuf_init(&s.sdk);
    strbuf_init(&s.prog);
    strbuf_init(&s.loader);
    strbuf_init(&s.script);
    strbuf_init(&s.script_path);
    rc = read_options(ctx, inv, &s.o);
    if (rc == OMV_EXIT_OK)
        rc = resolve(&s);
    if (rc == OMV_EXIT_OK)
        rc = s.pk.probe == PROBE_JLINK ? jlink_command(&s)
             : s.pk.st                 ? cubeprog_command(&s)
                                       : openocd_command(&s);
    if (rc == OMV_EXIT_OK && s.o.dry)
        print_dry_run(&s);
    else if (rc == OMV_EXIT_OK)
        rc = run_tool(&s);
    swd_run_release(&s);
    return rc;
}
