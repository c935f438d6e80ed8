/*
 * omvdev-cc LOG COMPILER ARGS...: the compiler wrapper `omvdev build` hands make
 * as CC and CXX, to record compile_commands.json (cmd/compiledb.h). A program of
 * its own so that each compile pays for starting the C library only.
 */
#include "lib/compat.h"

#include "cmd/compiledb.h"

int main(int argc, char **argv)
{
    return cdb_wrapper_main(argc - 1, argv + 1);
}
