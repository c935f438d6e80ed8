/*
 * omvdev-sim: run a command with virtual cameras on its USB bus.
 *
 *   omvdev-sim [--device SPEC]... [--state DIR] [--timescale X] [-v] -- COMMAND ARGS...
 *
 * Each SPEC (see sim.h) becomes a USB device in a umockdev testbed: a sysfs
 * entry with its descriptors and a device node whose usbdevfs ioctls are
 * answered here by the device model. COMMAND runs with libumockdev-preload,
 * so an unmodified libusb program (omvdev, dfu-util) talks to the models.
 * Devices leave and join the bus with uevents, so re-enumeration works.
 *
 * Time: a model's work (an erase, programming) delays the answers to later
 * requests by its virtual duration times X (default 0: no waiting). Requests
 * to one device never hold up another: delays are timers in one main loop.
 *
 * On exit, --state DIR receives DIR/<serial>/<memory>.bin and log.json for
 * every device that existed. The exit status is COMMAND's.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"

#include "lib/strbuf.h"

#include <errno.h>
#include <glib.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

struct urb {
    UMockdevIoctlData *data; /* the client's struct usbdevfs_urb (owned ref) */
    UMockdevIoctlData *buf;  /* its buffer (owned ref) */
    gint64 due_us;           /* monotonic time it completes */
    bool parked;             /* a bulk IN with nothing to read yet, an OUT not all taken */
    size_t done;             /* bytes of a bulk OUT the device took so far */
    /* The connection that submitted it (one per process that opened the device node):
     * compared, never dereferenced. Only it may reap or discard the URB. */
    const void *owner;
    uint8_t ep;
    size_t buffer_length;
};

struct slot {
    struct sim *sim;
    struct sim_dev *dev;
    UMockdevIoctlBase *handler;
    char *syspath;
    char *devnode;
    unsigned devnum;
    GList *urbs;    /* struct urb *, in submission order */
    GList *reapers; /* UMockdevIoctlClient *: blocking REAPURBs waiting for a completion */
    guint reap_timer;
    gint64 reap_due;   /* when reap_timer fires (0: at once) */
    guint retry_timer; /* polls parked URBs while the device's clock runs */
    bool removed;
};

struct sim {
    UMockdevTestbed *testbed;
    GPtrArray *slots; /* every device ever on the bus, for --state */
    double timescale;
    gint64 t0_us;
    unsigned next_devnum;
    int verbose;
    unsigned pending; /* re-enumerations scheduled but not done yet */
    /* Where umockdev handles ioctls (its own thread): the timers that touch URBs run
     * there too, so no two threads ever work on a device's URBs at once. */
    GMainContext *ioctl_ctx;
    bool stopping; /* set on the ioctl thread: no new timers, the slots are going */
};

static void urb_free(struct urb *u)
{
    if (!u)
        return;
    g_clear_pointer(&u->buf, umockdev_ioctl_data_unref);
    g_clear_pointer(&u->data, umockdev_ioctl_data_unref);
    g_free(u);
}

static uint64_t vnow(const struct sim *sim)
{
    if (sim->timescale <= 0)
        return 0;
    return (uint64_t)((double)(g_get_monotonic_time() - sim->t0_us) / sim->timescale);
}

/* ---- plugging -------------------------------------------------------------------- */

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             struct slot *slot);
static void client_vanished(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                            struct slot *slot);

