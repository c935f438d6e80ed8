/*
 * DfuSe device models: the STM32 system bootloader in ROM (0483:df11) and
 * the Arduino bootloader of the STM32H747 boards, which speaks the same ST
 * DfuSe dialect (ST AN2662/AN3156, dfu-util's src/dfuse.c, ST's USB device DFU
 * class usbd_dfu.c whose behaviour the ROM matches).
 *
 * One interface, one alt setting per memory; each alt's name is a DfuSe
 * layout string ("@Internal Flash   /0x08000000/16*128Kg"), which this file
 * also parses to know the memory it serves: sector geometry and the r/e/w
 * type letters (a..g) decide what may be read, erased and written.
 *
 * DNLOAD wValue 0 carries a command: 21 a0..a3 SET_ADDRESS, 41 a0..a3 ERASE
 * of the sector holding the address, 41 alone MASS ERASE (of the current
 * alt's memory), 92 READ_UNPROTECT (ROM only). DNLOAD wValue >= 2 writes at
 * (wValue - 2) * wTransferSize + address pointer, where wTransferSize is the
 * device's own (2048 ROM, 4096 Arduino), whatever the host's wLength; UPLOAD
 * reads with the same rule, UPLOAD wValue 0 answers the command list. The
 * address pointer is kept per alt and reset to the alt's base when the alt
 * is selected (UNCERTAIN: the ROM may keep one pointer for all alts).
 *
 * Commands and writes take effect on the first GETSTATUS: a bad address is
 * answered there with dfuERROR/errTARGET; otherwise the answer is dfuDNBUSY
 * with a poll timeout (sector erase 1000 ms as the H7 ROM reports it, program
 * and SET_ADDRESS 5 ms: UNCERTAIN, dfu-util's remark that "a non-null
 * bwPollTimeout for SET_ADDRESS seems a common bootloader bug" suggests the
 * ROM reports one), given at once: the work starts after that answer and runs
 * while the host waits the poll timeout (AN3156's dfuDNBUSY; ST's device
 * library starts the flash operation once the GETSTATUS status stage is
 * over). A request arriving before the work is done waits for it (the
 * library's handler is busy and the USB peripheral NAKs), then the GETSTATUS
 * answers dfuDNLOAD-IDLE, or dfuERROR with the work's status (errPROG for an
 * H7 flash word that was not erased, errWRITE for an injected refuse-write
 * fault). With busy=answer the ROM instead answers every GETSTATUS during the
 * work with (OK, dfuDNBUSY, the same poll timeout), as a ROM polling its flash
 * controller would; a read (UPLOAD) during the work is held until it ends, as
 * a CPU read of a flash bank being erased or programmed stalls (RM0433 and
 * RM0090, "read while write" on the same bank).
 *
 * Work times are the parts' datasheet figures (flash_times below): typical by
 * default, the maximum with fault=slow-erase:max, typical times a factor with
 * fault=slow-erase:N.
 *
 * Leave: DNLOAD with wLength 0 -> dfuMANIFEST-SYNC; the next GETSTATUS
 * answers dfuMANIFEST (poll 1 ms) and the device leaves the bus (not
 * manifestation tolerant); it comes back as the spec option after=SPEC if
 * one was given (d->after_spec). CLRSTATUS in dfuERROR -> dfuIDLE/OK, in any
 * other state -> dfuERROR/errUNKNOWN; ABORT and DETACH -> dfuIDLE from
 * dfuIDLE, DNLOAD-SYNC, DNLOAD-IDLE, MANIFEST-SYNC, UPLOAD-IDLE and are
 * ignored elsewhere (usbd_dfu.c). DNLOAD and UPLOAD outside the states that
 * allow them STALL with no change of state (usbd_dfu.c). A USB reset
 * re-initialises the DFU class (state, pointers, the rev V wedge).
 *
 * STM32H743 rev V (as reported in dfu-util's SourceForge ticket 88 and
 * betaflight-configurator pull request 1861): after an ERASE of a sector at or
 * above 0x08100000 (bank 2) the sector is erased (in the erase's time), but
 * every GETSTATUS answers (OK, dfuDNBUSY, 1000 ms) until a CLRSTATUS, which
 * gives (errUNKNOWN, dfuERROR); a second CLRSTATUS gives (OK, dfuIDLE). Mass
 * erase and writes into bank 2 are not affected. Nothing the ROM shows over
 * USB tells rev V from rev Y: the descriptors are the same, and UPLOAD reads
 * only the alts' memories, so DBGMCU_IDCODE (0x5C001000) and the bootloader
 * version byte (0x1FF1E7FE) answer errTARGET.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"

#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALTS 4
#define MAX_SEGS 8
#define MAX_XFER 4096

#define CMD_GET_COMMANDS 0x00
#define CMD_SET_ADDRESS  0x21
#define CMD_ERASE        0x41
#define CMD_UNPROTECT    0x92

/* DfuSe memory type letters: bit 0 readable, bit 1 erasable, bit 2 writeable */
#define MEM_READ  1
#define MEM_ERASE 2
#define MEM_WRITE 4

#define H7_BANK2       0x08100000u
#define POLL_ERASE_MS  1000 /* the H7 ROM's report for a sector erase (dfu-util -v -v logs) */
#define POLL_PROG_MS   5    /* UNCERTAIN */
#define POLL_LEAVE_MS  1    /* usbd_dfu.c: manifest bwPollTimeout = 1 ms */
#define POLL_WEDGE_MS  1000 /* rev V: what the wedged ROM keeps answering */
#define FUNC_ATTRS     0x0B /* WillDetach | Upload | Download, not manifestation tolerant */
#define DETACH_TIMEOUT 255
#define BCD_DFUSE      0x011A

