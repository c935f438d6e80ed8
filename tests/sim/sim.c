/*
 * The device core of the virtual camera: descriptors, standard requests,
 * memory, virtual time, faults and the transaction log. Models live in
 * model_*.c; the umockdev bridge in omvdev-sim.c.
 */
#include "lib/compat.h"
#include "tests/sim/sim.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- building ------------------------------------------------------------------- */

struct sim_dev *sim_dev_new(uint16_t vid, uint16_t pid, uint16_t bcd_device,
                            const char *manufacturer, const char *product, const char *serial)
{
    struct sim_dev *d = xcalloc(1, sizeof(*d));

    d->vid = vid;
    d->pid = pid;
    d->bcd_device = bcd_device;
    d->max_packet0 = 64;
    strbuf_init(&d->descriptors);
    strbuf_init(&d->log);
    strbuf_init(&d->notes);
    d->strings = xcalloc(1, sizeof(char *));
    d->nr_strings = 1; /* index 0 is the language table */
    sim_dev_add_string(d, manufacturer);
    sim_dev_add_string(d, product);
    d->serial = xstrdup(serial);
    d->serial_index = sim_dev_add_string(d, serial);
    /* Defaults: USB full speed, H7-class flash (dfu-protocol.md §5). */
    d->timing.sector_erase_us = 1100000;
    d->timing.sector_erase_max_us = 2200000;
    d->timing.unit_program_us = 130;
    d->timing.mass_erase_us = 16 * 1100000;
    d->timing.mass_erase_max_us = 2 * 16 * 1100000;
    d->timing.ctrl_fixed_us = 1000;
    d->timing.ctrl_packet_us = 55;
    d->state = SIM_DFU_STATE_IDLE;
    return d;
}

uint8_t sim_dev_add_string(struct sim_dev *d, const char *s)
{
    d->strings = xrealloc(d->strings, (d->nr_strings + 1) * sizeof(char *));
    d->strings[d->nr_strings] = xstrdup(s);
    return (uint8_t)d->nr_strings++;
}

static void put16(struct strbuf *sb, uint16_t v)
{
    strbuf_addch(sb, v & 0xff);
    strbuf_addch(sb, v >> 8);
}

void sim_dev_config_begin(struct sim_dev *d, uint8_t nr_interfaces)
{
    strbuf_reset(&d->descriptors);
    strbuf_addchars(&d->descriptors, 0, 18); /* device descriptor, filled by finish */
    /* configuration: total length filled by finish; self powered, 100 mA */
    strbuf_add(&d->descriptors, (const uint8_t[]){9, 2, 0, 0, nr_interfaces, 1, 0, 0xC0, 50}, 9);
}

void sim_dev_config_add(struct sim_dev *d, const void *bytes, size_t len)
{
    strbuf_add(&d->descriptors, bytes, len);
}

void sim_dev_config_finish(struct sim_dev *d)
{
    struct strbuf dev = STRBUF_INIT;
    size_t total = d->descriptors.len - 18;

    strbuf_addch(&dev, 18);
    strbuf_addch(&dev, 1);
    put16(&dev, 0x0200);
    strbuf_addch(&dev, d->dev_class);
    strbuf_addch(&dev, d->dev_subclass);
    strbuf_addch(&dev, d->dev_protocol);
    strbuf_addch(&dev, d->max_packet0);
    put16(&dev, d->vid);
    put16(&dev, d->pid);
    put16(&dev, d->bcd_device);
    strbuf_addch(&dev, 1);
    strbuf_addch(&dev, 2);
    strbuf_addch(&dev, d->serial_index);
    strbuf_addch(&dev, 1);
    memcpy(d->descriptors.buf, dev.buf, 18);
    d->descriptors.buf[18 + 2] = (char)(total & 0xff);
    d->descriptors.buf[18 + 3] = (char)(total >> 8);
    strbuf_release(&dev);
}

