#include "lib/compat.h"
#include "flash/runners.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void runner_argv_add(struct runner_argv *a, const char *s)
{
    XGROW(a->v, a->alloc, a->n + 2);
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
}

void runner_argv_addf(struct runner_argv *a, const char *fmt, ...)
{
    struct strbuf sb = STRBUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    runner_argv_add(a, sb.buf);
    strbuf_release(&sb);
}

void runner_argv_release(struct runner_argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->alloc = 0;
}

void runner_argv_render(const struct runner_argv *a, struct strbuf *out)
{
    for (size_t i = 0; i < a->n; i++) {
        const char *w = a->v[i];
        bool plain = *w != 0;

        for (const char *p = w; *p && plain; p++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "-_./:=,@+%",
                           *p) != NULL;
        if (i)
            strbuf_addch(out, ' ');
        if (plain) {
            strbuf_addstr(out, w);
            continue;
        }
        strbuf_addch(out, '\'');
        for (const char *p = w; *p; p++) {
            if (*p == '\'')
                strbuf_addstr(out, "'\\''");
            else
                strbuf_addch(out, *p);
        }
        strbuf_addch(out, '\'');
    }
}

static bool executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int runner_find(const char *name, const char *sdk_dir, const char *sdk_subdir,
                const char *extra_dir, const char *path, struct strbuf *out, char *err,
                size_t errlen)
{
    struct strbuf p = STRBUF_INIT;
    int rc;

    if (sdk_dir && *sdk_dir) {
        fs_path_join(&p, sdk_dir, sdk_subdir ? sdk_subdir : "");
        fs_path_join(&p, "", name);
        if (executable(p.buf)) {
            strbuf_add(out, p.buf, p.len);
            strbuf_release(&p);
            return 0;
        }
        strbuf_reset(&p);
    }
    if (extra_dir && *extra_dir) {
        fs_path_join(&p, extra_dir, name);
        if (executable(p.buf)) {
            strbuf_add(out, p.buf, p.len);
            strbuf_release(&p);
            return 0;
        }
        strbuf_reset(&p);
    }
    rc = proc_find_program(name, path, &p, err, errlen);
    if (rc == 0)
        strbuf_add(out, p.buf, p.len);
    else if (sdk_dir && *sdk_dir)
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s' is not in the SDK (%s/%s)%s%s nor on PATH",
                        name, sdk_dir, sdk_subdir ? sdk_subdir : "", extra_dir ? ", in " : "",
                        extra_dir ? extra_dir : "");
    else if (extra_dir && *extra_dir)
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s' is not in %s nor on PATH", name, extra_dir);
    else if (sdk_dir)
        rc =
            omv_seterr(err, errlen, OMV_ENOENT, "'%s' is not on PATH (and no SDK was found)", name);
    else
        rc = omv_seterr(err, errlen, OMV_ENOENT, "'%s' is not on PATH", name);
    strbuf_release(&p);
    return rc;
}

void runner_stlink_flash(struct runner_argv *a, const char *prog, const char *loader,
                         const struct runner_image *imgs, size_t n)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "-c");
    runner_argv_add(a, "port=SWD");
    runner_argv_add(a, "mode=HOTPLUG");
    runner_argv_add(a, "ap=1");
    if (loader) {
        runner_argv_add(a, "-el");
        runner_argv_add(a, loader);
    }
    for (size_t i = 0; i < n; i++) {
        runner_argv_add(a, "-w");
        runner_argv_add(a, imgs[i].path);
        runner_argv_addf(a, "0x%08X", (unsigned)imgs[i].address);
    }
    runner_argv_add(a, "-hardRst");
}

void runner_cubeprog_layout(struct runner_argv *a, const char *prog, const char *tsv)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "-c");
    runner_argv_add(a, "port=USB1");
    runner_argv_add(a, "-d");
    runner_argv_add(a, tsv);
}

