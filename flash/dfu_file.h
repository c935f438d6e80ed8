/*
 * .dfu files: a payload followed by the 16-byte DFU suffix (DFU 1.1 spec),
 * and for bcdDFU 0x011A the ST DfuSe layout of the payload (a "DfuSe" prefix,
 * "Target" images, address+size elements; ST UM0391). Pure functions over a
 * buffer: no I/O, nothing printed.
 *
 *     struct dfu_file f = DFU_FILE_INIT;
 *     char err[256];
 *     if (dfu_file_parse(&f, buf, len, err, sizeof(err)) < 0) ... err ...
 *     if (dfu_file_check_device(&f, vid, pid, err, sizeof(err)) < 0) ...
 *     for each f.targets[i].elems[j]: write .size bytes of .data to .address
 *     dfu_file_release(&f);
 *
 * Ownership: a parsed dfu_file BORROWS the buffer it was parsed from:
 * payload and every element's data point into it, so the buffer must outlive
 * the dfu_file. The file owns the targets and element arrays until
 * dfu_file_release(). The builders write into a caller-owned strbuf.
 *
 * Messages name byte offsets from the start of the buffer and count targets
 * and elements from 0; callers prefix the file name.
 */
#ifndef OMVDEV_FLASH_DFU_FILE_H
#define OMVDEV_FLASH_DFU_FILE_H

#include "lib/compat.h"

#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DFU_SUFFIX_LEN  16     /* bLength of a standard suffix */
#define DFU_BCD_DFU     0x0100 /* bcdDFU of a plain DFU 1.0/1.1 file */
#define DFU_BCD_DFUSE   0x011A /* bcdDFU of an ST DfuSe file */
#define DFU_ID_ANY      0xFFFF /* idVendor/idProduct/bcdDevice wildcard */
#define DFU_NAME_MAX    255    /* szTargetName */
#define DFU_MAX_TARGETS 255    /* bTargets is one byte */

/* dwElementAddress, dwElementSize and the bytes that follow. */
struct dfu_element {
    uint32_t address;
    uint32_t size;
    const uint8_t *data; /* borrowed: into the parsed buffer, or the builder's input */
};

/* One "Target" image: what to write through alt setting `alt`. */
struct dfu_target {
    uint8_t alt;
    bool named;                  /* bTargetNamed != 0 */
    char name[DFU_NAME_MAX + 1]; /* "" unless named; unprintable bytes read as '?' */
    struct dfu_element *elems;   /* owned by a parsed file; borrowed by the builder */
    size_t nr;
};

struct dfu_file {
    uint16_t vid, pid, bcd_device, bcd_dfu; /* from the suffix; DFU_ID_ANY = any */
    uint8_t suffix_len;                     /* bLength, >= 16 */
    uint32_t crc;                           /* dwCRC, checked */
    bool dfuse;                             /* bcdDFU == 0x011A: targets are filled */
    uint32_t image_size;                    /* DFUImageSize of the DfuSe prefix, unchecked:
                                               writers disagree on what it counts */
    const uint8_t *payload;                 /* borrowed: everything before the suffix */
    size_t payload_len;
    struct dfu_target *targets; /* DfuSe only */
    size_t nr_targets;
};

#define DFU_FILE_INIT                                                                              \
    {                                                                                              \
        0, 0, 0, 0, 0, 0, false, 0, NULL, 0, NULL, 0                                               \
    }

/*
 * The CRC of the DFU suffix as dfu-util computes it: CRC-32 (reflected,
 * polynomial 0xEDB88320), initial value 0xFFFFFFFF and NO final XOR, i.e.
 * ~crc32() of zlib. A file's dwCRC covers every byte but its last four.
 */
uint32_t dfu_crc32(const void *buf, size_t len);

/*
 * Parse buf[0..len) into *f (which must be empty: DFU_FILE_INIT or released).
 * Checks the suffix signature "UFD", the CRC and bLength; for bcdDFU 0x011A
 * also the DfuSe prefix, every target and element, that sizes and counts fit
 * the buffer, that no element runs past 4 GiB and that nothing is left over
 * before the suffix. Returns 0, or OMV_EPARSE with a message naming the byte
 * offset (f untouched).
 */
int dfu_file_parse(struct dfu_file *f, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Free the target and element arrays and reset to DFU_FILE_INIT; NULL is a no-op. */
void dfu_file_release(struct dfu_file *f);

/*
 * Whether the file is meant for device vid:pid: DFU_ID_ANY in the file
 * matches anything (DFU 1.1 spec). bcdDevice is not compared. Returns 0, or
 * OMV_EINVAL with a message naming both IDs.
 */
int dfu_file_check_device(const struct dfu_file *f, uint16_t vid, uint16_t pid, char *err,
                          size_t errlen);

/* Append a 16-byte DFU suffix whose CRC covers all of sb, suffix included. */
void dfu_file_append_suffix(struct strbuf *sb, uint16_t bcd_device, uint16_t pid, uint16_t vid,
                            uint16_t bcd_dfu);

/* Replace out with data + a plain suffix (bcdDFU 0x0100), as `dfu-suffix -a` writes it. */
void dfu_file_build_plain(struct strbuf *out, const uint8_t *data, size_t len, uint16_t vid,
                          uint16_t pid, uint16_t bcd_device);

/*
 * Replace out with a DfuSe file of n targets, byte for byte as MicroPython's
 * tools/dfu.py builds it (the tool OpenMV's Makefile runs): each element's
 * data padded with 0x00 to a multiple of 8 (the stored size is the padded
 * one), DFUImageSize = everything before the suffix, bcdDevice 0, bcdDFU
 * 0x011A. The alt, named flag and name of each target are taken from the
 * input (dfu.py always writes alt 0, named, "ST..."). Returns 0, or
 * OMV_EINVAL (out unchanged) when there are no or more than 255 targets or a
 * size does not fit its 32-bit field or an element runs past 4 GiB.
 */
int dfu_file_build_dfuse(struct strbuf *out, uint16_t vid, uint16_t pid,
                         const struct dfu_target *targets, size_t n, char *err, size_t errlen);

#endif
