/*
 * omvdev: the command table, global options, configuration layers and the
 * exit status. Everything else lives in cmd/ and below.
 */
#include "lib/compat.h"

#include "cmd/cmd.h"
#include "cmd/compiledb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/strbuf.h"
#include "lib/suggest.h"
#include "lib/term.h"
#include "targets/repo.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const color_choices[] = {"auto", "always", "never", NULL};

static const struct opt global_opts[] = {
    {"directory", 'C', OPT_VALUE, "DIR", "run as if omvdev was started in DIR", NULL, OPT_REPEAT,
     NULL},
    {"set", 'c', OPT_VALUE, "KEY=VALUE", "set a configuration value for this run", NULL, OPT_REPEAT,
     NULL},
    {"verbose", 'v', OPT_FLAG, NULL, "say more about what is done", NULL, 0, NULL},
    {"quiet", 'q', OPT_FLAG, NULL, "print only errors", NULL, 0, NULL},
    {"json", 0, OPT_FLAG, NULL, "print results as JSON (with \"schema\": 1)", NULL, 0, NULL},
    {"config", 0, OPT_VALUE, "FILE", "read FILE instead of the user configuration file", NULL, 0,
     NULL},
    {"color", 0, OPT_VALUE, "WHEN", "colour messages and headings", color_choices, OPT_CONFIG,
     "auto"},
    {"version", 0, OPT_FLAG, NULL, "print omvdev's version (with -v, its libraries' too)", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct omv_cmd commands[] = {
    {"targets", NULL, "list the boards omvdev knows, with their USB and flashing facts", "",
     "The board database: every OpenMV and Arduino camera the firmware builds for, with its\n"
     "MCU, USB IDs, DFU alt settings, images, J-Link device and recovery method. The\n"
     "markdown and rst formats reproduce the tables of the firmware guide.",
     NULL, targets_subcommands, "list", CMD_JSON, COMPLETE_NONE},
    {"config", NULL, "read and change omvdev's layered configuration", "",
     "Settings come, lowest precedence first, from the built-in defaults, the user file\n"
     "($XDG_CONFIG_HOME/omvdev/config.ini, or --config FILE), the project file (.omvdev.ini\n"
     "at the root of the firmware repository), the environment (OMVDEV_<SECTION>_<KEY>)\n"
     "and the command line (-c section.key=value, then each command's own options).\n"
     "Keys are the long option names under [command] sections, e.g. [targets] format.",
     NULL, config_subcommands, "list", CMD_JSON | CMD_LAX_CONFIG, COMPLETE_NONE},
    {"sdk", NULL, "install, check and locate the OpenMV SDK (toolchains, make, python)", "",
     "The SDK the firmware's Makefile needs (SDK_VERSION at the repository root), in\n"
     "~/openmv-sdk-<version> as upstream's 'make sdk' puts it: installed in one streamed\n"
     "pass of download, SHA-256 and extraction that leaves nothing behind on failure,\n"
     "verified against a manifest, removed, and exported for running make by hand.",
     NULL, sdk_subcommands, "list", CMD_JSON, COMPLETE_NONE},
    {"vscode", cmd_vscode, "set up VS Code for debugging with Cortex-Debug and for clangd",
     "[-t TARGET... | --all] [--probe PROBE [--server st]] [--stdout] [--only FILE]\n"
     "                     [--dry-run] [--diff] [--force] [--template-dir DIR]\n"
     "                     [--jlink-host HOST[:PORT]] [--svd FILE]",
     "Write .vscode/launch.json (a Cortex-Debug configuration per board for its probe: a\n"
     "J-Link, OpenOCD for an ST-Link or CMSIS-DAP probe, ST-LINK_gdbserver, or QEMU for the\n"
     "emulated boards; attach for boards that boot from external flash), tasks.json (build,\n"
     "release build, flash, clean), extensions.json and settings.json (the build's\n"
     "compile_commands.json for the C/C++ extension and clangd) into the firmware\n"
     "repository. Existing files are merged, not replaced: omvdev only touches the entries\n"
     "it generated (a \"// omvdev: generated HASH\" comment marks them), keeps entries you\n"
     "edited unless --force, and keeps comments, order and layout of everything else byte\n"
     "for byte. In WSL without a Linux J-Link, or with --jlink-host, the configuration uses\n"
     "a J-Link GDB server running on Windows.",
     vscode_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"devices", cmd_devices, "list connected cameras and bootloaders",
     "[--watch [--timeout SECONDS]] [--all]",
     "List every OpenMV or Arduino camera on USB, in firmware or in a bootloader (OpenMV DFU,\n"
     "ST system bootloader, Arduino, NXP SDP/flashloader), with its board, serial number,\n"
     "USB port, bootloader version and DFU alt names. --watch then prints each plug and\n"
     "unplug as it happens (with --json, one JSON object per line).",
     devices_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"flash", cmd_flash, "flash a build onto a camera over USB DFU",
     "[-t TARGET] [--firmware F] [--romfs R] [--file F [--alt N | --address A]]\n"
     "                    [--erase-fs] [--serial S | --all] [--wait SECONDS] [--verify]\n"
     "                    [--skip-unchanged] [--mass-erase] [--no-reset] [--dry-run] [--monitor]\n"
     "                    | --swd -t TARGET [--probe jlink|stlink|cmsis-dap] [--speed KHZ]",
     "Write the board's images from build/<TARGET>/bin/ with omvdev's own USB DFU code: by\n"
     "alt for OpenMV cameras (firmware, ROMFS; the AE3's four images), by DfuSe address for\n"
     "Arduino boards. A camera running its firmware is asked to jump into its bootloader\n"
     "(SYS_BOOT); otherwise omvdev waits for the bootloader to appear. Every image is mapped\n"
     "to a memory and checked before the first erase; each sector is erased once, then\n"
     "everything is written, then (--verify) read back. Partitions are found\n"
     "by the names the bootloader reports and cross-checked with the board database; an\n"
     "image larger than its partition, a read-only partition, a .dfu file made for another\n"
     "device or two matching cameras without --serial (or --all) are refused before\n"
     "anything is written. --file with --address on an STM32 camera goes through the ST\n"
     "system bootloader (BOOT jumper). --all flashes every matching camera at once;\n"
     "--json prints newline-delimited progress, step and summary events. --monitor\n"
     "attaches the console when the new firmware comes up.\n"
     "--swd writes over a debug probe instead (no bootloader, no USB): the SDK's\n"
     "STM32_Programmer_CLI (or OpenOCD) with an ST-Link, OpenOCD with a CMSIS-DAP probe, or\n"
     "JLinkExe with a J-Link, with the images, addresses and external loader of the board\n"
     "database.",
     flash_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"build", cmd_build, "build the firmware for a board with the SDK's toolchain",
     "[-t TARGET[,TARGET...] | --all] [--debug] [-j N] [-v] [--clean] [--option NAME=VALUE...]\n"
     "                    [--install-sdk] [--init] [-- MAKE-ARGS...]",
     "Run 'make TARGET=<board>' in the firmware repository (found upward from the working\n"
     "directory, or -C DIR) with SDK_DIR set and PATH prefixed as the firmware's Makefile does.\n"
     "First checks that the SDK named in SDK_VERSION is installed (--install-sdk installs it),\n"
     "that the board's submodules are checked out (--init checks them out), that mpy-cross is\n"
     "built (else builds it) and, for Cortex-M55 boards, that the arm-none-eabi-gcc make will\n"
     "run is 14.3 or newer. make's output streams through; a failure ends with its first\n"
     "'file:line: error:'. Afterwards every image in build/<TARGET>/bin/ is listed with how\n"
     "full its flash partition is (from the repository's board_config.h and boot_config.h,\n"
     "else the board database): a warning above 95 %, a failure above 100 %. -v passes V=1.",
     build_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"clean", cmd_clean, "remove a board's build directory (make clean)", "[-t TARGET]",
     "Run 'make TARGET=<board> clean', which removes build/<TARGET>/. The board defaults to\n"
     "[build] target, else the only board built.",
     clean_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"size", cmd_size, "show a build's section sizes and how full each flash partition is",
     "[-t TARGET] [--save NAME|FILE|DIR/] [--diff NAME|FILE|DIR [--format FORMAT]] | --all",
     "Run the SDK's arm-none-eabi-size --format=SysV on each ELF of the board's build (what\n"
     "'make size' prints), then list the images with how full their flash partitions are.\n"
     "--save records the images, their partition fill and the ELF sections; --diff prints\n"
     "what changed since such a record as text, markdown or JSON. --all (with --json: one\n"
     "document) covers every board built in the repository.",
     size_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"env", cmd_env, "print the environment a manual make needs",
     "[--shell bash|zsh|fish|powershell]",
     "Print SDK_DIR and the PATH the firmware's Makefile uses, for the SDK this repository's\n"
     "SDK_VERSION names, as commands for the shell:\n"
     "  eval \"$(omvdev env)\"          (bash, zsh)\n"
     "  omvdev env --shell fish | source",
     env_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"doctor", cmd_doctor, "check this machine for everything a firmware build and flash needs",
     "[--quick]",
     "One line per check - ok, warn, fail or skip - and for each problem the command that\n"
     "fixes it: platform, WSL version, repository under /mnt/<drive>, USB devices attached to\n"
     "WSL (usbipd), udev running and its rules, access to the camera's device nodes, the SDK\n"
     "(installed, stamp, 'omvdev sdk verify'), the SDK's gcc and gdb, J-Link, submodules,\n"
     "mpy-cross and free disk space. --json for bug reports. Exits 1 when a check fails.\n"
     "OMVDEV_SYSROOT=DIR (a testing hook) reads /proc, /sys, /etc, /run and /dev under DIR.",
     doctor_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"udev", cmd_udev, "install the udev rules that let users open cameras and bootloaders",
     "install [--print]",
     "Write /etc/udev/rules.d/99-omvdev.rules (for 37C5, 0483:DF11, 2341, 1FC9:0135 and\n"
     "15A2:0073) and reload udev; needs root. --print writes the rules to standard output\n"
     "and shows the sudo commands that install them.",
     udev_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"recover", cmd_recover, "restore a camera's damaged bootloader, step by step",
     "-t TARGET [--dry-run] [--yes] [--wait S] [--timeout S] [--dir DIR] [--erase-fs]\n"
     "                    [--combined] [--burn-fuse] [--update-se] [--se-tools DIR]",
     "Guide a camera whose bootloader is damaged back to life, per family: STM32 cameras\n"
     "through the ST system DFU ROM (BOOT-RST jumper; bootloader.bin written by omvdev's own\n"
     "DfuSe code, erasing only the bootloader's pages), the N6 with STM32CubeProgrammer and\n"
     "FlashLayout.tsv, the RT1060 with NXP SPSDK (sdphost/blhost; the irreversible boot-fuse\n"
     "write needs the typed phrase or --burn-fuse with --yes), the AE3 with Alif's SE tools;\n"
     "then the firmware with omvdev flash. Hardware steps are waited for on USB. On a\n"
     "terminal it asks before starting; elsewhere it needs --yes. --dry-run prints every step\n"
     "and command.",
     recover_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"debug", cmd_debug, "debug the firmware with gdb over a probe or in QEMU (make debug)",
     "-t TARGET [--probe PROBE [--server st]] [--server-only] [--port PORT] [--gdb PROGRAM]\n"
     "                    [--speed KHZ] [--elf FILE] [--batch] [--gdb-commands FILE]",
     "Start the GDB server of the board's probe (JLinkGDBServer, OpenOCD for an ST-Link or\n"
     "CMSIS-DAP probe, ST-LINK_gdbserver with --server st, or qemu-system-arm halted for the\n"
     "emulated boards), wait for its port, then run gdb (the SDK's arm-none-eabi-gdb, else\n"
     "gdb-multiarch) on the board's debug ELF (build/<TARGET>/bin) against it; the server\n"
     "stops when gdb exits. --batch with --gdb-commands runs a scripted session.\n"
     "--server-only runs just the server until Ctrl-C (VS Code's external mode). Warns when\n"
     "the ELF has no debug information (not a DEBUG=1 build).",
     debug_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"ci", NULL, "write CI configuration that builds every board", "",
     "Generate CI configuration for the firmware repository: 'omvdev ci github' writes a\n"
     "GitHub Actions workflow (docs/ci.md shows the same steps for GitLab CI).",
     NULL, ci_subcommands, NULL, CMD_JSON, COMPLETE_NONE},
    {"monitor", cmd_monitor, "the console of the running firmware (MicroPython REPL)",
     "[-t TARGET] [--serial S | --port DEV] [--baud N] [--raw] [--log FILE] [--timestamps]\n"
     "                    [--timeout S] [--quit-key KEY]",
     "Attach this terminal to the camera's USB serial port (found by the board's VID:PID and\n"
     "its serial number, as 'devices' lists it) or to a serial device node (--port). Keys go\n"
     "to the camera, Ctrl-C included; Ctrl-] quits (--quit-key). The terminal is in raw mode\n"
     "and restored on every exit, signals included. When the camera leaves (reset, reflash,\n"
     "unplug) the monitor says so and reattaches when the same serial comes back. --json\n"
     "prints NDJSON lines with their time. Without a terminal it copies the output until the\n"
     "end or --timeout. The REPL is at any baud but 921600 (the IDE protocol's).",
     monitor_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"run", cmd_run, "run a local MicroPython script on the camera (raw REPL)",
     "SCRIPT.py [-t TARGET] [--serial S | --port DEV] [--no-follow] [--timeout S]",
     "Interrupt what runs, enter MicroPython's raw REPL, send the script in chunks the camera's\n"
     "buffer takes, execute it and stream its output. Exit 0 when it ends, 1 with the\n"
     "traceback on stderr when it raises (or --timeout interrupted it), 3 when the camera does\n"
     "not answer. Ctrl-C interrupts the script on the camera.",
     run_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"reset", cmd_reset, "reboot the camera, or move it into its bootloader",
     "[-t TARGET] [--serial S] [--bootloader | --soft] [--wait S]",
     "Reboot a camera running its firmware (machine.reset() through the raw REPL; --soft:\n"
     "MicroPython's soft reset) and wait until it is back, or move it into its bootloader\n"
     "(--bootloader, the OpenMV protocol's SYS_BOOT) and wait until the bootloader is on\n"
     "USB. A camera in its bootloader is left there with --bootloader, else reset into its\n"
     "firmware.",
     reset_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"emulate", cmd_emulate, "run an emulated board's firmware in QEMU (make run)",
     "-t MPS2_AN500|MPS3_AN547 [--gdb PORT] [--build] [--elf FILE] [--dry-run]",
     "Run qemu-system-arm with the board's machine, -semihosting and the ROMFS images at the\n"
     "addresses of its board config, as the firmware's make run does, with the firmware's\n"
     "serial console on this terminal (the monitor's keys: Ctrl-] quits, which stops QEMU).\n"
     "--gdb PORT starts it halted with a GDB server on 127.0.0.1:PORT. --build builds the\n"
     "board first. Needs Debian's qemu-system-arm package.",
     emulate_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"completion", cmd_completion, "print a shell completion script", "bash|zsh|fish",
     "Print a completion script for the shell, generated from omvdev's command table.\n"
     "  bash: eval \"$(omvdev completion bash)\"     (or save it in\n"
     "        ~/.local/share/bash-completion/completions/omvdev)\n"
     "  zsh:  omvdev completion zsh > \"${fpath[1]}/_omvdev\"\n"
     "  fish: omvdev completion fish > ~/.config/fish/completions/omvdev.fish",
     completion_opts, NULL, NULL, CMD_LAX_CONFIG, COMPLETE_SHELLS},
    {"help", cmd_help, "show help for omvdev or one of its commands", "[COMMAND [SUBCOMMAND]]",
     "Show the help of a command (the same as 'omvdev COMMAND --help'), or the overview.\n"
     "--man prints the omvdev(1) manual page in roff, generated from the command table.",
     help_opts, NULL, NULL, CMD_LAX_CONFIG, COMPLETE_COMMANDS},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COMPLETE_NONE},
};

/* ---- configuration layers --------------------------------------------------- */

struct defaults_ud {
    struct cfg *cfg;
};

static void add_default(void *ud, const char *section, const struct opt *o)
{
    struct defaults_ud *d = ud;

    if (o->def)
        cfg_add(d->cfg, CFG_LEVEL_DEFAULT, section, o->name, o->def, NULL, 0);
}

static void env_name(struct strbuf *sb, const char *section, const char *name)
{
    strbuf_addstr(sb, "OMVDEV_");
    for (const char *s = section; *s; s++)
        strbuf_addch(sb, *s == '-' ? '_' : toupper((unsigned char)*s));
    strbuf_addch(sb, '_');
    for (const char *s = name; *s; s++)
        strbuf_addch(sb, *s == '-' ? '_' : toupper((unsigned char)*s));
}

static void add_env(void *ud, const char *section, const struct opt *o)
{
    struct defaults_ud *d = ud;
    struct strbuf var = STRBUF_INIT;
    const char *v;

    env_name(&var, section, o->name);
    v = getenv(var.buf);
    if (v)
        cfg_add(d->cfg, CFG_LEVEL_ENV, section, o->name, v, var.buf, 0);
    strbuf_release(&var);
}

struct key_names {
    const char *names[128];
    char *owned[128];
    size_t n;
};

static void collect_key(void *ud, const char *section, const struct opt *o)
{
    struct key_names *k = ud;
    struct strbuf sb = STRBUF_INIT;

    if (k->n >= ARRAY_SIZE(k->names))
        return;
    strbuf_addf(&sb, "%s.%s", section, o->name);
    k->owned[k->n] = strbuf_detach(&sb, NULL);
    k->names[k->n] = k->owned[k->n];
    k->n++;
}

/* The command that removes or fixes the bad value `e`. */
static void bad_value_hint(struct omv_ctx *ctx, const struct cfg_entry *e)
{
    struct strbuf cmd = STRBUF_INIT;

    switch (e->level) {
    case CFG_LEVEL_USER:
    case CFG_LEVEL_PROJECT:
        strbuf_addstr(&cmd, "omvdev");
        if (e->level == CFG_LEVEL_USER && ctx->config_file)
            strbuf_addf(&cmd, " --config %s", ctx->config_file);
        strbuf_addstr(&cmd, " config");
        hint(ctx, "set it with '%s set%s %s.%s VALUE', or remove it with '%s unset%s %s.%s'",
             cmd.buf, e->level == CFG_LEVEL_PROJECT ? " --project" : "", e->section, e->name,
             cmd.buf, e->level == CFG_LEVEL_PROJECT ? " --project" : "", e->section, e->name);
        break;
    case CFG_LEVEL_ENV:
        hint(ctx, "unset %s, or give it a valid value", e->origin ? e->origin : "it");
        break;
    case CFG_LEVEL_DEFAULT:
    case CFG_LEVEL_CMDLINE:
        break;
    }
    strbuf_release(&cmd);
}

/* A cloned repository's .omvdev.ini cannot set what omvdev downloads or runs: such keys
 * are dropped from the project layer, with a warning. */
static void drop_user_only_keys(struct omv_ctx *ctx)
{
    size_t i = 0;

    while (i < ctx->cfg.nr) {
        const struct cfg_entry *e = &ctx->cfg.entries[i];
        char where[512];

        if (e->level != CFG_LEVEL_PROJECT || !config_key_user_only(e->section, e->name)) {
            i++;
            continue;
        }
        warning(ctx,
                "%s: '%s.%s' is ignored in a repository's .omvdev.ini: it decides what "
                "omvdev downloads or runs, so only your own configuration can set it",
                cfg_entry_where(e, where, sizeof(where)), e->section, e->name);
        hint(ctx, "if you trust this value, set it with 'omvdev config set %s.%s VALUE'",
             e->section, e->name);
        cfg_remove(&ctx->cfg, i);
    }
}

/*
 * Warn about keys nobody reads; reject values a known key cannot take. With
 * `lax` (the config command, which must be able to repair them) a bad value
 * is a warning.
 */
static int check_config(struct omv_ctx *ctx, bool lax)
{
    struct key_names keys = {{0}, {0}, 0};
    int rc = 0;

    drop_user_only_keys(ctx);
    config_keys_foreach(ctx, collect_key, &keys);
    for (size_t i = 0; i < ctx->cfg.nr && rc == 0; i++) {
        const struct cfg_entry *e = &ctx->cfg.entries[i];
        const struct opt *o = config_key_opt(ctx, e->section, e->name);
        char where[512], err[512];

        if (!o) {
            struct strbuf key = STRBUF_INIT;
            const char *s;

            strbuf_addf(&key, "%s.%s", e->section, e->name);
            warning(ctx, "%s: unknown key '%s'", cfg_entry_where(e, where, sizeof(where)), key.buf);
            s = suggest(key.buf, keys.names, keys.n);
            if (s)
                hint(ctx, "did you mean '%s'?", s);
            strbuf_release(&key);
            continue;
        }
        if (config_value_check(ctx, e->section, e->name, e->value, err, sizeof(err)) < 0) {
            cfg_entry_where(e, where, sizeof(where));
            if (lax) {
                warning(ctx, "%s: %s", where, err);
                continue;
            }
            error(ctx, "%s: %s", where, err);
            bad_value_hint(ctx, e);
            rc = -1;
        }
    }
    for (size_t i = 0; i < keys.n; i++)
        free(keys.owned[i]);
    return rc;
}

static int load_config(struct omv_ctx *ctx, const char *const *sets, bool lax)
{
    struct defaults_ud d = {&ctx->cfg};
    struct strbuf sb = STRBUF_INIT;
    char err[1024];
    int rc;

    config_keys_foreach(ctx, add_default, &d);

    if (ctx->config_file) {
        ctx->user_config_path = xstrdup(ctx->config_file);
    } else if (fs_xdg_config_home(&sb, err, sizeof(err)) == 0) {
        fs_path_join(&sb, "", "omvdev/config.ini");
        ctx->user_config_path = strbuf_detach(&sb, NULL);
    }
    if (ctx->user_config_path) {
        rc = cfg_parse_file(&ctx->cfg, ctx->user_config_path, CFG_LEVEL_USER, err, sizeof(err));
        verbose(ctx, "user config: %s%s", ctx->user_config_path,
                rc == OMV_ENOENT ? " (not there)" : "");
        if (rc == OMV_ENOENT && !ctx->config_file)
            rc = 0;
        if (rc < 0) {
            error(ctx, "%s", err);
            if (rc == OMV_EPARSE)
                hint(ctx, "fix that line (every omvdev command reads this file), or run "
                          "without it: omvdev --config /dev/null ...");
            return rc;
        }
    }

    strbuf_reset(&sb);
    if (repo_find(".", &sb, NULL, err, sizeof(err)) == 0) {
        ctx->project_root = strbuf_detach(&sb, NULL);
        fs_path_join(&sb, ctx->project_root, ".omvdev.ini");
        ctx->project_config_path = strbuf_detach(&sb, NULL);
        rc = cfg_parse_file(&ctx->cfg, ctx->project_config_path, CFG_LEVEL_PROJECT, err,
                            sizeof(err));
        verbose(ctx, "firmware repository: %s", ctx->project_root);
        verbose(ctx, "project config: %s%s", ctx->project_config_path,
                rc == OMV_ENOENT ? " (not there)" : "");
        if (rc < 0 && rc != OMV_ENOENT) {
            error(ctx, "%s", err);
            if (rc == OMV_EPARSE)
                hint(ctx, "fix that line: every omvdev command in this repository reads it");
            return rc;
        }
    } else {
        verbose(ctx, "not inside a firmware repository: no project config");
    }
    strbuf_release(&sb);

    config_keys_foreach(ctx, add_env, &d);

    for (; *sets; sets++) {
        const char *eq = strchr(*sets, '=');
        char *key, *section = NULL, *name = NULL;

        if (!eq) {
            error(ctx, "-c '%s' has no '=': expected -c section.key=value", *sets);
            return -1;
        }
        key = xstrndup(*sets, (size_t)(eq - *sets));
        rc = cfg_split_key(key, &section, &name, err, sizeof(err));
        if (rc == 0 && !config_key_opt(ctx, section, name)) {
            rc = OMV_ENOENT;
            snprintf(err, sizeof(err), "unknown config key '%s' in -c", key);
        }
        if (rc == 0)
            cfg_add(&ctx->cfg, CFG_LEVEL_CMDLINE, section, name, eq + 1, NULL, 0);
        free(key);
        free(section);
        free(name);
        if (rc < 0) {
            error(ctx, "%s", err);
            hint(ctx, "'omvdev config list' shows the keys");
            return rc;
        }
    }
    return check_config(ctx, lax);
}

/* ---- dispatch ---------------------------------------------------------------- */

/* Does the command define this option itself (then it is not the global one)? */
static bool cmd_has(const struct omv_cmd *cmd, const char *name, int short_name)
{
    for (const struct opt *o = cmd->opts; o->name; o++)
        if (!strcmp(o->name, name) || (short_name && o->short_name == short_name))
            return true;
    return false;
}

/*
 * People type `omvdev targets --json` and `omvdev flash -v`: the global flags
 * that take no value are taken from anywhere before "--", unless the command
 * has an option of the same name. Returns the new argc.
 */
static int take_global_flags(struct omv_ctx *ctx, const struct omv_cmd *cmd, int argc, char **argv)
{
    int n = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--")) {
            while (i < argc)
                argv[n++] = argv[i++];
            break;
        }
        if (!strcmp(a, "--json") && !cmd_has(cmd, "json", 0)) {
            ctx->json = true;
            ctx->color_out = false;
        } else if ((!strcmp(a, "--quiet") || !strcmp(a, "-q")) && !cmd_has(cmd, "quiet", 'q')) {
            ctx->verbosity = -1;
        } else if ((!strcmp(a, "--verbose") || !strcmp(a, "-v")) && !cmd_has(cmd, "verbose", 'v')) {
            ctx->verbosity = ctx->verbosity < 0 ? 1 : ctx->verbosity + 1;
        } else {
            argv[n++] = argv[i];
        }
    }
    return n;
}

