/*
 * The camera model: CDC descriptors and requests, and the OpenMV protocol
 * (V2 packets, legacy V1 commands) on its bulk endpoints. The packets are
 * built here with CRC code of the test's own (bit by bit, from the spec in
 * openmv/openmv docs/protocol.md and common/omv_crc.h), not the model's.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"
#include "tests/unit/test.h"

#include <stdlib.h>

/* ---- the protocol, as the test understands it ------------------------------------ */

#define SYNC0     0xAA /* SYNC 0xD5AA, little-endian on the wire */
#define SYNC1     0xD5
#define HEADER    10
#define FLAG_ACK  0x01
#define FLAG_NAK  0x02
#define FLAG_AREQ 0x08
#define V1_CMD    0x30

enum {
    OP_PROTO_SYNC = 0x00,
    OP_GET_CAPS = 0x01,
    OP_SET_CAPS = 0x02,
    OP_VERSION = 0x04,
    OP_SYS_RESET = 0x10,
    OP_SYS_BOOT = 0x11,
    OP_SYS_INFO = 0x12,
    OP_CHANNEL_LIST = 0x20,
};

/* CRC-16, polynomial 0xF94F, MSB first. */
static uint16_t t_crc16(uint16_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0xF94F : crc << 1);
    }
    return crc;
}

/* CRC-32, polynomial 0xFA567D89, MSB first. */
static uint32_t t_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x80000000u ? (crc << 1) ^ 0xFA567D89u : crc << 1;
    }
    return crc;
}

/* A V2 packet into out; returns its size. */
static size_t build(uint8_t *out, uint8_t seq, uint8_t chan, uint8_t flags, uint8_t op,
                    const uint8_t *payload, uint16_t len)
{
    size_t n = HEADER;
    uint16_t hcrc;

    out[0] = SYNC0;
    out[1] = SYNC1;
    out[2] = seq;
    out[3] = chan;
    out[4] = flags;
    out[5] = op;
    out[6] = (uint8_t)(len & 0xFF);
    out[7] = (uint8_t)(len >> 8);
    hcrc = t_crc16(0xFFFF, out, 8);
    out[8] = (uint8_t)(hcrc & 0xFF);
    out[9] = (uint8_t)(hcrc >> 8);
    if (len) {
        uint32_t dcrc = t_crc32(0xFFFFFFFFu, payload, len);

        memcpy(out + n, payload, len);
        n += len;
        for (int i = 0; i < 4; i++)
            out[n++] = (uint8_t)(dcrc >> (8 * i));
    }
    return n;
}

struct reply {
    uint8_t seq, chan, flags, op;
    uint16_t len;
    uint8_t data[256];
    bool crc_ok;
};

/* ---- driving the device ---------------------------------------------------------------- */

static struct sim_dev *make(const char *target)
{
    char err[256] = "";
    struct sim_dev *d = sim_model_camera(target, err, sizeof(err));

    if (!d)
        test_fail(__FILE__, __LINE__, "sim_model_camera(%s): %s", target, err);
    return d;
}

static int ctrl(struct sim_dev *d, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                uint16_t length, uint8_t *data, size_t *len)
{
    struct sim_setup s = {type, req, value, index, length};

    return sim_dev_control(d, &s, data, len);
}

static int set_line_coding(struct sim_dev *d, uint32_t baud)
{
    uint8_t lc[7] = {
        (uint8_t)baud, (uint8_t)(baud >> 8), (uint8_t)(baud >> 16), (uint8_t)(baud >> 24), 0, 0, 8};
    size_t len = sizeof(lc);

    return ctrl(d, 0x21, 0x20, 0, 0, sizeof(lc), lc, &len);
}

static int set_lines(struct sim_dev *d, uint16_t lines)
{
    size_t len = 0;

    return ctrl(d, 0x21, 0x22, lines, 0, 0, NULL, &len);
}

/* What a host does before it talks to the firmware: magic baud rate, DTR. */
static void open_link(struct sim_dev *d, uint32_t baud)
{
    CHECK_INT(set_line_coding(d, baud), ==, SIM_OK);
    CHECK_INT(set_lines(d, 3), ==, SIM_OK);
}

static int host_write(struct sim_dev *d, const uint8_t *p, size_t n)
{
    uint8_t buf[4200];
    size_t len = n;

    memcpy(buf, p, n);
    return sim_dev_bulk(d, 0x01, buf, &len);
}