void sim_dev_build_dfu(struct sim_dev *d, const char *const *alt_names, size_t nr_alts,
                       uint8_t attributes, uint16_t detach_timeout, uint16_t transfer_size,
                       uint16_t bcd_dfu)
{
    struct strbuf fd = STRBUF_INIT;

    sim_dev_config_begin(d, 1);
    for (size_t i = 0; i < nr_alts; i++) {
        uint8_t name = sim_dev_add_string(d, alt_names[i]);
        const uint8_t intf[9] = {9, 4, 0, (uint8_t)i, 0, 0xFE, 0x01, 0x02, name};

        sim_dev_config_add(d, intf, sizeof(intf));
    }
    strbuf_addch(&fd, 9);
    strbuf_addch(&fd, 0x21);
    strbuf_addch(&fd, attributes);
    d->dfu_attributes = attributes;
    d->has_dfu = true;
    put16(&fd, detach_timeout);
    put16(&fd, transfer_size);
    put16(&fd, bcd_dfu);
    sim_dev_config_add(d, fd.buf, fd.len);
    sim_dev_config_finish(d);
    strbuf_release(&fd);
}

struct sim_region *sim_dev_add_region(struct sim_dev *d, const char *name, uint32_t base,
                                      uint32_t size, uint32_t sector, uint32_t unit, bool strict)
{
    struct sim_region *r;

    d->regions = xrealloc(d->regions, (d->nr_regions + 1) * sizeof(*d->regions));
    r = &d->regions[d->nr_regions++];
    memset(r, 0, sizeof(*r));
    r->name = xstrdup(name);
    r->base = base;
    r->size = size;
    r->sector = sector ? sector : size;
    r->unit = unit ? unit : 1;
    r->strict = strict;
    r->data = xmalloc(size);
    memset(r->data, 0xFF, size);
    return r;
}

struct sim_region *sim_dev_region_at(struct sim_dev *d, uint32_t addr)
{
    for (size_t i = 0; i < d->nr_regions; i++) {
        struct sim_region *r = &d->regions[i];

        if (addr >= r->base && (uint64_t)addr < (uint64_t)r->base + r->size)
            return r;
    }
    return NULL;
}

void sim_dev_free(struct sim_dev *d)
{
    if (!d)
        return;
    if (d->ops && d->ops->destroy)
        d->ops->destroy(d);
    for (size_t i = 0; i < d->nr_strings; i++)
        free(d->strings[i]);
    free(d->strings);
    for (size_t i = 0; i < d->nr_regions; i++) {
        free(d->regions[i].name);
        free(d->regions[i].data);
    }
    free(d->regions);
    strbuf_release(&d->descriptors);
    strbuf_release(&d->log);
    strbuf_release(&d->notes);
    free(d->serial);
    free(d->spec);
    free(d->next_spec);
    free(d->after_spec);
    free(d);
}

/* ---- memory --------------------------------------------------------------------- */

/* An erase's time: typical, `factor` times that, or (factor 0) the datasheet maximum. */
static uint64_t erase_cost(const struct sim_dev *d, uint64_t typ_us, uint64_t max_us)
{
    const struct sim_fault *f = sim_fault_find(d, SIM_FAULT_SLOW_ERASE);

    if (!f)
        return typ_us;
    return f->arg ? typ_us * f->arg : max_us;
}

int sim_region_erase_sector(struct sim_dev *d, struct sim_region *r, uint32_t addr)
{
    uint32_t start;

    if (addr < r->base || addr - r->base >= r->size)
        return SIM_DFU_STATUS_ERR_ADDRESS;
    if (r->readonly)
        return SIM_DFU_STATUS_ERR_ERASE;
    start = (addr - r->base) / r->sector * r->sector;
    memset(r->data + start, 0xFF, r->size - start < r->sector ? r->size - start : r->sector);
    r->erases++;
    sim_busy(d, erase_cost(d, d->timing.sector_erase_us, d->timing.sector_erase_max_us));
    sim_note(d, "erase %s 0x%08X+%u", r->name, r->base + start, r->sector);
    return SIM_DFU_STATUS_OK;
}

