/*
 * Runners: the external programs that flash, recover and debug boards
 * (STM32_Programmer_CLI, JLinkExe, JLinkGDBServer, OpenOCD, ST-LINK_gdbserver,
 * arm-none-eabi-gdb, NXP
 * SPSDK's sdphost/blhost, Alif's SE tools, bossac, picotool), as argument
 * vectors built by pure functions, and where to find each program.
 *
 *     struct runner_argv a = RUNNER_ARGV_INIT;
 *     runner_stlink_flash(&a, "/sdk/stcubeprog/bin/STM32_Programmer_CLI", NULL, imgs, n);
 *     ... proc_spawn() with a.v ...
 *     runner_argv_release(&a);
 *
 * Nothing here runs anything, prints or exits.
 *
 * Ownership: a runner_argv owns its strings; builders copy what they are
 * given. runner_find() writes into a caller-owned strbuf.
 */
#ifndef OMVDEV_FLASH_RUNNERS_H
#define OMVDEV_FLASH_RUNNERS_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NULL-terminated argument vector. */
struct runner_argv {
    char **v;
    size_t n, alloc;
};

#define RUNNER_ARGV_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void runner_argv_add(struct runner_argv *a, const char *s);
void runner_argv_addf(struct runner_argv *a, const char *fmt, ...) OMV_PRINTF(2, 3);
void runner_argv_release(struct runner_argv *a);
/* The vector as a shell would need it typed: words quoted only when needed. */
void runner_argv_render(const struct runner_argv *a, struct strbuf *out);

/*
 * Where the program `name` is: <sdk_dir>/<sdk_subdir>/<name> when sdk_dir is
 * set and that is an executable file, then <extra_dir>/<name> (a configured
 * directory, may be NULL), then the directories of `path` (NULL: $PATH).
 * OMV_ENOENT with "'name' is not in the SDK (<dir>) nor on PATH" when none
 * ("... not on PATH (and no SDK was found)" for sdk_dir "", "... not on PATH"
 * for NULL: a tool the SDK never ships).
 */
int runner_find(const char *name, const char *sdk_dir, const char *sdk_subdir,
                const char *extra_dir, const char *path, struct strbuf *out, char *err,
                size_t errlen);

/* One image and where it goes. */
struct runner_image {
    const char *path;
    uint32_t address;
};

/* STM32_Programmer_CLI -c port=SWD mode=HOTPLUG ap=1 [-el LOADER] -w F ADDR ... -hardRst
 * (upstream's `make deploy`). */
void runner_stlink_flash(struct runner_argv *a, const char *prog, const char *loader,
                         const struct runner_image *imgs, size_t n);

/* STM32_Programmer_CLI -c port=USB1 -d LAYOUT.tsv (N6 recovery, seed §10.8.2). */
void runner_cubeprog_layout(struct runner_argv *a, const char *prog, const char *tsv);

/*
 * J-Link Commander: `JLinkExe -nogui 1 -ExitOnError 1 -CommanderScript SCRIPT`
 * and the script's text: device, SWD, speed, connect, reset and halt, one
 * loadbin per image, then r, g, q. OMV_EINVAL when a path cannot be written
 * into a script (a newline or a double quote in it).
 */
int runner_jlink_flash(struct runner_argv *a, struct strbuf *script, const char *prog,
                       const char *script_path, const char *device, unsigned speed_khz,
                       const struct runner_image *imgs, size_t n, char *err, size_t errlen);

/* JLinkGDBServer -nogui 1 -device DEV -if swd -speed KHZ -port PORT -halt (gdbrunner). */
void runner_jlink_gdbserver(struct runner_argv *a, const char *prog, const char *device,
                            unsigned speed_khz, unsigned port);

/*
 * arm-none-eabi-gdb [-batch] -iex "set confirm off" -ex "target remote localhost:PORT"
 * [-x COMMANDS] ELF: with `batch` gdb exits after the commands of the file
 * `commands` (NULL: none) instead of prompting.
 */
void runner_gdb(struct runner_argv *a, const char *prog, unsigned port, const char *elf, bool batch,
                const char *commands);

/*
 * OpenOCD as a GDB server: `openocd -f INTERFACE -f TARGET [-c "adapter speed
 * KHZ"] -c "gdb_port PORT" -c "tcl_port disabled" -c "telnet_port disabled"`.
 * iface and target are OpenOCD script names ("interface/stlink.cfg",
 * "target/stm32h7x.cfg"); speed_khz 0 keeps the target script's speed.
 */
void runner_openocd_server(struct runner_argv *a, const char *prog, const char *iface,
                           const char *target, unsigned speed_khz, unsigned port);

/*
 * OpenOCD programming images and leaving: one `program {FILE} verify ADDR` per
 * image, the last one `program {FILE} verify reset exit ADDR`. OMV_EINVAL for
 * a path OpenOCD's Tcl cannot carry in braces (a brace, backslash or newline).
 */
int runner_openocd_program(struct runner_argv *a, const char *prog, const char *iface,
                           const char *target, unsigned speed_khz, const struct runner_image *imgs,
                           size_t n, char *err, size_t errlen);

/*
 * ST's GDB server, as upstream's `make debug DEBUGGER=STLINK` (gdbrunner's ST-Link backend)
 * runs it: ST-LINK_gdbserver --persistent --port-number PORT --stm32cubeprogrammer-path
 * CUBEPROG_BIN [--extload LOADER] --apid 1 --halt --verify --attach.
 */
void runner_stlink_gdbserver(struct runner_argv *a, const char *prog, const char *cubeprog_bin,
                             const char *extload, unsigned port);

/*
 * NXP SPSDK: `PYTHON -m spsdk.apps.TOOL -u USB [-t MS] -- ARGS...` when python
 * is set (the SDK's), else `TOOL -u USB [-t MS] -- ARGS...` with prog the
 * program found on PATH. tool is "sdphost" or "blhost"; usb "0x15A2,0x0073";
 * timeout_ms 0 for none. args is NULL-terminated.
 */
void runner_spsdk(struct runner_argv *a, const char *python, const char *prog, const char *tool,
                  const char *usb, unsigned timeout_ms, const char *const *args);

/*
 * The value blhost printed for efuse-read-once: the last "Response word N =
 * D (0xH)" line. OMV_EPARSE when there is none.
 */
int runner_blhost_word(const char *output, size_t len, uint32_t *value);

/* Alif SE tools: app-write-mram -i "BOOT 0x80000000 TOC 0x8057E000". OMV_EINVAL
 * when a path holds a space (the tool splits -i at spaces). */
int runner_alif_write_mram(struct runner_argv *a, const char *prog, const struct runner_image *imgs,
                           size_t n, char *err, size_t errlen);

/* bossac -e -w -v -R --offset=0x16000 [--port=PORT] FILE (seed §10.7.8). */
void runner_bossac(struct runner_argv *a, const char *prog, const char *port, uint32_t offset,
                   const char *file);

/* picotool load -x FILE.uf2 (seed §10.7.8). */
void runner_picotool(struct runner_argv *a, const char *prog, const char *uf2);

#endif
