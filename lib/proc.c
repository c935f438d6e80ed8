/*
 * Child processes with fork/execve and poll(): see proc.h.
 */
#include "lib/compat.h"

#include "lib/proc.h"

#include "lib/error.h"
#include "lib/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static bool is_executable_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int proc_find_program(const char *name, const char *path, struct strbuf *out, char *err,
                      size_t errlen)
{
    const char *p, *end;

    if (strchr(name, '/')) {
        strbuf_addstr(out, name);
        return 0;
    }
    if (!path)
        path = getenv("PATH");
    for (p = path ? path : ""; *p; p = *end ? end + 1 : end) {
        size_t base = out->len;

        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        if (end == p) /* an empty entry is the working directory */
            strbuf_addch(out, '.');
        else
            strbuf_add(out, p, (size_t)(end - p));
        strbuf_addf(out, "/%s", name);
        if (is_executable_file(out->buf + base)) {
            memmove(out->buf, out->buf + base, out->len - base + 1);
            strbuf_setlen(out, out->len - base);
            return 0;
        }
        strbuf_setlen(out, base);
    }
    return omv_seterr(err, errlen, OMV_ENOENT, "'%s' not found on PATH", name);
}

static const char *env_path(const char *const *envp)
{
    if (!envp)
        return NULL;
    for (; *envp; envp++)
        if (!strncmp(*envp, "PATH=", 5))
            return *envp + 5;
    return "";
}

static int open_pipe(int fds[2], char *err, size_t errlen)
{
    if (pipe(fds) < 0)
        return omv_seterr(err, errlen, OMV_EIO, "cannot create a pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* In the child: make `fd` (1 or 2) what `how` says. Returns -1 on failure. */
static int child_stream(enum proc_stream how, int fd, int pipe_w, int devnull)
{
    switch (how) {
    case PROC_INHERIT:
        return 0;
    case PROC_DISCARD:
        return dup2(devnull, fd) < 0 ? -1 : 0;
    case PROC_CAPTURE:
    case PROC_TEE:
        return dup2(pipe_w, fd) < 0 ? -1 : 0;
    }
    return -1;
}

/* execve() takes char *const[]: the strings are not changed, only typed so. */
static void exec_child(const char *prog, const struct proc_spec *spec)
{
    char *const *argv, *const *envp = environ;

    memcpy(&argv, &spec->argv, sizeof(argv));
    if (spec->envp)
        memcpy(&envp, &spec->envp, sizeof(envp));
    execve(prog, argv, envp);
}

int proc_spawn(struct proc *p, const struct proc_spec *spec, char *err, size_t errlen)
{
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, status[2] = {-1, -1};
    struct strbuf prog = STRBUF_INIT;
    int devnull = -1, child_errno = 0, rc;
    ssize_t n;

    memset(p, 0, sizeof(*p));
    strbuf_init(&p->out);
    strbuf_init(&p->err);
    p->out_fd = p->err_fd = -1;
    p->spec = spec;

    rc = proc_find_program(spec->argv[0], env_path(spec->envp), &prog, err, errlen);
    if (rc < 0)
        goto out;
    if ((spec->out == PROC_CAPTURE || spec->out == PROC_TEE) && (rc = open_pipe(out, err, errlen)))
        goto out;
    if ((spec->err == PROC_CAPTURE || spec->err == PROC_TEE) && (rc = open_pipe(errp, err, errlen)))
        goto out;
    if ((rc = open_pipe(status, err, errlen)))
        goto out;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot open /dev/null: %s", strerror(errno));
        goto out;
    }

    p->pid = fork();
    if (p->pid < 0) {
        p->pid = 0;
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot start '%s': %s", spec->argv[0],
                        strerror(errno));
        goto out;
    }
    if (p->pid == 0) {
        /* The child: only async-signal-safe calls from here on. */
        int e;

        if (child_stream(spec->out, 1, out[1], devnull) < 0 ||
            child_stream(spec->err, 2, errp[1], devnull) < 0 ||
            (spec->stdin_null && dup2(devnull, 0) < 0) || (spec->cwd && chdir(spec->cwd) < 0))
            goto fail;
        signal(SIGPIPE, SIG_DFL);
        exec_child(prog.buf, spec);
fail:
        e = errno;
        if (write(status[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }

    close(status[1]);
    status[1] = -1;
    do
        n = read(status[0], &child_errno, sizeof(child_errno));
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(child_errno)) {
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
        rc = omv_seterr(err, errlen, OMV_EIO, "cannot run '%s'%s%s: %s", prog.buf,
                        spec->cwd ? " in " : "", spec->cwd ? spec->cwd : "", strerror(child_errno));
        goto out;
    }
    p->out_fd = out[0];
    p->err_fd = errp[0];
    out[0] = errp[0] = -1;
    rc = 0;
out:
    for (int *fd = (int[]){out[0], out[1], errp[0], errp[1], status[0], status[1], devnull, -2};
         *fd != -2; fd++)
        if (*fd >= 0)
            close(*fd);
    strbuf_release(&prog);
    return rc;
}

/* Hand complete lines from `start` on to on_line; with `flush`, the rest too. */
static void give_lines(struct proc *p, int fd, struct strbuf *sb, size_t *start, bool flush)
{
    const struct proc_spec *spec = p->spec;

    while (*start < sb->len) {
        char *nl = memchr(sb->buf + *start, '\n', sb->len - *start);
        size_t len;

        if (!nl && !flush)
            return;
        len = nl ? (size_t)(nl - (sb->buf + *start)) : sb->len - *start;
        if (spec->on_line)
            spec->on_line(spec->ud, fd, sb->buf + *start, len);
        *start += len + (nl ? 1 : 0);
    }
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* our own output is gone: keep draining the child */
        buf += n;
        len -= (size_t)n;
    }
}

/* Read what is there from one pipe; closes it at EOF. */
static void pump(struct proc *p, int *fdp, int which)
{
    struct strbuf *sb = which == 1 ? &p->out : &p->err;
    size_t *line = which == 1 ? &p->out_line : &p->err_line;
    enum proc_stream how = which == 1 ? p->spec->out : p->spec->err;
    char buf[16384];
    ssize_t n = read(*fdp, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fdp);
        *fdp = -1;
        give_lines(p, which, sb, line, true);
        return;
    }
    if (how == PROC_TEE)
        write_all(which, buf, (size_t)n);
    strbuf_add(sb, buf, (size_t)n);
    give_lines(p, which, sb, line, false);
}

