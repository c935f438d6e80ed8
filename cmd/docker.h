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

struct container_req {
    const char *target;
    const char *engine;     /* "auto" (docker, else podman), "docker" or "podman" */
    const char *build_opts; /* extra make variables for the firmware's make, or NULL */
};

/* Preflight (engine present, answering and usable; the SDK on the host), the image (built
 * once per Dockerfile), then the build. 0, or OMV_EXIT_FAILURE after printing why. */
int container_build(struct omv_ctx *ctx, const struct bld *b, const struct container_req *req);

/* Before any board: --clean is refused, and the make variables must be plain words (the
 * container's script expands them unquoted). 0, or the usage exit status after printing. */
int docker_check_opts(struct omv_ctx *ctx, const struct omv_invocation *inv,
                      const struct opt *opts);
/* build_one's --docker path: reads --container, --debug, --option and the make arguments
 * from `opts` (build's table) and builds `target` with container_build(). */
int docker_build_one(struct omv_ctx *ctx, struct omv_invocation *inv, const struct opt *opts,
                     const struct bld *b, const char *target);

#endif
