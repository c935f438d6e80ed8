/*
 * omvdev targets [list] / targets show: the board database for people and
 * for docs (markdown/rst tables that reproduce the firmware guide's).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/table.h"

#include <inttypes.h>
#include <string.h>

static const char *const format_choices[] = {"text", "markdown", "rst", NULL};
static const char *const table_choices[] = {"summary", "boards", "dfu", "dfuse", "erase", NULL};

static const struct opt list_opts[] = {
    {"all", 'a', OPT_FLAG, NULL, "include boards the firmware no longer supports (OPENMV1)", NULL,
     0, NULL},
    {"format", 0, OPT_VALUE, "FMT", "output format", format_choices, OPT_CONFIG, "text"},
    {"table", 0, OPT_VALUE, "TABLE",
     "which table: the summary, or one of the guide's (markdown and rst print all four "
     "guide tables unless one is named)",
     table_choices, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt show_opts[] = {
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static int cmd_targets_list(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_targets_show(struct omv_ctx *ctx, struct omv_invocation *inv);

const struct omv_cmd targets_subcommands[] = {
    {"list", cmd_targets_list, "list the boards", "[--all] [--format FMT] [--table TABLE]",
     "List the boards with their camera, MCU and flashing method, or print one of the\n"
     "firmware guide's tables (boards, dfu, dfuse, erase) as text, markdown or rst.",
     list_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"show", cmd_targets_show, "show everything known about one board", "TARGET",
     "Show a board's USB IDs, DFU alt settings, default images, filesystem erase, J-Link\n"
     "device, debug ELF and recovery method. TARGET is case-insensitive.",
     show_opts, NULL, NULL, CMD_JSON, COMPLETE_TARGETS},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COMPLETE_NONE},
};

/* ---- formatting helpers --------------------------------------------------------- */

static const char *hex32(uint64_t v, char *buf, size_t len)
{
    snprintf(buf, len, "0x%08" PRIX64, v);
    return buf;
}

/* 131072 -> "128 KiB", 25165824 -> "24 MiB", 1433600 -> "1400 KiB". */
static const char *human_size(uint64_t n, char *buf, size_t len)
{
    if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
        snprintf(buf, len, "%" PRIu64 " MiB", n / (1024 * 1024));
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, len, "%" PRIu64 " KiB", n / 1024);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
    return buf;
}

static const struct target_image *image_by_role(const struct target *t, enum target_role role)
{
    for (size_t i = 0; i < t->nr_images; i++)
        if (t->images[i].role == role)
            return &t->images[i];
    return NULL;
}

/* "-a 2 -D firmware.bin" (by alt) or "-a 0 -s 0x08040000:leave" (DfuSe). */
static const char *dfu_command(const struct target_image *im, char *buf, size_t len)
{
    if (im->address >= 0)
        snprintf(buf, len, "-a %d -s 0x%08" PRIX64 ":leave", im->alt, (uint64_t)im->address);
    else
        snprintf(buf, len, "-a %d -D %s", im->alt, im->file);
    return buf;
}

/* "OpenMV Cam M4 (OPENMV2)": the guide drops the camera's own "(V2)" here. */
static void camera_target(struct strbuf *sb, const struct target *t)
{
    size_t n = strlen(t->camera);

    if (n && t->camera[n - 1] == ')' && strrchr(t->camera, '('))
        n = (size_t)(strrchr(t->camera, '(') - t->camera);
    while (n && t->camera[n - 1] == ' ')
        n--;
    strbuf_reset(sb);
    strbuf_addf(sb, "%.*s (%s)", (int)n, t->camera, t->name);
}

/* ---- the guide's tables ------------------------------------------------------------ */

/* §10.4.1 Supported boards: every board, OPENMV1 included, in the guide's order. */
static void table_boards(const struct target_db *db, struct table *tb)
{
    table_header(tb, 5, "Camera", "TARGET", "MCU", "Port", "Core");
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];

        table_row(tb, t->camera, t->name, t->mcu, t->port, t->core);
    }
}