static void plug(struct sim *sim, struct sim_dev *dev)
{
    struct slot *slot = g_new0(struct slot, 1);
    GString *desc = g_string_new(NULL);
    g_autoptr(GError) gerr = NULL;
    gchar *add;

    slot->sim = sim;
    slot->dev = dev;
    slot->devnum = sim->next_devnum++;
    slot->syspath = g_strdup_printf("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%u", slot->devnum);
    slot->devnode = g_strdup_printf("/dev/bus/usb/001/%03u", slot->devnum);
    slot->handler = umockdev_ioctl_base_new();
    g_signal_connect(slot->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), slot);
    g_signal_connect(slot->handler, "client-vanished", G_CALLBACK(client_vanished), slot);
    /* The handler first, so the device can be opened as soon as it is announced. */
    if (!umockdev_testbed_attach_ioctl(sim->testbed, slot->devnode, slot->handler, &gerr))
        g_error("omvdev-sim: cannot attach to %s: %s", slot->devnode, gerr->message);

    for (size_t i = 0; i < dev->descriptors.len; i++)
        g_string_append_printf(desc, "%02x", (unsigned char)dev->descriptors.buf[i]);
    add = g_strdup_printf("P: %s\n"
                          "N: bus/usb/001/%03u\n"
                          "E: DEVNAME=/dev/bus/usb/001/%03u\n"
                          "E: DEVTYPE=usb_device\n"
                          "E: DRIVER=usb\n"
                          "E: SUBSYSTEM=usb\n"
                          "E: BUSNUM=001\n"
                          "E: DEVNUM=%03u\n"
                          "E: PRODUCT=%x/%x/%x\n"
                          "A: busnum=1\\n\n"
                          "A: devnum=%u\\n\n"
                          "A: speed=12\\n\n"
                          "A: bConfigurationValue=1\\n\n"
                          "A: idVendor=%04x\\n\n"
                          "A: idProduct=%04x\\n\n"
                          "A: serial=%s\\n\n"
                          "H: descriptors=%s\n",
                          slot->syspath + strlen("/sys"), slot->devnum, slot->devnum, slot->devnum,
                          dev->vid, dev->pid, dev->bcd_device, slot->devnum, dev->vid, dev->pid,
                          dev->serial, desc->str);
    if (!umockdev_testbed_add_from_string(sim->testbed, add, &gerr))
        g_error("omvdev-sim: cannot add %s: %s", dev->spec, gerr->message);
    /* Adding creates the files; programs that listen (libusb hotplug, udev) need the event. */
    umockdev_testbed_uevent(sim->testbed, slot->syspath, "add");
    g_free(add);
    g_string_free(desc, TRUE);
    g_ptr_array_add(sim->slots, slot);
    if (sim->verbose)
        g_printerr("omvdev-sim: plugged %s as %04x:%04x serial %s at %s\n", dev->spec, dev->vid,
                   dev->pid, dev->serial, slot->devnode);
}

static void unplug(struct slot *slot)
{
    if (slot->removed)
        return;
    slot->removed = true;
    slot->dev->gone = true;
    umockdev_testbed_uevent(slot->sim->testbed, slot->syspath, "remove");
    umockdev_testbed_remove_device(slot->sim->testbed, slot->syspath);
    if (slot->sim->verbose)
        g_printerr("omvdev-sim: unplugged %s\n", slot->dev->spec);
}

/* "camera:OPENMV4" keeps the serial number of the device it came from. */
static char *carry_serial(const char *next, const char *serial)
{
    if (strstr(next, "serial="))
        return g_strdup(next);
    return g_strdup_printf("%s%sserial=%s", next, strchr(next, ',') ? "," : ",", serial);
}

/* Flash keeps its contents across re-enumeration: copy each memory from the
 * latest earlier incarnation (same serial) that had it. */
static void inherit_memory(struct sim *sim, struct sim_dev *dev)
{
    for (size_t i = 0; i < dev->nr_regions; i++) {
        struct sim_region *r = &dev->regions[i];

        for (guint k = sim->slots->len; k-- > 0;) {
            const struct sim_dev *old = ((struct slot *)sim->slots->pdata[k])->dev;
            const struct sim_region *o = NULL;

            if (strcmp(old->serial, dev->serial) != 0)
                continue;
            for (size_t j = 0; j < old->nr_regions; j++)
                if (!strcmp(old->regions[j].name, r->name) && old->regions[j].base == r->base &&
                    old->regions[j].size == r->size)
                    o = &old->regions[j];
            if (o) {
                memcpy(r->data, o->data, r->size);
                break;
            }
        }
    }
}

