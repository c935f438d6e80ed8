/*
 * A flash session: one device, one plan, from the first check to the jump
 * into the new firmware. The same code runs for `flash`, `flash --all` (one
 * session per device, each in its own thread) and `recover`, against real
 * devices (flash/usb.c) and against the device models of tests/sim.
 *
 *     struct dfu_dev dev;
 *     flash_session_dev(&dev, info, io);
 *     struct flash_outcome out;
 *     rc = flash_session_run(&plan, &opts, info, &dev, &hooks, &out, err, sizeof(err));
 *
 * The stages, in order, each finished for every image before the next:
 *   check    every image is mapped to one of the device's alt settings and,
 *            for DfuSe, its whole range to erasable, writeable memory; a read
 *            back (--verify, --skip-unchanged) needs bitCanUpload; nothing
 *            has been sent to the device yet
 *   read     --skip-unchanged: every image is read back first
 *   erase    DfuSe: the union of the pages of every image of an alt, each
 *            page once (--mass-erase: the whole chip instead)
 *   write    every image (the OpenMV bootloader erases as it writes)
 *   verify   --verify: every written image is read back and compared
 *   leave    DfuSe: jump to the plan's leave address; plain DFU: detach
 * so that two DfuSe images sharing an erase page both survive, and a file
 * one of whose images fits no memory is refused before anything is erased.
 *
 * Ctrl-C: when *opts->cancel becomes non-zero the session sends no further
 * DNLOAD or UPLOAD (the request in flight and the status polls that complete
 * it finish), brings the device back to dfuIDLE and returns OMV_EINTR with
 * the stage and step it stopped in.
 *
 * Ownership: everything is borrowed; the session allocates only scratch
 * memory it frees before returning. Hooks are called on the calling thread.
 */
#ifndef OMVDEV_FLASH_SESSION_H
#define OMVDEV_FLASH_SESSION_H

#include "lib/compat.h"

#include "flash/dfu.h"
#include "flash/plan.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct usb_device_info;

struct flash_session_opts {
    bool dfuse;          /* DfuSe addressing: the Arduino bootloader or the ST ROM */
    bool rom;            /* through the ST system bootloader */
    bool verify;         /* read every written image back */
    bool skip_unchanged; /* read first; leave out what the device already holds */
    bool mass_erase;     /* ST ROM: erase the whole chip instead of pages */
    bool no_reset;       /* stay in the bootloader */
    /* Non-zero (a signal number) stops the session at the next safe point;
     * NULL: never. */
    const volatile sig_atomic_t *cancel;
};

enum flash_stage {
    FLASH_STAGE_CHECK,
    FLASH_STAGE_MASS_ERASE,
    FLASH_STAGE_READ,
    FLASH_STAGE_ERASE,
    FLASH_STAGE_WRITE,
    FLASH_STAGE_VERIFY,
    FLASH_STAGE_LEAVE,
    FLASH_STAGE_DONE,
};

/* What one stage or image came to, for the hooks. */
struct flash_report {
    const char *label;             /* the image's label, or "erase", "verify", "mass erase" */
    const struct flash_step *step; /* the image, NULL for the other stages */
    const char *result;            /* "written", "partly written", "unchanged", "erased",
                                      "verified" */
    int alt;                       /* the device's alt setting it went through */
    uint64_t len;                  /* bytes of the image, or of the pages erased */
    uint64_t sent;                 /* bytes actually sent */
    int64_t ms;
};

struct flash_session_hooks {
    void *ud;
    void (*begin)(void *ud, const char *label); /* a step (an image or a stage) begins */
    void (*progress)(void *ud, const char *phase, uint64_t done, uint64_t total);
    void (*done)(void *ud, const struct flash_report *r);
    /* After a plain DFU detach: reset the USB port; 0, or a negative code when the device
     * is still there and could not be reset (NULL: no reset). */
    int (*reset)(void *ud);
};

enum flash_leave {
    FLASH_LEAVE_NONE,    /* not tried: --no-reset, or the session failed */
    FLASH_LEAVE_STARTED, /* the device left DFU mode to run the new code */
    FLASH_LEAVE_FAILED,  /* it answered the leave with an error: leave_err says which */
};

struct flash_outcome {
    enum flash_stage stage; /* where it stopped: FLASH_STAGE_DONE after success */
    const char *step;       /* label of the image it stopped in, NULL between images */
    bool touched;           /* something was erased or written */
    bool interrupted;       /* stopped by opts->cancel */
    bool erase_stalled;     /* ST ROM: a page erase failed in a state the ROM should not be */
    bool no_upload;         /* --verify/--skip-unchanged refused: the device cannot be read */
    size_t written, skipped;
    uint64_t sent;
    unsigned rev_v;                 /* STM32H7 Rev V erase stalls recovered */
    uint64_t step_done, step_total; /* progress of the phase it stopped in */
    enum flash_leave leave;
    uint32_t leave_address;
    char leave_err[320];
    bool state_known; /* state/status: the device's answer after a failure */
    uint8_t state, status;
};

/* Fill dev for a device usb_list() described, whose requests go through io
 * (the transfer size capped at 4096, the Linux usbfs limit). */
void flash_session_dev(struct dfu_dev *dev, const struct usb_device_info *info,
                       const struct dfu_io *io);

/*
 * Run the plan on one device. Returns 0 (also when only the leave failed:
 * out->leave says so), OMV_EUSAGE when the plan does not fit the device
 * (found in the check stage: nothing was sent), OMV_EINTR when cancelled,
 * OMV_EDEVICE when the device failed (or cannot be read back for --verify or
 * --skip-unchanged: out->no_upload). err names the image or stage.
 */
int flash_session_run(const struct flash_plan *plan, const struct flash_session_opts *opts,
                      const struct usb_device_info *info, struct dfu_dev *dev,
                      const struct flash_session_hooks *hooks, struct flash_outcome *out, char *err,
                      size_t errlen);

/* "check", "erase", "write", ... */
const char *flash_stage_name(enum flash_stage stage);

#endif
