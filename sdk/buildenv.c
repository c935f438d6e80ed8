/*
 * The build environment and the compiler it runs: see buildenv.h.
 */
#include "lib/compat.h"

#include "sdk/buildenv.h"

#include "lib/error.h"
#include "lib/proc.h"
#include "sdk/locate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void env_add(struct buildenv *e, size_t *alloc, char *s)
{
    XGROW(e->envp, *alloc, e->nr + 2);
    e->envp[e->nr++] = s;
    e->envp[e->nr] = NULL;
}

void buildenv_compose(struct buildenv *e, char *const *env, const char *sdk_dir,
                      const char *sysname)
{
    struct strbuf sb = STRBUF_INIT;
    const char *old_path = NULL;
    size_t alloc = 0;

    memset(e, 0, sizeof(*e));
    for (char *const *p = env; p && *p; p++) {
        if (!strncmp(*p, "PATH=", 5)) {
            old_path = *p + 5;
            continue;
        }
        if (sdk_dir && !strncmp(*p, "SDK_DIR=", 8))
            continue;
        env_add(e, &alloc, xstrdup(*p));
    }
    if (sdk_dir) {
        sdk_path_prefix(sdk_dir, sysname, &sb);
        if (old_path && *old_path)
            strbuf_addf(&sb, ":%s", old_path);
        e->path = xstrdup(sb.buf);
        strbuf_reset(&sb);
        strbuf_addf(&sb, "SDK_DIR=%s", sdk_dir);
        env_add(e, &alloc, strbuf_detach(&sb, NULL));
    } else {
        e->path = xstrdup(old_path ? old_path : "/usr/bin:/bin");
    }
    strbuf_reset(&sb);
    strbuf_addf(&sb, "PATH=%s", e->path);
    env_add(e, &alloc, strbuf_detach(&sb, NULL));
    strbuf_release(&sb);
}

void buildenv_release(struct buildenv *e)
{
    for (size_t i = 0; i < e->nr; i++)
        free(e->envp[i]);
    free(e->envp);
    free(e->path);
    memset(e, 0, sizeof(*e));
}

int gcc_version_parse(const char *text, unsigned *out)
{
    unsigned major = 0, minor = 0;
    const char *p = text;

    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (!isdigit((unsigned char)*p))
        return OMV_EPARSE;
    for (; isdigit((unsigned char)*p); p++) {
        major = major * 10 + (unsigned)(*p - '0');
        if (major > 9999)
            return OMV_EPARSE;
    }
    if (*p == '.' && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p); p++) {
            minor = minor * 10 + (unsigned)(*p - '0');
            if (minor > 99)
                return OMV_EPARSE;
        }
    *out = major * 100 + minor;
    return 0;
}

/* "prog: error while loading shared libraries: libncurses.so.5: cannot open ..." */
static void missing_library(const char *text, struct strbuf *lib)
{
    static const char marker[] = "error while loading shared libraries: ";
    const char *p = strstr(text, marker);

    if (p && lib) {
        p += sizeof(marker) - 1;
        strbuf_add(lib, p, strcspn(p, ": \n"));
    }
}

int toolchain_probe(const char *name, const char *path, const char *arg, struct strbuf *bin,
                    struct strbuf *output, struct strbuf *missing_lib, char *err, size_t errlen)
{
    struct proc p;
    struct proc_spec spec;
    const char *argv[3];
    char status[64];
    int rc;

    strbuf_reset(bin);
    if ((rc = proc_find_program(name, path, bin, err, errlen)) < 0)
        return rc;
    argv[0] = bin->buf;
    argv[1] = arg;
    argv[2] = NULL;
    memset(&spec, 0, sizeof(spec));
    spec.argv = argv;
    spec.out = PROC_CAPTURE;
    spec.err = PROC_CAPTURE;
    spec.stdin_null = true;
    memset(&p, 0, sizeof(p));
    if ((rc = proc_run(&p, &spec, 10000, err, errlen)) < 0)
        goto out;
    if (!p.exited || p.exit_code != 0) {
        char *nl = strchr(p.err.buf, '\n');

        missing_library(p.err.buf, missing_lib);
        if (nl)
            *nl = '\0';
        rc = omv_seterr(err, errlen, OMV_EIO, "'%s %s' failed (%s)%s%s", bin->buf, arg,
                        proc_status_text(&p, status, sizeof(status)), p.err.len ? ": " : "",
                        p.err.buf);
        goto out;
    }
    strbuf_reset(output);
    strbuf_addstr(output, p.out.buf);
    strbuf_trim_trailing(output);
out:
    proc_release(&p);
    return rc;
}
