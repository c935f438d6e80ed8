/*
 * The flash session (flash/session.c) against every device model, in-process:
 * the device's descriptors are read as a host reads them into a struct
 * usb_device_info, its requests go to sim_dev_control() and its sleeps move
 * the model's virtual clock. No umockdev, no USB: these run everywhere.
 */
#include "lib/compat.h"

#include "tests/sim/host.h"
#include "tests/sim/sim.h"

#include "flash/dfu.h"
#include "flash/dfu_file.h"
#include "flash/dfuse_layout.h"
#include "flash/plan.h"
#include "flash/session.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"
#include "targets/targets.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define GET_DESCRIPTOR 6

/* ---- the rig: a model as a usb_device_info and a dfu_io ---------------------------------- */

struct rig {
    struct sim_dev *d;
    struct usb_device_info info;
    struct dfu_dev dev;
    unsigned dnloads, uploads;
    /* Ctrl-C: set cancel once `cancel_after` bytes of phase `cancel_phase` are done */
    volatile sig_atomic_t cancel;
    const char *cancel_phase;
    uint64_t cancel_after;
    unsigned sent_after_cancel; /* DNLOAD/UPLOAD that reached the device once cancelled */
    char labels[512];           /* the steps begun, comma-separated */
};

static int io_control(void *ctx, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                      uint8_t *data, uint16_t len, unsigned timeout_ms)
{
    struct rig *r = ctx;

    (void)timeout_ms;
    if ((type & 0x60) == 0x20 && (req == SIM_DFU_DNLOAD || req == SIM_DFU_UPLOAD)) {
        r->dnloads += req == SIM_DFU_DNLOAD;
        r->uploads += req == SIM_DFU_UPLOAD;
        r->sent_after_cancel += r->cancel != 0;
    }
    return sim_host_control(r->d, type, req, value, index, data, len);
}

static int io_set_alt(void *ctx, uint8_t intf, uint8_t alt)
{
    struct rig *r = ctx;

    return sim_host_set_alt(r->d, intf, alt);
}

static void io_sleep(void *ctx, unsigned ms)
{
    struct rig *r = ctx;

    sim_host_sleep(r->d, ms);
}

static int ctl_in(struct rig *r, uint16_t value, uint16_t index, uint8_t *buf, uint16_t len)
{
    return io_control(r, 0x80, GET_DESCRIPTOR, value, index, buf, len, 1000);
}

/* The alt names and the DFU functional descriptor, as usb_list() reads them. */
static void read_info(struct rig *r)
{
    uint8_t cfg[1024], b[256];
    int n = ctl_in(r, 0x0200, 0, cfg, 9);
    size_t total = n == 9 ? (size_t)(cfg[2] | cfg[3] << 8) : 0;

    n = total && total <= sizeof(cfg) ? ctl_in(r, 0x0200, 0, cfg, (uint16_t)total) : 0;
    r->info.vid = r->d->vid;
    r->info.pid = r->d->pid;
    r->info.serial = r->d->serial;
    r->info.port_path = "1-1";
    for (int i = 0; i + 8 < n && cfg[i]; i += cfg[i]) {
        if (cfg[i + 1] == 0x21 && cfg[i] == 9) {
            r->info.dfu_attributes = cfg[i + 2];
            r->info.dfu_transfer_size = (uint16_t)(cfg[i + 5] | cfg[i + 6] << 8);
        } else if (cfg[i + 1] == 4 && cfg[i + 5] == 0xFE && cfg[i + 6] == 1) {
            char name[256];
            size_t k = 0;
            int got = ctl_in(r, (uint16_t)(0x0300 | cfg[i + 8]), 0x0409, b, 255);

            for (int j = 2; j + 1 < got && j < b[0] && k + 1 < sizeof(name); j += 2)
                name[k++] = (char)b[j];
            name[k] = '\0';
            r->info.dfu = true;
            r->info.alt_names =
                realloc(r->info.alt_names, (r->info.nr_alts + 1) * sizeof(*r->info.alt_names));
            r->info.alt_names[r->info.nr_alts++] = strdup(name);
        }
    }
}

