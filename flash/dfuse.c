/*
 * ST DfuSe (ST AN3156 and AN2662; dfu-util's src/dfuse.c): commands are DNLOAD wValue 0
 * (21 = SET_ADDRESS, 41 = ERASE, 41 alone = MASS ERASE); data is DNLOAD and
 * reads are UPLOAD with wValue 2, 3, ... after one SET_ADDRESS, block n at
 * (n - 2) * wTransferSize + the address pointer. Each command "is executed only
 * when a DFU_GETSTATUS request is issued" (AN2662): the first GETSTATUS
 * answers dfuDNBUSY (or, on quick devices, dfuDNLOAD-IDLE), the following
 * ones, sent after bwPollTimeout, dfuDNLOAD-IDLE.
 */
#include "lib/compat.h"
#include "flash/dfu.h"

#include "flash/dfuse_layout.h"
#include "flash/usb.h"
#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    REQ_DNLOAD = 1,
    REQ_UPLOAD = 2,
    REQ_GETSTATUS = 3,
    REQ_CLRSTATUS = 4,
    REQ_ABORT = 6,
};

#define TYPE_OUT 0x21
#define TYPE_IN  0xA1

#define CMD_SET_ADDRESS 0x21
#define CMD_ERASE       0x41

/* SET_ADDRESS moves a pointer: its bwPollTimeout is not waited for (dfu-util: "a
 * non-null bwPollTimeout for SET_ADDRESS seems a common bootloader bug"). */
#define SET_ADDRESS_CAP_MS 0
#define BUDGET_MS          30000 /* polls of one command or chunk */
#define MASS_ERASE_MS      60000
#define ERASE_STATUS_MS    20000  /* control timeout of GETSTATUS after an erase (pydfu's) */
#define ERASE_MAX_MIN_MS   500    /* the least time a page erase is given before it is stuck */
#define PIPE_RETRIES       3      /* STM32L4: GETSTATUS STALLs while busy */
#define VERIFY_BYTES       4096   /* read back after a rev V recovery */
#define FLASH_WORD         32     /* STM32H7: 256-bit flash words, programmed once */
#define BLOCK_WINDOW       0xFF00 /* blocks per SET_ADDRESS: wValue stays 16-bit */

enum cmd_kind { KIND_SET_ADDRESS, KIND_ERASE, KIND_MASS_ERASE, KIND_WRITE };

/*
 * The longest a healthy erase of one page may take: the maxima of ST's
 * datasheets (table "Flash memory programming", x32 parallelism, the ROM's)
 * for the sector sizes of the parts omvdev flashes through a ROM: 16 KiB
 * 500 ms (STM32F4, DS9484), 32 KiB 500 ms and 64 KiB/128 KiB 1.1 s
 * (STM32F4/F7, DS9484/DS11532), 128 KiB 2.2 s (STM32H743/H747, DS12110/
 * DS12930), 256 KiB 2 s (STM32F7). Other sizes scale from 2.2 s per
 * 128 KiB, at least ERASE_MAX_MIN_MS.
 */
static unsigned erase_max_ms(uint32_t page_size)
{
    static const struct {
        uint32_t size;
        unsigned ms;
    } table[] = {
        {16 * 1024, 500},   {32 * 1024, 500},   {64 * 1024, 1100},
        {128 * 1024, 2200}, {256 * 1024, 2200},
    };
    uint64_t ms;

    for (size_t i = 0; i < ARRAY_SIZE(table); i++)
        if (page_size <= table[i].size)
            return table[i].ms;
    ms = (uint64_t)page_size * 2200 / (128 * 1024);
    return ms > BUDGET_MS ? BUDGET_MS : ms < ERASE_MAX_MIN_MS ? ERASE_MAX_MIN_MS : (unsigned)ms;
}

/*
 * What the polls of one page erase found. An erase is declared stalled
 * (the STM32H7 Rev V ROM after erasing a bank-2 sector: it answers
 * (OK, dfuDNBUSY) for ever, while the sector is erased) when a GETSTATUS
 * sent at least limit_ms after the erase began still answers dfuDNBUSY:
 * a healthy erase is over by then, per the datasheet, and any answer after
 * that reports it done. The time counted is what the host slept, never more
 * than what passed, so the rule can only err late. On a device whose erases
 * are already known to stall from some page on, a page there is declared
 * stalled at the first dfuDNBUSY after its bwPollTimeout (fast): the stall
 * is certain there, and the read-back that follows the recovery waits for
 * the erase itself (a read of a flash bank being erased is held until the
 * erase is done).
 */
