/*
 * The Nano boards are not DFU devices: the Nano 33 BLE Sense takes bossac (its
 * bootloader after a double-tap of RESET), the Nano RP2040 Connect picotool
 * (BOOTSEL). `omvdev flash` runs the tool with the board's image and address.
 */
#include "lib/compat.h"
#include "cmd/flash_run.h"

#include "flash/runners.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "lib/strbuf.h"

/* Run bossac or picotool (argument vector a); OMV_EXIT_*. */
static int run_tool(struct omv_ctx *ctx, const struct target *t, const struct runner_argv *a,
                    const char *tool, uint64_t wait_s)
{
    struct proc_spec spec = {
        (const char *const *)a->v, NULL, NULL, PROC_INHERIT, PROC_INHERIT, true, NULL, NULL};
    struct proc p;
    char err[512], status[64];
    int rc = OMV_EXIT_OK, prc;

    note(ctx, "%s",
         t->method == TARGET_METHOD_BOSSAC ? "double-tap RESET first: the bootloader's LED pulses"
                                           : "hold BOOTSEL while plugging the board in first");
    prc = proc_run(&p, &spec, (int)wait_s * 1000, err, sizeof(err));
    if (prc < 0) {
        error(ctx, "%s", err);
        /* proc_run() reports a program that outlived --wait as OMV_ETIMEOUT. */
        rc = prc == OMV_ETIMEOUT ? OMV_EXIT_DEVICE : exit_status_for(prc);
    } else if (!p.exited || p.exit_code != 0) {
        error(ctx, "%s failed (%s)", tool, proc_status_text(&p, status, sizeof(status)));
        hint(ctx, "%s",
             t->method == TARGET_METHOD_BOSSAC
                 ? "double-tap RESET so the board waits in its bootloader, then run the "
                   "same command again"
                 : "unplug the board, hold BOOTSEL while plugging it in, then run the same "
                   "command again");
        rc = OMV_EXIT_DEVICE;
    } else {
        note(ctx, "done: %s flashed with %s", t->name, tool);
    }
    proc_release(&p);
    return rc;
}

/*
 * The Nano boards are not DFU devices: the Nano 33 BLE Sense takes bossac (its
 * bootloader after a double-tap of RESET), the Nano RP2040 Connect picotool
 * (BOOTSEL). omvdev runs the tool with the board's image and address.
 */
int flash_with_tool(struct omv_ctx *ctx, struct omv_invocation *inv, const struct flash_options *fo,
                    const struct target *t, const char *bin_dir)
{
    const char *tool = t->method == TARGET_METHOD_BOSSAC ? "bossac" : "picotool";
    struct runner_argv a = RUNNER_ARGV_INIT;
    struct strbuf file = STRBUF_INIT, prog = STRBUF_INIT, line = STRBUF_INIT;
    const struct target_image *im = t->nr_images ? &t->images[0] : NULL;
    int rc = OMV_EXIT_OK;

    if (!im) {
        error(ctx, "the board database has no image for %s", t->name);
        return OMV_EXIT_FAILURE;
    }
    if (fo->plan.file || fo->plan.romfs || fo->plan.erase_fs || fo->all || fo->mass_erase ||
        fo->skip_unchanged || fo->verify)
        return usage_error(ctx, inv,
                           "%s is flashed with %s: only --firmware, --wait and --dry-run apply",
                           t->name, tool);
    /* --wait, given on the command line, bounds how long the tool may take. */
    if (fo->wait_given && fo->wait_s < 1)
        return usage_error(ctx, inv, "--wait takes whole seconds from 1 to 3600 for %s", tool);
    if (fo->plan.firmware)
        strbuf_addstr(&file, fo->plan.firmware);
    else
        fs_path_join(&file, bin_dir, im->file);
    if (!fs_is_file(file.buf)) {
        error(ctx, "cannot open '%s': No such file or directory", file.buf);
        hint(ctx, "build it first (omvdev build -t %s), or name the file with --firmware", t->name);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (fo->dry_run) {
        strbuf_addstr(&prog, tool);
    } else if (tools_find(ctx, tool, NULL, NULL, NULL, &prog) < 0) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (t->method == TARGET_METHOD_BOSSAC)
        runner_bossac(&a, prog.buf, NULL, im->address >= 0 ? (uint32_t)im->address : 0, file.buf);
    else
        runner_picotool(&a, prog.buf, file.buf);
    for (size_t i = 0; i < a.n; i++)
        strbuf_addf(&line, "%s%s", i ? " " : "", a.v[i]);
    if (fo->dry_run) {
        strbuf_addch(&line, '\n');
        out_write(line.buf, line.len);
        goto out;
    }
    verbose(ctx, "running %s", line.buf);
    rc = run_tool(ctx, t, &a, tool, fo->wait_given ? fo->wait_s : 300);
out:
    runner_argv_release(&a);
    strbuf_release(&file);
    strbuf_release(&prog);
    strbuf_release(&line);
    return rc;
}
