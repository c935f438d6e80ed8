/*
 * The .sha256 parser (outside input from a mirror), the digest and the
 * manifest's per-file CRC-64 themselves, and the manifest line parser.
 */
#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/strbuf.h"
#include "sdk/digest.h"
#include "sdk/sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TB  "openmv-sdk-1.6.0-linux-x86_64.tar.xz"
#define HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static int parse(const char *text, char hex[DIGEST_HEX_LEN + 1], char *err, size_t errlen)
{
    return digest_parse_sumfile(text, strlen(text), TB, hex, err, errlen);
}

static void test_accepted(void)
{
    static const char *const good[] = {
        HEX "  " TB "\n",
        HEX "  " TB,
        HEX " *" TB "\n",
        HEX "  ./" TB "\n",
        HEX "  /tmp/build/" TB "\r\n",
        HEX "\n",
        HEX,
        "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08  " TB "\n",
    };
    char hex[DIGEST_HEX_LEN + 1], err[256];

    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        memset(hex, 0, sizeof(hex));
        CHECK_INT(parse(good[i], hex, err, sizeof(err)), ==, 0);
        CHECK_STR(hex, HEX);
    }
}

static void test_rejected(void)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "holds no SHA-256"},
        {"hello world\n", "holds no SHA-256"},
        {"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0  " TB "\n",
         "does not start with 64 hex digits"},
        {"zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  " TB "\n",
         "does not start with 64 hex digits"},
        {HEX "  other.tar.xz\n", "is for 'other.tar.xz', not '" TB "'"},
        {HEX "  x" TB "\n", "is for 'x" TB "'"},
        {HEX " " TB "\n", "not in sha256sum format"},
        {HEX "0  " TB "\n", "not in sha256sum format"},
        {HEX "  " TB "\n" HEX "  " TB "\n", "more than one line"},
        {HEX "  " TB "\n\n", "more than one line"},
        {"\xef\xbb\xbf" HEX "  " TB "\n", "non-ASCII"},
        {HEX "  " TB "\x01\n", "control character"},
        {"<html>404 Not Found</html>\n", "holds no SHA-256"},
    };
    char hex[DIGEST_HEX_LEN + 1], err[256];

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        CHECK_INT(parse(bad[i].text, hex, err, sizeof(err)), ==, OMV_EPARSE);
        CHECK_CONTAINS(err, bad[i].msg);
    }
}

static void test_digest(void)
{
    struct digest d;
    char hex[DIGEST_HEX_LEN + 1];

    digest_init(&d);
    digest_update(&d, "te", 2);
    digest_update(&d, "st", 2);
    digest_final_hex(&d, hex);
    CHECK_STR(hex, HEX); /* sha256("test") */
    digest_reset(&d);
    digest_final_hex(&d, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    digest_release(&d);
    CHECK(digest_hex_valid(HEX, NULL));
    CHECK(!digest_hex_valid(HEX "0", NULL));
    CHECK(!digest_hex_valid("abc", NULL));
}

/* CRC-64 as xz computes it (the check value of CRC-64/XZ is that of
 * "123456789"), in pieces and from a file, and both file sums of one file. */
static void test_filesum(void)
{
    struct filesum s = FILESUM_INIT;
    char hex[DIGEST_HEX_LEN + 1], err[256], path[] = "/tmp/omvdev-filesum-XXXXXX";
    uint64_t size = 0;
    int fd;

    filesum_hex(&s, hex);
    CHECK_STR(hex, "0000000000000000");
    filesum_update(&s, "1234", 4);
    filesum_update(&s, "56789", 5);
    filesum_hex(&s, hex);
    CHECK_STR(hex, "995dc9bbdf1939fa");

    fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "123456789", 9) == 9 && close(fd) == 0);
    CHECK_INT(filesum_file(path, hex, &size, err, sizeof(err)), ==, 0);
    CHECK_STR(hex, "995dc9bbdf1939fa");
    CHECK_INT(size, ==, 9);
    CHECK_INT(digest_file(path, hex, &size, err, sizeof(err)), ==, 0);
    CHECK_STR(hex, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
    unlink(path);
    CHECK_INT(filesum_file(path, hex, &size, err, sizeof(err)), ==, OMV_ENOENT);
    CHECK_INT(filesum_file("/tmp", hex, &size, err, sizeof(err)), <, 0);

    CHECK(filesum_hex_valid("995DC9BBDF1939FA", hex));
    CHECK_STR(hex, "995dc9bbdf1939fa");
    CHECK(!filesum_hex_valid("995dc9bbdf1939f", hex));
    CHECK(!filesum_hex_valid("995dc9bbdf1939fa0", hex));
    CHECK(!filesum_hex_valid("995dc9bbdf1939fg", hex));
}

