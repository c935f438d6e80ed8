/*
 * DfuSe memory-layout strings: the ROM strings of the STM32 families OpenMV
 * uses (H743, F4, F7) and a few others seen in the wild, whitespace variants,
 * erase-page lists, every rejection, and a deterministic mutation loop.
 */
#include "tests/unit/test.h"

#include "flash/dfuse_layout.h"
#include "lib/error.h"
#include "lib/strbuf.h"

#include <stdlib.h>

#define KIB 1024u

/* Parse s, expecting success; the layout is released by the caller. */
static int parse_ok(struct dfuse_layout *l, const char *s)
{
    char err[512] = "";
    int rc = dfuse_layout_parse(l, s, err, sizeof(err));

    if (rc != 0)
        test_fail(__FILE__, __LINE__, "'%s' failed: %s", s, err);
    return rc;
}

static void check_seg(const struct dfuse_layout *l, size_t i, uint32_t start, uint64_t end,
                      uint32_t page, unsigned flags)
{
    if (i >= l->nr) {
        test_fail(__FILE__, __LINE__, "no segment %zu (have %zu)", i, l->nr);
        return;
    }
    CHECK_INT(l->segs[i].start, ==, start);
    CHECK_INT(l->segs[i].end, ==, end);
    CHECK_INT(l->segs[i].page_size, ==, page);
    CHECK_INT(l->segs[i].flags, ==, flags);
}

#define RW  (DFUSE_SEG_READABLE | DFUSE_SEG_WRITEABLE)
#define REW (DFUSE_SEG_READABLE | DFUSE_SEG_ERASABLE | DFUSE_SEG_WRITEABLE)

static void test_h743(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    if (parse_ok(&l, "@Internal Flash   /0x08000000/16*128Kg") == 0) {
        CHECK_STR(l.name, "Internal Flash");
        CHECK_INT(l.nr, ==, 1);
        check_seg(&l, 0, 0x08000000, 0x08200000, 128 * KIB, REW);
    }
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@Option Bytes   /0x5200201C/01*128 e") == 0) {
        CHECK_STR(l.name, "Option Bytes");
        /* 'e' is readable + writeable, not erasable: no alignment needed */
        check_seg(&l, 0, 0x5200201C, 0x5200209C, 128, RW);
    }
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@OTP Memory /0x08FFF000/01*1024 e") == 0)
        check_seg(&l, 0, 0x08FFF000, 0x08FFF400, 1024, RW);
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@Device Feature/0xFFFF0000/01*004 e") == 0) {
        CHECK_STR(l.name, "Device Feature");
        check_seg(&l, 0, 0xFFFF0000, 0xFFFF0004, 4, RW); /* no "Device Feature" quirk */
    }
    dfuse_layout_release(&l);
}

static void test_f4(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    if (parse_ok(&l, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg") == 0) {
        CHECK_STR(l.name, "Internal Flash");
        CHECK_INT(l.nr, ==, 3);
        check_seg(&l, 0, 0x08000000, 0x08010000, 16 * KIB, REW);
        check_seg(&l, 1, 0x08010000, 0x08020000, 64 * KIB, REW);
        check_seg(&l, 2, 0x08020000, 0x08100000, 128 * KIB, REW);
    }
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@Option Bytes  /0x1FFFC000/01*016 g") == 0)
        check_seg(&l, 0, 0x1FFFC000, 0x1FFFC010, 16, REW);
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@OTP Memory /0x1FFF7800/01*512 g,01*016 g") == 0) {
        CHECK_INT(l.nr, ==, 2);
        check_seg(&l, 0, 0x1FFF7800, 0x1FFF7A00, 512, REW);
        check_seg(&l, 1, 0x1FFF7A00, 0x1FFF7A10, 16, REW);
    }
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@Device Feature/0xFFFF0000/01*004 g") == 0)
        check_seg(&l, 0, 0xFFFF0000, 0xFFFF0004, 4, REW);
    dfuse_layout_release(&l);
}

