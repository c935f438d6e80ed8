/*
 * Layered configuration: INI files, the environment and the command line,
 * merged by precedence. Every definition is kept with where it came from, so
 * `config list --show-origin` can say which layer won.
 *
 *     struct cfg cfg = CFG_INIT;
 *     cfg_add(&cfg, CFG_LEVEL_DEFAULT, "core", "color", "auto", NULL, 0);
 *     if (cfg_parse_file(&cfg, path, CFG_LEVEL_USER, err, sizeof(err)) == OMV_EPARSE) ...
 *     const struct cfg_entry *e = cfg_lookup(&cfg, "core", "color");
 *     cfg_release(&cfg);
 *
 * Section and key names are compared case-insensitively and kept as written;
 * values are kept as written (trimmed). The only user of <ini.h>.
 *
 * Ownership: the cfg owns every entry and its strings; lookups borrow.
 */
#ifndef OMVDEV_LIB_CONFIG_H
#define OMVDEV_LIB_CONFIG_H

#include "lib/compat.h"
#include "lib/libversion.h"

#include <stdbool.h>
#include <stddef.h>

/* Lowest precedence first. */
enum cfg_level {
    CFG_LEVEL_DEFAULT,
    CFG_LEVEL_USER,
    CFG_LEVEL_PROJECT,
    CFG_LEVEL_ENV,
    CFG_LEVEL_CMDLINE,
};

struct cfg_entry {
    char *section;
    char *name;
    char *value;
    enum cfg_level level;
    char *origin;  /* file path, environment variable name, or NULL */
    unsigned line; /* line in origin when it is a file, else 0 */
};

struct cfg {
    struct cfg_entry *entries; /* in the order they were added */
    size_t nr, alloc;
};

#define CFG_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void cfg_release(struct cfg *cfg);

/* Remove entries[i] (freeing it); later entries move down one place. */
void cfg_remove(struct cfg *cfg, size_t i);

void cfg_add(struct cfg *cfg, enum cfg_level level, const char *section, const char *name,
             const char *value, const char *origin, unsigned line);

/*
 * Parse INI text into cfg at `level`, `origin` naming it in messages. On a
 * malformed line nothing is added, OMV_EPARSE is returned and err holds
 * "origin:line: message".
 */
int cfg_parse_string(struct cfg *cfg, const char *text, size_t len, const char *origin,
                     enum cfg_level level, char *err, size_t errlen);

/* The same for a file; a missing file is OMV_ENOENT and adds nothing. */
int cfg_parse_file(struct cfg *cfg, const char *path, enum cfg_level level, char *err,
                   size_t errlen);

/* The winning definition: highest level, and the last one within it. */
const struct cfg_entry *cfg_lookup(const struct cfg *cfg, const char *section, const char *name);

/* Is `e` the definition that cfg_lookup() returns for its key? */
bool cfg_entry_wins(const struct cfg *cfg, const struct cfg_entry *e);

/* Split "section.name" (the last dot separates) into lower-case parts the
 * caller frees. OMV_EINVAL when either part is empty or has bad characters. */
int cfg_split_key(const char *key, char **section, char **name, char *err, size_t errlen);

/* Can `value` be stored in an INI file and read back unchanged? */
int cfg_check_value(const char *value, char *err, size_t errlen);

/*
 * Set (value != NULL) or remove (value == NULL) section.name in the INI file
 * at `path`, keeping every other line, comment and blank line as it was. The
 * file is replaced atomically; a missing file is created. Removing a key that
 * is not there gives OMV_ENOENT and leaves the file alone. A file that does
 * not parse is left alone with OMV_EPARSE.
 */
int cfg_edit_file(const char *path, const char *section, const char *name, const char *value,
                  char *err, size_t errlen);

/* The same edit on text in memory (`origin` names it in messages); the
 * result, which the caller frees, goes into *out. */
int cfg_edit_string(const char *text, size_t len, const char *origin, const char *section,
                    const char *name, const char *value, char **out, size_t *outlen, char *err,
                    size_t errlen);

const char *cfg_level_name(enum cfg_level level);

/* inih's version from pkg-config at compile time; inih cannot report it at run time. */
void cfg_libversion(struct libversion *v);

#endif
