/*
 * omvdev completion bash|zsh|fish: scripts generated from the command table,
 * so every command, subcommand, option, choice, board and config key that
 * omvdev knows completes, and nothing it does not.
 *
 * All three scripts work the same way: walk the words typed so far, skipping
 * options and their values, to find the command path ("targets show"), then
 * offer what that path takes.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/strbuf.h"

#include <stdbool.h>
#include <string.h>

static const char *const shell_choices[] = {"bash", "zsh", "fish", NULL};

const struct opt completion_opts[] = {
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

struct gen {
    struct omv_ctx *ctx;
    struct strbuf *out;
    const char *shell;
};

/* Space-separated words for a completion kind. */
static void kind_words(struct gen *g, enum omv_complete kind, struct strbuf *sb);

static void key_cb(void *ud, const char *section, const struct opt *o)
{
    struct strbuf *sb = ud;

    strbuf_addf(sb, "%s%s.%s", sb->len ? " " : "", section, o->name);
}

static void kind_words(struct gen *g, enum omv_complete kind, struct strbuf *sb)
{
    const struct target_db *db;

    switch (kind) {
    case COMPLETE_NONE:
        break;
    case COMPLETE_TARGETS:
        db = ctx_targets(g->ctx);
        for (size_t i = 0; db && i < db->nr; i++)
            if (db->targets[i].supported)
                strbuf_addf(sb, "%s%s", sb->len ? " " : "", db->targets[i].name);
        break;
    case COMPLETE_KEYS:
        config_keys_foreach(g->ctx, key_cb, sb);
        break;
    case COMPLETE_COMMANDS:
        for (const struct omv_cmd *c = g->ctx->commands; c->name; c++)
            strbuf_addf(sb, "%s%s", sb->len ? " " : "", c->name);
        break;
    case COMPLETE_SHELLS:
        for (const char *const *s = shell_choices; *s; s++)
            strbuf_addf(sb, "%s%s", sb->len ? " " : "", *s);
        break;
    }
}

static void opt_words(const struct opt *opts, struct strbuf *sb)
{
    for (const struct opt *o = opts; o && o->name; o++) {
        strbuf_addf(sb, "%s--%s", sb->len ? " " : "", o->name);
        if (o->short_name)
            strbuf_addf(sb, " -%c", o->short_name);
    }
    strbuf_addf(sb, "%s--help", sb->len ? " " : "");
}

/* Every option that takes a value, as "--name -x" words. */
static void value_opt_words(const struct opt *opts, struct strbuf *sb)
{
    for (const struct opt *o = opts; o && o->name; o++) {
        if (o->kind != OPT_VALUE)
            continue;
        strbuf_addf(sb, "%s--%s", sb->len ? " " : "", o->name);
        if (o->short_name)
            strbuf_addf(sb, " -%c", o->short_name);
    }
}

static void all_value_opts(const struct omv_cmd *table, struct strbuf *sb)
{
    for (const struct omv_cmd *c = table; c && c->name; c++) {
        value_opt_words(c->opts, sb);
        all_value_opts(c->subs, sb);
    }
}

/* The words to offer at `path`: subcommands, or the positional kind. */
static void path_words(struct gen *g, const struct omv_cmd *cmd, struct strbuf *words,
                       struct strbuf *opts)
{
    if (cmd->subs) {
        for (const struct omv_cmd *s = cmd->subs; s->name; s++)
            strbuf_addf(words, "%s%s", words->len ? " " : "", s->name);
    } else {
        kind_words(g, cmd->complete, words);
    }
    /* A command with a default subcommand takes that one's options too. */
    if (cmd->subs && cmd->default_sub)
        opt_words(cmd_lookup(cmd->subs, cmd->default_sub)->opts, opts);
    else
        opt_words(cmd->opts, opts);
}

/* Calls fn for every command path, depth first. */
static void walk(struct gen *g, const struct omv_cmd *table, const char *prefix,
                 void (*fn)(struct gen *g, const char *path, const struct omv_cmd *cmd))
{
    for (const struct omv_cmd *c = table; c && c->name; c++) {
        struct strbuf path = STRBUF_INIT;

        strbuf_addf(&path, "%s%s%s", prefix, *prefix ? " " : "", c->name);
        fn(g, path.buf, c);
        walk(g, c->subs, path.buf, fn);
        strbuf_release(&path);
    }
}

