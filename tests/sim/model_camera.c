/*
 * The virtual camera's camera: an OpenMV board running its firmware, seen
 * from USB as a CDC-ACM serial port that speaks the OpenMV protocol.
 *
 * USB: device class EF/02/01 with an Interface Association Descriptor, CDC
 * communication interface 0 (02/02/01, interrupt IN 0x82, 8 bytes) and CDC
 * data interface 1 (0A, bulk OUT 0x01 and bulk IN 0x81, 64 bytes). The class
 * requests SET_LINE_CODING, GET_LINE_CODING, SET_CONTROL_LINE_STATE and
 * SEND_BREAK are answered; everything else STALLs.
 *
 * The link is the firmware's debug protocol only while DTR is set and the
 * line coding asks for the magic baud rate (921600 for protocol V2; 921600
 * or 12000000 for the legacy V1 "USBDBG" commands); at any other setting the
 * bytes go to the MicroPython REPL, which this model ignores. Host bytes on
 * EP 0x01 are parsed as a stream, so a packet may arrive in any number of
 * bulk writes; answers queue up for EP 0x81 (a read with nothing queued
 * returns 0 bytes, which the core treats as a NAK).
 *
 * Protocol V2 (openmv/openmv protocol/omv_protocol.[ch], common/omv_crc.[ch],
 * docs/protocol.md), all multi-byte fields little-endian:
 *
 *   0  SYNC    2  0xD5AA as a little-endian word: bytes AA D5 on the wire
 *   2  SEQ     1  must equal the device's counter (PROTO_SYNC resets it)
 *   3  CHAN    1  0 for protocol and system opcodes (<= 0x14)
 *   4  FLAGS   1  ACK 0x01, NAK 0x02, RTX 0x04, ACK_REQ 0x08, FRAGMENT 0x10, EVENT 0x20
 *   5  OPCODE  1
 *   6  LENGTH  2  payload length
 *   8  CRC     2  CRC-16 of bytes 0..7
 *   10 DATA    LENGTH bytes, then a CRC-32 of DATA (4 bytes) when LENGTH > 0
 *
 * CRC-16: polynomial 0xF94F, initial 0xFFFF; CRC-32: polynomial 0xFA567D89,
 * initial 0xFFFFFFFF; both MSB first (not reflected), no final XOR.
 *
 * V2 opcodes modelled: PROTO_SYNC, PROTO_GET_CAPS, PROTO_SET_CAPS, PROTO_STATS,
 * PROTO_VERSION, SYS_RESET (reboot: "camera:<TARGET>"), SYS_BOOT (reboot into
 * the DFU bootloader: "openmv-bl:<TARGET>"), SYS_INFO. The other opcodes the
 * firmware knows get a NAK with status FAILED, unknown ones a NAK with
 * INVALID, as the firmware's default case does. The device's own packets
 * that carry data ask for an ACK (ACK_REQ), as the firmware's do, but the
 * model does not wait for it nor retransmit; host ACKs and NAKs are dropped.
 *
 * Protocol V1 (firmware <= 4.8.1, common/usbdbg.[ch] and common/tinyusb_debug.c
 * before openmv/openmv 515fd763a): a 6-byte command [0x30, opcode, length as
 * u32 LE]. 0x0E SYS_RESET_TO_BL reboots into the bootloader, 0x0C SYS_RESET
 * reboots; for other opcodes with bit 7 set the model answers `length` bytes
 * (FW_VERSION 0x80: 4.8.1 as three u32), for the rest it drops `length`
 * data bytes. A command is recognised only where one can start: at the first
 * byte of a bulk write or right after a command (with its data) or a V2
 * packet. A real camera runs one protocol or the other; this model
 * understands both.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"

#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- boards ---------------------------------------------------------------------- */

struct camera_target {
    const char *name;
    uint16_t pid;
};

static const struct camera_target camera_targets[] = {
    {"OPENMV2", 0x1202},  {"OPENMV3", 0x1203},   {"OPENMV4", 0x1204},    {"OPENMV4P", 0x124A},
    {"OPENMVPT", 0x1205}, {"OPENMV_N6", 0x1206}, {"OPENMV_AE3", 0x16E3},
};

#define CAMERA_VID            0x37C5
#define CAMERA_BCD_DEVICE     0x0200
#define CAMERA_MANUFACTURER   "OpenMV"
#define CAMERA_PRODUCT        "OpenMV Virtual Comm Port in FS Mode"
#define CAMERA_DEFAULT_SERIAL "0123456789ABCDEF01234567"

/* ---- USB CDC ----------------------------------------------------------------------- */

#define EP_NOTIFY   0x82
#define EP_DATA_OUT 0x01
#define EP_DATA_IN  0x81

enum {
    CDC_SEND_ENCAPSULATED_COMMAND = 0x00,
    CDC_GET_ENCAPSULATED_RESPONSE = 0x01,
    CDC_SET_LINE_CODING = 0x20,
    CDC_GET_LINE_CODING = 0x21,
    CDC_SET_CONTROL_LINE_STATE = 0x22,
    CDC_SEND_BREAK = 0x23,
};

#define MAGIC_BAUD_V2      921600u
#define MAGIC_BAUD_V1_FAST 12000000u

/* ---- protocol V2 ------------------------------------------------------------------- */

#define V2_SYNC0       0xAA
#define V2_SYNC1       0xD5
#define V2_HEADER      10
#define V2_MAX_BUFFER  4096
#define V2_MIN_PAYLOAD (64 - V2_HEADER - 4)
#define V2_MAX_PAYLOAD (V2_MAX_BUFFER - V2_HEADER - 4)

enum {
    V2_FLAG_ACK = 0x01,
    V2_FLAG_NAK = 0x02,
    V2_FLAG_RTX = 0x04,
    V2_FLAG_ACK_REQ = 0x08,
    V2_FLAG_FRAGMENT = 0x10,
    V2_FLAG_EVENT = 0x20,
};

