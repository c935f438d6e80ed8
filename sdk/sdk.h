/*
 * The SDK install transaction and the other `sdk` operations.
 *
 * install: fetch (or read) the tarball once and, in the same pass, hash it
 * (SHA-256), decode the xz (two threads) and extract it into a staging
 * directory beside the destination; commit by one rename only when the hash
 * matches, the archive ended cleanly and its sdk.version stamp is the
 * version. An advisory lock (flock) on "<parent>/.<name>.lock" serialises
 * installs of the same directory; its holder removes the file before letting
 * go. Downloaded bytes are also kept in "<cache>/<tarball>.part" (validator
 * in ".part.meta") so a broken download resumes with Range + If-Range: the
 * request for the rest runs while the part is decoded. What a killed install
 * left beside the directory is moved aside and removed in the background.
 *
 * The manifest "<SDK_DIR>/.omvdev-manifest" lists every installed entry, one
 * per line, tab-separated: "f <crc64> <size> <path>", "d <path>",
 * "l <target> <path>", after a first line "# omvdev sdk manifest 2". Version
 * 1, which earlier omvdev wrote, differs only in its "f" lines: the file's
 * SHA-256 (64 hex digits) where version 2 has its CRC-64 (16).
 *
 * Nothing here prints: events go to the caller's callback (called on the
 * calling thread only).
 *
 * Ownership: options and results are the caller's; strings in events are
 * valid only during the call.
 */
#ifndef OMVDEV_SDK_SDK_H
#define OMVDEV_SDK_SDK_H

#include "lib/compat.h"
#include "lib/strbuf.h"
#include "sdk/digest.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDK_MANIFEST_HEADER "# omvdev sdk manifest 2"

enum sdk_event_kind {
    SDK_EV_LOCK_WAIT, /* text: the lock file */
    SDK_EV_SOURCE,    /* text: where the bytes come from */
    SDK_EV_RESUME,    /* done: bytes already in the cache */
    SDK_EV_RETRY,     /* text: what failed; done: attempt; total: delay in ms */
    SDK_EV_RESTART,   /* text: why the download starts again from byte 0 */
    SDK_EV_PROGRESS,  /* phase, done, total (0 when unknown) */
    SDK_EV_COMMIT,    /* text: the directory */
};

struct sdk_event {
    enum sdk_event_kind kind;
    const char *phase; /* "download" or "unpack" */
    const char *text;
    uint64_t done, total;
};

typedef void (*sdk_event_fn)(void *ud, const struct sdk_event *ev);

/* Why an install failed: the command picks its hint from this. */
enum sdk_failure {
    SDK_FAIL_NONE,
    SDK_FAIL_NETWORK,       /* download failed; the .part is kept: rerun resumes */
    SDK_FAIL_HTTP,          /* the server said no (4xx) */
    SDK_FAIL_TLS,           /* certificate not trusted */
    SDK_FAIL_CHECKSUM_FILE, /* the .sha256 is missing or malformed */
    SDK_FAIL_CHECKSUM,      /* the tarball's hash is not the expected one */
    SDK_FAIL_ARCHIVE,       /* refused or damaged archive, wrong stamp */
    SDK_FAIL_EXISTS,        /* the directory holds something else; --force */
    SDK_FAIL_FS,            /* local file-system error */
    SDK_FAIL_INTERRUPTED,   /* SIGINT/SIGTERM; the .part is kept */
    SDK_FAIL_USAGE,         /* refused URL or option combination */
    SDK_FAIL_REFUSED,       /* a redirect led to a URL the policy refuses (not contacted) */
    SDK_FAIL_NOSPACE,       /* a file system is full; the .part is kept: rerun resumes */
    SDK_FAIL_PATH,          /* the SDK directory's path is too long for the system */
};

