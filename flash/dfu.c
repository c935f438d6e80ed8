/*
 * Plain USB DFU 1.1 (dfu-protocol.md §1, §7): state names, GETSTATUS, the
 * return to dfuIDLE, download with manifestation, upload and DETACH.
 */
#include "lib/compat.h"
#include "flash/dfu.h"

#include "flash/usb.h"
#include "lib/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    REQ_DETACH = 0,
    REQ_DNLOAD = 1,
    REQ_UPLOAD = 2,
    REQ_GETSTATUS = 3,
    REQ_CLRSTATUS = 4,
    REQ_ABORT = 6,
};

#define TYPE_OUT 0x21 /* host to device, class, interface */
#define TYPE_IN  0xA1

#define DEFAULT_TIMEOUT_MS 5000
#define NORMALISE_ROUNDS   5
#define WRITE_BUDGET_MS    30000 /* polls of one block, or of manifestation */
#define NORMALISE_BUSY_MS  2200  /* the longest healthy page erase (STM32H7, 128 KiB, x32) */

static const char *const state_names[] = {
    "appIDLE",        "appDETACH",        "dfuIDLE",     "dfuDNLOAD-SYNC",         "dfuDNBUSY",
    "dfuDNLOAD-IDLE", "dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET", "dfuUPLOAD-IDLE",
    "dfuERROR",
};

struct status_desc {
    const char *name, *text;
};

/* dfu-util's texts, lowercase (dfu-protocol.md §1.2). */
static const struct status_desc statuses[] = {
    {"OK", "no error condition is present"},
    {"errTARGET", "file is not targeted for use by this device"},
    {"errFILE", "file is for this device but fails some vendor-specific test"},
    {"errWRITE", "device is unable to write memory"},
    {"errERASE", "memory erase function failed"},
    {"errCHECK_ERASED", "memory erase check failed"},
    {"errPROG", "program memory function failed"},
    {"errVERIFY", "programmed memory failed verification"},
    {"errADDRESS", "cannot program memory due to received address that is out of range"},
    {"errNOTDONE", "received zero-length download but the device does not think it has all data"},
    {"errFIRMWARE", "device's firmware is corrupt, it cannot return to run-time operations"},
    {"errVENDOR", "vendor-specific error"},
    {"errUSBR", "device detected unexpected USB reset signaling"},
    {"errPOR", "device detected unexpected power on reset"},
    {"errUNKNOWN", "something went wrong, but the device does not know what it was"},
    {"errSTALLEDPKT", "device stalled an unexpected request"},
};

const char *dfu_state_name(uint8_t state)
{
    return state < ARRAY_SIZE(state_names) ? state_names[state] : "an unknown state";
}

const char *dfu_status_name(uint8_t status)
{
    return status < ARRAY_SIZE(statuses) ? statuses[status].name : "an unknown status";
}

const char *dfu_status_text(uint8_t status)
{
    return status < ARRAY_SIZE(statuses) ? statuses[status].text : "not defined by DFU 1.1";
}

/* ---- shared with flash/dfuse.c ----------------------------------------------------- */

