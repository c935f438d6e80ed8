#include "lib/compat.h"
#include "cmd/probe.h"

#include "flash/runners.h"
#include "lib/strbuf.h"
#include "targets/targets.h"

#include <string.h>

const char *const probe_choices[] = {"jlink", "stlink", "cmsis-dap", "qemu", NULL};
const char *const probe_server_choices[] = {"openocd", "st", NULL};

static const struct {
    const char *label;
    const char *openocd_interface; /* NULL: OpenOCD does not drive it here */
} probes[] = {
    [PROBE_JLINK] = {"a J-Link", NULL},
    [PROBE_STLINK] = {"an ST-Link", "interface/stlink.cfg"},
    [PROBE_CMSIS_DAP] = {"a CMSIS-DAP probe", "interface/cmsis-dap.cfg"},
    [PROBE_QEMU] = {"QEMU", NULL},
};

const char *probe_label(enum probe p)
{
    return probes[p].label;
}

const char *probe_name(enum probe p)
{
    return probe_choices[p];
}

static int probe_parse(const char *s)
{
    for (int i = 0; probe_choices[i]; i++)
        if (!strcmp(probe_choices[i], s))
            return i;
    return -1;
}

int probe_board(struct omv_ctx *ctx, const char *name, const struct target **t,
                const struct qemu_board **qb)
{
    *qb = NULL;
    *t = NULL;
    if (!ctx_targets(ctx))
        return OMV_EXIT_FAILURE;
    *t = ctx_target(ctx, name);
    *qb = ctx_qemu_board(ctx, name);
    return *t ? OMV_EXIT_OK : OMV_EXIT_USAGE;
}

/* The board's probes, in its order; a board without the key has the J-Link when it
 * names a J-Link device. */
static size_t board_probes(const struct target *t, const struct qemu_board *qb, int out[4])
{
    size_t n = 0;

    if (qb) {
        out[n++] = PROBE_QEMU;
        return n;
    }
    for (size_t i = 0; i < t->nr_probes && n < 4; i++) {
        int p = probe_parse(t->probes[i]);

        if (p >= 0)
            out[n++] = p;
    }
    if (!t->nr_probes && t->jlink_device)
        out[n++] = PROBE_JLINK;
    return n;
}

void probe_list(const struct target *t, const struct qemu_board *qb, struct strbuf *sb)
{
    int list[4];
    size_t n = board_probes(t, qb, list);

    for (size_t i = 0; i < n; i++)
        strbuf_addf(sb, "%s%s", i ? " " : "", probe_name((enum probe)list[i]));
    if (!n)
        strbuf_addstr(sb, "none");
}

/* Why `p` cannot serve the board, or NULL when it can. */
static const char *refusal(const struct target *t, const struct qemu_board *qb, enum probe p,
                           bool st, struct strbuf *why)
{
    int list[4];
    size_t n = board_probes(t, qb, list);
    bool listed = false;

    for (size_t i = 0; i < n; i++)
        listed |= list[i] == (int)p;
    if (p == PROBE_QEMU && !qb)
        return "only the emulated boards (MPS2_AN500, MPS3_AN547) run in QEMU";
    if (qb && p != PROBE_QEMU)
        return "it is an emulated board: it runs in QEMU (--probe qemu)";
    if (p == PROBE_JLINK && !t->jlink_device)
        return "the board database names no J-Link device for it";
    if (!listed && p == PROBE_STLINK && (!t->port || strcmp(t->port, "stm32")))
        return "an ST-Link serves STM32 parts only";
    if (probes[p].openocd_interface && !st && !t->openocd_target) {
        strbuf_addf(why, "OpenOCD (Debian's 0.12) has no target configuration for its %s", t->mcu);
        return why->buf;
    }
    if (!listed) {
        strbuf_addf(why, "it is not among its probes in the board database (%s)",
                    t->source ? t->source : t->name);
        return why->buf;
    }
    return NULL;
}

/* The pick without a word: OMV_EXIT_OK, or the usage status with the error in why
 * (why_hint set when ST's own tools could serve the board where OpenOCD cannot). */
