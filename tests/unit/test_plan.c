#include "tests/unit/test.h"

#include "flash/plan.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"

#include <stdlib.h>

static char dir[] = "/tmp/omvdev-plan-XXXXXX";

static void write_file(const char *name, size_t len)
{
    struct strbuf path = STRBUF_INIT;
    uint8_t *data = calloc(1, len);
    char err[256];

    fs_path_join(&path, dir, name);
    CHECK_INT(fs_write_atomic(path.buf, data, len, 0644, err, sizeof(err)), ==, 0);
    free(data);
    strbuf_release(&path);
}

static const struct target *board(struct target_db *db, const char *name)
{
    char err[256];

    if (!db->nr)
        CHECK_INT(target_db_load(db, err, sizeof(err)), ==, 0);
    return target_find(db, name);
}

static void test_openmv4_default(void)
{
    struct target_db db = TARGET_DB_INIT;
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts o = {NULL, NULL, NULL, -1, -1, true, false};
    char err[512] = "";

    write_file("firmware.bin", 1000);
    write_file("romfs0.img", 2000);
    CHECK_INT(flash_plan_build(&plan, board(&db, "OPENMV4"), dir, &o, err, sizeof(err)), ==, 0);
    CHECK_STR(err, "");
    CHECK_INT(plan.nr, ==, 3);
    if (plan.nr == 3) {
        CHECK_STR(plan.steps[0].label, "firmware.bin");
        CHECK_INT(plan.steps[0].alt, ==, 2);
        CHECK_STR(plan.steps[0].alt_name, "FIRMWARE");
        CHECK_INT(plan.steps[0].limit, ==, 1703936);
        CHECK_INT(plan.steps[0].len, ==, 1000);
        CHECK_STR(plan.steps[1].alt_name, "ROMFS0");
        CHECK_INT(plan.steps[1].limit, ==, 131072);
        /* --erase-fs: 4 KiB of zeros to the FILESYSTEM alt, last */
        CHECK_STR(plan.steps[2].label, "filesystem erase");
        CHECK_INT(plan.steps[2].alt, ==, 1);
        CHECK_INT(plan.steps[2].len, ==, 4096);
        CHECK(plan.steps[2].data[0] == 0 && plan.steps[2].data[4095] == 0);
    }
    flash_plan_release(&plan);
    target_db_release(&db);
}

static void test_refusals(void)
{
    struct target_db db = TARGET_DB_INIT;
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts o = {NULL, NULL, NULL, -1, -1, false, false};
    struct strbuf big = STRBUF_INIT;
    char err[512];

    write_file("big.img", 131073);
    fs_path_join(&big, dir, "big.img");
    o.romfs = big.buf;
    CHECK_INT(flash_plan_build(&plan, board(&db, "OPENMV4"), dir, &o, err, sizeof(err)), ==,
              OMV_ETOOBIG);
    CHECK_CONTAINS(err, "is 131073 bytes but the ROMFS0 partition holds 131072");
    CHECK_INT(plan.nr, ==, 0); /* nothing half-built is left */

    o = (struct flash_plan_opts){NULL, NULL, big.buf, 0, -1, false, false};
    CHECK_INT(flash_plan_build(&plan, board(&db, "OPENMV4"), dir, &o, err, sizeof(err)), ==,
              OMV_EUSAGE);
    CHECK_STR(err, "alt 0 'BOOTLOADER' of OPENMV4 is read-only");

    o = (struct flash_plan_opts){NULL, NULL, NULL, -1, -1, false, false};
    CHECK_INT(flash_plan_build(&plan, board(&db, "OPENMV_RT1060"), dir, &o, err, sizeof(err)), ==,
              OMV_EINVAL);
    CHECK_STR(err, "OPENMV_RT1060 is flashed with spsdk, not over USB DFU");

    write_file("empty.bin", 0);
    strbuf_reset(&big);
    fs_path_join(&big, dir, "empty.bin");
    o.firmware = big.buf;
    CHECK_INT(flash_plan_build(&plan, board(&db, "OPENMV4"), dir, &o, err, sizeof(err)), ==,
              OMV_EINVAL);
    CHECK_CONTAINS(err, "empty.bin' is empty");
    strbuf_release(&big);
    target_db_release(&db);
}

