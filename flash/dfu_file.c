#include "lib/compat.h"
#include "flash/dfu_file.h"

#include "lib/error.h"

#include <stdlib.h>
#include <string.h>

#define FOUR_GIB       ((uint64_t)1 << 32)
#define DFUSE_PREFIX   11  /* <5sBIB: "DfuSe", bVersion, DFUImageSize, bTargets */
#define TARGET_PREFIX  274 /* <6sBI255sII */
#define ELEMENT_HEADER 8   /* <II: dwElementAddress, dwElementSize */
#define NAME_OFF       11  /* szTargetName in the target prefix */
#define TSIZE_OFF      266 /* dwTargetSize */
#define NELEM_OFF      270 /* dwNbElements */

/* CRC-32 one nibble at a time: entry i is i run through four shifts of the
 * reflected polynomial 0xEDB88320. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t dfu_crc32(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < len; i++) {
        crc = crc_nibble[(crc ^ p[i]) & 0xF] ^ (crc >> 4);
        crc = crc_nibble[(crc ^ (uint32_t)(p[i] >> 4)) & 0xF] ^ (crc >> 4);
    }
    return crc; /* no final XOR: dfu-util's variant */
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(struct strbuf *sb, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

    strbuf_add(sb, b, sizeof(b));
}

static void put32(struct strbuf *sb, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

    strbuf_add(sb, b, sizeof(b));
}

/* n bytes of p as printable text for a message ('?' for the rest). */
static char *printable(char *dst, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    dst[n] = '\0';
    return dst;
}

static void release_targets(struct dfu_target *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].elems);
    free(t);
}

/* The DfuSe structure of f->payload; buf is the start of the file. */
/* The nel elements of target nt (t), from *off up to tend; *off moves past them. */
static int parse_elements(const uint8_t *buf, struct dfu_target *t, size_t nt, size_t nel,
                          size_t *off, size_t tend, char *err, size_t errlen)
{
    for (t->nr = 0; t->nr < nel; t->nr++) {
        struct dfu_element *e = &t->elems[t->nr];
        size_t eoff = *off;

        if (tend - *off < ELEMENT_HEADER)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "element %zu of target %zu at offset %zu: header truncated, %zu "
                              "bytes left in the target",
                              t->nr, nt, *off, tend - *off);
        e->address = le32(buf + *off);
        e->size = le32(buf + *off + 4);
        *off += ELEMENT_HEADER;
        if (e->size > tend - *off)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "element %zu of target %zu at offset %zu: size %lu runs past the "
                              "end of the target (%zu bytes left)",
                              t->nr, nt, eoff, (unsigned long)e->size, tend - *off);
        if ((uint64_t)e->address + e->size > FOUR_GIB)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "element %zu of target %zu at offset %zu: %lu bytes at 0x%08lX run "
                              "past 4 GiB",
                              t->nr, nt, eoff, (unsigned long)e->size, (unsigned long)e->address);
        e->data = buf + *off;
        *off += e->size;
    }
    return 0;
}

/* The DfuSe prefix: signature, version, image size and the number of targets. */
static int parse_prefix(struct dfu_file *f, const uint8_t *buf, size_t *ntargets, char *err,
                        size_t errlen)
{
    size_t pl = f->payload_len;
    char sig[8];

    if (pl < DFUSE_PREFIX)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "dfuse prefix truncated at offset 0: need %d bytes, %zu before the "
                          "suffix",
                          DFUSE_PREFIX, pl);
    if (memcmp(buf, "DfuSe", 5) != 0)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "bad dfuse signature at offset 0: expected 'DfuSe', found '%s'",
                          printable(sig, buf, 5));
    if (buf[5] != 1)
        return omv_seterr(err, errlen, OMV_EPARSE, "unsupported dfuse version %u at offset 5",
                          buf[5]);
    f->image_size = le32(buf + 6);
    *ntargets = buf[10];
    if (!*ntargets)
        return omv_seterr(err, errlen, OMV_EPARSE, "dfuse prefix at offset 10 lists no targets");

    return 0;
}

