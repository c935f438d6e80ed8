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
#include "cmd/monitor.h"

#include "flash/dfu.h"
#include "flash/dfuse_layout.h"
#include "flash/omvproto.h"
#include "flash/plan.h"
#include "flash/runners.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/proc.h"
#include "lib/progress.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
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
    {"monitor", 0, OPT_FLAG, NULL, "then be the camera's console when its firmware is up", NULL, 0,
     NULL},
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

/* One `omvdev flash`: what every device gets. */
struct flash_run {
    struct omv_ctx *ctx;
    const struct target *t;
    const struct flash_plan *plan;
    struct usb_ctx *u;
    struct usb_id usb; /* the DFU device: the board's bootloader or the ST ROM */
    bool rom;          /* through the ST system bootloader */
    bool dfuse;        /* DfuSe addressing */
    bool verify, skip_unchanged, mass_erase, no_reset;
    bool all; /* --all: a summary table however many devices were found */
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
    pthread_t thread;
    /* progress, under r->lock */
    const char *step, *phase;
    uint64_t done, total;
    int64_t phase_ms, event_ms;
    int tenth;
    /* outcome */
    int rc; /* OMV_EXIT_* */
    char err[640];
    size_t written, skipped;
    uint64_t sent;
    size_t last_left; /* bytes of the last step actually sent */
    int last_alt;     /* the alt the last step went to */
    unsigned rev_v;
    int64_t start_ms, end_ms;
};

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
    if (j->rc || j->end_ms) {
        strbuf_addstr(out, j->rc ? "failed" : "done");
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

static void job_step_end(struct flash_job *j, const struct flash_step *s, const char *result,
                         int64_t ms)
{
    struct flash_run *r = j->r;

    pthread_mutex_lock(&r->lock);
    if (r->show == SHOW_BAR)
        progress_end(&r->bar);
    if (r->show == SHOW_JSON) {
        struct strbuf sb = STRBUF_INIT;
        struct json_writer jw;

        json_event(j, "step", &jw, &sb);
        json_string(&jw, "step", s->label);
        json_string(&jw, "result", result);
        json_int(&jw, "bytes", (int64_t)s->len);
        json_int(&jw, "ms", ms);
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

static bool is_target_dfu(const struct flash_run *r, const struct usb_device_info *d)
{
    return usb_id_is(r->usb, d->vid, d->pid) && d->dfu && !d->dfu_runtime;
}

static void nap_until_change(struct flash_run *r)
{
    char err[256];

    /* Hotplug tells us at once; the bounded wait also covers systems without it. */
    if (usb_wait_change(r->u, 200, err, sizeof(err)) < 0)
        nanosleep(&(struct timespec){0, 200000000L}, NULL);
}

/*
 * Wait for the DFU device(s), asking cameras that run their firmware to jump
 * into their bootloader on the way. On success *devs is the device list and
 * picked[0..*nr_picked) the indices to flash: exactly one, or with `all`
 * every one (waiting until each camera that was sent SYS_BOOT is back).
 */
/* Serials of the cameras sent SYS_BOOT, so that each is asked once and waited for. */
struct booted {
    char *serial[64];
    size_t nr;
};

static bool booted_has(const struct booted *b, const char *serial)
{
    for (size_t i = 0; i < b->nr; i++)
        if (!strcmp(b->serial[i], serial))
            return true;
    return false;
}

static bool serial_ok(const struct usb_device_info *d, const char *serial)
{
    return !serial || (d->serial && !strcmp(d->serial, serial));
}

/*
 * Wait for the DFU device(s), asking cameras that run their firmware to jump
 * into their bootloader on the way. On success *devs is the device list and
 * picked[0..*nr_picked) the indices to flash: exactly one, or with `all`
 * every one (waiting until each camera that was sent SYS_BOOT is back).
 */
static int find_devices(struct flash_run *r, const char *serial, bool all, double wait_s,
                        struct usb_device_info **devs, size_t *nr, size_t *picked,
                        size_t max_picked, size_t *nr_picked)
{
    int64_t deadline = progress_now_ms() + (int64_t)(wait_s * 1000);
    struct booted booted = {{NULL}, 0};
    bool said = false, timed_out = false;
    char err[512], id[16];
    int rc = 0;

    usb_id_str(r->usb, id, sizeof(id));
    for (;;) {
        /* Cameras in their firmware count only where SYS_BOOT can move them. */
        bool can_boot = r->t->method == TARGET_METHOD_OPENMV_DFU && !r->rom;
        size_t found = 0, app = 0, back = 0;

        if (usb_list(r->u, devs, nr, err, sizeof(err)) < 0) {
            rc = (error(r->ctx, "%s", err), OMV_EXIT_DEVICE);
            goto out;
        }
        for (size_t i = 0; i < *nr; i++) {
            const struct usb_device_info *d = &(*devs)[i];

            if (!serial_ok(d, serial))
                continue;
            if (is_target_dfu(r, d)) {
                if (found < max_picked)
                    picked[found] = i;
                found++;
                back += d->serial && booted_has(&booted, d->serial);
            } else if (can_boot && usb_id_is(r->t->app_usb, d->vid, d->pid)) {
                app++;
            }
        }
        if (found > 1 && !all) {
            error(r->ctx, "%zu %s %s are connected: which one?", found, r->t->name,
                  r->rom ? "ST system bootloaders" : "bootloaders");
            for (size_t i = 0; i < *nr; i++)
                if (is_target_dfu(r, &(*devs)[i]))
                    hint(r->ctx, "omvdev flash --serial %s",
                         (*devs)[i].serial ? (*devs)[i].serial : "?");
            hint(r->ctx, "or flash them all at once: omvdev flash --all");
            rc = OMV_EXIT_USAGE;
            goto out;
        }
        if (found > max_picked) {
            rc = (error(r->ctx, "more than %zu devices: flash them in groups", max_picked),
                  OMV_EXIT_USAGE);
            goto out;
        }
        /* Done when a device is there and, with --all, every camera we booted is back
         * (or the time is up: then the ones that are there are flashed). */
        if (found >= 1 && (!all || timed_out || (back == booted.nr && app == 0))) {
            *nr_picked = found < max_picked ? found : max_picked;
            if (timed_out)
                warning(r->ctx, "only %zu of %zu cameras reached the bootloader within %g s", back,
                        booted.nr, wait_s);
            goto out;
        }
        if (timed_out) {
            error(r->ctx, "no %s %s (%s) appeared within %g s", r->t->name,
                  r->rom ? "ST system bootloader" : "bootloader", id, wait_s);
            if (r->rom)
                hint(r->ctx, "put the BOOT jumper on (BOOT to 3.3V/RST, see 'omvdev recover "
                             "--dry-run'), then plug the camera in while omvdev waits");
            else if (booted.nr)
                hint(r->ctx, "the camera did not answer SYS_BOOT: unplug it and plug it in "
                             "again while omvdev waits (omvdev flash --wait 60)");
            else
                hint(r->ctx, "plug the camera in while omvdev waits (its bootloader listens "
                             "about 1.5 s after power-up): omvdev flash --wait 60");
            rc = OMV_EXIT_DEVICE;
            goto out;
        }
        if (app > 1 && !all && !booted.nr) {
            error(r->ctx, "%zu %s cameras are connected: which one?", app, r->t->name);
            hint(r->ctx, "omvdev flash --serial SERIAL ('omvdev devices' lists them), or "
                         "omvdev flash --all");
            rc = OMV_EXIT_USAGE;
            goto out;
        }
        for (size_t i = 0; i < *nr && can_boot; i++) {
            const struct usb_device_info *d = &(*devs)[i];
            const char *who = d->serial ? d->serial : d->port_path;

            if (!usb_id_is(r->t->app_usb, d->vid, d->pid) || !serial_ok(d, serial) ||
                booted_has(&booted, who) || booted.nr == ARRAY_SIZE(booted.serial))
                continue;
            verbose(r->ctx, "asking camera %s to jump into its bootloader (SYS_BOOT)", who);
            if (omvproto_enter_bootloader(r->u, d->vid, d->pid, d->serial, err, sizeof(err)) < 0)
                warning(r->ctx, "cannot switch camera %s into its bootloader: %s", who, err);
            booted.serial[booted.nr++] = xstrdup(who);
        }
        usb_list_free(*devs, *nr);
        *devs = NULL;
        *nr = 0;
        if (progress_now_ms() >= deadline) {
            timed_out = true; /* one last look */
            continue;
        }
        if (!said && !booted.nr) {
            note(r->ctx, "waiting up to %g s for the %s %s (%s)...", wait_s, r->t->name,
                 r->rom ? "ST system bootloader" : "bootloader", id);
            said = true;
        }
        nap_until_change(r);
    }
out:
    for (size_t i = 0; i < booted.nr; i++)
        free(booted.serial[i]);
    return rc;
}

/* ---- one device ------------------------------------------------------------------ */

/* The device's own alt for a step: by name, cross-checked with the database. */
static int resolve_alt(struct flash_job *j, const struct flash_step *s, int *alt)
{
    const struct usb_device_info *d = j->d;
    struct strbuf sb = STRBUF_INIT;

    /* DfuSe: the alt whose memory holds the address (each alt names its layout). */
    if (j->r->dfuse && s->address >= 0) {
        for (size_t a = 0; a < d->nr_alts; a++) {
            struct dfuse_layout l = DFUSE_LAYOUT_INIT;
            bool holds = dfuse_layout_parse(&l, d->alt_names[a], NULL, 0) == 0 &&
                         dfuse_layout_find(&l, (uint32_t)s->address);

            dfuse_layout_release(&l);
            if (holds) {
                *alt = (int)a;
                return 0;
            }
        }
    }
    if (!s->alt_name || j->r->rom) {
        *alt = s->alt < 0 ? 0 : s->alt;
        if ((size_t)*alt >= d->nr_alts)
            return omv_seterr(j->err, sizeof(j->err), OMV_EINVAL,
                              "the bootloader has no alt %d (it has %zu)", *alt, d->nr_alts);
        return 0;
    }
    for (size_t a = 0; a < d->nr_alts; a++) {
        if (strcmp(d->alt_names[a], s->alt_name) != 0)
            continue;
        if ((int)a != s->alt)
            return omv_seterr(j->err, sizeof(j->err), OMV_EINVAL,
                              "the bootloader reports '%s' as alt %zu, the board database says "
                              "alt %d\nhint: a newer or older bootloader? flash by hand with "
                              "--file %s --alt %zu if you are sure",
                              s->alt_name, a, s->alt, s->path ? s->path : s->label, a);
        *alt = (int)a;
        return 0;
    }
    /* DfuSe alts are named by their memory layout; the database names them loosely. */
    if (j->r->dfuse && (size_t)s->alt < d->nr_alts) {
        *alt = s->alt;
        return 0;
    }
    for (size_t a = 0; a < d->nr_alts; a++)
        strbuf_addf(&sb, "%s%zu '%s'", a ? ", " : "", a, d->alt_names[a]);
    omv_seterr(j->err, sizeof(j->err), OMV_EINVAL,
               "the bootloader has no '%s' alt (it has %s)\nhint: a different bootloader "
               "version? 'omvdev devices' shows what it reports",
               s->alt_name, sb.len ? sb.buf : "none");
    strbuf_release(&sb);
    return OMV_EINVAL;
}

/*
 * --skip-unchanged for a DfuSe step: read the range back, then erase and
 * write only the runs of pages that differ. *left gets the bytes written.
 */
static int dfuse_write_changed(struct flash_job *j, struct dfu_dev *dev,
                               const struct dfuse_layout *layout, const struct flash_step *s,
                               const struct dfu_progress *p, size_t *left)
{
    uint32_t addr = (uint32_t)s->address, *pages = NULL;
    uint8_t *old = xmalloc(s->len);
    size_t nr = 0;
    unsigned rev_v = 0;
    int rc;

    *left = 0;
    rc = dfuse_read(dev, addr, old, s->len, p, j->err, sizeof(j->err));
    if (rc == 0)
        rc = dfuse_layout_erase_pages(layout, addr, s->len, &pages, &nr, j->err, sizeof(j->err));
    for (size_t i = 0; rc == 0 && i < nr;) {
        size_t k = i;
        uint64_t from, to;

        /* A run of pages whose part of the image differs from what they hold. */
        for (; k < nr; k++) {
            const struct dfuse_segment *seg = dfuse_layout_find(layout, pages[k]);
            uint64_t a = pages[k] > addr ? pages[k] : addr;
            uint64_t b = (uint64_t)pages[k] + seg->page_size;

            if (b > (uint64_t)addr + s->len)
                b = (uint64_t)addr + s->len;
            if (!memcmp(old + (a - addr), s->data + (a - addr), (size_t)(b - a)))
                break;
        }
        if (k == i) {
            i++;
            continue;
        }
        from = pages[i] > addr ? pages[i] : addr;
        to = k < nr ? pages[k] : (uint64_t)addr + s->len;
        if (to > (uint64_t)addr + s->len)
            to = (uint64_t)addr + s->len;
        rc = dfu_normalise(dev, j->err, sizeof(j->err));
        if (rc == 0)
            rc = dfuse_write(dev, layout, (uint32_t)from, s->data + (from - addr),
                             (size_t)(to - from), false, &rev_v, p, j->err, sizeof(j->err));
        *left += (size_t)(to - from);
        j->rev_v += rev_v;
        i = k;
    }
    free(pages);
    free(old);
    return rc;
}

/* Write one step; 0, or a negative code with j->err set. *how says what was done. */
static int run_step(struct flash_job *j, struct dfu_dev *dev, const struct flash_step *s,
                    const char **how)
{
    struct flash_run *r = j->r;
    struct dfu_progress p = {job_progress, j};
    struct dfuse_layout layout = DFUSE_LAYOUT_INIT;
    uint8_t *back = NULL;
    bool *skip = NULL;
    size_t left = s->len;
    int alt = 0, rc;

    *how = "written";
    rc = resolve_alt(j, s, &alt);
    if (rc)
        return rc;
    j->last_alt = alt;
    rc = dev->io.set_alt(dev->io.ctx, dev->intf, (uint8_t)alt);
    if (rc < 0)
        return omv_seterr(j->err, sizeof(j->err), rc, "cannot select alt %d: %s", alt,
                          usb_strerror(rc));
    rc = dfu_normalise(dev, j->err, sizeof(j->err));
    if (rc == 0 && r->dfuse)
        rc = dfuse_layout_parse(&layout, j->d->alt_names[alt], j->err, sizeof(j->err));

    if (rc == 0 && r->skip_unchanged && s->path && r->dfuse) {
        rc = dfuse_write_changed(j, dev, &layout, s, &p, &left);
        *how = left == 0 ? "unchanged" : left < s->len ? "partly written" : "written";
    } else if (rc == 0 && r->skip_unchanged && s->path) {
        size_t got = 0, blocks = (s->len + dev->transfer_size - 1) / dev->transfer_size;

        back = xmalloc(s->len);
        rc = dfu_upload(dev, back, s->len, &got, &p, j->err, sizeof(j->err));
        if (rc == 0 && got < s->len) /* the partition is shorter: nothing to compare */
            memset(back + got, 0xFF, s->len - got), back[0] = (uint8_t)~s->data[0];
        if (rc == 0)
            rc = dfu_normalise(dev, j->err, sizeof(j->err));
        if (rc == 0 && !memcmp(back, s->data, s->len)) {
            left = 0;
        } else if (rc == 0) {
            /* Whole erase units the partition already holds are neither erased nor sent. */
            skip = xcalloc(blocks ? blocks : 1, sizeof(*skip));
            left = flash_skip_mask(back, s->data, s->len, s->erase_size, dev->transfer_size, skip);
            rc = dfu_download_blocks(dev, s->data, s->len, skip, &p, j->err, sizeof(j->err));
        }
        *how = left == 0 ? "unchanged" : left < s->len ? "partly written" : "written";
    } else if (rc == 0 && s->address >= 0) {
        unsigned rev_v = 0;

        rc = dfuse_write(dev, &layout, (uint32_t)s->address, s->data, s->len, r->mass_erase, &rev_v,
                         &p, j->err, sizeof(j->err));
        j->rev_v += rev_v;
    } else if (rc == 0) {
        rc = dfu_download(dev, s->data, s->len, &p, j->err, sizeof(j->err));
    }
    j->sent += left;
    j->last_left = left;

    if (rc == 0 && r->verify && left > 0) {
        size_t got = 0;

        free(back);
        back = xmalloc(s->len);
        rc = dfu_normalise(dev, j->err, sizeof(j->err));
        if (rc == 0 && s->address >= 0)
            rc = dfuse_read(dev, (uint32_t)s->address, back, s->len, &p, j->err, sizeof(j->err));
        else if (rc == 0)
            rc = dfu_upload(dev, back, s->len, &got, &p, j->err, sizeof(j->err));
        if (rc == 0 && (s->address < 0 && got < s->len))
            rc = omv_seterr(j->err, sizeof(j->err), DFU_ERR_STATUS,
                            "only %zu of %zu bytes could be read back", got, s->len);
        if (rc == 0 && memcmp(back, s->data, s->len) != 0)
            rc = omv_seterr(j->err, sizeof(j->err), DFU_ERR_STATUS,
                            "it reads back different from what was written");
        if (rc == 0)
            *how = "written, verified";
    }
    dfuse_layout_release(&layout);
    free(back);
    free(skip);
    return rc;
}

static int job_open(struct flash_job *j, struct usb_dfu **h, struct dfu_dev *dev)
{
    const struct usb_device_info *d = j->d;

    /* Under --all each device gets its own libusb context, so that no device's
     * transfers wait on another's event handling. */
    if (j->r->nr_jobs > 1 && usb_open_ctx(&j->u, j->err, sizeof(j->err)) < 0)
        return OMV_EINVAL;
    if (usb_dfu_open(j->u ? j->u : j->r->u, d, h, j->err, sizeof(j->err)) < 0)
        return OMV_EINVAL;
    memset(dev, 0, sizeof(*dev));
    dev->intf = d->dfu_interface;
    dev->transfer_size = d->dfu_transfer_size ? d->dfu_transfer_size : 2048;
    if (dev->transfer_size > 4096) /* the Linux usbfs limit for control transfers */
        dev->transfer_size = 4096;
    dev->attributes = d->dfu_attributes;
    dev->timeout_ms = 5000;
    usb_dfu_io(*h, &dev->io);
    return 0;
}

/* Everything for one device; the outcome goes into the job. */
static void *job_main(void *arg)
{
    struct flash_job *j = arg;
    struct flash_run *r = j->r;
    const struct flash_plan *plan = r->plan;
    struct usb_dfu *h = NULL;
    struct dfu_dev dev;
    char leave_err[512];
    const struct flash_step *failed = NULL; /* the step that failed, for the message */
    size_t step = 0;
    int rc;

    j->start_ms = progress_now_ms();
    rc = job_open(j, &h, &dev);
    if (rc == 0 && r->mass_erase) {
        job_step_begin(j, "mass erase");
        rc = dev.io.set_alt(dev.io.ctx, dev.intf, 0);
        if (rc < 0)
            omv_seterr(j->err, sizeof(j->err), rc, "cannot select alt 0: %s", usb_strerror(rc));
        else
            rc = dfuse_mass_erase(&dev, j->err, sizeof(j->err));
        if (rc == 0)
            job_say(j, "erased the whole chip (mass erase)");
    }
    for (; rc == 0 && step < plan->nr; step++) {
        const struct flash_step *s = &plan->steps[step];
        int64_t t0 = progress_now_ms();
        const char *how;

        job_step_begin(j, s->label);
        rc = run_step(j, &dev, s, &how);
        if (rc) {
            failed = s;
            break;
        }
        job_step_end(j, s, how, progress_now_ms() - t0);
        if (!strcmp(how, "unchanged")) {
            j->skipped++;
            job_say(j, "%s is already on the camera: skipped", s->label);
        } else {
            struct strbuf where = STRBUF_INIT, amount = STRBUF_INIT;

            j->written++;
            if (s->address >= 0)
                strbuf_addf(&where, "at 0x%08llX", (unsigned long long)s->address);
            else
                strbuf_addf(&where, "to alt %d%s%s", j->last_alt, s->alt_name ? " " : "",
                            s->alt_name ? s->alt_name : "");
            if (j->last_left < s->len)
                strbuf_addf(&amount, "%zu of %zu bytes (the rest was unchanged)", j->last_left,
                            s->len);
            else
                strbuf_addf(&amount, "%zu bytes", s->len);
            job_say(j, "wrote %s: %s %s in %.1f s%s", s->label, amount.buf, where.buf,
                    (double)(progress_now_ms() - t0) / 1000,
                    strstr(how, "verified") ? ", verified" : "");
            strbuf_release(&where);
            strbuf_release(&amount);
        }
    }
    if (j->rev_v)
        job_say(j,
                "recovered %u stuck erase%s of STM32H7 Rev V silicon (CLRSTATUS, then "
                "checked as erased)",
                j->rev_v, j->rev_v == 1 ? "" : "s");
    if (rc == 0 && !r->no_reset) {
        if (r->dfuse) {
            /* The address must lie in the selected alt's memory (internal flash). */
            if (dev.io.set_alt(dev.io.ctx, dev.intf, (uint8_t)plan->leave_alt) < 0 ||
                dfuse_leave(&dev, plan->leave_address, leave_err, sizeof(leave_err)) < 0)
                job_say(j, "warning: leaving DFU mode: %s", leave_err);
        } else {
            dfu_detach(&dev, 1000, leave_err, sizeof(leave_err));
            usb_dfu_reset(h);
        }
    }
    if (rc) {
        char msg[sizeof(j->err)];

        memcpy(msg, j->err, sizeof(msg));
        snprintf(j->err, sizeof(j->err), "%s%s%s",
                 failed                       ? failed->label
                 : r->mass_erase && step == 0 ? "mass erase"
                                              : "",
                 failed || (r->mass_erase && step == 0) ? ": " : "", msg);
        j->rc = OMV_EXIT_DEVICE;
    }
    usb_dfu_close(h);
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
    if (r->mass_erase)
        strbuf_addstr(&out, "  0. mass erase: the whole chip, bootloader and filesystem too\n");
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
    if (r->no_reset)
        strbuf_addstr(&out, "  then stay in the bootloader\n");
    else if (r->dfuse)
        strbuf_addf(&out, "  then leave DFU and run the code at 0x%08X\n", plan->leave_address);
    else
        strbuf_addstr(&out, "  then reset into the new firmware\n");
    out_write(out.buf, out.len);
    strbuf_release(&out);
}

static void print_summary(struct flash_run *r)
{
    struct strbuf out = STRBUF_INIT;
    size_t ok = 0;

    for (size_t i = 0; i < r->nr_jobs; i++)
        ok += r->jobs[i].rc == 0;
    if (r->show == SHOW_JSON) {
        struct json_writer jw;

        json_init(&jw, &out);
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
            json_string(&jw, "result", j->rc ? "failed" : "ok");
            json_int(&jw, "written", (int64_t)j->written);
            json_int(&jw, "skipped", (int64_t)j->skipped);
            json_int(&jw, "bytes_sent", (int64_t)j->sent);
            json_int(&jw, "ms", j->end_ms - j->start_ms);
            json_string(&jw, "error", j->rc ? j->err : NULL);
            json_object_end(&jw);
        }
        json_array_end(&jw);
        json_object_end(&jw);
        out_write(out.buf, out.len);
    } else if (r->nr_jobs > 1 || r->all) {
        strbuf_addf(&out, "%-16s %-10s %-7s %8s  %s\n", "DEVICE", "PORT", "RESULT", "TIME",
                    "DETAIL");
        for (size_t i = 0; i < r->nr_jobs; i++) {
            const struct flash_job *j = &r->jobs[i];

            strbuf_addf(&out, "%-16s %-10s %-7s %7.1fs  ", j->name, j->d->port_path,
                        j->rc ? "failed" : "ok", (double)(j->end_ms - j->start_ms) / 1000);
            if (j->rc)
                strbuf_addf(&out, "%.*s\n", (int)strcspn(j->err, "\n"), j->err);
            else
                strbuf_addf(&out, "%zu written, %zu unchanged\n", j->written, j->skipped);
        }
        strbuf_addf(&out, "%zu of %zu %s flashed\n", ok, r->nr_jobs,
                    r->nr_jobs == 1 ? "camera" : "cameras");
        out_write(out.buf, out.len);
    }
    strbuf_release(&out);
}

/* Print a job's error: the message, and each "\nhint: " part as a hint. */
static void report_failure(struct flash_run *r, const struct flash_job *j)
{
    const char *h = strstr(j->err, "\nhint: ");

    if (r->nr_jobs > 1)
        error(r->ctx, "%s: %.*s", j->name, h ? (int)(h - j->err) : (int)strlen(j->err), j->err);
    else
        error(r->ctx, "%.*s", h ? (int)(h - j->err) : (int)strlen(j->err), j->err);
    if (h)
        hint(r->ctx, "%s", h + 7);
    else if (strstr(j->err, "permission") || strstr(j->err, "Access denied"))
        hint(r->ctx,
             "your user may not open vendor %04X's devices: sudo omvdev udev install (or "
             "omvdev udev install --print to see the rules first)",
             j->d->vid);
    else if (r->rom && strstr(j->err, "stalled in dfuDNBUSY"))
        hint(r->ctx,
             "the page erase is wedged (STM32H7 Rev V): erase the whole chip instead "
             "and write again: omvdev flash -t %s --file FILE --address A --mass-erase",
             r->t->name);
    else if (r->rom)
        hint(r->ctx, "the chip's ROM cannot be damaged: run the same command again");
    else
        hint(r->ctx, "the bootloader was not touched: run the same command again to retry");
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

/* Check the options that need no device; fills po. 0 or an exit status. */
static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct flash_plan_opts *po,
                        int64_t *wait_s)
{
    const struct opt *o = inv->cmd->opts;
    int64_t num;

    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (parse_number(opt_value(&inv->opts, o, "wait"), 3600, wait_s) < 0)
        return usage_error(ctx, inv, "--wait takes whole seconds from 0 to 3600, not '%s'",
                           opt_value(&inv->opts, o, "wait"));
    if (opt_value(&inv->opts, o, "alt")) {
        if (parse_number(opt_value(&inv->opts, o, "alt"), 255, &num) < 0)
            return usage_error(ctx, inv, "--alt takes a number from 0 to 255");
        po->alt = (int)num;
    }
    if (opt_value(&inv->opts, o, "address")) {
        if (parse_number(opt_value(&inv->opts, o, "address"), UINT32_MAX, &num) < 0)
            return usage_error(ctx, inv, "--address takes an address such as 0x08040000");
        po->address = num;
    }
    if (po->file && po->alt < 0 && po->address < 0 && !strstr(po->file, ".dfu") &&
        !strstr(po->file, ".DFU"))
        return usage_error(ctx, inv,
                           "--file needs --alt N (or --address A), unless it is a "
                           ".dfu file");
    if (!po->file && (po->alt >= 0 || po->address >= 0))
        return usage_error(ctx, inv, "--alt and --address go with --file");
    if (po->file && (po->firmware || po->romfs))
        return usage_error(ctx, inv,
                           "--file flashes one file; it cannot be combined with "
                           "--firmware or --romfs");
    if (opt_count(&inv->opts, o, "all") && opt_value(&inv->opts, o, "serial"))
        return usage_error(ctx, inv, "--all and --serial exclude each other");
    if (opt_count(&inv->opts, o, "mass-erase") && !po->file)
        return usage_error(ctx, inv,
                           "--mass-erase erases the bootloader too: it goes with --file "
                           "(a whole-chip image such as openmv.bin --address 0x08000000)");
    return 0;
}

/*
 * The Nano boards are not DFU devices: the Nano 33 BLE Sense takes bossac (its
 * bootloader after a double-tap of RESET), the Nano RP2040 Connect picotool
 * (BOOTSEL). omvdev runs the tool with the board's image and address.
 */
static int flash_with_tool(struct omv_ctx *ctx, struct omv_invocation *inv, const struct target *t,
                           const char *bin_dir)
{
    const struct opt *o = inv->cmd->opts;
    const char *given = opt_value(&inv->opts, o, "firmware");
    const char *tool = t->method == TARGET_METHOD_BOSSAC ? "bossac" : "picotool";
    struct runner_argv a = RUNNER_ARGV_INIT;
    struct strbuf file = STRBUF_INIT, prog = STRBUF_INIT, line = STRBUF_INIT;
    const struct target_image *im = t->nr_images ? &t->images[0] : NULL;
    struct proc p;
    char err[512], status[64];
    int64_t wait_s = 300;
    int rc = OMV_EXIT_OK;

    if (!im)
        return error(ctx, "the board database has no image for %s", t->name), OMV_EXIT_FAILURE;
    if (opt_value(&inv->opts, o, "file") || opt_value(&inv->opts, o, "romfs") ||
        opt_count(&inv->opts, o, "erase-fs") || opt_count(&inv->opts, o, "all") ||
        opt_count(&inv->opts, o, "mass-erase") || opt_count(&inv->opts, o, "skip-unchanged") ||
        opt_count(&inv->opts, o, "verify"))
        return usage_error(ctx, inv,
                           "%s is flashed with %s: only --firmware, --wait and --dry-run apply",
                           t->name, tool);
    if (given)
        strbuf_addstr(&file, given);
    else
        fs_path_join(&file, bin_dir, im->file);
    if (!fs_is_file(file.buf)) {
        error(ctx, "cannot open '%s': No such file or directory", file.buf);
        hint(ctx, "build it first (omvdev build -t %s), or name the file with --firmware", t->name);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    /* --wait, given on the command line, bounds how long the tool may take. */
    if (opt_count(&inv->opts, o, "wait") &&
        (parse_number(opt_value(&inv->opts, o, "wait"), 3600, &wait_s) < 0 || wait_s < 1)) {
        rc = usage_error(ctx, inv, "--wait takes whole seconds from 1 to 3600");
        goto out;
    }
    if (opt_count(&inv->opts, o, "dry-run")) {
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
    if (opt_count(&inv->opts, o, "dry-run")) {
        strbuf_addf(&line, "\n");
        out_write(line.buf, line.len);
        goto out;
    }
    note(ctx, "%s",
         t->method == TARGET_METHOD_BOSSAC ? "double-tap RESET first: the bootloader's LED pulses"
                                           : "hold BOOTSEL while plugging the board in first");
    verbose(ctx, "running %s", line.buf);
    {
        struct proc_spec spec = {
            (const char *const *)a.v, NULL, NULL, PROC_INHERIT, PROC_INHERIT, true, NULL, NULL};

        if (proc_run(&p, &spec, (int)wait_s * 1000, err, sizeof(err)) < 0) {
            error(ctx, "%s", err);
            rc = strstr(err, "did not finish") ? OMV_EXIT_DEVICE : OMV_EXIT_FAILURE;
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
    }
out:
    runner_argv_release(&a);
    strbuf_release(&file);
    strbuf_release(&prog);
    strbuf_release(&line);
    return rc;
}

int cmd_flash(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct opt *o = inv->cmd->opts;
    struct flash_run r;
    struct flash_plan_opts po = {opt_value(&inv->opts, o, "firmware"),
                                 opt_value(&inv->opts, o, "romfs"),
                                 opt_value(&inv->opts, o, "file"),
                                 -1,
                                 -1,
                                 opt_count(&inv->opts, o, "erase-fs") > 0,
                                 false};
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct usb_device_info *devs = NULL;
    struct strbuf bin = STRBUF_INIT;
    const char *tname = opt_value(&inv->opts, o, "target");
    const char *serial = opt_value(&inv->opts, o, "serial");
    bool all = opt_count(&inv->opts, o, "all") > 0;
    bool monitor = opt_count(&inv->opts, o, "monitor") > 0;
    char *monitor_serial = NULL;
    size_t picked[64], nr_picked = 0, nr = 0;
    int64_t wait_s = 0;
    char err[1024];
    int rc;

    if (opt_count(&inv->opts, o, "swd"))
        return cmd_flash_swd(ctx, inv);
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.verify = opt_count(&inv->opts, o, "verify") > 0;
    r.skip_unchanged = opt_count(&inv->opts, o, "skip-unchanged") > 0;
    r.mass_erase = opt_count(&inv->opts, o, "mass-erase") > 0;
    r.no_reset = opt_count(&inv->opts, o, "no-reset") > 0;
    r.all = all;
    pthread_mutex_init(&r.lock, NULL);

    rc = read_options(ctx, inv, &po, &wait_s);
    if (rc)
        goto out;
    if (monitor && (all || r.no_reset)) {
        rc = usage_error(ctx, inv, "--monitor follows one camera into its firmware: not with %s",
                         all ? "--all" : "--no-reset");
        goto out;
    }
    if (!ctx_targets(ctx)) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (!tname && usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        rc = (error(ctx, "%s", err), OMV_EXIT_DEVICE);
        goto out;
    }
    r.t = tname ? ctx_target(ctx, tname) : detect_board(ctx, r.u);
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
    if (r.t->method == TARGET_METHOD_BOSSAC || r.t->method == TARGET_METHOD_PICOTOOL) {
        rc = flash_with_tool(ctx, inv, r.t, bin.buf);
        goto out;
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
    r.plan = &plan;
    r.rom = plan.needs_rom || (r.mass_erase && r.t->method == TARGET_METHOD_OPENMV_DFU);
    r.dfuse = r.rom || r.t->method == TARGET_METHOD_DFUSE;
    r.usb = r.rom ? r.t->recovery_usb : r.t->dfu_usb;
    if (r.rom && r.t->recovery != TARGET_RECOVERY_STM32_ROM_DFU) {
        error(ctx, "%s's bootloader is addressed by alt, and its ROM bootloader is not DfuSe",
              r.t->name);
        hint(ctx,
             "flash by alt (omvdev flash --file F --alt N), or see 'omvdev recover "
             "--dry-run -t %s'",
             r.t->name);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (r.mass_erase && !r.rom) {
        error(ctx,
              "--mass-erase would erase %s's factory bootloader, which omvdev cannot "
              "restore",
              r.t->name);
        hint(ctx, "flash without it: the pages written are erased first anyway");
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    if (r.rom)
        note(ctx,
             "writing by address: this goes through the ST system bootloader (%04X:%04X, "
             "BOOT jumper), not the OpenMV bootloader",
             r.usb.vid, r.usb.pid);
    if (r.mass_erase)
        warning(ctx, "--mass-erase: the whole chip is erased, the OpenMV bootloader and the "
                     "filesystem too");
    if (opt_count(&inv->opts, o, "dry-run")) {
        print_plan(&r);
        rc = OMV_EXIT_OK;
        goto out;
    }
    if (!r.u && usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        rc = (error(ctx, "%s", err), OMV_EXIT_DEVICE);
        goto out;
    }
    rc = find_devices(&r, serial, all, (double)wait_s, &devs, &nr, picked, ARRAY_SIZE(picked),
                      &nr_picked);
    if (rc)
        goto out;

    r.nr_jobs = nr_picked;
    r.jobs = xcalloc(nr_picked, sizeof(*r.jobs));
    r.show = choose_show(ctx, nr_picked);
    for (size_t i = 0; i < nr_picked; i++) {
        struct flash_job *j = &r.jobs[i];
        const struct usb_device_info *d = &devs[picked[i]];
        uint16_t v = d->bcd_device;
        char ver[16];

        j->r = &r;
        j->d = d;
        snprintf(j->name, sizeof(j->name), "%s",
                 d->serial && *d->serial ? d->serial : d->port_path);
        /* The OpenMV bootloader packs major.minor.patch into bcdDevice. */
        if (!r.rom && r.t->method == TARGET_METHOD_OPENMV_DFU)
            snprintf(ver, sizeof(ver), "%u.%u.%u", v >> 8, (v >> 4) & 15, v & 15);
        else
            snprintf(ver, sizeof(ver), "%x.%02x", v >> 8, v & 0xff);
        note(ctx, "flashing %s %s (%s %s) on port %s", r.t->name, d->serial ? d->serial : "",
             r.rom ? "ST system bootloader" : "bootloader", ver, d->port_path);
    }
    if (nr_picked == 1) {
        job_main(&r.jobs[0]);
    } else {
        size_t started = 0;

        if (r.show == SHOW_BOARD)
            board_draw(&r, true);
        for (; started < nr_picked; started++)
            if (pthread_create(&r.jobs[started].thread, NULL, job_main, &r.jobs[started]) != 0)
                break;
        for (size_t i = started; i < nr_picked; i++) { /* no thread: run it here */
            job_main(&r.jobs[i]);
        }
        for (size_t i = 0; i < started; i++)
            pthread_join(r.jobs[i].thread, NULL);
        if (r.show == SHOW_BOARD)
            board_draw(&r, true);
    }

    rc = OMV_EXIT_OK;
    for (size_t i = 0; i < r.nr_jobs; i++) {
        if (r.jobs[i].rc) {
            report_failure(&r, &r.jobs[i]);
            rc = r.jobs[i].rc;
        }
    }
    print_summary(&r);
    if (rc == OMV_EXIT_OK && r.nr_jobs == 1) {
        if (r.no_reset)
            note(ctx, "done: the camera stays in its bootloader (--no-reset)");
        else if (r.rom)
            note(ctx, "done: remove the BOOT jumper and replug the camera");
        else
            note(ctx, "done: %s restarts into the new firmware", r.t->name);
        if (monitor && !r.rom && !r.no_reset && r.jobs[0].d->serial)
            monitor_serial = xstrdup(r.jobs[0].d->serial);
    }
out:
    free(r.jobs);
    usb_list_free(devs, nr);
    usb_close_ctx(r.u);
    flash_plan_release(&plan);
    strbuf_release(&bin);
    pthread_mutex_destroy(&r.lock);
    if (monitor_serial)
        rc = monitor_camera(ctx, r.t->name, monitor_serial, (int)wait_s);
    free(monitor_serial);
    return rc;
}
