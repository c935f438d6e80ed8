#include "tests/unit/test.h"

#include "targets/targets.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * An independent cross-check of the board database against the tables of the
 * official guide, chapter 10 "Building, flashing, and debugging the firmware"
 * (seed 004). Every table below is transcribed from the guide text, not from
 * the targets/boards files. Where the repository (firmware or OpenMV IDE sources,
 * openmv-facts.md) disagrees with the guide, the repository wins: the table
 * holds the repository value and a comment quotes both.
 */

/* Guide §10.4.1 "Supported boards": Camera, TARGET, MCU, Port, Core. */
struct board_row {
    const char *camera;
    const char *target;
    const char *mcu;
    const char *port;
    const char *core;
    bool supported;
};

static const struct board_row boards[] = {
    /* The guide lists OPENMV1 as a plain row; the repository's
     * boards/OPENMV1/board_config.mk says "This camera is no longer supported"
     * (facts §2.1), so the database must mark it unsupported. */
    {"OpenMV Cam M4", "OPENMV1", "STM32F407", "stm32", "Cortex-M4", false},
    {"OpenMV Cam M4 (V2)", "OPENMV2", "STM32F427", "stm32", "Cortex-M4", true},
    {"OpenMV Cam M7", "OPENMV3", "STM32F765", "stm32", "Cortex-M7", true},
    {"OpenMV Cam H7", "OPENMV4", "STM32H743", "stm32", "Cortex-M7", true},
    {"OpenMV Cam H7 Plus", "OPENMV4P", "STM32H743 + SDRAM", "stm32", "Cortex-M7", true},
    {"OpenMV Pure Thermal", "OPENMVPT", "STM32H743 + SDRAM", "stm32", "Cortex-M7", true},
    {"OpenMV Cam N6", "OPENMV_N6", "STM32N657", "stm32", "Cortex-M55", true},
    {"OpenMV Cam RT1062", "OPENMV_RT1060", "MIMXRT1062", "mimxrt", "Cortex-M7", true},
    {"OpenMV AE3", "OPENMV_AE3", "Alif Ensemble (dual M55)", "alif", "Cortex-M55", true},
    {"Arduino Portenta H7", "ARDUINO_PORTENTA_H7", "STM32H747", "stm32", "Cortex-M7", true},
    {"Arduino Giga", "ARDUINO_GIGA", "STM32H747", "stm32", "Cortex-M7", true},
    {"Arduino Nicla Vision", "ARDUINO_NICLA_VISION", "STM32H747", "stm32", "Cortex-M7", true},
    {"Arduino Nano 33 BLE Sense", "ARDUINO_NANO_33_BLE_SENSE", "nRF52840", "nrf", "Cortex-M4",
     true},
    {"Arduino Nano RP2040 Connect", "ARDUINO_NANO_RP2040_CONNECT", "RP2040", "rp2", "Cortex-M0+",
     true},
};

/* Guide §10.7.5 "STM32 cameras: dfu-util": Camera (TARGET), App VID:PID,
 * DFU VID:PID, Firmware command (-a N -D firmware.bin), ROMFS command
 * (-a N -D romfs0.img). All agree with the repository (facts §3.3, §5.1). */
struct dfu_row {
    const char *target;
    struct usb_id app;
    struct usb_id dfu;
    unsigned firmware_alt;
    unsigned romfs_alt;
};

static const struct dfu_row dfu_cameras[] = {
    {"OPENMV2", {0x37C5, 0x1202}, {0x37C5, 0x9202}, 2, 3},
    {"OPENMV3", {0x37C5, 0x1203}, {0x37C5, 0x9203}, 2, 3},
    {"OPENMV4", {0x37C5, 0x1204}, {0x37C5, 0x9204}, 2, 3},
    {"OPENMV4P", {0x37C5, 0x124A}, {0x37C5, 0x924A}, 2, 4},
    {"OPENMVPT", {0x37C5, 0x1205}, {0x37C5, 0x9205}, 2, 4},
    {"OPENMV_N6", {0x37C5, 0x1206}, {0x37C5, 0x9206}, 1, 3},
};

