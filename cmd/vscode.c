/*
 * omvdev vscode: .vscode/launch.json, tasks.json, extensions.json and
 * settings.json for debugging the firmware with Cortex-Debug (a J-Link,
 * OpenOCD for an ST-Link or CMSIS-DAP probe, ST-LINK_gdbserver, or QEMU for
 * the emulated boards) and for the C/C++ and clangd extensions (the build's
 * compile_commands.json), generated from templates/vscode/ and merged into
 * what is there without losing a byte of the user's own configuration
 * (lib/jsonc.c does the merging; this file knows the boards, the SDK and WSL).
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "cmd/probe.h"
#include "flash/runners.h"
#include "lib/config.h"
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
    {"all", 'a', OPT_FLAG, NULL, "every board a debug probe serves", NULL, 0, NULL},
    {"probe", 0, OPT_VALUE, "PROBE",
     "the debug probe (default: debug.probe, else each board's first)", probe_choices, 0, NULL},
    {"server", 0, OPT_VALUE, "SERVER",
     "with --probe stlink: OpenOCD (default) or ST-LINK_gdbserver", probe_server_choices, 0, NULL},
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

/* SVD files the firmware repository itself carries: the Alif DFP, vendored
 * at lib/micropython/lib/alif_ensemble-cmsis-dfp/Debug/SVD/, has one per part
 * and core, e.g. AE722F80F55D5LS_CM55_HP_View.svd. */
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

/* The options, read once. */
struct vs_options {
    const char *const *targets; /* -t, NULL-terminated */
    bool all, to_stdout, dry, diff, force;
    const char *only, *host, *svd, *template_dir, *probe, *server;
};

/* One board to configure and the probe it is debugged with. */
struct vs_board {
    const struct target *t;      /* the board (emulated ones are in the database too) */
    const struct qemu_board *qb; /* an emulated board, or NULL */
    const char *name;
    struct probe_pick pk;
};

struct vs_run {
    struct omv_ctx *ctx;
    const char *root; /* NULL outside a repository (--stdout only) */
    const char *template_dir;
    bool force;
    /* the toolchain */
    char *toolchain_dir; /* portable (${userHome}/...), or NULL */
    char *toolchain_abs;
    char *gdb_path;     /* as written: portable */
    char *gcc_abs;      /* the C compiler, for the C/C++ extension and clangd, or NULL */
    char *jlink_server; /* absolute path of a Linux J-Link GDB server, or NULL */
    char *openocd;      /* absolute paths of the other servers, or NULL */
    char *stlink_server;
    char *qemu;
    char *cubeprog_dir; /* the SDK's STM32CubeProgrammer bin directory, or NULL */
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
            warning(ctx, "the configuration leaves armToolchainPath out (no SDK)");
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
    fs_path_join(&gcc, dir.buf, "stcubeprog/bin");
    r->cubeprog_dir = strbuf_detach(&gcc, NULL);
out:
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&gcc);
}

/*
 * The gdb and gcc the configuration names: the SDK's when the repository's
 * SDK is known (its gdbPath is written even before the SDK is installed, with
 * a warning), else Debian's gdb-multiarch and arm-none-eabi-gcc.
 */
