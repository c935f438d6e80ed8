/*
 * The OpenMV DFU bootloader (openmv/openmv boot/src/common/{main,dfu,desc}.c,
 * TinyUSB DFU class): plain DFU 1.1, not DfuSe. VID 0x37C5, PID per board,
 * bcdDevice 0x0103 (bootloader 1.0.3), strings "OpenMV" / "OpenMV Camera
 * (DFU Mode)" / 24 hex digits of the MCU UID, one interface with one alt
 * setting per partition (names from OMV_BOOT_DFU_PARTITIONS_STR, string
 * indexes from 4), functional descriptor CAN_UPLOAD | CAN_DOWNLOAD |
 * MANIFESTATION_TOLERANT, detach 1000 ms, wTransferSize 4096, bcdDFU 0x0110.
 *
 * Addressing: partition.start + wBlockNum * 4096, whatever wLength is.
 * DNLOAD (boot/src/common/dfu.c tud_dfu_download_cb, run after the first
 * GETSTATUS): a read-only partition -> errWRITE; addr + length > limit ->
 * errADDRESS; otherwise flash_write(), whose failure is errWRITE. Erase is
 * implicit: a write that starts on a sector or block boundary erases that
 * sector first (STM32 internal flash: the sector tables of stm32_flash.c;
 * QSPI and XSPI NOR: 64 KiB blocks; Alif OSPI NOR: 4 KiB sectors; Alif MRAM:
 * no erase). STM32 internal flash is programmed in flash words (32 bytes on
 * H7, 4 on F4/F7) and a partial last word is padded with zeros; MRAM is
 * written in 16-byte units, rounded up with whatever the transfer buffer
 * held after the data (stale bytes of the previous block, as on the device).
 * UPLOAD (tud_dfu_upload_cb): reads start + block * 4096; when addr + wLength
 * passes the limit it answers a 4-byte zero frame (EOF), so a dfu-util -U
 * dump is the partition plus those 4 bytes.
 *
 * The DFU state machine is TinyUSB's (src/class/dfu/dfu_device.c): DNLOAD
 * only in dfuIDLE or dfuDNLOAD-IDLE (else STALL, no state change), wLength 0
 * -> dfuMANIFEST-SYNC even from dfuIDLE; GETSTATUS in DNLOAD-SYNC answers
 * dfuDNBUSY (poll = the partition's delay, 0 on every board) and then does
 * the write, after which the state is DNLOAD-SYNC again (or dfuERROR) and the
 * next GETSTATUS answers dfuDNLOAD-IDLE; GETSTATUS in MANIFEST-SYNC answers
 * dfuMANIFEST and the next one dfuIDLE (manifestation tolerant); CLRSTATUS
 * and ABORT reset to dfuIDLE/OK in any state; UPLOAD works in any state and
 * changes none; SET_INTERFACE resets the state too. d->state shows what the
 * host last saw: dfuDNBUSY after the first GETSTATUS, though internally the
 * state is already DNLOAD-SYNC again (GETSTATE answers the internal one).
 *
 * Leaving: DETACH, or a USB reset (TinyUSB unmounts, boot/src/common/main.c
 * leaves its loop once tud_mounted() is false, used or not), disconnects and
 * jumps to the firmware: the device becomes "camera:<TARGET>". The 1.5 s
 * window of an unused bootloader (OMV_BOOT_DFU_TIMEOUT) is not modelled: the
 * model behaves as a bootloader entered by the firmware's SYS_BOOT, which
 * waits forever.
 *
 * AE3 RECOVERY alt: a write beginning with the 16-byte key runs the OSPI
 * recovery of alif_ospi.c (JESD reset, then the whole chip written to 0 and
 * to 1 twice: it reads erased); once per boot; anything else -> errWRITE.
 * Reading it fails (flash_read has no recovery type): a zero-length frame
 * and dfuERROR/errFILE.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"

#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OMV_VID        0x37C5
#define OMV_BCD_DEVICE 0x0103
#define OMV_MANUF      "OpenMV"
#define OMV_PRODUCT    "OpenMV Camera (DFU Mode)"
#define OMV_SERIAL     "0123456789ABCDEF01234567"
#define XFER           4096
#define FUNC_ATTRS     0x07 /* CAN_DOWNLOAD | CAN_UPLOAD | MANIFESTATION_TOLERANT */
#define DETACH_TIMEOUT 1000
#define BCD_DFU        0x0110
#define MAX_PARTS      8