/* §10.7.5: cameras flashed by alt with one firmware and one ROMFS image. */
static void table_dfu(const struct target_db *db, struct table *tb)
{
    struct strbuf cam = STRBUF_INIT;

    table_header(tb, 5, "Camera (TARGET)", "App VID:PID", "DFU VID:PID", "Firmware command",
                 "ROMFS command");
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];
        const struct target_image *fw = image_by_role(t, TARGET_ROLE_FIRMWARE);
        const struct target_image *rom = image_by_role(t, TARGET_ROLE_ROMFS);
        char app[16], dfu[16], c1[64], c2[64];

        if (!t->supported || t->method != TARGET_METHOD_OPENMV_DFU || !fw || !rom)
            continue;
        camera_target(&cam, t);
        table_row(tb, cam.buf, usb_id_str(t->app_usb, app, sizeof(app)),
                  usb_id_str(t->dfu_usb, dfu, sizeof(dfu)), dfu_command(fw, c1, sizeof(c1)),
                  dfu_command(rom, c2, sizeof(c2)));
    }
    strbuf_release(&cam);
}

/* §10.7.8: boards flashed by DfuSe address (Arduino). */
static void table_dfuse(const struct target_db *db, struct table *tb)
{
    table_header(tb, 4, "Board", "DFU VID:PID", "Firmware command", "ROMFS command");
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];
        const struct target_image *fw = image_by_role(t, TARGET_ROLE_FIRMWARE);
        const struct target_image *rom = image_by_role(t, TARGET_ROLE_ROMFS);
        char dfu[16], c1[64], c2[64];

        if (!t->supported || t->method != TARGET_METHOD_DFUSE || !fw || !rom)
            continue;
        /* The guide prints Arduino DFU IDs in lower case. */
        snprintf(dfu, sizeof(dfu), "%04x:%04x", t->dfu_usb.vid, t->dfu_usb.pid);
        table_row(tb, t->camera, dfu, dfu_command(fw, c1, sizeof(c1)),
                  dfu_command(rom, c2, sizeof(c2)));
    }
}

/* §10.7.9: the erase alt of every camera flashed by alt. */
static void table_erase(const struct target_db *db, struct table *tb)
{
    struct strbuf cam = STRBUF_INIT;

    table_header(tb, 3, "Camera (TARGET)", "DFU VID:PID", "Erase alt");
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];
        char dfu[16], alt[16];

        if (!t->supported || t->method != TARGET_METHOD_OPENMV_DFU || t->nr_erases != 1 ||
            t->erases[0].alt < 0)
            continue;
        camera_target(&cam, t);
        snprintf(alt, sizeof(alt), "-a %d", t->erases[0].alt);
        table_row(tb, cam.buf, usb_id_str(t->dfu_usb, dfu, sizeof(dfu)), alt);
    }
    strbuf_release(&cam);
}

static void table_summary(const struct target_db *db, bool all, struct table *tb)
{
    table_header(tb, 5, "TARGET", "CAMERA", "MCU", "CORE", "FLASHING");
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];

        if (!t->supported && !all)
            continue;
        table_row(tb, t->name, t->camera, t->mcu, t->core,
                  t->supported ? target_method_name(t->method) : "(unsupported)");
    }
}

static const struct {
    const char *name;
    const char *title;
    void (*fill)(const struct target_db *db, struct table *tb);
} guide_tables[] = {
    {"boards", "Supported boards", table_boards},
    {"dfu", "STM32 and N6 cameras: DFU flashing by alt", table_dfu},
    {"dfuse", "Arduino boards: DfuSe flashing by address", table_dfuse},
    {"erase", "Erasing the internal filesystem", table_erase},
};

/* ---- JSON -------------------------------------------------------------------------- */

static void json_usb(struct json_writer *jw, const char *key, struct usb_id id)
{
    char buf[16];

    if (id.vid || id.pid)
        json_string(jw, key, usb_id_str(id, buf, sizeof(buf)));
    else
        json_null(jw, key);
}