/* ---- boards ----------------------------------------------------------------------- */

/* The physical memory behind an alt setting; the name is the dump file's. */
enum mem_kind {
    MEM_NONE,     /* an alt that only carries a name (Arduino's version alt) */
    MEM_INTERNAL, /* "internal": the MCU's flash */
    MEM_OPTION,   /* "option": option bytes, readable only in this model */
    MEM_QSPI,     /* "qspi": external NOR flash */
};

static const char *const mem_names[] = {NULL, "internal", "option", "qspi"};

/*
 * Flash timings from ST's datasheets, table "Flash memory programming" in
 * section "Flash memory characteristics", the x32 parallelism column (the
 * ROM's: supply 2.7-3.6 V on F4/F7; on the H7 an erase observed through the
 * ROM takes about 0.9 s, which x8/x16, typically 2.0/1.8 s, cannot do):
 *   STM32H743 (DS12110) and STM32H747 (DS12930, the same flash): 128 KiB
 *     sector erase 1.1 s typical, 2.2 s maximum; one 256-bit flash word
 *     programmed in 130 us typical, 260 us maximum; mass erase 6 s / 12 s.
 *     (The sector erase figures at x32 are also quoted by an ST employee in
 *     the ST community thread "STM32H743 Flash EraseSector Reset Problem":
 *     1.1 s typical, 2.2 s for slow parts.)
 *   STM32F427 (DS9484): sector erase 16 KiB 250/500 ms, 64 KiB 550/1100 ms,
 *     128 KiB 1/2 s; one 32-bit word 16/100 us; mass erase 8/16 s.
 *   STM32F765 (DS11532): sector erase 32 KiB 250/500 ms, 128 KiB 550/1100 ms,
 *     256 KiB 1/2 s; one 32-bit word 16/100 us; mass erase 8/16 s
 *     (UNCERTAIN: recalled, not checked against the document).
 */
struct sector_time {
    uint32_t size;           /* bytes */
    uint32_t typ_us, max_us; /* one sector erase */
};

struct flash_times {
    struct sector_time sectors[3];
    uint32_t unit_us;                  /* programming one unit (region unit), typical */
    uint32_t mass_typ_us, mass_max_us; /* mass erase */
};

static const struct flash_times h7_times = {
    {{128 * 1024, 1100000, 2200000}}, 130, 6000000, 12000000};
/* 16 us a 32-bit word: 4 us a byte, the region's unit being one byte. */
static const struct flash_times f427_times = {
    {{16 * 1024, 250000, 500000}, {64 * 1024, 550000, 1100000}, {128 * 1024, 1000000, 2000000}},
    4,
    8000000,
    16000000};
static const struct flash_times f765_times = {
    {{32 * 1024, 250000, 500000}, {128 * 1024, 550000, 1100000}, {256 * 1024, 1000000, 2000000}},
    4,
    8000000,
    16000000};

struct dfuse_board {
    const char *kind; /* "st-rom" or "arduino" */
    const char *name;
    uint16_t vid, pid, bcd_device;
    const char *manufacturer, *product, *serial;
    uint16_t transfer_size;
    const char *layouts[MAX_ALTS];
    enum mem_kind mems[MAX_ALTS];
    const uint8_t *commands; /* the GET-COMMANDS answer, 0x00 first */
    size_t nr_commands;
    bool h7;                  /* ECC flash: 32-byte flash words, programmed once per erase */
    uint32_t mass_erase_poll; /* ms */
    const struct flash_times *times;
};

static const uint8_t rom_commands[] = {CMD_GET_COMMANDS, CMD_SET_ADDRESS, CMD_ERASE, CMD_UNPROTECT};
/* UNCERTAIN: the Arduino bootloader is built on ST's device library, which
 * answers 00 21 41 and knows no READ_UNPROTECT. */
static const uint8_t arduino_commands[] = {CMD_GET_COMMANDS, CMD_SET_ADDRESS, CMD_ERASE};

/*
 * ST ROMs. H7 strings as H7 ROMs report them in published dfu-util -l and
 * lsusb listings (DFU in FS Mode, serial 200364500000, ver 2200); the F4
 * product string from a published lsusb -v listing of an STM32F4 ROM, which
 * reports bcdDevice 0x2100 (UNCERTAIN for F427/F765:
 * 0x2200 is used for all three, as the H7). The F4/F7 ROMs also list option
 * bytes, OTP and device feature alts; only the flash is modelled there.
 * F4/F7 mass erase reports 100 ms as dfu-util says the STM32F405 does
 * (UNCERTAIN for F427/F765); the H7 value is UNCERTAIN too.
 */
