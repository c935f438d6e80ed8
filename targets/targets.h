/*
 * The board database: one INI file per board under targets/boards/, embedded
 * into the binary at build time and parsed once into a struct target_db.
 *
 *     struct target_db db = TARGET_DB_INIT;
 *     char err[256];
 *     if (target_db_load(&db, err, sizeof(err)) < 0) ... err says file:line ...
 *     const struct target *t = target_find(&db, "openmv4");
 *     ...
 *     target_db_release(&db);
 *
 * Ownership: every string and array hangs off the db and lives until
 * target_db_release(). Lookups return borrowed pointers into it.
 */
#ifndef OMVDEV_TARGETS_TARGETS_H
#define OMVDEV_TARGETS_TARGETS_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How images reach the board (field "method"). */
enum target_method {
    TARGET_METHOD_OPENMV_DFU, /* plain DFU 1.1, one alt per partition */
    TARGET_METHOD_DFUSE,      /* ST DfuSe addressing (Arduino bootloader) */
    TARGET_METHOD_SPSDK,      /* NXP blhost/sdphost */
    TARGET_METHOD_BOSSAC,
    TARGET_METHOD_PICOTOOL,
    TARGET_METHOD_EMULATOR, /* a QEMU or FVP machine: nothing to flash, `make run` loads it */
};

/* How a damaged bootloader is restored (field "recovery"). */
enum target_recovery {
    TARGET_RECOVERY_NONE,          /* factory-locked (Arduino) */
    TARGET_RECOVERY_STM32_ROM_DFU, /* BOOT-RST jumper, ST system DFU 0483:df11 */
    TARGET_RECOVERY_STM32CUBEPROG, /* N6: STM32_Programmer_CLI + FlashLayout.tsv */
    TARGET_RECOVERY_SPSDK_SDP,     /* RT1060: SDP ROM + flashloader + eFuse */
    TARGET_RECOVERY_ALIF_SETOOLS,  /* AE3: Alif SE tools over serial ISP */
};

/* The tools a board can be flashed, recovered or debugged with (field
 * "runners", a space-separated list of these names; bit 1 << runner). */
enum target_runner {
    TARGET_RUNNER_DFU,           /* "dfu": omvdev's own USB DFU / DfuSe (omvdev flash) */
    TARGET_RUNNER_ST_ROM_DFU,    /* "st-rom-dfu": the ST system DFU ROM, 0483:df11 */
    TARGET_RUNNER_STM32CUBEPROG, /* "stm32cubeprog": STM32_Programmer_CLI over USB (N6) */
    TARGET_RUNNER_SWD_STLINK,    /* "swd-stlink": STM32_Programmer_CLI over an ST-Link */
    TARGET_RUNNER_SWD_JLINK,     /* "swd-jlink": JLinkExe / JLinkGDBServer over a J-Link */
    TARGET_RUNNER_SPSDK,         /* "spsdk": NXP sdphost/blhost */
    TARGET_RUNNER_ALIF_SE,       /* "alif-se": Alif SE tools (maintenance, app-write-mram) */
    TARGET_RUNNER_BOSSAC,        /* "bossac" */
    TARGET_RUNNER_PICOTOOL,      /* "picotool" */
    TARGET_RUNNER_COUNT,
};

/* One image written over SWD (field "swd_images", FILE@ADDRESS words). */
struct target_swd_image {
    char *file;
    uint32_t address;
};

/* What a DFU alt setting holds (field "role" of an [alt N] section). */
enum target_role {
    TARGET_ROLE_BOOTLOADER,
    TARGET_ROLE_FIRMWARE,
    TARGET_ROLE_FIRMWARE_HP, /* AE3 high-performance core */
    TARGET_ROLE_FIRMWARE_HE, /* AE3 high-efficiency core */
    TARGET_ROLE_ROMFS,
    TARGET_ROLE_FILESYSTEM_ERASE,
    TARGET_ROLE_FILESYSTEM, /* a filesystem region that is not the one to erase */
    TARGET_ROLE_TOC,        /* AE3 table of contents */
    TARGET_ROLE_RECOVERY,
    TARGET_ROLE_MEMORY, /* a whole memory addressed by DfuSe (Arduino) */
};

struct usb_id {
    uint16_t vid;
    uint16_t pid;
};

struct target_alt {
    unsigned alt;
    char *name;   /* as the bootloader reports it: FIRMWARE, ROMFS0, ... */
    char *memory; /* internal, qspi, xspi, ospi, mram */
    uint32_t start;
    uint32_t end; /* exclusive */
    enum target_role role;
    bool readonly;
    /* The bootloader erases in units of this many bytes, aligned to start, as
     * soon as a write begins one: the granularity at which unchanged data can
     * be skipped. 0 when unknown or not uniform (STM32F4/F7 mixed sectors). */
    uint32_t erase_size;
};