int runner_jlink_flash(struct runner_argv *a, struct strbuf *script, const char *prog,
                       const char *script_path, const char *device, unsigned speed_khz,
                       const struct runner_image *imgs, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (strpbrk(imgs[i].path, "\n\r\""))
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "cannot name '%s' in a J-Link command script (it holds a newline "
                              "or a double quote)",
                              imgs[i].path);
    runner_argv_add(a, prog);
    runner_argv_add(a, "-nogui");
    runner_argv_add(a, "1");
    runner_argv_add(a, "-ExitOnError");
    runner_argv_add(a, "1");
    runner_argv_add(a, "-CommanderScript");
    runner_argv_add(a, script_path);
    strbuf_addf(script, "device %s\nsi SWD\nspeed %u\nconnect\nr\nh\n", device, speed_khz);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(script, "loadbin \"%s\",0x%08X\n", imgs[i].path, (unsigned)imgs[i].address);
    strbuf_addstr(script, "r\ng\nq\n");
    return 0;
}

void runner_jlink_gdbserver(struct runner_argv *a, const char *prog, const char *device,
                            unsigned speed_khz, unsigned port)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "-nogui");
    runner_argv_add(a, "1");
    runner_argv_add(a, "-device");
    runner_argv_add(a, device);
    runner_argv_add(a, "-if");
    runner_argv_add(a, "swd");
    runner_argv_add(a, "-speed");
    runner_argv_addf(a, "%u", speed_khz);
    runner_argv_add(a, "-port");
    runner_argv_addf(a, "%u", port);
    runner_argv_add(a, "-halt");
}

void runner_gdb(struct runner_argv *a, const char *prog, unsigned port, const char *elf, bool batch,
                const char *commands)
{
    runner_argv_add(a, prog);
    if (batch)
        runner_argv_add(a, "-batch");
    runner_argv_add(a, "-iex");
    runner_argv_add(a, "set confirm off");
    runner_argv_add(a, "-ex");
    runner_argv_addf(a, "target remote localhost:%u", port);
    if (commands) {
        runner_argv_add(a, "-x");
        runner_argv_add(a, commands);
    }
    runner_argv_add(a, elf);
}

static void openocd_configs(struct runner_argv *a, const char *prog, const char *iface,
                            const char *target, unsigned speed_khz)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "-f");
    runner_argv_add(a, iface);
    runner_argv_add(a, "-f");
    runner_argv_add(a, target);
    if (speed_khz) {
        runner_argv_add(a, "-c");
        runner_argv_addf(a, "adapter speed %u", speed_khz);
    }
}

void runner_openocd_server(struct runner_argv *a, const char *prog, const char *iface,
                           const char *target, unsigned speed_khz, unsigned port)
{
    openocd_configs(a, prog, iface, target, speed_khz);
    runner_argv_add(a, "-c");
    runner_argv_addf(a, "gdb_port %u", port);
    runner_argv_add(a, "-c");
    runner_argv_add(a, "tcl_port disabled");
    runner_argv_add(a, "-c");
    runner_argv_add(a, "telnet_port disabled");
}

int runner_openocd_program(struct runner_argv *a, const char *prog, const char *iface,
                           const char *target, unsigned speed_khz, const struct runner_image *imgs,
                           size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (strpbrk(imgs[i].path, "{}\\\n\r"))
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "cannot name '%s' in an OpenOCD command (it holds a brace, a "
                              "backslash or a newline)",
                              imgs[i].path);
    openocd_configs(a, prog, iface, target, speed_khz);
    for (size_t i = 0; i < n; i++) {
        runner_argv_add(a, "-c");
        runner_argv_addf(a, "program {%s} verify%s 0x%08X", imgs[i].path,
                         i + 1 == n ? " reset exit" : "", (unsigned)imgs[i].address);
    }
    return 0;
}

