/*
 * SHA-256 via OpenSSL EVP, CRC-64 via liblzma, and the checksum-file parser
 * (see digest.h).
 */
#include "lib/compat.h"

#include "sdk/digest.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/libversion.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lzma.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void digest_init(struct digest *d)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        fputs("omvdev: fatal: OpenSSL cannot start a SHA-256\n", stderr);
        abort();
    }
    d->ctx = c;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
    if (len)
        EVP_DigestUpdate(d->ctx, data, len);
}

void digest_final_hex(struct digest *d, char hex[DIGEST_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(d->ctx, md, &n);
    for (unsigned int i = 0; i < n && i < DIGEST_HEX_LEN / 2; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[DIGEST_HEX_LEN] = '\0';
}

void digest_reset(struct digest *d)
{
    EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL);
}

void digest_release(struct digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

/* Feed a whole regular file to fn, 64 KiB at a time; its size in *size. */
static int read_chunks(const char *path, void (*fn)(void *, const void *, size_t), void *ud,
                       uint64_t *size, char *err, size_t errlen)
{
    char *buf;
    uint64_t total = 0;
    int fd, rc;

    /* Only a regular file: a FIFO or a device would block or never end. */
    rc = fs_open_regular(path, &fd, &total, err, errlen);
    if (rc < 0)
        return rc;
    total = 0;
    buf = xmalloc(1 << 16);
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 16);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = omv_seterr(err, errlen, OMV_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        fn(ud, buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (rc == 0 && size)
        *size = total;
    free(buf);
    close(fd);
    return rc;
}

static void digest_chunk(void *ud, const void *data, size_t len)
{
    digest_update(ud, data, len);
}

int digest_file(const char *path, char hex[DIGEST_HEX_LEN + 1], uint64_t *size, char *err,
                size_t errlen)
{
    struct digest d;
    int rc;

    digest_init(&d);
    rc = read_chunks(path, digest_chunk, &d, size, err, errlen);
    if (rc == 0)
        digest_final_hex(&d, hex);
    digest_release(&d);
    return rc;
}

void filesum_update(struct filesum *s, const void *data, size_t len)
{
    s->crc = lzma_crc64(data, len, s->crc);
}

void filesum_hex(const struct filesum *s, char hex[FILESUM_HEX_LEN + 1])
{
    snprintf(hex, FILESUM_HEX_LEN + 1, "%016" PRIx64, s->crc);
}

static void filesum_chunk(void *ud, const void *data, size_t len)
{
    filesum_update(ud, data, len);
}

int filesum_file(const char *path, char hex[FILESUM_HEX_LEN + 1], uint64_t *size, char *err,
                 size_t errlen)
{
    struct filesum s = FILESUM_INIT;
    int rc = read_chunks(path, filesum_chunk, &s, size, err, errlen);

    if (rc == 0)
        filesum_hex(&s, hex);
    return rc;
}

/* Is s exactly n hex digits? Lower-cases them into hex (when not NULL). */
static int hex_valid(const char *s, size_t n, char *hex)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        if (hex)
            hex[i] = c;
    }
    if (s[i] != '\0')
        return 0;
    if (hex)
        hex[n] = '\0';
    return 1;
}

int digest_hex_valid(const char *s, char hex[DIGEST_HEX_LEN + 1])
{
    return hex_valid(s, DIGEST_HEX_LEN, hex);
}

int filesum_hex_valid(const char *s, char hex[FILESUM_HEX_LEN + 1])
{
    return hex_valid(s, FILESUM_HEX_LEN, hex);
}

/* Does the file name in a checksum line name want (maybe behind a path)? */
static int name_matches(const char *name, size_t n, const char *want)
{
    size_t w = strlen(want);

    if (n == w && !memcmp(name, want, n))
        return 1;
    return n > w && name[n - w - 1] == '/' && !memcmp(name + n - w, want, w);
}

int digest_parse_sumfile(const char *text, size_t len, const char *want_name,
                         char hex[DIGEST_HEX_LEN + 1], char *err, size_t errlen)
{
    char digest[DIGEST_HEX_LEN + 1];
    size_t end = len, i;
    const char *name;
    size_t name_len;

    if (len > 4096)
        return omv_seterr(err, errlen, OMV_EPARSE, "checksum file is too long (%zu bytes)", len);
    /* One line: drop one trailing "\n" or "\r\n"; nothing may follow. */
    if (end && text[end - 1] == '\n')
        end--;
    if (end && text[end - 1] == '\r')
        end--;
    for (i = 0; i < end; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n' || c == '\r')
            return omv_seterr(err, errlen, OMV_EPARSE, "checksum file has more than one line");
        if (c < 0x20 && c != '\t')
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "checksum file has a control character at byte %zu", i);
        if (c >= 0x80)
            return omv_seterr(err, errlen, OMV_EPARSE,
                              "checksum file has a non-ASCII byte at byte %zu", i);
    }
    if (end < DIGEST_HEX_LEN)
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "checksum file holds no SHA-256 (expected 64 hex digits, got %zu bytes)",
                          end);
    memcpy(digest, text, DIGEST_HEX_LEN);
    digest[DIGEST_HEX_LEN] = '\0';
    if (!digest_hex_valid(digest, hex))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "checksum file does not start with 64 hex digits");
    if (end == DIGEST_HEX_LEN)
        return 0; /* a bare digest */
    /* sha256sum: two spaces (text mode) or space + '*' (binary mode), then the name. */
    if (end < DIGEST_HEX_LEN + 3 || text[DIGEST_HEX_LEN] != ' ' ||
        (text[DIGEST_HEX_LEN + 1] != ' ' && text[DIGEST_HEX_LEN + 1] != '*'))
        return omv_seterr(err, errlen, OMV_EPARSE,
                          "checksum file is not in sha256sum format ('<sha256>  <file>')");
    name = text + DIGEST_HEX_LEN + 2;
    name_len = end - DIGEST_HEX_LEN - 2;
    if (!name_matches(name, name_len, want_name))
        return omv_seterr(err, errlen, OMV_EPARSE, "checksum file is for '%.*s', not '%s'",
                          (int)(name_len > 200 ? 200 : name_len), name, want_name);
    return 0;
}

void digest_libversion(struct libversion *v)
{
    v->name = "OpenSSL";
    snprintf(v->built, sizeof(v->built), "%s", OPENSSL_VERSION_STR);
    snprintf(v->running, sizeof(v->running), "%s", OpenSSL_version(OPENSSL_VERSION_STRING));
}
