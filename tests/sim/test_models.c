/*
 * The DFU device models, driven in-process through sim_dev_control(): the ST
 * ROM and Arduino DfuSe bootloaders (model_dfuse.c) and the OpenMV DFU
 * bootloader (model_openmv_bl.c). Expected values are transcribed from
 * dfu-protocol.md and openmv-facts.md, not taken from the models' tables.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"
#include "tests/unit/test.h"

#include <stdlib.h>

#define GET_DESCRIPTOR 6

/* ---- requests ---------------------------------------------------------------------- */

static uint8_t xbuf[4096 + 64];

static int ctl(struct sim_dev *d, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
               void *buf, uint16_t len, size_t *got)
{
    struct sim_setup s = {type, req, value, index, len};
    size_t n = len;
    int rc;

    if (!(type & 0x80) && len)
        memcpy(xbuf, buf, len);
    rc = sim_dev_control(d, &s, xbuf, &n);
    if ((type & 0x80) && rc == SIM_OK && buf)
        memcpy(buf, xbuf, n);
    if (got)
        *got = n;
    return rc;
}

struct status {
    int rc, status, state;
    unsigned poll;
};

static struct status getstatus(struct sim_dev *d)
{
    struct status st = {0, -1, -1, 0};
    uint8_t b[6] = {0};
    size_t n = 0;

    st.rc = ctl(d, 0xA1, SIM_DFU_GETSTATUS, 0, 0, b, 6, &n);
    if (st.rc == SIM_OK && n == 6) {
        st.status = b[0];
        st.poll = (unsigned)(b[1] | b[2] << 8 | b[3] << 16);
        st.state = b[4];
    }
    return st;
}

static int dnload(struct sim_dev *d, uint16_t block, const void *data, uint16_t len)
{
    return ctl(d, 0x21, SIM_DFU_DNLOAD, block, 0, (void *)(uintptr_t)data, len, NULL);
}

static int upload(struct sim_dev *d, uint16_t block, void *buf, uint16_t len, size_t *got)
{
    return ctl(d, 0xA1, SIM_DFU_UPLOAD, block, 0, buf, len, got);
}

static int clrstatus(struct sim_dev *d)
{
    return ctl(d, 0x21, SIM_DFU_CLRSTATUS, 0, 0, NULL, 0, NULL);
}

static int abort_req(struct sim_dev *d)
{
    return ctl(d, 0x21, SIM_DFU_ABORT, 0, 0, NULL, 0, NULL);
}

static int getstate(struct sim_dev *d)
{
    uint8_t b = 0xEE;

    return ctl(d, 0xA1, SIM_DFU_GETSTATE, 0, 0, &b, 1, NULL) == SIM_OK ? b : -1;
}

static int set_interface(struct sim_dev *d, uint16_t alt)
{
    return ctl(d, 0x01, 11, alt, 0, NULL, 0, NULL);
}

#define CHECK_STATUS(st, want_status, want_state)                                                  \
    do {                                                                                           \
        struct status s_ = (st);                                                                   \
        CHECK_INT(s_.rc, ==, SIM_OK);                                                              \
        CHECK_INT(s_.status, ==, want_status);                                                     \
        CHECK_INT(s_.state, ==, want_state);                                                       \
    } while (0)

/* ---- descriptors ---------------------------------------------------------------------- */

static size_t get_config(struct sim_dev *d, uint8_t *out, size_t cap)
{
    size_t n = 0;

    if (ctl(d, 0x80, GET_DESCRIPTOR, 0x0200, 0, out, 9, &n) != SIM_OK || n != 9)
        return 0;
    n = (size_t)(out[2] | out[3] << 8);
    if (n > cap || ctl(d, 0x80, GET_DESCRIPTOR, 0x0200, 0, out, (uint16_t)n, &n) != SIM_OK)
        return 0;
    return n;
}

static void get_string(struct sim_dev *d, uint8_t index, char *out, size_t cap)
{
    uint8_t b[256];
    size_t n = 0, k = 0;

    out[0] = '\0';
    if (ctl(d, 0x80, GET_DESCRIPTOR, (uint16_t)(0x0300 | index), 0x0409, b, 255, &n) != SIM_OK)
        return;
    for (size_t i = 2; i + 1 < n && i < b[0] && k + 1 < cap; i += 2)
        out[k++] = (char)b[i];
    out[k] = '\0';
}

/* The name (iInterface string) of alt setting `alt`; "" when there is none. */
static void alt_name(struct sim_dev *d, unsigned alt, char *out, size_t cap)
{
    uint8_t cfg[1024];
    size_t n = get_config(d, cfg, sizeof(cfg));

    out[0] = '\0';
    for (size_t i = 0; i + 1 < n && cfg[i]; i += cfg[i])
        if (cfg[i + 1] == 4 && cfg[i + 3] == alt)
            get_string(d, cfg[i + 8], out, cap);
}

static unsigned nr_alts(struct sim_dev *d)
{
    uint8_t cfg[1024];
    size_t n = get_config(d, cfg, sizeof(cfg));
    unsigned count = 0;

    for (size_t i = 0; i + 1 < n && cfg[i]; i += cfg[i])
        if (cfg[i + 1] == 4)
            count++;
    return count;
}

struct funcdesc {
    int attrs, detach, xfer, bcd;
};

static struct funcdesc funcdesc(struct sim_dev *d)
{
    uint8_t cfg[1024];
    size_t n = get_config(d, cfg, sizeof(cfg));
    struct funcdesc f = {-1, -1, -1, -1};

    for (size_t i = 0; i + 1 < n && cfg[i]; i += cfg[i])
        if (cfg[i + 1] == 0x21 && cfg[i] == 9) {
            f.attrs = cfg[i + 2];
            f.detach = cfg[i + 3] | cfg[i + 4] << 8;
            f.xfer = cfg[i + 5] | cfg[i + 6] << 8;
            f.bcd = cfg[i + 7] | cfg[i + 8] << 8;
        }
    return f;
}

static void check_identity(struct sim_dev *d, int vid, int pid, int bcd, const char *manuf,
                           const char *product, const char *serial)
{
    uint8_t dev[18] = {0};
    char s[128];
    size_t n = 0;

    CHECK_INT(ctl(d, 0x80, GET_DESCRIPTOR, 0x0100, 0, dev, 18, &n), ==, SIM_OK);
    CHECK_INT(dev[8] | dev[9] << 8, ==, vid);
    CHECK_INT(dev[10] | dev[11] << 8, ==, pid);
    CHECK_INT(dev[12] | dev[13] << 8, ==, bcd);
    if (manuf) {
        get_string(d, dev[14], s, sizeof(s));
        CHECK_STR(s, manuf);
    }
    get_string(d, dev[15], s, sizeof(s));
    CHECK_STR(s, product);
    get_string(d, dev[16], s, sizeof(s));
    CHECK_STR(s, serial);
}

static struct sim_dev *spec(const char *sp)
{
    char err[256] = "";
    struct sim_dev *d = sim_dev_new_from_spec(sp, err, sizeof(err));

    if (!d)
        test_fail(__FILE__, __LINE__, "spec '%s': %s", sp, err);
    return d;
}

static uint8_t *mem(struct sim_dev *d, uint32_t addr)
{
    struct sim_region *r = sim_dev_region_at(d, addr);

    return r ? r->data + (addr - r->base) : NULL;
}

