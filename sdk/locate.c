/*
 * The SDK's place on disk, by upstream's rules (see locate.h).
 */
#include "lib/compat.h"

#include "sdk/locate.h"

#include "lib/error.h"
#include "lib/fs.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

int sdk_platform(const char *sysname, const char *machine, struct strbuf *out, char *err,
                 size_t errlen)
{
    strbuf_reset(out);
    for (const char *s = sysname; *s; s++)
        strbuf_addch(out, *s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    strbuf_addf(out, "-%s", machine);
    if (!strcmp(out->buf, "linux-x86_64") || !strcmp(out->buf, "darwin-arm64"))
        return 0;
    return omv_seterr(err, errlen, OMV_EINVAL,
                      "no SDK is published for %s (only linux-x86_64 and darwin-arm64)", out->buf);
}

int sdk_host_platform(struct strbuf *out, char *err, size_t errlen)
{
    struct utsname u;

    if (uname(&u) < 0)
        return omv_seterr(err, errlen, OMV_EIO, "uname failed");
    return sdk_platform(u.sysname, u.machine, out, err, errlen);
}

void sdk_tarball_name(const char *version, const char *platform, struct strbuf *out)
{
    strbuf_addf(out, "openmv-sdk-%s-%s.tar.xz", version, platform);
}

int sdk_version_valid(const char *version)
{
    size_t n = strlen(version);

    if (n == 0 || n > 64 || version[0] == '.' || version[0] == '-')
        return 0;
    for (const char *s = version; *s; s++) {
        char c = *s;

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '_' || c == '+' || c == '-'))
            return 0;
    }
    return 1;
}

/* Read a one-line version file into version. */
static int read_version_file(const char *path, struct strbuf *version, char *err, size_t errlen)
{
    struct strbuf sb = STRBUF_INIT;
    int rc = fs_read_file_max(path, &sb, FS_MAX_TEXT, err, errlen);

    if (rc == 0) {
        strbuf_trim_trailing(&sb);
        if (!sdk_version_valid(sb.buf))
            rc = omv_seterr(err, errlen, OMV_EPARSE, "%s: not a version: '%.40s'", path, sb.buf);
        else
            strbuf_addstr(version, sb.buf);
    }
    strbuf_release(&sb);
    return rc;
}

int sdk_repo_version(const char *repo_root, struct strbuf *version, char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    int rc;

    fs_path_join(&path, repo_root, "SDK_VERSION");
    rc = read_version_file(path.buf, version, err, errlen);
    strbuf_release(&path);
    return rc;
}

int sdk_dir(const char *root, const char *version, struct strbuf *dir, char *err, size_t errlen)
{
    const char *env = getenv("SDK_DIR");
    struct strbuf name = STRBUF_INIT;

    if (env && *env) {
        fs_absolute(dir, env);
        return 0;
    }
    if (!root || !*root)
        root = getenv("HOME");
    if (!root || !*root)
        return omv_seterr(err, errlen, OMV_ENOENT,
                          "no place for the SDK: neither $SDK_DIR, [sdk] root nor $HOME is set");
    strbuf_addf(&name, "openmv-sdk-%s", version);
    fs_absolute(dir, root);
    fs_path_join(dir, "", name.buf);
    strbuf_release(&name);
    return 0;
}

int sdk_read_stamp(const char *dir, struct strbuf *version, char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    int rc;

    fs_path_join(&path, dir, "sdk.version");
    rc = read_version_file(path.buf, version, err, errlen);
    strbuf_release(&path);
    return rc;
}

void sdk_path_prefix(const char *sdk_dir, const char *sysname, struct strbuf *out)
{
    static const char *const dirs[] = {"gcc/bin",        "llvm/bin", "cmake/bin", "python/bin",
                                       "stcubeprog/bin", NULL,       "bin"};
    const char *util =
        !strcmp(sysname, "Darwin") ? "stedgeai/Utilities/macarm" : "stedgeai/Utilities/linux";

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (i)
            strbuf_addch(out, ':');
        fs_path_join(out, sdk_dir, dirs[i] ? dirs[i] : util);
    }
}

static void quote_sh(struct strbuf *sb, const char *s)
{
    strbuf_addch(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            strbuf_addstr(sb, "'\\''");
        else
            strbuf_addch(sb, *s);
    }
    strbuf_addch(sb, '\'');
}

static void quote_fish(struct strbuf *sb, const char *s)
{
    strbuf_addch(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            strbuf_addch(sb, '\\');
        strbuf_addch(sb, *s);
    }
    strbuf_addch(sb, '\'');
}

/*
 * PowerShell ends a '...' string at any of five single quotes: ' and U+2018
 * to U+201B (UTF-8 E2 80 98 to E2 80 9B). Each is doubled to stand for itself.
 */
static void quote_ps(struct strbuf *sb, const char *s)
{
    strbuf_addch(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'') {
            strbuf_addstr(sb, "''");
        } else if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
                   (unsigned char)s[2] >= 0x98 && (unsigned char)s[2] <= 0x9b) {
            strbuf_add(sb, s, 3);
            strbuf_add(sb, s, 3);
            s += 2;
        } else {
            strbuf_addch(sb, *s);
        }
    }
    strbuf_addch(sb, '\'');
}

void sdk_env_script(struct strbuf *out, enum sdk_shell shell, const char *sdk_dir,
                    const char *sysname)
{
    struct strbuf prefix = STRBUF_INIT;
    char *p, *c;

    sdk_path_prefix(sdk_dir, sysname, &prefix);
    strbuf_addch(&prefix, ':');
    fs_path_join(&prefix, sdk_dir, "make");
    switch (shell) {
    case SDK_SHELL_FISH:
        strbuf_addstr(out, "set -gx SDK_DIR ");
        quote_fish(out, sdk_dir);
        strbuf_addstr(out, ";\nset -gx PATH");
        for (p = prefix.buf; p; p = c ? c + 1 : NULL) {
            c = strchr(p, ':');
            if (c)
                *c = '\0';
            strbuf_addch(out, ' ');
            quote_fish(out, p);
        }
        strbuf_addstr(out, " $PATH;\n");
        break;
    case SDK_SHELL_POWERSHELL:
        strbuf_addstr(out, "$env:SDK_DIR = ");
        quote_ps(out, sdk_dir);
        strbuf_addstr(out, "\n$env:PATH = ");
        for (p = prefix.buf; p; p = c ? c + 1 : NULL) {
            c = strchr(p, ':');
            if (c)
                *c = '\0';
            quote_ps(out, p);
            strbuf_addstr(out, " + [IO.Path]::PathSeparator + ");
        }
        strbuf_addstr(out, "$env:PATH\n");
        break;
    case SDK_SHELL_SH:
        strbuf_addstr(out, "export SDK_DIR=");
        quote_sh(out, sdk_dir);
        strbuf_addstr(out, "\nexport PATH=");
        quote_sh(out, prefix.buf);
        strbuf_addstr(out, "\"${PATH:+:$PATH}\"\n");
        break;
    }
    strbuf_release(&prefix);
}
