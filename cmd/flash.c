/*
 * omvdev flash: put a build on a camera over USB DFU with omvdev's own
 * libusb code - by alt for OpenMV cameras, by DfuSe address for Arduino
 * boards and the ST system bootloader - switching a camera that runs its
 * firmware into its bootloader first, and checking everything that can be
 * checked before touching it. With --all, every matching camera at once,
 * one thread each.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "flash/dfu.h"
#include "flash/find.h"
#include "flash/plan.h"
#include "flash/runners.h"
#include "flash/session.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/proc.h"
#include "lib/progress.h"
#include "lib/strbuf.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *const probe_choices[] = {"jlink", "stlink", NULL};

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
    {"probe", 0, OPT_VALUE, "PROBE", "with --swd: jlink or stlink", probe_choices, 0, NULL},
    {"speed", 0, OPT_VALUE, "KHZ", "with --swd and a J-Link: the SWD clock in kHz", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* How progress is shown: decided once, from the terminal and the options. */
enum show {
    SHOW_NONE,  /* -q, or not a terminal without -v */
    SHOW_BAR,   /* one device on a terminal: lib/progress */
    SHOW_BOARD, /* several devices on a terminal: a line each, redrawn */
    SHOW_LINES, /* not a terminal, -v: a line per device and phase at each 10 % */
    SHOW_JSON,  /* --json: newline-delimited events on stdout */
};

struct flash_job;
struct flash_job;

/* The options of one `omvdev flash`, read once by read_options(). */
struct flash_options {
    const char *target, *serial;
    struct flash_plan_opts plan; /* --firmware, --romfs, --file, --alt, --address, --erase-fs */
    uint64_t wait_s;
    bool wait_given; /* --wait on the command line, not from the default or config */
    bool all, verify, skip_unchanged, mass_erase, no_reset, dry_run, swd;
};

/* One `omvdev flash`: what every device gets. */
struct flash_run {
    struct omv_ctx *ctx;
    const struct flash_options *opt;
    const struct target *t;
    const struct flash_plan *plan;
    struct flash_session_opts sopts;
    struct usb_ctx *u;
    struct usb_id usb; /* the DFU device: the board's bootloader or the ST ROM */
    bool rom;          /* through the ST system bootloader */
    enum show show;
    pthread_mutex_t lock; /* the display and stdout/stderr, shared by the jobs */
    struct progress bar;
    struct flash_job *jobs;
    size_t nr_jobs;
    int64_t drawn_ms;
    bool board_drawn;
};

/* One device being flashed, by its own thread under --all. */
struct flash_job {
    struct flash_run *r;
    const struct usb_device_info *d;
    char name[64];     /* serial, else the USB port */
    struct usb_ctx *u; /* its own context under --all, else NULL */
    struct usb_dfu *h;
    pthread_t thread;
    /* progress, under r->lock */
    const char *step, *phase;
    uint64_t done, total;
    int64_t phase_ms, event_ms;
    int tenth;
    /* outcome */
    int open_rc; /* 0 or the USB_ERR_* / omv_err code of opening the device */
    int code;    /* 0 or the omv_err of the failure: OMV_EUSAGE, OMV_EDEVICE, OMV_EINTR */
    int status;  /* the exit status it calls for: OMV_EXIT_* */
    char err[640];
    struct flash_outcome out;
    int64_t start_ms, end_ms;
};

/*
 * Set by SIGINT/SIGTERM to the signal's number while devices are flashed: the
 * one piece of mutable state a signal handler may touch. The sessions stop at
 * their next safe point when it is set.
 */
static volatile sig_atomic_t flash_signal;

static void on_signal(int sig)
{
    flash_signal = sig;
}

/* ---- display ------------------------------------------------------------------ */

static void json_event(struct flash_job *j, const char *event, struct json_writer *jw,
                       struct strbuf *sb)
{
    json_init(jw, sb);
    jw->compact = true;
    json_object_begin(jw, NULL);
    json_int(jw, "schema", 1);
    json_string(jw, "event", event);
    json_string(jw, "device", j->name);
}

/* Write a finished event line; the caller holds the lock. */
static void json_emit(struct json_writer *jw, struct strbuf *sb)
{
    json_object_end(jw);
    out_write(sb->buf, sb->len);
    fflush(stdout);
    strbuf_release(sb);
}

