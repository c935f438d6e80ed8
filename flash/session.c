/*
 * The flash session (flash/session.h): the stages check, read, erase, write,
 * verify and leave over a guarded copy of the caller's transport, which
 * refuses new DNLOAD/UPLOAD requests once the caller's cancel flag is set
 * and notes when memory was first changed.
 */
#include "lib/compat.h"
#include "flash/session.h"

#include "flash/dfuse_layout.h"
#include "flash/usb.h"
#include "lib/error.h"
#include "lib/progress.h"
#include "lib/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REQ_DNLOAD = 1, REQ_UPLOAD = 2, DFUSE_SET_ADDRESS = 0x21 };

/* A byte range [from, to) of the address space. */
struct range {
    uint64_t from, to;
};

/* One image of the plan as it goes to this device. */
struct item {
    const struct flash_step *s;
    int alt;
    uint8_t *old;         /* --skip-unchanged: what the device held before */
    bool *skip;           /* plain DFU, --skip-unchanged: blocks left out */
    struct range *ranges; /* DfuSe: what is written (all of it unless skipping) */
    size_t nr_ranges;
    size_t left; /* bytes to send */
    const char *result;
};

/* Per alt setting of the device (DfuSe): its layout and the pages to erase. */
struct alt_mem {
    struct dfuse_layout layout;
    bool parsed; /* layout holds the alt's name parsed */
    uint32_t *pages;
    size_t nr_pages;
};

struct sess {
    const struct flash_plan *plan;
    const struct flash_session_opts *o;
    const struct usb_device_info *info;
    struct dfu_io inner; /* the caller's transport */
    struct dfu_dev d;    /* the caller's device with a guarded transport */
    const struct flash_session_hooks *h;
    struct flash_outcome *out;
    struct item *items;
    struct alt_mem *alts;
    char msg[640];
    /* progress of several engine calls shown as one phase */
    uint64_t base, total;
    bool offset;
};

const char *flash_stage_name(enum flash_stage stage)
{
    static const char *const names[] = {
        [FLASH_STAGE_CHECK] = "check", [FLASH_STAGE_MASS_ERASE] = "mass erase",
        [FLASH_STAGE_READ] = "read",   [FLASH_STAGE_ERASE] = "erase",
        [FLASH_STAGE_WRITE] = "write", [FLASH_STAGE_VERIFY] = "verify",
        [FLASH_STAGE_LEAVE] = "leave", [FLASH_STAGE_DONE] = "done",
    };

    return names[stage];
}

void flash_session_dev(struct dfu_dev *dev, const struct usb_device_info *info,
                       const struct dfu_io *io)
{
    memset(dev, 0, sizeof(*dev));
    dev->io = *io;
    dev->intf = info->dfu_interface;
    dev->device_transfer_size = info->dfu_transfer_size;
    dev->transfer_size = info->dfu_transfer_size ? info->dfu_transfer_size : 2048;
    if (dev->transfer_size > 4096) /* the Linux usbfs limit for control transfers */
        dev->transfer_size = 4096;
    dev->attributes = info->dfu_attributes;
    dev->timeout_ms = 5000;
}

/* ---- the guarded transport: nothing new is started once cancelled ---------------------- */

static bool cancelled(const struct sess *x)
{
    return x->o->cancel && *x->o->cancel;
}

/*
 * DNLOAD and UPLOAD start work or move data; GETSTATUS, CLRSTATUS and ABORT
 * only finish or end it. Once cancelled, the first kind is refused before it
 * reaches the device, so the transfer in flight completes and the device can
 * still be brought back to dfuIDLE.
 */
static int guarded_control(void *ctx, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                           uint8_t *data, uint16_t len, unsigned timeout_ms)
{
    struct sess *x = ctx;

    bool dfu_class = (type & 0x60) == 0x20;

    if (dfu_class && (req == REQ_DNLOAD || req == REQ_UPLOAD) && cancelled(x)) {
        x->out->interrupted = true;
        return OMV_EINTR;
    }
    /* Memory changes with a DNLOAD that carries data or a DfuSe command other than
     * SET_ADDRESS (0x21). */
    if (dfu_class && req == REQ_DNLOAD && len && !(value == 0 && data[0] == DFUSE_SET_ADDRESS))
        x->out->touched = true;
    return x->inner.control(x->inner.ctx, type, req, value, index, data, len, timeout_ms);
}