static int run_leaf(struct omv_ctx *ctx, const struct omv_cmd *cmd, const char *top,
                    const char *path, int argc, char **argv)
{
    struct omv_invocation inv = {cmd, path, {0}};
    char err[512], where[512], choices[256];
    int rc;

    argc = take_global_flags(ctx, cmd, argc, argv);

    opt_result_init(&inv.opts, cmd->opts);
    for (const struct opt *o = cmd->opts; o->name; o++) {
        const struct cfg_entry *e;

        if (!(o->flags & OPT_CONFIG) || !(e = cfg_lookup(&ctx->cfg, top, o->name)))
            continue;
        if (!opt_choice_ok(o, e->value)) {
            rc = error(ctx, "%s: invalid value '%s' for '%s.%s' (expected %s)",
                       cfg_entry_where(e, where, sizeof(where)), e->value, top, o->name,
                       opt_choices_text(o, choices, sizeof(choices)));
            rc = OMV_EXIT_USAGE;
            goto out;
        }
        opt_set_default(&inv.opts, cmd->opts, o->name, e->value, e->origin);
    }
    if (opt_parse(cmd->opts, argc, argv, 0, &inv.opts, err, sizeof(err)) < 0) {
        rc = usage_error(ctx, &inv, "%s", err);
        goto out;
    }
    if (inv.opts.help) {
        help_print_command(ctx, stdout, cmd, path);
        rc = OMV_EXIT_OK;
        goto out;
    }
    if (ctx->json && !(cmd->flags & CMD_JSON)) {
        rc = usage_error(ctx, &inv, "'omvdev %s' has no JSON output", path);
        goto out;
    }
    rc = cmd->fn(ctx, &inv);
out:
    opt_result_release(&inv.opts);
    return rc;
}