/* Deterministic mutations of good and bad lines: never a crash, and an
 * accepted text always yields 64 lower-case hex digits that occur in it. */
static void test_fuzz_sumfile(void)
{
    static const char seeds[][160] = {HEX "  " TB "\n", HEX "\n", HEX " *./" TB "\r\n", "garbage"};
    static const char alphabet[] = " *\n\r\t./0123456789abcdefABCDEFxyz\xff";
    uint64_t rng = 0x5eed5eedULL;

    for (int round = 0; round < 20000; round++) {
        struct strbuf sb = STRBUF_INIT;
        char hex[DIGEST_HEX_LEN + 1], err[256];
        int n = 1 + (int)(test_rand(&rng) % 4);

        strbuf_addstr(&sb, seeds[test_rand(&rng) % ARRAY_SIZE(seeds)]);
        for (int i = 0; i < n; i++) {
            size_t at = sb.len ? test_rand(&rng) % sb.len : 0;
            char c = alphabet[test_rand(&rng) % (sizeof(alphabet) - 1)];

            switch (test_rand(&rng) % 3) {
            case 0:
                if (sb.len)
                    sb.buf[at] = c;
                break;
            case 1:
                strbuf_addch(&sb, c);
                memmove(sb.buf + at + 1, sb.buf + at, sb.len - at - 1);
                sb.buf[at] = c;
                break;
            default:
                if (sb.len) {
                    memmove(sb.buf + at, sb.buf + at + 1, sb.len - at - 1);
                    strbuf_setlen(&sb, sb.len - 1);
                }
            }
        }
        if (digest_parse_sumfile(sb.buf, sb.len, TB, hex, err, sizeof(err)) == 0) {
            CHECK_INT(strlen(hex), ==, 64);
            CHECK(digest_hex_valid(hex, NULL));
            for (const char *p = hex; *p; p++)
                CHECK(!(*p >= 'A' && *p <= 'F'));
            CHECK(sb.len >= 64);
            CHECK(!strchr(sb.buf, '\t') || strchr(sb.buf, '\t') > sb.buf + 66);
        } else {
            CHECK(err[0] != '\0');
        }
        strbuf_release(&sb);
    }
}

#define CRC "995dc9bbdf1939fa"

static void test_manifest_version(void)
{
    CHECK_INT(sdk_manifest_version(SDK_MANIFEST_HEADER), ==, 2);
    CHECK_INT(sdk_manifest_version("# omvdev sdk manifest 2"), ==, 2);
    CHECK_INT(sdk_manifest_version("# omvdev sdk manifest 1"), ==, 1);
    CHECK_INT(sdk_manifest_version("# omvdev sdk manifest 3"), ==, 0);
    CHECK_INT(sdk_manifest_version("# omvdev sdk manifest 2 "), ==, 0);
    CHECK_INT(sdk_manifest_version(""), ==, 0);
}