struct erase_history {
    bool stalls;   /* a page erase of this device stalled in dfuDNBUSY */
    uint32_t from; /* the first page that did: pages from there on stall as well */
};

struct erase_watch {
    const struct erase_history *history;
    uint32_t page, page_size;
    unsigned limit_ms;  /* the datasheet maximum, or the device's own poll timeout if longer */
    unsigned waited_ms; /* slept since the erase began */
    bool fast;          /* declared on a known-stalling page before limit_ms */
    bool stalled;
};

/* Is this dfuDNBUSY answer, after `waited` ms, a stall? */
static bool erase_stalled(const struct dfu_dev *d, struct erase_watch *w, unsigned first_poll)
{
    bool known =
        w->history->stalls && w->page >= w->history->from && (d->attributes & DFU_ATTR_CAN_UPLOAD);

    if (w->waited_ms >= w->limit_ms)
        return true;
    w->fast = known && w->waited_ms >= first_poll;
    return w->fast;
}

/*
 * Poll after a DNLOAD until the device is back in dfuDNLOAD-IDLE, sleeping
 * bwPollTimeout only while dfuDNBUSY (capped for SET_ADDRESS). For an ERASE
 * (w not NULL) a stall ends the polls with w->stalled set and 0 returned.
 */
static int poll_done(struct dfu_dev *d, enum cmd_kind kind, const char *what, struct erase_watch *w,
                     char *err, size_t errlen)
{
    unsigned tmo = dfu_timeout(d), budget = kind == KIND_MASS_ERASE ? MASS_ERASE_MS : BUDGET_MS;
    unsigned pipes = 0, first_poll;
    uint64_t spent = 0;
    struct dfu_status st;
    int rc;

    if (kind == KIND_MASS_ERASE && tmo < MASS_ERASE_MS)
        tmo = MASS_ERASE_MS;
    else if (kind == KIND_ERASE && tmo < ERASE_STATUS_MS)
        tmo = ERASE_STATUS_MS;
    rc = dfu_status_raw(d, &st, tmo);
    if (rc < 0)
        return dfu_fail_request(d, rc, what, err, errlen);
    if (st.status != 0 || st.state == DFU_STATE_ERROR)
        return dfu_fail_status(err, errlen, what, &st);
    if (st.state != DFU_STATE_DNBUSY && st.state != DFU_STATE_DNLOAD_IDLE)
        return omv_seterr(err, errlen, DFU_ERR_STATE,
                          "%s failed: the device answered state %s instead of dfuDNBUSY", what,
                          dfu_state_name(st.state));
    first_poll = st.poll_ms;
    if (w) {
        w->limit_ms = erase_max_ms(w->page_size);
        if (first_poll > w->limit_ms)
            w->limit_ms = first_poll < BUDGET_MS ? first_poll : BUDGET_MS;
    }
    while (st.state == DFU_STATE_DNBUSY) {
        unsigned wait = st.poll_ms;

        if (kind == KIND_SET_ADDRESS && wait > SET_ADDRESS_CAP_MS)
            wait = SET_ADDRESS_CAP_MS;
        /* An erase still busy is asked again right when its datasheet time is up. */
        if (w && w->waited_ms < w->limit_ms && wait > w->limit_ms - w->waited_ms)
            wait = w->limit_ms - w->waited_ms;
        dfu_nap(d, wait);
        spent += wait ? wait : 1; /* every poll costs at least a USB frame */
        if (w)
            w->waited_ms = (unsigned)spent;
        if (spent > budget)
            return omv_seterr(err, errlen, USB_ERR_TIMEOUT,
                              "%s failed: the device stayed busy for more than %u s", what,
                              budget / 1000);
        rc = dfu_status_raw(d, &st, tmo);
        if (rc == USB_ERR_PIPE && pipes < PIPE_RETRIES) {
            pipes++;
            st.state = DFU_STATE_DNBUSY;
            continue;
        }
        if (rc < 0)
            return dfu_fail_io(err, errlen, rc, what);
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
            return dfu_fail_status(err, errlen, what, &st);
        if (w && st.state == DFU_STATE_DNBUSY && erase_stalled(d, w, first_poll)) {
            w->stalled = true;
            return 0;
        }
    }
    if (st.state != DFU_STATE_DNLOAD_IDLE)
        return omv_seterr(err, errlen, DFU_ERR_STATE,
                          "%s failed: the device went to state %s instead of dfuDNLOAD-IDLE", what,
                          dfu_state_name(st.state));
    return 0;
}

