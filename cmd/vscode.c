/*
 * omvdev vscode: .vscode/launch.json, tasks.json, extensions.json and
 * settings.json for debugging the firmware with Cortex-Debug and a J-Link,
 * generated from templates/vscode/ and merged into what is there without
 * losing a byte of the user's own configuration (lib/jsonc.c does the
 * merging; this file knows the boards, the SDK and WSL).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "lib/proc.h"

#include "lib/diff.h"
#include "lib/embed.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/hostenv.h"
#include "lib/json.h"
#include "lib/jsonc.h"
#include "lib/strbuf.h"
#include "lib/template.h"
#include "sdk/locate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct embedded_file template_files[];
extern const size_t template_files_count;

#define MARKER_KEY      "omvdev"
#define JLINK_PORT      2331
#define JLINK_SERVER_CL "JLinkGDBServerCLExe"

static const char *const only_choices[] = {"launch", "tasks", "extensions", "settings", NULL};

const struct opt vscode_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET", "a board to configure (may be given many times)", NULL,
     OPT_REPEAT, NULL},
    {"all", 'a', OPT_FLAG, NULL, "every board that has a J-Link device", NULL, 0, NULL},
    {"stdout", 0, OPT_FLAG, NULL, "print the generated JSON and touch no file", NULL, 0, NULL},
    {"only", 0, OPT_VALUE, "FILE", "generate only this file", only_choices, 0, NULL},
    {"dry-run", 'n', OPT_FLAG, NULL, "say what would change and write nothing", NULL, 0, NULL},
    {"diff", 0, OPT_FLAG, NULL, "show the changes as a unified diff and write nothing", NULL, 0,
     NULL},
    {"force", 'f', OPT_FLAG, NULL, "regenerate omvdev's entries even where you edited them", NULL,
     0, NULL},
    {"template-dir", 0, OPT_VALUE, "DIR", "read the templates from DIR (missing ones: built-in)",
     NULL, OPT_CONFIG, NULL},
    {"jlink-host", 0, OPT_VALUE, "HOST[:PORT]",
     "use the J-Link GDB server running on HOST (WSL: on Windows)", NULL, OPT_CONFIG, NULL},
    {"svd", 0, OPT_VALUE, "FILE", "the CMSIS SVD file for the peripheral view (one board)", NULL, 0,
     NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* SVD files the firmware repository itself carries (seed guide §10.6.4): the
 * Alif DFP has one per part and core, e.g. AE722F80F55D5LS_CM55_HP_View.svd. */
static const struct {
    const char *target;
    const char *dir;    /* relative to the repository root */
    const char *prefix; /* the file name starts so (the part, less its package letters) */
    const char *suffix; /* ... and ends so */
} known_svds[] = {
    {"OPENMV_AE3", "lib/micropython/lib/alif_ensemble-cmsis-dfp/Debug/SVD", "AE722F80F55D5",
     "_CM55_HP_View.svd"},
};

/* The four files, in the order they are written and reported. */
enum vs_file { VS_LAUNCH, VS_TASKS, VS_EXTENSIONS, VS_SETTINGS, VS_NR_FILES };

static const struct {
    const char *name;      /* in .vscode/ and in templates/vscode/ */
    const char *array_key; /* the array of generated entries, NULL for settings */
    const char *id_key;
} files[VS_NR_FILES] = {
    {"launch.json", "configurations", "name"},
    {"tasks.json", "tasks", "label"},
    {"extensions.json", "recommendations", NULL},
    {"settings.json", NULL, NULL},
};

struct vs_file_out {
    bool wanted;
    bool exists;
    struct strbuf path;     /* <root>/.vscode/<name> */
    struct strbuf display;  /* .vscode/<name> */
    struct strbuf old, new; /* texts */
    struct strbuf fresh;    /* what a new file would hold (--stdout) */
    /* what the merge did, one per entry */
    struct jsonc_merge_item *items;
    char **ids;
    size_t nr_items;
    enum jsonc_merge_status *mstatus; /* settings */
    bool *added;                      /* extensions */
};

struct vs_run {
    struct omv_ctx *ctx;
    const char *root; /* NULL outside a repository (--stdout only) */
    const char *template_dir;
    bool force;
    /* the toolchain */
    char *toolchain_dir; /* portable (${userHome}/...), or NULL */
    char *toolchain_abs;
    char *gdb_path;
    char *jlink_server; /* absolute path of a Linux J-Link GDB server, or NULL */
    /* the server on another host (WSL) */
    bool external;
    char *gdb_target; /* host:port */
    /* templates, expanded per board */
    struct strbuf tmpl[VS_NR_FILES];
    struct strbuf tmpl_name[VS_NR_FILES];
    char *skeleton[VS_NR_FILES];
    /* generated entries per file */
    char **entries[VS_NR_FILES];
    size_t nr_entries[VS_NR_FILES];
    char **keys; /* settings */
    size_t nr_keys;
    char **values;
};

/* ---- environment ----------------------------------------------------------------- */

/* /proc and friends, under $OMVDEV_SYSROOT when tests set it. */
static void sys_path(struct strbuf *sb, const char *path)
{
    const char *root = getenv("OMVDEV_SYSROOT");

    if (root && *root)
        fs_path_join(sb, root, path);
    else
        strbuf_addstr(sb, path);
}

static bool running_in_wsl(void)
{
    struct strbuf p = STRBUF_INIT, text = STRBUF_INIT;
    const char *d = getenv("WSL_DISTRO_NAME");
    bool wsl = d && *d;

    sys_path(&p, "/proc/sys/kernel/osrelease");
    if (!wsl && fs_read_file(p.buf, &text, NULL, 0) == 0)
        wsl = hostenv_osrelease_is_wsl(text.buf);
    strbuf_release(&p);
    strbuf_release(&text);
    return wsl;
}