/* Guide §10.7.6 "OpenMV AE3: dfu-util": application VID:PID 37C5:16E3, DFU
 * VID:PID 37C5:96E3, and the DFU alt-setting map (Alt, Purpose, Core, Image
 * file, Size (hex), Size (bytes)); image rows in the guide's flash order.
 * Agrees with boot_config.h alts 1/2/3/6 (facts §3.3). */
static const struct usb_id ae3_app = {0x37C5, 0x16E3};
static const struct usb_id ae3_dfu = {0x37C5, 0x96E3};
static const unsigned ae3_erase_alt = 5; /* "-a 5 Erase internal FAT filesystem, shared" */

struct ae3_row {
    unsigned alt;
    enum target_role role; /* from Purpose + Core */
    const char *file;
    uint32_t size_hex;
    uint32_t size_bytes;
};

static const struct ae3_row ae3_images[] = {
    {1, TARGET_ROLE_FIRMWARE_HP, "firmware_M55_HP.bin", 0x300000, 3145728},
    {2, TARGET_ROLE_FIRMWARE_HE, "firmware_M55_HE.bin", 0x15E000, 1433600},
    {3, TARGET_ROLE_ROMFS, "romfs1.img", 0x100000, 1048576},
    {6, TARGET_ROLE_ROMFS, "romfs0.img", 0x1800000, 25165824},
};

/* Guide §10.7.9 "Erasing the internal filesystem", openmv_dfu table: Camera
 * (TARGET), DFU VID:PID, Erase alt. The file written is "a 4 KB block of
 * zeros" (dd bs=4096 count=1). Agrees with the IDE's eraseCommands and
 * FLASH_SECTOR_ERASE 4096 (facts §3.3, §5.1, §5.3). */
struct erase_row {
    const char *target;
    struct usb_id dfu;
    unsigned alt;
};

static const struct erase_row erase_alts[] = {
    {"OPENMV2", {0x37C5, 0x9202}, 1},    {"OPENMV3", {0x37C5, 0x9203}, 1},
    {"OPENMV4", {0x37C5, 0x9204}, 1},    {"OPENMV4P", {0x37C5, 0x924A}, 3},
    {"OPENMVPT", {0x37C5, 0x9205}, 3},   {"OPENMV_N6", {0x37C5, 0x9206}, 2},
    {"OPENMV_AE3", {0x37C5, 0x96E3}, 5},
};

static const uint32_t erase_block = 4096; /* dd if=/dev/zero bs=4096 count=1 */

/* Guide §10.7.7 "OpenMV Cam RT1062: NXP SPSDK": write-memory addresses of
 * firmware.bin and romfs0.img, and (§10.7.9) the FAT disk's MBR erase
 * "flash-erase-region 0x60400000 0x1000". The IDE agrees (facts §5.1 imx:
 * firmware @0x60040000, disk 0x60400000, romfs 0x60800000). Note the
 * firmware's board_config.h puts TXT at 0x60043000 (facts §2.2), which is
 * inside the image written at 0x60040000, not a different flash address. */
static const int64_t rt1060_firmware_addr = 0x60040000;
static const int64_t rt1060_romfs_addr = 0x60800000;
static const int64_t rt1060_erase_addr = 0x60400000;
static const uint32_t rt1060_erase_size = 0x1000;

/* Guide §10.7.8 "Arduino boards: dfu-util": Board, DFU VID:PID, Firmware
 * command (-a N -s ADDR:leave), ROMFS command (-a N -s ADDR:leave); and
 * §10.7.9 Arduino erase (-a 0 -s 0x08020000, then -a 1 -s 0x90000000).
 * The boards' application VID:PIDs are not in the guide's tables: not checked.
 */
struct dfuse_step {
    int alt;
    int64_t address;
};

struct arduino_row {
    const char *target;
    struct usb_id dfu;
    struct dfuse_step firmware;
    struct dfuse_step romfs;
    struct dfuse_step erases[2];
    size_t nr_erases;
};