/* DNLOAD wValue 0 with a command, then its polls. */
static int command(struct dfu_dev *d, enum cmd_kind kind, uint8_t cmd, const uint32_t *addr,
                   const char *what, struct erase_watch *w, char *err, size_t errlen)
{
    uint8_t b[5] = {cmd, 0, 0, 0, 0};
    uint16_t len = 1;
    int rc;

    if (addr) {
        b[1] = (uint8_t)(*addr & 0xFF);
        b[2] = (uint8_t)(*addr >> 8 & 0xFF);
        b[3] = (uint8_t)(*addr >> 16 & 0xFF);
        b[4] = (uint8_t)(*addr >> 24 & 0xFF);
        len = 5;
    }
    rc = dfu_request(d, TYPE_OUT, REQ_DNLOAD, 0, b, len, dfu_timeout(d));
    if (rc < 0)
        return dfu_fail_request(d, rc, what, err, errlen);
    return poll_done(d, kind, what, w, err, errlen);
}

static int set_address(struct dfu_dev *d, uint32_t addr, char *err, size_t errlen)
{
    char what[64];

    snprintf(what, sizeof(what), "setting the address 0x%08lX", (unsigned long)addr);
    return command(d, KIND_SET_ADDRESS, CMD_SET_ADDRESS, &addr, what, NULL, err, errlen);
}

/* ABORT, then dfuIDLE is required (dfu-util's dfu_abort_to_idle). */
static int abort_to_idle(struct dfu_dev *d, char *err, size_t errlen)
{
    struct dfu_status st;
    int rc = dfu_request(d, TYPE_OUT, REQ_ABORT, 0, NULL, 0, dfu_timeout(d));

    if (rc < 0)
        return dfu_fail_request(d, rc, "ABORT to dfuIDLE", err, errlen);
    rc = dfu_status_raw(d, &st, dfu_timeout(d));
    if (rc < 0)
        return dfu_fail_io(err, errlen, rc, "ABORT to dfuIDLE");
    if (st.status != 0)
        return dfu_fail_status(err, errlen, "ABORT to dfuIDLE", &st);
    if (st.state != DFU_STATE_IDLE)
        return omv_seterr(err, errlen, DFU_ERR_STATE,
                          "ABORT to dfuIDLE failed: the device stays in state %s",
                          dfu_state_name(st.state));
    return 0;
}

int dfuse_read(struct dfu_dev *d, uint32_t addr, uint8_t *buf, size_t len,
               const struct dfu_progress *p, char *err, size_t errlen)
{
    size_t xfer = d->transfer_size, done = 0;
    /* Blocks after the first count in the device's own wTransferSize: when the
     * host reads less at a time, one block per SET_ADDRESS. */
    unsigned window = xfer == d->device_transfer_size ? BLOCK_WINDOW : 3;
    char what[64];
    int rc;

    if (!len)
        return 0;
    rc = dfu_check_upload(d, NULL, err, errlen);
    if (rc < 0)
        return rc;
    if (!xfer)
        return omv_seterr(err, errlen, OMV_EINVAL, "the device's transfer size is 0");
    if ((uint64_t)addr + len > 0x100000000ull)
        return omv_seterr(err, errlen, OMV_EINVAL, "a read of %zu bytes at 0x%08lX runs past 4 GiB",
                          len, (unsigned long)addr);
    rc = dfu_normalise(d, err, errlen);
    if (rc < 0)
        return rc;
    dfu_report(p, "read", 0, len);
    while (done < len) {
        /* A SET_ADDRESS is a DNLOAD: refused in dfuUPLOAD-IDLE. */
        if (done) {
            rc = abort_to_idle(d, err, errlen);
            if (rc < 0)
                return rc;
        }
        /* UPLOAD reads at (wValue - 2) * wTransferSize + the address pointer. */
        rc = set_address(d, (uint32_t)(addr + done), err, errlen);
        if (rc < 0)
            return rc;
        rc = abort_to_idle(d, err, errlen);
        if (rc < 0)
            return rc;
        for (unsigned block = 2; block < window && done < len; block++) {
            size_t n = len - done < xfer ? len - done : xfer;

            snprintf(what, sizeof(what), "read at 0x%08lX", (unsigned long)(addr + done));
            rc = dfu_request(d, TYPE_IN, REQ_UPLOAD, (uint16_t)block, buf + done, (uint16_t)n,
                             dfu_timeout(d));
            if (rc < 0)
                return dfu_fail_request(d, rc, what, err, errlen);
            if ((size_t)rc < n)
                return omv_seterr(err, errlen, OMV_EINVAL,
                                  "%s failed: the device returned %d of %zu bytes (past the end "
                                  "of its memory?)",
                                  what, rc, n);
            done += n;
            dfu_report(p, "read", done, len);
        }
    }
    return abort_to_idle(d, err, errlen);
}

