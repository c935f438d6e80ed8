/*
 * The OpenMV protocol (V2, openmv/openmv protocol/omv_protocol.h and
 * docs/protocol.md), as much of it as omvdev sends: a camera running its
 * firmware is asked to jump into its DFU bootloader (SYS_BOOT).
 *
 * A packet is a 10-byte little-endian header - sync bytes AA D5, sequence,
 * channel, flags, opcode, payload length, CRC-16 of the first 8 bytes - then
 * the payload and its CRC-32 when there is one. The CRC-16 has polynomial
 * 0xF94F and initial value 0xFFFF, MSB first, no final XOR.
 *
 * Ownership: callers pass the buffers; nothing is allocated.
 */
#ifndef OMVDEV_FLASH_OMVPROTO_H
#define OMVDEV_FLASH_OMVPROTO_H

#include "lib/compat.h"

#include <stddef.h>
#include <stdint.h>

struct usb_ctx;

enum {
    OMVPROTO_HEADER = 10,
    OMVPROTO_PROTO_SYNC = 0x00,
    OMVPROTO_SYS_RESET = 0x10,
    OMVPROTO_SYS_BOOT = 0x11,
    OMVPROTO_BAUD = 921600, /* the line coding that routes bytes to the protocol, not the REPL */
    OMVPROTO_FLAG_ACK = 0x01,
};

/* Is buf[0..len) an ACK of `opcode` (a valid header with the ACK flag)? */
int omvproto_is_ack(const uint8_t *buf, size_t len, uint8_t opcode);

uint16_t omvproto_crc16(const uint8_t *p, size_t n);

/* A payload-less packet into out (OMVPROTO_HEADER bytes). */
void omvproto_header(uint8_t out[OMVPROTO_HEADER], uint8_t seq, uint8_t opcode);

/*
 * Ask the camera with this VID:PID (and serial, unless NULL) to reboot into
 * its bootloader, over its CDC interface at the protocol's line coding:
 * PROTO_SYNC, whose ACK says the camera speaks protocol V2 (the sync also
 * clears its receive buffer, so nothing may follow it unanswered), then
 * SYS_BOOT. A camera that does not answer the sync gets the V1 command
 * (firmware 4.8.1 and older: 30 0E 00 00 00 00). Neither is answered: the
 * camera leaves the bus and its DFU device appears about a second later.
 */
int omvproto_enter_bootloader(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial,
                              char *err, size_t errlen);

#endif
