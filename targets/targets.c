#include "lib/compat.h"
#include "targets/targets.h"

#include "lib/config.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Generated from the INI files in targets/boards by cmake/embed.cmake, in seed order. */
extern const struct embedded_file target_files[];
extern const size_t target_files_count;

static const char *const method_names[] = {
    [TARGET_METHOD_OPENMV_DFU] = "openmv_dfu", [TARGET_METHOD_DFUSE] = "dfuse",
    [TARGET_METHOD_SPSDK] = "spsdk",           [TARGET_METHOD_BOSSAC] = "bossac",
    [TARGET_METHOD_PICOTOOL] = "picotool",     [TARGET_METHOD_EMULATOR] = "emulator",
};

static const char *const recovery_names[] = {
    [TARGET_RECOVERY_NONE] = "none",
    [TARGET_RECOVERY_STM32_ROM_DFU] = "stm32_rom_dfu",
    [TARGET_RECOVERY_STM32CUBEPROG] = "stm32cubeprog",
    [TARGET_RECOVERY_SPSDK_SDP] = "spsdk_sdp",
    [TARGET_RECOVERY_ALIF_SETOOLS] = "alif_setools",
};

static const char *const role_names[] = {
    [TARGET_ROLE_BOOTLOADER] = "bootloader",
    [TARGET_ROLE_FIRMWARE] = "firmware",
    [TARGET_ROLE_FIRMWARE_HP] = "firmware-hp",
    [TARGET_ROLE_FIRMWARE_HE] = "firmware-he",
    [TARGET_ROLE_ROMFS] = "romfs",
    [TARGET_ROLE_FILESYSTEM_ERASE] = "filesystem-erase",
    [TARGET_ROLE_FILESYSTEM] = "filesystem",
    [TARGET_ROLE_TOC] = "toc",
    [TARGET_ROLE_RECOVERY] = "recovery",
    [TARGET_ROLE_MEMORY] = "memory",
};

static const char *const runner_names[] = {
    [TARGET_RUNNER_DFU] = "dfu",
    [TARGET_RUNNER_ST_ROM_DFU] = "st-rom-dfu",
    [TARGET_RUNNER_STM32CUBEPROG] = "stm32cubeprog",
    [TARGET_RUNNER_SWD_STLINK] = "swd-stlink",
    [TARGET_RUNNER_SWD_JLINK] = "swd-jlink",
    [TARGET_RUNNER_SPSDK] = "spsdk",
    [TARGET_RUNNER_ALIF_SE] = "alif-se",
    [TARGET_RUNNER_BOSSAC] = "bossac",
    [TARGET_RUNNER_PICOTOOL] = "picotool",
};

const char *target_runner_name(enum target_runner r)
{
    return (size_t)r < ARRAY_SIZE(runner_names) ? runner_names[r] : "?";
}

int target_runner_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(runner_names); i++)
        if (!strcmp(runner_names[i], name))
            return (int)i;
    return -1;
}

const char *target_method_name(enum target_method m)
{
    return (size_t)m < ARRAY_SIZE(method_names) ? method_names[m] : "?";
}

const char *target_recovery_name(enum target_recovery r)
{
    return (size_t)r < ARRAY_SIZE(recovery_names) ? recovery_names[r] : "?";
}

const char *target_role_name(enum target_role r)
{
    return (size_t)r < ARRAY_SIZE(role_names) ? role_names[r] : "?";
}

const char *usb_id_str(struct usb_id id, char *buf, size_t len)
{
    if (!id.vid && !id.pid)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "%04X:%04X", id.vid, id.pid);
    return buf;
}

/* ---- parsing ---------------------------------------------------------- */

struct parse_ctx {
    const char *file;
    const struct cfg_entry *e; /* the entry being read, for file:line */
    char *err;
    size_t errlen;
};

static int bad(struct parse_ctx *pc, const char *what)
{
    return omv_seterr(pc->err, pc->errlen, OMV_EPARSE, "%s:%u: %s '%s' for '%s'", pc->file,
                      pc->e->line, what, pc->e->value, pc->e->name);
}

static int parse_enum(struct parse_ctx *pc, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] && !strcmp(names[i], pc->e->value)) {
            *out = (int)i;
            return 0;
        }
    }
    return bad(pc, "unknown value");
}