/* Does the page read back erased (0xFF) in its first bytes? */
static int read_erased(struct dfu_dev *d, uint32_t page, size_t n, bool *erased, uint32_t *bad,
                       char *err, size_t errlen)
{
    uint8_t *buf = xmalloc(n);
    int rc = dfuse_read(d, page, buf, n, NULL, err, errlen);

    *erased = true;
    for (size_t i = 0; rc == 0 && i < n && *erased; i++) {
        if (buf[i] != 0xFF) {
            *erased = false;
            *bad = (uint32_t)i;
        }
    }
    free(buf);
    return rc;
}

/*
 * End a stalled erase as STM32CubeProgrammer (2.2.1 and later) does: the
 * STM32H743 rev V ROM answers every GETSTATUS after a sector erase in flash
 * bank 2 (0x08100000 and up) with dfuDNBUSY, forever (see
 * betaflight-configurator pull request 1861). The sequence is
 * CLRSTATUS (errUNKNOWN, dfuERROR), CLRSTATUS (OK, dfuIDLE). Then read the
 * page's first bytes back: the read waits for the erase if it is still
 * running, and they must be 0xFF. A page declared stalled early (w->fast)
 * that does not read erased is given the rest of its datasheet time and read
 * again. Without bitCanUpload there is no read-back; only pages that waited
 * their full datasheet time get here then.
 */
static int recover_stall(struct dfu_dev *d, struct erase_watch *w, char *err, size_t errlen)
{
    size_t n = w->page_size < VERIFY_BYTES ? w->page_size : VERIFY_BYTES;
    uint32_t bad = 0;
    bool erased = false;
    struct dfu_status st;
    char what[96];
    int rc;

    snprintf(what, sizeof(what), "recovering the stalled erase of the page at 0x%08lX",
             (unsigned long)w->page);
    for (int i = 0; i < 2; i++) {
        /* A ROM that STALLs CLRSTATUS outside dfuERROR is in dfuERROR after it. */
        rc = dfu_request(d, TYPE_OUT, REQ_CLRSTATUS, 0, NULL, 0, dfu_timeout(d));
        if (rc < 0 && rc != USB_ERR_PIPE)
            return dfu_fail_io(err, errlen, rc, what);
        rc = dfu_status_raw(d, &st, dfu_timeout(d));
        if (rc < 0 && rc != USB_ERR_PIPE)
            return dfu_fail_io(err, errlen, rc, what);
    }
    rc = dfu_normalise(d, err, errlen);
    if (rc < 0 || !(d->attributes & DFU_ATTR_CAN_UPLOAD))
        return rc;
    rc = read_erased(d, w->page, n, &erased, &bad, err, errlen);
    if (rc == 0 && !erased && w->fast && w->waited_ms < w->limit_ms) {
        dfu_nap(d, w->limit_ms - w->waited_ms);
        rc = read_erased(d, w->page, n, &erased, &bad, err, errlen);
    }
    if (rc == 0 && !erased)
        rc = omv_seterr(err, errlen, DFU_ERR_STATE,
                        "erase of the page at 0x%08lX failed: the device stalled in dfuDNBUSY "
                        "and the page is not erased (byte at 0x%08lX is not 0xFF)",
                        (unsigned long)w->page, (unsigned long)(w->page + bad));
    return rc;
}

/* ERASE one page; a stall is recovered, remembered in *h and counted in *recoveries. */
static int erase_page(struct dfu_dev *d, uint32_t page, uint32_t page_size, struct erase_history *h,
                      unsigned *recoveries, char *err, size_t errlen)
{
    struct erase_watch w = {h, page, page_size, 0, 0, false, false};
    char what[96];
    int rc;

    snprintf(what, sizeof(what), "erase of the page at 0x%08lX", (unsigned long)page);
    rc = command(d, KIND_ERASE, CMD_ERASE, &page, what, &w, err, errlen);
    if (rc < 0 || !w.stalled)
        return rc;
    rc = recover_stall(d, &w, err, errlen);
    if (rc < 0)
        return rc;
    if (!h->stalls || page < h->from) {
        h->stalls = true;
        h->from = page;
    }
    if (recoveries)
        (*recoveries)++;
    return 0;
}