static void test_f7(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    /* STM32F765/767/769 single-bank (MicroPython mboot uses the same string) */
    if (parse_ok(&l, "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg") == 0) {
        CHECK_INT(l.nr, ==, 3);
        check_seg(&l, 0, 0x08000000, 0x08020000, 32 * KIB, REW);
        check_seg(&l, 1, 0x08020000, 0x08040000, 128 * KIB, REW);
        check_seg(&l, 2, 0x08040000, 0x08200000, 256 * KIB, REW);
    }
    dfuse_layout_release(&l);
}

static void test_other_families(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    /* STM32L4: four-digit counts; option bytes of 40 bytes (not erasable) */
    if (parse_ok(&l, "@Internal Flash  /0x08000000/0256*0002Kg") == 0)
        check_seg(&l, 0, 0x08000000, 0x08080000, 2 * KIB, REW);
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@Option Bytes  /0x1FFF7800/01*040 e") == 0)
        check_seg(&l, 0, 0x1FFF7800, 0x1FFF7828, 40, RW);
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@OTP Memory /0x1FFF7000/01*0001Ke") == 0)
        check_seg(&l, 0, 0x1FFF7000, 0x1FFF7400, 1 * KIB, RW);
    dfuse_layout_release(&l);
    /* STM32U5 */
    if (parse_ok(&l, "@Option Bytes   /0x40022040/01*64 e") == 0)
        check_seg(&l, 0, 0x40022040, 0x40022080, 64, RW);
    dfuse_layout_release(&l);
    /* every type letter */
    if (parse_ok(&l, "@T/0x0/1*1a,1*1b,1*1c,1*1d,1*1e,1*1f,1*1g") == 0) {
        CHECK_INT(l.nr, ==, 7);
        for (size_t i = 0; i < l.nr && i < 7; i++)
            CHECK_INT(l.segs[i].flags, ==, i + 1);
    }
    dfuse_layout_release(&l);
    /* M and B multipliers */
    if (parse_ok(&l, "@Q/0x90000000/2*1Mg,4*512Bg") == 0) {
        check_seg(&l, 0, 0x90000000, 0x90200000, 1024 * KIB, REW);
        check_seg(&l, 1, 0x90200000, 0x90200800, 512, REW);
    }
    dfuse_layout_release(&l);
}

static void test_multi_group(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    if (parse_ok(&l, "@Option Bytes  /0x1FF00000/01*040 e/0x1FF01000/01*040 e") == 0) {
        CHECK_INT(l.nr, ==, 2);
        check_seg(&l, 0, 0x1FF00000, 0x1FF00028, 40, RW);
        check_seg(&l, 1, 0x1FF01000, 0x1FF01028, 40, RW);
    }
    dfuse_layout_release(&l);
    /* mboot style: internal flash, then external SPI flash, then system memory */
    if (parse_ok(&l, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
                     "/0x90000000/64*4Kg/0x1FFF0000/01*032Ka") == 0) {
        CHECK_INT(l.nr, ==, 5);
        check_seg(&l, 3, 0x90000000, 0x90040000, 4 * KIB, REW);
        check_seg(&l, 4, 0x1FFF0000, 0x1FFF8000, 32 * KIB, DFUSE_SEG_READABLE);
    }
    dfuse_layout_release(&l);
    /* groups out of order are kept in string order */
    if (parse_ok(&l, "@X/0x08010000/01*064Kg/0x08000000/04*016Kg") == 0) {
        check_seg(&l, 0, 0x08010000, 0x08020000, 64 * KIB, REW);
        check_seg(&l, 1, 0x08000000, 0x08010000, 16 * KIB, REW);
    }
    dfuse_layout_release(&l);
    /* a segment may end exactly at 4 GiB */
    if (parse_ok(&l, "@Top/0xFFFF0000/01*64Kg") == 0)
        check_seg(&l, 0, 0xFFFF0000, (uint64_t)1 << 32, 64 * KIB, REW);
    dfuse_layout_release(&l);
    if (parse_ok(&l, "@All/0x0/4294967296*1a") == 0)
        check_seg(&l, 0, 0, (uint64_t)1 << 32, 1, DFUSE_SEG_READABLE);
    dfuse_layout_release(&l);
}