enum {
    V2_STATUS_SUCCESS = 0,
    V2_STATUS_FAILED = 1,
    V2_STATUS_INVALID = 2,
    V2_STATUS_CHECKSUM = 5,
    V2_STATUS_SEQUENCE = 6,
    V2_STATUS_OVERFLOW = 7,
};

enum {
    V2_PROTO_SYNC = 0x00,
    V2_PROTO_GET_CAPS = 0x01,
    V2_PROTO_SET_CAPS = 0x02,
    V2_PROTO_STATS = 0x03,
    V2_PROTO_VERSION = 0x04,
    V2_SYS_RESET = 0x10,
    V2_SYS_BOOT = 0x11,
    V2_SYS_INFO = 0x12,
    V2_SYS_EVENT = 0x13,
    V2_SYS_MEMORY = 0x14,
    V2_SYS_LAST = 0x14,
    V2_CHANNEL_LIST = 0x20,
    V2_CHANNEL_EVENT = 0x29,
};

/* Versions reported by PROTO_VERSION: firmware 5.0.0 and protocol 1.0.2 of
 * protocol/omv_protocol.h, bootloader 1.0.3 of boot/include/header.h. */
static const uint8_t version_reply[16] = {1, 0, 2, 1, 0, 3, 5, 0, 0};

/* ---- protocol V1 ------------------------------------------------------------------- */

#define V1_CMD             0x30
#define V1_HEADER          6
#define V1_SYS_RESET       0x0C
#define V1_SYS_RESET_TO_BL 0x0E
#define V1_FW_VERSION      0x80
#define V1_MAX_IN          (1u << 20) /* cap on the bytes a V1 IN command may ask for */

/* ---- the MicroPython console ------------------------------------------------------------ */

/*
 * At any line coding but the debug one, with DTR set, the CDC port is the
 * MicroPython REPL. The model keeps a receive buffer of REPL_RX_BUF bytes:
 * a bulk OUT is accepted only in the 64-byte packets it has room for (the
 * rest is NAKed and retried by the host controller), bytes are consumed at
 * once while the REPL reads input, and only scanned for Ctrl-C while a script
 * runs.
 *
 * Friendly REPL: banner, ">>> ", echo, Enter runs the line, Ctrl-C prints
 * KeyboardInterrupt, Ctrl-D on an empty line is a soft reboot, Ctrl-A enters
 * the raw REPL ("raw REPL; CTRL-B to exit\r\n>"), which collects a script
 * until Ctrl-D, answers "OK", runs it and ends with output 0x04 error 0x04 ">".
 *
 * The interpreter knows, one statement per line: print(LITERAL) of a string
 * or integer, raise NAME or raise NAME("text"), import time, time.sleep(S),
 * time.sleep_ms(MS), import machine, machine.reset() (the camera reboots),
 * machine.bootloader() (it reboots into its DFU bootloader), pass, comments,
 * and the markers "#sim: reset" (as machine.reset()) and "#sim: vanish" (it
 * leaves the bus for good). Anything else is a SyntaxError on that line.
 */
#define REPL_RX_BUF 512
#define REPL_BANNER                                                                                \
    "MicroPython v1.25.0-omvdev-sim OpenMV v4.7.0; %s with STM32H743\r\n"                          \
    "Type \"help()\" for more information.\r\n"

enum repl_mode { REPL_FRIENDLY, REPL_RAW };

struct repl {
    enum repl_mode mode;
    bool greeted;       /* the banner went out since boot */
    struct strbuf rx;   /* received, not consumed yet (<= REPL_RX_BUF) */
    struct strbuf line; /* the friendly line or the raw script being entered */
    /* a running script */
    bool running;
    char *script;
    size_t pos;       /* next statement */
    unsigned lineno;  /* of the statement at pos */
    uint64_t wake_us; /* sleeping until */
    struct strbuf err;
};

/* ---- the model ------------------------------------------------------------------------ */

struct camera {
    const struct camera_target *target;
    uint8_t line_coding[7]; /* dwDTERate (LE), bCharFormat, bParityType, bDataBits */
    bool dtr, rts;
    struct strbuf rx; /* host bytes not parsed yet */
    uint64_t rx_pos;  /* stream position of rx.buf[0] */
    /* Stream positions where a V1 command may start (the first byte of a bulk
     * write, the end of a command or packet), sorted; see v1_may_start(). */
    uint64_t marks[32];
    size_t nr_marks;
    struct strbuf tx; /* device bytes for EP 0x81 */
    uint32_t v1_skip; /* V1 command data still to drop */
    /* protocol V2 state */
    uint8_t seq;
    bool crc_enabled, seq_enabled, ack_enabled, event_enabled;
    uint16_t max_payload;
    uint32_t stats[8]; /* sent, received, checksum errors, sequence errors, ... */
    struct repl repl;
};

enum { STAT_SENT, STAT_RECV, STAT_CHECKSUM, STAT_SEQUENCE };

static struct camera *cam(struct sim_dev *d)
{
    return d->model;
}

/* ---- CRCs ------------------------------------------------------------------------------ */

static uint16_t crc16_table[256];
static uint32_t crc32_table[256];
static bool crc_tables_ready;

static void crc_init_tables(void)
{
    if (crc_tables_ready)
        return;
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c16 = (uint16_t)(i << 8);
        uint32_t c32 = (uint32_t)i << 24;

        for (int bit = 0; bit < 8; bit++) {
            c16 = (uint16_t)((c16 & 0x8000) ? (c16 << 1) ^ 0xF94F : c16 << 1);
            c32 = (c32 & 0x80000000u) ? (c32 << 1) ^ 0xFA567D89u : c32 << 1;
        }
        crc16_table[i] = c16;
        crc32_table[i] = c32;
    }
    crc_tables_ready = true;
}

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[(crc >> 8) ^ p[i]]);
    return crc;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++)
        crc = (crc << 8) ^ crc32_table[((crc >> 24) ^ p[i]) & 0xFF];
    return crc;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- link state -------------------------------------------------------------------------- */

