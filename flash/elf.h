/*
 * A tiny ELF and DWARF reader: enough to tell whether a firmware ELF is a
 * debug build. `omvdev debug` warns before loading one that is not: an ELF
 * without .debug_info, or one whose compilation units were compiled with
 * -O2/-Os (DW_AT_producer records GCC's options, e.g. "GNU C17 12.2.1
 * -mcpu=cortex-m7 -g -Og"), is what a release build gives. It parses
 * outside input and checks every offset against the buffer.
 *
 * Ownership: borrows the buffer; allocates nothing.
 */
#ifndef OMVDEV_FLASH_ELF_H
#define OMVDEV_FLASH_ELF_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Does the ELF image in data[0..len) (32- or 64-bit, either byte order) have
 * a section called `name`? *size gets its size (may be NULL). OMV_EPARSE with
 * "not an ELF file" or "... section headers ... outside the file" when the
 * image is malformed.
 */
int elf_find_section(const uint8_t *data, size_t len, const char *name, bool *found, uint64_t *size,
                     char *err, size_t errlen);

/* What one producer string says about optimisation: the last -O option wins. */
enum elf_opt {
    ELF_OPT_UNKNOWN,   /* no -O option recorded (an assembler, or no switches) */
    ELF_OPT_DEBUG,     /* -O0 or -Og */
    ELF_OPT_OPTIMISED, /* -O, -O1, -O2, -O3, -Os, -Oz, -Ofast */
};
enum elf_opt elf_producer_opt(const char *producer);

struct elf_producers {
    bool has_debug_info; /* a .debug_info section exists */
    unsigned cus;        /* compilation units seen */
    unsigned debug_cus, optimised_cus, other_cus;
    char sample[2][160]; /* a producer of each kind: [0] debug, [1] optimised */
};

/*
 * Count the compilation units of the ELF image by the optimisation their
 * DW_AT_producer records (DWARF 2 to 5; producers given as strx forms count
 * as other). A debug build has more -O0/-Og units than optimised ones (the
 * C library linked in may be optimised). OMV_EPARSE when the ELF or its
 * DWARF is malformed.
 */
int elf_producers(const uint8_t *data, size_t len, struct elf_producers *out, char *err,
                  size_t errlen);

#endif