/* ---- memories ----------------------------------------------------------------------- */

enum mem {
    MEM_INTERNAL, /* STM32 flash at 0x08000000 */
    MEM_QSPI,     /* QSPI NOR, DFU addresses from 0 */
    MEM_XSPI,     /* N6 XSPI NOR, from 0 */
    MEM_OSPI,     /* AE3 OSPI NOR, from 0 */
    MEM_MRAM,     /* AE3 MRAM at 0x80000000 */
    MEM_COUNT,
    MEM_RECOVERY = MEM_COUNT, /* AE3's key alt: not a memory */
};

enum mcu { MCU_F4, MCU_F7, MCU_H7, MCU_N6, MCU_AE3 };

/*
 * One memory: name (the dump file), geometry and costs. Internal flash uses
 * the device's timing (H7 defaults of sim.c; F4/F7 set at construction);
 * the others carry their own, typical datasheet values (UNCERTAIN): W25Q-
 * class QSPI 64 KiB block erase 150 ms, MX25UM XSPI 64 KiB 220 ms, OSPI
 * 4 KiB sector 45 ms, NOR page programming ~3 µs a byte, MRAM 1 µs per
 * 16-byte unit.
 */
struct mem_spec {
    const char *name;
    uint32_t base, size, sector, unit;
    bool strict;
    uint32_t erase_us, program_us; /* 0: the device's timing */
};

static const struct mem_spec mem_specs[MEM_COUNT] = {
    [MEM_INTERNAL] = {"internal", 0x08000000, 0x200000, 0x20000, 1, false, 0, 0},
    [MEM_QSPI] = {"qspi", 0, 0x2000000, 0x10000, 1, false, 150000, 3},
    [MEM_XSPI] = {"xspi", 0, 0x2000000, 0x10000, 1, false, 220000, 3},
    [MEM_OSPI] = {"ospi", 0, 0x2000000, 0x1000, 1, false, 45000, 3},
    [MEM_MRAM] = {"mram", 0x80000000, 0x580000, 16, 16, false, 0, 1},
};

#define MRAM_UNIT   16
#define RECOVERY_US (4u * 20000000u) /* four chip erases of the OSPI NOR (UNCERTAIN) */

/* STM32 sector starts (stm32_flash.c) and where the last sector ends. */
static const uint32_t f4_sectors[] = {
    0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000, 0x08020000, 0x08040000,
    0x08060000, 0x08080000, 0x080A0000, 0x080C0000, 0x080E0000, 0x08100000,
};
static const uint32_t f7_sectors[] = {
    0x08000000, 0x08008000, 0x08010000, 0x08018000, 0x08020000, 0x08040000, 0x08080000,
    0x080C0000, 0x08100000, 0x08140000, 0x08180000, 0x081C0000, 0x08200000,
};
static const uint32_t h7_sectors[] = {
    0x08000000, 0x08020000, 0x08040000, 0x08060000, 0x08080000, 0x080A0000,
    0x080C0000, 0x080E0000, 0x08100000, 0x08120000, 0x08140000, 0x08160000,
    0x08180000, 0x081A0000, 0x081C0000, 0x081E0000, 0x08200000,
};

static const uint8_t recovery_key[16] = {0x15, 0x9e, 0x7d, 0x42, 0x96, 0x1a, 0x71, 0xeb,
                                         0x73, 0xa3, 0x26, 0x29, 0x2b, 0x08, 0x09, 0x0e};

/* ---- boards (openmv/openmv boards/<T>/boot_config.h) -------------------------------- */

struct partition {
    const char *name;
    uint32_t start, limit;
    enum mem mem;
    bool rdonly;
};

struct target {
    const char *name;
    uint16_t pid;
    enum mcu mcu;
    struct partition parts[MAX_PARTS];
};