static void test_whitespace_variants(void)
{
    static const char *const variants[] = {
        "@Internal Flash/0x08000000/04*016Kg,01*064Kg,07*128Kg",
        "  @Internal Flash\t /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        "@ Internal Flash /0X08000000/04*016Kg,01*064Kg,07*128Kg",
        "@Internal Flash/ 0x08000000 / 04 * 016 K g , 01*064K g,07*128Kg ",
        "@Internal Flash/0x08000000/4*16Kg,1*64Kg,7*128Kg,",
        "@Internal Flash/0x08000000/04*016Kg,01*064Kg,07*128Kg/",
        "@Internal Flash/0x08000000/04*016Kg,01*064Kg,07*128Kg\r\n",
        "@Internal Flash/0x08000000/04*16384g,01*65536Bg,07*128Kg",
        "@Internal Flash/0x8000000/04*016Kg,01*064Kg/0x08020000/07*128Kg",
    };

    for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
        struct dfuse_layout l = DFUSE_LAYOUT_INIT;

        if (parse_ok(&l, variants[i]) == 0) {
            CHECK_STR(l.name, "Internal Flash");
            CHECK_INT(l.nr, ==, 3);
            check_seg(&l, 0, 0x08000000, 0x08010000, 16 * KIB, REW);
            check_seg(&l, 1, 0x08010000, 0x08020000, 64 * KIB, REW);
            check_seg(&l, 2, 0x08020000, 0x08100000, 128 * KIB, REW);
        }
        dfuse_layout_release(&l);
    }
}

static void test_find(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;

    if (parse_ok(&l, "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg") == 0) {
        CHECK(dfuse_layout_find(&l, 0x07FFFFFF) == NULL);
        CHECK(dfuse_layout_find(&l, 0x08000000) == &l.segs[0]);
        CHECK(dfuse_layout_find(&l, 0x0800FFFF) == &l.segs[0]);
        CHECK(dfuse_layout_find(&l, 0x08010000) == &l.segs[1]);
        CHECK(dfuse_layout_find(&l, 0x0801FFFF) == &l.segs[1]);
        CHECK(dfuse_layout_find(&l, 0x08020000) == &l.segs[2]);
        CHECK(dfuse_layout_find(&l, 0x080FFFFF) == &l.segs[2]);
        CHECK(dfuse_layout_find(&l, 0x08100000) == NULL);
        CHECK(dfuse_layout_find(&l, 0xFFFFFFFF) == NULL);
    }
    dfuse_layout_release(&l);
    dfuse_layout_release(&l); /* twice is fine */
    dfuse_layout_release(NULL);
}

/* Erase pages of [addr, addr+len) in layout s, compared with want[0..n). */
static void check_pages(const char *s, uint32_t addr, uint64_t len, const uint32_t *want, size_t n)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    uint32_t *pages = NULL;
    size_t nr = 0;
    char err[512] = "";

    if (parse_ok(&l, s) != 0)
        return;
    if (dfuse_layout_erase_pages(&l, addr, len, &pages, &nr, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "0x%08lX+%llu: %s", (unsigned long)addr,
                  (unsigned long long)len, err);
    } else {
        CHECK_INT(nr, ==, n);
        for (size_t i = 0; i < nr && i < n; i++)
            if (pages[i] != want[i])
                test_fail(__FILE__, __LINE__, "0x%08lX+%llu: page %zu is 0x%08lX, not 0x%08lX",
                          (unsigned long)addr, (unsigned long long)len, i, (unsigned long)pages[i],
                          (unsigned long)want[i]);
    }
    free(pages);
    dfuse_layout_release(&l);
}