void runner_stlink_gdbserver(struct runner_argv *a, const char *prog, const char *cubeprog_bin,
                             const char *extload, unsigned port)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "--persistent");
    runner_argv_add(a, "--port-number");
    runner_argv_addf(a, "%u", port);
    runner_argv_add(a, "--stm32cubeprogrammer-path");
    runner_argv_add(a, cubeprog_bin);
    if (extload) {
        runner_argv_add(a, "--extload");
        runner_argv_add(a, extload);
    }
    runner_argv_add(a, "--apid");
    runner_argv_add(a, "1");
    runner_argv_add(a, "--halt");
    runner_argv_add(a, "--verify");
    runner_argv_add(a, "--attach");
}

void runner_spsdk(struct runner_argv *a, const char *python, const char *prog, const char *tool,
                  const char *usb, unsigned timeout_ms, const char *const *args)
{
    if (python) {
        runner_argv_add(a, python);
        runner_argv_add(a, "-m");
        runner_argv_addf(a, "spsdk.apps.%s", tool);
    } else {
        runner_argv_add(a, prog ? prog : tool);
    }
    runner_argv_add(a, "-u");
    runner_argv_add(a, usb);
    if (timeout_ms) {
        runner_argv_add(a, "-t");
        runner_argv_addf(a, "%u", timeout_ms);
    }
    runner_argv_add(a, "--");
    for (; args && *args; args++)
        runner_argv_add(a, *args);
}

int runner_blhost_word(const char *output, size_t len, uint32_t *value)
{
    static const char key[] = "Response word ";
    const char *end = output + len;
    bool found = false;

    for (const char *line = output; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        const char *p = line;

        /* "Response word 2 = 16 (0x10)" */
        if ((size_t)(le - p) > sizeof(key) - 1 && !memcmp(p, key, sizeof(key) - 1)) {
            const char *open = memchr(p, '(', (size_t)(le - p));
            uint32_t v = 0;
            int digits = 0;

            if (open && le - open > 3 && open[1] == '0' && (open[2] == 'x' || open[2] == 'X')) {
                const char *q = open + 3;

                for (; q < le && digits <= 8; q++, digits++) {
                    int d;

                    if (*q >= '0' && *q <= '9')
                        d = *q - '0';
                    else if (*q >= 'a' && *q <= 'f')
                        d = *q - 'a' + 10;
                    else if (*q >= 'A' && *q <= 'F')
                        d = *q - 'A' + 10;
                    else
                        break;
                    v = v << 4 | (uint32_t)d;
                }
                if (digits >= 1 && digits <= 8 && q < le && *q == ')') {
                    *value = v;
                    found = true;
                }
            }
        }
        line = nl ? nl + 1 : end;
    }
    return found ? 0 : OMV_EPARSE;
}

int runner_alif_write_mram(struct runner_argv *a, const char *prog, const struct runner_image *imgs,
                           size_t n, char *err, size_t errlen)
{
    struct strbuf list = STRBUF_INIT;

    for (size_t i = 0; i < n; i++) {
        if (strpbrk(imgs[i].path, " \t\n")) {
            strbuf_release(&list);
            return omv_seterr(err, errlen, OMV_EINVAL,
                              "app-write-mram cannot take '%s': its -i list is split at spaces",
                              imgs[i].path);
        }
        strbuf_addf(&list, "%s%s 0x%08X", i ? " " : "", imgs[i].path, (unsigned)imgs[i].address);
    }
    runner_argv_add(a, prog);
    runner_argv_add(a, "-i");
    runner_argv_add(a, list.buf);
    strbuf_release(&list);
    return 0;
}

void runner_bossac(struct runner_argv *a, const char *prog, const char *port, uint32_t offset,
                   const char *file)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "-e");
    runner_argv_add(a, "-w");
    runner_argv_add(a, "-v");
    runner_argv_add(a, "-R");
    runner_argv_addf(a, "--offset=0x%X", (unsigned)offset);
    if (port)
        runner_argv_addf(a, "--port=%s", port);
    runner_argv_add(a, file);
}

void runner_picotool(struct runner_argv *a, const char *prog, const char *uf2)
{
    runner_argv_add(a, prog);
    runner_argv_add(a, "load");
    runner_argv_add(a, "-x");
    runner_argv_add(a, uf2);
}