static void find_gdb_gcc(struct vs_run *r)
{
    struct strbuf p = STRBUF_INIT;
    char *multiarch = NULL;

    if (r->toolchain_abs) {
        fs_path_join(&p, r->toolchain_abs, "arm-none-eabi-gdb");
        r->gdb_path = portable_path(p.buf, NULL);
        if (!fs_is_file(p.buf)) {
            warning(r->ctx, "the gdbPath written, '%s', does not exist", p.buf);
            hint(r->ctx, "install the SDK (omvdev sdk install), then press F5");
        }
        strbuf_reset(&p);
        fs_path_join(&p, r->toolchain_abs, "arm-none-eabi-gcc");
        r->gcc_abs = strbuf_detach(&p, NULL);
    } else if ((multiarch = which("gdb-multiarch"))) {
        r->gdb_path = multiarch;
        note(r->ctx, "gdb: %s (no SDK)", multiarch);
    } else {
        warning(r->ctx, "no gdb for Arm: the configuration leaves gdbPath out");
        hint(r->ctx, "omvdev sdk install, or sudo apt-get install gdb-multiarch");
    }
    if (!r->gcc_abs)
        r->gcc_abs = which("arm-none-eabi-gcc");
    strbuf_release(&p);
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

/* What Cortex-Debug calls the server, and the name the entry carries. */
static const char *servertype(const struct vs_run *r, const struct vs_board *vb)
{
    switch (vb->pk.probe) {
    case PROBE_JLINK:
        return r->external ? "external" : "jlink";
    case PROBE_QEMU:
        return "qemu";
    default:
        return vb->pk.st ? "stlink" : "openocd";
    }
}

static const char *probe_title(const struct vs_board *vb)
{
    static const char *const titles[] = {"J-Link", "ST-Link", "CMSIS-DAP", "QEMU"};

    return vb->pk.st ? "ST-Link, ST-LINK_gdbserver" : titles[vb->pk.probe];
}

static const char *server_path(const struct vs_run *r, const struct vs_board *vb)
{
    switch (vb->pk.probe) {
    case PROBE_JLINK:
        return NULL; /* cortex-debug.JLinkGDBServerPath in settings.json */
    case PROBE_QEMU:
        return r->qemu;
    default:
        return vb->pk.st ? r->stlink_server : r->openocd;
    }
}

/* Instantiate the four templates for one board. */
static int generate_board(struct vs_run *r, const struct vs_board *vb, bool first,
                          const char *svd_arg, const char *build_dir, const char *cc_dir)
{
    const struct target *t = vb->t;
    bool jlink = vb->pk.probe == PROBE_JLINK, attach = t->boots_external_flash;
    struct strbuf debug = STRBUF_INIT, release = STRBUF_INIT, flash = STRBUF_INIT,
                  clean = STRBUF_INIT, glob = STRBUF_INIT, romfs = STRBUF_INIT;
    char *svd = board_svd(r, t, svd_arg);
    int rc;

    strbuf_addf(&debug, "omvdev: build %s (debug)", vb->name);
    strbuf_addf(&release, "omvdev: build %s (release)", vb->name);
    /* An emulated board is not flashed: its task runs it in QEMU. */
    strbuf_addf(&flash, "omvdev: %s %s", vb->qb ? "emulate" : "flash", vb->name);
    strbuf_addf(&clean, "omvdev: clean %s", vb->name);
    /* QEMU loads the ROMFS image where the firmware's make run does. */
    if (vb->qb && vb->qb->romfs_origin[0])
        strbuf_addf(&romfs,
                    "loader,file=${workspaceFolder}/%s/bin/romfs0.img,addr=0x%08X,force-raw=on",
                    build_dir, (unsigned)vb->qb->romfs_origin[0]);
    /* clangd asks the cross gcc for its system headers only when allowed to run it. */
    if (r->gcc_abs && strlen(r->gcc_abs) > 3)
        strbuf_addf(&glob, "%.*s*", (int)(strlen(r->gcc_abs) - 3), r->gcc_abs); /* ...-gcc */
    {
        const struct template_var vars[] = {
            {"TARGET", vb->name},
            {"CAMERA", t->camera},
            {"PROBE", probe_title(vb)},
            {"BUILD_DIR", build_dir},
            {"DEVICE", jlink && !r->external ? t->jlink_device : NULL},
            {"DEBUG_ELF", t->debug_elf ? t->debug_elf : "firmware.elf"},
            {"REQUEST", attach ? "attach" : "launch"},
            {"RUN_TO_ENTRY", attach ? NULL : "main"},
            {"SERVERTYPE", servertype(r, vb)},
            {"INTERFACE", jlink && !r->external ? "swd" : NULL},
            {"GDB_TARGET", jlink && r->external ? r->gdb_target : NULL},
            {"SERVER_PATH", server_path(r, vb)},
            {"OPENOCD_INTERFACE", vb->pk.openocd_interface},
            {"OPENOCD_TARGET", vb->pk.openocd_target},
            {"QEMU_MACHINE", vb->qb ? vb->qb->machine : NULL},
            {"QEMU_CPU", vb->qb ? vb->qb->cpu : NULL},
            {"QEMU_ROMFS", romfs.len ? romfs.buf : NULL},
            {"CUBEPROG_DIR", vb->pk.st ? r->cubeprog_dir : NULL},
            {"RTT_ADDRESS", vb->qb ? NULL : "auto"},
            {"TOOLCHAIN_DIR", r->toolchain_dir},
            {"GDB_PATH", r->gdb_path},
            {"SVD_FILE", svd},
            {"BUILD_TASK", debug.buf},
            {"DEBUG_TASK", debug.buf},
            {"RELEASE_TASK", release.buf},
            {"FLASH_TASK", flash.buf},
            {"FLASH_COMMAND", vb->qb ? "emulate" : "flash"},
            {"CLEAN_TASK", clean.buf},
            {"TOOLCHAIN_DIR_ABS", r->toolchain_abs},
            {"JLINK_SERVER", r->external ? NULL : r->jlink_server},
            {"COMPILE_COMMANDS_DIR", cc_dir},
            {"COMPILER_PATH", r->gcc_abs},
            {"QUERY_DRIVER", glob.len ? glob.buf : NULL},
        };

        rc = instantiate(r, VS_LAUNCH, vars, ARRAY_SIZE(vars));
        if (rc == 0)
            rc = instantiate(r, VS_TASKS, vars, ARRAY_SIZE(vars));
        if (rc == 0 && first)
            rc = instantiate(r, VS_EXTENSIONS, vars, ARRAY_SIZE(vars));
        if (rc == 0 && first)
            rc = instantiate(r, VS_SETTINGS, vars, ARRAY_SIZE(vars));
    }
    free(svd);
    strbuf_release(&debug);
    strbuf_release(&release);
    strbuf_release(&flash);
    strbuf_release(&clean);
    strbuf_release(&glob);
    strbuf_release(&romfs);
    return rc;
}

static int generate(struct vs_run *r, const struct vs_board *boards, size_t nr, const char *svd_arg)
{
    for (size_t b = 0; b < nr; b++) {
        struct strbuf build_dir = STRBUF_INIT, cc_dir = STRBUF_INIT;
        int rc;

        /* make's output directory (build/<T>, or a shared build or src/build up to v4.8);
         * the compilation database of a board is always <make dir>/build/<T>/. */
        cmd_build_dir_rel(r->ctx, boards[b].name, &build_dir);
        strbuf_addstr(&cc_dir, build_dir.buf);
        if (cc_dir.len <= strlen(boards[b].name) ||
            strcmp(cc_dir.buf + cc_dir.len - strlen(boards[b].name), boards[b].name))
            strbuf_addf(&cc_dir, "/%s", boards[b].name);
        rc = generate_board(r, &boards[b], b == 0, svd_arg, build_dir.buf, cc_dir.buf);
        strbuf_release(&build_dir);
        strbuf_release(&cc_dir);
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
/* Write through a symlink inside the repository; refuse one that leaves it or dangles. */
static int resolve_in_repo(struct vs_run *r, struct vs_file_out *o)
{
    struct strbuf real = STRBUF_INIT;
    char err[1024];
    int rc = fs_resolve_for_write(r->root, o->path.buf, &real, err, sizeof(err));

    if (rc < 0) {
        error(r->ctx, "%s", err);
        hint(r->ctx,
             "nothing was written; replace %s with a regular file to let omvdev merge "
             "into it",
             o->display.buf);
    } else {
        strbuf_reset(&o->path);
        strbuf_add(&o->path, real.buf, real.len);
    }
    strbuf_release(&real);
    return rc < 0 ? -1 : 0;
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
        /* What omvdev writes into a new file is strict JSON, whatever the templates hold, but
         * for the marker comments that own the entries of launch.json and tasks.json. */
        struct jsonc_doc strict;

        jsonc_doc_init(&strict);
        rc = jsonc_parse(&strict, o->fresh.buf, o->fresh.len, o->display.buf,
                         files[f].id_key ? 0 : JSONC_STRICT, err, sizeof(err));
        jsonc_doc_release(&strict);
        if (rc < 0)
            return error(r->ctx, "BUG: the generated %s does not parse: %s", files[f].name, err);
    }
    if (!read_old)
        return 0;
    fs_path_join(&o->path, r->root, o->display.buf);
    if (resolve_in_repo(r, o) < 0)
        return -1;
    rc = fs_read_file_max(o->path.buf, &o->old, FS_MAX_TEXT, err, sizeof(err));
    if (rc == OMV_ENOENT) {
        rc = 0;
    } else if (rc < 0) {
        return error(r->ctx, "%s", err);
    } else {
        o->exists = true;
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
        rc = fs_backup(o->path.buf, bak.buf, err, sizeof(err));
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

/* The text without omvdev's marker comment lines: --stdout prints strict JSON. */
static void strip_markers(struct strbuf *sb)
{
    static const char lead[] = "// " MARKER_KEY ": generated ";
    size_t w = 0;

    for (size_t i = 0; i < sb->len;) {
        const char *nl = memchr(sb->buf + i, '\n', sb->len - i);
        size_t end = nl ? (size_t)(nl - sb->buf) + 1 : sb->len, j = i;

        while (j < end && (sb->buf[j] == ' ' || sb->buf[j] == '\t'))
            j++;
        if (end - j < sizeof(lead) - 1 || memcmp(sb->buf + j, lead, sizeof(lead) - 1)) {
            memmove(sb->buf + w, sb->buf + i, end - i);
            w += end - i;
        }
        i = end;
    }
    strbuf_setlen(sb, w);
}

/* --stdout: one document as it is, several as one object keyed by file name. */
static void print_fresh(struct vs_file_out *outs, size_t nr_wanted)
{
    struct strbuf sb = STRBUF_INIT;
    bool first = true;

    for (int f = 0; f < VS_NR_FILES; f++)
        if (outs[f].wanted)
            strip_markers(&outs[f].fresh);
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
                       const struct vs_board *boards, size_t nr_boards, const char *skipped,
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
        json_string(&jw, NULL, boards[b].name);
    json_array_end(&jw);
    json_array_begin(&jw, "probes");
    for (size_t b = 0; b < nr_boards; b++) {
        json_object_begin(&jw, NULL);
        json_string(&jw, "board", boards[b].name);
        json_string(&jw, "probe", probe_name(boards[b].pk.probe));
        json_string(&jw, "servertype", servertype(r, &boards[b]));
        json_object_end(&jw);
    }
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
    json_string(&jw, "servertype", nr_boards ? servertype(r, &boards[0]) : NULL);
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
    free(r->gcc_abs);
    free(r->openocd);
    free(r->stlink_server);
    free(r->qemu);
    free(r->cubeprog_dir);
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

/* Add board t (qb: its emulation, or NULL) to v when a probe serves it; false otherwise. */
static bool add_board(struct vs_run *r, const struct vs_options *o, const struct target *t,
                      const struct qemu_board *qb, struct vs_board *v, size_t *n)
{
    struct vs_board *vb = &v[*n];

    for (size_t i = 0; i < *n; i++)
        if (!strcmp(v[i].name, qb ? qb->target : t->name))
            return true; /* named twice */
    vb->t = t;
    vb->qb = qb;
    vb->name = qb ? qb->target : t->name;
    if (!probe_serves(t, qb, o->probe, o->server, PROBE_FOR_DEBUG, &vb->pk))
        return false;
    if (!o->all && r->root && !qb && !repo_has_board(r->root, t->name))
        warning(r->ctx,
                "this repository has no boards/%s (a release without it?): its configuration is "
                "written anyway",
                t->name);
    (*n)++;
    return true;
}

/* -t boards: each must be served by the probe (its refusal is an error). */
static int named_boards(struct vs_run *r, const struct vs_options *o, struct vs_board *v, size_t *n,
                        struct strbuf *skipped)
{
    size_t nskip = 0;

    for (const char *const *name = o->targets; *name; name++) {
        const struct target *t;
        const struct qemu_board *qb;
        struct probe_pick pk;
        int rc = probe_board(r->ctx, *name, &t, &qb);

        if (rc != OMV_EXIT_OK)
            return rc;
        if (!qb && !t->supported) {
            strbuf_addf(skipped, "%s%s", nskip++ ? ", " : "", t->name);
            continue;
        }
        if (!add_board(r, o, t, qb, v, n)) /* say why */
            return probe_pick(r->ctx, t, qb, o->probe, o->server, PROBE_FOR_DEBUG, &pk);
    }
    if (nskip)
        note(r->ctx, "skipped %s: the firmware no longer supports %s", skipped->buf,
             nskip > 1 ? "them" : "it");
    return OMV_EXIT_OK;
}

/* The boards to configure: -t ones, or every supported board a probe serves (--all). */
static int pick_boards(struct vs_run *r, const struct vs_options *o, struct vs_board **out,
                       size_t *nr, struct strbuf *skipped)
{
    const struct target_db *db = ctx_targets(r->ctx);
    size_t n = 0, nskip = 0;
    struct vs_board *v;
    int rc = OMV_EXIT_OK;

    if (!db)
        return OMV_EXIT_FAILURE;
    /* every board at most once: named twice, it is added once */
    v = xcalloc(db->nr + 1, sizeof(*v));
    if (!o->all) {
        rc = named_boards(r, o, v, &n, skipped);
    } else {
        for (size_t i = 0; i < db->nr; i++) {
            const struct target *t = &db->targets[i];
            const struct qemu_board *qb = ctx_qemu_board(r->ctx, t->name);

            if ((t->supported || qb) && !add_board(r, o, t, qb, v, &n))
                strbuf_addf(skipped, "%s%s", nskip++ ? ", " : "", t->name);
        }
        if (nskip)
            note(r->ctx, "skipped %s: %s", skipped->buf,
                 o->probe ? "the probe cannot serve them (omvdev debug -t BOARD --probe ... "
                            "says why)"
                          : "no debug probe serves them");
    }
    if (rc == OMV_EXIT_OK && n == 0) {
        error(r->ctx, "no board to configure");
        hint(r->ctx, "'omvdev targets' lists the boards");
        rc = OMV_EXIT_FAILURE;
    }
    if (rc != OMV_EXIT_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *nr = n;
    return OMV_EXIT_OK;
}

static int read_options(struct omv_ctx *ctx, struct omv_invocation *inv, struct vs_options *vo)
{
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *res = &inv->opts;
    const struct cfg_entry *probe_cfg = cfg_lookup(&ctx->cfg, "debug", "probe");

    memset(vo, 0, sizeof(*vo));
    vo->targets = opt_values(res, o, "target");
    vo->all = opt_count(res, o, "all") > 0;
    vo->to_stdout = opt_count(res, o, "stdout") > 0;
    vo->dry = opt_count(res, o, "dry-run") > 0;
    vo->diff = opt_count(res, o, "diff") > 0;
    vo->force = opt_count(res, o, "force") > 0;
    vo->only = opt_value(res, o, "only");
    vo->host = opt_value(res, o, "jlink-host");
    vo->svd = opt_value(res, o, "svd");
    vo->template_dir = opt_value(res, o, "template-dir");
    vo->probe = opt_value(res, o, "probe");
    if (!vo->probe && probe_cfg)
        vo->probe = probe_cfg->value;
    vo->server = opt_value(res, o, "server");
    if (res->nr_args > 0)
        return usage_error(ctx, inv, "unexpected argument '%s'", res->args[0]);
    if (!*vo->targets == !vo->all)
        return usage_error(ctx, inv, "%s",
                           vo->all ? "-t and --all do not go together"
                                   : "which boards? name them with -t TARGET, or --all");
    if (ctx->json && (vo->to_stdout || vo->diff))
        return usage_error(ctx, inv, "--json does not go with %s",
                           vo->to_stdout ? "--stdout (which prints the files themselves)"
                                         : "--diff");
    if (vo->template_dir && !fs_is_dir(vo->template_dir))
        return usage_error(ctx, inv, "--template-dir '%s' is not a directory", vo->template_dir);
    if (!ctx->project_root && !vo->to_stdout) {
        error(ctx, "not inside an openmv firmware repository (no Makefile and boards/ here or "
                   "above): where should .vscode/ go?");
        hint(ctx, "run it in your clone of openmv/openmv (omvdev -C ~/openmv vscode ...), or "
                  "print the JSON with --stdout");
        return OMV_EXIT_FAILURE;
    }
    return OMV_EXIT_OK;
}

/* The servers the configurations name, the toolchain, and WSL's J-Link on Windows. */
static void find_servers(struct vs_run *r, const struct vs_options *o)
{
    struct omv_ctx *ctx = r->ctx;

    find_toolchain(r);
    find_gdb_gcc(r);
    r->jlink_server = which(JLINK_SERVER_CL);
    if (!r->jlink_server)
        r->jlink_server = which("JLinkGDBServer");
    if (!r->jlink_server && fs_is_file("/opt/SEGGER/JLink/" JLINK_SERVER_CL) &&
        !getenv("OMVDEV_SYSROOT"))
        r->jlink_server = xstrdup("/opt/SEGGER/JLink/" JLINK_SERVER_CL);
    r->openocd = which("openocd");
    r->stlink_server = which("ST-LINK_gdbserver");
    r->qemu = which(QEMU_PROGRAM);
    if (r->gdb_target) {
        r->external = true;
    } else if (running_in_wsl() && !r->jlink_server) {
        char *gw = default_gateway();

        r->external = true;
        r->gdb_target = parse_host(gw ? gw : "localhost");
        note(ctx,
             "WSL without a Linux J-Link GDB server: using the one on Windows at %s "
             "(the Windows host)",
             r->gdb_target);
        hint(ctx, "with networkingMode=mirrored use --jlink-host localhost; a Linux J-Link "
                  "install (JLinkGDBServerCLExe on PATH) is used instead when there is one");
        free(gw);
    }
    verbose(ctx, "J-Link GDB server: %s", r->jlink_server ? r->jlink_server : "not found");
    if (!o->to_stdout && (!o->only || !strcmp(o->only, "tasks"))) {
        char *self = which("omvdev");

        if (!self) {
            warning(ctx, "'omvdev' is not on PATH, and the tasks (and so F5's build) run it");
            hint(ctx, "install it (cmake --install build/release) or put its directory on PATH");
        }
        free(self);
    }
}

/* Servers a configuration needs but this machine lacks: say so once per kind. */
static void warn_missing_servers(const struct vs_run *r, const struct vs_board *boards, size_t nr)
{
    bool openocd = false, qemu = false;

    for (size_t b = 0; b < nr; b++) {
        openocd |= boards[b].pk.openocd_interface != NULL;
        qemu |= boards[b].pk.probe == PROBE_QEMU;
    }
    if (openocd && !r->openocd) {
        warning(r->ctx, "OpenOCD is not on PATH: Cortex-Debug cannot start the GDB server");
        hint(r->ctx, "sudo apt-get install openocd");
    }
    if (qemu && !r->qemu) {
        warning(r->ctx, "%s is not on PATH: Cortex-Debug cannot start the emulator", QEMU_PROGRAM);
        hint(r->ctx, "sudo apt-get install " QEMU_DEBIAN_PACKAGE);
    }
}

/* Expand, merge and check every wanted file; nr_wanted says how many. */
static int prepare_all(struct vs_run *r, const struct vs_options *o, struct vs_file_out *outs,
                       size_t *nr_wanted)
{
    for (int f = 0; f < VS_NR_FILES; f++) {
        outs[f].wanted = !o->only || !strncmp(files[f].name, o->only, strlen(o->only));
        if (f == VS_SETTINGS && r->nr_keys == 0)
            outs[f].wanted = false; /* nothing to set: no settings.json */
        if (!outs[f].wanted)
            continue;
        (*nr_wanted)++;
        if (prepare(r, f, &outs[f], !o->to_stdout) < 0)
            return OMV_EXIT_FAILURE;
    }
    if (*nr_wanted == 0) {
        error(r->ctx, "nothing to write into settings.json: no toolchain and no J-Link server "
                      "were found");
        return OMV_EXIT_FAILURE;
    }
    return OMV_EXIT_OK;
}

/* Write the files, or say what would change (--dry-run, --diff, --json). */
static int write_or_report(struct vs_run *r, const struct vs_options *o, struct vs_file_out *outs,
                           const struct vs_board *boards, size_t nr_boards, const char *skipped)
{
    struct omv_ctx *ctx = r->ctx;
    struct strbuf report = STRBUF_INIT;
    int rc = OMV_EXIT_OK;

    for (int f = 0; f < VS_NR_FILES; f++) {
        struct vs_file_out *fo = &outs[f];
        bool changed;

        if (!fo->wanted)
            continue;
        changed = is_changed(fo);
        if (o->diff && changed) {
            struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

            strbuf_addf(&a, "a/%s", fo->display.buf);
            strbuf_addf(&b, "b/%s", fo->display.buf);
            diff_unified(fo->old.buf, fo->old.len, fo->new.buf, fo->new.len,
                         fo->exists ? a.buf : "/dev/null", b.buf, &report);
            strbuf_release(&a);
            strbuf_release(&b);
        }
        if (o->dry && !o->diff)
            strbuf_addf(&report, "%s: %s\n", fo->display.buf,
                        !changed     ? "up to date"
                        : fo->exists ? "would be updated"
                                     : "would be created");
        report_entries(r, f, fo, o->dry && !o->diff, &report);
    }
    for (int f = 0; !o->dry && !o->diff && f < VS_NR_FILES && rc == OMV_EXIT_OK; f++) {
        if (!outs[f].wanted)
            continue;
        if (!is_changed(&outs[f]))
            note(ctx, "%s is up to date", outs[f].display.buf);
        else if (write_file(r, &outs[f]) < 0)
            rc = OMV_EXIT_FAILURE;
    }
    if (ctx->json) {
        strbuf_reset(&report);
        print_json(r, outs, boards, nr_boards, skipped, o->dry, &report);
    }
    if (o->dry || o->diff || ctx->json)
        out_write(report.buf, report.len);
    strbuf_release(&report);
    return rc;
}

/* WSL: the J-Link GDB server runs on Windows and must be started there by hand. */
static void print_external_hint(const struct vs_run *r, const struct vs_options *o,
                                const struct vs_board *boards, size_t nr_boards)
{
    const char *colon = strrchr(r->gdb_target, ':');

    if (o->host)
        note(r->ctx,
             "start the J-Link GDB server on %.*s before pressing F5; on Windows (cmd or "
             "PowerShell, in the J-Link install directory):",
             (int)(colon - r->gdb_target), r->gdb_target);
    else
        note(r->ctx, "start the J-Link GDB server on Windows (cmd or PowerShell, in the J-Link "
                     "install directory) before pressing F5:");
    for (size_t b = 0; b < nr_boards; b++)
        if (boards[b].pk.probe == PROBE_JLINK)
            fprintf(stderr,
                    "    JLinkGDBServerCL.exe -nolocalhostonly -device %s -if SWD "
                    "-speed 4000 -port %s\n",
                    boards[b].t->jlink_device, colon + 1);
}

/* The checks that need the boards: --svd names one board's existing file. */
static int check_svd(struct omv_ctx *ctx, struct omv_invocation *inv, const char *svd,
                     size_t nr_boards)
{
    if (svd && nr_boards != 1)
        return usage_error(ctx, inv, "--svd names the file of one board, not %zu", nr_boards);
    if (svd && !fs_is_file(svd)) {
        error(ctx, "cannot open '%s': No such file", svd);
        hint(ctx, "SVD files come with the vendor's CMSIS pack (ST, NXP) or the Cortex-Debug "
                  "SVD registry");
        return OMV_EXIT_FAILURE;
    }
    return OMV_EXIT_OK;
}

int cmd_vscode(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct vs_options o;
    struct vs_run r;
    struct vs_file_out outs[VS_NR_FILES];
    struct vs_board *boards = NULL;
    size_t nr_boards = 0, nr_wanted = 0;
    struct strbuf skipped = STRBUF_INIT;
    int rc;

    memset(&r, 0, sizeof(r));
    for (int f = 0; f < VS_NR_FILES; f++)
        file_out_init(&outs[f]);
    r.ctx = ctx;
    r.root = ctx->project_root;
    rc = read_options(ctx, inv, &o);
    r.force = o.force;
    r.template_dir = o.template_dir;
    if (rc == OMV_EXIT_OK && o.host && !(r.gdb_target = parse_host(o.host)))
        rc = usage_error(ctx, inv, "--jlink-host '%s' is not HOST or HOST:PORT", o.host);
    if (rc == OMV_EXIT_OK)
        rc = pick_boards(&r, &o, &boards, &nr_boards, &skipped);
    if (rc == OMV_EXIT_OK)
        rc = check_svd(ctx, inv, o.svd, nr_boards);
    if (rc != OMV_EXIT_OK)
        goto out;
    find_servers(&r, &o);
    warn_missing_servers(&r, boards, nr_boards);
    if (load_templates(&r) < 0 || generate(&r, boards, nr_boards, o.svd) < 0) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = prepare_all(&r, &o, outs, &nr_wanted);
    if (rc != OMV_EXIT_OK)
        goto out;
    if (o.to_stdout)
        print_fresh(outs, nr_wanted);
    else
        rc = write_or_report(&r, &o, outs, boards, nr_boards, skipped.buf);
    if (r.external && ctx->verbosity >= 0)
        print_external_hint(&r, &o, boards, nr_boards);
out:
    strbuf_release(&skipped);
    for (int f = 0; f < VS_NR_FILES; f++)
        file_out_release(&outs[f]);
    free(boards);
    vs_run_release(&r);
    return rc;
}