static const struct dfuse_board st_boards[] = {
    {
        .kind = "st-rom",
        .name = "H743",
        .vid = 0x0483,
        .pid = 0xDF11,
        .bcd_device = 0x2200,
        .manufacturer = "STMicroelectronics",
        .product = "DFU in FS Mode",
        .serial = "200364500000",
        .transfer_size = 2048,
        .layouts = {"@Internal Flash   /0x08000000/16*128Kg",
                    "@Option Bytes   /0x5200201C/01*128 e"},
        .mems = {MEM_INTERNAL, MEM_OPTION},
        .commands = rom_commands,
        .nr_commands = sizeof(rom_commands),
        .h7 = true,
        .mass_erase_poll = 1000,
        .times = &h7_times,
    },
    {
        .kind = "st-rom",
        .name = "F427",
        .vid = 0x0483,
        .pid = 0xDF11,
        .bcd_device = 0x2200,
        .manufacturer = "STMicroelectronics",
        .product = "STM32  BOOTLOADER",
        .serial = "200364500000",
        .transfer_size = 2048,
        .layouts = {"@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg,04*016Kg,01*064Kg,"
                    "07*128Kg"},
        .mems = {MEM_INTERNAL},
        .commands = rom_commands,
        .nr_commands = sizeof(rom_commands),
        .h7 = false,
        .mass_erase_poll = 100,
        .times = &f427_times,
    },
    {
        .kind = "st-rom",
        .name = "F765",
        .vid = 0x0483,
        .pid = 0xDF11,
        .bcd_device = 0x2200,
        .manufacturer = "STMicroelectronics",
        .product = "STM32  BOOTLOADER",
        .serial = "200364500000",
        .transfer_size = 2048,
        .layouts = {"@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg"},
        .mems = {MEM_INTERNAL},
        .commands = rom_commands,
        .nr_commands = sizeof(rom_commands),
        .h7 = false,
        .mass_erase_poll = 100,
        .times = &f765_times,
    },
};

/*
 * Arduino's DfuSe bootloader on the STM32H747 boards. From dfu-util
 * listings of a Portenta H7 (found in public READMEs; bootloader version
 * 22): ver=0200, DFU version 011a, transfer size 4096, alts
 *   0 "@Internal Flash   /0x08000000/01*128Ka,15*128Kg" (sector 0, the
 *     bootloader itself, read-only),
 *   1 "@External Flash   /0x90000000/4096*4Kg" (16 MiB QSPI NOR),
 *   2 "@Bootloader version 22 /0x00000000/0*4Kg" (a name, no memory).
 * Newer bootloaders (v25) name them "@Internal Flash  2MB   /...",
 * "@Ext RAW  Flash 16MB   /..." and add "@Ext File Flash  0MB ..." (not
 * modelled). UNCERTAIN: that GIGA and NICLA use the same strings and
 * geometry; the manufacturer and product strings; the functional
 * descriptor's attributes (the ST library's 0x0B, detach 255 assumed).
 */
#define ARDUINO(board, pid_, product_)                                                             \
    {                                                                                              \
        .kind = "arduino", .name = board, .vid = 0x2341, .pid = pid_, .bcd_device = 0x0200,        \
        .manufacturer = "Arduino", .product = product_, .serial = "004000283232511539393438",      \
        .transfer_size = 4096,                                                                     \
        .layouts = {"@Internal Flash   /0x08000000/01*128Ka,15*128Kg",                             \
                    "@External Flash   /0x90000000/4096*4Kg",                                      \
                    "@Bootloader version 22 /0x00000000/0*4Kg"},                                   \
        .mems = {MEM_INTERNAL, MEM_QSPI, MEM_NONE}, .commands = arduino_commands,                  \
        .nr_commands = sizeof(arduino_commands), .h7 = true, .mass_erase_poll = 1000,              \
        .times = &h7_times,                                                                        \
    }

static const struct dfuse_board arduino_boards[] = {
    ARDUINO("PORTENTA", 0x035B, "Portenta H7"),
    ARDUINO("GIGA", 0x0366, "GIGA R1"),
    ARDUINO("NICLA", 0x035F, "Nicla Vision"),
};

/*
 * The cost of work on a memory, when it differs from the device's timing
 * (which is the internal flash's): QSPI NOR 4 KiB sector erase ~45 ms, page
 * programming ~3 µs a byte, chip erase ~50 s (UNCERTAIN, typical datasheet
 * values). 0 means "the device's timing".
 */
struct mem_cost {
    uint32_t erase_us, program_us, mass_erase_us;
    uint32_t erase_poll_ms; /* bwPollTimeout reported for a sector erase */
};

static const struct mem_cost mem_costs[] = {
    [MEM_NONE] = {0, 0, 0, POLL_ERASE_MS},
    [MEM_INTERNAL] = {0, 0, 0, POLL_ERASE_MS},
    [MEM_OPTION] = {0, 0, 0, POLL_ERASE_MS},
    [MEM_QSPI] = {45000, 3, 50000000, 50}, /* the 50 ms poll: UNCERTAIN */
};

/* ---- the model ------------------------------------------------------------------------ */

struct segment {
    uint32_t start, sector, count;
    uint8_t type; /* MEM_READ | MEM_ERASE | MEM_WRITE */
};

struct alt {
    enum mem_kind mem;
    int region; /* index into d->regions, -1 for none */
    uint32_t base, size;
    struct segment segs[MAX_SEGS];
    size_t nr_segs;
};