static const char f4[] = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg";

static void test_erase_pages_f4(void)
{
    static const uint32_t across[] = {0x0800C000, 0x08010000, 0x08020000};
    static const uint32_t first[] = {0x08000000};
    static const uint32_t straddle[] = {0x08000000, 0x08004000};
    static const uint32_t boundary[] = {0x0800C000, 0x08010000};
    static const uint32_t tail[] = {0x080E0000};
    static const uint32_t top[] = {0xFFFF0000};
    uint32_t all[12];
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    uint32_t *pages = all; /* set to NULL for len 0 */
    size_t nr = 99;
    char err[256];

    for (int i = 0; i < 4; i++)
        all[i] = 0x08000000 + (uint32_t)i * 0x4000;
    all[4] = 0x08010000;
    for (int i = 0; i < 7; i++)
        all[5 + i] = 0x08020000 + (uint32_t)i * 0x20000;

    /* 16K sector 3 -> the 64K sector -> the first 128K sector */
    check_pages(f4, 0x0800C000, 0x20000, across, 3);
    check_pages(f4, 0x0800FFFF, 0x10002, across, 3);
    check_pages(f4, 0x08000001, 1, first, 1);
    check_pages(f4, 0x08000000, 0x4000, first, 1);
    check_pages(f4, 0x08003FFF, 2, straddle, 2);
    check_pages(f4, 0x0800FFFF, 2, boundary, 2);
    check_pages(f4, 0x080FFFFF, 1, tail, 1);
    check_pages(f4, 0x08000000, 0x100000, all, 12);
    check_pages(f4, 0x08000000, 0, NULL, 0);
    check_pages("@Top/0xFFFF0000/01*64Kg", 0xFFFF0000, 0x10000, top, 1);

    if (parse_ok(&l, f4) == 0) {
        CHECK_INT(dfuse_layout_erase_pages(&l, 0x08000000, 0, &pages, &nr, err, sizeof(err)), ==,
                  0);
        CHECK(pages == NULL);
        CHECK_INT(nr, ==, 0);
    }
    dfuse_layout_release(&l);
}

static void test_erase_pages_groups(void)
{
    static const uint32_t want[] = {0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000};
    static const uint32_t spi[] = {0x90000000, 0x90001000, 0x90002000};

    /* string order is not address order: the list is still ascending */
    check_pages("@X/0x08010000/01*064Kg/0x08000000/04*016Kg", 0x08000000, 0x10001, want, 5);
    check_pages("@X/0x08000000/04*016Kg/0x90000000/64*4Kg", 0x90000FFF, 0x1002, spi, 3);
}

static void check_range_err(const char *s, uint32_t addr, uint64_t len, const char *want)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    uint32_t *pages = (uint32_t *)&l;
    size_t nr = 99;
    char err[512] = "";

    if (parse_ok(&l, s) != 0)
        return;
    CHECK_INT(dfuse_layout_erase_pages(&l, addr, len, &pages, &nr, err, sizeof(err)), ==,
              OMV_EINVAL);
    CHECK_STR(err, want);
    CHECK(pages == (uint32_t *)&l); /* untouched */
    CHECK_INT(nr, ==, 99);
    dfuse_layout_release(&l);
}

