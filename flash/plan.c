#include "lib/compat.h"
#include "flash/plan.h"

#include "flash/dfu_file.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct flash_step *add_step(struct flash_plan *plan, const char *label)
{
    struct flash_step *s;

    plan->steps = xrealloc(plan->steps, (plan->nr + 1) * sizeof(*plan->steps));
    s = &plan->steps[plan->nr++];
    memset(s, 0, sizeof(*s));
    s->label = xstrdup(label);
    s->alt = -1;
    s->address = -1;
    return s;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* Read the file into the step and check it against the partition. */
static int load(struct flash_step *s, const char *path, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    int rc = fs_read_file(path, &sb, err, errlen);

    if (rc < 0) {
        strbuf_release(&sb);
        return rc;
    }
    if (sb.len == 0) {
        strbuf_release(&sb);
        return omv_seterr(err, errlen, OMV_EINVAL, "'%s' is empty", path);
    }
    s->path = xstrdup(path);
    s->len = sb.len;
    s->data = (uint8_t *)strbuf_detach(&sb, NULL);
    if (s->limit && s->len > s->limit)
        return omv_seterr(err, errlen, OMV_ETOOBIG,
                          "'%s' is %zu bytes but the %s partition holds %llu", path, s->len,
                          s->alt_name ? s->alt_name : "target", (unsigned long long)s->limit);
    return 0;
}

/* Fill alt, name, address and limit of a step that writes image `im`. */
static int place(const struct target *t, const struct target_image *im, struct flash_step *s,
                 char *err, size_t errlen)
{
    const struct target_alt *a = im->alt >= 0 ? target_alt_by_number(t, (unsigned)im->alt) : NULL;

    s->alt = im->alt;
    s->address = im->address;
    s->limit = im->max_size;
    if (a) {
        s->alt_name = xstrdup(a->name);
        s->erase_size = a->erase_size;
        if (a->readonly)
            return omv_seterr(err, errlen, OMV_EUSAGE, "alt %u '%s' of %s is read-only", a->alt,
                              a->name, t->name);
        if (im->address < 0 && (!s->limit || s->limit > (uint64_t)a->end - a->start))
            s->limit = (uint64_t)a->end - a->start;
    }
    return 0;
}

static const struct target_image *image_by_role(const struct target *t, enum target_role role)
{
    for (size_t i = 0; i < t->nr_images; i++)
        if (t->images[i].role == role)
            return &t->images[i];
    return NULL;
}

static int add_erase(struct flash_plan *plan, const struct target *t, char *err, size_t errlen)
{
    if (!t->nr_erases)
        return omv_seterr(err, errlen, OMV_EINVAL, "%s has no filesystem erase over USB", t->name);
    for (size_t i = 0; i < t->nr_erases; i++) {
        const struct target_erase *e = &t->erases[i];
        const struct target_alt *a = e->alt >= 0 ? target_alt_by_number(t, (unsigned)e->alt) : NULL;
        struct flash_step *s = add_step(plan, "filesystem erase");

        s->alt = e->alt;
        s->address = e->address;
        s->alt_name = a ? xstrdup(a->name) : NULL;
        s->len = e->size;
        s->data = xcalloc(1, e->size); /* zeros: the bootloader erases the first sector */
    }
    return 0;
}

static bool is_dfu_name(const char *path)
{
    size_t n = strlen(path);

    return n > 4 && !strcasecmp(path + n - 4, ".dfu");
}

/* A DfuSe file's elements, one step each by address; `first` (the step that holds the
 * file's bytes) becomes the first element's step. */
static int add_elements(struct flash_plan *plan, struct flash_step *first, const struct dfu_file *f,
                        const char *file, char *err, size_t errlen)
{
    uint8_t *raw = first->data; /* the elements point into it until they are copied */
    char *path = first->path;
    struct strbuf label = STRBUF_INIT;
    size_t nsteps = 0;

    first->data = NULL;
    first->path = NULL;
    plan->nr--;
    free(first->label);
    free(first->alt_name);
    for (size_t i = 0; i < f->nr_targets; i++) {
        for (size_t j = 0; j < f->targets[i].nr; j++) {
            const struct dfu_element *e = &f->targets[i].elems[j];
            struct flash_step *s;

            strbuf_reset(&label);
            strbuf_addf(&label, "%s@0x%08X", base_name(file), (unsigned)e->address);
            s = add_step(plan, label.buf);
            s->path = xstrdup(path);
            s->alt = f->targets[i].alt;
            s->address = e->address;
            s->len = e->size;
            s->data = xmalloc(e->size ? e->size : 1);
            memcpy(s->data, e->data, e->size);
            nsteps++;
        }
    }
    free(raw);
    free(path);
    strbuf_release(&label);
    if (!nsteps)
        return omv_seterr(err, errlen, OMV_EINVAL, "'%s' holds no elements", file);
    return 0;
}

/*
 * A .dfu file for --file: checked (suffix, CRC, DfuSe structure) and against
 * the device it will be written to; a plain DFU file's payload replaces the
 * step's data, a DfuSe file's elements become one step each, by address.
 */
static int load_dfu(struct flash_plan *plan, struct flash_step *first,
                    const struct flash_plan_opts *o, char *err, size_t errlen)
{
    const struct target *t = plan->target;
    struct dfu_file f = DFU_FILE_INIT;
    struct usb_id dev;
    char msg[512];
    int rc;

    rc = load(first, o->file, err, errlen);
    if (rc < 0)
        return rc;
    rc = dfu_file_parse(&f, first->data, first->len, msg, sizeof(msg));
    if (rc < 0) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "'%s': %s", o->file, msg);
        goto out;
    }
    /* DfuSe files go to a DfuSe device: the board's own, or the ST ROM. */
    dev = f.dfuse && t->method != TARGET_METHOD_DFUSE ? t->recovery_usb : t->dfu_usb;
    if (!dev.vid) {
        rc = omv_seterr(err, errlen, OMV_EINVAL,
                        "'%s' is a DfuSe file (by address), but %s has no DfuSe bootloader",
                        o->file, t->name);
        goto out;
    }
    rc = dfu_file_check_device(&f, dev.vid, dev.pid, msg, sizeof(msg));
    if (rc < 0) {
        rc = omv_seterr(
            err, errlen, OMV_EINVAL, "'%s' is not for %s%s: %s", o->file, t->name,
            f.dfuse && t->method != TARGET_METHOD_DFUSE ? "'s ST system bootloader" : "", msg);
        goto out;
    }
    if (!f.dfuse) {
        if (o->alt < 0 && o->address < 0) {
            rc = omv_seterr(err, errlen, OMV_EUSAGE,
                            "'%s' is a plain DFU file: it does not say where it goes (use "
                            "--alt N)",
                            o->file);
            goto out;
        }
        memmove(first->data, f.payload, f.payload_len);
        first->len = f.payload_len;
        if (first->limit && first->len > first->limit)
            rc = omv_seterr(err, errlen, OMV_ETOOBIG,
                            "'%s' holds %zu bytes but the %s partition holds %llu", o->file,
                            first->len, first->alt_name ? first->alt_name : "target",
                            (unsigned long long)first->limit);
        goto out;
    }
    if (o->alt >= 0 || o->address >= 0) {
        rc = omv_seterr(err, errlen, OMV_EUSAGE,
                        "'%s' is a DfuSe file: its elements carry their own addresses, so "
                        "--alt and --address do not apply",
                        o->file);
        goto out;
    }
    rc = add_elements(plan, first, &f, o->file, err, errlen);