static int guarded_set_alt(void *ctx, uint8_t intf, uint8_t alt)
{
    struct sess *x = ctx;

    return x->inner.set_alt(x->inner.ctx, intf, alt);
}

static void guarded_sleep(void *ctx, unsigned ms)
{
    struct sess *x = ctx;

    x->inner.sleep_ms(x->inner.ctx, ms);
}

static void on_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    struct sess *x = ud;

    if (x->offset) {
        done += x->base;
        total = x->total;
    }
    x->out->step_done = done;
    x->out->step_total = total;
    if (x->h && x->h->progress)
        x->h->progress(x->h->ud, phase, done, total);
}

static void begin(struct sess *x, const char *label)
{
    x->out->step_done = x->out->step_total = 0;
    if (x->h && x->h->begin)
        x->h->begin(x->h->ud, label);
}

static void report(struct sess *x, const struct flash_report *r)
{
    if (x->h && x->h->done)
        x->h->done(x->h->ud, r);
}

/* A failure of the device: the engine's message in x->msg, prefixed with `what`. */
static int device_failed(struct sess *x, int rc, const char *what, char *err, size_t errlen)
{
    if (x->out->interrupted || rc == OMV_EINTR) {
        x->out->interrupted = true;
        return omv_seterr(err, errlen, OMV_EINTR, "%s%s%s", what ? what : "", what ? ": " : "",
                          x->msg);
    }
    return omv_seterr(err, errlen, OMV_EDEVICE, "%s%s%s", what ? what : "", what ? ": " : "",
                      x->msg);
}

static int select_alt(struct sess *x, int alt)
{
    int rc = x->d.io.set_alt(x->d.io.ctx, x->d.intf, (uint8_t)alt);

    if (rc < 0)
        return omv_seterr(x->msg, sizeof(x->msg), rc, "cannot select alt %d: %s", alt,
                          usb_strerror(rc));
    return dfu_normalise(&x->d, x->msg, sizeof(x->msg));
}

/* ---- check: every image mapped and in range before anything is sent -------------------- */

static const struct dfuse_layout *alt_layout(struct sess *x, size_t alt)
{
    struct alt_mem *m = &x->alts[alt];

    if (!m->parsed)
        m->parsed = dfuse_layout_parse(&m->layout, x->info->alt_names[alt], NULL, 0) == 0;
    return m->parsed ? &m->layout : NULL;
}

/* The alt whose memory holds addr, or -1. */
static int alt_holding(struct sess *x, uint32_t addr)
{
    for (size_t a = 0; a < x->info->nr_alts; a++) {
        const struct dfuse_layout *l = alt_layout(x, a);

        if (l && dfuse_layout_find(l, addr))
            return (int)a;
    }
    return -1;
}

static void list_alts(const struct sess *x, struct strbuf *sb)
{
    for (size_t a = 0; a < x->info->nr_alts; a++)
        strbuf_addf(sb, "%s%zu '%s'", a ? ", " : "", a, x->info->alt_names[a]);
    if (!sb->len)
        strbuf_addstr(sb, "none");
}

static int check_dfuse_item(struct sess *x, struct item *it, char *err, size_t errlen)
{
    const struct flash_step *s = it->s;
    unsigned need = DFUSE_SEG_WRITEABLE | (x->o->mass_erase ? 0u : (unsigned)DFUSE_SEG_ERASABLE);
    struct strbuf sb = STRBUF_INIT;
    char why[320];

    if (s->address < 0)
        return omv_seterr(err, errlen, OMV_EUSAGE,
                          "%s: this bootloader writes by address, and the image has none "
                          "(--address A)",
                          s->label);
    it->alt = alt_holding(x, (uint32_t)s->address);
    if (it->alt < 0) {
        list_alts(x, &sb);
        omv_seterr(err, errlen, OMV_EUSAGE,
                   "%s: 0x%08llX lies in none of the device's memories (alt %s)", s->label,
                   (unsigned long long)s->address, sb.buf);
        strbuf_release(&sb);
        return OMV_EUSAGE;
    }
    if (dfuse_layout_check_range(&x->alts[it->alt].layout, (uint32_t)s->address, s->len, need, why,
                                 sizeof(why)) < 0)
        return omv_seterr(err, errlen, OMV_EUSAGE, "%s (%zu bytes at 0x%08llX): %s", s->label,
                          s->len, (unsigned long long)s->address, why);
    return 0;
}

