/*
 * omvdev flash: put a build on a camera over USB DFU with omvdev's own
 * libusb code - by alt for OpenMV cameras, by DfuSe address for Arduino
 * boards and the ST system bootloader - switching a camera that runs its
 * firmware into its bootloader first, and checking everything that can be
 * checked before touching it. With --all, every matching camera at once,
 * one thread each.
 */
#include "lib/compat.h"
#include "cmd/flash_run.h"
#include "cmd/monitor.h"

#include "cmd/buildcmd.h"

#include "flash/dfu.h"
#include "flash/find.h"
#include "flash/plan.h"
#include "flash/session.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/progress.h"
#include "lib/strbuf.h"
#include "lib/term.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const probe_choices[] = {"jlink", "stlink", "cmsis-dap", NULL};
static const char *const server_choices[] = {"openocd", "st", NULL};

const struct opt flash_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: the one camera connected, or [flash] target)", NULL, OPT_CONFIG, NULL},
    {"firmware", 0, OPT_VALUE, "FILE", "flash FILE instead of the build's firmware", NULL, 0, NULL},
    {"romfs", 0, OPT_VALUE, "FILE", "flash FILE instead of the build's ROMFS image", NULL, 0, NULL},
    {"file", 0, OPT_VALUE, "FILE",
     "flash only FILE: to --alt N or --address A, or a .dfu file (DfuSe files carry addresses)",
     NULL, 0, NULL},
    {"alt", 0, OPT_VALUE, "N", "with --file: the DFU alt setting", NULL, 0, NULL},
    {"address", 0, OPT_VALUE, "A",
     "with --file: the DfuSe address (Arduino boards; on STM32 cameras through the ST system "
     "bootloader)",
     NULL, 0, NULL},
    {"erase-fs", 0, OPT_FLAG, NULL,
     "also erase the internal filesystem (main.py and your files; not the SD card)", NULL, 0, NULL},
    {"no-reset", 0, OPT_FLAG, NULL, "stay in the bootloader afterwards", NULL, 0, NULL},
    {"serial", 's', OPT_VALUE, "SERIAL", "the camera with this USB serial number", NULL, 0, NULL},
    {"all", 'a', OPT_FLAG, NULL, "flash every matching camera at once", NULL, 0, NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for the bootloader", NULL, OPT_CONFIG,
     "10"},
    {"verify", 0, OPT_FLAG, NULL, "read every image back and compare", NULL, 0, NULL},
    {"skip-unchanged", 0, OPT_FLAG, NULL,
     "read each partition first; skip images (and erase units) it already holds", NULL, 0, NULL},
    {"mass-erase", 0, OPT_FLAG, NULL,
     "ST system bootloader only: erase the whole chip (bootloader and filesystem too) first", NULL,
     0, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "print the plan and touch nothing", NULL, 0, NULL},
    {"swd", 0, OPT_FLAG, NULL, "flash over a debug probe (SWD) instead of USB", NULL, 0, NULL},
    {"probe", 0, OPT_VALUE, "PROBE", "with --swd: the debug probe (config debug.probe)",
     probe_choices, 0, NULL},
    {"speed", 0, OPT_VALUE, "KHZ", "with --swd and a J-Link or OpenOCD: the SWD clock in kHz", NULL,
     0, NULL},
    {"server", 0, OPT_VALUE, "TOOL",
     "with --swd --probe stlink: STM32_Programmer_CLI (default) or OpenOCD", server_choices, 0,
     NULL},
    {"monitor", 0, OPT_FLAG, NULL, "then be the camera's console when its firmware is up", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/*
 * Set by SIGINT/SIGTERM to the signal's number while devices are flashed: the
 * one piece of mutable state a signal handler may touch. The sessions stop at
 * their next safe point when it is set.
 */
static volatile sig_atomic_t flash_signal;

/* ---- finding the devices -------------------------------------------------------- */

/* The board a lone connected camera is, for `omvdev flash` with no -t. */
static const struct target *detect_board(struct omv_ctx *ctx, struct usb_ctx *u)
{
    const struct target_db *db = ctx_targets(ctx);
    struct usb_device_info *devs = NULL;
    const struct target *found = NULL;
    size_t n = 0, count = 0;
    char err[512];

    if (usb_list(u, &devs, &n, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
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
    error(ctx, count ? "more than one kind of camera is connected: which one?"
                     : "no camera is connected, so the board is not known");
    hint(ctx, "name it: omvdev flash -t OPENMV4 (see 'omvdev targets')");
    return NULL;
}

static void find_waiting(void *ud)
{
    struct flash_run *r = ud;
    char id[16];

    note(r->ctx, "waiting up to %llu s for the %s %s (%s)...", (unsigned long long)r->opt->wait_s,
         r->t->name, r->rom ? "ST system bootloader" : "bootloader",
         usb_id_str(r->usb, id, sizeof(id)));
}

static void find_asked(void *ud, const char *who, const char *err)
{
    struct flash_run *r = ud;

    verbose(r->ctx, "asking camera %s to jump into its bootloader (SYS_BOOT)", who);
    if (err)
        warning(r->ctx, "cannot switch camera %s into its bootloader: %s", who, err);
}

static int none_appeared(struct flash_run *r, const struct flash_find *f)
{
    char id[16];

    error(r->ctx, "no %s %s (%s) appeared within %llu s", r->t->name,
          r->rom ? "ST system bootloader" : "bootloader", usb_id_str(r->usb, id, sizeof(id)),
          (unsigned long long)r->opt->wait_s);
    if (r->rom)
        hint(r->ctx, "put the BOOT jumper on (BOOT to 3.3V/RST, see 'omvdev recover "
                     "--dry-run'), then plug the camera in while omvdev waits");
    else if (f->asked_n)
        hint(r->ctx, "the camera did not answer SYS_BOOT: unplug it and plug it in "
                     "again while omvdev waits (omvdev flash --wait 60)");
    else
        hint(r->ctx, "plug the camera in while omvdev waits (its bootloader listens "
                     "about 1.5 s after power-up): omvdev flash --wait 60");
    return OMV_EXIT_DEVICE;
}

/* What finding the devices came to: 0 when there are devices to flash, else the exit
 * status after saying why not. */
static int report_find(struct flash_run *r, const struct flash_find *f)
{
    switch (f->result) {
    case FLASH_FOUND_SOME:
        warning(r->ctx, "only %zu of %zu cameras reached the bootloader within %llu s", f->back,
                f->asked_n, (unsigned long long)r->opt->wait_s);
        return 0;
    case FLASH_FOUND:
        return 0;
    case FLASH_FIND_SEVERAL:
        error(r->ctx, "%zu %s %s are connected: which one?", f->found, r->t->name,
              r->rom ? "ST system bootloaders" : "bootloaders");
        for (size_t i = 0; i < f->nr; i++)
            if (flash_find_is_dfu(&f->devs[i], r->usb))
                hint(r->ctx, "omvdev flash --serial %s",
                     f->devs[i].serial ? f->devs[i].serial : "?");
        hint(r->ctx, "or flash them all at once: omvdev flash --all");
        return OMV_EXIT_USAGE;
    case FLASH_FIND_SEVERAL_APPS:
        error(r->ctx, "%zu %s cameras are connected: which one?", f->apps, r->t->name);
        hint(r->ctx, "omvdev flash --serial SERIAL ('omvdev devices' lists them), or "
                     "omvdev flash --all");
        return OMV_EXIT_USAGE;
    case FLASH_FIND_TOO_MANY:
        error(r->ctx, "more than %d devices: flash them in groups", FLASH_FIND_MAX);
        return OMV_EXIT_USAGE;
    case FLASH_FIND_NONE:
        return none_appeared(r, f);
    case FLASH_FIND_INTERRUPTED:
        error(r->ctx, "interrupted while waiting for the bootloader: nothing was written");
        return 128 + (int)flash_signal;
    }
    return OMV_EXIT_FAILURE;
}

/* ---- one device ------------------------------------------------------------------ */

/* Open the device; under --all with its own libusb context, so that no device's
 * transfers wait on another's event handling. */
static int job_open(struct flash_job *j, struct dfu_dev *dev)
{
    struct dfu_io io;
    int rc;

    if (j->r->nr_jobs > 1) {
        rc = usb_open_ctx(&j->u, j->err, sizeof(j->err));
        if (rc < 0)
            return rc;
    }
    rc = usb_dfu_open(j->u ? j->u : j->r->u, j->d, &j->h, j->err, sizeof(j->err));
    if (rc < 0)
        return rc;
    usb_dfu_io(j->h, &io);
    flash_session_dev(dev, j->d, &io);
    return 0;
}

/* The exit status a job's outcome calls for: 128 + the signal after Ctrl-C, as a shell
 * reports a command the signal ended; otherwise by the code's class. */
static int job_status(const struct flash_job *j)
{
    if (j->code == OMV_EINTR)
        return 128 + (flash_signal ? (int)flash_signal : SIGINT);
    if (j->code)
        return exit_status_for(j->code);
    if (j->out.leave == FLASH_LEAVE_FAILED)
        return exit_status_for(OMV_EDEVICE);
    return OMV_EXIT_OK;
}

/* Everything for one device; the outcome goes into the job. */
static void *job_main(void *arg)
{
    struct flash_job *j = arg;
    struct flash_run *r = j->r;
    struct flash_session_hooks hooks = flash_show_hooks;
    struct dfu_dev dev;

    hooks.ud = j;
    j->start_ms = progress_now_ms();
    j->open_rc = job_open(j, &dev);
    j->code = j->open_rc ? OMV_EDEVICE : 0;
    if (j->code == 0)
        j->code = flash_session_run(r->plan, &r->sopts, j->d, &dev, &hooks, &j->out, j->err,
                                    sizeof(j->err));
    if (j->out.rev_v)
        flash_job_say(j,
                      "recovered %u stuck erase%s of STM32H7 Rev V silicon (CLRSTATUS, then "
                      "checked as erased)",
                      j->out.rev_v, j->out.rev_v == 1 ? "" : "s");
    j->status = job_status(j);
    usb_dfu_close(j->h);
    j->h = NULL;
    usb_close_ctx(j->u);
    j->u = NULL;
    j->end_ms = progress_now_ms();
    return NULL;
}

/* ---- the command ------------------------------------------------------------------ */

static bool is_dfu_file(const char *path)
{
    size_t n = strlen(path);

    return n > 4 && !strcasecmp(path + n - 4, ".dfu");
}

/* Read every option once and check what needs no device; 0 or an exit status. */
static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct flash_options *fo)
{
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *res = &inv->opts;
    const char *alt = opt_value(res, o, "alt"), *address = opt_value(res, o, "address");
    struct flash_plan_opts *po = &fo->plan;
    uint64_t num;
    char err[256];

    memset(fo, 0, sizeof(*fo));
    fo->target = opt_value(res, o, "target");
    fo->serial = opt_value(res, o, "serial");
    po->firmware = opt_value(res, o, "firmware");
    po->romfs = opt_value(res, o, "romfs");
    po->file = opt_value(res, o, "file");
    po->alt = -1;
    po->address = -1;
    po->erase_fs = opt_count(res, o, "erase-fs") > 0;
    fo->wait_given = opt_count(res, o, "wait") > 0;
    fo->all = opt_count(res, o, "all") > 0;
    fo->verify = opt_count(res, o, "verify") > 0;
    fo->skip_unchanged = opt_count(res, o, "skip-unchanged") > 0;
    fo->mass_erase = opt_count(res, o, "mass-erase") > 0;
    fo->no_reset = opt_count(res, o, "no-reset") > 0;
    fo->dry_run = opt_count(res, o, "dry-run") > 0;
    fo->swd = opt_count(res, o, "swd") > 0;
    fo->monitor = opt_count(res, o, "monitor") > 0;

    if (fo->swd)
        return 0; /* cmd_flash_swd() reads its own options */
    if (res->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", res->args[0]);
    if (cmd_number(inv, "wait", &fo->wait_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (cmd_number(inv, "alt", &num, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (alt)
        po->alt = (int)num;
    if (cmd_number(inv, "address", &num, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (address)
        po->address = (int64_t)num;
    if (po->file && po->alt < 0 && po->address < 0 && !is_dfu_file(po->file))
        return usage_error(ctx, inv,
                           "--file needs --alt N (or --address A), unless it is a "
                           ".dfu file");
    if (!po->file && (po->alt >= 0 || po->address >= 0))
        return usage_error(ctx, inv, "--alt and --address go with --file");
    if (po->file && (po->firmware || po->romfs))
        return usage_error(ctx, inv,
                           "--file flashes one file; it cannot be combined with "
                           "--firmware or --romfs");
    if (fo->all && fo->serial)
        return usage_error(ctx, inv, "--all and --serial exclude each other");
    if (fo->mass_erase && !po->file)
        return usage_error(ctx, inv,
                           "--mass-erase erases the bootloader too: it goes with --file "
                           "(a whole-chip image such as openmv.bin --address 0x08000000)");
    return 0;
}
/* The board: -t, else the one kind of camera connected. NULL after an error. */
static const struct target *resolve_board(struct flash_run *r)
{
    struct omv_ctx *ctx = r->ctx;
    const struct target *t;
    char err[512];
    int rc;

    if (!r->opt->target) {
        rc = usb_open_ctx(&r->u, err, sizeof(err));
        if (rc < 0) {
            error(ctx, "%s", err);
            return NULL;
        }
    }
    t = r->opt->target ? ctx_target(ctx, r->opt->target) : detect_board(ctx, r->u);
    if (t && !t->supported) {
        error(ctx, "%s is no longer supported by the firmware", t->name);
        return NULL;
    }
    return t;
}

/* Build and check the plan; decide the way to the device. 0 or an exit status. */
static int prepare(struct flash_run *r, struct flash_plan *plan, const char *bin_dir)
{
    struct omv_ctx *ctx = r->ctx;
    const struct flash_options *fo = r->opt;
    char err[1024];
    int rc = flash_plan_build(plan, r->t, bin_dir, &fo->plan, err, sizeof(err));

    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT && !fo->plan.file)
            hint(ctx,
                 "build it first (make TARGET=%s in your openmv clone), or name the files "
                 "with --firmware/--romfs",
                 r->t->name);
        else if (rc == OMV_EUSAGE || rc == OMV_EINVAL)
            hint(ctx, "nothing was touched; 'omvdev targets show %s' lists its memories",
                 r->t->name);
        return exit_status_for(rc);
    }
    r->plan = plan;
    r->rom = plan->needs_rom || (fo->mass_erase && r->t->method == TARGET_METHOD_OPENMV_DFU);
    r->usb = r->rom ? r->t->recovery_usb : r->t->dfu_usb;
    r->sopts = (struct flash_session_opts){r->rom || r->t->method == TARGET_METHOD_DFUSE,
                                           r->rom,
                                           fo->verify,
                                           fo->skip_unchanged,
                                           fo->mass_erase,
                                           fo->no_reset,
                                           &flash_signal};
    if (r->rom && r->t->recovery != TARGET_RECOVERY_STM32_ROM_DFU) {
        error(ctx, "%s's bootloader is addressed by alt, and its ROM bootloader is not DfuSe",
              r->t->name);
        hint(ctx,
             "flash by alt (omvdev flash --file F --alt N), or see 'omvdev recover "
             "--dry-run -t %s'",
             r->t->name);
        return OMV_EXIT_USAGE;
    }
    if (fo->mass_erase && !r->rom) {
        error(ctx, "--mass-erase would erase %s's factory bootloader, which omvdev cannot restore",
              r->t->name);
        hint(ctx, "flash without it: the pages written are erased first anyway");
        return OMV_EXIT_USAGE;
    }
    if (r->rom)
        note(ctx,
             "writing by address: this goes through the ST system bootloader (%04X:%04X, "
             "BOOT jumper), not the OpenMV bootloader",
             r->usb.vid, r->usb.pid);
    if (fo->mass_erase)
        warning(ctx, "--mass-erase: the whole chip is erased, the OpenMV bootloader and the "
                     "filesystem too");
    return 0;
}

/* One job per device found; say which. */
static void make_jobs(struct flash_run *r, const struct usb_device_info *devs, const size_t *picked,
                      size_t nr_picked)
{
    r->nr_jobs = nr_picked;
    r->jobs = xcalloc(nr_picked, sizeof(*r->jobs));
    r->show = flash_choose_show(r->ctx, nr_picked);
    for (size_t i = 0; i < nr_picked; i++) {
        struct flash_job *j = &r->jobs[i];
        const struct usb_device_info *d = &devs[picked[i]];
        struct strbuf safe = STRBUF_INIT;
        uint16_t v = d->bcd_device;
        char ver[16];

        j->r = r;
        j->d = d;
        /* The serial is a device string: escaped here, as the progress lines print it raw. */
        snprintf(j->name, sizeof(j->name), "%s",
                 term_safe(&safe, d->serial && *d->serial ? d->serial : d->port_path));
        strbuf_release(&safe);
        /* The OpenMV bootloader packs major.minor.patch into bcdDevice. */
        if (!r->rom && r->t->method == TARGET_METHOD_OPENMV_DFU)
            snprintf(ver, sizeof(ver), "%u.%u.%u", v >> 8, (v >> 4) & 15, v & 15);
        else
            snprintf(ver, sizeof(ver), "%x.%02x", v >> 8, v & 0xff);
        note(r->ctx, "flashing %s %s (%s %s) on port %s", r->t->name, d->serial ? d->serial : "",
             r->rom ? "ST system bootloader" : "bootloader", ver, d->port_path);
    }
}

/* Every job: on this thread for one device, a thread each for several. */
static void run_jobs(struct flash_run *r)
{
    size_t started = 0;

    if (r->nr_jobs == 1) {
        job_main(&r->jobs[0]);
        return;
    }
    if (r->show == SHOW_BOARD)
        flash_board_draw(r, true);
    for (; started < r->nr_jobs; started++)
        if (pthread_create(&r->jobs[started].thread, NULL, job_main, &r->jobs[started]) != 0)
            break;
    for (size_t i = started; i < r->nr_jobs; i++) /* no thread: run it here */
        job_main(&r->jobs[i]);
    for (size_t i = 0; i < started; i++)
        pthread_join(r->jobs[i].thread, NULL);
    if (r->show == SHOW_BOARD)
        flash_board_draw(r, true);
}

/* Report every job; the exit status of the run. */
static int finish(struct flash_run *r)
{
    int rc = OMV_EXIT_OK;

    for (size_t i = 0; i < r->nr_jobs; i++) {
        if (r->jobs[i].status) {
            flash_report_failure(r, &r->jobs[i]);
            rc = r->jobs[i].status;
        }
    }
    flash_print_summary(r);
    if (rc == OMV_EXIT_OK && r->nr_jobs == 1) {
        if (r->sopts.no_reset)
            note(r->ctx, "done: the camera stays in its bootloader (--no-reset)");
        else if (r->rom)
            note(r->ctx, "done: remove the BOOT jumper and replug the camera");
        else
            note(r->ctx, "done: %s restarts into the new firmware", r->t->name);
    }
    return rc;
}

/* Find the devices and flash them, with Ctrl-C caught so each session can stop safely. */
static int flash_devices(struct flash_run *r)
{
    struct cmd_interrupts ci;
    /* Cameras in their firmware count only where SYS_BOOT can move them. */
    bool can_boot = r->t->method == TARGET_METHOD_OPENMV_DFU && !r->rom;
    struct flash_find f;
    char err[512];
    int rc;

    memset(&f, 0, sizeof(f));
    f.u = r->u;
    f.dfu = r->usb;
    if (can_boot)
        f.app = r->t->app_usb;
    f.serial = r->opt->serial;
    f.all = r->opt->all;
    f.wait_s = r->opt->wait_s;
    f.cancel = &flash_signal;
    f.ud = r;
    f.waiting = find_waiting;
    f.asked = find_asked;
    cmd_interrupts_catch(&ci, &flash_signal);
    rc = flash_find_devices(&f, err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
    } else {
        rc = report_find(r, &f);
    }
    if (rc == 0) {
        make_jobs(r, f.devs, f.picked, f.nr_picked);
        run_jobs(r);
        r->signal = (int)flash_signal;
        rc = finish(r);
    }
    cmd_interrupts_restore(&ci);
    flash_find_release(&f);
    return rc;
}

int cmd_flash(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct flash_options fo;
    struct flash_run r;
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct strbuf bin = STRBUF_INIT;
    char *monitor_serial = NULL;
    char err[512];
    int rc;

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.opt = &fo;
    pthread_mutex_init(&r.lock, NULL);
    rc = read_options(ctx, inv, &fo);
    if (rc == 0 && fo.monitor && (fo.all || fo.no_reset || fo.swd))
        rc = usage_error(ctx, inv, "--monitor follows one camera into its firmware: not with %s",
                         fo.all        ? "--all"
                         : fo.no_reset ? "--no-reset"
                                       : "--swd");
    /* An external tool's output on stdout is not JSON: refuse rather than print text. */
    if (rc == 0 && fo.swd && ctx->json)
        rc = usage_error(ctx, inv,
                         "--json does not go with --swd (the probe tool prints its own output)");
    else if (rc == 0 && fo.swd)
        rc = cmd_flash_swd(ctx, inv);
    if (rc || fo.swd)
        goto out;
    if (!ctx_targets(ctx)) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    r.t = resolve_board(&r);
    if (!r.t) {
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    rc = cmd_images_dir(ctx, r.t->name, &bin);
    if (rc)
        goto out;
    if ((r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL) &&
        ctx->json) {
        rc = usage_error(ctx, inv,
                         "--json does not go with %s, which is flashed by an external tool that "
                         "prints its own output",
                         r.t->name);
        goto out;
    }
    if (r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL)
        rc = flash_with_tool(ctx, inv, &fo, r.t, bin.buf);
    else
        rc = prepare(&r, &plan, bin.buf);
    if (rc || r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL)
        goto out;
    if (fo.dry_run)
        flash_print_plan(&r);
    else if (!r.u && usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
    } else {
        rc = flash_devices(&r);
    }
    if (rc == OMV_EXIT_OK && fo.monitor && !fo.dry_run && !r.rom && r.nr_jobs == 1)
        monitor_serial = xstrdup(r.jobs[0].name);
out:
    free(r.jobs);
    usb_close_ctx(r.u);
    flash_plan_release(&plan);
    strbuf_release(&bin);
    pthread_mutex_destroy(&r.lock);
    if (monitor_serial)
        rc = monitor_camera(ctx, r.t->name, monitor_serial, (int)fo.wait_s);
    free(monitor_serial);
    return rc;
}