struct sdk_install_opts {
    const char *version;   /* required, valid (sdk_version_valid) */
    const char *tarball;   /* "openmv-sdk-<ver>-<platform>.tar.xz" */
    const char *dir;       /* the SDK directory to create or replace */
    const char *url;       /* the tarball's URL (https://, http://, file://), or NULL */
    const char *from_file; /* a local tarball instead of url */
    const char *sha256;    /* pinned digest (64 hex), or NULL: <url>.sha256 */
    const char *cacert;
    const char *cache_dir; /* downloads cache; NULL: no resume and no keep */
    bool force;            /* reinstall / replace what is there */
    bool keep_download;    /* keep the finished tarball in cache_dir */
    int retries;           /* extra attempts after a transient failure */
    long retry_delay_ms;   /* first backoff; doubles each time */
    long connect_timeout_s, stall_timeout_s;
    uint64_t max_unpacked; /* zip-bomb guard */
    unsigned threads;      /* xz decoder threads */
    const volatile sig_atomic_t *cancel;
    sdk_event_fn event;
    void *ud;
};

struct sdk_install_result {
    bool already; /* it was installed: nothing done */
    enum sdk_failure failure;
    char sha256[DIGEST_HEX_LEN + 1];
    uint64_t download_bytes; /* the tarball's size */
    uint64_t unpacked_bytes, files;
    uint64_t resumed_from; /* bytes taken from the cache */
    bool from_cache;       /* a kept download was used */
};

/* Defaults for everything but the strings and the callback. */
void sdk_install_opts_init(struct sdk_install_opts *o);

int sdk_install(const struct sdk_install_opts *o, struct sdk_install_result *res, char *err,
                size_t errlen);

/* Is an SDK `version` installed in dir (its stamp equal)? */
bool sdk_is_installed(const char *dir, const char *version);

/* The URL rules: https:// always; http:// only to a loopback host or when the
 * checksum is pinned; file://. OMV_EINVAL with the reason otherwise. */
int sdk_url_allowed(const char *url, bool pinned, char *err, size_t errlen);

/* The lock file and staging directory names for an SDK directory. */
void sdk_lock_path(const char *dir, struct strbuf *out);

/* ---- verify ------------------------------------------------------------- */

enum sdk_problem {
    SDK_PROB_MISSING,
    SDK_PROB_CHANGED, /* content, size or type differs */
    SDK_PROB_EXTRA,   /* not in the manifest (informational) */
};

typedef void (*sdk_problem_fn)(void *ud, enum sdk_problem p, const char *path, const char *what);

struct sdk_verify_result {
    uint64_t checked, missing, changed, extra;
};

enum sdk_verify_flags {
    /* Types, sizes and link targets only, no hashing: what `doctor` can afford
     * (a stat per file) on a 1.4 GB SDK. */
    SDK_VERIFY_SIZES_ONLY = 1 << 0,
};

/*
 * Check the SDK in dir against its manifest: every entry present with the
 * recorded type, size, checksum (unless SDK_VERIFY_SIZES_ONLY) or link target;
 * files the manifest does not list are reported as extra. OMV_ENOENT when
 * there is no manifest, OMV_EPARSE when it is damaged.
 */
int sdk_verify(const char *dir, unsigned flags, sdk_problem_fn fn, void *ud,
               struct sdk_verify_result *res, char *err, size_t errlen);

/* The version a manifest's first line (without its newline) names: 1, 2, or
 * 0 for anything else. */
int sdk_manifest_version(const char *first_line);

/* Parse one line (without its newline) of a manifest of that version: type
 * 'f', 'd' or 'l'. */
struct sdk_manifest_entry {
    char type;
    char sum[DIGEST_HEX_LEN + 1]; /* 'f': CRC-64 (version 2), SHA-256 (1) */
    uint64_t size;
    const char *target; /* 'l': points into the line */
    const char *path;   /* points into the line */
};
int sdk_manifest_parse_line(char *line, int version, struct sdk_manifest_entry *e);

/* ---- remove ------------------------------------------------------------- */

/* Remove an installed SDK: under its lock, renamed aside first, so the path
 * never holds half an SDK. */
int sdk_remove(const char *dir, char *err, size_t errlen);

/* rm -rf (read-only directories too); a missing path is fine. */
int sdk_remove_tree(const char *path, char *err, size_t errlen);

#endif