static int parse_bool(struct parse_ctx *pc, bool *out)
{
    if (!strcmp(pc->e->value, "true"))
        *out = true;
    else if (!strcmp(pc->e->value, "false"))
        *out = false;
    else
        return bad(pc, "expected true or false, not");
    return 0;
}

/* Empty is "none" (*out = none); otherwise 0x... or decimal up to max. */
static int parse_u64(struct parse_ctx *pc, uint64_t max, int64_t none, int64_t *out)
{
    const char *v = pc->e->value;
    unsigned long long n;
    char *end;

    if (!*v) {
        *out = none;
        return 0;
    }
    if (!isdigit((unsigned char)v[0]))
        return bad(pc, "expected a number, not");
    errno = 0;
    n = strtoull(v, &end, 0);
    if (errno || *end || n > max)
        return bad(pc, "number out of range or malformed:");
    *out = (int64_t)n;
    return 0;
}

static int parse_usb(struct parse_ctx *pc, struct usb_id *id)
{
    const char *v = pc->e->value;
    unsigned vid, pid;
    int used = 0;

    if (!*v) {
        id->vid = id->pid = 0;
        return 0;
    }
    if (strlen(v) != 9 || sscanf(v, "%4x:%4x%n", &vid, &pid, &used) != 2 || used != 9)
        return bad(pc, "expected VID:PID in hex (e.g. 37C5:9204), not");
    id->vid = (uint16_t)vid;
    id->pid = (uint16_t)pid;
    return 0;
}

static int parse_gcc(struct parse_ctx *pc, unsigned *out)
{
    unsigned major, minor;
    int used = 0;

    if (!*pc->e->value) {
        *out = 0;
        return 0;
    }
    if (sscanf(pc->e->value, "%u.%u%n", &major, &minor, &used) != 2 ||
        (size_t)used != strlen(pc->e->value) || minor > 99)
        return bad(pc, "expected MAJOR.MINOR, not");
    *out = major * 100 + minor;
    return 0;
}

static char *opt_str(const char *v)
{
    return *v ? xstrdup(v) : NULL;
}

static void split_words(const char *v, char ***out, size_t *nr)
{
    size_t alloc = 0;

    while (*v) {
        size_t n;

        while (isspace((unsigned char)*v))
            v++;
        n = strcspn(v, " \t");
        if (!n)
            break;
        XGROW(*out, alloc, *nr + 1);
        (*out)[(*nr)++] = xstrndup(v, n);
        v += n;
    }
}

static int parse_runners(struct parse_ctx *pc, unsigned *out)
{
    char **w = NULL;
    size_t n = 0;
    int rc = 0;

    split_words(pc->e->value, &w, &n);
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        int r = target_runner_parse(w[i]);

        if (r < 0 && rc == 0)
            rc = omv_seterr(pc->err, pc->errlen, OMV_EPARSE,
                            "%s:%u: unknown runner '%s' (known: dfu st-rom-dfu stm32cubeprog "
                            "swd-stlink swd-jlink spsdk alif-se bossac picotool)",
                            pc->file, pc->e->line, w[i]);
        else if (r >= 0)
            *out |= 1u << r;
        free(w[i]);
    }
    free(w);
    return rc;
}

static void free_swd_images(struct target *t)
{
    for (size_t i = 0; i < t->nr_swd_images; i++)
        free(t->swd_images[i].file);
    free(t->swd_images);
    t->swd_images = NULL;
    t->nr_swd_images = 0;
}

/* "firmware.bin@0x08040000 romfs0.img@0x081E0000" */
static int parse_swd_images(struct parse_ctx *pc, struct target *t)
{
    char **w = NULL;
    size_t n = 0;
    int rc = 0;

    free_swd_images(t);
    split_words(pc->e->value, &w, &n);
    if (n)
        t->swd_images = xcalloc(n, sizeof(*t->swd_images));
    for (size_t i = 0; i < n; i++) {
        char *at = strchr(w[i], '@'), *end = NULL;
        unsigned long long a = 0;

        if (rc == 0 && at && at != w[i]) {
            errno = 0;
            a = strtoull(at + 1, &end, 0);
        }
        if (rc == 0 && (!at || at == w[i] || !end || *end || end == at + 1 || errno ||
                        a > UINT32_MAX || at[1] == '-')) {
            rc = omv_seterr(pc->err, pc->errlen, OMV_EPARSE,
                            "%s:%u: expected FILE@ADDRESS (e.g. firmware.bin@0x08040000), not "
                            "'%s' for 'swd_images'",
                            pc->file, pc->e->line, w[i]);
        } else if (rc == 0) {
            *at = 0;
            t->swd_images[t->nr_swd_images].file = xstrdup(w[i]);
            t->swd_images[t->nr_swd_images++].address = (uint32_t)a;
        }
        free(w[i]);
    }
    free(w);
    return rc;
}