static const struct arduino_row arduino_boards[] = {
    {"ARDUINO_PORTENTA_H7",
     {0x2341, 0x035B},
     {0, 0x08040000},
     {1, 0x90B00000},
     {{0, 0x08020000}, {1, 0x90000000}},
     2},
    {"ARDUINO_GIGA",
     {0x2341, 0x0366},
     {0, 0x08040000},
     {1, 0x90B00000},
     {{0, 0x08020000}, {1, 0x90000000}},
     2},
    /* Erase: the guide §10.7.9 erases "-a 0 -s 0x08020000" then
     * "-a 1 -s 0x90000000" on all three STM32 Arduino boards; OpenMV IDE's
     * settings.json erases the Nicla Vision with "-a 1 -s 0x90000000" only
     * (facts §5.1). Repository wins: one step. */
    {"ARDUINO_NICLA_VISION",
     {0x2341, 0x035F},
     {0, 0x08040000},
     {1, 0x90B00000},
     {{1, 0x90000000}, {0, 0}},
     1},
};

/* Guide §10.7.8, Arduino Nano 33 BLE Sense: "bossac ... --offset=0x16000
 * firmware.bin". The IDE agrees (facts §5.1). board_config.mk's
 * OMV_FIRM_ADDR is 0x00026000 (facts §2.1): that is the absolute address, the
 * bossac offset is relative to the Arduino bootloader's 0x10000 base. */
static const int64_t nano33_firmware_offset = 0x16000;

/* J-Link device names and debug ELF: guide §10.6.1 (build/<TARGET>/bin/
 * firmware.elf; firmware_M55_HP.elf on the AE3) and §10.6.3 ("device":
 * "STM32H743VI" for OPENMV4). The guide's per-board device table is missing
 * from the seed text ("see the table above"), so the remaining names come
 * from the repository's OMV_JLINK_ARGS (facts §2.1, §6). elf NULL: not
 * checked (no J-Link support). OPENMV1 is unsupported and not listed. */
struct debug_row {
    const char *target;
    const char *jlink;
    const char *elf;
};

static const struct debug_row debug_boards[] = {
    {"OPENMV2", NULL, NULL},
    {"OPENMV3", NULL, NULL},
    {"OPENMV4", "STM32H743VI", "firmware.elf"},
    {"OPENMV4P", "STM32H743VI", "firmware.elf"},
    {"OPENMVPT", "STM32H743VI", "firmware.elf"},
    {"OPENMV_N6", "STM32N657L0", "firmware.elf"},
    {"OPENMV_RT1060", "MIMXRT1062xxx6A", "firmware.elf"},
    {"OPENMV_AE3", "AE302F80F55D5_HP", "firmware_M55_HP.elf"},
    {"ARDUINO_PORTENTA_H7", "STM32H747XI", "firmware.elf"},
    {"ARDUINO_GIGA", "STM32H747XI", "firmware.elf"},
    {"ARDUINO_NICLA_VISION", "STM32H747XI", "firmware.elf"},
    {"ARDUINO_NANO_33_BLE_SENSE", NULL, NULL},
    {"ARDUINO_NANO_RP2040_CONNECT", NULL, NULL},
};

/* Guide §10.6.9: "N6 / RT1062 / AE3 ... boot from external flash". */
static const char *const external_flash_boards[] = {"OPENMV_N6", "OPENMV_RT1060", "OPENMV_AE3"};

/* Guide §10.3.5 warning: "The OpenMV N6 and OpenMV AE3 use Cortex-M55 cores and
 * require GCC 14.3 or newer". */
static const char *const gcc_1403_boards[] = {"OPENMV_N6", "OPENMV_AE3"};

/* ---------------------------------------------------------------------- */

static bool in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* Look a board up; a missing board is a failure and the caller skips its row. */
static const struct target *find(const struct target_db *db, const char *name, int line)
{
    const struct target *t = target_find(db, name);

    if (!t)
        test_fail(__FILE__, line, "target_find(\"%s\") == NULL", name);
    return t;
}

/* After one table row: name the row when any of its checks failed. */
static void row_done(int failures_before, const char *what)
{
    if (test_failures != failures_before)
        fprintf(stderr, "    ... in row %s\n", what);
}

