/*
 * The virtual camera: software models of the USB devices omvdev talks to.
 *
 * A struct sim_dev is one USB device as the host sees it: its descriptors,
 * its string table, and a model (ST ROM DfuSe, OpenMV DFU bootloader, Arduino
 * DfuSe bootloader, a camera running firmware) that answers class and vendor
 * requests. The core (sim.c) answers the standard requests, keeps the virtual
 * clock, applies injected faults and records a transaction log. Nothing here
 * uses GLib: the umockdev bridge (omvdev-sim.c) and in-process unit tests
 * both drive devices through sim_dev_control() / sim_dev_bulk().
 *
 *     struct sim_dev *d = sim_dev_new_from_spec("openmv-bl:OPENMV4,serial=A1", err, n);
 *     struct sim_setup s = {0xA1, 3, 0, 0, 6};   (DFU GETSTATUS)
 *     uint8_t buf[6]; size_t len = sizeof(buf);
 *     int rc = sim_dev_control(d, &s, buf, &len);
 *     ...
 *     sim_dev_free(d);
 *
 * Ownership: a sim_dev owns its descriptors, strings, memory and log. A model
 * owns its private state through d->model, freed by ops->destroy.
 */
#ifndef OMVDEV_TESTS_SIM_SIM_H
#define OMVDEV_TESTS_SIM_SIM_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- USB and DFU constants ------------------------------------------------- */

struct sim_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
};

enum {
    SIM_DFU_DETACH = 0,
    SIM_DFU_DNLOAD = 1,
    SIM_DFU_UPLOAD = 2,
    SIM_DFU_GETSTATUS = 3,
    SIM_DFU_CLRSTATUS = 4,
    SIM_DFU_GETSTATE = 5,
    SIM_DFU_ABORT = 6,
};

enum sim_dfu_state {
    SIM_DFU_STATE_APP_IDLE = 0,
    SIM_DFU_STATE_APP_DETACH = 1,
    SIM_DFU_STATE_IDLE = 2,
    SIM_DFU_STATE_DNLOAD_SYNC = 3,
    SIM_DFU_STATE_DNBUSY = 4,
    SIM_DFU_STATE_DNLOAD_IDLE = 5,
    SIM_DFU_STATE_MANIFEST_SYNC = 6,
    SIM_DFU_STATE_MANIFEST = 7,
    SIM_DFU_STATE_MANIFEST_WAIT_RESET = 8,
    SIM_DFU_STATE_UPLOAD_IDLE = 9,
    SIM_DFU_STATE_ERROR = 10,
};

enum sim_dfu_status {
    SIM_DFU_STATUS_OK = 0x00,
    SIM_DFU_STATUS_ERR_TARGET = 0x01,
    SIM_DFU_STATUS_ERR_FILE = 0x02,
    SIM_DFU_STATUS_ERR_WRITE = 0x03,
    SIM_DFU_STATUS_ERR_ERASE = 0x04,
    SIM_DFU_STATUS_ERR_CHECK_ERASED = 0x05,
    SIM_DFU_STATUS_ERR_PROG = 0x06,
    SIM_DFU_STATUS_ERR_VERIFY = 0x07,
    SIM_DFU_STATUS_ERR_ADDRESS = 0x08,
    SIM_DFU_STATUS_ERR_NOTDONE = 0x09,
    SIM_DFU_STATUS_ERR_FIRMWARE = 0x0A,
    SIM_DFU_STATUS_ERR_VENDOR = 0x0B,
    SIM_DFU_STATUS_ERR_USBR = 0x0C,
    SIM_DFU_STATUS_ERR_POR = 0x0D,
    SIM_DFU_STATUS_ERR_UNKNOWN = 0x0E,
    SIM_DFU_STATUS_ERR_STALLEDPKT = 0x0F,
};

/* Results of a request. */
enum sim_result {
    SIM_OK = 0,
    SIM_STALL = -1, /* the device STALLs: libusb sees LIBUSB_ERROR_PIPE */
    SIM_GONE = -2,  /* the device is no longer on the bus: LIBUSB_ERROR_NO_DEVICE */
    SIM_IOERR = -3, /* a protocol error on the wire (-EPROTO, "error 71") */
};

/* ---- flash memory ------------------------------------------------------------- */

