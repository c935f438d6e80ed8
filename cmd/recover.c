/*
 * omvdev recover: bring back a camera whose bootloader is damaged, step by
 * step, per chip family (STM32 through the ST system bootloader, the N6 with
 * STM32CubeProgrammer, the RT1062 with NXP SPSDK, the AE3 with Alif's SE
 * tools). Each procedure is data: a list
 * of steps, each an instruction for the user, a USB device to wait for, a
 * program to run (by argument vector, output streamed) or one of omvdev's own
 * actions (the STM32 bootloader write through its DfuSe code, the eFuse
 * check and write). --dry-run prints the list; a run executes it, prompting
 * on a terminal and waiting for the hardware steps by watching USB.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"

#include "flash/dfu.h"
#include "flash/plan.h"
#include "flash/runners.h"
#include "flash/session.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "lib/progress.h"
#include "lib/strbuf.h"
#include "lib/term.h"
#include "sdk/locate.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const struct opt recover_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "the board to recover", NULL, OPT_CONFIG, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "print every step and command, run nothing", NULL, 0, NULL},
    {"yes", 'y', OPT_FLAG, NULL, "run without prompts (needed when not on a terminal)", NULL, 0,
     NULL},
    {"wait", 'w', OPT_VALUE, "SECONDS", "how long to wait for each USB device", NULL, OPT_CONFIG,
     "120"},
    {"timeout", 0, OPT_VALUE, "SECONDS", "how long each external tool may run", NULL, OPT_CONFIG,
     "300"},
    {"dir", 0, OPT_VALUE, "DIR", "where the recovery files are (default: build/<TARGET>/bin)", NULL,
     0, NULL},
    {"erase-fs", 0, OPT_FLAG, NULL, "also erase the internal filesystem when flashing", NULL, 0,
     NULL},
    {"burn-fuse", 0, OPT_FLAG, NULL,
     "RT1060: allow the irreversible boot-fuse write (with --yes; else type the phrase)", NULL, 0,
     NULL},
    {"combined", 0, OPT_FLAG, NULL,
     "STM32: write openmv.bin (bootloader + firmware) instead of bootloader.bin; wipes the "
     "filesystem",
     NULL, 0, NULL},
    {"update-se", 0, OPT_FLAG, NULL, "AE3: also run updateSystemPackage", NULL, 0, NULL},
    {"se-tools", 0, OPT_VALUE, "DIR", "AE3: the directory of Alif's SE tools", NULL, OPT_CONFIG,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* The phrase that allows the RT1060 boot-fuse write on a terminal. */
#define FUSE_PHRASE "burn fuse 0x06"

enum rstep_kind {
    RS_WAIT,      /* tell the user what to do, then wait for a USB device */
    RS_RUN,       /* run an external program */
    RS_ST_BOOT,   /* write bootloader.bin through the ST ROM with omvdev's DfuSe code */
    RS_FLASH,     /* run `omvdev flash` for the firmware */
    RS_FUSE_READ, /* blhost efuse-read-once: is the boot fuse already set? */
    RS_FUSE_BURN, /* blhost efuse-program-once, after confirmation */
    RS_SAY,       /* a last instruction */
};

struct rstep {
    enum rstep_kind kind;
    char *text;
    struct runner_argv argv;
    const char *cwd;
    struct usb_id wait[2];
    const char *wait_names[2];
    size_t nr_wait;
};

struct recover {
    struct omv_ctx *ctx;
    const struct target *t;
    struct rstep *steps;
    size_t nr, alloc;
    struct strbuf dir;     /* where the files are */
    struct strbuf sdk;     /* the SDK directory, "" when none */
    struct strbuf setools; /* the Alif SE tools directory, "" when none */
    struct usb_ctx *u;
    char *serial; /* of the device the last wait found */
    /* the options, read once by read_options() */
    const char *target;
    bool dry, yes, interactive, burn_fuse, update_se, erase_fs, combined;
    uint64_t wait_s, timeout_s;
    bool fuse_set;    /* the boot-source fuse reads as set */
    char *tool_error; /* the first tool that was not found, for the message */
};

static struct rstep *add_step(struct recover *r, enum rstep_kind kind, const char *fmt, ...)
    OMV_PRINTF(3, 4);

