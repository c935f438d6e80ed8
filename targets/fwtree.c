/*
 * The firmware repository's layout: see fwtree.h.
 */
#include "lib/compat.h"

#include "targets/fwtree.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "targets/repo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAMP_NAME "omvdev-build"

void fw_list_add(struct fw_list *l, const char *s)
{
    XGROW(l->items, l->alloc, l->nr + 1);
    l->items[l->nr++] = xstrdup(s);
}

bool fw_list_has(const struct fw_list *l, const char *s)
{
    for (size_t i = 0; i < l->nr; i++)
        if (!strcmp(l->items[i], s))
            return true;
    return false;
}

void fw_list_release(struct fw_list *l)
{
    for (size_t i = 0; i < l->nr; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->nr = l->alloc = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *joined(const char *a, const char *b)
{
    struct strbuf sb = STRBUF_INIT;

    fs_path_join(&sb, a, b);
    return strbuf_detach(&sb, NULL);
}

/* The variables of "ifeq ($(X), ...)", "ifneq ($(X),...)", "ifdef X" and
 * "ifndef X" lines of a makefile text. */
static void make_tested_vars(const char *text, struct fw_list *out)
{
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n'), *p = l, *end = nl ? nl : l + strlen(l);

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (!strncmp(p, "ifeq", 4) || !strncmp(p, "ifneq", 5)) {
            for (const char *d = p; (d = strstr(d, "$(")) && d < end; d += 2) {
                const char *s = d + 2, *e = s;

                while (e < end &&
                       (isupper((unsigned char)*e) || isdigit((unsigned char)*e) || *e == '_'))
                    e++;
                if (e > s && e < end && *e == ')') {
                    char *v = xstrndup(s, (size_t)(e - s));

                    if (!fw_list_has(out, v))
                        fw_list_add(out, v);
                    free(v);
                }
            }
        } else if (!strncmp(p, "ifdef ", 6) || !strncmp(p, "ifndef ", 7)) {
            const char *s = p + (p[2] == 'd' ? 6 : 7), *e;

            while (s < end && *s == ' ')
                s++;
            for (e = s; e < end && !isspace((unsigned char)*e); e++)
                ;
            if (e > s) {
                char *v = xstrndup(s, (size_t)(e - s));

                if (!fw_list_has(out, v))
                    fw_list_add(out, v);
                free(v);
            }
        }
        l = nl ? nl + 1 : NULL;
    }
}

/* Read what omvdev needs from the Makefile make runs: BUILD's assignment,
 * the submodules goal and the tested variables. */
static void read_makefile(struct fw_tree *t)
{
    struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    bool seen_build = false;

    t->shared_bin = t->legacy; /* src/build/bin when the Makefile cannot be read */
    fs_path_join(&path, t->make_dir, "Makefile");
    if (fs_read_file_max(path.buf, &text, FS_MAX_TEXT, NULL, 0) < 0)
        goto out;
    for (const char *l = text.buf; l && *l;) {
        const char *nl = strchr(l, '\n'), *p = l, *end = nl ? nl : l + strlen(l);

        if (!strncmp(p, "export ", 7))
            p += 7;
        /* the first assignment decides; later ones re-export it ("BUILD := $(BUILD)") */
        if (!seen_build && !strncmp(p, "BUILD", 5) && (p[5] == ' ' || p[5] == '=' || p[5] == ':')) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *tgt = eq ? strstr(eq, "$(TARGET)") : NULL;

            if (eq) {
                t->shared_bin = !(tgt && tgt < end);
                seen_build = true;
            }
        }
        if (!strncmp(p, "submodules:", 11))
            t->submodules_goal = true;
        l = nl ? nl + 1 : NULL;
    }
    make_tested_vars(text.buf, &t->make_vars);
out:
    strbuf_release(&path);
    strbuf_release(&text);
}