int sim_region_erase_all(struct sim_dev *d, struct sim_region *r)
{
    if (r->readonly)
        return SIM_DFU_STATUS_ERR_ERASE;
    memset(r->data, 0xFF, r->size);
    r->erases++;
    sim_busy(d, erase_cost(d, d->timing.mass_erase_us, d->timing.mass_erase_max_us));
    sim_note(d, "mass erase %s", r->name);
    return SIM_DFU_STATUS_OK;
}

int sim_region_program(struct sim_dev *d, struct sim_region *r, uint32_t addr, const uint8_t *p,
                       size_t n)
{
    uint32_t off;

    if (addr < r->base || (uint64_t)addr - r->base + n > r->size)
        return SIM_DFU_STATUS_ERR_ADDRESS;
    if (r->readonly)
        return SIM_DFU_STATUS_ERR_WRITE;
    off = addr - r->base;
    if (r->strict) {
        /* Every programming unit touched must still be erased (H7 ECC words). */
        uint32_t first = off / r->unit * r->unit;

        for (uint64_t u = first; u < (uint64_t)off + n; u += r->unit)
            for (uint32_t i = 0; i < r->unit && u + i < r->size; i++)
                if (r->data[u + i] != 0xFF) {
                    sim_note(d, "program 0x%08X: flash word at 0x%08X is not erased", addr,
                             r->base + (uint32_t)u);
                    return SIM_DFU_STATUS_ERR_PROG;
                }
        memcpy(r->data + off, p, n);
    } else {
        for (size_t i = 0; i < n; i++)
            r->data[off + i] &= p[i];
    }
    r->programs++;
    sim_busy(d, (n + r->unit - 1) / r->unit * d->timing.unit_program_us);
    sim_note(d, "program %s 0x%08X+%zu", r->name, addr, n);
    return SIM_DFU_STATUS_OK;
}

void sim_region_read(const struct sim_region *r, uint32_t addr, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t a = (uint64_t)addr + i;

        out[i] = a >= r->base && a - r->base < r->size ? r->data[a - r->base] : 0xFF;
    }
}

/* ---- time, faults, log ----------------------------------------------------------------- */

void sim_busy(struct sim_dev *d, uint64_t us)
{
    uint64_t *until = d->answer_while_busy ? &d->work_until_us : &d->busy_until_us;
    uint64_t from = *until > d->now_us ? *until : d->now_us;

    *until = from + us;
    d->device_bound_us += us;
}

void sim_hold(struct sim_dev *d)
{
    uint64_t us = sim_dev_working_us(d);

    if (!us)
        return;
    sim_note(d, "held %llu us until the flash operation ends", (unsigned long long)us);
    d->reply_us += us;
    d->now_us = d->work_until_us;
}

void sim_dev_advance(struct sim_dev *d, uint64_t now_us)
{
    if (now_us > d->now_us)
        d->now_us = now_us;
}

uint64_t sim_dev_wait_us(const struct sim_dev *d)
{
    return d->busy_until_us > d->now_us ? d->busy_until_us - d->now_us : 0;
}

uint64_t sim_dev_working_us(const struct sim_dev *d)
{
    return d->work_until_us > d->now_us ? d->work_until_us - d->now_us : 0;
}

void sim_dev_settle(struct sim_dev *d)
{
    sim_dev_advance(d, d->busy_until_us);
    sim_dev_advance(d, d->work_until_us);
}

const struct sim_fault *sim_fault_find(const struct sim_dev *d, enum sim_fault_kind kind)
{
    for (size_t i = 0; i < d->nr_faults; i++) {
        const struct sim_fault *f = &d->faults[i];

        if (f->kind == kind && (!f->count || f->fired < f->count))
            return f;
    }
    return NULL;
}

