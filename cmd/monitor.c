/*
 * monitor, run and reset: the console of a running firmware. A camera's REPL
 * is reached over its USB CDC port through libusb (flash/console.c), found by
 * the VID:PID of its board's firmware and its serial number; --port takes a
 * serial device node instead (an emulated board's pty, a USB-UART adapter).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"
#include "cmd/monitor.h"

#include "flash/console.h"
#include "flash/omvproto.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/progress.h"
#include "lib/term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const struct opt monitor_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the board (default: any camera running firmware)", NULL,
     OPT_CONFIG, NULL},
    {"serial", 's', OPT_VALUE, "SERIAL", "the camera with this USB serial number", NULL, 0, NULL},
    {"port", 'p', OPT_VALUE, "DEV", "a serial device node instead of a camera's USB port", NULL, 0,
     NULL},
    {"baud", 'b', OPT_VALUE, "N", "line coding (921600 is the IDE protocol's, not the REPL's)",
     NULL, OPT_CONFIG, "115200"},
    {"raw", 0, OPT_FLAG, NULL, "copy the bytes exactly (keep CR LF when not on a terminal)", NULL,
     0, NULL},
    {"log", 0, OPT_VALUE, "FILE", "also append everything received to FILE", NULL, 0, NULL},
    {"timestamps", 0, OPT_FLAG, NULL, "start every line with the time it arrived", NULL, 0, NULL},
    {"timeout", 0, OPT_VALUE, "SECONDS", "stop after SECONDS", NULL, 0, NULL},
    {"quit-key", 0, OPT_VALUE, "KEY", "the key that quits: ctrl-] (default) or ctrl-A..ctrl-_",
     NULL, OPT_CONFIG, "ctrl-]"},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt run_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the board (default: any camera running firmware)", NULL,
     OPT_CONFIG, NULL},
    {"serial", 's', OPT_VALUE, "SERIAL", "the camera with this USB serial number", NULL, 0, NULL},
    {"port", 'p', OPT_VALUE, "DEV", "a serial device node instead of a camera's USB port", NULL, 0,
     NULL},
    {"no-follow", 0, OPT_FLAG, NULL, "return once the camera accepted the script", NULL, 0, NULL},
    {"timeout", 0, OPT_VALUE, "SECONDS", "interrupt the script after SECONDS", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt reset_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the board (default: any camera)", NULL, OPT_CONFIG, NULL},
    {"serial", 's', OPT_VALUE, "SERIAL", "the camera with this USB serial number", NULL, 0, NULL},
    {"bootloader", 0, OPT_FLAG, NULL, "reboot into the bootloader (SYS_BOOT)", NULL, 0, NULL},
    {"soft", 0, OPT_FLAG, NULL, "MicroPython's soft reset (Ctrl-D) instead of a reboot", NULL, 0,
     NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for the camera to come back", NULL,
     OPT_CONFIG, "10"},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* The one piece of state a signal handler may touch: the signal that asked us to stop. */
static volatile sig_atomic_t console_signal;

static void on_signal(int sig)
{
    console_signal = sig;
}

static void catch_signals(struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    console_signal = 0;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);
}

static void restore_signals(const struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};

    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
}

/* ---- finding the camera ------------------------------------------------------------ */

struct camera_ref {
    const struct target *board;
    uint16_t vid, pid;
    char *serial;
    bool bootloader; /* found in its bootloader rather than its firmware */
};

static void camera_ref_release(struct camera_ref *r)
{
    free(r->serial);
    r->serial = NULL;
}

/* The serial number as messages show it: a USB string cannot drive the terminal. */
static const char *shown(const char *serial, struct strbuf *sb)
{
    return term_safe(sb, serial ? serial : "?");
}

/* A camera of `board` (any board when NULL) with `serial` (any when NULL), in its firmware
 * or, with `bootloader_ok`, in its bootloader. OMV_ENOENT when none, OMV_EUSAGE when several
 * match and no serial tells them apart. */
