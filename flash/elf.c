#include "lib/compat.h"
#include "flash/elf.h"

#include "lib/error.h"

#include <string.h>

struct elf_view {
    const uint8_t *d;
    size_t len;
    bool is64, be;
};

static uint64_t rd(const struct elf_view *e, uint64_t off, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        unsigned k = e->be ? i : n - 1 - i;

        v = v << 8 | e->d[off + k];
    }
    return v;
}

/* Is [off, off+n) inside the buffer? */
static bool inside(const struct elf_view *e, uint64_t off, uint64_t n)
{
    return off <= e->len && n <= e->len - off;
}

int elf_find_section(const uint8_t *data, size_t len, const char *name, bool *found, uint64_t *size,
                     char *err, size_t errlen)
{
    struct elf_view e = {data, len, false, false};
    uint64_t shoff, shentsize, shnum, shstrndx, str_off, str_size, ent;
    size_t nlen = strlen(name);

    *found = false;
    if (len < 52 || memcmp(data, "\177ELF", 4) != 0 || (data[4] != 1 && data[4] != 2) ||
        (data[5] != 1 && data[5] != 2))
        return omv_seterr(err, errlen, OMV_EPARSE, "not an ELF file");
    e.is64 = data[4] == 2;
    e.be = data[5] == 2;
    if (e.is64 && len < 64)
        return omv_seterr(err, errlen, OMV_EPARSE, "not an ELF file (truncated header)");
    shoff = e.is64 ? rd(&e, 0x28, 8) : rd(&e, 0x20, 4);
    shentsize = rd(&e, e.is64 ? 0x3A : 0x2E, 2);
    shnum = rd(&e, e.is64 ? 0x3C : 0x30, 2);
    shstrndx = rd(&e, e.is64 ? 0x3E : 0x32, 2);
    if (shnum == 0)
        return 0; /* no section headers (stripped to segments): no debug info */
    if (shentsize < (e.is64 ? 64u : 40u) || shstrndx >= shnum || shoff > len ||
        !inside(&e, shoff, shnum * shentsize))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "malformed ELF: section headers lie outside the file");
    ent = shoff + shstrndx * shentsize;
    str_off = e.is64 ? rd(&e, ent + 0x18, 8) : rd(&e, ent + 0x10, 4);
    str_size = e.is64 ? rd(&e, ent + 0x20, 8) : rd(&e, ent + 0x14, 4);
    if (!inside(&e, str_off, str_size))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "malformed ELF: the section name table lies outside the file");
    for (uint64_t i = 0; i < shnum; i++) {
        uint64_t h = shoff + i * shentsize;
        uint64_t n = rd(&e, h, 4);

        if (n >= str_size || str_size - n < nlen + 1)
            continue;
        if (memcmp(data + str_off + n, name, nlen + 1) != 0)
            continue;
        *found = true;
        if (size)
            *size = e.is64 ? rd(&e, h + 0x20, 8) : rd(&e, h + 0x14, 4);
        return 0;
    }
    return 0;
}
