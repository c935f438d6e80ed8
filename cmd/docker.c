/*
 * `omvdev build --docker`: build a board inside the firmware repository's own container
 * setup (docker/Dockerfile and docker/build-dev.sh, its incremental development path).
 * The repository — and, for a git worktree, the main repository its .git file points
 * into — and the SDK are mounted at the same absolute paths as on the host, so the ELF's
 * source paths resolve for the debugger; the container runs as the host user, so the
 * outputs are the user's. The image is tagged with a hash of the Dockerfile: built once,
 * reused until the Dockerfile changes. Docker or Podman ([build] container).
 */
/* realpath(3) is XSI, not POSIX.1-2008 proper: ask glibc for it. */
#define _DEFAULT_SOURCE
#include "lib/compat.h"

#include "cmd/docker.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"
#include "sdk/digest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOCKER_SOCKET "/var/run/docker.sock"

struct engine {
    const char *name; /* "docker" or "podman" */
    struct strbuf path;
};

/* Run argv; 0 with the child's exit status in *status, or OMV_E* when it could not run. */
static int run(const char *const *argv, enum proc_stream out, enum proc_stream err_stream,
               struct strbuf *captured, int *status, char *err, size_t errlen)
{
    struct proc_spec spec;
    struct proc p;
    int rc;

    memset(&spec, 0, sizeof(spec));
    spec.argv = argv;
    spec.out = out;
    spec.err = err_stream;
    spec.stdin_null = true;
    fflush(stdout);
    rc = proc_run(&p, &spec, -1, err, errlen);
    if (rc < 0)
        return rc;
    *status = p.exited ? p.exit_code : 128 + p.term_signal;
    if (captured) {
        strbuf_add(captured, p.out.buf, p.out.len);
        strbuf_add(captured, p.err.buf, p.err.len);
        strbuf_trim_trailing(captured);
    }
    proc_release(&p);
    return 0;
}

static bool find(const char *name, struct engine *e)
{
    char err[256];

    strbuf_reset(&e->path);
    if (proc_find_program(name, NULL, &e->path, err, sizeof(err)) < 0)
        return false;
    e->name = name;
    return true;
}

/* auto: Docker when its daemon is there (a socket, or DOCKER_HOST), else Podman (which
 * needs no daemon), else Docker (whose preflight then says what is missing). */
static int pick_engine(struct omv_ctx *ctx, const char *choice, struct engine *e)
{
    bool docker_up = getenv("DOCKER_HOST") || access(DOCKER_SOCKET, F_OK) == 0;

    if (!strcmp(choice, "auto")) {
        if ((docker_up && find("docker", e)) || find("podman", e) || find("docker", e))
            return 0;
        error(ctx, "no container engine: neither 'docker' nor 'podman' is on PATH");
        hint(ctx, "install one (Debian/Ubuntu: sudo apt-get install docker.io, or podman), or "
                  "build on the host: omvdev build");
        return OMV_EXIT_FAILURE;
    }
    if (find(choice, e))
        return 0;
    error(ctx, "'%s' is not on PATH ([build] container is '%s')", choice, choice);
    hint(ctx, "install it, or pick the other engine: omvdev config set build.container %s",
         strcmp(choice, "docker") ? "docker" : "podman");
    return OMV_EXIT_FAILURE;
}

