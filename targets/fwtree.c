/*
 * The firmware repository's layout: see fwtree.h.
 */
#include "lib/compat.h"

#include "targets/fwtree.h"

#include "lib/error.h"
#include "lib/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fw_list_add(struct fw_list *l, const char *s)
{
    XGROW(l->items, l->alloc, l->nr + 1);
    l->items[l->nr++] = xstrdup(s);
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

int fw_tree_open(struct fw_tree *t, const char *root, char *err, size_t errlen)
{
    char *boards = joined(root, "boards");
    char *legacy = joined(root, "src/omv/boards");

    memset(t, 0, sizeof(*t));
    if (fs_is_dir(boards)) {
        t->root = xstrdup(root);
        t->make_dir = xstrdup(root);
        t->boards_dir = boards;
        t->mpy_dir = joined(root, "lib/micropython");
        free(legacy);
        return 0;
    }
    free(boards);
    if (fs_is_dir(legacy)) {
        t->root = xstrdup(root);
        t->make_dir = joined(root, "src");
        t->boards_dir = legacy;
        t->mpy_dir = joined(root, "src/micropython");
        t->legacy = true;
        return 0;
    }
    free(legacy);
    return omv_seterr(err, errlen, OMV_ENOTREPO,
                      "'%s' has neither boards/ nor src/omv/boards/: not an OpenMV firmware "
                      "repository",
                      root);
}

void fw_tree_release(struct fw_tree *t)
{
    free(t->root);
    free(t->make_dir);
    free(t->boards_dir);
    free(t->mpy_dir);
    memset(t, 0, sizeof(*t));
}

void fw_tree_bin_dir(const struct fw_tree *t, const char *target, struct strbuf *out)
{
    strbuf_reset(out);
    if (t->legacy) {
        fs_path_join(out, t->make_dir, "build/bin");
        return;
    }
    fs_path_join(out, t->root, "build");
    fs_path_join(out, "", target);
    fs_path_join(out, "", "bin");
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

    if (!t->legacy) {
        fs_path_join(&dir, t->root, "build");
        (void)list_dirs(dir.buf, out, NULL, 0);
    }
    strbuf_release(&dir);
}

/* Is `dir` missing or empty? */
static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool empty = true;

    if (!d)
        return true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = false;
            break;
        }
    closedir(d);
    return empty;
}

/* Each "path = X" of a .gitmodules text. */
static void gitmodules_paths(const char *text, struct fw_list *out)
{
    const char *line = text;

    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *p = line, *end = line + len;

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p > 4 && !strncmp(p, "path", 4)) {
            p += 4;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p == '=') {
                p++;
                while (p < end && (*p == ' ' || *p == '\t'))
                    p++;
                while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                    end--;
                if (end > p) {
                    char *s = xstrndup(p, (size_t)(end - p));

                    if (!strstr(s, "..") && s[0] != '/')
                        fw_list_add(out, s);
                    free(s);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

static void check_modules(const char *base, const char *rel_base, const char *filter,
                          struct fw_list *out)
{
    struct strbuf sb = STRBUF_INIT, path = STRBUF_INIT;
    struct fw_list paths = FW_LIST_INIT;

    fs_path_join(&path, base, ".gitmodules");
    if (fs_read_file_max(path.buf, &sb, FS_MAX_TEXT, NULL, 0) == 0) {
        gitmodules_paths(sb.buf, &paths);
        for (size_t i = 0; i < paths.nr; i++) {
            if (filter && !strstr(filter, paths.items[i]))
                continue;
            strbuf_reset(&path);
            fs_path_join(&path, base, paths.items[i]);
            if (dir_empty(path.buf)) {
                strbuf_reset(&path);
                if (*rel_base)
                    fs_path_join(&path, rel_base, paths.items[i]);
                else
                    strbuf_addstr(&path, paths.items[i]);
                fw_list_add(out, path.buf);
            }
        }
    }
    fw_list_release(&paths);
    strbuf_release(&sb);
    strbuf_release(&path);
}

void fw_tree_missing_submodules(const struct fw_tree *t, const char *port, struct fw_list *out)
{
    struct strbuf mk = STRBUF_INIT, text = STRBUF_INIT, wanted = STRBUF_INIT, rel = STRBUF_INIT;

    check_modules(t->root, "", NULL, out);
    if (port && !dir_empty(t->mpy_dir)) {
        fs_path_join(&mk, t->mpy_dir, "ports");
        fs_path_join(&mk, "", port);
        fs_path_join(&mk, "", "Makefile");
        if (fs_read_file_max(mk.buf, &text, FS_MAX_TEXT, NULL, 0) == 0) {
            /* the lines that name the port's submodules */
            for (char *l = text.buf; l && *l;) {
                char *nl = strchr(l, '\n');

                if (nl)
                    *nl = '\0';
                if (strstr(l, "GIT_SUBMODULES")) {
                    strbuf_addstr(&wanted, l);
                    strbuf_addch(&wanted, '\n');
                }
                l = nl ? nl + 1 : NULL;
            }
            strbuf_addstr(&rel,
                          t->mpy_dir + strlen(t->root) + (t->mpy_dir[strlen(t->root)] == '/'));
            if (wanted.len)
                check_modules(t->mpy_dir, rel.buf, wanted.buf, out);
        }
    }
    strbuf_release(&mk);
    strbuf_release(&text);
    strbuf_release(&wanted);
    strbuf_release(&rel);
}

bool fw_tree_mpy_cross(const struct fw_tree *t, struct strbuf *path)
{
    strbuf_reset(path);
    fs_path_join(path, t->mpy_dir, "mpy-cross/build/mpy-cross");
    return fs_is_file(path->buf) && access(path->buf, X_OK) == 0;
}