/*
 * A memory region with erase sectors, e.g. H743 internal flash: base
 * 0x08000000, 16 sectors of 128 KiB, programming unit 32 bytes. Erased bytes
 * read 0xFF. With `strict` set, programming a unit that is not fully erased
 * fails (STM32H7 ECC flash words); otherwise bits are ANDed like NOR flash.
 */
struct sim_region {
    char *name; /* "internal", "qspi", ...: the dump file is <name>.bin */
    uint32_t base;
    uint32_t size;
    uint32_t sector; /* erase granularity */
    uint32_t unit;   /* programming granularity (1 = bytes) */
    bool strict;
    bool readonly;
    uint8_t *data;
    uint64_t erases, programs; /* counters for tests and the log */
};

/* ---- timing -------------------------------------------------------------------- */

/*
 * Device time is virtual microseconds. A model charges the cost of work with
 * sim_busy(); work starts when the request that started it has been answered
 * (the answer itself is not held back by it). A request that arrives while
 * the device is busy is answered when the work is done, as a device whose USB
 * handler does the work NAKs until then (ST's USB device library). With
 * d->answer_while_busy set, the work runs in the background instead: requests
 * are answered meanwhile and the model asks sim_dev_working_us() (a ROM that
 * answers GETSTATUS with dfuDNBUSY while its flash controller works). The
 * bridge turns virtual time into real time with the time scale (0: no waiting
 * at all, every piece of work is over by the next request).
 */
struct sim_timing {
    uint32_t sector_erase_us;     /* one sector erase (typical) */
    uint32_t sector_erase_max_us; /* its datasheet maximum (fault=slow-erase:max) */
    uint32_t unit_program_us;     /* one programming unit */
    uint32_t mass_erase_us;
    uint32_t mass_erase_max_us;
    uint32_t ctrl_fixed_us;  /* per control transfer: setup + status stages */
    uint32_t ctrl_packet_us; /* per 64-byte data packet */
};

/* ---- faults ---------------------------------------------------------------------- */

enum sim_fault_kind {
    SIM_FAULT_NONE,
    SIM_FAULT_UNPLUG_AFTER_BYTES, /* disappear once `arg` bytes were downloaded */
    SIM_FAULT_UNPLUG_IN_STATE,    /* disappear when entering DFU state `arg` */
    SIM_FAULT_STALL_REQUEST,      /* STALL request bRequest == `arg` (once per `count`) */
    SIM_FAULT_WRONG_STATE,        /* GETSTATUS reports state `arg` once */
    SIM_FAULT_SLOW_ERASE,         /* erase takes `arg` times as long (0: the part's maximum) */
    SIM_FAULT_REFUSE_WRITE,       /* the `arg`-th data block fails with errWRITE */
    SIM_FAULT_LATE,               /* appear `arg` ms after start */
};

/*
 * sim_fault(d, kind, arg) fires when a fault of `kind` is armed and, for
 * UNPLUG_AFTER_BYTES when arg >= fault.arg, for STALL_REQUEST, REFUSE_WRITE
 * and UNPLUG_IN_STATE when arg == fault.arg, for the other kinds always. A
 * fault fires `count` times (0: every time). Models read fault.arg directly
 * for WRONG_STATE (the state to report) and SLOW_ERASE (the factor), through
 * sim_fault_find().
 */
struct sim_fault {
    enum sim_fault_kind kind;
    uint64_t arg;
    unsigned count;
    unsigned fired;
};

/* ---- the device -------------------------------------------------------------------- */

struct sim_dev;

struct sim_model_ops {
    const char *kind; /* "st-rom", "openmv-bl", "arduino", "camera" */
    /* Class or vendor control request. IN: write up to s->wLength bytes to data
     * and set *len; OUT: data holds *len == wLength bytes. */
    int (*control)(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len);
    /* Bulk/interrupt transfer on endpoint `ep` (bit 7 = IN), or NULL. */
    int (*bulk)(struct sim_dev *d, uint8_t ep, uint8_t *data, size_t *len);
    /* SET_INTERFACE happened. */
    void (*set_alt)(struct sim_dev *d, unsigned iface, unsigned alt);
    /* USB port reset. */
    void (*reset)(struct sim_dev *d);
    void (*destroy)(struct sim_dev *d);
};