static bool all_bytes(struct sim_dev *d, uint32_t addr, size_t n, uint8_t v)
{
    const uint8_t *p = mem(d, addr);

    if (!p)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

/* ---- DfuSe helpers ------------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A DfuSe command: DNLOAD, then GETSTATUS dfuDNBUSY, GETSTATUS (returned). */
static struct status command(struct sim_dev *d, uint8_t cmd, const uint32_t *addr)
{
    uint8_t b[5] = {cmd};
    struct status st = {SIM_STALL, -1, -1, 0};

    if (addr)
        put32(b + 1, *addr);
    if (dnload(d, 0, b, addr ? 5 : 1) != SIM_OK)
        return st;
    st = getstatus(d);
    if (st.state != SIM_DFU_STATE_DNBUSY)
        return st;
    return getstatus(d);
}

static struct status set_address(struct sim_dev *d, uint32_t addr)
{
    return command(d, 0x21, &addr);
}

static struct status erase_page(struct sim_dev *d, uint32_t addr)
{
    return command(d, 0x41, &addr);
}

/* SET_ADDRESS then DNLOAD wValue 2, as dfu-util writes every chunk. */
static struct status dfuse_write(struct sim_dev *d, uint32_t addr, const uint8_t *p, uint16_t n)
{
    struct status st = set_address(d, addr);

    if (st.state != SIM_DFU_STATE_DNLOAD_IDLE)
        return st;
    if (dnload(d, 2, p, n) != SIM_OK) {
        st.rc = SIM_STALL;
        st.status = st.state = -1;
        return st;
    }
    st = getstatus(d);
    if (st.state != SIM_DFU_STATE_DNBUSY)
        return st;
    return getstatus(d);
}

/* ---- ST ROM ------------------------------------------------------------------------------- */

static void test_st_identity(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    struct funcdesc f;
    char s[128];

    check_identity(d, 0x0483, 0xDF11, 0x2200, NULL, "DFU in FS Mode", "200364500000");
    CHECK_INT(nr_alts(d), ==, 2);
    alt_name(d, 0, s, sizeof(s));
    CHECK_STR(s, "@Internal Flash   /0x08000000/16*128Kg");
    alt_name(d, 1, s, sizeof(s));
    CHECK_STR(s, "@Option Bytes   /0x5200201C/01*128 e");
    f = funcdesc(d);
    CHECK_INT(f.attrs, ==, 0x0B);
    CHECK_INT(f.detach, ==, 255);
    CHECK_INT(f.xfer, ==, 2048);
    CHECK_INT(f.bcd, ==, 0x011A);
    CHECK_STR(d->ops->kind, "st-rom");
    CHECK_INT(d->nr_regions, >=, 1);
    CHECK_STR(d->regions[0].name, "internal");
    CHECK_INT(d->regions[0].base, ==, 0x08000000);
    CHECK_INT(d->regions[0].size, ==, 2 * 1024 * 1024);
    CHECK_INT(d->regions[0].unit, ==, 32);
    CHECK(d->regions[0].strict);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    sim_dev_free(d);

    d = spec("st-rom:F427,serial=X1");
    check_identity(d, 0x0483, 0xDF11, 0x2200, NULL, "STM32  BOOTLOADER", "X1");
    alt_name(d, 0, s, sizeof(s));
    CHECK_STR(s, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,"
                 "07*128Kg");
    CHECK(!d->regions[0].strict);
    CHECK_INT(d->regions[0].size, ==, 2 * 1024 * 1024);
    sim_dev_free(d);

    d = spec("st-rom:F765");
    alt_name(d, 0, s, sizeof(s));
    CHECK_STR(s, "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg");
    CHECK_INT(d->regions[0].size, ==, 2 * 1024 * 1024);
    sim_dev_free(d);
}

static void test_st_write_readback(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    uint8_t data[2048], back[2048];
    uint32_t addr = 0x08040000;
    struct status st;
    size_t got = 0;

    pattern(data, sizeof(data), 1);
    CHECK_STATUS(set_address(d, addr), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* ERASE: dfuDNBUSY with 1000 ms, the work charged as device time, then DNLOAD-IDLE. */
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x04, 0x08}, 5), ==, SIM_OK);
    st = getstatus(d);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(st.poll, ==, 1000);
    CHECK_INT(sim_dev_wait_us(d), ==, d->timing.sector_erase_us);
    st = getstatus(d);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(st.poll, ==, 0);
    CHECK_INT(d->regions[0].erases, ==, 1);

    pattern(data, sizeof(data), 1);
    CHECK_STATUS(dfuse_write(d, addr, data, sizeof(data)), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, addr), data, sizeof(data)));
    CHECK_INT(d->blocks_downloaded, ==, 1);
    CHECK_INT(d->bytes_downloaded, ==, 2048);

    /* UPLOAD needs dfuIDLE: ABORT first, then read at the pointer with wValue 2. */
    CHECK_INT(upload(d, 2, back, sizeof(back), &got), ==, SIM_STALL);
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    CHECK_INT(upload(d, 2, back, sizeof(back), &got), ==, SIM_OK);
    CHECK_INT(got, ==, sizeof(back));
    CHECK(!memcmp(back, data, sizeof(data)));
    CHECK_INT(getstate(d), ==, SIM_DFU_STATE_UPLOAD_IDLE);
    CHECK_CONTAINS(d->log.buf, "command ERASE 0x08040000");
    CHECK_CONTAINS(d->log.buf, "program internal 0x08040000+2048");
    sim_dev_free(d);
}

static void test_st_page_erase(void)
{
    struct sim_dev *d = spec("st-rom:H743");

    memset(mem(d, 0x08020000), 0x00, 0x40000);
    /* Any address inside the sector erases the whole sector. */
    CHECK_STATUS(erase_page(d, 0x08041234), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08040000, 0x20000, 0xFF));
    CHECK(all_bytes(d, 0x08020000, 0x20000, 0x00));
    CHECK_INT(d->regions[0].erases, ==, 1);
    sim_dev_free(d);
}

static void test_st_h7_errprog(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    uint8_t data[64];
    struct status st;

    pattern(data, sizeof(data), 2);
    CHECK_STATUS(dfuse_write(d, 0x08000000, data, sizeof(data)), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    /* The same flash words again without an erase: the ECC flash refuses. */
    CHECK_STATUS(set_address(d, 0x08000020), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 2, data, 32), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_PROG, SIM_DFU_STATE_ERROR);
    CHECK_INT(dnload(d, 2, data, 32), ==, SIM_STALL); /* not in dfuERROR */
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* After an erase the words take data again. */
    CHECK_STATUS(erase_page(d, 0x08000000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    st = dfuse_write(d, 0x08000020, data, 32);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    sim_dev_free(d);
}

static void test_st_get_commands(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    uint8_t b[64];
    size_t got = 0;

    CHECK_INT(upload(d, 0, b, 4, &got), ==, SIM_OK);
    CHECK_INT(got, ==, 4);
    CHECK(b[0] == 0x00 && b[1] == 0x21 && b[2] == 0x41 && b[3] == 0x92);
    CHECK_INT(getstate(d), ==, SIM_DFU_STATE_UPLOAD_IDLE);
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_INT(upload(d, 0, b, sizeof(b), &got), ==, SIM_OK);
    CHECK_INT(got, ==, 4); /* a short frame: the upload is over */
    CHECK_INT(getstate(d), ==, SIM_DFU_STATE_IDLE);
    sim_dev_free(d);

    d = spec("arduino:PORTENTA");
    CHECK_INT(upload(d, 0, b, sizeof(b), &got), ==, SIM_OK);
    CHECK_INT(got, ==, 3);
    CHECK(b[0] == 0x00 && b[1] == 0x21 && b[2] == 0x41);
    sim_dev_free(d);
}

static void test_st_address_rule(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    uint32_t a = 0x08060000;
    uint8_t data[2048], back[2048];
    size_t got = 0;

    pattern(data, sizeof(data), 3);
    CHECK_STATUS(set_address(d, a), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 3, data, sizeof(data)), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* (3 - 2) * 2048 + pointer */
    CHECK(!memcmp(mem(d, a + 2048), data, sizeof(data)));
    CHECK(all_bytes(d, a, 2048, 0xFF));
    /* A short block uses the device's 2048 too, not wLength. */
    CHECK_INT(dnload(d, 5, data, 64), ==, SIM_OK);
    getstatus(d);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, a + 3 * 2048), data, 64));
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_INT(upload(d, 3, back, sizeof(back), &got), ==, SIM_OK);
    CHECK(!memcmp(back, data, sizeof(back)));
    sim_dev_free(d);
}