#define H7_PARTS(fw_limit)                                                                         \
    {"BOOTLOADER", 0x08000000, 0x08020000, MEM_INTERNAL, true},                                    \
        {"FILESYSTEM", 0x08020000, 0x08040000, MEM_INTERNAL, false},                               \
    {                                                                                              \
        "FIRMWARE", 0x08040000, fw_limit, MEM_INTERNAL, false                                      \
    }

static const struct target targets[] = {
    {"OPENMV2",
     0x9202,
     MCU_F4,
     {{"BOOTLOADER", 0x08000000, 0x08008000, MEM_INTERNAL, true},
      {"FILESYSTEM", 0x08008000, 0x08010000, MEM_INTERNAL, false},
      {"FIRMWARE", 0x08010000, 0x080E0000, MEM_INTERNAL, false},
      {"ROMFS0", 0x080E0000, 0x08100000, MEM_INTERNAL, false}}},
    {"OPENMV3",
     0x9203,
     MCU_F7,
     {{"BOOTLOADER", 0x08000000, 0x08008000, MEM_INTERNAL, true},
      {"FILESYSTEM", 0x08008000, 0x08020000, MEM_INTERNAL, false},
      {"FIRMWARE", 0x08020000, 0x081C0000, MEM_INTERNAL, false},
      {"ROMFS0", 0x081C0000, 0x08200000, MEM_INTERNAL, false}}},
    {"OPENMV4",
     0x9204,
     MCU_H7,
     {H7_PARTS(0x081E0000), {"ROMFS0", 0x081E0000, 0x08200000, MEM_INTERNAL, false}}},
    {"OPENMV4P",
     0x924A,
     MCU_H7,
     {H7_PARTS(0x08200000),
      {"SPI_FLASH", 0x00000000, 0x02000000, MEM_QSPI, false},
      {"ROMFS0", 0x01800000, 0x02000000, MEM_QSPI, false}}},
    {"OPENMVPT",
     0x9205,
     MCU_H7,
     {H7_PARTS(0x08200000),
      {"SPI_FLASH", 0x00000000, 0x02000000, MEM_QSPI, false},
      {"ROMFS0", 0x01800000, 0x02000000, MEM_QSPI, false}}},
    {"OPENMV_N6",
     0x9206,
     MCU_N6,
     {{"BOOTLOADER", 0x00000000, 0x00080000, MEM_XSPI, true},
      {"FIRMWARE", 0x00080000, 0x00400000, MEM_XSPI, false},
      {"FILESYSTEM", 0x00400000, 0x00800000, MEM_XSPI, false},
      {"ROMFS0", 0x00800000, 0x02000000, MEM_XSPI, false}}},
    {"OPENMV_AE3",
     0x96E3,
     MCU_AE3,
     {{"BOOT", 0x80000000, 0x80020000, MEM_MRAM, true},
      {"HP", 0x80020000, 0x80320000, MEM_MRAM, false},
      {"HE", 0x80320000, 0x8047E000, MEM_MRAM, false},
      {"ROMFS1", 0x8047E000, 0x8057E000, MEM_MRAM, false},
      {"TOC", 0x8057E000, 0x80580000, MEM_MRAM, false},
      {"RWFS", 0x00000000, 0x00800000, MEM_OSPI, false},
      {"ROMFS0", 0x00800000, 0x02000000, MEM_OSPI, false},
      {"RECOVERY", 0x00000000, 0x00001000, MEM_RECOVERY, false}}},
};

/* ---- the model ------------------------------------------------------------------------- */

struct omvbl {
    const struct target *t;
    size_t nr_parts;
    int region[MEM_COUNT]; /* index into d->regions, -1 when the board has none */
    int state;             /* TinyUSB's _dfu_ctx.state */
    uint8_t status;
    bool flashing; /* _dfu_ctx.flashing_in_progress */
    uint16_t block;
    uint16_t length;
    uint64_t data_index;
    uint8_t buf[XFER + 32]; /* the transfer buffer: bytes past `length` are stale */
    bool attached;          /* a transfer started (the bootloader's ATTACHED) */
    bool recovered;         /* AE3: the OSPI recovery runs once per boot */
};