static struct rig *rig_open(const char *spec)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct dfu_io io = {r, io_control, io_set_alt, io_sleep};
    char err[256] = "";

    r->d = sim_dev_new_from_spec(spec, err, sizeof(err));
    if (!r->d) {
        test_fail(__FILE__, __LINE__, "spec '%s': %s", spec, err);
        free(r);
        return NULL;
    }
    read_info(r);
    flash_session_dev(&r->dev, &r->info, &io);
    r->dnloads = r->uploads = 0;
    return r;
}

static void rig_close(struct rig *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->info.nr_alts; i++)
        free(r->info.alt_names[i]);
    free(r->info.alt_names);
    sim_dev_free(r->d);
    free(r);
}

static void on_begin(void *ud, const char *label)
{
    struct rig *r = ud;
    size_t n = strlen(r->labels);

    snprintf(r->labels + n, sizeof(r->labels) - n, "%s%s", n ? "," : "", label);
}

static void on_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    struct rig *r = ud;

    (void)total;
    if (r->cancel_phase && !strcmp(phase, r->cancel_phase) && done >= r->cancel_after)
        r->cancel = SIGINT;
}

static const struct flash_session_hooks hooks = {NULL, on_begin, on_progress, NULL, NULL};

static int run(struct rig *r, const struct flash_plan *plan, struct flash_session_opts o,
               struct flash_outcome *out, char *err, size_t errlen)
{
    struct flash_session_hooks h = hooks;

    h.ud = r;
    o.cancel = &r->cancel;
    return flash_session_run(plan, &o, &r->info, &r->dev, &h, out, err, errlen);
}

static const uint8_t *mem(struct rig *r, uint32_t addr)
{
    struct sim_region *g = sim_dev_region_at(r->d, addr);

    return g ? g->data + (addr - g->base) : NULL;
}

static bool holds(struct rig *r, uint32_t addr, const uint8_t *data, size_t n)
{
    const uint8_t *p = mem(r, addr);

    return p && !memcmp(p, data, n);
}

static bool erased(struct rig *r, uint32_t addr, size_t n)
{
    const uint8_t *p = mem(r, addr);

    for (size_t i = 0; p && i < n; i++)
        if (p[i] != 0xFF)
            return false;
    return p != NULL;
}

static uint64_t erases(struct rig *r)
{
    uint64_t n = 0;

    for (size_t i = 0; i < r->d->nr_regions; i++)
        n += r->d->regions[i].erases;
    return n;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)test_rand(&st);
    return p;
}

/* ---- plans ----------------------------------------------------------------------------- */

static char dir[] = "/tmp/omvdev-session-XXXXXX";
static struct target_db db = TARGET_DB_INIT;

static const struct target *board(const char *name)
{
    char err[256];

    if (!db.nr)
        CHECK_INT(target_db_load(&db, err, sizeof(err)), ==, 0);
    return target_find(&db, name);
}