/*
 * How far to pad the image's tail with 0xFF: to the next 32-byte flash word
 * (STM32H7 programs 256-bit words once per erase), but only when the last
 * page is erasable and holds the padding - erased bytes written as 0xFF
 * change nothing on any flash, while option bytes and the like are left alone.
 */
static size_t padded_len(const struct dfuse_layout *l, uint32_t addr, size_t len)
{
    uint64_t end = (uint64_t)addr + len, pend = (end + FLASH_WORD - 1) / FLASH_WORD * FLASH_WORD;
    const struct dfuse_segment *seg = dfuse_layout_find(l, (uint32_t)(end - 1));
    uint64_t page_end;

    if (!seg || !(seg->flags & DFUSE_SEG_ERASABLE) || seg->page_size % FLASH_WORD)
        return len;
    page_end = seg->start + ((end - 1 - seg->start) / seg->page_size + 1) * seg->page_size;
    return pend <= page_end ? (size_t)(pend - addr) : len;
}

int dfuse_erase(struct dfu_dev *d, const struct dfuse_layout *layout, const uint32_t *pages,
                size_t nr, unsigned *rev_v_recoveries, const struct dfu_progress *p, char *err,
                size_t errlen)
{
    struct erase_history history = {false, 0};
    uint64_t erase_total = 0, erase_done = 0;
    int rc;

    if (rev_v_recoveries)
        *rev_v_recoveries = 0;
    for (size_t i = 0; i < nr; i++) {
        const struct dfuse_segment *seg = dfuse_layout_find(layout, pages[i]);

        if (!seg || !(seg->flags & DFUSE_SEG_ERASABLE))
            return omv_seterr(err, errlen, OMV_EINVAL, "0x%08lX is not in an erasable page of '%s'",
                              (unsigned long)pages[i], layout->name ? layout->name : "");
        erase_total += seg->page_size;
    }
    if (!nr)
        return 0;
    rc = dfu_normalise(d, err, errlen);
    if (rc < 0)
        return rc;
    dfu_report(p, "erase", 0, erase_total);
    for (size_t i = 0; i < nr; i++) {
        uint32_t page_size = dfuse_layout_find(layout, pages[i])->page_size;

        rc = erase_page(d, pages[i], page_size, &history, rev_v_recoveries, err, errlen);
        if (rc < 0)
            return rc;
        erase_done += page_size;
        dfu_report(p, "erase", erase_done, erase_total);
    }
    return 0;
}

/*
 * Program pages that are already erased: DNLOAD wValue 2, 3, ... after one
 * SET_ADDRESS, the device writing block n at (n - 2) * wTransferSize + the
 * address pointer (AN3156, "Write memory"). A chunk then costs its DNLOAD and
 * the two GETSTATUS that run it, where a SET_ADDRESS per chunk (dfu-util's
 * way) doubles the control transfers, each a millisecond or more on a
 * full-speed bus. The formula holds only for chunks of the device's own
 * wTransferSize: where that is not a whole number of flash words, or the
 * host sends less (a descriptor over the 4 KiB usbfs limit, or none), every
 * chunk gets its own SET_ADDRESS and wValue 2 ("no address offset").
 */
static int program(struct dfu_dev *d, const struct dfuse_layout *layout, uint32_t addr,
                   const uint8_t *data, size_t len, const struct dfu_progress *p, char *err,
                   size_t errlen)
{
    size_t chunk = d->transfer_size, plen, off;
    unsigned block = BLOCK_WINDOW;
    bool address_each;
    uint8_t *buf;
    char what[96];
    int rc = 0;

    if (chunk >= FLASH_WORD)
        chunk = chunk / FLASH_WORD * FLASH_WORD; /* every chunk starts on a flash word */
    address_each = chunk != d->device_transfer_size;
    plen = padded_len(layout, addr, len);
    buf = xmalloc(chunk);
    dfu_report(p, "write", 0, len);
    for (off = 0; off < plen; block++) {
        size_t n = plen - off < chunk ? plen - off : chunk;
        size_t have = off < len ? (len - off < n ? len - off : n) : 0;
        uint32_t a = (uint32_t)(addr + off);

        memcpy(buf, data + off, have);
        memset(buf + have, 0xFF, n - have);
        if (address_each || block >= BLOCK_WINDOW) {
            rc = set_address(d, a, err, errlen);
            if (rc < 0)
                goto out;
            block = 2;
        }
        snprintf(what, sizeof(what), "write at 0x%08lX", (unsigned long)a);
        rc =
            dfu_request(d, TYPE_OUT, REQ_DNLOAD, (uint16_t)block, buf, (uint16_t)n, dfu_timeout(d));
        if (rc < 0) {
            rc = dfu_fail_request(d, rc, what, err, errlen);
            goto out;
        }
        rc = poll_done(d, KIND_WRITE, what, NULL, err, errlen);
        if (rc < 0)
            goto out;
        off += n;
        dfu_report(p, "write", off < len ? off : len, len);
    }
    rc = abort_to_idle(d, err, errlen);
out:
    free(buf);
    return rc < 0 ? rc : 0;
}

