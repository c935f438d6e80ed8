/*
 * Error codes and the allocation helpers every module uses.
 *
 * Functions below cmd/ return 0 or a negative enum omv_err and describe the
 * failure in a caller-supplied buffer (char *err, size_t errlen) through
 * omv_seterr(); they never print and never exit. The single exception is
 * running out of memory: the x*() allocators print one line and abort, as
 * git's and signify's do, because no caller can do better.
 */
#ifndef OMVDEV_LIB_ERROR_H
#define OMVDEV_LIB_ERROR_H

#include "lib/compat.h"

#include <stddef.h>

enum omv_err {
    OMV_OK = 0,
    OMV_EIO = -1,       /* a system call failed; errno text is in the buffer */
    OMV_ENOENT = -2,    /* a file, key, board or directory does not exist */
    OMV_EPARSE = -3,    /* malformed input: the buffer says file:line */
    OMV_EINVAL = -4,    /* a value is out of range or of the wrong kind */
    OMV_ENOTREPO = -5,  /* not inside an openmv firmware repository */
    OMV_EDEVICE = -6,   /* a device is absent, refused a request or failed (USB, DFU) */
    OMV_EPERM = -7,     /* permission denied (a file, a USB device, a container engine) */
    OMV_ENOSPC = -8,    /* no space left on a file system; the buffer names the directory */
    OMV_ENET = -9,      /* a network transfer failed; retrying may help */
    OMV_ETIMEOUT = -10, /* a device or program did not answer in time */
    OMV_EINTR = -11,    /* interrupted by a signal (Ctrl-C, SIGTERM) */
    OMV_EUSAGE = -12,   /* the request itself is wrong (bad option value, unknown board) */
    OMV_ETOOBIG = -13,  /* input over a size bound (a file, a header, a line) */
};

/* The class an error code belongs to, for choosing an exit status or a hint
 * without reading the message text. */
enum omv_err_class {
    OMV_CLASS_OK,      /* OMV_OK */
    OMV_CLASS_USAGE,   /* the request is wrong: fix the command line or config */
    OMV_CLASS_FAILURE, /* the command ran and failed */
    OMV_CLASS_DEVICE,  /* a device was absent or failed */
};
enum omv_err_class omv_err_class(int err);

/* Text for every code; "unknown error" for anything else. */
const char *omv_strerror(int err);

/* Format into err (when err is not NULL) and return `code`, so callers can
 * write `return omv_seterr(err, errlen, OMV_EIO, "cannot open '%s'", p);`. */
int omv_seterr(char *err, size_t errlen, int code, const char *fmt, ...) OMV_PRINTF(4, 5);

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Grow *p (holding *alloc elements of `size`) to fit at least `need`. */
void xgrow(void **p, size_t *alloc, size_t need, size_t size);
#define XGROW(ptr, alloc, need) xgrow((void **)&(ptr), &(alloc), (need), sizeof(*(ptr)))

#endif