int fw_tree_open(struct fw_tree *t, const char *root, char *err, size_t errlen)
{
    bool src = false;
    struct strbuf sb = STRBUF_INIT;

    memset(t, 0, sizeof(*t));
    if (!repo_is_root(root, &src))
        return omv_seterr(err, errlen, OMV_ENOTREPO,
                          "'%s' has neither Makefile, boards/, ports/ and lib/micropython nor "
                          "src/Makefile, src/omv/boards/ and src/lib/micropython: not an OpenMV "
                          "firmware repository",
                          root);
    t->root = xstrdup(root);
    t->layout = src ? FW_LAYOUT_SRC : FW_LAYOUT_TOP;
    t->legacy = src;
    t->prefix = src ? "src/" : "";
    t->make_dir = src ? joined(root, "src") : xstrdup(root);
    t->boards_dir = joined(root, src ? "src/omv/boards" : "boards");
    t->mpy_rel = xstrdup(src ? "src/lib/micropython" : "lib/micropython");
    t->mpy_dir = joined(root, t->mpy_rel);
    fs_path_join(&sb, root, "SDK_VERSION");
    t->sdk_version = fs_is_file(sb.buf);
    strbuf_release(&sb);
    read_makefile(t);
    return 0;
}

void fw_tree_release(struct fw_tree *t)
{
    free(t->root);
    free(t->make_dir);
    free(t->boards_dir);
    free(t->mpy_dir);
    free(t->mpy_rel);
    fw_list_release(&t->make_vars);
    memset(t, 0, sizeof(*t));
}

void fw_tree_build_dir(const struct fw_tree *t, const char *target, struct strbuf *out)
{
    strbuf_reset(out);
    fs_path_join(out, t->make_dir, "build");
    if (!t->shared_bin)
        fs_path_join(out, "", target);
}

void fw_tree_bin_dir(const struct fw_tree *t, const char *target, struct strbuf *out)
{
    fw_tree_build_dir(t, target, out);
    fs_path_join(out, "", "bin");
}

void fw_tree_board_dir(const struct fw_tree *t, const char *target, struct strbuf *out)
{
    strbuf_reset(out);
    fs_path_join(out, t->boards_dir, target);
}

void fw_tree_rel(const struct fw_tree *t, const char *path, struct strbuf *out)
{
    size_t n = strlen(t->root);

    strbuf_reset(out);
    if (!strncmp(path, t->root, n) && path[n] == '/')
        strbuf_addstr(out, path + n + 1);
    else
        strbuf_addstr(out, path);
}

bool fw_tree_reads_var(const struct fw_tree *t, const char *name)
{
    return fw_list_has(&t->make_vars, name);
}

/* Sub-directories of `dir`, sorted; hidden ones skipped. */
static int list_dirs(const char *dir, struct fw_list *out, char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT;
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t first = out->nr;

    if (!d)
        return omv_seterr(err, errlen, errno == ENOENT ? OMV_ENOENT : OMV_EIO,
                          "cannot read '%s': %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        strbuf_reset(&path);
        fs_path_join(&path, dir, e->d_name);
        if (fs_is_dir(path.buf))
            fw_list_add(out, e->d_name);
    }
    closedir(d);
    strbuf_release(&path);
    if (out->nr > first) /* qsort(NULL, 0) is undefined */
        qsort(out->items + first, out->nr - first, sizeof(char *), cmp_str);
    return 0;
}

int fw_tree_boards(const struct fw_tree *t, struct fw_list *out, char *err, size_t errlen)
{
    return list_dirs(t->boards_dir, out, err, errlen);
}

void fw_tree_built(const struct fw_tree *t, struct fw_list *out)
{
    struct strbuf dir = STRBUF_INIT;
    struct fw_build_info bi = FW_BUILD_INFO_INIT;

    if (!t->shared_bin) {
        fs_path_join(&dir, t->make_dir, "build");
        (void)list_dirs(dir.buf, out, NULL, 0);
    } else {
        fw_build_info_read(t, "", &bi);
        if (bi.board)
            fw_list_add(out, bi.board);
        fw_build_info_release(&bi);
    }
    strbuf_release(&dir);
}