static struct rstep *add_step(struct recover *r, enum rstep_kind kind, const char *fmt, ...)
{
    struct rstep *s;
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    XGROW(r->steps, r->alloc, r->nr + 1);
    s = &r->steps[r->nr++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    s->text = strbuf_detach(&sb, NULL);
    return s;
}

/* Wait for any of up to two devices (name: a string literal). */
static void step_wait(struct rstep *s, struct usb_id id, const char *name)
{
    s->wait_names[s->nr_wait] = name;
    s->wait[s->nr_wait++] = id;
}

/* "<dir>/<file>" into a fresh string. */
static char *in_dir(struct recover *r, const char *file)
{
    struct strbuf sb = STRBUF_INIT;

    fs_path_join(&sb, r->dir.buf, file);
    return strbuf_detach(&sb, NULL);
}

void tools_sdk_dir(struct omv_ctx *ctx, struct strbuf *out)
{
    cmd_sdk_dir(ctx, false, out);
}

int tools_find(struct omv_ctx *ctx, const char *name, const char *sdk, const char *subdir,
               const char *extra, struct strbuf *out)
{
    char err[512];

    if (runner_find(name, sdk, subdir, extra, NULL, out, err, sizeof(err)) == 0)
        return 0;
    error(ctx, "%s", err);
    if (!strncmp(name, "JLink", 5))
        hint(ctx, "install SEGGER's J-Link Software Pack and put its directory on PATH "
                  "(e.g. export PATH=/opt/SEGGER/JLink:$PATH)");
    else if (!sdk && (!strcmp(name, "maintenance") || !strcmp(name, "app-write-mram") ||
                      !strcmp(name, "updateSystemPackage")))
        hint(ctx, "Alif's SE tools come with OpenMV IDE: name their directory with --se-tools "
                  "DIR (or omvdev config set recover.se-tools DIR)");
    else if (!sdk && (!strcmp(name, "sdphost") || !strcmp(name, "blhost")))
        hint(ctx, "install the OpenMV SDK (make sdk in your openmv clone: its python has "
                  "SPSDK), or pip install spsdk");
    else if (!sdk && !strcmp(name, "bossac"))
        hint(ctx, "install it (Debian/Ubuntu: sudo apt install bossa-cli; it also comes with "
                  "OpenMV IDE and the Arduino IDE), or put it on PATH");
    else if (!sdk && !strcmp(name, "picotool"))
        hint(ctx, "install Raspberry Pi's picotool (it comes with OpenMV IDE and the Pico SDK; "
                  "newer Debian and Ubuntu: sudo apt install picotool), or put it on PATH");
    else if (!sdk)
        hint(ctx, "put %s on PATH", name);
    else if (sdk && *sdk)
        hint(ctx, "the SDK in %s looks incomplete: reinstall it (make sdk in your openmv clone)",
             sdk);
    else
        hint(ctx,
             "install the OpenMV SDK (make sdk in your openmv clone) or set SDK_DIR, or put "
             "%s on PATH",
             name);
    return -1;
}

/* A program for a step: found now, so a missing one stops before anything happens. In a dry
 * run a missing program is shown by name and reported once. */
static int tool(struct recover *r, const char *name, const char *subdir, const char *extra,
                struct strbuf *out)
{
    char err[512];

