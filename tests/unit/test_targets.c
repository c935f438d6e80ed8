#include "tests/unit/test.h"

#include "lib/error.h"
#include "targets/targets.h"

static void test_database_invariants(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512] = "";
    size_t supported = 0;

    CHECK_INT(target_db_load(&db, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    for (size_t i = 0; i < db.nr; i++) {
        const struct target *t = &db.targets[i];

        supported += t->supported;
        /* Every image fits the alt it is written to, and every alt is sane. */
        for (size_t j = 0; j < t->nr_images; j++) {
            const struct target_image *im = &t->images[j];
            const struct target_alt *a =
                im->alt >= 0 ? target_alt_by_number(t, (unsigned)im->alt) : NULL;

            if (a && im->address < 0 && im->max_size)
                CHECK_INT(im->max_size, <=, a->end - a->start);
            if (a && im->address >= 0) {
                CHECK_INT(im->address, >=, a->start);
                CHECK_INT(im->address, <, a->end);
            }
        }
        for (size_t j = 0; j < t->nr_alts; j++) {
            const struct target_alt *a = &t->alts[j];

            /* Only bootloaders are read-only, and they all are. */
            CHECK_INT(a->readonly, ==, a->role == TARGET_ROLE_BOOTLOADER);
        }
        /* Boards flashed by alt erase through an alt with that role. */
        if (t->method == TARGET_METHOD_OPENMV_DFU && t->nr_erases) {
            const struct target_alt *a = target_alt_by_number(t, (unsigned)t->erases[0].alt);

            CHECK(a && a->role == TARGET_ROLE_FILESYSTEM_ERASE);
        }
        /* The DFU bootloader's PID is the application's with 0x8000 set (0x12xx -> 0x92xx). */
        if (t->method == TARGET_METHOD_OPENMV_DFU && t->supported) {
            CHECK_INT(t->dfu_usb.vid, ==, 0x37C5);
            CHECK_INT(t->dfu_usb.pid, ==, t->app_usb.pid | 0x8000);
        }
        /* Debug ELF is one of the artefacts. */
        if (t->supported) {
            bool found = false;

            for (size_t j = 0; j < t->nr_artefacts; j++)
                found |= !strcmp(t->artefacts[j], t->debug_elf);
            if (!found)
                test_fail(__FILE__, __LINE__, "%s: debug_elf %s is not an artefact", t->name,
                          t->debug_elf);
        }
    }
    CHECK_INT(db.nr, ==, 17);
    CHECK_INT(supported, ==, 16);
    target_db_release(&db);
}

static void test_lookups(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    const struct target *t;
    char buf[16];

    CHECK_INT(target_db_load(&db, err, sizeof(err)), ==, 0);
    t = target_find(&db, "openmv4");
    CHECK(t && !strcmp(t->name, "OPENMV4"));
    CHECK(target_find(&db, "OPENMV7") == NULL);
    CHECK_STR(target_suggest(&db, "OPENMV_N7"), "OPENMV_N6");
    CHECK_STR(target_suggest(&db, "openmv_ae"), "OPENMV_AE3");
    CHECK(target_suggest(&db, "ESP32") == NULL);
    t = target_find_usb(&db, (struct usb_id){0x37C5, 0x924A});
    CHECK(t && !strcmp(t->name, "OPENMV4P"));
    t = target_find_usb(&db, (struct usb_id){0x2341, 0x035F});
    CHECK(t && !strcmp(t->name, "ARDUINO_NICLA_VISION"));
    /* The ST ROM is every STM32 camera's recovery device: it names no board. */
    CHECK(target_find_usb(&db, (struct usb_id){0x0483, 0xDF11}) == NULL);
    CHECK_STR(usb_id_str((struct usb_id){0x37C5, 0x9204}, buf, sizeof(buf)), "37C5:9204");
    CHECK_STR(usb_id_str((struct usb_id){0, 0}, buf, sizeof(buf)), "");
    target_db_release(&db);
}

static const char *const good =
    "[board]\ntarget = X\ncamera = C\nsupported = true\nmcu = M\nmcu_part = MP\nport = stm32\n"
    "core = Cortex-M7\napp_usb = 37C5:1204\ndfu_usb = 37C5:9204\nmethod = openmv_dfu\n"
    "jlink_device =\ndebug_elf = firmware.elf\nboots_external_flash = false\nmin_gcc = 14.3\n"
    "recovery = none\nrecovery_usb =\nartefacts = firmware.elf firmware.bin\n"
    "[alt 0]\nname = A\nmemory = internal\nstart = 0x0\nend = 0x1000\nrole = firmware\n"
    "readonly = false\n"
    "[image firmware.bin]\nrole = firmware\nalt = 0\n"
    "[erase 1]\nalt = 0\nsize = 4096\n";

static void expect_parse_error(const char *from, const char *to, const char *msg)
{
    struct target_db db = TARGET_DB_INIT;
    char text[4096], err[512] = "";
    const char *at = strstr(good, from);

    CHECK(at != NULL);
    if (!at)
        return;
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    CHECK_INT(target_db_parse(&db, "X.ini", text, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_STR(err, msg);
    CHECK_INT(db.nr, ==, 0);
    target_db_release(&db);
}

static void test_parse_good_and_bad(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];

    CHECK_INT(target_db_parse(&db, "X.ini", good, err, sizeof(err)), ==, 0);
    CHECK_INT(db.nr, ==, 1);
    if (db.nr) {
        CHECK_INT(db.targets[0].min_gcc, ==, 1403);
        CHECK(db.targets[0].jlink_device == NULL);
        CHECK_INT(db.targets[0].nr_artefacts, ==, 2);
    }
    /* The same board twice is refused. */
    CHECK_INT(target_db_parse(&db, "Y.ini", good, err, sizeof(err)), ==, OMV_EPARSE);
    CHECK_STR(err, "Y.ini: board 'X' is defined twice");
    target_db_release(&db);

    expect_parse_error("app_usb = 37C5:1204", "app_usb = 37C5-1204",
                       "X.ini:9: expected VID:PID in hex (e.g. 37C5:9204), not '37C5-1204' for "
                       "'app_usb'");
    expect_parse_error("method = openmv_dfu", "method = jtag",
                       "X.ini:11: unknown value 'jtag' for 'method'");
    expect_parse_error("supported = true", "supported = yes",
                       "X.ini:4: expected true or false, not 'yes' for 'supported'");
    expect_parse_error("min_gcc = 14.3", "min_gcc = 14",
                       "X.ini:15: expected MAJOR.MINOR, not '14' for 'min_gcc'");
    expect_parse_error("core = Cortex-M7\n", "core = Cortex-M7\ncolour = red\n",
                       "X.ini:9: unknown key 'colour' in [board]");
    expect_parse_error("mcu = M\n", "", "X.ini: [board] has no 'mcu'");
    expect_parse_error("end = 0x1000", "end = 0x0",
                       "X.ini: [alt 0] needs a name, a memory and "
                       "start < end");
    expect_parse_error("end = 0x1000", "end = 0x100000000",
                       "X.ini:23: number out of range or malformed: '0x100000000' for 'end'");
    expect_parse_error("[image firmware.bin]\nrole = firmware\nalt = 0",
                       "[image firmware.bin]\nrole = firmware\nalt = 3",
                       "X.ini: [image firmware.bin] names alt 3, which has no [alt] section");
    expect_parse_error("[erase 1]", "[wipe 1]", "X.ini:30: unknown section [wipe 1]");
    expect_parse_error("[alt 0]", "[alt zero]", "X.ini:20: unknown section [alt zero]");
    expect_parse_error("size = 4096", "size = 0",
                       "X.ini:31: expected a size above zero, not '0' for 'size'");
}

/* The runners key: names checked like every other DB value, and every board has one. */
static void test_runners(void)
{
    struct target_db db = TARGET_DB_INIT;
    char text[4096], err[512] = "";
    const struct target *t;

    snprintf(text, sizeof(text), "%s", good);
    {
        char *at = strstr(text, "[alt 0]");
        char tail[4096];

        snprintf(tail, sizeof(tail), "%s", at);
        snprintf(at, sizeof(text) - (size_t)(at - text),
                 "runners = dfu  swd-jlink\nswd_images = firmware.bin@0x08040000 "
                 "romfs0.img@0x081E0000\nswd_loader = X.stldr\n%s",
                 tail);
    }
    CHECK_INT(target_db_parse(&db, "X.ini", text, err, sizeof(err)), ==, 0);
    if (db.nr) {
        t = &db.targets[0];
        CHECK(target_has_runner(t, TARGET_RUNNER_DFU));
        CHECK(target_has_runner(t, TARGET_RUNNER_SWD_JLINK));
        CHECK(!target_has_runner(t, TARGET_RUNNER_SWD_STLINK));
        CHECK_INT(t->nr_swd_images, ==, 2);
        if (t->nr_swd_images == 2) {
            CHECK_STR(t->swd_images[1].file, "romfs0.img");
            CHECK_INT(t->swd_images[1].address, ==, 0x081E0000u);
        }
        CHECK_STR(t->swd_loader, "X.stldr");
    }
    target_db_release(&db);

    expect_parse_error("recovery_usb =\n", "recovery_usb =\nrunners = dfu swd-openocd\n",
                       "X.ini:18: unknown runner 'swd-openocd' (known: dfu st-rom-dfu "
                       "stm32cubeprog swd-stlink swd-jlink spsdk alif-se bossac picotool)");
    expect_parse_error("recovery_usb =\n", "recovery_usb =\nswd_images = firmware.bin\n",
                       "X.ini:18: expected FILE@ADDRESS (e.g. firmware.bin@0x08040000), not "
                       "'firmware.bin' for 'swd_images'");
    expect_parse_error("recovery_usb =\n", "recovery_usb =\nswd_images = a@0x1 b@0x100000000\n",
                       "X.ini:18: expected FILE@ADDRESS (e.g. firmware.bin@0x08040000), not "
                       "'b@0x100000000' for 'swd_images'");
    expect_parse_error("recovery_usb =\n", "recovery_usb =\nswd_images = @0x1\n",
                       "X.ini:18: expected FILE@ADDRESS (e.g. firmware.bin@0x08040000), not "
                       "'@0x1' for 'swd_images'");

    /* The embedded database: every board declares how it is flashed. */
    CHECK_INT(target_db_load(&db, err, sizeof(err)), ==, 0);
    for (size_t i = 0; i < db.nr; i++) {
        t = &db.targets[i];
        CHECK(t->runners != 0 || t->method == TARGET_METHOD_EMULATOR);
        if (t->method == TARGET_METHOD_EMULATOR)
            CHECK(t->qemu_machine != NULL);
        if (t->nr_swd_images)
            CHECK(target_has_runner(t, TARGET_RUNNER_SWD_STLINK) ||
                  target_has_runner(t, TARGET_RUNNER_SWD_JLINK));
        if (target_has_runner(t, TARGET_RUNNER_SWD_JLINK))
            CHECK(t->jlink_device != NULL);
        if (t->recovery == TARGET_RECOVERY_STM32_ROM_DFU)
            CHECK(target_has_runner(t, TARGET_RUNNER_ST_ROM_DFU));
    }
    t = target_find(&db, "OPENMV_N6");
    CHECK(t && target_has_runner(t, TARGET_RUNNER_STM32CUBEPROG) && t->swd_loader);
    t = target_find(&db, "ARDUINO_NANO_33_BLE_SENSE");
    CHECK(t && t->runners == 1u << TARGET_RUNNER_BOSSAC);
    target_db_release(&db);
}

TESTS(TEST(test_database_invariants), TEST(test_lookups), TEST(test_parse_good_and_bad),
      TEST(test_runners))