static void test_st_errors(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    uint8_t data[2048] = {0};
    uint8_t b[8];
    size_t got = 0;

    /* wBlockNum 1 is not a DfuSe block. */
    CHECK_INT(dnload(d, 1, data, 16), ==, SIM_STALL);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_STALLEDPKT, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_INT(upload(d, 1, b, sizeof(b), &got), ==, SIM_STALL);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_STALLEDPKT, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);

    /* An address outside the flash: errTARGET on the first GETSTATUS. */
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x21, 0x00, 0x00, 0x00, 0x20}, 5), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(erase_page(d, 0x08200000), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    /* A write that runs past the end of the flash. */
    CHECK_STATUS(dfuse_write(d, 0x081FFC00, data, 2048), SIM_DFU_STATUS_ERR_TARGET,
                 SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    /* An unknown command byte. */
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x55}, 1), ==, SIM_STALL);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_STALLEDPKT, SIM_DFU_STATE_ERROR);

    /* CLRSTATUS: in dfuERROR -> dfuIDLE; anywhere else it is itself an error. */
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_UNKNOWN, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* Option bytes: readable, not written by this model. */
    CHECK_INT(set_interface(d, 1), ==, SIM_OK);
    CHECK_INT(upload(d, 2, b, sizeof(b), &got), ==, SIM_OK);
    CHECK_INT(got, ==, sizeof(b));
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_STATUS(dfuse_write(d, 0x5200201C, data, 4), SIM_DFU_STATUS_ERR_TARGET,
                 SIM_DFU_STATE_ERROR);
    sim_dev_free(d);
}

static void test_st_leave(void)
{
    struct sim_dev *d = spec("st-rom:H743");
    struct status st;

    CHECK_STATUS(set_address(d, 0x08000000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 2, NULL, 0), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    st = getstatus(d);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_MANIFEST);
    CHECK_INT(st.poll, ==, 1);
    CHECK_INT(d->transition, ==, SIM_DISAPPEAR);
    CHECK(d->gone);
    CHECK(d->next_spec == NULL);
    CHECK_INT(getstatus(d).rc, ==, SIM_GONE);
    CHECK_CONTAINS(d->log.buf, "manifest: jump to 0x08000000");
    CHECK_CONTAINS(d->log.buf, "leave the bus");
    sim_dev_free(d);

    /* after=SPEC: what the chip comes back as once it left. */
    d = spec("st-rom:H743,serial=R1,after=openmv-bl:OPENMV4");
    CHECK_INT(dnload(d, 0, NULL, 0), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_MANIFEST);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "openmv-bl:OPENMV4");
    sim_dev_free(d);
}

static void test_st_unprotect_and_reset(void)
{
    struct sim_dev *d = spec("st-rom:H743,rev=V");

    memset(mem(d, 0x08000000), 0x12, 0x1000);
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x92}, 1), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "st-rom:H743,rev=V");
    CHECK(all_bytes(d, 0x08000000, 0x1000, 0xFF));
    sim_dev_free(d);

    /* A USB reset starts the DFU state over, even a wedged one. */
    d = spec("st-rom:H743,rev=V");
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x10, 0x08}, 5), ==, SIM_OK);
    getstatus(d);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    sim_dev_reset(d);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    sim_dev_free(d);
}

static void test_rev_v_wedge(void)
{
    struct sim_dev *d = spec("st-rom:H743,rev=V");
    uint8_t back[2048];
    struct status st;
    size_t got = 0;
    int busy = 0;

    memset(mem(d, 0x08100000), 0x00, 0x20000);
    CHECK_STATUS(set_address(d, 0x08100000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x10, 0x08}, 5), ==, SIM_OK);
    for (int i = 0; i < 100; i++) {
        st = getstatus(d);
        if (st.rc == SIM_OK && st.status == SIM_DFU_STATUS_OK && st.state == SIM_DFU_STATE_DNBUSY &&
            st.poll == 1000)
            busy++;
    }
    CHECK_INT(busy, ==, 100);
    /* The sector is erased all the same. */
    CHECK(all_bytes(d, 0x08100000, 0x20000, 0xFF));
    /* ABORT does not help (usbd_dfu.c ignores it in dfuDNBUSY). */
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    /* CubeProgrammer's way out: CLRSTATUS twice. */
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_UNKNOWN, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    CHECK_INT(upload(d, 2, back, sizeof(back), &got), ==, SIM_OK);
    CHECK_INT(got, ==, sizeof(back));
    CHECK(all_bytes(d, 0x08100000, 1, 0xFF));
    for (size_t i = 0; i < sizeof(back); i++)
        if (back[i] != 0xFF)
            test_fail(__FILE__, __LINE__, "byte %zu reads 0x%02X", i, back[i]);
    CHECK_CONTAINS(d->log.buf, "rev V");
    sim_dev_free(d);
}

/* Rev V cannot be told from Rev Y before a bank-2 erase: same descriptors and
 * strings, and the ID registers are outside every alt's memory. */
static void test_rev_v_looks_like_rev_y(void)
{
    struct sim_dev *v = spec("st-rom:H743,rev=V"), *y = spec("st-rom:H743,rev=Y");
    uint8_t back[4];
    size_t got = 0;

    CHECK_INT(v->descriptors.len, ==, y->descriptors.len);
    CHECK(!memcmp(v->descriptors.buf, y->descriptors.buf, v->descriptors.len));
    CHECK_INT(v->nr_strings, ==, y->nr_strings);
    for (size_t i = 1; i < v->nr_strings && i < y->nr_strings; i++)
        CHECK_STR(v->strings[i], y->strings[i]);
    /* DBGMCU_IDCODE and the bootloader version byte: errTARGET */
    CHECK_STATUS(set_address(v, 0x5C001000), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(v), ==, SIM_OK);
    CHECK_STATUS(set_address(v, 0x1FF1E7FE), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(v), ==, SIM_OK);
    CHECK_INT(upload(v, 0x0FFF, back, sizeof(back), &got), ==, SIM_STALL); /* past the flash */
    sim_dev_free(v);
    sim_dev_free(y);
}