static int run(struct omv_ctx *ctx, const struct omv_cmd *cmd, const char *top, const char *path,
               int argc, char **argv)
{
    const struct omv_cmd *sub;
    struct strbuf sub_path = STRBUF_INIT;
    int rc;

    if (!cmd->subs)
        return run_leaf(ctx, cmd, top, path, argc, argv);

    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        help_print_command(ctx, stdout, cmd, path);
        return OMV_EXIT_OK;
    }
    if ((argc == 0 || argv[0][0] == '-') && !cmd->default_sub) {
        /* a command that only groups subcommands (ci) needs one named */
        help_print_command(ctx, stderr, cmd, path);
        return OMV_EXIT_USAGE;
    }
    if (argc == 0 || argv[0][0] == '-') {
        sub = cmd_lookup(cmd->subs, cmd->default_sub);
    } else {
        sub = cmd_lookup(cmd->subs, argv[0]);
        if (!sub) {
            const char *names[32];
            size_t n = 0;
            const char *s;

            for (const struct omv_cmd *c = cmd->subs; c->name && n < ARRAY_SIZE(names); c++)
                names[n++] = c->name;
            error(ctx, "'%s' is not an 'omvdev %s' command", argv[0], path);
            s = suggest(argv[0], names, n);
            if (s)
                hint(ctx, "did you mean 'omvdev %s %s'?", path, s);
            else
                hint(ctx, "see 'omvdev %s --help'", path);
            return OMV_EXIT_USAGE;
        }
        argc--;
        argv++;
    }
    strbuf_addf(&sub_path, "%s %s", path, sub->name);
    rc = run(ctx, sub, top, sub_path.buf, argc, argv);
    strbuf_release(&sub_path);
    return rc;
}

