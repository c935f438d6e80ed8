/*
 * A tiny ELF section-header reader: enough to tell whether a firmware ELF
 * carries debug information (a .debug_info section), which is how `omvdev
 * debug` warns about an ELF that was not built with DEBUG=1. It parses
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

#endif