static const char *put_file(const char *name, const void *data, size_t len)
{
    static char path[512];
    char err[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK_INT(fs_write_atomic(path, data, len, 0644, err, sizeof(err)), ==, 0);
    return path;
}

/* A DfuSe file of elements (address, size, seed) for vid:pid; the plan for it. */
struct elem {
    uint32_t address;
    uint32_t size;
    unsigned seed;
};

static int dfuse_plan(struct flash_plan *plan, const char *target, uint16_t vid, uint16_t pid,
                      const struct elem *e, size_t n, uint8_t **datas, char *err, size_t errlen)
{
    struct dfu_element els[8];
    struct dfu_target tg = {0, true, "ST...", els, n};
    struct strbuf sb = STRBUF_INIT;
    struct flash_plan_opts o = {NULL, NULL, NULL, -1, -1, false, false};
    int rc;

    for (size_t i = 0; i < n; i++) {
        datas[i] = pattern(e[i].size, e[i].seed);
        els[i] = (struct dfu_element){e[i].address, e[i].size, datas[i]};
    }
    CHECK_INT(dfu_file_build_dfuse(&sb, vid, pid, &tg, 1, err, errlen), ==, 0);
    o.file = put_file("image.dfu", sb.buf, sb.len);
    rc = flash_plan_build(plan, board(target), dir, &o, err, errlen);
    strbuf_release(&sb);
    return rc;
}

static void free_all(uint8_t **datas, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(datas[i]);
}

/* ---- every board's default flash, on its own bootloader's model ------------------------- */

struct board_model {
    const char *target, *spec;
};

static const struct board_model boards[] = {
    {"OPENMV2", "openmv-bl:OPENMV2"},       {"OPENMV3", "openmv-bl:OPENMV3"},
    {"OPENMV4", "openmv-bl:OPENMV4"},       {"OPENMV4P", "openmv-bl:OPENMV4P"},
    {"OPENMVPT", "openmv-bl:OPENMVPT"},     {"OPENMV_N6", "openmv-bl:OPENMV_N6"},
    {"OPENMV_AE3", "openmv-bl:OPENMV_AE3"}, {"ARDUINO_PORTENTA_H7", "arduino:PORTENTA"},
    {"ARDUINO_GIGA", "arduino:GIGA"},       {"ARDUINO_NICLA_VISION", "arduino:NICLA"},
};

static void default_flash(const struct board_model *bm)
{
    const struct target *t = board(bm->target);
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts po = {NULL, NULL, NULL, -1, -1, true, false};
    struct flash_outcome out;
    struct rig *r;
    char err[640] = "";
    bool dfuse = t && t->method == TARGET_METHOD_DFUSE;

    if (!t)
        return;
    for (size_t i = 0; i < t->nr_images; i++) {
        uint64_t n =
            t->images[i].max_size && t->images[i].max_size < 50000 ? t->images[i].max_size : 50000;
        uint8_t *data = pattern((size_t)n - 3, (unsigned)i + 1);

        put_file(t->images[i].file, data, (size_t)n - 3);
        free(data);
    }
    CHECK_INT(flash_plan_build(&plan, t, dir, &po, err, sizeof(err)), ==, 0);
    r = rig_open(bm->spec);
    if (r) {
        struct flash_session_opts o = {dfuse, false, true, false, false, false, NULL};
        int rc = run(r, &plan, o, &out, err, sizeof(err));

        if (rc)
            test_fail(__FILE__, __LINE__, "%s: %s", bm->target, err);
        CHECK_INT(out.stage, ==, FLASH_STAGE_DONE);
        CHECK_INT(out.written, ==, plan.nr);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_STARTED);
        for (size_t i = 0; i < plan.nr; i++)
            if (plan.steps[i].address >= 0 && mem(r, (uint32_t)plan.steps[i].address))
                CHECK(holds(r, (uint32_t)plan.steps[i].address, plan.steps[i].data,
                            plan.steps[i].len));
        if (dfuse)
            CHECK_CONTAINS(r->d->log.buf, "manifest: jump to 0x08040000");
        else if (mem(r, 0x08000000))
            CHECK(erased(r, 0x08000000, 0x8000)); /* the (empty) bootloader partition */
        rig_close(r);
    }
    flash_plan_release(&plan);
}

static void test_every_board(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(boards); i++)
        default_flash(&boards[i]);
}

/* The models that are not DFU bootloaders (a camera running its firmware, a device that
 * only enumerates): the check finds no alt to write and nothing is sent. */
static void test_not_a_bootloader(void)
{
    static const char *const specs[] = {"camera:OPENMV4", "usb:1FC9:0135"};
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts po = {NULL, NULL, NULL, -1, -1, false, false};
    uint8_t *fw = pattern(1000, 1), *romfs = pattern(1000, 2);
    char err[640] = "";

    put_file("firmware.bin", fw, 1000);
    put_file("romfs0.img", romfs, 1000);
    CHECK_INT(flash_plan_build(&plan, board("OPENMV4"), dir, &po, err, sizeof(err)), ==, 0);
    for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
        struct rig *r = rig_open(specs[i]);
        struct flash_outcome out;

        if (!r)
            continue;
        {
            struct flash_session_opts o = {false, false, false, false, false, false, NULL};

            CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EUSAGE);
            CHECK_CONTAINS(err, "the bootloader has no 'FIRMWARE' alt (it has none)");
            CHECK_INT(r->dnloads + r->uploads, ==, 0);
        }
        rig_close(r);
    }
    flash_plan_release(&plan);
    free(fw);
    free(romfs);
}