static void json_target(struct json_writer *jw, const char *key, const struct target *t)
{
    char buf[32];

    json_object_begin(jw, key);
    json_string(jw, "name", t->name);
    json_string(jw, "camera", t->camera);
    json_bool(jw, "supported", t->supported);
    json_string(jw, "mcu", t->mcu);
    json_string(jw, "mcu_part", t->mcu_part);
    json_string(jw, "port", t->port);
    json_string(jw, "core", t->core);
    json_usb(jw, "app_usb", t->app_usb);
    json_usb(jw, "dfu_usb", t->dfu_usb);
    json_string(jw, "method", target_method_name(t->method));
    json_string(jw, "jlink_device", t->jlink_device);
    json_string(jw, "debug_elf", t->debug_elf);
    json_bool(jw, "boots_external_flash", t->boots_external_flash);
    json_string(jw, "debug_request", t->boots_external_flash ? "attach" : "launch");
    if (t->min_gcc) {
        snprintf(buf, sizeof(buf), "%u.%u", t->min_gcc / 100, t->min_gcc % 100);
        json_string(jw, "min_gcc", buf);
    } else {
        json_null(jw, "min_gcc");
    }
    json_string(jw, "recovery", target_recovery_name(t->recovery));
    json_usb(jw, "recovery_usb", t->recovery_usb);
    json_array_begin(jw, "runners");
    for (int r = 0; r < TARGET_RUNNER_COUNT; r++)
        if (target_has_runner(t, (enum target_runner)r))
            json_string(jw, NULL, target_runner_name((enum target_runner)r));
    json_array_end(jw);
    json_array_begin(jw, "swd_images");
    for (size_t i = 0; i < t->nr_swd_images; i++) {
        json_object_begin(jw, NULL);
        json_string(jw, "file", t->swd_images[i].file);
        snprintf(buf, sizeof(buf), "0x%08X", (unsigned)t->swd_images[i].address);
        json_string(jw, "address", buf);
        json_object_end(jw);
    }
    json_array_end(jw);
    json_string(jw, "swd_loader", t->swd_loader);
    json_array_begin(jw, "probes");
    for (size_t i = 0; i < t->nr_probes; i++)
        json_string(jw, NULL, t->probes[i]);
    json_array_end(jw);
    json_string(jw, "openocd_target", t->openocd_target);
    json_array_begin(jw, "artefacts");
    for (size_t i = 0; i < t->nr_artefacts; i++)
        json_string(jw, NULL, t->artefacts[i]);
    json_array_end(jw);
    json_array_begin(jw, "alts");
    for (size_t i = 0; i < t->nr_alts; i++) {
        const struct target_alt *a = &t->alts[i];

        json_object_begin(jw, NULL);
        json_int(jw, "alt", a->alt);
        json_string(jw, "name", a->name);
        json_string(jw, "memory", a->memory);
        json_string(jw, "start", hex32(a->start, buf, sizeof(buf)));
        json_string(jw, "end", hex32(a->end, buf, sizeof(buf)));
        json_int(jw, "size", (int64_t)a->end - a->start);
        json_string(jw, "role", target_role_name(a->role));
        json_bool(jw, "readonly", a->readonly);
        if (a->erase_size)
            json_int(jw, "erase_size", a->erase_size);
        json_object_end(jw);
    }
    json_array_end(jw);
    json_array_begin(jw, "images");
    for (size_t i = 0; i < t->nr_images; i++) {
        const struct target_image *im = &t->images[i];

        json_object_begin(jw, NULL);
        json_string(jw, "file", im->file);
        json_string(jw, "role", target_role_name(im->role));
        if (im->alt >= 0)
            json_int(jw, "alt", im->alt);
        else
            json_null(jw, "alt");
        if (im->address >= 0)
            json_string(jw, "address", hex32((uint64_t)im->address, buf, sizeof(buf)));
        else
            json_null(jw, "address");
        if (im->max_size)
            json_int(jw, "max_size", (int64_t)im->max_size);
        else
            json_null(jw, "max_size");
        json_object_end(jw);
    }
    json_array_end(jw);
    json_array_begin(jw, "erase");
    for (size_t i = 0; i < t->nr_erases; i++) {
        const struct target_erase *er = &t->erases[i];

        json_object_begin(jw, NULL);
        if (er->alt >= 0)
            json_int(jw, "alt", er->alt);
        else
            json_null(jw, "alt");
        if (er->address >= 0)
            json_string(jw, "address", hex32((uint64_t)er->address, buf, sizeof(buf)));
        else
            json_null(jw, "address");
        json_int(jw, "size", er->size);
        json_object_end(jw);
    }
    json_array_end(jw);
    json_object_end(jw);
}

/* ---- commands ---------------------------------------------------------------------- */