/* The default gateway from /proc/net/route: the Windows host in WSL2's NAT mode. */
static char *default_gateway(void)
{
    struct strbuf p = STRBUF_INIT, text = STRBUF_INIT, ip = STRBUF_INIT;
    char *result = NULL;

    sys_path(&p, "/proc/net/route");
    if (fs_read_file(p.buf, &text, NULL, 0) == 0 && hostenv_default_gateway(text.buf, &ip) == 0)
        result = strbuf_detach(&ip, NULL);
    strbuf_release(&p);
    strbuf_release(&text);
    strbuf_release(&ip);
    return result;
}

/* The first executable `name` on $PATH, or NULL. */
static char *which(const char *name)
{
    struct strbuf sb = STRBUF_INIT;

    if (proc_find_program(name, NULL, &sb, NULL, 0) == 0)
        return strbuf_detach(&sb, NULL);
    strbuf_release(&sb);
    return NULL;
}

/* `abs` with $HOME (or `root`) replaced by a VS Code variable, when it lies inside. */
static char *portable_path(const char *abs, const char *root)
{
    const char *home = getenv("HOME");
    struct strbuf sb = STRBUF_INIT;
    size_t n;

    if (root && (n = strlen(root)) > 1 && !strncmp(abs, root, n) && abs[n] == '/') {
        strbuf_addf(&sb, "${workspaceFolder}%s", abs + n);
    } else if (home && (n = strlen(home)) > 1 && home[n - 1] != '/' && !strncmp(abs, home, n) &&
               abs[n] == '/') {
        strbuf_addf(&sb, "${userHome}%s", abs + n);
    } else {
        strbuf_addstr(&sb, abs);
    }
    return strbuf_detach(&sb, NULL);
}

/* The newest "openmv-sdk-<version>" directory in `parent`, or NULL. */
static char *newest_sdk(const char *parent)
{
    struct sdk_found_list l = SDK_FOUND_LIST_INIT;
    char *best = NULL;

    sdk_find_installed(parent, &l);
    for (size_t i = l.nr; i-- > 0 && !best;)
        if (!getenv("SDK_DIR") || i + 1 < l.nr) /* $SDK_DIR, listed last, was tried first */
            best = xstrdup(l.items[i].dir);
    sdk_found_list_release(&l);
    return best;
}

/* Where arm-none-eabi-gdb is: the SDK the repository pins, else the newest one installed. */
static void find_toolchain(struct vs_run *r)
{
    struct omv_ctx *ctx = r->ctx;
    const struct cfg_entry *sdk_root = cfg_lookup(&ctx->cfg, "sdk", "root");
    const char *parent = sdk_root ? sdk_root->value : getenv("HOME");
    struct strbuf version = STRBUF_INIT, dir = STRBUF_INIT, gcc = STRBUF_INIT;
    char err[512];
    int rc = OMV_ENOENT;

    if (r->root)
        rc = sdk_repo_version(r->root, &version, err, sizeof(err));
    if (rc == 0) {
        if (sdk_dir(parent, version.buf, &dir, err, sizeof(err)) < 0) {
            warning(ctx, "%s: the configuration leaves the toolchain path out", err);
            goto out;
        }
    } else {
        const char *env = getenv("SDK_DIR");
        char *newest = NULL;

        const char *how;

        if (rc != OMV_ENOENT)
            warning(ctx, "%s", err);
        if (env && *env) {
            fs_absolute(&dir, env);
            how = "using $SDK_DIR";
        } else if (parent && (newest = newest_sdk(parent))) {
            strbuf_addstr(&dir, newest);
            free(newest);
            how = "using the newest installed SDK";
        } else {
            how = "and no SDK is installed";
        }
        if (!r->root)
            note(ctx, "not in a firmware repository, so no SDK_VERSION says which SDK: %s", how);
        else if (rc == OMV_ENOENT)
            warning(ctx, "'%s/SDK_VERSION' is missing (releases before 5.0 have none): %s", r->root,
                    how);
        if (!dir.len) {
            warning(ctx, "the configuration leaves armToolchainPath out: Cortex-Debug will look "
                         "for arm-none-eabi-gdb on PATH");
            if (r->root && rc == OMV_ENOENT)
                hint(ctx, "this release builds with the toolchain on PATH: put the Arm GNU "
                          "Toolchain's bin/ there (it has arm-none-eabi-gdb), or set SDK_DIR");
            else
                hint(ctx, "install the SDK the firmware needs (omvdev sdk install), or set "
                          "SDK_DIR, then run omvdev vscode again");
            goto out;
        }
        note(ctx, "toolchain: %s/gcc/bin", dir.buf);
    }
    fs_path_join(&gcc, dir.buf, "gcc/bin");
    if (!fs_is_dir(gcc.buf)) {
        warning(ctx, "'%s' does not exist yet: the SDK is not installed", gcc.buf);
        hint(ctx, "omvdev sdk install");
    }
    r->toolchain_abs = xstrdup(gcc.buf);
    r->toolchain_dir = portable_path(gcc.buf, NULL);
    strbuf_reset(&gcc);
    strbuf_addf(&gcc, "%s/arm-none-eabi-gdb", r->toolchain_abs);
    if (fs_is_dir(r->toolchain_abs) && !fs_is_file(gcc.buf))
        warning(ctx, "'%s' does not exist: the gdbPath written will not start", gcc.buf);
    strbuf_reset(&gcc);
    strbuf_addf(&gcc, "%s/arm-none-eabi-gdb", r->toolchain_dir);
    r->gdb_path = strbuf_detach(&gcc, NULL);
out:
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&gcc);
}