static const struct target_image *image(const struct target *t, const char *file)
{
    for (size_t i = 0; i < t->nr_images; i++)
        if (t->images[i].file && strcmp(t->images[i].file, file) == 0)
            return &t->images[i];
    return NULL;
}

/* The alt numbered `alt` exists and has role `role`. */
static void check_alt_role(const struct target *t, unsigned alt, enum target_role role)
{
    const struct target_alt *a = target_alt_by_number(t, alt);

    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_INT(a->alt, ==, alt);
    CHECK_INT(a->role, ==, role);
}

static void check_usb(struct usb_id got, struct usb_id want)
{
    CHECK_INT(got.vid, ==, want.vid);
    CHECK_INT(got.pid, ==, want.pid);
}

/* ---------------------------------------------------------------------- */

/* §10.4.1: every TARGET, its strings, supported, and nothing else. */
/* Boards of the firmware's boards/ directory that the guide's table predates. */
static const char *const newer[] = {"RPI_PICO", "MPS2_AN500", "MPS3_AN547"};

static void test_supported_boards(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0) {
        fprintf(stderr, "    target_db_load: %s\n", err);
        return;
    }
    CHECK_INT(db.nr, ==, ARRAY_SIZE(boards) + ARRAY_SIZE(newer));
    for (size_t i = 0; i < ARRAY_SIZE(boards); i++) {
        const struct board_row *row = &boards[i];
        int before = test_failures;
        const struct target *t = find(&db, row->target, __LINE__);

        if (!t)
            continue;
        CHECK_STR(t->name, row->target);
        CHECK_STR(t->camera, row->camera);
        CHECK_STR(t->mcu, row->mcu);
        CHECK_STR(t->port, row->port);
        CHECK_STR(t->core, row->core);
        CHECK_INT(t->supported, ==, row->supported);
        row_done(before, row->target);
    }
    /* Every board in the database is one of the guide's. */
    for (size_t i = 0; i < db.nr; i++) {
        bool known = false;

        for (size_t j = 0; j < ARRAY_SIZE(boards); j++)
            if (db.targets[i].name && strcmp(db.targets[i].name, boards[j].target) == 0)
                known = true;
        for (size_t j = 0; j < ARRAY_SIZE(newer); j++)
            if (db.targets[i].name && strcmp(db.targets[i].name, newer[j]) == 0)
                known = true;
        if (!known)
            test_fail(__FILE__, __LINE__, "board \"%s\" is not in guide §10.4.1",
                      db.targets[i].name ? db.targets[i].name : "(null)");
    }
    target_db_release(&db);
}

/* §10.7.5: STM32 cameras (and N6) over openmv_dfu, by alt. */
static void test_stm32_dfu(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(dfu_cameras); i++) {
        const struct dfu_row *row = &dfu_cameras[i];
        int before = test_failures;
        const struct target *t = find(&db, row->target, __LINE__);

        if (!t)
            continue;
        check_usb(t->app_usb, row->app);
        check_usb(t->dfu_usb, row->dfu);
        CHECK_INT(t->method, ==, TARGET_METHOD_OPENMV_DFU);
        /* "Flash the OpenMV Cam H7, firmware then ROMFS": two images. */
        CHECK_INT(t->nr_images, ==, 2);

        const struct target_image *fw = image(t, "firmware.bin");
        CHECK(fw != NULL);
        if (fw) {
            CHECK_INT(fw->alt, ==, row->firmware_alt);
            CHECK_INT(fw->role, ==, TARGET_ROLE_FIRMWARE);
            CHECK_INT(fw->address, ==, -1); /* placed by the alt, not DfuSe */
        }
        check_alt_role(t, row->firmware_alt, TARGET_ROLE_FIRMWARE);

        const struct target_image *romfs = image(t, "romfs0.img");
        CHECK(romfs != NULL);
        if (romfs) {
            CHECK_INT(romfs->alt, ==, row->romfs_alt);
            CHECK_INT(romfs->role, ==, TARGET_ROLE_ROMFS);
            CHECK_INT(romfs->address, ==, -1);
        }
        check_alt_role(t, row->romfs_alt, TARGET_ROLE_ROMFS);
        row_done(before, row->target);
    }
    target_db_release(&db);
}