bool sim_fault(struct sim_dev *d, enum sim_fault_kind kind, uint64_t arg)
{
    for (size_t i = 0; i < d->nr_faults; i++) {
        struct sim_fault *f = &d->faults[i];
        bool match;

        if (f->kind != kind || (f->count && f->fired >= f->count))
            continue;
        switch (kind) {
        case SIM_FAULT_UNPLUG_AFTER_BYTES:
            match = arg >= f->arg;
            break;
        case SIM_FAULT_STALL_REQUEST:
        case SIM_FAULT_REFUSE_WRITE:
        case SIM_FAULT_UNPLUG_IN_STATE:
            match = arg == f->arg;
            break;
        default:
            match = true;
        }
        if (match) {
            f->fired++;
            sim_note(d, "fault %d fired", (int)kind);
            return true;
        }
    }
    return false;
}

void sim_note(struct sim_dev *d, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (d->notes.len)
        strbuf_addstr(&d->notes, ", ");
    json_quote(&d->notes, buf);
}

void sim_leave(struct sim_dev *d, const char *next_spec)
{
    free(d->next_spec);
    d->next_spec = next_spec ? xstrdup(next_spec) : NULL;
    d->transition = next_spec ? SIM_BECOME : SIM_DISAPPEAR;
    sim_note(d, "leave the bus%s%s", next_spec ? ", come back as " : "",
             next_spec ? next_spec : "");
}

static const char *request_name(const struct sim_setup *s)
{
    static const char *const dfu[] = {"DETACH",    "DNLOAD",   "UPLOAD", "GETSTATUS",
                                      "CLRSTATUS", "GETSTATE", "ABORT"};
    static const char *const std[] = {"GET_STATUS",
                                      "CLEAR_FEATURE",
                                      "?",
                                      "SET_FEATURE",
                                      "?",
                                      "SET_ADDRESS",
                                      "GET_DESCRIPTOR",
                                      "SET_DESCRIPTOR",
                                      "GET_CONFIGURATION",
                                      "SET_CONFIGURATION",
                                      "GET_INTERFACE",
                                      "SET_INTERFACE"};

    if ((s->bmRequestType & 0x60) == 0x20 && s->bRequest < ARRAY_SIZE(dfu) &&
        (s->bmRequestType & 0x1f) == 1)
        return dfu[s->bRequest];
    if ((s->bmRequestType & 0x60) == 0 && s->bRequest < ARRAY_SIZE(std))
        return std[s->bRequest];
    return "CLASS";
}

static void log_entry(struct sim_dev *d, const char *what, const struct sim_setup *s, size_t len,
                      int rc)
{
    static const char *const results[] = {"ok", "stall", "gone", "ioerr"};

    if (d->nr_log++)
        strbuf_addstr(&d->log, ",\n");
    strbuf_addf(&d->log, "    {\"t_us\": %llu, \"request\": ", (unsigned long long)d->now_us);
    json_quote(&d->log, what);
    if (s)
        strbuf_addf(&d->log, ", \"setup\": \"%02x %02x %04x %04x %04x\"", s->bmRequestType,
                    s->bRequest, s->wValue, s->wIndex, s->wLength);
    strbuf_addf(&d->log, ", \"length\": %zu, \"result\": \"%s\", \"state\": %d", len,
                rc <= 0 && rc >= -3 ? results[-rc] : "?", d->state);
    if (d->notes.len)
        strbuf_addf(&d->log, ", \"notes\": [%s]", d->notes.buf);
    strbuf_addch(&d->log, '}');
    strbuf_reset(&d->notes);
}

/* USB transfer cost: the lower bound of any host, whatever it does. */
static void charge_transfer(struct sim_dev *d, size_t len)
{
    uint64_t us = d->timing.ctrl_fixed_us + (len + 63) / 64 * d->timing.ctrl_packet_us;

    d->device_bound_us += us;
    d->reply_us += us;
}