/* Target nt at *off (its prefix and elements) into t; *off moves past it. */
static int parse_target(const uint8_t *buf, size_t pl, struct dfu_target *t, size_t nt, size_t *off,
                        char *err, size_t errlen)
{
    const uint8_t *tp = buf + *off;
    size_t toff = *off, tend, nel, name_len;
    uint32_t tsize;
    char sig[8];
    int rc;

    if (pl - *off < TARGET_PREFIX)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "target %zu truncated at offset %zu: need %d bytes, %zu left before "
                          "the suffix",
                          nt, *off, TARGET_PREFIX, pl - *off);
    if (memcmp(tp, "Target", 6) != 0)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "bad signature of target %zu at offset %zu: expected 'Target', found "
                          "'%s'",
                          nt, *off, printable(sig, tp, 6));
    t->alt = tp[6];
    t->named = le32(tp + 7) != 0;
    if (t->named) {
        name_len = strnlen((const char *)tp + NAME_OFF, DFU_NAME_MAX);
        printable(t->name, tp + NAME_OFF, name_len);
    }
    tsize = le32(tp + TSIZE_OFF);
    nel = le32(tp + NELEM_OFF);
    *off += TARGET_PREFIX;
    if (tsize > pl - *off)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "target %zu at offset %zu: size %lu runs past the suffix at offset %zu "
                          "(%zu bytes left)",
                          nt, toff, (unsigned long)tsize, pl, pl - *off);
    if (nel > tsize / ELEMENT_HEADER)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "target %zu at offset %zu: %zu elements cannot fit in its %lu bytes", nt,
                          toff, nel, (unsigned long)tsize);
    tend = *off + tsize;
    t->elems = nel ? xcalloc(nel, sizeof(*t->elems)) : NULL;
    rc = parse_elements(buf, t, nt, nel, off, tend, err, errlen);
    if (rc < 0)
        return rc;
    if (*off != tend)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "target %zu at offset %zu: its size %lu leaves %zu bytes unused at "
                          "offset %zu",
                          nt, toff, (unsigned long)tsize, tend - *off, *off);
    return 0;
}

static int parse_dfuse(struct dfu_file *f, const uint8_t *buf, char *err, size_t errlen)
{
    size_t pl = f->payload_len, off;
    struct dfu_target *targets = NULL;
    size_t nt = 0, ntargets;
    int rc;

    rc = parse_prefix(f, buf, &ntargets, err, errlen);
    if (rc < 0)
        return rc;
    targets = xcalloc(ntargets, sizeof(*targets));
    off = DFUSE_PREFIX;
    for (nt = 0; nt < ntargets; nt++) {
        rc = parse_target(buf, pl, &targets[nt], nt, &off, err, errlen);
        if (rc < 0)
            goto fail;
    }
    if (off != pl) {
        rc = omv_seterr(err, errlen, OMV_EPARSE,
                        "trailing garbage: %zu bytes at offset %zu between the last target and "
                        "the suffix",
                        pl - off, off);
        goto fail;
    }
    f->targets = targets;
    f->nr_targets = ntargets;
    return 0;
fail:
    release_targets(targets, ntargets); /* calloc'd: targets not reached have no elements */
    return rc;
}

int dfu_file_parse(struct dfu_file *f, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    struct dfu_file p = DFU_FILE_INIT;
    const uint8_t *s;
    char sig[4];
    uint32_t crc;
    int rc;

    if (len < DFU_SUFFIX_LEN)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "no dfu suffix: the file has %zu bytes, the suffix alone needs %d", len,
                          DFU_SUFFIX_LEN);
    s = buf + len - DFU_SUFFIX_LEN;
    if (memcmp(s + 8, "UFD", 3) != 0)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "no dfu suffix: expected signature 'UFD' at offset %zu, found '%s'",
                          len - 8, printable(sig, s + 8, 3));
    p.crc = le32(s + 12);
    crc = dfu_crc32(buf, len - 4);
    if (crc != p.crc)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "bad crc at offset %zu: the suffix says 0x%08lX, the contents give "
                          "0x%08lX",
                          len - 4, (unsigned long)p.crc, (unsigned long)crc);
    p.suffix_len = s[11];
    if (p.suffix_len < DFU_SUFFIX_LEN || p.suffix_len > len)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "bad suffix length %u at offset %zu: must be %d to the file size %zu",
                          p.suffix_len, len - 5, DFU_SUFFIX_LEN, len);
    p.bcd_device = le16(s);
    p.pid = le16(s + 2);
    p.vid = le16(s + 4);
    p.bcd_dfu = le16(s + 6);
    p.payload = buf;
    p.payload_len = len - p.suffix_len;
    p.dfuse = p.bcd_dfu == DFU_BCD_DFUSE;
    if (p.dfuse) {
        rc = parse_dfuse(&p, buf, err, errlen);
        if (rc < 0)
            return rc;
    }
    *f = p;
    return 0;
}

void dfu_file_release(struct dfu_file *f)
{
    if (!f)
        return;
    release_targets(f->targets, f->nr_targets);
    *f = (struct dfu_file)DFU_FILE_INIT;
}

