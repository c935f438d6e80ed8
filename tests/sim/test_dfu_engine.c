/*
 * The DFU and DfuSe engines (flash/dfu.c, flash/dfuse.c) against the device
 * models, in-process: a struct dfu_io whose requests go to sim_dev_control()
 * and whose sleeps move the model's virtual clock.
 */
#include "lib/compat.h"

#include "tests/sim/host.h"
#include "tests/sim/sim.h"

#include "flash/dfu.h"
#include "flash/dfuse_layout.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define GET_DESCRIPTOR 6

/* ---- the rig: a model behind a struct dfu_io ------------------------------------------- */

struct rig {
    struct sim_dev *d;
    struct dfu_dev dev;
    uint64_t slept_ms;
    unsigned reqs[8];       /* class requests by bRequest */
    unsigned set_addresses; /* DfuSe SET_ADDRESS commands (DNLOAD wValue 0, 0x21) */
    unsigned max_block;     /* the highest wValue of a DNLOAD carrying data */
    /* progress */
    unsigned calls;
    char last_phase[16];
    uint64_t last_done, last_total;
    bool backwards;
};

static int io_control(void *ctx, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                      uint8_t *data, uint16_t len, unsigned timeout_ms)
{
    struct rig *r = ctx;

    (void)timeout_ms;
    if ((type & 0x60) == 0x20 && req < ARRAY_SIZE(r->reqs))
        r->reqs[req]++;
    if (type == 0x21 && req == 1 && value == 0 && len == 5 && data[0] == 0x21)
        r->set_addresses++;
    if (type == 0x21 && req == 1 && value >= 2 && value > r->max_block)
        r->max_block = value;
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

    r->slept_ms += ms;
    sim_host_sleep(r->d, ms);
}

static void on_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    struct rig *r = ud;

    if (!strcmp(phase, r->last_phase) && done < r->last_done)
        r->backwards = true;
    snprintf(r->last_phase, sizeof(r->last_phase), "%s", phase);
    r->last_done = done;
    r->last_total = total;
    r->calls++;
}

static int ctl(struct rig *r, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
               uint8_t *buf, uint16_t len)
{
    return r->dev.io.control(r, type, req, value, index, buf, len, 1000);
}

static size_t get_config(struct rig *r, uint8_t *out, size_t cap)
{
    int n = ctl(r, 0x80, GET_DESCRIPTOR, 0x0200, 0, out, 9);
    size_t total;

    if (n != 9)
        return 0;
    total = (size_t)(out[2] | out[3] << 8);
    if (total > cap)
        return 0;
    n = ctl(r, 0x80, GET_DESCRIPTOR, 0x0200, 0, out, (uint16_t)total);
    return n < 0 ? 0 : (size_t)n;
}

/* The name (iInterface string) of an alt setting, read as a host does. */
static void alt_name(struct rig *r, unsigned alt, char *out, size_t cap)
{
    uint8_t cfg[1024], b[256];
    size_t n = get_config(r, cfg, sizeof(cfg)), k = 0;

    out[0] = '\0';
    for (size_t i = 0; i + 8 < n && cfg[i]; i += cfg[i]) {
        int got;

        if (cfg[i + 1] != 4 || cfg[i + 3] != alt)
            continue;
        got = ctl(r, 0x80, GET_DESCRIPTOR, (uint16_t)(0x0300 | cfg[i + 8]), 0x0409, b, 255);
        for (int j = 2; j + 1 < got && j < b[0] && k + 1 < cap; j += 2)
            out[k++] = (char)b[j];
        out[k] = '\0';
    }
}

/* Open a model like the flasher: functional descriptor, then the alt. */
static struct rig *rig_open(const char *spec, uint8_t alt)
{
    struct rig *r = calloc(1, sizeof(*r));
    char err[256] = "";
    uint8_t cfg[1024];
    size_t n;

    r->d = sim_dev_new_from_spec(spec, err, sizeof(err));
    if (!r->d) {
        test_fail(__FILE__, __LINE__, "spec '%s': %s", spec, err);
        free(r);
        return NULL;
    }
    r->dev.io.ctx = r;
    r->dev.io.control = io_control;
    r->dev.io.set_alt = io_set_alt;
    r->dev.io.sleep_ms = io_sleep;
    r->dev.intf = 0;
    n = get_config(r, cfg, sizeof(cfg));
    for (size_t i = 0; i + 8 < n && cfg[i]; i += cfg[i])
        if (cfg[i + 1] == 0x21 && cfg[i] == 9) {
            r->dev.attributes = cfg[i + 2];
            r->dev.transfer_size = (uint16_t)(cfg[i + 5] | cfg[i + 6] << 8);
            r->dev.device_transfer_size = r->dev.transfer_size;
        }
    CHECK(r->dev.transfer_size > 0);
    CHECK_INT(r->dev.io.set_alt(r, 0, alt), ==, 0);
    memset(r->reqs, 0, sizeof(r->reqs));
    return r;
}

