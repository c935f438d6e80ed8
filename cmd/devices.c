/*
 * omvdev devices [--watch [--timeout S]]: every camera and bootloader on the
 * bus, what mode it is in, and what its bootloader reports.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "flash/usb.h"
#include "lib/error.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/table.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct opt devices_opts[] = {
    {"watch", 'w', OPT_FLAG, NULL, "keep running and print devices as they come and go", NULL, 0,
     NULL},
    {"timeout", 0, OPT_VALUE, "SECONDS", "with --watch: stop after SECONDS", NULL, 0, NULL},
    {"all", 'a', OPT_FLAG, NULL, "list every USB device, not only cameras and bootloaders", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

struct seen {
    const struct usb_device_info *info;
    const struct target *board; /* NULL when the ID is shared (ST ROM) or unknown */
    const char *mode;
};

/* Which board and mode a VID:PID means; false when it is none of ours. */
static bool classify(const struct target_db *db, const struct usb_device_info *d, struct seen *s)
{
    s->info = d;
    s->board = NULL;
    s->mode = NULL;
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];

        if (usb_id_is(t->app_usb, d->vid, d->pid)) {
            s->board = t;
            s->mode = "firmware";
        } else if (usb_id_is(t->dfu_usb, d->vid, d->pid)) {
            static const char *const modes[] = {
                [TARGET_METHOD_OPENMV_DFU] = "OpenMV bootloader",
                [TARGET_METHOD_DFUSE] = "Arduino bootloader",
                [TARGET_METHOD_SPSDK] = "NXP flashloader",
                [TARGET_METHOD_BOSSAC] = "Arduino bootloader (bossac)",
                [TARGET_METHOD_PICOTOOL] = "RP2040 BOOTSEL",
            };

            s->board = t;
            s->mode = modes[t->method];
        } else if (!s->mode && usb_id_is(t->recovery_usb, d->vid, d->pid)) {
            switch (t->recovery) {
            case TARGET_RECOVERY_STM32_ROM_DFU:
                s->mode = "ST system bootloader";
                break;
            case TARGET_RECOVERY_SPSDK_SDP:
                s->mode = "NXP SDP ROM";
                s->board = t;
                break;
            case TARGET_RECOVERY_ALIF_SETOOLS:
                s->mode = "FTDI serial (AE3 recovery adapter?)";
                break;
            default:
                break;
            }
        }
        if (s->board)
            return true;
    }
    return s->mode != NULL;
}

/* "1.0.3" for the OpenMV bootloader (major<<8 | minor<<4 | patch), BCD otherwise. */
static void version_text(const struct seen *s, char *buf, size_t len)
{
    uint16_t v = s->info->bcd_device;

    if (s->board && s->mode && !strcmp(s->mode, "OpenMV bootloader"))
        snprintf(buf, len, "%u.%u.%u", v >> 8, (v >> 4) & 15, v & 15);
    else
        snprintf(buf, len, "%x.%02x", v >> 8, v & 0xff);
}

static void json_device(struct json_writer *jw, const struct seen *s, const char *event)
{
    const struct usb_device_info *d = s->info;
    char buf[32];

    json_object_begin(jw, NULL);
    if (event)
        json_string(jw, "event", event);
    json_string(jw, "board", s->board ? s->board->name : NULL);
    json_string(jw, "mode", s->mode);
    snprintf(buf, sizeof(buf), "%04X:%04X", d->vid, d->pid);
    json_string(jw, "usb", buf);
    json_string(jw, "serial", d->serial);
    json_string(jw, "port", d->port_path);
    json_int(jw, "bus", d->bus);
    json_int(jw, "address", d->address);
    version_text(s, buf, sizeof(buf));
    json_string(jw, "version", buf);
    json_string(jw, "product", d->product);
    if (d->open_error)
        json_string(jw, "error", usb_strerror(d->open_error));
    json_array_begin(jw, "alts");
    for (size_t a = 0; a < d->nr_alts; a++) {
        json_object_begin(jw, NULL);
        json_int(jw, "alt", (int64_t)a);
        json_string(jw, "name", d->alt_names[a]);
        json_object_end(jw);
    }
    json_array_end(jw);
    json_object_end(jw);
}

