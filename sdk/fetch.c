/*
 * HTTP(S) downloads with libcurl (see fetch.h).
 */
#include "lib/compat.h"

#include "sdk/fetch.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/libversion.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void fetch_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void fetch_global_cleanup(void)
{
    curl_global_cleanup();
}

struct xfer {
    const struct fetch_cfg *cfg;
    const struct fetch_sink *sink;
    struct fetch_resp *resp;
    CURL *curl;
    bool begun;
    long code;   /* the status of the response being read */
    int sink_rc; /* the sink's failure */
    /* headers of the response being read (reset at each status line) */
    char etag[200], last_modified[100];
    int64_t cr_start, cr_total;
};

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && *v == ' ') {
        v++;
        n--;
    }
    if (n >= cap)
        n = 0; /* too long to be used as a validator */
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;

    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) {
        const char *sp = memchr(buf, ' ', n);

        x->etag[0] = x->last_modified[0] = '\0';
        x->cr_start = x->cr_total = -1;
        x->code = sp && (size_t)(sp - buf) + 4 <= n ? strtol(sp + 1, NULL, 10) : 0;
    } else if (n > 5 && !strncasecmp(buf, "ETag:", 5)) {
        copy_value(x->etag, sizeof(x->etag), buf + 5, n - 5);
    } else if (n > 14 && !strncasecmp(buf, "Last-Modified:", 14)) {
        copy_value(x->last_modified, sizeof(x->last_modified), buf + 14, n - 14);
    } else if (n > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
        char tmp[128];
        unsigned long long a, b, t;

        copy_value(tmp, sizeof(tmp), buf + 14, n - 14);
        if (sscanf(tmp, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
            x->cr_start = (int64_t)a;
            x->cr_total = (int64_t)t;
        } else if (sscanf(tmp, "bytes %llu-%llu/*", &a, &b) == 2) {
            x->cr_start = (int64_t)a;
        } else if (sscanf(tmp, "bytes */%llu", &t) == 1) {
            x->cr_total = (int64_t)t; /* 416: the whole file's size */
        }
    }
    return n;
}

static int begin(struct xfer *x)
{
    struct fetch_resp *r = x->resp;
    curl_off_t cl = -1;

    x->begun = true;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r->length = cl;
    snprintf(r->etag, sizeof(r->etag), "%s", x->etag);
    snprintf(r->last_modified, sizeof(r->last_modified), "%s", x->last_modified);
    if (r->status == 206) {
        r->range_start = x->cr_start >= 0 ? (uint64_t)x->cr_start : 0;
        r->total = x->cr_total;
        if (x->cr_start < 0) /* a 206 without a usable Content-Range */
            r->status = -206;
    } else {
        r->range_start = 0;
        r->total = r->length;
    }
    if (x->sink->begin && (x->sink_rc = x->sink->begin(x->sink->ud, r)) < 0) {
        r->sink_failed = true;
        return -1;
    }
    return 0;
}

static bool is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