bool fw_tree_mpy_cross(const struct fw_tree *t, struct strbuf *path)
{
    strbuf_reset(path);
    fs_path_join(path, t->mpy_dir, "mpy-cross/build/mpy-cross");
    return fs_is_file(path->buf) && access(path->buf, X_OK) == 0;
}

/* ---- what the output directory holds ------------------------------------------------- */

void fw_build_info_release(struct fw_build_info *bi)
{
    free(bi->board);
    free(bi->options);
    memset(bi, 0, sizeof(*bi));
}

const char *fw_info_source_text(enum fw_info_source s)
{
    switch (s) {
    case FW_INFO_PATH:
        return "the output directory's name";
    case FW_INFO_STAMP:
        return "omvdev's record of its last build, " STAMP_NAME;
    case FW_INFO_DEPS:
        return "the dependency files make wrote";
    case FW_INFO_NONE:
        break;
    }
    return "nothing";
}

/* The newest modification time of a regular file in `dir` (0 when none). */
static time_t newest_in(const char *dir)
{
    struct strbuf p = STRBUF_INIT;
    DIR *d = opendir(dir);
    struct dirent *e;
    time_t best = 0;
    struct stat st;

    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        strbuf_reset(&p);
        fs_path_join(&p, dir, e->d_name);
        if (stat(p.buf, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > best)
            best = st.st_mtime;
    }
    if (d)
        closedir(d);
    strbuf_release(&p);
    return best;
}

/* "key=value" of a stamp text. */
static char *stamp_value(const char *text, const char *key)
{
    size_t n = strlen(key);

    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');

        if (!strncmp(l, key, n) && l[n] == '=')
            return xstrndup(l + n + 1, nl ? (size_t)(nl - l) - n - 1 : strlen(l + n + 1));
        l = nl ? nl + 1 : NULL;
    }
    return NULL;
}

struct dep_file {
    char *path;
    time_t mtime;
};

static int cmp_dep(const void *a, const void *b)
{
    const struct dep_file *x = a, *y = b;

    return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : 0;
}

