#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/error.h"
#include "lib/term.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RED    "\033[1;31m"
#define YELLOW "\033[1;33m"
#define CYAN   "\033[36m"
#define BOLD   "\033[1m"
#define RESET  "\033[0m"

/* Build the whole line first and write it once, so lines from parallel
 * processes (a production line flashing many cameras) do not interleave. */
static void emit(const struct omv_ctx *ctx, const char *prefix, const char *color, const char *fmt,
                 va_list ap) OMV_PRINTF(4, 0);
static void emit(const struct omv_ctx *ctx, const char *prefix, const char *color, const char *fmt,
                 va_list ap)
{
    struct strbuf line = STRBUF_INIT;
    char buf[2048];

    if (ctx->color_err && color)
        strbuf_addf(&line, "%s%s%s", color, prefix, RESET);
    else
        strbuf_addstr(&line, prefix);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    /* Messages quote outside input (keys, values, paths, device strings): no escapes pass. */
    term_escape(&line, buf, strlen(buf), 0);
    strbuf_addch(&line, '\n');
    fputs(line.buf, stderr);
    strbuf_release(&line);
}

int error(struct omv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(ctx, "omvdev: error: ", RED, fmt, ap);
    va_end(ap);
    return -1;
}

void warning(struct omv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->verbosity < 0)
        return;
    va_start(ap, fmt);
    emit(ctx, "omvdev: warning: ", YELLOW, fmt, ap);
    va_end(ap);
}

void hint(struct omv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->verbosity < 0)
        return;
    va_start(ap, fmt);
    emit(ctx, "hint: ", CYAN, fmt, ap);
    va_end(ap);
}

void verbose(struct omv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->verbosity < 1)
        return;
    va_start(ap, fmt);
    emit(ctx, "omvdev: ", NULL, fmt, ap);
    va_end(ap);
}

void note(struct omv_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->verbosity < 0)
        return;
    va_start(ap, fmt);
    emit(ctx, "omvdev: ", NULL, fmt, ap);
    va_end(ap);
}

const char *color_bold(const struct omv_ctx *ctx)
{
    return ctx->color_out ? BOLD : "";
}

const char *color_reset(const struct omv_ctx *ctx)
{
    return ctx->color_out ? RESET : "";
}

int exit_status_for(int err)
{
    switch (omv_err_class(err)) {
    case OMV_CLASS_OK:
        return OMV_EXIT_OK;
    case OMV_CLASS_USAGE:
        return OMV_EXIT_USAGE;
    case OMV_CLASS_DEVICE:
        return OMV_EXIT_DEVICE;
    case OMV_CLASS_FAILURE:
        break;
    }
    return OMV_EXIT_FAILURE;
}

int usage_error(struct omv_ctx *ctx, const struct omv_invocation *inv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(ctx, "omvdev: error: ", RED, fmt, ap);
    va_end(ap);
    hint(ctx, "see 'omvdev %s --help'", inv->path);
    return OMV_EXIT_USAGE;
}

const char *cfg_entry_where(const struct cfg_entry *e, char *buf, size_t len)
{
    switch (e->level) {
    case CFG_LEVEL_DEFAULT:
        snprintf(buf, len, "the built-in default");
        break;
    case CFG_LEVEL_USER:
    case CFG_LEVEL_PROJECT:
        snprintf(buf, len, "%s:%u", e->origin ? e->origin : "?", e->line);
        break;
    case CFG_LEVEL_ENV:
        snprintf(buf, len, "%s in the environment", e->origin ? e->origin : "?");
        break;
    case CFG_LEVEL_CMDLINE:
        snprintf(buf, len, "-c on the command line");
        break;
    }
    return buf;
}

void out_write(const char *s, size_t len)
{
    struct strbuf sb = STRBUF_INIT;

    /* Results carry outside input too; only omvdev's own bold and reset pass. */
    term_escape(&sb, s, len, TERM_KEEP_NEWLINES | TERM_KEEP_OWN_SGR);
    fwrite(sb.buf, 1, sb.len, stdout);
    strbuf_release(&sb);
}

/* The QEMU board of a board whose data file names a qemu_machine; false for
 * any other. Its strings are t's. */
