/*
 * USB access: the only user of <libusb.h>. Enumerates devices with their
 * strings and DFU interfaces, and waits for plug and unplug events.
 *
 *     struct usb_ctx *u;
 *     if (usb_open_ctx(&u, err, sizeof(err)) < 0) ...
 *     struct usb_device_info *devs; size_t n;
 *     usb_list(u, &devs, &n, err, sizeof(err));
 *     ... devs[i].alt_names ...
 *     usb_list_free(devs, n);
 *     usb_close_ctx(u);
 *
 * Ownership: usb_list() hands the caller an array it frees with
 * usb_list_free(); every string in it belongs to the array.
 */
#ifndef OMVDEV_FLASH_USB_H
#define OMVDEV_FLASH_USB_H

#include "lib/compat.h"
#include "lib/libversion.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usb_ctx;

struct usb_device_info {
    uint16_t vid, pid, bcd_device;
    uint8_t bus, address;
    char *port_path; /* "1-2.3": stable across re-enumeration on the same port */
    char *manufacturer, *product, *serial; /* NULL when unreadable */
    int open_error; /* 0, or the negative omv_err of opening it (e.g. no permission) */
    char *open_error_text;
    /* The DFU interface, when there is one (class FE, subclass 01). */
    bool dfu;
    bool dfu_runtime; /* protocol 1: an application that can DETACH */
    uint8_t dfu_interface;
    uint8_t dfu_attributes;
    uint16_t dfu_detach_timeout, dfu_transfer_size, dfu_version;
    char **alt_names; /* per alt setting, "" when unreadable */
    size_t nr_alts;
};

/* Errors of this module, beyond the generic ones. */
enum {
    USB_ERR_ACCESS = -100, /* no permission: udev rules */
    USB_ERR_BUSY = -101,   /* another program holds the device */
    USB_ERR_NODEV = -102,  /* the device went away */
    USB_ERR_TIMEOUT = -103,
    USB_ERR_PIPE = -104, /* the device STALLed the request */
    USB_ERR_IO = -105,   /* a transfer failed on the wire ("error 71") */
    USB_ERR_OTHER = -106,
};

int usb_open_ctx(struct usb_ctx **out, char *err, size_t errlen);
void usb_close_ctx(struct usb_ctx *u);

/* Every device on the bus, read with its strings and DFU alt names. */
int usb_list(struct usb_ctx *u, struct usb_device_info **out, size_t *n, char *err, size_t errlen);
void usb_list_free(struct usb_device_info *devs, size_t n);

/*
 * A session on the CDC-ACM serial port of the device with this VID:PID (and
 * serial number, unless NULL): the line coding is set to `baud` 8N1 and DTR
 * raised, then bytes go out on the data interface's bulk OUT endpoint and
 * come in on its bulk IN endpoint. OMV_ENOENT when no such device is on the
 * bus. usb_cdc_close() releases the device (NULL is fine).
 */
struct usb_cdc;
int usb_cdc_open(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial, uint32_t baud,
                 struct usb_cdc **out, char *err, size_t errlen);
int usb_cdc_write(struct usb_cdc *c, const uint8_t *data, size_t len, char *err, size_t errlen);
/* Read what arrives within timeout_ms; *got is 0 when nothing did. */
int usb_cdc_read(struct usb_cdc *c, uint8_t *buf, size_t cap, size_t *got, int timeout_ms,
                 char *err, size_t errlen);
void usb_cdc_close(struct usb_cdc *c);

/*
 * A DFU-mode device opened for flashing: the one usb_list() described as
 * `info` (matched by bus, address and IDs), its DFU interface claimed.
 * usb_dfu_io() fills a struct dfu_io (flash/dfu.h) whose calls go to it.
 */
struct usb_dfu;
struct dfu_io;
int usb_dfu_open(struct usb_ctx *u, const struct usb_device_info *info, struct usb_dfu **out,
                 char *err, size_t errlen);
void usb_dfu_io(struct usb_dfu *h, struct dfu_io *io);
/* USB port reset; a device that already left counts as success. */
int usb_dfu_reset(struct usb_dfu *h);
void usb_dfu_close(struct usb_dfu *h);

/* Text for a USB_ERR_* code (or an omv_err). */
const char *usb_strerror(int err);

/*
 * Wait up to timeout_ms (negative: forever) for a device to arrive or leave.
 * Returns 1 when something changed, 0 on timeout, negative on error.
 */
int usb_wait_change(struct usb_ctx *u, int timeout_ms, char *err, size_t errlen);

/* libusb's version: from pkg-config at compile time, and loaded. */
void usb_libversion(struct libversion *v);

#endif