/* Through the ST system bootloader of each modelled part: an image at 0x08000000. */
static void test_every_st_rom(void)
{
    static const struct {
        const char *target, *spec;
        size_t len;
    } roms[] = {
        {"OPENMV2", "st-rom:F427", 200000},
        {"OPENMV3", "st-rom:F765", 300000},
        {"OPENMV4", "st-rom:H743", 300000},
        {"OPENMV4", "st-rom:H743,rev=V", 1200000}, /* reaches bank 2: the erase stalls */
    };

    for (size_t i = 0; i < ARRAY_SIZE(roms); i++) {
        struct flash_plan plan = FLASH_PLAN_INIT;
        struct flash_plan_opts po = {NULL, NULL, NULL, -1, 0x08000000, false, false};
        uint8_t *data = pattern(roms[i].len, 7);
        struct flash_outcome out;
        struct rig *r;
        char err[640] = "";

        po.file = put_file("openmv.bin", data, roms[i].len);
        CHECK_INT(flash_plan_build(&plan, board(roms[i].target), dir, &po, err, sizeof(err)), ==,
                  0);
        CHECK(plan.needs_rom);
        CHECK_INT(plan.leave_address, ==, 0x08000000);
        r = rig_open(roms[i].spec);
        if (r) {
            struct flash_session_opts o = {true, true, true, false, false, false, NULL};

            CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
            CHECK_STR(err, "");
            CHECK(holds(r, 0x08000000, data, roms[i].len));
            CHECK_INT(out.leave, ==, FLASH_LEAVE_STARTED);
            /* 1.2 MB from 0x08000000 reaches two sectors of bank 2 (0x08100000 on) */
            CHECK_INT(out.rev_v, ==, strstr(roms[i].spec, "rev=V") ? 2 : 0);
            rig_close(r);
        }
        flash_plan_release(&plan);
        free(data);
    }
}

/* ---- two elements in one erase unit ------------------------------------------------------ */

static void shared_sector(const char *target, const char *spec, uint16_t vid, uint16_t pid,
                          const struct elem *e, size_t n, bool rom)
{
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[4];
    struct flash_outcome out;
    struct rig *r = rig_open(spec);
    char err[640] = "";

    CHECK_INT(dfuse_plan(&plan, target, vid, pid, e, n, datas, err, sizeof(err)), ==, 0);
    if (r) {
        struct flash_session_opts o = {true, rom, true, false, false, false, NULL};

        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
        CHECK_STR(err, "");
        for (size_t i = 0; i < n; i++)
            if (!holds(r, e[i].address, datas[i], e[i].size))
                test_fail(__FILE__, __LINE__, "%s: element at 0x%08X lost", spec, e[i].address);
        CHECK_INT(erases(r), ==, 1); /* the one sector, once */
        CHECK_CONTAINS(r->labels, "erase,image.dfu@");
        CHECK_CONTAINS(r->labels, ",verify");
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, n);
}

/* The order omvdev used before the session: each element erased and written in turn. The
 * second element's erase wipes the first - what the session's order prevents. */
static void element_by_element(void)
{
    static const struct elem e[] = {{0x08040000, 4000, 1}, {0x08041000, 5000, 2}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[2];
    struct rig *r = rig_open("arduino:PORTENTA");
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, datas, err, sizeof(err)), ==,
        0);
    if (r) {
        CHECK_INT(dfuse_layout_parse(&l, r->info.alt_names[0], err, sizeof(err)), ==, 0);
        CHECK_INT(r->dev.io.set_alt(r, 0, 0), ==, 0);
        for (size_t i = 0; i < 2; i++)
            CHECK_INT(dfuse_write(&r->dev, &l, e[i].address, datas[i], e[i].size, false, NULL, NULL,
                                  err, sizeof(err)),
                      ==, 0);
        CHECK(!holds(r, 0x08040000, datas[0], 4000));
        CHECK(holds(r, 0x08041000, datas[1], 5000));
        CHECK_INT(erases(r), ==, 2);
        rig_close(r);
    }
    dfuse_layout_release(&l);
    flash_plan_release(&plan);
    free_all(datas, 2);
}