struct rebirth {
    struct sim *sim;
    char *spec;
};

static gboolean rebirth_cb(gpointer p)
{
    struct rebirth *r = p;
    char err[512];
    struct sim_dev *dev = sim_dev_new_from_spec(r->spec, err, sizeof(err));

    if (!dev) {
        g_printerr("omvdev-sim: cannot re-enumerate as '%s': %s\n", r->spec, err);
    } else {
        inherit_memory(r->sim, dev);
        plug(r->sim, dev);
    }
    r->sim->pending--;
    g_free(r->spec);
    g_free(r);
    return G_SOURCE_REMOVE;
}

/* After a request: a device that left the bus goes, and maybe comes back. */
static void apply_transition(struct slot *slot)
{
    struct sim_dev *d = slot->dev;

    if (d->transition == SIM_STAY || slot->removed)
        return;
    unplug(slot);
    if (d->transition == SIM_BECOME && d->next_spec) {
        struct rebirth *r = g_new0(struct rebirth, 1);

        r->sim = slot->sim;
        r->spec = carry_serial(d->next_spec, d->serial);
        slot->sim->pending++;
        /* A real device needs a moment to re-enumerate; 50 ms of virtual time. */
        g_timeout_add((guint)(50 * (slot->sim->timescale > 0 ? slot->sim->timescale : 0.02)),
                      rebirth_cb, r);
    }
}

/* ---- URBs ------------------------------------------------------------------------ */

static void urb_write_result(struct urb *u, int status, uint8_t *in, size_t len, size_t offset)
{
    int32_t st = status, actual = (int32_t)len;

    if (in && len)
        umockdev_ioctl_data_update(u->buf, offset, in, (gint)len);
    umockdev_ioctl_data_update(u->data, offsetof(struct usbdevfs_urb, status), (guint8 *)&st,
                               sizeof(st));
    umockdev_ioctl_data_update(u->data, offsetof(struct usbdevfs_urb, actual_length),
                               (guint8 *)&actual, sizeof(actual));
}

static int errno_of(int rc)
{
    switch (rc) {
    case SIM_OK:
        return 0;
    case SIM_STALL:
        return -EPIPE;
    case SIM_GONE:
        return -ENODEV;
    default:
        return -EPROTO;
    }
}

static gint64 due_after(const struct slot *slot, uint64_t wait_us, uint64_t cost_us)
{
    gint64 now = g_get_monotonic_time();

    if (slot->sim->timescale <= 0)
        return now;
    return now + (gint64)((double)(wait_us + cost_us) * slot->sim->timescale);
}

static gboolean retry_timer_cb(gpointer p);

/* A timeout (ms > 0) or idle callback for `slot` in the ioctl thread's context. */
static guint slot_timer(struct slot *slot, guint ms, GSourceFunc fn)
{
    GSource *src;
    guint id;

    if (slot->sim->stopping)
        return 0;
    src = ms ? g_timeout_source_new(ms) : g_idle_source_new();
    g_source_set_callback(src, fn, slot, NULL);
    id = g_source_attach(src, slot->sim->ioctl_ctx);
    g_source_unref(src);
    return id;
}

static void run_bulk(struct slot *slot, struct urb *u)
{
    uint8_t *buf = g_malloc0(u->buffer_length ? u->buffer_length : 1);
    size_t len = u->buffer_length - u->done;
    bool out = !(u->ep & 0x80);
    int rc;

    if (out)
        memcpy(buf, (const uint8_t *)u->buf->data + u->done, len);
    rc = sim_dev_bulk(slot->dev, u->ep, buf, &len);
    if (rc == SIM_OK && !out && len == 0) {
        u->parked = true; /* NAK: try again when something happens */
    } else if (rc == SIM_OK && out && u->done + len < u->buffer_length) {
        u->done += len; /* the device's buffer is full: NAK the rest for now */
        u->parked = true;
    } else {
        u->parked = false;
        urb_write_result(u, errno_of(rc), out ? NULL : buf, out ? u->done + len : len, 0);
        u->due_us = due_after(slot, 0, 0);
    }
    /* A device whose clock runs may answer later by itself (a script printing after a
     * sleep, a buffer draining): ask it again every few milliseconds. */
    if (u->parked && slot->sim->timescale > 0 && !slot->retry_timer)
        slot->retry_timer = slot_timer(slot, 5, retry_timer_cb);
    g_free(buf);
}

