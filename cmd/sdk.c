/*
 * omvdev sdk install|list|path|verify|remove|env: the OpenMV SDK, installed
 * in one streamed pass (see sdk/sdk.h), checked against its manifest, and
 * exported for running make by hand.
 */
#include "lib/compat.h"
#include "cmd/cmd.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/progress.h"
#include "lib/strbuf.h"
#include "sdk/fetch.h"
#include "sdk/locate.h"
#include "sdk/sdk.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DEFAULT_MIRROR "https://download.openmv.io/sdk"

static const char *const shell_choices[] = {"bash", "zsh", "fish", "powershell", NULL};

static const struct opt install_opts[] = {
    {"version", 0, OPT_VALUE, "V",
     "SDK version (default: the firmware repository's SDK_VERSION file, then config)", NULL,
     OPT_CONFIG, NULL},
    {"dir", 0, OPT_VALUE, "D", "install into exactly this directory", NULL, 0, NULL},
    {"root", 0, OPT_VALUE, "DIR",
     "parent of openmv-sdk-<version> (default $HOME; $SDK_DIR wins over both)", NULL, OPT_CONFIG,
     NULL},
    {"url", 0, OPT_VALUE, "URL", "download the tarball from URL (https://, file://)", NULL, 0,
     NULL},
    {"mirror", 0, OPT_VALUE, "PREFIX", "download <PREFIX>/<tarball> instead", NULL, OPT_CONFIG,
     DEFAULT_MIRROR},
    {"from", 0, OPT_VALUE, "FILE", "install from a tarball on disk (checksum from FILE.sha256)",
     NULL, 0, NULL},
    {"sha256", 0, OPT_VALUE, "HEX", "expected SHA-256 of the tarball (instead of <URL>.sha256)",
     NULL, OPT_CONFIG, NULL},
    {"cacert", 0, OPT_VALUE, "FILE", "also trust the CA certificates in FILE", NULL, OPT_CONFIG,
     NULL},
    {"force", 'f', OPT_FLAG, NULL, "reinstall, replacing what is in the directory", NULL, 0, NULL},
    {"keep-download", 0, OPT_FLAG, NULL,
     "keep the tarball in the download cache for offline reinstalls", NULL, OPT_CONFIG, NULL},
    {"retries", 0, OPT_VALUE, "N", "retries after a transient network failure", NULL, OPT_CONFIG,
     "4"},
    {"stall-timeout", 0, OPT_VALUE, "SECONDS",
     "give up on a connection that moves under 1 KiB/s this long", NULL, OPT_CONFIG, "30"},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt version_opts[] = {
    {"version", 0, OPT_VALUE, "V", "SDK version (default: the repository's, then config)", NULL, 0,
     NULL},
    {"dir", 0, OPT_VALUE, "D", "the SDK directory itself", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt sdk_env_opts[] = {
    {"version", 0, OPT_VALUE, "V", "SDK version (default: the repository's, then config)", NULL, 0,
     NULL},
    {"dir", 0, OPT_VALUE, "D", "the SDK directory itself", NULL, 0, NULL},
    {"shell", 0, OPT_VALUE, "SHELL", "syntax of the exports", shell_choices, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt list_opts[] = {
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static const struct opt remove_opts[] = {
    {"dir", 0, OPT_VALUE, "D", "the SDK directory itself", NULL, 0, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static int cmd_sdk_install(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_sdk_list(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_sdk_path(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_sdk_verify(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_sdk_remove(struct omv_ctx *ctx, struct omv_invocation *inv);
static int cmd_sdk_env(struct omv_ctx *ctx, struct omv_invocation *inv);

const struct omv_cmd sdk_subcommands[] = {
    {"install", cmd_sdk_install, "download, check and unpack an SDK in one pass",
     "[--version V] [--dir D] [--url URL | --mirror PREFIX] [--from FILE]\n"
     "                    [--sha256 HEX] [--cacert FILE] [--force] [--keep-download]",
     "Install openmv-sdk-<version>-<os>-<arch>.tar.xz into ~/openmv-sdk-<version> (or\n"
     "$SDK_DIR, [sdk] root, --dir). The download is hashed (SHA-256), xz-decoded on two\n"
     "threads and unpacked while it arrives, into a staging directory beside the\n"
     "destination; one rename puts it in place only when the checksum matches, the\n"
     "archive ended cleanly and its sdk.version is the version. On any failure or Ctrl-C\n"
     "nothing changes at the destination. A broken download resumes from\n"
     "$XDG_CACHE_HOME/omvdev/downloads/<tarball>.part on the next run. The checksum is\n"
     "<URL>.sha256 unless pinned with --sha256. TLS is always verified; plain http:// is\n"
     "refused unless the host is loopback or the checksum is pinned.",
     install_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"list", cmd_sdk_list, "list installed SDKs and the one the repository needs", "",
     "List the openmv-sdk-* directories under [sdk] root (default $HOME) and $SDK_DIR,\n"
     "with their sdk.version stamps, marking the version the firmware repository needs.",
     list_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"path", cmd_sdk_path, "print the SDK directory", "[--version V] [--dir D]",
     "Print the directory of the SDK the repository needs (or --version V). Exits 1\n"
     "when it is not installed.",
     version_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"verify", cmd_sdk_verify, "check an installed SDK against its manifest",
     "[--version V] [--dir D]",
     "Check the stamp and every file, directory and symlink recorded at install time\n"
     "(size and CRC-64 of each file; SHA-256 in an older omvdev's manifest) in\n"
     "<SDK_DIR>/.omvdev-manifest. Missing or changed entries fail; files the SDK did not\n"
     "ship (e.g. Python's __pycache__) are counted.",
     version_opts, NULL, NULL, CMD_JSON, COMPLETE_NONE},
    {"remove", cmd_sdk_remove, "remove an installed SDK", "V | --dir D",
     "Remove the SDK of version V (or the directory D), renamed aside first so the\n"
     "path never holds half an SDK.",
     remove_opts, NULL, NULL, 0, COMPLETE_NONE},
    {"env", cmd_sdk_env, "print exports for running make by hand",
     "[--version V] [--dir D] [--shell bash|zsh|fish|powershell]",
     "Print SDK_DIR and PATH exports for the SDK: PATH gets upstream's Makefile order\n"
     "(gcc/bin, llvm/bin, cmake/bin, python/bin, stcubeprog/bin, stedgeai/Utilities/<os>,\n"
     "bin) followed by make/ (tools/ci.sh's), in front of the current PATH.\n"
     "  eval \"$(omvdev sdk env)\"",
     sdk_env_opts, NULL, NULL, 0, COMPLETE_NONE},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, COMPLETE_NONE},
};

/* ---- shared ----------------------------------------------------------------- */

static const char *cfg_value(struct omv_ctx *ctx, const char *name)
{
    const struct cfg_entry *e = cfg_lookup(&ctx->cfg, "sdk", name);

    return e ? e->value : NULL;
}

/*
 * The version: an explicit --version (or -c sdk.version), else the firmware
 * repository's SDK_VERSION, else [sdk] version from a config file or the
 * environment. Prints the error itself.
 */
static int resolve_version(struct omv_ctx *ctx, const char *cmd_path, const char *v,
                           const char *origin, bool config_opt, struct strbuf *version)
{
    char err[512];

    if (!config_opt)
        origin = NULL;
    if (v && !origin)
        goto check;
    if (ctx->project_root) {
        int rc = sdk_repo_version(ctx->project_root, version, err, sizeof(err));

        if (rc == 0)
            return 0;
        if (rc != OMV_ENOENT) {
            error(ctx, "%s", err);
            return -1;
        }
    }
    if (!v)
        v = cfg_value(ctx, "version");
    if (!v) {
        error(ctx, "no SDK version: %s",
              ctx->project_root ? "the firmware repository has no SDK_VERSION file"
                                : "not inside a firmware repository");
        hint(ctx, "name one: omvdev %s --version 1.6.0", cmd_path);
        return -1;
    }
check:
    if (!sdk_version_valid(v)) {
        error(ctx, "'%s' is not an SDK version", v);
        hint(ctx, "versions look like 1.6.0");
        return -1;
    }
    strbuf_addstr(version, v);
    return 0;
}

static int resolve_dir(struct omv_ctx *ctx, const char *dir_opt, const char *root,
                       const char *version, struct strbuf *dir)
{
    char err[512];

    if (dir_opt) {
        fs_absolute(dir, dir_opt);
        return 0;
    }
    if (sdk_dir(root, version, dir, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx, "name the directory: --dir D");
        return -1;
    }
    return 0;
}

static void json_line_begin(struct strbuf *sb, const char *event)
{
    strbuf_addf(sb, "{\"schema\": 1, \"event\": \"%s\"", event);
}

static void json_kv_str(struct strbuf *sb, const char *k, const char *v)
{
    strbuf_addf(sb, ", \"%s\": ", k);
    if (v)
        json_quote(sb, v);
    else
        strbuf_addstr(sb, "null");
}

static void json_kv_u64(struct strbuf *sb, const char *k, uint64_t v)
{
    strbuf_addf(sb, ", \"%s\": %" PRIu64, k, v);
}

static void json_line_end(struct strbuf *sb)
{
    strbuf_addstr(sb, "}\n");
    out_write(sb->buf, sb->len);
    fflush(stdout);
    strbuf_reset(sb);
}

/* ---- install ---------------------------------------------------------------- */

/*
 * Set by SIGINT/SIGTERM during an install; the transaction polls it and
 * rolls back. A signal handler can only reach a static object.
 */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct install_ui {
    struct omv_ctx *ctx;
    struct progress bar;
    bool tty;
    int last_decile;
    const char *part;
};

static void human(uint64_t n, char *buf, size_t len)
{
    if (n >= (uint64_t)1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, len, "%" PRIu64 " B", n);
}

static void on_event(void *ud, const struct sdk_event *ev)
{
    struct install_ui *ui = ud;
    struct omv_ctx *ctx = ui->ctx;
    struct strbuf sb = STRBUF_INIT;
    char a[32], b[32];

    switch (ev->kind) {
    case SDK_EV_PROGRESS:
        if (ctx->json) {
            json_line_begin(&sb, "progress");
            json_kv_str(&sb, "phase", ev->phase);
            json_kv_u64(&sb, "done", ev->done);
            json_kv_u64(&sb, "total", ev->total);
            json_line_end(&sb);
        } else if (ui->tty) {
            progress_update(&ui->bar, ev->phase, ev->done, ev->total ? ev->total : ev->done);
        } else if (ev->total && ctx->verbosity >= 0) {
            int decile = (int)(ev->done * 10 / ev->total);

            if (decile > ui->last_decile) {
                ui->last_decile = decile;
                human(ev->done, a, sizeof(a));
                human(ev->total, b, sizeof(b));
                note(ctx, "%s %3d%% (%s of %s)", ev->phase, decile * 10, a, b);
            }
        }
        break;
    case SDK_EV_LOCK_WAIT:
        progress_end(&ui->bar);
        note(ctx, "waiting for another omvdev installing the same SDK (lock '%s')", ev->text);
        break;
    case SDK_EV_SOURCE:
        if (ctx->json) {
            json_line_begin(&sb, "source");
            json_kv_str(&sb, "from", ev->text);
            json_line_end(&sb);
        } else {
            note(ctx, "installing from %s", ev->text);
        }
        break;
    case SDK_EV_RESUME:
        human(ev->done, a, sizeof(a));
        if (ctx->json) {
            json_line_begin(&sb, "resume");
            json_kv_u64(&sb, "bytes", ev->done);
            json_line_end(&sb);
        } else {
            progress_end(&ui->bar);
            note(ctx, "resuming after the %s already downloaded", a);
        }
        break;
    case SDK_EV_RETRY:
        progress_end(&ui->bar);
        warning(ctx, "%s; retrying in %.1f s (attempt %" PRIu64 ")", ev->text,
                (double)ev->total / 1000, ev->done + 1);
        break;
    case SDK_EV_RESTART:
        progress_end(&ui->bar);
        warning(ctx, "%s: starting the download again from the beginning", ev->text);
        ui->last_decile = 0;
        break;
    case SDK_EV_COMMIT:
        break;
    }
    strbuf_release(&sb);
}

static void failure_hint(struct omv_ctx *ctx, const struct sdk_install_opts *o,
                         const struct sdk_install_result *res, const char *part)
{
    switch (res->failure) {
    case SDK_FAIL_NETWORK:
    case SDK_FAIL_INTERRUPTED:
        if (part && fs_is_file(part))
            hint(ctx, "run 'omvdev sdk install' again: it resumes from '%s'", part);
        else
            hint(ctx, "run 'omvdev sdk install' again");
        break;
    case SDK_FAIL_HTTP:
        hint(ctx,
             "is SDK %s published for this platform? another server: omvdev sdk install "
             "--mirror PREFIX",
             o->version);
        break;
    case SDK_FAIL_TLS:
        hint(ctx, "the server's certificate is not trusted; for a private CA: omvdev sdk "
                  "install --cacert FILE");
        break;
    case SDK_FAIL_CHECKSUM_FILE:
        hint(ctx, "pin the checksum instead: omvdev sdk install --sha256 <64 hex digits>");
        break;
    case SDK_FAIL_CHECKSUM:
        hint(ctx, "the download was discarded; run 'omvdev sdk install' again, and check the "
                  "mirror if it happens again");
        break;
    case SDK_FAIL_ARCHIVE:
        hint(ctx, "this tarball is not a usable OpenMV SDK; get it again from the official "
                  "server (omvdev sdk install --mirror " DEFAULT_MIRROR ")");
        break;
    case SDK_FAIL_EXISTS:
        hint(ctx, "replace it: omvdev sdk install --force");
        break;
    case SDK_FAIL_FS:
        hint(ctx, "check the free space and permissions there");
        break;
    case SDK_FAIL_NOSPACE:
        if (part && fs_is_file(part))
            hint(ctx, "free space there, then run 'omvdev sdk install' again: it resumes from '%s'",
                 part);
        else
            hint(ctx, "free space there, then run 'omvdev sdk install' again");
        break;
    case SDK_FAIL_REFUSED:
        hint(ctx, "the mirror redirects to plain http://: use an https:// mirror, or pin the "
                  "checksum: --sha256 <64 hex digits>");
        break;
    case SDK_FAIL_PATH:
        hint(ctx, "install into a shorter path: omvdev sdk install --dir D (or set [sdk] root)");
        break;
    case SDK_FAIL_USAGE:
    case SDK_FAIL_NONE:
        break;
    }
}

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');

    return s ? s + 1 : path;
}

static bool truthy(const char *v)
{
    return v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
                 !strcmp(v, "1"));
}

static int cache_dir(struct strbuf *out)
{
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

    if (x && x[0] == '/')
        strbuf_addstr(out, x);
    else if (home && home[0] == '/')
        fs_path_join(out, home, ".cache");
    else
        return -1;
    fs_path_join(out, "", "omvdev/downloads");
    return 0;
}

/* Everything `sdk install` takes from its options and environment, read once. */
struct install_options {
    const char *version, *version_origin, *dir, *root, *url, *mirror, *from, *sha256, *cacert;
    bool force, keep_download;
    uint64_t retries, stall_timeout, retry_delay_ms, max_unpacked;
};

static int number(struct omv_ctx *ctx, struct omv_invocation *inv, const char *what, const char *v,
                  uint64_t min, uint64_t max, uint64_t *out)
{
    char err[256];

    if (!v || opt_number(what, v, min, max, out, err, sizeof(err)) == 0)
        return 0;
    return usage_error(ctx, inv, "%s", err);
}

static int read_install_options(struct omv_ctx *ctx, struct omv_invocation *inv,
                                struct install_options *io)
{
    const struct opt *o = inv->cmd->opts;
    const struct opt_result *r = &inv->opts;
    bool mirror_given = opt_count(r, o, "mirror") && !r->origin[opt_find(o, "mirror") - o];
    char err[256];

    memset(io, 0, sizeof(*io));
    io->version = opt_value(r, o, "version");
    io->version_origin = r->origin[opt_find(o, "version") - o];
    io->dir = opt_value(r, o, "dir");
    io->root = opt_value(r, o, "root");
    io->url = opt_value(r, o, "url");
    io->mirror = opt_value(r, o, "mirror");
    io->from = opt_value(r, o, "from");
    io->sha256 = opt_value(r, o, "sha256");
    io->cacert = opt_value(r, o, "cacert");
    io->force = opt_count(r, o, "force") > 0;
    io->keep_download =
        opt_count(r, o, "keep-download") > 0 || truthy(opt_value(r, o, "keep-download"));
    io->retries = 4;
    io->stall_timeout = 30;
    io->retry_delay_ms = 1000;
    io->max_unpacked = (uint64_t)32 << 30;
    if (r->nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", r->args[0]);
    if (io->url && mirror_given)
        return usage_error(ctx, inv, "--url and --mirror exclude each other");
    if (io->from && io->url)
        return usage_error(ctx, inv, "--from and --url exclude each other");
    if (cmd_number(inv, "retries", &io->retries, err, sizeof(err)) < 0 ||
        cmd_number(inv, "stall-timeout", &io->stall_timeout, err, sizeof(err)) < 0)
        return usage_error(ctx, inv, "%s", err);
    if (number(ctx, inv, "OMVDEV_TEST_RETRY_DELAY_MS", getenv("OMVDEV_TEST_RETRY_DELAY_MS"), 0,
               60000, &io->retry_delay_ms) ||
        number(ctx, inv, "OMVDEV_TEST_MAX_UNPACKED", getenv("OMVDEV_TEST_MAX_UNPACKED"), 1,
               UINT64_MAX, &io->max_unpacked))
        return OMV_EXIT_USAGE;
    return 0;
}

/* The tarball's name and where it comes from: --from, --url or the mirror. */
static int install_source(struct omv_ctx *ctx, struct omv_invocation *inv,
                          const struct install_options *io, const char *version,
                          struct strbuf *tarball, struct strbuf *url, struct strbuf *from)
{
    struct strbuf platform = STRBUF_INIT;
    char err[512];

    if (io->from) {
        if (!fs_is_file(io->from)) {
            error(ctx, "cannot open '%s': %s", io->from,
                  access(io->from, F_OK) == 0 ? "not a regular file" : "No such file or directory");
            return OMV_EXIT_FAILURE;
        }
        fs_absolute(from, io->from);
        strbuf_addstr(tarball, basename_of(from->buf));
    } else if (io->url) {
        strbuf_addstr(url, io->url);
        strbuf_addstr(tarball, basename_of(io->url));
    } else {
        if (sdk_host_platform(&platform, err, sizeof(err)) < 0) {
            error(ctx, "%s", err);
            hint(ctx, "build the SDK yourself (github.com/openmv/openmv-sdk) and install it "
                      "with: omvdev sdk install --from FILE");
            strbuf_release(&platform);
            return OMV_EXIT_FAILURE;
        }
        sdk_tarball_name(version, platform.buf, tarball);
        strbuf_addstr(url, io->mirror ? io->mirror : DEFAULT_MIRROR);
        while (url->len && url->buf[url->len - 1] == '/')
            strbuf_setlen(url, url->len - 1);
        strbuf_addf(url, "/%s", tarball->buf);
        strbuf_release(&platform);
    }
    if (!tarball->len)
        return usage_error(ctx, inv, "'%s' names no file", io->from ? io->from : io->url);
    if (url->len && sdk_url_allowed(url->buf, io->sha256 != NULL, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx, "use https://, or pin the checksum: --sha256 <64 hex digits>");
        return OMV_EXIT_USAGE;
    }
    return 0;
}

static void report_installed(struct omv_ctx *ctx, const char *version, const char *dir,
                             const struct sdk_install_result *res, int64_t t0)
{
    struct strbuf json = STRBUF_INIT;
    char a[32], b[32];

    if (ctx->json) {
        json_line_begin(&json, "installed");
        json_kv_str(&json, "version", version);
        json_kv_str(&json, "dir", dir);
        strbuf_addf(&json, ", \"already\": %s", res->already ? "true" : "false");
        if (!res->already) {
            json_kv_str(&json, "sha256", res->sha256);
            json_kv_u64(&json, "download_bytes", res->download_bytes);
            json_kv_u64(&json, "resumed_from", res->resumed_from);
            json_kv_u64(&json, "unpacked_bytes", res->unpacked_bytes);
            json_kv_u64(&json, "files", res->files);
            json_kv_u64(&json, "ms", (uint64_t)(progress_now_ms() - t0));
        }
        json_line_end(&json);
    } else if (res->already) {
        note(ctx, "SDK %s is already installed in %s", version, dir);
    } else {
        human(res->download_bytes, a, sizeof(a));
        human(res->unpacked_bytes, b, sizeof(b));
        note(ctx, "installed SDK %s in %s (%s downloaded, %" PRIu64 " files, %s) in %.1f s",
             version, dir, a, res->files, b, (double)(progress_now_ms() - t0) / 1000.0);
        verbose(ctx, "sha256 %s", res->sha256);
    }
    strbuf_release(&json);
}

static int report_failed(struct omv_ctx *ctx, const struct sdk_install_opts *io,
                         const struct sdk_install_result *res, const char *part, const char *err)
{
    struct strbuf json = STRBUF_INIT;

    error(ctx, "%s", err);
    if (res->failure != SDK_FAIL_USAGE && res->failure != SDK_FAIL_EXISTS &&
        res->failure != SDK_FAIL_PATH && res->failure != SDK_FAIL_REFUSED)
        note(ctx, "nothing was changed in %s", io->dir);
    failure_hint(ctx, io, res, part);
    if (ctx->json) {
        json_line_begin(&json, "error");
        json_kv_str(&json, "message", err);
        json_line_end(&json);
    }
    strbuf_release(&json);
    switch (res->failure) {
    case SDK_FAIL_USAGE:
    case SDK_FAIL_PATH:
    case SDK_FAIL_REFUSED:
        return OMV_EXIT_USAGE;
    default:
        return OMV_EXIT_FAILURE;
    }
}

/* The transaction, with Ctrl-C and SIGTERM rolling it back. */
static int run_install(struct omv_ctx *ctx, struct sdk_install_opts *io,
                       struct sdk_install_result *res, char *err, size_t errlen)
{
    struct install_ui ui;
    struct sigaction sa, old_int, old_term;
    int rc;

    memset(&ui, 0, sizeof(ui));
    ui.ctx = ctx;
    ui.tty = !ctx->json && ctx->verbosity >= 0 && isatty(2);
    progress_start(&ui.bar, ui.tty, io->version);
    io->event = on_event;
    io->ud = &ui;
    io->cancel = &interrupted;
    interrupted = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    fetch_global_init();
    rc = sdk_install(io, res, err, errlen);
    fetch_global_cleanup();
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    progress_end(&ui.bar);
    return rc;
}

static int cmd_sdk_install(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf version = STRBUF_INIT, dir = STRBUF_INIT, tarball = STRBUF_INIT;
    struct strbuf url = STRBUF_INIT, cache = STRBUF_INIT, part = STRBUF_INIT, from = STRBUF_INIT;
    struct install_options opts;
    struct sdk_install_opts io;
    struct sdk_install_result res;
    char err[2048];
    int64_t t0 = progress_now_ms();
    int rc = read_install_options(ctx, inv, &opts);

    if (rc)
        return rc;
    if (resolve_version(ctx, inv->path, opts.version, opts.version_origin, true, &version) < 0) {
        rc = OMV_EXIT_USAGE;
        goto out;
    }
    rc = resolve_dir(ctx, opts.dir, opts.root, version.buf, &dir) < 0 ? OMV_EXIT_FAILURE : 0;
    if (rc)
        goto out;
    /* Already there: no lock, no network, no cache. */
    if (!opts.force && sdk_is_installed(dir.buf, version.buf)) {
        memset(&res, 0, sizeof(res));
        res.already = true;
        report_installed(ctx, version.buf, dir.buf, &res, t0);
        goto out;
    }
    rc = install_source(ctx, inv, &opts, version.buf, &tarball, &url, &from);
    if (rc)
        goto out;
    sdk_install_opts_init(&io);
    io.version = version.buf;
    io.tarball = tarball.buf;
    io.dir = dir.buf;
    io.url = url.len ? url.buf : NULL;
    io.from_file = from.len ? from.buf : NULL;
    io.sha256 = opts.sha256;
    io.cacert = opts.cacert;
    io.force = opts.force;
    io.keep_download = opts.keep_download;
    io.retries = (int)opts.retries;
    io.retry_delay_ms = (long)opts.retry_delay_ms;
    io.stall_timeout_s = (long)opts.stall_timeout;
    io.max_unpacked = opts.max_unpacked;
    if (cache_dir(&cache) == 0) {
        io.cache_dir = cache.buf;
        fs_path_join(&part, cache.buf, tarball.buf);
        strbuf_addstr(&part, ".part");
    }
    if (run_install(ctx, &io, &res, err, sizeof(err)) < 0)
        rc = report_failed(ctx, &io, &res, part.len ? part.buf : NULL, err);
    else
        report_installed(ctx, version.buf, dir.buf, &res, t0);
out:
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&tarball);
    strbuf_release(&url);
    strbuf_release(&cache);
    strbuf_release(&part);
    strbuf_release(&from);
    return rc;
}

/* ---- list / path / verify / remove / env ------------------------------------- */

static int cmd_sdk_list(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    const char *root = cfg_value(ctx, "root");
    struct strbuf rootdir = STRBUF_INIT, need = STRBUF_INIT, out = STRBUF_INIT;
    struct strbuf path = STRBUF_INIT, stamp = STRBUF_INIT;
    struct json_writer jw;
    char **names = NULL;
    size_t nr = 0, alloc = 0;
    bool have_need = false;

    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (!root)
        root = getenv("HOME");
    if (root)
        fs_absolute(&rootdir, root);
    if (ctx->project_root && sdk_repo_version(ctx->project_root, &need, NULL, 0) == 0)
        have_need = true;
    {
        struct sdk_found_list l = SDK_FOUND_LIST_INIT;

        sdk_find_installed(rootdir.len ? rootdir.buf : NULL, &l); /* $SDK_DIR included */
        for (size_t i = 0; i < l.nr; i++) {
            XGROW(names, alloc, nr + 1);
            names[nr++] = xstrdup(l.items[i].dir);
        }
        sdk_found_list_release(&l);
    }
    if (ctx->json) {
        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_string(&jw, "needed", have_need ? need.buf : NULL);
        json_array_begin(&jw, "sdks");
    }
    for (size_t i = 0; i < nr; i++) {
        bool ok;
        bool dup = false;

        for (size_t j = 0; j < i; j++)
            dup = dup || !strcmp(names[j], names[i]);
        if (dup)
            continue;
        strbuf_reset(&stamp);
        ok = sdk_read_stamp(names[i], &stamp, NULL, 0) == 0;
        if (ctx->json) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "dir", names[i]);
            json_string(&jw, "version", ok ? stamp.buf : NULL);
            json_bool(&jw, "needed", ok && have_need && !strcmp(stamp.buf, need.buf));
            json_object_end(&jw);
        } else {
            strbuf_addf(&out, "%-10s %s%s\n", ok ? stamp.buf : "(no stamp)", names[i],
                        ok && have_need && !strcmp(stamp.buf, need.buf) ? "   (needed here)" : "");
        }
    }
    if (ctx->json) {
        json_array_end(&jw);
        json_object_end(&jw);
    } else if (have_need) {
        bool found = false;

        for (size_t i = 0; i < nr; i++) {
            strbuf_reset(&stamp);
            found = found || (sdk_read_stamp(names[i], &stamp, NULL, 0) == 0 &&
                              !strcmp(stamp.buf, need.buf));
        }
        if (!found)
            strbuf_addf(&out, "(this repository needs SDK %s: omvdev sdk install)\n", need.buf);
    }
    out_write(out.buf, out.len);
    for (size_t i = 0; i < nr; i++)
        free(names[i]);
    free(names);
    strbuf_release(&rootdir);
    strbuf_release(&need);
    strbuf_release(&out);
    strbuf_release(&path);
    strbuf_release(&stamp);
    return OMV_EXIT_OK;
}

/* The options of path, verify, env and remove, read once (each command has
 * some of them). */
struct dir_options {
    const char *version, *dir, *shell;
};

static const char *opt_if(const struct omv_invocation *inv, const char *name)
{
    for (const struct opt *o = inv->cmd->opts; o->name; o++)
        if (!strcmp(o->name, name))
            return opt_value(&inv->opts, inv->cmd->opts, name);
    return NULL;
}

static void read_dir_options(const struct omv_invocation *inv, struct dir_options *d)
{
    d->version = opt_if(inv, "version");
    d->dir = opt_if(inv, "dir");
    d->shell = opt_if(inv, "shell");
}

/* Version and directory for path/verify/env; prints its errors. */
static int version_and_dir(struct omv_ctx *ctx, struct omv_invocation *inv,
                           const struct dir_options *d, struct strbuf *version, struct strbuf *dir)
{
    if (inv->opts.nr_args)
        return usage_error(ctx, inv, "unexpected argument '%s'", inv->opts.args[0]);
    if (d->dir && !d->version) {
        fs_absolute(dir, d->dir);
        return 0;
    }
    if (resolve_version(ctx, inv->path, d->version, NULL, false, version) < 0)
        return OMV_EXIT_USAGE;
    return resolve_dir(ctx, d->dir, cfg_value(ctx, "root"), version->buf, dir) < 0
               ? OMV_EXIT_FAILURE
               : 0;
}

/* The directory holds an SDK of the version (or any stamp when none is asked). */
static int need_installed(struct omv_ctx *ctx, const char *dir, const char *version,
                          struct strbuf *stamp)
{
    char err[512];

    if (sdk_read_stamp(dir, stamp, err, sizeof(err)) < 0) {
        error(ctx, "no SDK in %s: %s", dir, err);
        hint(ctx, "install it: omvdev sdk install%s%s", *version ? " --version " : "", version);
        return OMV_EXIT_FAILURE;
    }
    if (*version && strcmp(stamp->buf, version)) {
        error(ctx, "%s holds SDK %s, not %s", dir, stamp->buf, version);
        hint(ctx, "install %s: omvdev sdk install --force --version %s", version, version);
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

static int cmd_sdk_path(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf version = STRBUF_INIT, dir = STRBUF_INIT, stamp = STRBUF_INIT, out = STRBUF_INIT;
    struct dir_options d;
    int rc;

    read_dir_options(inv, &d);
    rc = version_and_dir(ctx, inv, &d, &version, &dir);
    if (rc == 0)
        rc = need_installed(ctx, dir.buf, version.buf, &stamp);
    if (rc == 0) {
        if (ctx->json) {
            struct json_writer jw;

            json_init(&jw, &out);
            json_object_begin(&jw, NULL);
            json_int(&jw, "schema", 1);
            json_string(&jw, "dir", dir.buf);
            json_string(&jw, "version", stamp.buf);
            json_object_end(&jw);
        } else {
            strbuf_addf(&out, "%s\n", dir.buf);
        }
        out_write(out.buf, out.len);
    }
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&stamp);
    strbuf_release(&out);
    return rc;
}

struct verify_ui {
    struct omv_ctx *ctx;
    struct strbuf *out;
    struct json_writer *jw;
};

static void on_problem(void *ud, enum sdk_problem p, const char *path, const char *what)
{
    struct verify_ui *v = ud;
    static const char *const kinds[] = {"missing", "changed", "extra"};

    if (v->jw) {
        json_object_begin(v->jw, NULL);
        json_string(v->jw, "kind", kinds[p]);
        json_string(v->jw, "path", path);
        json_string(v->jw, "what", what);
        json_object_end(v->jw);
    } else if (p != SDK_PROB_EXTRA || v->ctx->verbosity > 0) {
        strbuf_addf(v->out, "%-8s %s: %s\n", kinds[p], path, what);
    }
}

static int cmd_sdk_verify(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf version = STRBUF_INIT, dir = STRBUF_INIT, stamp = STRBUF_INIT, out = STRBUF_INIT;
    struct sdk_verify_result vr;
    struct json_writer jw;
    struct verify_ui ui = {ctx, &out, ctx->json ? &jw : NULL};
    struct dir_options d;
    char err[1024];
    int rc;

    read_dir_options(inv, &d);
    rc = version_and_dir(ctx, inv, &d, &version, &dir);
    if (rc == 0)
        rc = need_installed(ctx, dir.buf, version.buf, &stamp);
    if (rc)
        goto out;
    if (ctx->json) {
        json_init(&jw, &out);
        json_object_begin(&jw, NULL);
        json_int(&jw, "schema", 1);
        json_string(&jw, "dir", dir.buf);
        json_string(&jw, "version", stamp.buf);
        json_array_begin(&jw, "problems");
    }
    if (sdk_verify(dir.buf, 0, on_problem, &ui, &vr, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        hint(ctx, "reinstall it: omvdev sdk install --force --version %s", stamp.buf);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (ctx->json) {
        json_array_end(&jw);
        json_int(&jw, "checked", (int64_t)vr.checked);
        json_int(&jw, "missing", (int64_t)vr.missing);
        json_int(&jw, "changed", (int64_t)vr.changed);
        json_int(&jw, "extra", (int64_t)vr.extra);
        json_bool(&jw, "ok", vr.missing == 0 && vr.changed == 0);
        json_object_end(&jw);
    } else {
        strbuf_addf(&out,
                    "SDK %s in %s: %" PRIu64 " entries checked, %" PRIu64 " missing, %" PRIu64
                    " changed, %" PRIu64 " extra\n",
                    stamp.buf, dir.buf, vr.checked, vr.missing, vr.changed, vr.extra);
    }
    out_write(out.buf, out.len);
    if (vr.missing || vr.changed) {
        error(ctx, "SDK %s in %s is damaged", stamp.buf, dir.buf);
        hint(ctx, "reinstall it: omvdev sdk install --force --version %s", stamp.buf);
        rc = OMV_EXIT_FAILURE;
    }
out:
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&stamp);
    strbuf_release(&out);
    return rc;
}

static int cmd_sdk_remove(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf dir = STRBUF_INIT, stamp = STRBUF_INIT;
    struct dir_options d;
    const char *dir_opt;
    char err[1024];
    int rc = OMV_EXIT_OK;

    read_dir_options(inv, &d);
    dir_opt = d.dir;
    if (inv->opts.nr_args > 1 || (inv->opts.nr_args == 0) == !dir_opt)
        return usage_error(ctx, inv, "name a version or --dir D (one of them)");
    if (dir_opt) {
        fs_absolute(&dir, dir_opt);
    } else {
        if (!sdk_version_valid(inv->opts.args[0])) {
            rc = usage_error(ctx, inv, "'%s' is not an SDK version", inv->opts.args[0]);
            goto out;
        }
        if (resolve_dir(ctx, NULL, cfg_value(ctx, "root"), inv->opts.args[0], &dir) < 0) {
            rc = OMV_EXIT_FAILURE;
            goto out;
        }
    }
    if (sdk_read_stamp(dir.buf, &stamp, NULL, 0) < 0) {
        error(ctx, "no SDK in %s", dir.buf);
        hint(ctx, "'omvdev sdk list' shows the installed SDKs");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (sdk_remove(dir.buf, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    note(ctx, "removed SDK %s from %s", stamp.buf, dir.buf);
out:
    strbuf_release(&dir);
    strbuf_release(&stamp);
    return rc;
}

static int cmd_sdk_env(struct omv_ctx *ctx, struct omv_invocation *inv)
{
    struct strbuf version = STRBUF_INIT, dir = STRBUF_INIT, stamp = STRBUF_INIT;
    struct strbuf out = STRBUF_INIT;
    struct dir_options d;
    const char *shell;
    struct utsname u;
    int rc;

    read_dir_options(inv, &d);
    shell = d.shell;
    rc = version_and_dir(ctx, inv, &d, &version, &dir);
    if (!shell) {
        const char *sh = getenv("SHELL");

        shell = sh && strstr(sh, "fish") ? "fish" : "bash";
    }
    if (rc == 0)
        rc = need_installed(ctx, dir.buf, version.buf, &stamp);
    if (rc)
        goto out;
    if (uname(&u) < 0)
        strcpy(u.sysname, "Linux");
    sdk_env_script(&out,
                   !strcmp(shell, "fish")         ? SDK_SHELL_FISH
                   : !strcmp(shell, "powershell") ? SDK_SHELL_POWERSHELL
                                                  : SDK_SHELL_SH,
                   dir.buf, u.sysname);
    out_write(out.buf, out.len);
out:
    strbuf_release(&version);
    strbuf_release(&dir);
    strbuf_release(&stamp);
    strbuf_release(&out);
    return rc;
}
