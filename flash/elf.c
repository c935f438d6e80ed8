#include "lib/compat.h"
#include "flash/elf.h"

#include "lib/error.h"

#include <stdio.h>
#include <string.h>

struct elf_view {
    const uint8_t *d;
    size_t len;
    bool is64, be;
};

static uint64_t rd(const struct elf_view *e, uint64_t off, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        unsigned k = e->be ? i : n - 1 - i;

        v = v << 8 | e->d[off + k];
    }
    return v;
}

/* Is [off, off+n) inside the buffer? */
static bool inside(const struct elf_view *e, uint64_t off, uint64_t n)
{
    return off <= e->len && n <= e->len - off;
}

/* Find section `name`: its file offset and size. 0 with *found false when absent. */
static int section_lookup(const struct elf_view *e, const char *name, bool *found, uint64_t *off,
                          uint64_t *size, char *err, size_t errlen)
{
    uint64_t shoff, shentsize, shnum, shstrndx, str_off, str_size, ent;
    size_t nlen = strlen(name);

    *found = false;
    shoff = e->is64 ? rd(e, 0x28, 8) : rd(e, 0x20, 4);
    shentsize = rd(e, e->is64 ? 0x3A : 0x2E, 2);
    shnum = rd(e, e->is64 ? 0x3C : 0x30, 2);
    shstrndx = rd(e, e->is64 ? 0x3E : 0x32, 2);
    if (shnum == 0)
        return 0; /* no section headers (stripped to segments): no debug info */
    if (shentsize < (e->is64 ? 64u : 40u) || shstrndx >= shnum || shoff > e->len ||
        !inside(e, shoff, shnum * shentsize))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "malformed ELF: section headers lie outside the file");
    ent = shoff + shstrndx * shentsize;
    str_off = e->is64 ? rd(e, ent + 0x18, 8) : rd(e, ent + 0x10, 4);
    str_size = e->is64 ? rd(e, ent + 0x20, 8) : rd(e, ent + 0x14, 4);
    if (!inside(e, str_off, str_size))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "malformed ELF: the section name table lies outside the file");
    for (uint64_t i = 0; i < shnum; i++) {
        uint64_t h = shoff + i * shentsize;
        uint64_t n = rd(e, h, 4);

        if (n >= str_size || str_size - n < nlen + 1)
            continue;
        if (memcmp(e->d + str_off + n, name, nlen + 1) != 0)
            continue;
        *found = true;
        *off = e->is64 ? rd(e, h + 0x18, 8) : rd(e, h + 0x10, 4);
        *size = e->is64 ? rd(e, h + 0x20, 8) : rd(e, h + 0x14, 4);
        return 0;
    }
    return 0;
}

static int view_open(struct elf_view *e, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    e->d = data;
    e->len = len;
    if (len < 52 || memcmp(data, "\177ELF", 4) != 0 || (data[4] != 1 && data[4] != 2) ||
        (data[5] != 1 && data[5] != 2))
        return omv_seterr(err, errlen, OMV_EPARSE, "not an ELF file");
    e->is64 = data[4] == 2;
    e->be = data[5] == 2;
    if (e->is64 && len < 64)
        return omv_seterr(err, errlen, OMV_EPARSE, "not an ELF file (truncated header)");
    return 0;
}

int elf_find_section(const uint8_t *data, size_t len, const char *name, bool *found, uint64_t *size,
                     char *err, size_t errlen)
{
    struct elf_view e;
    uint64_t off = 0, sz = 0;
    int rc;

    *found = false;
    if ((rc = view_open(&e, data, len, err, errlen)) < 0)
        return rc;
    if ((rc = section_lookup(&e, name, found, &off, &sz, err, errlen)) < 0)
        return rc;
    if (*found && size)
        *size = sz;
    return 0;
}

/* ---- DWARF: the producer of each compilation unit ------------------------------------ */

/* A bounded cursor over one section. */
struct cur {
    const struct elf_view *e;
    uint64_t pos, end;
    bool bad;
};

static uint64_t cur_n(struct cur *c, unsigned n)
{
    uint64_t v;

    if (c->bad || c->end - c->pos < n) {
        c->bad = true;
        return 0;
    }
    v = rd(c->e, c->pos, n);
    c->pos += n;
    return v;
}