static uint32_t baud(const struct camera *c)
{
    return get32(c->line_coding);
}

static bool v2_active(const struct camera *c)
{
    return c->dtr && baud(c) == MAGIC_BAUD_V2;
}

static bool v1_active(const struct camera *c)
{
    return c->dtr && (baud(c) == MAGIC_BAUD_V2 || baud(c) == MAGIC_BAUD_V1_FAST);
}

static void consume(struct strbuf *sb, size_t n)
{
    memmove(sb->buf, sb->buf + n, sb->len - n);
    strbuf_setlen(sb, sb->len - n);
}

static void consume_rx(struct camera *c, size_t n)
{
    consume(&c->rx, n);
    c->rx_pos += n;
}

/* Remember that a V1 command may start at stream position `at`. */
static void mark(struct camera *c, uint64_t at)
{
    size_t i = 0;

    while (i < c->nr_marks && c->marks[i] < at)
        i++;
    if (i < c->nr_marks && c->marks[i] == at)
        return;
    if (c->nr_marks == ARRAY_SIZE(c->marks)) {
        if (i == 0)
            return;
        /* full: forget the oldest */
        memmove(c->marks, c->marks + 1, (c->nr_marks - 1) * sizeof(c->marks[0]));
        c->nr_marks--;
        i--;
    }
    memmove(c->marks + i + 1, c->marks + i, (c->nr_marks - i) * sizeof(c->marks[0]));
    c->marks[i] = at;
    c->nr_marks++;
}

/*
 * The V1 firmware looks for its 0x30 command byte where a command can start,
 * not at every byte: 0x30 inside a rejected V2 packet is not a command.
 */
static bool v1_may_start(struct camera *c)
{
    size_t old = 0;

    while (old < c->nr_marks && c->marks[old] < c->rx_pos)
        old++;
    memmove(c->marks, c->marks + old, (c->nr_marks - old) * sizeof(c->marks[0]));
    c->nr_marks -= old;
    return c->nr_marks && c->marks[0] == c->rx_pos;
}

static void clear_link(struct camera *c)
{
    c->rx_pos += c->rx.len;
    c->nr_marks = 0;
    strbuf_reset(&c->rx);
    strbuf_reset(&c->tx);
    c->v1_skip = 0;
}

/* The firmware's default protocol configuration, restored on PROTO_SYNC. */
static void v2_defaults(struct camera *c)
{
    c->crc_enabled = c->seq_enabled = c->ack_enabled = c->event_enabled = true;
    c->max_payload = V2_MAX_PAYLOAD;
}

static bool repl_active(const struct camera *c);
static void repl_link_up(struct camera *c);

/* Line coding or DTR changed: leaving debug mode drops what is buffered. */
static void link_changed(struct sim_dev *d, bool was_active)
{
    struct camera *c = cam(d);
    bool now = v1_active(c);

    if (was_active && !now)
        clear_link(c);
    if (!was_active && now)
        strbuf_reset(&c->tx); /* REPL output is not for the debug protocol */
    if (repl_active(c))
        repl_link_up(c);
    if (was_active != now)
        sim_note(d, "debug link %s (%u baud, DTR %d)", now ? "up" : "down", (unsigned)baud(c),
                 c->dtr);
}

/* ---- protocol V2 ------------------------------------------------------------------------- */

static const char *v2_opcode_name(uint8_t op)
{
    static const char *const proto[] = {"PROTO_SYNC", "PROTO_GET_CAPS", "PROTO_SET_CAPS",
                                        "PROTO_STATS", "PROTO_VERSION"};
    static const char *const sys[] = {"SYS_RESET", "SYS_BOOT", "SYS_INFO", "SYS_EVENT",
                                      "SYS_MEMORY"};
    static const char *const chan[] = {
        "CHANNEL_LIST", "CHANNEL_POLL", "CHANNEL_LOCK",  "CHANNEL_UNLOCK", "CHANNEL_SHAPE",
        "CHANNEL_SIZE", "CHANNEL_READ", "CHANNEL_WRITE", "CHANNEL_IOCTL",  "CHANNEL_EVENT"};

    if (op < ARRAY_SIZE(proto))
        return proto[op];
    if (op >= 0x10 && op - 0x10 < (int)ARRAY_SIZE(sys))
        return sys[op - 0x10];
    if (op >= 0x20 && op - 0x20 < (int)ARRAY_SIZE(chan))
        return chan[op - 0x20];
    return "unknown";
}

/* Queue one packet (fragmented as the firmware does) for EP 0x81. */
static void v2_send(struct sim_dev *d, uint8_t opcode, uint8_t channel, uint8_t flags,
                    const uint8_t *data, size_t size)
{
    struct camera *c = cam(d);

    if (!c->ack_enabled)
        flags &= (uint8_t)~V2_FLAG_ACK_REQ;
    else if (!(flags & (V2_FLAG_ACK | V2_FLAG_NAK | V2_FLAG_EVENT)))
        flags |= V2_FLAG_ACK_REQ;
    do {
        size_t frag = size <= c->max_payload ? size : c->max_payload;
        uint8_t hdr[V2_HEADER], crc[4] = {0, 0, 0, 0};

        hdr[0] = V2_SYNC0;
        hdr[1] = V2_SYNC1;
        hdr[2] = c->seq;
        hdr[3] = channel;
        hdr[4] = size > c->max_payload ? (uint8_t)(flags | V2_FLAG_FRAGMENT) : flags;
        hdr[5] = opcode;
        put16(hdr + 6, (uint16_t)frag);
        put16(hdr + 8, c->crc_enabled ? crc16(hdr, 8) : 0);
        strbuf_add(&c->tx, hdr, sizeof(hdr));
        if (frag) {
            if (c->crc_enabled)
                put32(crc, crc32(data, frag));
            strbuf_add(&c->tx, data, frag);
            strbuf_add(&c->tx, crc, sizeof(crc));
        }
        sim_note(d, "v2 send seq %u %s%s%s len %zu", c->seq, v2_opcode_name(opcode),
                 hdr[4] & V2_FLAG_ACK ? " ACK" : "", hdr[4] & V2_FLAG_NAK ? " NAK" : "", frag);
        if (!(flags & V2_FLAG_EVENT)) {
            c->seq++;
            c->stats[STAT_SENT]++;
        }
        data += frag;
        size -= frag;
    } while (size > 0);
}

