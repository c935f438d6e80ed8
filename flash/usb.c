#include "lib/compat.h"
#include "flash/usb.h"

#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/libversion.h"

#include "flash/dfu.h"

#include <libusb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct usb_ctx {
    libusb_context *ctx;
    libusb_hotplug_callback_handle hotplug;
    bool hotplug_registered;
    int changes; /* plug/unplug events seen by the callback */
};

/* libusb's error codes in this module's terms. */
static int usb_err(int libusb_rc)
{
    switch (libusb_rc) {
    case LIBUSB_ERROR_ACCESS:
        return USB_ERR_ACCESS;
    case LIBUSB_ERROR_BUSY:
        return USB_ERR_BUSY;
    case LIBUSB_ERROR_NO_DEVICE:
    case LIBUSB_ERROR_NOT_FOUND:
        return USB_ERR_NODEV;
    case LIBUSB_ERROR_TIMEOUT:
        return USB_ERR_TIMEOUT;
    case LIBUSB_ERROR_PIPE:
        return USB_ERR_PIPE;
    case LIBUSB_ERROR_IO:
        return USB_ERR_IO;
    default:
        return USB_ERR_OTHER;
    }
}

const char *usb_strerror(int err)
{
    switch (err) {
    case USB_ERR_ACCESS:
        return "permission denied";
    case USB_ERR_BUSY:
        return "the device is in use by another program";
    case USB_ERR_NODEV:
        return "the device is gone (unplugged or reset)";
    case USB_ERR_TIMEOUT:
        return "the device did not answer in time";
    case USB_ERR_PIPE:
        return "the device refused the request (STALL)";
    case USB_ERR_IO:
        return "the transfer failed on the wire (a disconnect or a bad cable)";
    case USB_ERR_OTHER:
        return "USB error";
    }
    return omv_strerror(err);
}

int usb_open_ctx(struct usb_ctx **out, char *err, size_t errlen)
{
    struct usb_ctx *u = xcalloc(1, sizeof(*u));
    int rc = libusb_init(&u->ctx);

    if (rc < 0) {
        free(u);
        return omv_seterr(err, errlen, usb_err(rc), "cannot use USB: %s",
                          libusb_strerror((enum libusb_error)rc));
    }
    *out = u;
    return 0;
}

void usb_close_ctx(struct usb_ctx *u)
{
    if (!u)
        return;
    if (u->hotplug_registered)
        libusb_hotplug_deregister_callback(u->ctx, u->hotplug);
    libusb_exit(u->ctx);
    free(u);
}

static char *read_string(libusb_device_handle *h, uint8_t index)
{
    unsigned char buf[256];
    int n;

    if (!index)
        return NULL;
    n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof(buf));
    return n >= 0 ? xstrndup((const char *)buf, (size_t)n) : NULL;
}

/* Take the DFU functional descriptor (type 0x21) from a run of extra descriptors. */
static void scan_functional(struct usb_device_info *info, const unsigned char *x, int left)
{
    for (; left >= 2 && x[0] >= 2 && x[0] <= left; left -= x[0], x += x[0]) {
        if (x[1] != 0x21 || x[0] < 7)
            continue;
        info->dfu_attributes = x[2];
        info->dfu_detach_timeout = (uint16_t)(x[3] | x[4] << 8);
        info->dfu_transfer_size = (uint16_t)(x[5] | x[6] << 8);
        /* A 7-byte descriptor is DFU 1.0, which had no version field. */
        info->dfu_version = (uint16_t)(x[0] >= 9 ? x[7] | x[8] << 8 : 0x0100);
    }
}