/* "HOST[:PORT]" into "host:port"; NULL when malformed. */
static char *parse_host(const char *s)
{
    struct strbuf sb = STRBUF_INIT;

    if (hostenv_parse_host_port(s, JLINK_PORT, &sb) < 0) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* Does the firmware repository build board `name` (current or pre-4.6 layout)?
 * With name NULL: is it the current layout (a boards/ directory at the top)? */
static bool repo_has_board(const char *root, const char *name)
{
    struct strbuf p = STRBUF_INIT, q = STRBUF_INIT;
    bool has;

    strbuf_addf(&p, "%s/boards/%s", root, name ? name : "");
    strbuf_addf(&q, "%s/src/omv/boards/%s", root, name ? name : "");
    has = fs_is_dir(p.buf) || (name && fs_is_dir(q.buf));
    strbuf_release(&p);
    strbuf_release(&q);
    return has;
}

/* ---- templates ----------------------------------------------------------------- */

static int load_templates(struct vs_run *r)
{
    for (int f = 0; f < VS_NR_FILES; f++) {
        char err[512];

        strbuf_init(&r->tmpl[f]);
        strbuf_init(&r->tmpl_name[f]);
        if (r->template_dir) {
            fs_path_join(&r->tmpl_name[f], r->template_dir, files[f].name);
            if (fs_is_file(r->tmpl_name[f].buf)) {
                if (fs_read_file(r->tmpl_name[f].buf, &r->tmpl[f], err, sizeof(err)) < 0)
                    return error(r->ctx, "%s", err);
                continue;
            }
            strbuf_reset(&r->tmpl_name[f]);
        }
        for (size_t i = 0; i < template_files_count; i++)
            if (!strcmp(template_files[i].name, files[f].name))
                strbuf_add(&r->tmpl[f], template_files[i].data, template_files[i].len);
        strbuf_addf(&r->tmpl_name[f], "templates/vscode/%s (built in)", files[f].name);
    }
    return 0;
}

/* Expand template f with vars, parse it, and collect its entries (and, the
 * first time, the skeleton: the document with the entry array emptied). */
static int instantiate(struct vs_run *r, int f, const struct template_var *vars, size_t nr)
{
    struct strbuf text = STRBUF_INIT, sk = STRBUF_INIT;
    struct jsonc_doc doc;
    const struct jsonc_node *root, *arr = NULL;
    char err[512];
    int rc;

    jsonc_doc_init(&doc);
    rc = template_expand(r->tmpl[f].buf, r->tmpl[f].len, r->tmpl_name[f].buf, vars, nr,
                         TEMPLATE_JSON_STRING, &text, err, sizeof(err));
    if (rc == 0)
        rc = jsonc_parse(&doc, text.buf, text.len, r->tmpl_name[f].buf, 0, err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "%s", err);
        goto out;
    }
    root = doc.root;
    if (files[f].array_key)
        arr = jsonc_get(root, files[f].array_key);
    if (!root || root->type != JSONC_OBJECT ||
        (files[f].array_key && (!arr || arr->type != JSONC_ARRAY))) {
        rc =
            error(r->ctx, "%s: expected an object with %s%s%s after the placeholders are filled in",
                  r->tmpl_name[f].buf, files[f].array_key ? "an array \"" : "members",
                  files[f].array_key ? files[f].array_key : "", files[f].array_key ? "\"" : "");
        goto out;
    }
    if (!r->skeleton[f]) {
        strbuf_addch(&sk, '{');
        for (size_t i = 0; files[f].array_key && i < root->nr_kids; i++) {
            const struct jsonc_node *m = &root->kids[i];

            if (sk.len > 1)
                strbuf_addch(&sk, ',');
            jsonc_quote(&sk, m->key, m->key_len);
            strbuf_addch(&sk, ':');
            if (m == arr)
                strbuf_addstr(&sk, "[]");
            else
                jsonc_write(&sk, m, text.buf, NULL, NULL, NULL);
        }
        strbuf_addch(&sk, '}');
        r->skeleton[f] = strbuf_detach(&sk, NULL);
    }
    if (f == VS_SETTINGS) {
        for (size_t i = 0; i < root->nr_kids; i++) {
            struct strbuf v = STRBUF_INIT;

            jsonc_write(&v, &root->kids[i], text.buf, NULL, NULL, NULL);
            r->keys = xrealloc(r->keys, (r->nr_keys + 1) * sizeof(*r->keys));
            r->values = xrealloc(r->values, (r->nr_keys + 1) * sizeof(*r->values));
            r->keys[r->nr_keys] = xstrndup(root->kids[i].key, root->kids[i].key_len);
            r->values[r->nr_keys] = strbuf_detach(&v, NULL);
            r->nr_keys++;
        }
        goto out;
    }
    for (size_t i = 0; i < arr->nr_kids; i++) {
        struct strbuf e = STRBUF_INIT;

        if (f == VS_EXTENSIONS) {
            if (arr->kids[i].type != JSONC_STRING)
                continue;
            strbuf_addstr(&e, arr->kids[i].str);
        } else {
            const struct jsonc_node *id = jsonc_get(&arr->kids[i], files[f].id_key);

            if (arr->kids[i].type != JSONC_OBJECT || !id || id->type != JSONC_STRING) {
                rc = error(r->ctx, "%s: every entry of \"%s\" needs a string \"%s\"",
                           r->tmpl_name[f].buf, files[f].array_key, files[f].id_key);
                goto out;
            }
            jsonc_write(&e, &arr->kids[i], text.buf, NULL, NULL, NULL);
        }
        r->entries[f] = xrealloc(r->entries[f], (r->nr_entries[f] + 1) * sizeof(char *));
        r->entries[f][r->nr_entries[f]++] = strbuf_detach(&e, NULL);
    }
out:
    jsonc_doc_release(&doc);
    strbuf_release(&text);
    strbuf_release(&sk);
    return rc < 0 ? -1 : 0;
}

