/*
 * `omvdev build --docker` (cmd/docker.c): one board built in the firmware repository's
 * own container setup, with the repository and the SDK mounted at their host paths.
 *
 *     struct container_req req = {"OPENMV4", "auto", "DEBUG=1"};
 *     rc = container_build(ctx, &b, &req);   // an exit status, after printing why
 *
 * Ownership: borrows everything; allocates nothing that outlives the call.
 */
#ifndef OMVDEV_CMD_DOCKER_H
#define OMVDEV_CMD_DOCKER_H

#include "lib/compat.h"
#include "cmd/buildcmd.h"
#include "cmd/cmd.h"

#include <stdbool.h>

struct container_req {
    const char *target;
    const char *engine;     /* "auto" (docker, else podman), "docker" or "podman" */
    const char *build_opts; /* extra make variables for the firmware's make, or NULL */
};

/* Preflight (engine present, answering and usable; the SDK on the host), the image (built
 * once per Dockerfile), then the build. 0, or OMV_EXIT_FAILURE after printing why. */
int container_build(struct omv_ctx *ctx, const struct bld *b, const struct container_req *req);

/* What `build` read from its options for --docker. */
struct docker_build {
    const char *engine; /* --container / [build] container; NULL: auto */
    bool debug;
    const char *const *make_opt; /* --option NAME=VALUE, NULL-terminated (may be NULL) */
    char **args;                 /* after -- */
    int nr_args;
};

/* Before any board: the make variables must be plain words (the container's script expands
 * them unquoted). 0, or the usage exit status after printing. */
int docker_check(struct omv_ctx *ctx, const struct omv_invocation *inv,
                 const struct docker_build *d);
/* Build `target` with container_build(), BUILD_OPTS from d. An exit status. */
int docker_build_board(struct omv_ctx *ctx, const struct bld *b, const char *target,
                       const struct docker_build *d);

#endif