static void board_line(struct strbuf *out, const struct flash_job *j, int64_t now)
{
    double secs = (double)(now - j->phase_ms) / 1000, rate = secs > 0 ? (double)j->done / secs : 0;

    strbuf_addf(out, "\r%-16.16s ", j->name);
    if (j->status || j->end_ms) {
        strbuf_addstr(out, j->status ? "failed" : "done");
    } else if (j->phase) {
        strbuf_addf(out, "%-18.18s %-6s %3u%%  %7.1f KiB/s", j->step, j->phase,
                    j->total ? (unsigned)(j->done * 100 / j->total) : 100, rate / 1024);
        if (rate > 0 && j->done < j->total)
            strbuf_addf(out, "  ETA %.0f s", (double)(j->total - j->done) / rate);
    } else {
        strbuf_addstr(out, "starting");
    }
    strbuf_addstr(out, "\033[K\n");
}

/* Redraw the lines of every device; the caller holds the lock. */
static void board_draw(struct flash_run *r, bool force)
{
    struct strbuf out = STRBUF_INIT;
    int64_t now = progress_now_ms();

    if (!force && now - r->drawn_ms < 100)
        return;
    r->drawn_ms = now;
    if (r->board_drawn)
        strbuf_addf(&out, "\033[%zuA", r->nr_jobs);
    for (size_t i = 0; i < r->nr_jobs; i++)
        board_line(&out, &r->jobs[i], now);
    r->board_drawn = true;
    if (write(2, out.buf, out.len) < 0)
        r->show = SHOW_NONE;
    strbuf_release(&out);
}

/* Say something about one device: a plain note with one device, else prefixed. */
static void job_say(struct flash_job *j, const char *fmt, ...) OMV_PRINTF(2, 3);
static void job_say(struct flash_job *j, const char *fmt, ...)
{
    struct flash_run *r = j->r;
    struct strbuf msg = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->lock);
    if (r->show == SHOW_BAR)
        progress_end(&r->bar);
    if (r->show == SHOW_BOARD && r->board_drawn) {
        /* Take the board away, print the note where it was, draw it again below. */
        char up[32];
        int n = snprintf(up, sizeof(up), "\033[%zuA\r\033[J", r->nr_jobs);

        if (write(2, up, (size_t)n) < 0)
            r->show = SHOW_NONE;
        r->board_drawn = false;
    }
    if (r->nr_jobs > 1)
        note(r->ctx, "%s: %s", j->name, msg.buf);
    else
        note(r->ctx, "%s", msg.buf);
    if (r->show == SHOW_BOARD)
        board_draw(r, true);
    pthread_mutex_unlock(&r->lock);
    strbuf_release(&msg);
}

static void job_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    struct flash_job *j = ud;
    struct flash_run *r = j->r;
    int64_t now = progress_now_ms();
    bool new_phase = !j->phase || strcmp(j->phase, phase) != 0;
    int tenth = total ? (int)(done * 10 / total) : 10;

    pthread_mutex_lock(&r->lock);
    if (new_phase) {
        j->phase = phase;
        j->phase_ms = now;
        j->tenth = -1;
    }
    j->done = done;
    j->total = total;
    switch (r->show) {
    case SHOW_BAR:
        progress_update(&r->bar, phase, done, total);
        break;
    case SHOW_BOARD:
        board_draw(r, false);
        break;
    case SHOW_LINES:
        if (tenth != j->tenth) {
            double secs = (double)(now - j->phase_ms) / 1000;

            j->tenth = tenth;
            fprintf(stderr, "omvdev: %s%s%s %s %3d%%  %llu of %llu bytes  %.1f KiB/s\n",
                    r->nr_jobs > 1 ? j->name : "", r->nr_jobs > 1 ? ": " : "", j->step, phase,
                    tenth * 10, (unsigned long long)done, (unsigned long long)total,
                    secs > 0 ? (double)done / secs / 1024 : 0.0);
        }
        break;
    case SHOW_JSON:
        if (new_phase || done >= total || now - j->event_ms >= 100) {
            struct strbuf sb = STRBUF_INIT;
            struct json_writer jw;
            double secs = (double)(now - j->phase_ms) / 1000;

            j->event_ms = now;
            json_event(j, "progress", &jw, &sb);
            json_string(&jw, "step", j->step);
            json_string(&jw, "phase", phase);
            json_int(&jw, "done", (int64_t)done);
            json_int(&jw, "total", (int64_t)total);
            json_int(&jw, "bytes_per_second", secs > 0 ? (int64_t)((double)done / secs) : 0);
            json_emit(&jw, &sb);
        }
        break;
    case SHOW_NONE:
        break;
    }
    pthread_mutex_unlock(&r->lock);
}