    /* subdir NULL: a tool the SDK does not ship. */
    if (runner_find(name, subdir ? r->sdk.buf : NULL, subdir, extra, NULL, out, err, sizeof(err)) ==
        0)
        return 0;
    if (r->dry) {
        strbuf_addstr(out, name);
        if (!r->tool_error)
            r->tool_error = xstrdup(err);
        return 0;
    }
    return tools_find(r->ctx, name, subdir ? r->sdk.buf : NULL, subdir, extra, out);
}

static int need_file(struct recover *r, const char *path)
{
    if (fs_is_file(path))
        return 0;
    error(r->ctx, "cannot open '%s': No such file or directory", path);
    hint(r->ctx,
         "build it first (make TARGET=%s in your openmv clone), or name the directory that "
         "holds it with --dir DIR",
         r->t->name);
    return -1;
}

static void add_flash_step(struct recover *r, const char *what)
{
    struct rstep *s = add_step(r, RS_FLASH, "Flash %s with omvdev flash.", what);

    runner_argv_add(&s->argv, "omvdev");
    runner_argv_add(&s->argv, "flash");
    runner_argv_add(&s->argv, "-t");
    runner_argv_add(&s->argv, r->t->name);
    runner_argv_add(&s->argv, "--wait");
    runner_argv_add(&s->argv, "30");
    if (r->erase_fs)
        runner_argv_add(&s->argv, "--erase-fs");
}

/* ---- the procedures ------------------------------------------------------------ */

static int plan_stm32(struct recover *r)
{
    const struct target_alt *bl = target_alt_by_role(r->t, TARGET_ROLE_BOOTLOADER);
    char *path = in_dir(r, r->combined ? "openmv.bin" : "bootloader.bin");
    struct rstep *s;
    struct strbuf data = STRBUF_INIT;
    uint32_t limit = 0;
    char err[512];
    int rc = -1;

    if (!bl || bl->start != 0x08000000) {
        error(r->ctx,
              "%s has no internal-flash bootloader partition at 0x08000000 in the board "
              "database",
              r->t->name);
        goto out;
    }
    if (need_file(r, path) < 0)
        goto out;
    if (fs_read_file(path, &data, err, sizeof(err)) < 0) {
        error(r->ctx, "%s", err);
        goto out;
    }
    /* openmv.bin (--combined) is the bootloader padded to the firmware plus the firmware: it
     * may reach the end of the internal flash, and it overwrites the filesystem. */
    limit = bl->end;
    for (size_t i = 0; r->combined && i < r->t->nr_alts; i++)
        if (!strcmp(r->t->alts[i].memory, "internal") && r->t->alts[i].end > limit)
            limit = r->t->alts[i].end;
    if (data.len == 0 || data.len > limit - bl->start) {
        error(r->ctx, "'%s' is %zu bytes but the %s holds %u", path, data.len,
              r->combined ? "internal flash" : "bootloader partition", limit - bl->start);
        hint(r->ctx, "is it the %s of %s? (make TARGET=%s builds it)",
             r->combined ? "combined image" : "bootloader", r->t->name, r->t->name);
        goto out;
    }
    s = add_step(r, RS_WAIT,
                 "Unplug the camera. Connect a jumper wire between its BOOT and RST pins, then "
                 "plug it in again.");
    step_wait(s, r->t->recovery_usb, "the ST system DFU bootloader");
    if (r->combined)
        s = add_step(r, RS_ST_BOOT,
                     "Write %s (%zu bytes: bootloader and firmware, as asked with --combined) at "
                     "0x08000000 with omvdev's DfuSe code, erasing only the pages it covers - "
                     "THE FILESYSTEM TOO - read it back, and start it.",
                     path, data.len);
    else
        s = add_step(r, RS_ST_BOOT,
                     "Write %s (%zu bytes) at 0x08000000 with omvdev's DfuSe code, erasing only "
                     "the bootloader's pages (0x%08X-0x%08X), read it back, and start it.",
                     path, data.len, bl->start, bl->end - 1);
    runner_argv_add(&s->argv, path);
    /* The ROM has jumped into the new bootloader already; BOOT is only read at reset, so the
     * jumper can come off with the cable in (no unplugging while omvdev flashes). */
    s = add_step(r, RS_WAIT,
                 "Remove the BOOT-RST jumper; leave the cable in. (If the camera does not come "
                 "back within a few seconds, unplug it and plug it in again.)");
    step_wait(s, r->t->dfu_usb, "the OpenMV bootloader");
    step_wait(s, r->t->app_usb, "the camera's firmware");
    add_flash_step(r, "the firmware and ROMFS");
    rc = 0;
out:
    free(path);
    strbuf_release(&data);
    return rc;
}

static int plan_n6(struct recover *r)
{
    char *tsv = in_dir(r, "FlashLayout.tsv");
    struct strbuf prog = STRBUF_INIT;
    struct rstep *s;
    int rc = -1;

    if (need_file(r, tsv) < 0 || tool(r, "STM32_Programmer_CLI", "stcubeprog/bin", NULL, &prog))
        goto out;
    s = add_step(r, RS_WAIT,
                 "Unplug the camera. Connect a jumper wire between its BOOT and VCC pins, then "
                 "plug it in again.");
    step_wait(s, (struct usb_id){0x0483, 0xDF11}, "the ST system DFU bootloader");
    s = add_step(r, RS_RUN,
                 "Rewrite the first-stage bootloader, the external-flash loader and the "
                 "bootloader with STM32CubeProgrammer and the flash layout.");
    runner_cubeprog_layout(&s->argv, prog.buf, tsv);
    s = add_step(r, RS_WAIT,
                 "Remove the BOOT-VCC jumper, then unplug the camera and plug it in again.");
    step_wait(s, r->t->dfu_usb, "the OpenMV bootloader");
    step_wait(s, r->t->app_usb, "the camera's firmware");
    add_flash_step(r, "the firmware and ROMFS");
    rc = 0;
out:
    free(tsv);
    strbuf_release(&prog);
    return rc;
}

static void hex(char *buf, size_t len, uint64_t v)
{
    snprintf(buf, len, "0x%llX", (unsigned long long)v);
}

/* The erase length for a file in the FlexSPI NOR: its size rounded up to whole 4 KiB
 * sectors, as "0x..." into buf. */
static int erase_size(struct recover *r, const char *path, char *buf, size_t len)
{
    struct strbuf data = STRBUF_INIT;
    char err[256];
    int rc = fs_read_file(path, &data, err, sizeof(err));

    if (rc < 0)
        error(r->ctx, "%s", err);
    else
        hex(buf, len, (data.len + 0xFFF) & ~(uint64_t)0xFFF);
    strbuf_release(&data);
    return rc;
}

static int plan_rt1060(struct recover *r)
{
    char *sdp = in_dir(r, "sdphost_flash_loader.bin"), *sbl = in_dir(r, "blhost_flash_loader.bin"),
         *fw = in_dir(r, "firmware.bin");
    struct strbuf python = STRBUF_INIT, sdphost = STRBUF_INIT, blhost = STRBUF_INIT;
    const char *py = NULL;
    char sbl_size[32], fw_size[32], err[256];
    struct rstep *s;
    int rc = -1;
    static const char *const blusb = "0x15A2,0x0073";

    if (need_file(r, sdp) < 0 || need_file(r, sbl) < 0 || need_file(r, fw) < 0)
        goto out;
    if (erase_size(r, sbl, sbl_size, sizeof(sbl_size)) < 0 ||
        erase_size(r, fw, fw_size, sizeof(fw_size)) < 0)
        goto out;
    /* The SDK's python runs SPSDK as modules; without it, sdphost and blhost from PATH. */
    if (r->sdk.len && runner_find("python3", r->sdk.buf, "python/bin", NULL, "", &python, err,
                                  sizeof(err)) == 0) {
        py = python.buf;
    } else if (tool(r, "sdphost", NULL, NULL, &sdphost) || tool(r, "blhost", NULL, NULL, &blhost)) {
        goto out;
    }

    s = add_step(r, RS_WAIT,
                 "Unplug the camera. Connect a jumper wire between its SBL and 3.3V pins, then "
                 "plug it in again.");
    step_wait(s, r->t->recovery_usb, "the i.MX RT serial-download ROM");
#define SDP(text, ...)                                                                             \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        s = add_step(r, RS_RUN, "%s", text);                                                       \
        runner_spsdk(&s->argv, py, sdphost.buf, "sdphost", "0x1FC9,0x0135", 0, a_);                \
    } while (0)
#define BL(kind, text, t_ms, ...)                                                                  \
    do {                                                                                           \
        const char *const a_[] = {__VA_ARGS__, NULL};                                              \
        s = add_step(r, kind, "%s", text);                                                         \
        runner_spsdk(&s->argv, py, blhost.buf, "blhost", blusb, t_ms, a_);                         \
    } while (0)
    SDP("Stage the RAM flashloader.", "write-file", "0x20001C00", sdp);
    SDP("Start it.", "jump-address", "0x20001C00");
    s = add_step(r, RS_WAIT, "The camera now answers as the flashloader.");
    step_wait(s, r->t->dfu_usb, "the NXP flashloader");
    BL(RS_RUN, "Configure the external flash (FlexSPI NOR).", 0, "fill-memory", "0x2000", "4",
       "0xC0000008", "word");
    BL(RS_RUN, "Apply that configuration.", 0, "configure-memory", "9", "0x2000");
    BL(RS_RUN, "Erase the flash configuration block.", 120000, "flash-erase-region", "0x60000000",
       "0x1000");
    BL(RS_RUN, "Request the flash configuration block.", 0, "fill-memory", "0x2000", "4",
       "0xF000000F", "word");
    BL(RS_RUN, "Write the flash configuration block.", 0, "configure-memory", "9", "0x2000");
    BL(RS_RUN, "Erase the secure bootloader's region.", 120000, "flash-erase-region", "0x60001000",
       sbl_size);
    BL(RS_RUN, "Write the secure bootloader.", 0, "write-memory", "0x60001000", sbl);
    BL(RS_RUN, "Erase the firmware's region.", 120000, "flash-erase-region", "0x60040000", fw_size);
    BL(RS_RUN, "Write the firmware.", 0, "write-memory", "0x60040000", fw);
    BL(RS_FUSE_READ, "Read the boot-source fuse (word 0x06).", 0, "efuse-read-once", "0x06");
    BL(RS_FUSE_BURN,
       "Set the boot-source fuse so the chip boots from external flash - ONE-TIME and "
       "IRREVERSIBLE; skipped when it already reads as set; needs the typed phrase '" FUSE_PHRASE
       "' or --burn-fuse with --yes.",
       0, "efuse-program-once", "0x06", "00000010");
    BL(RS_RUN, "Reset the chip.", 0, "reset");
#undef SDP
#undef BL
    add_step(r, RS_SAY, "Remove the SBL-3.3V jumper and power-cycle the camera.");
    rc = 0;
out:
    free(sdp);
    free(sbl);
    free(fw);
    strbuf_release(&python);
    strbuf_release(&sdphost);
    strbuf_release(&blhost);
    return rc;
}

