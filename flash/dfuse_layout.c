#include "lib/compat.h"
#include "flash/dfuse_layout.h"

#include "lib/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOUR_GIB  ((uint64_t)1 << 32)
#define QUOTE_MAX 160 /* longest quoted text in a message (USB strings are <= 126 chars) */
#define DEC_LIMIT ((uint64_t)1 << 40) /* decimal numbers saturate here: far past 4 GiB */

struct lparse {
    char quoted[QUOTE_MAX + 4]; /* the whole layout, for messages */
    char *err;
    size_t errlen;
};

/* Copy n bytes of src for a one-line message: unprintable bytes become '?',
 * long text is cut with "...". */
static void quote(char *dst, size_t dstlen, const char *src, size_t n)
{
    size_t max = dstlen - 4, i;

    for (i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)src[i];

        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (i < n) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_ws(const char *p)
{
    while (is_ws(*p))
        p++;
    return p;
}

/* The token [p, p + n) without surrounding blanks, quoted for a message. */
static void quote_token(char *dst, size_t dstlen, const char *p, size_t n)
{
    while (n && is_ws(*p)) {
        p++;
        n--;
    }
    while (n && is_ws(p[n - 1]))
        n--;
    quote(dst, dstlen, p, n);
}

static int lerr(struct lparse *lp, const char *what, const char *tok, size_t toklen)
{
    char t[QUOTE_MAX + 4];

    quote_token(t, sizeof(t), tok, toklen);
    return omv_seterr(lp->err, lp->errlen, OMV_EPARSE, "layout '%s': %s '%s'", lp->quoted, what, t);
}

/* Decimal digits at *p (at least one), saturating at DEC_LIMIT. */
static bool parse_dec(const char **p, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;

    if (*q < '0' || *q > '9')
        return false;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (uint64_t)(*q - '0');
        if (v > DEC_LIMIT)
            v = DEC_LIMIT;
    }
    *p = q;
    *out = v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "0x" hex digits, blanks, '/': the address of a group. *p is past the '/'. */
static bool parse_addr(const char **p, uint32_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int d;

    if (q[0] != '0' || (q[1] != 'x' && q[1] != 'X') || hexval(q[2]) < 0)
        return false;
    for (q += 2; (d = hexval(*q)) >= 0; q++) {
        v = v * 16 + (uint64_t)d;
        if (v >= FOUR_GIB)
            return false;
    }
    q = skip_ws(q);
    if (*q != '/')
        return false;
    *p = q + 1;
    *out = (uint32_t)v;
    return true;
}

/* N*S[B|K|M]T within [p, end), blanks allowed between the parts. */
static bool parse_seg_text(const char *p, const char *end, uint64_t *count, uint64_t *size,
                           unsigned *flags)
{
    uint64_t mult = 1;

    p = skip_ws(p);
    if (!parse_dec(&p, count))
        return false;
    p = skip_ws(p);
    if (*p++ != '*')
        return false;
    p = skip_ws(p);
    if (!parse_dec(&p, size))
        return false;
    p = skip_ws(p);
    if (*p == 'B' || *p == 'K' || *p == 'M') {
        mult = *p == 'B' ? 1 : *p == 'K' ? 1024 : 1024 * 1024;
        p = skip_ws(p + 1);
    }
    if (*p < 'a' || *p > 'g')
        return false;
    *flags = (unsigned)(*p - 'a' + 1) & 7; /* 'a' & 7 == 1 ... 'g' & 7 == 7 */
    p = skip_ws(p + 1);
    if (p != end)
        return false;
    *size *= mult; /* both at most 2^40 / 2^20: no overflow */
    return true;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* Check one parsed segment and append it. tok/toklen name it in messages. */
static int add_segment(struct lparse *lp, struct dfuse_layout *l, size_t *alloc, uint64_t addr,
                       uint64_t count, uint64_t size, unsigned flags, const char *tok,
                       size_t toklen)
{
    struct dfuse_segment *seg;
    char what[160];

    if (!count)
        return lerr(lp, "zero page count in segment", tok, toklen);
    if (!size)
        return lerr(lp, "zero page size in segment", tok, toklen);
    if (size > UINT32_MAX || count > FOUR_GIB || count * size > FOUR_GIB - addr) {
        snprintf(what, sizeof(what),
                 "segment at 0x%08llX runs past 4 GiB:", (unsigned long long)addr);
        return lerr(lp, what, tok, toklen);
    }
    if ((flags & DFUSE_SEG_ERASABLE) && !is_pow2(size)) {
        snprintf(what, sizeof(what),
                 "erasable page size %llu is not a power of two (erase addresses are masked to "
                 "page starts) in segment",
                 (unsigned long long)size);
        return lerr(lp, what, tok, toklen);
    }
    if ((flags & DFUSE_SEG_ERASABLE) && addr % size) {
        snprintf(what, sizeof(what),
                 "erasable pages of %llu bytes do not start at a multiple of their size "
                 "(0x%08llX) in segment",
                 (unsigned long long)size, (unsigned long long)addr);
        return lerr(lp, what, tok, toklen);
    }
    for (size_t i = 0; i < l->nr; i++) {
        if (addr < l->segs[i].end && addr + count * size > l->segs[i].start) {
            snprintf(what, sizeof(what),
                     "segment at 0x%08llX overlaps the one at 0x%08lX:", (unsigned long long)addr,
                     (unsigned long)l->segs[i].start);
            return lerr(lp, what, tok, toklen);
        }
    }
    XGROW(l->segs, *alloc, l->nr + 1);
    seg = &l->segs[l->nr++];
    seg->start = (uint32_t)addr;
    seg->end = addr + count * size;
    seg->page_size = (uint32_t)size;
    seg->flags = flags;
    return 0;
}

int dfuse_layout_parse(struct dfuse_layout *out, const char *s, char *err, size_t errlen)
{
    struct lparse lp = {"", err, errlen};
    struct dfuse_layout l = DFUSE_LAYOUT_INIT;
    size_t alloc = 0;
    const char *p, *name, *slash;
    int rc;

    quote(lp.quoted, sizeof(lp.quoted), s, strlen(s));
    p = skip_ws(s);
    if (*p != '@') {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "layout '%s': does not start with '@'", lp.quoted);
        goto out;
    }
    name = p + 1;
    slash = strchr(name, '/');
    if (!slash) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "layout '%s': no '/0xADDRESS/' after the name",
                        lp.quoted);
        goto out;
    }
    {
        size_t n = (size_t)(slash - name);

        while (n && is_ws(name[n - 1]))
            n--;
        while (n && is_ws(*name)) {
            name++;
            n--;
        }
        l.name = xstrndup(name, n);
    }

    p = slash;
    while (*p == '/') {
        const char *tok;
        uint32_t base;
        uint64_t addr;
        size_t in_group = 0;

        p = skip_ws(p + 1);
        if (!*p)
            break; /* a trailing '/' */
        tok = p;
        if (!parse_addr(&p, &base)) {
            rc = lerr(&lp, "bad address", tok, strcspn(tok, "/"));
            goto out;
        }
        addr = base;
        for (;;) {
            uint64_t count, size;
            unsigned flags;
            size_t toklen;

            p = skip_ws(p);
            if (!*p || *p == '/') {
                if (in_group)
                    break;
                rc = lerr(&lp, "no segments after address", tok, strcspn(tok, "/"));
                goto out;
            }
            toklen = strcspn(p, ",/");
            if (!parse_seg_text(p, p + toklen, &count, &size, &flags)) {
                rc = lerr(&lp, "bad segment", p, toklen);
                goto out;
            }
            rc = add_segment(&lp, &l, &alloc, addr, count, size, flags, p, toklen);
            if (rc < 0)
                goto out;
            addr += count * size; /* the new segment's end */
            in_group++;
            p += toklen;
            if (*p != ',')
                continue; /* '/' or the end: handled at the top */
            p = skip_ws(p + 1);
            if (!*p)
                break; /* a trailing ',' */
        }
    }
    if (!l.nr) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "layout '%s': no memory segments", lp.quoted);
        goto out;
    }
    *out = l;
    return 0;
