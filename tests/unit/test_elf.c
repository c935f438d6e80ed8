/* flash/elf: the section lookup that tells a DEBUG=1 ELF, on built images and hostile ones. */
#include "lib/compat.h"
#include "tests/unit/test.h"

#include "flash/elf.h"
#include "lib/error.h"
#include "lib/strbuf.h"

#include <stdlib.h>
#include <string.h>

static void put(uint8_t *p, uint64_t v, unsigned n, bool be)
{
    for (unsigned i = 0; i < n; i++)
        p[be ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/*
 * An ELF with a null section, the given named sections (4 bytes of data
 * each) and .shstrtab, laid out: header, names, data, section headers.
 */
static size_t make_elf(uint8_t *buf, size_t cap, bool is64, bool be, const char *const *names,
                       size_t n)
{
    size_t eh = is64 ? 64 : 52, sh = is64 ? 64 : 40, off, str_at, data_at, sh_at, nsec = n + 2;
    size_t name_off[16];
    char strtab[512];
    size_t sl = 1;

    memset(buf, 0, cap);
    strtab[0] = 0;
    for (size_t i = 0; i < n; i++) {
        name_off[i] = sl;
        sl += (size_t)snprintf(strtab + sl, sizeof(strtab) - sl, "%s", names[i]) + 1;
    }
    name_off[n] = sl;
    sl += (size_t)snprintf(strtab + sl, sizeof(strtab) - sl, ".shstrtab") + 1;
    str_at = eh;
    memcpy(buf + str_at, strtab, sl);
    data_at = str_at + sl;
    sh_at = data_at + 4 * n;
    sh_at = (sh_at + 7) & ~(size_t)7;
    memcpy(buf, "\177ELF", 4);
    buf[4] = is64 ? 2 : 1;
    buf[5] = be ? 2 : 1;
    buf[6] = 1;
    put(buf + 0x10, 2, 2, be);    /* ET_EXEC */
    put(buf + 0x12, 0x28, 2, be); /* EM_ARM */
    put(buf + (is64 ? 0x28 : 0x20), sh_at, is64 ? 8 : 4, be);
    put(buf + (is64 ? 0x3A : 0x2E), sh, 2, be);
    put(buf + (is64 ? 0x3C : 0x30), nsec, 2, be);
    put(buf + (is64 ? 0x3E : 0x32), nsec - 1, 2, be);
    for (size_t i = 1; i < nsec; i++) {
        uint8_t *h = buf + sh_at + i * sh;
        bool strsec = i == nsec - 1;

        put(h, name_off[i - 1], 4, be);
        put(h + 4, strsec ? 3 : 1, 4, be);
        off = strsec ? str_at : data_at + 4 * (i - 1);
        put(h + (is64 ? 0x18 : 0x10), off, is64 ? 8 : 4, be);
        put(h + (is64 ? 0x20 : 0x14), strsec ? sl : 4, is64 ? 8 : 4, be);
    }
    return sh_at + nsec * sh;
}

static void test_sections(void)
{
    static const char *const dbg[] = {".text", ".debug_info", ".debug_line"};
    static const char *const rel[] = {".text", ".data", ".debug_infox"};
    uint8_t buf[2048];
    char err[256];
    bool found;
    uint64_t size = 0;

    for (int v = 0; v < 4; v++) {
        bool is64 = v & 1, be = v & 2;
        size_t n = make_elf(buf, sizeof(buf), is64, be, dbg, 3);

        CHECK_INT(elf_find_section(buf, n, ".debug_info", &found, &size, err, sizeof(err)), ==, 0);
        CHECK(found);
        CHECK_INT(size, ==, 4);
        n = make_elf(buf, sizeof(buf), is64, be, rel, 3);
        CHECK_INT(elf_find_section(buf, n, ".debug_info", &found, NULL, err, sizeof(err)), ==, 0);
        CHECK(!found); /* ".debug_infox" is not ".debug_info" */
        CHECK_INT(elf_find_section(buf, n, ".data", &found, NULL, err, sizeof(err)), ==, 0);
        CHECK(found);
    }
    CHECK_INT(elf_find_section((const uint8_t *)"#!/bin/sh\n", 10, ".text", &found, NULL, err,
                               sizeof(err)),
              ==, OMV_EPARSE);
    CHECK_STR(err, "not an ELF file");
    {
        size_t n = make_elf(buf, sizeof(buf), false, false, dbg, 3);

        /* cut off the section headers */
        CHECK_INT(elf_find_section(buf, n - 10, ".debug_info", &found, NULL, err, sizeof(err)), ==,
                  OMV_EPARSE);
        CHECK_STR(err, "malformed ELF: section headers lie outside the file");
    }
}

/* Random damage to valid images: never a read outside the buffer (ASan), always an answer. */
static void test_fuzz(void)
{
    static const char *const dbg[] = {".text", ".debug_info", ".debug_line"};
    uint64_t st = 0x5eed;
    uint8_t buf[2048];
    char err[256];
    unsigned ok = 0, bad = 0;

    for (int round = 0; round < 20000; round++) {
        size_t n = make_elf(buf, sizeof(buf), test_rand(&st) & 1, test_rand(&st) & 1, dbg, 3);
        unsigned flips = 1 + test_rand(&st) % 8;
        uint8_t *copy;
        bool found;
        int rc;

        for (unsigned f = 0; f < flips; f++)
            buf[test_rand(&st) % n] ^= (uint8_t)(1u << (test_rand(&st) % 8));
        if (test_rand(&st) % 4 == 0)
            n = test_rand(&st) % n;
        copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, buf, n);
        rc = elf_find_section(copy, n, ".debug_info", &found, NULL, err, sizeof(err));
        CHECK(rc == 0 || rc == OMV_EPARSE);
        if (rc == 0)
            ok++;
        else
            bad++;
        free(copy);
    }
    CHECK(ok > 1000 && bad > 1000);
}

TESTS(TEST(test_sections), TEST(test_fuzz))