static void test_shared_sector(void)
{
    /* The Portenta's Arduino bootloader: 128 KiB sectors. */
    static const struct elem portenta[] = {{0x08040000, 4000, 1}, {0x08041000, 5000, 2}};
    /* The same two, the later one first in the file. */
    static const struct elem reversed[] = {{0x08041000, 5000, 3}, {0x08040000, 4000, 4}};
    /* OPENMV4 through the ST ROM: 0x08000000 and 0x08001000 share sector 0. */
    static const struct elem rom[] = {{0x08000000, 4096, 5}, {0x08001000, 2048, 6}};

    shared_sector("ARDUINO_PORTENTA_H7", "arduino:PORTENTA", 0x2341, 0x035B, portenta, 2, false);
    shared_sector("ARDUINO_PORTENTA_H7", "arduino:PORTENTA", 0x2341, 0x035B, reversed, 2, false);
    shared_sector("OPENMV4", "st-rom:H743", 0x0483, 0xDF11, rom, 2, true);
    element_by_element();
}

/* --skip-unchanged: one element unchanged, the other changed, in one sector: the sector is
 * erased once and both are written again. */
static void test_shared_sector_skip_unchanged(void)
{
    static const struct elem e[] = {{0x08040000, 4000, 1}, {0x08041000, 5000, 2}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[2];
    struct flash_outcome out;
    struct rig *r = rig_open("arduino:PORTENTA");
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, datas, err, sizeof(err)), ==,
        0);
    if (r) {
        struct flash_session_opts o = {true, false, true, true, false, true, NULL};
        struct sim_region *g = sim_dev_region_at(r->d, 0x08040000);

        /* The device holds element 0 already and something else where element 1 goes. */
        memcpy(g->data + 0x40000, datas[0], 4000);
        memset(g->data + 0x41000, 0x55, 5000);
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
        CHECK_STR(err, "");
        CHECK(holds(r, 0x08040000, datas[0], 4000));
        CHECK(holds(r, 0x08041000, datas[1], 5000));
        CHECK_INT(erases(r), ==, 1);
        CHECK_INT(out.written, ==, 2);
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 2);
}

/* ---- the whole plan is checked before the first erase ------------------------------------- */

static void test_outside_every_memory(void)
{
    static const struct elem e[] = {{0x08040000, 4096, 1}, {0x30000000, 4096, 2}};
    static const struct elem qspi[] = {{0x08040000, 4096, 1}, {0x90B00000, 4096, 2}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[2];
    char err[640] = "";

    /* The plan (and so --dry-run) refuses it before any device is looked at. */
    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, datas, err, sizeof(err)), ==,
        OMV_EUSAGE);
    CHECK_CONTAINS(err, "0x30000000, which lies in none of ARDUINO_PORTENTA_H7's memories");
    free_all(datas, 2);
    /* A QSPI element goes through the QSPI alt (1), not alt 0. */
    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, qspi, 2, datas, err, sizeof(err)),
        ==, 0);
    CHECK_INT(plan.steps[0].alt, ==, 0);
    CHECK_INT(plan.steps[1].alt, ==, 1);
    flash_plan_release(&plan);
    free_all(datas, 2);
    /* Two elements over the same bytes. */
    {
        static const struct elem twice[] = {{0x08040000, 8192, 1}, {0x08041000, 4096, 2}};

        CHECK_INT(dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, twice, 2, datas, err,
                             sizeof(err)),
                  ==, OMV_EUSAGE);
        CHECK_CONTAINS(err, "overlap");
        free_all(datas, 2);
    }
    /* Through the ST ROM only internal flash can be written. */
    CHECK_INT(dfuse_plan(&plan, "OPENMV4", 0x0483, 0xDF11, qspi, 2, datas, err, sizeof(err)), ==,
              OMV_EUSAGE);
    CHECK_CONTAINS(err, "is not inside OPENMV4's internal flash");
    free_all(datas, 2);
}

/* What the board database cannot know, the device's own layout catches, still before
 * anything is erased: the Arduino bootloader's own sector is read-only. */
static void test_device_check_before_erase(void)
{
    static const struct elem e[] = {{0x08040000, 4096, 1}, {0x08000000, 4096, 2}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[2];
    struct flash_outcome out;
    struct rig *r = rig_open("arduino:PORTENTA");
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, datas, err, sizeof(err)), ==,
        0);
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EUSAGE);
        CHECK_CONTAINS(err, "image.dfu@0x08000000");
        CHECK_INT(out.stage, ==, FLASH_STAGE_CHECK);
        CHECK(!out.touched);
        CHECK_INT(r->dnloads + r->uploads, ==, 0);
        CHECK_INT(erases(r), ==, 0);
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 2);
}