struct dfuse {
    const struct dfuse_board *b;
    bool rev_v;
    struct alt alts[MAX_ALTS];
    size_t nr_alts;
    uint32_t ptr[MAX_ALTS]; /* the address pointer, per alt */
    uint32_t jump;          /* where a leave would jump: the last pointer or write */
    uint8_t status;         /* bStatus */
    uint32_t poll_ms;       /* bwPollTimeout of the next dfuDNBUSY answer */
    /* the request waiting in dfuDNLOAD-SYNC */
    uint16_t block;
    size_t len;
    uint64_t data_index; /* which data block of the device's life this is */
    uint8_t buf[MAX_XFER];
    /* the work started by the last GETSTATUS */
    uint8_t result;   /* its DFU status, reported by the next GETSTATUS */
    bool wedged;      /* rev V: dfuDNBUSY until CLRSTATUS */
    uint64_t done_us; /* busy=answer: when that work ends (0: it is not background work) */
    bool unprotect;   /* READ_UNPROTECT: the device resets after the answer */
};

static struct dfuse *model(struct sim_dev *d)
{
    return d->model;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Parse a DfuSe layout string, one address group: "@name/0xADDR/N*S[BKM ]t,...".
 * The multiplier is K, M, B or anything else for bytes (" " in "01*128 e");
 * the type letter a..g carries the r/e/w bits (dfuse_mem.c in dfu-util).
 */
static int parse_layout(const char *s, struct alt *a)
{
    const char *p = strchr(s, '/');
    char *end;
    unsigned long long addr, v;

    if (s[0] != '@' || !p)
        return -1;
    addr = strtoull(p + 1, &end, 16);
    if (*end != '/')
        return -1;
    a->base = (uint32_t)addr;
    a->nr_segs = 0;
    p = end + 1;
    for (;;) {
        struct segment *g;
        unsigned long long count, size;
        char mult, type;

        if (a->nr_segs == MAX_SEGS)
            return -1;
        count = strtoull(p, &end, 10);
        if (end == p || *end != '*')
            return -1;
        p = end + 1;
        size = strtoull(p, &end, 10);
        if (end == p || !end[0] || !end[1])
            return -1;
        mult = end[0];
        type = end[1];
        p = end + 2;
        if (mult == 'K')
            size *= 1024;
        else if (mult == 'M')
            size *= 1024 * 1024;
        if (type < 'a' || type > 'g' || !size)
            return -1;
        v = addr + count * size;
        if (v > 0x100000000ull)
            return -1;
        g = &a->segs[a->nr_segs++];
        g->start = (uint32_t)addr;
        g->sector = (uint32_t)size;
        g->count = (uint32_t)count;
        g->type = (uint8_t)((type - 'a' + 1) & 7);
        addr = v;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p)
            return -1; /* a second address group: not used by these devices */
        break;
    }
    a->size = (uint32_t)(addr - a->base);
    return 0;
}

/* The segment holding addr, or NULL. */
static const struct segment *find_segment(const struct alt *a, uint32_t addr)
{
    for (size_t i = 0; i < a->nr_segs; i++) {
        const struct segment *g = &a->segs[i];

        if (addr >= g->start && (uint64_t)addr - g->start < (uint64_t)g->sector * g->count)
            return g;
    }
    return NULL;
}

/* Does every byte of [addr, addr+n) lie in the alt, in segments of this type? */
static bool range_ok(const struct alt *a, uint32_t addr, size_t n, uint8_t type)
{
    uint64_t end = (uint64_t)addr + n;

    if (a->region < 0 || !n || addr < a->base || end > (uint64_t)a->base + a->size)
        return false;
    for (size_t i = 0; i < a->nr_segs; i++) {
        const struct segment *g = &a->segs[i];
        uint64_t gend = (uint64_t)g->start + (uint64_t)g->sector * g->count;

        if (g->start < end && gend > addr && (g->type & type) != type)
            return false;
    }
    return true;
}

/*
 * Memory operations through the core with this memory's sector size and
 * cost: sim_region has one sector size and the device one timing, while
 * these flashes have sectors of several sizes (F4: 16/64/128 KiB) and the
 * QSPI NOR costs differ from the internal flash's.
 */
/* The datasheet erase time of an internal-flash sector of this size (0, 0 if not listed). */
static struct sector_time sector_time(const struct dfuse *m, uint32_t size)
{
    const struct flash_times *t = m->b->times;
    struct sector_time none = {size, 0, 0};

    for (size_t i = 0; i < ARRAY_SIZE(t->sectors); i++)
        if (t->sectors[i].size == size)
            return t->sectors[i];
    return none;
}

static int mem_erase(struct sim_dev *d, const struct alt *a, uint32_t addr, uint32_t sector)
{
    struct sim_region *r = &d->regions[a->region];
    const struct mem_cost *c = &mem_costs[a->mem];
    struct sim_timing saved = d->timing;
    struct sector_time t = sector_time(model(d), sector);
    uint32_t saved_sector = r->sector;
    int rc;

    r->sector = sector;
    if (c->erase_us) {
        d->timing.sector_erase_us = c->erase_us;
        d->timing.sector_erase_max_us = 2 * c->erase_us;
    } else if (a->mem == MEM_INTERNAL && t.typ_us) {
        d->timing.sector_erase_us = t.typ_us;
        d->timing.sector_erase_max_us = t.max_us;
    }
    rc = sim_region_erase_sector(d, r, addr);
    r->sector = saved_sector;
    d->timing = saved;
    return rc;
}

static int mem_erase_all(struct sim_dev *d, const struct alt *a)
{
    struct sim_region *r = &d->regions[a->region];
    const struct mem_cost *c = &mem_costs[a->mem];
    struct sim_timing saved = d->timing;
    int rc;

    if (c->mass_erase_us) {
        d->timing.mass_erase_us = c->mass_erase_us;
        d->timing.mass_erase_max_us = 2 * c->mass_erase_us;
    }
    rc = sim_region_erase_all(d, r);
    d->timing = saved;
    return rc;
}

