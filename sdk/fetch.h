/*
 * One HTTP(S) GET with libcurl (this file pair is the only user of
 * <curl/curl.h>): TLS verification always on, redirects followed (at most 5)
 * with the same URL policy checked before every hop is contacted (never from
 * https to http; plain http only to a loopback host or when allowed), a
 * connect timeout and a stall timeout instead of a total one, optional
 * Range + If-Range. Retrying is the caller's business:
 * a failed request says whether it is worth retrying.
 *
 * Ownership: the caller owns every buffer; nothing is kept between calls.
 */
#ifndef OMVDEV_SDK_FETCH_H
#define OMVDEV_SDK_FETCH_H

#include "lib/compat.h"
#include "lib/libversion.h"
#include "lib/strbuf.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fetch_cfg {
    const char *cacert;     /* extra CA bundle file, or NULL for the system's */
    long connect_timeout_s; /* to establish a connection */
    long stall_timeout_s;   /* fail when under 1 KiB/s for this long */
    bool allow_http;        /* plain http:// to any host (a pinned checksum); loopback always */
    const volatile sig_atomic_t *cancel; /* set by a signal handler: abort */
    const volatile sig_atomic_t *stop;   /* set by another thread: abort (or NULL) */
};

struct fetch_resp {
    long status;          /* final HTTP status (0 when none came) */
    int64_t length;       /* Content-Length of this response, -1 unknown */
    int64_t total;        /* size of the whole file when known, else -1 */
    uint64_t range_start; /* first byte of a 206 response */
    char etag[200];
    char last_modified[100];
    bool transient;   /* the failure may go away when retried */
    bool cancelled;   /* cfg->cancel was set */
    bool sink_failed; /* the sink's data callback failed: its own error stands */
    bool tls;         /* the failure is a TLS verification failure */
    bool refused;     /* a URL (the first or a redirect's) broke the policy: not contacted */
};

struct fetch_sink {
    /* Called once, when the body of the final response starts (also for an
     * empty body); <0 aborts. */
    int (*begin)(void *ud, const struct fetch_resp *r);
    /* Called for each piece of the body; <0 aborts. */
    int (*data)(void *ud, const void *buf, size_t len);
    void *ud;
};

/* Once per process, before any thread starts. */
void fetch_global_init(void);
void fetch_global_cleanup(void);

/*
 * GET url. offset > 0 asks for "Range: bytes=<offset>-" and, with if_range,
 * "If-Range: <if_range>"; whether the server honoured it is in the response
 * given to sink->begin (status 206 and range_start). HTTP errors (>= 400) are
 * OMV_EIO with "HTTP <status> from <url>"; 404 and 410 are OMV_ENOENT; a
 * refused URL is OMV_EUSAGE; headers over libcurl's limit are OMV_ETOOBIG; a
 * sink's failure returns the sink's own code (its message stands).
 */
int fetch_get(const struct fetch_cfg *cfg, const char *url, uint64_t offset, const char *if_range,
              const struct fetch_sink *sink, struct fetch_resp *resp, char *err, size_t errlen);

/* GET a small file (at most max bytes) into body. */
int fetch_small(const struct fetch_cfg *cfg, const char *url, size_t max, struct strbuf *body,
                struct fetch_resp *resp, char *err, size_t errlen);

/* Is the URL's host a loopback address ("localhost", 127.0.0.0/8, ::1)? */
bool fetch_url_is_loopback(const char *url);

/* libcurl's version: compiled against and loaded. */
void fetch_libversion(struct libversion *v);

#endif
