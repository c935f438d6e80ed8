/*
 * The SDK's place on disk, by upstream's rules (see locate.h).
 */
#include "lib/compat.h"

#include "sdk/locate.h"

#include "lib/error.h"
#include "lib/fs.h"

#include <ctype.h>
#include <dirent.h>
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

int sdk_vercmp(const char *a, const char *b)
{
    size_t i = 0, j = 0;

    while (a[i] || b[j]) {
        if (isdigit((unsigned char)a[i]) && isdigit((unsigned char)b[j])) {
            unsigned long x = 0, y = 0;

            while (isdigit((unsigned char)a[i]) && x < 100000000)
                x = x * 10 + (unsigned long)(a[i++] - '0');
            while (isdigit((unsigned char)b[j]) && y < 100000000)
                y = y * 10 + (unsigned long)(b[j++] - '0');
            if (x != y)
                return x < y ? -1 : 1;
        } else {
            if (a[i] != b[j])
                return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
            i++;
            j++;
        }
    }
    return 0;
}

static void found_add(struct sdk_found_list *l, const char *dir)
{
    struct strbuf v = STRBUF_INIT;

    XGROW(l->items, l->alloc, l->nr + 1);
    l->items[l->nr].dir = xstrdup(dir);
    l->items[l->nr].version = sdk_read_stamp(dir, &v, NULL, 0) == 0 ? xstrdup(v.buf) : NULL;
    l->nr++;
    strbuf_release(&v);
}

static int cmp_found(const void *a, const void *b)
{
    const char *x = strrchr(((const struct sdk_found *)a)->dir, '/');
    const char *y = strrchr(((const struct sdk_found *)b)->dir, '/');

    return sdk_vercmp(x ? x : "", y ? y : "");
}

void sdk_find_installed(const char *parent, struct sdk_found_list *out)
{
    const char *env = getenv("SDK_DIR");
    struct strbuf dir = STRBUF_INIT, p = STRBUF_INIT;
    struct dirent *de;
    DIR *d;

    if (!parent || !*parent)
        parent = getenv("HOME");
    if (parent && *parent)
        fs_absolute(&dir, parent);
    d = dir.len ? opendir(dir.buf) : NULL;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "openmv-sdk-", 11) || !sdk_version_valid(de->d_name + 11))
            continue;
        strbuf_reset(&p);
        fs_path_join(&p, dir.buf, de->d_name);
        if (fs_is_dir(p.buf))
            found_add(out, p.buf);
    }
    if (d)
        closedir(d);
    if (out->nr) /* qsort(NULL, 0) is undefined */
        qsort(out->items, out->nr, sizeof(*out->items), cmp_found);
    if (env && *env) {
        bool dup = false;

        strbuf_reset(&p);
        fs_absolute(&p, env);
        for (size_t i = 0; i < out->nr; i++)
            dup = dup || !strcmp(out->items[i].dir, p.buf);
        if (!dup)
            found_add(out, p.buf);
    }
    strbuf_release(&dir);
    strbuf_release(&p);
}

void sdk_found_list_release(struct sdk_found_list *l)
{
    for (size_t i = 0; i < l->nr; i++) {
        free(l->items[i].dir);
        free(l->items[i].version);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

int sdk_locate(const char *parent, const char *repo_root, bool newest, struct strbuf *dir,
               enum sdk_pick *how, char *err, size_t errlen)
{
    const char *env = getenv("SDK_DIR");
    struct strbuf version = STRBUF_INIT;
    int rc = OMV_ENOENT;

    strbuf_reset(dir);
    *how = SDK_PICK_NONE;
    if (env && *env) {
        fs_absolute(dir, env);
        *how = SDK_PICK_ENV;
        return 0;
    }
    if (repo_root)
        rc = sdk_repo_version(repo_root, &version, err, errlen);
    if (rc == 0) {
        if ((rc = sdk_dir(parent, version.buf, dir, err, errlen)) == 0)
            *how = SDK_PICK_PINNED;
    } else if (rc == OMV_ENOENT) {
        rc = 0;
        if (newest) {
            struct sdk_found_list l = SDK_FOUND_LIST_INIT;

            sdk_find_installed(parent, &l);
            for (size_t i = l.nr; i-- > 0;)
                if (l.items[i].version) {
                    strbuf_addstr(dir, l.items[i].dir);
                    *how = SDK_PICK_NEWEST;
                    break;
                }
            sdk_found_list_release(&l);
        }
    }
    strbuf_release(&version);
    return rc;
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