static void test_rev_v_normal_paths(void)
{
    struct sim_dev *d = spec("st-rom:H743,rev=V");
    uint8_t data[256];
    struct status st;

    /* Bank 1: the usual two answers. */
    CHECK_STATUS(erase_page(d, 0x08000000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* Mass erase: normal, and bank 2 takes data afterwards. */
    memset(mem(d, 0x08100000), 0x00, 0x100);
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41}, 1), ==, SIM_OK);
    st = getstatus(d);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(sim_dev_wait_us(d), ==, d->timing.mass_erase_us);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08000000, 0x200000, 0xFF));
    pattern(data, sizeof(data), 4);
    CHECK_STATUS(dfuse_write(d, 0x08100000, data, sizeof(data)), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, 0x08100000), data, sizeof(data)));
    sim_dev_free(d);

    /* Rev Y (the default) erases bank 2 like bank 1. */
    d = spec("st-rom:H743,rev=Y");
    CHECK_STATUS(erase_page(d, 0x081E0000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    sim_dev_free(d);
}

static void test_f4_f7_geometry(void)
{
    struct sim_dev *d = spec("st-rom:F427");
    uint8_t a = 0xF0, b = 0x0F;

    memset(mem(d, 0x08000000), 0x00, 0x200000);
    /* sector 4: 64 KiB at 0x08010000 */
    CHECK_STATUS(erase_page(d, 0x08010000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08010000, 0x10000, 0xFF));
    CHECK(all_bytes(d, 0x0800C000, 0x4000, 0x00));
    CHECK(all_bytes(d, 0x08020000, 0x20000, 0x00));
    /* sector 3: 16 KiB */
    CHECK_STATUS(erase_page(d, 0x0800C123), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x0800C000, 0x4000, 0xFF));
    CHECK(all_bytes(d, 0x08008000, 0x4000, 0x00));
    /* bank 2: 16 KiB sectors again at 0x08100000, 64 KiB at 0x08110000 */
    CHECK_STATUS(erase_page(d, 0x08110000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08110000, 0x10000, 0xFF));
    CHECK(all_bytes(d, 0x0810C000, 0x4000, 0x00));
    CHECK(all_bytes(d, 0x08120000, 0x100, 0x00));
    /* NOR flash: programming again ANDs the bits, no error. */
    CHECK_STATUS(dfuse_write(d, 0x08010000, &a, 1), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(dfuse_write(d, 0x08010000, &b, 1), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(*mem(d, 0x08010000), ==, 0x00);
    sim_dev_free(d);

    d = spec("st-rom:F765");
    memset(mem(d, 0x08000000), 0x00, 0x200000);
    CHECK_STATUS(erase_page(d, 0x08050000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08040000, 0x40000, 0xFF));
    CHECK(all_bytes(d, 0x08020000, 0x20000, 0x00));
    CHECK_STATUS(erase_page(d, 0x08018000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08018000, 0x8000, 0xFF));
    CHECK(all_bytes(d, 0x08010000, 0x8000, 0x00));
    sim_dev_free(d);
}

static void test_bad_names(void)
{
    char err[256] = "";

    CHECK(!sim_model_st_rom("H999", false, err, sizeof(err)));
    CHECK_CONTAINS(err, "H743");
    CHECK(!sim_model_st_rom("F427", true, err, sizeof(err)));
    CHECK_CONTAINS(err, "rev=V");
    CHECK(!sim_model_arduino("UNO", err, sizeof(err)));
    CHECK_CONTAINS(err, "PORTENTA");
    CHECK(!sim_model_openmv_bl("OPENMV9", err, sizeof(err)));
    CHECK_CONTAINS(err, "OPENMV4P");
}

/* ---- Arduino ----------------------------------------------------------------------------- */

static void test_arduino_portenta(void)
{
    struct sim_dev *d = spec("arduino:PORTENTA,serial=P1");
    static uint8_t data[4096], back[4096];
    struct funcdesc f;
    char s[128];
    size_t got = 0;

    check_identity(d, 0x2341, 0x035B, 0x0200, NULL, "Portenta H7", "P1");
    CHECK_STR(d->ops->kind, "arduino");
    alt_name(d, 0, s, sizeof(s));
    CHECK_CONTAINS(s, "@Internal Flash");
    CHECK_CONTAINS(s, "/0x08000000/");
    alt_name(d, 1, s, sizeof(s));
    CHECK_STR(s, "@External Flash   /0x90000000/4096*4Kg");
    f = funcdesc(d);
    CHECK_INT(f.bcd, ==, 0x011A);
    CHECK_INT(f.xfer, ==, 4096);
    CHECK(sim_dev_region_at(d, 0x90B00000) != NULL);
    CHECK_STR(sim_dev_region_at(d, 0x90B00000)->name, "qspi");
    CHECK_INT(sim_dev_region_at(d, 0x90000000)->size, ==, 16 * 1024 * 1024);

    /* Firmware at 0x08040000 through alt 0. */
    pattern(data, sizeof(data), 5);
    CHECK_STATUS(erase_page(d, 0x08040000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(dfuse_write(d, 0x08040000, data, sizeof(data)), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, 0x08040000), data, sizeof(data)));
    /* wTransferSize 4096 in the address rule */
    CHECK_INT(dnload(d, 3, data, 32), ==, SIM_OK);
    getstatus(d);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, 0x08041000), data, 32));
    /* The pointer must lie in the current alt's memory. */
    CHECK_STATUS(set_address(d, 0x90B00000), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    /* The bootloader's own sector is read-only ('a'). */
    CHECK_STATUS(erase_page(d, 0x08000000), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);

    /* ROMFS at 0x90B00000 through alt 1 (QSPI, 4 KiB sectors). */
    CHECK_INT(set_interface(d, 1), ==, SIM_OK);
    CHECK_INT(d->cur_alt, ==, 1);
    memset(mem(d, 0x90AFF000), 0x00, 0x3000);
    CHECK_STATUS(set_address(d, 0x08040000), SIM_DFU_STATUS_ERR_TARGET, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0xB0, 0x90}, 5), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(sim_dev_wait_us(d), <, 200000); /* a NOR sector, not a 128 KiB flash sector */
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x90B00000, 0x1000, 0xFF));
    CHECK(all_bytes(d, 0x90B01000, 0x1000, 0x00));
    CHECK(all_bytes(d, 0x90AFF000, 0x1000, 0x00));
    CHECK_STATUS(dfuse_write(d, 0x90B00000, data, sizeof(data)), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(d->regions[1].data + 0xB00000, data, sizeof(data)));
    CHECK_INT(abort_req(d), ==, SIM_OK);
    CHECK_INT(upload(d, 2, back, sizeof(back), &got), ==, SIM_OK);
    CHECK_INT(got, ==, sizeof(back));
    CHECK(!memcmp(back, data, sizeof(back)));
    CHECK_INT(abort_req(d), ==, SIM_OK);
    /* leave, as the IDE's romfs command does */
    CHECK_STATUS(set_address(d, 0x90B00000), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 2, NULL, 0), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_MANIFEST);
    CHECK_INT(d->transition, ==, SIM_DISAPPEAR);
    sim_dev_free(d);
}

static void test_arduino_boards(void)
{
    struct sim_dev *d = spec("arduino:GIGA");

    check_identity(d, 0x2341, 0x0366, 0x0200, NULL, "GIGA R1", "004000283232511539393438");
    sim_dev_free(d);
    d = spec("arduino:NICLA");
    check_identity(d, 0x2341, 0x035F, 0x0200, NULL, "Nicla Vision", "004000283232511539393438");
    CHECK_INT(sim_dev_region_at(d, 0x08000000)->unit, ==, 32);
    sim_dev_free(d);
}

/* ---- OpenMV bootloader ------------------------------------------------------------------- */

/* DNLOAD a block, GETSTATUS (dfuDNBUSY), GETSTATUS (returned). */
static struct status omv_block(struct sim_dev *d, uint16_t block, const uint8_t *p, uint16_t n)
{
    struct status st = {SIM_STALL, -1, -1, 0};

    if (dnload(d, block, p, n) != SIM_OK)
        return st;
    st = getstatus(d);
    if (st.state != SIM_DFU_STATE_DNBUSY)
        return st;
    CHECK_INT(st.poll, ==, 0);
    CHECK_INT(st.status, ==, SIM_DFU_STATUS_OK);
    return getstatus(d);
}

/* End a download: DNLOAD wLength 0, GETSTATUS dfuMANIFEST, GETSTATUS dfuIDLE. */
static void omv_finish(struct sim_dev *d)
{
    CHECK_INT(dnload(d, 0, NULL, 0), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_MANIFEST);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
}

