/*
 * omvdev flash: put a build on a camera over USB DFU with omvdev's own
 * libusb code - by alt for OpenMV cameras, by DfuSe address for Arduino
 * boards - switching a camera that runs its firmware into its bootloader
 * first, and checking everything that can be checked before touching it.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "flash/dfu.h"
#include "flash/dfuse_layout.h"
#include "flash/omvproto.h"
#include "flash/plan.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/progress.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const probe_choices[] = {"jlink", "stlink", NULL};

const struct opt flash_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: the one camera connected, or [flash] target)", NULL, OPT_CONFIG, NULL},
    {"firmware", 0, OPT_VALUE, "FILE", "flash FILE instead of the build's firmware", NULL, 0, NULL},
    {"romfs", 0, OPT_VALUE, "FILE", "flash FILE instead of the build's ROMFS image", NULL, 0, NULL},
    {"file", 0, OPT_VALUE, "FILE", "flash only FILE, to --alt N or --address A", NULL, 0, NULL},
    {"alt", 0, OPT_VALUE, "N", "with --file: the DFU alt setting", NULL, 0, NULL},
    {"address", 0, OPT_VALUE, "A", "with --file: the DfuSe address (Arduino boards)", NULL, 0,
     NULL},
    {"erase-fs", 0, OPT_FLAG, NULL,
     "also erase the internal filesystem (main.py and your files; not the SD card)", NULL, 0, NULL},
    {"no-reset", 0, OPT_FLAG, NULL, "stay in the bootloader afterwards", NULL, 0, NULL},
    {"serial", 's', OPT_VALUE, "SERIAL", "the camera with this USB serial number", NULL, 0, NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for the bootloader", NULL, OPT_CONFIG,
     "10"},
    {"verify", 0, OPT_FLAG, NULL, "read every image back and compare", NULL, 0, NULL},
    {"skip-unchanged", 0, OPT_FLAG, NULL,
     "read each partition first and skip images it already holds", NULL, 0, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "print the plan and touch nothing", NULL, 0, NULL},
    {"swd", 0, OPT_FLAG, NULL, "flash over a debug probe (SWD) instead of USB", NULL, 0, NULL},
    {"probe", 0, OPT_VALUE, "PROBE", "with --swd: jlink or stlink", probe_choices, 0, NULL},
    {"speed", 0, OPT_VALUE, "KHZ", "with --swd and a J-Link: the SWD clock in kHz", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

struct flash_run {
    struct omv_ctx *ctx;
    const struct target *t;
    struct usb_ctx *u;
    struct progress progress;
    bool verify;
    bool skip_unchanged;
};

static void progress_cb(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    progress_update(ud, phase, done, total);
}

static int parse_number(const char *s, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno || *end || v < 0 || v > max || end == s)
        return -1;
    *out = v;
    return 0;
}

/* The board a lone connected camera is, for `omvdev flash` with no -t. */
static const struct target *detect_board(struct flash_run *r)
{
    const struct target_db *db = ctx_targets(r->ctx);
    struct usb_device_info *devs = NULL;
    const struct target *found = NULL;
    size_t n = 0, count = 0;
    char err[512];

    if (usb_list(r->u, &devs, &n, err, sizeof(err)) < 0) {
        error(r->ctx, "%s", err);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct usb_id id = {devs[i].vid, devs[i].pid};
        const struct target *t = target_find_usb(db, id);

        if (t && t != found) {
            found = t;
            count++;
        }
    }
    usb_list_free(devs, n);
    if (count == 1)
        return found;
    error(r->ctx, count ? "more than one kind of camera is connected: which one?"
                        : "no camera is connected, so the board is not known");
    hint(r->ctx, "name it: omvdev flash -t OPENMV4 (see 'omvdev targets')");
    return NULL;
}