/* The DFU interface: its alts and the functional descriptor. */
static void read_dfu(libusb_device *dev, libusb_device_handle *h, struct usb_device_info *info)
{
    struct libusb_config_descriptor *cfg = NULL;

    if (libusb_get_active_config_descriptor(dev, &cfg) < 0 &&
        libusb_get_config_descriptor(dev, 0, &cfg) < 0)
        return;
    for (uint8_t i = 0; i < cfg->bNumInterfaces && !info->dfu; i++) {
        const struct libusb_interface *intf = &cfg->interface[i];

        for (int a = 0; a < intf->num_altsetting; a++) {
            const struct libusb_interface_descriptor *alt = &intf->altsetting[a];

            if (alt->bInterfaceClass != 0xFE || alt->bInterfaceSubClass != 0x01)
                continue;
            if (!info->dfu) {
                info->dfu = true;
                info->dfu_interface = alt->bInterfaceNumber;
                info->dfu_runtime = alt->bInterfaceProtocol == 1;
                info->alt_names = xcalloc((size_t)intf->num_altsetting, sizeof(char *));
            }
            info->alt_names[info->nr_alts] = h ? read_string(h, alt->iInterface) : NULL;
            if (!info->alt_names[info->nr_alts])
                info->alt_names[info->nr_alts] = xstrdup("");
            info->nr_alts++;
            /* The functional descriptor follows an alt, or the configuration. */
            scan_functional(info, alt->extra, alt->extra_length);
        }
    }
    if (info->dfu && !info->dfu_transfer_size)
        scan_functional(info, cfg->extra, cfg->extra_length);
    libusb_free_config_descriptor(cfg);
}

int usb_list(struct usb_ctx *u, struct usb_device_info **out, size_t *n, char *err, size_t errlen)
{
    libusb_device **list = NULL;
    ssize_t count = libusb_get_device_list(u->ctx, &list);
    struct usb_device_info *devs;

    if (count < 0)
        return omv_seterr(err, errlen, usb_err((int)count), "cannot list USB devices: %s",
                          libusb_strerror((enum libusb_error)count));
    devs = xcalloc((size_t)count + 1, sizeof(*devs));
    for (ssize_t i = 0; i < count; i++) {
        struct usb_device_info *info = &devs[i];
        struct libusb_device_descriptor dd;
        libusb_device_handle *h = NULL;
        uint8_t ports[8];
        int np = libusb_get_port_numbers(list[i], ports, sizeof(ports)), rc;
        struct strbuf path = STRBUF_INIT;

        libusb_get_device_descriptor(list[i], &dd);
        info->vid = dd.idVendor;
        info->pid = dd.idProduct;
        info->bcd_device = dd.bcdDevice;
        info->bus = libusb_get_bus_number(list[i]);
        info->address = libusb_get_device_address(list[i]);
        strbuf_addf(&path, "%u", info->bus);
        for (int p = 0; p < np; p++)
            strbuf_addf(&path, "%c%u", p ? '.' : '-', ports[p]);
        info->port_path = strbuf_detach(&path, NULL);
        rc = libusb_open(list[i], &h);
        if (rc < 0) {
            info->open_error = usb_err(rc);
            info->open_error_text = xstrdup(libusb_strerror((enum libusb_error)rc));
            h = NULL;
        } else {
            info->manufacturer = read_string(h, dd.iManufacturer);
            info->product = read_string(h, dd.iProduct);
            info->serial = read_string(h, dd.iSerialNumber);
        }
        read_dfu(list[i], h, info);
        if (h)
            libusb_close(h);
    }
    libusb_free_device_list(list, 1);
    *out = devs;
    *n = (size_t)count;
    return 0;
}

void usb_list_free(struct usb_device_info *devs, size_t n)
{
    if (!devs)
        return;
    for (size_t i = 0; i < n; i++) {
        free(devs[i].port_path);
        free(devs[i].manufacturer);
        free(devs[i].product);
        free(devs[i].serial);
        free(devs[i].open_error_text);
        for (size_t a = 0; a < devs[i].nr_alts; a++)
            free(devs[i].alt_names[a]);
        free(devs[i].alt_names);
    }
    free(devs);
}

