/*
 * omvdev help [COMMAND [SUBCOMMAND]] [--man]: the same text as --help, and the
 * omvdev(1) manual page generated from the command table.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/strbuf.h"

#include <string.h>

#ifndef OMVDEV_VERSION
#define OMVDEV_VERSION "unknown"
#endif

const struct opt help_opts[] = {
    {"man", 0, OPT_FLAG, NULL, "print the omvdev(1) manual page (roff)", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* roff-escape one line of text: backslashes, hyphens, leading dots/quotes. */
static void roff(struct strbuf *sb, const char *s)
{
    bool line_start = true;

    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            strbuf_addstr(sb, "\\&");
        line_start = *s == '\n';
        if (*s == '\\')
            strbuf_addstr(sb, "\\e");
        else if (*s == '-')
            strbuf_addstr(sb, "\\-");
        else
            strbuf_addch(sb, *s);
    }
}

static void man_opts(struct strbuf *sb, const struct opt *opts, const char *section)
{
    char choices[256];

    for (const struct opt *o = opts; o && o->name; o++) {
        strbuf_addstr(sb, ".TP\n.B ");
        if (o->short_name)
            strbuf_addf(sb, "\\-%c, ", o->short_name);
        strbuf_addstr(sb, "\\-\\-");
        roff(sb, o->name);
        if (o->kind == OPT_VALUE) {
            strbuf_addstr(sb, " \" \" \"\\fI");
            roff(sb, o->argname);
            strbuf_addstr(sb, "\\fR\"");
        }
        strbuf_addch(sb, '\n');
        roff(sb, o->help);
        if (o->choices) {
            strbuf_addstr(sb, ": ");
            roff(sb, opt_choices_text(o, choices, sizeof(choices)));
        }
        if ((o->flags & OPT_CONFIG) && section) {
            strbuf_addf(sb, ". Config key \\fB%s.", section);
            roff(sb, o->name);
            strbuf_addstr(sb, "\\fR");
        }
        if (o->def) {
            strbuf_addstr(sb, ", default ");
            roff(sb, o->def);
        }
        strbuf_addstr(sb, ".\n");
    }
}

static void man_command(struct strbuf *sb, const struct omv_cmd *cmd, const char *path,
                        const char *section)
{
    if (cmd->subs) {
        for (const struct omv_cmd *s = cmd->subs; s->name; s++) {
            struct strbuf sub = STRBUF_INIT;

            strbuf_addf(&sub, "%s %s", path, s->name);
            man_command(sb, s, sub.buf, section);
            strbuf_release(&sub);
        }
        return;
    }
    strbuf_addstr(sb, ".SS \"omvdev ");
    roff(sb, path);
    if (*cmd->synopsis) {
        strbuf_addch(sb, ' ');
        roff(sb, cmd->synopsis);
    }
    strbuf_addstr(sb, "\"\n");
    roff(sb, cmd->description);
    strbuf_addstr(sb, "\n");
    if (cmd->opts && cmd->opts->name)
        man_opts(sb, cmd->opts, section);
}