static int get_descriptor(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    uint8_t type = (uint8_t)(s->wValue >> 8), index = (uint8_t)(s->wValue & 0xff);
    const uint8_t *src = NULL;
    size_t n = 0;
    uint8_t str[256];

    switch (type) {
    case 1:
        src = (const uint8_t *)d->descriptors.buf;
        n = 18;
        break;
    case 2:
        if (index != 0)
            return SIM_STALL;
        src = (const uint8_t *)d->descriptors.buf + 18;
        n = d->descriptors.len - 18;
        break;
    case 3:
        if (index == 0) {
            static const uint8_t langs[] = {4, 3, 0x09, 0x04};

            src = langs;
            n = sizeof(langs);
            break;
        }
        if (index >= d->nr_strings)
            return SIM_STALL;
        n = 2;
        for (const char *p = d->strings[index]; *p && n + 2 <= sizeof(str); p++) {
            str[n++] = (uint8_t)*p; /* ASCII only: every string here is */
            str[n++] = 0;
        }
        str[0] = (uint8_t)n;
        str[1] = 3;
        src = str;
        break;
    default:
        return SIM_STALL;
    }
    if (n > s->wLength)
        n = s->wLength;
    memcpy(data, src, n);
    *len = n;
    return SIM_OK;
}

static int standard_request(struct sim_dev *d, const struct sim_setup *s, uint8_t *data,
                            size_t *len)
{
    switch (s->bRequest) {
    case 0: /* GET_STATUS */
        if (s->wLength < 2)
            return SIM_STALL;
        data[0] = s->bmRequestType == 0x80 ? 1 : 0; /* self powered */
        data[1] = 0;
        *len = 2;
        return SIM_OK;
    case 1: /* CLEAR_FEATURE */
    case 3: /* SET_FEATURE */
    case 9: /* SET_CONFIGURATION */
        *len = 0;
        return SIM_OK;
    case 6:
        return get_descriptor(d, s, data, len);
    case 8: /* GET_CONFIGURATION */
        data[0] = 1;
        *len = 1;
        return SIM_OK;
    case 10: /* GET_INTERFACE */
        data[0] = (uint8_t)d->cur_alt;
        *len = 1;
        return SIM_OK;
    case 11: /* SET_INTERFACE */
        sim_dev_set_alt(d, s->wIndex, s->wValue);
        *len = 0;
        return SIM_OK;
    }
    return SIM_STALL;
}

static void check_state_faults(struct sim_dev *d)
{
    if (d->transition == SIM_STAY && sim_fault(d, SIM_FAULT_UNPLUG_IN_STATE, (uint64_t)d->state))
        sim_leave(d, NULL);
    if (d->transition == SIM_STAY &&
        sim_fault(d, SIM_FAULT_UNPLUG_AFTER_BYTES, d->bytes_downloaded))
        sim_leave(d, NULL);
}

int sim_dev_control(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len)
{
    int rc;

    if (d->gone)
        return SIM_GONE;
    /* A request that arrives while the device works is answered when it is done. */
    sim_dev_advance(d, d->busy_until_us);
    d->reply_us = 0;
    if (!(s->bmRequestType & 0x80))
        *len = s->wLength;
    if (sim_fault(d, SIM_FAULT_STALL_REQUEST, s->bRequest)) {
        rc = SIM_STALL;
        *len = 0;
    } else if (d->has_dfu && !(d->dfu_attributes & 0x02) && s->bmRequestType == 0xA1 &&
               s->bRequest == SIM_DFU_UPLOAD) {
        /* DFU 1.1: without bitCanUpload the device does not know UPLOAD. */
        sim_note(d, "UPLOAD refused: bitCanUpload is 0");
        rc = SIM_STALL;
    } else if ((s->bmRequestType & 0x60) == 0) {
        rc = standard_request(d, s, data, len);
    } else if (d->ops && d->ops->control) {
        rc = d->ops->control(d, s, data, len);
    } else {
        rc = SIM_STALL;
    }
    if (rc != SIM_OK)
        *len = 0;
    charge_transfer(d, *len);
    check_state_faults(d);
    log_entry(d, request_name(s), s, *len, rc);
    if (d->transition != SIM_STAY)
        d->gone = true;
    return rc;
}