static int board_field(struct parse_ctx *pc, struct target *t, unsigned *seen)
{
    const char *k = pc->e->name, *v = pc->e->value;
    int64_t n;
    int rc = 0, e = 0;

#define STR_FIELD(key, bit, field)                                                                 \
    if (!strcmp(k, key)) {                                                                         \
        free(t->field);                                                                            \
        t->field = opt_str(v);                                                                     \
        *seen |= 1u << (bit);                                                                      \
        return 0;                                                                                  \
    }
    STR_FIELD("target", 0, name)
    STR_FIELD("camera", 1, camera)
    STR_FIELD("mcu", 2, mcu)
    STR_FIELD("mcu_part", 3, mcu_part)
    STR_FIELD("port", 4, port)
    STR_FIELD("core", 5, core)
    STR_FIELD("jlink_device", 6, jlink_device)
    STR_FIELD("debug_elf", 7, debug_elf)
#undef STR_FIELD
    if (!strcmp(k, "supported")) {
        rc = parse_bool(pc, &t->supported);
        *seen |= 1u << 8;
    } else if (!strcmp(k, "app_usb")) {
        rc = parse_usb(pc, &t->app_usb);
        *seen |= 1u << 9;
    } else if (!strcmp(k, "dfu_usb")) {
        rc = parse_usb(pc, &t->dfu_usb);
        *seen |= 1u << 10;
    } else if (!strcmp(k, "recovery_usb")) {
        rc = parse_usb(pc, &t->recovery_usb);
        *seen |= 1u << 11;
    } else if (!strcmp(k, "method")) {
        rc = parse_enum(pc, method_names, ARRAY_SIZE(method_names), &e);
        t->method = (enum target_method)e;
        *seen |= 1u << 12;
    } else if (!strcmp(k, "recovery")) {
        rc = parse_enum(pc, recovery_names, ARRAY_SIZE(recovery_names), &e);
        t->recovery = (enum target_recovery)e;
        *seen |= 1u << 13;
    } else if (!strcmp(k, "boots_external_flash")) {
        rc = parse_bool(pc, &t->boots_external_flash);
        *seen |= 1u << 14;
    } else if (!strcmp(k, "min_gcc")) {
        rc = parse_gcc(pc, &t->min_gcc);
        *seen |= 1u << 15;
    } else if (!strcmp(k, "artefacts")) {
        split_words(v, &t->artefacts, &t->nr_artefacts);
        *seen |= 1u << 16;
    } else if (!strcmp(k, "runners")) {
        rc = parse_runners(pc, &t->runners);
    } else if (!strcmp(k, "swd_images")) {
        rc = parse_swd_images(pc, t);
    } else if (!strcmp(k, "swd_loader")) {
        free(t->swd_loader);
        t->swd_loader = opt_str(v);
    } else if (!strcmp(k, "probes")) {
        split_words(v, &t->probes, &t->nr_probes);
        for (size_t i = 0; i < t->nr_probes && rc == 0; i++)
            if (strcmp(t->probes[i], "jlink") && strcmp(t->probes[i], "stlink") &&
                strcmp(t->probes[i], "cmsis-dap") && strcmp(t->probes[i], "qemu"))
                rc = omv_seterr(pc->err, pc->errlen, OMV_EPARSE,
                                "%s:%u: unknown probe '%s' (jlink, stlink, cmsis-dap or qemu)",
                                pc->file, pc->e->line, t->probes[i]);
    } else if (!strcmp(k, "openocd_target")) {
        free(t->openocd_target);
        t->openocd_target = opt_str(v);
    } else if (!strcmp(k, "qemu_machine")) {
        free(t->qemu_machine);
        t->qemu_machine = opt_str(v);
    } else if (!strcmp(k, "fvp_machine")) {
        free(t->fvp_machine);
        t->fvp_machine = opt_str(v);
    } else {
        (void)n;
        return omv_seterr(pc->err, pc->errlen, OMV_EPARSE, "%s:%u: unknown key '%s' in [board]",
                          pc->file, pc->e->line, k);
    }
    return rc;
}