static bool reap(struct proc *p, int flags)
{
    int status;
    pid_t r;

    do
        r = waitpid(p->pid, &status, flags);
    while (r < 0 && errno == EINTR);
    if (r != p->pid)
        return false;
    p->pid = 0;
    p->exited = WIFEXITED(status);
    p->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    p->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return true;
}

int proc_wait(struct proc *p, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = timeout_ms < 0 ? -1 : progress_now_ms() + timeout_ms;

    while (p->out_fd >= 0 || p->err_fd >= 0) {
        struct pollfd fds[2];
        nfds_t n = 0;
        int wait_ms = -1, r;

        if (deadline >= 0) {
            int64_t left = deadline - progress_now_ms();

            if (left <= 0)
                return omv_seterr(err, errlen, OMV_ETIMEOUT, "timed out");
            wait_ms = (int)left;
        }
        if (p->out_fd >= 0)
            fds[n++] = (struct pollfd){p->out_fd, POLLIN, 0};
        if (p->err_fd >= 0)
            fds[n++] = (struct pollfd){p->err_fd, POLLIN, 0};
        r = poll(fds, n, wait_ms);
        if (r < 0 && errno != EINTR)
            return omv_seterr(err, errlen, OMV_EIO, "poll: %s", strerror(errno));
        for (nfds_t i = 0; r > 0 && i < n; i++) {
            if (!fds[i].revents)
                continue;
            if (fds[i].fd == p->out_fd)
                pump(p, &p->out_fd, 1);
            else
                pump(p, &p->err_fd, 2);
        }
    }
    if (p->pid == 0)
        return 0;
    /* The pipes are closed (or never were): wait for the exit itself. */
    while (!reap(p, deadline < 0 ? 0 : WNOHANG)) {
        if (deadline >= 0 && progress_now_ms() >= deadline)
            return omv_seterr(err, errlen, OMV_ETIMEOUT, "timed out");
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return 0;
}

void proc_kill(struct proc *p, int sig)
{
    if (p->pid > 0)
        kill(p->pid, sig);
}

void proc_release(struct proc *p)
{
    if (!p->spec) /* never spawned: nothing is open */
        return;
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    p->out_fd = p->err_fd = -1;
    strbuf_release(&p->out);
    strbuf_release(&p->err);
}

int proc_run(struct proc *p, const struct proc_spec *spec, int timeout_ms, char *err, size_t errlen)
{
    int rc = proc_spawn(p, spec, err, errlen);

    if (rc < 0)
        return rc;
    rc = proc_wait(p, timeout_ms, err, errlen);
    if (rc == OMV_ETIMEOUT) {
        char tmp[64];

        proc_kill(p, SIGTERM);
        if (proc_wait(p, 1000, tmp, sizeof(tmp)) < 0) {
            proc_kill(p, SIGKILL);
            proc_wait(p, -1, tmp, sizeof(tmp));
        }
        rc = omv_seterr(err, errlen, OMV_ETIMEOUT, "'%s' did not finish within %d s", spec->argv[0],
                        (timeout_ms + 999) / 1000);
    }
    return rc;
}

const char *proc_status_text(const struct proc *p, char *buf, size_t len)
{
    if (p->exited)
        snprintf(buf, len, "exit status %d", p->exit_code);
    else
        snprintf(buf, len, "killed by signal %d (%s)", p->term_signal, strsignal(p->term_signal));
    return buf;
}