out:
    dfu_file_release(&f);
    return rc;
}

/* The board database's alt holding addr, or NULL. */
static const struct target_alt *alt_at(const struct target *t, uint64_t addr)
{
    for (size_t i = 0; i < t->nr_alts; i++)
        if (t->alts[i].start <= addr && addr < t->alts[i].end)
            return &t->alts[i];
    return NULL;
}

/* "alt 0 0x08000000-0x081FFFFF (internal), ..." */
static void describe_alts(const struct target *t, struct strbuf *sb)
{
    for (size_t i = 0; i < t->nr_alts; i++)
        strbuf_addf(sb, "%salt %u 0x%08X-0x%08X (%s)", i ? ", " : "", t->alts[i].alt,
                    t->alts[i].start, t->alts[i].end - 1, t->alts[i].memory);
}

/* The internal flash as the ST system bootloader sees it: every internal alt together. */
static void internal_flash(const struct target *t, uint64_t *start, uint64_t *end)
{
    *start = UINT64_MAX;
    *end = 0;
    for (size_t i = 0; i < t->nr_alts; i++) {
        if (strcmp(t->alts[i].memory, "internal") != 0)
            continue;
        if (t->alts[i].start < *start)
            *start = t->alts[i].start;
        if (t->alts[i].end > *end)
            *end = t->alts[i].end;
    }
}