/* Choices of value options, for every option name that has them. */
static void choice_cases(struct gen *g, const struct opt *opts,
                         void (*emit)(struct gen *g, const struct opt *o, const char *words))
{
    for (const struct opt *o = opts; o && o->name; o++) {
        struct strbuf w = STRBUF_INIT;

        if (o->kind != OPT_VALUE || !o->choices)
            continue;
        for (const char *const *c = o->choices; *c; c++)
            strbuf_addf(&w, "%s%s", w.len ? " " : "", *c);
        emit(g, o, w.buf);
        strbuf_release(&w);
    }
}

static void choices_walk(struct gen *g, const struct omv_cmd *table,
                         void (*emit)(struct gen *g, const struct opt *o, const char *words))
{
    for (const struct omv_cmd *c = table; c && c->name; c++) {
        choice_cases(g, c->opts, emit);
        choices_walk(g, c->subs, emit);
    }
}

/* 'text' for sh/zsh ('\'' for a quote) or fish (\' and \\). */
static void quote(struct strbuf *sb, const char *s, bool fish)
{
    strbuf_addch(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'' && !fish)
            strbuf_addstr(sb, "'\\''");
        else if ((*s == '\'' || *s == '\\') && fish)
            strbuf_addf(sb, "\\%c", *s);
        else
            strbuf_addch(sb, *s);
    }
    strbuf_addch(sb, '\'');
}

/* ---- bash --------------------------------------------------------------------- */

static void bash_path(struct gen *g, const char *path, const struct omv_cmd *cmd)
{
    struct strbuf words = STRBUF_INIT, opts = STRBUF_INIT;

    path_words(g, cmd, &words, &opts);
    strbuf_addf(g->out, "    \"%s\") words=\"%s\"; opts=\"%s\" ;;\n", path, words.buf, opts.buf);
    strbuf_release(&words);
    strbuf_release(&opts);
}

static void bash_choice(struct gen *g, const struct opt *o, const char *words)
{
    strbuf_addf(g->out, "    --%s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n",
                o->name, words);
}

static void bash_known(struct gen *g, const char *path, const struct omv_cmd *cmd)
{
    (void)cmd;
    strbuf_addf(g->out, " \"%s\"", path);
}

static void gen_bash(struct gen *g)
{
    struct strbuf v = STRBUF_INIT, top = STRBUF_INIT, gopts = STRBUF_INIT;

    value_opt_words(g->ctx->global_opts, &v);
    all_value_opts(g->ctx->commands, &v);
    kind_words(g, COMPLETE_COMMANDS, &top);
    opt_words(g->ctx->global_opts, &gopts);

    strbuf_addf(g->out, "# bash completion for omvdev, generated by 'omvdev completion bash'.\n"
                        "# Load it with: eval \"$(omvdev completion bash)\"\n\n"
                        "_omvdev_known=(");
    walk(g, g->ctx->commands, "", bash_known);
    strbuf_addf(g->out,
                ")\n\n"
                "_omvdev() {\n"
                "    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
                "    local prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
                "    local path=\"\" w i skip=0 k\n"
                "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
                "        w=\"${COMP_WORDS[i]}\"\n"
                "        if ((skip)); then skip=0; continue; fi\n"
                "        case \" %s \" in *\" $w \"*) skip=1; continue ;; esac\n"
                "        case \"$w\" in -*) continue ;; esac\n"
                "        for k in \"${_omvdev_known[@]}\"; do\n"
                "            if [[ \"$k\" == \"${path:+$path }$w\" ]]; then\n"
                "                path=\"$k\"; break\n"
                "            fi\n"
                "        done\n"
                "    done\n"
                "    case \"$prev\" in\n"
                "    -C|--directory) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n"
                "    --config) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n",
                v.buf);
    choice_cases(g, g->ctx->global_opts, bash_choice);
    choices_walk(g, g->ctx->commands, bash_choice);
    strbuf_addf(g->out,
                "    esac\n"
                "    local words=\"\" opts=\"\"\n"
                "    case \"$path\" in\n"
                "    \"\") words=\"%s\"; opts=\"%s\" ;;\n",
                top.buf, gopts.buf);
    walk(g, g->ctx->commands, "", bash_path);
    strbuf_addstr(g->out, "    esac\n"
                          "    if [[ \"$cur\" == -* ]]; then\n"
                          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
                          "    else\n"
                          "        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
                          "    fi\n"
                          "}\n"
                          "complete -F _omvdev omvdev\n");
    strbuf_release(&v);
    strbuf_release(&top);
    strbuf_release(&gopts);
}

/* ---- zsh ---------------------------------------------------------------------- */