static size_t on_data(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;

    if (is_redirect(x->code))
        return n; /* a redirect's body: not the file */
    if (!x->begun && begin(x) < 0)
        return CURL_WRITEFUNC_ERROR;
    if ((x->sink_rc = x->sink->data(x->sink->ud, buf, n)) < 0) {
        x->resp->sink_failed = true;
        return CURL_WRITEFUNC_ERROR;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if ((x->cfg->cancel && *x->cfg->cancel) || (x->cfg->stop && *x->cfg->stop)) {
        x->resp->cancelled = true;
        return 1;
    }
    return 0;
}

static bool transient_code(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

bool fetch_url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    char host[256];
    size_t n = 0;

    if (!h)
        return false;
    h += 3;
    if (*h == '[') {
        h++;
        while (h[n] && h[n] != ']' && n < sizeof(host) - 1)
            n++;
    } else {
        while (h[n] && h[n] != ':' && h[n] != '/' && h[n] != '?' && n < sizeof(host) - 1)
            n++;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    if (strchr(host, '@'))
        return false;
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1"))
        return true;
    if (!strncmp(host, "127.", 4)) {
        unsigned a, b, c;
        char extra;

        return sscanf(host + 4, "%u.%u.%u%c", &a, &b, &c, &extra) == 3 && a < 256 && b < 256 &&
               c < 256;
    }
    return false;
}

/*
 * May `url` be contacted? https always; plain http only to a loopback host
 * or when the configuration allows it, and never after https (a redirect
 * would drop the protection). `from` is the URL that redirected here.
 */
static int url_policy(const struct fetch_cfg *cfg, const char *url, const char *from,
                      bool was_https, struct fetch_resp *resp, char *err, size_t errlen)
{
    char via[600] = "";

    if (from)
        snprintf(via, sizeof(via), " (redirected from '%.500s')", from);
    if (!strncasecmp(url, "https://", 8))
        return 0;
    resp->refused = true;
    if (strncasecmp(url, "http://", 7))
        return omv_seterr(err, errlen, OMV_EUSAGE,
                          "refusing '%s'%s: only https:// and http:// "
                          "are followed",
                          url, via);
    if (was_https)
        return omv_seterr(err, errlen, OMV_EUSAGE,
                          "refusing plain http:// from '%s'%s: a redirect never leaves https", url,
                          via);
    if (!cfg->allow_http && !fetch_url_is_loopback(url))
        return omv_seterr(err, errlen, OMV_EUSAGE,
                          "refusing plain http:// from '%s'%s: nothing would protect the download",
                          url, via);
    resp->refused = false;
    return 0;
}

static void setup(struct xfer *x, const char *url, char *errbuf)
{
    CURL *c = x->curl;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Redirects are followed by fetch_get, which checks each URL first. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (x->cfg->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, x->cfg->cacert);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, x->cfg->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, x->cfg->stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "omvdev/" OMVDEV_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    /* The bytes are hashed as they are: no transparent decompression. */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
}

/* The result of one transfer as an omv_err and message. */
static int result_of(struct xfer *x, CURLcode c, const char *url, const char *errbuf, char *err,
                     size_t errlen)
{
    struct fetch_resp *resp = x->resp;

    if (c == CURLE_OK)
        return 0;
    if (resp->sink_failed)
        return x->sink_rc < 0 ? x->sink_rc : OMV_EIO; /* the sink described it */
    if (resp->cancelled || c == CURLE_ABORTED_BY_CALLBACK) {
        resp->cancelled = true;
        return omv_seterr(err, errlen, OMV_EINTR, "interrupted");
    }
    if (c == CURLE_HTTP_RETURNED_ERROR) {
        if (resp->status == 416)
            resp->total = x->cr_total;
        resp->transient = resp->status >= 500 || resp->status == 408 || resp->status == 429;
        return omv_seterr(err, errlen,
                          resp->status == 404 || resp->status == 410 ? OMV_ENOENT : OMV_ENET,
                          "HTTP %ld from %s", resp->status, url);
    }
    if (c == CURLE_OPERATION_TIMEDOUT) {
        resp->transient = true;
        return omv_seterr(err, errlen, OMV_ENET, "%s from %s: %s",
                          x->begun ? "the download stalled" : "timed out", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(c));
    }
    if (c == CURLE_OUT_OF_MEMORY && !x->begun)
        /* libcurl keeps a response's headers in a buffer of at most 100 KiB
         * (CURL_MAX_HTTP_HEADER) and says "out of memory" past it. */
        return omv_seterr(err, errlen, OMV_ETOOBIG,
                          "the response from %s has headers larger than libcurl accepts "
                          "(100 KiB): not a usable download server",
                          url);
    resp->transient = transient_code(c);
    resp->tls = c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CACERT_BADFILE ||
                c == CURLE_SSL_CERTPROBLEM;
    return omv_seterr(err, errlen, OMV_ENET, "cannot download %s: %s", url,
                      errbuf[0] ? errbuf : curl_easy_strerror(c));
}

/* One request; *next is the redirect's target (malloc'd) when there is one. */
static int fetch_once(const struct fetch_cfg *cfg, const char *url, uint64_t offset,
                      const char *if_range, const struct fetch_sink *sink, struct fetch_resp *resp,
                      char **next, char *err, size_t errlen)
{
    struct xfer x;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", range[64], *hdr = NULL, *loc = NULL;
    CURLcode c;
    int rc;

    if (cfg->cacert) {
        /* OpenSSL would block on a FIFO, or read a link to /dev/zero for ever. */
        uint64_t size;
        int fd;

        rc = fs_open_regular(cfg->cacert, &fd, &size, err, errlen);
        if (rc < 0)
            return rc;
        close(fd);
    }
    memset(&x, 0, sizeof(x));
    x.cfg = cfg;
    x.sink = sink;
    x.resp = resp;
    x.cr_start = x.cr_total = -1;
    x.curl = curl_easy_init();
    if (!x.curl)
        return omv_seterr(err, errlen, OMV_EIO, "cannot start libcurl");
    setup(&x, url, errbuf);
    if (offset > 0) {
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)offset);
        curl_easy_setopt(x.curl, CURLOPT_RANGE, range);
        if (if_range && *if_range) {
            size_t n = strlen(if_range) + 16;

            hdr = xmalloc(n);
            snprintf(hdr, n, "If-Range: %s", if_range);
            hdrs = curl_slist_append(hdrs, hdr);
            curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, hdrs);
        }
    }
    c = curl_easy_perform(x.curl);
    curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (c == CURLE_OK && is_redirect(resp->status) &&
        curl_easy_getinfo(x.curl, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        *next = xstrdup(loc);
    else if (c == CURLE_OK && !x.begun && begin(&x) < 0)
        c = CURLE_WRITE_ERROR;
    rc = result_of(&x, c, url, errbuf, err, errlen);
    curl_slist_free_all(hdrs);
    free(hdr);
    curl_easy_cleanup(x.curl);
    return rc;
}

int fetch_get(const struct fetch_cfg *cfg, const char *url, uint64_t offset, const char *if_range,
              const struct fetch_sink *sink, struct fetch_resp *resp, char *err, size_t errlen)
{
    char *cur = xstrdup(url), *prev = NULL;
    bool was_https = false;
    int rc;

    for (int hops = 0;; hops++) {
        char *next = NULL;

        memset(resp, 0, sizeof(*resp));
        resp->length = resp->total = -1;
        rc = url_policy(cfg, cur, prev, was_https, resp, err, errlen);
        if (rc < 0)
            break;
        if (hops > 5) {
            rc = omv_seterr(err, errlen, OMV_ENET,
                            "cannot download %s: Maximum (5) redirects followed", url);
            break;
        }
        rc = fetch_once(cfg, cur, offset, if_range, sink, resp, &next, err, errlen);
        if (rc < 0 || !next)
            break;
        was_https = was_https || !strncasecmp(cur, "https://", 8);
        free(prev);
        prev = cur;
        cur = next;
    }
    free(cur);
    free(prev);
    return rc;
}

struct small_ud {
    struct strbuf *body;
    size_t max;
    char *err;
    size_t errlen;
    const char *url;
};

static int small_data(void *ud, const void *buf, size_t len)
{
    struct small_ud *s = ud;

    if (s->body->len + len > s->max)
        return omv_seterr(s->err, s->errlen, OMV_EPARSE, "%s is larger than %zu bytes", s->url,
                          s->max);
    strbuf_add(s->body, buf, len);
    return 0;
}

int fetch_small(const struct fetch_cfg *cfg, const char *url, size_t max, struct strbuf *body,
                struct fetch_resp *resp, char *err, size_t errlen)
{
    struct small_ud s = {body, max, err, errlen, url};
    struct fetch_sink sink = {NULL, small_data, &s};

    strbuf_reset(body);
    return fetch_get(cfg, url, 0, NULL, &sink, resp, err, errlen);
}

void fetch_libversion(struct libversion *v)
{
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

    v->name = "libcurl";
    snprintf(v->built, sizeof(v->built), "%s", LIBCURL_VERSION);
    snprintf(v->running, sizeof(v->running), "%s", info && info->version ? info->version : "");
}