static void rig_close(struct rig *r)
{
    if (!r)
        return;
    sim_dev_free(r->d);
    free(r);
}

static struct dfu_progress progress_of(struct rig *r)
{
    struct dfu_progress p = {on_progress, r};

    return p;
}

static uint8_t *mem(struct rig *r, uint32_t addr)
{
    struct sim_region *g = sim_dev_region_at(r->d, addr);

    return g ? g->data + (addr - g->base) : NULL;
}

static bool all_bytes(struct rig *r, uint32_t addr, size_t n, uint8_t v)
{
    const uint8_t *p = mem(r, addr);

    for (size_t i = 0; p && i < n; i++)
        if (p[i] != v)
            return false;
    return p != NULL;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);

    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8) + (i >> 16));
    return p;
}

static int state_of(struct rig *r)
{
    struct dfu_status st;
    char err[256];

    return dfu_get_status(&r->dev, &st, err, sizeof(err)) < 0 ? -1 : st.state;
}

static bool parse_alt_layout(struct rig *r, unsigned alt, struct dfuse_layout *l)
{
    char name[256], err[256] = "";

    alt_name(r, alt, name, sizeof(name));
    if (dfuse_layout_parse(l, name, err, sizeof(err)) < 0) {
        test_fail(__FILE__, __LINE__, "layout: %s", err);
        return false;
    }
    return true;
}

/* ---- names ------------------------------------------------------------------------------------
 */

static void test_names(void)
{
    CHECK_STR(dfu_state_name(DFU_STATE_ERROR), "dfuERROR");
    CHECK_STR(dfu_state_name(DFU_STATE_DNLOAD_IDLE), "dfuDNLOAD-IDLE");
    CHECK_STR(dfu_state_name(DFU_STATE_MANIFEST_WAIT_RESET), "dfuMANIFEST-WAIT-RESET");
    CHECK_STR(dfu_status_name(0), "OK");
    CHECK_STR(dfu_status_name(3), "errWRITE");
    CHECK_STR(dfu_status_name(8), "errADDRESS");
    CHECK_STR(dfu_status_name(15), "errSTALLEDPKT");
    CHECK_STR(dfu_status_text(3), "device is unable to write memory");
    CHECK(dfu_state_name(200) != NULL);
    CHECK(dfu_status_name(200) != NULL);
}

/* ---- plain DFU: the OpenMV bootloader ------------------------------------------------------ */

#define FW_BASE  0x08040000u
#define FW_LIMIT 0x081E0000u /* OPENMV4's FIRMWARE partition */

static void test_omv_download_upload(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4", 2);
    size_t len = 300 * 1024 + 100, got = 0, cap = FW_LIMIT - FW_BASE;
    uint8_t *img = pattern(len, 1), *back = malloc(cap);
    struct dfu_progress p;
    char err[256] = "";

    if (!r)
        return;
    p = progress_of(r);
    CHECK_INT(r->dev.transfer_size, ==, 4096);
    CHECK_INT(r->dev.attributes & DFU_ATTR_MANIFESTATION_TOLERANT, !=, 0);
    CHECK_INT(dfu_download(&r->dev, img, len, &p, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK(mem(r, FW_BASE) && !memcmp(mem(r, FW_BASE), img, len));
    CHECK_INT(r->calls, <=, (len + 4095) / 4096 + 1);
    CHECK_STR(r->last_phase, "write");
    CHECK_INT(r->last_done, ==, len);
    CHECK(!r->backwards);
    /* manifestation tolerant: still there, back in dfuIDLE */
    CHECK(!r->d->gone);
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
    CHECK_INT(r->reqs[1], ==, (len + 4095) / 4096 + 1); /* the blocks and the zero-length one */

    /* The whole partition: exactly its bytes, not the 4-byte EOF frame after it. */
    CHECK_INT(dfu_upload(&r->dev, back, cap, &got, &p, err, sizeof(err)), ==, 0);
    CHECK_INT(got, ==, cap);
    CHECK(!memcmp(back, mem(r, FW_BASE), cap));
    CHECK(!memcmp(back, img, len));
    CHECK_STR(r->last_phase, "read");
    /* Just the image, as a verify reads it. */
    memset(back, 0, cap);
    CHECK_INT(dfu_upload(&r->dev, back, len, &got, NULL, err, sizeof(err)), ==, 0);
    CHECK_INT(got, ==, len);
    CHECK(!memcmp(back, img, len));
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
    free(img);
    free(back);
    rig_close(r);
}

static void test_omv_read_only(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4", 0);
    uint8_t *img = pattern(8192, 2);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_download(&r->dev, img, 8192, NULL, err, sizeof(err)), ==, DFU_ERR_STATUS);
    CHECK_CONTAINS(err, "write of block 0");
    CHECK_CONTAINS(err, "errWRITE (device is unable to write memory) in state dfuERROR");
    CHECK(!strchr(err, '\n'));
    /* and the next operation starts from dfuIDLE again */
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[4], ==, 1);
    free(img);
    rig_close(r);
}

