#include "lib/compat.h"
#include "cmd/compiledb.h"

#include "cmd/buildcmd.h"
#include "lib/compiledb.h"
#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void cdb_capture_begin(struct omv_ctx *ctx, const char *make_dir, const char *target,
                       struct cdb_capture *c)
{
    struct strbuf self = STRBUF_INIT, dir = STRBUF_INIT;
    char err[512];

    strbuf_init(&c->log);
    strbuf_init(&c->db);
    strbuf_init(&c->cc);
    strbuf_init(&c->cxx);
    c->target = xstrdup(target);
    fs_absolute(&dir, make_dir);
    fs_path_join(&dir, "", "build");
    fs_path_join(&dir, "", target);
    fs_path_join(&c->db, dir.buf, "compile_commands.json");
    fs_path_join(&c->log, dir.buf, ".compile_commands.log");
    /* The wrapper appends to the log from the first compile on. */
    if (fs_mkdir_p(dir.buf, 0777, err, sizeof(err)) < 0)
        warning(ctx, "%s: no compile_commands.json this time", err);
    bld_self_exe(&self);
    compiledb_make_var(&c->cc, "CC", self.buf, c->log.buf, "arm-none-eabi-gcc");
    compiledb_make_var(&c->cxx, "CXX", self.buf, c->log.buf, "arm-none-eabi-g++");
    strbuf_release(&self);
    strbuf_release(&dir);
}

size_t cdb_capture_args(const struct cdb_capture *c, const char **argv, size_t n)
{
    bool cc = true, cxx = true;

    for (size_t i = 1; i < n; i++) {
        cc &= strncmp(argv[i], "CC=", 3) != 0;
        cxx &= strncmp(argv[i], "CXX=", 4) != 0;
    }
    if (cc)
        argv[n++] = c->cc.buf;
    if (cxx)
        argv[n++] = c->cxx.buf;
    return n;
}

void cdb_capture_end(struct omv_ctx *ctx, struct cdb_capture *c)
{
    struct compiledb_stats st;
    char err[512];

    if (compiledb_merge(c->log.buf, c->db.buf, &st, err, sizeof(err)) < 0)
        warning(ctx, "compile_commands.json not updated: %s", err);
    else if (st.replaced)
        warning(ctx, "%s; started it afresh with the %zu files compiled now", err, st.recorded);
    if (st.replaced)
        hint(ctx, "omvdev build -t %s --clean records every file again", c->target);
    else if (st.recorded)
        verbose(ctx, "%s: %zu entries (%zu compiled now, %zu of removed files dropped)", c->db.buf,
                st.entries, st.recorded, st.dropped);
    strbuf_release(&c->log);
    strbuf_release(&c->db);
    strbuf_release(&c->cc);
    strbuf_release(&c->cxx);
    free(c->target);
}

int cdb_wrapper_main(int argc, char **argv)
{
    struct strbuf compiler = STRBUF_INIT;
    char cwd[4096], err[512];
    size_t n;

    if (argc < 4) {
        fprintf(stderr, "omvdev: error: usage: omvdev __cc LOG COMPILER [ARGS...]\n");
        return 127;
    }
    /* The compiler make's PATH finds, by its absolute path: in the database too, so that
     * clangd's --query-driver can match it. */
    if (proc_find_program(argv[3], NULL, &compiler, err, sizeof(err)) < 0) {
        fprintf(stderr, "omvdev: error: %s\n", err);
        return 127;
    }
    argv[3] = compiler.buf;
    /* A record that cannot be written must not fail the build. */
    if (!getcwd(cwd, sizeof(cwd)))
        fprintf(stderr, "omvdev: warning: compile_commands: cannot get the directory: %s\n",
                strerror(errno));
    else if (compiledb_record(argv[2], cwd, (const char *const *)argv + 3, &n, err, sizeof(err)) <
             0)
        fprintf(stderr, "omvdev: warning: compile_commands: %s\n", err);
    execv(argv[3], argv + 3);
    fprintf(stderr, "omvdev: error: cannot run '%s': %s\n", argv[3], strerror(errno));
    strbuf_release(&compiler);
    return 127;
}