/* The *.d files under dir (at most `max`, 6 levels deep). */
static void find_deps(const char *dir, int depth, struct dep_file **v, size_t *nr, size_t *alloc,
                      size_t max)
{
    struct strbuf p = STRBUF_INIT;
    DIR *d = depth < 6 ? opendir(dir) : NULL;
    struct dirent *e;
    struct stat st;

    while (d && (e = readdir(d)) && *nr < max) {
        size_t len = strlen(e->d_name);

        if (e->d_name[0] == '.' || !strcmp(e->d_name, "bin"))
            continue;
        strbuf_reset(&p);
        fs_path_join(&p, dir, e->d_name);
        if (lstat(p.buf, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            find_deps(p.buf, depth + 1, v, nr, alloc, max);
        } else if (S_ISREG(st.st_mode) && len > 2 && !strcmp(e->d_name + len - 2, ".d")) {
            XGROW(*v, *alloc, *nr + 1);
            (*v)[*nr].path = xstrdup(p.buf);
            (*v)[(*nr)++].mtime = st.st_mtime;
        }
    }
    if (d)
        closedir(d);
    strbuf_release(&p);
}

/* The board whose configuration header a dependency text names:
 * ".../boards/<B>/omv_boardconfig.h" or ".../boards/<B>/board_config.h". */
static char *board_in_deps(const char *text)
{
    static const char *const headers[] = {"/omv_boardconfig.h", "/board_config.h"};

    for (size_t h = 0; h < 2; h++) {
        for (const char *p = text; (p = strstr(p, headers[h])); p++) {
            const char *e = p, *s;

            while (e > text && e[-1] == '/') /* ".../boards/OPENMV4//omv_boardconfig.h" */
                e--;
            for (s = e; s > text && s[-1] != '/';)
                s--;
            if (s - text >= 8 && !strncmp(s - 8, "/boards/", 8) && e > s)
                return xstrndup(s, (size_t)(e - s));
        }
    }
    return NULL;
}

static char *board_from_deps(const char *build_dir)
{
    struct dep_file *v = NULL;
    size_t nr = 0, alloc = 0;
    struct strbuf text = STRBUF_INIT;
    char *board = NULL;

    find_deps(build_dir, 0, &v, &nr, &alloc, 20000);
    if (nr) /* qsort(NULL, 0) is undefined */
        qsort(v, nr, sizeof(*v), cmp_dep);
    for (size_t i = 0; i < nr && !board; i++) {
        strbuf_reset(&text);
        if (fs_read_file_max(v[i].path, &text, FS_MAX_TEXT, NULL, 0) == 0)
            board = board_in_deps(text.buf);
    }
    for (size_t i = 0; i < nr; i++)
        free(v[i].path);
    free(v);
    strbuf_release(&text);
    return board;
}

void fw_build_info_read(const struct fw_tree *t, const char *target, struct fw_build_info *bi)
{
    struct strbuf build = STRBUF_INIT, bin = STRBUF_INIT, path = STRBUF_INIT, text = STRBUF_INIT;
    struct stat st;
    bool fresh = false;

    memset(bi, 0, sizeof(*bi));
    fw_tree_build_dir(t, target, &build);
    fw_tree_bin_dir(t, target, &bin);
    fs_path_join(&path, build.buf, STAMP_NAME);
    if (stat(path.buf, &st) == 0 && fs_read_file_max(path.buf, &text, FS_MAX_TEXT, NULL, 0) == 0)
        fresh = st.st_mtime >= newest_in(bin.buf);
    if (fresh) {
        bi->board = stamp_value(text.buf, "board");
        bi->options = stamp_value(text.buf, "options");
        bi->board_src = bi->board ? FW_INFO_STAMP : FW_INFO_NONE;
    }
    if (!t->shared_bin) {
        free(bi->board);
        bi->board = xstrdup(target);
        bi->board_src = FW_INFO_PATH;
    } else if (!bi->board && fs_is_dir(build.buf)) {
        bi->board = board_from_deps(build.buf);
        bi->board_src = bi->board ? FW_INFO_DEPS : FW_INFO_NONE;
    }
    strbuf_release(&build);
    strbuf_release(&bin);
    strbuf_release(&path);
    strbuf_release(&text);
}

int fw_build_stamp_write(const struct fw_tree *t, const char *target, const char *options,
                         char *err, size_t errlen)
{
    struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
    int rc;

    fw_tree_build_dir(t, target, &path);
    fs_path_join(&path, "", STAMP_NAME);
    strbuf_addf(&text,
                "# written by omvdev after 'make' built this directory; removed by make clean\n"
                "board=%s\noptions=%s\n",
                target, options);
    rc = fs_write_atomic(path.buf, text.buf, text.len, 0644, err, errlen);
    strbuf_release(&path);
    strbuf_release(&text);
    return rc;
}

int fw_tree_check_owner(const struct fw_tree *t, const char *target, char *err, size_t errlen)
{
    struct fw_build_info bi = FW_BUILD_INFO_INIT;
    struct strbuf bin = STRBUF_INIT, rel = STRBUF_INIT;
    int rc = 0;

    if (!t->shared_bin)
        return 0;
    fw_build_info_read(t, target, &bi);
    if (bi.board && strcmp(bi.board, target)) {
        fw_tree_bin_dir(t, target, &bin);
        fw_tree_rel(t, bin.buf, &rel);
        rc = omv_seterr(err, errlen, OMV_EINVAL,
                        "the images in '%s' were built for %s, not %s (read from %s)", rel.buf,
                        bi.board, target, fw_info_source_text(bi.board_src));
    }
    fw_build_info_release(&bi);
    strbuf_release(&bin);
    strbuf_release(&rel);
    return rc;
}