static void test_omv_too_large(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4", 1); /* FILESYSTEM: 128 KiB */
    size_t len = 200 * 1024;
    uint8_t *img = pattern(len, 3);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_download(&r->dev, img, len, NULL, err, sizeof(err)), ==, DFU_ERR_STATUS);
    CHECK_CONTAINS(err, "block 32 ");
    CHECK_CONTAINS(err, "errADDRESS");
    free(img);
    rig_close(r);
}

static void test_omv_refuse_write(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4,fault=refuse-write:5", 2);
    size_t len = 64 * 1024;
    uint8_t *img = pattern(len, 4);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_download(&r->dev, img, len, NULL, err, sizeof(err)), ==, DFU_ERR_STATUS);
    CHECK_CONTAINS(err, "write of block 5 (image offset 0x5000) failed: the device reports "
                        "errWRITE");
    free(img);
    rig_close(r);
}

static void test_omv_unplug(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4,fault=unplug-bytes:100000", 2);
    size_t len = 300 * 1024;
    uint8_t *img = pattern(len, 5);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_download(&r->dev, img, len, NULL, err, sizeof(err)), ==, USB_ERR_NODEV);
    CHECK_CONTAINS(err, "write of block ");
    CHECK_CONTAINS(err, usb_strerror(USB_ERR_NODEV));
    free(img);
    rig_close(r);
}

/* Losing the device after the zero-length block: fine only when it is not manifestation tolerant.
 */
static void test_omv_gone_in_manifest(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4,fault=unplug-state:6", 2);
    uint8_t *img = pattern(10000, 14);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_download(&r->dev, img, 10000, NULL, err, sizeof(err)), ==, USB_ERR_NODEV);
    CHECK_CONTAINS(err, "manifestation");
    rig_close(r);

    r = rig_open("openmv-bl:OPENMV4,fault=unplug-state:6", 2);
    r->dev.attributes &= (uint8_t)~DFU_ATTR_MANIFESTATION_TOLERANT;
    CHECK_INT(dfu_download(&r->dev, img, 10000, NULL, err, sizeof(err)), ==, 0);
    CHECK(r->d->gone);
    CHECK(!memcmp(mem(r, FW_BASE), img, 10000));
    rig_close(r);
    free(img);
}

static void test_omv_detach(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4", 2);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_detach(&r->dev, 1000, err, sizeof(err)), ==, 0);
    CHECK(r->d->gone);
    CHECK_INT(r->d->transition, ==, SIM_BECOME);
    /* a second DETACH finds it gone: that is what was asked */
    CHECK_INT(dfu_detach(&r->dev, 1000, err, sizeof(err)), ==, 0);
    rig_close(r);
}

/* ---- normalising ----------------------------------------------------------------------------- */