static void zsh_path(struct gen *g, const char *path, const struct omv_cmd *cmd)
{
    struct strbuf words = STRBUF_INIT, opts = STRBUF_INIT;

    path_words(g, cmd, &words, &opts);
    strbuf_addf(g->out, "    (\"%s\") cands=(%s); opts=(%s) ;;\n", path, words.buf, opts.buf);
    strbuf_release(&words);
    strbuf_release(&opts);
}

static void zsh_choice(struct gen *g, const struct opt *o, const char *words)
{
    strbuf_addf(g->out, "    (--%s) compadd -- %s; return ;;\n", o->name, words);
}

static void zsh_desc(struct gen *g, const char *path, const struct omv_cmd *cmd)
{
    strbuf_addf(g->out, "  \"%s\" ", path);
    quote(g->out, cmd->summary, false);
    strbuf_addch(g->out, '\n');
}

static void gen_zsh(struct gen *g)
{
    struct strbuf v = STRBUF_INIT, top = STRBUF_INIT, gopts = STRBUF_INIT;

    value_opt_words(g->ctx->global_opts, &v);
    all_value_opts(g->ctx->commands, &v);
    kind_words(g, COMPLETE_COMMANDS, &top);
    opt_words(g->ctx->global_opts, &gopts);

    strbuf_addf(g->out, "#compdef omvdev\n"
                        "# zsh completion for omvdev, generated by 'omvdev completion zsh'.\n\n"
                        "typeset -gA _omvdev_summary\n"
                        "_omvdev_summary=(\n");
    walk(g, g->ctx->commands, "", zsh_desc);
    strbuf_addf(g->out,
                ")\n\n"
                "_omvdev() {\n"
                "  local cmdpath=\"\" w skip=0 i\n"
                "  local -a valopts cands opts descs\n"
                "  valopts=(%s)\n"
                "  for ((i = 2; i < CURRENT; i++)); do\n"
                "    w=${words[i]}\n"
                "    if ((skip)); then skip=0; continue; fi\n"
                "    if ((${valopts[(Ie)$w]})); then skip=1; continue; fi\n"
                "    [[ $w == -* ]] && continue\n"
                "    if [[ -n ${_omvdev_summary[${cmdpath:+$cmdpath }$w]} ]]; then\n"
                "      cmdpath=\"${cmdpath:+$cmdpath }$w\"\n"
                "    fi\n"
                "  done\n"
                "  case ${words[CURRENT-1]} in\n"
                "    (-C|--directory) _directories; return ;;\n"
                "    (--config) _files; return ;;\n",
                v.buf);
    choice_cases(g, g->ctx->global_opts, zsh_choice);
    choices_walk(g, g->ctx->commands, zsh_choice);
    strbuf_addf(g->out,
                "  esac\n"
                "  case $cmdpath in\n"
                "    (\"\") cands=(%s); opts=(%s) ;;\n",
                top.buf, gopts.buf);
    walk(g, g->ctx->commands, "", zsh_path);
    strbuf_addstr(g->out, "  esac\n"
                          "  if [[ $PREFIX == -* ]]; then\n"
                          "    compadd -- $opts\n"
                          "  else\n"
                          "    for w in $cands; do\n"
                          "      descs+=(\"$w:${_omvdev_summary[${cmdpath:+$cmdpath }$w]}\")\n"
                          "    done\n"
                          "    _describe -t words 'omvdev' descs\n"
                          "  fi\n"
                          "}\n\n"
                          "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
                          "  _omvdev \"$@\"\n"
                          "else\n"
                          "  compdef _omvdev omvdev\n"
                          "fi\n");
    strbuf_release(&v);
    strbuf_release(&top);
    strbuf_release(&gopts);
}

/* ---- fish --------------------------------------------------------------------- */

static void fish_path(struct gen *g, const char *path, const struct omv_cmd *cmd)
{
    struct strbuf words = STRBUF_INIT, opts = STRBUF_INIT;

    if (cmd->subs) {
        for (const struct omv_cmd *s = cmd->subs; s->name; s++) {
            strbuf_addf(g->out, "complete -c omvdev -n '__omvdev_path_is \"%s\"' -f -a %s -d ",
                        path, s->name);
            quote(g->out, s->summary, true);
            strbuf_addch(g->out, '\n');
        }
    } else {
        kind_words(g, cmd->complete, &words);
        if (words.len)
            strbuf_addf(g->out, "complete -c omvdev -n '__omvdev_path_is \"%s\"' -f -a '%s'\n",
                        path, words.buf);
    }
    {
        const struct opt *opts_tab = cmd->opts;

        if (cmd->subs && cmd->default_sub)
            opts_tab = cmd_lookup(cmd->subs, cmd->default_sub)->opts;
        for (const struct opt *o = opts_tab; o && o->name; o++) {
            strbuf_addf(g->out, "complete -c omvdev -n '__omvdev_path_is \"%s\"' -l %s", path,
                        o->name);
            if (o->short_name)
                strbuf_addf(g->out, " -s %c", o->short_name);
            if (o->kind == OPT_VALUE) {
                strbuf_addstr(g->out, " -x");
                if (o->choices) {
                    strbuf_addstr(g->out, " -a '");
                    for (const char *const *c = o->choices; *c; c++)
                        strbuf_addf(g->out, "%s%s", c == o->choices ? "" : " ", *c);
                    strbuf_addch(g->out, '\'');
                }
            }
            strbuf_addstr(g->out, " -d ");
            quote(g->out, o->help, true);
            strbuf_addch(g->out, '\n');
        }
    }
    strbuf_release(&words);
    strbuf_release(&opts);
}