int dfu_file_check_device(const struct dfu_file *f, uint16_t vid, uint16_t pid, char *err,
                          size_t errlen)
{
    if ((f->vid == DFU_ID_ANY || f->vid == vid) && (f->pid == DFU_ID_ANY || f->pid == pid))
        return 0;
    return omv_seterr(err, errlen, OMV_EINVAL,
                      "the file is for device '%04X:%04X', not for '%04X:%04X' (FFFF matches "
                      "any)",
                      f->vid, f->pid, vid, pid);
}

void dfu_file_append_suffix(struct strbuf *sb, uint16_t bcd_device, uint16_t pid, uint16_t vid,
                            uint16_t bcd_dfu)
{
    put16(sb, bcd_device);
    put16(sb, pid);
    put16(sb, vid);
    put16(sb, bcd_dfu);
    strbuf_add(sb, "UFD", 3);
    strbuf_addch(sb, DFU_SUFFIX_LEN);
    put32(sb, dfu_crc32(sb->buf, sb->len));
}

void dfu_file_build_plain(struct strbuf *out, const uint8_t *data, size_t len, uint16_t vid,
                          uint16_t pid, uint16_t bcd_device)
{
    strbuf_reset(out);
    if (len)
        strbuf_add(out, data, len);
    dfu_file_append_suffix(out, bcd_device, pid, vid, DFU_BCD_DFU);
}

/* Bytes of one target after its prefix, with data padded as dfu.py pads it. */
static uint64_t target_body_size(const struct dfu_target *t)
{
    uint64_t n = 0;

    for (size_t j = 0; j < t->nr; j++)
        n += ELEMENT_HEADER + ((uint64_t)t->elems[j].size + 7) / 8 * 8;
    return n;
}

int dfu_file_build_dfuse(struct strbuf *out, uint16_t vid, uint16_t pid,
                         const struct dfu_target *targets, size_t n, char *err, size_t errlen)
{
    static const uint8_t zeros[8];
    struct strbuf sb = STRBUF_INIT;
    uint64_t total = DFUSE_PREFIX;

    if (!n || n > DFU_MAX_TARGETS)
        return omv_seterr(err, errlen, OMV_EINVAL, "a dfuse file holds 1 to %d targets, not %zu",
                          DFU_MAX_TARGETS, n);
    for (size_t i = 0; i < n; i++) {
        const struct dfu_target *t = &targets[i];
        uint64_t body = target_body_size(t);

        if (body > UINT32_MAX || t->nr > UINT32_MAX)
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "target %zu is too large for a dfuse file (%llu bytes)", i,
                              (unsigned long long)body);
        for (size_t j = 0; j < t->nr; j++) {
            const struct dfu_element *e = &t->elems[j];

            if ((uint64_t)e->address + ((uint64_t)e->size + 7) / 8 * 8 > FOUR_GIB)
                return omv_seterr(err, errlen, OMV_EINVAL,
                                  "element %zu of target %zu: %lu bytes at 0x%08lX run past 4 GiB",
                                  j, i, (unsigned long)e->size, (unsigned long)e->address);
        }
        total += TARGET_PREFIX + body;
    }
    if (total > UINT32_MAX)
        return omv_seterr(err, errlen, OMV_EINVAL, "%llu bytes are too many for a dfuse file",
                          (unsigned long long)total);

    strbuf_add(&sb, "DfuSe", 5);
    strbuf_addch(&sb, 1);
    put32(&sb, (uint32_t)total);
    strbuf_addch(&sb, (int)n);
    for (size_t i = 0; i < n; i++) {
        const struct dfu_target *t = &targets[i];
        size_t name_len = t->named ? strnlen(t->name, DFU_NAME_MAX) : 0;

        strbuf_add(&sb, "Target", 6);
        strbuf_addch(&sb, t->alt);
        put32(&sb, t->named ? 1 : 0);
        strbuf_add(&sb, t->name, name_len);
        strbuf_addchars(&sb, 0, DFU_NAME_MAX - name_len);
        put32(&sb, (uint32_t)target_body_size(t));
        put32(&sb, (uint32_t)t->nr);
        for (size_t j = 0; j < t->nr; j++) {
            const struct dfu_element *e = &t->elems[j];
            size_t pad = (8 - e->size % 8) % 8;

            put32(&sb, e->address);
            put32(&sb, (uint32_t)(e->size + pad));
            if (e->size)
                strbuf_add(&sb, e->data, e->size);
            strbuf_add(&sb, zeros, pad);
        }
    }
    dfu_file_append_suffix(&sb, 0, pid, vid, DFU_BCD_DFUSE);
    strbuf_release(out);
    *out = sb;
    return 0;
}