static int plan_ae3(struct recover *r)
{
    char *bl = in_dir(r, "bootloader.bin"), *toc = in_dir(r, "firmware_pad.toc");
    struct strbuf maint = STRBUF_INIT, upd = STRBUF_INIT, mram = STRBUF_INIT;
    const char *extra = r->setools.len ? r->setools.buf : NULL;
    struct rstep *s;
    char err[512];
    int rc = -1;

    if (need_file(r, bl) < 0 || need_file(r, toc) < 0)
        goto out;
    /* The SE tools ship with OpenMV IDE, not (as far as we know) with the SDK: --se-tools DIR
     * ([recover] se-tools in the config), else PATH. */
    if (tool(r, "maintenance", NULL, extra, &maint) ||
        (r->update_se && tool(r, "updateSystemPackage", NULL, extra, &upd)) ||
        tool(r, "app-write-mram", NULL, extra, &mram))
        goto out;
    s = add_step(r, RS_WAIT,
                 "Connect the AE3's serial ISP adapter (FTDI 0403:6015 or CH340 1A86:55D3) and "
                 "the J-Link, and set the hard-maintenance switch.");
    step_wait(s, r->t->recovery_usb, "the serial ISP adapter");
    step_wait(s, (struct usb_id){0x1A86, 0x55D3}, "the serial ISP adapter");
    s = add_step(r, RS_RUN,
                 "Read the Secure Enclave's version (press the user button if the tool asks).");
    runner_argv_add(&s->argv, maint.buf);
    runner_argv_add(&s->argv, "-opt");
    runner_argv_add(&s->argv, "sesbanner");
    s->cwd = extra;
    if (r->update_se) {
        s = add_step(r, RS_RUN,
                     "Update the Secure Enclave system package (power-cycle when asked).");
        runner_argv_add(&s->argv, upd.buf);
        s->cwd = extra;
    }
    s = add_step(r, RS_RUN, "Write the bootloader and the table of contents into MRAM.");
    {
        struct runner_image imgs[] = {{bl, 0x80000000}, {toc, 0x8057E000}};

        if (runner_alif_write_mram(&s->argv, mram.buf, imgs, 2, err, sizeof(err)) < 0) {
            error(r->ctx, "%s", err);
            hint(r->ctx, "copy the files to a directory without spaces and use --dir DIR");
            goto out;
        }
    }
    s->cwd = extra;
    s = add_step(r, RS_WAIT, "Power-cycle the camera; it comes back as its DFU bootloader.");
    step_wait(s, r->t->dfu_usb, "the OpenMV AE3 bootloader");
    add_flash_step(r, "the four images");
    add_step(r, RS_SAY, "Power-cycle the camera and turn the hard-maintenance switch off.");
    rc = 0;
out:
    free(bl);
    free(toc);
    strbuf_release(&maint);
    strbuf_release(&upd);
    strbuf_release(&mram);
    return rc;
}

/* ---- running --------------------------------------------------------------------- */

