#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "targets/partitions.h"

#include <stdlib.h>
#include <unistd.h>

static void test_eval(void)
{
    uint64_t v = 0;

    CHECK_INT(part_eval("1792K", NULL, NULL, 0, &v), ==, 0);
    CHECK_INT(v, ==, 1792 * 1024);
    CHECK_INT(part_eval("0x08040000", NULL, NULL, 0, &v), ==, 0);
    CHECK_INT(v, ==, 0x08040000);
    CHECK_INT(part_eval("(8 * 1024)", NULL, NULL, 0, &v), ==, 0);
    CHECK_INT(v, ==, 8192);
    CHECK_INT(part_eval(" 16M - 0x100000 ", NULL, NULL, 0, &v), ==, 0);
    CHECK_INT(v, ==, 15 * 1024 * 1024);
    CHECK_INT(part_eval("0x15E000UL", NULL, NULL, 0, &v), ==, 0);
    CHECK_INT(v, ==, 0x15E000);
    CHECK_INT(part_eval("", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("12Q", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("(1", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("1/0", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("1-2", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("0xFFFFFFFFFFFFFFFFF", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("0xFFFFFFFFFFFFFFFF * 2", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("SOMETHING", NULL, NULL, 0, &v), ==, OMV_EPARSE);
    CHECK_INT(part_eval("0x", NULL, NULL, 0, &v), ==, OMV_EPARSE);
}

static void test_parse_board_config(void)
{
    struct part_layout l = PART_LAYOUT_INIT;
    const char *text = "// Flash configuration.\n"
                       "#define OMV_FLASH_BOOT_ORIGIN   0x08000000\n"
                       "#define OMV_FLASH_BOOT_LENGTH   128K\n"
                       "  #  define OMV_FLASH_TXT_LENGTH    1664K   // firmware\n"
                       "#define OMV_ROMFS_PART0_ORIGIN  0x081E0000\n"
                       "#define OMV_ROMFS_PART0_LENGTH  (OMV_ROMFS_SIZE) /* from below */\n"
                       "#define OMV_ROMFS_SIZE (64K * 2)\n"
                       "#define OMV_ROMFS_PART1_LENGTH  OMV_ROMFS_PART1_LENGTH\n"
                       "#define OMV_ROMFS_PART2_LENGTH  SOMETHING_UNKNOWN\n"
                       "#define OMV_ROMFS_PART3_LENGTHX 4K\n"
                       "#define OMV_FLASH_TXT_LENGTH(x) 4K\n";
    const struct part_size *p;

    CHECK_INT(part_layout_parse(&l, text), ==, 3);
    CHECK_INT(l.nr, ==, 3);
    p = part_layout_find(&l, "firmware.bin");
    CHECK(p && p->max == 1664 * 1024);
    CHECK(p && !strcmp(p->define, "OMV_FLASH_TXT_LENGTH"));
    p = part_layout_find(&l, "bootloader.bin");
    CHECK(p && p->max == 128 * 1024);
    p = part_layout_find(&l, "romfs0.img");
    CHECK(p && p->max == 128 * 1024);
    CHECK(part_layout_find(&l, "romfs1.img") == NULL); /* defined by itself: no loop */
    CHECK(part_layout_find(&l, "romfs2.img") == NULL);
    CHECK(part_layout_find(&l, "romfs3.img") == NULL);
    part_layout_release(&l);
}

static void test_load(void)
{
    char dir[] = "/tmp/omvdev-part-XXXXXX", err[256];
    struct part_layout l = PART_LAYOUT_INIT;
    struct strbuf path = STRBUF_INIT;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(part_layout_load(&l, dir, err, sizeof(err)), ==, OMV_ENOENT);
    CHECK_CONTAINS(err, "no board_config.h, boot_config.h, omv_boardconfig.h or omv_bootconfig.h");
    fs_path_join(&path, dir, "boot_config.h");
    CHECK_INT(
        fs_write_atomic(path.buf, "#define OMV_FLASH_TXT_LENGTH 3M\n", 32, 0644, err, sizeof(err)),
        ==, 0);
    CHECK_INT(part_layout_load(&l, dir, err, sizeof(err)), ==, 0);
    CHECK(part_layout_find(&l, "firmware.bin") &&
          part_layout_find(&l, "firmware.bin")->max == 3 * 1024 * 1024);
    CHECK_STR(l.source, "boot_config.h");
    part_layout_release(&l);
    unlink(path.buf);

    /* up to v4.8.x the header is omv_boardconfig.h, with the lines as v4.6.20's OPENMV4 has them */
    strbuf_reset(&path);
    fs_path_join(&path, dir, "omv_boardconfig.h");
    {
        const char *h = "// Flash configuration.\n"
                        "#define OMV_FLASH_ORIGIN                      0x08000000\n"
                        "#define OMV_FLASH_LENGTH                      2048K\n"
                        "#define OMV_FLASH_BOOT_ORIGIN                 0x08000000\n"
                        "#define OMV_FLASH_BOOT_LENGTH                 128K\n"
                        "#define OMV_FLASH_TXT_ORIGIN                  0x08040000\n"
                        "#define OMV_FLASH_TXT_LENGTH                  1792K\n";

        CHECK_INT(fs_write_atomic(path.buf, h, strlen(h), 0644, err, sizeof(err)), ==, 0);
    }
    CHECK_INT(part_layout_load(&l, dir, err, sizeof(err)), ==, 0);
    CHECK(part_layout_find(&l, "firmware.bin") &&
          part_layout_find(&l, "firmware.bin")->max == 1792 * 1024);
    CHECK(part_layout_find(&l, "bootloader.bin") &&
          part_layout_find(&l, "bootloader.bin")->max == 128 * 1024);
    CHECK_STR(l.source, "omv_boardconfig.h");
    CHECK_STR(part_layout_find(&l, "firmware.bin")->header, "omv_boardconfig.h");
    unlink(path.buf);
    rmdir(dir);
    strbuf_release(&path);
    part_layout_release(&l);
}

static void test_udev(void)
{
    const char *ide = "# OpenMV\n"
                      "SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"0483\", ATTRS{idProduct}==\"df11\", "
                      "MODE:=\"0666\", SYMLINK+=\"openmvdfu\"\n"
                      "KERNEL==\"ttyACM*\", ATTRS{idVendor}==\"37c5\", "
                      "ATTRS{idProduct}==\"1202|1204\", MODE:=\"0666\"\n"
                      "SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"2e8a\"|\"2341\", MODE:=\"0666\"\n"
                      "#SUBSYSTEMS==\"usb\", ATTRS{idVendor}==\"1fc9\", MODE:=\"0666\"\n"
                      "SUBSYSTEM==\"hidraw\", ATTRS{idVendor}==\"15a2\", TAG+=\"uaccess\"\n"
                      "ATTRS{idVendor}==\"1209\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n";

    CHECK(udev_rules_cover(ide, 0x0483, 0xdf11));
    CHECK(!udev_rules_cover(ide, 0x0483, 0x3748));
    CHECK(udev_rules_cover(ide, 0x37c5, 0x1204));
    CHECK(udev_rules_cover(ide, 0x37C5, 0x1202));
    CHECK(!udev_rules_cover(ide, 0x37c5, 0x9204));
    CHECK(udev_rules_cover(ide, 0x2341, -1));
    CHECK(udev_rules_cover(ide, 0x2341, 0x035f));  /* vendor-wide rule */
    CHECK(!udev_rules_cover(ide, 0x1fc9, 0x0135)); /* commented out */
    CHECK(udev_rules_cover(ide, 0x15a2, 0x0073));
    CHECK(!udev_rules_cover(ide, 0x1209, 0xabd1)); /* no MODE/GROUP/uaccess */
    CHECK(!udev_rules_cover("", 0x37c5, -1));
    CHECK(
        udev_rules_cover("ATTR{idVendor}==\"37c5\", MODE=\"0660\", GROUP=\"plugdev\"", 0x37c5, -1));
    CHECK(!udev_rules_cover("ATTRS{idVendor}==\"37c5, MODE=\"0666\"", 0x37c5, -1));
}

/* Random and mutated header and rule texts: no crash, no leak, sane results. */
static void test_fuzz(void)
{
    static const char *const pieces[] = {"#define ",
                                         "OMV_FLASH_TXT_LENGTH ",
                                         "OMV_ROMFS_PART",
                                         "_LENGTH ",
                                         "0x",
                                         "K",
                                         "M",
                                         "G",
                                         "(",
                                         ")",
                                         "*",
                                         "+",
                                         "-",
                                         "/",
                                         " ",
                                         "\n",
                                         "//",
                                         "/*",
                                         "0",
                                         "9",
                                         "FFFFFFFF",
                                         "A",
                                         "ATTRS{idVendor}==",
                                         "\"37c5\"",
                                         "|",
                                         "\"",
                                         "MODE",
                                         "#",
                                         "ATTRS{idProduct}==",
                                         "\t"};
    uint64_t state = 0x5eed;

    for (int iter = 0; iter < 20000; iter++) {
        struct part_layout l = PART_LAYOUT_INIT;
        char buf[512];
        size_t n = 0, want = test_rand(&state) % 40;
        uint64_t v;

        for (size_t i = 0; i < want; i++) {
            const char *p = pieces[test_rand(&state) % ARRAY_SIZE(pieces)];
            size_t len = strlen(p);

            if (n + len >= sizeof(buf))
                break;
            memcpy(buf + n, p, len);
            n += len;
        }
        if (n && test_rand(&state) % 4 == 0)
            buf[test_rand(&state) % n] = (char)(test_rand(&state) & 0xff ? test_rand(&state) : 1);
        buf[n] = '\0';
        part_layout_parse(&l, buf);
        for (size_t i = 0; i < l.nr; i++)
            CHECK(l.items[i].max > 0);
        part_layout_release(&l);
        (void)part_eval(buf, NULL, NULL, 0, &v);
        (void)udev_rules_cover(buf, 0x37c5, (int)(test_rand(&state) % 3) - 1);
    }
}

TESTS(TEST(test_eval), TEST(test_parse_board_config), TEST(test_load), TEST(test_udev),
      TEST(test_fuzz))
