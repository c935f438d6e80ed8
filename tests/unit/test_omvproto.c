#include "tests/unit/test.h"

#include "flash/omvproto.h"

/* Reference values computed with an independent bitwise CRC (poly 0xF94F, init 0xFFFF). */
static void test_crc16(void)
{
    CHECK_INT(omvproto_crc16((const uint8_t *)"123456789", 9), ==, 0xE541);
}

static void test_sys_boot_header(void)
{
    static const uint8_t want[OMVPROTO_HEADER] = {0xAA, 0xD5, 0, 0, 0, 0x11, 0, 0, 0xCF, 0x2F};
    uint8_t h[OMVPROTO_HEADER];

    omvproto_header(h, 0, OMVPROTO_SYS_BOOT);
    CHECK(memcmp(h, want, sizeof(want)) == 0);
}

static void test_is_ack(void)
{
    uint8_t buf[3 + OMVPROTO_HEADER] = {0x55, 0x00, 0x13};
    uint8_t *p = buf + 3;
    uint16_t crc;

    omvproto_header(p, 0, OMVPROTO_PROTO_SYNC);
    CHECK(!omvproto_is_ack(buf, sizeof(buf), OMVPROTO_PROTO_SYNC)); /* no ACK flag */
    p[4] = OMVPROTO_FLAG_ACK;
    crc = omvproto_crc16(p, 8);
    p[8] = (uint8_t)crc;
    p[9] = (uint8_t)(crc >> 8);
    CHECK(omvproto_is_ack(buf, sizeof(buf), OMVPROTO_PROTO_SYNC)); /* found after junk */
    CHECK(!omvproto_is_ack(buf, sizeof(buf), OMVPROTO_SYS_BOOT));  /* another opcode */
    p[9] ^= 1;
    CHECK(!omvproto_is_ack(buf, sizeof(buf), OMVPROTO_PROTO_SYNC)); /* bad CRC */
    CHECK(!omvproto_is_ack(buf, 5, OMVPROTO_PROTO_SYNC));           /* too short */
}

TESTS(TEST(test_crc16), TEST(test_sys_boot_header), TEST(test_is_ack))
