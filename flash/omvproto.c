#include "lib/compat.h"
#include "flash/omvproto.h"

#include "flash/usb.h"

#include <string.h>

uint16_t omvproto_crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0xF94F : crc << 1);
    }
    return crc;
}

void omvproto_header(uint8_t out[OMVPROTO_HEADER], uint8_t seq, uint8_t opcode)
{
    uint16_t crc;

    out[0] = 0xAA; /* SYNC 0xD5AA, little-endian */
    out[1] = 0xD5;
    out[2] = seq;
    out[3] = 0; /* channel 0: protocol and system opcodes */
    out[4] = 0; /* flags */
    out[5] = opcode;
    out[6] = 0; /* no payload */
    out[7] = 0;
    crc = omvproto_crc16(out, 8);
    out[8] = (uint8_t)(crc & 0xff);
    out[9] = (uint8_t)(crc >> 8);
}

int omvproto_is_ack(const uint8_t *buf, size_t len, uint8_t opcode)
{
    for (size_t i = 0; i + OMVPROTO_HEADER <= len; i++) {
        const uint8_t *p = buf + i;
        uint16_t crc = (uint16_t)(p[8] | p[9] << 8);

        if (p[0] == 0xAA && p[1] == 0xD5 && p[5] == opcode && (p[4] & OMVPROTO_FLAG_ACK) &&
            crc == omvproto_crc16(p, 8))
            return 1;
    }
    return 0;
}

int omvproto_enter_bootloader(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial,
                              char *err, size_t errlen)
{
    static const uint8_t v1_boot[6] = {0x30, 0x0E, 0, 0, 0, 0};
    struct usb_cdc *c = NULL;
    uint8_t msg[OMVPROTO_HEADER], in[256];
    size_t got = 0, have = 0;
    int rc;

    rc = usb_cdc_open(u, vid, pid, serial, OMVPROTO_BAUD, &c, err, errlen);
    if (rc < 0)
        return rc;
    omvproto_header(msg, 0, OMVPROTO_PROTO_SYNC);
    rc = usb_cdc_write(c, msg, sizeof(msg), err, errlen);
    /* The ACK comes in one packet; allow for a busy camera. */
    for (int tries = 0; rc == 0 && tries < 5 && !omvproto_is_ack(in, have, OMVPROTO_PROTO_SYNC);
         tries++) {
        rc = usb_cdc_read(c, in + have, sizeof(in) - have, &got, 100, err, errlen);
        have += got;
        if (have == sizeof(in))
            have = 0;
    }
    if (rc == 0 && omvproto_is_ack(in, have, OMVPROTO_PROTO_SYNC)) {
        omvproto_header(msg, 0, OMVPROTO_SYS_BOOT);
        rc = usb_cdc_write(c, msg, sizeof(msg), err, errlen);
    } else if (rc == 0) {
        rc = usb_cdc_write(c, v1_boot, sizeof(v1_boot), err, errlen);
    }
    usb_cdc_close(c);
    return rc;
}