static int find_camera(const struct target_db *db, struct usb_ctx *u, const struct target *board,
                       const char *serial, bool bootloader_ok, struct camera_ref *out, char *err,
                       size_t errlen)
{
    struct usb_device_info *devs = NULL;
    size_t n = 0, found = 0;
    int rc = usb_list(u, &devs, &n, err, errlen);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct usb_device_info *d = &devs[i];

        for (size_t k = 0; k < db->nr; k++) {
            const struct target *t = &db->targets[k];
            bool app = usb_id_is(t->app_usb, d->vid, d->pid);
            bool bl = bootloader_ok && usb_id_is(t->dfu_usb, d->vid, d->pid);

            if ((!app && !bl) || (board && board != t) ||
                (serial && (!d->serial || strcmp(serial, d->serial))))
                continue;
            if (found++ == 0) {
                *out = (struct camera_ref){t, d->vid, d->pid, d->serial ? xstrdup(d->serial) : NULL,
                                           !app};
            }
            break;
        }
    }
    usb_list_free(devs, n);
    if (rc < 0)
        return rc;
    if (!found)
        return omv_seterr(err, errlen, OMV_ENOENT, "no %s%s%s on USB%s%s",
                          board ? board->name : "camera", bootloader_ok ? "" : " running firmware",
                          "", serial ? " with serial " : "", serial ? serial : "");
    if (found > 1 && !serial) {
        camera_ref_release(out);
        return omv_seterr(err, errlen, OMV_EUSAGE, "%zu cameras match; name one with --serial",
                          found);
    }
    return 0;
}

/* Wait up to wait_ms for the camera with ref's serial in firmware (or bootloader) mode. */
static int wait_for(const struct target_db *db, struct usb_ctx *u, const struct camera_ref *ref,
                    bool bootloader, int64_t wait_ms, struct camera_ref *out, char *err,
                    size_t errlen)
{
    int64_t end = progress_now_ms() + wait_ms;

    for (;;) {
        int rc = find_camera(db, u, ref->board, ref->serial, bootloader, out, err, errlen);

        if (rc == 0 && out->bootloader == bootloader)
            return 0;
        if (rc == 0)
            camera_ref_release(out);
        else if (rc != OMV_ENOENT)
            return rc;
        if (progress_now_ms() >= end || console_signal) {
            struct strbuf sb = STRBUF_INIT;

            rc = omv_seterr(err, errlen, OMV_ETIMEOUT,
                            "camera %s did not come back %s within %lld s", shown(ref->serial, &sb),
                            bootloader ? "in its bootloader" : "running its firmware",
                            (long long)(wait_ms / 1000));
            strbuf_release(&sb);
            return rc;
        }
        usb_wait_change(u, 100, err, errlen);
    }
}

/* ---- the terminal ---------------------------------------------------------------------- */

struct term_state {
    bool raw;
    struct termios saved;
};

static void term_enter_raw(struct term_state *ts)
{
    struct termios t;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &ts->saved) < 0)
        return;
    t = ts->saved;
    term_make_raw(&t);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
        ts->raw = true;
}

static void term_restore(struct term_state *ts)
{
    if (ts->raw)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &ts->saved);
    ts->raw = false;
}

/* ---- what arrives ------------------------------------------------------------------------ */

struct sink {
    bool json, timestamps, keep_cr;
    bool line_start;
    struct strbuf line; /* a --json line being collected */
    int log_fd;         /* -1: none */
};

static void stamp(struct strbuf *out, bool iso)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (iso)
        strbuf_addf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    else
        strbuf_addf(out, "[%02d:%02d:%02d.%03ld] ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                    ts.tv_nsec / 1000000);
}

static void sink_json_line(struct sink *s, const char *event)
{
    struct strbuf out = STRBUF_INIT;

    strbuf_addstr(&out, "{\"schema\":1,\"time\":\"");
    stamp(&out, true);
    strbuf_addstr(&out, "\",");
    if (event) {
        strbuf_addstr(&out, "\"event\":");
        json_quote(&out, event);
    } else {
        strbuf_addstr(&out, "\"line\":\"");
        json_escape(&out, s->line.buf, s->line.len);
        strbuf_addch(&out, '"');
    }
    strbuf_addstr(&out, "}\n");
    out_write(out.buf, out.len);
    fflush(stdout);
    strbuf_release(&out);
    strbuf_reset(&s->line);
}