static void print_plan(struct recover *r, FILE *f)
{
    struct strbuf out = STRBUF_INIT;
    char id[16];

    strbuf_addf(&out, "recover %s (%s) by %s:\n", r->t->name, r->t->camera,
                target_recovery_name(r->t->recovery));
    for (size_t i = 0; i < r->nr; i++) {
        const struct rstep *s = &r->steps[i];

        strbuf_addf(&out, "  %zu. %s\n", i + 1, s->text);
        for (size_t k = 0; k < s->nr_wait; k++)
            strbuf_addf(&out, "     %s %s (%s)\n", k ? "or" : "wait for",
                        usb_id_str(s->wait[k], id, sizeof(id)), s->wait_names[k]);
        if (s->argv.n && s->kind != RS_ST_BOOT) {
            strbuf_addstr(&out, "     $ ");
            runner_argv_render(&s->argv, &out);
            if (s->kind == RS_FLASH)
                strbuf_addstr(&out, " --serial SERIAL");
            strbuf_addch(&out, '\n');
        }
        if (s->cwd)
            strbuf_addf(&out, "       (in %s)\n", s->cwd);
    }
    if (f == stdout) {
        out_write(out.buf, out.len);
    } else {
        struct strbuf safe = STRBUF_INIT;

        /* The plan names the user's paths: escaped as every message is. */
        term_escape(&safe, out.buf, out.len, TERM_KEEP_NEWLINES);
        fputs(safe.buf, f);
        strbuf_release(&safe);
    }
    strbuf_release(&out);
}