out:
    dfuse_layout_release(&l);
    return rc;
}

void dfuse_layout_release(struct dfuse_layout *l)
{
    if (!l)
        return;
    free(l->name);
    free(l->segs);
    l->name = NULL;
    l->segs = NULL;
    l->nr = 0;
}

const struct dfuse_segment *dfuse_layout_find(const struct dfuse_layout *l, uint32_t addr)
{
    for (size_t i = 0; i < l->nr; i++)
        if (addr >= l->segs[i].start && addr < l->segs[i].end)
            return &l->segs[i];
    return NULL;
}

char *dfuse_seg_flags_str(unsigned flags, char *buf)
{
    buf[0] = flags & DFUSE_SEG_READABLE ? 'r' : '-';
    buf[1] = flags & DFUSE_SEG_ERASABLE ? 'e' : '-';
    buf[2] = flags & DFUSE_SEG_WRITEABLE ? 'w' : '-';
    buf[3] = '\0';
    return buf;
}

int dfuse_layout_check_range(const struct dfuse_layout *l, uint32_t addr, uint64_t len,
                             unsigned need, char *err, size_t errlen)
{
    uint64_t cur = addr, end = (uint64_t)addr + len;
    char name[QUOTE_MAX + 4], want[4], have[4];

    if (!len)
        return 0;
    quote(name, sizeof(name), l->name ? l->name : "", l->name ? strlen(l->name) : 0);
    if (end > FOUR_GIB)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "range 0x%08lX+0x%llX runs past 4 GiB in memory '%s'",
                          (unsigned long)addr, (unsigned long long)len, name);
    while (cur < end) {
        const struct dfuse_segment *seg = dfuse_layout_find(l, (uint32_t)cur);

        if (!seg)
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "range 0x%08lX..0x%08llX: address 0x%08llX is outside memory '%s'",
                              (unsigned long)addr, (unsigned long long)(end - 1),
                              (unsigned long long)cur, name);
        if ((seg->flags & need) != need)
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "range 0x%08lX..0x%08llX: address 0x%08llX of memory '%s' is '%s', "
                              "not '%s'",
                              (unsigned long)addr, (unsigned long long)(end - 1),
                              (unsigned long long)cur, name, dfuse_seg_flags_str(seg->flags, have),
                              dfuse_seg_flags_str(need, want));
        cur = seg->end;
    }
    return 0;
}

