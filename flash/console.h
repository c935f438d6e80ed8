/*
 * The console of a running firmware: a camera's USB CDC serial port (through
 * libusb, flash/usb.c) or a serial device node (a tty: QEMU's pty, a USB-UART
 * adapter), and MicroPython's raw REPL spoken over either.
 *
 *     struct console *c;
 *     console_open_usb(u, 0x37C5, 0x1204, "3F0123", CONSOLE_BAUD, &c, err, sizeof(err));
 *     console_read(c, buf, sizeof(buf), &got, 50, err, sizeof(err));
 *     console_write(c, "\x03", 1, err, sizeof(err));
 *     console_close(c);
 *
 * A camera is opened at CONSOLE_BAUD with DTR set: at 921600 baud the OpenMV
 * firmware routes the port to its IDE protocol instead of the REPL.
 *
 * Ownership: console_open_*() hand out a console the caller closes; the
 * raw REPL result owns its strbuf (console_result_release()).
 */
#ifndef OMVDEV_FLASH_CONSOLE_H
#define OMVDEV_FLASH_CONSOLE_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_BAUD 115200u
/* Bytes per write of a script into the raw REPL: what mpremote sends at a time. */
#define CONSOLE_CHUNK 256u
/* A full-speed bulk packet: what a camera takes or NAKs as a whole. */
#define CONSOLE_PACKET 64u
/* How long a write waits for a camera that takes nothing (its buffer full). */
#define CONSOLE_WRITE_PATIENCE_MS 10000

struct usb_ctx;
struct console;

int console_open_usb(struct usb_ctx *u, uint16_t vid, uint16_t pid, const char *serial,
                     uint32_t baud, struct console **out, char *err, size_t errlen);
/* A tty in raw mode at `baud` (0: leave the speed). */
int console_open_tty(const char *path, uint32_t baud, struct console **out, char *err,
                     size_t errlen);
/* A console on a file descriptor the caller hands over (a pty master), named `name`. */
void console_open_fd(int fd, const char *name, struct console **out);
/*
 * A pseudo-terminal for an emulator's serial port: the master becomes a console,
 * the slave's path goes to the emulator (QEMU: -serial /dev/pts/N) and the slave
 * stays open in *slave_fd (so no byte the firmware prints before the emulator is
 * watched is lost, and the master never sees a premature end). Both raw.
 */
int console_open_pty(struct console **out, struct strbuf *slave_path, int *slave_fd, char *err,
                     size_t errlen);
void console_close(struct console *c);

/* What arrives within timeout_ms (*got 0 when nothing did). OMV_EDEVICE when the
 * device went away (USB unplug or reset, the tty's other end closed). */
int console_read(struct console *c, uint8_t *buf, size_t cap, size_t *got, int timeout_ms,
                 char *err, size_t errlen);
int console_write(struct console *c, const void *data, size_t len, char *err, size_t errlen);
/* The file descriptor to poll() for input, or -1 when reads must be polled (USB). */
int console_fd(const struct console *c);

/*
 * Interrupt whatever runs (Ctrl-C twice) and enter the raw REPL (Ctrl-A),
 * waiting up to timeout_ms for its "raw REPL; CTRL-B to exit\r\n>".
 * OMV_ETIMEOUT when it does not come.
 */
int console_raw_enter(struct console *c, int timeout_ms, char *err, size_t errlen);
/* Back to the friendly REPL (Ctrl-B). */
int console_raw_leave(struct console *c, char *err, size_t errlen);

struct console_result {
    bool raised;         /* the script ended with an exception */
    bool interrupted;    /* we sent Ctrl-C (timeout or *stop) */
    struct strbuf error; /* the traceback, as the camera sent it */
    size_t sent_bytes;   /* of the script */
    unsigned nr_chunks;  /* writes it took */
};

void console_result_release(struct console_result *r);

struct console_exec {
    const char *script;
    size_t len;
    size_t chunk; /* 0: CONSOLE_CHUNK */
    /* The script's output as it arrives. */
    void (*on_output)(void *ud, const uint8_t *data, size_t len);
    void *ud;
    int timeout_ms; /* for the whole run; negative: none. Ctrl-C when it passes */
    /* Set asynchronously (a signal handler): interrupt the script with Ctrl-C. */
    volatile sig_atomic_t *stop;
    bool no_follow; /* return once the camera accepted the script ("OK") */
};

/*
 * Run a script in the raw REPL (entered already): send it in chunks, Ctrl-D,
 * expect "OK", then stream the output until 0x04, collect the error text until
 * 0x04 and the ">" prompt. 0 when the camera ran it (r->raised tells whether it
 * raised); OMV_ETIMEOUT when the camera stops answering or the run timed out
 * (r->interrupted); OMV_EDEVICE when it left the bus; OMV_EINTR when *stop
 * interrupted it; OMV_EPARSE when its reply is not the raw REPL's.
 */
int console_raw_exec(struct console *c, const struct console_exec *x, struct console_result *r,
                     char *err, size_t errlen);

#endif
