/*
 * `omvdev --version`: the project's version (CMake's project VERSION), the git commit
 * when built from a clone, and with -v the versions of the libraries omvdev was
 * compiled against and is running with.
 */
#include "lib/compat.h"

#include "cmd/cmd.h"
#include "flash/usb.h"
#include "lib/config.h"
#include "lib/json.h"
#include "lib/libversion.h"
#include "lib/strbuf.h"
#include "sdk/digest.h"
#include "sdk/extract.h"
#include "sdk/fetch.h"
#include "sdk/xz.h"

#include <stdio.h>

#ifndef OMVDEV_VERSION
#define OMVDEV_VERSION "unknown"
#endif

/* Written at build time by cmake/version.cmake: "" outside a git clone. */
extern const char omv_git_commit[];

static void (*const libversion_fns[])(struct libversion *) = {
    fetch_libversion, extract_libversion, digest_libversion,
    cfg_libversion,   usb_libversion,     xz_libversion,
};

static void print_json(const struct libversion *libs, size_t n, bool verbose)
{
    struct strbuf sb = STRBUF_INIT;
    struct json_writer jw;

    json_init(&jw, &sb);
    json_object_begin(&jw, NULL);
    json_int(&jw, "schema", 1);
    json_string(&jw, "version", OMVDEV_VERSION);
    json_string(&jw, "commit", omv_git_commit[0] ? omv_git_commit : NULL);
    if (verbose) {
        json_array_begin(&jw, "libraries");
        for (size_t i = 0; i < n; i++) {
            json_object_begin(&jw, NULL);
            json_string(&jw, "name", libs[i].name);
            json_string(&jw, "built", libs[i].built);
            json_string(&jw, "running", libs[i].running[0] ? libs[i].running : NULL);
            json_object_end(&jw);
        }
        json_array_end(&jw);
    }
    json_object_end(&jw);
    out_write(sb.buf, sb.len);
    strbuf_release(&sb);
}

int version_print(struct omv_ctx *ctx)
{
    struct libversion libs[ARRAY_SIZE(libversion_fns)];
    bool verbose = ctx->verbosity > 0;

    for (size_t i = 0; i < ARRAY_SIZE(libs); i++)
        libversion_fns[i](&libs[i]);
    if (ctx->json) {
        print_json(libs, ARRAY_SIZE(libs), verbose);
        return OMV_EXIT_OK;
    }
    if (omv_git_commit[0])
        printf("omvdev %s (git %s)\n", OMVDEV_VERSION, omv_git_commit);
    else
        printf("omvdev %s\n", OMVDEV_VERSION);
    if (!verbose)
        return OMV_EXIT_OK;
    printf("%-12s %-14s %s\n", "library", "built with", "running with");
    for (size_t i = 0; i < ARRAY_SIZE(libs); i++)
        printf("%-12s %-14s %s\n", libs[i].name, libs[i].built,
               libs[i].running[0] ? libs[i].running : "(the library does not say)");
    return OMV_EXIT_OK;
}