int dfuse_layout_erase_pages(const struct dfuse_layout *l, uint32_t addr, uint64_t len,
                             uint32_t **pages, size_t *nr, char *err, size_t errlen)
{
    uint64_t cur = addr, end = (uint64_t)addr + len, total = 0;
    uint32_t *out;
    size_t n = 0;
    int rc;

    rc = dfuse_layout_check_range(l, addr, len, DFUSE_SEG_ERASABLE | DFUSE_SEG_WRITEABLE, err,
                                  errlen);
    if (rc < 0)
        return rc;
    /* Count first (per segment, not per page), so a layout of tiny pages
     * cannot make us allocate gigabytes. */
    while (cur < end) {
        const struct dfuse_segment *seg = dfuse_layout_find(l, (uint32_t)cur);
        uint64_t first = seg->start + (cur - seg->start) / seg->page_size * seg->page_size;
        uint64_t stop = end < seg->end ? end : seg->end;
        uint64_t count = (stop - first + seg->page_size - 1) / seg->page_size;

        total += count;
        cur = first + count * seg->page_size;
    }
    if (total > DFUSE_MAX_ERASE_PAGES)
        return omv_seterr(err, errlen, OMV_EINVAL,
                          "range 0x%08lX..0x%08llX: %llu pages to erase, more than %u",
                          (unsigned long)addr, (unsigned long long)(end - 1),
                          (unsigned long long)total, DFUSE_MAX_ERASE_PAGES);
    out = total ? xmalloc((size_t)total * sizeof(*out)) : NULL;
    for (cur = addr; n < total;) {
        const struct dfuse_segment *seg = dfuse_layout_find(l, (uint32_t)cur);
        uint64_t page = seg->start + (cur - seg->start) / seg->page_size * seg->page_size;

        out[n++] = (uint32_t)page;
        cur = page + seg->page_size;
    }
    *pages = out;
    *nr = n;
    return 0;
}