/* Read exactly n bytes from EP 0x81; returns how many came. */
static size_t host_read(struct sim_dev *d, uint8_t *out, size_t n)
{
    size_t len = n;

    if (sim_dev_bulk(d, 0x81, out, &len) != SIM_OK)
        return 0;
    return len;
}

static bool recv_packet(struct sim_dev *d, struct reply *r)
{
    uint8_t h[HEADER], crc[4];

    memset(r, 0, sizeof(*r));
    if (host_read(d, h, HEADER) != HEADER || h[0] != SYNC0 || h[1] != SYNC1)
        return false;
    r->seq = h[2];
    r->chan = h[3];
    r->flags = h[4];
    r->op = h[5];
    r->len = (uint16_t)(h[6] | h[7] << 8);
    r->crc_ok = t_crc16(0xFFFF, h, 8) == (uint16_t)(h[8] | h[9] << 8);
    if (r->len > sizeof(r->data))
        return false;
    if (r->len) {
        if (host_read(d, r->data, r->len) != r->len || host_read(d, crc, 4) != 4)
            return false;
        r->crc_ok = r->crc_ok && t_crc32(0xFFFFFFFFu, r->data, r->len) ==
                                     ((uint32_t)crc[0] | (uint32_t)crc[1] << 8 |
                                      (uint32_t)crc[2] << 16 | (uint32_t)crc[3] << 24);
    }
    return true;
}

static size_t pending(struct sim_dev *d)
{
    uint8_t buf[512];

    return host_read(d, buf, sizeof(buf));
}

static int send_op(struct sim_dev *d, uint8_t seq, uint8_t op)
{
    uint8_t pkt[HEADER];

    build(pkt, seq, 0, 0, op, NULL, 0);
    return host_write(d, pkt, sizeof(pkt));
}