static bool qemu_board_of(const struct target *t, struct qemu_board *qb)
{
    size_t i;

    if (!t->qemu_machine || !t->core || strlen(t->core) >= sizeof(qb->cpu))
        return false;
    memset(qb, 0, sizeof(*qb));
    qb->target = t->name;
    qb->machine = t->qemu_machine;
    for (i = 0; t->core[i]; i++)
        qb->cpu[i] = (char)tolower((unsigned char)t->core[i]);
    /* romfsN.img is ROMFS part N (OMV_ROMFS_PARTn_ORIGIN), loaded at its address. */
    for (i = 0; i < t->nr_images; i++) {
        const struct target_image *im = &t->images[i];
        unsigned part;

        if (im->role != TARGET_ROLE_ROMFS || im->address <= 0 || im->address > UINT32_MAX ||
            strncmp(im->file, "romfs", 5) || !im->file[5] || strcmp(im->file + 6, ".img"))
            continue;
        part = (unsigned)(im->file[5] - '0');
        if (part < QEMU_ROMFS_PARTS)
            qb->romfs_origin[part] = (uint32_t)im->address;
    }
    /* From v5.0.0 the firmware runs MPS3_AN547 on Arm's FVP (fvp_machine). */
    qb->make_run_uses_qemu = !t->fvp_machine;
    return true;
}

const struct target_db *ctx_targets(struct omv_ctx *ctx)
{
    char err[512];

    if (ctx->db_loaded)
        return &ctx->db;
    if (ctx->db_failed)
        return NULL;
    if (target_db_load(&ctx->db, err, sizeof(err)) < 0) {
        /* The data is built in, so this is a defect of the build itself. */
        error(ctx, "the built-in board database is broken: %s", err);
        ctx->db_failed = true;
        return NULL;
    }
    ctx->db_loaded = true;
    ctx->qemu = xcalloc(ctx->db.nr + 1, sizeof(*ctx->qemu));
    for (size_t i = 0; i < ctx->db.nr; i++)
        if (qemu_board_of(&ctx->db.targets[i], &ctx->qemu[ctx->nr_qemu]))
            ctx->nr_qemu++;
    return &ctx->db;
}

const struct qemu_board *ctx_qemu_boards(struct omv_ctx *ctx, size_t *n)
{
    *n = ctx_targets(ctx) ? ctx->nr_qemu : 0;
    return *n ? ctx->qemu : NULL;
}

const struct qemu_board *ctx_qemu_board(struct omv_ctx *ctx, const char *name)
{
    size_t n;
    const struct qemu_board *all = ctx_qemu_boards(ctx, &n);

    for (size_t i = 0; name && i < n; i++)
        if (!strcasecmp(all[i].target, name))
            return &all[i];
    return NULL;
}

const struct target *ctx_target(struct omv_ctx *ctx, const char *name)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct target *t;
    const char *s;

    if (!db)
        return NULL;
    t = target_find(db, name);
    if (t)
        return t;
    error(ctx, "unknown board '%s'", name);
    s = target_suggest(db, name);
    if (s)
        hint(ctx, "did you mean '%s'?", s);
    else
        hint(ctx, "'omvdev targets' lists the boards");
    return NULL;
}

