/*
 * omvdev build, clean, size and env: `make TARGET=<board>` in the firmware
 * repository with the SDK's environment, after checking everything the
 * firmware guide's troubleshooting section lists (SDK missing or of the wrong
 * version, submodules, GCC older than 14.3 on Cortex-M55 boards, mpy-cross),
 * and afterwards how full each flash partition is.
 *
 * Where things are comes from targets/fwtree (both layouts: src/ up to
 * v4.6.x, the top-level one from v4.7.0); make's output is shown as it
 * arrives, with compile-error paths rewritten relative to the repository.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "cmd/buildcmd.h"
#include "cmd/compiledb.h"
#include "cmd/docker.h"
#include "cmd/sizediff.h"
#include "flash/elf.h"
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

static const char *const container_engines[] = {"auto", "docker", "podman", NULL};

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
     "pass a make option the tree's Makefile reads: DEBUG, V, DEBUG_PRINTF, STACK_PROTECTOR, "
     "FB_ALLOC_STATS, PROFILE_ENABLE (PROFILE up to v4.7.x), ...",
     NULL, OPT_REPEAT, NULL},
    {"install-sdk", 0, OPT_FLAG, NULL,
     "install the SDK the repository needs when it is missing (omvdev sdk install)", NULL, 0, NULL},
    {"init", 0, OPT_FLAG, NULL,
     "check out missing or outdated submodules the board needs (git submodule update --init)", NULL,
     0, NULL},
    {"docker", 0, OPT_FLAG, NULL,
     "build in the repository's docker/ container (its build-dev.sh), the SDK mounted", NULL, 0,
     NULL},
    {"container", 0, OPT_VALUE, "ENGINE", "the engine --docker uses: auto, docker or podman",
     container_engines, OPT_CONFIG, "auto"},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

const struct opt clean_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: [build] target, or the only one built)", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const char *const size_formats[] = {"text", "markdown", "json", NULL};

const struct opt size_opts[] = {
    {"target", 't', OPT_VALUE, "TARGET",
     "the board (default: [build] target, or the only one built)", NULL, 0, NULL},
    {"save", 0, OPT_VALUE, "NAME|FILE|DIR/",
     "record the sizes: as NAME (in build/omvdev-sizes/NAME/), in FILE, or in DIR/<TARGET>.sizes",
     NULL, 0, NULL},
    {"diff", 0, OPT_VALUE, "NAME|FILE|DIR", "print the changes since a record (see --save)", NULL,
     0, NULL},
    {"format", 0, OPT_VALUE, "FORMAT", "of --diff: text, markdown (for a pull request) or json",
     size_formats, 0, NULL},
    {"all", 'a', OPT_FLAG, NULL, "every board built in this repository", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const char *const shell_choices[] = {"bash", "zsh", "fish", "powershell", NULL};

const struct opt env_opts[] = {
    {"shell", 's', OPT_VALUE, "SHELL", "the syntax (default: from $SHELL, else bash)",
     shell_choices, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

/* ---- options, read once per command ---------------------------------------------------- */

struct build_options {
    const char *targets; /* -t A,B or [build] target; NULL: the one built before */
    bool all, debug, clean, install_sdk, init;
    bool docker;                 /* --docker */
    const char *container;       /* --container or [build] container */
    unsigned jobs;               /* --jobs, else the number of cores */
    const char *const *make_opt; /* --option NAME=VALUE, NULL-terminated */
    char **args;                 /* after -- */
    int nr_args;
};

