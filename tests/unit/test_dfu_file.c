/*
 * .dfu files: the CRC variant, the suffix, the DfuSe structure, round trips
 * through the builders (including a byte-exact test vector built the way
 * MicroPython's tools/dfu.py builds .dfu files), every rejection with its message, device
 * matching, a cross-check against Debian's dfu-suffix when it is installed,
 * and a deterministic mutation loop.
 */
#include "tests/unit/test.h"

#include "flash/dfu_file.h"
#include "lib/error.h"
#include "lib/strbuf.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static void set32(struct strbuf *sb, size_t off, uint32_t v)
{
    sb->buf[off] = (char)(v & 0xff);
    sb->buf[off + 1] = (char)(v >> 8 & 0xff);
    sb->buf[off + 2] = (char)(v >> 16 & 0xff);
    sb->buf[off + 3] = (char)(v >> 24 & 0xff);
}

static uint32_t get32(const struct strbuf *sb, size_t off)
{
    const uint8_t *p = (const uint8_t *)sb->buf + off;

    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Store the right CRC after an edit, so the parser looks past it. */
static void fix_crc(struct strbuf *sb)
{
    set32(sb, sb->len - 4, dfu_crc32(sb->buf, sb->len - 4));
}

static const uint8_t *u8(const struct strbuf *sb)
{
    return (const uint8_t *)sb->buf;
}

static const uint8_t bytes8[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* A test vector made as MicroPython's tools/dfu.py build() makes one, and
 * accepted by Debian's dfu-suffix 0.11 -c (CRC 0x890F5847): one target
 * "ST...", one element of 00..07 at 0x08000000, for 0483:DF11. Offsets:
 * prefix 0, target 11, element header 285, data 293, suffix 301, total 317. */
static void build_vector(struct strbuf *out)
{
    struct dfu_element e = {0x08000000, 8, bytes8};
    struct dfu_target t = {0, true, "ST...", &e, 1};
    char err[256] = "";

    CHECK_INT(dfu_file_build_dfuse(out, 0x0483, 0xDF11, &t, 1, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
}

/* ---- CRC and the tools/dfu.py vector ----------------------------------------- */

static void test_crc_vectors(void)
{
    /* CRC-32/ISO-HDLC("123456789") is 0xCBF43926; without the final XOR: */
    CHECK_INT(dfu_crc32("123456789", 9), ==, 0x340BC6D9);
    CHECK_INT(dfu_crc32("", 0), ==, 0xFFFFFFFF);
    CHECK_INT(dfu_crc32("a", 1), ==, (uint32_t)~0xE8B7BE43u);
    /* The suffix CRC of a plain file checked with `dfu-suffix -c` while
     * writing this test: "123456789" + suffix 37C5:9204, bcdDevice FFFF. */
    {
        struct strbuf sb = STRBUF_INIT;

        dfu_file_build_plain(&sb, (const uint8_t *)"123456789", 9, 0x37C5, 0x9204, 0xFFFF);
        CHECK_INT(sb.len, ==, 25);
        CHECK_INT(get32(&sb, 21), ==, 0xA11AC4D2);
        strbuf_release(&sb);
    }
}

static void test_facts_vector(void)
{
    static const uint8_t head[] = {0x44, 0x66, 0x75, 0x53, 0x65, 0x01, 0x2d, 0x01, 0x00, 0x00,
                                   0x01, 0x54, 0x61, 0x72, 0x67, 0x65, 0x74, 0x00, 0x01, 0x00,
                                   0x00, 0x00, 0x53, 0x54, 0x2e, 0x2e, 0x2e, 0x00};
    static const uint8_t tail[] = {0x00, 0x00, 0x00, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02,
                                   0x03, 0x04, 0x05, 0x06, 0x07, 0x00, 0x00, 0x11, 0xdf, 0x83, 0x04,
                                   0x1a, 0x01, 0x55, 0x46, 0x44, 0x10, 0x47, 0x58, 0x0f, 0x89};
    struct strbuf sb = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    build_vector(&sb);
    CHECK_INT(sb.len, ==, 317);
    CHECK(!memcmp(sb.buf, head, sizeof(head)));
    CHECK(!memcmp(sb.buf + sb.len - sizeof(tail), tail, sizeof(tail)));
    CHECK_INT(get32(&sb, 313), ==, 0x890F5847);

    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(f.vid, ==, 0x0483);
    CHECK_INT(f.pid, ==, 0xDF11);
    CHECK_INT(f.bcd_device, ==, 0);
    CHECK_INT(f.bcd_dfu, ==, 0x011A);
    CHECK_INT(f.suffix_len, ==, 16);
    CHECK_INT(f.crc, ==, 0x890F5847);
    CHECK(f.dfuse);
    CHECK_INT(f.image_size, ==, 301);
    CHECK(f.payload == u8(&sb));
    CHECK_INT(f.payload_len, ==, 301);
    CHECK_INT(f.nr_targets, ==, 1);
    if (f.nr_targets == 1) {
        CHECK_INT(f.targets[0].alt, ==, 0);
        CHECK(f.targets[0].named);
        CHECK_STR(f.targets[0].name, "ST...");
        CHECK_INT(f.targets[0].nr, ==, 1);
        if (f.targets[0].nr == 1) {
            CHECK_INT(f.targets[0].elems[0].address, ==, 0x08000000);
            CHECK_INT(f.targets[0].elems[0].size, ==, 8);
            CHECK(f.targets[0].elems[0].data == u8(&sb) + 293);
        }
    }
    dfu_file_release(&f);
    CHECK(f.targets == NULL && f.nr_targets == 0);
    dfu_file_release(&f);
    dfu_file_release(NULL);
    strbuf_release(&sb);
}

/* ---- round trips -------------------------------------------------------- */

/* What OpenMV's Makefile makes with `dfu.py -b boot:bootloader.bin -b firm:firmware.bin`:
 * one target, alt 0, "ST...", two elements padded to 8 bytes. */
static void test_micropython_multi_element(void)
{
    uint8_t boot[13], firm[1021];
    struct dfu_element e[2] = {{0x08000000, sizeof(boot), boot}, {0x08040000, sizeof(firm), firm}};
    struct dfu_target t = {0, true, "ST...", e, 2};
    struct strbuf sb = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    for (size_t i = 0; i < sizeof(boot); i++)
        boot[i] = (uint8_t)(0xB0 + i);
    for (size_t i = 0; i < sizeof(firm); i++)
        firm[i] = (uint8_t)(i * 7 + 1);
    CHECK_INT(dfu_file_build_dfuse(&sb, 0x37C5, 0x9204, &t, 1, err, sizeof(err)), ==, 0);
    CHECK_INT(sb.len, ==, 11 + 274 + 8 + 16 + 8 + 1024 + 16);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(f.image_size, ==, f.payload_len); /* dfu.py: everything before the suffix */
    CHECK_INT(get32(&sb, 11 + 266), ==, 8 + 16 + 8 + 1024);
    if (f.nr_targets == 1 && f.targets[0].nr == 2) {
        const struct dfu_element *p = f.targets[0].elems;

        CHECK_INT(p[0].address, ==, 0x08000000);
        CHECK_INT(p[0].size, ==, 16);
        CHECK(!memcmp(p[0].data, boot, sizeof(boot)));
        CHECK(!memcmp(p[0].data + 13, "\0\0\0", 3));
        CHECK_INT(p[1].address, ==, 0x08040000);
        CHECK_INT(p[1].size, ==, 1024);
        CHECK(!memcmp(p[1].data, firm, sizeof(firm)));
        CHECK(!memcmp(p[1].data + 1021, "\0\0\0", 3));
        CHECK(p[1].data + p[1].size == f.payload + f.payload_len);
    } else {
        test_fail(__FILE__, __LINE__, "want 1 target of 2 elements, got %zu", f.nr_targets);
    }
    CHECK_INT(dfu_file_check_device(&f, 0x37C5, 0x9204, err, sizeof(err)), ==, 0);
    dfu_file_release(&f);
    strbuf_release(&sb);
}

static void test_multi_target_roundtrip(void)
{
    struct dfu_element e0[1] = {{0x08000000, 8, bytes8}};
    struct dfu_element e3[2] = {{0x90000000, 3, bytes8}, {0x90001000, 0, NULL}};
    struct dfu_target t[3] = {
        {0, true, "Internal Flash", e0, 1},
        {1, false, "", NULL, 0},
        {3, true, "", e3, 2},
    };
    struct strbuf sb = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    memset(t[2].name, 'n', DFU_NAME_MAX); /* the longest name: no NUL in the file */
    CHECK_INT(dfu_file_build_dfuse(&sb, 0xFFFF, 0xFFFF, t, 3, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(f.nr_targets, ==, 3);
    if (f.nr_targets == 3) {
        CHECK_INT(f.targets[0].alt, ==, 0);
        CHECK_STR(f.targets[0].name, "Internal Flash");
        CHECK_INT(f.targets[1].alt, ==, 1);
        CHECK(!f.targets[1].named);
        CHECK_STR(f.targets[1].name, "");
        CHECK_INT(f.targets[1].nr, ==, 0);
        CHECK(f.targets[1].elems == NULL);
        CHECK_INT(f.targets[2].alt, ==, 3);
        CHECK_STR(f.targets[2].name, t[2].name);
        CHECK_INT(strlen(f.targets[2].name), ==, 255);
        CHECK_INT(f.targets[2].nr, ==, 2);
        if (f.targets[2].nr == 2) {
            CHECK_INT(f.targets[2].elems[0].size, ==, 8);
            CHECK(!memcmp(f.targets[2].elems[0].data, "\0\1\2\0\0\0\0\0", 8));
            CHECK_INT(f.targets[2].elems[1].address, ==, 0x90001000);
            CHECK_INT(f.targets[2].elems[1].size, ==, 0);
        }
    }
    /* wildcard file: any device */
    CHECK_INT(dfu_file_check_device(&f, 0x1234, 0x5678, err, sizeof(err)), ==, 0);
    dfu_file_release(&f);
    strbuf_release(&sb);
}

static void test_plain_roundtrip(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    /* a plain file is just data: even one that starts like a DfuSe file */
    dfu_file_build_plain(&sb, (const uint8_t *)"DfuSe\1abcdefgh", 14, 0x37C5, 0x9204, 0x0100);
    CHECK_INT(sb.len, ==, 30);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK(!f.dfuse);
    CHECK_INT(f.bcd_dfu, ==, 0x0100);
    CHECK_INT(f.bcd_device, ==, 0x0100);
    CHECK_INT(f.vid, ==, 0x37C5);
    CHECK_INT(f.pid, ==, 0x9204);
    CHECK_INT(f.payload_len, ==, 14);
    CHECK(f.targets == NULL && f.nr_targets == 0);
    dfu_file_release(&f);

    /* an empty payload */
    dfu_file_build_plain(&sb, NULL, 0, 0x37C5, 0x9204, 0xFFFF);
    CHECK_INT(sb.len, ==, 16);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK_INT(f.payload_len, ==, 0);
    dfu_file_release(&f);

    /* bLength 20: four extra suffix bytes before the standard sixteen */
    strbuf_reset(&sb);
    strbuf_add(&sb, "abcdefghXTRA", 12);
    dfu_file_append_suffix(&sb, 0xFFFF, 0x9204, 0x37C5, 0x0110);
    sb.buf[sb.len - 5] = 20;
    fix_crc(&sb);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    CHECK_INT(f.suffix_len, ==, 20);
    CHECK_INT(f.payload_len, ==, 8);
    CHECK_INT(f.bcd_dfu, ==, 0x0110);
    dfu_file_release(&f);
    strbuf_release(&sb);
}

static void test_target_names(void)
{
    struct strbuf sb = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    /* not named: the name bytes are ignored */
    build_vector(&sb);
    set32(&sb, 11 + 7, 0);
    fix_crc(&sb);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    if (f.nr_targets == 1) {
        CHECK(!f.targets[0].named);
        CHECK_STR(f.targets[0].name, "");
    }
    dfu_file_release(&f);
    /* named by a byte other than the first of the uint32 */
    set32(&sb, 11 + 7, 0x01000000);
    sb.buf[11 + 11 + 1] = '\n';
    fix_crc(&sb);
    CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
    if (f.nr_targets == 1)
        CHECK_STR(f.targets[0].name, "S?...");
    dfu_file_release(&f);
    strbuf_release(&sb);
}

/* ---- rejections ----------------------------------------------------------- */

static void check_bad(const struct strbuf *sb, const char *want)
{
    struct dfu_file f = DFU_FILE_INIT;
    char err[512] = "";

    CHECK_INT(dfu_file_parse(&f, u8(sb), sb->len, err, sizeof(err)), ==, OMV_EPARSE);
    if (strncmp(err, want, strlen(want)) != 0)
        test_fail(__FILE__, __LINE__, "\"%s\" does not start with \"%s\"", err, want);
    CHECK(f.targets == NULL && f.nr_targets == 0 && f.payload == NULL);
    dfu_file_release(&f);
}

/* The vector with one u32 or byte changed and the CRC fixed. */
static void vec32(struct strbuf *sb, size_t off, uint32_t v)
{
    build_vector(sb);
    set32(sb, off, v);
    fix_crc(sb);
}

static void vec8(struct strbuf *sb, size_t off, uint8_t v)
{
    build_vector(sb);
    sb->buf[off] = (char)v;
    fix_crc(sb);
}

static void test_suffix_rejections(void)
{
    struct strbuf sb = STRBUF_INIT;

    strbuf_add(&sb, "0123456789", 10);
    check_bad(&sb, "no dfu suffix: the file has 10 bytes, the suffix alone needs 16");
    strbuf_reset(&sb);
    check_bad(&sb, "no dfu suffix: the file has 0 bytes, the suffix alone needs 16");

    vec8(&sb, 311, 'X');
    check_bad(&sb, "no dfu suffix: expected signature 'UFD' at offset 309, found 'UFX'");
    vec8(&sb, 309, 0x01);
    check_bad(&sb, "no dfu suffix: expected signature 'UFD' at offset 309, found '?FD'");

    build_vector(&sb);
    sb.buf[293] ^= 0x20;
    check_bad(&sb, "bad crc at offset 313: the suffix says 0x890F5847, the contents give 0x");
    build_vector(&sb);
    sb.buf[sb.len - 1] ^= 0x01;
    check_bad(&sb, "bad crc at offset 313: the suffix says 0x880F5847, the contents give "
                   "0x890F5847");

    vec8(&sb, 312, 15);
    check_bad(&sb, "bad suffix length 15 at offset 312: must be 16 to the file size 317");
    dfu_file_build_plain(&sb, (const uint8_t *)"abcd", 4, 1, 2, 3);
    sb.buf[sb.len - 5] = (char)0xFF;
    fix_crc(&sb);
    check_bad(&sb, "bad suffix length 255 at offset 15: must be 16 to the file size 20");
    strbuf_release(&sb);
}

static void test_dfuse_rejections(void)
{
    struct strbuf sb = STRBUF_INIT;

    /* bcdDFU says DfuSe but the payload is too short or not DfuSe */
    strbuf_add(&sb, "DfuSe", 5);
    dfu_file_append_suffix(&sb, 0, 0xDF11, 0x0483, DFU_BCD_DFUSE);
    check_bad(&sb, "dfuse prefix truncated at offset 0: need 11 bytes, 5 before the suffix");
    strbuf_reset(&sb);
    strbuf_add(&sb, "plain firmware bytes", 20);
    dfu_file_append_suffix(&sb, 0, 0xDF11, 0x0483, DFU_BCD_DFUSE);
    check_bad(&sb, "bad dfuse signature at offset 0: expected 'DfuSe', found 'plain'");

    vec8(&sb, 4, 'x');
    check_bad(&sb, "bad dfuse signature at offset 0: expected 'DfuSe', found 'DfuSx'");
    vec8(&sb, 5, 2);
    check_bad(&sb, "unsupported dfuse version 2 at offset 5");
    vec8(&sb, 10, 0);
    check_bad(&sb, "dfuse prefix at offset 10 lists no targets");
    vec8(&sb, 10, 2);
    check_bad(&sb, "target 1 truncated at offset 301: need 274 bytes, 0 left before the suffix");
    vec8(&sb, 16, 'X');
    check_bad(&sb, "bad signature of target 0 at offset 11: expected 'Target', found 'TargeX'");
    vec32(&sb, 277, 1000);
    check_bad(&sb, "target 0 at offset 11: size 1000 runs past the suffix at offset 301 (16 "
                   "bytes left)");
    vec32(&sb, 277, 0xFFFFFFFF);
    check_bad(&sb, "target 0 at offset 11: size 4294967295 runs past the suffix");
    vec32(&sb, 281, 3);
    check_bad(&sb, "target 0 at offset 11: 3 elements cannot fit in its 16 bytes");
    vec32(&sb, 281, 0xFFFFFFFF);
    check_bad(&sb, "target 0 at offset 11: 4294967295 elements cannot fit in its 16 bytes");
    vec32(&sb, 281, 2);
    check_bad(&sb, "element 1 of target 0 at offset 301: header truncated, 0 bytes left in the "
                   "target");
    vec32(&sb, 289, 9);
    check_bad(&sb, "element 0 of target 0 at offset 285: size 9 runs past the end of the target "
                   "(8 bytes left)");
    vec32(&sb, 285, 0xFFFFFFFC);
    check_bad(&sb, "element 0 of target 0 at offset 285: 8 bytes at 0xFFFFFFFC run past 4 GiB");
    vec32(&sb, 289, 4);
    check_bad(&sb, "target 0 at offset 11: its size 16 leaves 4 bytes unused at offset 297");
    vec32(&sb, 281, 0);
    check_bad(&sb, "target 0 at offset 11: its size 16 leaves 16 bytes unused at offset 285");

    /* bytes between the last target and the suffix */
    build_vector(&sb);
    {
        struct strbuf t = STRBUF_INIT;

        strbuf_add(&t, sb.buf, 301);
        strbuf_add(&t, "junk", 4);
        strbuf_add(&t, sb.buf + 301, 16);
        fix_crc(&t);
        check_bad(&t, "trailing garbage: 4 bytes at offset 301 between the last target and the "
                      "suffix");
        strbuf_release(&t);
    }
    /* a truncated file loses its suffix */
    build_vector(&sb);
    strbuf_setlen(&sb, 300);
    check_bad(&sb, "no dfu suffix: expected signature 'UFD' at offset 292");
    strbuf_release(&sb);
}

static void test_build_rejections(void)
{
    struct dfu_element e = {0xFFFFFFF8, 9, bytes8};
    struct dfu_element ok = {0xFFFFFFF8, 8, bytes8};
    struct dfu_target t = {0, true, "ST...", &e, 1};
    struct dfu_target many[256];
    struct strbuf sb = STRBUF_INIT;
    char err[256] = "";

    strbuf_addstr(&sb, "keep");
    CHECK_INT(dfu_file_build_dfuse(&sb, 1, 2, &t, 0, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(err, "a dfuse file holds 1 to 255 targets, not 0");
    memset(many, 0, sizeof(many));
    CHECK_INT(dfu_file_build_dfuse(&sb, 1, 2, many, 256, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(err, "a dfuse file holds 1 to 255 targets, not 256");
    /* 9 bytes pad to 16: 0xFFFFFFF8 + 16 is past 4 GiB */
    CHECK_INT(dfu_file_build_dfuse(&sb, 1, 2, &t, 1, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(err, "element 0 of target 0: 9 bytes at 0xFFFFFFF8 run past 4 GiB");
    CHECK_STR(sb.buf, "keep");
    /* 255 empty targets and an element that ends exactly at 4 GiB are fine */
    CHECK_INT(dfu_file_build_dfuse(&sb, 1, 2, many, 255, err, sizeof(err)), ==, 0);
    t.elems = &ok;
    CHECK_INT(dfu_file_build_dfuse(&sb, 1, 2, &t, 1, err, sizeof(err)), ==, 0);
    {
        struct dfu_file f = DFU_FILE_INIT;

        CHECK_INT(dfu_file_parse(&f, u8(&sb), sb.len, err, sizeof(err)), ==, 0);
        dfu_file_release(&f);
    }
    strbuf_release(&sb);
}

static void test_check_device(void)
{
    struct dfu_file f = DFU_FILE_INIT;
    char err[256] = "";

    f.vid = 0x0483;
    f.pid = 0xDF11;
    CHECK_INT(dfu_file_check_device(&f, 0x0483, 0xDF11, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_check_device(&f, 0x37C5, 0x9204, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(err, "the file is for device '0483:DF11', not for '37C5:9204' (FFFF matches any)");
    CHECK_INT(dfu_file_check_device(&f, 0x0483, 0xDF12, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_INT(dfu_file_check_device(&f, 0x0484, 0xDF11, err, sizeof(err)), ==, OMV_EINVAL);
    f.vid = DFU_ID_ANY;
    CHECK_INT(dfu_file_check_device(&f, 0x1234, 0xDF11, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_check_device(&f, 0x1234, 0xDF10, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_STR(err, "the file is for device 'FFFF:DF11', not for '1234:DF10' (FFFF matches any)");
    f.pid = DFU_ID_ANY;
    CHECK_INT(dfu_file_check_device(&f, 0x1234, 0x5678, err, sizeof(err)), ==, 0);
    f.vid = 0x37C5;
    CHECK_INT(dfu_file_check_device(&f, 0x37C5, 0x0001, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_check_device(&f, 0x37C6, 0x0001, err, sizeof(err)), ==, OMV_EINVAL);
}

/* ---- Debian's dfu-suffix as a peer ---------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    int ok;

    if (!fp)
        return -1;
    ok = fwrite(data, 1, len, fp) == len;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

static int read_file(const char *path, struct strbuf *sb)
{
    FILE *fp = fopen(path, "rb");
    char buf[4096];
    size_t n;

    if (!fp)
        return -1;
    strbuf_reset(sb);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        strbuf_add(sb, buf, n);
    fclose(fp);
    return 0;
}

/* Run cmd, return its exit status; its output (stdout and stderr) goes to out. */
static int run(const char *cmd, struct strbuf *out)
{
    struct strbuf c = STRBUF_INIT;
    char buf[512];
    size_t n;
    FILE *p;
    int st;

    strbuf_addf(&c, "%s 2>&1", cmd);
    p = popen(c.buf, "r");
    strbuf_release(&c);
    if (!p)
        return -1;
    strbuf_reset(out);
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        strbuf_add(out, buf, n);
    st = pclose(p);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static void test_dfu_suffix_peer(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT, theirs = STRBUF_INIT, ours = STRBUF_INIT;
    struct dfu_file f = DFU_FILE_INIT;
    uint8_t payload[1000];
    char err[256] = "";

    if (system("command -v dfu-suffix >/dev/null 2>&1") != 0) {
        printf("note: dfu-suffix is not installed (apt-get install dfu-util): "
               "test_dfu_suffix_peer checks nothing\n");
        return;
    }
    snprintf(dir, sizeof(dir), "%s/omvdev-dfu-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        test_fail(__FILE__, __LINE__, "mkdtemp '%s' failed", dir);
        return;
    }
    snprintf(path, sizeof(path), "%s/fw.bin", dir);
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 31 + (i >> 3));

    /* 1. dfu-suffix adds a suffix: our plain builder writes the same bytes, we parse it */
    CHECK_INT(write_file(path, payload, sizeof(payload)), ==, 0);
    strbuf_addf(&cmd, "dfu-suffix -a '%s' -v 0x37c5 -p 0x9204 -d 0xffff", path);
    CHECK_INT(run(cmd.buf, &out), ==, 0);
    CHECK_INT(read_file(path, &theirs), ==, 0);
    dfu_file_build_plain(&ours, payload, sizeof(payload), 0x37C5, 0x9204, 0xFFFF);
    CHECK_INT(theirs.len, ==, ours.len);
    CHECK(theirs.len == ours.len && !memcmp(theirs.buf, ours.buf, ours.len));
    CHECK_INT(dfu_file_parse(&f, u8(&theirs), theirs.len, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(f.vid, ==, 0x37C5);
    CHECK_INT(f.pid, ==, 0x9204);
    CHECK_INT(f.bcd_device, ==, 0xFFFF);
    CHECK_INT(f.bcd_dfu, ==, 0x0100);
    CHECK_INT(f.payload_len, ==, sizeof(payload));
    CHECK(!memcmp(f.payload, payload, sizeof(payload)));
    dfu_file_release(&f);

    /* 2. a flipped byte: both dfu-suffix and we reject it */
    theirs.buf[100] ^= 0x01;
    CHECK_INT(write_file(path, theirs.buf, theirs.len), ==, 0);
    CHECK_INT(dfu_file_parse(&f, u8(&theirs), theirs.len, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_CONTAINS(err, "bad crc at offset 1012");
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "dfu-suffix -c '%s'", path);
    CHECK_INT(run(cmd.buf, &out), !=, 0);
    CHECK_CONTAINS(out.buf, "CRC does not match");

    /* 3. dfu-suffix checks our DfuSe file (MicroPython-style, two elements) */
    {
        struct dfu_element e[2] = {{0x08000000, 13, payload}, {0x08040000, 1000, payload}};
        struct dfu_target t = {0, true, "ST...", e, 2};
        char line[64];

        CHECK_INT(dfu_file_build_dfuse(&ours, 0x0483, 0xDF11, &t, 1, err, sizeof(err)), ==, 0);
        CHECK_INT(write_file(path, ours.buf, ours.len), ==, 0);
        CHECK_INT(run(cmd.buf, &out), ==, 0);
        CHECK_CONTAINS(out.buf, "Vendor ID:\t0x0483");
        CHECK_CONTAINS(out.buf, "Product ID:\t0xDF11");
        CHECK_CONTAINS(out.buf, "BCD DFU:\t0x011A");
        snprintf(line, sizeof(line), "CRC:\t\t0x%08lX", (unsigned long)get32(&ours, ours.len - 4));
        CHECK_CONTAINS(out.buf, line);
        /* and the tools/dfu.py vector */
        build_vector(&ours);
        CHECK_INT(write_file(path, ours.buf, ours.len), ==, 0);
        CHECK_INT(run(cmd.buf, &out), ==, 0);
        CHECK_CONTAINS(out.buf, "CRC:\t\t0x890F5847");
    }

    /* 4. dfu-suffix -D strips exactly the suffix our builder added */
    dfu_file_build_plain(&ours, payload, 77, 0x37C5, 0x9204, 0x0200);
    CHECK_INT(write_file(path, ours.buf, ours.len), ==, 0);
    strbuf_reset(&cmd);
    strbuf_addf(&cmd, "dfu-suffix -D '%s'", path);
    CHECK_INT(run(cmd.buf, &out), ==, 0);
    CHECK_INT(read_file(path, &theirs), ==, 0);
    CHECK(theirs.len == 77 && !memcmp(theirs.buf, payload, 77));

    unlink(path);
    rmdir(dir);
    strbuf_release(&cmd);
    strbuf_release(&out);
    strbuf_release(&theirs);
    strbuf_release(&ours);
}

/* ---- fuzz --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    return test_rand(&rng_state);
}

static void mutate(struct strbuf *sb)
{
    /* header fields of the vector-like files: counts, sizes, addresses */
    static const size_t fields[] = {6, 10, 18, 277, 281, 285, 289};
    static const uint32_t values[] = {0,   1,   2,   7,   8,          9,          15,        16,
                                      255, 256, 274, 301, 0x7FFFFFFF, 0xFFFFFFF8, 0xFFFFFFFF};
    int rounds = 1 + (int)(rnd() % 3);

    for (int r = 0; r < rounds; r++) {
        size_t at = sb->len ? rnd() % sb->len : 0;
        struct strbuf t = STRBUF_INIT;

        switch (rnd() % 7) {
        case 0:
            if (sb->len)
                sb->buf[at] = (char)(rnd() & 0xff);
            break;
        case 1:
        case 2: {
            size_t off = rnd() % 2 ? fields[rnd() % ARRAY_SIZE(fields)] : at;
            uint32_t v = rnd() % 4 ? values[rnd() % ARRAY_SIZE(values)] : rnd();

            if (off + 4 <= sb->len)
                set32(sb, off, v);
            else if (off < sb->len)
                sb->buf[off] = (char)(v & 0xff);
            break;
        }
        case 3:
            if (sb->len) {
                size_t n = rnd() % 16;

                if (at + n > sb->len)
                    n = sb->len - at;
                memmove(sb->buf + at, sb->buf + at + n, sb->len - at - n);
                strbuf_setlen(sb, sb->len - n);
            }
            break;
        case 4: {
            size_t n = rnd() % 16;

            strbuf_add(&t, sb->buf, at);
            for (size_t i = 0; i < n; i++)
                strbuf_addch(&t, (int)(rnd() & 0xff));
            strbuf_add(&t, sb->buf + at, sb->len - at);
            strbuf_release(sb);
            *sb = t;
            break;
        }
        case 5:
            strbuf_setlen(sb, at);
            break;
        default:
            /* the suffix length byte */
            if (sb->len >= 5)
                sb->buf[sb->len - 5] = (char)(rnd() % 4 ? 16 + rnd() % 8 : rnd() & 0xff);
            break;
        }
    }
}

static void check_file(const struct dfu_file *f, const uint8_t *buf, size_t len)
{
    size_t used = 0;

    CHECK(f->payload == buf);
    CHECK(f->suffix_len >= DFU_SUFFIX_LEN);
    CHECK_INT(f->payload_len + f->suffix_len, ==, len);
    CHECK_INT(f->dfuse, ==, f->bcd_dfu == DFU_BCD_DFUSE);
    if (!f->dfuse) {
        CHECK(f->targets == NULL && f->nr_targets == 0);
        return;
    }
    CHECK(f->nr_targets >= 1 && f->nr_targets <= 255);
    used = 11;
    for (size_t i = 0; i < f->nr_targets; i++) {
        const struct dfu_target *t = &f->targets[i];

        CHECK(strlen(t->name) <= DFU_NAME_MAX);
        for (const char *c = t->name; *c; c++)
            CHECK(*c >= 0x20 && *c < 0x7f);
        used += 274;
        for (size_t j = 0; j < t->nr; j++) {
            const struct dfu_element *e = &t->elems[j];

            CHECK(e->data >= buf + 11 + 274);
            CHECK(e->data + e->size <= buf + f->payload_len);
            CHECK((uint64_t)e->address + e->size <= (uint64_t)1 << 32);
            used += 8 + e->size;
        }
    }
    CHECK_INT(used, ==, f->payload_len);
}

static void test_fuzz(void)
{
    struct strbuf bases[4] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
    struct dfu_element e[3] = {{0x08000000, 8, bytes8}, {0x08040000, 5, bytes8}, {0, 0, NULL}};
    struct dfu_target t[2] = {{0, true, "ST...", e, 2}, {2, false, "", e + 2, 1}};
    char err[512];
    int accepted = 0, dfuse_accepted = 0;

    build_vector(&bases[0]);
    CHECK_INT(dfu_file_build_dfuse(&bases[1], 0x37C5, 0x9204, t, 1, err, sizeof(err)), ==, 0);
    CHECK_INT(dfu_file_build_dfuse(&bases[2], 0x37C5, 0x9204, t, 2, err, sizeof(err)), ==, 0);
    dfu_file_build_plain(&bases[3], bytes8, 8, 0x37C5, 0x9204, 0xFFFF);

    for (int i = 0; i < 8000; i++) {
        struct strbuf sb = STRBUF_INIT;
        struct dfu_file f = DFU_FILE_INIT;
        const struct strbuf *b = &bases[rnd() % ARRAY_SIZE(bases)];
        int rc;

        strbuf_add(&sb, b->buf, b->len);
        mutate(&sb);
        if (sb.len >= 4 && rnd() % 4)
            fix_crc(&sb);
        err[0] = '\0';
        /* parse a heap copy of exactly sb.len bytes, so ASan sees any overread */
        {
            uint8_t *copy = malloc(sb.len ? sb.len : 1);

            if (sb.len)
                memcpy(copy, sb.buf, sb.len);
            rc = dfu_file_parse(&f, copy, sb.len, err, sizeof(err));
            if (rc == 0) {
                accepted++;
                dfuse_accepted += f.dfuse;
                check_file(&f, copy, sb.len);
            } else {
                CHECK_INT(rc, ==, OMV_EPARSE);
                CHECK(err[0] != '\0');
                CHECK(strchr(err, '\n') == NULL);
                CHECK(f.targets == NULL && f.payload == NULL);
            }
            dfu_file_release(&f);
            free(copy);
        }
        strbuf_release(&sb);
    }
    CHECK_INT(accepted, >, 400);
    CHECK_INT(dfuse_accepted, >, 100);
    for (size_t i = 0; i < ARRAY_SIZE(bases); i++)
        strbuf_release(&bases[i]);
}

TESTS(TEST(test_crc_vectors), TEST(test_facts_vector), TEST(test_micropython_multi_element),
      TEST(test_multi_target_roundtrip), TEST(test_plain_roundtrip), TEST(test_target_names),
      TEST(test_suffix_rejections), TEST(test_dfuse_rejections), TEST(test_build_rejections),
      TEST(test_check_device), TEST(test_dfu_suffix_peer), TEST(test_fuzz))
