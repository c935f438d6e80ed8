/*
 * The command layer: the only code that prints for users and picks exit
 * codes. Every command is `int cmd_<name>(struct omv_ctx *, struct
 * omv_invocation *)` described by a const struct omv_cmd, and the tables in
 * omvdev.c drive dispatch, help, the man page, config keys and completion.
 */
#ifndef OMVDEV_CMD_CMD_H
#define OMVDEV_CMD_CMD_H

#include "lib/compat.h"
#include "flash/qemu.h"
#include "lib/config.h"
#include "lib/opts.h"
#include "lib/strbuf.h"
#include "targets/targets.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses: documented in README.md and omvdev(1), asserted by tests. */
enum omv_exit {
    OMV_EXIT_OK = 0,
    OMV_EXIT_FAILURE = 1, /* the command ran and failed, or a key is not set */
    OMV_EXIT_USAGE = 2,   /* bad command line, unknown board or key, broken config file */
    OMV_EXIT_DEVICE = 3,  /* no device appeared, or the device failed (USB or DFU error) */
};

struct omv_ctx;
struct omv_invocation;

enum omv_cmd_flags {
    CMD_JSON = 1 << 0,       /* supports --json */
    CMD_LAX_CONFIG = 1 << 1, /* runs when a config value is invalid (warned): config, help */
};

/* What a command's positional arguments complete to. */
enum omv_complete {
    COMPLETE_NONE,
    COMPLETE_TARGETS,
    COMPLETE_KEYS,
    COMPLETE_COMMANDS,
    COMPLETE_SHELLS,
};

struct omv_cmd {
    const char *name; /* NULL ends a table */
    int (*fn)(struct omv_ctx *ctx, struct omv_invocation *inv);
    const char *summary;  /* one line, lower case, no period */
    const char *synopsis; /* arguments after "omvdev <name>" */
    const char *description;
    const struct opt *opts;
    const struct omv_cmd *subs; /* subcommands, or NULL */
    const char *default_sub;    /* run when no subcommand is named */
    unsigned flags;
    enum omv_complete complete;
};

/* One parsed command line, handed to a command. */
struct omv_invocation {
    const struct omv_cmd *cmd;
    const char *path; /* "targets show", for messages */
    struct opt_result opts;
};

struct omv_ctx {
    const struct omv_cmd *commands; /* the top-level table */
    const struct opt *global_opts;
    int verbosity; /* 0 normal, -1 quiet, >0 verbose */
    bool json;
    bool color_err;
    bool color_out;
    const char *config_file; /* --config */
    char *user_config_path;  /* NULL when there is no home */
    char *project_root;      /* NULL outside a firmware repository */
    bool dir_given;          /* -C DIR was given */
    char *project_config_path;
    struct cfg cfg;
    struct target_db db;     /* loaded on first use by ctx_targets() */
    struct qemu_board *qemu; /* db's emulated boards, built with it */
    size_t nr_qemu;
    bool db_loaded;
    bool db_failed; /* the error was printed once already */
};

/* ---- messages (stderr) -------------------------------------------------- */

/* "omvdev: error: ..." always; returns -1. */
int error(struct omv_ctx *ctx, const char *fmt, ...) OMV_PRINTF(2, 3);
/* "omvdev: warning: ..." unless -q. */
void warning(struct omv_ctx *ctx, const char *fmt, ...) OMV_PRINTF(2, 3);
/* "hint: ..." unless -q. */
void hint(struct omv_ctx *ctx, const char *fmt, ...) OMV_PRINTF(2, 3);
/* "omvdev: ..." for -v and above. */
void verbose(struct omv_ctx *ctx, const char *fmt, ...) OMV_PRINTF(2, 3);
/* "omvdev: ..." unless -q: confirmations of what a command changed. */
void note(struct omv_ctx *ctx, const char *fmt, ...) OMV_PRINTF(2, 3);

/* Bold (or nothing) for headings on stdout. */
const char *color_bold(const struct omv_ctx *ctx);
const char *color_reset(const struct omv_ctx *ctx);

/* Usage error for `inv`: prints the message and the usage hint, returns 2. */
int usage_error(struct omv_ctx *ctx, const struct omv_invocation *inv, const char *fmt, ...)
    OMV_PRINTF(3, 4);

/* ---- shared helpers ------------------------------------------------------ */

/* The exit status for an error code from below cmd/, chosen by its class
 * (omv_err_class), never by its message: usage 2, device 3, otherwise 1. */
int exit_status_for(int err);

/* The board database, loaded once; NULL after printing an error. */
const struct target_db *ctx_targets(struct omv_ctx *ctx);

/* The boards QEMU emulates: those whose data file names a qemu_machine, with
 * their core and ROMFS image addresses. NULL (and *n 0) without a database. */
const struct qemu_board *ctx_qemu_boards(struct omv_ctx *ctx, size_t *n);
/* The emulated board `name` (in any case, as target_find), or NULL. */
const struct qemu_board *ctx_qemu_board(struct omv_ctx *ctx, const char *name);

/* Find a board or print "unknown board" with a suggestion and return NULL. */
const struct target *ctx_target(struct omv_ctx *ctx, const char *name);

/* Print `cmd`'s help (usage, description, subcommands, options) to `out`. */
void help_print_command(struct omv_ctx *ctx, FILE *out, const struct omv_cmd *cmd,
                        const char *path);