static void test_erase_rejections(void)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    char err[256];

    check_range_err(f4, 0x080FFFFF, 2,
                    "range 0x080FFFFF..0x08100000: address 0x08100000 is outside memory "
                    "'Internal Flash'");
    check_range_err(f4, 0x07FFFFFF, 2,
                    "range 0x07FFFFFF..0x08000000: address 0x07FFFFFF is outside memory "
                    "'Internal Flash'");
    check_range_err("@Option Bytes   /0x5200201C/01*128 e", 0x5200201C, 4,
                    "range 0x5200201C..0x5200201F: address 0x5200201C of memory 'Option Bytes' is "
                    "'r-w', not '-ew'");
    check_range_err("@X/0x08000000/01*16Kg/0x08008000/01*16Kg", 0x08003000, 0x6000,
                    "range 0x08003000..0x08008FFF: address 0x08004000 is outside memory 'X'");
    check_range_err("@X/0x08000000/01*16Kg,01*16Ka", 0x08003000, 0x2000,
                    "range 0x08003000..0x08004FFF: address 0x08004000 of memory 'X' is 'r--', "
                    "not '-ew'");
    check_range_err("@Top/0xFFFF0000/01*64Kg", 0xFFFFFFFF, 2,
                    "range 0xFFFFFFFF+0x2 runs past 4 GiB in memory 'Top'");
    check_range_err("@Tiny/0x0/4294967296*1g", 0x100, (uint64_t)1 << 21,
                    "range 0x00000100..0x002000FF: 2097152 pages to erase, more than 1048576");
    /* exactly at the limit is fine */
    if (parse_ok(&l, "@Tiny/0x0/4294967296*1g") == 0) {
        uint32_t *pages = NULL;
        size_t nr = 0;

        CHECK_INT(
            dfuse_layout_erase_pages(&l, 7, DFUSE_MAX_ERASE_PAGES, &pages, &nr, err, sizeof(err)),
            ==, 0);
        CHECK_INT(nr, ==, DFUSE_MAX_ERASE_PAGES);
        CHECK(nr && pages[0] == 7 && pages[nr - 1] == 7 + DFUSE_MAX_ERASE_PAGES - 1);
        free(pages);
    }
    dfuse_layout_release(&l);
    /* check_range with other needs */
    if (parse_ok(&l, "@Option Bytes   /0x5200201C/01*128 e") == 0) {
        CHECK_INT(
            dfuse_layout_check_range(&l, 0x5200201C, 128, DFUSE_SEG_WRITEABLE, err, sizeof(err)),
            ==, 0);
        CHECK_INT(
            dfuse_layout_check_range(&l, 0x5200201C, 129, DFUSE_SEG_WRITEABLE, err, sizeof(err)),
            ==, OMV_EINVAL);
        CHECK_CONTAINS(err, "address 0x5200209C is outside");
        CHECK_INT(dfuse_layout_check_range(&l, 0, 0, DFUSE_SEG_WRITEABLE, err, sizeof(err)), ==, 0);
    }
    dfuse_layout_release(&l);
}

