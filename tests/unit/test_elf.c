/* flash/elf: the section lookup that tells a DEBUG=1 ELF, on built images and hostile ones. */
#include "lib/compat.h"
#include "tests/unit/test.h"

#include "flash/elf.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"

#include <stdio.h>
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

static void test_producer_opt(void)
{
    CHECK_INT(elf_producer_opt("GNU C17 12.2.1 -mcpu=cortex-m7 -g -O2"), ==, ELF_OPT_OPTIMISED);
    CHECK_INT(elf_producer_opt("GNU C17 12.2.1 -mcpu=cortex-m7 -Og -ggdb3"), ==, ELF_OPT_DEBUG);
    CHECK_INT(elf_producer_opt("GNU C17 -O2 -g -O0"), ==, ELF_OPT_DEBUG); /* the last one wins */
    CHECK_INT(elf_producer_opt("GNU C17 -Og -Os"), ==, ELF_OPT_OPTIMISED);
    CHECK_INT(elf_producer_opt("GNU C17 -O -g"), ==, ELF_OPT_OPTIMISED);
    CHECK_INT(elf_producer_opt("GNU C17 -Ofast"), ==, ELF_OPT_OPTIMISED);
    CHECK_INT(elf_producer_opt("GNU AS 2.40"), ==, ELF_OPT_UNKNOWN);
    CHECK_INT(elf_producer_opt("GNU C17 -Owhatever"), ==, ELF_OPT_UNKNOWN);
}

/* Real programs from a real compiler: Debian's arm-none-eabi-gcc (32-bit, DWARF 5) and the
 * host's cc (64-bit), each at -Og and -O2, and one without -g. */
static void check_compiled(const char *cc, const char *extra)
{
    char dir[] = "/tmp/omvdev-elf-XXXXXX", cmd[1024], err[256];
    const char *opts[] = {"-g -Og", "-g -O2", "-O2"};
    struct strbuf data = STRBUF_INIT, path = STRBUF_INIT;
    struct elf_producers pr;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd),
             "printf 'static int f(int x) { return x * 3; }\\nint main(void) { "
             "return f(2); }\\n' >%s/a.c && printf 'int g(int y) { return y + "
             "1; }\\n' >%s/b.c",
             dir, dir);
    CHECK_INT(system(cmd), ==, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "%s %s %s %s/a.c %s/b.c -o %s/x 2>/dev/null", cc, opts[i], extra,
                 dir, dir, dir);
        if (system(cmd) != 0) {
            printf("# %s cannot link here: skipped\n", cc);
            break;
        }
        strbuf_reset(&path);
        strbuf_addf(&path, "%s/x", dir);
        strbuf_reset(&data);
        CHECK_INT(fs_read_file(path.buf, &data, err, sizeof(err)), ==, 0);
        CHECK_INT(elf_producers((const uint8_t *)data.buf, data.len, &pr, err, sizeof(err)), ==, 0);
        if (i == 2) {
            CHECK(pr.debug_cus == 0 && pr.optimised_cus == 0);
            continue;
        }
        CHECK(pr.has_debug_info);
        CHECK(pr.cus >= 2);
        if (i == 0) {
            CHECK(pr.debug_cus >= 2 && pr.debug_cus > pr.optimised_cus);
            CHECK_CONTAINS(pr.sample[0], "-Og");
        } else {
            CHECK(pr.optimised_cus >= 2 && pr.debug_cus == 0);
            CHECK_CONTAINS(pr.sample[1], "-O2");
        }
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), ==, 0);
    strbuf_release(&data);
    strbuf_release(&path);
}

static void test_producers_compiled(void)
{
    if (system("command -v arm-none-eabi-gcc >/dev/null 2>&1") == 0)
        check_compiled("arm-none-eabi-gcc", "-mcpu=cortex-m7 -mthumb -nostdlib -Wl,-e,main");
    check_compiled("cc", "");
}

/* Truncated and bit-flipped DWARF from a real ELF: an error or counts, never a crash. */
static void test_producers_fuzz(void)
{
    char dir[] = "/tmp/omvdev-elf-XXXXXX", cmd[512], err[256];
    struct strbuf data = STRBUF_INIT, path = STRBUF_INIT;
    uint64_t st = 0xd1a7;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd),
             "printf 'int main(void) { return 0; }\\n' >%s/a.c && cc -g -Og "
             "%s/a.c -o %s/x",
             dir, dir, dir);
    CHECK_INT(system(cmd), ==, 0);
    strbuf_addf(&path, "%s/x", dir);
    CHECK_INT(fs_read_file(path.buf, &data, err, sizeof(err)), ==, 0);
    for (int round = 0; round < 3000; round++) {
        size_t n = data.len;
        uint8_t *copy = malloc(n);
        struct elf_producers pr;
        int rc;

        memcpy(copy, data.buf, n);
        for (unsigned f = 0; f < 1 + test_rand(&st) % 16; f++)
            copy[test_rand(&st) % n] ^= (uint8_t)(1u << (test_rand(&st) % 8));
        if (test_rand(&st) % 4 == 0)
            n = test_rand(&st) % n;
        rc = elf_producers(copy, n, &pr, err, sizeof(err));
        CHECK(rc == 0 || rc == OMV_EPARSE);
        free(copy);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), ==, 0);
    strbuf_release(&data);
    strbuf_release(&path);
}

TESTS(TEST(test_sections), TEST(test_fuzz), TEST(test_producer_opt), TEST(test_producers_compiled),
      TEST(test_producers_fuzz))