static void sink_bytes(struct sink *s, const uint8_t *p, size_t n)
{
    struct strbuf out = STRBUF_INIT;

    if (s->log_fd >= 0 && n && write(s->log_fd, p, n) < 0)
        s->log_fd = -1; /* a log that cannot be written does not stop the console */
    for (size_t i = 0; i < n; i++) {
        if (s->json) {
            if (p[i] == '\n')
                sink_json_line(s, NULL);
            else if (p[i] != '\r')
                strbuf_addch(&s->line, p[i]);
            continue;
        }
        if (s->timestamps && s->line_start)
            stamp(&out, false);
        s->line_start = p[i] == '\n';
        if (p[i] != '\r' || s->keep_cr)
            strbuf_addch(&out, p[i]);
    }
    out_write(out.buf, out.len);
    fflush(stdout);
    strbuf_release(&out);
}

/* A state change ("camera 01 left the bus"): stderr, and an event line with --json. */
static void sink_event(struct omv_ctx *ctx, struct sink *s, bool on_tty, const char *msg)
{
    if (s->json && s->line.len) /* what came before the event is a line of its own */
        sink_json_line(s, NULL);
    if (s->json)
        sink_json_line(s, msg);
    s->line_start = true; /* what comes after an event starts a line (and its timestamp) */
    /* In raw terminal mode a line needs its carriage return. */
    if (ctx->verbosity >= 0)
        fprintf(stderr, "%somvdev: %s%s", on_tty ? "\r\n" : "", msg, on_tty ? "\r\n" : "\n");
}

/* ---- monitor ------------------------------------------------------------------------------ */

struct monitor_opts_v {
    const char *target, *serial, *port, *log;
    uint64_t baud, timeout_s;
    bool raw, timestamps, has_timeout;
    int quit_key;
};

static int parse_quit_key(const char *v, int *out)
{
    if (!strncmp(v, "ctrl-", 5) && strlen(v) == 6) {
        int c = v[5] >= 'a' && v[5] <= 'z' ? v[5] - 'a' + 'A' : v[5];

        if (c >= '@' && c <= '_') {
            *out = c & 0x1f;
            return 0;
        }
    }
    return -1;
}

struct console_session {
    struct omv_ctx *ctx;
    const struct target_db *db;
    struct usb_ctx *u;
    struct camera_ref ref;
    const char *port;
    uint32_t baud;
    struct console *con;
    struct sink sink;
    bool on_tty;
    bool stdin_open;
    /* A console whose other end is a process (an emulator): the session ends with it. */
    bool (*alive)(void *ud);
    void *alive_ud;
    int quit_key;
};

static int session_open(struct console_session *s, char *err, size_t errlen)
{
    if (s->port)
        return console_open_tty(s->port, s->baud, &s->con, err, errlen);
    return console_open_usb(s->u, s->ref.vid, s->ref.pid, s->ref.serial, s->baud, &s->con, err,
                            errlen);
}

/* Keys from our stdin go to the console; 1 when the quit key came. */
static int pump_stdin(struct console_session *s, int timeout_ms)
{
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    uint8_t buf[256];
    char err[256];
    ssize_t n;
    uint8_t *q;

    if (!s->stdin_open) {
        if (timeout_ms > 0)
            poll(NULL, 0, timeout_ms);
        return 0;
    }
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n <= 0) {
        s->stdin_open = false; /* EOF: keep copying the output */
        return 0;
    }
    q = s->on_tty ? memchr(buf, s->quit_key, (size_t)n) : NULL;
    if (s->con && (q ? q - buf : n) > 0 &&
        console_write(s->con, buf, (size_t)(q ? q - buf : n), err, sizeof(err)) < 0)
        verbose(s->ctx, "%s", err);
    return q != NULL;
}