static enum table_format parse_format(const char *s)
{
    if (s && !strcmp(s, "markdown"))
        return TABLE_MARKDOWN;
    if (s && !strcmp(s, "rst"))
        return TABLE_RST;
    return TABLE_TEXT;
}

static int cmd_targets_list(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct opt *o = inv->cmd->opts;
    enum table_format fmt = parse_format(opt_value(&inv->opts, o, "format"));
    const char *which = opt_value(&inv->opts, o, "table");
    bool all = opt_count(&inv->opts, o, "all") > 0;
    struct strbuf out = STRBUF_INIT;

    if (!db)
        return OMV_EXIT_FAILURE;
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'%s", inv->opts.args[0],
                           target_find(db, inv->opts.args[0])
                               ? "; to see one board use 'omvdev targets show TARGET'"
                               : "");
    if (ctx->json) {
        struct json_writer jw;

        if (which || opt_count(&inv->opts, o, "format"))
            return usage_error(ctx, inv, "--json cannot be combined with --format or --table");
        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "targets");
        for (size_t i = 0; i < db->nr; i++)
            if (db->targets[i].supported || all)
                json_target(&jw, NULL, &db->targets[i]);
        json_array_end(&jw);
        json_object_end(&jw);
    } else if (which && !strcmp(which, "summary")) {
        struct table tb = TABLE_INIT;

        table_summary(db, all, &tb);
        table_render(&tb, fmt, &out);
        table_release(&tb);
    } else if (which || fmt != TABLE_TEXT) {
        /* One guide table, or all four with a title above each. */
        for (size_t i = 0; i < ARRAY_SIZE(guide_tables); i++) {
            struct table tb = TABLE_INIT;

            if (which && strcmp(which, guide_tables[i].name) != 0)
                continue;
            if (!which) {
                if (out.len)
                    strbuf_addch(&out, '\n');
                if (fmt == TABLE_MARKDOWN)
                    strbuf_addf(&out, "**%s**\n\n", guide_tables[i].title);
                else if (fmt == TABLE_RST)
                    strbuf_addf(&out, "**%s**\n\n", guide_tables[i].title);
                else
                    strbuf_addf(&out, "%s:\n", guide_tables[i].title);
            }
            guide_tables[i].fill(db, &tb);
            table_render(&tb, fmt, &out);
            table_release(&tb);
        }
    } else {
        struct table tb = TABLE_INIT;

        table_summary(db, all, &tb);
        table_render(&tb, fmt, &out);
        table_release(&tb);
        if (!all)
            strbuf_addstr(&out, "\n(omvdev targets --all also lists boards the firmware no "
                                "longer builds.)\n");
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    return OMV_EXIT_OK;
}

