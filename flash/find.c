/*
 * Finding the devices to flash (flash/find.h): look at the bus, ask cameras
 * in their firmware to jump (SYS_BOOT) once each, and look again on every
 * plug event (or every 200 ms) until the device(s) are there or the time is up.
 */
#include "lib/compat.h"
#include "flash/find.h"

#include "flash/omvproto.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Serials (or ports) of the cameras sent SYS_BOOT, so that each is asked once and
 * waited for. */
struct asked {
    char *who[FLASH_FIND_MAX];
    size_t nr;
};

bool flash_find_is_dfu(const struct usb_device_info *d, struct usb_id id)
{
    return usb_id_is(id, d->vid, d->pid) && d->dfu && !d->dfu_runtime;
}

static bool asked_has(const struct asked *a, const char *who)
{
    for (size_t i = 0; i < a->nr; i++)
        if (!strcmp(a->who[i], who))
            return true;
    return false;
}

static bool serial_ok(const struct usb_device_info *d, const char *serial)
{
    return !serial || (d->serial && !strcmp(d->serial, serial));
}

static bool is_app(const struct flash_find *f, const struct usb_device_info *d)
{
    return f->app.vid && usb_id_is(f->app, d->vid, d->pid);
}

/* Count what the last look at the bus found. */
static void look(struct flash_find *f, const struct asked *asked)
{
    f->found = f->apps = f->back = 0;
    for (size_t i = 0; i < f->nr; i++) {
        const struct usb_device_info *d = &f->devs[i];

        if (!serial_ok(d, f->serial))
            continue;
        if (flash_find_is_dfu(d, f->dfu)) {
            if (f->found < FLASH_FIND_MAX)
                f->picked[f->found] = i;
            f->found++;
            f->back += d->serial && asked_has(asked, d->serial);
        } else if (is_app(f, d)) {
            f->apps++;
        }
    }
}

/* Ask every camera running its firmware to jump into its bootloader, once each. */
static void send_sys_boot(struct flash_find *f, struct asked *asked)
{
    char err[512];

    for (size_t i = 0; i < f->nr; i++) {
        const struct usb_device_info *d = &f->devs[i];
        const char *who = d->serial ? d->serial : d->port_path;
        int rc;

        if (!is_app(f, d) || !serial_ok(d, f->serial) || asked_has(asked, who) ||
            asked->nr == FLASH_FIND_MAX)
            continue;
        rc = omvproto_enter_bootloader(f->u, d->vid, d->pid, d->serial, err, sizeof(err));
        if (f->asked)
            f->asked(f->ud, who, rc < 0 ? err : NULL);
        asked->who[asked->nr++] = xstrdup(who);
    }
}

/* Decide from the last look; false while there is reason to wait on. */
static bool decided(struct flash_find *f, const struct asked *asked, bool timed_out)
{
    if (f->found > 1 && !f->all)
        f->result = FLASH_FIND_SEVERAL;
    else if (f->found > FLASH_FIND_MAX)
        f->result = FLASH_FIND_TOO_MANY;
    /* Done when a device is there and, with `all`, every camera asked is back (or the
     * time is up: then the ones that are there are flashed). */
    else if (f->found >= 1 && (!f->all || timed_out || (f->back == asked->nr && f->apps == 0)))
        f->result = timed_out && f->all && asked->nr ? FLASH_FOUND_SOME : FLASH_FOUND;
    else if (timed_out)
        f->result = FLASH_FIND_NONE;
    else if (f->apps > 1 && !f->all && !asked->nr)
        f->result = FLASH_FIND_SEVERAL_APPS;
    else if (f->cancel && *f->cancel)
        f->result = FLASH_FIND_INTERRUPTED;
    else
        return false;
    return true;
}

static void nap_until_change(struct usb_ctx *u)
{
    char err[256];

    /* Hotplug tells us at once; the bounded wait also covers systems without it. */
    if (usb_wait_change(u, 200, err, sizeof(err)) < 0)
        nanosleep(&(struct timespec){0, 200000000L}, NULL);
}

int flash_find_devices(struct flash_find *f, char *err, size_t errlen)
{
    int64_t deadline = progress_now_ms() + (int64_t)f->wait_s * 1000;
    struct asked asked = {{NULL}, 0};
    bool said = false, timed_out = false;
    int rc = 0;

    f->devs = NULL;
    f->nr = f->nr_picked = 0;
    for (;;) {
        rc = usb_list(f->u, &f->devs, &f->nr, err, errlen);
        if (rc < 0)
            break;
        look(f, &asked);
        if (decided(f, &asked, timed_out))
            break;
        send_sys_boot(f, &asked);
        usb_list_free(f->devs, f->nr);
        f->devs = NULL;
        f->nr = 0;
        if (progress_now_ms() >= deadline) {
            timed_out = true; /* one last look */
            continue;
        }
        if (!said && !asked.nr && f->waiting)
            f->waiting(f->ud);
        said = true;
        nap_until_change(f->u);
    }
    if (rc == 0 && (f->result == FLASH_FOUND || f->result == FLASH_FOUND_SOME))
        f->nr_picked = f->found < FLASH_FIND_MAX ? f->found : FLASH_FIND_MAX;
    f->asked_n = asked.nr;
    for (size_t i = 0; i < asked.nr; i++)
        free(asked.who[i]);
    return rc;
}

void flash_find_release(struct flash_find *f)
{
    usb_list_free(f->devs, f->nr);
    f->devs = NULL;
    f->nr = 0;
}