static struct omvbl *model(struct sim_dev *d)
{
    return d->model;
}

static struct sim_region *region(struct sim_dev *d, enum mem mem)
{
    int i = model(d)->region[mem];

    return i < 0 ? NULL : &d->regions[i];
}

/* Erase with this memory's sector size and cost (sim_region has one of each). */
static int mem_erase(struct sim_dev *d, enum mem mem, uint32_t addr, uint32_t sector)
{
    struct sim_region *r = region(d, mem);
    uint32_t saved_sector = r->sector, saved_us = d->timing.sector_erase_us;
    int rc;

    r->sector = sector;
    if (mem_specs[mem].erase_us)
        d->timing.sector_erase_us = mem_specs[mem].erase_us;
    rc = sim_region_erase_sector(d, r, addr);
    r->sector = saved_sector;
    d->timing.sector_erase_us = saved_us;
    return rc;
}

static int mem_program(struct sim_dev *d, enum mem mem, uint32_t addr, const uint8_t *p, size_t n)
{
    struct sim_region *r = region(d, mem);
    uint32_t saved_us = d->timing.unit_program_us;
    int rc;

    if ((uint64_t)addr + n > (uint64_t)r->base + r->size)
        return SIM_DFU_STATUS_ERR_ADDRESS;
    if (mem_specs[mem].program_us)
        d->timing.unit_program_us = mem_specs[mem].program_us;
    rc = sim_region_program(d, r, addr, p, n);
    d->timing.unit_program_us = saved_us;
    return rc;
}

/* stm32_flash.c axi_flash_write: erase at a sector start, then program flash words. */
static int internal_write(struct sim_dev *d, uint32_t addr, const uint8_t *buf, size_t n)
{
    struct omvbl *m = model(d);
    const uint32_t *sectors = h7_sectors;
    size_t nr = ARRAY_SIZE(h7_sectors);
    size_t word = 32, padded;
    uint8_t tmp[XFER + 32];

    if (m->t->mcu == MCU_F4) {
        sectors = f4_sectors;
        nr = ARRAY_SIZE(f4_sectors);
        word = 4;
    } else if (m->t->mcu == MCU_F7) {
        sectors = f7_sectors;
        nr = ARRAY_SIZE(f7_sectors);
        word = 4;
    }
    for (size_t i = 0; i + 1 < nr; i++)
        if (addr == sectors[i] && mem_erase(d, MEM_INTERNAL, addr, sectors[i + 1] - addr) != 0)
            return -1;
    padded = (n + word - 1) / word * word;
    memcpy(tmp, buf, n);
    memset(tmp + n, 0, padded - n); /* the tail word: uint8_t tmp[FLASH_WORD_SIZE] = {0} */
    return mem_program(d, MEM_INTERNAL, addr, tmp, padded) == SIM_DFU_STATUS_OK ? 0 : -1;
}

/* NOR flash (stm32_qspi.c, stm32_xspi.c, alif_ospi.c): erase at a block boundary, program. */
static int nor_write(struct sim_dev *d, enum mem mem, uint32_t addr, const uint8_t *buf, size_t n)
{
    uint32_t block = mem_specs[mem].sector;

    if (addr % block == 0 && mem_erase(d, mem, addr, block) != 0)
        return -1;
    return mem_program(d, mem, addr, buf, n) == SIM_DFU_STATUS_OK ? 0 : -1;
}

/* alif_flash.c axi_flash_write: 16-byte aligned, rounded up from the transfer buffer. */
static int mram_write(struct sim_dev *d, uint32_t addr, size_t n)
{
    struct sim_region *r = region(d, MEM_MRAM);
    size_t padded = (n + MRAM_UNIT - 1) / MRAM_UNIT * MRAM_UNIT;

    if (addr % MRAM_UNIT || (uint64_t)addr + padded > (uint64_t)r->base + r->size)
        return -1;
    /* MRAM overwrites: no erase, so clear the bytes before the (ANDing) program. */
    memset(r->data + (addr - r->base), 0xFF, padded);
    return mem_program(d, MEM_MRAM, addr, model(d)->buf, padded) == SIM_DFU_STATUS_OK ? 0 : -1;
}

