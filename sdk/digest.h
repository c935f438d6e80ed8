/*
 * SHA-256 through OpenSSL's EVP interface (this file pair is the only user of
 * <openssl/evp.h>), the manifest's per-file CRC-64, and the parser for
 * published ".sha256" checksum files.
 *
 * Ownership: struct digest owns its EVP context; digest_release() frees it.
 */
#ifndef OMVDEV_SDK_DIGEST_H
#define OMVDEV_SDK_DIGEST_H

#include "lib/compat.h"
#include "lib/libversion.h"

#include <stddef.h>
#include <stdint.h>

#define DIGEST_HEX_LEN 64

struct digest {
    void *ctx; /* EVP_MD_CTX */
};

/* Start a SHA-256. Aborts only when OpenSSL cannot allocate. */
void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *data, size_t len);
/* Finish into 64 lower-case hex digits plus NUL; the digest may be reused after
 * digest_reset(). */
void digest_final_hex(struct digest *d, char hex[DIGEST_HEX_LEN + 1]);
void digest_reset(struct digest *d);
void digest_release(struct digest *d);

/* SHA-256 and size of a whole regular file. */
int digest_file(const char *path, char hex[DIGEST_HEX_LEN + 1], uint64_t *size, char *err,
                size_t errlen);

/*
 * The manifest's per-file checksum: CRC-64 (ECMA-182, the check xz itself
 * uses; liblzma's lzma_crc64). The manifest lies beside the files it lists,
 * so its sums can only ever catch accidents (a changed, truncated or
 * corrupted file), never tampering; a CRC does that at five times the speed
 * of SHA-256 (7.2 against 1.3 GB/s with SHA-NI), and an install sums every
 * byte it writes.
 */
#define FILESUM_HEX_LEN 16

struct filesum {
    uint64_t crc;
};
#define FILESUM_INIT                                                                               \
    {                                                                                              \
        0                                                                                          \
    }

void filesum_update(struct filesum *s, const void *data, size_t len);
/* 16 lower-case hex digits plus NUL. */
void filesum_hex(const struct filesum *s, char hex[FILESUM_HEX_LEN + 1]);
/* CRC-64 and size of a whole regular file. */
int filesum_file(const char *path, char hex[FILESUM_HEX_LEN + 1], uint64_t *size, char *err,
                 size_t errlen);
/* Is s exactly 16 hex digits? Lower-cases it into hex when so. */
int filesum_hex_valid(const char *s, char hex[FILESUM_HEX_LEN + 1]);

/*
 * Parse the text of a checksum file in sha256sum's format: one line
 * "<64 hex>  <name>" (or "<64 hex> *<name>", binary mode), optionally without
 * the name, optionally ending in a newline (CRLF tolerated). When a name is
 * present it must be `want_name` (a "./" or path prefix is allowed). Anything
 * else (more lines, a short or non-hex digest, a BOM, another file's name)
 * gives OMV_EPARSE with the reason. The digest goes out in lower case.
 */
int digest_parse_sumfile(const char *text, size_t len, const char *want_name,
                         char hex[DIGEST_HEX_LEN + 1], char *err, size_t errlen);

/* Is s exactly 64 hex digits? Lower-cases it into hex when so. */
int digest_hex_valid(const char *s, char hex[DIGEST_HEX_LEN + 1]);

/* OpenSSL's (libcrypto's) version: compiled against and loaded. */
void digest_libversion(struct libversion *v);

#endif