static int mem_program(struct sim_dev *d, const struct alt *a, uint32_t addr, const uint8_t *p,
                       size_t n)
{
    struct sim_region *r = &d->regions[a->region];
    const struct mem_cost *c = &mem_costs[a->mem];
    uint32_t saved_us = d->timing.unit_program_us;
    int rc;

    if (c->program_us)
        d->timing.unit_program_us = c->program_us;
    rc = sim_region_program(d, r, addr, p, n);
    d->timing.unit_program_us = saved_us;
    return rc;
}

/* A request the device refuses: STALL, and per DFU 1.1 dfuERROR/errSTALLEDPKT. */
static int stall_error(struct sim_dev *d, uint8_t status)
{
    d->state = SIM_DFU_STATE_ERROR;
    model(d)->status = status;
    return SIM_STALL;
}

/* The command bytes this device knows, with their lengths. */
static bool command_ok(const struct dfuse_board *b, const uint8_t *p, size_t n)
{
    bool known = false;

    for (size_t i = 1; i < b->nr_commands; i++)
        if (b->commands[i] == p[0])
            known = true;
    if (!known)
        return false;
    switch (p[0]) {
    case CMD_SET_ADDRESS:
        return n == 5;
    case CMD_ERASE:
        return n == 1 || n == 5;
    case CMD_UNPROTECT:
        return n == 1;
    }
    return false;
}

static int dfuse_dnload(struct sim_dev *d, const struct sim_setup *s, const uint8_t *data)
{
    struct dfuse *m = model(d);

    if (d->state != SIM_DFU_STATE_IDLE && d->state != SIM_DFU_STATE_DNLOAD_IDLE) {
        sim_note(d, "DNLOAD refused in state %d", d->state);
        return SIM_STALL;
    }
    if (d->cur_alt >= m->nr_alts)
        return SIM_STALL;
    if (s->wLength == 0) {
        d->state = SIM_DFU_STATE_MANIFEST_SYNC;
        m->status = SIM_DFU_STATUS_OK;
        sim_note(d, "leave requested");
        return SIM_OK;
    }
    if (s->wLength > m->b->transfer_size) {
        sim_note(d, "DNLOAD of %u bytes exceeds wTransferSize %u", s->wLength, m->b->transfer_size);
        return stall_error(d, SIM_DFU_STATUS_ERR_STALLEDPKT);
    }
    /*
     * wBlockNum 1 is not used by DfuSe (AN2662); ST's library ignores such a
     * block silently, the DFU 1.1 answer to an unexpected request is a STALL
     * and errSTALLEDPKT, which a host notices: that is what this model does.
     */
    if (s->wValue == 1) {
        sim_note(d, "DNLOAD wBlockNum 1 is not allowed");
        return stall_error(d, SIM_DFU_STATUS_ERR_STALLEDPKT);
    }
    if (s->wValue == 0 && !command_ok(m->b, data, s->wLength)) {
        sim_note(d, "unknown command 0x%02X (%u bytes)", data[0], s->wLength);
        return stall_error(d, SIM_DFU_STATUS_ERR_STALLEDPKT);
    }
    if (s->wValue >= 2) {
        m->data_index = d->blocks_downloaded++;
        d->bytes_downloaded += s->wLength;
    }
    memcpy(m->buf, data, s->wLength);
    m->len = s->wLength;
    m->block = s->wValue;
    d->state = SIM_DFU_STATE_DNLOAD_SYNC;
    return SIM_OK;
}

/* An error found before any work: the first GETSTATUS answers dfuERROR. */
static void fail_now(struct sim_dev *d, uint8_t status, const char *what, uint32_t addr)
{
    struct dfuse *m = model(d);

    sim_note(d, "%s 0x%08X: %s", what, addr,
             status == SIM_DFU_STATUS_ERR_TARGET ? "errTARGET, not in this alt's memory" : "error");
    d->state = SIM_DFU_STATE_ERROR;
    m->status = status;
    m->poll_ms = 0;
}

static void do_erase(struct sim_dev *d, const struct alt *a, uint32_t addr)
{
    struct dfuse *m = model(d);
    const struct segment *g = find_segment(a, addr);
    uint32_t start;

    if (a->region < 0 || !g || !(g->type & MEM_ERASE)) {
        fail_now(d, SIM_DFU_STATUS_ERR_TARGET, "ERASE", addr);
        return;
    }
    start = g->start + (addr - g->start) / g->sector * g->sector;
    sim_note(d, "command ERASE 0x%08X (%u KiB sector)", start, g->sector / 1024);
    m->result = (uint8_t)mem_erase(d, a, start, g->sector);
    m->poll_ms = mem_costs[a->mem].erase_poll_ms;
    if (m->rev_v && a->mem == MEM_INTERNAL && start >= H7_BANK2) {
        m->wedged = true;
        sim_note(d, "rev V: bank 2 erase leaves the ROM in dfuDNBUSY until CLRSTATUS");
    }
}

