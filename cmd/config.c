/*
 * omvdev config list|get|set|unset: the layered configuration.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/strbuf.h"

#include <stdlib.h>
#include <string.h>

static const struct opt list_opts[] = {
    {"show-origin", 0, OPT_FLAG, NULL, "say where each value comes from", NULL, 0, NULL},
    {"all", 'a', OPT_FLAG, NULL, "also list definitions that a higher layer overrides", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt get_opts[] = {
    {"show-origin", 0, OPT_FLAG, NULL, "say where the value comes from", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt set_opts[] = {
    {"user", 0, OPT_FLAG, NULL, "change the user file (the default)", NULL, 0, NULL},
    {"project", 0, OPT_FLAG, NULL, "change .omvdev.ini at the firmware repository's root", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static int cmd_config_list(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_config_get(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_config_set(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_config_unset(struct omv_ctx *ctx, struct omv_invocation *inv);

const struct omv_cmd config_subcommands[] = {
    {"list", cmd_config_list, "list the values in effect", "[--show-origin] [--all]",
     "List every key with the value in effect. --show-origin prefixes each line with the\n"
     "layer and place it comes from (default, user FILE:LINE, project FILE:LINE,\n"
     "environment VARIABLE, command line).",
     list_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"get", cmd_config_get, "print one value", "[--show-origin] KEY",
     "Print the value of KEY (section.name) in effect. Exits 1 when it is not set.", get_opts, NULL,
     NULL, CMD_JSON, COMPLETE_KEYS},
    {"set", cmd_config_set, "set a value in the user or project file",
     "[--user | --project] KEY VALUE",
     "Set KEY in the user file (or the project file with --project). The file is rewritten\n"
     "atomically; its comments, blank lines and other keys stay as they were.",
     set_opts, NULL, NULL, 0, COMPLETE_KEYS},
    {"unset", cmd_config_unset, "remove a value from the user or project file",
     "[--user | --project] KEY",
     "Remove KEY from the user file (or the project file with --project), keeping the\n"
     "rest of the file as it was.",
     set_opts, NULL, NULL, 0, COMPLETE_KEYS},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COMPLETE_NONE},
};

/* "user:/home/me/.config/omvdev/config.ini:3", "environment:OMVDEV_X", "default". */
static void origin_text(struct strbuf *sb, const struct cfg_entry *e)
{
    strbuf_reset(sb);
    strbuf_addstr(sb, cfg_level_name(e->level));
    if (e->level == CFG_LEVEL_USER || e->level == CFG_LEVEL_PROJECT)
        strbuf_addf(sb, ":%s:%u", e->origin, e->line);
    else if (e->level == CFG_LEVEL_ENV)
        strbuf_addf(sb, ":%s", e->origin);
}

