/*
 * Safe, streamed tar extraction with libarchive (see extract.h).
 */
#include "lib/compat.h"

#include "sdk/extract.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/libversion.h"
#include "sdk/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NAME 4096

/* Printable for messages: at most 200 bytes of the name. */
#define SHOW(s) (int)(strlen(s) > 200 ? 200 : strlen(s)), (s)

int extract_check_name(const char *name, struct strbuf *top, struct strbuf *out, char *err,
                       size_t errlen)
{
    const char *p = name;
    size_t depth = 0;

    strbuf_reset(out);
    if (!*name)
        return omv_seterr(err, errlen, OMV_EPARSE, "an entry has an empty name");
    if (strlen(name) > MAX_NAME)
        return omv_seterr(err, errlen, OMV_EPARSE, "entry name is too long: '%.*s...'", 100, name);
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return omv_seterr(err, errlen, OMV_EPARSE, "entry name has a control character: '%.*s'",
                              SHOW(name));
    if (name[0] == '/')
        return omv_seterr(err, errlen, OMV_EPARSE, "absolute path '%.*s'", SHOW(name));
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* "a//b" and "./a": nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            return omv_seterr(err, errlen, OMV_EPARSE, "'..' in entry name '%.*s'", SHOW(name));
        } else if (depth == 0) {
            if (!top->len) {
                strbuf_add(top, p, n);
            } else if (top->len != n || memcmp(top->buf, p, n)) {
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "more than one top-level directory: '%s' and '%.*s'", top->buf,
                                  (int)(n > 200 ? 200 : n), p);
            }
            depth++;
        } else {
            if (out->len)
                strbuf_addch(out, '/');
            strbuf_add(out, p, n);
            depth++;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    if (depth == 0)
        return omv_seterr(err, errlen, OMV_EPARSE, "entry '%.*s' names no file", SHOW(name));
    if (!strcmp(out->buf, EXTRACT_MANIFEST_NAME))
        return omv_seterr(err, errlen, OMV_EPARSE, "entry '%.*s' uses the reserved name '%s'",
                          SHOW(name), EXTRACT_MANIFEST_NAME);
    return 0;
}

int extract_check_symlink(const char *where, const char *target, char *err, size_t errlen)
{
    size_t depth = 0, ups = 0;
    bool seen_name = false;
    const char *p;

    if (!*target)
        return omv_seterr(err, errlen, OMV_EPARSE, "symlink '%.*s' has an empty target",
                          SHOW(where));
    if (strlen(target) > MAX_NAME)
        return omv_seterr(err, errlen, OMV_EPARSE, "symlink '%.*s' has a too long target",
                          SHOW(where));
    for (const char *s = target; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "symlink '%.*s' has a control character in its target", SHOW(where));
    if (target[0] == '/')
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "symlink '%.*s' points outside the SDK (absolute target '%.*s')",
                          SHOW(where), SHOW(target));
    /* The link's directory depth inside the stripped tree. */
    for (const char *s = where; *s; s++)
        if (*s == '/')
            depth++;
    for (p = target; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (seen_name)
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "symlink '%.*s' has '..' after a name in its target '%.*s'",
                                  SHOW(where), SHOW(target));
            if (++ups > depth)
                return omv_seterr(err, errlen, OMV_EPARSE,
                                  "symlink '%.*s' points outside the SDK ('%.*s')", SHOW(where),
                                  SHOW(target));
        } else if (n && !(n == 1 && p[0] == '.')) {
            seen_name = true;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* The hardlink's target must be a regular file reached without symlinks. */
static int check_hardlink_target(const char *dest, const char *rel, const char *name, char *err,
                                 size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    struct stat st;
    const char *p = rel;
    int rc = 0;

    strbuf_addstr(&path, dest);
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);

        strbuf_addch(&path, '/');
        strbuf_add(&path, p, n);
        if (lstat(path.buf, &st) < 0 || (slash ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
            rc = omv_seterr(err, errlen, OMV_EPARSE,
                            "hardlink '%.*s' does not name a regular file extracted before it",
                            SHOW(name));
            break;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    strbuf_release(&path);
    return rc;
}

/* Manifest lines: tab-separated, names never hold tabs or newlines. */
static void manifest_line(FILE *m, char type, const char *a, const char *b, const char *path)
{
    if (b)
        fprintf(m, "%c\t%s\t%s\t%s\n", type, a, b, path);
    else if (a)
        fprintf(m, "%c\t%s\t%s\n", type, a, path);
    else
        fprintf(m, "%c\t%s\n", type, path);
}

struct reader_glue {
    extract_reader_fn fn;
    void *ud;
    int rc; /* the reader's error */
};

static la_ssize_t glue_read(struct archive *a, void *ud, const void **buf)
{
    struct reader_glue *g = ud;
    size_t len = 0;
    int rc = g->fn(g->ud, buf, &len);

    if (rc < 0) {
        g->rc = rc;
        archive_set_error(a, EIO, "read failed");
        return -1;
    }
    return (la_ssize_t)len;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, struct digest *d,
                     uint64_t *size, char *err, size_t errlen)
{
    static const char zeros[4096];
    uint64_t pos = 0;

    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(in, &buf, &len, &off);

        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_OK)
            return omv_seterr(err, errlen, OMV_EPARSE, "cannot read '%.*s' from the archive: %s",
                              SHOW(name), archive_error_string(in));
        while ((uint64_t)off > pos) {
            size_t z =
                (uint64_t)off - pos > sizeof(zeros) ? sizeof(zeros) : (size_t)((uint64_t)off - pos);
            digest_update(d, zeros, z);
            pos += z;
        }
        digest_update(d, buf, len);
        pos += len;
        if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK)
            return omv_seterr(err, errlen, OMV_EIO, "cannot write '%.*s': %s", SHOW(name),
                              archive_error_string(out));
    }
    *size = pos;
    return 0;
}

