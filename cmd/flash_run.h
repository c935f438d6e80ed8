/*
 * `omvdev flash` inside cmd/: what its three files share. cmd/flash.c reads
 * the options, builds the plan, finds the devices and runs one flash session
 * per device; cmd/flash_show.c is everything the user sees of that (progress
 * bar, per-device board, --json events, notes, the summary and the failure
 * reports); cmd/flash_tool.c runs bossac or picotool for the boards that are
 * not DFU devices.
 *
 * Ownership: a flash_run owns its jobs array; everything else is borrowed.
 * The jobs' display fields are shared between threads under run->lock.
 */
#ifndef OMVDEV_CMD_FLASH_RUN_H
#define OMVDEV_CMD_FLASH_RUN_H

#include "lib/compat.h"
#include "cmd/cmd.h"

#include "flash/plan.h"
#include "flash/session.h"
#include "lib/progress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct usb_ctx;
struct usb_dfu;
struct usb_device_info;

/* How progress is shown: decided once, from the terminal and the options. */
enum show {
    SHOW_NONE,  /* -q, or not a terminal without -v */
    SHOW_BAR,   /* one device on a terminal: lib/progress */
    SHOW_BOARD, /* several devices on a terminal: a line each, redrawn */
    SHOW_LINES, /* not a terminal, -v: a line per device and phase at each 10 % */
    SHOW_JSON,  /* --json: newline-delimited events on stdout */
};

struct flash_job;

/* The options of one `omvdev flash`, read once by read_options(). */
struct flash_options {
    const char *target, *serial;
    struct flash_plan_opts plan; /* --firmware, --romfs, --file, --alt, --address, --erase-fs */
    uint64_t wait_s;
    bool wait_given; /* --wait on the command line, not from the default or config */
    bool all, verify, skip_unchanged, mass_erase, no_reset, dry_run, swd;
    bool monitor; /* --monitor: the console of the camera once its new firmware is up */
};

/* One `omvdev flash`: what every device gets. */
struct flash_run {
    struct omv_ctx *ctx;
    const struct flash_options *opt;
    const struct target *t;
    const struct flash_plan *plan;
    struct flash_session_opts sopts;
    struct usb_ctx *u;
    struct usb_id usb; /* the DFU device: the board's bootloader or the ST ROM */
    bool rom;          /* through the ST system bootloader */
    enum show show;
    pthread_mutex_t lock; /* the display and stdout/stderr, shared by the jobs */
    struct progress bar;
    struct flash_job *jobs;
    size_t nr_jobs;
    int64_t drawn_ms;
    bool board_drawn;
    int signal; /* SIGINT or SIGTERM when the user stopped the run, else 0 */
};

/* One device being flashed, by its own thread under --all. */
struct flash_job {
    struct flash_run *r;
    const struct usb_device_info *d;
    char name[64];     /* serial, else the USB port */
    struct usb_ctx *u; /* its own context under --all, else NULL */
    struct usb_dfu *h;
    pthread_t thread;
    /* progress, under r->lock */
    const char *step, *phase;
    uint64_t done, total;
    int64_t phase_ms, event_ms;
    int tenth;
    /* outcome */
    int open_rc; /* 0 or the USB_ERR_* / omv_err code of opening the device */
    int code;    /* 0 or the omv_err of the failure: OMV_EUSAGE, OMV_EDEVICE, OMV_EINTR */
    int status;  /* the exit status it calls for: OMV_EXIT_* */
    char err[640];
    struct flash_outcome out;
    int64_t start_ms, end_ms;
};

/* ---- cmd/flash_show.c ------------------------------------------------------------ */

enum show flash_choose_show(const struct omv_ctx *ctx, size_t nr_jobs);
/* Redraw the lines of every device (SHOW_BOARD); the caller holds no lock. */
void flash_board_draw(struct flash_run *r, bool force);
/* The session's hooks for a job (ud: the job). */
extern const struct flash_session_hooks flash_show_hooks;
void flash_job_say(struct flash_job *j, const char *fmt, ...) OMV_PRINTF(2, 3);
void flash_print_plan(const struct flash_run *r);
void flash_print_summary(struct flash_run *r);
/* The error, state and hint of a job that failed or did not start its firmware. */
void flash_report_failure(struct flash_run *r, const struct flash_job *j);

/* ---- cmd/flash_tool.c ------------------------------------------------------------ */

/* Flash a board that is not a DFU device (bossac, picotool); the exit status. */
int flash_with_tool(struct omv_ctx *ctx, struct omv_invocation *inv, const struct flash_options *fo,
                    const struct target *t, const char *bin_dir);

#endif
