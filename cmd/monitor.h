/*
 * The console session of `monitor`, for the commands that end in one:
 * `flash --monitor` (a camera that is coming up) and `emulate` (QEMU's pty).
 * Both print and return an exit status, as commands do.
 */
#ifndef OMVDEV_CMD_MONITOR_H
#define OMVDEV_CMD_MONITOR_H

#include "lib/compat.h"

#include <stdbool.h>

struct omv_ctx;

/* Wait up to wait_s for the camera (board `target`, `serial`; NULL: any) to run its
 * firmware, then be its console until the quit key or a signal. */
int monitor_camera(struct omv_ctx *ctx, const char *target, const char *serial, int wait_s);

/* Be the console `con` (taken over and closed) named `name`, until the quit key, a
 * signal, or alive(ud) returning false (the emulator behind it exited). */
struct console;
int monitor_console(struct omv_ctx *ctx, struct console *con, const char *name,
                    bool (*alive)(void *ud), void *ud);

#endif