int extract_run(const char *dest, extract_reader_fn reader, void *reader_ud,
                const struct extract_opts *opts, FILE *manifest, struct extract_stats *stats,
                char *err, size_t errlen)
{
    struct archive *in = archive_read_new(), *out = archive_write_disk_new();
    struct reader_glue glue = {reader, reader_ud, 0};
    struct strbuf top = STRBUF_INIT, rel = STRBUF_INIT, path = STRBUF_INIT, link = STRBUF_INIT;
    struct strbuf orig = STRBUF_INIT;
    struct digest d;
    char hex[DIGEST_HEX_LEN + 1], num[32];
    uint64_t entries = 0;
    int rc = 0, r;

    memset(stats, 0, sizeof(*stats));
    digest_init(&d);
    if (!in || !out) {
        rc = omv_seterr(err, errlen, OMV_EIO, "libarchive: out of memory");
        goto out;
    }
    archive_read_support_format_tar(in);
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if (archive_read_open(in, &glue, NULL, glue_read, NULL) != ARCHIVE_OK) {
        rc = glue.rc ? glue.rc
                     : omv_seterr(err, errlen, OMV_EPARSE, "not a tar archive: %s",
                                  archive_error_string(in));
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        const char *name, *hl, *sl;
        mode_t type, mode;
        uint64_t size = 0;

        r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN || r == ARCHIVE_WARN) {
            rc = glue.rc ? glue.rc
                         : omv_seterr(err, errlen, OMV_EPARSE, "damaged archive: %s",
                                      archive_error_string(in));
            goto out;
        }
        if (!archive_entry_pathname(e)) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "an entry has no name");
            goto out;
        }
        /* Our copy: the entry's own name is replaced below. */
        strbuf_reset(&orig);
        strbuf_addstr(&orig, archive_entry_pathname(e));
        name = orig.buf;
        if (++entries > opts->max_entries) {
            rc = omv_seterr(err, errlen, OMV_EPARSE,
                            "the archive has more than %" PRIu64 " entries (refused as unsafe)",
                            opts->max_entries);
            goto out;
        }
        rc = extract_check_name(name, &top, &rel, err, errlen);
        if (rc < 0)
            goto out;
        type = archive_entry_filetype(e);
        mode = archive_entry_perm(e);
        hl = archive_entry_hardlink(e);
        sl = archive_entry_symlink(e);
        if (!rel.len) {
            if (type != AE_IFDIR || hl) {
                rc = omv_seterr(err, errlen, OMV_EPARSE,
                                "'%.*s' is not a directory: an SDK archive holds exactly one "
                                "top-level directory",
                                SHOW(name));
                goto out;
            }
            continue;
        }
        if (!hl && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "'%.*s' is a %s (refused)", SHOW(name),
                            type == AE_IFCHR || type == AE_IFBLK ? "device node"
                            : type == AE_IFIFO                   ? "FIFO"
                            : type == AE_IFSOCK                  ? "socket"
                                                                 : "special file");
            goto out;
        }
        if (type == AE_IFDIR) {
            archive_entry_set_perm(e, mode & 0777);
        } else if (mode & (S_ISUID | S_ISGID)) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "'%.*s' is set%cid (refused)", SHOW(name),
                            mode & S_ISUID ? 'u' : 'g');
            goto out;
        } else {
            archive_entry_set_perm(e, mode & 0777);
        }
        strbuf_reset(&path);
        fs_path_join(&path, dest, rel.buf);
        if (hl) {
            struct strbuf htop = STRBUF_INIT;

            strbuf_addstr(&htop, top.buf);
            rc = extract_check_name(hl, &htop, &link, err, errlen);
            strbuf_release(&htop);
            if (rc == 0 && !link.len)
                rc = omv_seterr(err, errlen, OMV_EPARSE, "hardlink '%.*s' names a directory",
                                SHOW(name));
            if (rc == 0)
                rc = check_hardlink_target(dest, link.buf, name, err, errlen);
            if (rc < 0)
                goto out;
            strbuf_reset(&path);
            fs_path_join(&path, dest, link.buf);
            archive_entry_set_hardlink(e, path.buf);
            strbuf_reset(&path);
            fs_path_join(&path, dest, rel.buf);
        } else if (type == AE_IFLNK) {
            rc = extract_check_symlink(rel.buf, sl ? sl : "", err, errlen);
            if (rc < 0)
                goto out;
        } else if (type == AE_IFREG) {
            if (archive_entry_size(e) < 0 ||
                stats->bytes + (uint64_t)archive_entry_size(e) > opts->max_bytes) {
                rc = omv_seterr(err, errlen, OMV_EPARSE,
                                "the archive unpacks to more than %" PRIu64
                                " bytes (refused as unsafe, at '%.*s')",
                                opts->max_bytes, SHOW(name));
                goto out;
            }
        }
        archive_entry_set_pathname(e, path.buf);
        r = archive_write_header(out, e);
        if (r < ARCHIVE_WARN) {
            rc = omv_seterr(err, errlen, OMV_EPARSE, "cannot extract '%.*s': %s", SHOW(name),
                            archive_error_string(out));
            goto out;
        }
        if (hl) {
            /* The data is the target's: hash the file as it is on disk now. */
            rc = digest_file(path.buf, hex, &size, err, errlen);
            if (rc < 0)
                goto out;
            snprintf(num, sizeof(num), "%" PRIu64, size);
            manifest_line(manifest, 'f', hex, num, rel.buf);
            stats->hardlinks++;
        } else if (type == AE_IFREG) {
            digest_reset(&d);
            rc = copy_data(in, out, name, &d, &size, err, errlen);
            if (rc < 0) {
                if (glue.rc)
                    rc = glue.rc;
                goto out;
            }
            digest_final_hex(&d, hex);
            snprintf(num, sizeof(num), "%" PRIu64, size);
            manifest_line(manifest, 'f', hex, num, rel.buf);
            stats->files++;
            stats->bytes += size;
        } else if (type == AE_IFDIR) {
            manifest_line(manifest, 'd', NULL, NULL, rel.buf);
            stats->dirs++;
        } else {
            manifest_line(manifest, 'l', sl, NULL, rel.buf);
            stats->symlinks++;
        }
        if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
            rc = omv_seterr(err, errlen, OMV_EIO, "cannot finish '%.*s': %s", SHOW(name),
                            archive_error_string(out));
            goto out;
        }
    }
    if (!top.len) {
        rc = omv_seterr(err, errlen, OMV_EPARSE, "the archive is empty");
        goto out;
    }
    /* Read the rest of the stream, so its end is checked too. */
    for (;;) {
        const void *buf;
        size_t len;

        rc = reader(reader_ud, &buf, &len);
        if (rc < 0 || len == 0)
            break;
    }
    if (rc < 0)
        goto out;
    if (archive_write_close(out) != ARCHIVE_OK) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot finish extraction: %s",
                        archive_error_string(out));
        goto out;
    }
    snprintf(stats->top, sizeof(stats->top), "%s", top.buf);
    if (fflush(manifest) != 0 || ferror(manifest))
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot write the manifest: %s", strerror(errno));
out:
    digest_release(&d);
    if (in)
        archive_read_free(in);
    if (out)
        archive_write_free(out);
    strbuf_release(&top);
    strbuf_release(&rel);
    strbuf_release(&path);
    strbuf_release(&link);
    strbuf_release(&orig);
    return rc;
}

static void archive_number(char *buf, size_t len, int n)
{
    snprintf(buf, len, "%d.%d.%d", n / 1000000, n / 1000 % 1000, n % 1000);
}

void extract_libversion(struct libversion *v)
{
    v->name = "libarchive";
    archive_number(v->built, sizeof(v->built), ARCHIVE_VERSION_NUMBER);
    archive_number(v->running, sizeof(v->running), archive_version_number());
}