int sim_dev_bulk(struct sim_dev *d, uint8_t ep, uint8_t *data, size_t *len)
{
    char what[32];
    int rc;

    if (d->gone)
        return SIM_GONE;
    sim_dev_advance(d, d->busy_until_us);
    d->reply_us = 0;
    rc = d->ops && d->ops->bulk ? d->ops->bulk(d, ep, data, len) : SIM_STALL;
    if (rc != SIM_OK)
        *len = 0;
    if (rc == SIM_OK && (ep & 0x80) && *len == 0 && !d->notes.len)
        return rc; /* a NAKed IN poll: nothing happened, nothing to log */
    charge_transfer(d, *len);
    snprintf(what, sizeof(what), "BULK 0x%02x", ep);
    log_entry(d, what, NULL, *len, rc);
    if (d->transition != SIM_STAY)
        d->gone = true;
    return rc;
}

void sim_dev_set_alt(struct sim_dev *d, unsigned iface, unsigned alt)
{
    d->cur_alt = alt;
    if (d->ops && d->ops->set_alt)
        d->ops->set_alt(d, iface, alt);
    sim_note(d, "interface %u alt %u", iface, alt);
}

void sim_dev_reset(struct sim_dev *d)
{
    if (d->gone)
        return;
    if (d->ops && d->ops->reset)
        d->ops->reset(d);
    log_entry(d, "RESET", NULL, 0, SIM_OK);
    if (d->transition != SIM_STAY)
        d->gone = true;
}

/* ---- specs ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum sim_fault_kind kind;
} fault_names[] = {
    {"unplug-bytes", SIM_FAULT_UNPLUG_AFTER_BYTES},
    {"unplug-state", SIM_FAULT_UNPLUG_IN_STATE},
    {"stall", SIM_FAULT_STALL_REQUEST},
    {"wrong-state", SIM_FAULT_WRONG_STATE},
    {"slow-erase", SIM_FAULT_SLOW_ERASE},
    {"refuse-write", SIM_FAULT_REFUSE_WRITE},
    {"late", SIM_FAULT_LATE},
};

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 0);
    return *s && !*end && !errno ? 0 : -1;
}

/* Change bmAttributes in the functional descriptor (spec option attrs=0xNN). */
static int set_dfu_attributes(struct sim_dev *d, const char *v, char *err, size_t errlen)
{
    uint8_t *p = (uint8_t *)d->descriptors.buf;
    uint64_t attrs;

    if (!d->has_dfu || parse_u64(v, &attrs) < 0 || attrs > 0xFF)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "attrs=%s: expected a byte, on a device with a DFU descriptor", v);
    for (size_t i = 18; i + 2 < d->descriptors.len; i += p[i] ? p[i] : 1) {
        if (p[i] == 9 && p[i + 1] == 0x21)
            p[i + 2] = (uint8_t)attrs;
    }
    d->dfu_attributes = (uint8_t)attrs;
    return 0;
}

static int add_fault(struct sim_dev *d, const char *v, char *err, size_t errlen)
{
    char name[32];
    const char *colon = strchr(v, ':');
    struct sim_fault f = {SIM_FAULT_NONE, 0, 0, 0};
    char *rest;

    if (!colon || (size_t)(colon - v) >= sizeof(name))
        return omv_seterr(err, errlen, OMV_EINVAL, "fault '%s': expected KIND:ARG[:COUNT]", v);
    snprintf(name, sizeof(name), "%.*s", (int)(colon - v), v);
    for (size_t i = 0; i < ARRAY_SIZE(fault_names); i++)
        if (!strcmp(fault_names[i].name, name))
            f.kind = fault_names[i].kind;
    if (f.kind == SIM_FAULT_NONE)
        return omv_seterr(err, errlen, OMV_EINVAL, "unknown fault '%s'", name);
    rest = xstrdup(colon + 1);
    {
        char *c2 = strchr(rest, ':');
        uint64_t count = 0;
        int bad = 0;

        if (c2) {
            *c2 = '\0';
            bad |= parse_u64(c2 + 1, &count);
        }
        if (f.kind == SIM_FAULT_SLOW_ERASE && !strcmp(rest, "max"))
            f.arg = 0; /* the part's datasheet maximum */
        else
            bad |= parse_u64(rest, &f.arg) || (f.kind == SIM_FAULT_SLOW_ERASE && !f.arg);
        f.count = (unsigned)count;
        free(rest);
        if (bad)
            return omv_seterr(err, errlen, OMV_EINVAL, "fault '%s': bad number", v);
    }
    if (d->nr_faults >= ARRAY_SIZE(d->faults))
        return omv_seterr(err, errlen, OMV_EINVAL, "too many faults");
    d->faults[d->nr_faults++] = f;
    return 0;
}