static void do_mass_erase(struct sim_dev *d, const struct alt *a)
{
    struct dfuse *m = model(d);
    bool all = true, any = false;
    struct sim_region *r;

    for (size_t i = 0; i < a->nr_segs; i++) {
        if (!a->segs[i].count)
            continue;
        if (a->segs[i].type & MEM_ERASE)
            any = true;
        else
            all = false;
    }
    if (a->region < 0 || !any) {
        fail_now(d, SIM_DFU_STATUS_ERR_TARGET, "MASS_ERASE", a->base);
        return;
    }
    r = &d->regions[a->region];
    sim_note(d, "command MASS_ERASE");
    m->poll_ms = m->b->mass_erase_poll;
    m->result = SIM_DFU_STATUS_OK;
    if (all && r->base == a->base && r->size == a->size) {
        m->result = (uint8_t)mem_erase_all(d, a);
        return;
    }
    /* Keep what is not erasable (Arduino's own sector): erase the rest, sector by sector. */
    for (size_t i = 0; i < a->nr_segs; i++) {
        const struct segment *g = &a->segs[i];

        if (!(g->type & MEM_ERASE))
            continue;
        for (uint32_t k = 0; k < g->count && m->result == SIM_DFU_STATUS_OK; k++)
            m->result = (uint8_t)mem_erase(d, a, g->start + k * g->sector, g->sector);
    }
}

/* READ_UNPROTECT: RDP level 0 means wiping the flash, then the chip resets (AN2662 §4.5.4). */
static void do_unprotect(struct sim_dev *d)
{
    struct dfuse *m = model(d);

    sim_note(d, "command READ_UNPROTECT: flash wiped, the device resets");
    for (size_t i = 0; i < m->nr_alts; i++)
        if (m->alts[i].mem == MEM_INTERNAL)
            mem_erase_all(d, &m->alts[i]);
    m->poll_ms = m->b->mass_erase_poll;
    m->result = SIM_DFU_STATUS_OK;
    m->unprotect = true;
}

/* The first GETSTATUS after a DNLOAD: check, start the work, answer dfuDNBUSY. */
static void execute(struct sim_dev *d)
{
    struct dfuse *m = model(d);
    const struct alt *a = &m->alts[d->cur_alt];
    uint32_t *ptr = &m->ptr[d->cur_alt];

    m->result = SIM_DFU_STATUS_OK;
    m->poll_ms = POLL_PROG_MS;
    if (m->block == 0) {
        uint32_t addr = m->len == 5 ? get32(m->buf + 1) : 0;

        switch (m->buf[0]) {
        case CMD_SET_ADDRESS:
            if (!range_ok(a, addr, 1, 0)) {
                fail_now(d, SIM_DFU_STATUS_ERR_TARGET, "SET_ADDRESS", addr);
                return;
            }
            *ptr = m->jump = addr;
            sim_note(d, "command SET_ADDRESS 0x%08X", addr);
            break;
        case CMD_ERASE:
            if (m->len == 1)
                do_mass_erase(d, a);
            else
                do_erase(d, a, addr);
            break;
        case CMD_UNPROTECT:
            do_unprotect(d);
            break;
        }
    } else {
        uint64_t addr64 = (uint64_t)(m->block - 2u) * m->b->transfer_size + *ptr;
        uint32_t addr = (uint32_t)addr64;

        if (addr64 > UINT32_MAX || !range_ok(a, addr, m->len, MEM_WRITE) || a->mem == MEM_OPTION) {
            fail_now(d, SIM_DFU_STATUS_ERR_TARGET, "write", addr);
            return;
        }
        m->jump = addr;
        if (sim_fault(d, SIM_FAULT_REFUSE_WRITE, m->data_index)) {
            sim_note(d, "write 0x%08X+%zu refused (fault): errWRITE", addr, m->len);
            m->result = SIM_DFU_STATUS_ERR_WRITE;
        } else {
            m->result = (uint8_t)mem_program(d, a, addr, m->buf, m->len);
            if (m->result != SIM_DFU_STATUS_OK)
                sim_note(d, "write 0x%08X+%zu failed: status %u", addr, m->len, m->result);
        }
    }
    if (d->state == SIM_DFU_STATE_ERROR)
        return;
    d->state = SIM_DFU_STATE_DNBUSY;
    m->status = SIM_DFU_STATUS_OK;
}

static int dfuse_getstatus(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct dfuse *m = model(d);
    const struct sim_fault *f = sim_fault_find(d, SIM_FAULT_WRONG_STATE);
    uint32_t poll = 0;
    bool leave = false;
    uint8_t out[6];
    int state;

    switch (d->state) {
    case SIM_DFU_STATE_DNLOAD_SYNC: {
        uint64_t before = d->work_until_us;

        execute(d);
        m->done_us = d->work_until_us != before ? d->work_until_us : 0;
        if (d->state == SIM_DFU_STATE_DNBUSY)
            poll = m->poll_ms;
        break;
    }
    case SIM_DFU_STATE_DNBUSY:
        if (m->wedged) {
            poll = POLL_WEDGE_MS;
        } else if (m->done_us > d->now_us) {
            poll = m->poll_ms; /* busy=answer: the work goes on */
        } else if (m->result != SIM_DFU_STATUS_OK) {
            d->state = SIM_DFU_STATE_ERROR;
            m->status = m->result;
        } else {
            d->state = SIM_DFU_STATE_DNLOAD_IDLE;
        }
        break;
    case SIM_DFU_STATE_MANIFEST_SYNC:
        d->state = SIM_DFU_STATE_MANIFEST;
        poll = POLL_LEAVE_MS;
        leave = true;
        break;
    }
    state = d->state;
    if (f && sim_fault(d, SIM_FAULT_WRONG_STATE, 0)) {
        state = (int)f->arg;
        sim_note(d, "GETSTATUS reports state %d (fault)", state);
    }
    out[0] = m->status;
    out[1] = (uint8_t)(poll & 0xFF);
    out[2] = (uint8_t)(poll >> 8 & 0xFF);
    out[3] = (uint8_t)(poll >> 16 & 0xFF);
    out[4] = (uint8_t)state;
    out[5] = 0;
    *len = s->wLength < sizeof(out) ? s->wLength : sizeof(out);
    memcpy(data, out, *len);
    if (leave) {
        sim_note(d, "manifest: jump to 0x%08X", m->jump);
        sim_leave(d, d->after_spec);
    } else if (m->unprotect) {
        char spec[64];

        /* It comes back as the same bootloader; the bridge carries the serial over. */
        snprintf(spec, sizeof(spec), "%s:%s%s", m->b->kind, m->b->name, m->rev_v ? ",rev=V" : "");
        m->unprotect = false;
        sim_leave(d, spec);
    }
    return SIM_OK;
}