/* The keys [board] must have, in the bit order board_field() uses. */
static const char *const board_keys[] = {
    "target",  "camera",       "mcu",       "mcu_part",  "port",
    "core",    "jlink_device", "debug_elf", "supported", "app_usb",
    "dfu_usb", "recovery_usb", "method",    "recovery",  "boots_external_flash",
    "min_gcc", "artefacts",
};

static int alt_field(struct parse_ctx *pc, struct target_alt *a)
{
    const char *k = pc->e->name;
    int64_t n;
    int e = 0, rc;

    if (!strcmp(k, "name")) {
        free(a->name);
        a->name = xstrdup(pc->e->value);
        return 0;
    }
    if (!strcmp(k, "memory")) {
        free(a->memory);
        a->memory = xstrdup(pc->e->value);
        return 0;
    }
    if (!strcmp(k, "start") || !strcmp(k, "end")) {
        rc = parse_u64(pc, UINT32_MAX, -1, &n);
        if (rc == 0 && n < 0)
            return bad(pc, "missing value");
        if (rc == 0)
            *(k[0] == 's' ? &a->start : &a->end) = (uint32_t)n;
        return rc;
    }
    if (!strcmp(k, "role")) {
        rc = parse_enum(pc, role_names, ARRAY_SIZE(role_names), &e);
        a->role = (enum target_role)e;
        return rc;
    }
    if (!strcmp(k, "readonly"))
        return parse_bool(pc, &a->readonly);
    if (!strcmp(k, "erase_size")) {
        rc = parse_u64(pc, UINT32_MAX, 0, &n);
        a->erase_size = (uint32_t)n;
        return rc;
    }
    return omv_seterr(pc->err, pc->errlen, OMV_EPARSE, "%s:%u: unknown key '%s' in [alt %u]",
                      pc->file, pc->e->line, k, a->alt);
}

static int image_field(struct parse_ctx *pc, struct target_image *im)
{
    const char *k = pc->e->name;
    int64_t n;
    int e = 0, rc;

    if (!strcmp(k, "role")) {
        rc = parse_enum(pc, role_names, ARRAY_SIZE(role_names), &e);
        im->role = (enum target_role)e;
        return rc;
    }
    if (!strcmp(k, "alt")) {
        rc = parse_u64(pc, 255, -1, &n);
        im->alt = (int)n;
        return rc;
    }
    if (!strcmp(k, "address"))
        return parse_u64(pc, UINT32_MAX, -1, &im->address);
    if (!strcmp(k, "max_size")) {
        rc = parse_u64(pc, UINT32_MAX, 0, &n);
        im->max_size = (uint64_t)n;
        return rc;
    }
    return omv_seterr(pc->err, pc->errlen, OMV_EPARSE, "%s:%u: unknown key '%s' in [image %s]",
                      pc->file, pc->e->line, k, im->file);
}

static int erase_field(struct parse_ctx *pc, struct target_erase *er)
{
    const char *k = pc->e->name;
    int64_t n;
    int rc;

    if (!strcmp(k, "alt")) {
        rc = parse_u64(pc, 255, -1, &n);
        er->alt = (int)n;
        return rc;
    }
    if (!strcmp(k, "address"))
        return parse_u64(pc, UINT32_MAX, -1, &er->address);
    if (!strcmp(k, "size")) {
        rc = parse_u64(pc, UINT32_MAX, -1, &n);
        if (rc == 0 && n <= 0)
            return bad(pc, "expected a size above zero, not");
        er->size = (uint32_t)n;
        return rc;
    }
    return omv_seterr(pc->err, pc->errlen, OMV_EPARSE, "%s:%u: unknown key '%s' in [erase]",
                      pc->file, pc->e->line, k);
}