static void v2_status(struct sim_dev *d, uint8_t opcode, uint8_t channel, int status)
{
    uint8_t resp[2];

    if (status == V2_STATUS_SEQUENCE)
        cam(d)->stats[STAT_SEQUENCE]++;
    else if (status == V2_STATUS_CHECKSUM)
        cam(d)->stats[STAT_CHECKSUM]++;
    if (status == V2_STATUS_SUCCESS) {
        v2_send(d, opcode, channel, V2_FLAG_ACK, NULL, 0);
        return;
    }
    put16(resp, (uint16_t)status);
    v2_send(d, opcode, channel, V2_FLAG_NAK, resp, sizeof(resp));
}

static void reboot_as(struct sim_dev *d, const char *kind)
{
    char spec[64];

    snprintf(spec, sizeof(spec), "%s:%s", kind, cam(d)->target->name);
    sim_leave(d, spec);
}

/* A complete packet with good CRCs: what the firmware's omv_protocol_process does. */
static void v2_process(struct sim_dev *d, uint8_t opcode, uint8_t channel, const uint8_t *payload,
                       size_t len)
{
    struct camera *c = cam(d);
    uint8_t buf[76];

    c->stats[STAT_RECV]++;
    memset(buf, 0, sizeof(buf));
    switch (opcode) {
    case V2_PROTO_SYNC:
        /* Reset, drop whatever else is buffered, ACK, and count from 0. */
        v2_defaults(c);
        consume_rx(c, c->rx.len);
        c->seq = 0;
        v2_status(d, opcode, channel, V2_STATUS_SUCCESS);
        c->seq = 0;
        break;
    case V2_PROTO_GET_CAPS:
        put32(buf, (uint32_t)c->crc_enabled | (uint32_t)c->seq_enabled << 1 |
                       (uint32_t)c->ack_enabled << 2 | (uint32_t)c->event_enabled << 3);
        put16(buf + 4, c->max_payload);
        v2_send(d, opcode, channel, 0, buf, 16);
        break;
    case V2_PROTO_SET_CAPS: {
        uint16_t max = len == 16 ? get16(payload + 4) : 0;

        if (len != 16 || max < V2_MIN_PAYLOAD || max > V2_MAX_PAYLOAD) {
            v2_status(d, opcode, channel, V2_STATUS_INVALID);
            break;
        }
        v2_status(d, opcode, channel, V2_STATUS_SUCCESS); /* ACK with the old settings */
        c->crc_enabled = payload[0] & 1;
        c->seq_enabled = (payload[0] >> 1) & 1;
        c->ack_enabled = (payload[0] >> 2) & 1;
        c->event_enabled = (payload[0] >> 3) & 1;
        c->max_payload = max;
        sim_note(d, "caps: crc %d seq %d ack %d events %d max payload %u", c->crc_enabled,
                 c->seq_enabled, c->ack_enabled, c->event_enabled, max);
        break;
    }
    case V2_PROTO_STATS:
        for (size_t i = 0; i < ARRAY_SIZE(c->stats); i++)
            put32(buf + 4 * i, c->stats[i]);
        v2_send(d, opcode, channel, 0, buf, 32);
        break;
    case V2_PROTO_VERSION:
        v2_send(d, opcode, channel, 0, version_reply, sizeof(version_reply));
        break;
    case V2_SYS_RESET:
        reboot_as(d, "camera");
        break;
    case V2_SYS_BOOT:
        reboot_as(d, "openmv-bl");
        break;
    case V2_SYS_INFO:
        /* cpu_id, dev_id[3], usb_id, chip_id[3], reserved[2], hw_caps[2], memory sizes:
         * only usb_id (VID << 16 | PID) is filled in. */
        put32(buf + 16, (uint32_t)d->vid << 16 | d->pid);
        v2_send(d, opcode, channel, 0, buf, 76);
        break;
    case V2_SYS_EVENT:
    case V2_CHANNEL_EVENT:
        sim_note(d, "v2 event from the host ignored");
        break;
    default:
        if (opcode <= V2_SYS_MEMORY || (opcode >= V2_CHANNEL_LIST && opcode < V2_CHANNEL_EVENT)) {
            sim_note(d, "v2 %s is not modelled", v2_opcode_name(opcode));
            v2_status(d, opcode, channel, V2_STATUS_FAILED);
        } else {
            v2_status(d, opcode, channel, V2_STATUS_INVALID);
        }
        break;
    }
}

static bool v2_header_crc_ok(const struct camera *c, const uint8_t *p)
{
    return !c->crc_enabled || get16(p + 8) == crc16(p, 8);
}

static bool v2_is_sync_command(const struct camera *c, const uint8_t *p)
{
    return p[0] == V2_SYNC0 && p[1] == V2_SYNC1 && p[3] == 0 && p[5] == V2_PROTO_SYNC &&
           get16(p + 6) == 0 && v2_header_crc_ok(c, p);
}

enum parse { PARSE_MORE, PARSE_NEED_DATA };

/*
 * rx starts with the sync bytes and holds a whole header. Returns PARSE_MORE
 * when it consumed something, PARSE_NEED_DATA when the payload is incomplete.
 */