static void job_step_begin(struct flash_job *j, const char *label)
{
    struct flash_run *r = j->r;

    pthread_mutex_lock(&r->lock);
    j->step = label;
    j->phase = NULL;
    if (r->show == SHOW_BAR)
        progress_start(&r->bar, true, label);
    pthread_mutex_unlock(&r->lock);
}

static void job_step_end(struct flash_job *j, const struct flash_report *rep)
{
    struct flash_run *r = j->r;

    pthread_mutex_lock(&r->lock);
    if (r->show == SHOW_BAR)
        progress_end(&r->bar);
    if (r->show == SHOW_JSON) {
        struct strbuf sb = STRBUF_INIT;
        struct json_writer jw;

        json_event(j, "step", &jw, &sb);
        json_string(&jw, "step", rep->label);
        json_string(&jw, "result", rep->result);
        json_int(&jw, "bytes", (int64_t)rep->len);
        json_int(&jw, "ms", rep->ms);
        json_emit(&jw, &sb);
    }
    pthread_mutex_unlock(&r->lock);
}

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

static void hook_begin(void *ud, const char *label)
{
    job_step_begin(ud, label);
}

static int hook_reset(void *ud)
{
    struct flash_job *j = ud;

    return usb_dfu_reset(j->h);
}

/* Where an image went and how much of it, for the note after it. */
static void say_written(struct flash_job *j, const struct flash_report *rep)
{
    const struct flash_step *s = rep->step;
    struct strbuf where = STRBUF_INIT, amount = STRBUF_INIT;

    if (s->address >= 0)
        strbuf_addf(&where, "at 0x%08llX", (unsigned long long)s->address);
    else
        strbuf_addf(&where, "to alt %d%s%s", rep->alt, s->alt_name ? " " : "",
                    s->alt_name ? s->alt_name : "");
    if (rep->sent < s->len)
        strbuf_addf(&amount, "%llu of %zu bytes (the rest was unchanged)",
                    (unsigned long long)rep->sent, s->len);
    else
        strbuf_addf(&amount, "%zu bytes", s->len);
    job_say(j, "wrote %s: %s %s in %.1f s", s->label, amount.buf, where.buf,
            (double)rep->ms / 1000);
    strbuf_release(&where);
    strbuf_release(&amount);
}