/* The SVD file for board t: --svd, or one the repository carries. NULL: none. */
static char *board_svd(struct vs_run *r, const struct target *t, const char *svd_arg)
{
    struct strbuf abs = STRBUF_INIT, best = STRBUF_INIT;
    char *result = NULL;

    if (svd_arg) {
        fs_absolute(&abs, svd_arg);
        result = portable_path(abs.buf, r->root);
        strbuf_release(&abs);
        return result;
    }
    for (size_t i = 0; r->root && i < ARRAY_SIZE(known_svds); i++) {
        DIR *d;
        struct dirent *de;

        if (strcmp(known_svds[i].target, t->name))
            continue;
        fs_path_join(&abs, r->root, known_svds[i].dir);
        d = opendir(abs.buf);
        while (d && (de = readdir(d))) {
            size_t n = strlen(de->d_name), s = strlen(known_svds[i].suffix);

            /* The first match by name, so the choice does not depend on readdir order. */
            if (n > s && !strcmp(de->d_name + n - s, known_svds[i].suffix) &&
                !strncmp(de->d_name, known_svds[i].prefix, strlen(known_svds[i].prefix)) &&
                (!best.len || strcmp(de->d_name, best.buf) < 0)) {
                strbuf_reset(&best);
                strbuf_addstr(&best, de->d_name);
            }
        }
        if (best.len) {
            struct strbuf p = STRBUF_INIT;

            strbuf_addf(&p, "${workspaceFolder}/%s/%s", known_svds[i].dir, best.buf);
            result = strbuf_detach(&p, NULL);
        }
        if (d)
            closedir(d);
    }
    strbuf_release(&abs);
    strbuf_release(&best);
    return result;
}

