/*
 * omvdev build, clean, size and env: `make TARGET=<board>` in the firmware
 * repository with the SDK's environment, after checking everything the
 * firmware guide's troubleshooting section lists (SDK missing or of the wrong
 * version, submodules, mpy-cross, GCC older than 14.3 on Cortex-M55 boards),
 * and afterwards how full each flash partition is.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "cmd/compiledb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "lib/progress.h"
#include "lib/strbuf.h"
#include "lib/suggest.h"
#include "lib/table.h"
#include "sdk/buildenv.h"
#include "sdk/locate.h"
#include "targets/partitions.h"
#include "targets/repo.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

/* The options make understands that the firmware guide documents. */
static const char *const make_options[] = {
    "DEBUG", "V", "DEBUG_PRINTF", "PROFILE_ENABLE", "STACK_PROTECTOR", "FB_ALLOC_STATS", NULL,
};

const struct opt build_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET[,TARGET...]",
     "the board(s) to build (default: [build] target, else the only one built before)", NULL,
     OPT_CONFIG, NULL},
    {"all", 'a', OPT_FLAG, NULL, "build every board of the repository omvdev knows", NULL, 0, NULL},
    {"debug", 'd', OPT_FLAG, NULL, "a debug build (DEBUG=1: -Og -ggdb3)", NULL, 0, NULL},
    {"jobs", 'j', OPT_VALUE, "N", "run N compile jobs at once (default: the number of cores)", NULL,
     OPT_CONFIG, NULL},
    {"clean", 0, OPT_FLAG, NULL, "run 'make clean' for the board first", NULL, 0, NULL},
    {"option", 'o', OPT_VALUE, "NAME=VALUE",
     "pass a make option: DEBUG, V, DEBUG_PRINTF, PROFILE_ENABLE, STACK_PROTECTOR, FB_ALLOC_STATS",
     NULL, OPT_REPEAT, NULL},
    {"install-sdk", 0, OPT_FLAG, NULL,
     "install the SDK the repository needs when it is missing (omvdev sdk install)", NULL, 0, NULL},
    {"init", 0, OPT_FLAG, NULL,
     "check out missing submodules (git submodule update, make submodules)", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt clean_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: [build] target, or the only one built)", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt size_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: [build] target, or the only one built)", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const char *const shell_choices[] = {"bash", "zsh", "fish", "powershell", NULL};

const struct opt env_opts[] = {
    {"shell", 's', OPT_VALUE, "SHELL", "the syntax (default: from $SHELL, else bash)",
     shell_choices, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* ---- shared with doctor (buildcmd.h) ------------------------------------------ */

void bld_release(struct bld *b)
{
    fw_tree_release(&b->tree);
    strbuf_release(&b->version);
    strbuf_release(&b->sdk_dir);
    strbuf_release(&b->stamp);
    buildenv_release(&b->env);
}

int bld_open(struct omv_ctx *ctx, struct bld *b, bool quiet)
{
    const struct cfg_entry *root = cfg_lookup(&ctx->cfg, "sdk", "root");
    struct strbuf sb = STRBUF_INIT;
    struct utsname u;
    char err[1024];
    int rc;

    memset(b, 0, sizeof(*b));
    strbuf_init(&b->version);
    strbuf_init(&b->sdk_dir);
    strbuf_init(&b->stamp);
    if (!ctx->project_root) {
        if (!quiet) {
            char cwd[4096];

            repo_find(getcwd(cwd, sizeof(cwd)) ? cwd : ".", &sb, err, sizeof(err));
            error(ctx, "%s", err);
            hint(ctx, "run omvdev inside a clone of the firmware (git clone --recursive "
                      "https://github.com/openmv/openmv.git), or name it: omvdev -C DIR ...");
        }
        strbuf_release(&sb);
        return OMV_EXIT_USAGE;
    }
    if ((rc = fw_tree_open(&b->tree, ctx->project_root, err, sizeof(err))) < 0) {
        if (!quiet)
            error(ctx, "%s", err);
        return OMV_EXIT_USAGE;
    }
    b->sysname = uname(&u) == 0 && !strcmp(u.sysname, "Darwin") ? "Darwin" : "Linux";
    rc = sdk_repo_version(b->tree.root, &b->version, err, sizeof(err));
    if (rc == OMV_ENOENT) {
        /* Releases before 4.7: no pinned SDK, the toolchain comes from PATH. */
        b->no_version = true;
        verbose(ctx, "no SDK_VERSION in '%s': using the toolchain on PATH", b->tree.root);
    } else if (rc < 0) {
        if (!quiet)
            error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    } else {
        if ((rc = sdk_dir(root ? root->value : NULL, b->version.buf, &b->sdk_dir, err,
                          sizeof(err))) < 0) {
            if (!quiet)
                error(ctx, "%s", err);
            return OMV_EXIT_FAILURE;
        }
        b->stamp_rc = sdk_read_stamp(b->sdk_dir.buf, &b->stamp, b->stamp_err, sizeof(b->stamp_err));
    }
    buildenv_compose(&b->env, environ, b->no_version ? NULL : b->sdk_dir.buf, b->sysname);
    return 0;
}

/* The stamps of other SDKs beside the expected one ("1.5.0 in ~/openmv-sdk-1.5.0"),
 * as upstream's Makefile reports them. */
static void other_sdks(const char *sdk_dir, struct strbuf *out)
{
    struct strbuf parent = STRBUF_INIT, path = STRBUF_INIT, stamp = STRBUF_INIT;
    const char *slash = strrchr(sdk_dir, '/');
    struct dirent *e;
    DIR *d;

    strbuf_add(&parent, sdk_dir, slash && slash != sdk_dir ? (size_t)(slash - sdk_dir) : 1);
    d = opendir(parent.buf);
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "openmv-sdk-", 11))
            continue;
        strbuf_reset(&path);
        fs_path_join(&path, parent.buf, e->d_name);
        strbuf_reset(&stamp);
        if (sdk_read_stamp(path.buf, &stamp, NULL, 0) == 0)
            strbuf_addf(out, "%s%s in %s", out->len ? ", " : "", stamp.buf, path.buf);
    }
    if (d)
        closedir(d);
    strbuf_release(&parent);
    strbuf_release(&path);
    strbuf_release(&stamp);
}