static void hook_done(void *ud, const struct flash_report *rep)
{
    struct flash_job *j = ud;

    job_step_end(j, rep);
    if (!strcmp(rep->result, "unchanged"))
        job_say(j, "%s is already on the camera: skipped", rep->label);
    else if (rep->step)
        say_written(j, rep);
    else if (!strcmp(rep->label, "mass erase"))
        job_say(j, "erased the whole chip (mass erase)");
    else if (!strcmp(rep->label, "erase"))
        job_say(j, "erased %llu KiB, every page once, in %.1f s",
                (unsigned long long)(rep->len / 1024), (double)rep->ms / 1000);
    else
        job_say(j, "verified: every image reads back as written (%.1f s)", (double)rep->ms / 1000);
}

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
    struct flash_session_hooks hooks = {j, hook_begin, job_progress, hook_done, hook_reset};
    struct dfu_dev dev;

    j->start_ms = progress_now_ms();
    j->open_rc = job_open(j, &dev);
    j->code = j->open_rc ? OMV_EDEVICE : 0;
    if (j->code == 0)
        j->code = flash_session_run(r->plan, &r->sopts, j->d, &dev, &hooks, &j->out, j->err,
                                    sizeof(j->err));
    if (j->out.rev_v)
        job_say(j,
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

static void print_plan(const struct flash_run *r)
{
    const struct flash_plan *plan = r->plan;
    struct strbuf out = STRBUF_INIT;
    char id[16];

    strbuf_addf(&out, "flash %s (%s) through %s %s:\n", plan->target->name, plan->target->camera,
                r->rom ? "the ST system bootloader" : target_method_name(plan->target->method),
                usb_id_str(r->usb, id, sizeof(id)));
    if (r->sopts.mass_erase)
        strbuf_addstr(&out, "  0. mass erase: the whole chip, bootloader and filesystem too\n");
    else if (r->sopts.dfuse)
        strbuf_addstr(&out, "  0. erase every page the images cover, each page once\n");
    for (size_t i = 0; i < plan->nr; i++) {
        const struct flash_step *s = &plan->steps[i];

        strbuf_addf(&out, "  %zu. %-22s %8zu bytes", i + 1, s->label, s->len);
        if (s->alt >= 0 && !r->rom)
            strbuf_addf(&out, "  alt %d%s%s", s->alt, s->alt_name ? " " : "",
                        s->alt_name ? s->alt_name : "");
        if (s->address >= 0)
            strbuf_addf(&out, "  at 0x%08llX", (unsigned long long)s->address);
        if (s->limit)
            strbuf_addf(&out, "  (%llu%% of %llu)", (unsigned long long)(s->len * 100 / s->limit),
                        (unsigned long long)s->limit);
        strbuf_addch(&out, '\n');
    }
    if (r->sopts.verify)
        strbuf_addstr(&out, "  then read every image back and compare\n");
    if (r->sopts.no_reset)
        strbuf_addstr(&out, "  then stay in the bootloader\n");
    else if (r->sopts.dfuse)
        strbuf_addf(&out, "  then leave DFU and run the code at 0x%08X\n", plan->leave_address);
    else
        strbuf_addstr(&out, "  then reset into the new firmware\n");
    out_write(out.buf, out.len);
    strbuf_release(&out);
}

static void summary_json(struct flash_run *r, struct strbuf *out, size_t ok)
{
    struct json_writer jw;

    json_init(&jw, out);
    jw.compact = true;
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "event", "summary");
    json_string(&jw, "target", r->t->name);
    json_int(&jw, "ok", (int64_t)ok);
    json_int(&jw, "failed", (int64_t)(r->nr_jobs - ok));
    json_array_begin(&jw, "devices");
    for (size_t i = 0; i < r->nr_jobs; i++) {
        const struct flash_job *j = &r->jobs[i];

        json_object_begin(&jw, NULL);
        json_string(&jw, "device", j->name);
        json_string(&jw, "port", j->d->port_path);
        json_string(&jw, "result", j->status ? "failed" : "ok");
        json_int(&jw, "written", (int64_t)j->out.written);
        json_int(&jw, "skipped", (int64_t)j->out.skipped);
        json_int(&jw, "bytes_sent", (int64_t)j->out.sent);
        json_int(&jw, "ms", j->end_ms - j->start_ms);
        json_string(&jw, "error",
                    j->code                              ? j->err
                    : j->out.leave == FLASH_LEAVE_FAILED ? j->out.leave_err
                                                         : NULL);
        json_object_end(&jw);
    }
    json_array_end(&jw);
    json_object_end(&jw);
}