static void target_release(struct target *t)
{
    free(t->name);
    free(t->camera);
    free(t->mcu);
    free(t->mcu_part);
    free(t->port);
    free(t->core);
    free(t->jlink_device);
    free(t->debug_elf);
    free(t->source);
    for (size_t i = 0; i < t->nr_artefacts; i++)
        free(t->artefacts[i]);
    free(t->artefacts);
    for (size_t i = 0; i < t->nr_alts; i++) {
        free(t->alts[i].name);
        free(t->alts[i].memory);
    }
    free(t->alts);
    for (size_t i = 0; i < t->nr_images; i++)
        free(t->images[i].file);
    free(t->images);
    free(t->erases);
    free_swd_images(t);
    free(t->swd_loader);
    for (size_t i = 0; i < t->nr_probes; i++)
        free(t->probes[i]);
    free(t->probes);
    free(t->openocd_target);
    free(t->qemu_machine);
    free(t->fvp_machine);
    memset(t, 0, sizeof(*t));
}

/* Checks that need the whole board: required keys, alt ranges, references. */
static int target_check(const struct target *t, const char *file, unsigned seen, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < ARRAY_SIZE(board_keys); i++)
        if (!(seen & (1u << i)))
            return omv_seterr(err, errlen, OMV_EPARSE, "%s: [board] has no '%s'", file,
                              board_keys[i]);
    if (!t->name || !t->camera || !t->debug_elf)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "%s: target, camera and debug_elf must not "
                          "be empty",
                          file);
    for (size_t i = 0; i < t->nr_alts; i++) {
        const struct target_alt *a = &t->alts[i];

        if (!a->name || !a->memory || a->end <= a->start)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "%s: [alt %u] needs a name, a memory and start < end", file, a->alt);
        /* Skipping works in whole 4 KiB DFU blocks of whole erase units. */
        if (a->erase_size && (a->erase_size % 4096 || (a->end - a->start) % a->erase_size))
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "%s: [alt %u] erase_size must be a multiple of 4096 that divides "
                              "the partition",
                              file, a->alt);
        for (size_t j = 0; j < i; j++)
            if (t->alts[j].alt == a->alt)
                return omv_seterr(err, errlen, OMV_EPARSE, "%s: [alt %u] is defined twice", file,
                                  a->alt);
    }
    for (size_t i = 0; i < t->nr_images; i++) {
        const struct target_image *im = &t->images[i];

        if (im->alt >= 0 && !target_alt_by_number(t, (unsigned)im->alt))
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "%s: [image %s] names alt %d, which has no [alt] section", file,
                              im->file, im->alt);
        /* A UF2 file carries its own addresses; everything else needs a place. */
        if (im->alt < 0 && im->address < 0 && t->method != TARGET_METHOD_PICOTOOL)
            return omv_seterr(err, errlen, OMV_EPARSE, "%s: [image %s] needs an alt or an address",
                              file, im->file);
    }
    for (size_t i = 0; i < t->nr_erases; i++) {
        const struct target_erase *er = &t->erases[i];

        if (er->alt >= 0 && !target_alt_by_number(t, (unsigned)er->alt))
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "%s: erase step %zu names alt %d, which has no [alt] section", file,
                              i + 1, er->alt);
        if ((er->alt < 0 && er->address < 0) || !er->size)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "%s: erase step %zu needs an alt or an address, and a size", file,
                              i + 1);
    }
    return 0;
}

/* Which kind of section an entry is in: "board", "alt N", "image F", "erase N". */
static int section_kind(const char *s, const char **arg)
{
    static const char *const kinds[] = {"board", "alt", "image", "erase"};

    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        size_t n = strlen(kinds[i]);

        if (!strncasecmp(s, kinds[i], n) && (s[n] == '\0' || s[n] == ' ')) {
            *arg = s + n + (s[n] == ' ');
            return (int)i;
        }
    }
    return -1;
}