static void submit(struct slot *slot, struct urb *u, uint8_t type)
{
    struct sim_dev *d = slot->dev;

    sim_dev_advance(d, vnow(slot->sim));
    if (slot->sim->timescale <= 0)
        sim_dev_settle(d);
    if (type == USBDEVFS_URB_TYPE_CONTROL) {
        const uint8_t *p = u->buf->data;
        struct sim_setup s = {p[0], p[1], (uint16_t)(p[2] | p[3] << 8),
                              (uint16_t)(p[4] | p[5] << 8), (uint16_t)(p[6] | p[7] << 8)};
        uint8_t *data = g_malloc0((gsize)s.wLength + 1);
        size_t len = s.wLength;
        uint64_t wait = sim_dev_wait_us(d);
        int rc;

        if (!(s.bmRequestType & 0x80) && s.wLength)
            memcpy(data, p + 8, s.wLength);
        rc = sim_dev_control(d, &s, data, &len);
        urb_write_result(u, errno_of(rc), (s.bmRequestType & 0x80) ? data : NULL, len, 8);
        /* The answer waits for earlier work and its own transfer, not for the work it starts. */
        u->due_us = due_after(slot, wait, d->reply_us);
        g_free(data);
    } else {
        run_bulk(slot, u);
    }
}

static void retry_parked(struct slot *slot)
{
    sim_dev_advance(slot->dev, vnow(slot->sim));
    for (GList *l = slot->urbs; l; l = l->next) {
        struct urb *u = l->data;

        if (u->parked && !slot->removed)
            run_bulk(slot, u);
    }
}

static gboolean reap_timer_cb(gpointer p);

/* Something completed: let waiting reapers look at once. */
static void reap_soon(struct slot *slot)
{
    if (!slot->reapers || slot->reap_timer)
        return;
    slot->reap_timer = slot_timer(slot, 0, reap_timer_cb);
    slot->reap_due = 0;
}

static gboolean retry_timer_cb(gpointer p)
{
    struct slot *slot = p;
    bool parked = false;

    slot->retry_timer = 0;
    retry_parked(slot);
    for (GList *l = slot->urbs; l; l = l->next)
        parked = parked || ((struct urb *)l->data)->parked;
    reap_soon(slot);
    apply_transition(slot);
    if (parked && !slot->removed && !slot->retry_timer)
        slot->retry_timer = slot_timer(slot, 5, retry_timer_cb);
    return G_SOURCE_REMOVE;
}

/* The first URB of `client` that is complete now, or NULL; *next_due gets the earliest
 * future one. */
static struct urb *ready_urb(struct slot *slot, const void *client, gint64 *next_due)
{
    gint64 now = g_get_monotonic_time();

    *next_due = 0;
    for (GList *l = slot->urbs; l; l = l->next) {
        struct urb *u = l->data;

        if (u->parked || u->owner != client)
            continue;
        if (u->due_us <= now) {
            slot->urbs = g_list_delete_link(slot->urbs, l);
            return u;
        }
        if (!*next_due || u->due_us < *next_due)
            *next_due = u->due_us;
    }
    return NULL;
}

/*
 * ready_urb(), but an URB due within a millisecond is waited for here: the
 * main loop's timers count whole milliseconds, and rounding every answer up
 * to the next one would add up to a millisecond to each request.
 */