/* A device without bitCanUpload: --verify and --skip-unchanged are refused at the check. */
static void test_no_upload(void)
{
    static const struct elem e[] = {{0x08000000, 4096, 1}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[1];
    struct flash_outcome out;
    char err[640] = "";

    CHECK_INT(dfuse_plan(&plan, "OPENMV4", 0x0483, 0xDF11, e, 1, datas, err, sizeof(err)), ==, 0);
    for (int skip = 0; skip < 2; skip++) {
        struct rig *r = rig_open("st-rom:H743,attrs=0x09");
        struct flash_session_opts o = {true, true, !skip, skip == 1, false, false, NULL};

        if (!r)
            continue;
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EDEVICE);
        CHECK(out.no_upload);
        CHECK_CONTAINS(err, skip ? "--skip-unchanged" : "--verify");
        CHECK_INT(out.stage, ==, FLASH_STAGE_CHECK);
        CHECK_INT(r->dnloads + r->uploads, ==, 0);
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 1);
}

/* ---- leaving DfuSe ---------------------------------------------------------------------- */

static void test_leave_address(void)
{
    static const struct elem e[] = {{0x90B00000, 4096, 1}, {0x08041000, 4096, 2}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[2];
    struct flash_outcome out;
    struct rig *r = rig_open("arduino:PORTENTA");
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, datas, err, sizeof(err)), ==,
        0);
    /* The image's start in internal flash, never 0x00000000. */
    CHECK_INT(plan.leave_address, ==, 0x08041000);
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_STARTED);
        CHECK_CONTAINS(r->d->log.buf, "manifest: jump to 0x08041000");
        rig_close(r);
    }
    /* A leave address the device refuses is reported as such, with its state. */
    r = rig_open("arduino:PORTENTA");
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        plan.leave_address = 0;
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_FAILED);
        CHECK_CONTAINS(out.leave_err, "0x00000000, where the new code starts, lies in none");
        CHECK(!strstr(r->d->log.buf, "jump to"));
        rig_close(r);
    }
    r = rig_open("arduino:PORTENTA");
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        plan.leave_address = 0x08040000;
        r->d->faults[r->d->nr_faults++] =
            (struct sim_fault){SIM_FAULT_STALL_REQUEST, SIM_DFU_DNLOAD, 0, 0};
        plan.nr = 0; /* nothing to write: straight to the leave, which the device refuses */
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, 0);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_FAILED);
        CHECK_CONTAINS(out.leave_err, "STALL");
        CHECK(out.state_known); /* what the device says after it, for the message */
        CHECK(!strstr(r->d->log.buf, "jump to"));
        plan.nr = 2;
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 2);
}

static int reset_fails(void *ud)
{
    (void)ud;
    return USB_ERR_IO;
}

/* Plain DFU: a DETACH the bootloader refuses and a port reset that fails are not a restart. */
static void test_leave_plain_dfu(void)
{
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts po = {NULL, NULL, NULL, -1, -1, false, false};
    uint8_t *fw = pattern(10000, 1), *romfs = pattern(7000, 2);
    struct flash_outcome out;
    struct rig *r = rig_open("openmv-bl:OPENMV4,fault=stall:0");
    char err[640] = "";

    put_file("firmware.bin", fw, 10000);
    put_file("romfs0.img", romfs, 7000);
    CHECK_INT(flash_plan_build(&plan, board("OPENMV4"), dir, &po, err, sizeof(err)), ==, 0);
    if (r) {
        struct flash_session_opts o = {false, false, false, false, false, false, &r->cancel};
        struct flash_session_hooks h = {r, on_begin, on_progress, NULL, reset_fails};

        CHECK_INT(flash_session_run(&plan, &o, &r->info, &r->dev, &h, &out, err, sizeof(err)), ==,
                  0);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_FAILED);
        CHECK_CONTAINS(out.leave_err, "DETACH");
        CHECK(holds(r, 0x08040000, fw, 10000));
        rig_close(r);
    }
    flash_plan_release(&plan);
    free(fw);
    free(romfs);
}

/* ---- Ctrl-C ------------------------------------------------------------------------------ */