/* What happens to the device after the current request. */
enum sim_transition {
    SIM_STAY,
    SIM_DISAPPEAR, /* leave the bus (after leave/manifest, or a fault) */
    SIM_BECOME,    /* leave the bus and come back as `next_spec` */
};

struct sim_dev {
    /* identity */
    uint16_t vid, pid, bcd_device;
    uint8_t dev_class, dev_subclass, dev_protocol; /* device descriptor; 0 for DFU */
    uint8_t max_packet0;
    bool has_dfu;           /* it has a DFU functional descriptor */
    uint8_t dfu_attributes; /* its bmAttributes */
    uint8_t serial_index;   /* string index of the serial number */
    char *serial;
    char *spec; /* the spec it was made from */
    /* descriptors: device descriptor followed by the configuration */
    struct strbuf descriptors;
    char **strings; /* index -> UTF-8 text; [0] unused */
    size_t nr_strings;
    unsigned cur_alt;
    /* memory */
    struct sim_region *regions;
    size_t nr_regions;
    /* model */
    const struct sim_model_ops *ops;
    void *model;
    /* time */
    struct sim_timing timing;
    uint64_t now_us; /* virtual clock, kept by the caller through sim_dev_advance() */
    uint64_t busy_until_us;
    uint64_t device_bound_us; /* sum of the work received: the lower bound of any host */
    bool answer_while_busy;   /* spec option busy=answer: work runs in the background */
    uint64_t work_until_us;   /* the end of the background work */
    uint64_t reply_us;        /* how long the answer to the current request takes */
    /* faults */
    struct sim_fault faults[8];
    size_t nr_faults;
    uint64_t bytes_downloaded;
    uint64_t blocks_downloaded;
    /* what next */
    enum sim_transition transition;
    char *next_spec;
    char *after_spec; /* spec option after=SPEC: what a leaving ROM comes back as, or NULL */
    bool gone;
    int state; /* the model's DFU state, kept current by the model (faults, log) */
    /* log: one JSON object per request, comma-separated */
    struct strbuf log;
    size_t nr_log;
    struct strbuf notes; /* sim_note()s of the request being handled */
};

/* ---- building devices ------------------------------------------------------------- */

/*
 * Make a device from a spec, e.g.
 *   openmv-bl:OPENMV4,serial=A1          (OPENMV2 3 4 4P PT N6 AE3)
 *   st-rom:H743,rev=V                     (H743 F427 F765)
 *   arduino:PORTENTA                      (PORTENTA GIGA NICLA)
 *   camera:OPENMV4
 *   usb:1FC9:0135                         (enumerates only; see sim_model_usb)
 * Options: serial=S, load=FILE@ADDR (repeatable with '+': load=a@0x08000000+b@0x08040000),
 * fault=KIND:ARG[:COUNT] (unplug-bytes, unplug-state, stall, wrong-state, slow-erase,
 * refuse-write, late; slow-erase:max is the part's datasheet maximum), rev=V|Y for
 * st-rom, busy=answer|nak (answer_while_busy), attrs=0xNN (the DFU functional
 * descriptor's bmAttributes). NULL with a message in err on a bad spec.
 */
struct sim_dev *sim_dev_new_from_spec(const char *spec, char *err, size_t errlen);
void sim_dev_free(struct sim_dev *d);

/* For models: start a device with identity and one configuration. */
struct sim_dev *sim_dev_new(uint16_t vid, uint16_t pid, uint16_t bcd_device,
                            const char *manufacturer, const char *product, const char *serial);
/* Add a string; returns its index. */
uint8_t sim_dev_add_string(struct sim_dev *d, const char *s);
/* Build the descriptors of a DFU-mode device: one interface (number 0), one
 * alt setting per name, class FE/01/02, and a DFU functional descriptor. */
void sim_dev_build_dfu(struct sim_dev *d, const char *const *alt_names, size_t nr_alts,
                       uint8_t attributes, uint16_t detach_timeout, uint16_t transfer_size,
                       uint16_t bcd_dfu);
/* Append raw bytes of the configuration (for the camera's CDC descriptors);
 * sim_dev_finish_config() then fixes wTotalLength. */
void sim_dev_config_begin(struct sim_dev *d, uint8_t nr_interfaces);
void sim_dev_config_add(struct sim_dev *d, const void *bytes, size_t len);
void sim_dev_config_finish(struct sim_dev *d);

