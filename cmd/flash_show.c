/*
 * What `omvdev flash` shows while it works and after: a progress bar for one
 * device on a terminal, a line per device redrawn for several, progress lines
 * with -v when not on a terminal, newline-delimited --json events; a note per
 * image written, the summary of --all, and the failure reports, each with the
 * state the device was left in and the command that goes on from there.
 */
#include "lib/compat.h"
#include "cmd/flash_run.h"

#include "flash/dfu.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/json.h"
#include "lib/strbuf.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
void flash_board_draw(struct flash_run *r, bool force)
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
void flash_job_say(struct flash_job *j, const char *fmt, ...)
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
        flash_board_draw(r, true);
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
        flash_board_draw(r, false);
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
    flash_job_say(j, "wrote %s: %s %s in %.1f s", s->label, amount.buf, where.buf,
                  (double)rep->ms / 1000);
    strbuf_release(&where);
    strbuf_release(&amount);
}

static void hook_done(void *ud, const struct flash_report *rep)
{
    struct flash_job *j = ud;

    job_step_end(j, rep);
    if (!strcmp(rep->result, "unchanged"))
        flash_job_say(j, "%s is already on the camera: skipped", rep->label);
    else if (rep->step)
        say_written(j, rep);
    else if (!strcmp(rep->label, "mass erase"))
        flash_job_say(j, "erased the whole chip (mass erase)");
    else if (!strcmp(rep->label, "erase"))
        flash_job_say(j, "erased %llu KiB, every page once, in %.1f s",
                      (unsigned long long)(rep->len / 1024), (double)rep->ms / 1000);
    else
        flash_job_say(j, "verified: every image reads back as written (%.1f s)",
                      (double)rep->ms / 1000);
}

static void hook_begin(void *ud, const char *label)
{
    job_step_begin(ud, label);
}

static int hook_reset(void *ud)
{
    struct flash_job *j = ud;

    return usb_dfu_reset(j->h);
}

const struct flash_session_hooks flash_show_hooks = {NULL, hook_begin, job_progress, hook_done,
                                                     hook_reset};

/* ---- after the run ---------------------------------------------------------------- */

/* --dry-run --json: the plan as one "plan" event of the newline-delimited stream. */
static void print_plan_json(const struct flash_run *r)
{
    const struct flash_plan *plan = r->plan;
    struct strbuf out = STRBUF_INIT;
    struct json_writer jw;
    char id[16];

    json_init(&jw, &out);
    jw.compact = true;
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "event", "plan");
    json_string(&jw, "target", plan->target->name);
    json_string(&jw, "through",
                r->rom ? "st-system-bootloader" : target_method_name(plan->target->method));
    json_string(&jw, "usb", usb_id_str(r->usb, id, sizeof(id)));
    json_bool(&jw, "mass_erase", r->sopts.mass_erase);
    json_array_begin(&jw, "steps");
    for (size_t i = 0; i < plan->nr; i++) {
        const struct flash_step *st = &plan->steps[i];

        json_object_begin(&jw, NULL);
        json_string(&jw, "label", st->label);
        json_string(&jw, "path", st->path);
        json_int(&jw, "bytes", (int64_t)st->len);
        if (st->alt >= 0 && !r->rom)
            json_int(&jw, "alt", st->alt);
        if (st->address >= 0)
            json_int(&jw, "address", st->address);
        if (st->limit)
            json_int(&jw, "limit", (int64_t)st->limit);
        json_object_end(&jw);
    }
    json_array_end(&jw);
    json_bool(&jw, "verify", r->sopts.verify);
    json_string(&jw, "then", r->sopts.no_reset ? "stay" : r->sopts.dfuse ? "leave" : "reset");
    json_object_end(&jw);
    out_write(out.buf, out.len);
    strbuf_release(&out);
}

void flash_print_plan(const struct flash_run *r)
{
    const struct flash_plan *plan = r->plan;
    struct strbuf out = STRBUF_INIT;
    char id[16];

    if (r->ctx->json) {
        print_plan_json(r);
        return;
    }
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

void flash_print_summary(struct flash_run *r)
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
    if (!out->touched)
        return "nothing was erased or written";
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
                r->signal == SIGTERM ? "SIGTERM" : "Ctrl-C", flash_stage_name(out->stage));
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
    else if (j->out.no_upload)
        hint(r->ctx, "flash without %s", r->sopts.verify ? "--verify" : "--skip-unchanged");
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

void flash_report_failure(struct flash_run *r, const struct flash_job *j)
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

enum show flash_choose_show(const struct omv_ctx *ctx, size_t nr_jobs)
{
    if (ctx->json)
        return SHOW_JSON;
    if (ctx->verbosity < 0)
        return SHOW_NONE;
    if (isatty(2))
        return nr_jobs > 1 ? SHOW_BOARD : SHOW_BAR;
    return ctx->verbosity > 0 ? SHOW_LINES : SHOW_NONE;
}