static void show_text(struct omv_ctx *ctx, const struct target *t, struct strbuf *out)
{
    char a[32], b[32], c[32];

    strbuf_addf(out, "%s%s%s: %s%s\n", color_bold(ctx), t->name, color_reset(ctx), t->camera,
                t->supported ? "" : " (no longer supported by the firmware)");
    strbuf_addf(out, "  mcu              %s (%s), %s, port %s\n", t->mcu, t->mcu_part, t->core,
                t->port);
    strbuf_addf(out, "  application usb  %s\n", usb_id_str(t->app_usb, a, sizeof(a)));
    strbuf_addf(out, "  flashing         %s%s%s\n", target_method_name(t->method),
                t->dfu_usb.vid ? " via " : "", usb_id_str(t->dfu_usb, b, sizeof(b)));
    strbuf_addf(out, "  recovery         %s%s%s\n", target_recovery_name(t->recovery),
                t->recovery_usb.vid ? " via " : "", usb_id_str(t->recovery_usb, c, sizeof(c)));
    strbuf_addstr(out, "  runners         ");
    for (int r = 0; r < TARGET_RUNNER_COUNT; r++)
        if (target_has_runner(t, (enum target_runner)r))
            strbuf_addf(out, " %s", target_runner_name((enum target_runner)r));
    strbuf_addch(out, '\n');
    if (t->nr_swd_images) {
        strbuf_addstr(out, "  swd images      ");
        for (size_t i = 0; i < t->nr_swd_images; i++)
            strbuf_addf(out, " %s@0x%08X", t->swd_images[i].file,
                        (unsigned)t->swd_images[i].address);
        if (t->swd_loader)
            strbuf_addf(out, " (loader %s)", t->swd_loader);
        strbuf_addch(out, '\n');
    }
    strbuf_addf(out, "  j-link device    %s\n", t->jlink_device ? t->jlink_device : "(none)");
    if (t->nr_probes) {
        strbuf_addstr(out, "  debug probes    ");
        for (size_t i = 0; i < t->nr_probes; i++)
            strbuf_addf(out, " %s", t->probes[i]);
        if (t->openocd_target)
            strbuf_addf(out, " (OpenOCD: %s)", t->openocd_target);
        strbuf_addch(out, '\n');
    }
    strbuf_addf(out, "  debug elf        build/%s/bin/%s (%s)\n", t->name, t->debug_elf,
                t->boots_external_flash ? "attach: boots from external flash" : "launch");
    if (t->min_gcc)
        strbuf_addf(out, "  minimum gcc      %u.%u\n", t->min_gcc / 100, t->min_gcc % 100);
    strbuf_addstr(out, "  artefacts       ");
    for (size_t i = 0; i < t->nr_artefacts; i++)
        strbuf_addf(out, " %s", t->artefacts[i]);
    strbuf_addch(out, '\n');

    if (t->nr_alts) {
        struct table tb = TABLE_INIT;

        strbuf_addf(out, "\n%sdfu alt settings%s\n", color_bold(ctx), color_reset(ctx));
        table_header(&tb, 7, "ALT", "NAME", "MEMORY", "START", "END", "SIZE", "ROLE");
        for (size_t i = 0; i < t->nr_alts; i++) {
            const struct target_alt *al = &t->alts[i];
            char n[16], role[48], sz[32];

            snprintf(n, sizeof(n), "%u", al->alt);
            snprintf(role, sizeof(role), "%s%s", target_role_name(al->role),
                     al->readonly ? " (read-only)" : "");
            table_row(&tb, n, al->name, al->memory, hex32(al->start, a, sizeof(a)),
                      hex32(al->end, b, sizeof(b)),
                      human_size((uint64_t)al->end - al->start, sz, sizeof(sz)), role);
        }
        table_render(&tb, TABLE_TEXT, out);
        table_release(&tb);
    }
    if (t->nr_images) {
        strbuf_addf(out, "\n%simages (a full flash, in order)%s\n", color_bold(ctx),
                    color_reset(ctx));
        for (size_t i = 0; i < t->nr_images; i++) {
            const struct target_image *im = &t->images[i];
            char sz[32];

            strbuf_addf(out, "  %-20s %-12s", im->file, target_role_name(im->role));
            if (im->alt >= 0)
                strbuf_addf(out, " alt %d", im->alt);
            if (im->address >= 0)
                strbuf_addf(out, " at %s", hex32((uint64_t)im->address, a, sizeof(a)));
            if (im->max_size)
                strbuf_addf(out, ", at most %s", human_size(im->max_size, sz, sizeof(sz)));
            strbuf_addch(out, '\n');
        }
    }
    if (t->nr_erases) {
        strbuf_addf(out, "\n%sfilesystem erase%s\n", color_bold(ctx), color_reset(ctx));
        for (size_t i = 0; i < t->nr_erases; i++) {
            const struct target_erase *er = &t->erases[i];

            strbuf_addf(out, "  %" PRIu32 " zero bytes", er->size);
            if (er->alt >= 0)
                strbuf_addf(out, " to alt %d", er->alt);
            if (er->address >= 0)
                strbuf_addf(out, " at %s", hex32((uint64_t)er->address, a, sizeof(a)));
            strbuf_addch(out, '\n');
        }
    }
}

static int cmd_targets_show(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct target *t;
    struct strbuf out = STRBUF_INIT;

    if (inv->opts.nr_args != 1)
        return usage_error(ctx, inv, "expected one TARGET, e.g. 'omvdev targets show OPENMV4'");
    t = ctx_target(ctx, inv->opts.args[0]);
    if (!t)
        return ctx_targets(ctx) ? OMV_EXIT_USAGE : OMV_EXIT_FAILURE;
    if (ctx->json) {
        struct json_writer jw;

        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_target(&jw, "target", t);
        json_object_end(&jw);
    } else {
        show_text(ctx, t, &out);
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    return OMV_EXIT_OK;
}