const struct omv_cmd *cmd_lookup(const struct omv_cmd *table, const char *name)
{
    for (const struct omv_cmd *c = table; c && c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

/* ---- config keys ---------------------------------------------------------- */

static void keys_of(const struct omv_cmd *cmd, const char *section,
                    void (*fn)(void *ud, const char *section, const struct opt *o), void *ud)
{
    for (const struct opt *o = cmd->opts; o && o->name; o++) {
        bool dup = false;

        if (!(o->flags & OPT_CONFIG))
            continue;
        /* Subcommands may share an option (targets list/show --format). */
        for (const struct opt *p = cmd->opts; p != o; p++)
            dup |= (p->flags & OPT_CONFIG) && !strcmp(p->name, o->name);
        if (!dup)
            fn(ud, section, o);
    }
    for (const struct omv_cmd *s = cmd->subs; s && s->name; s++)
        keys_of(s, section, fn, ud);
}

void config_keys_foreach(const struct omv_ctx *ctx,
                         void (*fn)(void *ud, const char *section, const struct opt *o), void *ud)
{
    for (const struct opt *o = ctx->global_opts; o->name; o++)
        if (o->flags & OPT_CONFIG)
            fn(ud, "core", o);
    for (const struct omv_cmd *c = ctx->commands; c->name; c++)
        keys_of(c, c->name, fn, ud);
}

struct key_find {
    const char *section, *name;
    const struct opt *found;
};

static void key_find_cb(void *ud, const char *section, const struct opt *o)
{
    struct key_find *kf = ud;

    if (!kf->found && !strcasecmp(section, kf->section) && !strcasecmp(o->name, kf->name))
        kf->found = o;
}

const struct opt *config_key_opt(const struct omv_ctx *ctx, const char *section, const char *name)
{
    struct key_find kf = {section, name, NULL};

    config_keys_foreach(ctx, key_find_cb, &kf);
    return kf.found;
}

/*
 * The range of every number option, command line and config file alike: the one
 * place a number option's bounds are written. Options of subcommands are under
 * their top-level command ("sdk" for sdk install); flash --swd reads flash's.
 */
/* clang-format off */
static const struct config_number config_numbers[] = {
    {"build",   "jobs",          1, 4096},
    {"debug",   "port",          1, 65535},
    {"debug",   "speed",         1, 100000},
    {"debug",   "wait",          0, 3600},
    {"devices", "timeout",       1, 86400},
    {"emulate", "gdb",           1, 65535},
    {"flash",   "address",       0, UINT32_MAX},
    {"flash",   "alt",           0, 255},
    {"flash",   "speed",         1, 100000},
    {"flash",   "wait",          0, 3600},
    {"monitor", "baud",          1, 12000000},
    {"monitor", "timeout",       1, 86400},
    {"recover", "timeout",       1, 86400},
    {"recover", "wait",          0, 3600},
    {"reset",   "wait",          0, 3600},
    {"run",     "timeout",       1, 86400},
    {"sdk",     "retries",       0, 20},
    {"sdk",     "stall-timeout", 1, 3600},
};
/* clang-format on */

const struct config_number *config_key_number(const char *section, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(config_numbers); i++)
        if (!strcasecmp(config_numbers[i].section, section) &&
            !strcasecmp(config_numbers[i].name, name))
            return &config_numbers[i];
    return NULL;
}

bool config_key_user_only(const char *section, const char *name)
{
    static const char *const keys[][2] = {
        {"sdk", "mirror"}, {"sdk", "sha256"},       {"sdk", "cacert"},          {"sdk", "root"},
        {"debug", "gdb"},  {"recover", "se-tools"}, {"vscode", "template-dir"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (!strcasecmp(keys[i][0], section) && !strcasecmp(keys[i][1], name))
            return true;
    return false;
}

/* The flag the handler sets: one device operation catches signals at a time. */
static volatile sig_atomic_t *interrupt_flag;

static void on_interrupt(int sig)
{
    if (interrupt_flag)
        *interrupt_flag = sig;
}

void cmd_interrupts_catch(struct cmd_interrupts *ci, volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = (int)SA_RESETHAND; /* a second Ctrl-C ends omvdev at once */
    *flag = 0;
    interrupt_flag = flag;
    sigaction(SIGINT, &sa, &ci->old_int);
    sigaction(SIGTERM, &sa, &ci->old_term);
}

void cmd_interrupts_restore(struct cmd_interrupts *ci)
{
    sigaction(SIGINT, &ci->old_int, NULL);
    sigaction(SIGTERM, &ci->old_term, NULL);
    interrupt_flag = NULL;
}

int cmd_number(const struct omv_invocation *inv, const char *name, uint64_t *out, char *err,
               size_t errlen)
{
    const char *value = opt_value(&inv->opts, inv->cmd->opts, name);
    size_t seclen = strcspn(inv->path, " ");
    char section[32], what[64];
    const struct config_number *num;

    snprintf(section, sizeof(section), "%.*s", (int)seclen, inv->path);
    num = config_key_number(section, name);
    if (!num) {
        fprintf(stderr, "BUG: no range for the number option %s.%s\n", section, name);
        abort();
    }
    if (!value)
        return 0;
    snprintf(what, sizeof(what), "--%s", name);
    return opt_number(what, value, num->min, num->max, out, err, errlen);
}

int config_value_check(const struct omv_ctx *ctx, const char *section, const char *name,
                       const char *value, char *err, size_t errlen)
{
    const struct opt *o = config_key_opt(ctx, section, name);
    const struct config_number *num = config_key_number(section, name);
    char what[128], choices[256];
    uint64_t v;

    snprintf(what, sizeof(what), "'%s.%s'", section, name);
    if (o && !opt_choice_ok(o, value))
        return omv_seterr(err, errlen, OMV_EUSAGE, "invalid value '%s' for %s (expected %s)", value,
                          what, opt_choices_text(o, choices, sizeof(choices)));
    if (num)
        return opt_number(what, value, num->min, num->max, &v, err, errlen);
    return 0;
}

/* ---- help ------------------------------------------------------------------ */

static void print_opts(FILE *out, const struct opt *opts, const char *section)
{
    for (const struct opt *o = opts; o && o->name; o++) {
        char left[64];
        char choices[256];

        if (o->short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
                     o->kind == OPT_VALUE ? " " : "", o->kind == OPT_VALUE ? o->argname : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->kind == OPT_VALUE ? " " : "",
                     o->kind == OPT_VALUE ? o->argname : "");
        fprintf(out, "  %-24s %s", left, o->help);
        if (o->choices)
            fprintf(out, " (%s)", opt_choices_text(o, choices, sizeof(choices)));
        if ((o->flags & OPT_CONFIG) && section)
            fprintf(out, " [config: %s.%s]", section, o->name);
        fputc('\n', out);
    }
    fprintf(out, "  %-24s %s\n", "-h, --help", "show this help");
}

void help_print_command(struct omv_ctx *ctx, FILE *out, const struct omv_cmd *cmd, const char *path)
{
    const char *section = path;
    char top[64];
    size_t sp = strcspn(path, " ");

    snprintf(top, sizeof(top), "%.*s", (int)sp, path);
    section = top;
    if (cmd->subs) {
        const char *lead = "usage:";

        for (const struct omv_cmd *s = cmd->subs; s->name; s++) {
            bool dflt = cmd->default_sub && !strcmp(cmd->default_sub, s->name);

            fprintf(out, "%s omvdev %s %s%s%s%s%s\n", lead, path, dflt ? "[" : "", s->name,
                    dflt ? "]" : "", *s->synopsis ? " " : "", s->synopsis);
            lead = "   or:";
        }
    } else {
        fprintf(out, "usage: omvdev %s%s%s\n", path, *cmd->synopsis ? " " : "", cmd->synopsis);
    }
    fprintf(out, "\n%s\n", cmd->description);
    if (cmd->subs) {
        fprintf(out, "\n%scommands:%s\n", color_bold(ctx), color_reset(ctx));
        for (const struct omv_cmd *s = cmd->subs; s->name; s++)
            fprintf(out, "  %-10s %s\n", s->name, s->summary);
        fprintf(out, "\nSee 'omvdev %s <command> --help' for a command's options.\n", path);
        return;
    }
    fprintf(out, "\n%soptions:%s\n", color_bold(ctx), color_reset(ctx));
    print_opts(out, cmd->opts, section);
    if (cmd->flags & CMD_JSON)
        fprintf(out, "\nWith the global --json option the result is printed as JSON.\n");
}

void help_print_overview(struct omv_ctx *ctx, FILE *out)
{
    fprintf(out, "usage: omvdev [-C DIR] [-c KEY=VALUE] [-v | -q] [--json] [--config FILE]\n"
                 "              [--color WHEN] <command> [<args>]\n\n"
                 "omvdev runs the OpenMV firmware developer's loop from one command line.\n");
    fprintf(out, "\n%scommands:%s\n", color_bold(ctx), color_reset(ctx));
    for (const struct omv_cmd *c = ctx->commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\n%sglobal options:%s\n", color_bold(ctx), color_reset(ctx));
    print_opts(out, ctx->global_opts, "core");
    fprintf(out, "\n%sexit status:%s\n", color_bold(ctx), color_reset(ctx));
    fprintf(out, "  0  success\n"
                 "  1  the command failed; the message says why\n"
                 "  2  usage error: bad option or argument, unknown command, board or key,\n"
                 "     or a malformed configuration file\n"
                 "  3  no device appeared, or the device failed (a USB or DFU error)\n");
    fprintf(out, "\nSee 'omvdev help <command>' for a command's options and arguments.\n");
}