static void man_page(struct omv_ctx *ctx, struct strbuf *sb)
{
    strbuf_addf(sb, ".TH OMVDEV 1 \"\" \"omvdev %s\" \"User Commands\"\n", OMVDEV_VERSION);
    strbuf_addstr(sb, ".SH NAME\nomvdev \\- the OpenMV firmware developer's tool\n"
                      ".SH SYNOPSIS\n.B omvdev\n"
                      "[\\-C \\fIDIR\\fR] [\\-c \\fIKEY\\fR=\\fIVALUE\\fR] [\\-v | \\-q] "
                      "[\\-\\-json] [\\-\\-config \\fIFILE\\fR] [\\-\\-color \\fIWHEN\\fR] "
                      "\\fICOMMAND\\fR [\\fIARGS\\fR]\n"
                      ".SH DESCRIPTION\n"
                      "omvdev runs the loop of a developer who changes the C firmware of OpenMV "
                      "cameras: install the pinned SDK, build a board, set up VS Code for "
                      "on\\-chip debugging, flash the camera over USB DFU or a debug probe, "
                      "recover it when it is bricked, watch its console and run scripts on it, "
                      "and explain every failure. "
                      "Results go to standard output (as JSON with \\fB\\-\\-json\\fR, always "
                      "with \\fB\"schema\": 1\\fR); messages go to standard error, each error "
                      "followed where it helps by a \\fBhint:\\fR line with the command that "
                      "fixes it.\n"
                      ".SH GLOBAL OPTIONS\n");
    man_opts(sb, ctx->global_opts, "core");
    strbuf_addstr(sb, ".SH COMMANDS\n");
    for (const struct omv_cmd *c = ctx->commands; c->name; c++)
        man_command(sb, c, c->name, c->name);
    strbuf_addstr(sb, ".SH CONFIGURATION\n"
                      "Settings are read, lowest precedence first, from the built\\-in defaults, "
                      "the user file, the project file \\fI.omvdev.ini\\fR at the root of the "
                      "firmware repository, the environment and the command line. Keys are a "
                      "command's long option names under a \\fB[command]\\fR section; global "
                      "options live under \\fB[core]\\fR. \\fBomvdev config list "
                      "\\-\\-show\\-origin\\fR shows which layer each value comes from.\n"
                      ".SH ENVIRONMENT\n"
                      ".TP\n.B OMVDEV_\\fISECTION\\fB_\\fIKEY\\fR\n"
                      "sets \\fIsection.key\\fR, e.g. \\fBOMVDEV_TARGETS_FORMAT=rst\\fR.\n"
                      ".TP\n.B XDG_CONFIG_HOME\n"
                      "where the user file lives (default \\fI~/.config\\fR).\n"
                      ".TP\n.B NO_COLOR\n"
                      "when set and not empty, no colour unless \\fB\\-\\-color=always\\fR.\n"
                      ".SH FILES\n"
                      ".TP\n.I $XDG_CONFIG_HOME/omvdev/config.ini\nthe user configuration.\n"
                      ".TP\n.I <firmware repository>/.omvdev.ini\nthe project configuration.\n"
                      ".SH EXIT STATUS\n"
                      ".TP\n.B 0\nsuccess.\n"
                      ".TP\n.B 1\nthe command failed; the message says why.\n"
                      ".TP\n.B 2\nusage error: a bad option or argument, an unknown command, "
                      "board or key, or a malformed configuration file.\n"
                      ".TP\n.B 3\nno device appeared, or the device failed (a USB or DFU error).\n"
                      ".SH SEE ALSO\n"
                      "\\fBdfu\\-util\\fR(1), \\fBopenocd\\fR(1), \\fBqemu\\-system\\-arm\\fR(1), "
                      "\\fBgdb\\fR(1), and the files under \\fIdocs/\\fR in omvdev's source.\n");
}

int cmd_help(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct omv_cmd *cmd = NULL, *table = ctx->commands;
    struct strbuf path = STRBUF_INIT;

    if (opt_count(&inv->opts, inv->cmd->opts, "man")) {
        struct strbuf sb = STRBUF_INIT;

        if (inv->opts.nr_args)
            return usage_error(ctx, inv, "--man takes no command");
        man_page(ctx, &sb);
        out_write(sb.buf, sb.len);
        strbuf_release(&sb);
        return OMV_EXIT_OK;
    }
    if (!inv->opts.nr_args) {
        help_print_overview(ctx, stdout);
        return OMV_EXIT_OK;
    }
    for (int i = 0; i < inv->opts.nr_args; i++) {
        const struct omv_cmd *next = cmd_lookup(table, inv->opts.args[i]);

        if (!next) {
            error(ctx, "no help for '%s%s%s': it is not an omvdev command", path.buf,
                  path.len ? " " : "", inv->opts.args[i]);
            hint(ctx, "'omvdev --help' lists the commands");
            strbuf_release(&path);
            return OMV_EXIT_USAGE;
        }
        strbuf_addf(&path, "%s%s", path.len ? " " : "", next->name);
        cmd = next;
        table = next->subs;
    }
    help_print_command(ctx, stdout, cmd, path.buf);
    strbuf_release(&path);
    return OMV_EXIT_OK;
}
