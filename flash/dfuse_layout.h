/*
 * ST DfuSe memory-layout strings: the name of a DfuSe alt setting (its
 * iInterface string) describes the memory behind it, e.g.
 *
 *     @Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg
 *
 * (ST UM0424: '@' name, then one or more groups '/0xADDR/' followed by
 * segments N*S[B|K|M]T separated by ','; T is a type letter a-g whose low
 * three bits are readable/erasable/writeable). Pure functions, no I/O.
 *
 *     struct dfuse_layout l = DFUSE_LAYOUT_INIT;
 *     char err[256];
 *     if (dfuse_layout_parse(&l, alt_name, err, sizeof(err)) < 0) ... err ...
 *     uint32_t *pages; size_t nr;
 *     if (dfuse_layout_erase_pages(&l, addr, len, &pages, &nr, err, sizeof(err)) < 0) ...
 *     ... erase pages[0..nr) ...
 *     free(pages);
 *     dfuse_layout_release(&l);
 *
 * Ownership: the layout owns name and segs until dfuse_layout_release();
 * dfuse_layout_find() returns a borrowed pointer into it. The page array of
 * dfuse_layout_erase_pages() is the caller's to free(). Strings passed in are
 * borrowed.
 */
#ifndef OMVDEV_FLASH_DFUSE_LAYOUT_H
#define OMVDEV_FLASH_DFUSE_LAYOUT_H

#include "lib/compat.h"

#include <stddef.h>
#include <stdint.h>

/* The type letter's low three bits ('a' = r ... 'g' = r+e+w), as in dfu-util. */
enum dfuse_seg_flags {
    DFUSE_SEG_READABLE = 1 << 0,
    DFUSE_SEG_ERASABLE = 1 << 1,
    DFUSE_SEG_WRITEABLE = 1 << 2,
};

/* N equal pages starting at `start`. */
struct dfuse_segment {
    uint32_t start;
    uint64_t end;       /* exclusive: start + N * page_size, at most 1 << 32 */
    uint32_t page_size; /* bytes; a power of two whenever the segment is erasable */
    unsigned flags;     /* enum dfuse_seg_flags */
};

struct dfuse_layout {
    char *name;                 /* the text between '@' and the first '/', trimmed */
    struct dfuse_segment *segs; /* in string order; no two overlap */
    size_t nr;
};

#define DFUSE_LAYOUT_INIT                                                                          \
    {                                                                                              \
        NULL, NULL, 0                                                                              \
    }

/*
 * Parse a layout string into *out (which must be empty: DFUSE_LAYOUT_INIT or
 * released). On success returns 0 and fills *out. On error returns OMV_EPARSE,
 * leaves *out alone and writes "layout '<string>': <what>" naming the part at
 * fault into err.
 *
 * Accepted beyond the strict grammar, as dfu-util accepts it: spaces and tabs
 * around every token, leading zeros ("016"), a space instead of a multiplier
 * ("01*128 e" = 128 bytes), no multiplier at all ("01*016g"), 0X, and a
 * trailing ',' or '/'. Rejected: no '@', a bad address, a segment that is not
 * N*S[B|K|M]T with T in a-g, a zero count or size, a segment running past
 * 4 GiB, overlapping segments, and an erasable segment whose page size is not
 * a power of two or whose start is not a multiple of it (a flasher erases
 * page by page and the device erases the whole aligned page containing the
 * address it is sent). Non-erasable segments may have any page size (the
 * STM32L4 option bytes are "01*040 e"). The "Device Feature" name quirk of
 * newer dfu-util (type forced to 'e') is not applied: the letter is taken as
 * written.
 */
int dfuse_layout_parse(struct dfuse_layout *out, const char *s, char *err, size_t errlen);

/* Free everything and reset to DFUSE_LAYOUT_INIT; NULL is a no-op. */
void dfuse_layout_release(struct dfuse_layout *l);

/* The segment containing addr, or NULL. */
const struct dfuse_segment *dfuse_layout_find(const struct dfuse_layout *l, uint32_t addr);

/*
 * Check that every byte of [addr, addr + len) lies in segments having all of
 * `need` (enum dfuse_seg_flags). len 0 always passes. Returns 0, or
 * OMV_EINVAL with a message naming the first offending address.
 */
int dfuse_layout_check_range(const struct dfuse_layout *l, uint32_t addr, uint64_t len,
                             unsigned need, char *err, size_t errlen);

/* More pages than any real flash has; a longer erase list is refused. */
#define DFUSE_MAX_ERASE_PAGES (1u << 20)

/*
 * The start addresses of the pages to erase before writing [addr, addr + len):
 * every page the range touches, once, in ascending order (whole pages: bytes
 * of a first or last page outside the range are erased too). Every byte of
 * the range must be erasable and writeable and the list at most
 * DFUSE_MAX_ERASE_PAGES long, else OMV_EINVAL (nothing allocated). On success
 * *pages is a malloc'd array of *nr addresses (NULL when len is 0).
 */
int dfuse_layout_erase_pages(const struct dfuse_layout *l, uint32_t addr, uint64_t len,
                             uint32_t **pages, size_t *nr, char *err, size_t errlen);

/* "rew", "r-w", "---" ... for flags; buf must hold 4 bytes. Returns buf. */
char *dfuse_seg_flags_str(unsigned flags, char *buf);

#endif