/* A step placed by address on a board whose bootloader is DfuSe: inside one writable
 * alt of the board database, which it then goes through. */
static int check_dfuse_step(const struct target *t, struct flash_step *s, char *err, size_t errlen)
{
    const struct target_alt *a = alt_at(t, (uint64_t)s->address);
    struct strbuf sb = STRBUF_INIT;
    int rc = 0;

    if (!a) {
        describe_alts(t, &sb);
        rc = omv_seterr(err, errlen, OMV_EUSAGE,
                        "'%s' goes to 0x%08llX, which lies in none of %s's memories (%s)", s->label,
                        (unsigned long long)s->address, t->name, sb.buf);
    } else if ((uint64_t)s->address + s->len > a->end) {
        rc = omv_seterr(err, errlen, OMV_EUSAGE,
                        "'%s' (%zu bytes at 0x%08llX) runs past the end of alt %u (%s memory, "
                        "up to 0x%08X)",
                        s->label, s->len, (unsigned long long)s->address, a->alt, a->memory,
                        a->end - 1);
    } else if (a->readonly) {
        rc = omv_seterr(err, errlen, OMV_EUSAGE,
                        "'%s' goes to alt %u '%s' of %s, which is read-only", s->label, a->alt,
                        a->name, t->name);
    } else {
        s->alt = (int)a->alt;
    }
    strbuf_release(&sb);
    return rc;
}

/* A step that goes through the ST system bootloader: inside the internal flash. */
static int check_rom_step(const struct target *t, const struct flash_step *s, char *err,
                          size_t errlen)
{
    uint64_t start, end;

    internal_flash(t, &start, &end);
    if ((uint64_t)s->address < start || (uint64_t)s->address + s->len > end)
        return omv_seterr(err, errlen, OMV_EUSAGE,
                          "'%s' (%zu bytes at 0x%08llX) is not inside %s's internal flash "
                          "(0x%08llX-0x%08llX), the only memory the ST system bootloader writes",
                          s->label, s->len, (unsigned long long)s->address, t->name,
                          (unsigned long long)start, (unsigned long long)(end - 1));
    return 0;
}

/*
 * Every step placed by address is checked against the board database before
 * any device is touched (a dry run does the same), and the address to leave
 * DfuSe at is chosen: through the ST ROM the OpenMV bootloader at the start
 * of internal flash; on a DfuSe board the lowest address the plan writes in
 * the firmware's memory (the image's start), else the firmware's address
 * from the board database - never an address outside the alt, which the
 * Arduino bootloader answers with errTARGET.
 */
static int place_by_address(struct flash_plan *plan, char *err, size_t errlen)
{
    const struct target *t = plan->target;
    const struct target_image *fw = image_by_role(t, TARGET_ROLE_FIRMWARE);
    const struct target_alt *fw_alt =
        fw && fw->address >= 0 ? alt_at(t, (uint64_t)fw->address) : NULL;
    int64_t lowest = -1;

    for (size_t i = 0; i < plan->nr; i++)
        if (plan->steps[i].address >= 0 && t->method != TARGET_METHOD_DFUSE)
            plan->needs_rom = true;
    for (size_t i = 0; i < plan->nr; i++) {
        struct flash_step *s = &plan->steps[i];
        int rc;

        if (s->address < 0)
            continue;
        rc = plan->needs_rom ? check_rom_step(t, s, err, errlen)
                             : check_dfuse_step(t, s, err, errlen);
        if (rc < 0)
            return rc;
        for (size_t k = 0; k < i; k++) {
            const struct flash_step *o = &plan->steps[k];

            if (o->address >= 0 && (uint64_t)o->address < (uint64_t)s->address + s->len &&
                (uint64_t)s->address < (uint64_t)o->address + o->len)
                return omv_seterr(err, errlen, OMV_EUSAGE,
                                  "'%s' and '%s' overlap: each byte can be written only once",
                                  o->label, s->label);
        }
        if (fw_alt && alt_at(t, (uint64_t)s->address) == fw_alt &&
            (lowest < 0 || s->address < lowest) && s->path)
            lowest = s->address;
    }
    if (plan->needs_rom) {
        uint64_t start, end;

        internal_flash(t, &start, &end);
        plan->leave_address = start < end ? (uint32_t)start : 0x08000000;
        plan->leave_alt = 0;
    } else if (t->method == TARGET_METHOD_DFUSE) {
        plan->leave_address = lowest >= 0              ? (uint32_t)lowest
                              : fw && fw->address >= 0 ? (uint32_t)fw->address
                                                       : 0x08000000;
        plan->leave_alt = fw_alt ? (int)fw_alt->alt : 0;
    }
    return 0;
}