/* The camera left: wait for the same one to come back. 1 on quit, 0 when reattached. */
static int reattach(struct console_session *s, int64_t deadline)
{
    char err[256], msg[256], who[128];
    int64_t gone = progress_now_ms();
    struct camera_ref back;
    struct strbuf sb = STRBUF_INIT;

    snprintf(who, sizeof(who), "%s", s->port ? s->port : shown(s->ref.serial, &sb));
    strbuf_release(&sb);

    snprintf(msg, sizeof(msg), "%s %s left; waiting for it to come back (%s quits)",
             s->port ? "port" : "camera", who, s->on_tty ? "Ctrl-]" : "Ctrl-C");
    sink_event(s->ctx, &s->sink, s->on_tty, msg);
    for (;;) {
        if (console_signal || (deadline && progress_now_ms() >= deadline))
            return 1;
        if (pump_stdin(s, 0) == 1)
            return 1;
        if (s->port && access(s->port, F_OK) == 0 && session_open(s, err, sizeof(err)) == 0)
            break;
        /* A fresh USB context for every look: a long-lived one can keep a stale device
         * list after several re-enumerations in a row (firmware, bootloader, firmware). */
        if (!s->port) {
            usb_close_ctx(s->u);
            s->u = NULL;
            if (usb_open_ctx(&s->u, err, sizeof(err)) < 0)
                return 1;
        }
        if (!s->port && find_camera(s->db, s->u, s->ref.board, s->ref.serial, false, &back, err,
                                    sizeof(err)) == 0) {
            s->ref.vid = back.vid;
            s->ref.pid = back.pid;
            camera_ref_release(&back);
            if (session_open(s, err, sizeof(err)) == 0)
                break;
        }
        poll(NULL, 0, 100);
    }
    snprintf(msg, sizeof(msg), "%s %s is back after %.2f s", s->port ? "port" : "camera", who,
             (double)(progress_now_ms() - gone) / 1000.0);
    sink_event(s->ctx, &s->sink, s->on_tty, msg);
    return 0;
}

/* Copy both ways until the quit key, a signal, the timeout, or the end of a port. */
static int session_loop(struct console_session *s, int64_t deadline)
{
    char err[256];

    for (;;) {
        uint8_t buf[4096];
        size_t got = 0;
        int rc;

        if (console_signal || (deadline && progress_now_ms() >= deadline))
            return 0;
        if (s->alive && !s->alive(s->alive_ud)) {
            /* what the emulator wrote just before it exited */
            while (console_read(s->con, buf, sizeof(buf), &got, 100, err, sizeof(err)) == 0 && got)
                sink_bytes(&s->sink, buf, got);
            return 0;
        }
        rc = console_read(s->con, buf, sizeof(buf), &got, console_fd(s->con) >= 0 ? 0 : 20, err,
                          sizeof(err));
        if (rc == OMV_EDEVICE) {
            console_close(s->con);
            s->con = NULL;
            if (s->alive)
                return 0;
            if (reattach(s, deadline))
                return 0;
            continue;
        }
        if (rc < 0)
            return rc;
        sink_bytes(&s->sink, buf, got);
        if (pump_stdin(s, console_fd(s->con) >= 0 && !got ? 20 : 0) == 1)
            return 0;
    }
}