static void test_normalise(void)
{
    struct rig *r = rig_open("openmv-bl:OPENMV4,fault=wrong-state:10:1", 2);
    uint8_t cmd[5] = {0x21, 0x00, 0x00, 0x00, 0x08};
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[4], ==, 1); /* CLRSTATUS */
    CHECK_INT(r->reqs[6], ==, 0);
    rig_close(r);

    r = rig_open("openmv-bl:OPENMV4,fault=wrong-state:5:1", 2);
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[6], ==, 1); /* ABORT */
    rig_close(r);

    /* a device that never leaves dfuERROR: bounded, and the state is named */
    r = rig_open("openmv-bl:OPENMV4,fault=wrong-state:10", 2);
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, DFU_ERR_STATE);
    CHECK_CONTAINS(err, "'dfuERROR'");
    CHECK_INT(r->reqs[3], <=, 10);
    rig_close(r);

    /* an ST ROM left in dfuDNLOAD-IDLE by hand (a SET_ADDRESS and its two GETSTATUS) */
    r = rig_open("st-rom:H743", 0);
    CHECK_INT(ctl(r, 0x21, 1, 0, 0, cmd, 5), ==, 5);
    CHECK_INT(state_of(r), ==, DFU_STATE_DNBUSY);
    CHECK_INT(state_of(r), ==, DFU_STATE_DNLOAD_IDLE);
    memset(r->reqs, 0, sizeof(r->reqs));
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[6], ==, 1);
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
    /* and in dfuERROR (CLRSTATUS outside dfuERROR is an error on ST's stack) */
    CHECK_INT(ctl(r, 0x21, 4, 0, 0, NULL, 0), ==, 0);
    CHECK_INT(state_of(r), ==, DFU_STATE_ERROR);
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
    rig_close(r);

    /* an erase left running (busy=answer, at its 2.2 s maximum) is waited for, not cleared */
    r = rig_open("st-rom:H743,busy=answer,fault=slow-erase:max", 0);
    CHECK_INT(ctl(r, 0x21, 1, 0, 0, (uint8_t[]){0x41, 0x00, 0x00, 0x02, 0x08}, 5), ==, 5);
    CHECK_INT(state_of(r), ==, DFU_STATE_DNBUSY);
    memset(r->reqs, 0, sizeof(r->reqs));
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[4], ==, 0);
    CHECK_INT(r->slept_ms, >=, 2200);
    rig_close(r);
    /* a Rev V stall left behind is cleared once that time has passed */
    r = rig_open("st-rom:H743,rev=V", 0);
    CHECK_INT(ctl(r, 0x21, 1, 0, 0, (uint8_t[]){0x41, 0x00, 0x00, 0x10, 0x08}, 5), ==, 5);
    CHECK_INT(state_of(r), ==, DFU_STATE_DNBUSY);
    memset(r->reqs, 0, sizeof(r->reqs));
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_INT(r->reqs[4], ==, 2);
    CHECK_INT(r->slept_ms, <=, 3000);
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
    /* an application, not a bootloader */
    rig_close(r);
    r = rig_open("openmv-bl:OPENMV4,fault=wrong-state:0", 2);
    CHECK_INT(dfu_normalise(&r->dev, err, sizeof(err)), ==, DFU_ERR_STATE);
    CHECK_CONTAINS(err, "'appIDLE'");
    rig_close(r);
}

/* ---- DfuSe: the ST ROM ------------------------------------------------------------------------
 */

static struct sim_region *internal(struct rig *r)
{
    return sim_dev_region_at(r->d, 0x08000000);
}

static void test_h743_page0(void)
{
    struct rig *r = rig_open("st-rom:H743", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 20 * 1024;
    uint8_t *img = pattern(len, 6), *back = malloc(len);
    struct dfu_progress p;
    unsigned rec = 99;
    char err[256] = "";

    if (!r)
        return;
    p = progress_of(r);
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08000000, img, len, false, &rec, &p, err, sizeof(err)), ==,
              0);
    CHECK_STR(err, "");
    CHECK_INT(rec, ==, 0);
    CHECK_INT(internal(r)->erases, ==, 1);
    CHECK(!memcmp(mem(r, 0x08000000), img, len));
    CHECK(all_bytes(r, 0x08000000 + (uint32_t)len, 0x20000 - len, 0xFF));
    CHECK_INT(r->calls, <=, 2 + 1 + len / 2048);
    CHECK_STR(r->last_phase, "write");
    CHECK_INT(r->last_done, ==, len);
    CHECK_INT(r->slept_ms, <, 2000);
    CHECK_INT(dfuse_read(&r->dev, 0x08000000, back, len, &p, err, sizeof(err)), ==, 0);
    CHECK(!memcmp(back, img, len));
    CHECK_STR(r->last_phase, "read");
    CHECK_INT(state_of(r), ==, DFU_STATE_IDLE);
out:
    dfuse_layout_release(&l);
    free(img);
    free(back);
    rig_close(r);
}

