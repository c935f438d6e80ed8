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
    struct strbuf self = STRBUF_INIT, dir = STRBUF_INIT, cc = STRBUF_INIT;
    const char *wrapper[3] = {NULL, NULL, NULL};
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
    /* omvdev-cc beside omvdev: it links only the C library, so it starts in a fraction of
     * omvdev's time; omvdev itself serves as the wrapper where it is missing. */
    cmd_self_exe(&self);
    if (strrchr(self.buf, '/'))
        strbuf_add(&cc, self.buf, (size_t)(strrchr(self.buf, '/') + 1 - self.buf));
    strbuf_addstr(&cc, "omvdev-cc");
    if (access(cc.buf, X_OK) == 0) {
        wrapper[0] = cc.buf;
    } else {
        wrapper[0] = self.buf;
        wrapper[1] = "__cc";
    }
    compiledb_make_var(&c->cc, "CC", wrapper, c->log.buf, "arm-none-eabi-gcc");
    compiledb_make_var(&c->cxx, "CXX", wrapper, c->log.buf, "arm-none-eabi-g++");
    strbuf_release(&self);
    strbuf_release(&cc);
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