unsigned dfu_timeout(const struct dfu_dev *d)
{
    return d->timeout_ms ? d->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int dfu_request(struct dfu_dev *d, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
                uint16_t len, unsigned timeout_ms)
{
    return d->io.control(d->io.ctx, type, req, value, d->intf, data, len, timeout_ms);
}

void dfu_nap(struct dfu_dev *d, unsigned ms)
{
    if (ms && d->io.sleep_ms)
        d->io.sleep_ms(d->io.ctx, ms);
}

void dfu_report(const struct dfu_progress *p, const char *phase, uint64_t done, uint64_t total)
{
    if (p && p->fn)
        p->fn(p->ud, phase, done, total);
}

int dfu_status_raw(struct dfu_dev *d, struct dfu_status *st, unsigned timeout_ms)
{
    uint8_t b[6];
    int rc = dfu_request(d, TYPE_IN, REQ_GETSTATUS, 0, b, sizeof(b), timeout_ms);

    if (rc < 0)
        return rc;
    if (rc != (int)sizeof(b))
        return USB_ERR_OTHER;
    st->status = b[0];
    st->poll_ms = (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16;
    st->state = b[4];
    st->istring = b[5];
    return 0;
}

int dfu_fail_io(char *err, size_t errlen, int rc, const char *what)
{
    if (rc == USB_ERR_OTHER)
        return omv_seterr(err, errlen, rc, "%s failed: the device sent a malformed reply", what);
    return omv_seterr(err, errlen, rc, "%s failed: %s", what, usb_strerror(rc));
}

int dfu_fail_status(char *err, size_t errlen, const char *what, const struct dfu_status *st)
{
    return omv_seterr(
        err, errlen, DFU_ERR_STATUS, "%s failed: the device reports %s (%s) in state %s", what,
        dfu_status_name(st->status), dfu_status_text(st->status), dfu_state_name(st->state));
}

/*
 * A request failed. After a STALL the device usually holds the reason in
 * bStatus (DFU 1.1: dfuERROR with errSTALLEDPKT, or errTARGET, ...): ask.
 */
int dfu_fail_request(struct dfu_dev *d, int rc, const char *what, char *err, size_t errlen)
{
    struct dfu_status st;

    if (rc == USB_ERR_PIPE && dfu_status_raw(d, &st, dfu_timeout(d)) == 0 && st.status != 0)
        return dfu_fail_status(err, errlen, what, &st);
    return dfu_fail_io(err, errlen, rc, what);
}

/* This file's requests use the device's own control timeout. */
static int request(struct dfu_dev *d, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
                   uint16_t len)
{
    return dfu_request(d, type, req, value, data, len, dfu_timeout(d));
}

static int get_status(struct dfu_dev *d, struct dfu_status *st)
{
    return dfu_status_raw(d, st, dfu_timeout(d));
}

int dfu_get_status(struct dfu_dev *d, struct dfu_status *st, char *err, size_t errlen)
{
    int rc = get_status(d, st);

    return rc < 0 ? dfu_fail_io(err, errlen, rc, "GETSTATUS") : 0;
}

int dfu_check_upload(const struct dfu_dev *d, const char *why, char *err, size_t errlen)
{
    if (d->attributes & DFU_ATTR_CAN_UPLOAD)
        return 0;
    if (!why)
        return omv_seterr(err, errlen, OMV_EDEVICE,
                          "cannot read the device's memory back: the device does not allow it "
                          "(bitCanUpload is 0 in its DFU functional descriptor)");
    return omv_seterr(err, errlen, OMV_EDEVICE,
                      "%s needs to read the device's memory back, but the device does not "
                      "allow it (bitCanUpload is 0 in its DFU functional descriptor)",
                      why);
}

int dfu_normalise(struct dfu_dev *d, char *err, size_t errlen)
{
    struct dfu_status st = {0, 0, 0, 0};
    unsigned busy_ms = 0;
    int rc;

    for (int round = 0;; round++) {
        uint8_t req;

        rc = get_status(d, &st);
        if (rc < 0)
            return dfu_fail_io(err, errlen, rc, "reading the device's state (GETSTATUS)");
        if (st.state == DFU_STATE_IDLE && st.status == 0)
            return 0;
        if (round == NORMALISE_ROUNDS)
            break;
        switch (st.state) {
        case DFU_STATE_APP_IDLE:
        case DFU_STATE_APP_DETACH:
            return omv_seterr(err, errlen, DFU_ERR_STATE,
                              "the device is in state '%s': it runs its application, not DFU",
                              dfu_state_name(st.state));
        case DFU_STATE_ERROR:
        case DFU_STATE_IDLE: /* with a status other than OK */
            req = REQ_CLRSTATUS;
            break;
        case DFU_STATE_DNLOAD_SYNC:
        case DFU_STATE_DNLOAD_IDLE:
        case DFU_STATE_MANIFEST_SYNC:
        case DFU_STATE_UPLOAD_IDLE:
            req = REQ_ABORT;
            break;
        case DFU_STATE_DNBUSY:
        case DFU_STATE_MANIFEST:
            /* Work left running (an interrupted erase) is given the longest a
             * healthy page erase takes, polling as the device asks; still busy
             * after that, it is stuck (an STM32H7 rev V erase): CLRSTATUS. */
            if (busy_ms < NORMALISE_BUSY_MS) {
                unsigned nap = st.poll_ms ? st.poll_ms : 1;

                dfu_nap(d, nap);
                busy_ms += nap;
                round--; /* waiting is not an attempt */
                continue;
            }
            req = REQ_CLRSTATUS;
            break;
        default:
            return omv_seterr(err, errlen, DFU_ERR_STATE,
                              "the device is in state '%s' and cannot return to dfuIDLE without "
                              "a reset",
                              dfu_state_name(st.state));
        }
        rc = request(d, TYPE_OUT, req, 0, NULL, 0);
        /* A STALL is an answer too: the next GETSTATUS shows where the device is. */
        if (rc < 0 && rc != USB_ERR_PIPE)
            return dfu_fail_io(err, errlen, rc,
                               req == REQ_ABORT ? "ABORT to dfuIDLE" : "CLRSTATUS to dfuIDLE");
    }
    return omv_seterr(err, errlen, DFU_ERR_STATE,
                      "cannot bring the device back to dfuIDLE: it stays in state '%s' with "
                      "status %s after %d attempts",
                      dfu_state_name(st.state), dfu_status_name(st.status), NORMALISE_ROUNDS);
}

/* Poll after a data block until dfuDNLOAD-IDLE, sleeping bwPollTimeout only while dfuDNBUSY. */
static int wait_block(struct dfu_dev *d, const char *what, char *err, size_t errlen)
{
    struct dfu_status st;
    uint64_t spent = 0;
    int rc;

    for (;;) {
        rc = get_status(d, &st);
        if (rc < 0)
            return dfu_fail_io(err, errlen, rc, what);
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
            return dfu_fail_status(err, errlen, what, &st);
        if (st.state == DFU_STATE_DNLOAD_IDLE)
            return 0;
        if (st.state != DFU_STATE_DNBUSY && st.state != DFU_STATE_DNLOAD_SYNC)
            return omv_seterr(err, errlen, DFU_ERR_STATE,
                              "%s failed: the device went to state %s instead of dfuDNLOAD-IDLE",
                              what, dfu_state_name(st.state));
        if (st.state == DFU_STATE_DNBUSY)
            dfu_nap(d, st.poll_ms);
        /* Every poll costs at least a USB frame. */
        spent += st.state == DFU_STATE_DNBUSY && st.poll_ms ? st.poll_ms : 1;
        if (spent > WRITE_BUDGET_MS)
            return omv_seterr(err, errlen, USB_ERR_TIMEOUT,
                              "%s failed: the device stayed busy for more than %d s", what,
                              WRITE_BUDGET_MS / 1000);
    }
}

static bool went_away(int rc)
{
    return rc == USB_ERR_NODEV || rc == USB_ERR_IO || rc == USB_ERR_PIPE;
}

/*
 * After the zero-length block. A manifestation-tolerant device returns to
 * dfuIDLE; one that is not reaches dfuMANIFEST or dfuMANIFEST-WAIT-RESET
 * and may reset itself at any moment, so losing it then is success.
 */
static int manifest(struct dfu_dev *d, char *err, size_t errlen)
{
    bool tolerant = d->attributes & DFU_ATTR_MANIFESTATION_TOLERANT;
    const char *what = "manifestation (after the last block)";
    struct dfu_status st;
    uint64_t spent = 0;
    int rc;

    for (;;) {
        rc = get_status(d, &st);
        if (rc < 0 && !tolerant && went_away(rc))
            return 0;
        if (rc < 0)
            return dfu_fail_io(err, errlen, rc, what);
        if (st.status != 0 || st.state == DFU_STATE_ERROR)
            return dfu_fail_status(err, errlen, what, &st);
        switch (st.state) {
        case DFU_STATE_IDLE:
        case DFU_STATE_MANIFEST_WAIT_RESET:
            return 0;
        case DFU_STATE_MANIFEST:
            if (!tolerant)
                return 0;
            break;
        case DFU_STATE_MANIFEST_SYNC:
            break;
        default:
            return omv_seterr(err, errlen, DFU_ERR_STATE, "%s failed: the device went to state %s",
                              what, dfu_state_name(st.state));
        }
        dfu_nap(d, st.poll_ms);
        spent += st.poll_ms ? st.poll_ms : 1;
        if (spent > WRITE_BUDGET_MS)
            return omv_seterr(err, errlen, USB_ERR_TIMEOUT,
                              "%s failed: the device did not finish within %d s", what,
                              WRITE_BUDGET_MS / 1000);
    }
}

int dfu_download(struct dfu_dev *d, const uint8_t *data, size_t len, const struct dfu_progress *p,
                 char *err, size_t errlen)
{
    return dfu_download_blocks(d, data, len, NULL, p, err, errlen);
}

int dfu_download_blocks(struct dfu_dev *d, const uint8_t *data, size_t len, const bool *skip,
                        const struct dfu_progress *p, char *err, size_t errlen)
{
    size_t xfer = d->transfer_size, off = 0;
    uint8_t *buf = NULL;
    unsigned block = 0;
    char what[96];
    int rc;

    if (!xfer)
        return omv_seterr(err, errlen, OMV_EINVAL, "the device's transfer size is 0");
    if (len / xfer >= 0xFFFF)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "an image of %zu bytes needs more than 65535 blocks of %zu bytes", len,
                          xfer);
    rc = dfu_normalise(d, err, errlen);
    if (rc < 0)
        return rc;
    buf = xmalloc(xfer);
    dfu_report(p, "write", 0, len);
    for (; off < len; block++) {
        size_t n = len - off < xfer ? len - off : xfer;

        if (skip && skip[block]) {
            off += n;
            continue;
        }
        snprintf(what, sizeof(what), "write of block %u (image offset 0x%zx)", block, off);
        memcpy(buf, data + off, n);
        rc = request(d, TYPE_OUT, REQ_DNLOAD, (uint16_t)block, buf, (uint16_t)n);
        if (rc < 0) {
            rc = dfu_fail_request(d, rc, what, err, errlen);
            goto out;
        }
        rc = wait_block(d, what, err, errlen);
        if (rc < 0)
            goto out;
        off += n;
        dfu_report(p, "write", off, len);
    }
    rc = request(d, TYPE_OUT, REQ_DNLOAD, (uint16_t)block, NULL, 0);
    if (rc < 0) {
        if (!(d->attributes & DFU_ATTR_MANIFESTATION_TOLERANT) && went_away(rc)) {
            rc = 0;
            goto out;
        }
        snprintf(what, sizeof(what), "end of download (zero-length block %u)", block);
        rc = dfu_fail_request(d, rc, what, err, errlen);
        goto out;
    }
    rc = manifest(d, err, errlen);
out:
    free(buf);
    return rc < 0 ? rc : 0;
}

/*
 * The upload stops at a short block or at `cap`. The OpenMV bootloader
 * answers a read past its partition with a 4-byte frame of zeros (its EOF
 * marker, not data): with cap = the partition size it is never requested,
 * so what comes back is exactly the partition.
 */
int dfu_upload(struct dfu_dev *d, uint8_t *buf, size_t cap, size_t *got,
               const struct dfu_progress *p, char *err, size_t errlen)
{
    size_t xfer = d->transfer_size, total = 0;
    unsigned block = 0;
    bool is_short = false;
    char what[96];
    int rc;

    *got = 0;
    rc = dfu_check_upload(d, NULL, err, errlen);
    if (rc < 0)
        return rc;
    if (!xfer)
        return omv_seterr(err, errlen, OMV_EINVAL, "the device's transfer size is 0");
    if (cap / xfer >= 0xFFFF)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "a read of %zu bytes needs more than 65535 blocks of %zu bytes", cap,
                          xfer);
    rc = dfu_normalise(d, err, errlen);
    if (rc < 0)
        return rc;
    dfu_report(p, "read", 0, cap);
    while (total < cap && !is_short) {
        size_t n = cap - total < xfer ? cap - total : xfer;

        rc = request(d, TYPE_IN, REQ_UPLOAD, (uint16_t)block, buf + total, (uint16_t)n);
        if (rc < 0) {
            snprintf(what, sizeof(what), "read of block %u (offset 0x%zx)", block, total);
            return dfu_fail_request(d, rc, what, err, errlen);
        }
        is_short = (size_t)rc < n;
        total += (size_t)rc;
        block++;
        *got = total;
        dfu_report(p, "read", total, cap);
    }
    /* A full last block leaves the device in dfuUPLOAD-IDLE; the next
     * operation's dfu_normalise() would also do this. */
    if (!is_short)
        (void)request(d, TYPE_OUT, REQ_ABORT, 0, NULL, 0);
    return 0;
}

int dfu_detach(struct dfu_dev *d, uint16_t timeout_ms, char *err, size_t errlen)
{
    int rc = request(d, TYPE_OUT, REQ_DETACH, timeout_ms, NULL, 0);

    if (rc >= 0 || rc == USB_ERR_NODEV || rc == USB_ERR_IO || rc == USB_ERR_TIMEOUT)
        return 0;
    return dfu_fail_io(err, errlen, rc, "DETACH");
}
