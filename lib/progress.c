#include "lib/compat.h"
#include "lib/progress.h"

#include "lib/term.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t progress_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void progress_start(struct progress *p, bool enabled, const char *label)
{
    struct strbuf safe = STRBUF_INIT;

    memset(p, 0, sizeof(*p));
    p->enabled = enabled;
    /* The label may name a file or a device: shown escaped, like every message. */
    snprintf(p->label, sizeof(p->label), "%s", term_safe(&safe, label));
    strbuf_release(&safe);
    p->start_ms = progress_now_ms();
}

void progress_update(struct progress *p, const char *phase, uint64_t done, uint64_t total)
{
    int64_t now = progress_now_ms(), elapsed;
    char line[160];
    double rate;
    int n;

    if (!p->enabled || (now - p->last_ms < 100 && done < total))
        return;
    p->last_ms = now;
    elapsed = now - p->start_ms;
    rate = elapsed > 0 ? (double)done * 1000.0 / (double)elapsed : 0;
    n = snprintf(line, sizeof(line), "\r%-20s %-6s %3u%%  %6.1f KiB of %.1f KiB  %6.1f KiB/s",
                 p->label, phase, total ? (unsigned)(done * 100 / total) : 100, (double)done / 1024,
                 (double)total / 1024, rate / 1024);
    if (rate > 0 && done < total)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "  ETA %.0f s",
                      (double)(total - done) / rate);
    if (n > 0 && (size_t)n < sizeof(line) - 4) {
        memcpy(line + n, "\033[K", 3);
        n += 3;
    }
    if (write(2, line, (size_t)n) < 0)
        p->enabled = false;
    p->drawn = true;
}

void progress_end(struct progress *p)
{
    if (p->enabled && p->drawn && write(2, "\r\033[K", 4) < 0)
        p->enabled = false;
    p->drawn = false;
}