static struct urb *ready_urb_soon(struct slot *slot, const void *client, gint64 *next_due)
{
    struct urb *u = ready_urb(slot, client, next_due);
    gint64 left = *next_due ? *next_due - g_get_monotonic_time() : 0;

    if (u || !*next_due || left >= 1000)
        return u;
    if (left > 0)
        g_usleep((gulong)left);
    return ready_urb(slot, client, next_due);
}

/* A timer for the next URB due, at most a millisecond early (ready_urb_soon waits the rest). */
static guint reap_timer_at(struct slot *slot, gint64 due);

static void complete_reap(struct slot *slot, UMockdevIoctlClient *client, struct urb *u)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    g_autoptr(UMockdevIoctlData) ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);

    /* NULL: the client died (kill -9) with the request in flight; the URB goes with it. */
    if (ptr)
        umockdev_ioctl_data_set_ptr(ptr, 0, u->data);
    umockdev_ioctl_client_complete(client, ptr ? 0 : -1, ptr ? 0 : EFAULT);
    urb_free(u);
    apply_transition(slot);
}

static gboolean reap_timer_cb(gpointer p)
{
    struct slot *slot = p;
    gint64 soonest = 0;

    slot->reap_timer = 0;
    for (GList *l = slot->reapers, *next_l; l; l = next_l) {
        UMockdevIoctlClient *client = l->data;
        gint64 next;
        struct urb *u = ready_urb_soon(slot, client, &next);

        next_l = l->next;
        if (u) {
            slot->reapers = g_list_delete_link(slot->reapers, l);
            complete_reap(slot, client, u);
            g_object_unref(client);
        } else if (next && (!soonest || next < soonest)) {
            soonest = next;
        }
    }
    if (soonest)
        slot->reap_timer = reap_timer_at(slot, soonest);
    return G_SOURCE_REMOVE;
}

static guint reap_timer_at(struct slot *slot, gint64 due)
{
    gint64 left = due - g_get_monotonic_time();

    slot->reap_due = due;
    return slot_timer(slot, left > 0 ? (guint)(left / 1000) : 0, reap_timer_cb);
}

static void reap(struct slot *slot, UMockdevIoctlClient *client, bool block)
{
    gint64 next;
    struct urb *u = ready_urb_soon(slot, client, &next);

    if (u) {
        complete_reap(slot, client, u);
        return;
    }
    if (!next && !block) {
        umockdev_ioctl_client_complete(client, -1, slot->removed ? ENODEV : EAGAIN);
        return;
    }
    if (!next && slot->removed) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
        return;
    }
    /* Something is in flight (or a blocking reap): answer when it completes. The
     * client's thread waits in the ioctl as it would on a busy device. */
    if (g_list_find(slot->reapers, client)) {
        umockdev_ioctl_client_complete(client, -1, EAGAIN);
        return;
    }
    slot->reapers = g_list_append(slot->reapers, g_object_ref(client));
    /* The timer goes off for the soonest URB of any waiting client. */
    if (next && (!slot->reap_timer || (slot->reap_due && next < slot->reap_due))) {
        GSource *old = slot->reap_timer ? g_main_context_find_source_by_id(slot->sim->ioctl_ctx,
                                                                           slot->reap_timer)
                                        : NULL;

        if (old)
            g_source_destroy(old);
        slot->reap_timer = reap_timer_at(slot, next);
    }
}

/* A process closed the device node: its URBs go with it. */
static void client_vanished(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                            struct slot *slot)
{
    (void)handler;
    for (GList *l = slot->urbs, *next; l; l = next) {
        next = l->next;
        if (((struct urb *)l->data)->owner == client) {
            urb_free(l->data);
            slot->urbs = g_list_delete_link(slot->urbs, l);
        }
    }
    for (GList *l = slot->reapers; l; l = l->next)
        if (l->data == client) {
            slot->reapers = g_list_delete_link(slot->reapers, l);
            g_object_unref(client);
            break;
        }
}