static void test_omv4_identity(void)
{
    static const char *const names[] = {"BOOTLOADER", "FILESYSTEM", "FIRMWARE", "ROMFS0"};
    struct sim_dev *d = spec("openmv-bl:OPENMV4");
    struct funcdesc f;
    char s[128];

    check_identity(d, 0x37C5, 0x9204, 0x0103, "OpenMV", "OpenMV Camera (DFU Mode)",
                   "0123456789ABCDEF01234567");
    CHECK_INT(nr_alts(d), ==, 4);
    for (unsigned i = 0; i < 4; i++) {
        alt_name(d, i, s, sizeof(s));
        CHECK_STR(s, names[i]);
    }
    /* alt names start at string index 4 */
    get_string(d, 4, s, sizeof(s));
    CHECK_STR(s, "BOOTLOADER");
    f = funcdesc(d);
    CHECK_INT(f.attrs, ==, 0x07);
    CHECK_INT(f.detach, ==, 1000);
    CHECK_INT(f.xfer, ==, 4096);
    CHECK_INT(f.bcd, ==, 0x0110);
    CHECK_STR(d->ops->kind, "openmv-bl");
    CHECK_INT(d->nr_regions, ==, 1);
    CHECK_STR(d->regions[0].name, "internal");
    sim_dev_free(d);
}