/* One image of the default flash, in flash order. */
struct target_image {
    char *file; /* artefact name in build/<T>/bin/ */
    enum target_role role;
    int alt;           /* -1: none (not a DFU board) */
    int64_t address;   /* -1: none (placed by alt) */
    uint64_t max_size; /* 0: unknown */
};

/* One step of the filesystem erase: write `size` zero bytes. */
struct target_erase {
    int alt;         /* -1: none */
    int64_t address; /* -1: start of the alt */
    uint32_t size;
};

struct target {
    char *name; /* TARGET, e.g. OPENMV4 */
    char *camera;
    bool supported;
    char *mcu;      /* as the seed's table prints it */
    char *mcu_part; /* board_config.mk MCU */
    char *port;
    char *core;
    struct usb_id app_usb;
    struct usb_id dfu_usb;      /* 0:0 when none */
    struct usb_id recovery_usb; /* 0:0 when none */
    enum target_method method;
    char *jlink_device; /* NULL: no J-Link support */
    char *debug_elf;
    bool boots_external_flash;
    unsigned min_gcc; /* major*100+minor, 0 when no minimum */
    enum target_recovery recovery;
    char **artefacts;
    size_t nr_artefacts;
    struct target_alt *alts;
    size_t nr_alts;
    struct target_image *images;
    size_t nr_images;
    struct target_erase *erases;
    size_t nr_erases;
    unsigned runners; /* bit 1 << enum target_runner; optional key, 0 when absent */
    struct target_swd_image *swd_images; /* optional: what `flash --swd` writes, in order */
    size_t nr_swd_images;
    char *swd_loader; /* optional: STM32CubeProgrammer external loader (.stldr), or NULL */
    char **probes;    /* optional "probes": debug probes that serve it, the first the default */
    size_t nr_probes;
    char *openocd_target; /* optional: OpenOCD's target config, e.g. target/stm32h7x.cfg */
    /* Emulated boards (method emulator): the machine `make run` starts, NULL otherwise.
     * qemu-system-arm -machine <qemu_machine> -kernel firmware.elf, the ROMFS images loaded
     * at their [image] addresses; from v5.0.0 MPS3_AN547 runs on Arm's FVP_Corstone_<fvp>. */
    char *qemu_machine;
    char *fvp_machine;
    char *source; /* data file name, for messages */
};

struct target_db {
    struct target *targets; /* sorted by name */
    size_t nr;
};

#define TARGET_DB_INIT                                                                             \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Parse every embedded board file. On error returns a negative omv_err and
 * writes "file:line: message" into err. */
int target_db_load(struct target_db *db, char *err, size_t errlen);

/* Parse one board file's text (exposed for tests and fuzzing). `name` is the
 * file name used in messages. Appends to db on success. */
int target_db_parse(struct target_db *db, const char *name, const char *text, char *err,
                    size_t errlen);

void target_db_release(struct target_db *db);

/* Case-insensitive lookup by TARGET name; NULL when unknown. */
const struct target *target_find(const struct target_db *db, const char *name);

/* The closest supported TARGET to a misspelling, or NULL when none is close. */
const char *target_suggest(const struct target_db *db, const char *name);

/* The board whose application or DFU VID:PID is `id`; NULL if none. Recovery
 * IDs (the ST ROM's 0483:DF11) are shared by many boards and never match. */
const struct target *target_find_usb(const struct target_db *db, struct usb_id id);

/* The alt with the given role (the first), or NULL. */
const struct target_alt *target_alt_by_role(const struct target *t, enum target_role role);
const struct target_alt *target_alt_by_number(const struct target *t, unsigned alt);

const char *target_method_name(enum target_method m);
const char *target_recovery_name(enum target_recovery r);
const char *target_role_name(enum target_role r);
const char *target_runner_name(enum target_runner r);
/* The runner called `name`, or -1. */
int target_runner_parse(const char *name);
static inline bool target_has_runner(const struct target *t, enum target_runner r)
{
    return (t->runners >> r) & 1u;
}

/* Is `id` set (not 0:0) and equal to vid:pid? */
bool usb_id_is(struct usb_id id, uint16_t vid, uint16_t pid);

/* "37C5:9204" into buf (at least 10 bytes); "" for 0:0. */
const char *usb_id_str(struct usb_id id, char *buf, size_t len);

#endif