static int ask_line(const char *prompt, char *buf, size_t len)
{
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (!fgets(buf, (int)len, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

/* Wait until one of the step's devices is on the bus; remember its serial. */
static int do_wait(struct recover *r, const struct rstep *s)
{
    int64_t deadline = progress_now_ms() + (int64_t)r->wait_s * 1000;
    char err[512], ids[40] = "", id[16];

    for (size_t k = 0; k < s->nr_wait; k++)
        snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", k ? " or " : "",
                 usb_id_str(s->wait[k], id, sizeof(id)));
    note(r->ctx, "waiting up to %lld s for %s (%s)...", (long long)r->wait_s, s->wait_names[0],
         ids);
    for (;;) {
        struct usb_device_info *devs = NULL;
        size_t n = 0;
        bool found = false;

        if (usb_list(r->u, &devs, &n, err, sizeof(err)) < 0) {
            error(r->ctx, "%s", err);
            return OMV_EXIT_DEVICE;
        }
        for (size_t i = 0; i < n && !found; i++)
            for (size_t k = 0; k < s->nr_wait && !found; k++)
                if (usb_id_is(s->wait[k], devs[i].vid, devs[i].pid)) {
                    found = true;
                    free(r->serial);
                    r->serial = devs[i].serial ? xstrdup(devs[i].serial) : NULL;
                    note(r->ctx, "found %s %04X:%04X%s%s on port %s", s->wait_names[k], devs[i].vid,
                         devs[i].pid, r->serial ? ", serial " : "", r->serial ? r->serial : "",
                         devs[i].port_path);
                }
        usb_list_free(devs, n);
        if (found)
            return 0;
        if (progress_now_ms() >= deadline) {
            error(r->ctx, "%s (%s) did not appear within %lld s", s->wait_names[0], ids,
                  (long long)r->wait_s);
            hint(r->ctx,
                 "check the jumper and the cable, then run 'omvdev recover -t %s' again "
                 "(--wait 600 gives you more time)",
                 r->t->name);
            return OMV_EXIT_DEVICE;
        }
        if (usb_wait_change(r->u, 250, err, sizeof(err)) < 0) {
            struct timespec ts = {0, 250000000L};

            nanosleep(&ts, NULL);
        }
    }
}

/*
 * Set by SIGINT/SIGTERM while bootloader.bin is written through the ST ROM: the
 * one piece of mutable state a signal handler may touch. The flash session
 * stops at its next safe point when it is set.
 */
static volatile sig_atomic_t recover_signal;

static void st_begin(void *ud, const char *label)
{
    struct progress *prog = ud;

    progress_start(prog, prog->enabled, label);
}

static void st_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    progress_update(ud, phase, done, total);
}

static void st_done(void *ud, const struct flash_report *rep)
{
    (void)rep;
    progress_end(ud);
}

/* The ST ROM device the last wait found (by serial), or NULL. */
static const struct usb_device_info *find_rom(struct recover *r, const struct usb_device_info *devs,
                                              size_t n)
{
    const struct usb_device_info *found = NULL;

    for (size_t i = 0; i < n; i++)
        if (usb_id_is(r->t->recovery_usb, devs[i].vid, devs[i].pid) && devs[i].dfu &&
            (!r->serial || (devs[i].serial && !strcmp(devs[i].serial, r->serial))))
            found = &devs[i];
    return found;
}

/* Say what a failed write through the ST ROM left, and how to go on. */
static void st_boot_failed(struct recover *r, int rc, const struct flash_outcome *out,
                           const char *base, const char *err)
{
    if (out->step)
        error(r->ctx, "%s", err);
    else
        error(r->ctx, "%s: %s", base, err);
    if (rc == OMV_EINTR)
        note(r->ctx, "interrupted during the %s stage: the chip's ROM stays in charge (state %s)",
             flash_stage_name(out->stage),
             out->state_known ? dfu_state_name(out->state) : "unknown");
    if (out->no_upload)
        hint(r->ctx, "this ROM cannot be read back, so omvdev cannot check what it writes: "
                     "write bootloader.bin with STM32CubeProgrammer instead");
    else if (rc == OMV_EUSAGE)
        hint(r->ctx, "is it the bootloader of %s? (make TARGET=%s builds it)", r->t->name,
             r->t->name);
    else if (out->stage == FLASH_STAGE_VERIFY && rc != OMV_EINTR)
        hint(r->ctx,
             "run 'omvdev recover -t %s' again; if it repeats, the flash may be "
             "worn or write-protected (STM32CubeProgrammer can show the option bytes)",
             r->t->name);
    else
        hint(r->ctx,
             "the chip's ROM is untouched: unplug and replug with the jumper on and "
             "run 'omvdev recover -t %s' again",
             r->t->name);
}

/* Open the ROM and run the flash session on it, Ctrl-C caught; the session's code. */
static int st_boot_session(struct recover *r, const struct flash_plan *plan,
                           const struct usb_device_info *dev, struct flash_outcome *out, char *err,
                           size_t errlen)
{
    struct progress prog = {0};
    struct flash_session_hooks hooks = {&prog, st_begin, st_progress, st_done, NULL};
    struct flash_session_opts so = {true, true, true, false, false, false, &recover_signal};
    struct cmd_interrupts ci;
    struct usb_dfu *h = NULL;
    struct dfu_io io;
    struct dfu_dev dd;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = usb_dfu_open(r->u, dev, &h, err, errlen);
    if (rc < 0)
        return rc;
    prog.enabled = r->ctx->verbosity >= 0 && isatty(2);
    usb_dfu_io(h, &io);
    flash_session_dev(&dd, dev, &io);
    cmd_interrupts_catch(&ci, &recover_signal);
    rc = flash_session_run(plan, &so, dev, &dd, &hooks, out, err, errlen);
    cmd_interrupts_restore(&ci);
    progress_end(&prog);
    usb_dfu_close(h);
    return rc;
}

/* bootloader.bin (or openmv.bin) through the ST ROM by the flash session: only its pages
 * erased, read back, then started. */
static int do_st_boot(struct recover *r, const struct rstep *s)
{
    struct flash_plan_opts po = {NULL, NULL, s->argv.v[0], -1, 0x08000000, false, false};
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct usb_device_info *devs = NULL;
    const struct usb_device_info *dev;
    struct flash_outcome out;
    size_t n = 0;
    char err[1024];
    const char *slash = strrchr(s->argv.v[0], '/');
    const char *base = slash ? slash + 1 : s->argv.v[0];
    int rc = flash_plan_build(&plan, r->t, "", &po, err, sizeof(err));

    if (rc < 0) {
        error(r->ctx, "%s", err);
        return exit_status_for(rc);
    }
    rc = usb_list(r->u, &devs, &n, err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    dev = find_rom(r, devs, n);
    if (!dev) {
        error(r->ctx, "the ST system DFU bootloader went away");
        hint(r->ctx, "plug the camera in again with the jumper on and re-run the command");
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    note(r->ctx, "writing %s through the ST system bootloader", base);
    rc = st_boot_session(r, &plan, dev, &out, err, sizeof(err));
    if (rc == USB_ERR_ACCESS || rc == OMV_EPERM) {
        error(r->ctx, "%s", err);
        hint(r->ctx, "install udev rules for 0483:df11 (the ST bootloader), or run as root");
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    if (out.rev_v)
        note(r->ctx, "recovered %u stalled page erase%s (STM32H7 Rev V ROM quirk)", out.rev_v,
             out.rev_v == 1 ? "" : "s");
    if (rc < 0 && (rc == OMV_EINTR || rc == OMV_EUSAGE || rc == OMV_EDEVICE)) {
        st_boot_failed(r, rc, &out, base, err);
        rc = rc == OMV_EINTR ? 128 + (int)recover_signal : exit_status_for(rc);
        goto out;
    }
    if (rc < 0) { /* opening the device failed */
        error(r->ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    note(r->ctx, "wrote and verified %s: %zu bytes at 0x08000000", base, plan.steps[0].len);
    if (out.leave == FLASH_LEAVE_FAILED)
        warning(r->ctx, "starting the bootloader: %s (replugging starts it too)", out.leave_err);
    rc = 0;
out:
    usb_list_free(devs, n);
    flash_plan_release(&plan);
    return rc;
}

static void self_exe(struct strbuf *out)
{
    cmd_self_exe(out);
}

/* Run a program of a step; capture its output (shown as it arrives) when `cap` is set. */
static int run_tool(struct recover *r, const struct rstep *s, size_t idx,
                    const struct runner_argv *argv, struct strbuf *cap)
{
    struct proc p;
    struct proc_spec spec = {(const char *const *)argv->v,
                             NULL,
                             s->cwd,
                             cap ? PROC_TEE : PROC_INHERIT,
                             PROC_INHERIT,
                             false,
                             NULL,
                             NULL};
    struct strbuf shown = STRBUF_INIT;
    char err[512], st[64];
    int rc;

    runner_argv_render(argv, &shown);
    note(r->ctx, "$ %s", shown.buf);
    memset(&p, 0, sizeof(p));
    p.out_fd = p.err_fd = -1;
    rc = proc_run(&p, &spec, (int)(r->timeout_s * 1000), err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "step %zu: %s", idx + 1, err);
        if (rc == OMV_ETIMEOUT)
            hint(r->ctx,
                 "the tool hung: check the connection, then run 'omvdev recover -t %s' "
                 "again (--timeout SECONDS allows it longer)",
                 r->t->name);
        rc = OMV_EXIT_FAILURE;
    } else if (!p.exited || p.exit_code != 0) {
        error(r->ctx, "step %zu: '%s' failed (%s)", idx + 1, argv->v[0],
              proc_status_text(&p, st, sizeof(st)));
        hint(r->ctx,
             "its output is above; nothing after step %zu was done. Fix the cause and "
             "run 'omvdev recover -t %s' again from the start",
             idx + 1, r->t->name);
        rc = OMV_EXIT_FAILURE;
    } else {
        rc = 0;
        if (cap)
            strbuf_add(cap, p.out.buf, p.out.len);
    }
    proc_release(&p);
    strbuf_release(&shown);
    return rc;
}

static int do_fuse_burn(struct recover *r, const struct rstep *s, size_t idx)
{
    char line[128];

    if (r->fuse_set) {
        note(r->ctx, "the boot-source fuse already reads as set: step %zu skipped", idx + 1);
        return 0;
    }
    if (!(r->burn_fuse && r->yes)) {
        if (!r->interactive) {
            error(r->ctx, "the boot-source eFuse is not set, and burning it is irreversible: "
                          "omvdev does not do it without both --burn-fuse and --yes");
            hint(r->ctx,
                 "everything before it is written; run 'omvdev recover -t %s --yes "
                 "--burn-fuse' to finish, or type the phrase on a terminal",
                 r->t->name);
            return OMV_EXIT_FAILURE;
        }
        fprintf(stderr,
                "\nWARNING: the next command writes a ONE-TIME, IRREVERSIBLE eFuse (word 0x06 "
                "= 0x10)\nthat makes the chip boot from external flash. It cannot be undone.\n");
        if (ask_line("Type '" FUSE_PHRASE "' to write it, anything else to stop: ", line,
                     sizeof(line)) < 0 ||
            strcmp(line, FUSE_PHRASE) != 0) {
            error(r->ctx, "the eFuse was not written (the phrase was not typed)");
            hint(r->ctx,
                 "the camera will not boot from flash until it is: run 'omvdev recover "
                 "-t %s' again when you are sure",
                 r->t->name);
            return OMV_EXIT_FAILURE;
        }
    }
    return run_tool(r, s, idx, &s->argv, NULL);
}

static int run_steps(struct recover *r)
{
    for (size_t i = 0; i < r->nr; i++) {
        struct rstep *s = &r->steps[i];
        int rc = 0;

        if (r->ctx->verbosity >= 0) {
            struct strbuf safe = STRBUF_INIT;

            fprintf(stderr, "\n[%zu/%zu] %s\n", i + 1, r->nr, term_safe(&safe, s->text));
            strbuf_release(&safe);
        }
        switch (s->kind) {
        case RS_WAIT:
            rc = do_wait(r, s);
            break;
        case RS_RUN:
            rc = run_tool(r, s, i, &s->argv, NULL);
            break;
        case RS_ST_BOOT:
            rc = do_st_boot(r, s);
            break;
        case RS_FLASH: {
            struct runner_argv a = RUNNER_ARGV_INIT;
            struct strbuf self = STRBUF_INIT;

            self_exe(&self);
            runner_argv_add(&a, self.buf);
            if (r->ctx->verbosity != 0) /* the child speaks as loudly as we were asked to */
                runner_argv_add(&a, r->ctx->verbosity > 0 ? "-v" : "-q");
            for (size_t k = 1; k < s->argv.n; k++)
                runner_argv_add(&a, s->argv.v[k]);
            if (r->serial) {
                runner_argv_add(&a, "--serial");
                runner_argv_add(&a, r->serial);
            }
            rc = run_tool(r, s, i, &a, NULL);
            runner_argv_release(&a);
            strbuf_release(&self);
            break;
        }
        case RS_FUSE_READ: {
            struct strbuf out = STRBUF_INIT;
            uint32_t v = 0;

            rc = run_tool(r, s, i, &s->argv, &out);
            if (rc == 0 && runner_blhost_word(out.buf, out.len, &v) < 0) {
                error(r->ctx, "cannot read the boot-source fuse from blhost's answer");
                hint(r->ctx, "nothing irreversible was done; run 'omvdev recover -t %s' again",
                     r->t->name);
                rc = OMV_EXIT_FAILURE;
            } else if (rc == 0) {
                r->fuse_set = (v & 0x10) != 0;
                note(r->ctx, "boot-source fuse word 0x06 reads 0x%08X: %s", v,
                     r->fuse_set ? "already set" : "not set");
            }
            strbuf_release(&out);
            break;
        }
        case RS_FUSE_BURN:
            rc = do_fuse_burn(r, s, i);
            break;
        case RS_SAY:
            break;
        }
        if (rc)
            return rc;
    }
    note(r->ctx, "recovery of %s finished", r->t->name);
    return 0;
}

/* Read every option once into r and check what needs no device; 0 or an exit status. */
static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct recover *r)
{
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *res = &inv->opts;
    const char *dir = opt_value(res, o, "dir"), *se = opt_value(res, o, "se-tools");
    char err[256];

    r->target = opt_value(res, o, "target");
    r->dry = opt_count(res, o, "dry-run") > 0;
    r->yes = opt_count(res, o, "yes") > 0;
    r->burn_fuse = opt_count(res, o, "burn-fuse") > 0;
    r->update_se = opt_count(res, o, "update-se") > 0;
    r->erase_fs = opt_count(res, o, "erase-fs") > 0;
    r->combined = opt_count(res, o, "combined") > 0;
    r->interactive = !r->yes && isatty(0) && isatty(2);
    if (dir)
        strbuf_addstr(&r->dir, dir);
    if (se)
        strbuf_addstr(&r->setools, se);
    if (res->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", res->args[0]);
    /* --wait means what it means for flash: whole seconds from 0 to 3600. */
    if (cmd_number(inv, "wait", &r->wait_s, err, sizeof(err)) < 0 ||
        cmd_number(inv, "timeout", &r->timeout_s, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (!r->target)
        return usage_error(ctx, inv,
                           "name the board to recover: omvdev recover -t TARGET (a camera with "
                           "a damaged bootloader cannot say what it is)");
    if (!r->dry && !r->yes && !r->interactive)
        return usage_error(ctx, inv,
                           "not on a terminal: recovery needs --yes to run without prompts (or "
                           "--dry-run to see the steps)");
    return 0;
}

/* The board, and whether omvdev can recover it; 0 or an exit status. */
static int check_board(struct omv_ctx *ctx, struct omv_invocation *inv, struct recover *r)
{
    static const enum target_runner need[] = {
        [TARGET_RECOVERY_NONE] = TARGET_RUNNER_DFU,
        [TARGET_RECOVERY_STM32_ROM_DFU] = TARGET_RUNNER_ST_ROM_DFU,
        [TARGET_RECOVERY_STM32CUBEPROG] = TARGET_RUNNER_STM32CUBEPROG,
        [TARGET_RECOVERY_SPSDK_SDP] = TARGET_RUNNER_SPSDK,
        [TARGET_RECOVERY_ALIF_SETOOLS] = TARGET_RUNNER_ALIF_SE,
    };

    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    r->t = ctx_target(ctx, r->target);
    if (!r->t)
        return OMV_EXIT_USAGE;
    if (!r->t->supported) {
        error(ctx, "%s is no longer supported by the firmware", r->t->name);
        return OMV_EXIT_USAGE;
    }
    if (r->t->recovery == TARGET_RECOVERY_NONE) {
        error(ctx, "the bootloader of %s (%s) is factory-locked: omvdev cannot restore it",
              r->t->name, r->t->camera);
        hint(ctx,
             "only the application is ever written (omvdev flash -t %s); a damaged Arduino "
             "bootloader is restored with Arduino's own tools (Arduino IDE: Tools > Burn "
             "Bootloader, or arduino-cli burn-bootloader, with a programmer)",
             r->t->name);
        return OMV_EXIT_FAILURE;
    }
    if (!target_has_runner(r->t, need[r->t->recovery])) {
        error(ctx, "%s has no '%s' runner in the board database, which %s recovery needs",
              r->t->name, target_runner_name(need[r->t->recovery]),
              target_recovery_name(r->t->recovery));
        return OMV_EXIT_USAGE;
    }
    if (r->combined && r->t->recovery != TARGET_RECOVERY_STM32_ROM_DFU)
        return usage_error(ctx, inv,
                           "--combined (openmv.bin) is for the STM32 cameras' ROM "
                           "recovery only");
    return 0;
}

/* The steps of the board's procedure; 0 or an exit status. */
static int plan_steps(struct recover *r)
{
    int rc = 0;

    switch (r->t->recovery) {
    case TARGET_RECOVERY_STM32_ROM_DFU:
        rc = plan_stm32(r);
        break;
    case TARGET_RECOVERY_STM32CUBEPROG:
        rc = plan_n6(r);
        break;
    case TARGET_RECOVERY_SPSDK_SDP:
        rc = plan_rt1060(r);
        break;
    case TARGET_RECOVERY_ALIF_SETOOLS:
        rc = plan_ae3(r);
        break;
    case TARGET_RECOVERY_NONE:
        break;
    }
    return rc ? OMV_EXIT_FAILURE : 0;
}

/* On a terminal: show the plan and ask once. */
static bool confirmed(struct recover *r)
{
    char line[16];

    print_plan(r, stderr);
    if (ask_line("\nStart? Each hardware step is waited for on USB (Ctrl-C stops). [y/N] ", line,
                 sizeof(line)) < 0 ||
        (strcmp(line, "y") && strcmp(line, "Y") && strcmp(line, "yes"))) {
        error(r->ctx, "stopped: nothing was done");
        return false;
    }
    return true;
}

int cmd_recover(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct recover r;
    int rc;
    char err[512];

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    strbuf_init(&r.dir);
    strbuf_init(&r.sdk);
    strbuf_init(&r.setools);
    rc = read_options(ctx, inv, &r);
    if (rc == 0)
        rc = check_board(ctx, inv, &r);
    if (rc)
        goto out;
    if (!r.dir.len) {
        rc = cmd_images_dir(ctx, r.t->name, &r.dir);
        if (rc)
            goto out;
    }
    tools_sdk_dir(ctx, &r.sdk);
    rc = plan_steps(&r);
    if (rc)
        goto out;
    if (r.dry) {
        print_plan(&r, stdout);
        if (r.tool_error)
            warning(ctx, "%s: install it before the real run", r.tool_error);
        goto out;
    }
    if (r.interactive && !confirmed(&r)) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (usb_open_ctx(&r.u, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_DEVICE;
        goto out;
    }
    rc = run_steps(&r);
out:
    usb_close_ctx(r.u);
    for (size_t i = 0; i < r.nr; i++) {
        free(r.steps[i].text);
        runner_argv_release(&r.steps[i].argv);
    }
    free(r.steps);
    free(r.serial);
    free(r.tool_error);
    strbuf_release(&r.dir);
    strbuf_release(&r.sdk);
    strbuf_release(&r.setools);
    return rc;
}