static enum parse v2_packet(struct sim_dev *d)
{
    struct camera *c = cam(d);
    const uint8_t *p = (const uint8_t *)c->rx.buf;
    uint8_t seq = p[2], channel = p[3], flags = p[4], opcode = p[5];
    uint16_t len = get16(p + 6);
    size_t total = V2_HEADER + len + (len ? 4u : 0u);
    uint8_t payload[V2_MAX_PAYLOAD];

    if (!v2_header_crc_ok(c, p)) {
        sim_note(d, "v2 header CRC 0x%04X, expected 0x%04X: ignored", get16(p + 8), crc16(p, 8));
        consume_rx(c, 1);
        return PARSE_MORE;
    }
    if (len > c->max_payload) {
        sim_note(d, "v2 %s length %u > max payload %u", v2_opcode_name(opcode), len,
                 c->max_payload);
        v2_status(d, opcode, channel, V2_STATUS_OVERFLOW);
        consume_rx(c, 1);
        return PARSE_MORE;
    }
    if (c->seq_enabled && seq != c->seq && !(flags & (V2_FLAG_ACK | V2_FLAG_NAK)) &&
        opcode != V2_SYS_EVENT && opcode != V2_CHANNEL_EVENT && opcode != V2_PROTO_SYNC) {
        sim_note(d, "v2 %s sequence %u, expected %u", v2_opcode_name(opcode), seq, c->seq);
        v2_status(d, opcode, channel, V2_STATUS_SEQUENCE);
        consume_rx(c, 1);
        return PARSE_MORE;
    }
    if (c->rx.len < total) {
        /* Waiting for the payload: a whole PROTO_SYNC further on still gets through,
         * so a bad length cannot wedge the parser. */
        for (size_t off = 1; off + V2_HEADER <= c->rx.len; off++)
            if (v2_is_sync_command(c, p + off)) {
                sim_note(d, "v2 PROTO_SYNC found while waiting for %zu bytes", total);
                consume_rx(c, off);
                return PARSE_MORE;
            }
        return PARSE_NEED_DATA;
    }
    memcpy(payload, p + V2_HEADER, len);
    if (len && c->crc_enabled && get32(p + V2_HEADER + len) != crc32(payload, len)) {
        consume_rx(c, total);
        sim_note(d, "v2 %s payload CRC mismatch", v2_opcode_name(opcode));
        v2_status(d, opcode, channel, V2_STATUS_CHECKSUM);
        return PARSE_MORE;
    }
    consume_rx(c, total);
    mark(c, c->rx_pos);
    sim_note(d, "v2 recv seq %u chan %u flags 0x%02X %s len %u", seq, channel, flags,
             v2_opcode_name(opcode), len);
    /* ACKs and NAKs from the host answer packets of ours: nothing waits for them. */
    if (channel != 0 && opcode <= V2_SYS_LAST)
        v2_status(d, opcode, channel, V2_STATUS_INVALID);
    else if (!(flags & (V2_FLAG_ACK | V2_FLAG_NAK)))
        v2_process(d, opcode, channel, payload, len);
    return PARSE_MORE;
}

/* ---- protocol V1 ------------------------------------------------------------------------- */

static void v1_command(struct sim_dev *d, uint8_t opcode, uint32_t length)
{
    struct camera *c = cam(d);

    sim_note(d, "usbdbg command 0x%02X length %u", opcode, (unsigned)length);
    if (opcode == V1_SYS_RESET_TO_BL) {
        reboot_as(d, "openmv-bl");
    } else if (opcode == V1_SYS_RESET) {
        reboot_as(d, "camera");
    } else if (opcode & 0x80) {
        uint8_t version[12];
        size_t n = length < V1_MAX_IN ? length : V1_MAX_IN;

        memset(version, 0, sizeof(version));
        put32(version, 4);
        put32(version + 4, 8);
        put32(version + 8, 1);
        if (opcode == V1_FW_VERSION) {
            size_t k = n < sizeof(version) ? n : sizeof(version);

            strbuf_add(&c->tx, version, k);
            n -= k;
        } else {
            sim_note(d, "usbdbg command 0x%02X is not modelled: %zu zero bytes", opcode, n);
        }
        strbuf_addchars(&c->tx, 0, n);
    } else {
        c->v1_skip = length;
    }
}

/* ---- the MicroPython console (continued) -------------------------------------------------- */

static bool repl_active(const struct camera *c)
{
    return c->dtr && !v1_active(c);
}

static void repl_out(struct camera *c, const char *s)
{
    strbuf_addstr(&c->tx, s);
}

static void repl_prompt(struct camera *c)
{
    repl_out(c, c->repl.mode == REPL_RAW ? ">" : ">>> ");
}

static void repl_banner(struct camera *c)
{
    strbuf_addf(&c->tx, REPL_BANNER, c->target->name);
}

static void repl_traceback(struct strbuf *sb, unsigned line, const char *what)
{
    strbuf_addf(sb,
                "Traceback (most recent call last):\r\n  File \"<stdin>\", line %u, in "
                "<module>\r\n%s\r\n",
                line, what);
}

/* The script ended (normally, by an exception, or interrupted). */
static void repl_finish(struct camera *c)
{
    c->repl.running = false;
    free(c->repl.script);
    c->repl.script = NULL;
    if (c->repl.mode == REPL_RAW) {
        repl_out(c, "\x04");
        strbuf_add(&c->tx, c->repl.err.buf, c->repl.err.len);
        repl_out(c, "\x04>");
    } else {
        strbuf_add(&c->tx, c->repl.err.buf, c->repl.err.len);
        repl_out(c, ">>> ");
    }
    strbuf_reset(&c->repl.err);
}

static void repl_start(struct camera *c, const char *text, size_t len)
{
    c->repl.running = true;
    c->repl.script = xstrndup(text, len);
    c->repl.pos = 0;
    c->repl.lineno = 0;
    c->repl.wake_us = 0;
    strbuf_reset(&c->repl.err);
}

