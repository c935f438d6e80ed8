/*
 * Running other programs (make, the SDK's gcc and gdb, STM32_Programmer_CLI,
 * JLinkExe, ...) with an argument vector, never through a shell.
 *
 *     struct proc p;
 *     struct proc_spec spec = {.argv = argv, .out = PROC_CAPTURE};
 *     rc = proc_spawn(&p, &spec, err, sizeof(err));
 *     rc = proc_wait(&p, 5000, err, sizeof(err));   // pumps the pipes
 *     ... p.exit_code, p.out.buf ...
 *     proc_release(&p);
 *
 * Output streams are inherited, captured into a strbuf, passed through to
 * our own stdout/stderr while being captured (PROC_TEE: what `build` needs
 * to show make's output unchanged and still find the first error), or
 * discarded. A line callback sees every captured line as it arrives.
 *
 * Ownership: struct proc owns the pipes and the captured text until
 * proc_release(). proc_release() does not kill a running child; call
 * proc_kill() and proc_wait() first when it must go.
 */
#ifndef OMVDEV_LIB_PROC_H
#define OMVDEV_LIB_PROC_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum proc_stream {
    PROC_INHERIT = 0, /* the child writes to our stdout/stderr directly */
    PROC_CAPTURE,     /* into proc.out / proc.err */
    PROC_TEE,         /* captured and copied to our stdout/stderr as it arrives */
    PROC_DISCARD,     /* /dev/null */
};

struct proc_spec {
    const char *const *argv; /* argv[0]: a path, or a name looked up in PATH */
    /* NULL: inherit our environment. Otherwise the child's whole environment;
     * argv[0] is then looked up in this PATH. */
    const char *const *envp;
    const char *cwd; /* NULL: ours */
    enum proc_stream out, err;
    bool stdin_null; /* give the child /dev/null as stdin */
    /* Called for every complete line of a captured stream (and a last
     * unterminated one), without the newline. fd is 1 or 2. */
    void (*on_line)(void *ud, int fd, const char *line, size_t len);
    void *ud;
};

struct proc {
    pid_t pid; /* 0 once reaped */
    int out_fd, err_fd;
    struct strbuf out, err;
    size_t out_line, err_line; /* start of the line not yet given to on_line */
    const struct proc_spec *spec;
    /* after proc_wait() returned 0: */
    bool exited; /* true: exit_code is valid; false: killed by term_signal */
    int exit_code;
    int term_signal;
};

/*
 * The file that `name` runs: itself when it contains a '/', else the first
 * executable regular file of that name in `path` (a PATH value; NULL means
 * getenv("PATH")). OMV_ENOENT, "'name' not found on PATH", when none.
 */
int proc_find_program(const char *name, const char *path, struct strbuf *out, char *err,
                      size_t errlen);

/* Start the child. OMV_ENOENT when the program is not found, OMV_EIO when it
 * cannot be started (the message names the program). */
int proc_spawn(struct proc *p, const struct proc_spec *spec, char *err, size_t errlen);

/*
 * Pump the pipes until the child exits, or until timeout_ms passes
 * (negative: no limit). 0 when it exited (see exited/exit_code/term_signal),
 * OMV_ETIMEOUT with "timed out" when it is still running (it is left running:
 * call again, or proc_kill()).
 */
int proc_wait(struct proc *p, int timeout_ms, char *err, size_t errlen);

/* Send `sig` to the child if it is still running. */
void proc_kill(struct proc *p, int sig);

void proc_release(struct proc *p);

/* proc_spawn + proc_wait; on timeout the child gets SIGTERM, then SIGKILL
 * after a second, and OMV_ETIMEOUT ("'make' did not finish within N s"). */
int proc_run(struct proc *p, const struct proc_spec *spec, int timeout_ms, char *err,
             size_t errlen);

/* "exit status 2" / "killed by signal 9 (Killed)", for messages. */
const char *proc_status_text(const struct proc *p, char *buf, size_t len);

#endif
