/*
 * How large each image of a board may be, read from the checked-out firmware
 * repository's board files (boards/<T>/board_config.h and boot_config.h from
 * v5.0.0 on; omv_boardconfig.h and omv_bootconfig.h up to v4.8.x, under
 * src/omv/boards/<T> up to v4.6.x; the linker scripts take their sizes from
 * the same defines):
 * partition layouts change between releases, so the repository wins over
 * omvdev's board database.
 *
 *     struct part_layout l = PART_LAYOUT_INIT;
 *     rc = part_layout_load(&l, "/src/openmv/boards/OPENMV4", err, sizeof(err));
 *     const struct part_size *p = part_layout_find(&l, "firmware.bin");
 *     part_layout_release(&l);
 *
 * The headers are outside input: a #define value is evaluated only when it is
 * a plain arithmetic expression of numbers (decimal, 0x hex, K/M/G suffixes)
 * and other #defines of the same files; anything else is ignored.
 *
 * Also here: whether a udev rules text grants access to a USB VID[:PID], for
 * `doctor` (the same kind of small parser of files we did not write).
 *
 * Ownership: the layout owns its strings until part_layout_release().
 */
#ifndef OMVDEV_TARGETS_PARTITIONS_H
#define OMVDEV_TARGETS_PARTITIONS_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct part_size {
    char *file;   /* artefact name: firmware.bin, bootloader.bin, romfs0.img */
    uint64_t max; /* bytes */
    char *define; /* the macro it came from, e.g. OMV_FLASH_TXT_LENGTH */
    char *header; /* the header that defines it (part_layout_load), e.g. omv_boardconfig.h */
};

struct part_layout {
    struct part_size *items;
    size_t nr, alloc;
    char *source; /* the headers part_layout_load() read: "board_config.h + boot_config.h" */
};

#define PART_LAYOUT_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0, NULL                                                                           \
    }

/*
 * Evaluate a #define value: numbers with optional K/M/G suffix, + - * / and
 * parentheses, and identifiers looked up with `lookup` (may be NULL), at most
 * 8 levels deep. OMV_EPARSE when it is anything else.
 */
int part_eval(const char *expr,
              int (*lookup)(void *ud, const char *name, size_t len, int depth, uint64_t *out),
              void *ud, int depth, uint64_t *out);

/*
 * Add the images whose sizes the header text `text` (one or more files
 * concatenated) defines: OMV_FLASH_TXT_LENGTH → firmware.bin,
 * OMV_FLASH_BOOT_LENGTH → bootloader.bin, OMV_ROMFS_PART<n>_LENGTH →
 * romfs<n>.img. Never fails on odd input; returns how many were found.
 */
size_t part_layout_parse(struct part_layout *l, const char *text);

/*
 * Read board_config.h and boot_config.h (or omv_boardconfig.h and
 * omv_bootconfig.h) from `board_dir`; l->source names the ones read.
 * OMV_ENOENT when none exists, OMV_EIO when one cannot be read. Finding no sizes is not an
 * error (l stays empty).
 */
int part_layout_load(struct part_layout *l, const char *board_dir, char *err, size_t errlen);

const struct part_size *part_layout_find(const struct part_layout *l, const char *file);

void part_layout_release(struct part_layout *l);

/*
 * Does a udev rule in `text` match USB vendor `vid` (and product `pid`, when
 * pid >= 0) and grant access (MODE, GROUP or TAG+="uaccess")? Comment lines
 * and rules for other IDs do not count; alternatives "9202|9203" count.
 */
bool udev_rules_cover(const char *text, uint16_t vid, int pid);

#endif