static void test_arduino_by_address(void)
{
    struct target_db db = TARGET_DB_INIT;
    struct flash_plan plan = FLASH_PLAN_INIT;
    struct flash_plan_opts o = {NULL, NULL, NULL, -1, -1, true, false};
    char err[512];

    CHECK_INT(flash_plan_build(&plan, board(&db, "ARDUINO_GIGA"), dir, &o, err, sizeof(err)), ==,
              0);
    CHECK_INT(plan.nr, ==, 4); /* firmware, romfs, two erase steps */
    if (plan.nr == 4) {
        CHECK_INT(plan.steps[0].address, ==, 0x08040000);
        CHECK_INT(plan.steps[1].address, ==, 0x90B00000);
        CHECK_INT(plan.steps[2].address, ==, 0x08020000);
        CHECK_INT(plan.steps[3].address, ==, 0x90000000);
    }
    CHECK_INT(plan.leave_address, ==, 0x08040000);
    CHECK_INT(plan.leave_alt, ==, 0);
    flash_plan_release(&plan);
    target_db_release(&db);
}

static void setup(void)
{
    CHECK(mkdtemp(dir) != NULL);
}

static void cleanup(void)
{
    struct strbuf cmd = STRBUF_INIT;

    strbuf_addf(&cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd.buf), ==, 0);
    strbuf_release(&cmd);
}

static void test_skip_mask(void)
{
    enum { UNIT = 16384, XFER = 4096, LEN = 5 * UNIT + 1000 };
    uint8_t *old = xmalloc(LEN), *data = xmalloc(LEN);
    bool skip[(LEN + XFER - 1) / XFER + 1];
    size_t blocks = (LEN + XFER - 1) / XFER;
    uint64_t rng = 0x5eed;

    for (size_t i = 0; i < LEN; i++)
        old[i] = data[i] = (uint8_t)test_rand(&rng);
    /* Everything the same: all but the first unit is skipped. */
    CHECK_INT(flash_skip_mask(old, data, LEN, UNIT, XFER, skip), ==, UNIT);
    for (size_t b = 0; b < blocks; b++)
        CHECK_INT(skip[b], ==, b >= UNIT / XFER);
    /* One byte changed in unit 2 and one in the short last unit. */
    data[2 * UNIT + 5] ^= 1;
    data[LEN - 1] ^= 1;
    CHECK_INT(flash_skip_mask(old, data, LEN, UNIT, XFER, skip), ==, 2 * UNIT + 1000);
    for (size_t b = 0; b < blocks; b++) {
        size_t unit = b * XFER / UNIT;

        CHECK_INT(skip[b], ==, unit == 1 || unit == 3 || unit == 4);
    }
    /* No known unit, or one that is not whole blocks: everything is sent. */
    CHECK_INT(flash_skip_mask(old, data, LEN, 0, XFER, skip), ==, LEN);
    CHECK_INT(flash_skip_mask(old, data, LEN, 6000, XFER, skip), ==, LEN);
    for (size_t b = 0; b < blocks; b++)
        CHECK(!skip[b]);
    /* Random images: the blocks sent and the blocks kept always make up the image. */
    for (int round = 0; round < 200; round++) {
        size_t len = 1 + test_rand(&rng) % LEN, sent = 0, left;

        memcpy(data, old, LEN);
        for (int k = test_rand(&rng) % 4; k > 0; k--)
            data[test_rand(&rng) % len] ^= 0x80;
        left = flash_skip_mask(old, data, len, UNIT, XFER, skip);
        for (size_t b = 0; b * XFER < len; b++) {
            size_t n = len - b * XFER < XFER ? len - b * XFER : XFER;

            if (!skip[b])
                sent += n;
            else
                CHECK(!memcmp(old + b * XFER, data + b * XFER, n)); /* never skip a change */
        }
        CHECK_INT(sent, ==, left);
        CHECK(!skip[0]);
    }
    free(old);
    free(data);
}

TESTS(TEST(setup), TEST(test_openmv4_default), TEST(test_refusals), TEST(test_arduino_by_address),
      TEST(test_skip_mask), TEST(cleanup))