static void gen_fish(struct gen *g)
{
    struct strbuf v = STRBUF_INIT;

    value_opt_words(g->ctx->global_opts, &v);
    all_value_opts(g->ctx->commands, &v);
    strbuf_addf(g->out,
                "# fish completion for omvdev, generated by 'omvdev completion fish'.\n\n"
                "function __omvdev_path\n"
                "    set -l tokens (commandline -opc)\n"
                "    set -l path ''\n"
                "    set -l skip 0\n"
                "    set -l valopts %s\n"
                "    set -l known",
                v.buf);
    walk(g, g->ctx->commands, "", bash_known);
    strbuf_addstr(g->out, "\n"
                          "    for w in $tokens[2..-1]\n"
                          "        if test $skip -eq 1\n"
                          "            set skip 0\n"
                          "            continue\n"
                          "        end\n"
                          "        if contains -- $w $valopts\n"
                          "            set skip 1\n"
                          "            continue\n"
                          "        end\n"
                          "        string match -q -- '-*' $w; and continue\n"
                          "        set -l next (string trim -- \"$path $w\")\n"
                          "        contains -- $next $known; and set path $next\n"
                          "    end\n"
                          "    echo $path\n"
                          "end\n\n"
                          "function __omvdev_path_is\n"
                          "    test (__omvdev_path) = \"$argv[1]\"\n"
                          "end\n\n"
                          "complete -c omvdev -f\n");
    for (const struct omv_cmd *c = g->ctx->commands; c->name; c++) {
        strbuf_addf(g->out, "complete -c omvdev -n '__omvdev_path_is \"\"' -a %s -d ", c->name);
        quote(g->out, c->summary, true);
        strbuf_addch(g->out, '\n');
    }
    for (const struct opt *o = g->ctx->global_opts; o->name; o++) {
        strbuf_addf(g->out, "complete -c omvdev -n '__omvdev_path_is \"\"' -l %s", o->name);
        if (o->short_name)
            strbuf_addf(g->out, " -s %c", o->short_name);
        if (o->kind == OPT_VALUE) {
            if (!strcmp(o->name, "directory"))
                strbuf_addstr(g->out, " -r -a '(__fish_complete_directories)'");
            else if (!strcmp(o->name, "config"))
                strbuf_addstr(g->out, " -r -F");
            else
                strbuf_addstr(g->out, " -x");
            if (o->choices) {
                strbuf_addstr(g->out, " -a '");
                for (const char *const *c = o->choices; *c; c++)
                    strbuf_addf(g->out, "%s%s", c == o->choices ? "" : " ", *c);
                strbuf_addch(g->out, '\'');
            }
        }
        strbuf_addstr(g->out, " -d ");
        quote(g->out, o->help, true);
        strbuf_addch(g->out, '\n');
    }
    walk(g, g->ctx->commands, "", fish_path);
    strbuf_release(&v);
}

int cmd_completion(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf out = STRBUF_INIT;
    struct gen g = {ctx, &out, NULL};

    if (inv->opts.nr_args != 1)
        return usage_error(ctx, inv, "expected a shell: bash, zsh or fish");
    g.shell = inv->opts.args[0];
    if (!strcmp(g.shell, "bash"))
        gen_bash(&g);
    else if (!strcmp(g.shell, "zsh"))
        gen_zsh(&g);
    else if (!strcmp(g.shell, "fish"))
        gen_fish(&g);
    else
        return usage_error(ctx, inv, "unknown shell '%s' (expected bash, zsh or fish)", g.shell);
    if (!ctx_targets(ctx)) {
        strbuf_release(&out);
        return OMV_EXIT_FAILURE;
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    return OMV_EXIT_OK;
}