/* §10.7.6: the AE3's four images and its alt map. */
static void test_ae3_dfu(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    const struct target *t = find(&db, "OPENMV_AE3", __LINE__);
    if (!t) {
        target_db_release(&db);
        return;
    }
    check_usb(t->app_usb, ae3_app);
    check_usb(t->dfu_usb, ae3_dfu);
    CHECK_INT(t->method, ==, TARGET_METHOD_OPENMV_DFU);
    CHECK_INT(t->nr_images, ==, ARRAY_SIZE(ae3_images));
    for (size_t i = 0; i < ARRAY_SIZE(ae3_images); i++) {
        const struct ae3_row *row = &ae3_images[i];
        int before = test_failures;

        /* the transcription itself: both Size columns agree */
        CHECK_INT(row->size_hex, ==, row->size_bytes);
        if (i < t->nr_images) {
            CHECK_STR(t->images[i].file, row->file);
            CHECK_INT(t->images[i].alt, ==, row->alt);
            CHECK_INT(t->images[i].role, ==, row->role);
        }
        const struct target_alt *a = target_alt_by_number(t, row->alt);
        CHECK(a != NULL);
        if (a) {
            CHECK_INT(a->role, ==, row->role);
            CHECK_INT(a->end - a->start, ==, row->size_hex);
        }
        row_done(before, row->file);
    }
    check_alt_role(t, ae3_erase_alt, TARGET_ROLE_FILESYSTEM_ERASE);
    target_db_release(&db);
}

/* §10.7.9: the openmv_dfu cameras erase by one write of zeros to one alt; the
 * RT1060 erases its FAT disk's MBR with blhost. */
static void test_erase(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(erase_alts); i++) {
        const struct erase_row *row = &erase_alts[i];
        int before = test_failures;
        const struct target *t = find(&db, row->target, __LINE__);

        if (!t)
            continue;
        check_usb(t->dfu_usb, row->dfu);
        CHECK_INT(t->nr_erases, ==, 1);
        if (t->nr_erases >= 1) {
            CHECK_INT(t->erases[0].alt, ==, row->alt);
            CHECK_INT(t->erases[0].address, ==, -1); /* start of the alt */
            CHECK_INT(t->erases[0].size, ==, erase_block);
        }
        check_alt_role(t, row->alt, TARGET_ROLE_FILESYSTEM_ERASE);
        row_done(before, row->target);
    }

    const struct target *t = find(&db, "OPENMV_RT1060", __LINE__);
    if (t) {
        CHECK_INT(t->nr_erases, ==, 1);
        if (t->nr_erases >= 1) {
            CHECK_INT(t->erases[0].alt, ==, -1); /* no DFU */
            CHECK_INT(t->erases[0].address, ==, rt1060_erase_addr);
            CHECK_INT(t->erases[0].size, ==, rt1060_erase_size);
        }
    }
    target_db_release(&db);
}