int dfuse_write(struct dfu_dev *d, const struct dfuse_layout *layout, uint32_t addr,
                const uint8_t *data, size_t len, bool skip_erase, unsigned *rev_v_recoveries,
                const struct dfu_progress *p, char *err, size_t errlen)
{
    uint32_t *pages = NULL;
    size_t nr = 0;
    int rc;

    if (rev_v_recoveries)
        *rev_v_recoveries = 0;
    if (!len)
        return 0;
    if (!d->transfer_size)
        return omv_seterr(err, errlen, OMV_EINVAL, "the device's transfer size is 0");
    if ((uint64_t)addr + len > 0x100000000ull)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "an image of %zu bytes at 0x%08lX runs past 4 GiB", len,
                          (unsigned long)addr);
    if (skip_erase)
        rc = dfuse_layout_check_range(layout, addr, len, DFUSE_SEG_WRITEABLE, err, errlen);
    else
        rc = dfuse_layout_erase_pages(layout, addr, len, &pages, &nr, err, errlen);
    if (rc < 0)
        return rc;
    rc = dfu_normalise(d, err, errlen);
    if (rc == 0)
        rc = dfuse_erase(d, layout, pages, nr, rev_v_recoveries, p, err, errlen);
    if (rc == 0)
        rc = program(d, layout, addr, data, len, p, err, errlen);
    free(pages);
    return rc < 0 ? rc : 0;
}

int dfuse_mass_erase(struct dfu_dev *d, char *err, size_t errlen)
{
    int rc = dfu_normalise(d, err, errlen);

    if (rc < 0)
        return rc;
    rc = command(d, KIND_MASS_ERASE, CMD_ERASE, NULL, "mass erase", NULL, err, errlen);
    if (rc < 0)
        return rc;
    return abort_to_idle(d, err, errlen);
}

static bool left(int rc)
{
    return rc == USB_ERR_NODEV || rc == USB_ERR_IO || rc == USB_ERR_PIPE || rc == USB_ERR_TIMEOUT;
}

/*
 * AN2662: the leave "is effectively executed only when a DFU_GETSTATUS
 * request is issued"; the answer is dfuMANIFEST and the device resets,
 * often before answering at all.
 */
int dfuse_leave(struct dfu_dev *d, uint32_t addr, char *err, size_t errlen)
{
    struct dfu_status st;
    int rc = dfu_normalise(d, err, errlen);

    if (rc < 0)
        return rc;
    rc = set_address(d, addr, err, errlen);
    if (rc < 0)
        return rc;
    rc = dfu_request(d, TYPE_OUT, REQ_DNLOAD, 0, NULL, 0, dfu_timeout(d));
    if (rc < 0)
        return left(rc) ? 0 : dfu_fail_io(err, errlen, rc, "leaving DFU mode");
    for (int i = 0; i < 5; i++) {
        rc = dfu_status_raw(d, &st, dfu_timeout(d));
        if (rc < 0)
            return left(rc) ? 0 : dfu_fail_io(err, errlen, rc, "leaving DFU mode");
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
            return dfu_fail_status(err, errlen, "leaving DFU mode", &st);
        if (st.state == DFU_STATE_MANIFEST || st.state == DFU_STATE_MANIFEST_WAIT_RESET)
            return 0;
        if (st.state != DFU_STATE_MANIFEST_SYNC && st.state != DFU_STATE_DNBUSY)
            break;
        dfu_nap(d, st.poll_ms < 1000 ? st.poll_ms : 1000);
    }
    return omv_seterr(err, errlen, DFU_ERR_STATE,
                      "leaving DFU mode failed: the device answered state %s instead of "
                      "dfuMANIFEST",
                      dfu_state_name(st.state));
}