static void check_bad(const char *s, const char *want)
{
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    char err[512] = "";

    CHECK_INT(dfuse_layout_parse(&l, s, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_STR(err, want);
    CHECK(l.name == NULL && l.segs == NULL && l.nr == 0);
    dfuse_layout_release(&l);
}

static void test_rejections(void)
{
    check_bad("@Internal Flash /0x0800/16*xKg",
              "layout '@Internal Flash /0x0800/16*xKg': bad segment '16*xKg'");
    check_bad("Internal Flash /0x08000000/16*128Kg",
              "layout 'Internal Flash /0x08000000/16*128Kg': does not start with '@'");
    check_bad("", "layout '': does not start with '@'");
    check_bad("@Internal Flash", "layout '@Internal Flash': no '/0xADDRESS/' after the name");
    check_bad("@F/08000000/16*128Kg", "layout '@F/08000000/16*128Kg': bad address '08000000'");
    check_bad("@F/0x/16*128Kg", "layout '@F/0x/16*128Kg': bad address '0x'");
    check_bad("@F/0xZZ/16*128Kg", "layout '@F/0xZZ/16*128Kg': bad address '0xZZ'");
    check_bad("@F/0x1FFFFFFFF/1*1Kg", "layout '@F/0x1FFFFFFFF/1*1Kg': bad address '0x1FFFFFFFF'");
    check_bad("@F/0x08000000", "layout '@F/0x08000000': bad address '0x08000000'");
    check_bad("@F/0x0800 0000/1*1Kg", "layout '@F/0x0800 0000/1*1Kg': bad address '0x0800 0000'");
    check_bad("@F/", "layout '@F/': no memory segments");
    check_bad("@F/0x08000000/", "layout '@F/0x08000000/': no segments after address '0x08000000'");
    check_bad("@F/0x08000000//0x09000000/1*1Kg",
              "layout '@F/0x08000000//0x09000000/1*1Kg': no segments after address '0x08000000'");
    check_bad("@F/0x08000000/1*1Kg,,1*1Kg", "layout '@F/0x08000000/1*1Kg,,1*1Kg': bad segment ''");
    check_bad("@F/0x08000000/16*128K", "layout '@F/0x08000000/16*128K': bad segment '16*128K'");
    check_bad("@F/0x08000000/16*128KG", "layout '@F/0x08000000/16*128KG': bad segment '16*128KG'");
    check_bad("@F/0x08000000/16*128kg", "layout '@F/0x08000000/16*128kg': bad segment '16*128kg'");
    check_bad("@F/0x08000000/16*128Kh", "layout '@F/0x08000000/16*128Kh': bad segment '16*128Kh'");
    check_bad("@F/0x08000000/16*128Kgg",
              "layout '@F/0x08000000/16*128Kgg': bad segment '16*128Kgg'");
    check_bad("@F/0x08000000/-1*128Kg", "layout '@F/0x08000000/-1*128Kg': bad segment '-1*128Kg'");
    check_bad("@F/0x08000000/16x128Kg", "layout '@F/0x08000000/16x128Kg': bad segment '16x128Kg'");
    check_bad("@F/0x08000000/16*Kg", "layout '@F/0x08000000/16*Kg': bad segment '16*Kg'");
    check_bad("@F/0x08000000/00*128Kg",
              "layout '@F/0x08000000/00*128Kg': zero page count in segment '00*128Kg'");
    check_bad("@F/0x08000000/16*000Kg",
              "layout '@F/0x08000000/16*000Kg': zero page size in segment '16*000Kg'");
    check_bad("@F/0xFFFF0000/02*64Kg",
              "layout '@F/0xFFFF0000/02*64Kg': segment at 0xFFFF0000 runs past 4 GiB: '02*64Kg'");
    check_bad("@F/0x0/4294967297*1g",
              "layout '@F/0x0/4294967297*1g': segment at 0x00000000 runs past 4 GiB: "
              "'4294967297*1g'");
    check_bad("@F/0x0/1*99999999999999999999999Mg",
              "layout '@F/0x0/1*99999999999999999999999Mg': segment at 0x00000000 runs past 4 "
              "GiB: '1*99999999999999999999999Mg'");
    check_bad("@F/0x0/1*4096Mg",
              "layout '@F/0x0/1*4096Mg': segment at 0x00000000 runs past 4 GiB: '1*4096Mg'");
    /* the second group overflows because the first advanced the address */
    check_bad("@F/0xF0000000/1*128Mg,1*128Mg,1*1g",
              "layout '@F/0xF0000000/1*128Mg,1*128Mg,1*1g': segment at 0x100000000 runs past 4 "
              "GiB: '1*1g'");
    check_bad("@F/0x08000000/04*12Kg",
              "layout '@F/0x08000000/04*12Kg': erasable page size 12288 is not a power of two "
              "(erase addresses are masked to page starts) in segment '04*12Kg'");
    check_bad("@F/0x08001000/01*16Kg",
              "layout '@F/0x08001000/01*16Kg': erasable pages of 16384 bytes do not start at a "
              "multiple of their size (0x08001000) in segment '01*16Kg'");
    check_bad("@F/0x08000000/04*16Kg/0x08008000/01*16Kg",
              "layout '@F/0x08000000/04*16Kg/0x08008000/01*16Kg': segment at 0x08008000 overlaps "
              "the one at 0x08000000: '01*16Kg'");
    /* unprintable bytes are shown as '?' so the message stays on one line */
    check_bad("@F\n/0x0/1*1Kx", "layout '@F?/0x0/1*1Kx': bad segment '1*1Kx'");
}

static void test_flags_str(void)
{
    char b[4];

    CHECK_STR(dfuse_seg_flags_str(7, b), "rew");
    CHECK_STR(dfuse_seg_flags_str(5, b), "r-w");
    CHECK_STR(dfuse_seg_flags_str(0, b), "---");
}

static void test_long_string_message(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    char err[1024] = "";

    strbuf_addstr(&sb, "@F/0x0/");
    strbuf_addchars(&sb, 'z', 400);
    CHECK_INT(dfuse_layout_parse(&l, sb.buf, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "...': bad segment 'zzz");
    CHECK(strlen(err) < 400);
    strbuf_release(&sb);
}

/* ---- fuzz --------------------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint32_t rnd(void)
{
    return test_rand(&rng_state);
}

static void mutate(struct strbuf *sb)
{
    static const char meta[] = "@/,*xX0123456789abcdefghKMB \t\xff";
    int rounds = 1 + (int)(rnd() % 4);

    for (int r = 0; r < rounds; r++) {
        size_t at = sb->len ? rnd() % sb->len : 0;
        struct strbuf t = STRBUF_INIT;

        switch (rnd() % 5) {
        case 0:
            if (sb->len)
                sb->buf[at] = meta[rnd() % (sizeof(meta) - 1)];
            break;
        case 1:
            strbuf_add(&t, sb->buf, at);
            strbuf_addch(&t, rnd() % 8 ? meta[rnd() % (sizeof(meta) - 1)] : (char)(rnd() & 0xff));
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        case 2:
            if (sb->len) {
                size_t n = rnd() % 8;

                if (at + n > sb->len)
                    n = sb->len - at;
                memmove(sb->buf + at, sb->buf + at + n, sb->len - at - n);
                strbuf_setlen(sb, sb->len - n);
            }
            break;
        case 3: {
            size_t n = rnd() % 24;

            if (at + n > sb->len)
                n = sb->len - at;
            strbuf_add(&t, sb->buf, at + n);
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        }
        default:
            /* a random decimal or hex number */
            strbuf_add(&t, sb->buf, at);
            strbuf_addf(&t, rnd() % 2 ? "%lu" : "0x%lX", (unsigned long)rnd() >> (rnd() % 32));
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        }
    }
}