bool bld_sdk_ok(const struct bld *b)
{
    return b->no_version || (b->stamp_rc == 0 && !strcmp(b->stamp.buf, b->version.buf));
}

void bld_explain_sdk(struct omv_ctx *ctx, const struct bld *b, struct strbuf *msg)
{
    struct strbuf others = STRBUF_INIT;

    (void)ctx;
    if (b->stamp_rc == OMV_ENOENT) {
        other_sdks(b->sdk_dir.buf, &others);
        strbuf_addf(msg, "the OpenMV SDK %s this repository needs is not installed in '%s'",
                    b->version.buf, b->sdk_dir.buf);
        if (others.len)
            strbuf_addf(msg, " (installed: %s)", others.buf);
    } else if (b->stamp_rc < 0) {
        strbuf_addf(msg, "the OpenMV SDK in '%s' is damaged: %s", b->sdk_dir.buf, b->stamp_err);
    } else {
        strbuf_addf(msg, "the OpenMV SDK in '%s' is version %s, but this repository needs %s",
                    b->sdk_dir.buf, b->stamp.buf, b->version.buf);
    }
    strbuf_release(&others);
}

void bld_self_exe(struct strbuf *out)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    strbuf_reset(out);
    if (n > 0) {
        buf[n] = '\0';
        strbuf_addstr(out, buf);
    } else if (proc_find_program("omvdev", NULL, out, NULL, 0) < 0) {
        strbuf_addstr(out, "omvdev");
    }
}

/* ---- running things -------------------------------------------------------------- */

struct make_watch {
    struct strbuf first_error; /* the first "file:line: error:" */
    struct strbuf make_error;  /* the first "*** ..." line of make itself */
};

/* "path:LINE[:COL]: error: ..." or ": fatal error:" */
static bool is_compile_error(const char *line)
{
    const char *e = strstr(line, ": error: ");
    const char *f = strstr(line, ": fatal error: ");
    const char *end = e && (!f || e < f) ? e : f;
    const char *p;

    if (!end || end == line)
        return false;
    /* digits right before `end`, after a ':' (optionally twice, for the column) */
    for (int part = 0; part < 2; part++) {
        p = end;
        while (p > line && p[-1] >= '0' && p[-1] <= '9')
            p--;
        if (p == end || p == line || p[-1] != ':')
            return part == 1;
        end = p - 1;
        if (end == line)
            return false;
    }
    return true;
}

static void watch_line(void *ud, int fd, const char *line, size_t len)
{
    struct make_watch *w = ud;
    char buf[1024];

    (void)fd;
    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    if (!w->first_error.len && is_compile_error(buf))
        strbuf_addstr(&w->first_error, buf);
    else if (!w->make_error.len && strstr(buf, "*** "))
        strbuf_addstr(&w->make_error, buf);
}

/*
 * Run argv in dir with the build environment. Returns the child's exit
 * status (0 on success), or -1 after printing why it could not run.
 */