int target_db_parse(struct target_db *db, const char *name, const char *text, char *err,
                    size_t errlen)
{
    struct cfg cfg = CFG_INIT;
    struct target t;
    struct parse_ctx pc = {name, NULL, err, errlen};
    const char *cur_section = NULL;
    size_t alloc_alts = 0, alloc_images = 0, alloc_erases = 0;
    unsigned seen = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    rc = cfg_parse_string(&cfg, text, strlen(text), name, CFG_LEVEL_DEFAULT, err, errlen);
    if (rc < 0)
        goto out;

    for (size_t i = 0; i < cfg.nr && rc == 0; i++) {
        const struct cfg_entry *e = &cfg.entries[i];
        bool fresh = !cur_section || strcmp(cur_section, e->section) != 0;
        const char *arg;
        int64_t n;

        pc.e = e;
        cur_section = e->section;
        switch (section_kind(e->section, &arg)) {
        case 0:
            if (*arg)
                goto bad_section;
            rc = board_field(&pc, &t, &seen);
            break;
        case 1:
            if (fresh) {
                char *end;

                errno = 0;
                n = (int64_t)strtol(arg, &end, 10);
                if (!isdigit((unsigned char)*arg) || *end || errno || n > 255)
                    goto bad_section;
                XGROW(t.alts, alloc_alts, t.nr_alts + 1);
                memset(&t.alts[t.nr_alts], 0, sizeof(t.alts[0]));
                t.alts[t.nr_alts++].alt = (unsigned)n;
            }
            rc = alt_field(&pc, &t.alts[t.nr_alts - 1]);
            break;
        case 2:
            if (fresh) {
                if (!*arg)
                    goto bad_section;
                XGROW(t.images, alloc_images, t.nr_images + 1);
                t.images[t.nr_images] =
                    (struct target_image){xstrdup(arg), TARGET_ROLE_FIRMWARE, -1, -1, 0};
                t.nr_images++;
            }
            rc = image_field(&pc, &t.images[t.nr_images - 1]);
            break;
        case 3:
            if (fresh) {
                XGROW(t.erases, alloc_erases, t.nr_erases + 1);
                t.erases[t.nr_erases++] = (struct target_erase){-1, -1, 4096};
            }
            rc = erase_field(&pc, &t.erases[t.nr_erases - 1]);
            break;
        default:
bad_section:
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s:%u: unknown section [%s]", name, e->line,
                            e->section);
        }
    }
    if (rc == 0)
        rc = target_check(&t, name, seen, err, errlen);
    if (rc == 0 && target_find(db, t.name))
        rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: board '%s' is defined twice", name, t.name);
    if (rc == 0) {
        t.source = xstrdup(name);
        db->targets = xrealloc(db->targets, (db->nr + 1) * sizeof(*db->targets));
        db->targets[db->nr++] = t;
        memset(&t, 0, sizeof(t));
    }
out:
    target_release(&t);
    cfg_release(&cfg);
    return rc;
}

int target_db_load(struct target_db *db, char *err, size_t errlen)
{
    for (size_t i = 0; i < target_files_count; i++) {
        int rc = target_db_parse(db, target_files[i].name, target_files[i].data, err, errlen);

        if (rc < 0) {
            target_db_release(db);
            return rc;
        }
    }
    return 0;
}

void target_db_release(struct target_db *db)
{
    for (size_t i = 0; i < db->nr; i++)
        target_release(&db->targets[i]);
    free(db->targets);
    db->targets = NULL;
    db->nr = 0;
}

const struct target *target_find(const struct target_db *db, const char *name)
{
    for (size_t i = 0; i < db->nr; i++)
        if (!strcasecmp(db->targets[i].name, name))
            return &db->targets[i];
    return NULL;
}

const char *target_suggest(const struct target_db *db, const char *name)
{
    const char **names = xcalloc(db->nr, sizeof(*names));
    const char *s;
    size_t n = 0;

    for (size_t i = 0; i < db->nr; i++)
        if (db->targets[i].supported)
            names[n++] = db->targets[i].name;
    s = suggest(name, names, n);
    free(names);
    return s;
}

bool usb_id_is(struct usb_id id, uint16_t vid, uint16_t pid)
{
    return (id.vid || id.pid) && id.vid == vid && id.pid == pid;
}

const struct target *target_find_usb(const struct target_db *db, struct usb_id id)
{
    for (size_t i = 0; i < db->nr; i++) {
        const struct target *t = &db->targets[i];

        if (usb_id_is(t->app_usb, id.vid, id.pid) || usb_id_is(t->dfu_usb, id.vid, id.pid))
            return t;
    }
    return NULL;
}

const struct target_alt *target_alt_by_role(const struct target *t, enum target_role role)
{
    for (size_t i = 0; i < t->nr_alts; i++)
        if (t->alts[i].role == role)
            return &t->alts[i];
    return NULL;
}

const struct target_alt *target_alt_by_number(const struct target *t, unsigned alt)
{
    for (size_t i = 0; i < t->nr_alts; i++)
        if (t->alts[i].alt == alt)
            return &t->alts[i];
    return NULL;
}