static int dfuse_upload(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct dfuse *m = model(d);
    size_t n = s->wLength < m->b->transfer_size ? s->wLength : m->b->transfer_size;
    const struct alt *a;
    uint64_t addr64;
    uint32_t addr;

    if (d->state != SIM_DFU_STATE_IDLE && d->state != SIM_DFU_STATE_UPLOAD_IDLE) {
        sim_note(d, "UPLOAD refused in state %d", d->state);
        return SIM_STALL;
    }
    if (d->cur_alt >= m->nr_alts)
        return SIM_STALL;
    a = &m->alts[d->cur_alt];
    if (n == 0) {
        d->state = SIM_DFU_STATE_IDLE;
        *len = 0;
        return SIM_OK;
    }
    if (s->wValue == 0) {
        *len = n < m->b->nr_commands ? n : m->b->nr_commands;
        memcpy(data, m->b->commands, *len);
    } else if (s->wValue == 1) {
        sim_note(d, "UPLOAD wBlockNum 1 is not allowed");
        return stall_error(d, SIM_DFU_STATUS_ERR_STALLEDPKT);
    } else {
        addr64 = (uint64_t)(s->wValue - 2u) * m->b->transfer_size + m->ptr[d->cur_alt];
        addr = (uint32_t)addr64;
        if (addr64 > UINT32_MAX || !range_ok(a, addr, 1, MEM_READ)) {
            sim_note(d, "read 0x%08X: errTARGET, not in this alt's memory", addr);
            return stall_error(d, SIM_DFU_STATUS_ERR_TARGET);
        }
        /* A read running past the end of the memory is cut short (UNCERTAIN). */
        if (addr64 + n > (uint64_t)a->base + a->size)
            n = (size_t)((uint64_t)a->base + a->size - addr64);
        sim_hold(d);
        sim_region_read(&d->regions[a->region], addr, data, n);
        *len = n;
    }
    /* A short frame ends the upload (DFU 1.1). */
    d->state = *len < s->wLength ? SIM_DFU_STATE_IDLE : SIM_DFU_STATE_UPLOAD_IDLE;
    return SIM_OK;
}

/* usbd_dfu.c DFU_Abort/DFU_Detach: back to dfuIDLE only from these states. */
static bool abortable(int state)
{
    return state == SIM_DFU_STATE_IDLE || state == SIM_DFU_STATE_DNLOAD_SYNC ||
           state == SIM_DFU_STATE_DNLOAD_IDLE || state == SIM_DFU_STATE_MANIFEST_SYNC ||
           state == SIM_DFU_STATE_UPLOAD_IDLE;
}

static int dfuse_control(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    struct dfuse *m = model(d);
    bool in = s->bmRequestType & 0x80;

    if ((s->bmRequestType & 0x7F) != 0x21 || s->wIndex != 0)
        return SIM_STALL;
    switch (s->bRequest) {
    case SIM_DFU_DNLOAD:
        return in ? SIM_STALL : dfuse_dnload(d, s, data);
    case SIM_DFU_UPLOAD:
        return in ? dfuse_upload(d, s, data, len) : SIM_STALL;
    case SIM_DFU_GETSTATUS:
        return in ? dfuse_getstatus(d, s, data, len) : SIM_STALL;
    case SIM_DFU_GETSTATE:
        if (!in)
            return SIM_STALL;
        if (s->wLength)
            data[0] = (uint8_t)d->state;
        *len = s->wLength ? 1 : 0;
        return SIM_OK;
    case SIM_DFU_CLRSTATUS:
        if (in)
            return SIM_STALL;
        if (m->wedged)
            sim_note(d, "rev V: CLRSTATUS ends the wedged erase");
        m->wedged = false;
        if (d->state == SIM_DFU_STATE_ERROR) {
            d->state = SIM_DFU_STATE_IDLE;
            m->status = SIM_DFU_STATUS_OK;
        } else {
            /* ST's library: CLRSTATUS outside dfuERROR is itself an error. */
            d->state = SIM_DFU_STATE_ERROR;
            m->status = SIM_DFU_STATUS_ERR_UNKNOWN;
        }
        return SIM_OK;
    case SIM_DFU_ABORT:
    case SIM_DFU_DETACH:
        if (in)
            return SIM_STALL;
        if (abortable(d->state)) {
            d->state = SIM_DFU_STATE_IDLE;
            m->status = SIM_DFU_STATUS_OK;
        } else {
            sim_note(d, "%s ignored in state %d", s->bRequest == SIM_DFU_ABORT ? "ABORT" : "DETACH",
                     d->state);
        }
        /* UNCERTAIN: with WillDetach ST's library re-attaches to the bus and
         * stays in DFU mode; the model stays on the bus. */
        return SIM_OK;
    }
    return SIM_STALL;
}