static void json_entry(struct json_writer *jw, const struct omv_ctx *ctx, const struct cfg_entry *e)
{
    struct strbuf key = STRBUF_INIT;

    strbuf_addf(&key, "%s.%s", e->section, e->name);
    for (char *p = key.buf; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    json_object_begin(jw, NULL);
    json_string(jw, "key", key.buf);
    json_string(jw, "value", e->value);
    json_string(jw, "level", cfg_level_name(e->level));
    if (e->level == CFG_LEVEL_USER || e->level == CFG_LEVEL_PROJECT) {
        json_string(jw, "file", e->origin);
        json_int(jw, "line", e->line);
    } else if (e->level == CFG_LEVEL_ENV) {
        json_string(jw, "variable", e->origin);
    }
    json_bool(jw, "overridden", !cfg_entry_wins(&ctx->cfg, e));
    json_object_end(jw);
    strbuf_release(&key);
}

static void text_entry(struct strbuf *out, const struct cfg_entry *e, bool show_origin,
                       bool overridden)
{
    struct strbuf origin = STRBUF_INIT;

    if (show_origin) {
        origin_text(&origin, e);
        strbuf_addf(out, "%s\t", origin.buf);
    }
    strbuf_addf(out, "%s.%s=%s%s\n", e->section, e->name, e->value,
                overridden ? "\t(overridden)" : "");
    strbuf_release(&origin);
}

static int cmd_config_list(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct opt *o = inv->cmd->opts;
    bool show_origin = opt_count(&inv->opts, o, "show-origin") > 0;
    bool all = opt_count(&inv->opts, o, "all") > 0;
    struct strbuf out = STRBUF_INIT;
    struct json_writer jw;

    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (ctx->json) {
        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "config");
    }
    /* Entries are kept in the order the layers were read, lowest first. */
    for (size_t i = 0; i < ctx->cfg.nr; i++) {
        const struct cfg_entry *e = &ctx->cfg.entries[i];
        bool wins = cfg_entry_wins(&ctx->cfg, e);

        if (!wins && !all)
            continue;
        if (ctx->json)
            json_entry(&jw, ctx, e);
        else
            text_entry(&out, e, show_origin, !wins);
    }
    if (ctx->json) {
        json_array_end(&jw);
        json_object_end(&jw);
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    return OMV_EXIT_OK;
}

/* Split KEY and complain (with a suggestion) when no command reads it. */
static int known_key(struct omv_ctx *ctx, struct omv_invocation *inv, const char *key,
                     char **section, char **name)
{
    char err[256];

    if (cfg_split_key(key, section, name, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (!config_key_opt(ctx, *section, *name)) {
        error(ctx, "unknown key '%s'", key);
        hint(ctx, "'omvdev config list' shows every key");
        free(*section);
        free(*name);
        *section = *name = NULL;
        return OMV_EXIT_USAGE;
    }
    return 0;
}

static int cmd_config_get(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct cfg_entry *e;
    char *section = NULL, *name = NULL;
    struct strbuf out = STRBUF_INIT;
    int rc;

    if (inv->opts.nr_args != 1)
        return usage_error(ctx, inv, "expected one KEY, e.g. 'omvdev config get core.color'");
    rc = known_key(ctx, inv, inv->opts.args[0], &section, &name);
    if (rc)
        return rc;
    e = cfg_lookup(&ctx->cfg, section, name);
    if (!e) {
        error(ctx, "'%s' is not set", inv->opts.args[0]);
        hint(ctx, "set it with 'omvdev config set %s VALUE'", inv->opts.args[0]);
        rc = OMV_EXIT_FAILURE;
    } else if (ctx->json) {
        struct json_writer jw;

        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_array_begin(&jw, "config");
        json_entry(&jw, ctx, e);
        json_array_end(&jw);
        json_object_end(&jw);
    } else if (opt_count(&inv->opts, inv->cmd->opts, "show-origin")) {
        text_entry(&out, e, true, false);
    } else {
        strbuf_addf(&out, "%s\n", e->value);
    }
    out_write(out.buf, out.len);
    strbuf_release(&out);
    free(section);
    free(name);
    return rc;
}

/* The file `config set/unset` edits, from --user/--project. */
static const char *target_file(struct omv_ctx *ctx, struct omv_invocation *inv, int *rc)
{
    const struct opt *o = inv->cmd->opts;
    bool user = opt_count(&inv->opts, o, "user") > 0;
    bool project = opt_count(&inv->opts, o, "project") > 0;

    *rc = 0;
    if (user && project) {
        *rc = usage_error(ctx, inv, "--user and --project cannot be combined");
        return NULL;
    }
    if (project) {
        if (!ctx->project_config_path) {
            error(ctx, "not inside an openmv firmware repository, so there is no project file");
            hint(ctx, "run it inside your openmv clone, or name it: omvdev -C ~/openmv config "
                      "set --project KEY VALUE");
            *rc = OMV_EXIT_FAILURE;
        }
        return ctx->project_config_path;
    }
    if (!ctx->user_config_path) {
        error(ctx, "there is no user configuration file: HOME and XDG_CONFIG_HOME are unset");
        hint(ctx, "name one with 'omvdev --config FILE config set KEY VALUE'");
        *rc = OMV_EXIT_FAILURE;
    }
    return ctx->user_config_path;
}

static int edit(struct omv_ctx *ctx, struct omv_invocation *inv, const char *key, const char *value)
{
    char *section = NULL, *name = NULL;
    struct strbuf real = STRBUF_INIT;
    char err[1024];
    const char *file;
    int rc;

    rc = known_key(ctx, inv, key, &section, &name);
    if (rc)
        return rc;
    if (value && config_value_check(ctx, section, name, value, err, sizeof(err)) < 0) {
        rc = usage_error(ctx, inv, "%s", err);
        goto out;
    }
    file = target_file(ctx, inv, &rc);
    if (rc)
        goto out;
    if (value && file == ctx->project_config_path && config_key_user_only(section, name)) {
        rc = usage_error(ctx, inv,
                         "'%s.%s' cannot be set in a repository's .omvdev.ini: it decides what "
                         "omvdev downloads or runs, so only your own configuration sets it",
                         section, name);
        hint(ctx, "omvdev config set %s.%s VALUE", section, name);
        goto out;
    }
    /* Through a symlink (dotfiles), never replacing one; the project file stays in the repository.
     */
    rc = fs_resolve_for_write(file == ctx->project_config_path ? ctx->project_root : NULL, file,
                              &real, err, sizeof(err));
    if (rc == 0)
        rc = cfg_edit_file(real.buf, section, name, value, err, sizeof(err));
    if (rc == OMV_ENOENT && !value) {
        error(ctx, "'%s' is not set in '%s'", key, file);
        rc = OMV_EXIT_FAILURE;
    } else if (rc == OMV_EINVAL) {
        rc = usage_error(ctx, inv, "cannot set '%s' to that value: %s; nothing was changed", key,
                         err);
    } else if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_EPARSE)
            hint(ctx, "fix that line first; nothing was changed");
        rc = rc == OMV_EPARSE ? OMV_EXIT_USAGE : OMV_EXIT_FAILURE;
    } else if (value) {
        note(ctx, "set %s.%s = %s in '%s'", section, name, value, file);
    } else {
        note(ctx, "removed %s.%s from '%s'", section, name, file);
    }
out:
    strbuf_release(&real);
    free(section);
    free(name);
    return rc;
}

static int cmd_config_set(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    if (inv->opts.nr_args != 2)
        return usage_error(ctx, inv,
                           "expected KEY VALUE, e.g. 'omvdev config set targets.format rst'");
    return edit(ctx, inv, inv->opts.args[0], inv->opts.args[1]);
}

static int cmd_config_unset(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    if (inv->opts.nr_args != 1)
        return usage_error(ctx, inv, "expected one KEY, e.g. 'omvdev config unset core.color'");
    return edit(ctx, inv, inv->opts.args[0], NULL);
}