static void print_plan(const struct flash_plan *plan)
{
    struct strbuf out = STRBUF_INIT;
    char id[16];

    strbuf_addf(&out, "flash %s (%s) through %s %s:\n", plan->target->name, plan->target->camera,
                target_method_name(plan->target->method),
                usb_id_str(plan->target->dfu_usb, id, sizeof(id)));
    for (size_t i = 0; i < plan->nr; i++) {
        const struct flash_step *s = &plan->steps[i];

        strbuf_addf(&out, "  %zu. %-22s %8zu bytes", i + 1, s->label, s->len);
        if (s->alt >= 0)
            strbuf_addf(&out, "  alt %d%s%s", s->alt, s->alt_name ? " " : "",
                        s->alt_name ? s->alt_name : "");
        if (s->address >= 0)
            strbuf_addf(&out, "  at 0x%08llX", (unsigned long long)s->address);
        if (s->limit)
            strbuf_addf(&out, "  (%llu%% of %llu)", (unsigned long long)(s->len * 100 / s->limit),
                        (unsigned long long)s->limit);
        strbuf_addch(&out, '\n');
    }
    strbuf_addf(&out, "  then %s\n",
                plan->target->method == TARGET_METHOD_DFUSE ? "leave DFU and run the firmware"
                                                            : "reset into the new firmware");
    out_write(out.buf, out.len);
    strbuf_release(&out);
}

/*
 * Wait for the board's DFU device, asking a camera that runs its firmware to
 * jump into its bootloader on the way. *dev gets a copy of the device found.
 */
static int find_bootloader(struct flash_run *r, const char *serial, double wait_s,
                           struct usb_device_info **devs, size_t *nr, size_t *which)
{
    int64_t deadline = progress_now_ms() + (int64_t)(wait_s * 1000);
    bool booted = false, said = false;
    char err[512], id[16];

    for (;;) {
        size_t found = 0, app = 0, hit = 0;

        if (usb_list(r->u, devs, nr, err, sizeof(err)) < 0)
            return error(r->ctx, "%s", err), OMV_EXIT_DEVICE;
        for (size_t i = 0; i < *nr; i++) {
            const struct usb_device_info *d = &(*devs)[i];

            if (serial && (!d->serial || strcmp(d->serial, serial) != 0))
                continue;
            if (usb_id_is(r->t->dfu_usb, d->vid, d->pid) && d->dfu && !d->dfu_runtime) {
                found++;
                hit = i;
            } else if (usb_id_is(r->t->app_usb, d->vid, d->pid)) {
                app++;
            }
        }
        if (found > 1) {
            error(r->ctx, "%zu %s bootloaders are connected: which one?", found, r->t->name);
            for (size_t i = 0; i < *nr; i++)
                if (usb_id_is(r->t->dfu_usb, (*devs)[i].vid, (*devs)[i].pid))
                    hint(r->ctx, "omvdev flash --serial %s",
                         (*devs)[i].serial ? (*devs)[i].serial : "?");
            return OMV_EXIT_USAGE;
        }
        if (found == 1) {
            *which = hit;
            return 0;
        }
        if (app > 1 && !booted) {
            error(r->ctx, "%zu %s cameras are connected: which one?", app, r->t->name);
            hint(r->ctx, "omvdev flash --serial SERIAL ('omvdev devices' lists them)");
            return OMV_EXIT_USAGE;
        }
        if (app == 1 && !booted && r->t->method == TARGET_METHOD_OPENMV_DFU) {
            verbose(r->ctx, "asking the camera to jump into its bootloader (SYS_BOOT)");
            if (omvproto_enter_bootloader(r->u, r->t->app_usb.vid, r->t->app_usb.pid, serial, err,
                                          sizeof(err)) < 0)
                warning(r->ctx, "cannot switch the camera into its bootloader: %s", err);
            booted = true;
        }
        usb_list_free(*devs, *nr);
        *devs = NULL;
        if (progress_now_ms() >= deadline) {
            error(r->ctx, "no %s bootloader (%s) appeared within %g s", r->t->name,
                  usb_id_str(r->t->dfu_usb, id, sizeof(id)), wait_s);
            if (booted)
                hint(r->ctx, "the camera did not answer SYS_BOOT: unplug it and plug it in "
                             "again while omvdev waits (omvdev flash --wait 60)");
            else
                hint(r->ctx, "plug the camera in while omvdev waits (its bootloader listens "
                             "about 1.5 s after power-up): omvdev flash --wait 60");
            return OMV_EXIT_DEVICE;
        }
        if (!said && !booted) {
            note(r->ctx, "waiting up to %g s for the %s bootloader (%s)...", wait_s, r->t->name,
                 id[0] ? id : usb_id_str(r->t->dfu_usb, id, sizeof(id)));
            said = true;
        }
        /* Hotplug tells us at once; the bounded wait also covers systems without it. */
        if (usb_wait_change(r->u, 200, err, sizeof(err)) < 0) {
            struct timespec ts = {0, 200000000L};

            nanosleep(&ts, NULL);
        }
    }
}

