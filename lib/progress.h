/*
 * A one-line progress display on stderr: only on a terminal, at most ten
 * redraws a second, each built in a buffer and written at once.
 *
 * Ownership: the struct is the caller's; it holds no resources.
 */
#ifndef OMVDEV_LIB_PROGRESS_H
#define OMVDEV_LIB_PROGRESS_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stdint.h>

struct progress {
    bool enabled;
    char label[48];
    int64_t start_ms, last_ms;
    bool drawn;
};

/* enabled: the caller decides (stderr is a TTY, not --quiet or --json). */
void progress_start(struct progress *p, bool enabled, const char *label);
void progress_update(struct progress *p, const char *phase, uint64_t done, uint64_t total);
/* Clear the line so the next message starts clean. */
void progress_end(struct progress *p);
int64_t progress_now_ms(void);

#endif