/* A literal: 'text', "text" or a decimal integer; false for anything else. */
static bool repl_literal(const char *s, size_t n, struct strbuf *out)
{
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        strbuf_add(out, s + 1, n - 2);
        return true;
    }
    for (size_t i = 0; i < n; i++)
        if ((s[i] < '0' || s[i] > '9') && !(i == 0 && s[i] == '-' && n > 1))
            return false;
    strbuf_add(out, s, n);
    return n > 0;
}

static bool repl_call(const char *s, size_t n, const char *fn, const char **arg, size_t *arglen)
{
    size_t fl = strlen(fn);

    if (n < fl + 2 || memcmp(s, fn, fl) || s[fl] != '(' || s[n - 1] != ')')
        return false;
    *arg = s + fl + 1;
    *arglen = n - fl - 2;
    return true;
}

/* One statement; false when it raised (the error text is in repl.err). */
static bool repl_statement(struct sim_dev *d, const char *s, size_t n)
{
    struct camera *c = cam(d);
    struct strbuf sb = STRBUF_INIT;
    const char *arg;
    size_t al;
    bool ok = true;

    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r'))
        n--;
    if ((n == 11 && !memcmp(s, "#sim: reset", 11)) ||
        (n == 15 && !memcmp(s, "machine.reset()", 15))) {
        reboot_as(d, "camera");
    } else if (n == 20 && !memcmp(s, "machine.bootloader()", 20)) {
        reboot_as(d, "openmv-bl");
    } else if (n == 12 && !memcmp(s, "#sim: vanish", 12)) {
        sim_leave(d, NULL);
    } else if (!n || *s == '#' || (n == 4 && !memcmp(s, "pass", 4)) ||
               (n == 11 && !memcmp(s, "import time", 11)) ||
               (n == 14 && !memcmp(s, "import machine", 14))) {
        /* nothing to do */
    } else if (repl_call(s, n, "print", &arg, &al) && repl_literal(arg, al, &sb)) {
        strbuf_addstr(&sb, "\r\n");
        strbuf_add(&c->tx, sb.buf, sb.len);
    } else if ((repl_call(s, n, "time.sleep", &arg, &al) ||
                repl_call(s, n, "time.sleep_ms", &arg, &al)) &&
               repl_literal(arg, al, &sb)) {
        uint64_t v = strtoull(sb.buf, NULL, 10);

        c->repl.wake_us = d->now_us + (s[10] == '_' ? v * 1000u : v * 1000000u);
    } else if (n > 6 && !memcmp(s, "raise ", 6)) {
        const char *name = s + 6, *paren = memchr(name, '(', n - 6);
        struct strbuf what = STRBUF_INIT;

        strbuf_add(&what, name, (size_t)((paren ? paren : s + n) - name));
        if (paren && repl_literal(paren + 1, (size_t)(s + n - paren - 2), &sb))
            strbuf_addf(&what, ": %s", sb.buf);
        repl_traceback(&c->repl.err, c->repl.lineno, what.buf);
        strbuf_release(&what);
        ok = false;
    } else {
        strbuf_addf(&c->repl.err,
                    "Traceback (most recent call last):\r\n  File \"<stdin>\", "
                    "line %u\r\nSyntaxError: invalid syntax\r\n",
                    c->repl.lineno);
        ok = false;
    }
    strbuf_release(&sb);
    return ok;
}

/* Run the script until it sleeps, ends, or the camera leaves. */
static void repl_run(struct sim_dev *d)
{
    struct camera *c = cam(d);

    while (c->repl.running && d->transition == SIM_STAY && d->now_us >= c->repl.wake_us) {
        const char *s = c->repl.script + c->repl.pos;
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);

        if (!*s) {
            repl_finish(c);
            break;
        }
        c->repl.pos += n + (nl ? 1 : 0);
        c->repl.lineno++;
        if (!repl_statement(d, s, n)) {
            repl_finish(c);
            break;
        }
    }
}

static void repl_interrupt(struct camera *c)
{
    repl_traceback(&c->repl.err, c->repl.lineno ? c->repl.lineno : 1, "KeyboardInterrupt: ");
    repl_finish(c);
}

static void repl_soft_reboot(struct camera *c)
{
    repl_out(c, "MPY: soft reboot\r\n");
    if (c->repl.mode == REPL_RAW) {
        repl_out(c, "raw REPL; CTRL-B to exit\r\n>");
        return;
    }
    repl_banner(c);
    repl_prompt(c);
}

static void repl_friendly_char(struct sim_dev *d, char ch)
{
    struct camera *c = cam(d);

    switch (ch) {
    case 0x01: /* Ctrl-A */
        c->repl.mode = REPL_RAW;
        strbuf_reset(&c->repl.line);
        repl_out(c, "\r\nraw REPL; CTRL-B to exit\r\n>");
        break;
    case 0x03: /* Ctrl-C */
        strbuf_reset(&c->repl.line);
        repl_out(c, "\r\nKeyboardInterrupt\r\n>>> ");
        break;
    case 0x04: /* Ctrl-D */
        if (!c->repl.line.len) {
            repl_out(c, "\r\n");
            repl_soft_reboot(c);
        }
        break;
    case '\r':
        repl_out(c, "\r\n");
        repl_start(c, c->repl.line.buf, c->repl.line.len);
        strbuf_reset(&c->repl.line);
        repl_run(d);
        break;
    case 0x08:
    case 0x7F:
        if (c->repl.line.len) {
            strbuf_setlen(&c->repl.line, c->repl.line.len - 1);
            repl_out(c, "\b \b");
        }
        break;
    default:
        if ((unsigned char)ch >= 0x20) {
            strbuf_addch(&c->repl.line, ch);
            strbuf_addch(&c->tx, ch);
        }
    }
}