/* Run a session: raw terminal, signals caught, everything restored on every way out. */
static int session_run(struct console_session *s, int64_t timeout_ms)
{
    struct strbuf sb = STRBUF_INIT;
    struct term_state ts = {false, {0}};
    struct sigaction old[3];
    char err[256], msg[300];
    int rc;

    catch_signals(old);
    rc = s->con ? 0 : session_open(s, err, sizeof(err));
    if (rc < 0) {
        restore_signals(old);
        error(s->ctx, "%s", err);
        if (rc == OMV_EPERM || rc == USB_ERR_ACCESS)
            hint(s->ctx, "omvdev udev install");
        return exit_status_for(rc == USB_ERR_ACCESS ? OMV_EDEVICE : rc);
    }
    s->on_tty = isatty(STDIN_FILENO);
    s->stdin_open = true;
    if (s->on_tty)
        term_enter_raw(&ts);
    snprintf(msg, sizeof(msg), "console of %s%s%s (%s quits)",
             s->port ? s->port : s->ref.board->name, s->port ? "" : " ",
             s->port ? "" : shown(s->ref.serial, &sb),
             s->on_tty ? "Ctrl-]" : "end of input, Ctrl-C");
    strbuf_release(&sb);
    sink_event(s->ctx, &s->sink, s->on_tty, msg);
    rc = session_loop(s, timeout_ms > 0 ? progress_now_ms() + timeout_ms : 0);
    term_restore(&ts);
    restore_signals(old);
    console_close(s->con);
    s->con = NULL;
    if (s->sink.json && s->sink.line.len)
        sink_json_line(&s->sink, NULL);
    if (rc < 0) {
        error(s->ctx, "%s", err);
        return exit_status_for(rc);
    }
    if (console_signal)
        return 128 + console_signal;
    return OMV_EXIT_OK;
}

static int read_monitor_opts(struct omv_ctx *ctx, struct omv_invocation *inv,
                             struct monitor_opts_v *o)
{
    const struct opt_result *r = &inv->opts;
    const char *v;
    char err[256];