static void test_cancel(void)
{
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts po = {NULL, NULL, NULL, -1, -1, false, false};
    uint8_t *fw = pattern(300000, 1), *romfs = pattern(70000, 2);
    struct flash_outcome out;
    struct rig *r = rig_open("openmv-bl:OPENMV4");
    char err[640] = "";

    put_file("firmware.bin", fw, 300000);
    put_file("romfs0.img", romfs, 70000);
    CHECK_INT(flash_plan_build(&plan, board("OPENMV4"), dir, &po, err, sizeof(err)), ==, 0);
    if (r) {
        struct flash_session_opts o = {false, false, true, false, false, false, NULL};

        r->cancel_phase = "write";
        r->cancel_after = 65536;
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EINTR);
        CHECK(out.interrupted);
        CHECK_INT(out.stage, ==, FLASH_STAGE_WRITE);
        CHECK_STR(out.step, "firmware.bin");
        CHECK_INT(out.step_done, >=, 65536);
        CHECK_INT(out.step_done, <, 300000);
        /* nothing new was started once cancelled, and the device is back in dfuIDLE */
        CHECK_INT(r->sent_after_cancel, ==, 0);
        CHECK(out.state_known);
        CHECK_INT(out.state, ==, DFU_STATE_IDLE);
        CHECK_INT(out.leave, ==, FLASH_LEAVE_NONE);
        CHECK(!r->d->gone);
        CHECK(erased(r, 0x081E0000, 70000)); /* romfs0.img not begun */
        CHECK(erased(r, 0x08000000, 0x20000));
        rig_close(r);
    }
    flash_plan_release(&plan);
    free(fw);
    free(romfs);
}

/* Cancelled before anything is sent: nothing touched, and the outcome says so. */
static void test_cancel_before(void)
{
    static const struct elem e[] = {{0x08040000, 8192, 1}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[1];
    struct flash_outcome out;
    struct rig *r = rig_open("arduino:PORTENTA");
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 1, datas, err, sizeof(err)), ==,
        0);
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        r->cancel = SIGTERM;
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EINTR);
        CHECK_INT(out.stage, ==, FLASH_STAGE_CHECK);
        CHECK(!out.touched);
        CHECK_INT(r->dnloads, ==, 0);
        CHECK_INT(erases(r), ==, 0);
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 1);
}

static void test_cancel_dfuse_erase(void)
{
    static const struct elem e[] = {{0x08040000, 300000, 1}};
    struct flash_plan plan = FLASH_PLAN_INIT;
    uint8_t *datas[1];
    struct flash_outcome out;
    struct rig *r = rig_open("arduino:PORTENTA");
    char err[640] = "";

    CHECK_INT(
        dfuse_plan(&plan, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 1, datas, err, sizeof(err)), ==,
        0);
    if (r) {
        struct flash_session_opts o = {true, false, false, false, false, false, NULL};

        r->cancel_phase = "erase";
        r->cancel_after = 1; /* after the first page */
        CHECK_INT(run(r, &plan, o, &out, err, sizeof(err)), ==, OMV_EINTR);
        CHECK_INT(out.stage, ==, FLASH_STAGE_ERASE);
        CHECK(out.touched);
        CHECK_INT(erases(r), ==, 1);
        CHECK_INT(r->sent_after_cancel, ==, 0);
        CHECK_INT(out.state, ==, DFU_STATE_IDLE);
        CHECK(!strstr(r->d->log.buf, "jump to"));
        rig_close(r);
    }
    flash_plan_release(&plan);
    free_all(datas, 1);
}

/* ---- every fault kind of the models ------------------------------------------------------ */

struct fault_case {
    const char *fault;
    int want;       /* the session's return */
    const char *in; /* part of the message, or NULL */
};

static const struct fault_case faults[] = {
    {"unplug-bytes:65536", OMV_EDEVICE, "the device is gone"},
    {"unplug-state:5", OMV_EDEVICE, NULL},
    {"stall:1:5", OMV_EDEVICE, "STALL"},
    {"stall:3:1", OMV_EDEVICE, NULL},
    {"wrong-state:10:1", 0, NULL},
    {"wrong-state:10", OMV_EDEVICE, "dfuERROR"},
    {"slow-erase:3", 0, NULL},
    {"refuse-write:5", OMV_EDEVICE, "errWRITE"},
    {"late:1500", 0, NULL}, /* appearing late is the bus's business: once there it works */
};