void help_print_overview(struct omv_ctx *ctx, FILE *out);
const struct omv_cmd *cmd_lookup(const struct omv_cmd *table, const char *name);

/*
 * Every config key: "core.<opt>" for global options, "<command>.<opt>" for
 * each OPT_CONFIG option of a command or its subcommands. `fn` is called once
 * per key with the option that defines it.
 */
void config_keys_foreach(const struct omv_ctx *ctx,
                         void (*fn)(void *ud, const char *section, const struct opt *o), void *ud);
/* The option behind section.name, or NULL for an unknown key. */
const struct opt *config_key_opt(const struct omv_ctx *ctx, const char *section, const char *name);

/*
 * The range of a number option (its config key has the same), or NULL for one
 * that is not a number. The table in cmd/cmd.c is the only place ranges are written.
 */
struct config_number {
    const char *section, *name;
    uint64_t min, max;
};
const struct config_number *config_key_number(const char *section, const char *name);

/*
 * Keys that decide what omvdev downloads, trusts or runs (the SDK's mirror,
 * checksum, CA file and directory, the gdb and SE tools it executes). A cloned
 * repository's .omvdev.ini cannot set them: only the user's own file, the
 * environment and the command line can.
 */
bool config_key_user_only(const char *section, const char *name);

/*
 * Ctrl-C and SIGTERM during a device operation: cmd_interrupts_catch() makes
 * both set *flag (to the signal number) instead of ending omvdev, so the
 * operation can finish its USB request and report; a second signal ends omvdev
 * at once. cmd_interrupts_restore() puts the previous handlers back.
 */
struct cmd_interrupts {
    struct sigaction old_int, old_term;
};
void cmd_interrupts_catch(struct cmd_interrupts *ci, volatile sig_atomic_t *flag);
void cmd_interrupts_restore(struct cmd_interrupts *ci);

/* A number option of `inv` through opt_number() with its range: 0 with *out set,
 * 0 with *out untouched when the option has no value, or OMV_EUSAGE with
 * "invalid value 'x' for --wait: expected a number from 0 to 3600". */
int cmd_number(const struct omv_invocation *inv, const char *name, uint64_t *out, char *err,
               size_t errlen);

/* Can section.name take `value` (its option's choices, its number range)?
 * OMV_EUSAGE with "invalid value 'x' for 'section.name': expected ..." if not. */
int config_value_check(const struct omv_ctx *ctx, const char *section, const char *name,
                       const char *value, char *err, size_t errlen);

/* Where a config value came from, for messages: "FILE:LINE", "OMVDEV_X in the
 * environment", "-c on the command line" or "the built-in default". */
const char *cfg_entry_where(const struct cfg_entry *e, char *buf, size_t len);

/* Print a finished stdout buffer, checking for write errors at exit. */
void out_write(const char *s, size_t len);

/* The commands: top-level functions and the subcommand tables omvdev.c's
 * command table points at. */
extern const struct omv_cmd targets_subcommands[];
extern const struct omv_cmd config_subcommands[];
extern const struct omv_cmd sdk_subcommands[];
extern const struct omv_cmd ci_subcommands[];
extern const struct opt completion_opts[];
extern const struct opt help_opts[];
extern const struct opt devices_opts[];
extern const struct opt flash_opts[];
extern const struct opt vscode_opts[];
int cmd_flash(struct omv_ctx *ctx, struct omv_invocation *inv);
extern const struct opt build_opts[];
extern const struct opt clean_opts[];
extern const struct opt size_opts[];
extern const struct opt env_opts[];
extern const struct opt doctor_opts[];
extern const struct opt udev_opts[];
int cmd_build(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_clean(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_size(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_env(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_doctor(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_udev(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_devices(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_vscode(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_completion(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_help(struct omv_ctx *ctx, struct omv_invocation *inv);
extern const struct opt recover_opts[];
extern const struct opt debug_opts[];
int cmd_recover(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_debug(struct omv_ctx *ctx, struct omv_invocation *inv);
extern const struct opt monitor_opts[];
extern const struct opt run_opts[];
extern const struct opt reset_opts[];
int cmd_monitor(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_run(struct omv_ctx *ctx, struct omv_invocation *inv);
int cmd_reset(struct omv_ctx *ctx, struct omv_invocation *inv);
extern const struct opt emulate_opts[];
int cmd_emulate(struct omv_ctx *ctx, struct omv_invocation *inv);
/* flash --swd (cmd/swd.c), called by cmd_flash with flash's options. */
int cmd_flash_swd(struct omv_ctx *ctx, struct omv_invocation *inv);

/* The SDK directory external tools are looked for in ($SDK_DIR, else the one the firmware
 * repository's SDK_VERSION names), or "" when there is none on disk. */
void tools_sdk_dir(struct omv_ctx *ctx, struct strbuf *out);
/* runner_find() that prints the error and a doctor-style hint when the tool is missing. */
int tools_find(struct omv_ctx *ctx, const char *name, const char *sdk, const char *subdir,
               const char *extra, struct strbuf *out);

/* `omvdev --version [-v] [--json]` (cmd/version.c): returns the exit status. */
int version_print(struct omv_ctx *ctx);

#endif
