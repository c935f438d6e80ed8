#include "lib/compat.h"
#include "cmd/compiledb.h"

#include "lib/compiledb.h"
#include "lib/proc.h"
#include "lib/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cdb_wrapper_main(int n, char **args)
{
    struct strbuf compiler = STRBUF_INIT;
    char cwd[4096], err[512];
    size_t nr;

    if (n < 2) {
        fprintf(stderr, "omvdev-cc: error: usage: omvdev-cc LOG COMPILER [ARGS...]\n");
        return 127;
    }
    /* The compiler make's PATH finds, by its absolute path: in the database too, so that
     * clangd's --query-driver can match it. */
    if (proc_find_program(args[1], NULL, &compiler, err, sizeof(err)) < 0) {
        fprintf(stderr, "omvdev-cc: error: %s\n", err);
        return 127;
    }
    args[1] = compiler.buf;
    /* A record that cannot be written must not fail the build. */
    if (!getcwd(cwd, sizeof(cwd)))
        fprintf(stderr, "omvdev-cc: warning: compile_commands: cannot get the directory: %s\n",
                strerror(errno));
    else if (compiledb_record(args[0], cwd, (const char *const *)args + 1, &nr, err, sizeof(err)) <
             0)
        fprintf(stderr, "omvdev-cc: warning: compile_commands: %s\n", err);
    execv(args[1], args + 1);
    fprintf(stderr, "omvdev-cc: error: cannot run '%s': %s\n", args[1], strerror(errno));
    strbuf_release(&compiler);
    return 127;
}