static void fault_on(const char *target, const char *model, const struct fault_case *fc, bool dfuse,
                     bool rom, const struct flash_plan *plan)
{
    char spec[128], err[640] = "";
    struct flash_outcome out;
    struct rig *r;

    snprintf(spec, sizeof(spec), "%s,fault=%s", model, fc->fault);
    r = rig_open(spec);
    if (!r)
        return;
    {
        struct flash_session_opts o = {dfuse, rom, true, false, false, false, NULL};
        int rc = run(r, plan, o, &out, err, sizeof(err));

        if (rc != fc->want)
            test_fail(__FILE__, __LINE__, "%s %s: %d, wanted %d (%s)", target, spec, rc, fc->want,
                      err);
        if (fc->in && rc)
            CHECK_CONTAINS(err, fc->in);
        if (rc == 0) {
            for (size_t i = 0; i < plan->nr; i++)
                if (plan->steps[i].address >= 0)
                    CHECK(holds(r, (uint32_t)plan->steps[i].address, plan->steps[i].data,
                                plan->steps[i].len));
            CHECK_INT(out.stage, ==, FLASH_STAGE_DONE);
        } else {
            CHECK(out.stage != FLASH_STAGE_DONE);
            CHECK_INT(out.leave, ==, FLASH_LEAVE_NONE); /* never "restarts" after a failure */
        }
        if (!rom && mem(r, 0x08000000) && !dfuse)
            CHECK(erased(r, 0x08000000, 0x20000)); /* the bootloader is never touched */
    }
    rig_close(r);
}

static void test_faults(void)
{
    static const struct elem e[] = {{0x08040000, 200000, 1}, {0x08071000, 8192, 2}};
    struct flash_plan omv = FLASH_PLAN_INIT, ard = FLASH_PLAN_INIT, rom = FLASH_PLAN_INIT;
    struct flash_plan_opts po = {NULL, NULL, NULL, -1, -1, false, false};
    uint8_t *fw = pattern(300000, 1), *romfs = pattern(70000, 2), *d1[2], *d2[2];
    char err[640] = "";

    put_file("firmware.bin", fw, 300000);
    put_file("romfs0.img", romfs, 70000);
    CHECK_INT(flash_plan_build(&omv, board("OPENMV4"), dir, &po, err, sizeof(err)), ==, 0);
    CHECK_INT(dfuse_plan(&ard, "ARDUINO_PORTENTA_H7", 0x2341, 0x035B, e, 2, d1, err, sizeof(err)),
              ==, 0);
    CHECK_INT(dfuse_plan(&rom, "OPENMV4", 0x0483, 0xDF11, e, 2, d2, err, sizeof(err)), ==, 0);
    for (size_t i = 0; i < ARRAY_SIZE(faults); i++) {
        fault_on("OPENMV4", "openmv-bl:OPENMV4", &faults[i], false, false, &omv);
        fault_on("ARDUINO_PORTENTA_H7", "arduino:PORTENTA", &faults[i], true, false, &ard);
        fault_on("OPENMV4 (ST ROM)", "st-rom:H743", &faults[i], true, true, &rom);
    }
    flash_plan_release(&omv);
    flash_plan_release(&ard);
    flash_plan_release(&rom);
    free(fw);
    free(romfs);
    free_all(d1, 2);
    free_all(d2, 2);
}

static void test_setup(void)
{
    CHECK(mkdtemp(dir) != NULL);
}

static void test_teardown(void)
{
    struct strbuf cmd = STRBUF_INIT;

    strbuf_addf(&cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd.buf), ==, 0);
    strbuf_release(&cmd);
    target_db_release(&db);
}

TESTS(TEST(test_setup), TEST(test_every_board), TEST(test_every_st_rom),
      TEST(test_not_a_bootloader), TEST(test_shared_sector),
      TEST(test_shared_sector_skip_unchanged), TEST(test_outside_every_memory),
      TEST(test_device_check_before_erase), TEST(test_no_upload), TEST(test_leave_address),
      TEST(test_leave_plain_dfu), TEST(test_cancel), TEST(test_cancel_before),
      TEST(test_cancel_dfuse_erase), TEST(test_faults), TEST(test_teardown))