/* The device's own alt for an image written by alt: by name, cross-checked with the
 * board database. */
static int check_alt_item(struct sess *x, struct item *it, char *err, size_t errlen)
{
    const struct flash_step *s = it->s;
    struct strbuf sb = STRBUF_INIT;

    if (!s->alt_name) {
        it->alt = s->alt < 0 ? 0 : s->alt;
        if ((size_t)it->alt >= x->info->nr_alts)
            return omv_seterr(err, errlen, OMV_EUSAGE,
                              "%s: the bootloader has no alt %d (it has %zu)", s->label, it->alt,
                              x->info->nr_alts);
        return 0;
    }
    for (size_t a = 0; a < x->info->nr_alts; a++) {
        if (strcmp(x->info->alt_names[a], s->alt_name) != 0)
            continue;
        if ((int)a != s->alt)
            return omv_seterr(err, errlen, OMV_EUSAGE,
                              "%s: the bootloader reports '%s' as alt %zu, the board database "
                              "says alt %d",
                              s->label, s->alt_name, a, s->alt);
        it->alt = (int)a;
        return 0;
    }
    list_alts(x, &sb);
    omv_seterr(err, errlen, OMV_EUSAGE, "%s: the bootloader has no '%s' alt (it has %s)", s->label,
               s->alt_name, sb.buf);
    strbuf_release(&sb);
    return OMV_EUSAGE;
}

