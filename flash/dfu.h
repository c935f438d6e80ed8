/*
 * The DFU 1.1 and ST DfuSe protocol engines, over a transport: libusb for
 * real devices (flash/usb.c), a device model for tests (tests/sim).
 *
 *     struct dfu_dev dev = {io, intf, transfer_size, attributes, ...};
 *     if (dfu_normalise(&dev, err, n) < 0) ...          (back to dfuIDLE)
 *     dfu_download(&dev, data, len, &progress, err, n);   (plain DFU, one alt)
 *     dfuse_write(&dev, &layout, addr, data, len, &progress, err, n);
 *
 * Nothing here prints or sleeps by itself: waits go through io->sleep_ms so
 * tests run without waiting, and progress through a callback.
 *
 * Ownership: the engine borrows everything; it allocates only scratch
 * buffers it frees before returning.
 */
#ifndef OMVDEV_FLASH_DFU_H
#define OMVDEV_FLASH_DFU_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dfuse_layout;

/* The transport. Functions return >= 0 (bytes transferred) or a negative
 * USB_ERR_* / omv_err code (flash/usb.h). */
struct dfu_io {
    void *ctx;
    int (*control)(void *ctx, uint8_t request_type, uint8_t request, uint16_t value, uint16_t index,
                   uint8_t *data, uint16_t len, unsigned timeout_ms);
    int (*set_alt)(void *ctx, uint8_t intf, uint8_t alt);
    void (*sleep_ms)(void *ctx, unsigned ms);
};

enum dfu_attr {
    DFU_ATTR_CAN_DNLOAD = 1 << 0,
    DFU_ATTR_CAN_UPLOAD = 1 << 1,
    DFU_ATTR_MANIFESTATION_TOLERANT = 1 << 2,
    DFU_ATTR_WILL_DETACH = 1 << 3,
};

struct dfu_dev {
    struct dfu_io io;
    uint8_t intf;
    uint16_t transfer_size; /* from the functional descriptor, capped by the caller */
    /* The functional descriptor's own wTransferSize (0: none): a DfuSe device
     * places block n at (n - 2) times this, whatever the host sends. */
    uint16_t device_transfer_size;
    uint8_t attributes;  /* enum dfu_attr */
    unsigned timeout_ms; /* per control transfer; 0 means 5000 */
};

struct dfu_status {
    uint8_t status;   /* bStatus: dfu_status_name() says what it means */
    uint32_t poll_ms; /* bwPollTimeout */
    uint8_t state;    /* bState: DFU_STATE_* below */
    uint8_t istring;
};

enum {
    DFU_STATE_APP_IDLE = 0,
    DFU_STATE_APP_DETACH = 1,
    DFU_STATE_IDLE = 2,
    DFU_STATE_DNLOAD_SYNC = 3,
    DFU_STATE_DNBUSY = 4,
    DFU_STATE_DNLOAD_IDLE = 5,
    DFU_STATE_MANIFEST_SYNC = 6,
    DFU_STATE_MANIFEST = 7,
    DFU_STATE_MANIFEST_WAIT_RESET = 8,
    DFU_STATE_UPLOAD_IDLE = 9,
    DFU_STATE_ERROR = 10,
};

/* Progress: bytes done of total in the current phase. */
struct dfu_progress {
    void (*fn)(void *ud, const char *phase, uint64_t done, uint64_t total);
    void *ud;
};

/* Errors beyond flash/usb.h's: the device reported a DFU error status. */
enum {
    DFU_ERR_STATUS = -200, /* err says which bStatus in words */
    DFU_ERR_STATE = -201,  /* the device is in a state the protocol does not allow */
};

const char *dfu_state_name(uint8_t state);
const char *dfu_status_name(uint8_t status);
/* What a bStatus means, in dfu-util's words, lowercase ("device is unable to write memory"). */
const char *dfu_status_text(uint8_t status);

int dfu_get_status(struct dfu_dev *d, struct dfu_status *st, char *err, size_t errlen);

/* 0 if the device can be read back (bitCanUpload in its functional
 * descriptor), else OMV_EDEVICE and a message naming `why` ("--verify", or
 * NULL for a plain read). */
int dfu_check_upload(const struct dfu_dev *d, const char *why, char *err, size_t errlen);

/* Bring the device to dfuIDLE/OK: CLRSTATUS from dfuERROR, ABORT from the
 * *-IDLE states, a bounded number of times. */
int dfu_normalise(struct dfu_dev *d, char *err, size_t errlen);