    memset(o, 0, sizeof(*o));
    o->target = opt_value(r, monitor_opts, "target");
    o->serial = opt_value(r, monitor_opts, "serial");
    o->port = opt_value(r, monitor_opts, "port");
    o->log = opt_value(r, monitor_opts, "log");
    o->raw = opt_count(r, monitor_opts, "raw") > 0;
    o->timestamps = opt_count(r, monitor_opts, "timestamps") > 0;
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (o->port && (o->serial || o->target))
        return usage_error(ctx, inv, "--port names the device; it goes without -t and --serial");
    if (cmd_number(inv, "baud", &o->baud, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (o->baud == 921600 && !o->port)
        return usage_error(ctx, inv,
                           "--baud 921600 switches the camera to its IDE protocol; the "
                           "console needs another rate");
    v = opt_value(r, monitor_opts, "timeout");
    if (cmd_number(inv, "timeout", &o->timeout_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    o->has_timeout = v != NULL;
    if (parse_quit_key(opt_value(r, monitor_opts, "quit-key"), &o->quit_key) < 0)
        return usage_error(ctx, inv, "--quit-key takes ctrl-A .. ctrl-_ (e.g. ctrl-]), not '%s'",
                           opt_value(r, monitor_opts, "quit-key"));
    return 0;
}

/* Find the camera (or take the port) and fill the session; an exit status on failure. */
static int session_prepare(struct omv_ctx *ctx, struct console_session *s, const char *target,
                           const char *serial, const char *port)
{
    const struct target *board = NULL;
    char err[256];
    int rc;

    s->ctx = ctx;
    s->port = port;
    s->sink.log_fd = -1;
    s->sink.line_start = true;
    strbuf_init(&s->sink.line);
    s->quit_key = 0x1d;
    if (port)
        return 0;
    s->db = ctx_targets(ctx);
    if (!s->db)
        return OMV_EXIT_USAGE;
    if (target && !(board = ctx_target(ctx, target)))
        return OMV_EXIT_USAGE;
    if (usb_open_ctx(&s->u, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_DEVICE;
    }
    rc = find_camera(s->db, s->u, board, serial, false, &s->ref, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        hint(ctx, rc == OMV_EUSAGE ? "omvdev devices" : "omvdev devices --watch");
        return exit_status_for(rc == OMV_ENOENT ? OMV_EDEVICE : rc);
    }
    return 0;
}

static void session_release(struct console_session *s)
{
    console_close(s->con);
    camera_ref_release(&s->ref);
    usb_close_ctx(s->u);
    strbuf_release(&s->sink.line);
    if (s->sink.log_fd >= 0)
        close(s->sink.log_fd);
}

int cmd_monitor(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct monitor_opts_v o;
    struct console_session s;
    int rc = read_monitor_opts(ctx, inv, &o);

    if (rc)
        return rc;
    memset(&s, 0, sizeof(s));
    rc = session_prepare(ctx, &s, o.target, o.serial, o.port);
    if (rc)
        goto out;
    s.baud = (uint32_t)o.baud;
    s.quit_key = o.quit_key;
    s.sink.json = ctx->json;
    s.sink.timestamps = o.timestamps;
    s.sink.keep_cr = o.raw || isatty(STDOUT_FILENO);
    if (o.log)
        s.sink.log_fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (o.log && s.sink.log_fd < 0) {
        error(ctx, "cannot open '%s': %s", o.log, strerror(errno));
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = session_run(&s, o.has_timeout ? (int64_t)o.timeout_s * 1000 : 0);
out:
    session_release(&s);
    return rc;
}

int monitor_console(struct omv_ctx *ctx, struct console *con, const char *name,
                    bool (*alive)(void *ud), void *ud)
{
    struct console_session s;
    int rc;

    memset(&s, 0, sizeof(s));
    rc = session_prepare(ctx, &s, NULL, NULL, name);
    s.con = con;
    s.alive = alive;
    s.alive_ud = ud;
    s.sink.keep_cr = isatty(STDOUT_FILENO);
    if (!rc)
        rc = session_run(&s, 0);
    session_release(&s);
    return rc;
}

int monitor_camera(struct omv_ctx *ctx, const char *target, const char *serial, int wait_s)
{
    struct console_session s;
    struct camera_ref want = {NULL, 0, 0, serial ? xstrdup(serial) : NULL, false};
    char err[256];
    int rc;

    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.db = ctx_targets(ctx);
    if (!s.db)
        return OMV_EXIT_USAGE;
    want.board = target ? ctx_target(ctx, target) : NULL;
    if (usb_open_ctx(&s.u, err, sizeof(err)) == 0)
        rc = wait_for(s.db, s.u, &want, false, (int64_t)wait_s * 1000, &s.ref, err, sizeof(err));
    else
        rc = OMV_EDEVICE;
    camera_ref_release(&want);
    if (rc < 0) {
        error(ctx, "%s", err);
        usb_close_ctx(s.u);
        return OMV_EXIT_DEVICE;
    }
    usb_close_ctx(s.u);
    s.u = NULL;
    camera_ref_release(&s.ref);
    rc = session_prepare(ctx, &s, target, serial, NULL);
    s.baud = CONSOLE_BAUD;
    s.sink.keep_cr = isatty(STDOUT_FILENO);
    if (!rc)
        rc = session_run(&s, 0);
    session_release(&s);
    return rc;
}

/* ---- run ------------------------------------------------------------------------------------ */

static void run_output(void *ud, const uint8_t *data, size_t len)
{
    struct sink *s = ud;

    sink_bytes(s, data, len);
}

static int run_script(struct console_session *s, const struct strbuf *script, bool no_follow,
                      int timeout_ms)
{
    struct console_result r = {false, false, STRBUF_INIT, 0, 0};
    struct console_exec x = {script->buf, script->len,     0,        run_output, &s->sink,
                             timeout_ms,  &console_signal, no_follow};
    char err[256];
    int rc = console_raw_enter(s->con, 3000, err, sizeof(err));

    if (rc == 0)
        rc = console_raw_exec(s->con, &x, &r, err, sizeof(err));
    if (rc != OMV_EDEVICE && rc != OMV_ETIMEOUT)
        console_raw_leave(s->con, err, sizeof(err));
    verbose(s->ctx, "sent %zu bytes in %u writes", r.sent_bytes, r.nr_chunks);
    if (r.error.len) {
        fflush(stdout);
        fwrite(r.error.buf, 1, r.error.len, stderr);
    }
    if (rc == OMV_EINTR) {
        rc = 128 + SIGINT;
    } else if (rc < 0) {
        error(s->ctx, "%s", err);
        rc = rc == OMV_ETIMEOUT && r.interrupted ? OMV_EXIT_FAILURE : OMV_EXIT_DEVICE;
    } else {
        rc = r.raised ? OMV_EXIT_FAILURE : OMV_EXIT_OK;
    }
    console_result_release(&r);
    return rc;
}

struct run_options {
    const char *script, *target, *serial, *port;
    bool follow;
    uint64_t timeout_s; /* 0: none */
};

static int read_run_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct run_options *ro)
{
    const struct opt_result *o = &inv->opts;
    char err[256];

    memset(ro, 0, sizeof(*ro));
    if (o->nr_args != 1)
        return usage_error(ctx, inv, "run takes one script, e.g. omvdev run main.py");
    ro->script = o->args[0];
    ro->target = opt_value(o, run_opts, "target");
    ro->serial = opt_value(o, run_opts, "serial");
    ro->port = opt_value(o, run_opts, "port");
    ro->follow = opt_count(o, run_opts, "no-follow") == 0;
    if (cmd_number(inv, "timeout", &ro->timeout_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    return 0;
}

int cmd_run(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct run_options ro;
    struct console_session s;
    struct strbuf script = STRBUF_INIT;
    struct sigaction old[3];
    char err[256];
    int rc;

    rc = read_run_options(ctx, inv, &ro);
    if (rc)
        return rc;
    if (fs_read_file(ro.script, &script, err, sizeof(err)) < 0) {
        strbuf_release(&script);
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    memset(&s, 0, sizeof(s));
    rc = session_prepare(ctx, &s, ro.target, ro.serial, ro.port);
    s.baud = CONSOLE_BAUD;
    s.sink.keep_cr = isatty(STDOUT_FILENO);
    if (rc)
        goto out;
    rc = session_open(&s, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        rc = exit_status_for(rc == OMV_ENOENT ? OMV_EDEVICE : rc);
        goto out;
    }
    catch_signals(old);
    rc = run_script(&s, &script, !ro.follow, ro.timeout_s ? (int)ro.timeout_s * 1000 : -1);
    restore_signals(old);
out:
    session_release(&s);
    strbuf_release(&script);
    return rc;
}

/* ---- reset ---------------------------------------------------------------------------------- */

/* Reboot a camera running its firmware: machine.reset() through the raw REPL. */
static int reset_firmware(struct console_session *s, bool soft, char *err, size_t errlen)
{
    static const char reboot[] = "import machine\nmachine.reset()\n";
    struct console_result r = {false, false, STRBUF_INIT, 0, 0};
    struct console_exec x = {reboot, sizeof(reboot) - 1, 0, NULL, NULL, -1, NULL, true};
    int rc = session_open(s, err, errlen);

    if (rc < 0)
        return rc;
    if (soft) {
        /* Ctrl-C stops a script, Ctrl-B leaves a raw REPL, Ctrl-D soft-reboots. */
        rc = console_write(s->con, "\r\x03\x03\x02\x04", 5, err, errlen);
    } else {
        rc = console_raw_enter(s->con, 3000, err, errlen);
        if (rc == 0)
            rc = console_raw_exec(s->con, &x, &r, err, errlen);
        /* The camera may leave before it answers "OK". */
        if (rc == OMV_EDEVICE || rc == OMV_ETIMEOUT)
            rc = 0;
    }
    console_close(s->con);
    s->con = NULL;
    console_result_release(&r);
    return rc;
}

/* Wait up to 3 s for the camera to leave the bus (a reboot starts with that). */
static void wait_gone(struct console_session *s)
{
    int64_t end = progress_now_ms() + 3000;
    struct camera_ref still;
    char err[256];

    while (progress_now_ms() < end && find_camera(s->db, s->u, s->ref.board, s->ref.serial, true,
                                                  &still, err, sizeof(err)) == 0) {
        camera_ref_release(&still);
        usb_wait_change(s->u, 50, err, sizeof(err));
    }
}

/* A camera in its bootloader starts its firmware on a USB reset. */
static int reset_bootloader(struct console_session *s, char *err, size_t errlen)
{
    struct usb_device_info *devs = NULL;
    size_t n = 0;
    int rc = usb_list(s->u, &devs, &n, err, errlen);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct usb_dfu *h = NULL;

        if (devs[i].vid != s->ref.vid || devs[i].pid != s->ref.pid ||
            (s->ref.serial && (!devs[i].serial || strcmp(devs[i].serial, s->ref.serial))))
            continue;
        rc = usb_dfu_open(s->u, &devs[i], &h, err, errlen);
        if (rc == 0)
            rc = usb_dfu_reset(h);
        usb_dfu_close(h);
        break;
    }
    usb_list_free(devs, n);
    return rc;
}

static int reset_dispatch(struct omv_ctx *ctx, struct console_session *s, bool to_bl, bool soft,
                          int64_t wait_ms, struct camera_ref *back, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    char who[128];
    int rc;

    snprintf(who, sizeof(who), "%s", shown(s->ref.serial, &sb));
    strbuf_release(&sb);
    if (s->ref.bootloader && to_bl) {
        note(ctx, "camera %s (%s) is in its bootloader already", who, s->ref.board->name);
        return 0;
    }
    if (s->ref.bootloader || !soft) {
        if (s->ref.bootloader)
            rc = reset_bootloader(s, err, errlen);
        else if (to_bl)
            rc =
                omvproto_enter_bootloader(s->u, s->ref.vid, s->ref.pid, s->ref.serial, err, errlen);
        else
            rc = reset_firmware(s, false, err, errlen);
        if (rc < 0)
            return rc;
        wait_gone(s);
        rc = wait_for(s->db, s->u, &s->ref, to_bl, wait_ms, back, err, errlen);
        if (rc == 0)
            note(ctx, "camera %s (%s) is %s (%04X:%04X)", who, s->ref.board->name,
                 to_bl ? "in its bootloader" : "running its firmware again", back->vid, back->pid);
        return rc;
    }
    rc = reset_firmware(s, true, err, errlen);
    if (rc == 0)
        note(ctx, "camera %s (%s): MicroPython soft reset", who, s->ref.board->name);
    return rc;
}

struct reset_options {
    const char *target, *serial;
    bool to_bootloader, soft;
    uint64_t wait_s;
};

static int read_reset_options(struct omv_ctx *ctx, struct omv_invocation *inv,
                              struct reset_options *ro)
{
    const struct opt_result *o = &inv->opts;
    char err[256];

    memset(ro, 0, sizeof(*ro));
    ro->target = opt_value(o, reset_opts, "target");
    ro->serial = opt_value(o, reset_opts, "serial");
    ro->to_bootloader = opt_count(o, reset_opts, "bootloader") > 0;
    ro->soft = opt_count(o, reset_opts, "soft") > 0;
    ro->wait_s = 10;
    if (o->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", o->args[0]);
    if (ro->soft && ro->to_bootloader)
        return usage_error(ctx, inv, "--soft and --bootloader exclude each other");
    if (cmd_number(inv, "wait", &ro->wait_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    return 0;
}

int cmd_reset(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct reset_options ro;
    struct console_session s;
    struct camera_ref back = {NULL, 0, 0, NULL, false};
    char err[256];
    int rc;

    rc = read_reset_options(ctx, inv, &ro);
    if (rc)
        return rc;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.baud = CONSOLE_BAUD;
    s.db = ctx_targets(ctx);
    rc = s.db ? 0 : OMV_EXIT_USAGE;
    if (!rc && ro.target && !(s.ref.board = ctx_target(ctx, ro.target)))
        rc = OMV_EXIT_USAGE;
    if (rc)
        goto out;
    rc = usb_open_ctx(&s.u, err, sizeof(err));
    if (rc == 0)
        rc = find_camera(s.db, s.u, s.ref.board, ro.serial, true, &s.ref, err, sizeof(err));
    if (rc == 0)
        rc = reset_dispatch(ctx, &s, ro.to_bootloader, ro.soft, (int64_t)ro.wait_s * 1000, &back,
                            err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT)
            hint(ctx, "omvdev devices");
        rc = exit_status_for(rc == OMV_ENOENT ? OMV_EDEVICE : rc);
    }
out:
    camera_ref_release(&back);
    session_release(&s);
    return rc;
}
