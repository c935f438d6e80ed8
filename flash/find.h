/*
 * Finding the devices to flash: wait for the DFU device(s) of a board,
 * asking cameras that run their firmware to jump into their bootloader
 * (SYS_BOOT) on the way. Nothing is printed: the outcome says what was
 * found, and two callbacks say when the wait starts and a camera is asked.
 *
 *     struct flash_find f = {u, dfu_id, app_id, serial, all, wait_s, &cancel, ...};
 *     if (flash_find_devices(&f, err, sizeof(err)) < 0) ... (the bus could not be read)
 *     switch (f.result) { case FLASH_FOUND: ... f.devs[f.picked[i]] ... }
 *     flash_find_release(&f);
 *
 * Ownership: the caller's strings and context are borrowed; f.devs belongs
 * to f until flash_find_release().
 */
#ifndef OMVDEV_FLASH_FIND_H
#define OMVDEV_FLASH_FIND_H

#include "lib/compat.h"

#include "targets/targets.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usb_ctx;
struct usb_device_info;

#define FLASH_FIND_MAX 64 /* devices flashed at once */

enum flash_find_result {
    FLASH_FOUND,             /* picked[] holds the device, or with `all` every one */
    FLASH_FOUND_SOME,        /* `all`, the time is up: the cameras that came back */
    FLASH_FIND_SEVERAL,      /* several DFU devices, and neither `all` nor a serial */
    FLASH_FIND_SEVERAL_APPS, /* several cameras in their firmware, and no `all` */
    FLASH_FIND_TOO_MANY,     /* more than FLASH_FIND_MAX devices */
    FLASH_FIND_NONE,         /* nothing appeared within wait_s */
    FLASH_FIND_INTERRUPTED,  /* *cancel was set */
};

struct flash_find {
    /* in */
    struct usb_ctx *u;
    struct usb_id dfu; /* the DFU device to flash: the bootloader or the ST ROM */
    struct usb_id app; /* a camera in its firmware that SYS_BOOT moves; {0, 0}: none */
    const char *serial;
    bool all;
    uint64_t wait_s;
    const volatile sig_atomic_t *cancel; /* NULL: never */
    void *ud;
    void (*waiting)(void *ud); /* once, when the wait begins and nothing was asked to move */
    /* a camera was asked to jump (err: NULL, or why asking failed) */
    void (*asked)(void *ud, const char *who, const char *err);
    /* out */
    enum flash_find_result result;
    struct usb_device_info *devs; /* the last look at the bus */
    size_t nr;
    size_t picked[FLASH_FIND_MAX]; /* indices into devs */
    size_t nr_picked;
    size_t found;   /* DFU devices in the last look */
    size_t apps;    /* cameras in their firmware SYS_BOOT can move */
    size_t back;    /* of the cameras asked, those back as DFU devices */
    size_t asked_n; /* cameras asked to jump */
};

/* Wait as described above. 0 with f->result set, or a negative code when the bus
 * cannot be read. */
int flash_find_devices(struct flash_find *f, char *err, size_t errlen);
void flash_find_release(struct flash_find *f);

/* Is d a DFU-mode device (not a runtime DFU interface) with this ID? */
bool flash_find_is_dfu(const struct usb_device_info *d, struct usb_id id);

#endif