static void discard(struct slot *slot, UMockdevIoctlClient *client)
{
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);

    for (GList *l = slot->urbs; l; l = l->next) {
        struct urb *u = l->data;

        if (u->owner != client)
            continue;
        if (u->data->client_addr == (gulong)arg->client_addr ||
            u->data->client_addr == *(gulong *)arg->data) {
            /* As the kernel: a URB that completed already keeps its data for the reap. */
            if (!u->parked && u->due_us <= g_get_monotonic_time()) {
                umockdev_ioctl_client_complete(client, -1, EINVAL);
                return;
            }
            urb_write_result(u, -ENOENT, NULL, u->done, 0);
            u->parked = false;
            u->due_us = 0;
            umockdev_ioctl_client_complete(client, 0, 0);
            return;
        }
    }
    umockdev_ioctl_client_complete(client, -1, EINVAL);
}

/*
 * The client's memory could not be read: it was killed (kill -9) with this
 * request in flight. Answer and go on serving the bus.
 */
static gboolean client_gone(UMockdevIoctlClient *client)
{
    umockdev_ioctl_client_complete(client, -1, EFAULT);
    return TRUE;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client,
                             struct slot *slot)
{
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);

    (void)handler;
    if (!slot->sim->ioctl_ctx) {
        slot->sim->ioctl_ctx = g_main_context_ref_thread_default();
        if (slot->sim->verbose)
            g_printerr("omvdev-sim: ioctls handled %s the main loop\n",
                       slot->sim->ioctl_ctx == g_main_context_default() ? "in" : "beside");
    }
    if (slot->removed && request != USBDEVFS_REAPURBNDELAY && request != USBDEVFS_REAPURB &&
        request != USBDEVFS_DISCARDURB && request != USBDEVFS_RELEASEINTERFACE) {
        umockdev_ioctl_client_complete(client, -1, ENODEV);
        return TRUE;
    }
    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        g_autoptr(UMockdevIoctlData) caps = umockdev_ioctl_data_resolve(arg, 0, 4, NULL);
        guint32 v = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                    USBDEVFS_CAP_REAP_AFTER_DISCONNECT;

        if (!caps)
            return client_gone(client);
        umockdev_ioctl_data_update(caps, 0, (guint8 *)&v, sizeof(v));
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    }
    case USBDEVFS_SUBMITURB: {
        struct urb *u = g_new0(struct urb, 1);
        const struct usbdevfs_urb *urb;

        u->owner = client;
        u->data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
        if (!u->data) {
            g_free(u);
            return client_gone(client);
        }
        urb = (const struct usbdevfs_urb *)u->data->data;
        u->ep = urb->endpoint;
        u->buffer_length = (size_t)urb->buffer_length;
        u->buf = umockdev_ioctl_data_resolve(u->data, offsetof(struct usbdevfs_urb, buffer),
                                             u->buffer_length, NULL);
        if (!u->buf) {
            urb_free(u);
            return client_gone(client);
        }
        submit(slot, u, urb->type);
        slot->urbs = g_list_append(slot->urbs, u);
        if (urb->type != USBDEVFS_URB_TYPE_CONTROL)
            retry_parked(slot);
        umockdev_ioctl_client_complete(client, 0, 0);
        reap_soon(slot);
        return TRUE;
    }
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY:
        reap(slot, client, request == USBDEVFS_REAPURB);
        return TRUE;
    case USBDEVFS_DISCARDURB:
        discard(slot, client);
        return TRUE;
    case USBDEVFS_SETINTERFACE: {
        g_autoptr(UMockdevIoctlData) si =
            umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_setinterface), NULL);
        const struct usbdevfs_setinterface *p;

        if (!si)
            return client_gone(client);
        p = (const void *)si->data;
        sim_dev_set_alt(slot->dev, p->interface, p->altsetting);
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    }
    case USBDEVFS_RESET:
        sim_dev_reset(slot->dev);
        umockdev_ioctl_client_complete(client, 0, 0);
        apply_transition(slot);
        return TRUE;
    case USBDEVFS_GETDRIVER:
    case USBDEVFS_IOCTL: /* disconnect the kernel driver: there is none */
        umockdev_ioctl_client_complete(client, -1, ENODATA);
        return TRUE;
    case USBDEVFS_DISCONNECT_CLAIM: /* detach-and-claim: with no driver, a claim */
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_RELEASEINTERFACE:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
    case USBDEVFS_SETCONFIGURATION:
        umockdev_ioctl_client_complete(client, 0, 0);
        return TRUE;
    default:
        if (slot->sim->verbose)
            g_printerr("omvdev-sim: %s: unhandled ioctl 0x%lx\n", slot->devnode, request);
        umockdev_ioctl_client_complete(client, -1, ENOTTY);
        return TRUE;
    }
}