static void test_h743_pages_1_to_3(void)
{
    struct rig *r = rig_open("st-rom:H743", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 300 * 1024;
    uint8_t *img = pattern(len, 7), *back = malloc(len);
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    memset(internal(r)->data, 0xA5, internal(r)->size);
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08020000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(internal(r)->erases, ==, 3);
    CHECK(all_bytes(r, 0x08000000, 0x20000, 0xA5));
    CHECK(!memcmp(mem(r, 0x08020000), img, len));
    CHECK(all_bytes(r, 0x08020000 + (uint32_t)len, 0x08080000 - 0x08020000 - len, 0xFF));
    CHECK(all_bytes(r, 0x08080000, 0x08200000 - 0x08080000, 0xA5));
    CHECK_INT(dfuse_read(&r->dev, 0x08020000, back, len, NULL, err, sizeof(err)), ==, 0);
    CHECK(!memcmp(back, img, len));
out:
    dfuse_layout_release(&l);
    free(img);
    free(back);
    rig_close(r);
}

/*
 * Data goes out as DNLOAD wValue 2, 3, ... after one SET_ADDRESS (the device
 * writes block n at (n - 2) * wTransferSize + the pointer): three control
 * transfers a chunk. A host transfer size that is not the device's own would
 * misplace every block after the first, so then each chunk gets its own
 * SET_ADDRESS and wValue 2.
 */
static void test_h743_consecutive_blocks(void)
{
    struct rig *r = rig_open("st-rom:H743", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    static const struct {
        uint16_t transfer_size;
        size_t chunk;
    } hosts[] = {{1000, 992}, {1024, 1024}};
    size_t len = 300 * 1024 + 100, chunks = (len + 2047) / 2048;
    uint8_t *img = pattern(len, 11), *back = NULL;
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    memset(r->reqs, 0, sizeof(r->reqs));
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08020000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK(!memcmp(mem(r, 0x08020000), img, len));
    CHECK_INT(r->set_addresses, ==, 1);
    CHECK_INT(r->max_block, ==, 2 + chunks - 1);
    /* 3 erases, 1 SET_ADDRESS, the chunks; two GETSTATUS each, and the state checks
     * before the erases and after the writes */
    CHECK_INT(r->reqs[1], ==, 3 + 1 + chunks);
    CHECK_INT(r->reqs[3], <=, 2 * (3 + 1 + chunks) + 3);

    /* A host whose chunks are not the device's own 2048: 1000 bytes gives
     * 992-byte chunks (whole flash words); 1024 is what a host capped below a
     * descriptor's size sends. Each chunk gets its address; reads too. */
    back = malloc(len);
    for (size_t i = 0; i < ARRAY_SIZE(hosts) && back; i++) {
        r->dev.transfer_size = hosts[i].transfer_size;
        r->set_addresses = r->max_block = 0;
        memset(internal(r)->data, 0xFF, internal(r)->size);
        CHECK_INT(
            dfuse_write(&r->dev, &l, 0x08020000, img, len, true, NULL, NULL, err, sizeof(err)), ==,
            0);
        CHECK_STR(err, "");
        CHECK(!memcmp(mem(r, 0x08020000), img, len));
        CHECK_INT(r->set_addresses, ==, (len + hosts[i].chunk - 1) / hosts[i].chunk);
        CHECK_INT(r->max_block, ==, 2);
        memset(back, 0, len);
        CHECK_INT(dfuse_read(&r->dev, 0x08020000, back, len, NULL, err, sizeof(err)), ==, 0);
        CHECK_STR(err, "");
        CHECK(!memcmp(back, img, len));
    }
out:
    dfuse_layout_release(&l);
    free(img);
    free(back);
    rig_close(r);
}

/* H7 flash words are 32 bytes, programmed once: the tail goes out padded with 0xFF. */
static void test_h743_tail_padding(void)
{
    struct rig *r = rig_open("st-rom:H743", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 2048 + 1000;
    uint8_t *img = pattern(len, 8);
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08000000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(r->d->bytes_downloaded, ==, 2048 + 1024);
    CHECK(!memcmp(mem(r, 0x08000000), img, len));
    CHECK(all_bytes(r, 0x08000000 + (uint32_t)len, 24, 0xFF));
out:
    dfuse_layout_release(&l);
    free(img);
    rig_close(r);
}

static void test_h743_device_error(void)
{
    struct rig *r = rig_open("st-rom:H743,fault=refuse-write:2", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 20 * 1024;
    uint8_t *img = pattern(len, 9);
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08000000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, DFU_ERR_STATUS);
    CHECK_STR(err, "write at 0x08001000 failed: the device reports errWRITE (device is unable "
                   "to write memory) in state dfuERROR");
    /* outside the layout: refused before any request */
    memset(r->reqs, 0, sizeof(r->reqs));
    CHECK_INT(dfuse_write(&r->dev, &l, 0x081FF000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, OMV_EINVAL);
    CHECK_INT(r->reqs[1] + r->reqs[3], ==, 0);
out:
    dfuse_layout_release(&l);
    free(img);
    rig_close(r);
}

static void test_h743_rev_v(void)
{
    struct rig *r = rig_open("st-rom:H743,rev=V", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 64 * 1024;
    uint8_t *img = pattern(len, 10);
    unsigned rec = 0;
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    /* bank 1 behaves */
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08040000, img, len, false, &rec, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_INT(rec, ==, 0);
    r->slept_ms = 0;
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08100000, img, len, false, &rec, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(rec, ==, 1);
    CHECK(!memcmp(mem(r, 0x08100000), img, len));
    CHECK_INT(r->slept_ms, >=, 2000);
    CHECK_INT(r->slept_ms, <=, 5000);
    CHECK_INT(r->reqs[4], >=, 2);
    /* two bank-2 pages: two recoveries, still bounded */
    r->slept_ms = 0;
    CHECK_INT(dfuse_write(&r->dev, &l, 0x08138000, img, len, false, &rec, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_INT(rec, ==, 2);
    CHECK(!memcmp(mem(r, 0x08138000), img, len));
    CHECK_INT(r->slept_ms, <=, 10000);
out:
    dfuse_layout_release(&l);
    free(img);
    rig_close(r);
}

static void test_h743_mass_erase(void)
{
    struct rig *r = rig_open("st-rom:H743,rev=V", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 300 * 1024;
    uint8_t *img = pattern(len, 11);
    unsigned rec = 7;
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    memset(internal(r)->data, 0x00, internal(r)->size);
    CHECK_INT(dfuse_mass_erase(&r->dev, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(internal(r)->erases, ==, 1);
    CHECK(all_bytes(r, 0x08000000, 0x200000, 0xFF));
    CHECK_INT(dfuse_write(&r->dev, &l, 0x080F0000, img, len, true, &rec, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_INT(internal(r)->erases, ==, 1);
    CHECK_INT(rec, ==, 0);
    CHECK(!memcmp(mem(r, 0x080F0000), img, len));
out:
    dfuse_layout_release(&l);
    free(img);
    rig_close(r);
}

/* F427: 4 x 16 KiB, then 64 KiB; a write across the boundary erases one of each. */
static void test_f427_boundary(void)
{
    struct rig *r = rig_open("st-rom:F427", 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 32 * 1024;
    uint8_t *img = pattern(len, 12);
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 0, &l))
        goto out;
    memset(internal(r)->data, 0xA5, internal(r)->size);
    CHECK_INT(dfuse_write(&r->dev, &l, 0x0800C000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(internal(r)->erases, ==, 2);
    CHECK(all_bytes(r, 0x08000000, 0xC000, 0xA5));
    CHECK(!memcmp(mem(r, 0x0800C000), img, len));
    CHECK(all_bytes(r, 0x08014000, 0xC000, 0xFF)); /* the rest of the 64 KiB page */
    CHECK(all_bytes(r, 0x08020000, 0x20000, 0xA5));
out:
    dfuse_layout_release(&l);
    free(img);
    rig_close(r);
}

static void test_leave(void)
{
    struct rig *r = rig_open("st-rom:H743", 0);
    char err[256] = "";

    if (!r)
        return;
    CHECK_INT(dfuse_leave(&r->dev, 0x08000000, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK(r->d->gone);
    CHECK_INT(r->d->transition, ==, SIM_DISAPPEAR);
    rig_close(r);

    /* a device already gone when the leave's DNLOAD goes out */
    r = rig_open("st-rom:H743,fault=unplug-state:6", 0);
    CHECK_INT(dfuse_leave(&r->dev, 0x08000000, err, sizeof(err)), ==, 0);
    CHECK(r->d->gone);
    rig_close(r);
}

/* ---- DfuSe: Arduino's bootloader, QSPI alt ----------------------------------------------------
 */

static void test_portenta_qspi(void)
{
    struct rig *r = rig_open("arduino:PORTENTA", 1);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t len = 10000;
    uint8_t *img = pattern(len, 13), *back = malloc(len);
    struct sim_region *q;
    char err[256] = "";

    if (!r)
        return;
    if (!parse_alt_layout(r, 1, &l))
        goto out;
    CHECK_STR(l.name, "External Flash");
    q = sim_dev_region_at(r->d, 0x90B00000);
    CHECK(q != NULL);
    CHECK_INT(r->dev.transfer_size, ==, 4096);
    CHECK_INT(dfuse_write(&r->dev, &l, 0x90B00000, img, len, false, NULL, NULL, err, sizeof(err)),
              ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(q ? q->erases : 0, ==, 3);
    CHECK(!memcmp(mem(r, 0x90B00000), img, len));
    CHECK_INT(dfuse_read(&r->dev, 0x90B00000, back, len, NULL, err, sizeof(err)), ==, 0);
    CHECK(!memcmp(back, img, len));
out:
    dfuse_layout_release(&l);
    free(img);
    free(back);
    rig_close(r);
}

/* ---- erase stalls: healthy slow erases against the STM32H7 Rev V stall ----------------------- */

/*
 * Write `len` bytes from `addr` (every page erased once) on a model; returns
 * the stall recoveries, or -1 when the write failed.
 */
static int write_all(const char *spec, uint32_t addr, size_t len, struct rig **out)
{
    struct rig *r = rig_open(spec, 0);
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    uint8_t *img = pattern(len, 21);
    unsigned rec = 0;
    char err[256] = "";
    int rc = -1;

    *out = r;
    if (!r || !parse_alt_layout(r, 0, &l))
        goto out;
    /* every page holds data: an erase that did not happen shows */
    memset(mem(r, addr), 0x00, len);
    if (dfuse_write(&r->dev, &l, addr, img, len, false, &rec, NULL, err, sizeof(err)) < 0) {
        test_fail(__FILE__, __LINE__, "%s: %s", spec, err);
        goto out;
    }
    if (memcmp(mem(r, addr), img, len) != 0) {
        test_fail(__FILE__, __LINE__, "%s: the flash does not hold the image", spec);
        goto out;
    }
    rc = (int)rec;
out:
    dfuse_layout_release(&l);
    free(img);
    return rc;
}

/*
 * Every sector of every modelled part, erased at its typical and at its
 * datasheet maximum time, with the ROM blocking its requests meanwhile (nak)
 * or answering dfuDNBUSY (answer): no erase is taken for a stall.
 */
static void test_healthy_slow_erases_never_stall(void)
{
    static const struct {
        const char *spec;
        uint32_t addr, len;
    } parts[] = {
        {"st-rom:H743", 0x08000000, 0x200000},
        {"st-rom:H743,rev=V", 0x08000000, 0x100000}, /* bank 1 of Rev V */
        {"st-rom:F427", 0x08000000, 0x200000},
        {"st-rom:F765", 0x08000000, 0x200000},
        {"arduino:PORTENTA", 0x08020000, 0x1E0000},
    };
    static const char *const modes[] = {"busy=nak", "busy=answer", "busy=nak,fault=slow-erase:max",
                                        "busy=answer,fault=slow-erase:max"};
    unsigned cases = 0, erases = 0;

    for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
        for (size_t k = 0; k < ARRAY_SIZE(modes); k++) {
            char spec[128];
            struct rig *r = NULL;
            int rec;

            snprintf(spec, sizeof(spec), "%s,%s", parts[i].spec, modes[k]);
            rec = write_all(spec, parts[i].addr, parts[i].len, &r);
            if (rec != 0)
                test_fail(__FILE__, __LINE__, "%s: %d erases taken for stalls", spec, rec);
            CHECK_INT(r ? r->reqs[4] : 1, ==, 0); /* no CLRSTATUS */
            if (r)
                erases += (unsigned)internal(r)->erases;
            cases++;
            rig_close(r);
        }
    }
    CHECK_INT(cases, ==, 20);
    CHECK_INT(erases, >=, 200);
}

/*
 * Rev V: every bank-2 erase stalls. The first is declared once it is
 * dfuDNBUSY past the datasheet maximum (2.2 s), the others at their first
 * poll; all end, the image is whole, and each recovery read the page back.
 */
static void test_rev_v_stalls_end(void)
{
    static const char *const modes[] = {"busy=nak", "busy=answer", "busy=nak,fault=slow-erase:max",
                                        "busy=answer,fault=slow-erase:max"};

    for (size_t k = 0; k < ARRAY_SIZE(modes); k++) {
        char spec[128];
        struct rig *r = NULL, *y = NULL;
        uint64_t rev_y_ms;
        int rec;

        /* the same write on Rev Y: the time the stalls are measured against */
        snprintf(spec, sizeof(spec), "st-rom:H743,rev=Y,%s", modes[k]);
        CHECK_INT(write_all(spec, 0x08000000, 0x200000, &y), ==, 0);
        rev_y_ms = y ? y->slept_ms : 0;
        rig_close(y);
        snprintf(spec, sizeof(spec), "st-rom:H743,rev=V,%s", modes[k]);
        rec = write_all(spec, 0x08000000, 0x200000, &r);
        CHECK_INT(rec, ==, 8);
        if (!r)
            continue;
        CHECK_INT(r->reqs[4], ==, 16); /* two CLRSTATUS a stall */
        CHECK_INT(r->reqs[2], >=, 16); /* a read-back after each */
        /* Only the first stall waits its datasheet time (2.2 s, where a healthy
         * erase takes one 1 s poll): the others end at their first poll; a
         * recovery's own polls cost a few ms. */
        CHECK_INT(r->slept_ms, <=, rev_y_ms + 1200 + 8 * 10);
        if (strstr(modes[k], "answer") && strstr(modes[k], "max"))
            CHECK_CONTAINS(r->d->log.buf, "held"); /* a read-back waited for its erase */
        rig_close(r);
    }
}

/* Without bitCanUpload: every stall waits its full datasheet time, no UPLOAD is sent. */
static void test_rev_v_stalls_without_upload(void)
{
    struct rig *r = NULL;
    int rec = write_all("st-rom:H743,rev=V,attrs=0x09", 0x08100000, 0x40000, &r);

    CHECK_INT(rec, ==, 2);
    CHECK_INT(r ? r->reqs[2] : 1, ==, 0);
    CHECK_INT(r ? r->slept_ms : 0, >=, 2 * 2200);
    rig_close(r);
}

/* A device without bitCanUpload: reads are refused before any UPLOAD, not STALLed. */
static void test_no_upload_refused(void)
{
    struct rig *r = rig_open("st-rom:H743,attrs=0x09", 0);
    struct rig *o = rig_open("openmv-bl:OPENMV4,attrs=0x01", 2);
    uint8_t back[4096];
    size_t got = 7;
    char err[256] = "";

    if (!r || !o)
        goto out;
    CHECK_INT(r->dev.attributes & DFU_ATTR_CAN_UPLOAD, ==, 0);
    CHECK_INT(dfuse_read(&r->dev, 0x08000000, back, sizeof(back), NULL, err, sizeof(err)), ==,
              OMV_EDEVICE);
    CHECK_CONTAINS(err, "bitCanUpload is 0");
    CHECK_INT(r->reqs[2] + r->reqs[1] + r->reqs[3], ==, 0); /* nothing sent */
    err[0] = '\0';
    CHECK_INT(dfu_upload(&o->dev, back, sizeof(back), &got, NULL, err, sizeof(err)), ==,
              OMV_EDEVICE);
    CHECK_CONTAINS(err, "bitCanUpload is 0");
    CHECK_INT(got, ==, 0);
    CHECK_INT(o->reqs[2], ==, 0);
    CHECK_INT(dfu_check_upload(&o->dev, "--verify", err, sizeof(err)), ==, OMV_EDEVICE);
    CHECK_CONTAINS(err, "--verify needs to read");
out:
    rig_close(r);
    rig_close(o);
}

TESTS(TEST(test_names), TEST(test_omv_download_upload), TEST(test_omv_read_only),
      TEST(test_omv_too_large), TEST(test_omv_refuse_write), TEST(test_omv_unplug),
      TEST(test_omv_gone_in_manifest), TEST(test_omv_detach), TEST(test_normalise),
      TEST(test_h743_page0), TEST(test_h743_pages_1_to_3), TEST(test_h743_tail_padding),
      TEST(test_h743_consecutive_blocks), TEST(test_h743_device_error), TEST(test_h743_rev_v),
      TEST(test_h743_mass_erase), TEST(test_f427_boundary), TEST(test_leave),
      TEST(test_portenta_qspi), TEST(test_healthy_slow_erases_never_stall),
      TEST(test_rev_v_stalls_end), TEST(test_rev_v_stalls_without_upload),
      TEST(test_no_upload_refused))