static int check_all(struct sess *x, char *err, size_t errlen)
{
    if (x->o->verify || x->o->skip_unchanged) {
        const char *why = x->o->verify ? "--verify" : "--skip-unchanged";

        if (dfu_check_upload(&x->d, why, err, errlen) < 0) {
            x->out->no_upload = true;
            return OMV_EDEVICE;
        }
    }
    for (size_t i = 0; i < x->plan->nr; i++) {
        struct item *it = &x->items[i];
        int rc;

        it->s = &x->plan->steps[i];
        it->left = it->s->len;
        it->result = "written";
        rc =
            x->o->dfuse ? check_dfuse_item(x, it, err, errlen) : check_alt_item(x, it, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- read: --skip-unchanged ------------------------------------------------------------ */

/* Plain DFU: read the partition; mark the whole erase units it already holds. */
static int read_alt_item(struct sess *x, struct item *it)
{
    const struct flash_step *s = it->s;
    struct dfu_progress p = {on_progress, x};
    size_t got = 0, xfer = x->d.transfer_size, blocks = (s->len + xfer - 1) / xfer;
    int rc;

    it->old = xmalloc(s->len);
    rc = dfu_upload(&x->d, it->old, s->len, &got, &p, x->msg, sizeof(x->msg));
    if (rc < 0)
        return rc;
    if (got < s->len) { /* the partition is shorter: nothing to compare */
        memset(it->old + got, 0xFF, s->len - got);
        it->old[0] = (uint8_t)~s->data[0];
    }
    if (!memcmp(it->old, s->data, s->len)) {
        it->left = 0;
        return 0;
    }
    it->skip = xcalloc(blocks ? blocks : 1, sizeof(*it->skip));
    it->left = flash_skip_mask(it->old, s->data, s->len, s->erase_size, xfer, it->skip);
    return 0;
}

static int read_all(struct sess *x, char *err, size_t errlen)
{
    struct dfu_progress p = {on_progress, x};

    for (size_t i = 0; i < x->plan->nr; i++) {
        struct item *it = &x->items[i];
        int rc;

        if (!it->s->path) /* generated data (the filesystem erase) is always written */
            continue;
        x->out->step = it->s->label;
        begin(x, it->s->label);
        rc = select_alt(x, it->alt);
        if (rc == 0 && x->o->dfuse) {
            it->old = xmalloc(it->s->len);
            rc = dfuse_read(&x->d, (uint32_t)it->s->address, it->old, it->s->len, &p, x->msg,
                            sizeof(x->msg));
        } else if (rc == 0) {
            rc = read_alt_item(x, it);
        }
        if (rc < 0)
            return device_failed(x, rc, it->s->label, err, errlen);
    }
    x->out->step = NULL;
    return 0;
}

/* ---- erase: DfuSe, the union of every image's pages of an alt, each page once ------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Does the image's part of the page at `page` differ from what the device held? */
static bool page_differs(const struct dfuse_layout *l, const struct item *it, uint32_t page)
{
    uint64_t addr = (uint64_t)it->s->address, end = addr + it->s->len;
    uint64_t a = page > addr ? page : addr,
             b = (uint64_t)page + dfuse_layout_find(l, page)->page_size;

    if (b > end)
        b = end;
    if (a >= b)
        return false;
    return !it->old || memcmp(it->old + (a - addr), it->s->data + (a - addr), (size_t)(b - a));
}

/* The pages of alt `a` to erase: every page of its images (with --skip-unchanged only
 * those where some image differs), sorted, each once. */
static int plan_erase(struct sess *x, size_t a, char *err, size_t errlen)
{
    struct alt_mem *m = &x->alts[a];
    uint32_t *all = NULL;
    size_t nr = 0, alloc = 0;

    for (size_t i = 0; i < x->plan->nr; i++) {
        const struct item *it = &x->items[i];
        uint32_t *pages = NULL;
        size_t n = 0;

        if (it->alt != (int)a)
            continue;
        if (dfuse_layout_erase_pages(&m->layout, (uint32_t)it->s->address, it->s->len, &pages, &n,
                                     x->msg, sizeof(x->msg)) < 0)
            return omv_seterr(err, errlen, OMV_EUSAGE, "%s: %s", it->s->label, x->msg);
        XGROW(all, alloc, nr + n);
        for (size_t k = 0; k < n; k++)
            if (page_differs(&m->layout, it, pages[k]))
                all[nr++] = pages[k];
        free(pages);
    }
    if (nr)
        qsort(all, nr, sizeof(*all), cmp_u32);
    m->nr_pages = 0;
    for (size_t k = 0; k < nr; k++)
        if (!m->nr_pages || all[m->nr_pages - 1] != all[k])
            all[m->nr_pages++] = all[k];
    m->pages = all;
    return 0;
}

/* What of an image is written: its bytes in the pages that are erased. */
static void plan_ranges(struct sess *x, struct item *it)
{
    const struct alt_mem *m = &x->alts[it->alt];
    uint64_t addr = (uint64_t)it->s->address, end = addr + it->s->len;

    it->left = 0;
    for (size_t k = 0; k < m->nr_pages; k++) {
        uint64_t a = m->pages[k], b = a + dfuse_layout_find(&m->layout, m->pages[k])->page_size;

        a = a > addr ? a : addr;
        b = b < end ? b : end;
        if (a >= b)
            continue;
        if (it->nr_ranges && it->ranges[it->nr_ranges - 1].to == a) {
            it->ranges[it->nr_ranges - 1].to = b;
        } else {
            it->ranges = xrealloc(it->ranges, (it->nr_ranges + 1) * sizeof(*it->ranges));
            it->ranges[it->nr_ranges++] = (struct range){a, b};
        }
        it->left += (size_t)(b - a);
    }
}

/* After a mass erase: every image is written whole. */
static void plan_ranges_whole(struct item *it)
{
    it->ranges = xmalloc(sizeof(*it->ranges));
    it->ranges[0] = (struct range){(uint64_t)it->s->address, (uint64_t)it->s->address + it->s->len};
    it->nr_ranges = 1;
    it->left = it->s->len;
}

static int erase_all(struct sess *x, char *err, size_t errlen)
{
    struct dfu_progress p = {on_progress, x};
    uint64_t total = 0;
    int64_t t0 = progress_now_ms();

    for (size_t a = 0; a < x->info->nr_alts; a++) {
        int rc = plan_erase(x, a, err, errlen);

        if (rc < 0)
            return rc;
        for (size_t k = 0; k < x->alts[a].nr_pages; k++)
            total += dfuse_layout_find(&x->alts[a].layout, x->alts[a].pages[k])->page_size;
    }
    for (size_t i = 0; i < x->plan->nr; i++)
        plan_ranges(x, &x->items[i]);
    if (!total)
        return 0;
    begin(x, "erase");
    x->offset = true;
    x->base = 0;
    x->total = total;
    for (size_t a = 0; a < x->info->nr_alts; a++) {
        struct alt_mem *m = &x->alts[a];
        unsigned rev_v = 0;
        int rc;

        if (!m->nr_pages)
            continue;
        rc = select_alt(x, (int)a);
        if (rc == 0)
            rc = dfuse_erase(&x->d, &m->layout, m->pages, m->nr_pages, &rev_v, &p, x->msg,
                             sizeof(x->msg));
        x->out->rev_v += rev_v;
        if (rc < 0) {
            x->offset = false;
            x->out->erase_stalled = x->o->rom && rc == DFU_ERR_STATE;
            return device_failed(x, rc, NULL, err, errlen);
        }
        for (size_t k = 0; k < m->nr_pages; k++)
            x->base += dfuse_layout_find(&m->layout, m->pages[k])->page_size;
    }
    x->offset = false;
    report(x,
           &(struct flash_report){"erase", NULL, "erased", -1, total, 0, progress_now_ms() - t0});
    return 0;
}

/* ---- write --------------------------------------------------------------------------- */

static int write_dfuse_item(struct sess *x, struct item *it)
{
    struct dfu_progress p = {on_progress, x};
    const struct dfuse_layout *l = &x->alts[it->alt].layout;
    uint64_t addr = (uint64_t)it->s->address;
    int rc = 0;

    x->offset = true;
    x->base = 0;
    x->total = it->left;
    for (size_t r = 0; rc == 0 && r < it->nr_ranges; r++) {
        const struct range *g = &it->ranges[r];

        rc = dfuse_write(&x->d, l, (uint32_t)g->from, it->s->data + (g->from - addr),
                         (size_t)(g->to - g->from), true, NULL, &p, x->msg, sizeof(x->msg));
        x->base += g->to - g->from;
    }
    x->offset = false;
    return rc;
}

static int write_item(struct sess *x, struct item *it)
{
    struct dfu_progress p = {on_progress, x};
    const struct flash_step *s = it->s;

    if (x->o->dfuse)
        return write_dfuse_item(x, it);
    if (it->skip)
        return dfu_download_blocks(&x->d, s->data, s->len, it->skip, &p, x->msg, sizeof(x->msg));
    return dfu_download(&x->d, s->data, s->len, &p, x->msg, sizeof(x->msg));
}

static int write_all(struct sess *x, char *err, size_t errlen)
{
    for (size_t i = 0; i < x->plan->nr; i++) {
        struct item *it = &x->items[i];
        int64_t t0 = progress_now_ms();
        int rc = 0;

        x->out->step = it->s->label;
        begin(x, it->s->label);
        if (it->left) {
            rc = select_alt(x, it->alt);
            if (rc == 0)
                rc = write_item(x, it);
            if (rc < 0)
                return device_failed(x, rc, it->s->label, err, errlen);
        }
        it->result = !it->left ? "unchanged" : it->left < it->s->len ? "partly written" : "written";
        x->out->sent += it->left;
        if (it->left)
            x->out->written++;
        else
            x->out->skipped++;
        report(x, &(struct flash_report){it->s->label, it->s, it->result, it->alt, it->s->len,
                                         it->left, progress_now_ms() - t0});
    }
    x->out->step = NULL;
    return 0;
}

/* ---- verify: after every write --------------------------------------------------------- */

static int verify_item(struct sess *x, const struct item *it, uint8_t *back, char *err,
                       size_t errlen)
{
    struct dfu_progress p = {on_progress, x};
    const struct flash_step *s = it->s;
    size_t got = s->len;
    int rc = select_alt(x, it->alt);

    if (rc == 0 && x->o->dfuse)
        rc = dfuse_read(&x->d, (uint32_t)s->address, back, s->len, &p, x->msg, sizeof(x->msg));
    else if (rc == 0)
        rc = dfu_upload(&x->d, back, s->len, &got, &p, x->msg, sizeof(x->msg));
    if (rc < 0)
        return device_failed(x, rc, s->label, err, errlen);
    if (got < s->len)
        return omv_seterr(err, errlen, OMV_EDEVICE, "%s: only %zu of %zu bytes could be read back",
                          s->label, got, s->len);
    for (size_t k = 0; k < s->len; k++)
        if (back[k] != s->data[k])
            return omv_seterr(err, errlen, OMV_EDEVICE,
                              "%s: it reads back different from what was written (first at "
                              "byte %zu: 0x%02X, not 0x%02X)",
                              s->label, k, back[k], s->data[k]);
    return 0;
}

static int verify_all(struct sess *x, char *err, size_t errlen)
{
    uint64_t total = 0;
    int64_t t0 = progress_now_ms();

    for (size_t i = 0; i < x->plan->nr; i++)
        total += x->items[i].left ? x->items[i].s->len : 0;
    if (!total)
        return 0;
    begin(x, "verify");
    for (size_t i = 0; i < x->plan->nr; i++) {
        const struct item *it = &x->items[i];
        uint8_t *back;
        int rc;

        if (!it->left)
            continue;
        x->out->step = it->s->label;
        back = xmalloc(it->s->len);
        rc = verify_item(x, it, back, err, errlen);
        free(back);
        if (rc < 0)
            return rc;
    }
    x->out->step = NULL;
    report(x, &(struct flash_report){"verify", NULL, "verified", -1, total, 0,
                                     progress_now_ms() - t0});
    return 0;
}

/* ---- mass erase and leave ------------------------------------------------------------- */

static int mass_erase(struct sess *x, char *err, size_t errlen)
{
    int64_t t0 = progress_now_ms();
    int rc;

    begin(x, "mass erase");
    rc = select_alt(x, 0);
    if (rc == 0)
        rc = dfuse_mass_erase(&x->d, x->msg, sizeof(x->msg));
    if (rc < 0)
        return device_failed(x, rc, "mass erase", err, errlen);
    report(x,
           &(struct flash_report){"mass erase", NULL, "erased", 0, 0, 0, progress_now_ms() - t0});
    return 0;
}

static void read_state(struct sess *x)
{
    struct dfu_status st;
    char msg[128];

    if (dfu_get_status(&x->d, &st, msg, sizeof(msg)) == 0) {
        x->out->state_known = true;
        x->out->state = st.state;
        x->out->status = st.status;
    }
}

/* DfuSe: jump to the plan's leave address, through the alt whose memory holds it. */
static void leave(struct sess *x)
{
    struct flash_outcome *out = x->out;
    int alt;

    if (!x->o->dfuse) {
        /* DETACH, then a port reset: the bootloader starts the firmware after either. */
        int detached = dfu_detach(&x->d, 1000, out->leave_err, sizeof(out->leave_err));
        int reset = x->h && x->h->reset ? x->h->reset(x->h->ud) : detached;

        if (detached < 0 && reset < 0) {
            out->leave = FLASH_LEAVE_FAILED;
            read_state(x);
            return;
        }
        out->leave_err[0] = '\0';
        out->leave = FLASH_LEAVE_STARTED;
        return;
    }
    out->leave_address = x->plan->leave_address;
    alt = alt_holding(x, x->plan->leave_address);
    if (alt < 0) {
        out->leave = FLASH_LEAVE_FAILED;
        snprintf(out->leave_err, sizeof(out->leave_err),
                 "0x%08X, where the new code starts, lies in none of the device's memories",
                 x->plan->leave_address);
        return;
    }
    if (x->d.io.set_alt(x->d.io.ctx, x->d.intf, (uint8_t)alt) < 0 ||
        dfuse_leave(&x->d, x->plan->leave_address, out->leave_err, sizeof(out->leave_err)) < 0) {
        out->leave = FLASH_LEAVE_FAILED;
        read_state(x);
        return;
    }
    out->leave = FLASH_LEAVE_STARTED;
}

/* ---- the session ---------------------------------------------------------------------- */

/* Move on to `stage`, unless cancelled: then the outcome stays at the stage before. */
static bool enter(struct sess *x, enum flash_stage stage, int *rc, char *err, size_t errlen)
{
    if (*rc)
        return false;
    if (cancelled(x)) {
        x->out->interrupted = true;
        *rc = omv_seterr(err, errlen, OMV_EINTR, "interrupted before the %s stage",
                         flash_stage_name(stage));
        return false;
    }
    x->out->stage = stage;
    return true;
}

static int run_stages(struct sess *x, char *err, size_t errlen)
{
    const struct flash_session_opts *o = x->o;
    int rc = 0;

    x->out->stage = FLASH_STAGE_CHECK;
    rc = check_all(x, err, errlen);
    if (o->mass_erase && enter(x, FLASH_STAGE_MASS_ERASE, &rc, err, errlen))
        rc = mass_erase(x, err, errlen);
    if (o->skip_unchanged && !o->mass_erase && enter(x, FLASH_STAGE_READ, &rc, err, errlen))
        rc = read_all(x, err, errlen);
    if (o->dfuse && o->mass_erase && enter(x, FLASH_STAGE_ERASE, &rc, err, errlen))
        for (size_t i = 0; i < x->plan->nr; i++)
            plan_ranges_whole(&x->items[i]);
    else if (o->dfuse && enter(x, FLASH_STAGE_ERASE, &rc, err, errlen))
        rc = erase_all(x, err, errlen);
    if (enter(x, FLASH_STAGE_WRITE, &rc, err, errlen))
        rc = write_all(x, err, errlen);
    if (o->verify && enter(x, FLASH_STAGE_VERIFY, &rc, err, errlen))
        rc = verify_all(x, err, errlen);
    if (!o->no_reset && enter(x, FLASH_STAGE_LEAVE, &rc, err, errlen))
        leave(x);
    if (rc == 0) /* a Ctrl-C after the leave changes nothing: the run is complete */
        x->out->stage = FLASH_STAGE_DONE;
    return rc;
}

int flash_session_run(const struct flash_plan *plan, const struct flash_session_opts *opts,
                      const struct usb_device_info *info, struct dfu_dev *dev,
                      const struct flash_session_hooks *hooks, struct flash_outcome *out, char *err,
                      size_t errlen)
{
    struct sess x;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&x, 0, sizeof(x));
    x.plan = plan;
    x.o = opts;
    x.info = info;
    x.h = hooks;
    x.out = out;
    x.inner = dev->io;
    x.d = *dev;
    x.d.io.ctx = &x;
    x.d.io.control = guarded_control;
    x.d.io.set_alt = guarded_set_alt;
    x.d.io.sleep_ms = guarded_sleep;
    x.items = xcalloc(plan->nr ? plan->nr : 1, sizeof(*x.items));
    x.alts = xcalloc(info->nr_alts ? info->nr_alts : 1, sizeof(*x.alts));

    rc = run_stages(&x, err, errlen);
    if (rc < 0 && rc != OMV_EUSAGE) {
        /* Back to dfuIDLE where the device still answers, and say where it is. */
        dfu_normalise(&x.d, x.msg, sizeof(x.msg));
        read_state(&x);
    }
    for (size_t i = 0; i < plan->nr; i++) {
        free(x.items[i].old);
        free(x.items[i].skip);
        free(x.items[i].ranges);
    }
    for (size_t a = 0; a < info->nr_alts; a++) {
        dfuse_layout_release(&x.alts[a].layout);
        free(x.alts[a].pages);
    }
    free(x.items);
    free(x.alts);
    return rc;
}
