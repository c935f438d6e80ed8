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
        return omv_seterr(err, errlen, OMV_EINVAL,
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
            return omv_seterr(err, errlen, OMV_EINVAL, "alt %u '%s' of %s is read-only", a->alt,
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
    struct strbuf why = STRBUF_INIT;
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
            rc = omv_seterr(err, errlen, OMV_EINVAL,
                            "'%s' is a plain DFU file: it does not say where it goes (use "
                            "--alt N)",
                            o->file);
            goto out;
        }
        memmove(first->data, f.payload, f.payload_len);
        first->len = f.payload_len;
        if (first->limit && first->len > first->limit)
            rc = omv_seterr(err, errlen, OMV_EINVAL,
                            "'%s' holds %zu bytes but the %s partition holds %llu", o->file,
                            first->len, first->alt_name ? first->alt_name : "target",
                            (unsigned long long)first->limit);
        goto out;
    }
    if (o->alt >= 0 || o->address >= 0) {
        rc = omv_seterr(err, errlen, OMV_EINVAL,
                        "'%s' is a DfuSe file: its elements carry their own addresses, so "
                        "--alt and --address do not apply",
                        o->file);
        goto out;
    }
    /* The file's bytes stay with the first step until every element is copied. */
    {
        uint8_t *raw = first->data;
        char *path = first->path;
        size_t nsteps = 0;

        first->data = NULL;
        first->path = NULL;
        plan->nr--; /* `first` becomes the first element's step */
        free(first->label);
        free(first->alt_name);
        for (size_t i = 0; i < f.nr_targets; i++) {
            for (size_t j = 0; j < f.targets[i].nr; j++) {
                const struct dfu_element *e = &f.targets[i].elems[j];
                struct flash_step *s;

                strbuf_reset(&why);
                strbuf_addf(&why, "%s@0x%08X", base_name(o->file), (unsigned)e->address);
                s = add_step(plan, why.buf);
                s->path = xstrdup(path);
                s->alt = f.targets[i].alt;
                s->address = e->address;
                s->len = e->size;
                s->data = xmalloc(e->size ? e->size : 1);
                memcpy(s->data, e->data, e->size);
                nsteps++;
            }
        }
        free(raw);
        free(path);
        if (!nsteps)
            rc = omv_seterr(err, errlen, OMV_EINVAL, "'%s' holds no elements", o->file);
    }
out:
    dfu_file_release(&f);
    strbuf_release(&why);
    return rc;
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
                rc = omv_seterr(err, errlen, OMV_EINVAL, "alt %d '%s' of %s is read-only", o->alt,
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
    /* DfuSe boards jump to the firmware after the last transfer. */
    if (rc == 0 && t->method == TARGET_METHOD_DFUSE) {
        const struct target_image *fw = image_by_role(t, TARGET_ROLE_FIRMWARE);

        plan->leave_address = fw && fw->address >= 0 ? (uint32_t)fw->address : 0x08000000;
        plan->leave_alt = fw && fw->alt >= 0 ? fw->alt : 0;
    }
out:
    for (size_t i = 0; rc == 0 && i < plan->nr; i++)
        if (plan->steps[i].address >= 0 && t->method != TARGET_METHOD_DFUSE)
            plan->needs_rom = true;
    if (rc == 0 && plan->needs_rom) {
        /* The ST ROM leaves into internal flash: the OpenMV bootloader. */
        plan->leave_address = 0x08000000;
        plan->leave_alt = 0;
    }
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