static void test_omv4_firmware(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4,serial=A1");
    static uint8_t data[8192];

    pattern(data, sizeof(data), 6);
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 0, data, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* the erase of the 128 KiB sector is device time */
    CHECK_INT(d->regions[0].erases, ==, 1);
    CHECK_STATUS(omv_block(d, 1, data + 4096, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(d->regions[0].erases, ==, 1);
    omv_finish(d);
    CHECK(!memcmp(mem(d, 0x08040000), data, sizeof(data)));
    CHECK(all_bytes(d, 0x08000000, 0x40000, 0xFF));
    CHECK_INT(d->bytes_downloaded, ==, 8192);
    CHECK_INT(d->blocks_downloaded, ==, 2);
    CHECK_CONTAINS(d->log.buf, "erase internal 0x08040000+131072");
    CHECK_CONTAINS(d->log.buf, "program internal 0x08041000+4096");
    sim_dev_free(d);
}

static void test_omv4_implicit_erase(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4");
    static uint8_t a[4096], b[4096];
    uint8_t tail[5] = {1, 2, 3, 4, 5};

    pattern(a, sizeof(a), 7);
    pattern(b, sizeof(b), 8);
    CHECK_INT(set_interface(d, 1), ==, SIM_OK); /* FILESYSTEM 0x08020000 */
    CHECK_STATUS(omv_block(d, 0, a, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(omv_block(d, 1, a, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    omv_finish(d);
    CHECK(!memcmp(mem(d, 0x08021000), a, 4096));
    /* A new download: block 0 starts the sector, which is erased, block 1 with it. */
    CHECK_STATUS(omv_block(d, 0, b, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    omv_finish(d);
    CHECK(!memcmp(mem(d, 0x08020000), b, 4096));
    CHECK(all_bytes(d, 0x08021000, 0x1F000, 0xFF));
    /* Mid-sector blocks erase nothing: on H7 a second write there fails (ECC words). */
    CHECK_STATUS(omv_block(d, 1, b, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(omv_block(d, 1, b, 4096), SIM_DFU_STATUS_ERR_WRITE, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* A partial flash word is padded with zeros (stm32_flash.c). */
    CHECK_STATUS(omv_block(d, 0, tail, sizeof(tail)), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, 0x08020000), tail, sizeof(tail)));
    CHECK(all_bytes(d, 0x08020005, 27, 0x00));
    CHECK(all_bytes(d, 0x08020020, 32, 0xFF));
    sim_dev_free(d);
}

static void test_omv4_errors(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4");
    static uint8_t data[4097];

    /* alt 0, the bootloader, is read-only */
    CHECK_INT(set_interface(d, 0), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 0, data, 4096), SIM_DFU_STATUS_ERR_WRITE, SIM_DFU_STATE_ERROR);
    CHECK(all_bytes(d, 0x08000000, 0x20000, 0xFF));
    CHECK_INT(dnload(d, 0, data, 16), ==, SIM_STALL); /* not in dfuERROR */
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* ROMFS0 0x081E0000-0x08200000: 32 blocks */
    CHECK_INT(set_interface(d, 3), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 31, data, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(omv_block(d, 32, data, 4096), SIM_DFU_STATUS_ERR_ADDRESS, SIM_DFU_STATE_ERROR);
    CHECK_INT(abort_req(d), ==, SIM_OK); /* TinyUSB: ABORT resets from any state */
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* more than wTransferSize */
    CHECK_INT(ctl(d, 0x21, SIM_DFU_DNLOAD, 0, 0, data, 4097, NULL), ==, SIM_STALL);
    /* a zero-length DNLOAD from dfuIDLE manifests too (TinyUSB) */
    omv_finish(d);
    sim_dev_free(d);
}

static void test_omv4_upload(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4");
    static uint8_t data[4096], back[4096];
    size_t got = 0;

    pattern(data, sizeof(data), 9);
    memcpy(mem(d, 0x081E0000), data, sizeof(data));
    memcpy(mem(d, 0x081FF000), data, sizeof(data));
    CHECK_INT(set_interface(d, 3), ==, SIM_OK);
    CHECK_INT(upload(d, 0, back, 4096, &got), ==, SIM_OK);
    CHECK_INT(got, ==, 4096);
    CHECK(!memcmp(back, data, sizeof(data)));
    CHECK_INT(upload(d, 31, back, 4096, &got), ==, SIM_OK);
    CHECK_INT(got, ==, 4096);
    CHECK(!memcmp(back, data, sizeof(data)));
    memset(back, 0xAA, 8);
    CHECK_INT(upload(d, 32, back, 4096, &got), ==, SIM_OK);
    CHECK_INT(got, ==, 4); /* the EOF frame */
    CHECK(back[0] == 0 && back[1] == 0 && back[2] == 0 && back[3] == 0);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE); /* UPLOAD changes no state */
    CHECK_INT(upload(d, 0, back, 4097, &got), ==, SIM_STALL);
    sim_dev_free(d);
}

static void test_omv4_leave(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4,serial=C1");

    CHECK_INT(ctl(d, 0x21, SIM_DFU_DETACH, 1000, 0, NULL, 0, NULL), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "camera:OPENMV4");
    CHECK(d->gone);
    sim_dev_free(d);

    d = spec("openmv-bl:OPENMV4");
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 0, (const uint8_t[]){1, 2, 3, 4}, 4), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    sim_dev_reset(d);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "camera:OPENMV4");
    CHECK_CONTAINS(d->log.buf, "USB reset");
    sim_dev_free(d);
}

struct part {
    const char *name;
    uint32_t start, limit;
    bool ro;
};

struct board {
    const char *target;
    uint16_t pid;
    struct part parts[8];
};

/* openmv-facts.md §3.3, transcribed. */
static const struct board boards[] = {
    {"OPENMV2",
     0x9202,
     {{"BOOTLOADER", 0x08000000, 0x08008000, true},
      {"FILESYSTEM", 0x08008000, 0x08010000, false},
      {"FIRMWARE", 0x08010000, 0x080E0000, false},
      {"ROMFS0", 0x080E0000, 0x08100000, false}}},
    {"OPENMV3",
     0x9203,
     {{"BOOTLOADER", 0x08000000, 0x08008000, true},
      {"FILESYSTEM", 0x08008000, 0x08020000, false},
      {"FIRMWARE", 0x08020000, 0x081C0000, false},
      {"ROMFS0", 0x081C0000, 0x08200000, false}}},
    {"OPENMV4",
     0x9204,
     {{"BOOTLOADER", 0x08000000, 0x08020000, true},
      {"FILESYSTEM", 0x08020000, 0x08040000, false},
      {"FIRMWARE", 0x08040000, 0x081E0000, false},
      {"ROMFS0", 0x081E0000, 0x08200000, false}}},
    {"OPENMV4P",
     0x924A,
     {{"BOOTLOADER", 0x08000000, 0x08020000, true},
      {"FILESYSTEM", 0x08020000, 0x08040000, false},
      {"FIRMWARE", 0x08040000, 0x08200000, false},
      {"SPI_FLASH", 0x00000000, 0x02000000, false},
      {"ROMFS0", 0x01800000, 0x02000000, false}}},
    {"OPENMVPT",
     0x9205,
     {{"BOOTLOADER", 0x08000000, 0x08020000, true},
      {"FILESYSTEM", 0x08020000, 0x08040000, false},
      {"FIRMWARE", 0x08040000, 0x08200000, false},
      {"SPI_FLASH", 0x00000000, 0x02000000, false},
      {"ROMFS0", 0x01800000, 0x02000000, false}}},
    {"OPENMV_N6",
     0x9206,
     {{"BOOTLOADER", 0x00000000, 0x00080000, true},
      {"FIRMWARE", 0x00080000, 0x00400000, false},
      {"FILESYSTEM", 0x00400000, 0x00800000, false},
      {"ROMFS0", 0x00800000, 0x02000000, false}}},
    {"OPENMV_AE3",
     0x96E3,
     {{"BOOT", 0x80000000, 0x80020000, true},
      {"HP", 0x80020000, 0x80320000, false},
      {"HE", 0x80320000, 0x8047E000, false},
      {"ROMFS1", 0x8047E000, 0x8057E000, false},
      {"TOC", 0x8057E000, 0x80580000, false},
      {"RWFS", 0x00000000, 0x00800000, false},
      {"ROMFS0", 0x00800000, 0x02000000, false},
      {"RECOVERY", 0x00000000, 0x00001000, false}}},
};

static void test_omv_alt_tables(void)
{
    static uint8_t back[4096], zeros[4096];

    for (size_t i = 0; i < ARRAY_SIZE(boards); i++) {
        const struct board *b = &boards[i];
        char sp[64], s[128];
        struct sim_dev *d;
        unsigned n = 0;

        snprintf(sp, sizeof(sp), "openmv-bl:%s", b->target);
        d = spec(sp);
        if (!d)
            continue;
        check_identity(d, 0x37C5, b->pid, 0x0103, "OpenMV", "OpenMV Camera (DFU Mode)",
                       "0123456789ABCDEF01234567");
        while (n < 8 && b->parts[n].name)
            n++;
        CHECK_INT(nr_alts(d), ==, n);
        for (unsigned k = 0; k < n; k++) {
            const struct part *p = &b->parts[k];
            uint16_t last = (uint16_t)((p->limit - p->start) / 4096 - 1);
            size_t got = 0;

            alt_name(d, k, s, sizeof(s));
            if (strcmp(s, p->name) != 0)
                test_fail(__FILE__, __LINE__, "%s alt %u: \"%s\" vs \"%s\"", b->target, k, s,
                          p->name);
            CHECK_INT(set_interface(d, (uint16_t)k), ==, SIM_OK);
            if (!strcmp(p->name, "RECOVERY")) {
                /* not readable: a zero-length frame and errFILE; one block long */
                CHECK_INT(upload(d, 0, back, 4096, &got), ==, SIM_OK);
                CHECK_INT(got, ==, 0);
                CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_ERR_FILE, SIM_DFU_STATE_ERROR);
                CHECK_INT(clrstatus(d), ==, SIM_OK);
                CHECK_STATUS(omv_block(d, 1, zeros, 4096), SIM_DFU_STATUS_ERR_ADDRESS,
                             SIM_DFU_STATE_ERROR);
                CHECK_INT(clrstatus(d), ==, SIM_OK);
                continue;
            }
            /* start: block 0 reads the byte at `start` */
            if (!mem(d, p->start)) {
                test_fail(__FILE__, __LINE__, "%s %s: no memory at 0x%08X", b->target, p->name,
                          p->start);
                continue;
            }
            *mem(d, p->start) = (uint8_t)(0x40 + k);
            CHECK_INT(upload(d, 0, back, 4096, &got), ==, SIM_OK);
            CHECK_INT(got, ==, 4096);
            if (back[0] != 0x40 + k)
                test_fail(__FILE__, __LINE__, "%s %s: block 0 is not at 0x%08X", b->target, p->name,
                          p->start);
            *mem(d, p->start) = 0xFF;
            /* limit: the last block is whole, the next one is the EOF frame */
            CHECK_INT(upload(d, last, back, 4096, &got), ==, SIM_OK);
            if (got != 4096)
                test_fail(__FILE__, __LINE__, "%s %s: last block %u gave %zu", b->target, p->name,
                          last, got);
            CHECK_INT(upload(d, (uint16_t)(last + 1), back, 4096, &got), ==, SIM_OK);
            if (got != 4)
                test_fail(__FILE__, __LINE__, "%s %s: block %u past the limit gave %zu", b->target,
                          p->name, last + 1, got);
            /* read-only partitions refuse writes; writable ones refuse past the limit */
            CHECK_STATUS(omv_block(d, p->ro ? 0 : (uint16_t)(last + 1), zeros, 4096),
                         p->ro ? SIM_DFU_STATUS_ERR_WRITE : SIM_DFU_STATUS_ERR_ADDRESS,
                         SIM_DFU_STATE_ERROR);
            CHECK_INT(clrstatus(d), ==, SIM_OK);
        }
        sim_dev_free(d);
    }
}

static void test_omv_memories(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4P");
    static uint8_t data[4096], back[4096];
    size_t got = 0;

    CHECK_STR(sim_dev_region_at(d, 0)->name, "qspi");
    CHECK_INT(sim_dev_region_at(d, 0)->size, ==, 0x2000000);
    CHECK_STR(sim_dev_region_at(d, 0x08000000)->name, "internal");
    /* ROMFS0 (alt 4) and SPI_FLASH (alt 3) share the QSPI; 64 KiB blocks erase. */
    pattern(data, sizeof(data), 10);
    memset(mem(d, 0x01800000), 0x00, 0x20000);
    CHECK_INT(set_interface(d, 4), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 0, data, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x01801000, 0xF000, 0xFF));
    CHECK(all_bytes(d, 0x01810000, 0x10000, 0x00));
    CHECK_INT(set_interface(d, 3), ==, SIM_OK);
    CHECK_INT(upload(d, 0x1800000 / 4096, back, 4096, &got), ==, SIM_OK);
    CHECK(!memcmp(back, data, sizeof(data)));
    sim_dev_free(d);

    /* N6: everything on the XSPI NOR, 64 KiB blocks (stm32_xspi.c). */
    d = spec("openmv-bl:OPENMV_N6");
    CHECK_INT(d->nr_regions, ==, 1);
    CHECK_STR(d->regions[0].name, "xspi");
    memset(mem(d, 0x00080000), 0x00, 0x20000);
    CHECK_INT(set_interface(d, 1), ==, SIM_OK); /* FIRMWARE 0x00080000 */
    CHECK_STATUS(omv_block(d, 0, data, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(!memcmp(mem(d, 0x00080000), data, sizeof(data)));
    CHECK(all_bytes(d, 0x00081000, 0xF000, 0xFF));
    CHECK(all_bytes(d, 0x00090000, 0x100, 0x00));
    sim_dev_free(d);

    /* OPENMV2 (F427): 16 KiB sectors at the start, 4-byte words padded with zeros. */
    d = spec("openmv-bl:OPENMV2");
    memset(mem(d, 0x08008000), 0x00, 0x8000);
    CHECK_INT(set_interface(d, 1), ==, SIM_OK); /* FILESYSTEM 0x08008000 */
    CHECK_STATUS(omv_block(d, 0, (const uint8_t[]){0xA5, 0xA5, 0xA5, 0xA5, 0xA5}, 5),
                 SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x08008000, 5, 0xA5));
    CHECK(all_bytes(d, 0x08008005, 3, 0x00));
    CHECK(all_bytes(d, 0x08008008, 0x3FF8, 0xFF));
    CHECK(all_bytes(d, 0x0800C000, 0x4000, 0x00));
    sim_dev_free(d);
}

static void test_omv_ae3(void)
{
    static const uint8_t key[16] = {0x15, 0x9e, 0x7d, 0x42, 0x96, 0x1a, 0x71, 0xeb,
                                    0x73, 0xa3, 0x26, 0x29, 0x2b, 0x08, 0x09, 0x0e};
    struct sim_dev *d = spec("openmv-bl:OPENMV_AE3");
    static uint8_t buf[4096];
    uint8_t zero = 0x00;

    CHECK_STR(sim_dev_region_at(d, 0x80000000)->name, "mram");
    CHECK_STR(sim_dev_region_at(d, 0)->name, "ospi");
    /* MRAM: no erase, bytes overwrite (0x00 then 0xFF reads 0xFF). */
    CHECK_INT(set_interface(d, 1), ==, SIM_OK); /* HP 0x80020000 */
    memset(buf, 0x00, sizeof(buf));
    CHECK_STATUS(omv_block(d, 0, buf, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x80020000, 4096, 0x00));
    memset(buf, 0xFF, sizeof(buf));
    CHECK_STATUS(omv_block(d, 0, buf, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0x80020000, 4096, 0xFF));
    CHECK_INT(sim_dev_region_at(d, 0x80000000)->erases, ==, 0);
    /* A short write is rounded up to 16 bytes with what the buffer held (0xFF here). */
    CHECK_STATUS(omv_block(d, 1, &zero, 1), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(*mem(d, 0x80021000), ==, 0x00);
    CHECK(all_bytes(d, 0x80021001, 15, 0xFF));

    /* RECOVERY: anything but the key is refused; the key wipes the OSPI, once. */
    memset(mem(d, 0), 0x00, 0x10000);
    CHECK_INT(set_interface(d, 7), ==, SIM_OK);
    memset(buf, 0, sizeof(buf));
    CHECK_STATUS(omv_block(d, 0, buf, 4096), SIM_DFU_STATUS_ERR_WRITE, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK(all_bytes(d, 0, 0x10000, 0x00));
    memcpy(buf, key, sizeof(key));
    CHECK_STATUS(omv_block(d, 0, buf, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 0, 0x10000, 0xFF));
    CHECK_CONTAINS(d->log.buf, "recovery: OSPI");
    CHECK_STATUS(omv_block(d, 0, buf, 4096), SIM_DFU_STATUS_ERR_WRITE, SIM_DFU_STATE_ERROR);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    /* OSPI: 4 KiB sectors */
    memset(mem(d, 0), 0x00, 0x2000);
    CHECK_INT(set_interface(d, 5), ==, SIM_OK); /* RWFS */
    CHECK_STATUS(omv_block(d, 0, key, 16), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK(all_bytes(d, 16, 0x1000 - 16, 0xFF));
    CHECK(all_bytes(d, 0x1000, 0x1000, 0x00));
    sim_dev_free(d);
}

static void test_omv_state_machine(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4");
    static uint8_t data[4096];

    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, data, 4096), ==, SIM_OK);
    CHECK_INT(d->state, ==, SIM_DFU_STATE_DNLOAD_SYNC);
    CHECK_INT(dnload(d, 1, data, 4096), ==, SIM_STALL); /* not in DNLOAD-SYNC */
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(d->state, ==, SIM_DFU_STATE_DNBUSY);         /* what the host saw */
    CHECK_INT(getstate(d), ==, SIM_DFU_STATE_DNLOAD_SYNC); /* TinyUSB after the write */
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* SET_INTERFACE resets the state machine */
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_IDLE);
    /* unknown class request */
    CHECK_INT(ctl(d, 0x21, 7, 0, 0, NULL, 0, NULL), ==, SIM_STALL);
    /* a request to another interface */
    CHECK_INT(ctl(d, 0xA1, SIM_DFU_GETSTATUS, 0, 1, data, 6, NULL), ==, SIM_STALL);
    sim_dev_free(d);
}

static void test_faults(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4,fault=refuse-write:1");
    static uint8_t data[4096];
    struct status st;

    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_STATUS(omv_block(d, 0, data, 4096), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_STATUS(omv_block(d, 1, data, 4096), SIM_DFU_STATUS_ERR_WRITE, SIM_DFU_STATE_ERROR);
    CHECK_CONTAINS(d->log.buf, "refused (fault)");
    sim_dev_free(d);

    d = spec("st-rom:H743,fault=refuse-write:0");
    CHECK_STATUS(dfuse_write(d, 0x08000000, data, 2048), SIM_DFU_STATUS_ERR_WRITE,
                 SIM_DFU_STATE_ERROR);
    CHECK(all_bytes(d, 0x08000000, 2048, 0xFF));
    sim_dev_free(d);

    /* slow-erase multiplies the erase cost */
    d = spec("openmv-bl:OPENMV4,fault=slow-erase:3");
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, data, 32), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(sim_dev_wait_us(d), ==, 3ull * d->timing.sector_erase_us + d->timing.unit_program_us);
    sim_dev_free(d);

    /* wrong-state: GETSTATUS reports another state once */
    d = spec("st-rom:H743,fault=wrong-state:5:1");
    st = getstatus(d);
    CHECK_INT(st.state, ==, 5);
    CHECK_INT(getstatus(d).state, ==, SIM_DFU_STATE_IDLE);
    sim_dev_free(d);

    /* unplug-state: the core pulls the device when the model enters dfuDNBUSY */
    d = spec("openmv-bl:OPENMV4,fault=unplug-state:4");
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, data, 64), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    getstatus(d);
    CHECK_INT(d->transition, ==, SIM_DISAPPEAR);
    sim_dev_free(d);

    /* unplug-bytes counts the models' data bytes */
    d = spec("st-rom:H743,fault=unplug-bytes:4096");
    CHECK_STATUS(dfuse_write(d, 0x08000000, data, 2048), SIM_DFU_STATUS_OK,
                 SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_STATUS(set_address(d, 0x08000800), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    CHECK_INT(dnload(d, 2, data, 2048), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_DISAPPEAR);
    sim_dev_free(d);
}

static void test_timing(void)
{
    struct sim_dev *d = spec("openmv-bl:OPENMV4P");
    static uint8_t data[4096];

    /* QSPI: a 64 KiB block erase and NOR programming, not the internal flash's costs */
    CHECK_INT(set_interface(d, 3), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, data, 4096), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(sim_dev_wait_us(d), >, 50000);
    CHECK_INT(sim_dev_wait_us(d), <, 1000000);
    getstatus(d);
    /* internal: one 128 KiB sector (1.1 s) plus 128 flash words */
    CHECK_INT(set_interface(d, 2), ==, SIM_OK);
    CHECK_INT(dnload(d, 0, data, 4096), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(sim_dev_wait_us(d), ==, d->timing.sector_erase_us + 128 * d->timing.unit_program_us);
    CHECK_INT(d->device_bound_us, >, d->timing.sector_erase_us);
    sim_dev_free(d);
}

/* usb:VID:PID enumerates with its IDs and one vendor interface, and answers nothing else. */
static void test_usb_plain(void)
{
    char err[256];
    struct sim_dev *d = sim_dev_new_from_spec("usb:1FC9:0135,serial=R1", err, sizeof(err));
    struct sim_setup get_dev = {0x80, 6, 0x0100, 0, 18};
    struct sim_setup dfu_status = {0xA1, 3, 0, 0, 6};
    uint8_t buf[64];
    size_t len = sizeof(buf);

    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_INT(d->vid, ==, 0x1FC9);
    CHECK_INT(d->pid, ==, 0x0135);
    CHECK_STR(d->serial, "R1");
    CHECK_INT(sim_dev_control(d, &get_dev, buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 18);
    CHECK_INT(buf[8] | buf[9] << 8, ==, 0x1FC9);
    CHECK_INT((uint8_t)d->descriptors.buf[18 + 9 + 5], ==, 0xFF); /* bInterfaceClass */
    len = sizeof(buf);
    CHECK_INT(sim_dev_control(d, &dfu_status, buf, &len), ==, SIM_STALL);
    sim_dev_free(d);
    CHECK(sim_dev_new_from_spec("usb:1FC9", err, sizeof(err)) == NULL);
    CHECK_STR(err, "usb:1FC9: expected usb:VID:PID in hex");
    CHECK(sim_dev_new_from_spec("usb:1FC9:0135x", err, sizeof(err)) == NULL);
}

/*
 * The ST ROM's timing: the answer that starts an erase costs only its own
 * transfer (the work runs while the host waits bwPollTimeout), the times
 * are the parts' datasheet figures, slow-erase:max takes the maximum, and
 * busy=answer answers dfuDNBUSY until the work is done.
 */
static void test_st_timing(void)
{
    static const struct {
        const char *spec;
        uint32_t addr;
        uint64_t typ_us, max_us;
    } sectors[] = {
        {"st-rom:H743", 0x08020000, 1100000, 2200000},
        {"st-rom:F427", 0x08004000, 250000, 500000},   /* 16 KiB */
        {"st-rom:F427", 0x08010000, 550000, 1100000},  /* 64 KiB */
        {"st-rom:F427", 0x08020000, 1000000, 2000000}, /* 128 KiB */
        {"st-rom:F765", 0x08008000, 250000, 500000},   /* 32 KiB */
        {"st-rom:F765", 0x08020000, 550000, 1100000},  /* 128 KiB */
        {"st-rom:F765", 0x08040000, 1000000, 2000000}, /* 256 KiB */
        {"arduino:PORTENTA", 0x08020000, 1100000, 2200000},
    };
    uint8_t back[64];
    struct sim_dev *d;
    struct status st;
    size_t got = 0;

    for (size_t i = 0; i < ARRAY_SIZE(sectors); i++) {
        char sp[96];

        for (int slow = 0; slow < 2; slow++) {
            snprintf(sp, sizeof(sp), "%s%s", sectors[i].spec, slow ? ",fault=slow-erase:max" : "");
            d = spec(sp);
            CHECK_STATUS(erase_page(d, sectors[i].addr), SIM_DFU_STATUS_OK,
                         SIM_DFU_STATE_DNLOAD_IDLE);
            /* the bound holds the erase once, whatever the transfers */
            CHECK_INT(d->device_bound_us, >=, slow ? sectors[i].max_us : sectors[i].typ_us);
            CHECK_INT(d->device_bound_us, <,
                      (slow ? sectors[i].max_us : sectors[i].typ_us) + 20000);
            sim_dev_free(d);
        }
    }

    /* The answer that starts the erase is not held back by it. */
    d = spec("st-rom:H743");
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x02, 0x08}, 5), ==, SIM_OK);
    st = getstatus(d);
    CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(st.poll, ==, 1000);
    CHECK_INT(d->reply_us, <, 2000);
    CHECK_INT(sim_dev_wait_us(d), ==, 1100000);
    /* the host waits its 1000 ms; the next answer waits the remaining 100 ms */
    sim_dev_advance(d, d->now_us + 1000000);
    CHECK_INT(sim_dev_wait_us(d), ==, 100000);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* mass erase: 6 s typical (DS12110) */
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41}, 1), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(sim_dev_wait_us(d), ==, 6000000);
    sim_dev_free(d);

    /* busy=answer: dfuDNBUSY with the same poll timeout until the work is done */
    d = spec("st-rom:H743,busy=answer,fault=slow-erase:max");
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x02, 0x08}, 5), ==, SIM_OK);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
    CHECK_INT(sim_dev_wait_us(d), ==, 0);
    for (int ms = 1000; ms < 2200; ms += 1000) {
        sim_dev_advance(d, (uint64_t)ms * 1000);
        st = getstatus(d);
        CHECK_STATUS(st, SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNBUSY);
        CHECK_INT(st.poll, ==, 1000);
    }
    sim_dev_advance(d, 2200000);
    CHECK_STATUS(getstatus(d), SIM_DFU_STATUS_OK, SIM_DFU_STATE_DNLOAD_IDLE);
    /* a read during an erase is held until the erase ends */
    CHECK_INT(dnload(d, 0, (const uint8_t[]){0x41, 0x00, 0x00, 0x02, 0x08}, 5), ==, SIM_OK);
    getstatus(d);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_INT(clrstatus(d), ==, SIM_OK);
    CHECK_INT(upload(d, 2, back, sizeof(back), &got), ==, SIM_OK);
    CHECK_INT(d->reply_us, >=, 2200000);
    CHECK_INT(sim_dev_working_us(d), ==, 0);
    sim_dev_free(d);

    /* bad option values are refused */
    {
        char err[256] = "";

        CHECK(!sim_dev_new_from_spec("st-rom:H743,busy=maybe", err, sizeof(err)));
        CHECK_CONTAINS(err, "busy=maybe");
        CHECK(!sim_dev_new_from_spec("st-rom:H743,fault=slow-erase:0", err, sizeof(err)));
        CHECK_CONTAINS(err, "bad number");
        CHECK(!sim_dev_new_from_spec("st-rom:H743,attrs=0x100", err, sizeof(err)));
        CHECK_CONTAINS(err, "attrs=0x100");
        CHECK(!sim_dev_new_from_spec("camera:OPENMV4,attrs=0x0B", err, sizeof(err)));
        CHECK_CONTAINS(err, "DFU descriptor");
    }
    /* attrs=: the functional descriptor changes, and UPLOAD is refused without bit 1 */
    d = spec("st-rom:H743,attrs=0x09");
    CHECK_INT(funcdesc(d).attrs, ==, 0x09);
    CHECK_INT(upload(d, 0, back, sizeof(back), &got), ==, SIM_STALL);
    CHECK_CONTAINS(d->log.buf, "bitCanUpload is 0");
    sim_dev_free(d);
}

TESTS(TEST(test_usb_plain), TEST(test_st_identity), TEST(test_st_write_readback),
      TEST(test_st_page_erase), TEST(test_st_h7_errprog), TEST(test_st_get_commands),
      TEST(test_st_address_rule), TEST(test_st_errors), TEST(test_st_leave),
      TEST(test_st_unprotect_and_reset), TEST(test_rev_v_wedge), TEST(test_rev_v_normal_paths),
      TEST(test_rev_v_looks_like_rev_y), TEST(test_f4_f7_geometry), TEST(test_bad_names),
      TEST(test_arduino_portenta), TEST(test_arduino_boards), TEST(test_omv4_identity),
      TEST(test_omv4_firmware), TEST(test_omv4_implicit_erase), TEST(test_omv4_errors),
      TEST(test_omv4_upload), TEST(test_omv4_leave), TEST(test_omv_alt_tables),
      TEST(test_omv_memories), TEST(test_omv_ae3), TEST(test_omv_state_machine), TEST(test_faults),
      TEST(test_timing), TEST(test_st_timing))