/* alif_ospi.c spi_flash_recovery. */
static int recovery_write(struct sim_dev *d, const uint8_t *buf, size_t n)
{
    struct omvbl *m = model(d);
    struct sim_region *r = region(d, MEM_OSPI);
    uint32_t saved_us = d->timing.mass_erase_us;

    if (m->recovered) {
        sim_note(d, "recovery: already done since this boot");
        return -1;
    }
    if (n < sizeof(recovery_key) || memcmp(buf, recovery_key, sizeof(recovery_key)) != 0) {
        sim_note(d, "recovery: no key");
        return -1;
    }
    sim_note(d, "recovery: OSPI JESD reset, chip written to 0 and 1 twice");
    d->timing.mass_erase_us = RECOVERY_US;
    sim_region_erase_all(d, r);
    d->timing.mass_erase_us = saved_us;
    m->recovered = true;
    return 0;
}

static int flash_write(struct sim_dev *d, enum mem mem, uint32_t addr, size_t n)
{
    const uint8_t *buf = model(d)->buf;

    switch (mem) {
    case MEM_INTERNAL:
        return internal_write(d, addr, buf, n);
    case MEM_QSPI:
    case MEM_XSPI:
    case MEM_OSPI:
        return nor_write(d, mem, addr, buf, n);
    case MEM_MRAM:
        return mram_write(d, addr, n);
    case MEM_RECOVERY:
        return recovery_write(d, buf, n);
    }
    return -1;
}

/* tud_dfu_finish_flashing */
static void finish(struct sim_dev *d, uint8_t status)
{
    struct omvbl *m = model(d);

    m->flashing = false;
    if (status == SIM_DFU_STATUS_OK) {
        if (m->state == SIM_DFU_STATE_DNBUSY)
            m->state = SIM_DFU_STATE_DNLOAD_SYNC;
        else if (m->state == SIM_DFU_STATE_MANIFEST)
            m->state = SIM_DFU_STATE_MANIFEST_SYNC; /* manifestation tolerant */
    } else {
        m->state = SIM_DFU_STATE_ERROR;
        m->status = status;
    }
}

/* dfu.c tud_dfu_download_cb */
static void download(struct sim_dev *d)
{
    struct omvbl *m = model(d);
    const struct partition *p = &m->t->parts[d->cur_alt];
    uint64_t addr = (uint64_t)p->start + (uint64_t)m->block * XFER;

    if (p->rdonly) {
        sim_note(d, "%s is read-only: errWRITE", p->name);
        finish(d, SIM_DFU_STATUS_ERR_WRITE);
    } else if (addr + m->length > p->limit) {
        sim_note(d, "write 0x%08llX+%u past the %s limit 0x%08X: errADDRESS",
                 (unsigned long long)addr, m->length, p->name, p->limit);
        finish(d, SIM_DFU_STATUS_ERR_ADDRESS);
    } else if (sim_fault(d, SIM_FAULT_REFUSE_WRITE, m->data_index)) {
        sim_note(d, "write 0x%08llX+%u refused (fault): errWRITE", (unsigned long long)addr,
                 m->length);
        finish(d, SIM_DFU_STATUS_ERR_WRITE);
    } else if (flash_write(d, p->mem, (uint32_t)addr, m->length) != 0) {
        sim_note(d, "write 0x%08llX+%u failed: errWRITE", (unsigned long long)addr, m->length);
        finish(d, SIM_DFU_STATUS_ERR_WRITE);
    } else {
        finish(d, SIM_DFU_STATUS_OK);
    }
}

static void reset_state(struct omvbl *m)
{
    m->state = SIM_DFU_STATE_IDLE;
    m->status = SIM_DFU_STATUS_OK;
    m->flashing = false;
}