/* The invariants every accepted layout keeps, and erase lists that match them. */
static void check_layout(const struct dfuse_layout *l)
{
    CHECK(l->name != NULL);
    CHECK(l->nr > 0);
    for (size_t i = 0; i < l->nr; i++) {
        const struct dfuse_segment *s = &l->segs[i];

        CHECK(s->start < s->end);
        CHECK(s->end <= (uint64_t)1 << 32);
        CHECK(s->page_size > 0);
        CHECK((s->end - s->start) % s->page_size == 0);
        CHECK(s->flags >= 1 && s->flags <= 7);
        if (s->flags & DFUSE_SEG_ERASABLE) {
            CHECK((s->page_size & (s->page_size - 1)) == 0);
            CHECK(s->start % s->page_size == 0);
        }
        CHECK(dfuse_layout_find(l, s->start) == s);
        CHECK(dfuse_layout_find(l, (uint32_t)(s->end - 1)) == s);
        for (size_t j = 0; j < i; j++)
            CHECK(s->end <= l->segs[j].start || s->start >= l->segs[j].end);
    }
}

static void check_erase_list(const struct dfuse_layout *l)
{
    const struct dfuse_segment *s = &l->segs[rnd() % l->nr];
    uint64_t span = s->end - s->start;
    uint32_t addr = s->start + (uint32_t)(rnd() % span);
    uint64_t len = rnd() % 0x10000;
    uint32_t *pages = NULL;
    size_t nr = 0;
    char err[512] = "";
    int rc;

    if (s->page_size < 256 && len / s->page_size > 4096)
        len = 4096; /* keep tiny-page lists short */
    rc = dfuse_layout_erase_pages(l, addr, len, &pages, &nr, err, sizeof(err));
    if (rc != 0) {
        CHECK_INT(rc, ==, OMV_EINVAL);
        CHECK(strchr(err, '\n') == NULL);
        CHECK_CONTAINS(err, "range 0x");
        return;
    }
    CHECK_INT(dfuse_layout_check_range(l, addr, len, DFUSE_SEG_ERASABLE | DFUSE_SEG_WRITEABLE, err,
                                       sizeof(err)),
              ==, 0);
    CHECK(len ? nr > 0 : nr == 0);
    for (size_t i = 0; i < nr; i++) {
        const struct dfuse_segment *p = dfuse_layout_find(l, pages[i]);

        CHECK(p != NULL);
        if (!p)
            break;
        CHECK((pages[i] - p->start) % p->page_size == 0);
        CHECK(i == 0 || pages[i] > pages[i - 1]);
        /* every page touches the range */
        CHECK((uint64_t)pages[i] < (uint64_t)addr + len);
        CHECK((uint64_t)pages[i] + p->page_size > addr);
    }
    /* the pages cover the range without gaps */
    if (nr) {
        const struct dfuse_segment *last = dfuse_layout_find(l, pages[nr - 1]);

        CHECK(pages[0] <= addr);
        CHECK(last && (uint64_t)pages[nr - 1] + last->page_size >= (uint64_t)addr + len);
        for (size_t i = 1; i < nr; i++) {
            const struct dfuse_segment *p = dfuse_layout_find(l, pages[i - 1]);

            CHECK(p && (uint64_t)pages[i - 1] + p->page_size == pages[i]);
        }
    }
    free(pages);
}

