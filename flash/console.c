#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 600 /* posix_openpt, grantpt, unlockpt, ptsname */
#endif
#include "lib/compat.h"
#include "flash/console.h"

#include "flash/usb.h"
#include "lib/error.h"
#include "lib/term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct console {
    struct usb_cdc *usb; /* one of usb and fd */
    int fd;
    char name[64];
};

int console_open_usb(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial,
                     uint32_t baud, struct console **out, char *err, size_t errlen)
{
    struct console *c = xcalloc(1, sizeof(*c));
    int rc = usb_cdc_open(u, vid, pid, serial, baud, &c->usb, err, errlen);

    if (rc < 0) {
        free(c);
        return rc == USB_ERR_NODEV ? OMV_EDEVICE : rc;
    }
    c->fd = -1;
    snprintf(c->name, sizeof(c->name), "%04X:%04X", vid, pid);
    *out = c;
    return 0;
}

static speed_t tty_speed(uint32_t baud)
{
    static const struct {
        uint32_t baud;
        speed_t speed;
    } speeds[] = {{9600, B9600},     {19200, B19200},   {38400, B38400},   {57600, B57600},
                  {115200, B115200}, {230400, B230400}, {460800, B460800}, {921600, B921600}};

    for (size_t i = 0; i < ARRAY_SIZE(speeds); i++)
        if (speeds[i].baud == baud)
            return speeds[i].speed;
    return B0;
}

int console_open_tty(const char *path, uint32_t baud, struct console **out, char *err,
                     size_t errlen)
{
    struct termios t;
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    struct console *c;

    if (fd < 0)
        return omv_seterr(err, errlen,
                          errno == ENOENT   ? OMV_ENOENT
                          : errno == EACCES ? OMV_EPERM
                                            : OMV_EIO,
                          "cannot open '%s': %s", path, strerror(errno));
    if (tcgetattr(fd, &t) < 0) {
        int e = errno;

        close(fd);
        return omv_seterr(err, errlen, OMV_EINVAL, "'%s' is not a serial port: %s", path,
                          strerror(e));
    }
    term_make_raw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    if (baud && tty_speed(baud) == B0) {
        close(fd);
        return omv_seterr(err, errlen, OMV_EUSAGE, "unsupported baud rate %u", (unsigned)baud);
    }
    if (baud) {
        cfsetispeed(&t, tty_speed(baud));
        cfsetospeed(&t, tty_speed(baud));
    }
    tcsetattr(fd, TCSANOW, &t);
    c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    snprintf(c->name, sizeof(c->name), "%s", path);
    *out = c;
    return 0;
}

void console_open_fd(int fd, const char *name, struct console **out)
{
    struct console *c = xcalloc(1, sizeof(*c));

    c->fd = fd;
    snprintf(c->name, sizeof(c->name), "%s", name);
    *out = c;
}

int console_open_pty(struct console **out, struct strbuf *slave_path, int *slave_fd, char *err,
                     size_t errlen)
{
    struct termios t;
    int m = posix_openpt(O_RDWR | O_NOCTTY), sl = -1;
    const char *name = NULL;

    if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0)
        name = ptsname(m);
    if (name)
        sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0) {
        int e = errno;

        if (m >= 0)
            close(m);
        return omv_seterr(err, errlen, OMV_EIO, "cannot make a pseudo-terminal: %s", strerror(e));
    }
    fcntl(m, F_SETFD, FD_CLOEXEC);
    fcntl(m, F_SETFL, O_NONBLOCK);
    if (tcgetattr(sl, &t) == 0) {
        term_make_raw(&t);
        tcsetattr(sl, TCSANOW, &t);
    }
    strbuf_reset(slave_path);
    strbuf_addstr(slave_path, name);
    *slave_fd = sl;
    console_open_fd(m, name, out);
    return 0;
}