static uint64_t cur_uleb(struct cur *c)
{
    uint64_t v = 0;
    unsigned shift = 0;

    for (;;) {
        uint64_t b = cur_n(c, 1);

        if (c->bad)
            return 0;
        if (shift < 64)
            v |= (b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
}

static void cur_skip(struct cur *c, uint64_t n)
{
    if (c->bad || c->end - c->pos < n)
        c->bad = true;
    else
        c->pos += n;
}

struct sect {
    bool found;
    uint64_t off, size;
};

struct dwarf {
    const struct elf_view *e;
    struct sect info, abbrev, str, line_str;
};

/* The NUL-terminated string at `off` of a string section, or NULL. */
static const char *sect_str(const struct dwarf *dw, const struct sect *s, uint64_t off)
{
    const char *p;

    if (!s->found || off >= s->size)
        return NULL;
    p = (const char *)dw->e->d + s->off + off;
    return memchr(p, 0, s->size - off) ? p : NULL;
}

/* Skip one attribute value of `form`. false for a form this reader does not know. */
static bool skip_form(struct cur *c, uint64_t form, unsigned offsize, unsigned addrsize,
                      unsigned version)
{
    static const unsigned char fixed[0x2d] = {
        [0x05] = 2, [0x06] = 4, [0x07] = 8, [0x0b] = 1,  [0x0c] = 1, [0x11] = 1, [0x12] = 2,
        [0x13] = 4, [0x14] = 8, [0x1c] = 4, [0x1e] = 16, [0x20] = 8, [0x24] = 8, [0x25] = 1,
        [0x26] = 2, [0x27] = 3, [0x28] = 4, [0x29] = 1,  [0x2a] = 2, [0x2b] = 3, [0x2c] = 4,
    };

    switch (form) {
    case 0x01: /* addr */
        cur_skip(c, addrsize);
        return true;
    case 0x03: /* block2 */
        cur_skip(c, cur_n(c, 2));
        return true;
    case 0x04: /* block4 */
        cur_skip(c, cur_n(c, 4));
        return true;
    case 0x08: /* string */
        while (!c->bad && cur_n(c, 1) != 0)
            ;
        return true;
    case 0x09: /* block */
    case 0x18: /* exprloc */
        cur_skip(c, cur_uleb(c));
        return true;
    case 0x0a: /* block1 */
        cur_skip(c, cur_n(c, 1));
        return true;
    case 0x0d:   /* sdata */
    case 0x0f:   /* udata */
    case 0x15:   /* ref_udata */
    case 0x1a:   /* strx */
    case 0x1b:   /* addrx */
    case 0x22:   /* loclistx */
    case 0x23:   /* rnglistx */
    case 0x1f01: /* GNU_addr_index */
    case 0x1f02: /* GNU_str_index */
        (void)cur_uleb(c);
        return true;
    case 0x10: /* ref_addr */
        cur_skip(c, version <= 2 ? addrsize : offsize);
        return true;
    case 0x0e:   /* strp */
    case 0x17:   /* sec_offset */
    case 0x1d:   /* strp_sup */
    case 0x1f:   /* line_strp */
    case 0x1f20: /* GNU_ref_alt */
    case 0x1f21: /* GNU_strp_alt */
        cur_skip(c, offsize);
        return true;
    case 0x16: /* indirect */
        return skip_form(c, cur_uleb(c), offsize, addrsize, version);
    case 0x19: /* flag_present */
    case 0x21: /* implicit_const: the value is in the abbreviation */
        return true;
    default:
        if (form < sizeof(fixed) && fixed[form]) {
            cur_skip(c, fixed[form]);
            return true;
        }
        return false;
    }
}

/* Position `a` at the attribute list of abbreviation `code` in the table at abbrev_off. */
static bool find_abbrev(const struct dwarf *dw, uint64_t abbrev_off, uint64_t code, struct cur *a)
{
    a->e = dw->e;
    a->pos = dw->abbrev.off + abbrev_off;
    a->end = dw->abbrev.off + dw->abbrev.size;
    a->bad = abbrev_off >= dw->abbrev.size;
    while (!a->bad) {
        uint64_t c = cur_uleb(a);

        if (c == 0)
            return false;
        (void)cur_uleb(a); /* tag */
        (void)cur_n(a, 1); /* children */
        if (c == code)
            return !a->bad;
        for (;;) { /* skip this abbreviation's attribute specs */
            uint64_t at = cur_uleb(a), form = cur_uleb(a);

            if (form == 0x21)
                (void)cur_uleb(a);
            if (a->bad || (at == 0 && form == 0))
                break;
        }
    }
    return false;
}

/* The producer of the compilation unit whose first DIE `c` points at, or NULL. */
static const char *cu_producer(const struct dwarf *dw, struct cur *c, uint64_t abbrev_off,
                               unsigned offsize, unsigned addrsize, unsigned version)
{
    struct cur a;
    uint64_t code = cur_uleb(c);

    if (c->bad || code == 0 || !find_abbrev(dw, abbrev_off, code, &a))
        return NULL;
    for (;;) {
        uint64_t at = cur_uleb(&a), form = cur_uleb(&a);

        if (a.bad || (at == 0 && form == 0))
            return NULL;
        if (form == 0x21)
            (void)cur_uleb(&a);
        if (at == 0x25) { /* DW_AT_producer */
            if (form == 0x08) {
                const char *p = (const char *)dw->e->d + c->pos;

                return memchr(p, 0, c->end - c->pos) ? p : NULL;
            }
            if (form == 0x0e)
                return sect_str(dw, &dw->str, cur_n(c, offsize));
            if (form == 0x1f)
                return sect_str(dw, &dw->line_str, cur_n(c, offsize));
            return NULL; /* strx needs the string offsets table: not read */
        }
        if (!skip_form(c, form, offsize, addrsize, version) || c->bad)
            return NULL;
    }
}

enum elf_opt elf_producer_opt(const char *producer)
{
    enum elf_opt v = ELF_OPT_UNKNOWN;

    for (const char *p = producer; (p = strstr(p, " -O")); p += 3) {
        const char *o = p + 3;
        size_t n = strcspn(o, " ");

        if ((n == 1 && (*o == '0' || *o == 'g')))
            v = ELF_OPT_DEBUG;
        else if (n == 0 || (n == 1 && strchr("123sz", *o)) || (n == 4 && !strncmp(o, "fast", 4)))
            v = ELF_OPT_OPTIMISED;
    }
    return v;
}

static void count_producer(struct elf_producers *out, const char *prod)
{
    enum elf_opt o = prod ? elf_producer_opt(prod) : ELF_OPT_UNKNOWN;

    if (o == ELF_OPT_DEBUG)
        out->debug_cus++;
    else if (o == ELF_OPT_OPTIMISED)
        out->optimised_cus++;
    else
        out->other_cus++;
    if (prod && o != ELF_OPT_UNKNOWN && !out->sample[o == ELF_OPT_DEBUG ? 0 : 1][0])
        snprintf(out->sample[o == ELF_OPT_DEBUG ? 0 : 1], sizeof(out->sample[0]), "%s", prod);
}

int elf_producers(const uint8_t *data, size_t len, struct elf_producers *out, char *err,
                  size_t errlen)
{
    struct elf_view e;
    struct dwarf dw;
    uint64_t pos, end;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&dw, 0, sizeof(dw));
    if ((rc = view_open(&e, data, len, err, errlen)) < 0)
        return rc;
    dw.e = &e;
    if ((rc = section_lookup(&e, ".debug_info", &dw.info.found, &dw.info.off, &dw.info.size, err,
                             errlen)) < 0 ||
        (rc = section_lookup(&e, ".debug_abbrev", &dw.abbrev.found, &dw.abbrev.off, &dw.abbrev.size,
                             err, errlen)) < 0 ||
        (rc = section_lookup(&e, ".debug_str", &dw.str.found, &dw.str.off, &dw.str.size, err,
                             errlen)) < 0 ||
        (rc = section_lookup(&e, ".debug_line_str", &dw.line_str.found, &dw.line_str.off,
                             &dw.line_str.size, err, errlen)) < 0)
        return rc;
    if (!dw.info.found)
        return 0;
    out->has_debug_info = true;
    if (!dw.abbrev.found || !inside(&e, dw.info.off, dw.info.size) ||
        !inside(&e, dw.abbrev.off, dw.abbrev.size) ||
        (dw.str.found && !inside(&e, dw.str.off, dw.str.size)) ||
        (dw.line_str.found && !inside(&e, dw.line_str.off, dw.line_str.size)))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "malformed ELF: a DWARF section lies outside the file");
    pos = dw.info.off;
    end = dw.info.off + dw.info.size;
    while (end - pos >= 11 && out->cus < 100000) {
        struct cur c = {&e, pos, end, false};
        uint64_t ulen = cur_n(&c, 4), abbrev_off;
        unsigned offsize = 4, version, addrsize, unit_type = 1;

        if (ulen == 0xffffffffu) {
            offsize = 8;
            ulen = cur_n(&c, 8);
        }
        if (c.bad || ulen < 7 || ulen > end - c.pos)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "malformed DWARF: a compilation unit runs past .debug_info");
        c.end = c.pos + ulen;
        pos = c.end;
        version = (unsigned)cur_n(&c, 2);
        if (version >= 5) {
            unit_type = (unsigned)cur_n(&c, 1);
            addrsize = (unsigned)cur_n(&c, 1);
            abbrev_off = cur_n(&c, offsize);
        } else {
            abbrev_off = cur_n(&c, offsize);
            addrsize = (unsigned)cur_n(&c, 1);
        }
        out->cus++;
        if (c.bad || version < 2 || version > 5 || (unit_type != 1 && unit_type != 3)) {
            out->other_cus++;
            continue;
        }
        count_producer(out, cu_producer(&dw, &c, abbrev_off, offsize, addrsize, version));
    }
    return 0;
}