static int getstatus(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct omvbl *m = model(d);
    const struct sim_fault *f = sim_fault_find(d, SIM_FAULT_WRONG_STATE);
    int reply = m->state;
    uint8_t out[6];

    if (m->state == SIM_DFU_STATE_DNLOAD_SYNC) {
        if (m->flashing) {
            reply = SIM_DFU_STATE_DNBUSY; /* poll: the partition's delay, 0 on every board */
            m->attached = true;
            m->state = SIM_DFU_STATE_DNBUSY;
            download(d);
        } else {
            reply = m->state = SIM_DFU_STATE_DNLOAD_IDLE;
        }
    } else if (m->state == SIM_DFU_STATE_MANIFEST_SYNC) {
        if (m->flashing) {
            reply = SIM_DFU_STATE_MANIFEST;
            m->attached = true;
            m->state = SIM_DFU_STATE_MANIFEST;
            sim_note(d, "manifest: %s write-protected again", m->t->parts[d->cur_alt].name);
            finish(d, SIM_DFU_STATUS_OK);
        } else {
            reply = m->state = SIM_DFU_STATE_IDLE;
        }
    }
    d->state = reply;
    /* The status byte is the one before the work: an error shows on the next GETSTATUS. */
    out[0] = reply == SIM_DFU_STATE_DNBUSY ? SIM_DFU_STATUS_OK : m->status;
    out[1] = out[2] = out[3] = 0;
    out[4] = (uint8_t)reply;
    out[5] = 0;
    if (f && sim_fault(d, SIM_FAULT_WRONG_STATE, 0)) {
        out[4] = (uint8_t)f->arg;
        sim_note(d, "GETSTATUS reports state %u (fault)", out[4]);
    }
    *len = s->wLength < sizeof(out) ? s->wLength : sizeof(out);
    memcpy(data, out, *len);
    return SIM_OK;
}

static int upload(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct omvbl *m = model(d);
    const struct partition *p = &m->t->parts[d->cur_alt];
    uint64_t addr = (uint64_t)p->start + (uint64_t)s->wValue * XFER;

    if (s->wLength > XFER)
        return SIM_STALL;
    m->attached = true;
    if (addr + s->wLength > p->limit) {
        /* "Respond with a short frame to indicate EOF to the host." */
        *len = s->wLength < 4 ? s->wLength : 4;
        memset(data, 0, *len);
        sim_note(d, "upload %s block %u: past the limit, 4-byte EOF frame", p->name, s->wValue);
    } else if (p->mem == MEM_RECOVERY) {
        *len = 0;
        finish(d, SIM_DFU_STATUS_ERR_FILE);
        sim_note(d, "upload %s: not readable, errFILE", p->name);
    } else {
        sim_region_read(region(d, p->mem), (uint32_t)addr, data, s->wLength);
        *len = s->wLength;
    }
    return SIM_OK;
}

static void leave(struct sim_dev *d, const char *why)
{
    char spec[64];

    snprintf(spec, sizeof(spec), "camera:%s", model(d)->t->name);
    sim_note(d, "%s: the bootloader jumps to the firmware", why);
    sim_leave(d, spec);
}

static int omvbl_control(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct omvbl *m = model(d);
    bool in = s->bmRequestType & 0x80;
    int rc = SIM_OK;

    if ((s->bmRequestType & 0x7F) != 0x21 || s->wIndex != 0 || d->cur_alt >= m->nr_parts)
        return SIM_STALL;
    switch (s->bRequest) {
    case SIM_DFU_DETACH:
        if (in)
            return SIM_STALL;
        leave(d, "DETACH");
        break;
    case SIM_DFU_DNLOAD:
        if (in || s->wLength > XFER ||
            (m->state != SIM_DFU_STATE_IDLE && m->state != SIM_DFU_STATE_DNLOAD_IDLE)) {
            sim_note(d, "DNLOAD refused in state %d", m->state);
            return SIM_STALL;
        }
        m->flashing = true;
        m->block = s->wValue;
        m->length = s->wLength;
        if (s->wLength) {
            memcpy(m->buf, data, s->wLength);
            m->data_index = d->blocks_downloaded++;
            d->bytes_downloaded += s->wLength;
            m->state = SIM_DFU_STATE_DNLOAD_SYNC;
        } else {
            m->state = SIM_DFU_STATE_MANIFEST_SYNC;
        }
        break;
    case SIM_DFU_UPLOAD:
        rc = in ? upload(d, s, data, len) : SIM_STALL;
        break;
    case SIM_DFU_GETSTATUS:
        return in ? getstatus(d, s, data, len) : SIM_STALL;
    case SIM_DFU_CLRSTATUS:
    case SIM_DFU_ABORT:
        if (in)
            return SIM_STALL;
        reset_state(m);
        break;
    case SIM_DFU_GETSTATE:
        if (!in)
            return SIM_STALL;
        if (s->wLength)
            data[0] = (uint8_t)m->state;
        *len = s->wLength ? 1 : 0;
        break;
    default:
        return SIM_STALL;
    }
    d->state = m->state;
    return rc;
}