struct sim_region *sim_dev_add_region(struct sim_dev *d, const char *name, uint32_t base,
                                      uint32_t size, uint32_t sector, uint32_t unit, bool strict);
struct sim_region *sim_dev_region_at(struct sim_dev *d, uint32_t addr);

/* ---- driving devices ---------------------------------------------------------------- */

/*
 * One control transfer. Standard requests (GET_DESCRIPTOR, SET_CONFIGURATION,
 * SET_INTERFACE, GET_STATUS, ...) are answered here, the rest by the model.
 * Returns SIM_OK with *len bytes (IN) or a negative sim_result. The caller
 * should first move the clock with sim_dev_advance().
 */
int sim_dev_control(struct sim_dev *d, const struct sim_setup *s, uint8_t *data, size_t *len);
int sim_dev_bulk(struct sim_dev *d, uint8_t ep, uint8_t *data, size_t *len);
void sim_dev_set_alt(struct sim_dev *d, unsigned iface, unsigned alt);
void sim_dev_reset(struct sim_dev *d);

/* Move the virtual clock to `now_us` (never backwards). */
void sim_dev_advance(struct sim_dev *d, uint64_t now_us);
/* Virtual µs until the device answers a request that arrives now (0 if idle). */
uint64_t sim_dev_wait_us(const struct sim_dev *d);
/* Virtual µs of background work still to run (answer_while_busy). */
uint64_t sim_dev_working_us(const struct sim_dev *d);
/* Move the clock past all work: a device infinitely fast (the bridge at time scale 0). */
void sim_dev_settle(struct sim_dev *d);

/* ---- for models ---------------------------------------------------------------------- */

/* Charge `us` of device work starting now (or when the current work ends). */
void sim_busy(struct sim_dev *d, uint64_t us);
/* The answer to the current request waits for the background work to end
 * (a CPU read of a flash bank that is being erased stalls until it is done). */
void sim_hold(struct sim_dev *d);
/* Record a fact in the current log entry, e.g. sim_note(d, "erase 0x08100000"). */
void sim_note(struct sim_dev *d, const char *fmt, ...) OMV_PRINTF(2, 3);
/* Does a fault of this kind fire now? (Consumes one of its count.) */
bool sim_fault(struct sim_dev *d, enum sim_fault_kind kind, uint64_t arg);
/* The armed fault of this kind, or NULL (does not consume it). */
const struct sim_fault *sim_fault_find(const struct sim_dev *d, enum sim_fault_kind kind);
/* Leave the bus after this request (next_spec NULL), or become another
 * device. next_spec is stored as given; the bridge re-creates the device with
 * the old serial number appended unless next_spec names one. */
void sim_leave(struct sim_dev *d, const char *next_spec);

/* Memory operations; return a DFU status (SIM_DFU_STATUS_OK on success). */
int sim_region_erase_sector(struct sim_dev *d, struct sim_region *r, uint32_t addr);
int sim_region_erase_all(struct sim_dev *d, struct sim_region *r);
int sim_region_program(struct sim_dev *d, struct sim_region *r, uint32_t addr, const uint8_t *p,
                       size_t n);
/* Copy n bytes at addr (0xFF beyond the region). */
void sim_region_read(const struct sim_region *r, uint32_t addr, uint8_t *out, size_t n);

/* ---- results ---------------------------------------------------------------------------- */

/* Write <dir>/<serial>/<region>.bin for every region and <dir>/<serial>/<log_name>. */
int sim_dev_dump(const struct sim_dev *d, const char *dir, const char *log_name, char *err,
                 size_t errlen);

/* The model constructors (tests/sim/model_*.c). */
struct sim_dev *sim_model_st_rom(const char *variant, bool rev_v, char *err, size_t errlen);
struct sim_dev *sim_model_openmv_bl(const char *target, char *err, size_t errlen);
struct sim_dev *sim_model_arduino(const char *board, char *err, size_t errlen);
struct sim_dev *sim_model_camera(const char *target, char *err, size_t errlen);
/* "usb:1FC9:0135": a device that only enumerates (one vendor interface, no
 * endpoints), for the devices omvdev waits for but never talks to itself (NXP
 * SDP ROM and flashloader, the AE3's serial ISP adapter). */
struct sim_dev *sim_model_usb(const char *vidpid, char *err, size_t errlen);

#endif