/* ---- main -------------------------------------------------------------------------- */

struct stop {
    struct sim *sim;
    GMutex lock;
    GCond cond;
    bool done;
};

static void drop_source(GMainContext *ctx, guint *id)
{
    GSource *src = *id ? g_main_context_find_source_by_id(ctx, *id) : NULL;

    if (src)
        g_source_destroy(src);
    *id = 0;
}

/* On the ioctl thread: cancel every device's timers before the slots are freed. */
static gboolean stop_timers_cb(gpointer p)
{
    struct stop *st = p;

    st->sim->stopping = true;
    for (guint k = 0; k < st->sim->slots->len; k++) {
        struct slot *slot = st->sim->slots->pdata[k];

        drop_source(st->sim->ioctl_ctx, &slot->reap_timer);
        drop_source(st->sim->ioctl_ctx, &slot->retry_timer);
    }
    g_mutex_lock(&st->lock);
    st->done = true;
    g_cond_signal(&st->cond);
    g_mutex_unlock(&st->lock);
    return G_SOURCE_REMOVE;
}

static void stop_timers(struct sim *sim)
{
    struct stop st = {sim, {0}, {0}, false};
    gint64 until = g_get_monotonic_time() + G_TIME_SPAN_SECOND;

    if (!sim->ioctl_ctx)
        return;
    g_mutex_init(&st.lock);
    g_cond_init(&st.cond);
    g_main_context_invoke(sim->ioctl_ctx, stop_timers_cb, &st);
    g_mutex_lock(&st.lock);
    while (!st.done && g_cond_wait_until(&st.cond, &st.lock, until))
        ;
    g_mutex_unlock(&st.lock);
    g_mutex_clear(&st.lock);
    g_cond_clear(&st.cond);
}

struct late {
    struct sim *sim;
    struct sim_dev *dev;
};

static gboolean late_cb(gpointer p)
{
    struct late *l = p;

    plug(l->sim, l->dev);
    g_free(l);
    return G_SOURCE_REMOVE;
}

static void child_exited(GPid pid, gint status, gpointer p)
{
    gint *out = p;

    *out = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    g_spawn_close_pid(pid);
}

static int usage(void)
{
    fprintf(stderr, "usage: omvdev-sim [--device SPEC]... [--state DIR] [--timescale X] [-v] "
                    "-- COMMAND [ARGS...]\n"
                    "SPEC: openmv-bl:OPENMV4 | st-rom:H743[,rev=V] | arduino:PORTENTA | "
                    "camera:OPENMV4, with ,serial=S ,load=FILE@ADDR ,fault=KIND:ARG[:N] "
                    ",after=SPEC\n");
    return 2;
}

/*
 * umockdev sends uevents through libudev in this process, so this process
 * must see the testbed too: run again under the preload library (what
 * umockdev-wrapper does), telling an ASan runtime to accept it.
 */
static void reexec_with_preload(char **argv)
{
    const char *pre = getenv("LD_PRELOAD");
    const char *asan = getenv("ASAN_OPTIONS");
    gchar *v;

    if (pre && strstr(pre, "libumockdev-preload"))
        return;
    setenv("LD_PRELOAD", "libumockdev-preload.so.0", 1);
    v = g_strdup_printf("%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", v, 1);
    g_free(v);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "omvdev-sim: error: cannot re-run under libumockdev-preload: %s\n",
            strerror(errno));
    exit(127);
}