/* Docker talks to a daemon through a socket only root and the docker group may open. */
static int check_docker_access(struct omv_ctx *ctx)
{
    const char *host = getenv("DOCKER_HOST");
    const char *sock = DOCKER_SOCKET;

    if (host && strncmp(host, "unix://", 7))
        return 0; /* a TCP or SSH daemon: only asking it tells */
    if (host)
        sock = host + 7;
    if (access(sock, F_OK) < 0) {
        error(ctx, "the Docker daemon is not running: there is no '%s'", sock);
        hint(ctx, "start it: sudo systemctl start docker (or use Podman: omvdev config set "
                  "build.container podman)");
        return OMV_EXIT_FAILURE;
    }
    if (access(sock, R_OK | W_OK) < 0 && (errno == EACCES || errno == EPERM)) {
        error(ctx, "you may not use Docker: '%s' is only open to root and the docker group", sock);
        hint(ctx, "sudo usermod -aG docker $USER, then log out and in again (or use Podman: "
                  "omvdev config set build.container podman)");
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

static int check_engine_answers(struct omv_ctx *ctx, const struct engine *e)
{
    const char *argv[] = {e->path.buf, "info", NULL};
    struct strbuf said = STRBUF_INIT;
    char err[512];
    int status, rc;

    rc = run(argv, PROC_CAPTURE, PROC_CAPTURE, &said, &status, err, sizeof(err));
    if (rc == 0 && status != 0) {
        char *nl = strchr(said.buf, '\n');

        if (nl)
            *nl = '\0';
        snprintf(err, sizeof(err), "%s", said.len ? said.buf : "no output");
        rc = OMV_EIO;
    }
    if (rc < 0) {
        error(ctx, "'%s info' failed, the engine does not answer: %s", e->name, err);
        hint(ctx, "%s",
             strcmp(e->name, "docker") ? "check it by hand: podman info"
                                       : "start it: sudo systemctl start docker");
    }
    strbuf_release(&said);
    return rc ? OMV_EXIT_FAILURE : 0;
}

/* "omvdev-firmware-builder:<12 hex of the Dockerfile's SHA-256>" */
static int image_tag(struct omv_ctx *ctx, const char *dockerfile, struct strbuf *tag)
{
    char hex[DIGEST_HEX_LEN + 1], err[512];

    if (digest_file(dockerfile, hex, NULL, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        return OMV_EXIT_FAILURE;
    }
    strbuf_addf(tag, "omvdev-firmware-builder:%.12s", hex);
    return 0;
}

static int ensure_image(struct omv_ctx *ctx, const struct engine *e, const char *docker_dir,
                        const char *dockerfile, const char *tag)
{
    const char *inspect[] = {e->path.buf, "image", "inspect", tag, NULL};
    const char *build[] = {e->path.buf, "build", "-t", tag, "-f", dockerfile, docker_dir, NULL};
    char err[512];
    int status;

    if (run(inspect, PROC_DISCARD, PROC_DISCARD, NULL, &status, err, sizeof(err)) == 0 &&
        status == 0) {
        verbose(ctx, "using the image %s (built before from %s)", tag, dockerfile);
        return 0;
    }
    note(ctx, "building the image %s from %s (once; reused until the Dockerfile changes)", tag,
         dockerfile);
    if (run(build, PROC_INHERIT, PROC_INHERIT, NULL, &status, err, sizeof(err)) < 0 ||
        status != 0) {
        error(ctx, "'%s build' of %s failed", e->name, dockerfile);
        hint(ctx, "the Dockerfile's base image and packages are downloaded: check the network");
        return OMV_EXIT_FAILURE;
    }
    return 0;
}

/* The main repository of a git worktree (its .git file points there), else "". */
static void worktree_main(const char *root, struct strbuf *out)
{
    const char *dirs[] = {
        "git", "-C", root, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir",
        NULL};
    const char *list[] = {"git", "-C", root, "worktree", "list", "--porcelain", NULL};
    struct strbuf said = STRBUF_INIT;
    char err[256], *nl;
    int status;

    if (run(dirs, PROC_CAPTURE, PROC_DISCARD, &said, &status, err, sizeof(err)) < 0 || status)
        goto out;
    nl = strchr(said.buf, '\n');
    if (!nl)
        goto out;
    *nl = '\0';
    if (!strcmp(said.buf, nl + 1))
        goto out; /* git dir == common dir: not a worktree */
    strbuf_reset(&said);
    if (run(list, PROC_CAPTURE, PROC_DISCARD, &said, &status, err, sizeof(err)) == 0 && !status &&
        !strncmp(said.buf, "worktree ", 9)) {
        nl = strchr(said.buf, '\n');
        strbuf_add(out, said.buf + 9, nl ? (size_t)(nl - said.buf - 9) : said.len - 9);
    }
out:
    strbuf_release(&said);
}

static bool mountable(struct omv_ctx *ctx, const char *path)
{
    if (!strpbrk(path, ":,\n"))
        return true;
    error(ctx, "cannot mount '%s' into a container: the path holds ':' or ','", path);
    hint(ctx, "move it to a path without them, or build on the host: omvdev build");
    return false;
}

/* The run command line; every string it points to lives in `keep`. */
static void run_argv(const struct engine *e, const struct container_req *req, const char *root,
                     const char *sdk, const char *main_repo, const char *tag, struct strbuf *keep,
                     const char **argv)
{
    size_t n = 0, k = 0;

    strbuf_addf(&keep[k++], "%u:%u", (unsigned)getuid(), (unsigned)getgid());
    strbuf_addf(&keep[k++], "TARGET=%s", req->target);
    strbuf_addf(&keep[k++], "SDK_DIR=%s", sdk);
    strbuf_addf(&keep[k++], "BUILD_OPTS=%s", req->build_opts ? req->build_opts : "");
    strbuf_addf(&keep[k++], "%s:%s", root, root);
    strbuf_addf(&keep[k++], "%s:%s", sdk, sdk);
    strbuf_addf(&keep[k++], "%s:%s", main_repo, main_repo);
    argv[n++] = e->path.buf;
    argv[n++] = "run";
    argv[n++] = "--rm";
    /* Rootless Podman maps the container's ids to sub-ids: keep-id keeps the user's own. */
    if (!strcmp(e->name, "podman") && getuid() != 0) {
        argv[n++] = "--userns=keep-id";
    } else {
        argv[n++] = "--user";
        argv[n++] = keep[0].buf;
    }
    argv[n++] = "-e";
    argv[n++] = "HOME=/tmp";
    for (size_t i = 1; i <= 3; i++) {
        argv[n++] = "-e";
        argv[n++] = keep[i].buf;
    }
    argv[n++] = "-w";
    argv[n++] = root;
    for (size_t i = 4; i <= 6; i++) {
        if (i == 6 && !*main_repo)
            break;
        argv[n++] = "-v";
        argv[n++] = keep[i].buf;
    }
    argv[n++] = tag;
    argv[n++] = "docker/build-dev.sh";
    argv[n] = NULL;
}

int container_build(struct omv_ctx *ctx, const struct bld *b, const struct container_req *req)
{
    struct engine e = {NULL, STRBUF_INIT};
    struct strbuf dockerfile = STRBUF_INIT, docker_dir = STRBUF_INIT, script = STRBUF_INIT,
                  tag = STRBUF_INIT, main_repo = STRBUF_INIT, keep[7];
    char root[PATH_MAX], sdk[PATH_MAX], err[512];
    const char *argv[40];
    int rc, status = 0;

    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        strbuf_init(&keep[i]);
    fs_path_join(&docker_dir, b->tree.root, "docker");
    fs_path_join(&dockerfile, docker_dir.buf, "Dockerfile");
    fs_path_join(&script, docker_dir.buf, "build-dev.sh");
    if (access(dockerfile.buf, R_OK) < 0 || access(script.buf, X_OK) < 0) {
        error(ctx, "this firmware has no container development build: '%s' is missing",
              access(dockerfile.buf, R_OK) < 0 ? dockerfile.buf : script.buf);
        hint(ctx,
             "docker/build-dev.sh came after firmware v4.8.1; build on the host: omvdev "
             "build -t %s (or upstream's own path: make -C docker TARGET=%s)",
             req->target, req->target);
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (!bld_sdk_ok(b) || !realpath(b->sdk_dir.buf, sdk)) {
        error(ctx,
              "the SDK %s is not installed on the host in '%s': --docker mounts it, it is "
              "not downloaded in the container",
              b->version.buf, b->sdk_dir.buf);
        hint(ctx, "install it: omvdev sdk install (or build with --install-sdk)");
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if (!realpath(b->tree.root, root)) {
        error(ctx, "cannot resolve '%s': %s", b->tree.root, strerror(errno));
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if ((rc = pick_engine(ctx, req->engine, &e)) ||
        (!strcmp(e.name, "docker") && (rc = check_docker_access(ctx))) ||
        (rc = check_engine_answers(ctx, &e)) || (rc = image_tag(ctx, dockerfile.buf, &tag)))
        goto out;
    worktree_main(root, &main_repo);
    if (main_repo.len && !strncmp(main_repo.buf, root, strlen(root)) &&
        (main_repo.buf[strlen(root)] == '/' || !main_repo.buf[strlen(root)]))
        strbuf_reset(&main_repo); /* inside the mounted tree already */
    if (!mountable(ctx, root) || !mountable(ctx, sdk) || !mountable(ctx, main_repo.buf)) {
        rc = OMV_EXIT_FAILURE;
        goto out;
    }
    if ((rc = ensure_image(ctx, &e, docker_dir.buf, dockerfile.buf, tag.buf)))
        goto out;
    run_argv(&e, req, root, sdk, main_repo.buf, tag.buf, keep, argv);
    verbose(ctx, "%s run: %s and %s mounted at the same paths%s%s", e.name, root, sdk,
            main_repo.len ? ", and the main repository " : "", main_repo.buf);
    if (run(argv, PROC_INHERIT, PROC_INHERIT, NULL, &status, err, sizeof(err)) < 0) {
        error(ctx, "%s", err);
        rc = OMV_EXIT_FAILURE;
    } else if (status) {
        error(ctx, "building %s in the %s container failed (exit status %d)", req->target, e.name,
              status);
        rc = OMV_EXIT_FAILURE;
    }
out:
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        strbuf_release(&keep[i]);
    strbuf_release(&e.path);
    strbuf_release(&dockerfile);
    strbuf_release(&docker_dir);
    strbuf_release(&script);
    strbuf_release(&tag);
    strbuf_release(&main_repo);
    return rc;
}

/* The make variables of --debug, -v, --option and the make arguments, for BUILD_OPTS. */
static void make_vars(struct omv_ctx *ctx, const struct docker_build *d, struct strbuf *out)
{
    if (d->debug)
        strbuf_addstr(out, "DEBUG=1");
    if (ctx->verbosity > 0)
        strbuf_addf(out, "%sV=1", out->len ? " " : "");
    for (size_t i = 0; d->make_opt && d->make_opt[i]; i++)
        strbuf_addf(out, "%s%s", out->len ? " " : "", d->make_opt[i]);
    for (int i = 0; i < d->nr_args; i++)
        strbuf_addf(out, "%s%s", out->len ? " " : "", d->args[i]);
}

int docker_check(struct omv_ctx *ctx, const struct omv_invocation *inv,
                 const struct docker_build *d)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "_=.-+/, ";
    struct strbuf vars = STRBUF_INIT;
    int rc = 0;

    make_vars(ctx, d, &vars);
    /* BUILD_OPTS is expanded unquoted by the container's shell script: plain words only. */
    if (strspn(vars.buf, plain) != vars.len)
        rc = usage_error(
            ctx, inv, "with --docker, make options must be plain NAME=VALUE words: '%s'", vars.buf);
    strbuf_release(&vars);
    return rc;
}

int docker_build_board(struct omv_ctx *ctx, const struct bld *b, const char *target,
                       const struct docker_build *d)
{
    struct container_req req = {target, d->engine ? d->engine : "auto", NULL};
    struct strbuf vars = STRBUF_INIT;
    int rc;

    make_vars(ctx, d, &vars);
    req.build_opts = vars.buf;
    rc = container_build(ctx, b, &req);
    strbuf_release(&vars);
    return rc;
}