static void omvbl_set_alt(struct sim_dev *d, unsigned iface, unsigned alt)
{
    (void)iface;
    (void)alt;
    reset_state(model(d)); /* TinyUSB: "Switch Alt interface and reset state machine" */
    d->state = model(d)->state;
}

static void omvbl_reset(struct sim_dev *d)
{
    leave(d, model(d)->attached ? "USB reset" : "USB reset (before any transfer)");
}

static void omvbl_destroy(struct sim_dev *d)
{
    free(d->model);
    d->model = NULL;
}

static const struct sim_model_ops omvbl_ops = {
    "openmv-bl", omvbl_control, NULL, omvbl_set_alt, omvbl_reset, omvbl_destroy,
};

struct sim_dev *sim_model_openmv_bl(const char *target, char *err, size_t errlen)
{
    const struct target *t = NULL;
    const char *names[MAX_PARTS];
    struct sim_dev *d;
    struct omvbl *m;

    for (size_t i = 0; i < ARRAY_SIZE(targets); i++)
        if (!strcmp(targets[i].name, target))
            t = &targets[i];
    if (!t) {
        omv_seterr(err, errlen, OMV_EINVAL,
                   "unknown OpenMV bootloader '%s' (OPENMV2, OPENMV3, OPENMV4, OPENMV4P, "
                   "OPENMVPT, OPENMV_N6 or OPENMV_AE3)",
                   target);
        return NULL;
    }
    m = xcalloc(1, sizeof(*m));
    m->t = t;
    for (size_t i = 0; i < MEM_COUNT; i++)
        m->region[i] = -1;
    d = sim_dev_new(OMV_VID, t->pid, OMV_BCD_DEVICE, OMV_MANUF, OMV_PRODUCT, OMV_SERIAL);
    for (size_t i = 0; i < MAX_PARTS && t->parts[i].name; i++) {
        enum mem mem = t->parts[i].mem;

        names[i] = t->parts[i].name;
        m->nr_parts = i + 1;
        if (mem == MEM_RECOVERY || m->region[mem] >= 0)
            continue;
        {
            const struct mem_spec *ms = &mem_specs[mem];
            bool h7 = mem == MEM_INTERNAL && t->mcu == MCU_H7;

            m->region[mem] = (int)d->nr_regions;
            /* H7: 128 KiB sectors, 32-byte ECC flash words; F4/F7: the smallest sector,
             * mem_erase() passes each sector's own size. */
            sim_dev_add_region(d, ms->name, ms->base, ms->size,
                               mem != MEM_INTERNAL ? ms->sector
                               : h7                ? 0x20000
                               : t->mcu == MCU_F4  ? 0x4000
                                                   : 0x8000,
                               h7 ? 32 : ms->unit, h7);
        }
    }
    sim_dev_build_dfu(d, names, m->nr_parts, FUNC_ATTRS, DETACH_TIMEOUT, XFER, BCD_DFU);
    /* F4/F7 flash: 32-bit words in ~16 µs (x32, UNCERTAIN), 4 µs a byte. */
    if (t->mcu == MCU_F4 || t->mcu == MCU_F7)
        d->timing.unit_program_us = 4;
    reset_state(m);
    d->ops = &omvbl_ops;
    d->model = m;
    d->state = m->state;
    strbuf_reset(&d->notes); /* construction is not a request */
    return d;
}