static void text_row(struct table *tb, const struct seen *s)
{
    const struct usb_device_info *d = s->info;
    char usb[16], ver[16];

    snprintf(usb, sizeof(usb), "%04X:%04X", d->vid, d->pid);
    version_text(s, ver, sizeof(ver));
    table_row(tb, s->board ? s->board->name : "-", s->mode ? s->mode : "-", usb,
              d->serial ? d->serial : (d->open_error ? "(no access)" : "-"), d->port_path, ver);
}

static void alt_lines(struct strbuf *out, const struct seen *all, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct usb_device_info *d = all[i].info;

        if (!d->nr_alts || d->dfu_runtime)
            continue;
        strbuf_addf(out, "  %s%s%s alts:", d->serial ? d->serial : d->port_path,
                    all[i].board ? " " : "", all[i].board ? all[i].board->name : "");
        for (size_t a = 0; a < d->nr_alts; a++)
            strbuf_addf(out, "%s %zu %s", a ? "," : "", a, d->alt_names[a]);
        strbuf_addch(out, '\n');
    }
}

struct snapshot {
    struct usb_device_info *devs;
    size_t nr;
    struct seen *seen;
    size_t nr_seen;
};

static int by_port(const void *a, const void *b)
{
    const struct seen *x = a, *y = b;
    int c = strcmp(x->info->port_path, y->info->port_path);

    return c ? c : (int)x->info->address - (int)y->info->address;
}

static int snapshot_take(struct omv_ctx *ctx, struct usb_ctx *u, const struct target_db *db,
                         bool all, struct snapshot *sn)
{
    char err[512];

    memset(sn, 0, sizeof(*sn));
    if (usb_list(u, &sn->devs, &sn->nr, err, sizeof(err)) < 0)
        return error(ctx, "%s", err);
    sn->seen = xcalloc(sn->nr + 1, sizeof(*sn->seen));
    for (size_t i = 0; i < sn->nr; i++)
        if (classify(db, &sn->devs[i], &sn->seen[sn->nr_seen]) || all)
            sn->seen[sn->nr_seen++].info = &sn->devs[i];
    qsort(sn->seen, sn->nr_seen, sizeof(*sn->seen), by_port);
    return 0;
}

static void snapshot_release(struct snapshot *sn)
{
    usb_list_free(sn->devs, sn->nr);
    free(sn->seen);
}

static bool same_device(const struct usb_device_info *a, const struct usb_device_info *b)
{
    return a->bus == b->bus && a->address == b->address && a->vid == b->vid && a->pid == b->pid;
}

static void print_event(struct omv_ctx *ctx, const struct seen *s, const char *event)
{
    struct strbuf out = STRBUF_INIT;

    if (ctx->json) {
        struct json_writer jw;
        struct strbuf one = STRBUF_INIT;

        json_init(&jw, &one);
        json_device(&jw, s, event);
        /* One line per event, so a script can read them as they come. */
        for (size_t i = 0; i < one.len; i++)
            if (one.buf[i] != '\n' && !(one.buf[i] == ' ' && i && one.buf[i - 1] == ' ') &&
                !(one.buf[i] == ' ' && i && one.buf[i - 1] == '\n'))
                strbuf_addch(&out, one.buf[i]);
        strbuf_addch(&out, '\n');
        strbuf_release(&one);
    } else {
        const struct usb_device_info *d = s->info;

        strbuf_addf(&out, "%s %s %s %04X:%04X %s port %s\n", event[0] == 'a' ? "+" : "-",
                    s->board ? s->board->name : "-", s->mode ? s->mode : "-", d->vid, d->pid,
                    d->serial ? d->serial : "-", d->port_path);
    }
    out_write(out.buf, out.len);
    fflush(stdout);
    strbuf_release(&out);
}

static int watch(struct omv_ctx *ctx, struct usb_ctx *u, const struct target_db *db, bool all,
                 struct snapshot *prev, double timeout_s)
{
    struct timespec t0, now;
    char err[512];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct snapshot cur;
        double left;
        int rc;