static void reset_pointers(struct dfuse *m)
{
    for (size_t i = 0; i < m->nr_alts; i++)
        m->ptr[i] = m->alts[i].base;
    m->jump = m->alts[0].base;
}

static void dfuse_set_alt(struct sim_dev *d, unsigned iface, unsigned alt)
{
    struct dfuse *m = model(d);

    (void)iface;
    if (alt < m->nr_alts)
        m->ptr[alt] = m->alts[alt].base;
}

static void dfuse_reset(struct sim_dev *d)
{
    struct dfuse *m = model(d);

    /* A bus reset re-initialises the DFU class: the chip keeps running the bootloader. */
    d->state = SIM_DFU_STATE_IDLE;
    m->status = SIM_DFU_STATUS_OK;
    m->wedged = false;
    reset_pointers(m);
    sim_note(d, "USB reset: the bootloader's DFU state starts over");
}

static void dfuse_destroy(struct sim_dev *d)
{
    free(d->model);
    d->model = NULL;
}

static const struct sim_model_ops st_rom_ops = {
    "st-rom", dfuse_control, NULL, dfuse_set_alt, dfuse_reset, dfuse_destroy,
};

static const struct sim_model_ops arduino_ops = {
    "arduino", dfuse_control, NULL, dfuse_set_alt, dfuse_reset, dfuse_destroy,
};

static struct sim_dev *dfuse_new(const struct dfuse_board *b, bool rev_v, char *err, size_t errlen)
{
    struct dfuse *m = xcalloc(1, sizeof(*m));
    struct sim_dev *d = NULL;
    int regions[ARRAY_SIZE(mem_names)];

    m->b = b;
    m->rev_v = rev_v;
    for (size_t i = 0; i < MAX_ALTS && b->layouts[i]; i++) {
        if (parse_layout(b->layouts[i], &m->alts[i]) < 0) {
            omv_seterr(err, errlen, OMV_EINVAL, "%s:%s: bad layout string '%s'", b->kind, b->name,
                       b->layouts[i]);
            goto fail;
        }
        m->alts[i].mem = b->mems[i];
        m->nr_alts = i + 1;
    }
    d = sim_dev_new(b->vid, b->pid, b->bcd_device, b->manufacturer, b->product, b->serial);
    for (size_t i = 0; i < ARRAY_SIZE(regions); i++)
        regions[i] = -1;
    for (size_t i = 0; i < m->nr_alts; i++) {
        struct alt *a = &m->alts[i];
        uint32_t sector = UINT32_MAX;

        if (a->mem == MEM_NONE) {
            a->region = -1;
            continue;
        }
        if (regions[a->mem] < 0) {
            bool strict = a->mem == MEM_INTERNAL && b->h7;

            for (size_t k = 0; k < a->nr_segs; k++)
                if (a->segs[k].sector < sector)
                    sector = a->segs[k].sector;
            regions[a->mem] = (int)d->nr_regions;
            sim_dev_add_region(d, mem_names[a->mem], a->base, a->size, sector, strict ? 32 : 1,
                               strict);
        }
        a->region = regions[a->mem];
    }
    sim_dev_build_dfu(d, b->layouts, m->nr_alts, FUNC_ATTRS, DETACH_TIMEOUT, b->transfer_size,
                      BCD_DFUSE);
    d->timing.sector_erase_us = b->times->sectors[0].typ_us;
    d->timing.sector_erase_max_us = b->times->sectors[0].max_us;
    d->timing.unit_program_us = b->times->unit_us;
    d->timing.mass_erase_us = b->times->mass_typ_us;
    d->timing.mass_erase_max_us = b->times->mass_max_us;
    reset_pointers(m);
    d->ops = !strcmp(b->kind, "st-rom") ? &st_rom_ops : &arduino_ops;
    d->model = m;
    strbuf_reset(&d->notes); /* construction is not a request */
    return d;
fail:
    free(m);
    sim_dev_free(d);
    return NULL;
}

struct sim_dev *sim_model_st_rom(const char *variant, bool rev_v, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_SIZE(st_boards); i++) {
        if (strcmp(st_boards[i].name, variant) != 0)
            continue;
        if (rev_v && !st_boards[i].h7) {
            omv_seterr(err, errlen, OMV_EINVAL, "st-rom:%s: rev=V exists only for H743", variant);
            return NULL;
        }
        return dfuse_new(&st_boards[i], rev_v, err, errlen);
    }
    omv_seterr(err, errlen, OMV_EINVAL, "unknown ST ROM '%s' (H743, F427 or F765)", variant);
    return NULL;
}

struct sim_dev *sim_model_arduino(const char *board, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_SIZE(arduino_boards); i++)
        if (!strcmp(arduino_boards[i].name, board))
            return dfuse_new(&arduino_boards[i], false, err, errlen);
    omv_seterr(err, errlen, OMV_EINVAL, "unknown Arduino board '%s' (PORTENTA, GIGA or NICLA)",
               board);
    return NULL;
}