int main(int argc, char **argv)
{
    struct sim sim = {NULL, NULL, 0, 0, 2, 0, 0, NULL, false};
    const char *state_dir = NULL;
    GPtrArray *specs = g_ptr_array_new();
    gint status = -1;
    GPid pid;
    g_autoptr(GError) gerr = NULL;
    gchar **child_env;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            g_ptr_array_add(specs, argv[++i]);
        } else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
            state_dir = argv[++i];
        } else if (!strcmp(argv[i], "--timescale") && i + 1 < argc) {
            sim.timescale = g_ascii_strtod(argv[++i], NULL);
        } else if (!strcmp(argv[i], "-v")) {
            sim.verbose++;
        } else {
            return usage();
        }
    }
    if (i >= argc)
        return usage();

    reexec_with_preload(argv);
    sim.testbed = umockdev_testbed_new();
    sim.slots = g_ptr_array_new();
    sim.t0_us = g_get_monotonic_time();
    for (guint k = 0; k < specs->len; k++) {
        char err[512];
        struct sim_dev *dev = sim_dev_new_from_spec(specs->pdata[k], err, sizeof(err));
        const struct sim_fault *late;

        if (!dev) {
            fprintf(stderr, "omvdev-sim: error: %s\n", err);
            return 2;
        }
        late = sim_fault_find(dev, SIM_FAULT_LATE);
        if (late) {
            struct late *l = g_new0(struct late, 1);

            l->sim = &sim;
            l->dev = dev;
            g_timeout_add((guint)late->arg, late_cb, l);
        } else {
            plug(&sim, dev);
        }
    }

    /* The child inherits the preload library (and ASAN_OPTIONS) from us. */
    child_env = g_get_environ();
    if (!g_spawn_async(NULL, argv + i, child_env,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                           G_SPAWN_CHILD_INHERITS_STDIN,
                       NULL, NULL, &pid, &gerr)) {
        fprintf(stderr, "omvdev-sim: error: cannot run '%s': %s\n", argv[i], gerr->message);
        return 127;
    }
    g_strfreev(child_env);
    g_child_watch_add(pid, child_exited, &status);
    while (status < 0)
        g_main_context_iteration(NULL, TRUE);
    /* A device that left just before the command ended still comes back, so --state
     * shows what the hardware would be doing now. */
    while (sim.pending)
        g_main_context_iteration(NULL, TRUE);
    stop_timers(&sim);

    if (state_dir) {
        for (guint k = 0; k < sim.slots->len; k++) {
            struct slot *slot = sim.slots->pdata[k];
            char err[512], log_name[64];

            /* Memory files end as the last incarnation left them; each has its log. */
            snprintf(log_name, sizeof(log_name), "log-%u-%s.json", k + 1,
                     slot->dev->ops ? slot->dev->ops->kind : "device");
            if (sim_dev_dump(slot->dev, state_dir, log_name, err, sizeof(err)) < 0) {
                fprintf(stderr, "omvdev-sim: error: %s\n", err);
                if (status == 0)
                    status = 1;
            }
        }
    }
    for (guint k = 0; k < sim.slots->len; k++) {
        struct slot *slot = sim.slots->pdata[k];

        g_list_free_full(slot->urbs, (GDestroyNotify)urb_free);
        g_list_free_full(slot->reapers, g_object_unref);
        g_clear_object(&slot->handler);
        sim_dev_free(slot->dev);
        g_free(slot->syspath);
        g_free(slot->devnode);
        g_free(slot);
    }
    g_ptr_array_free(sim.slots, TRUE);
    g_ptr_array_free(specs, TRUE);
    if (sim.ioctl_ctx)
        g_main_context_unref(sim.ioctl_ctx);
    g_clear_object(&sim.testbed);
    return status;
}