static bool starts_with(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

/* ---- tests --------------------------------------------------------------------------------- */

/* The test's CRCs reproduce entries of the firmware's tables (common/omv_crc.c). */
static void test_crc_reference(void)
{
    const uint8_t one = 0x01, two = 0x02, ff = 0xFF;

    CHECK_INT(t_crc16(0, &one, 1), ==, 0xF94F);
    CHECK_INT(t_crc16(0, &two, 1), ==, 0x0BD1);
    CHECK_INT(t_crc16(0, &ff, 1), ==, 0x551E);
    CHECK_INT(t_crc32(0, &one, 1), ==, 0xFA567D89u);
    CHECK_INT(t_crc32(0, &two, 1), ==, 0x0EFA869Bu);
    CHECK_INT(t_crc32(0, &ff, 1), ==, 0x25C4421Bu);
}

static void test_descriptors(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t buf[512], str[128];
    size_t len = 0, total, i;
    int ifaces = 0, iad = 0, header = 0, callmgmt = 0, acm = 0, uni = 0, eps = 0;
    int cur_iface = -1;

    if (!d)
        return;
    CHECK_STR(d->ops->kind, "camera");
    CHECK_INT(ctrl(d, 0x80, 6, 0x0100, 0, 18, buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 18);
    CHECK_INT(buf[4], ==, 0xEF);
    CHECK_INT(buf[5], ==, 0x02);
    CHECK_INT(buf[6], ==, 0x01);
    CHECK_INT(buf[8] | buf[9] << 8, ==, 0x37C5);
    CHECK_INT(buf[10] | buf[11] << 8, ==, 0x1204);

    /* the serial number string */
    CHECK_INT(ctrl(d, 0x80, 6, (uint16_t)(0x0300 | buf[16]), 0x0409, 255, str, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 2 + 2 * 24);
    for (i = 0; i < 24 && 2 + 2 * i < len; i++)
        if (str[2 + 2 * i] != (uint8_t) "0123456789ABCDEF01234567"[i])
            break;
    CHECK_INT(i, ==, 24);
    /* the manufacturer */
    CHECK_INT(ctrl(d, 0x80, 6, (uint16_t)(0x0300 | buf[14]), 0x0409, 255, str, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 2 + 2 * 6);
    CHECK(str[2] == 'O' && str[4] == 'p' && str[12] == 'V');

    /* configuration: the header first for wTotalLength, then all of it */
    CHECK_INT(ctrl(d, 0x80, 6, 0x0200, 0, 9, buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 9);
    total = (size_t)(buf[2] | buf[3] << 8);
    CHECK_INT(buf[4], ==, 2); /* bNumInterfaces */
    CHECK_INT(ctrl(d, 0x80, 6, 0x0200, 0, sizeof(buf), buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, total);
    for (i = 0; i + 2 <= len && buf[i] >= 2; i += buf[i]) {
        const uint8_t *p = buf + i;

        CHECK(i + p[0] <= len);
        switch (p[1]) {
        case 0x0B: /* interface association */
            iad++;
            CHECK(p[2] == 0 && p[3] == 2 && p[4] == 0x02 && p[5] == 0x02 && p[6] == 0x01);
            break;
        case 0x04:
            ifaces++;
            cur_iface = p[2];
            if (p[2] == 0)
                CHECK(p[4] == 1 && p[5] == 0x02 && p[6] == 0x02 && p[7] == 0x01);
            else
                CHECK(p[2] == 1 && p[4] == 2 && p[5] == 0x0A);
            break;
        case 0x24: /* CS_INTERFACE, only on the communication interface */
            CHECK_INT(cur_iface, ==, 0);
            if (p[2] == 0x00)
                header += p[0] == 5 && p[3] == 0x10 && p[4] == 0x01;
            else if (p[2] == 0x01)
                callmgmt += p[0] == 5 && p[4] == 1;
            else if (p[2] == 0x02)
                acm += p[0] == 4 && (p[3] & 0x02);
            else if (p[2] == 0x06)
                uni += p[0] == 5 && p[3] == 0 && p[4] == 1;
            break;
        case 0x05: {
            uint16_t mps = (uint16_t)(p[4] | p[5] << 8);

            eps++;
            if (p[2] == 0x82)
                CHECK(cur_iface == 0 && p[3] == 0x03 && mps == 8);
            else if (p[2] == 0x01 || p[2] == 0x81)
                CHECK(cur_iface == 1 && p[3] == 0x02 && mps == 64);
            else
                test_fail(__FILE__, __LINE__, "unexpected endpoint 0x%02x", p[2]);
            break;
        }
        }
    }
    CHECK_INT(i, ==, total);
    CHECK_INT(iad, ==, 1);
    CHECK_INT(ifaces, ==, 2);
    CHECK_INT(header + callmgmt + acm + uni, ==, 4);
    CHECK_INT(eps, ==, 3);
    sim_dev_free(d);
}

static void test_line_coding(void)
{
    struct sim_dev *d = make("OPENMV4");
    const uint8_t def[7] = {0x00, 0xC2, 0x01, 0x00, 0, 0, 8}; /* 115200 8N1 */
    uint8_t lc[7] = {0x00, 0x10, 0x0E, 0x00, 2, 1, 7};        /* 921600, 2 stop bits, odd, 7 */
    uint8_t got[16];
    size_t len = 0;

    if (!d)
        return;
    CHECK_INT(ctrl(d, 0xA1, 0x21, 0, 0, 7, got, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 7);
    CHECK(!memcmp(got, def, 7));
    len = 7;
    CHECK_INT(ctrl(d, 0x21, 0x20, 0, 0, 7, lc, &len), ==, SIM_OK);
    CHECK_INT(ctrl(d, 0xA1, 0x21, 0, 0, 7, got, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 7);
    CHECK(!memcmp(got, lc, 7));
    CHECK_CONTAINS(d->log.buf, "921600 baud");
    /* wrong length, wrong interface, unknown request: STALL */
    len = 6;
    CHECK_INT(ctrl(d, 0x21, 0x20, 0, 0, 6, lc, &len), ==, SIM_STALL);
    len = 7;
    CHECK_INT(ctrl(d, 0x21, 0x20, 0, 1, 7, lc, &len), ==, SIM_STALL);
    CHECK_INT(ctrl(d, 0xA1, 0x21, 0, 0, 7, got, &len), ==, SIM_OK);
    CHECK(!memcmp(got, lc, 7));
    len = 0;
    CHECK_INT(ctrl(d, 0x21, 0x05, 0, 0, 0, NULL, &len), ==, SIM_STALL);
    CHECK_INT(set_lines(d, 3), ==, SIM_OK);
    CHECK_CONTAINS(d->log.buf, "DTR 1 RTS 1");
    CHECK_INT(set_lines(d, 0), ==, SIM_OK);
    CHECK_CONTAINS(d->log.buf, "DTR 0 RTS 0");
    CHECK_INT(d->transition, ==, SIM_STAY);
    sim_dev_free(d);
}

static void test_sys_boot(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t pkt[64];
    size_t len = 0;

    if (!d)
        return;
    open_link(d, 921600);
    CHECK_INT(host_write(d, pkt, build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0)), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK(starts_with(d->next_spec, "openmv-bl:OPENMV4"));
    CHECK(d->gone);
    CHECK_INT(pending(d), ==, 0); /* no response, and the device is gone */
    CHECK_INT(ctrl(d, 0x80, 6, 0x0100, 0, 18, pkt, &len), ==, SIM_GONE);
    CHECK_CONTAINS(d->log.buf, "SYS_BOOT");
    sim_dev_free(d);
}

static void test_bad_packets(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t pkt[64];
    size_t n;

    if (!d)
        return;
    open_link(d, 921600);
    /* header CRC off by one bit */
    n = build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    pkt[8] ^= 0x01;
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_CONTAINS(d->log.buf, "header CRC");
    /* sync bytes in big-endian order, CRC computed over them */
    n = build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    pkt[0] = SYNC1;
    pkt[1] = SYNC0;
    {
        uint16_t c = t_crc16(0xFFFF, pkt, 8);

        pkt[8] = (uint8_t)(c & 0xFF);
        pkt[9] = (uint8_t)(c >> 8);
    }
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_CONTAINS(d->log.buf, "without a sync pattern");
    /* opcode changed after the CRC was computed */
    n = build(pkt, 0, 0, 0, OP_SYS_INFO, NULL, 0);
    pkt[5] = OP_SYS_BOOT;
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(pending(d), ==, 0); /* bad headers get no answer */
    /* garbage, then a good packet: the stream resynchronises */
    memset(pkt, 0x55, 7);
    n = build(pkt + 7, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    CHECK_INT(host_write(d, pkt, 7 + n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK(starts_with(d->next_spec, "openmv-bl:OPENMV4"));
    sim_dev_free(d);
}

/* A packet with a payload whose CRC-32 is wrong: NAK with status CHECKSUM. */
static void test_payload_crc(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t caps[16] = {0x0F, 0, 0, 0, 0xF2, 0x0F}, pkt[64];
    struct reply r;
    size_t n;

    if (!d)
        return;
    open_link(d, 921600);
    n = build(pkt, 0, 0, 0, OP_SET_CAPS, caps, sizeof(caps));
    pkt[n - 1] ^= 0x80;
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.flags & FLAG_NAK, !=, 0);
    CHECK_INT(r.op, ==, OP_SET_CAPS);
    CHECK_INT(r.len, ==, 2);
    CHECK_INT(r.data[0] | r.data[1] << 8, ==, 5);
    CHECK_INT(d->transition, ==, SIM_STAY);
    /* the same packet intact, at the next sequence number: ACK */
    n = build(pkt, 1, 0, 0, OP_SET_CAPS, caps, sizeof(caps));
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.seq, ==, 1);
    CHECK_INT(r.flags, ==, FLAG_ACK);
    CHECK_INT(r.len, ==, 0);
    sim_dev_free(d);
}

static void test_sys_reset(void)
{
    struct sim_dev *d = make("OPENMV4P"), *again;
    char err[256] = "";
    uint8_t pkt[64];
    size_t len = 0;

    if (!d)
        return;
    open_link(d, 921600);
    CHECK_INT(host_write(d, pkt, build(pkt, 0, 0, 0, OP_SYS_RESET, NULL, 0)), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "camera:OPENMV4P");
    /* what it comes back as: the same camera, with the serial carried over */
    again =
        sim_dev_new_from_spec("camera:OPENMV4P,serial=00112233445566778899AABB", err, sizeof(err));
    CHECK(again != NULL);
    if (again) {
        CHECK_STR(again->ops->kind, "camera");
        CHECK_INT(again->pid, ==, 0x124A);
        CHECK_STR(again->serial, "00112233445566778899AABB");
        CHECK_INT(ctrl(again, 0x80, 6, 0x0100, 0, 18, pkt, &len), ==, SIM_OK);
        CHECK_INT(pkt[10] | pkt[11] << 8, ==, 0x124A);
        CHECK_INT(again->transition, ==, SIM_STAY);
        sim_dev_free(again);
    }
    sim_dev_free(d);
}

/* One packet in 3 + 5 + rest bytes, and one byte at a time. */
static void test_split_writes(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t pkt[64];
    size_t n;

    if (!d)
        return;
    open_link(d, 921600);
    n = build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    CHECK_INT(host_write(d, pkt, 3), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(host_write(d, pkt + 3, 5), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(host_write(d, pkt + 8, n - 8), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK(starts_with(d->next_spec, "openmv-bl:OPENMV4"));
    sim_dev_free(d);

    d = make("OPENMV_N6");
    if (!d)
        return;
    open_link(d, 921600);
    n = build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(d->transition, ==, SIM_STAY);
        CHECK_INT(host_write(d, pkt + i, 1), ==, SIM_OK);
    }
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "openmv-bl:OPENMV_N6");
    sim_dev_free(d);
}

/* Debug link down (wrong baud rate, or no DTR): the bytes go to the REPL. */
static void test_link_down(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t pkt[64];
    size_t n;

    if (!d)
        return;
    n = build(pkt, 0, 0, 0, OP_SYS_BOOT, NULL, 0);
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK); /* 115200, no DTR */
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_CONTAINS(d->log.buf, "REPL");
    CHECK_INT(set_lines(d, 1), ==, SIM_OK); /* DTR at 115200 */
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(set_lines(d, 0), ==, SIM_OK);
    CHECK_INT(set_line_coding(d, 921600), ==, SIM_OK); /* magic rate, no DTR */
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(set_line_coding(d, 12000000), ==, SIM_OK); /* V1 rate: no V2 */
    CHECK_INT(set_lines(d, 1), ==, SIM_OK);
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    /* half a packet, then DTR drops: the half is gone */
    CHECK_INT(set_line_coding(d, 921600), ==, SIM_OK);
    CHECK_INT(host_write(d, pkt, 4), ==, SIM_OK);
    CHECK_INT(set_lines(d, 0), ==, SIM_OK);
    CHECK_INT(set_lines(d, 1), ==, SIM_OK);
    CHECK_INT(host_write(d, pkt + 4, n - 4), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    sim_dev_free(d);
}

/* PROTO_SYNC, capabilities, sequence numbers, other opcodes. */
static void test_conversation(void)
{
    struct sim_dev *d = make("OPENMVPT");
    uint8_t pkt[64];
    struct reply r;

    if (!d)
        return;
    open_link(d, 921600);
    CHECK_INT(pending(d), ==, 0); /* nothing queued: a NAK, 0 bytes */
    CHECK_INT(send_op(d, 9, OP_PROTO_SYNC), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.seq, ==, 0);
    CHECK_INT(r.flags, ==, FLAG_ACK);
    CHECK_INT(r.op, ==, OP_PROTO_SYNC);
    CHECK_INT(r.len, ==, 0);
    CHECK_INT(pending(d), ==, 0);

    CHECK_INT(send_op(d, 0, OP_GET_CAPS), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.seq, ==, 0);
    CHECK_INT(r.flags, ==, FLAG_AREQ);
    CHECK_INT(r.len, ==, 16);
    CHECK_INT(r.data[0], ==, 0x0F);
    CHECK_INT(r.data[4] | r.data[5] << 8, ==, 4082);
    /* the host ACKs that; nothing comes back */
    CHECK_INT(host_write(d, pkt, build(pkt, 0, 0, FLAG_ACK, OP_GET_CAPS, NULL, 0)), ==, SIM_OK);
    CHECK_INT(pending(d), ==, 0);

    CHECK_INT(send_op(d, 1, OP_SYS_INFO), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.seq, ==, 1);
    CHECK_INT(r.len, ==, 76);
    CHECK_INT(r.data[16] | r.data[17] << 8 | r.data[18] << 16 | r.data[19] << 24, ==, 0x37C51205);

    CHECK_INT(send_op(d, 2, OP_VERSION), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK(r.crc_ok);
    CHECK_INT(r.len, ==, 16);

    /* wrong sequence number: NAK SEQUENCE, no reboot */
    CHECK_INT(send_op(d, 9, OP_SYS_BOOT), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK_INT(r.flags, ==, FLAG_NAK);
    CHECK_INT(r.op, ==, OP_SYS_BOOT);
    CHECK_INT(r.data[0] | r.data[1] << 8, ==, 6);
    CHECK_INT(d->transition, ==, SIM_STAY);

    /* an opcode the model does not implement, and one nobody knows */
    CHECK_INT(send_op(d, 4, OP_CHANNEL_LIST), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK_INT(r.flags, ==, FLAG_NAK);
    CHECK_INT(r.data[0], ==, 1);
    CHECK_INT(send_op(d, 5, 0x77), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK_INT(r.flags, ==, FLAG_NAK);
    CHECK_INT(r.data[0], ==, 2);
    /* protocol opcodes belong on channel 0 */
    CHECK_INT(host_write(d, pkt, build(pkt, 6, 3, 0, OP_SYS_BOOT, NULL, 0)), ==, SIM_OK);
    CHECK(recv_packet(d, &r));
    CHECK_INT(r.flags, ==, FLAG_NAK);
    CHECK_INT(r.data[0], ==, 2);
    CHECK_INT(d->transition, ==, SIM_STAY);

    /* at the expected sequence number, SYS_BOOT works */
    CHECK_INT(send_op(d, 7, OP_SYS_BOOT), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "openmv-bl:OPENMVPT");
    sim_dev_free(d);
}

/* The legacy USBDBG commands of firmware <= 4.8.1. */
static void test_v1(void)
{
    const uint8_t fw_version[6] = {0x30, 0x80, 12, 0, 0, 0};
    const uint8_t to_bl[6] = {0x30, 0x0E, 0, 0, 0, 0};
    const uint8_t reset[6] = {0x30, 0x0C, 0, 0, 0, 0};
    const uint8_t exec[6] = {0x30, 0x05, 4, 0, 0, 0}; /* SCRIPT_EXEC, 4 bytes of script */
    struct sim_dev *d = make("OPENMV3");
    uint8_t got[16], pkt[64];
    size_t n;

    if (!d)
        return;
    open_link(d, 12000000);
    CHECK_INT(host_write(d, fw_version, sizeof(fw_version)), ==, SIM_OK);
    CHECK_INT(host_read(d, got, sizeof(got)), ==, 12);
    CHECK(got[0] == 4 && got[4] == 8 && got[8] == 1);
    CHECK_INT(host_write(d, to_bl, 2), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    CHECK_INT(host_write(d, to_bl + 2, 4), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "openmv-bl:OPENMV3");
    sim_dev_free(d);

    d = make("OPENMV2");
    if (!d)
        return;
    open_link(d, 921600);
    /* 0x30 inside a V2 packet with a bad header is no V1 command */
    n = build(pkt, V1_CMD, 0x0E, 0, OP_SYS_INFO, NULL, 0);
    pkt[8] ^= 0x01;
    CHECK_INT(host_write(d, pkt, n), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_STAY);
    /* nor is 0x30 in a command's data; the command after the data is */
    memcpy(pkt, exec, sizeof(exec));
    memcpy(pkt + sizeof(exec), to_bl, 4);
    memcpy(pkt + sizeof(exec) + 4, reset, sizeof(reset));
    CHECK_INT(host_write(d, pkt, sizeof(exec) + 4 + sizeof(reset)), ==, SIM_OK);
    CHECK_INT(d->transition, ==, SIM_BECOME);
    CHECK_STR(d->next_spec, "camera:OPENMV2");
    sim_dev_free(d);
}

static void test_endpoints(void)
{
    struct sim_dev *d = make("OPENMV4");
    uint8_t buf[64];
    size_t len = sizeof(buf);

    if (!d)
        return;
    CHECK_INT(sim_dev_bulk(d, 0x81, buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 0);
    len = sizeof(buf);
    CHECK_INT(sim_dev_bulk(d, 0x82, buf, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 0);
    len = sizeof(buf);
    CHECK_INT(sim_dev_bulk(d, 0x83, buf, &len), ==, SIM_STALL);
    len = 4;
    CHECK_INT(sim_dev_bulk(d, 0x02, buf, &len), ==, SIM_STALL);
    CHECK_INT(d->transition, ==, SIM_STAY);
    sim_dev_free(d);
}

static void test_targets(void)
{
    static const struct {
        const char *name;
        uint16_t pid;
    } targets[] = {
        {"OPENMV2", 0x1202},  {"OPENMV3", 0x1203},   {"OPENMV4", 0x1204},    {"OPENMV4P", 0x124A},
        {"OPENMVPT", 0x1205}, {"OPENMV_N6", 0x1206}, {"OPENMV_AE3", 0x16E3},
    };
    char err[256] = "", want[64];
    uint8_t pkt[64];
    struct sim_dev *d;

    for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
        size_t len = 0;

        d = make(targets[i].name);
        if (!d)
            continue;
        CHECK_INT(d->vid, ==, 0x37C5);
        CHECK_INT(d->pid, ==, targets[i].pid);
        CHECK_INT(ctrl(d, 0x80, 6, 0x0100, 0, 18, pkt, &len), ==, SIM_OK);
        CHECK_INT(pkt[10] | pkt[11] << 8, ==, targets[i].pid);
        open_link(d, 921600);
        CHECK_INT(send_op(d, 0, OP_SYS_BOOT), ==, SIM_OK);
        snprintf(want, sizeof(want), "openmv-bl:%s", targets[i].name);
        CHECK_STR(d->next_spec, want);
        sim_dev_free(d);
    }
    CHECK(sim_model_camera("OPENMV5", err, sizeof(err)) == NULL);
    CHECK_CONTAINS(err, "OPENMV5");
    d = sim_dev_new_from_spec("camera:OPENMV_AE3", err, sizeof(err));
    CHECK(d != NULL);
    if (d) {
        CHECK_INT(d->pid, ==, 0x16E3);
        CHECK_STR(d->serial, "0123456789ABCDEF01234567");
        sim_dev_free(d);
    }
}

/* ---- the MicroPython console ---------------------------------------------------------------- */

/* Everything the camera queued for EP 0x81, as a string. */
static void drain(struct sim_dev *d, struct strbuf *out)
{
    uint8_t buf[512];
    size_t n;

    strbuf_reset(out);
    while ((n = host_read(d, buf, sizeof(buf))) > 0)
        strbuf_add(out, buf, n);
}

static void type(struct sim_dev *d, const char *s)
{
    CHECK_INT(host_write(d, (const uint8_t *)s, strlen(s)), ==, SIM_OK);
}

#define BANNER                                                                                     \
    "MicroPython v1.25.0-omvdev-sim OpenMV v4.7.0; OPENMV4 with STM32H743\r\n"                     \
    "Type \"help()\" for more information.\r\n"

static void test_repl_friendly(void)
{
    struct sim_dev *d = make("OPENMV4");
    struct strbuf sb = STRBUF_INIT;

    if (!d)
        return;
    open_link(d, 115200);
    drain(d, &sb);
    CHECK_STR(sb.buf, BANNER ">>> ");
    type(d, "print('hi')\r");
    drain(d, &sb);
    CHECK_STR(sb.buf, "print('hi')\r\nhi\r\n>>> ");
    type(d, "x\x7f");
    drain(d, &sb);
    CHECK_STR(sb.buf, "x\b \b");
    type(d, "\x03");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\r\nKeyboardInterrupt\r\n>>> ");
    type(d, "\x04");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\r\nMPY: soft reboot\r\n" BANNER ">>> ");
    type(d, "nonsense\r");
    drain(d, &sb);
    CHECK_STR(sb.buf, "nonsense\r\nTraceback (most recent call last):\r\n  File \"<stdin>\", "
                      "line 1\r\nSyntaxError: invalid syntax\r\n>>> ");
    /* the debug protocol's line coding: REPL output is not mixed into it */
    type(d, "print(1)\r");
    CHECK_INT(set_line_coding(d, 921600), ==, SIM_OK);
    CHECK_INT(pending(d), ==, 0);
    /* back at a REPL rate the banner is not repeated */
    CHECK_INT(set_line_coding(d, 115200), ==, SIM_OK);
    CHECK_INT(pending(d), ==, 0);
    strbuf_release(&sb);
    sim_dev_free(d);
}

static void test_repl_raw(void)
{
    struct sim_dev *d = make("OPENMV4");
    struct strbuf sb = STRBUF_INIT;

    if (!d)
        return;
    open_link(d, 115200);
    drain(d, &sb);
    type(d, "\x01");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\r\nraw REPL; CTRL-B to exit\r\n>");
    type(d, "print('a')\nprint(-7)\n\nraise OSError('no sensor')\nprint('b')");
    drain(d, &sb);
    CHECK_STR(sb.buf, ""); /* no echo in the raw REPL */
    type(d, "\x04");
    drain(d, &sb);
    CHECK_STR(sb.buf, "OKa\r\n-7\r\n\x04Traceback (most recent call last):\r\n  File "
                      "\"<stdin>\", line 4, in <module>\r\nOSError: no sensor\r\n\x04>");
    type(d, "raise KeyError\x04");
    drain(d, &sb);
    CHECK_CONTAINS(sb.buf, "line 1, in <module>\r\nKeyError\r\n\x04>");
    type(d, "\x04");
    drain(d, &sb);
    CHECK_STR(sb.buf, "MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>");
    type(d, "\x02");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\r\n" BANNER ">>> ");
    strbuf_release(&sb);
    sim_dev_free(d);
}

/* A sleeping script reads no input: the receive buffer fills and the rest is NAKed;
 * Ctrl-C still gets through while there is room; time wakes the script. */
static void test_repl_buffer(void)
{
    struct sim_dev *d = make("OPENMV4");
    struct strbuf sb = STRBUF_INIT;
    uint8_t big[700];
    size_t len = sizeof(big);

    if (!d)
        return;
    open_link(d, 115200);
    drain(d, &sb);
    type(d, "\x01import time\nprint('s')\ntime.sleep(2)\nprint('e')\x04");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\r\nraw REPL; CTRL-B to exit\r\n>OKs\r\n");
    memset(big, 'p', sizeof(big));
    CHECK_INT(sim_dev_bulk(d, 0x01, big, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 512);
    CHECK_CONTAINS(d->log.buf, "REPL: 512 of 700 bytes accepted (buffer full)");
    len = 10;
    CHECK_INT(sim_dev_bulk(d, 0x01, big, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 0);
    sim_dev_advance(d, 2000001);
    drain(d, &sb);
    CHECK_STR(sb.buf, "e\r\n\x04\x04>");
    /* the buffer drained into the next script */
    len = 10;
    CHECK_INT(sim_dev_bulk(d, 0x01, big, &len), ==, SIM_OK);
    CHECK_INT(len, ==, 10);
    /* Ctrl-C interrupts a sleeping script */
    type(d, "\x03time.sleep(100)\x04");
    drain(d, &sb);
    CHECK_STR(sb.buf, "OK");
    type(d, "\x03");
    drain(d, &sb);
    CHECK_STR(sb.buf, "\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 1, in "
                      "<module>\r\nKeyboardInterrupt: \r\n\x04>");
    strbuf_release(&sb);
    sim_dev_free(d);
}

static void test_repl_markers(void)
{
    static const char *const scripts[] = {"print(1)\n#sim: reset\nprint(2)",
                                          "import machine\nmachine.reset()",
                                          "print(1)\n#sim: vanish"};
    static const int want[] = {SIM_BECOME, SIM_BECOME, SIM_DISAPPEAR};

    for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
        struct sim_dev *d = make("OPENMV4");
        struct strbuf sb = STRBUF_INIT;

        if (!d)
            return;
        open_link(d, 115200);
        type(d, "\x01");
        type(d, scripts[i]);
        type(d, "\x04");
        CHECK_INT(d->transition, ==, want[i]);
        if (want[i] == SIM_BECOME)
            CHECK_STR(d->next_spec, "camera:OPENMV4");
        drain(d, &sb);
        CHECK(strstr(sb.buf, "2\r\n") == NULL);
        strbuf_release(&sb);
        sim_dev_free(d);
    }
}

TESTS(TEST(test_crc_reference), TEST(test_descriptors), TEST(test_line_coding), TEST(test_sys_boot),
      TEST(test_bad_packets), TEST(test_payload_crc), TEST(test_sys_reset), TEST(test_split_writes),
      TEST(test_link_down), TEST(test_conversation), TEST(test_v1), TEST(test_endpoints),
      TEST(test_targets), TEST(test_repl_friendly), TEST(test_repl_raw), TEST(test_repl_buffer),
      TEST(test_repl_markers))
