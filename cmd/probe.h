/*
 * Debug probes for `debug`, `vscode` and `flash --swd`: which probes serve a
 * board (the board database's "probes", the first its default; QEMU for the
 * emulated boards), and which program drives each - SEGGER's tools for a
 * J-Link, OpenOCD for an ST-Link or a CMSIS-DAP probe (or ST's own tools for
 * an ST-Link with --server st), qemu-system-arm for an emulated board.
 *
 *     struct probe_pick pk;
 *     rc = probe_pick(ctx, t, qb, "stlink", NULL, PROBE_FOR_DEBUG, &pk);
 *     ... pk.probe, pk.st, pk.openocd_interface, pk.openocd_target ...
 *
 * Ownership: a probe_pick points into the board database and static tables.
 */
#ifndef OMVDEV_CMD_PROBE_H
#define OMVDEV_CMD_PROBE_H

#include "lib/compat.h"
#include "cmd/cmd.h"
#include "flash/qemu.h"

#include <stdbool.h>

enum probe {
    PROBE_JLINK,
    PROBE_STLINK,
    PROBE_CMSIS_DAP,
    PROBE_QEMU,
};

/* The --probe choices ("jlink", "stlink", "cmsis-dap", "qemu") and --server's ("openocd", "st"). */
extern const char *const probe_choices[];
extern const char *const probe_server_choices[];

/* What the probe is for: the defaults differ (flash --swd with an ST-Link uses ST's
 * STM32_Programmer_CLI as upstream's make deploy; debug and vscode use OpenOCD). */
enum probe_use {
    PROBE_FOR_DEBUG,
    PROBE_FOR_FLASH,
};

struct probe_pick {
    enum probe probe;
    bool st;                       /* ST-Link through ST's own tools, not OpenOCD */
    const char *openocd_interface; /* "interface/stlink.cfg"; NULL unless OpenOCD */
    const char *openocd_target;    /* "target/stm32h7x.cfg"; NULL unless OpenOCD */
    const struct qemu_board *qemu; /* PROBE_QEMU: the emulated board */
};

/* "jlink" -> "a J-Link", for messages. */
const char *probe_label(enum probe p);
const char *probe_name(enum probe p);

/*
 * The board `name` of the database in *t, and in *qb its emulation when QEMU
 * emulates it (else NULL). Prints the unknown-board error and returns
 * OMV_EXIT_USAGE; OMV_EXIT_OK otherwise.
 */
int probe_board(struct omv_ctx *ctx, const char *name, const struct target **t,
                const struct qemu_board **qb);

/*
 * Choose the probe for a board (t, and qb when QEMU emulates it, as probe_board()
 * found them):
 * `name` (NULL: the config's debug.probe as the caller read it, else the
 * board's default), `server` NULL, "openocd" or "st". Prints why a probe
 * cannot serve the board, with a hint, and returns OMV_EXIT_USAGE then.
 */
int probe_pick(struct omv_ctx *ctx, const struct target *t, const struct qemu_board *qb,
               const char *name, const char *server, enum probe_use use, struct probe_pick *out);

/* probe_pick() without a word: true when the probe serves the board. */
bool probe_serves(const struct target *t, const struct qemu_board *qb, const char *name,
                  const char *server, enum probe_use use, struct probe_pick *out);

/*
 * Find program `name` (in <sdk>/<subdir> when both are set, then on PATH) into
 * out. When it is missing: in a dry run its bare name goes into out; otherwise
 * the error is printed with `install` as the hint ("apt-get install openocd")
 * and -1 returned.
 */
int probe_tool(struct omv_ctx *ctx, const char *name, const char *sdk, const char *subdir,
               const char *install, bool dry, struct strbuf *out);

/*
 * The gdb to run: `program` when set (looked up on PATH), else the SDK's
 * arm-none-eabi-gdb, else Debian's gdb-multiarch; the same rules as
 * probe_tool() when none is found.
 */
int probe_gdb(struct omv_ctx *ctx, const char *program, const char *sdk, bool dry,
              struct strbuf *out);

/* The probes that serve a board, "jlink stlink cmsis-dap", into sb. */
void probe_list(const struct target *t, const struct qemu_board *qb, struct strbuf *sb);

#endif