static int generate(struct vs_run *r, const struct target *const *boards, size_t nr,
                    const char *svd_arg)
{
    for (size_t b = 0; b < nr; b++) {
        const struct target *t = boards[b];
        struct strbuf debug = STRBUF_INIT, release = STRBUF_INIT, flash = STRBUF_INIT,
                      clean = STRBUF_INIT, build_dir = STRBUF_INIT;
        char *svd = board_svd(r, t, svd_arg);
        int rc;

        cmd_build_dir_rel(r->ctx, t->name, &build_dir);
        strbuf_addf(&debug, "omvdev: build %s (debug)", t->name);
        strbuf_addf(&release, "omvdev: build %s (release)", t->name);
        strbuf_addf(&flash, "omvdev: flash %s", t->name);
        strbuf_addf(&clean, "omvdev: clean %s", t->name);
        {
            const struct template_var vars[] = {
                {"TARGET", t->name},
                {"CAMERA", t->camera},
                {"BUILD_DIR", build_dir.buf},
                {"DEVICE", r->external ? NULL : t->jlink_device},
                {"DEBUG_ELF", t->debug_elf},
                {"REQUEST", t->boots_external_flash ? "attach" : "launch"},
                {"RUN_TO_ENTRY", t->boots_external_flash ? NULL : "main"},
                {"SERVERTYPE", r->external ? "external" : "jlink"},
                {"INTERFACE", r->external ? NULL : "swd"},
                {"GDB_TARGET", r->external ? r->gdb_target : NULL},
                {"TOOLCHAIN_DIR", r->toolchain_dir},
                {"GDB_PATH", r->gdb_path},
                {"SVD_FILE", svd},
                {"BUILD_TASK", debug.buf},
                {"DEBUG_TASK", debug.buf},
                {"RELEASE_TASK", release.buf},
                {"FLASH_TASK", flash.buf},
                {"CLEAN_TASK", clean.buf},
                {"TOOLCHAIN_DIR_ABS", r->toolchain_abs},
                {"JLINK_SERVER", r->external ? NULL : r->jlink_server},
            };

            rc = instantiate(r, VS_LAUNCH, vars, ARRAY_SIZE(vars));
            if (rc == 0)
                rc = instantiate(r, VS_TASKS, vars, ARRAY_SIZE(vars));
            if (rc == 0 && b == 0)
                rc = instantiate(r, VS_EXTENSIONS, vars, ARRAY_SIZE(vars));
            if (rc == 0 && b == 0)
                rc = instantiate(r, VS_SETTINGS, vars, ARRAY_SIZE(vars));
        }
        free(svd);
        strbuf_release(&debug);
        strbuf_release(&release);
        strbuf_release(&flash);
        strbuf_release(&clean);
        strbuf_release(&build_dir);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- merging and writing ----------------------------------------------------------- */

/* Merge file f's entries into `old` (text of len bytes) → out. */
static int merge_one(struct vs_run *r, int f, struct vs_file_out *o, const char *old, size_t len,
                     const char *name, struct strbuf *out, char *err, size_t errlen)
{
    switch (f) {
    case VS_LAUNCH:
    case VS_TASKS:
        for (size_t i = 0; i < o->nr_items; i++)
            o->items[i].status = JSONC_MERGE_ADDED;
        return jsonc_merge_array(old, len, name, r->skeleton[f], files[f].array_key,
                                 files[f].id_key, MARKER_KEY, o->items, o->nr_items, r->force, out,
                                 err, errlen);
    case VS_EXTENSIONS:
        return jsonc_merge_strings(old, len, name, r->skeleton[f], "recommendations",
                                   "unwantedRecommendations", (const char *const *)r->entries[f],
                                   r->nr_entries[f], o->added, out, err, errlen);
    default:
        return jsonc_merge_members(old, len, name, "{}", (const char *const *)r->keys,
                                   (const char *const *)r->values, r->nr_keys, r->force, o->mstatus,
                                   out, err, errlen);
    }
}

static void file_out_init(struct vs_file_out *o)
{
    memset(o, 0, sizeof(*o));
    strbuf_init(&o->path);
    strbuf_init(&o->display);
    strbuf_init(&o->old);
    strbuf_init(&o->new);
    strbuf_init(&o->fresh);
}

static void file_out_release(struct vs_file_out *o)
{
    strbuf_release(&o->path);
    strbuf_release(&o->display);
    strbuf_release(&o->old);
    strbuf_release(&o->new);
    strbuf_release(&o->fresh);
    for (size_t i = 0; i < o->nr_items; i++)
        free(o->ids[i]);
    free(o->ids);
    free(o->items);
    free(o->mstatus);
    free(o->added);
}

/* The id of a generated entry, for messages. */
static char *entry_id(const char *json, const char *key)
{
    struct jsonc_doc doc;
    const struct jsonc_node *n;
    char *id = NULL;

    jsonc_doc_init(&doc);
    if (jsonc_parse(&doc, json, strlen(json), "entry", JSONC_STRICT, NULL, 0) == 0 &&
        (n = jsonc_get(doc.root, key)) && n->type == JSONC_STRING)
        id = xstrdup(n->str);
    jsonc_doc_release(&doc);
    return id ? id : xstrdup("?");
}

/* A symlinked file (dotfiles) is updated where it points, not replaced by a file. */
static void follow_link(struct strbuf *path)
{
    for (int hops = 0; hops < 8; hops++) {
        struct strbuf target = STRBUF_INIT, abs = STRBUF_INIT;
        struct stat st;
        ssize_t n;

        if (lstat(path->buf, &st) < 0 || !S_ISLNK(st.st_mode))
            return;
        strbuf_grow(&target, 4096);
        n = readlink(path->buf, target.buf, target.alloc - 1);
        if (n <= 0) {
            strbuf_release(&target);
            return;
        }
        strbuf_setlen(&target, (size_t)n);
        if (target.buf[0] != '/') {
            strbuf_add(&abs, path->buf, (size_t)(strrchr(path->buf, '/') - path->buf));
            fs_path_join(&abs, "", target.buf);
        } else {
            strbuf_addstr(&abs, target.buf);
        }
        strbuf_reset(path);
        fs_absolute(path, abs.buf);
        strbuf_release(&target);
        strbuf_release(&abs);
    }
}

static int prepare(struct vs_run *r, int f, struct vs_file_out *o, bool read_old)
{
    char err[1024];
    int rc;

    if (files[f].array_key && files[f].id_key) {
        o->nr_items = r->nr_entries[f];
        o->items = xcalloc(o->nr_items + 1, sizeof(*o->items));
        o->ids = xcalloc(o->nr_items + 1, sizeof(*o->ids));
        for (size_t i = 0; i < o->nr_items; i++) {
            o->items[i].json = r->entries[f][i];
            o->ids[i] = entry_id(r->entries[f][i], files[f].id_key);
        }
    }
    o->added = xcalloc(r->nr_entries[f] + 1, sizeof(*o->added));
    o->mstatus = xcalloc(r->nr_keys + 1, sizeof(*o->mstatus));
    strbuf_addf(&o->display, ".vscode/%s", files[f].name);
    rc = merge_one(r, f, o, "", 0, o->display.buf, &o->fresh, err, sizeof(err));
    if (rc < 0)
        return error(r->ctx, "%s", err);
    {
        /* What omvdev writes into a new file is strict JSON, whatever the templates hold. */
        struct jsonc_doc strict;

        jsonc_doc_init(&strict);
        rc = jsonc_parse(&strict, o->fresh.buf, o->fresh.len, o->display.buf, JSONC_STRICT, err,
                         sizeof(err));
        jsonc_doc_release(&strict);
        if (rc < 0)
            return error(r->ctx, "BUG: the generated %s is not strict JSON: %s", files[f].name,
                         err);
    }
    if (!read_old)
        return 0;
    fs_path_join(&o->path, r->root, o->display.buf);
    rc = fs_read_file(o->path.buf, &o->old, err, sizeof(err));
    if (rc == OMV_ENOENT) {
        rc = 0;
    } else if (rc < 0) {
        return error(r->ctx, "%s", err);
    } else {
        o->exists = true;
        follow_link(&o->path);
    }
    rc = merge_one(r, f, o, o->old.buf, o->old.len, o->path.buf, &o->new, err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "%s", err);
        hint(r->ctx, "fix that place (VS Code's editor shows it too) and run omvdev vscode again; "
                     "nothing was written");
        return -1;
    }
    return 0;
}

static bool is_changed(const struct vs_file_out *o)
{
    return !o->exists || o->old.len != o->new.len || memcmp(o->old.buf, o->new.buf, o->old.len);
}

/* One line per entry that was or would be touched, and warnings for those kept. */
static void report_entries(struct vs_run *r, int f, const struct vs_file_out *o, bool dry,
                           struct strbuf *sb)
{
    for (size_t i = 0; i < o->nr_items; i++) {
        enum jsonc_merge_status s = o->items[i].status;

        if (dry && s != JSONC_MERGE_UNCHANGED)
            strbuf_addf(sb, "  %s: '%s'\n", jsonc_merge_status_name(s), o->ids[i]);
        if (s == JSONC_MERGE_KEPT_EDITED) {
            warning(r->ctx,
                    "%s: '%s' was changed since omvdev generated it, so it is left as it is",
                    o->display.buf, o->ids[i]);
            hint(r->ctx,
                 "run omvdev vscode again with --force to regenerate it (the previous file is kept "
                 "as %s.bak)",
                 o->display.buf);
        } else if (s == JSONC_MERGE_KEPT_FOREIGN) {
            warning(r->ctx, "%s: '%s' is your own (it has no \"" MARKER_KEY "\" marker): kept",
                    o->display.buf, o->ids[i]);
            hint(r->ctx, "rename or delete it to get the generated one");
        }
    }
    for (size_t i = 0; f == VS_EXTENSIONS && dry && i < r->nr_entries[f]; i++)
        if (o->added[i])
            strbuf_addf(sb, "  added: '%s'\n", r->entries[f][i]);
    for (size_t i = 0; f == VS_SETTINGS && i < r->nr_keys; i++) {
        enum jsonc_merge_status s = o->mstatus[i];

        if (dry && s != JSONC_MERGE_UNCHANGED)
            strbuf_addf(sb, "  %s: '%s'\n", jsonc_merge_status_name(s), r->keys[i]);
        if (s == JSONC_MERGE_KEPT_EDITED) {
            warning(r->ctx, "%s: '%s' is set to something else: kept", o->display.buf, r->keys[i]);
            hint(r->ctx, "omvdev vscode --force sets it to %s", r->values[i]);
        }
    }
}

static void summary(const struct vs_file_out *o, struct strbuf *sb)
{
    size_t count[JSONC_MERGE_KEPT_FOREIGN + 1] = {0};
    bool any = false;

    for (size_t i = 0; i < o->nr_items; i++)
        count[o->items[i].status]++;
    for (size_t i = 0; i < JSONC_MERGE_KEPT_FOREIGN + 1; i++) {
        if (!count[i] || i == JSONC_MERGE_UNCHANGED)
            continue;
        strbuf_addf(sb, "%s%zu %s", any ? ", " : " (", count[i],
                    jsonc_merge_status_name((enum jsonc_merge_status)i));
        any = true;
    }
    if (any)
        strbuf_addch(sb, ')');
}

/* 0666 less the umask, as open(2) would make a new file. */
static mode_t new_file_mode(void)
{
    mode_t mask = umask(022);

    umask(mask);
    return 0666 & ~mask;
}

static int write_file(struct vs_run *r, struct vs_file_out *o)
{
    struct strbuf bak = STRBUF_INIT, msg = STRBUF_INIT;
    char err[1024];
    int rc = 0;

    if (o->exists) {
        strbuf_addf(&bak, "%s.bak", o->path.buf);
        rc = fs_write_atomic(bak.buf, o->old.buf, o->old.len, new_file_mode(), err, sizeof(err));
    }
    if (rc == 0)
        rc =
            fs_write_atomic(o->path.buf, o->new.buf, o->new.len, new_file_mode(), err, sizeof(err));
    if (rc < 0) {
        error(r->ctx, "%s", err);
        goto out;
    }
    strbuf_addf(&msg, "%s %s", o->exists ? "updated" : "created", o->display.buf);
    summary(o, &msg);
    if (o->exists)
        strbuf_addf(&msg, "; the previous one is %s.bak", o->display.buf);
    note(r->ctx, "%s", msg.buf);
out:
    strbuf_release(&bak);
    strbuf_release(&msg);
    return rc;
}

/* --stdout: one document as it is, several as one object keyed by file name. */
static void print_fresh(struct vs_file_out *outs, size_t nr_wanted)
{
    struct strbuf sb = STRBUF_INIT;
    bool first = true;

    if (nr_wanted == 1) {
        for (int f = 0; f < VS_NR_FILES; f++)
            if (outs[f].wanted)
                out_write(outs[f].fresh.buf, outs[f].fresh.len);
        return;
    }
    strbuf_addstr(&sb, "{\n");
    for (int f = 0; f < VS_NR_FILES; f++) {
        const char *t = outs[f].fresh.buf;

        if (!outs[f].wanted)
            continue;
        strbuf_addstr(&sb, first ? "    " : ",\n    ");
        first = false;
        jsonc_quote(&sb, outs[f].display.buf, outs[f].display.len);
        strbuf_addstr(&sb, ": ");
        /* Indent the document by one level; drop its final newline. */
        for (size_t i = 0; i < outs[f].fresh.len; i++) {
            if (t[i] == '\n' && i + 1 == outs[f].fresh.len)
                break;
            strbuf_addch(&sb, t[i]);
            if (t[i] == '\n')
                strbuf_addstr(&sb, "    ");
        }
    }
    strbuf_addstr(&sb, "\n}\n");
    out_write(sb.buf, sb.len);
    strbuf_release(&sb);
}

/* Machine names of the merge results, for --json. */
static const char *status_key(enum jsonc_merge_status s)
{
    static const char *const names[] = {"added",       "updated",     "unchanged",
                                        "kept-edited", "regenerated", "kept-foreign"};

    return names[s];
}

static void print_json(const struct vs_run *r, const struct vs_file_out *outs,
                       const struct target *const *boards, size_t nr_boards, const char *skipped,
                       bool dry, struct strbuf *sb)
{
    struct json_writer jw;

    json_init(&jw, sb);
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "repository", r->root);
    json_bool(&jw, "dry_run", dry);
    json_array_begin(&jw, "boards");
    for (size_t b = 0; b < nr_boards; b++)
        json_string(&jw, NULL, boards[b]->name);
    json_array_end(&jw);
    json_array_begin(&jw, "skipped");
    for (const char *p = skipped; *p;) {
        size_t n = strcspn(p, ",");
        char *name = xstrndup(p, n);

        json_string(&jw, NULL, name);
        free(name);
        p += n;
        p += strspn(p, ", ");
    }
    json_array_end(&jw);
    json_string(&jw, "toolchain", r->toolchain_abs);
    json_string(&jw, "servertype", r->external ? "external" : "jlink");
    json_string(&jw, "gdb_target", r->external ? r->gdb_target : NULL);
    json_array_begin(&jw, "files");
    for (int f = 0; f < VS_NR_FILES; f++) {
        const struct vs_file_out *o = &outs[f];
        bool changed = is_changed(o);

        if (!o->wanted)
            continue;
        json_object_begin(&jw, NULL);
        json_string(&jw, "file", o->display.buf);
        json_string(&jw, "status",
                    !changed    ? "unchanged"
                    : o->exists ? (dry ? "would-update" : "updated")
                                : (dry ? "would-create" : "created"));
        json_array_begin(&jw, "entries");
        for (size_t i = 0; i < o->nr_items; i++) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "id", o->ids[i]);
            json_string(&jw, "status", status_key(o->items[i].status));
            json_object_end(&jw);
        }
        for (size_t i = 0; f == VS_EXTENSIONS && i < r->nr_entries[f]; i++) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "id", r->entries[f][i]);
            json_string(&jw, "status", o->added[i] ? "added" : "unchanged");
            json_object_end(&jw);
        }
        for (size_t i = 0; f == VS_SETTINGS && i < r->nr_keys; i++) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "id", r->keys[i]);
            json_string(&jw, "status", status_key(o->mstatus[i]));
            json_object_end(&jw);
        }
        json_array_end(&jw);
        json_object_end(&jw);
    }
    json_array_end(&jw);
    json_object_end(&jw);
}