/* The device's own alt for a step: by name, cross-checked with the database. */
static int resolve_alt(struct flash_run *r, const struct usb_device_info *d,
                       const struct flash_step *s, int *alt)
{
    if (!s->alt_name) {
        *alt = s->alt;
        if ((size_t)s->alt >= d->nr_alts)
            return error(r->ctx, "the bootloader has no alt %d (it has %zu)", s->alt, d->nr_alts),
                   OMV_EXIT_DEVICE;
        return 0;
    }
    for (size_t a = 0; a < d->nr_alts; a++) {
        if (strcmp(d->alt_names[a], s->alt_name) != 0)
            continue;
        if ((int)a != s->alt) {
            error(r->ctx, "the bootloader reports '%s' as alt %zu, the board database says alt %d",
                  s->alt_name, a, s->alt);
            hint(r->ctx,
                 "a newer or older bootloader? flash by hand with --file %s --alt %zu if "
                 "you are sure",
                 s->path ? s->path : s->label, a);
            return OMV_EXIT_DEVICE;
        }
        *alt = (int)a;
        return 0;
    }
    /* DfuSe alts are named by their memory layout; the database names them loosely. */
    if (r->t->method == TARGET_METHOD_DFUSE && (size_t)s->alt < d->nr_alts) {
        *alt = s->alt;
        return 0;
    }
    error(r->ctx, "the bootloader has no '%s' alt", s->alt_name);
    for (size_t a = 0; a < d->nr_alts; a++)
        hint(r->ctx, "alt %zu is '%s'", a, d->alt_names[a]);
    return OMV_EXIT_DEVICE;
}