static int pick(const struct target *t, const struct qemu_board *qb, const char *name,
                const char *server, enum probe_use use, struct probe_pick *out, struct strbuf *why,
                bool *st_hint)
{
    const char *verb = use == PROBE_FOR_FLASH ? "flashed over SWD" : "debugged";
    const char *board = qb ? qb->target : t->name;
    struct strbuf reason = STRBUF_INIT;
    const char *no;
    int def[4];
    int p;

    memset(out, 0, sizeof(*out));
    *st_hint = false;
    if (name) {
        p = probe_parse(name);
        if (p < 0) {
            strbuf_addf(why, "unknown probe '%s' (jlink, stlink, cmsis-dap or qemu)", name);
            return OMV_EXIT_USAGE;
        }
    } else if (use == PROBE_FOR_FLASH && t && target_has_runner(t, TARGET_RUNNER_SWD_STLINK)) {
        p = PROBE_STLINK; /* upstream's make deploy */
    } else {
        p = board_probes(t, qb, def) > 0 ? def[0] : -1;
    }
    if (p < 0) {
        strbuf_addf(why, "%s cannot be %s with any probe omvdev knows", board, verb);
        return OMV_EXIT_USAGE;
    }
    if (server && p != PROBE_STLINK) {
        strbuf_addf(why, "--server %s is for --probe stlink, not %s", server,
                    probe_name((enum probe)p));
        return OMV_EXIT_USAGE;
    }
    out->probe = (enum probe)p;
    out->st = p == PROBE_STLINK && (server ? !strcmp(server, "st") : use == PROBE_FOR_FLASH);
    no = refusal(t, qb, out->probe, out->st, &reason);
    if (no) {
        strbuf_addf(why, "%s cannot be %s with %s: %s", board, verb, probe_label(out->probe), no);
        *st_hint = p == PROBE_STLINK && !out->st && t && t->port && !strcmp(t->port, "stm32");
        strbuf_release(&reason);
        return OMV_EXIT_USAGE;
    }
    if (probes[p].openocd_interface && !out->st) {
        out->openocd_interface = probes[p].openocd_interface;
        out->openocd_target = t->openocd_target;
    }
    out->qemu = qb;
    strbuf_release(&reason);
    return OMV_EXIT_OK;
}

int probe_pick(struct omv_ctx *ctx, const struct target *t, const struct qemu_board *qb,
               const char *name, const char *server, enum probe_use use, struct probe_pick *out)
{
    struct strbuf why = STRBUF_INIT, list = STRBUF_INIT;
    bool st_hint;
    int rc = pick(t, qb, name, server, use, out, &why, &st_hint);

    if (rc != OMV_EXIT_OK) {
        probe_list(t, qb, &list);
        error(ctx, "%s", why.buf);
        if (st_hint)
            hint(ctx, "ST's own tools can: --probe stlink --server st (its probes: %s)", list.buf);
        else
            hint(ctx, "its probes: %s (--probe NAME)", list.buf);
    }
    strbuf_release(&why);
    strbuf_release(&list);
    return rc;
}

bool probe_serves(const struct target *t, const struct qemu_board *qb, const char *name,
                  const char *server, enum probe_use use, struct probe_pick *out)
{
    struct strbuf why = STRBUF_INIT;
    bool st_hint;
    int rc = pick(t, qb, name, server, use, out, &why, &st_hint);

    strbuf_release(&why);
    return rc == OMV_EXIT_OK;
}

int probe_tool(struct omv_ctx *ctx, const char *name, const char *sdk, const char *subdir,
               const char *install, bool dry, struct strbuf *out)
{
    char err[512];

    if (runner_find(name, sdk, subdir, NULL, NULL, out, err, sizeof(err)) == 0)
        return 0;
    if (dry) {
        strbuf_addstr(out, name);
        return 0;
    }
    error(ctx, "%s", err);
    hint(ctx, "%s", install);
    return -1;
}

int probe_gdb(struct omv_ctx *ctx, const char *program, const char *sdk, bool dry,
              struct strbuf *out)
{
    char err[512];

    if (program)
        return probe_tool(ctx, program, NULL, NULL, "put it on PATH, or leave --gdb out", dry, out);
    if (runner_find("arm-none-eabi-gdb", sdk, "gcc/bin", NULL, NULL, out, err, sizeof(err)) == 0 ||
        runner_find("gdb-multiarch", NULL, NULL, NULL, NULL, out, err, sizeof(err)) == 0)
        return 0;
    if (dry) {
        strbuf_addstr(out, "arm-none-eabi-gdb");
        return 0;
    }
    error(ctx,
          "no gdb for Arm: arm-none-eabi-gdb is not in the SDK%s%s%s and gdb-multiarch is not "
          "on PATH",
          sdk && *sdk ? " (" : "", sdk && *sdk ? sdk : "", sdk && *sdk ? "/gcc/bin)" : "");
    hint(ctx, "omvdev sdk install (the SDK's gcc has arm-none-eabi-gdb), or sudo apt-get install "
              "gdb-multiarch");
    return -1;
}