static int load_file(struct sim_dev *d, const char *v, char *err, size_t errlen)
{
    const char *at = strrchr(v, '@');
    struct strbuf path = STRBUF_INIT, data = STRBUF_INIT;
    struct sim_region *r;
    uint64_t addr;
    int rc = 0;

    if (!at || parse_u64(at + 1, &addr) < 0 || addr > UINT32_MAX)
        return omv_seterr(err, errlen, OMV_EINVAL, "load '%s': expected FILE@ADDRESS", v);
    strbuf_add(&path, v, (size_t)(at - v));
    rc = fs_read_file(path.buf, &data, err, errlen);
    if (rc == 0) {
        r = sim_dev_region_at(d, (uint32_t)addr);
        if (!r || addr - r->base + data.len > r->size)
            rc = omv_seterr(err, errlen, OMV_EINVAL,
                            "load '%s': %zu bytes at 0x%08llX do not fit any memory", v, data.len,
                            (unsigned long long)addr);
        else
            memcpy(r->data + (addr - r->base), data.buf, data.len);
    }
    strbuf_release(&path);
    strbuf_release(&data);
    return rc;
}

static void set_serial(struct sim_dev *d, const char *serial)
{
    free(d->serial);
    d->serial = xstrdup(serial);
    free(d->strings[d->serial_index]);
    d->strings[d->serial_index] = xstrdup(serial);
}

static const struct sim_model_ops usb_ops = {"usb", NULL, NULL, NULL, NULL, NULL};

struct sim_dev *sim_model_usb(const char *vidpid, char *err, size_t errlen)
{
    static const uint8_t intf[] = {9, 0x04, 0, 0, 0, 0xFF, 0, 0, 0};
    unsigned vid, pid;
    char tail;
    struct sim_dev *d;

    if (sscanf(vidpid, "%4x:%4x%c", &vid, &pid, &tail) != 2) {
        omv_seterr(err, errlen, OMV_EINVAL, "usb:%s: expected usb:VID:PID in hex", vidpid);
        return NULL;
    }
    d = sim_dev_new((uint16_t)vid, (uint16_t)pid, 0x0100, "omvdev-sim", "USB device", "0");
    sim_dev_config_begin(d, 1);
    sim_dev_config_add(d, intf, sizeof(intf));
    sim_dev_config_finish(d);
    d->ops = &usb_ops;
    return d;
}

struct sim_dev *sim_dev_new_from_spec(const char *spec, char *err, size_t errlen)
{
    char *copy = xstrdup(spec), *kind = copy, *arg, *opts, *tok, *save = NULL;
    const char *rev = NULL;
    struct sim_dev *d = NULL;

    arg = strchr(copy, ':');
    if (!arg) {
        omv_seterr(err, errlen, OMV_EINVAL, "device '%s': expected KIND:MODEL[,OPTION=VALUE...]",
                   spec);
        goto fail;
    }
    *arg++ = '\0';
    opts = strchr(arg, ',');
    if (opts)
        *opts++ = '\0';
    /* rev= changes which ROM is built, so find it first. */
    for (const char *o = opts; o && (o = strstr(o, "rev=")); o += 4)
        if (o == opts || o[-1] == ',')
            rev = o + 4;
    if (!strcmp(kind, "st-rom"))
        d = sim_model_st_rom(arg, rev && (rev[0] == 'V' || rev[0] == 'v'), err, errlen);
    else if (!strcmp(kind, "openmv-bl"))
        d = sim_model_openmv_bl(arg, err, errlen);
    else if (!strcmp(kind, "arduino"))
        d = sim_model_arduino(arg, err, errlen);
    else if (!strcmp(kind, "camera"))
        d = sim_model_camera(arg, err, errlen);
    else if (!strcmp(kind, "usb"))
        d = sim_model_usb(arg, err, errlen);
    else
        omv_seterr(err, errlen, OMV_EINVAL,
                   "unknown device kind '%s' (st-rom, openmv-bl, arduino, camera or usb)", kind);
    if (!d)
        goto fail;
    d->spec = xstrdup(spec);
    for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int rc = 0;