int flash_plan_build(struct flash_plan *plan, const struct target *t, const char *bin_dir,
                     const struct flash_plan_opts *o, char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    int rc = 0;

    plan->target = t;
    if (t->method != TARGET_METHOD_OPENMV_DFU && t->method != TARGET_METHOD_DFUSE) {
        rc = omv_seterr(err, errlen, OMV_EINVAL, "%s is flashed with %s, not over USB DFU", t->name,
                        target_method_name(t->method));
        goto out;
    }
    if (o->only_erase) {
        rc = add_erase(plan, t, err, errlen);
        goto out;
    }
    if (o->file) {
        struct flash_step *s = add_step(plan, base_name(o->file));

        s->alt = o->alt;
        s->address = o->address;
        if (o->alt >= 0) {
            const struct target_alt *a = target_alt_by_number(t, (unsigned)o->alt);

            if (a && a->readonly) {
                rc = omv_seterr(err, errlen, OMV_EUSAGE, "alt %d '%s' of %s is read-only", o->alt,
                                a->name, t->name);
                goto out;
            }
            if (a && o->address < 0) {
                s->alt_name = xstrdup(a->name);
                s->limit = (uint64_t)a->end - a->start;
                s->erase_size = a->erase_size;
            }
        }
        rc = is_dfu_name(o->file) ? load_dfu(plan, s, o, err, errlen)
                                  : load(s, o->file, err, errlen);
        goto out;
    }
    for (size_t i = 0; i < t->nr_images && rc == 0; i++) {
        const struct target_image *im = &t->images[i];
        const char *given = NULL;
        struct flash_step *s;

        if (im == image_by_role(t, TARGET_ROLE_FIRMWARE))
            given = o->firmware;
        else if (im == image_by_role(t, TARGET_ROLE_ROMFS))
            given = o->romfs;
        s = add_step(plan, given ? base_name(given) : im->file);
        rc = place(t, im, s, err, errlen);
        if (rc == 0 && !given) {
            strbuf_reset(&path);
            fs_path_join(&path, bin_dir, im->file);
        }
        if (rc == 0)
            rc = load(s, given ? given : path.buf, err, errlen);
    }
    if (rc == 0 && o->erase_fs)
        rc = add_erase(plan, t, err, errlen);
out:
    if (rc == 0)
        rc = place_by_address(plan, err, errlen);
    strbuf_release(&path);
    if (rc < 0)
        flash_plan_release(plan);
    return rc;
}

void flash_plan_release(struct flash_plan *plan)
{
    for (size_t i = 0; i < plan->nr; i++) {
        free(plan->steps[i].label);
        free(plan->steps[i].path);
        free(plan->steps[i].data);
        free(plan->steps[i].alt_name);
    }
    free(plan->steps);
    plan->steps = NULL;
    plan->nr = 0;
}

size_t flash_skip_mask(const uint8_t *old, const uint8_t *data, size_t len, uint32_t unit,
                       size_t xfer, bool *skip)
{
    size_t blocks = (len + xfer - 1) / xfer, send = len;

    for (size_t b = 0; b < blocks; b++)
        skip[b] = false;
    if (!unit || unit % xfer)
        return len;
    /* Unit 0 is always sent: block 0 is what opens the partition for writing. */
    for (size_t off = unit; off < len; off += unit) {
        size_t n = len - off < unit ? len - off : unit;

        if (memcmp(old + off, data + off, n) != 0)
            continue;
        for (size_t b = off / xfer; b < (off + n + xfer - 1) / xfer; b++)
            skip[b] = true;
        send -= n;
    }
    return send;
}