void console_close(struct console *c)
{
    if (!c)
        return;
    usb_cdc_close(c->usb);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

int console_fd(const struct console *c)
{
    return c->fd;
}

int console_read(struct console *c, uint8_t *buf, size_t cap, size_t *got, int timeout_ms,
                 char *err, size_t errlen)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    ssize_t n;

    *got = 0;
    if (c->usb) {
        int rc = usb_cdc_read(c->usb, buf, cap, got, timeout_ms, err, errlen);

        return rc == USB_ERR_NODEV || rc == USB_ERR_IO ? OMV_EDEVICE : rc;
    }
    if (poll(&p, 1, timeout_ms) < 0)
        return errno == EINTR ? 0 : omv_seterr(err, errlen, OMV_EIO, "poll: %s", strerror(errno));
    if (!p.revents)
        return 0;
    n = read(c->fd, buf, cap);
    if (n > 0) {
        *got = (size_t)n;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    /* EOF or EIO: the other end of the pty closed, the adapter was unplugged */
    return omv_seterr(err, errlen, OMV_EDEVICE, "%s closed", c->name);
}

static long now_ms(void);

/*
 * One full-speed bulk packet (64 bytes) per transfer: a device whose buffer is
 * full NAKs a packet whole, so a transfer that timed out took nothing and is sent
 * again, until CONSOLE_WRITE_PATIENCE_MS have passed without progress.
 */
static int usb_write_packets(struct console *c, const uint8_t *p, size_t len, char *err,
                             size_t errlen)
{
    long since = now_ms();

    while (len) {
        size_t n = len < CONSOLE_PACKET ? len : CONSOLE_PACKET;
        int rc = usb_cdc_write(c->usb, p, n, err, errlen);

        if (rc == USB_ERR_TIMEOUT && now_ms() - since < CONSOLE_WRITE_PATIENCE_MS)
            continue;
        if (rc < 0)
            return rc == USB_ERR_NODEV || rc == USB_ERR_IO ? OMV_EDEVICE
                   : rc == USB_ERR_TIMEOUT                 ? OMV_ETIMEOUT
                                                           : rc;
        p += n;
        len -= n;
        since = now_ms();
    }
    return 0;
}

int console_write(struct console *c, const void *data, size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data;

    if (c->usb)
        return usb_write_packets(c, p, len, err, errlen);
    while (len) {
        struct pollfd pf = {c->fd, POLLOUT, 0};
        ssize_t n = write(c->fd, p, len);

        if (n < 0 && errno == EAGAIN) {
            if (poll(&pf, 1, 2000) == 0)
                return omv_seterr(err, errlen, OMV_ETIMEOUT,
                                  "cannot write to %s: it takes "
                                  "nothing",
                                  c->name);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return omv_seterr(err, errlen, OMV_EDEVICE, "cannot write to %s: %s", c->name,
                              strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- the raw REPL ------------------------------------------------------------------ */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The end of the first `want` in sb, or 0 when it is not there. */
static size_t find_end(const struct strbuf *sb, const char *want)
{
    size_t wl = strlen(want);

    for (size_t i = 0; i + wl <= sb->len; i++)
        if (!memcmp(sb->buf + i, want, wl))
            return i + wl;
    return 0;
}

/* Read until `want` arrived (everything read is kept in `seen`), or timeout_ms passes. */
static int read_until(struct console *c, const char *want, struct strbuf *seen, int timeout_ms,
                      char *err, size_t errlen)
{
    long end = now_ms() + timeout_ms;

    while (!find_end(seen, want)) {
        uint8_t buf[512];
        size_t got;
        long left = end - now_ms();
        int rc;

        if (left <= 0)
            return OMV_ETIMEOUT;
        rc = console_read(c, buf, sizeof(buf), &got, left < 50 ? (int)left : 50, err, errlen);
        if (rc < 0)
            return rc;
        strbuf_add(seen, buf, got);
    }
    return 0;
}

int console_raw_enter(struct console *c, int timeout_ms, char *err, size_t errlen)
{
    struct strbuf seen = STRBUF_INIT;
    int rc = console_write(c, "\r\x03\x03", 3, err, errlen);

    if (rc < 0)
        goto out;
    /* Drop what the interrupt printed before asking for the raw REPL. */
    rc = read_until(c, "\x01\x02\x03\x04", &seen, 100, err, errlen);
    if (rc < 0 && rc != OMV_ETIMEOUT)
        goto out;
    strbuf_reset(&seen);
    rc = console_write(c, "\x01", 1, err, errlen);
    if (rc >= 0)
        rc = read_until(c, "raw REPL; CTRL-B to exit\r\n>", &seen, timeout_ms, err, errlen);
    if (rc == OMV_ETIMEOUT)
        omv_seterr(err, errlen, OMV_ETIMEOUT,
                   "%s did not enter MicroPython's raw REPL within %d ms", c->name, timeout_ms);
out:
    strbuf_release(&seen);
    return rc;
}

int console_raw_leave(struct console *c, char *err, size_t errlen)
{
    return console_write(c, "\r\x02", 2, err, errlen);
}

void console_result_release(struct console_result *r)
{
    strbuf_release(&r->error);
}

static int send_script(struct console *c, const struct console_exec *x, struct console_result *r,
                       char *err, size_t errlen)
{
    size_t chunk = x->chunk ? x->chunk : CONSOLE_CHUNK;

    for (size_t off = 0; off < x->len; off += chunk) {
        size_t n = x->len - off < chunk ? x->len - off : chunk;
        int rc = console_write(c, x->script + off, n, err, errlen);

        if (rc < 0)
            return rc;
        r->sent_bytes += n;
        r->nr_chunks++;
        if (x->stop && *x->stop)
            return OMV_EINTR;
    }
    return console_write(c, "\x04", 1, err, errlen);
}

/* Stream output until the first 0x04, then the error text until the second. */
static int collect(struct console *c, const struct console_exec *x, struct console_result *r,
                   const struct strbuf *early, char *err, size_t errlen)
{
    long start = now_ms(), quiet_since = now_ms();
    int ends = 0;
    bool sent_stop = false;

    while (ends < 2) {
        uint8_t buf[512];
        size_t got = 0, i = 0;
        int rc = 0;

        if (early && early->len) {
            /* less than one read's worth: read_until() stops at the read that had "OK" */
            got = early->len < sizeof(buf) ? early->len : sizeof(buf);
            memcpy(buf, early->buf, got);
            early = NULL;
        } else {
            rc = console_read(c, buf, sizeof(buf), &got, 50, err, errlen);
        }
        if (rc < 0)
            return rc;
        if ((x->stop && *x->stop) || (x->timeout_ms >= 0 && now_ms() - start > x->timeout_ms)) {
            if (!sent_stop && console_write(c, "\x03", 1, err, errlen) < 0)
                return OMV_EDEVICE;
            if (!sent_stop)
                quiet_since = now_ms();
            sent_stop = r->interrupted = true;
        }
        if (got)
            quiet_since = now_ms();
        else if (sent_stop && now_ms() - quiet_since > 2000)
            return omv_seterr(err, errlen, OMV_ETIMEOUT,
                              "%s does not answer: Ctrl-C did not stop the script", c->name);
        for (; i < got && ends < 2; i++) {
            size_t j = i;

            while (j < got && buf[j] != 0x04)
                j++;
            if (ends == 0 && j > i && x->on_output)
                x->on_output(x->ud, buf + i, j - i);
            else if (ends == 1)
                strbuf_add(&r->error, buf + i, j - i);
            i = j;
            if (j < got)
                ends++;
        }
    }
    r->raised = r->error.len > 0;
    return 0;
}

int console_raw_exec(struct console *c, const struct console_exec *x, struct console_result *r,
                     char *err, size_t errlen)
{
    struct strbuf seen = STRBUF_INIT;
    int rc = send_script(c, x, r, err, errlen);
    size_t ok;

    if (rc < 0)
        goto out;
    rc = read_until(c, "OK", &seen, 5000, err, errlen);
    if (rc == OMV_ETIMEOUT) {
        rc = omv_seterr(err, errlen, seen.len ? OMV_EPARSE : OMV_ETIMEOUT,
                        "%s did not accept the script%s", c->name,
                        seen.len ? ": its raw REPL answered something else" : " (no answer)");
        goto out;
    }
    if (rc < 0 || x->no_follow)
        goto out;
    /* What came with the "OK" is the start of the output. */
    ok = find_end(&seen, "OK");
    memmove(seen.buf, seen.buf + ok, seen.len - ok);
    strbuf_setlen(&seen, seen.len - ok);
    rc = collect(c, x, r, &seen, err, errlen);
    if (rc == 0 && x->stop && *x->stop)
        rc = omv_seterr(err, errlen, OMV_EINTR, "interrupted");
    else if (rc == 0 && r->interrupted)
        rc = omv_seterr(err, errlen, OMV_ETIMEOUT, "the script ran longer than %d s",
                        x->timeout_ms / 1000);
out:
    if (rc == OMV_EDEVICE)
        omv_seterr(err, errlen, OMV_EDEVICE, "%s left while the script ran", c->name);
    strbuf_release(&seen);
    return rc;
}
