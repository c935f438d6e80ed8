/*
 * The emulated OpenMV boards (MPS2_AN500, MPS3_AN547) and the qemu-system-arm
 * command line that runs their firmware, as the firmware's own `make run`
 * builds it (ports/qemu/port_config.mk):
 *
 *     qemu-system-arm -machine MACHINE -nographic -monitor null -semihosting
 *         [-device loader,file=romfs0.img,addr=ROMFS_PART0_ORIGIN,force-raw=on]
 *         -serial pty -kernel firmware.elf
 *
 * plus `-S -gdb tcp:127.0.0.1:PORT` to start halted with a GDB server.
 *
 *     const struct qemu_board *b = ctx_qemu_board(ctx, "MPS2_AN500");
 *     struct qemu_run r = {.firmware = "build/bin/firmware.elf", .gdb_port = 3333};
 *     struct runner_argv a = RUNNER_ARGV_INIT;
 *     qemu_argv(&a, b, &r, err, sizeof(err));
 *
 * Nothing here runs anything, prints or exits.
 *
 * Ownership: a board's strings are its data file's; the argv owns its strings
 * (runner_argv_release()).
 */
#ifndef OMVDEV_FLASH_QEMU_H
#define OMVDEV_FLASH_QEMU_H

#include "lib/compat.h"
#include "flash/runners.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_PROGRAM        "qemu-system-arm"
#define QEMU_DEBIAN_PACKAGE "qemu-system-arm"
#define QEMU_ROMFS_PARTS    2

/* An emulated board, as its data file in the board database describes it
 * (cmd/'s ctx_qemu_board() builds these from targets/boards/<TARGET>.ini). */
struct qemu_board {
    const char *target;  /* the firmware's TARGET: "MPS2_AN500" */
    const char *machine; /* QEMU's -machine: "mps2-an500" */
    char cpu[24];        /* the core the machine emulates, QEMU's spelling: "cortex-m7" */
    /* OMV_ROMFS_PARTn_ORIGIN of the board config; 0 when the board has no such part. */
    uint32_t romfs_origin[QEMU_ROMFS_PARTS];
    /* false when the firmware's `make run` uses another emulator (Arm's FVP) for the
     * board and omvdev runs QEMU's model of the same machine instead. */
    bool make_run_uses_qemu;
};

struct qemu_run {
    const char *program;  /* NULL: "qemu-system-arm" looked up on PATH */
    const char *firmware; /* the ELF given to -kernel */
    /* romfsN.img per part; NULL leaves the part out (a board without images built). */
    const char *romfs[QEMU_ROMFS_PARTS];
    /* NULL: "pty" as `make run` (QEMU prints the pty it opened); "stdio" for this
     * terminal; any other QEMU -serial value. */
    const char *serial;
    unsigned gdb_port; /* 0: run; else -S and a GDB server on 127.0.0.1:PORT */
};

/*
 * Append the command line to `a` (which should be empty). OMV_EINVAL when the
 * firmware is missing from `r`, when a romfs image is given for a part the board
 * does not have, or when a path contains a ',' (QEMU's option syntax cannot carry
 * it in -device loader,file=).
 */
int qemu_argv(struct runner_argv *a, const struct qemu_board *b, const struct qemu_run *r,
              char *err, size_t errlen);

/*
 * The pseudo-terminal QEMU opened for `-serial pty`, from the line it prints on
 * stderr: "char device redirected to /dev/pts/5 (label serial0)". true and the
 * path in `out` for that line, false for any other line.
 */
bool qemu_parse_pty_line(const char *line, size_t len, struct strbuf *out);

#endif
