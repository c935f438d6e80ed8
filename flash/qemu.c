#include "lib/compat.h"
#include "flash/qemu.h"

#include "lib/error.h"

#include <string.h>

int qemu_argv(struct runner_argv *a, const struct qemu_board *b, const struct qemu_run *r,
              char *err, size_t errlen)
{
    if (!r->firmware || !*r->firmware)
        return omv_seterr(err, errlen, OMV_EINVAL, "no firmware ELF for %s", b->target);
    for (size_t i = 0; i < QEMU_ROMFS_PARTS; i++) {
        if (!r->romfs[i])
            continue;
        if (!b->romfs_origin[i])
            return omv_seterr(err, errlen, OMV_EINVAL, "%s has no ROMFS part %zu", b->target, i);
        if (strchr(r->romfs[i], ','))
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "cannot pass '%s' to QEMU: its path contains a ','", r->romfs[i]);
    }
    runner_argv_add(a, r->program ? r->program : QEMU_PROGRAM);
    runner_argv_add(a, "-machine");
    runner_argv_add(a, b->machine);
    runner_argv_add(a, "-nographic");
    runner_argv_add(a, "-monitor");
    runner_argv_add(a, "null");
    runner_argv_add(a, "-semihosting");
    for (size_t i = 0; i < QEMU_ROMFS_PARTS; i++) {
        if (!r->romfs[i])
            continue;
        runner_argv_add(a, "-device");
        runner_argv_addf(a, "loader,file=%s,addr=0x%08X,force-raw=on", r->romfs[i],
                         (unsigned)b->romfs_origin[i]);
    }
    if (r->gdb_port) {
        /* Halted at reset; the GDB server listens on loopback only. */
        runner_argv_add(a, "-S");
        runner_argv_add(a, "-gdb");
        runner_argv_addf(a, "tcp:127.0.0.1:%u", r->gdb_port);
    }
    runner_argv_add(a, "-serial");
    runner_argv_add(a, r->serial ? r->serial : "pty");
    runner_argv_add(a, "-kernel");
    runner_argv_add(a, r->firmware);
    return 0;
}

bool qemu_parse_pty_line(const char *line, size_t len, struct strbuf *out)
{
    static const char lead[] = "char device redirected to ";
    const size_t ll = sizeof(lead) - 1;
    size_t end;

    if (len <= ll || memcmp(line, lead, ll) != 0 || line[ll] != '/')
        return false;
    for (end = ll; end < len && line[end] != ' '; end++)
        ;
    strbuf_reset(out);
    strbuf_add(out, line + ll, end - ll);
    return true;
}