static void repl_raw_char(struct sim_dev *d, char ch)
{
    struct camera *c = cam(d);

    switch (ch) {
    case 0x02: /* Ctrl-B: back to the friendly REPL */
        c->repl.mode = REPL_FRIENDLY;
        strbuf_reset(&c->repl.line);
        repl_out(c, "\r\n");
        repl_banner(c);
        repl_prompt(c);
        break;
    case 0x03:
        strbuf_reset(&c->repl.line);
        break;
    case 0x04:
        if (!c->repl.line.len) {
            repl_soft_reboot(c);
            break;
        }
        repl_out(c, "OK");
        sim_note(d, "raw REPL: run %zu bytes", c->repl.line.len);
        repl_start(c, c->repl.line.buf, c->repl.line.len);
        strbuf_reset(&c->repl.line);
        repl_run(d);
        break;
    default:
        strbuf_addch(&c->repl.line, ch);
    }
}

/* Consume what the REPL would read now; a running script only sees Ctrl-C. */
static void repl_pump(struct sim_dev *d)
{
    struct camera *c = cam(d);
    size_t i = 0;

    repl_run(d);
    for (; i < c->repl.rx.len && d->transition == SIM_STAY; i++) {
        char ch = c->repl.rx.buf[i];

        if (c->repl.running) {
            const char *cc = memchr(c->repl.rx.buf + i, 0x03, c->repl.rx.len - i);

            if (!cc)
                break;
            i = (size_t)(cc - c->repl.rx.buf);
            repl_interrupt(c);
            continue;
        }
        if (c->repl.mode == REPL_RAW)
            repl_raw_char(d, ch);
        else
            repl_friendly_char(d, ch);
    }
    consume(&c->repl.rx, i);
}

/* A bulk OUT while the REPL has the port: take what fits in the buffer. */
static void repl_receive(struct sim_dev *d, const uint8_t *data, size_t *len)
{
    struct camera *c = cam(d);
    size_t room = REPL_RX_BUF - c->repl.rx.len;

    repl_pump(d);
    room = REPL_RX_BUF - c->repl.rx.len;
    if (*len > room) {
        /* USB takes or NAKs a 64-byte packet whole */
        room -= room % 64;
        sim_note(d, "REPL: %zu of %zu bytes accepted (buffer full)", room, *len);
        *len = room;
    }
    strbuf_add(&c->repl.rx, data, *len);
    repl_pump(d);
}

/* The link became the REPL's: what the firmware printed since boot is waiting. */
static void repl_link_up(struct camera *c)
{
    if (c->repl.greeted)
        return;
    c->repl.greeted = true;
    repl_banner(c);
    repl_prompt(c);
}

static void repl_release(struct repl *r)
{
    strbuf_release(&r->rx);
    strbuf_release(&r->line);
    strbuf_release(&r->err);
    free(r->script);
}

/* ---- the byte stream ------------------------------------------------------------------------ */

static void parse_rx(struct sim_dev *d)
{
    struct camera *c = cam(d);
    size_t skipped = 0;

    while (c->rx.len && d->transition == SIM_STAY) {
        const uint8_t *p = (const uint8_t *)c->rx.buf;

        if (c->v1_skip) {
            size_t n = c->rx.len < c->v1_skip ? c->rx.len : c->v1_skip;

            consume_rx(c, n);
            c->v1_skip -= (uint32_t)n;
            continue;
        }
        if (v2_active(c) && p[0] == V2_SYNC0 && (c->rx.len < 2 || p[1] == V2_SYNC1)) {
            if (c->rx.len < V2_HEADER || v2_packet(d) == PARSE_NEED_DATA)
                break;
            continue;
        }
        if (v1_active(c) && p[0] == V1_CMD && v1_may_start(c)) {
            if (c->rx.len < V1_HEADER)
                break;
            v1_command(d, p[1], get32(p + 2));
            consume_rx(c, V1_HEADER);
            mark(c, c->rx_pos + c->v1_skip);
            continue;
        }
        consume_rx(c, 1);
        skipped++;
    }
    if (skipped)
        sim_note(d, "%zu bytes without a sync pattern skipped", skipped);
}

/* ---- USB ---------------------------------------------------------------------------------------
 */

static int camera_control(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct camera *c = cam(d);
    bool was_active = v1_active(c);

    /* Class requests to the communication interface only. */
    if ((s->bmRequestType & 0x7F) != 0x21 || s->wIndex != 0)
        return SIM_STALL;
    switch (s->bRequest) {
    case CDC_SET_LINE_CODING:
        if (s->bmRequestType & 0x80 || s->wLength != sizeof(c->line_coding))
            return SIM_STALL;
        memcpy(c->line_coding, data, sizeof(c->line_coding));
        sim_note(d, "line coding %u baud, %u data bits, parity %u, stop %u", (unsigned)baud(c),
                 c->line_coding[6], c->line_coding[5], c->line_coding[4]);
        link_changed(d, was_active);
        return SIM_OK;
    case CDC_GET_LINE_CODING:
        if (!(s->bmRequestType & 0x80))
            return SIM_STALL;
        *len = s->wLength < sizeof(c->line_coding) ? s->wLength : sizeof(c->line_coding);
        memcpy(data, c->line_coding, *len);
        return SIM_OK;
    case CDC_SET_CONTROL_LINE_STATE:
        if (s->bmRequestType & 0x80)
            return SIM_STALL;
        c->dtr = s->wValue & 1;
        c->rts = (s->wValue >> 1) & 1;
        sim_note(d, "control lines DTR %d RTS %d", c->dtr, c->rts);
        link_changed(d, was_active);
        *len = 0;
        return SIM_OK;
    case CDC_SEND_BREAK:
        if (s->bmRequestType & 0x80)
            return SIM_STALL;
        sim_note(d, "break %u ms", s->wValue);
        *len = 0;
        return SIM_OK;
    }
    return SIM_STALL;
}

