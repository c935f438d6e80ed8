/*
 * The firmware repository's root and its submodules: see repo.h.
 */
#include "lib/compat.h"

#include "targets/repo.h"

#include "lib/error.h"
#include "lib/fs.h"
#include "lib/proc.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static bool has(const char *dir, const char *rel, bool want_dir)
{
    struct strbuf sb = STRBUF_INIT;
    bool ok;

    fs_path_join(&sb, dir, rel);
    ok = want_dir ? fs_is_dir(sb.buf) : fs_is_file(sb.buf);
    strbuf_release(&sb);
    return ok;
}

/* Each "path = X" of a .gitmodules text, relative paths only. */
static void gitmodules_paths(const char *text, char ***out, size_t *nr, size_t *alloc)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *p = line, *end = nl ? nl : line + strlen(line);

        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p > 4 && !strncmp(p, "path", 4)) {
            for (p += 4; p < end && (*p == ' ' || *p == '\t'); p++)
                ;
            if (p < end && *p == '=') {
                for (p++; p < end && (*p == ' ' || *p == '\t'); p++)
                    ;
                while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                    end--;
                if (end > p && *p != '/') {
                    char *s = xstrndup(p, (size_t)(end - p));

                    if (strstr(s, "..")) {
                        free(s);
                    } else {
                        XGROW(*out, *alloc, *nr + 1);
                        (*out)[(*nr)++] = s;
                    }
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

/* Does dir/.gitmodules name `path`? */
static bool gitmodules_has(const char *dir, const char *path)
{
    struct strbuf sb = STRBUF_INIT, p = STRBUF_INIT;
    char **paths = NULL;
    size_t nr = 0, alloc = 0;
    bool found = false;

    fs_path_join(&p, dir, ".gitmodules");
    if (fs_read_file_max(p.buf, &sb, FS_MAX_TEXT, NULL, 0) == 0)
        gitmodules_paths(sb.buf, &paths, &nr, &alloc);
    for (size_t i = 0; i < nr; i++) {
        found = found || !strcmp(paths[i], path);
        free(paths[i]);
    }
    free(paths);
    strbuf_release(&sb);
    strbuf_release(&p);
    return found;
}

bool repo_is_root(const char *dir, bool *src_layout)
{
    bool top = has(dir, "Makefile", false) && has(dir, "boards", true) && has(dir, "ports", true) &&
               (has(dir, "lib/micropython", true) || gitmodules_has(dir, "lib/micropython"));
    bool src =
        !top && has(dir, "src/Makefile", false) && has(dir, "src/omv/boards", true) &&
        (has(dir, "src/lib/micropython", true) || gitmodules_has(dir, "src/lib/micropython"));

    if (src_layout)
        *src_layout = src;
    return top || src;
}

/* The submodule paths of root (relative to it), nested ones included, at most
 * three levels deep. */
static void all_submodule_paths(const char *root, const char *rel, int depth, char ***out,
                                size_t *nr, size_t *alloc)
{
    struct strbuf dir = STRBUF_INIT, text = STRBUF_INIT, full = STRBUF_INIT;
    size_t first = *nr;

    if (depth > 3)
        return;
    fs_path_join(&dir, root, rel);
    fs_path_join(&full, dir.buf, ".gitmodules");
    if (fs_read_file_max(full.buf, &text, FS_MAX_TEXT, NULL, 0) == 0)
        gitmodules_paths(text.buf, out, nr, alloc);
    for (size_t i = first, end = *nr; i < end; i++) {
        struct strbuf sub = STRBUF_INIT;

        if (*rel)
            fs_path_join(&sub, rel, (*out)[i]);
        else
            strbuf_addstr(&sub, (*out)[i]);
        free((*out)[i]);
        (*out)[i] = strbuf_detach(&sub, NULL);
    }
    for (size_t i = first, end = *nr; i < end; i++) {
        char *p = xstrdup((*out)[i]);

        all_submodule_paths(root, p, depth + 1, out, nr, alloc);
        free(p);
    }
    strbuf_release(&dir);
    strbuf_release(&text);
    strbuf_release(&full);
}

/* Is `path` (relative) `sub` or below it? */
static bool under(const char *path, const char *sub)
{
    size_t n = strlen(sub);

    return !strncmp(path, sub, n) && (path[n] == '\0' || path[n] == '/');
}

int repo_find(const char *start, struct strbuf *root, struct strbuf *inside, char *err,
              size_t errlen)
{
    struct strbuf dir = STRBUF_INIT, abs = STRBUF_INIT;
    int rc = OMV_ENOTREPO;

    fs_absolute(&abs, start);
    strbuf_addstr(&dir, abs.buf);
    for (;;) {
        char *slash;

        if (repo_is_root(dir.buf, NULL)) {
            strbuf_addstr(root, dir.buf);
            rc = 0;
            break;
        }
        slash = strrchr(dir.buf, '/');
        if (!slash || dir.len == 1)
            break;
        strbuf_setlen(&dir, slash == dir.buf ? 1 : (size_t)(slash - dir.buf));
    }
    if (rc < 0) {
        omv_seterr(err, errlen, rc,
                   "not inside an openmv firmware repository (looked for Makefile, boards/, "
                   "ports/ and lib/micropython, or src/Makefile, src/omv/boards/ and "
                   "src/lib/micropython, from '%s' upward)",
                   start);
    } else if (inside && abs.len > dir.len + 1) {
        const char *rel = abs.buf + dir.len + (dir.len > 1);
        char **paths = NULL;
        size_t nr = 0, alloc = 0;
        const char *best = NULL;

        all_submodule_paths(dir.buf, "", 0, &paths, &nr, &alloc);
        for (size_t i = 0; i < nr; i++)
            if (under(rel, paths[i]) && (!best || strlen(paths[i]) > strlen(best)))
                best = paths[i];
        if (best)
            strbuf_addstr(inside, best);
        for (size_t i = 0; i < nr; i++)
            free(paths[i]);
        free(paths);
    }
    strbuf_release(&dir);
    strbuf_release(&abs);
    return rc;
}

/* ---- submodules ---------------------------------------------------------------------- */

void repo_subs_release(struct repo_subs *s)
{
    for (size_t i = 0; i < s->nr; i++) {
        free(s->items[i].path);
        free(s->items[i].parent);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

size_t repo_subs_bad(const struct repo_subs *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->nr; i++)
        n += s->items[i].state != REPO_SUB_OK;
    return n;
}

const char *repo_sub_state_text(enum repo_sub_state s)
{
    switch (s) {
    case REPO_SUB_MISSING:
        return "missing";
    case REPO_SUB_UNINIT:
        return "not initialised";
    case REPO_SUB_STALE:
        return "at another commit than the repository records";
    case REPO_SUB_OK:
        break;
    }
    return "checked out";
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

/* The words after GIT_SUBMODULES (=, += or :=) in the makefile `path`, each
 * followed by '\n', into `out`. */
static void git_submodules_of(const char *path, struct strbuf *out)
{
    struct strbuf text = STRBUF_INIT;

    if (fs_read_file_max(path, &text, FS_MAX_TEXT, NULL, 0) < 0)
        goto out;
    for (char *l = text.buf; l && *l;) {
        char *nl = strchr(l, '\n'), *p;

        if (nl)
            *nl = '\0';
        for (p = l; *p == ' ' || *p == '\t'; p++)
            ;
        if (!strncmp(p, "GIT_SUBMODULES", 14)) {
            for (p += 14; *p == ' ' || *p == '\t' || *p == '+' || *p == ':'; p++)
                ;
            if (*p == '=') {
                char *save = NULL;

                for (char *w = strtok_r(p + 1, " \t\\", &save); w;
                     w = strtok_r(NULL, " \t\\", &save))
                    strbuf_addf(out, "%s\n", w);
            }
        }
        l = nl ? nl + 1 : NULL;
    }
out:
    strbuf_release(&text);
}

static bool word_in(const char *words, const char *w)
{
    size_t n = strlen(w);

    for (const char *p = words; (p = strstr(p, w)); p++)
        if ((p == words || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void sub_add(struct repo_subs *s, const char *path, enum repo_sub_state st)
{
    XGROW(s->items, s->alloc, s->nr + 1);
    s->items[s->nr].path = xstrdup(path);
    s->items[s->nr].parent = NULL;
    s->items[s->nr].state = st;
    s->nr++;
}

/* Parent of each entry (the longest other entry it lies under), then keep the
 * ones the port needs. */
static void sub_filter(struct repo_subs *s, const char *mpy_rel, const char *wanted)
{
    size_t keep = 0;

    for (size_t i = 0; i < s->nr; i++) {
        const char *parent = "";

        for (size_t j = 0; j < s->nr; j++)
            if (i != j && under(s->items[i].path, s->items[j].path) &&
                strlen(s->items[j].path) > strlen(parent))
                parent = s->items[j].path;
        s->items[i].parent = xstrdup(parent);
    }
    for (size_t i = 0; i < s->nr; i++) {
        struct repo_sub *e = &s->items[i];
        bool ok = true;

        if (mpy_rel && !strcmp(e->parent, mpy_rel))
            ok = word_in(wanted, e->path + strlen(mpy_rel) + 1);
        else if (mpy_rel && under(e->parent, mpy_rel) && strcmp(e->parent, mpy_rel)) {
            /* nested deeper: needed when its parent is */
            ok = false;
            for (size_t j = 0; j < keep; j++)
                ok = ok || !strcmp(s->items[j].path, e->parent);
        }
        if (ok)
            s->items[keep++] = *e;
        else {
            free(e->path);
            free(e->parent);
        }
    }
    s->nr = keep;
}

/* `git submodule status --recursive` into s. */
static int subs_from_git(const char *root, struct repo_subs *s, char *err, size_t errlen)
{
    const char *argv[] = {"git", "-C", root, "submodule", "status", "--recursive", NULL};
    struct proc_spec spec;
    struct proc p;
    struct strbuf path = STRBUF_INIT;
    int rc;

    memset(&spec, 0, sizeof(spec));
    memset(&p, 0, sizeof(p));
    spec.argv = argv;
    spec.out = PROC_CAPTURE;
    spec.err = PROC_CAPTURE;
    spec.stdin_null = true;
    if ((rc = proc_run(&p, &spec, 20000, err, errlen)) < 0)
        goto out;
    if (!p.exited || p.exit_code != 0) {
        char *nl = strchr(p.err.buf, '\n');

        if (nl)
            *nl = '\0';
        rc = omv_seterr(err, errlen, OMV_EIO, "'git submodule status' failed in '%s': %s", root,
                        p.err.buf);
        goto out;
    }
    for (char *l = p.out.buf; l && *l;) {
        char *nl = strchr(l, '\n'), *sp, *end;

        if (nl)
            *nl = '\0';
        sp = strchr(l + 1, ' ');
        if (sp && sp - l == 41) {
            enum repo_sub_state st = REPO_SUB_OK;

            end = strstr(sp + 1, " (");
            strbuf_reset(&path);
            strbuf_add(&path, sp + 1, end ? (size_t)(end - sp - 1) : strlen(sp + 1));
            if (l[0] == '-') {
                struct strbuf full = STRBUF_INIT;

                fs_path_join(&full, root, path.buf);
                st = fs_is_dir(full.buf) ? REPO_SUB_UNINIT : REPO_SUB_MISSING;
                strbuf_release(&full);
            } else if (l[0] == '+' || l[0] == 'U') {
                st = REPO_SUB_STALE;
            }
            sub_add(s, path.buf, st);
        }
        l = nl ? nl + 1 : NULL;
    }
    s->from_git = true;
out:
    proc_release(&p);
    strbuf_release(&path);
    return rc;
}

/* Without git: the .gitmodules files and whether each directory has files. */
static void subs_from_dirs(const char *root, struct repo_subs *s)
{
    char **paths = NULL;
    size_t nr = 0, alloc = 0;
    struct strbuf full = STRBUF_INIT;

    all_submodule_paths(root, "", 0, &paths, &nr, &alloc);
    for (size_t i = 0; i < nr; i++) {
        strbuf_reset(&full);
        fs_path_join(&full, root, paths[i]);
        sub_add(s, paths[i],
                !fs_is_dir(full.buf)  ? REPO_SUB_MISSING
                : dir_empty(full.buf) ? REPO_SUB_UNINIT
                                      : REPO_SUB_OK);
        free(paths[i]);
    }
    free(paths);
    strbuf_release(&full);
}

int repo_submodules(const char *root, const char *mpy_rel, const char *port, struct repo_subs *out,
                    char *err, size_t errlen)
{
    struct strbuf wanted = STRBUF_INIT, mk = STRBUF_INIT, git = STRBUF_INIT;
    int rc = 0;

    fs_path_join(&git, root, ".git");
    if (fs_is_dir(git.buf) || fs_is_file(git.buf))
        rc = subs_from_git(root, out, err, errlen);
    else
        subs_from_dirs(root, out);
    if (rc < 0)
        goto out;
    if (mpy_rel && port) {
        fs_path_join(&mk, root, mpy_rel);
        strbuf_addf(&mk, "/ports/%s/Makefile", port);
        git_submodules_of(mk.buf, &wanted);
        strbuf_reset(&mk);
        fs_path_join(&mk, root, mpy_rel);
        fs_path_join(&mk, "", "py/mkrules.mk");
        git_submodules_of(mk.buf, &wanted);
    }
    sub_filter(out, mpy_rel, wanted.buf);
out:
    strbuf_release(&wanted);
    strbuf_release(&mk);
    strbuf_release(&git);
    return rc;
}

void repo_argv_free(char ***argvs, size_t nr)
{
    for (size_t i = 0; i < nr; i++) {
        for (char **a = argvs[i]; a && *a; a++)
            free(*a);
        free(argvs[i]);
    }
    free(argvs);
}

static bool shell_safe(const char *s)
{
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@", *s))
            return false;
    return true;
}

static void add_word(struct strbuf *sb, const char *w)
{
    if (shell_safe(w)) {
        strbuf_addstr(sb, w);
        return;
    }
    strbuf_addch(sb, '\'');
    for (; *w; w++)
        if (*w == '\'')
            strbuf_addstr(sb, "'\\''");
        else
            strbuf_addch(sb, *w);
    strbuf_addch(sb, '\'');
}

void repo_subs_fix(const char *root, const struct repo_subs *s, struct strbuf *cmds, char ****argvs,
                   size_t *nr_argv)
{
    size_t nr = 0;
    char ***v = NULL;

    /* entries come parents first (git's order), so one pass per parent in order of appearance */
    for (size_t i = 0; i < s->nr; i++) {
        const char *parent = s->items[i].parent;
        struct strbuf dir = STRBUF_INIT;
        size_t n = 0, k = 0;
        bool seen = false;

        if (s->items[i].state == REPO_SUB_OK)
            continue;
        for (size_t j = 0; j < i; j++)
            seen =
                seen || (s->items[j].state != REPO_SUB_OK && !strcmp(s->items[j].parent, parent));
        if (seen)
            continue;
        for (size_t j = i; j < s->nr; j++)
            n += s->items[j].state != REPO_SUB_OK && !strcmp(s->items[j].parent, parent);
        if (*parent)
            fs_path_join(&dir, root, parent);
        else
            strbuf_addstr(&dir, root);
        if (cmds) {
            if (cmds->len)
                strbuf_addstr(cmds, " && ");
            strbuf_addstr(cmds, "git -C ");
            add_word(cmds, dir.buf);
            strbuf_addstr(cmds, " submodule update --init --depth=1");
        }
        v = xrealloc(v, (nr + 1) * sizeof(*v));
        v[nr] = xcalloc(n + 8, sizeof(char *));
        k = 0;
        v[nr][k++] = xstrdup("git");
        v[nr][k++] = xstrdup("-C");
        v[nr][k++] = xstrdup(dir.buf);
        v[nr][k++] = xstrdup("submodule");
        v[nr][k++] = xstrdup("update");
        v[nr][k++] = xstrdup("--init");
        v[nr][k++] = xstrdup("--depth=1");
        for (size_t j = i; j < s->nr; j++) {
            const struct repo_sub *e = &s->items[j];
            const char *rel;

            if (e->state == REPO_SUB_OK || strcmp(e->parent, parent))
                continue;
            rel = e->path + strlen(parent) + (*parent ? 1 : 0);
            v[nr][k++] = xstrdup(rel);
            if (cmds) {
                strbuf_addch(cmds, ' ');
                add_word(cmds, rel);
            }
        }
        nr++;
        strbuf_release(&dir);
    }
    if (argvs) {
        *argvs = v;
        *nr_argv = nr;
    } else {
        repo_argv_free(v, nr);
    }
}