        clock_gettime(CLOCK_MONOTONIC, &now);
        left =
            timeout_s - (double)(now.tv_sec - t0.tv_sec) - (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (timeout_s > 0 && left <= 0)
            return OMV_EXIT_OK;
        rc = usb_wait_change(u, timeout_s > 0 ? (int)(left * 1000) + 1 : -1, err, sizeof(err));
        if (rc < 0) {
            error(ctx, "%s", err);
            return OMV_EXIT_FAILURE;
        }
        if (rc == 0)
            continue;
        if (snapshot_take(ctx, u, db, all, &cur) < 0)
            return OMV_EXIT_FAILURE;
        for (size_t i = 0; i < prev->nr_seen; i++) {
            bool still = false;

            for (size_t j = 0; j < cur.nr_seen && !still; j++)
                still = same_device(prev->seen[i].info, cur.seen[j].info);
            if (!still)
                print_event(ctx, &prev->seen[i], "remove");
        }
        for (size_t j = 0; j < cur.nr_seen; j++) {
            bool known = false;

            for (size_t i = 0; i < prev->nr_seen && !known; i++)
                known = same_device(prev->seen[i].info, cur.seen[j].info);
            if (!known)
                print_event(ctx, &cur.seen[j], "add");
        }
        snapshot_release(prev);
        *prev = cur;
    }
}

/* The options of `omvdev devices`, read once by read_options(). */
struct devices_options {
    bool all, watching;
    uint64_t timeout_s; /* with --watch: 0 = until interrupted */
};

/* Read every option once; 0 or an exit status. */
static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv,
                        struct devices_options *dopt)
{
    const struct opt *o = inv->cmd->opts;
    const char *timeout = opt_value(&inv->opts, o, "timeout");
    char err[256];

    dopt->all = opt_count(&inv->opts, o, "all") > 0;
    dopt->watching = opt_count(&inv->opts, o, "watch") > 0;
    dopt->timeout_s = 0;
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (cmd_number(inv, "timeout", &dopt->timeout_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (timeout && !dopt->watching)
        return usage_error(ctx, inv, "--timeout goes with --watch");
    return 0;
}

int cmd_devices(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct target_db *db = ctx_targets(ctx);
    struct devices_options dopt;
    bool all, watching;
    double timeout_s;
    struct usb_ctx *u = NULL;
    struct snapshot sn;
    struct strbuf out = STRBUF_INIT;
    char err[512];
    int rc;

    if (!db)
        return OMV_EXIT_FAILURE;
    rc = read_options(ctx, inv, &dopt);
    if (rc)
        return rc;
    all = dopt.all;
    watching = dopt.watching;
    timeout_s = (double)dopt.timeout_s;
    if (usb_open_ctx(&u, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    if (snapshot_take(ctx, u, db, all, &sn) < 0) {
        usb_close_ctx(u);
        return OMV_EXIT_FAILURE;
    }

    if (ctx->json && !watching) {
        struct json_writer jw;

        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "devices");
        for (size_t i = 0; i < sn.nr_seen; i++)
            json_device(&jw, &sn.seen[i], NULL);
        json_array_end(&jw);
        json_object_end(&jw);
    } else if (ctx->json) {
        for (size_t i = 0; i < sn.nr_seen; i++)
            print_event(ctx, &sn.seen[i], "present");
    } else if (sn.nr_seen) {
        struct table tb = TABLE_INIT;

        table_header(&tb, 6, "BOARD", "MODE", "USB", "SERIAL", "PORT", "VERSION");
        for (size_t i = 0; i < sn.nr_seen; i++)
            text_row(&tb, &sn.seen[i]);
        table_render(&tb, TABLE_TEXT, &out);
        table_release(&tb);
        alt_lines(&out, sn.seen, sn.nr_seen);
    } else if (!watching) {
        note(ctx, "no OpenMV camera or bootloader is connected");
        hint(ctx, "check the cable (some are power-only); a camera stays in its bootloader "
                  "only ~1.5 s after plug-in");
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    for (size_t i = 0; i < sn.nr_seen; i++)
        if (sn.seen[i].info->open_error == USB_ERR_ACCESS) {
            warning(ctx,
                    "no permission to open %04X:%04X on port %s: serial and alt names "
                    "are unknown",
                    sn.seen[i].info->vid, sn.seen[i].info->pid, sn.seen[i].info->port_path);
            hint(ctx, "install the udev rules that give your user access: sudo omvdev udev "
                      "install (or omvdev udev install --print to see them first)");
            break;
        }
    if (watching) {
        fflush(stdout);
        rc = watch(ctx, u, db, all, &sn, timeout_s);
    }
    snapshot_release(&sn);
    usb_close_ctx(u);
    return rc;
}
