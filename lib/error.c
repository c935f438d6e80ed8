#include "lib/compat.h"
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *omv_strerror(int err)
{
    switch (err) {
    case OMV_OK:
        return "success";
    case OMV_EIO:
        return "input/output error";
    case OMV_ENOENT:
        return "not found";
    case OMV_EPARSE:
        return "malformed input";
    case OMV_EINVAL:
        return "invalid value";
    case OMV_ENOTREPO:
        return "not inside an openmv firmware repository";
    case OMV_EDEVICE:
        return "device error";
    case OMV_EPERM:
        return "permission denied";
    case OMV_ENOSPC:
        return "no space left on device";
    case OMV_ENET:
        return "network error";
    case OMV_ETIMEOUT:
        return "timed out";
    case OMV_EINTR:
        return "interrupted";
    case OMV_EUSAGE:
        return "invalid request";
    case OMV_ETOOBIG:
        return "input too large";
    }
    return "unknown error";
}

enum omv_err_class omv_err_class(int err)
{
    switch (err) {
    case OMV_OK:
        return OMV_CLASS_OK;
    case OMV_EINVAL:
    case OMV_EUSAGE:
    case OMV_ENOTREPO:
        return OMV_CLASS_USAGE;
    case OMV_EDEVICE:
    case OMV_ETIMEOUT:
        return OMV_CLASS_DEVICE;
    }
    return OMV_CLASS_FAILURE;
}

int omv_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static OMV_NORETURN void die_oom(size_t n)
{
    fprintf(stderr, "omvdev: fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        die_oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        die_oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        die_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void xgrow(void **p, size_t *alloc, size_t need, size_t size)
{
    size_t n = *alloc;

    if (need <= n)
        return;
    n = n ? n : 8;
    while (n < need)
        n = n / 2 * 3 + 8;
    if (n > (size_t)-1 / size)
        die_oom((size_t)-1);
    *p = xrealloc(*p, n * size);
    *alloc = n;
}
