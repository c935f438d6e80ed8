/*
 * A flash plan: the ordered transfers that put a board's images on it, built
 * from the board database and the build directory (or explicit files) and
 * checked before any device is touched.
 *
 *     struct flash_plan plan = FLASH_PLAN_INIT;
 *     if (flash_plan_build(&plan, t, "build/OPENMV4/bin", &opts, err, n) < 0) ...
 *     ... plan.steps[i] ...
 *     flash_plan_release(&plan);
 *
 * Ownership: the plan owns its steps, their file contents and strings; the
 * target is borrowed and must outlive it.
 */
#ifndef OMVDEV_FLASH_PLAN_H
#define OMVDEV_FLASH_PLAN_H

#include "lib/compat.h"
#include "targets/targets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flash_step {
    char *label; /* "firmware.bin", "filesystem erase" */
    char *path;  /* the file read, or NULL for generated data */
    uint8_t *data;
    size_t len;
    int alt;             /* DFU alt setting */
    char *alt_name;      /* the name the bootloader must report for it, NULL if unknown */
    int64_t address;     /* DfuSe address, -1 when written by alt */
    uint64_t limit;      /* the most bytes the partition takes, 0 if unknown */
    uint32_t erase_size; /* the partition's erase unit (target_alt), 0 if unknown */
};

struct flash_plan {
    const struct target *target;
    struct flash_step *steps;
    size_t nr;
    uint32_t leave_address; /* DfuSe: where to jump after the last step */
    int leave_alt;          /* DfuSe: the alt whose memory holds leave_address */
    /* Some step is placed by address on a board whose own bootloader is
     * addressed by alt: it can only go through the ST system bootloader. */
    bool needs_rom;
};

#define FLASH_PLAN_INIT                                                                            \
    {                                                                                              \
        NULL, NULL, 0, 0, 0, false                                                                 \
    }

struct flash_plan_opts {
    const char *firmware; /* replaces the firmware image */
    const char *romfs;    /* replaces the (first) ROMFS image */
    /* A single file instead of the board's images. A name ending in .dfu is
     * a DFU file: its suffix must name the device (VID:PID) and its DfuSe
     * elements carry their own addresses. */
    const char *file;
    int alt;         /* with file: the alt (-1 none) */
    int64_t address; /* with file: the DfuSe address (-1 none) */
    bool erase_fs;   /* add the board's filesystem erase */
    bool only_erase; /* nothing but the filesystem erase */
};

/* Build and check: files exist and fit their partitions, no read-only alt is
 * written, the board can be flashed over USB DFU. */
int flash_plan_build(struct flash_plan *plan, const struct target *t, const char *bin_dir,
                     const struct flash_plan_opts *o, char *err, size_t errlen);
void flash_plan_release(struct flash_plan *plan);

/*
 * For --skip-unchanged on a bootloader that erases in `unit`-byte units as a
 * write reaches each one and places DFU block n at start + n * xfer (the
 * OpenMV bootloader): mark in skip[] (one entry per xfer-byte block of the
 * image) the blocks of every whole unit whose bytes the partition already
 * holds (`old`, read back from it), so that it is neither erased nor
 * written. The first unit is always sent: the bootloader opens a partition
 * for writing on block 0. unit must be a multiple of xfer (0: send all).
 * Returns the number of image bytes still to send.
 */
size_t flash_skip_mask(const uint8_t *old, const uint8_t *data, size_t len, uint32_t unit,
                       size_t xfer, bool *skip);

#endif