static int run_step(struct flash_run *r, struct dfu_dev *dev, const struct usb_device_info *d,
                    const struct flash_step *s)
{
    struct dfu_progress p = {progress_cb, &r->progress};
    struct dfuse_layout layout = {NULL, NULL, 0};
    uint8_t *back = NULL;
    char err[512];
    int alt, rc;

    rc = resolve_alt(r, d, s, &alt);
    if (rc)
        return rc;
    rc = dev->io.set_alt(dev->io.ctx, dev->intf, (uint8_t)alt);
    if (rc < 0)
        return error(r->ctx, "cannot select alt %d: %s", alt, usb_strerror(rc)), OMV_EXIT_DEVICE;
    rc = dfu_normalise(dev, err, sizeof(err));
    progress_start(&r->progress, r->ctx->verbosity >= 0 && !r->ctx->json && isatty(2), s->label);
    if (rc == 0 && r->skip_unchanged && s->path) {
        size_t got = 0;
        int same;

        back = xmalloc(s->len);
        if (s->address >= 0)
            rc = dfuse_read(dev, (uint32_t)s->address, back, s->len, &p, err, sizeof(err));
        else
            rc = dfu_upload(dev, back, s->len, &got, &p, err, sizeof(err));
        same = rc == 0 && (s->address >= 0 || got == s->len) && !memcmp(back, s->data, s->len);
        free(back);
        back = NULL;
        if (rc == 0)
            rc = dfu_normalise(dev, err, sizeof(err));
        if (rc == 0 && same) {
            progress_end(&r->progress);
            note(r->ctx, "%s is already on the camera: skipped", s->label);
            return 0;
        }
    }
    if (rc == 0 && s->address >= 0) {
        rc = dfuse_layout_parse(&layout, d->alt_names[alt], err, sizeof(err));
        if (rc == 0)
            rc = dfuse_write(dev, &layout, (uint32_t)s->address, s->data, s->len, false, NULL, &p,
                             err, sizeof(err));
    } else if (rc == 0) {
        rc = dfu_download(dev, s->data, s->len, &p, err, sizeof(err));
    }
    if (rc == 0 && r->verify) {
        size_t got = 0;

        back = xmalloc(s->len);
        rc = dfu_normalise(dev, err, sizeof(err));
        if (rc == 0 && s->address >= 0)
            rc = dfuse_read(dev, (uint32_t)s->address, back, s->len, &p, err, sizeof(err));
        else if (rc == 0)
            rc = dfu_upload(dev, back, s->len, &got, &p, err, sizeof(err));
        if (rc == 0 && memcmp(back, s->data, s->len) != 0)
            rc = omv_seterr(err, sizeof(err), DFU_ERR_STATUS,
                            "'%s' reads back different from what was written", s->label);
    }
    progress_end(&r->progress);
    dfuse_layout_release(&layout);
    free(back);
    if (rc < 0) {
        error(r->ctx, "%s: %s", s->label, err);
        hint(r->ctx, "the bootloader was not touched: run the same command again to retry");
        return OMV_EXIT_DEVICE;
    }
    note(r->ctx, "wrote %s: %zu bytes to alt %d%s%s in %.1f s%s", s->label, s->len, alt,
         s->alt_name ? " " : "", s->alt_name ? s->alt_name : "",
         (double)(progress_now_ms() - r->progress.start_ms) / 1000, r->verify ? ", verified" : "");
    return 0;
}