static void vs_run_release(struct vs_run *r)
{
    free(r->toolchain_dir);
    free(r->toolchain_abs);
    free(r->gdb_path);
    free(r->jlink_server);
    free(r->gdb_target);
    for (int f = 0; f < VS_NR_FILES; f++) {
        strbuf_release(&r->tmpl[f]);
        strbuf_release(&r->tmpl_name[f]);
        free(r->skeleton[f]);
        for (size_t i = 0; i < r->nr_entries[f]; i++)
            free(r->entries[f][i]);
        free(r->entries[f]);
    }
    for (size_t i = 0; i < r->nr_keys; i++) {
        free(r->keys[i]);
        free(r->values[i]);
    }
    free(r->keys);
    free(r->values);
}

/* The boards to configure: -t ones or --all, less those without a J-Link device. */
static int pick_boards(struct omv_ctx *ctx, struct omv_invocation *inv, const struct target ***out,
                       size_t *nr, struct strbuf *skipped_out)
{
    const struct opt *o = inv->cmd->opts;
    const char *const *names = opt_values(&inv->opts, o, "target");
    const struct target_db *db = ctx_targets(ctx);
    struct strbuf skipped = STRBUF_INIT;
    const struct target **v;
    size_t n = 0, nskip = 0;

    if (!db)
        return OMV_EXIT_FAILURE;
    v = xcalloc(db->nr + 1, sizeof(*v));
    if (opt_count(&inv->opts, o, "all")) {
        for (size_t i = 0; i < db->nr; i++) {
            const struct target *t = &db->targets[i];

            if (!t->supported)
                continue;
            if (t->jlink_device) {
                v[n++] = t;
            } else {
                strbuf_addf(&skipped, "%s%s", nskip++ ? ", " : "", t->name);
            }
        }
    } else {
        for (; *names; names++) {
            const struct target *t = ctx_target(ctx, *names);
            bool dup = false;

            if (!t) {
                free(v);
                strbuf_release(&skipped);
                return OMV_EXIT_USAGE;
            }
            for (size_t i = 0; i < n; i++)
                dup |= v[i] == t;
            if (dup)
                continue;
            if (ctx->project_root && t->jlink_device && t->supported &&
                !repo_has_board(ctx->project_root, t->name))
                warning(ctx,
                        "this repository has no boards/%s (a release without it?): its "
                        "configuration is written anyway",
                        t->name);
            if (t->jlink_device && t->supported)
                v[n++] = t;
            else
                strbuf_addf(&skipped, "%s%s", nskip++ ? ", " : "", t->name);
        }
    }
    if (nskip)
        note(ctx,
             "skipped %s: %s no J-Link device (no OMV_JLINK_ARGS in board_config.mk), so "
             "there is nothing to debug with",
             skipped.buf, nskip > 1 ? "they have" : "it has");
    strbuf_addstr(skipped_out, skipped.buf);
    strbuf_release(&skipped);
    if (n == 0) {
        free(v);
        error(ctx, "no board to configure");
        hint(ctx, "'omvdev targets' lists the boards; those with a J-Link device can be debugged");
        return OMV_EXIT_FAILURE;
    }
    *out = v;
    *nr = n;
    return OMV_EXIT_OK;
}