/* §10.7.8 (+ §10.7.9 Arduino erase): DfuSe boards, bossac, picotool. */
static void test_arduino(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(arduino_boards); i++) {
        const struct arduino_row *row = &arduino_boards[i];
        int before = test_failures;
        const struct target *t = find(&db, row->target, __LINE__);

        if (!t)
            continue;
        check_usb(t->dfu_usb, row->dfu);
        CHECK_INT(t->method, ==, TARGET_METHOD_DFUSE);

        const struct target_image *fw = image(t, "firmware.bin");
        CHECK(fw != NULL);
        if (fw) {
            CHECK_INT(fw->alt, ==, row->firmware.alt);
            CHECK_INT(fw->address, ==, row->firmware.address);
            CHECK_INT(fw->role, ==, TARGET_ROLE_FIRMWARE);
        }
        const struct target_image *romfs = image(t, "romfs0.img");
        CHECK(romfs != NULL);
        if (romfs) {
            CHECK_INT(romfs->alt, ==, row->romfs.alt);
            CHECK_INT(romfs->address, ==, row->romfs.address);
            CHECK_INT(romfs->role, ==, TARGET_ROLE_ROMFS);
        }

        CHECK_INT(t->nr_erases, ==, row->nr_erases);
        for (size_t j = 0; j < row->nr_erases && j < t->nr_erases; j++) {
            CHECK_INT(t->erases[j].alt, ==, row->erases[j].alt);
            CHECK_INT(t->erases[j].address, ==, row->erases[j].address);
            CHECK_INT(t->erases[j].size, ==, erase_block);
        }
        row_done(before, row->target);
    }

    const struct target *t = find(&db, "ARDUINO_NANO_33_BLE_SENSE", __LINE__);
    if (t) {
        CHECK_INT(t->method, ==, TARGET_METHOD_BOSSAC);
        const struct target_image *fw = image(t, "firmware.bin");
        CHECK(fw != NULL);
        if (fw) {
            CHECK_INT(fw->address, ==, nano33_firmware_offset);
            CHECK_INT(fw->alt, ==, -1); /* not a DFU board */
        }
    }
    t = find(&db, "ARDUINO_NANO_RP2040_CONNECT", __LINE__);
    if (t)
        CHECK_INT(t->method, ==, TARGET_METHOD_PICOTOOL);
    target_db_release(&db);
}

/* §10.7.7: the RT1062 is written by address through blhost. */
static void test_rt1060(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    const struct target *t = find(&db, "OPENMV_RT1060", __LINE__);
    if (t) {
        CHECK_INT(t->method, ==, TARGET_METHOD_SPSDK);
        const struct target_image *fw = image(t, "firmware.bin");
        CHECK(fw != NULL);
        if (fw) {
            CHECK_INT(fw->address, ==, rt1060_firmware_addr);
            CHECK_INT(fw->alt, ==, -1);
            CHECK_INT(fw->role, ==, TARGET_ROLE_FIRMWARE);
        }
        const struct target_image *romfs = image(t, "romfs0.img");
        CHECK(romfs != NULL);
        if (romfs) {
            CHECK_INT(romfs->address, ==, rt1060_romfs_addr);
            CHECK_INT(romfs->alt, ==, -1);
            CHECK_INT(romfs->role, ==, TARGET_ROLE_ROMFS);
        }
    }
    target_db_release(&db);
}

/* §10.6 (+ facts §6): J-Link device, debug ELF, external-flash boot, GCC. */
static void test_debug(void)
{
    struct target_db db = TARGET_DB_INIT;
    char err[512];
    int rc = target_db_load(&db, err, sizeof(err));

    CHECK_INT(rc, ==, 0);
    if (rc != 0)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(debug_boards); i++) {
        const struct debug_row *row = &debug_boards[i];
        int before = test_failures;
        const struct target *t = find(&db, row->target, __LINE__);

        if (!t)
            continue;
        if (row->jlink)
            CHECK_STR(t->jlink_device, row->jlink);
        else
            CHECK(t->jlink_device == NULL);
        if (row->elf)
            CHECK_STR(t->debug_elf, row->elf);
        row_done(before, row->target);
    }
    for (size_t i = 0; i < ARRAY_SIZE(boards); i++) {
        const char *name = boards[i].target;
        int before = test_failures;
        const struct target *t = find(&db, name, __LINE__);

        if (!t)
            continue;
        bool external = in_list(external_flash_boards, ARRAY_SIZE(external_flash_boards), name);
        bool m55 = in_list(gcc_1403_boards, ARRAY_SIZE(gcc_1403_boards), name);
        CHECK_INT(t->boots_external_flash, ==, external);
        CHECK_INT(t->min_gcc, ==, m55 ? 1403 : 0);
        row_done(before, name);
    }
    target_db_release(&db);
}

TESTS(TEST(test_supported_boards), TEST(test_stm32_dfu), TEST(test_ae3_dfu), TEST(test_erase),
      TEST(test_arduino), TEST(test_rt1060), TEST(test_debug))