static void test_manifest_line(void)
{
    struct sdk_manifest_entry e;
    char l1[] = "f\t" CRC "\t12\tgcc/bin/x y", l2[] = "l\tpython3.12\tpython/bin/python3",
         l3[] = "d\tgcc", v1[] = "f\t" HEX "\t7\tgcc/a", up[] = "f\t995DC9BBDF1939FA\t1\tx",
         b1[] = "f\t" CRC "\t-1\tx", b2[] = "f\tabc\t1\tx", b3[] = "d\t/etc", b4[] = "d\t../x",
         b5[] = "q\tx", b6[] = "d\tx\ty", b7[] = "f\t" CRC "\t1x\tx", b8[] = "l\t\tx", b9[] = "",
         sha_in_2[] = "f\t" HEX "\t1\tx", crc_in_1[] = "f\t" CRC "\t1\tx";
    char *bad[] = {b1, b2, b3, b4, b5, b6, b7, b8, b9, sha_in_2};

    CHECK_INT(sdk_manifest_parse_line(l1, 2, &e), ==, 0);
    CHECK_INT(e.type, ==, 'f');
    CHECK_INT(e.size, ==, 12);
    CHECK_STR(e.sum, CRC);
    CHECK_STR(e.path, "gcc/bin/x y");
    CHECK_INT(sdk_manifest_parse_line(l2, 2, &e), ==, 0);
    CHECK_STR(e.target, "python3.12");
    CHECK_STR(e.path, "python/bin/python3");
    CHECK_INT(sdk_manifest_parse_line(l3, 2, &e), ==, 0);
    CHECK_STR(e.path, "gcc");
    CHECK_INT(sdk_manifest_parse_line(up, 2, &e), ==, 0);
    CHECK_STR(e.sum, CRC);
    /* Version 1: a SHA-256 where version 2 has a CRC-64, and nothing else. */
    CHECK_INT(sdk_manifest_parse_line(v1, 1, &e), ==, 0);
    CHECK_STR(e.sum, HEX);
    CHECK_STR(e.path, "gcc/a");
    CHECK_INT(sdk_manifest_parse_line(crc_in_1, 1, &e), ==, -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        CHECK_INT(sdk_manifest_parse_line(bad[i], 2, &e), ==, -1);
}

static void test_fuzz_manifest_line(void)
{
    static const char alphabet[] = "fdl\t./0123456789abcdef-x";
    uint64_t rng = 42;

    for (int round = 0; round < 20000; round++) {
        char line[96];
        size_t n = test_rand(&rng) % (sizeof(line) - 1);
        int version = 1 + round % 2;
        struct sdk_manifest_entry e;

        for (size_t i = 0; i < n; i++)
            line[i] = alphabet[test_rand(&rng) % (sizeof(alphabet) - 1)];
        line[n] = '\0';
        if (sdk_manifest_parse_line(line, version, &e) == 0) {
            CHECK(e.type == 'f' || e.type == 'd' || e.type == 'l');
            CHECK(e.path && *e.path && e.path[0] != '/' && !strchr(e.path, '\t'));
            CHECK(strncmp(e.path, "..", 2) != 0);
            if (e.type == 'f')
                CHECK_INT(strlen(e.sum), ==, version == 1 ? DIGEST_HEX_LEN : FILESUM_HEX_LEN);
        }
    }
}

static void test_url_rules(void)
{
    char err[256];

    CHECK_INT(sdk_url_allowed("https://download.openmv.io/sdk/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("file:///tmp/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://127.0.0.1:8000/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://127.1.2.3/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://localhost/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://[::1]:80/x", false, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://mirror.example/x", true, err, sizeof(err)), ==, 0);
    CHECK_INT(sdk_url_allowed("http://mirror.example/x", false, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_CONTAINS(err, "refusing plain http://");
    CHECK_INT(sdk_url_allowed("http://127.0.0.1.evil.example/x", false, err, sizeof(err)), ==,
              OMV_EINVAL);
    CHECK_INT(sdk_url_allowed("http://127.0.0.1@evil.example/x", false, err, sizeof(err)), ==,
              OMV_EINVAL);
    CHECK_INT(sdk_url_allowed("ftp://127.0.0.1/x", true, err, sizeof(err)), ==, OMV_EINVAL);
    CHECK_CONTAINS(err, "unsupported URL");
}

TESTS(TEST(test_accepted), TEST(test_rejected), TEST(test_digest), TEST(test_filesum),
      TEST(test_fuzz_sumfile), TEST(test_manifest_version), TEST(test_manifest_line),
      TEST(test_fuzz_manifest_line), TEST(test_url_rules))