static int LIBUSB_CALL hotplug_cb(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
    struct usb_ctx *u = user;

    (void)ctx;
    (void)dev;
    (void)event;
    u->changes++;
    return 0;
}

int usb_wait_change(struct usb_ctx *u, int timeout_ms, char *err, size_t errlen)
{
    int before;

    if (!u->hotplug_registered) {
        int rc = libusb_hotplug_register_callback(
            u->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
            LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            hotplug_cb, u, &u->hotplug);

        if (rc < 0)
            return omv_seterr(err, errlen, usb_err(rc), "cannot watch USB: %s",
                              libusb_strerror((enum libusb_error)rc));
        u->hotplug_registered = true;
    }
    before = u->changes;
    for (int waited = 0; u->changes == before && (timeout_ms < 0 || waited < timeout_ms);
         waited += 100) {
        struct timeval tv = {0, 100000};
        int rc = libusb_handle_events_timeout_completed(u->ctx, &tv, NULL);

        if (rc < 0 && rc != LIBUSB_ERROR_INTERRUPTED)
            return omv_seterr(err, errlen, usb_err(rc), "cannot watch USB: %s",
                              libusb_strerror((enum libusb_error)rc));
    }
    return u->changes != before;
}

/* Open the device with this VID:PID (and serial): *h on success. */
static int open_match(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial,
                      libusb_device_handle **out, char *err, size_t errlen)
{
    libusb_device **list = NULL;
    ssize_t count = libusb_get_device_list(u->ctx, &list);
    int rc = OMV_ENOENT, last_open = 0;

    if (count < 0)
        return omv_seterr(err, errlen, usb_err((int)count), "cannot list USB devices: %s",
                          libusb_strerror((enum libusb_error)count));
    for (ssize_t i = 0; i < count && rc == OMV_ENOENT; i++) {
        struct libusb_device_descriptor dd;
        libusb_device_handle *h;
        char *sn;

        libusb_get_device_descriptor(list[i], &dd);
        if (dd.idVendor != vid || dd.idProduct != pid)
            continue;
        last_open = libusb_open(list[i], &h);
        if (last_open < 0)
            continue;
        sn = read_string(h, dd.iSerialNumber);
        if (!serial || (sn && !strcmp(sn, serial))) {
            *out = h;
            rc = 0;
        } else {
            libusb_close(h);
        }
        free(sn);
    }
    libusb_free_device_list(list, 1);
    if (rc == OMV_ENOENT && last_open < 0)
        return omv_seterr(err, errlen, usb_err(last_open), "cannot open %04X:%04X: %s", vid, pid,
                          libusb_strerror((enum libusb_error)last_open));
    if (rc == OMV_ENOENT)
        omv_seterr(err, errlen, rc, "no %04X:%04X%s%s on USB", vid, pid,
                   serial ? " with serial " : "", serial ? serial : "");
    return rc;
}

/* The CDC communication and data interfaces, and the data bulk endpoints. */
static int find_cdc(libusb_device_handle *h, int *comm, int *data, uint8_t *ep_out, uint8_t *ep_in)
{
    struct libusb_config_descriptor *cfg = NULL;

    *comm = *data = -1;
    *ep_out = *ep_in = 0;
    if (libusb_get_active_config_descriptor(libusb_get_device(h), &cfg) < 0)
        return -1;
    for (uint8_t i = 0; i < cfg->bNumInterfaces; i++) {
        const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];

        if (alt->bInterfaceClass == LIBUSB_CLASS_COMM && alt->bInterfaceSubClass == 2 && *comm < 0)
            *comm = alt->bInterfaceNumber;
        if (alt->bInterfaceClass != LIBUSB_CLASS_DATA || *data >= 0)
            continue;
        *data = alt->bInterfaceNumber;
        for (uint8_t e = 0; e < alt->bNumEndpoints; e++) {
            const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];

            if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
                continue;
            if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN)
                *ep_in = ep->bEndpointAddress;
            else
                *ep_out = ep->bEndpointAddress;
        }
    }
    libusb_free_config_descriptor(cfg);
    return *comm >= 0 && *data >= 0 && *ep_in && *ep_out ? 0 : -1;
}