        if (!eq) {
            rc = omv_seterr(err, errlen, OMV_EINVAL, "option '%s' has no '='", tok);
        } else {
            *eq++ = '\0';
            if (!strcmp(tok, "serial")) {
                set_serial(d, eq);
            } else if (!strcmp(tok, "load")) {
                for (char *s2 = NULL, *part = strtok_r(eq, "+", &s2); part && !rc;
                     part = strtok_r(NULL, "+", &s2))
                    rc = load_file(d, part, err, errlen);
            } else if (!strcmp(tok, "fault")) {
                rc = add_fault(d, eq, err, errlen);
            } else if (!strcmp(tok, "after")) {
                /* after= takes the rest of the spec: it may hold commas itself. */
                free(d->after_spec);
                d->after_spec = xstrdup(spec + (eq - copy));
                break;
            } else if (!strcmp(tok, "rev")) {
                /* handled above */
            } else if (!strcmp(tok, "busy")) {
                if (strcmp(eq, "answer") && strcmp(eq, "nak"))
                    rc = omv_seterr(err, errlen, OMV_EINVAL, "busy=%s: expected answer or nak", eq);
                d->answer_while_busy = !strcmp(eq, "answer");
            } else if (!strcmp(tok, "attrs")) {
                rc = set_dfu_attributes(d, eq, err, errlen);
            } else {
                rc = omv_seterr(err, errlen, OMV_EINVAL, "unknown option '%s'", tok);
            }
        }
        if (rc) {
            sim_dev_free(d);
            d = NULL;
            goto fail;
        }
    }
    free(copy);
    return d;
fail:
    free(copy);
    return NULL;
}

/* ---- results ------------------------------------------------------------------------------ */

int sim_dev_dump(const struct sim_dev *d, const char *dir, const char *log_name, char *err,
                 size_t errlen)
{
    struct strbuf base = STRBUF_INIT, path = STRBUF_INIT, json = STRBUF_INIT;
    int rc = 0;

    fs_path_join(&base, dir, d->serial);
    for (size_t i = 0; i < d->nr_regions && rc == 0; i++) {
        strbuf_reset(&path);
        strbuf_addf(&path, "%s/%s.bin", base.buf, d->regions[i].name);
        rc = fs_write_atomic(path.buf, d->regions[i].data, d->regions[i].size, 0644, err, errlen);
    }
    if (rc == 0) {
        strbuf_addstr(&json, "{\n  \"schema\": 1,\n  \"spec\": ");
        json_quote(&json, d->spec ? d->spec : "");
        strbuf_addf(&json, ",\n  \"vid\": \"%04X\",\n  \"pid\": \"%04X\",\n  \"serial\": ", d->vid,
                    d->pid);
        json_quote(&json, d->serial);
        strbuf_addf(&json, ",\n  \"device_bound_us\": %llu,\n  \"requests\": [\n%s\n  ]\n}\n",
                    (unsigned long long)d->device_bound_us, d->log.buf);
        strbuf_reset(&path);
        strbuf_addf(&path, "%s/%s", base.buf, log_name);
        rc = fs_write_atomic(path.buf, json.buf, json.len, 0644, err, errlen);
    }
    strbuf_release(&base);
    strbuf_release(&path);
    strbuf_release(&json);
    return rc;
}