static void print_summary(struct flash_run *r)
{
    struct strbuf out = STRBUF_INIT;
    size_t ok = 0;

    for (size_t i = 0; i < r->nr_jobs; i++)
        ok += r->jobs[i].status == 0;
    if (r->show == SHOW_JSON) {
        summary_json(r, &out, ok);
    } else if (r->nr_jobs > 1 || r->opt->all) {
        strbuf_addf(&out, "%-16s %-10s %-7s %8s  %s\n", "DEVICE", "PORT", "RESULT", "TIME",
                    "DETAIL");
        for (size_t i = 0; i < r->nr_jobs; i++) {
            const struct flash_job *j = &r->jobs[i];

            strbuf_addf(&out, "%-16s %-10s %-7s %7.1fs  ", j->name, j->d->port_path,
                        j->status ? "failed" : "ok", (double)(j->end_ms - j->start_ms) / 1000);
            if (j->code)
                strbuf_addf(&out, "%s\n", j->err);
            else if (j->status)
                strbuf_addf(&out, "not started: %s\n", j->out.leave_err);
            else
                strbuf_addf(&out, "%zu written, %zu unchanged\n", j->out.written, j->out.skipped);
        }
        strbuf_addf(&out, "%zu of %zu %s flashed\n", ok, r->nr_jobs,
                    r->nr_jobs == 1 ? "camera" : "cameras");
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
}

/* The command that finishes an interrupted or failed flash of this device. */
static void again_command(const struct flash_run *r, const struct flash_job *j, struct strbuf *sb)
{
    const struct flash_options *o = r->opt;

    strbuf_addf(sb, "omvdev flash -t %s", r->t->name);
    if (o->plan.file)
        strbuf_addf(sb, " --file %s", o->plan.file);
    if (o->plan.alt >= 0)
        strbuf_addf(sb, " --alt %d", o->plan.alt);
    if (o->plan.address >= 0)
        strbuf_addf(sb, " --address 0x%08llX", (unsigned long long)o->plan.address);
    if (o->plan.firmware)
        strbuf_addf(sb, " --firmware %s", o->plan.firmware);
    if (o->plan.romfs)
        strbuf_addf(sb, " --romfs %s", o->plan.romfs);
    if (o->plan.erase_fs)
        strbuf_addstr(sb, " --erase-fs");
    if (o->mass_erase)
        strbuf_addstr(sb, " --mass-erase");
    if (j && j->d->serial && (r->nr_jobs > 1 || o->serial))
        strbuf_addf(sb, " --serial %s", j->d->serial);
}

/* What an interrupted stage left on the device, in words. */
static const char *left_behind(const struct flash_outcome *out)
{
    switch (out->stage) {
    case FLASH_STAGE_CHECK:
    case FLASH_STAGE_READ:
        return "nothing was erased or written";
    case FLASH_STAGE_MASS_ERASE:
        return "the chip may be partly erased: it has no bootloader or firmware to start";
    case FLASH_STAGE_ERASE:
        return "pages were erased and nothing written yet: the firmware there is gone";
    case FLASH_STAGE_WRITE:
        return "an image is only partly written: the camera does not start it until it is "
               "written again";
    case FLASH_STAGE_VERIFY:
        return "every image was written; the read-back was not finished";
    case FLASH_STAGE_LEAVE:
    case FLASH_STAGE_DONE:
        break;
    }
    return "every image was written";
}

static void report_interrupt(struct flash_run *r, const struct flash_job *j)
{
    const struct flash_outcome *out = &j->out;
    struct strbuf what = STRBUF_INIT, again = STRBUF_INIT;

    strbuf_addf(&what, "interrupted (%s) during the %s stage",
                flash_signal == SIGTERM ? "SIGTERM" : "Ctrl-C", flash_stage_name(out->stage));
    if (out->step)
        strbuf_addf(&what, " of %s", out->step);
    if (out->step_total)
        strbuf_addf(&what, " (%llu of %llu bytes)", (unsigned long long)out->step_done,
                    (unsigned long long)out->step_total);
    if (r->nr_jobs > 1)
        error(r->ctx, "%s: %s", j->name, what.buf);
    else
        error(r->ctx, "%s", what.buf);
    note(r->ctx, "%s%sthe camera stays in its %s (state %s): %s", r->nr_jobs > 1 ? j->name : "",
         r->nr_jobs > 1 ? ": " : "", r->rom ? "ST system bootloader" : "bootloader",
         out->state_known ? dfu_state_name(out->state) : "unknown", left_behind(out));
    again_command(r, j, &again);
    hint(r->ctx, "finish with: %s", again.buf);
    strbuf_release(&what);
    strbuf_release(&again);
}

/* The hint for a failure, chosen by its code and where the session stopped. */
static void failure_hint(struct flash_run *r, const struct flash_job *j)
{
    if (j->open_rc == USB_ERR_ACCESS || j->open_rc == OMV_EPERM)
        hint(r->ctx,
             "your user may not open vendor %04X's devices: sudo omvdev udev install (or "
             "omvdev udev install --print to see the rules first)",
             j->d->vid);
    else if (j->code == OMV_EUSAGE)
        hint(r->ctx, "nothing was written: the plan does not fit what the device reports "
                     "('omvdev devices' shows its alt settings); fix the file or the options");
    else if (j->out.erase_stalled)
        hint(r->ctx,
             "the page erase is wedged (STM32H7 Rev V): erase the whole chip instead "
             "and write again: omvdev flash -t %s --file FILE --address A --mass-erase",
             r->t->name);
    else if (r->rom)
        hint(r->ctx, "the chip's ROM cannot be damaged: run the same command again");
    else
        hint(r->ctx, "the bootloader was not touched: run the same command again to retry");
}

static void report_failure(struct flash_run *r, const struct flash_job *j)
{
    if (j->code == OMV_EINTR) {
        report_interrupt(r, j);
        return;
    }
    if (j->code) {
        if (r->nr_jobs > 1)
            error(r->ctx, "%s: %s", j->name, j->err);
        else
            error(r->ctx, "%s", j->err);
        failure_hint(r, j);
        return;
    }
    /* Written, but the device did not leave DFU mode: say so, never "restarts". */
    error(r->ctx, "%s%severy image was written%s, but the board did not start it: %s",
          r->nr_jobs > 1 ? j->name : "", r->nr_jobs > 1 ? ": " : "",
          r->sopts.verify ? " and verified" : "", j->out.leave_err);
    if (j->out.state_known)
        note(r->ctx, "it stays in its bootloader, state %s (%s)", dfu_state_name(j->out.state),
             dfu_status_name(j->out.status));
    hint(r->ctx, "unplug the board and plug it in again: it then starts the new firmware");
}

static enum show choose_show(const struct omv_ctx *ctx, size_t nr_jobs)
{
    if (ctx->json)
        return SHOW_JSON;
    if (ctx->verbosity < 0)
        return SHOW_NONE;
    if (isatty(2))
        return nr_jobs > 1 ? SHOW_BOARD : SHOW_BAR;
    return ctx->verbosity > 0 ? SHOW_LINES : SHOW_NONE;
}

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

    if (fo->swd)
        return 0; /* cmd_flash_swd() reads its own options */
    if (res->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", res->args[0]);
    if (opt_number("--wait", opt_value(res, o, "wait"), 0, 3600, &fo->wait_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (alt && opt_number("--alt", alt, 0, 255, &num, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (alt)
        po->alt = (int)num;
    if (address && opt_number("--address", address, 0, UINT32_MAX, &num, err, sizeof(err)) < 0)
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
        /* proc_run() reports a program that outlived --wait as OMV_EINVAL (or ETIMEOUT). */
        rc = prc == OMV_EINVAL || prc == OMV_ETIMEOUT ? OMV_EXIT_DEVICE : exit_status_for(prc);
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
static int flash_with_tool(struct omv_ctx *ctx, struct omv_invocation *inv,
                           const struct flash_options *fo, const struct target *t,
                           const char *bin_dir)
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
    r->show = choose_show(r->ctx, nr_picked);
    for (size_t i = 0; i < nr_picked; i++) {
        struct flash_job *j = &r->jobs[i];
        const struct usb_device_info *d = &devs[picked[i]];
        uint16_t v = d->bcd_device;
        char ver[16];

        j->r = r;
        j->d = d;
        snprintf(j->name, sizeof(j->name), "%s",
                 d->serial && *d->serial ? d->serial : d->port_path);
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
        board_draw(r, true);
    for (; started < r->nr_jobs; started++)
        if (pthread_create(&r->jobs[started].thread, NULL, job_main, &r->jobs[started]) != 0)
            break;
    for (size_t i = started; i < r->nr_jobs; i++) /* no thread: run it here */
        job_main(&r->jobs[i]);
    for (size_t i = 0; i < started; i++)
        pthread_join(r->jobs[i].thread, NULL);
    if (r->show == SHOW_BOARD)
        board_draw(r, true);
}

/* Report every job; the exit status of the run. */
static int finish(struct flash_run *r)
{
    int rc = OMV_EXIT_OK;

    for (size_t i = 0; i < r->nr_jobs; i++) {
        if (r->jobs[i].status) {
            report_failure(r, &r->jobs[i]);
            rc = r->jobs[i].status;
        }
    }
    print_summary(r);
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
    struct sigaction sa, old_int, old_term;
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
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = (int)SA_RESETHAND; /* a second Ctrl-C ends omvdev at once */
    flash_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
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
        rc = finish(r);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    flash_find_release(&f);
    return rc;
}

int cmd_flash(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct flash_options fo;
    struct flash_run r;
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct strbuf bin = STRBUF_INIT;
    char err[512];
    int rc;

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.opt = &fo;
    pthread_mutex_init(&r.lock, NULL);
    rc = read_options(ctx, inv, &fo);
    if (rc == 0 && fo.swd)
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
    if (ctx->project_root) {
        fs_path_join(&bin, ctx->project_root, "build");
        fs_path_join(&bin, "", r.t->name);
        fs_path_join(&bin, "", "bin");
    } else {
        strbuf_addf(&bin, "build/%s/bin", r.t->name);
    }
    if (r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL)
        rc = flash_with_tool(ctx, inv, &fo, r.t, bin.buf);
    else
        rc = prepare(&r, &plan, bin.buf);
    if (rc || r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL)
        goto out;
    if (fo.dry_run)
        print_plan(&r);
    else if (!r.u && usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
    } else {
        rc = flash_devices(&r);
    }
out:
    free(r.jobs);
    usb_close_ctx(r.u);
    flash_plan_release(&plan);
    strbuf_release(&bin);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