static int read_build_options(struct omv_ctx *ctx, struct omv_invocation *inv,
                              struct build_options *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = cores > 0 ? (uint64_t)cores : 1;
    char err[256];

    memset(o, 0, sizeof(*o));
    if (cmd_number(inv, "jobs", &n, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    o->jobs = (unsigned)n;
    o->targets = opt_value(&inv->opts, build_opts, "target");
    o->all = opt_count(&inv->opts, build_opts, "all") > 0;
    o->debug = opt_count(&inv->opts, build_opts, "debug") > 0;
    o->clean = opt_count(&inv->opts, build_opts, "clean") > 0;
    o->install_sdk = opt_count(&inv->opts, build_opts, "install-sdk") > 0;
    o->init = opt_count(&inv->opts, build_opts, "init") > 0;
    o->docker = opt_count(&inv->opts, build_opts, "docker") > 0;
    o->container = opt_value(&inv->opts, build_opts, "container");
    o->make_opt = opt_values(&inv->opts, build_opts, "option");
    o->args = inv->opts.args;
    o->nr_args = inv->opts.nr_args;
    return 0;
}

/* ---- shared with doctor (buildcmd.h) ------------------------------------------ */

void bld_release(struct bld *b)
{
    if (b->have_tree)
        fw_tree_release(&b->tree);
    strbuf_release(&b->version);
    strbuf_release(&b->sdk_dir);
    strbuf_release(&b->stamp);
    buildenv_release(&b->env);
}

int bld_open(struct omv_ctx *ctx, struct bld *b, bool quiet)
{
    const struct cfg_entry *root = cfg_lookup(&ctx->cfg, "sdk", "root");
    struct utsname u;
    char err[1024];
    int rc;

    memset(b, 0, sizeof(*b));
    strbuf_init(&b->version);
    strbuf_init(&b->sdk_dir);
    strbuf_init(&b->stamp);
    if ((rc = cmd_tree_open(ctx, &b->tree, quiet)))
        return rc;
    b->have_tree = true;
    b->sysname = uname(&u) == 0 && !strcmp(u.sysname, "Darwin") ? "Darwin" : "Linux";
    rc = sdk_repo_version(b->tree.root, &b->version, err, sizeof(err));
    if (rc == OMV_ENOENT) {
        /* Releases before 5.0: no pinned SDK, the toolchain comes from PATH. */
        b->no_version = true;
        verbose(ctx, "no SDK_VERSION in '%s': using the toolchain on PATH", b->tree.root);
    } else if (rc < 0) {
        if (!quiet)
            error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    } else {
        if (sdk_dir(root ? root->value : NULL, b->version.buf, &b->sdk_dir, err, sizeof(err)) < 0) {
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
    struct strbuf parent = STRBUF_INIT;
    struct sdk_found_list l = SDK_FOUND_LIST_INIT;
    const char *slash = strrchr(sdk_dir, '/');

    strbuf_add(&parent, sdk_dir, slash && slash != sdk_dir ? (size_t)(slash - sdk_dir) : 1);
    sdk_find_installed(parent.buf, &l);
    for (size_t i = 0; i < l.nr; i++)
        if (l.items[i].version && strcmp(l.items[i].dir, sdk_dir))
            strbuf_addf(out, "%s%s in %s", out->len ? ", " : "", l.items[i].version,
                        l.items[i].dir);
    sdk_found_list_release(&l);
    strbuf_release(&parent);
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

/* ---- running make -------------------------------------------------------------------- */

/*
 * What make printed that explains a failure, and the directories it entered
 * (make -w), to rewrite compiler paths relative to the repository root.
 */
struct make_watch {
    const struct fw_tree *tree;
    bool verbose;
    struct fw_list dirs;       /* "Entering directory" paths, newest last */
    struct strbuf first_error; /* the first "file:line: error:", rewritten */
    struct strbuf cause;       /* "sh: 1: arm-none-eabi-cpp: not found" and the like */
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

/* A line that names a program or file the shell or make could not find. */
static bool is_cause(const char *line)
{
    size_t n = strlen(line);
    static const char *const tails[] = {": not found", ": command not found",
                                        ": No such file or directory"};

    for (size_t i = 0; i < ARRAY_SIZE(tails); i++) {
        size_t k = strlen(tails[i]);

        if (n > k && !strcmp(line + n - k, tails[i]) && !strstr(line, "*** "))
            return true;
    }
    return false;
}

/* "make[2]: Entering directory '/x'" → "/x" into dir. */
static bool entering_dir(const char *line, struct strbuf *dir, bool *leaving)
{
    const char *e = strstr(line, ": Entering directory '");
    const char *l = strstr(line, ": Leaving directory '");
    const char *s = e ? e + 22 : l ? l + 21 : NULL;
    const char *q = s ? strrchr(s, '\'') : NULL;

    if (!q || strncmp(line, "make", 4))
        return false;
    strbuf_reset(dir);
    strbuf_add(dir, s, (size_t)(q - s));
    *leaving = !e;
    return true;
}

/* Rewrite "rel/path.c:12:3: ..." to the path from the repository root when
 * the file exists under a directory make entered. */
static void rewrite_path(const struct make_watch *w, const char *line, struct strbuf *out)
{
    const char *colon = strchr(line, ':');
    struct strbuf cand = STRBUF_INIT, rel = STRBUF_INIT;
    char *file;

    strbuf_reset(out);
    if (!colon || colon == line || line[0] == '/' || colon[1] < '0' || colon[1] > '9' ||
        memchr(line, ' ', (size_t)(colon - line))) {
        strbuf_addstr(out, line);
        return;
    }
    file = xstrndup(line, (size_t)(colon - line));
    for (size_t i = w->dirs.nr + 1; i-- > 0;) {
        const char *dir = i == w->dirs.nr ? w->tree->make_dir : w->dirs.items[i];

        strbuf_reset(&cand);
        fs_path_join(&cand, dir, file);
        if (fs_is_file(cand.buf)) {
            struct strbuf norm = STRBUF_INIT;

            fs_absolute(&norm, cand.buf); /* folds "ports/stm32/../../py" */
            fw_tree_rel(w->tree, norm.buf, &rel);
            strbuf_release(&norm);
            break;
        }
    }
    strbuf_addstr(out, rel.len ? rel.buf : file);
    strbuf_addstr(out, colon);
    free(file);
    strbuf_release(&cand);
    strbuf_release(&rel);
}

static void watch_line(void *ud, int fd, const char *line, size_t len)
{
    struct make_watch *w = ud;
    struct strbuf buf = STRBUF_INIT, shown = STRBUF_INIT, dir = STRBUF_INIT;
    bool leaving;

    strbuf_add(&buf, line, len);
    if (entering_dir(buf.buf, &dir, &leaving)) {
        if (!leaving && !fw_list_has(&w->dirs, dir.buf))
            fw_list_add(&w->dirs, dir.buf);
        if (!w->verbose)
            goto out;
    }
    rewrite_path(w, buf.buf, &shown);
    if (!w->first_error.len && is_compile_error(shown.buf))
        strbuf_addstr(&w->first_error, shown.buf);
    else if (!w->cause.len && is_cause(shown.buf))
        strbuf_addstr(&w->cause, shown.buf);
    else if (!w->make_error.len && strstr(shown.buf, "*** "))
        strbuf_addstr(&w->make_error, shown.buf);
    strbuf_addch(&shown, '\n');
    if (fd == 1)
        out_write(shown.buf, shown.len);
    else
        fputs(shown.buf, stderr);
out:
    strbuf_release(&buf);
    strbuf_release(&shown);
    strbuf_release(&dir);
}

static void make_watch_release(struct make_watch *w)
{
    fw_list_release(&w->dirs);
    strbuf_release(&w->first_error);
    strbuf_release(&w->cause);
    strbuf_release(&w->make_error);
}

/* The line that best says why make failed, or NULL. */
static const char *make_why(const struct make_watch *w)
{
    return w->first_error.len  ? w->first_error.buf
           : w->cause.len      ? w->cause.buf
           : w->make_error.len ? w->make_error.buf
                               : NULL;
}

/*
 * Run argv in dir with the build environment. Returns the child's exit
 * status (0 on success), or -1 after printing why it could not run (with
 * `missing_hint` when the program is not found).
 */
static int run_tool(struct omv_ctx *ctx, const struct bld *b, const char *const *argv,
                    const char *dir, struct make_watch *w, const char *missing_hint)
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
    spec.out = w ? PROC_CAPTURE : PROC_INHERIT;
    spec.err = w ? PROC_CAPTURE : PROC_INHERIT;
    spec.on_line = w ? watch_line : NULL;
    spec.ud = w;
    fflush(stdout);
    rc = proc_run(&p, &spec, -1, err, sizeof(err));
    if (rc < 0) {
        error(ctx, "%s", err);
        if (rc == OMV_ENOENT)
            hint(ctx, "%s",
                 missing_hint ? missing_hint
                              : "install it (Debian/Ubuntu: sudo apt-get install make git)");
        proc_release(&p);
        return -1;
    }
    rc = p.exited ? p.exit_code : 128 + p.term_signal;
    proc_release(&p);
    return rc;
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

/* --all: every board of the repository that the database knows and supports. */
static int all_targets(struct omv_ctx *ctx, const struct bld *b, const struct fw_list *boards,
                       struct fw_list *out)
{
    const struct target_db *db = ctx_targets(ctx);

    for (size_t i = 0; i < boards->nr; i++) {
        const struct target *t = target_find(db, boards->items[i]);

        if (t && t->supported)
            fw_list_add(out, boards->items[i]);
    }
    if (out->nr)
        return 0;
    error(ctx, "no board of '%s' is one omvdev knows", b->tree.boards_dir);
    return OMV_EXIT_USAGE;
}

/* No board named: the only one built before. */
static int built_target(struct omv_ctx *ctx, const struct bld *b, const struct fw_list *boards,
                        const char *cmdname, struct fw_list *out)
{
    const struct target_db *db = ctx_targets(ctx);
    struct fw_list built = FW_LIST_INIT;
    const char *only = NULL;
    size_t n = 0;

    fw_tree_built(&b->tree, &built);
    for (size_t i = 0; i < built.nr; i++) {
        if (repo_board(boards, built.items[i]) && target_find(db, built.items[i])) {
            only = built.items[i];
            n++;
        }
    }
    if (n == 1) {
        verbose(ctx, "using %s, the only board built before", only);
        fw_list_add(out, only);
    } else {
        if (n)
            error(ctx, "which board? %zu boards were built before", n);
        else
            error(ctx, "which board? none was built before");
        hint(ctx,
             "name it: omvdev %s -t OPENMV4, or set a default: omvdev config set --project "
             "build.target OPENMV4",
             cmdname);
    }
    fw_list_release(&built);
    return n == 1 ? 0 : OMV_EXIT_USAGE;
}

/* -t A,B,C: each must be a board of the repository. */
static int named_targets(struct omv_ctx *ctx, const struct bld *b, const struct fw_list *boards,
                         const char *list, struct fw_list *out)
{
    const struct target_db *db = ctx_targets(ctx);

    for (const char *p = list; p;) {
        const char *comma = strchr(p, ',');
        char *name = xstrndup(p, comma ? (size_t)(comma - p) : strlen(p));
        const char *r = repo_board(boards, name);
        int rc = 0;

        if (!*name) {
            error(ctx, "empty board name in '%s'", list);
            rc = OMV_EXIT_USAGE;
        } else if (!r) {
            rc = unknown_board(ctx, b, boards, name);
        }
        free(name);
        if (rc)
            return rc;
        if (!target_find(db, r))
            warning(ctx, "'%s' is not in omvdev's board database: no partition or compiler checks",
                    r);
        fw_list_add(out, r);
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/*
 * The boards to work on: -t A,B,C, --all, [build] target, or the only board
 * built before. Fills `out` with their repository spellings.
 */
static int pick_targets(struct omv_ctx *ctx, const struct bld *b, const char *t_opt, bool all,
                        const char *cmdname, struct fw_list *out)
{
    const struct cfg_entry *cfg = cfg_lookup(&ctx->cfg, "build", "target");
    struct fw_list boards = FW_LIST_INIT;
    char err[512];
    int rc;

    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    if (fw_tree_boards(&b->tree, &boards, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    if (!t_opt && cfg)
        t_opt = cfg->value;
    if (all)
        rc = all_targets(ctx, b, &boards, out);
    else if (!t_opt)
        rc = built_target(ctx, b, &boards, cmdname, out);
    else
        rc = named_targets(ctx, b, &boards, t_opt, out);
    fw_list_release(&boards);
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
    cmd_self_exe(&self);
    {
        const char *argv[] = {self.buf, "sdk", "install", "--version", b->version.buf, NULL};

        rc = run_tool(ctx, b, argv, b->tree.root, NULL, NULL);
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

/* The submodules `t` needs that are not checked out at the recorded commit. */
static int read_submodules(struct omv_ctx *ctx, const struct bld *b, const struct target *t,
                           struct repo_subs *s)
{
    char err[1024];

    repo_subs_release(s);
    if (repo_submodules(b->tree.root, b->tree.mpy_rel, t ? t->port : NULL, s, err, sizeof(err)) <
        0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

/* Run the commands that check the submodules of `s` out. */
static int init_submodules(struct omv_ctx *ctx, const struct bld *b, const struct repo_subs *s)
{
    char ***argvs = NULL;
    size_t nr = 0;
    int rc = 0;

    repo_subs_fix(b->tree.root, s, NULL, &argvs, &nr);
    for (size_t i = 0; i < nr && !rc; i++)
        if (run_tool(ctx, b, (const char *const *)argvs[i], b->tree.root, NULL,
                     "install git (Debian/Ubuntu: sudo apt-get install git)") != 0)
            rc = OMV_EXIT_FAILURE;
    repo_argv_free(argvs, nr);
    return rc;
}

static int ensure_submodules(struct omv_ctx *ctx, const struct bld *b, const char *target,
                             const struct target *t, bool init)
{
    struct repo_subs s = REPO_SUBS_INIT;
    struct strbuf fix = STRBUF_INIT;
    int rc;

    /* checking out MicroPython reveals its own submodules: up to three rounds */
    for (int round = 0; round < 3; round++) {
        if ((rc = read_submodules(ctx, b, t, &s)) || !repo_subs_bad(&s))
            goto out;
        if (!init)
            break;
        note(ctx, "checking out the submodules %s needs", target);
        if ((rc = init_submodules(ctx, b, &s))) {
            error(ctx, "checking out the submodules failed");
            goto out;
        }
    }
    for (size_t i = 0; i < s.nr; i++) {
        if (s.items[i].state == REPO_SUB_OK)
            continue;
        error(ctx, "submodule '%s' is %s%s", s.items[i].path, repo_sub_state_text(s.items[i].state),
              repo_subs_bad(&s) > 1 ? " (and others)" : "");
        break;
    }
    repo_subs_fix(b->tree.root, &s, &fix, NULL, NULL);
    if (!init)
        hint(ctx, "run: %s (or build with --init)", fix.buf);
    rc = OMV_EXIT_FAILURE;
out:
    repo_subs_release(&s);
    strbuf_release(&fix);
    return rc;
}

static int ensure_mpy_cross(struct omv_ctx *ctx, const struct bld *b, unsigned jobs)
{
    struct strbuf path = STRBUF_INIT, dir = STRBUF_INIT;
    char j[32];
    int rc = 0;

    if (fw_tree_mpy_cross(&b->tree, &path))
        goto out;
    note(ctx, "building mpy-cross (MicroPython's bytecode compiler, needed once)");
    fs_path_join(&dir, b->tree.mpy_dir, "mpy-cross");
    snprintf(j, sizeof(j), "-j%u", jobs);
    {
        const char *argv[] = {"make", j, "-C", dir.buf, NULL};

        if (run_tool(ctx, b, argv, b->tree.make_dir, NULL, NULL) != 0 ||
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

/* The fix when GCC is too old: what makes PATH pick it, in this tree. */
static void gcc_fix(const struct bld *b, const char *bin, struct strbuf *fix)
{
    struct strbuf sdk_gcc = STRBUF_INIT;

    fs_path_join(&sdk_gcc, b->sdk_dir.buf, "gcc/bin/arm-none-eabi-gcc");
    if (b->no_version)
        strbuf_addstr(fix, "put the Arm GNU Toolchain 14.3 first on PATH (this release has no "
                           "SDK_VERSION, so make uses the compiler on PATH)");
    else if (!strcmp(bin, sdk_gcc.buf))
        strbuf_addstr(fix, "the SDK's own compiler is too old: omvdev sdk install");
    else if (!fs_is_file(sdk_gcc.buf))
        strbuf_addf(fix,
                    "it shadows the SDK's compiler because '%s' is missing; reinstall the "
                    "SDK: omvdev sdk install",
                    sdk_gcc.buf);
    else if (access(sdk_gcc.buf, X_OK) != 0)
        strbuf_addf(fix,
                    "the SDK's '%s' is not executable, so make runs '%s' from further on PATH; "
                    "reinstall the SDK: omvdev sdk install --force",
                    sdk_gcc.buf, bin);
    else
        strbuf_addf(fix,
                    "'%s' comes before the SDK's '%s' on PATH (is $SDK_DIR or an earlier PATH "
                    "entry pointing elsewhere?); remove it from PATH or unset SDK_DIR",
                    bin, sdk_gcc.buf);
    strbuf_release(&sdk_gcc);
}

int bld_check_gcc(struct omv_ctx *ctx, const struct bld *b, const struct target *t,
                  struct strbuf *problem, struct strbuf *fix)
{
    struct strbuf bin = STRBUF_INIT, ver = STRBUF_INIT;
    char err[1024];
    unsigned v = 0;
    int rc = 0;

    (void)ctx;
    if (toolchain_probe("arm-none-eabi-gcc", b->env.path, "-dumpversion", &bin, &ver, NULL, err,
                        sizeof(err)) < 0) {
        strbuf_addf(problem, "%s", err);
        strbuf_addstr(fix, b->no_version ? "install the Arm GNU Toolchain (Debian/Ubuntu: sudo "
                                           "apt-get install gcc-arm-none-eabi) or put it on PATH"
                                         : "omvdev sdk install");
        rc = -1;
    } else if (gcc_version_parse(ver.buf, &v) < 0) {
        strbuf_addf(problem, "'%s -dumpversion' printed '%.40s', not a version", bin.buf, ver.buf);
        strbuf_addstr(fix, "omvdev sdk install");
        rc = -1;
    } else if (t && t->min_gcc && v < t->min_gcc) {
        strbuf_addf(problem,
                    "%s (%s) needs GCC %u.%u or newer, but make would run '%s', which is GCC %s",
                    t->name, t->core, t->min_gcc / 100, t->min_gcc % 100, bin.buf, ver.buf);
        gcc_fix(b, bin.buf, fix);
        rc = -1;
    } else {
        strbuf_addf(problem, "%s (GCC %s)", bin.buf, ver.buf);
    }
    strbuf_release(&bin);
    strbuf_release(&ver);
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

/* The partition limit of `file` and where it came from. */
struct limit {
    uint64_t max;
    struct strbuf source;
};

static void find_limit(const struct part_layout *layout, const char *board_rel,
                       const struct target *t, const char *file, struct limit *lim)
{
    const struct part_size *ps = part_layout_find(layout, file);

    lim->max = 0;
    strbuf_reset(&lim->source);
    if (ps) {
        lim->max = ps->max;
        strbuf_addf(&lim->source, "%s in %s/%s", ps->define, board_rel,
                    ps->header ? ps->header : layout->source);
        return;
    }
    for (size_t k = 0; t && k < t->nr_images; k++)
        if (!strcmp(t->images[k].file, file) && t->images[k].max_size) {
            lim->max = t->images[k].max_size;
            strbuf_addstr(&lim->source, "omvdev's board database");
        }
}

/* One image line; returns 1 when it does not fit. */
static int image_line(struct omv_ctx *ctx, const char *target, const char *f, uint64_t size,
                      const struct limit *lim, struct strbuf *out, struct strbuf *fill_note)
{
    char a[32], m[32];
    unsigned pct;

    human_size(size, a, sizeof(a));
    if (!lim->max) {
        strbuf_addf(out, "  %-22s %s\n", f, a);
        return 0;
    }
    pct = (unsigned)((size * 100 + lim->max / 2) / lim->max);
    human_size(lim->max, m, sizeof(m));
    strbuf_addf(out, "  %-22s %s of %s (%u %%)  [%s]\n", f, a, m, pct, lim->source.buf);
    if (!strncmp(f, "firmware", 8) && !fill_note->len)
        strbuf_addf(fill_note, "%s %s of %s (%u %%)", f, a, m, pct);
    if (size > lim->max) {
        strbuf_addf(out, "  ^ does not fit: %llu bytes over its %s partition\n",
                    (unsigned long long)(size - lim->max), m);
        return 1;
    }
    if (size * 100 > lim->max * 95) {
        strbuf_addf(out, "  ^ nearly full: %llu bytes left\n",
                    (unsigned long long)(lim->max - size));
        warning(ctx, "%s of %s fills %u %% of its %s partition", f, target, pct, m);
    }
    return 0;
}

/* The regular files of `dir`, sorted. */
static int list_files(struct omv_ctx *ctx, const char *dir, struct fw_list *files)
{
    struct strbuf path = STRBUF_INIT;
    struct dirent *e;
    struct stat st;
    DIR *d = opendir(dir);

    if (!d) {
        error(ctx, "make succeeded but there is no '%s': %s", dir, strerror(errno));
        return OMV_EXIT_FAILURE;
    }
    while ((e = readdir(d))) {
        strbuf_reset(&path);
        fs_path_join(&path, dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path.buf, &st) == 0 && S_ISREG(st.st_mode))
            fw_list_add(files, e->d_name);
    }
    closedir(d);
    strbuf_release(&path);
    if (files->nr) /* qsort(NULL, 0) is undefined */
        qsort(files->items, files->nr, sizeof(char *), cmp_name);
    return 0;
}

/*
 * Print bin/'s files with sizes and partition fill to `out`, each limit with
 * its source (the tree's board header, else omvdev's database). Returns 0,
 * or OMV_EXIT_FAILURE when an image does not fit (after saying so);
 * *fill_note gets the firmware's fill for the summary table.
 */
static int report_images(struct omv_ctx *ctx, const struct bld *b, const char *target,
                         struct strbuf *out, struct strbuf *fill_note)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct target *t = db ? target_find(db, target) : NULL;
    struct part_layout layout = PART_LAYOUT_INIT;
    struct strbuf dir = STRBUF_INIT, board = STRBUF_INIT, board_rel = STRBUF_INIT,
                  path = STRBUF_INIT;
    struct limit lim = {0, STRBUF_INIT};
    struct fw_list files = FW_LIST_INIT;
    char err[512];
    int rc, over = 0, lrc;
    struct stat st;

    fw_tree_bin_dir(&b->tree, target, &dir);
    fw_tree_board_dir(&b->tree, target, &board);
    fw_tree_rel(&b->tree, board.buf, &board_rel);
    lrc = part_layout_load(&layout, board.buf, err, sizeof(err));
    if (lrc < 0 && lrc != OMV_ENOENT)
        warning(ctx, "%s", err);
    if ((rc = list_files(ctx, dir.buf, &files)))
        goto out;
    strbuf_addf(out, "%s%s%s: %s\n", color_bold(ctx), target, color_reset(ctx), dir.buf);
    for (size_t i = 0; i < files.nr; i++) {
        strbuf_reset(&path);
        fs_path_join(&path, dir.buf, files.items[i]);
        if (stat(path.buf, &st) < 0)
            continue;
        find_limit(&layout, board_rel.buf, t, files.items[i], &lim);
        over += image_line(ctx, target, files.items[i], (uint64_t)st.st_size, &lim, out, fill_note);
    }
    if (over) {
        out_write(out->buf, out->len);
        fflush(stdout);
        strbuf_reset(out);
        error(ctx, "an image of %s is larger than its flash partition", target);
        hint(ctx,
             "make it smaller: drop modules from %s/manifest.py or disable features in its "
             "board config .mk (a DEBUG=1 build is also larger)",
             board_rel.buf);
        rc = OMV_EXIT_FAILURE;
    }
out:
    part_layout_release(&layout);
    fw_list_release(&files);
    strbuf_release(&dir);
    strbuf_release(&board);
    strbuf_release(&board_rel);
    strbuf_release(&path);
    strbuf_release(&lim.source);
    return rc;
}

/* ---- omvdev build ------------------------------------------------------------------------- */

struct target_result {
    const char *name;
    const char *result;
    double seconds;
    struct strbuf note;
};

/* The make options that decide what the output holds, in a stable form:
 * "DEBUG=1 FB_ALLOC_STATS=1" ("" for a plain release build). */
static void flavour_of(const struct build_options *o, struct strbuf *out)
{
    struct fw_list l = FW_LIST_INIT;

    if (o->debug)
        fw_list_add(&l, "DEBUG=1");
    for (size_t i = 0; o->make_opt[i]; i++)
        if (strncmp(o->make_opt[i], "V=", 2) && !fw_list_has(&l, o->make_opt[i]))
            fw_list_add(&l, o->make_opt[i]);
    for (int i = 0; i < o->nr_args; i++)
        if (strchr(o->args[i], '=') && strncmp(o->args[i], "V=", 2))
            fw_list_add(&l, o->args[i]);
    if (l.nr) /* qsort(NULL, 0) is undefined */
        qsort(l.items, l.nr, sizeof(char *), cmp_name);
    for (size_t i = 0; i < l.nr; i++)
        strbuf_addf(out, "%s%s", i ? " " : "", l.items[i]);
    fw_list_release(&l);
}

/* Whether the ELF in bin/ was built with -O0/-Og: 1 yes, 0 no, -1 unknown. */
static int elf_is_debug(const struct bld *b, const struct target *t, const char *target)
{
    struct strbuf path = STRBUF_INIT, data = STRBUF_INIT;
    struct elf_producers pr;
    int rc = -1;

    fw_tree_bin_dir(&b->tree, target, &path);
    fs_path_join(&path, "", t && t->debug_elf ? t->debug_elf : "firmware.elf");
    if (fs_read_file(path.buf, &data, NULL, 0) == 0 &&
        elf_producers((const uint8_t *)data.buf, data.len, &pr, NULL, 0) == 0 &&
        pr.debug_cus + pr.optimised_cus > 0)
        rc = pr.debug_cus > pr.optimised_cus;
    strbuf_release(&path);
    strbuf_release(&data);
    return rc;
}

/*
 * Must the output directory be cleaned before building `target` with
 * `flavour`? Yes when it holds another board's images (a shared directory)
 * or a build with other options; says why in a note.
 */
static bool needs_clean(struct omv_ctx *ctx, const struct bld *b, const char *target,
                        const struct target *t, const char *flavour)
{
    struct fw_build_info bi = FW_BUILD_INFO_INIT;
    struct strbuf dir = STRBUF_INIT, rel = STRBUF_INIT;
    bool clean = false;
    int dbg;

    fw_tree_build_dir(&b->tree, target, &dir);
    fw_tree_rel(&b->tree, dir.buf, &rel);
    fw_build_info_read(&b->tree, target, &bi);
    if (!fs_is_dir(dir.buf)) {
        clean = false;
    } else if (b->tree.shared_bin && bi.board && strcmp(bi.board, target)) {
        note(ctx,
             "'%s' holds %s's build (this layout keeps one board at a time): cleaning it "
             "first",
             rel.buf, bi.board);
        clean = true;
    } else if (bi.options && strcmp(bi.options, flavour)) {
        note(ctx, "'%s' holds a build with %s; this one is %s: cleaning it first", rel.buf,
             *bi.options ? bi.options : "no options (release)", *flavour ? flavour : "a release");
        clean = true;
    } else if (!bi.options && (dbg = elf_is_debug(b, t, target)) >= 0 &&
               dbg != (strstr(flavour, "DEBUG=1") != NULL)) {
        note(ctx,
             "'%s' holds a %s build (read from the ELF's DWARF); this one is %s: cleaning "
             "it first",
             rel.buf, dbg ? "debug" : "release", dbg ? "a release" : "DEBUG=1");
        clean = true;
    }
    fw_build_info_release(&bi);
    strbuf_release(&dir);
    strbuf_release(&rel);
    return clean;
}

static int make_clean(struct omv_ctx *ctx, const struct bld *b, const char *target)
{
    struct strbuf tgt = STRBUF_INIT;
    int status;

    strbuf_addf(&tgt, "TARGET=%s", target);
    {
        const char *argv[] = {"make", tgt.buf, "clean", NULL};

        status = run_tool(ctx, b, argv, b->tree.make_dir, NULL, NULL);
    }
    if (status > 0)
        error(ctx, "'make %s clean' failed (exit status %d)", tgt.buf, status);
    strbuf_release(&tgt);
    return status == 0 ? 0 : OMV_EXIT_FAILURE;
}

/* The checks before make: submodules, GCC (before mpy-cross takes its time), mpy-cross. */
static int prepare(struct omv_ctx *ctx, const struct build_options *o, const struct bld *b,
                   const char *target, const struct target *t, struct target_result *res)
{
    struct strbuf problem = STRBUF_INIT, fix = STRBUF_INIT;
    int rc;

    if ((rc = ensure_submodules(ctx, b, target, t, o->init)))
        goto out;
    if (t && t->min_gcc && bld_check_gcc(ctx, b, t, &problem, &fix) < 0) {
        error(ctx, "%s", problem.buf);
        hint(ctx, "%s", fix.buf);
        strbuf_reset(&res->note);
        strbuf_addstr(&res->note, "compiler too old");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    rc = ensure_mpy_cross(ctx, b, o->jobs);
out:
    strbuf_release(&problem);
    strbuf_release(&fix);
    return rc;
}

/* make -w -jN TARGET=T [DEBUG=1] [V=1] options... args... */
static const char **make_argv(struct omv_ctx *ctx, const struct build_options *o, const char *jobs,
                              const char *tgt)
{
    size_t n = 0;
    const char **argv;

    for (size_t i = 0; o->make_opt[i]; i++)
        n++;
    argv = xcalloc(n + (size_t)o->nr_args + 10, sizeof(char *)); /* + CC=, CXX= */
    n = 0;
    argv[n++] = "make";
    argv[n++] = "-w";
    argv[n++] = jobs;
    argv[n++] = tgt;
    if (o->debug)
        argv[n++] = "DEBUG=1";
    if (ctx->verbosity > 0)
        argv[n++] = "V=1";
    for (size_t i = 0; o->make_opt[i]; i++)
        argv[n++] = o->make_opt[i];
    for (int i = 0; i < o->nr_args; i++)
        argv[n++] = o->args[i];
    argv[n] = NULL;
    return argv;
}

static int run_make(struct omv_ctx *ctx, const struct build_options *o, const struct bld *b,
                    const char *target, struct target_result *res)
{
    struct make_watch w;
    struct strbuf tgt = STRBUF_INIT;
    struct cdb_capture cdb;
    const char **argv;
    char jobs[32];
    size_t n = 0;
    int status;

    memset(&w, 0, sizeof(w));
    w.tree = &b->tree;
    w.verbose = ctx->verbosity > 0;
    snprintf(jobs, sizeof(jobs), "-j%u", o->jobs);
    strbuf_addf(&tgt, "TARGET=%s", target);
    argv = make_argv(ctx, o, jobs, tgt.buf);
    while (argv[n])
        n++;
    cdb_capture_begin(ctx, b->tree.make_dir, target, &cdb); /* compile_commands.json */
    argv[cdb_capture_args(&cdb, argv, n)] = NULL;
    status = run_tool(ctx, b, argv, b->tree.make_dir, &w, NULL);
    cdb_capture_end(ctx, &cdb);
    if (status != 0) {
        const char *why = make_why(&w);

        if (status > 0)
            error(ctx, "building %s failed (make: exit status %d)%s%s", target, status,
                  why ? ": " : "", why ? why : "");
        strbuf_reset(&res->note);
        strbuf_addstr(&res->note, why ? why : "make failed");
    }
    free(argv);
    strbuf_release(&tgt);
    make_watch_release(&w);
    return status == 0 ? 0 : OMV_EXIT_FAILURE;
}

static int build_one(struct omv_ctx *ctx, const struct build_options *o, struct bld *b,
                     const char *target, struct target_result *res)
{
    const struct target_db *db = ctx_targets(ctx);
    const struct target *t = db ? target_find(db, target) : NULL;
    struct strbuf out = STRBUF_INIT, flavour = STRBUF_INIT;
    const struct docker_build dk = {o->container, o->debug, o->make_opt, o->args, o->nr_args};
    char err[512];
    int rc;

    /* --docker: submodules, mpy-cross and the compiler are the container's business */
    if (!o->docker && (rc = prepare(ctx, o, b, target, t, res)))
        goto out;
    flavour_of(o, &flavour);
    if ((o->clean || needs_clean(ctx, b, target, t, flavour.buf)) &&
        (rc = make_clean(ctx, b, target)))
        goto out;
    /* recorded before make too: a failed build leaves objects of this flavour behind */
    if (fw_build_stamp_write(&b->tree, target, flavour.buf, err, sizeof(err)) < 0)
        warning(ctx, "%s: the next build cannot tell what this one was", err);
    if ((rc = o->docker ? docker_build_board(ctx, b, target, &dk)
                        : run_make(ctx, o, b, target, res)))
        goto out;
    (void)fw_build_stamp_write(&b->tree, target, flavour.buf, NULL, 0);
    rc = report_images(ctx, b, target, &out, &res->note);
    out_write(out.buf, out.len);
    if (!rc)
        res->result = "ok";
out:
    strbuf_release(&out);
    strbuf_release(&flavour);
    return rc;
}

/* The variable the Makefile reads that `name` was probably meant as: one that
 * is `name` with or without a "_WORD" suffix (PROFILE_ENABLE from v4.8.0,
 * PROFILE before), else a close spelling. */
static const char *option_like(const struct fw_tree *tree, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < tree->make_vars.nr; i++) {
        const char *v = tree->make_vars.items[i];
        size_t k = strlen(v);

        if ((k < n && !strncmp(name, v, k) && name[k] == '_') ||
            (n < k && !strncmp(v, name, n) && v[n] == '_'))
            return v;
    }
    return suggest(name, (const char *const *)tree->make_vars.items, tree->make_vars.nr);
}

/* Warn about --option names the tree's Makefile does not read. */
static void check_options(struct omv_ctx *ctx, const struct fw_tree *tree,
                          const char *const *options)
{
    for (; *options; options++) {
        const char *eq = strchr(*options, '=');
        char *name = xstrndup(*options, eq ? (size_t)(eq - *options) : strlen(*options));
        const char *close;

        if (!eq) {
            warning(ctx, "--option '%s' has no '=': make will take it as a goal", *options);
        } else if (!fw_tree_reads_var(tree, name)) {
            close = option_like(tree, name);
            warning(ctx,
                    "'%s' is not an option this tree's %sMakefile reads; passing it to make "
                    "anyway",
                    name, tree->prefix);
            if (close)
                hint(ctx, "did you mean %s? (this release's Makefile reads %s)", close, close);
        }
        free(name);
    }
}

static void print_summary(const struct fw_list *targets, const struct target_result *res,
                          int failed)
{
    struct table tb = TABLE_INIT;
    struct strbuf sb = STRBUF_INIT;

    table_header(&tb, 4, "TARGET", "RESULT", "TIME", "FIRMWARE / FIRST ERROR");
    for (size_t i = 0; i < targets->nr; i++) {
        char secs[32];

        snprintf(secs, sizeof(secs), "%.1f s", res[i].seconds);
        table_row(&tb, res[i].name, res[i].result, secs, res[i].note.buf);
    }
    strbuf_addch(&sb, '\n');
    table_render(&tb, TABLE_TEXT, &sb);
    strbuf_addf(&sb, "%zu built, %d failed\n", targets->nr - (size_t)failed, failed);
    out_write(sb.buf, sb.len);
    strbuf_release(&sb);
    table_release(&tb);
}

int cmd_build(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct build_options o;
    struct bld b;
    struct fw_list targets = FW_LIST_INIT;
    struct target_result *res = NULL;
    struct strbuf bin = STRBUF_INIT;
    struct build_doc doc;
    int rc, failed = 0;

    memset(&b, 0, sizeof(b));
    if ((rc = read_build_options(ctx, inv, &o)))
        return rc;
    if (o.docker && (rc = docker_check(ctx, inv,
                                       &(const struct docker_build){
                                           o.container, o.debug, o.make_opt, o.args, o.nr_args})))
        return rc;
    build_doc_begin(&doc, ctx);
    if ((rc = bld_open(ctx, &b, false)))
        goto out;
    check_options(ctx, &b.tree, o.make_opt);
    if ((rc = pick_targets(ctx, &b, o.targets, o.all, "build", &targets)))
        goto out;
    if ((rc = ensure_sdk(ctx, &b, o.install_sdk)))
        goto out;
    if (targets.nr > 1 && b.tree.shared_bin) {
        fw_tree_bin_dir(&b.tree, targets.items[0], &bin);
        note(ctx,
             "this release keeps every board's images in '%s': building the %zu boards one "
             "after another, with a clean between",
             bin.buf, targets.nr);
    }
    res = xcalloc(targets.nr, sizeof(*res));
    for (size_t i = 0; i < targets.nr; i++) {
        int64_t start = progress_now_ms();

        res[i].name = targets.items[i];
        res[i].result = "failed";
        strbuf_init(&res[i].note);
        if (targets.nr > 1)
            note(ctx, "building %s (%zu of %zu)", targets.items[i], i + 1, targets.nr);
        if (build_one(ctx, &o, &b, targets.items[i], &res[i]))
            failed++;
        res[i].seconds = (double)(progress_now_ms() - start) / 1000.0;
        build_doc_add(&doc, ctx, &b, targets.items[i], !strcmp(res[i].result, "ok"),
                      res[i].note.buf, res[i].seconds);
    }
    if (targets.nr > 1)
        print_summary(&targets, res, failed);
    rc = failed ? OMV_EXIT_FAILURE : OMV_EXIT_OK;
out:
    for (size_t i = 0; res && i < targets.nr; i++)
        strbuf_release(&res[i].note);
    free(res);
    fw_list_release(&targets);
    strbuf_release(&bin);
    bld_release(&b);
    build_doc_end(&doc);
    return rc;
}

/* ---- omvdev clean / size -------------------------------------------------------------------- */

static int one_target(struct omv_ctx *ctx, struct omv_invocation *inv, const struct opt *opts,
                      struct bld *b, struct fw_list *targets)
{
    const char *t_opt = opt_value(&inv->opts, opts, "target");
    int rc;

    if ((rc = bld_open(ctx, b, false)))
        return rc;
    if ((rc = pick_targets(ctx, b, t_opt, false, inv->path, targets)))
        return rc;
    if (targets->nr != 1)
        return usage_error(ctx, inv, "'omvdev %s' works on one board at a time", inv->path);
    return 0;
}

int cmd_clean(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct bld b;
    struct fw_list targets = FW_LIST_INIT;
    struct strbuf dir = STRBUF_INIT, rel = STRBUF_INIT;
    int rc;

    memset(&b, 0, sizeof(b));
    if ((rc = one_target(ctx, inv, clean_opts, &b, &targets)))
        goto out;
    /* upstream's clean needs no SDK: `make TARGET=T clean` removes BUILD */
    if ((rc = make_clean(ctx, &b, targets.items[0])))
        goto out;
    fw_tree_build_dir(&b.tree, targets.items[0], &dir);
    fw_tree_rel(&b.tree, dir.buf, &rel);
    if (b.tree.shared_bin)
        note(ctx, "cleaned %s: removed '%s', which this release shares between all boards",
             targets.items[0], rel.buf);
    else
        note(ctx, "cleaned %s", targets.items[0]);
out:
    strbuf_release(&dir);
    strbuf_release(&rel);
    fw_list_release(&targets);
    bld_release(&b);
    return rc;
}

/* The .elf files of `dir`, sorted. */
static void list_elfs(const char *dir, struct fw_list *elfs)
{
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len > 4 && !strcmp(e->d_name + len - 4, ".elf"))
            fw_list_add(elfs, e->d_name);
    }
    if (d)
        closedir(d);
    if (elfs->nr) /* qsort(NULL, 0) is undefined */
        qsort(elfs->items, elfs->nr, sizeof(char *), cmp_name);
}

static int size_elfs(struct omv_ctx *ctx, const struct bld *b, const char *dir,
                     const struct fw_list *elfs)
{
    const char *missing = b->no_version
                              ? "arm-none-eabi-size comes with the Arm GNU Toolchain this release "
                                "builds with: put it on PATH (Debian/Ubuntu: sudo apt-get install "
                                "binutils-arm-none-eabi)"
                              : "arm-none-eabi-size comes with the SDK: omvdev sdk install";
    struct strbuf path = STRBUF_INIT;
    int rc = 0;

    for (size_t i = 0; i < elfs->nr && !rc; i++) {
        const char *argv[] = {"arm-none-eabi-size", "--format=SysV", NULL, NULL};
        int status;

        strbuf_reset(&path);
        fs_path_join(&path, dir, elfs->items[i]);
        argv[2] = path.buf;
        status = run_tool(ctx, b, argv, b->tree.make_dir, NULL, missing);
        if (status > 0)
            error(ctx, "'arm-none-eabi-size %s' failed (exit status %d)", path.buf, status);
        if (status != 0)
            rc = OMV_EXIT_FAILURE;
    }
    strbuf_release(&path);
    return rc;
}

int cmd_size(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct bld b;
    struct fw_list targets = FW_LIST_INIT, elfs = FW_LIST_INIT;
    struct strbuf dir = STRBUF_INIT, out = STRBUF_INIT, fill = STRBUF_INIT;
    struct sizediff_opts so;
    char err[1024];
    int rc;

    memset(&b, 0, sizeof(b));
    if ((rc = sizediff_read_opts(ctx, inv, size_opts, &so)))
        return rc;
    if (so.all) {
        if (!(rc = bld_open(ctx, &b, false)))
            rc = sizediff_all(ctx, &so, &b);
        goto out;
    }
    if ((rc = one_target(ctx, inv, size_opts, &b, &targets)))
        goto out;
    fw_tree_bin_dir(&b.tree, targets.items[0], &dir);
    list_elfs(dir.buf, &elfs);
    if (!elfs.nr) {
        error(ctx, "no build of %s: '%s' holds no .elf file", targets.items[0], dir.buf);
        hint(ctx, "build it first: omvdev build -t %s", targets.items[0]);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (fw_tree_check_owner(&b.tree, targets.items[0], err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx,
             "build %s first (this release keeps one board's images at a time): omvdev "
             "build -t %s",
             targets.items[0], targets.items[0]);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (sizediff_replaces_report(&so)) {
        rc = sizediff_run(ctx, &so, &b, targets.items[0]);
        goto out;
    }
    if ((rc = size_elfs(ctx, &b, dir.buf, &elfs)))
        goto out;
    rc = report_images(ctx, &b, targets.items[0], &out, &fill);
    out_write(out.buf, out.len);
    if (!rc && so.save)
        rc = sizediff_run(ctx, &so, &b, targets.items[0]);
out:
    strbuf_release(&dir);
    strbuf_release(&out);
    strbuf_release(&fill);
    fw_list_release(&targets);
    fw_list_release(&elfs);
    bld_release(&b);
    return rc;
}

/* ---- omvdev env ------------------------------------------------------------------------------ */

static const char *env_shell(struct omv_invocation *inv)
{
    const char *shell = opt_value(&inv->opts, env_opts, "shell");
    const char *s = getenv("SHELL");
    const char *base = s ? strrchr(s, '/') : NULL;

    if (shell)
        return shell;
    base = base ? base + 1 : s;
    shell = "bash";
    for (const char *const *c = shell_choices; base && *c; c++)
        if (!strcmp(base, *c) || (!strcmp(*c, "powershell") && !strcmp(base, "pwsh")))
            shell = *c;
    return shell;
}

/* A release without SDK_VERSION: nothing to export; say which compiler make gets. */
static int env_no_sdk(struct omv_ctx *ctx, const struct bld *b)
{
    struct strbuf problem = STRBUF_INIT, fix = STRBUF_INIT, out = STRBUF_INIT;

    strbuf_addf(&out,
                "# %s has no SDK_VERSION: this release builds with the toolchain on PATH, so "
                "there is nothing to export\n",
                b->tree.root);
    out_write(out.buf, out.len);
    if (bld_check_gcc(ctx, b, NULL, &problem, &fix) < 0) {
        warning(ctx, "%s", problem.buf);
        hint(ctx, "%s", fix.buf);
    } else {
        note(ctx, "make will use %s", problem.buf);
    }
    strbuf_release(&problem);
    strbuf_release(&fix);
    strbuf_release(&out);
    return OMV_EXIT_OK;
}

int cmd_env(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const char *shell = env_shell(inv);
    struct strbuf out = STRBUF_INIT, msg = STRBUF_INIT;
    struct bld b;
    int rc;

    memset(&b, 0, sizeof(b));
    if ((rc = bld_open(ctx, &b, false)))
        goto out;
    if (b.no_version) {
        rc = env_no_sdk(ctx, &b);
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
    strbuf_release(&msg);
    bld_release(&b);
    return rc;
}