static int camera_bulk(struct sim_dev *d, uint8_t ep, uint8_t *data, size_t *len)
{
    struct camera *c = cam(d);

    switch (ep) {
    case EP_DATA_OUT:
        if (repl_active(c)) {
            repl_receive(d, data, len);
            return SIM_OK;
        }
        if (!v1_active(c)) {
            sim_note(d, "REPL: %zu bytes ignored (debug link down: %u baud, DTR %d)", *len,
                     (unsigned)baud(c), c->dtr);
            return SIM_OK;
        }
        mark(c, c->rx_pos + c->rx.len);
        strbuf_add(&c->rx, data, *len);
        parse_rx(d);
        return SIM_OK;
    case EP_DATA_IN: {
        size_t n;

        if (repl_active(c))
            repl_pump(d);
        n = c->tx.len < *len ? c->tx.len : *len;

        memcpy(data, c->tx.buf, n);
        consume(&c->tx, n);
        *len = n;
        return SIM_OK;
    }
    case EP_NOTIFY:
        *len = 0; /* no serial-state notifications: always NAK */
        return SIM_OK;
    }
    return SIM_STALL;
}

static void camera_reset(struct sim_dev *d)
{
    struct camera *c = cam(d);
    bool was_active = v1_active(c);

    /* A bus reset reconfigures the port: DTR off, default line coding. */
    c->dtr = c->rts = false;
    put32(c->line_coding, 115200);
    c->line_coding[4] = 0;
    c->line_coding[5] = 0;
    c->line_coding[6] = 8;
    clear_link(c);
    link_changed(d, was_active);
}

static void camera_destroy(struct sim_dev *d)
{
    struct camera *c = cam(d);

    if (!c)
        return;
    strbuf_release(&c->rx);
    strbuf_release(&c->tx);
    repl_release(&c->repl);
    free(c);
    d->model = NULL;
}

static const struct sim_model_ops camera_ops = {
    .kind = "camera",
    .control = camera_control,
    .bulk = camera_bulk,
    .set_alt = NULL,
    .reset = camera_reset,
    .destroy = camera_destroy,
};

/* The configuration after its 9-byte header: IAD, CDC communication and data interfaces. */
static void add_cdc_config(struct sim_dev *d)
{
    /* interface association: interfaces 0-1, CDC ACM */
    static const uint8_t iad[] = {8, 0x0B, 0, 2, 0x02, 0x02, 0x01, 0};
    /* interface 0: communication, ACM, AT commands; one endpoint */
    static const uint8_t comm[] = {9, 0x04, 0, 0, 1, 0x02, 0x02, 0x01, 0};
    /* functional descriptors: header (CDC 1.10), call management (none, data
     * interface 1), ACM (line coding and control line state), union (0 -> 1) */
    static const uint8_t header[] = {5, 0x24, 0x00, 0x10, 0x01};
    static const uint8_t call_mgmt[] = {5, 0x24, 0x01, 0x00, 1};
    static const uint8_t acm[] = {4, 0x24, 0x02, 0x02};
    static const uint8_t cdc_union[] = {5, 0x24, 0x06, 0, 1};
    /* notifications: interrupt IN, 8 bytes, every 16 ms */
    static const uint8_t notify[] = {7, 0x05, EP_NOTIFY, 0x03, 8, 0, 16};
    /* interface 1: data, two bulk endpoints of 64 bytes */
    static const uint8_t data[] = {9, 0x04, 1, 0, 2, 0x0A, 0x00, 0x00, 0};
    static const uint8_t out[] = {7, 0x05, EP_DATA_OUT, 0x02, 64, 0, 0};
    static const uint8_t in[] = {7, 0x05, EP_DATA_IN, 0x02, 64, 0, 0};

    sim_dev_config_begin(d, 2);
    sim_dev_config_add(d, iad, sizeof(iad));
    sim_dev_config_add(d, comm, sizeof(comm));
    sim_dev_config_add(d, header, sizeof(header));
    sim_dev_config_add(d, call_mgmt, sizeof(call_mgmt));
    sim_dev_config_add(d, acm, sizeof(acm));
    sim_dev_config_add(d, cdc_union, sizeof(cdc_union));
    sim_dev_config_add(d, notify, sizeof(notify));
    sim_dev_config_add(d, data, sizeof(data));
    sim_dev_config_add(d, out, sizeof(out));
    sim_dev_config_add(d, in, sizeof(in));
    sim_dev_config_finish(d);
}

struct sim_dev *sim_model_camera(const char *target, char *err, size_t errlen)
{
    const struct camera_target *t = NULL;
    struct sim_dev *d;
    struct camera *c;

    for (size_t i = 0; i < ARRAY_SIZE(camera_targets); i++)
        if (!strcmp(camera_targets[i].name, target))
            t = &camera_targets[i];
    if (!t) {
        omv_seterr(err, errlen, OMV_EINVAL,
                   "unknown camera '%s' (OPENMV2, OPENMV3, OPENMV4, OPENMV4P, OPENMVPT, "
                   "OPENMV_N6 or OPENMV_AE3)",
                   target);
        return NULL;
    }
    crc_init_tables();
    d = sim_dev_new(CAMERA_VID, t->pid, CAMERA_BCD_DEVICE, CAMERA_MANUFACTURER, CAMERA_PRODUCT,
                    CAMERA_DEFAULT_SERIAL);
    d->dev_class = 0xEF; /* miscellaneous, common class, interface association */
    d->dev_subclass = 0x02;
    d->dev_protocol = 0x01;
    d->state = SIM_DFU_STATE_APP_IDLE; /* not a DFU device: nothing for DFU faults to match */
    add_cdc_config(d);

    c = xcalloc(1, sizeof(*c));
    c->target = t;
    strbuf_init(&c->rx);
    strbuf_init(&c->tx);
    strbuf_init(&c->repl.rx);
    strbuf_init(&c->repl.line);
    strbuf_init(&c->repl.err);
    v2_defaults(c);
    d->ops = &camera_ops;
    d->model = c;
    camera_reset(d);
    strbuf_reset(&d->notes); /* construction is not a request */
    return d;
}