struct usb_cdc {
    libusb_device_handle *h;
    int intf;
    uint8_t ep_out, ep_in;
    char name[16]; /* "37C5:1204", for messages */
};

static int cdc_fail(struct usb_cdc *c, int rc, const char *what, char *err, size_t errlen)
{
    return omv_seterr(err, errlen, usb_err(rc), "cannot %s %s: %s", what, c->name,
                      libusb_strerror((enum libusb_error)rc));
}

int usb_cdc_open(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial, uint32_t baud,
                 struct usb_cdc **out, char *err, size_t errlen)
{
    struct usb_cdc *c = xcalloc(1, sizeof(*c));
    unsigned char coding[7] = {(unsigned char)baud,
                               (unsigned char)(baud >> 8),
                               (unsigned char)(baud >> 16),
                               (unsigned char)(baud >> 24),
                               0,
                               0,
                               8};
    int comm, rc;

    snprintf(c->name, sizeof(c->name), "%04X:%04X", vid, pid);
    c->intf = -1;
    rc = open_match(u, vid, pid, serial, &c->h, err, errlen);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if (find_cdc(c->h, &comm, &c->intf, &c->ep_out, &c->ep_in) < 0) {
        rc = omv_seterr(err, errlen, OMV_ENOENT, "%s has no CDC serial interface", c->name);
        c->intf = -1;
        goto fail;
    }
    /* The kernel's cdc_acm driver may own it; take it over for the session. */
    libusb_set_auto_detach_kernel_driver(c->h, 1);
    rc = libusb_claim_interface(c->h, c->intf);
    if (rc < 0) {
        c->intf = -1;
        rc = cdc_fail(c, rc, "claim the serial port of", err, errlen);
        goto fail;
    }
    rc = libusb_control_transfer(c->h, 0x21, 0x20, 0, (uint16_t)comm, coding, sizeof(coding), 1000);
    if (rc >= 0) /* DTR and RTS */
        rc = libusb_control_transfer(c->h, 0x21, 0x22, 0x0003, (uint16_t)comm, NULL, 0, 1000);
    if (rc < 0) {
        rc = cdc_fail(c, rc, "set up the serial port of", err, errlen);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    usb_cdc_close(c);
    return rc;
}

int usb_cdc_write(struct usb_cdc *c, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    int done = 0;
    int rc = libusb_bulk_transfer(c->h, c->ep_out, (unsigned char *)(uintptr_t)data, (int)len,
                                  &done, 2000);

    if (rc < 0)
        return cdc_fail(c, rc, "write to", err, errlen);
    if ((size_t)done != len)
        return omv_seterr(err, errlen, USB_ERR_TIMEOUT,
                          "cannot write to %s: %d of %zu bytes "
                          "went out",
                          c->name, done, len);
    return 0;
}

int usb_cdc_read(struct usb_cdc *c, uint8_t *buf, size_t cap, size_t *got, int timeout_ms,
                 char *err, size_t errlen)
{
    int done = 0;
    int rc = libusb_bulk_transfer(c->h, c->ep_in, buf, (int)cap, &done,
                                  (unsigned)(timeout_ms > 0 ? timeout_ms : 1));

    *got = (size_t)done;
    if (rc == LIBUSB_ERROR_TIMEOUT)
        return 0;
    return rc < 0 ? cdc_fail(c, rc, "read from", err, errlen) : 0;
}

void usb_cdc_close(struct usb_cdc *c)
{
    if (!c)
        return;
    if (c->intf >= 0)
        libusb_release_interface(c->h, c->intf);
    if (c->h)
        libusb_close(c->h);
    free(c);
}

/* ---- DFU devices ---------------------------------------------------------------- */

struct usb_dfu {
    libusb_device_handle *h;
    int intf;
    char name[16];
};

int usb_dfu_open(struct usb_ctx *u, const struct usb_device_info *info, struct usb_dfu **out,
                 char *err, size_t errlen)
{
    libusb_device **list = NULL;
    ssize_t count = libusb_get_device_list(u->ctx, &list);
    struct usb_dfu *d = xcalloc(1, sizeof(*d));
    int rc = USB_ERR_NODEV;

    snprintf(d->name, sizeof(d->name), "%04X:%04X", info->vid, info->pid);
    d->intf = -1;
    for (ssize_t i = 0; i < count && rc == USB_ERR_NODEV; i++) {
        struct libusb_device_descriptor dd;

        libusb_get_device_descriptor(list[i], &dd);
        if (libusb_get_bus_number(list[i]) != info->bus ||
            libusb_get_device_address(list[i]) != info->address || dd.idVendor != info->vid ||
            dd.idProduct != info->pid)
            continue;
        rc = libusb_open(list[i], &d->h);
        rc = rc < 0 ? usb_err(rc) : 0;
    }
    if (count >= 0)
        libusb_free_device_list(list, 1);
    if (rc == 0) {
        int lrc;

        libusb_set_auto_detach_kernel_driver(d->h, 1);
        lrc = libusb_claim_interface(d->h, info->dfu_interface);
        if (lrc < 0) {
            rc = omv_seterr(err, errlen, usb_err(lrc), "cannot claim %s's DFU interface: %s",
                            d->name, usb_strerror(usb_err(lrc)));
        } else {
            d->intf = info->dfu_interface;
            *out = d;
            return 0;
        }
    } else {
        omv_seterr(err, errlen, rc, "cannot open %s on port %s: %s", d->name, info->port_path,
                   usb_strerror(rc));
    }
    usb_dfu_close(d);
    return rc;
}

static int dfu_io_control(void *ctx, uint8_t request_type, uint8_t request, uint16_t value,
                          uint16_t index, uint8_t *data, uint16_t len, unsigned timeout_ms)
{
    struct usb_dfu *d = ctx;
    int rc =
        libusb_control_transfer(d->h, request_type, request, value, index, data, len, timeout_ms);

    return rc < 0 ? usb_err(rc) : rc;
}

static int dfu_io_set_alt(void *ctx, uint8_t intf, uint8_t alt)
{
    struct usb_dfu *d = ctx;
    int rc = libusb_set_interface_alt_setting(d->h, intf, alt);

    return rc < 0 ? usb_err(rc) : 0;
}

static void dfu_io_sleep(void *ctx, unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    (void)ctx;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void usb_dfu_io(struct usb_dfu *h, struct dfu_io *io)
{
    io->ctx = h;
    io->control = dfu_io_control;
    io->set_alt = dfu_io_set_alt;
    io->sleep_ms = dfu_io_sleep;
}

int usb_dfu_reset(struct usb_dfu *h)
{
    int rc = libusb_reset_device(h->h);

    /* The device left (it jumped to its firmware): that was the point. */
    if (rc == LIBUSB_ERROR_NOT_FOUND || rc == LIBUSB_ERROR_NO_DEVICE)
        return 0;
    return rc < 0 ? usb_err(rc) : 0;
}

void usb_dfu_close(struct usb_dfu *d)
{
    if (!d)
        return;
    if (d->intf >= 0)
        libusb_release_interface(d->h, d->intf);
    if (d->h)
        libusb_close(d->h);
    free(d);
}

#ifndef OMVDEV_LIBUSB_VERSION
#define OMVDEV_LIBUSB_VERSION ""
#endif

void usb_libversion(struct libversion *v)
{
    const struct libusb_version *r = libusb_get_version();

    v->name = "libusb";
    snprintf(v->built, sizeof(v->built), "%s", OMVDEV_LIBUSB_VERSION);
    snprintf(v->running, sizeof(v->running), "%u.%u.%u", r->major, r->minor, r->micro);
}