static void test_fuzz(void)
{
    static const char *const seeds[] = {
        "@Internal Flash   /0x08000000/16*128Kg",
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,07*256Kg",
        "@Option Bytes   /0x5200201C/01*128 e",
        "@OTP Memory /0x1FFF7800/01*512 g,01*016 g",
        "@Option Bytes  /0x1FF00000/01*040 e/0x1FF01000/01*040 e",
        "@Internal Flash  /0x08000000/0256*0002Kg/0x90000000/64*4Kg",
        "@Top/0xFFFF0000/01*64Kg",
    };
    int accepted = 0;

    for (int i = 0; i < 6000; i++) {
        struct strbuf sb = STRBUF_INIT;
        struct dfuse_layout l = DFUSE_LAYOUT_INIT;
        char err[512] = "";
        int rc;

        strbuf_addstr(&sb, seeds[rnd() % ARRAY_SIZE(seeds)]);
        mutate(&sb);
        rc = dfuse_layout_parse(&l, sb.buf, err, sizeof(err));
        if (rc == 0) {
            accepted++;
            check_layout(&l);
            for (int k = 0; k < 4; k++)
                check_erase_list(&l);
        } else {
            CHECK_INT(rc, ==, OMV_EPARSE);
            CHECK(!strncmp(err, "layout '", 8));
            CHECK(strchr(err, '\n') == NULL);
            CHECK(l.name == NULL && l.segs == NULL && l.nr == 0);
        }
        dfuse_layout_release(&l);
        strbuf_release(&sb);
    }
    /* the mutations must leave a fair share valid, or the loop tests nothing */
    CHECK_INT(accepted, >, 600);
    CHECK_INT(accepted, <, 5400);
}

TESTS(TEST(test_h743), TEST(test_f4), TEST(test_f7), TEST(test_other_families),
      TEST(test_multi_group), TEST(test_whitespace_variants), TEST(test_find),
      TEST(test_erase_pages_f4), TEST(test_erase_pages_groups), TEST(test_erase_rejections),
      TEST(test_rejections), TEST(test_flags_str), TEST(test_long_string_message), TEST(test_fuzz))
