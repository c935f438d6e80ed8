/*
 * omvdev flash --swd: the "fastest edit-build-flash cycle" (seed §10.7.3) -
 * write the build over a debug probe with the SDK's STM32_Programmer_CLI
 * (ST-Link, as upstream's `make deploy`) or SEGGER's JLinkExe and a
 * generated command script. Images, addresses and the external loader come
 * from the board database (swd_images, swd_loader).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"

#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void runner_list(const struct target *t, struct strbuf *out)
{
    for (int r = 0; r < TARGET_RUNNER_COUNT; r++)
        if (target_has_runner(t, (enum target_runner)r))
            strbuf_addf(out, "%s%s", out->len ? " " : "",
                        target_runner_name((enum target_runner)r));
}

int cmd_flash_swd(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    static const char *const not_with_swd[] = {"file",     "alt",    "address",        "erase-fs",
                                               "no-reset", "serial", "skip-unchanged", "verify"};
    const struct opt *o = inv->cmd->opts;
    const char *tname = opt_value(&inv->opts, o, "target");
    const char *probe = opt_value(&inv->opts, o, "probe");
    const char *speed_s = opt_value(&inv->opts, o, "speed");
    bool dry = opt_count(&inv->opts, o, "dry-run") > 0, jlink;
    struct strbuf bin = STRBUF_INIT, sdk = STRBUF_INIT, prog = STRBUF_INIT, loader = STRBUF_INIT,
                  script = STRBUF_INIT, shown = STRBUF_INIT, list = STRBUF_INIT;
    struct runner_argv argv = RUNNER_ARGV_INIT;
    struct runner_image *imgs = NULL;
    char **paths = NULL;
    struct strbuf script_path = STRBUF_INIT;
    int script_fd = -1;
    const struct target *t;
    unsigned long speed = 4000;
    int timeout_s = 300;
    size_t n = 0;
    char err[512];
    int rc = OMV_EXIT_OK;

    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    for (size_t i = 0; i < ARRAY_SIZE(not_with_swd); i++)
        if (opt_count(&inv->opts, o, not_with_swd[i]))
            return usage_error(ctx, inv, "--%s does not go with --swd", not_with_swd[i]);
    if (speed_s) {
        char *end;

        errno = 0;
        speed = strtoul(speed_s, &end, 10);
        if (errno || *end || end == speed_s || speed < 1 || speed > 100000)
            return usage_error(ctx, inv, "--speed takes kHz from 1 to 100000, not '%s'", speed_s);
    }
    /* --wait, when given on the command line, limits how long the probe tool may take. */
    if (opt_count(&inv->opts, o, "wait")) {
        char *end;
        long v = strtol(opt_value(&inv->opts, o, "wait"), &end, 10);

        if (*end || v < 1 || v > 3600)
            return usage_error(ctx, inv, "--wait takes whole seconds from 1 to 3600");
        timeout_s = (int)v;
    }
    if (!tname)
        return usage_error(ctx, inv,
                           "--swd needs the board: omvdev flash --swd -t TARGET (a probe cannot "
                           "tell which camera it is wired to)");
    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    t = ctx_target(ctx, tname);
    if (!t)
        return OMV_EXIT_USAGE;
    runner_list(t, &list);
    if (!probe)
        probe = target_has_runner(t, TARGET_RUNNER_SWD_STLINK) ? "stlink" : "jlink";
    jlink = !strcmp(probe, "jlink");
    if (!target_has_runner(t, jlink ? TARGET_RUNNER_SWD_JLINK : TARGET_RUNNER_SWD_STLINK)) {
        error(ctx, "%s cannot be flashed over SWD with %s (its runners: %s)", t->name,
              jlink ? "a J-Link" : "an ST-Link", list.buf);
        if (target_has_runner(t, jlink ? TARGET_RUNNER_SWD_STLINK : TARGET_RUNNER_SWD_JLINK))
            hint(ctx, "omvdev flash --swd -t %s --probe %s", t->name, jlink ? "stlink" : "jlink");
        else
            hint(ctx, "omvdev flash -t %s flashes it over USB", t->name);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (!t->nr_swd_images) {
        error(ctx, "the board database names no images to write over SWD for %s", t->name);
        hint(ctx, "omvdev flash -t %s flashes it over USB", t->name);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (jlink && !t->jlink_device) {
        error(ctx, "%s has no J-Link device name in the board database", t->name);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if ((rc = cmd_images_dir(ctx, t->name, &bin)))
        goto out;
    n = t->nr_swd_images;
    imgs = xcalloc(n, sizeof(*imgs));
    paths = xcalloc(n, sizeof(*paths));
    for (size_t i = 0; i < n; i++) {
        const char *file = t->swd_images[i].file;
        const char *over = !strcmp(file, "firmware.bin") ? opt_value(&inv->opts, o, "firmware")
                           : !strcmp(file, "romfs0.img") ? opt_value(&inv->opts, o, "romfs")
                                                         : NULL;
        struct strbuf p = STRBUF_INIT;

        if (over)
            strbuf_addstr(&p, over);
        else
            fs_path_join(&p, bin.buf, file);
        paths[i] = strbuf_detach(&p, NULL);
        imgs[i].path = paths[i];
        imgs[i].address = t->swd_images[i].address;
        if (!fs_is_file(paths[i])) {
            error(ctx, "cannot open '%s': No such file or directory", paths[i]);
            hint(ctx, "build it first (make TARGET=%s in your openmv clone)", t->name);
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    tools_sdk_dir(ctx, &sdk);
    if (jlink) {
        if (runner_find("JLinkExe", NULL, NULL, NULL, NULL, &prog, err, sizeof(err)) < 0) {
            if (!dry) {
                rc = (tools_find(ctx, "JLinkExe", NULL, NULL, NULL, &prog), OMV_EXIT_FAILURE);
                goto out;
            }
            strbuf_addstr(&prog, "JLinkExe");
        }
        if (!dry) {
            const char *tmp = getenv("TMPDIR");

            strbuf_addf(&script_path, "%s/omvdev-jlink-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            script_fd = mkstemp(script_path.buf);
            if (script_fd < 0) {
                rc = (error(ctx, "cannot create '%s': %s", script_path.buf, strerror(errno)),
                      OMV_EXIT_FAILURE);
                goto out;
            }
        }
        if (runner_jlink_flash(&argv, &script, prog.buf, dry ? "SCRIPT" : script_path.buf,
                               t->jlink_device, (unsigned)speed, imgs, n, err, sizeof(err)) < 0) {
            rc = (error(ctx, "%s", err), OMV_EXIT_FAILURE);
            goto out;
        }
        if (!dry && (write(script_fd, script.buf, script.len) != (ssize_t)script.len)) {
            rc = (error(ctx, "cannot write '%s': %s", script_path.buf, strerror(errno)),
                  OMV_EXIT_FAILURE);
            goto out;
        }
    } else {
        if (runner_find("STM32_Programmer_CLI", sdk.buf, "stcubeprog/bin", NULL, NULL, &prog, err,
                        sizeof(err)) < 0) {
            if (!dry) {
                rc = (tools_find(ctx, "STM32_Programmer_CLI", sdk.buf, "stcubeprog/bin", NULL,
                                 &prog),
                      OMV_EXIT_FAILURE);
                goto out;
            }
            strbuf_addstr(&prog, "STM32_Programmer_CLI");
        }
        if (t->swd_loader) {
            /* The loaders ship beside the programmer: <stcubeprog>/bin/ExternalLoader/. */
            const char *slash = strrchr(prog.buf, '/');

            if (slash)
                strbuf_add(&loader, prog.buf, (size_t)(slash - prog.buf + 1));
            strbuf_addf(&loader, "ExternalLoader/%s", t->swd_loader);
            if (!dry && !fs_is_file(loader.buf)) {
                error(ctx, "cannot open '%s': No such file or directory", loader.buf);
                hint(ctx, "the external-flash loader comes with STM32CubeProgrammer in the SDK: "
                          "reinstall the SDK (make sdk in your openmv clone)");
                rc = OMV_EXIT_FAILURE;
                goto out;
            }
        }
        if (speed_s)
            note(ctx, "--speed is for J-Link; STM32_Programmer_CLI picks the ST-Link's speed");
        runner_stlink_flash(&argv, prog.buf, loader.len ? loader.buf : NULL, imgs, n);
    }
    runner_argv_render(&argv, &shown);
    if (dry) {
        struct strbuf outb = STRBUF_INIT;

        strbuf_addf(&outb, "flash %s (%s) over SWD with %s:\n  $ %s\n", t->name, t->camera,
                    jlink ? "a J-Link" : "an ST-Link", shown.buf);
        if (jlink) {
            strbuf_addstr(&outb, "  SCRIPT:\n");
            for (const char *l = script.buf; *l;) {
                const char *nl = strchr(l, '\n');

                strbuf_addf(&outb, "    %.*s\n", (int)(nl - l), l);
                l = nl + 1;
            }
        }
        out_write(outb.buf, outb.len);
        strbuf_release(&outb);
        goto out;
    }
    note(ctx, "$ %s", shown.buf);
    {
        struct proc p;
        struct proc_spec spec = {
            (const char *const *)argv.v, NULL, NULL, PROC_INHERIT, PROC_INHERIT, true, NULL, NULL};
        char st[64];
        int prc;

        memset(&p, 0, sizeof(p));
        p.out_fd = p.err_fd = -1;
        prc = proc_run(&p, &spec, timeout_s * 1000, err, sizeof(err));
        if (prc < 0) {
            error(ctx, "%s", err);
            hint(ctx, "is the probe connected to the camera and the camera powered? (--wait "
                      "SECONDS allows the tool longer)");
            rc = OMV_EXIT_DEVICE;
        } else if (!p.exited || p.exit_code) {
            error(ctx, "'%s' failed (%s)", argv.v[0], proc_status_text(&p, st, sizeof(st)));
            hint(ctx, "its output is above; check the probe's wiring and power, and try a lower "
                      "speed (--speed 1000) or the other probe");
            rc = OMV_EXIT_DEVICE;
        } else {
            note(ctx, "done: %s flashed over SWD and restarted", t->name);
        }
        proc_release(&p);
    }
out:
    if (script_fd >= 0) {
        close(script_fd);
        unlink(script_path.buf);
    }
    strbuf_release(&script_path);
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
    free(imgs);
    runner_argv_release(&argv);
    strbuf_release(&bin);
    strbuf_release(&sdk);
    strbuf_release(&prog);
    strbuf_release(&loader);
    strbuf_release(&script);
    strbuf_release(&shown);
    strbuf_release(&list);
    return rc;
}