/* Plain DFU 1.1 download of data to the current alt: blocks of
 * transfer_size numbered from 0, each polled (waiting bwPollTimeout only
 * while dfuDNBUSY), then the zero-length block and manifestation. */
int dfu_download(struct dfu_dev *d, const uint8_t *data, size_t len, const struct dfu_progress *p,
                 char *err, size_t errlen);

/*
 * The same, leaving out the blocks (of transfer_size bytes, numbered from 0)
 * whose skip[] entry is true: for bootloaders that place block n at
 * start + n * transfer_size (the OpenMV bootloader) this keeps what those
 * blocks already hold, provided whole erase units are skipped.
 */
int dfu_download_blocks(struct dfu_dev *d, const uint8_t *data, size_t len, const bool *skip,
                        const struct dfu_progress *p, char *err, size_t errlen);

/* Plain DFU upload until a short block or `cap` bytes; refused without
 * bitCanUpload before any request. */
int dfu_upload(struct dfu_dev *d, uint8_t *buf, size_t cap, size_t *got,
               const struct dfu_progress *p, char *err, size_t errlen);

/* DFU_DETACH; errors that only mean the device already left count as success. */
int dfu_detach(struct dfu_dev *d, uint16_t timeout_ms, char *err, size_t errlen);

/* ---- shared by the two engines (dfu.c and dfuse.c); not for other callers ---------- */

unsigned dfu_timeout(const struct dfu_dev *d);
int dfu_request(struct dfu_dev *d, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
                uint16_t len, unsigned timeout_ms);
void dfu_nap(struct dfu_dev *d, unsigned ms);
void dfu_report(const struct dfu_progress *p, const char *phase, uint64_t done, uint64_t total);
/* GETSTATUS without a message: the transfer's code, USB_ERR_OTHER for a short reply. */
int dfu_status_raw(struct dfu_dev *d, struct dfu_status *st, unsigned timeout_ms);
int dfu_fail_io(char *err, size_t errlen, int rc, const char *what);
int dfu_fail_status(char *err, size_t errlen, const char *what, const struct dfu_status *st);
int dfu_fail_request(struct dfu_dev *d, int rc, const char *what, char *err, size_t errlen);

/* ---- ST DfuSe ----------------------------------------------------------------- */

/*
 * Write data at addr: erase exactly the pages the range touches (from the
 * layout; none with skip_erase, after a mass erase), then one SET_ADDRESS and
 * DNLOAD wValue 2, 3, ... per transfer_size chunk (an address per chunk where
 * that size is not a whole number of flash words). A page erase still answering
 * dfuDNBUSY once the datasheet's maximum erase time for its size has passed
 * (STM32H7 Rev V, bank 2) is stalled; once one has, later pages from there on
 * are taken as stalled at their first poll. A stall is recovered as ST's
 * programmer does - CLRSTATUS twice - and then checked by reading the page
 * back as erased (when the device has bitCanUpload); *rev_v_recoveries counts
 * these (may be NULL).
 */
int dfuse_write(struct dfu_dev *d, const struct dfuse_layout *layout, uint32_t addr,
                const uint8_t *data, size_t len, bool skip_erase, unsigned *rev_v_recoveries,
                const struct dfu_progress *p, char *err, size_t errlen);

/*
 * Erase the pages whose start addresses are pages[0..nr) (each a page start
 * of an erasable segment of layout), in the order given, each once; Rev V
 * stalls are recovered as dfuse_write() does. A caller that writes several
 * ranges sharing pages erases the union of their pages with this first and
 * then writes each range with dfuse_write(..., skip_erase = true, ...), so
 * that no range's erase wipes another range already written.
 */
int dfuse_erase(struct dfu_dev *d, const struct dfuse_layout *layout, const uint32_t *pages,
                size_t nr, unsigned *rev_v_recoveries, const struct dfu_progress *p, char *err,
                size_t errlen);

/* Read len bytes at addr (SET_ADDRESS, then UPLOAD wValue 2, 3, ...); refused
 * without bitCanUpload before any request. */
int dfuse_read(struct dfu_dev *d, uint32_t addr, uint8_t *buf, size_t len,
               const struct dfu_progress *p, char *err, size_t errlen);

int dfuse_mass_erase(struct dfu_dev *d, char *err, size_t errlen);

/* Leave DFU mode and run the code at addr: SET_ADDRESS(addr) always first,
 * then the zero-length DNLOAD; a device that resets before answering counts
 * as success. */
int dfuse_leave(struct dfu_dev *d, uint32_t addr, char *err, size_t errlen);

#endif