int cmd_flash(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct opt *o = inv->cmd->opts;
    struct flash_run r = {ctx,
                          NULL,
                          NULL,
                          {0},
                          opt_count(&inv->opts, o, "verify") > 0,
                          opt_count(&inv->opts, o, "skip-unchanged") > 0};
    struct flash_plan_opts po = {opt_value(&inv->opts, o, "firmware"),
                                 opt_value(&inv->opts, o, "romfs"),
                                 opt_value(&inv->opts, o, "file"),
                                 -1,
                                 -1,
                                 opt_count(&inv->opts, o, "erase-fs") > 0,
                                 false};
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct usb_device_info *devs = NULL;
    struct usb_dfu *h = NULL;
    struct strbuf bin = STRBUF_INIT;
    const char *tname = opt_value(&inv->opts, o, "target");
    const char *serial = opt_value(&inv->opts, o, "serial");
    int64_t wait_s = 0, num;
    size_t nr = 0, which = 0;
    char err[1024];
    int rc = OMV_EXIT_OK;

    if (opt_count(&inv->opts, flash_opts, "swd"))
        return cmd_flash_swd(ctx, inv);
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    if (parse_number(opt_value(&inv->opts, o, "wait"), 3600, &wait_s) < 0)
        return usage_error(ctx, inv, "--wait takes whole seconds from 0 to 3600, not '%s'",
                           opt_value(&inv->opts, o, "wait"));
    if (opt_value(&inv->opts, o, "alt")) {
        if (parse_number(opt_value(&inv->opts, o, "alt"), 255, &num) < 0)
            return usage_error(ctx, inv, "--alt takes a number from 0 to 255");
        po.alt = (int)num;
    }
    if (opt_value(&inv->opts, o, "address")) {
        if (parse_number(opt_value(&inv->opts, o, "address"), UINT32_MAX, &num) < 0)
            return usage_error(ctx, inv, "--address takes an address such as 0x08040000");
        po.address = num;
    }
    if (po.file && po.alt < 0)
        return usage_error(ctx, inv, "--file needs --alt N (and --address A on Arduino boards)");
    if (!po.file && (po.alt >= 0 || po.address >= 0))
        return usage_error(ctx, inv, "--alt and --address go with --file");
    if (po.file && (po.firmware || po.romfs))
        return usage_error(ctx, inv,
                           "--file flashes one file; it cannot be combined with "
                           "--firmware or --romfs");

    if (usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        rc = (error(ctx, "%s", err), OMV_EXIT_DEVICE);
        goto out;
    }
    r.t = tname ? ctx_target(ctx, tname) : detect_board(&r);
    if (!r.t) {
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (!r.t->supported) {
        rc = (error(ctx, "%s is no longer supported by the firmware", r.t->name), OMV_EXIT_USAGE);
        goto out;
    }
    if (ctx->project_root) {
        fs_path_join(&bin, ctx->project_root, "build");
        fs_path_join(&bin, "", r.t->name);
        fs_path_join(&bin, "", "bin");
    } else {
        strbuf_addf(&bin, "build/%s/bin", r.t->name);
    }
    if (flash_plan_build(&plan, r.t, bin.buf, &po, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        if (strstr(err, "cannot open") && !po.file)
            hint(ctx,
                 "build it first (make TARGET=%s in your openmv clone), or name the files "
                 "with --firmware/--romfs",
                 r.t->name);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (opt_count(&inv->opts, o, "dry-run")) {
        print_plan(&plan);
        goto out;
    }
    rc = find_bootloader(&r, serial, (double)wait_s, &devs, &nr, &which);
    if (rc)
        goto out;
    if (usb_dfu_open(r.u, &devs[which], &h, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        if (strstr(err, "permission"))
            hint(ctx,
                 "install udev rules that give your user access to vendor %04x, or run "
                 "as root",
                 devs[which].vid);
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    {
        struct dfu_dev dev = {{0},
                              devs[which].dfu_interface,
                              devs[which].dfu_transfer_size ? devs[which].dfu_transfer_size : 2048,
                              devs[which].dfu_attributes,
                              5000};

        if (dev.transfer_size > 4096) /* the Linux usbfs limit for control transfers */
            dev.transfer_size = 4096;
        usb_dfu_io(h, &dev.io);
        {
            uint16_t v = devs[which].bcd_device;
            char ver[16];

            /* The OpenMV bootloader packs major.minor.patch into bcdDevice. */
            if (r.t->method == TARGET_METHOD_OPENMV_DFU)
                snprintf(ver, sizeof(ver), "%u.%u.%u", v >> 8, (v >> 4) & 15, v & 15);
            else
                snprintf(ver, sizeof(ver), "%x.%02x", v >> 8, v & 0xff);
            note(ctx, "flashing %s %s (bootloader %s) on port %s", r.t->name,
                 devs[which].serial ? devs[which].serial : "", ver, devs[which].port_path);
        }
        for (size_t i = 0; i < plan.nr && rc == 0; i++)
            rc = run_step(&r, &dev, &devs[which], &plan.steps[i]);
        if (rc == 0 && !opt_count(&inv->opts, o, "no-reset")) {
            if (r.t->method == TARGET_METHOD_DFUSE) {
                /* The address must lie in the selected alt's memory (internal flash). */
                if (dev.io.set_alt(dev.io.ctx, dev.intf, (uint8_t)plan.leave_alt) < 0 ||
                    dfuse_leave(&dev, plan.leave_address, err, sizeof(err)) < 0)
                    warning(ctx, "leaving DFU mode: %s", err);
            } else {
                dfu_detach(&dev, 1000, err, sizeof(err));
                usb_dfu_reset(h);
            }
            note(ctx, "done: %s restarts into the new firmware", r.t->name);
        } else if (rc == 0) {
            note(ctx, "done: the camera stays in its bootloader (--no-reset)");
        }
    }
out:
    usb_dfu_close(h);
    usb_list_free(devs, nr);
    usb_close_ctx(r.u);
    flash_plan_release(&plan);
    strbuf_release(&bin);
    return rc;
}
