#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/proc.h"

#include <signal.h>
#include <stdlib.h>

struct lines {
    char text[512];
    int n;
};

static void on_line(void *ud, int fd, const char *line, size_t len)
{
    struct lines *l = ud;
    size_t used = strlen(l->text);

    snprintf(l->text + used, sizeof(l->text) - used, "%d:%.*s|", fd, (int)len, line);
    l->n++;
}

static void test_find_program(void)
{
    struct strbuf sb = STRBUF_INIT;
    char err[256];

    CHECK_INT(proc_find_program("sh", "/nonexistent::/bin", &sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "/bin/sh");
    strbuf_reset(&sb);
    CHECK_INT(proc_find_program("no-such-tool-x", "/bin:/usr/bin", &sb, err, sizeof(err)), ==,
              OMV_ENOENT);
    CHECK_STR(err, "'no-such-tool-x' not found on PATH");
    CHECK_INT(proc_find_program("./relative", "/bin", &sb, err, sizeof(err)), ==, 0);
    CHECK_STR(sb.buf, "./relative");
    strbuf_release(&sb);
}

static void test_capture_and_lines(void)
{
    const char *argv[] = {"sh", "-c", "echo one; echo two >&2; printf three; exit 3", NULL};
    struct lines l = {{0}, 0};
    struct proc_spec spec = {argv, NULL, NULL, PROC_CAPTURE, PROC_CAPTURE, true, on_line, &l};
    struct proc p;
    char err[256], st[64];

    CHECK_INT(proc_run(&p, &spec, 10000, err, sizeof(err)), ==, 0);
    CHECK(p.exited);
    CHECK_INT(p.exit_code, ==, 3);
    CHECK_STR(p.out.buf, "one\nthree");
    CHECK_STR(p.err.buf, "two\n");
    CHECK_INT(l.n, ==, 3);
    CHECK_CONTAINS(l.text, "1:one|");
    CHECK_CONTAINS(l.text, "2:two|");
    CHECK_CONTAINS(l.text, "1:three|");
    CHECK_STR(proc_status_text(&p, st, sizeof(st)), "exit status 3");
    proc_release(&p);
}

static void test_env_and_cwd(void)
{
    const char *argv[] = {"sh", "-c", "echo \"$FOO\"; pwd", NULL};
    const char *envp[] = {"PATH=/bin:/usr/bin", "FOO=bar", NULL};
    struct proc_spec spec = {argv, envp, "/", PROC_CAPTURE, PROC_DISCARD, true, NULL, NULL};
    struct proc p;
    char err[256];

    CHECK_INT(proc_run(&p, &spec, 10000, err, sizeof(err)), ==, 0);
    CHECK_STR(p.out.buf, "bar\n/\n");
    proc_release(&p);

    /* argv[0] is looked up in the child's PATH, not ours. */
    envp[0] = "PATH=/nonexistent";
    CHECK_INT(proc_spawn(&p, &spec, err, sizeof(err)), ==, OMV_ENOENT);
    proc_release(&p);
}

static void test_cannot_run(void)
{
    const char *argv[] = {"/etc/hostname-not-executable-x", NULL};
    const char *argv2[] = {"sh", "-c", "true", NULL};
    struct proc_spec spec = {argv, NULL, NULL, PROC_CAPTURE, PROC_CAPTURE, true, NULL, NULL};
    struct proc p;
    char err[256];

    CHECK_INT(proc_spawn(&p, &spec, err, sizeof(err)), ==, OMV_EIO);
    CHECK_CONTAINS(err, "cannot run '/etc/hostname-not-executable-x'");
    proc_release(&p);

    spec.argv = argv2;
    spec.cwd = "/nonexistent-dir";
    CHECK_INT(proc_spawn(&p, &spec, err, sizeof(err)), ==, OMV_EIO);
    CHECK_CONTAINS(err, "in /nonexistent-dir: No such file or directory");
    proc_release(&p);
}

static void test_timeout_and_kill(void)
{
    const char *argv[] = {"sleep", "30", NULL};
    struct proc_spec spec = {argv, NULL, NULL, PROC_CAPTURE, PROC_CAPTURE, true, NULL, NULL};
    struct proc p;
    char err[256], st[64];

    CHECK_INT(proc_run(&p, &spec, 200, err, sizeof(err)), ==, OMV_ETIMEOUT);
    CHECK_STR(err, "'sleep' did not finish within 1 s");
    CHECK(!p.exited);
    CHECK_INT(p.term_signal, ==, SIGTERM);
    CHECK_CONTAINS(proc_status_text(&p, st, sizeof(st)), "killed by signal 15");
    CHECK_INT(p.pid, ==, 0);
    proc_release(&p);

    /* Inherited streams: proc_wait still times out and the child can be killed. */
    spec.out = spec.err = PROC_INHERIT;
    CHECK_INT(proc_spawn(&p, &spec, err, sizeof(err)), ==, 0);
    CHECK_INT(proc_wait(&p, 50, err, sizeof(err)), ==, OMV_ETIMEOUT);
    proc_kill(&p, SIGKILL);
    CHECK_INT(proc_wait(&p, -1, err, sizeof(err)), ==, 0);
    CHECK_INT(p.term_signal, ==, SIGKILL);
    proc_release(&p);
}

static void test_big_output(void)
{
    /* More than a pipe buffer on both streams at once must not deadlock. */
    const char *argv[] = {"sh", "-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2",
                          NULL};
    struct proc_spec spec = {argv, NULL, NULL, PROC_CAPTURE, PROC_CAPTURE, true, NULL, NULL};
    struct proc p;
    char err[256];

    CHECK_INT(proc_run(&p, &spec, 20000, err, sizeof(err)), ==, 0);
    CHECK_INT(p.out.len, ==, 300000);
    CHECK_INT(p.err.len, ==, 200000);
    proc_release(&p);
}

TESTS(TEST(test_find_program), TEST(test_capture_and_lines), TEST(test_env_and_cwd),
      TEST(test_cannot_run), TEST(test_timeout_and_kill), TEST(test_big_output))
