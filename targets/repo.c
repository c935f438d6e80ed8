#include "lib/compat.h"
#include "targets/repo.h"

#include "lib/error.h"
#include "lib/fs.h"

#include <stdbool.h>
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

static bool looks_like_repo(const char *dir)
{
    return (has(dir, "Makefile", false) && has(dir, "boards", true)) ||
           (has(dir, "src/Makefile", false) && has(dir, "src/omv/boards", true));
}

int repo_find(const char *start, struct strbuf *root, char *err, size_t errlen)
{
    struct strbuf dir = STRBUF_INIT;
    int rc = OMV_ENOTREPO;

    fs_absolute(&dir, start);
    for (;;) {
        char *slash;

        if (looks_like_repo(dir.buf)) {
            strbuf_addstr(root, dir.buf);
            rc = 0;
            break;
        }
        slash = strrchr(dir.buf, '/');
        if (!slash || dir.len == 1)
            break;
        strbuf_setlen(&dir, slash == dir.buf ? 1 : (size_t)(slash - dir.buf));
    }
    if (rc < 0)
        omv_seterr(err, errlen, rc,
                   "not inside an openmv firmware repository (looked for Makefile and boards/ "
                   "from '%s' upward)",
                   start);
    strbuf_release(&dir);
    return rc;
}