static int run_tool(struct omv_ctx *ctx, const struct bld *b, const char *const *argv,
                    const char *dir, struct make_watch *w)
{
    struct proc p;
    struct proc_spec spec;
    struct strbuf cmdline = STRBUF_INIT;
    char err[1024];
    int rc;

    for (const char *const *a = argv; *a; a++)
        strbuf_addf(&cmdline, "%s%s", a == argv ? "" : " ", *a);
    verbose(ctx, "running '%s' in %s", cmdline.buf, dir);
    strbuf_release(&cmdline);

    memset(&spec, 0, sizeof(spec));
    spec.argv = argv;
    spec.envp = (const char *const *)b->env.envp;
    spec.cwd = dir;
    spec.out = PROC_INHERIT;
    spec.err = w ? PROC_TEE : PROC_INHERIT;
    spec.on_line = w ? watch_line : NULL;
    spec.ud = w;
    fflush(stdout);
    rc = proc_run(&p, &spec, -1, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT)
            hint(ctx, "install it (Debian/Ubuntu: sudo apt-get install build-essential git)");
        proc_release(&p);
        return -1;
    }
    rc = p.exited ? p.exit_code : 128 + p.term_signal;
    proc_release(&p);
    return rc;
}

/* "-jN": --jobs (or [build] jobs), else the number of online cores. */
static void jobs_arg(const struct omv_invocation *inv, char *buf, size_t len)
{
    const char *j = opt_value(&inv->opts, build_opts, "jobs");
    long n = j ? strtol(j, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    snprintf(buf, len, "-j%ld", n);
}

/* ---- picking the boards ------------------------------------------------------------ */

/* Is `name` a board of the repository? Gives its spelling there. */
static const char *repo_board(const struct fw_list *boards, const char *name)
{
    for (size_t i = 0; i < boards->nr; i++)
        if (!strcasecmp(boards->items[i], name))
            return boards->items[i];
    return NULL;
}

static int unknown_board(struct omv_ctx *ctx, const struct bld *b, const struct fw_list *boards,
                         const char *name)
{
    const struct target_db *db = ctx_targets(ctx);
    const char *s = suggest(name, (const char *const *)boards->items, boards->nr);

    if (db && target_find(db, name)) {
        error(ctx, "board '%s' is not in this repository's boards/ directory ('%s')", name,
              b->tree.boards_dir);
        hint(ctx,
             "this checkout is older or newer than omvdev's board database; 'ls %s' lists "
             "the boards it builds",
             b->tree.boards_dir);
        return OMV_EXIT_USAGE;
    }
    error(ctx, "unknown board '%s'", name);
    if (s)
        hint(ctx, "did you mean '%s'?", s);
    else
        hint(ctx, "'ls %s' lists the boards this repository builds", b->tree.boards_dir);
    return OMV_EXIT_USAGE;
}

/*
 * The boards to work on: -t A,B,C, --all, [build] target, or the only board
 * built before. Fills `out` with their repository spellings.
 */
static int pick_targets(struct omv_ctx *ctx, const struct bld *b, const char *t_opt, bool all,
                        const char *cmdname, struct fw_list *out)
{
    const struct target_db *db = ctx_targets(ctx);
    struct fw_list boards = FW_LIST_INIT, built = FW_LIST_INIT;
    const struct cfg_entry *cfg = cfg_lookup(&ctx->cfg, "build", "target");
    char err[512];
    int rc = 0;

    if (!db)
        return OMV_EXIT_FAILURE;
    if (fw_tree_boards(&b->tree, &boards, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    if (all) {
        for (size_t i = 0; i < boards.nr; i++) {
            const struct target *t = target_find(db, boards.items[i]);

            if (t && t->supported)
                fw_list_add(out, boards.items[i]);
        }
        if (!out->nr) {
            rc = error(ctx, "no board of '%s' is one omvdev knows", b->tree.boards_dir);
            rc = OMV_EXIT_USAGE;
        }
        goto done;
    }
    if (!t_opt && cfg)
        t_opt = cfg->value;
    if (!t_opt) {
        size_t n = 0;
        const char *only = NULL;

        fw_tree_built(&b->tree, &built);
        for (size_t i = 0; i < built.nr; i++) {
            if (repo_board(&boards, built.items[i]) && target_find(db, built.items[i])) {
                only = built.items[i];
                n++;
            }
        }
        if (n == 1) {
            verbose(ctx, "building %s, the only board built before", only);
            fw_list_add(out, only);
            goto done;
        }
        error(ctx,
              n ? "which board? %zu boards were built before"
                : "which board? none was "
                  "built before",
              n);
        hint(ctx,
             "name it: omvdev %s -t OPENMV4, or set a default: omvdev config set --project "
             "build.target OPENMV4",
             cmdname);
        rc = OMV_EXIT_USAGE;
        goto done;
    }
    for (const char *p = t_opt; p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *name = xstrndup(p, len);
        const char *r = repo_board(&boards, name);

        if (!*name) {
            free(name);
            rc = error(ctx, "empty board name in '%s'", t_opt);
            rc = OMV_EXIT_USAGE;
            goto done;
        }
        if (!r) {
            rc = unknown_board(ctx, b, &boards, name);
            free(name);
            goto done;
        }
        if (!target_find(db, r))
            warning(ctx, "'%s' is not in omvdev's board database: no partition or compiler checks",
                    r);
        fw_list_add(out, r);
        free(name);
        p = comma ? comma + 1 : NULL;
    }
done:
    fw_list_release(&boards);
    fw_list_release(&built);
    return rc;
}

/* ---- checks before make ---------------------------------------------------------------- */

static int ensure_sdk(struct omv_ctx *ctx, struct bld *b, bool install)
{
    struct strbuf msg = STRBUF_INIT, self = STRBUF_INIT;
    char err[512];
    int rc;

    if (bld_sdk_ok(b))
        return 0;
    bld_explain_sdk(ctx, b, &msg);
    if (!install) {
        error(ctx, "%s", msg.buf);
        hint(ctx, "install it: omvdev sdk install (or build with --install-sdk)");
        strbuf_release(&msg);
        return OMV_EXIT_FAILURE;
    }
    note(ctx, "%s: installing it", msg.buf);
    strbuf_release(&msg);
    bld_self_exe(&self);
    {
        const char *argv[] = {self.buf, "sdk", "install", "--version", b->version.buf, NULL};

        rc = run_tool(ctx, b, argv, b->tree.root, NULL);
    }
    strbuf_release(&self);
    if (rc != 0) {
        if (rc > 0)
            error(ctx, "'omvdev sdk install --version %s' failed (exit status %d)", b->version.buf,
                  rc);
        return OMV_EXIT_FAILURE;
    }
    strbuf_reset(&b->stamp);
    b->stamp_rc = sdk_read_stamp(b->sdk_dir.buf, &b->stamp, err, sizeof(err));
    if (!bld_sdk_ok(b)) {
        strbuf_init(&msg);
        bld_explain_sdk(ctx, b, &msg);
        error(ctx, "%s", msg.buf);
        strbuf_release(&msg);
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

static int ensure_submodules(struct omv_ctx *ctx, const struct bld *b, const char *target,
                             const struct target *t, bool init, const char *jobs)
{
    struct fw_list missing = FW_LIST_INIT;
    struct strbuf tgt = STRBUF_INIT;
    int rc = 0;

    fw_tree_missing_submodules(&b->tree, t ? t->port : NULL, &missing);
    if (!missing.nr)
        goto out;
    strbuf_addf(&tgt, "TARGET=%s", target);
    if (!init) {
        error(ctx, "submodule '%s' is not checked out%s", missing.items[0],
              missing.nr > 1 ? " (and others)" : "");
        hint(ctx,
             "run: git submodule update --init --depth=1 --no-single-branch && make %s "
             "submodules (or build with --init)",
             tgt.buf);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    note(ctx, "checking out the submodules %s needs", target);
    {
        const char *git[] = {"git", "submodule", "update", "--init", "--depth=1", NULL};
        const char *make[] = {"make", jobs, tgt.buf, "submodules", NULL};

        if (run_tool(ctx, b, git, b->tree.root, NULL) != 0 ||
            run_tool(ctx, b, make, b->tree.make_dir, NULL) != 0) {
            error(ctx, "checking out the submodules failed");
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    fw_list_release(&missing);
    fw_tree_missing_submodules(&b->tree, t ? t->port : NULL, &missing);
    if (missing.nr) {
        error(ctx, "submodule '%s' is still not checked out", missing.items[0]);
        rc = OMV_EXIT_FAILURE;
    }
out:
    fw_list_release(&missing);
    strbuf_release(&tgt);
    return rc;
}

static int ensure_mpy_cross(struct omv_ctx *ctx, const struct bld *b, const char *jobs)
{
    struct strbuf path = STRBUF_INIT, dir = STRBUF_INIT;
    int rc = 0;

    if (fw_tree_mpy_cross(&b->tree, &path))
        goto out;
    note(ctx, "building mpy-cross (MicroPython's bytecode compiler, needed once)");
    fs_path_join(&dir, b->tree.mpy_dir, "mpy-cross");
    {
        const char *argv[] = {"make", jobs, "-C", dir.buf, NULL};

        if (run_tool(ctx, b, argv, b->tree.make_dir, NULL) != 0 ||
            !fw_tree_mpy_cross(&b->tree, &path)) {
            error(ctx, "building mpy-cross failed ('%s' is not there)", path.buf);
            hint(ctx, "see make's output above; to retry by hand: make -C %s", dir.buf);
            rc = OMV_EXIT_FAILURE;
        }
    }
out:
    strbuf_release(&path);
    strbuf_release(&dir);
    return rc;
}

int bld_check_gcc(struct omv_ctx *ctx, const struct bld *b, const struct target *t,
                  struct strbuf *problem, struct strbuf *fix)
{
    struct strbuf bin = STRBUF_INIT, ver = STRBUF_INIT, sdk_gcc = STRBUF_INIT;
    char err[1024];
    unsigned v = 0;
    int rc = 0;

    (void)ctx;
    fs_path_join(&sdk_gcc, b->sdk_dir.buf, "gcc/bin/arm-none-eabi-gcc");
    if (toolchain_probe("arm-none-eabi-gcc", b->env.path, "-dumpversion", &bin, &ver, err,
                        sizeof(err)) < 0) {
        strbuf_addf(problem, "%s", err);
        strbuf_addstr(fix, "omvdev sdk install");
        rc = -1;
        goto out;
    }
    if (gcc_version_parse(ver.buf, &v) < 0) {
        strbuf_addf(problem, "'%s -dumpversion' printed '%.40s', not a version", bin.buf, ver.buf);
        strbuf_addstr(fix, "omvdev sdk install");
        rc = -1;
        goto out;
    }
    if (t && t->min_gcc && v < t->min_gcc) {
        strbuf_addf(problem,
                    "%s (%s) needs GCC %u.%u or newer, but make would run '%s', which is GCC %s",
                    t->name, t->core, t->min_gcc / 100, t->min_gcc % 100, bin.buf, ver.buf);
        if (b->no_version)
            strbuf_addstr(fix, "put the Arm GNU Toolchain 14.3 first on PATH");
        else if (strcmp(bin.buf, sdk_gcc.buf))
            strbuf_addf(fix,
                        "it shadows the SDK's compiler because '%s' is missing; reinstall the "
                        "SDK: omvdev sdk install",
                        sdk_gcc.buf);
        else
            strbuf_addstr(fix, "the SDK's own compiler is too old: omvdev sdk install");
        rc = -1;
        goto out;
    }
    strbuf_addf(problem, "%s (GCC %s)", bin.buf, ver.buf);
out:
    strbuf_release(&bin);
    strbuf_release(&ver);
    strbuf_release(&sdk_gcc);
    return rc;
}

/* ---- after make: the images and their partitions ------------------------------------------ */

static void human_size(uint64_t n, char *buf, size_t len)
{
    if (n < 1024)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else if (n % (1024 * 1024) == 0)
        snprintf(buf, len, "%llu MiB", (unsigned long long)(n / (1024 * 1024)));
    else if (n % 1024 == 0 && n < 1024 * 1024)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(n / 1024));
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, len, "%.2f MiB", (double)n / (1024.0 * 1024.0));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Print bin/'s files with sizes and partition fill to `out`. Returns 0, or
 * OMV_EXIT_FAILURE when an image does not fit (after saying so); *fill_note
 * gets the firmware's fill for the summary table.
 */
static int report_images(struct omv_ctx *ctx, const struct bld *b, const char *target,
                         struct strbuf *out, struct strbuf *fill_note)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct target *t = db ? target_find(db, target) : NULL;
    struct part_layout layout = PART_LAYOUT_INIT;
    struct strbuf dir = STRBUF_INIT, board = STRBUF_INIT, path = STRBUF_INIT;
    struct fw_list files = FW_LIST_INIT;
    char err[512], a[32], m[32];
    int rc = 0, lrc;
    struct dirent *e;
    DIR *d;

    fw_tree_bin_dir(&b->tree, target, &dir);
    fs_path_join(&board, b->tree.boards_dir, target);
    lrc = part_layout_load(&layout, board.buf, err, sizeof(err));
    if (lrc < 0 && lrc != OMV_ENOENT)
        warning(ctx, "%s", err);
    verbose(ctx, "partition sizes: %s",
            layout.nr ? "from the repository's board_config.h/boot_config.h"
                      : "from omvdev's board database");

    d = opendir(dir.buf);
    if (!d) {
        rc = error(ctx, "make succeeded but there is no '%s': %s", dir.buf, strerror(errno));
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            fw_list_add(&files, e->d_name);
    closedir(d);
    qsort(files.items, files.nr, sizeof(char *), cmp_name);

    strbuf_addf(out, "%s%s%s: %s\n", color_bold(ctx), target, color_reset(ctx), dir.buf);
    for (size_t i = 0; i < files.nr; i++) {
        const char *f = files.items[i];
        const struct part_size *ps = part_layout_find(&layout, f);
        uint64_t max = ps ? ps->max : 0;
        struct stat st;

        strbuf_reset(&path);
        fs_path_join(&path, dir.buf, f);
        if (stat(path.buf, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!max && t)
            for (size_t k = 0; k < t->nr_images; k++)
                if (!strcmp(t->images[k].file, f))
                    max = t->images[k].max_size;
        human_size((uint64_t)st.st_size, a, sizeof(a));
        if (!max) {
            strbuf_addf(out, "  %-22s %s\n", f, a);
            continue;
        }
        {
            uint64_t size = (uint64_t)st.st_size;
            unsigned pct = (unsigned)((size * 100 + max / 2) / max);

            human_size(max, m, sizeof(m));
            strbuf_addf(out, "  %-22s %s of %s (%u %%)\n", f, a, m, pct);
            if (!strncmp(f, "firmware", 8) && !fill_note->len)
                strbuf_addf(fill_note, "%s %s of %s (%u %%)", f, a, m, pct);
            if (size > max) {
                rc = OMV_EXIT_FAILURE;
                strbuf_addf(out, "  ^ does not fit: %llu bytes over its %s partition\n",
                            (unsigned long long)(size - max), m);
            } else if (size * 100 > max * 95) {
                strbuf_addf(out, "  ^ nearly full: %llu bytes left\n",
                            (unsigned long long)(max - size));
                warning(ctx, "%s of %s fills %u %% of its %s partition", f, target, pct, m);
            }
        }
    }
    if (rc) {
        out_write(out->buf, out->len);
        fflush(stdout);
        strbuf_reset(out);
        error(ctx, "an image of %s is larger than its flash partition", target);
        hint(ctx,
             "make it smaller: drop modules from boards/%s/manifest.py or disable features "
             "in boards/%s/board_config.mk (a DEBUG=1 build is also larger)",
             target, target);
    }
out:
    part_layout_release(&layout);
    fw_list_release(&files);
    strbuf_release(&dir);
    strbuf_release(&board);
    strbuf_release(&path);
    return rc;
}

/* ---- omvdev build ------------------------------------------------------------------------- */

struct target_result {
    const char *name;
    const char *result;
    double seconds;
    struct strbuf note;
};

static int build_one(struct omv_ctx *ctx, struct omv_invocation *inv, struct bld *b,
                     const char *target, const char *jobs, struct target_result *res)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct target *t = db ? target_find(db, target) : NULL;
    const char *const *options = opt_values(&inv->opts, build_opts, "option");
    struct strbuf problem = STRBUF_INIT, fix = STRBUF_INIT, tgt = STRBUF_INIT, out = STRBUF_INIT;
    struct make_watch w = {STRBUF_INIT, STRBUF_INIT};
    struct cdb_capture cdb;
    const char **argv = NULL;
    size_t n = 0;
    int rc, status;

    if ((rc = ensure_submodules(ctx, b, target, t, opt_count(&inv->opts, build_opts, "init") > 0,
                                jobs)))
        goto out;
    if ((rc = ensure_mpy_cross(ctx, b, jobs)))
        goto out;
    if (t && t->min_gcc && bld_check_gcc(ctx, b, t, &problem, &fix) < 0) {
        error(ctx, "%s", problem.buf);
        hint(ctx, "%s", fix.buf);
        strbuf_reset(&res->note);
        strbuf_addstr(&res->note, "compiler too old");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }

    strbuf_addf(&tgt, "TARGET=%s", target);
    if (opt_count(&inv->opts, build_opts, "clean")) {
        const char *clean[] = {"make", tgt.buf, "clean", NULL};

        if (run_tool(ctx, b, clean, b->tree.make_dir, NULL) != 0) {
            rc = error(ctx, "'make %s clean' failed", tgt.buf);
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    for (size_t i = 0; options[i]; i++)
        n++;
    argv = xcalloc(n + (size_t)inv->opts.nr_args + 8, sizeof(char *));
    n = 0;
    argv[n++] = "make";
    argv[n++] = jobs;
    argv[n++] = tgt.buf;
    if (opt_count(&inv->opts, build_opts, "debug"))
        argv[n++] = "DEBUG=1";
    if (ctx->verbosity > 0)
        argv[n++] = "V=1";
    for (size_t i = 0; options[i]; i++)
        argv[n++] = options[i];
    for (int i = 0; i < inv->opts.nr_args; i++)
        argv[n++] = inv->opts.args[i];
    cdb_capture_begin(ctx, b->tree.make_dir, target, &cdb); /* compile_commands.json */
    n = cdb_capture_args(&cdb, argv, n);
    argv[n] = NULL;

    status = run_tool(ctx, b, argv, b->tree.make_dir, &w);
    cdb_capture_end(ctx, &cdb);
    if (status != 0) {
        const char *why = w.first_error.len  ? w.first_error.buf
                          : w.make_error.len ? w.make_error.buf
                                             : NULL;

        if (status > 0)
            error(ctx, "building %s failed (make: exit status %d)%s%s", target, status,
                  why ? ": " : "", why ? why : "");
        strbuf_reset(&res->note);
        strbuf_addstr(&res->note, why ? why : "make failed");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = report_images(ctx, b, target, &out, &res->note);
    out_write(out.buf, out.len);
    if (rc)
        goto out;
    res->result = "ok";
out:
    free(argv);
    strbuf_release(&problem);
    strbuf_release(&fix);
    strbuf_release(&tgt);
    strbuf_release(&out);
    strbuf_release(&w.first_error);
    strbuf_release(&w.make_error);
    return rc;
}

static void check_options(struct omv_ctx *ctx, const char *const *options)
{
    for (; *options; options++) {
        const char *eq = strchr(*options, '=');
        size_t len = eq ? (size_t)(eq - *options) : strlen(*options);
        bool known = false;

        for (const char *const *k = make_options; *k; k++)
            if (strlen(*k) == len && !strncmp(*k, *options, len))
                known = true;
        if (!eq)
            warning(ctx, "--option '%s' has no '=': make will take it as a goal", *options);
        else if (!known)
            warning(ctx,
                    "'%.*s' is not one of the firmware's documented options (DEBUG, V, "
                    "DEBUG_PRINTF, PROFILE_ENABLE, STACK_PROTECTOR, FB_ALLOC_STATS); passing "
                    "it to make anyway",
                    (int)len, *options);
    }
}

int cmd_build(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct bld b;
    struct fw_list targets = FW_LIST_INIT;
    struct target_result *res = NULL;
    const char *jv = opt_value(&inv->opts, build_opts, "jobs");
    char jobs[32];
    int rc, failed = 0;

    if (jv) {
        char *end;
        long n = strtol(jv, &end, 10);

        if (*end || n < 1 || n > 4096)
            return usage_error(ctx, inv, "invalid --jobs '%s': expected a number from 1 to 4096",
                               jv);
    }
    jobs_arg(inv, jobs, sizeof(jobs));
    check_options(ctx, opt_values(&inv->opts, build_opts, "option"));
    if ((rc = bld_open(ctx, &b, false)))
        goto out;
    if ((rc = pick_targets(ctx, &b, opt_value(&inv->opts, build_opts, "target"),
                           opt_count(&inv->opts, build_opts, "all") > 0, "build", &targets)))
        goto out;
    if ((rc = ensure_sdk(ctx, &b, opt_count(&inv->opts, build_opts, "install-sdk") > 0)))
        goto out;

    res = xcalloc(targets.nr, sizeof(*res));
    for (size_t i = 0; i < targets.nr; i++) {
        int64_t start = progress_now_ms();

        res[i].name = targets.items[i];
        res[i].result = "failed";
        strbuf_init(&res[i].note);
        if (targets.nr > 1)
            note(ctx, "building %s (%zu of %zu)", targets.items[i], i + 1, targets.nr);
        if (build_one(ctx, inv, &b, targets.items[i], jobs, &res[i]))
            failed++;
        res[i].seconds = (double)(progress_now_ms() - start) / 1000.0;
    }
    if (targets.nr > 1) {
        struct table tb = TABLE_INIT;
        struct strbuf sb = STRBUF_INIT;

        table_header(&tb, 4, "TARGET", "RESULT", "TIME", "FIRMWARE / FIRST ERROR");
        for (size_t i = 0; i < targets.nr; i++) {
            char secs[32];

            snprintf(secs, sizeof(secs), "%.1f s", res[i].seconds);
            table_row(&tb, res[i].name, res[i].result, secs, res[i].note.buf);
        }
        strbuf_addch(&sb, '\n');
        table_render(&tb, TABLE_TEXT, &sb);
        strbuf_addf(&sb, "%zu built, %d failed\n", targets.nr - (size_t)failed, failed);
        out_write(sb.buf, sb.len);
        strbuf_release(&sb);
        table_release(&tb);
    }
    rc = failed ? OMV_EXIT_FAILURE : OMV_EXIT_OK;
out:
    for (size_t i = 0; res && i < targets.nr; i++)
        strbuf_release(&res[i].note);
    free(res);
    fw_list_release(&targets);
    bld_release(&b);
    return rc;
}

/* ---- omvdev clean / size -------------------------------------------------------------------- */

static int one_target(struct omv_ctx *ctx, struct omv_invocation *inv, const struct opt *opts,
                      struct bld *b, struct fw_list *targets)
{
    int rc;

    if ((rc = bld_open(ctx, b, false)))
        return rc;
    if ((rc = pick_targets(ctx, b, opt_value(&inv->opts, opts, "target"), false, inv->path,
                           targets)))
        return rc;
    if (targets->nr != 1)
        return usage_error(ctx, inv, "'omvdev %s' works on one board at a time", inv->path);
    return 0;
}

int cmd_clean(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct bld b;
    struct fw_list targets = FW_LIST_INIT;
    struct strbuf tgt = STRBUF_INIT, dir = STRBUF_INIT;
    int rc;

    if ((rc = one_target(ctx, inv, clean_opts, &b, &targets)))
        goto out;
    strbuf_addf(&tgt, "TARGET=%s", targets.items[0]);
    {
        /* upstream's clean needs no SDK: `make TARGET=T clean` removes build/T */
        const char *argv[] = {"make", tgt.buf, "clean", NULL};
        int status = run_tool(ctx, &b, argv, b.tree.make_dir, NULL);

        if (status != 0) {
            if (status > 0)
                error(ctx, "'make %s clean' failed (exit status %d)", tgt.buf, status);
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    fw_tree_bin_dir(&b.tree, targets.items[0], &dir);
    note(ctx, "cleaned %s", targets.items[0]);
out:
    strbuf_release(&tgt);
    strbuf_release(&dir);
    fw_list_release(&targets);
    bld_release(&b);
    return rc;
}

int cmd_size(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct bld b;
    struct fw_list targets = FW_LIST_INIT, elfs = FW_LIST_INIT;
    struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT, out = STRBUF_INIT, fill = STRBUF_INIT;
    struct dirent *e;
    DIR *d;
    int rc;

    if ((rc = one_target(ctx, inv, size_opts, &b, &targets)))
        goto out;
    fw_tree_bin_dir(&b.tree, targets.items[0], &dir);
    d = opendir(dir.buf);
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len > 4 && !strcmp(e->d_name + len - 4, ".elf"))
            fw_list_add(&elfs, e->d_name);
    }
    if (d)
        closedir(d);
    if (!elfs.nr) {
        rc = error(ctx, "no build of %s: '%s' holds no .elf file", targets.items[0], dir.buf);
        hint(ctx, "build it first: omvdev build -t %s", targets.items[0]);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    qsort(elfs.items, elfs.nr, sizeof(char *), cmp_name);
    for (size_t i = 0; i < elfs.nr; i++) {
        const char *argv[] = {"arm-none-eabi-size", "--format=SysV", NULL, NULL};
        int status;

        strbuf_reset(&path);
        fs_path_join(&path, dir.buf, elfs.items[i]);
        argv[2] = path.buf;
        status = run_tool(ctx, &b, argv, b.tree.make_dir, NULL);
        if (status != 0) {
            if (status > 0)
                error(ctx, "'arm-none-eabi-size %s' failed (exit status %d)", path.buf, status);
            else
                hint(ctx, "arm-none-eabi-size comes with the SDK: omvdev sdk install");
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    rc = report_images(ctx, &b, targets.items[0], &out, &fill);
    out_write(out.buf, out.len);
out:
    strbuf_release(&dir);
    strbuf_release(&path);
    strbuf_release(&out);
    strbuf_release(&fill);
    fw_list_release(&targets);
    fw_list_release(&elfs);
    bld_release(&b);
    return rc;
}

/* ---- omvdev env -------------------------------------------------------------------------------
 */

int cmd_env(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const char *shell = opt_value(&inv->opts, env_opts, "shell");
    struct strbuf out = STRBUF_INIT, prefix = STRBUF_INIT, msg = STRBUF_INIT;
    struct bld b;
    int rc;

    if (!shell) {
        const char *s = getenv("SHELL");
        const char *base = s ? strrchr(s, '/') : NULL;

        base = base ? base + 1 : s;
        shell = "bash";
        for (const char *const *c = shell_choices; base && *c; c++)
            if (!strcmp(base, *c) || (!strcmp(*c, "powershell") && !strcmp(base, "pwsh")))
                shell = *c;
    }
    if ((rc = bld_open(ctx, &b, false)))
        goto out;
    if (b.no_version) {
        rc = error(ctx, "'%s' has no SDK_VERSION: this release builds with the toolchain on PATH",
                   b.tree.root);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (!bld_sdk_ok(&b)) {
        bld_explain_sdk(ctx, &b, &msg);
        warning(ctx, "%s", msg.buf);
        hint(ctx, "omvdev sdk install");
    }
    sdk_env_script(&out,
                   !strcmp(shell, "fish")         ? SDK_SHELL_FISH
                   : !strcmp(shell, "powershell") ? SDK_SHELL_POWERSHELL
                                                  : SDK_SHELL_SH,
                   b.sdk_dir.buf, b.sysname);
    out_write(out.buf, out.len);
out:
    strbuf_release(&out);
    strbuf_release(&prefix);
    strbuf_release(&msg);
    bld_release(&b);
    return rc;
}