static int unknown_command(struct omv_ctx *ctx, const char *name)
{
    const char *names[32];
    size_t n = 0;
    const char *s;

    for (const struct omv_cmd *c = commands; c->name && n < ARRAY_SIZE(names); c++)
        names[n++] = c->name;
    error(ctx, "'%s' is not an omvdev command", name);
    s = suggest(name, names, n);
    if (s)
        hint(ctx, "did you mean 'omvdev %s'?", s);
    else
        hint(ctx, "'omvdev --help' lists the commands");
    return OMV_EXIT_USAGE;
}

static void ctx_release(struct omv_ctx *ctx)
{
    cfg_release(&ctx->cfg);
    if (ctx->db_loaded)
        target_db_release(&ctx->db);
    free(ctx->qemu);
    free(ctx->user_config_path);
    free(ctx->project_root);
    free(ctx->project_config_path);
}

int main(int argc, char **argv)
{
    struct omv_ctx ctx;
    struct opt_result g;
    const struct omv_cmd *cmd;
    const struct cfg_entry *color;
    char err[512];
    int rc;

    /* make runs the compiler through omvdev (where omvdev-cc is missing) to record
     * compile_commands.json: no config. */
    if (argc > 1 && !strcmp(argv[1], "__cc"))
        return cdb_wrapper_main(argc - 2, argv + 2);
    memset(&ctx, 0, sizeof(ctx));
    ctx.commands = commands;
    ctx.global_opts = global_opts;
    ctx.color_err = term_want_color(2, "auto");

    opt_result_init(&g, global_opts);
    if (opt_parse(global_opts, argc - 1, argv + 1, OPT_STOP_AT_ARG, &g, err, sizeof(err)) < 0) {
        error(&ctx, "%s", err);
        hint(&ctx, "see 'omvdev --help'");
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    ctx.verbosity = (int)opt_count(&g, global_opts, "verbose");
    if (opt_count(&g, global_opts, "quiet"))
        ctx.verbosity = -1;
    ctx.json = opt_count(&g, global_opts, "json") > 0;
    ctx.config_file = opt_value(&g, global_opts, "config");

    ctx.dir_given = *opt_values(&g, global_opts, "directory") != NULL;
    for (const char *const *dir = opt_values(&g, global_opts, "directory"); *dir; dir++) {
        if (chdir(*dir) < 0) {
            error(&ctx, "cannot change to directory '%s': %s", *dir, strerror(errno));
            rc = OMV_EXIT_USAGE;
            goto out;
        }
    }

    if (opt_count(&g, global_opts, "version")) {
        rc = version_print(&ctx);
        goto out;
    }

    /* config (to repair them), help and completion run with bad values in the files. */
    cmd = g.nr_args ? cmd_lookup(commands, g.args[0]) : NULL;
    if (load_config(&ctx, opt_values(&g, global_opts, "set"),
                    g.help || (cmd && (cmd->flags & CMD_LAX_CONFIG))) < 0) {
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    /* The --color option beats core.color from any layer. */
    color = cfg_lookup(&ctx.cfg, "core", "color");
    {
        const char *when = opt_value(&g, global_opts, "color");

        if (!when)
            when = color ? color->value : "auto";
        ctx.color_err = term_want_color(2, when);
        ctx.color_out = !ctx.json && term_want_color(1, when);
    }

    if (g.help) {
        help_print_overview(&ctx, stdout);
        rc = OMV_EXIT_OK;
        goto out;
    }
    if (g.nr_args == 0) {
        help_print_overview(&ctx, stderr);
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    cmd = cmd_lookup(commands, g.args[0]);
    if (!cmd) {
        rc = unknown_command(&ctx, g.args[0]);
        goto out;
    }
    rc = run(&ctx, cmd, cmd->name, cmd->name, g.nr_args - 1, g.args + 1);
    if (rc < 0)
        rc = OMV_EXIT_FAILURE;
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        error(&ctx, "cannot write to standard output: %s", strerror(errno));
        if (rc == OMV_EXIT_OK)
            rc = OMV_EXIT_FAILURE;
    }
    opt_result_release(&g);
    ctx_release(&ctx);
    return rc;
}