int cmd_vscode(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const struct opt *o = inv->cmd->opts;
    struct opt_result *res = &inv->opts;
    bool to_stdout = opt_count(res, o, "stdout") > 0;
    bool dry = opt_count(res, o, "dry-run") > 0, diff = opt_count(res, o, "diff") > 0;
    const char *only = opt_value(res, o, "only");
    const char *host = opt_value(res, o, "jlink-host");
    const char *svd = opt_value(res, o, "svd");
    struct vs_run r;
    struct vs_file_out outs[VS_NR_FILES];
    const struct target **boards = NULL;
    size_t nr_boards = 0, nr_wanted = 0;
    struct strbuf report = STRBUF_INIT, skipped = STRBUF_INIT;
    int rc = OMV_EXIT_OK;

    memset(&r, 0, sizeof(r));
    for (int f = 0; f < VS_NR_FILES; f++)
        file_out_init(&outs[f]);
    r.ctx = ctx;
    r.root = ctx->project_root;
    r.force = opt_count(res, o, "force") > 0;
    r.template_dir = opt_value(res, o, "template-dir");

    if (res->nr_args > 0) {
        rc = usage_error(ctx, inv, "unexpected argument '%s'", res->args[0]);
        goto out;
    }
    if (!*opt_values(res, o, "target") == !opt_count(res, o, "all")) {
        rc = usage_error(ctx, inv, "%s",
                         opt_count(res, o, "all")
                             ? "-t and --all do not go together"
                             : "which boards? name them with -t TARGET, or --all");
        goto out;
    }
    if (ctx->json && (to_stdout || diff)) {
        rc = usage_error(ctx, inv, "--json does not go with %s",
                         to_stdout ? "--stdout (which prints the files themselves)" : "--diff");
        goto out;
    }
    if (r.template_dir && !fs_is_dir(r.template_dir)) {
        rc = usage_error(ctx, inv, "--template-dir '%s' is not a directory", r.template_dir);
        goto out;
    }
    if (host && !(r.gdb_target = parse_host(host))) {
        rc = usage_error(ctx, inv, "--jlink-host '%s' is not HOST or HOST:PORT", host);
        goto out;
    }
    if (!r.root && !to_stdout) {
        error(ctx, "not inside an openmv firmware repository (no Makefile and boards/ here or "
                   "above): where should .vscode/ go?");
        hint(ctx, "run it in your clone of openmv/openmv (omvdev -C ~/openmv vscode ...), or "
                  "print the JSON with --stdout");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = pick_boards(ctx, inv, &boards, &nr_boards, &skipped);
    if (rc != OMV_EXIT_OK)
        goto out;
    if (svd && nr_boards != 1) {
        rc = usage_error(ctx, inv, "--svd names the file of one board, not %zu", nr_boards);
        goto out;
    }
    if (svd && !fs_is_file(svd)) {
        rc = error(ctx, "cannot open '%s': No such file", svd);
        hint(ctx, "SVD files come with the vendor's CMSIS pack (ST, NXP) or the Cortex-Debug "
                  "SVD registry");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }

    find_toolchain(&r);
    r.jlink_server = which(JLINK_SERVER_CL);
    if (!r.jlink_server)
        r.jlink_server = which("JLinkGDBServer");
    if (!r.jlink_server && fs_is_file("/opt/SEGGER/JLink/" JLINK_SERVER_CL) &&
        !getenv("OMVDEV_SYSROOT"))
        r.jlink_server = xstrdup("/opt/SEGGER/JLink/" JLINK_SERVER_CL);
    if (r.gdb_target) {
        r.external = true;
    } else if (running_in_wsl() && !r.jlink_server) {
        char *gw = default_gateway();

        r.external = true;
        r.gdb_target = parse_host(gw ? gw : "localhost");
        note(ctx,
             "WSL without a Linux J-Link GDB server: using the one on Windows at %s "
             "(the Windows host)",
             r.gdb_target);
        hint(ctx, "with networkingMode=mirrored use --jlink-host localhost; a Linux J-Link "
                  "install (JLinkGDBServerCLExe on PATH) is used instead when there is one");
        free(gw);
    }
    verbose(ctx, "J-Link GDB server: %s", r.jlink_server ? r.jlink_server : "not found");
    if (!to_stdout && (!only || !strcmp(only, "tasks"))) {
        char *self = which("omvdev");

        if (!self) {
            warning(ctx, "'omvdev' is not on PATH, and the tasks (and so F5's build) run it");
            hint(ctx, "install it (cmake --install build/release) or put its directory on PATH");
        }
        free(self);
    }

    if (load_templates(&r) < 0 || generate(&r, boards, nr_boards, svd) < 0) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    for (int f = 0; f < VS_NR_FILES; f++) {
        outs[f].wanted = !only || !strncmp(files[f].name, only, strlen(only));
        if (f == VS_SETTINGS && r.nr_keys == 0)
            outs[f].wanted = false; /* nothing to set: no settings.json */
        if (!outs[f].wanted)
            continue;
        nr_wanted++;
        if (prepare(&r, f, &outs[f], !to_stdout) < 0) {
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    if (nr_wanted == 0) {
        rc = error(ctx, "nothing to write into settings.json: no toolchain and no J-Link server "
                        "were found");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }

    if (to_stdout) {
        print_fresh(outs, nr_wanted);
    } else {
        for (int f = 0; f < VS_NR_FILES; f++) {
            struct vs_file_out *fo = &outs[f];
            bool changed;

            if (!fo->wanted)
                continue;
            changed = is_changed(fo);
            if (diff && changed) {
                struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

                strbuf_addf(&a, "a/%s", fo->display.buf);
                strbuf_addf(&b, "b/%s", fo->display.buf);
                diff_unified(fo->old.buf, fo->old.len, fo->new.buf, fo->new.len,
                             fo->exists ? a.buf : "/dev/null", b.buf, &report);
                strbuf_release(&a);
                strbuf_release(&b);
            }
            if (dry && !diff)
                strbuf_addf(&report, "%s: %s\n", fo->display.buf,
                            !changed     ? "up to date"
                            : fo->exists ? "would be updated"
                                         : "would be created");
            report_entries(&r, f, fo, dry && !diff, &report);
        }
        if (!dry && !diff) {
            for (int f = 0; f < VS_NR_FILES && rc == OMV_EXIT_OK; f++) {
                if (!outs[f].wanted)
                    continue;
                if (!is_changed(&outs[f]))
                    note(ctx, "%s is up to date", outs[f].display.buf);
                else if (write_file(&r, &outs[f]) < 0)
                    rc = OMV_EXIT_FAILURE;
            }
        }
        if (ctx->json) {
            strbuf_reset(&report);
            print_json(&r, outs, boards, nr_boards, skipped.buf, dry, &report);
        }
        if (dry || diff || ctx->json)
            out_write(report.buf, report.len);
    }
    if (r.external && ctx->verbosity >= 0) {
        if (host)
            note(ctx,
                 "start the J-Link GDB server on %.*s before pressing F5; on Windows (cmd or "
                 "PowerShell, in the J-Link install directory):",
                 (int)(strrchr(r.gdb_target, ':') - r.gdb_target), r.gdb_target);
        else
            note(ctx, "start the J-Link GDB server on Windows (cmd or PowerShell, in the J-Link "
                      "install directory) before pressing F5:");
        for (size_t b = 0; b < nr_boards; b++) {
            const char *colon = strrchr(r.gdb_target, ':');

            fprintf(stderr,
                    "    JLinkGDBServerCL.exe -nolocalhostonly -device %s -if SWD "
                    "-speed 4000 -port %s\n",
                    boards[b]->jlink_device, colon + 1);
        }
    }
out:
    strbuf_release(&report);
    strbuf_release(&skipped);
    for (int f = 0; f < VS_NR_FILES; f++)
        file_out_release(&outs[f]);
    free(boards);
    vs_run_release(&r);
    return rc;
}
