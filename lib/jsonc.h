/*
 * JSON with comments (JSONC, as VS Code reads its .vscode/ files): a reader
 * that keeps the byte offset of every value, and an editor that changes a
 * document by replacing or inserting byte ranges, so that everything it does
 * not touch - comments, key order, indentation, line endings, trailing
 * commas - stays byte for byte.
 *
 *     struct jsonc_doc doc;
 *     jsonc_doc_init(&doc);
 *     if (jsonc_parse(&doc, text, len, "launch.json", 0, err, sizeof(err)) < 0)
 *         ... err is "launch.json:3:7: expected ',' or '}' after a member" ...
 *     const struct jsonc_node *a = jsonc_get(doc.root, "configurations");
 *     jsonc_doc_release(&doc);
 *
 * The merge functions are what `omvdev vscode` builds on: they take the old
 * text of a file and the entries a generator owns, and produce the new text.
 *
 * Ownership: a jsonc_doc borrows the text it parsed (it must outlive the doc)
 * and owns its nodes and decoded strings. Results go into caller strbufs.
 */
#ifndef OMVDEV_LIB_JSONC_H
#define OMVDEV_LIB_JSONC_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jsonc_type {
    JSONC_NULL,
    JSONC_BOOL,
    JSONC_NUMBER,
    JSONC_STRING,
    JSONC_ARRAY,
    JSONC_OBJECT,
};

struct jsonc_node {
    enum jsonc_type type;
    size_t start, end;       /* the value's bytes: text[start..end) */
    size_t item_start;       /* where the item begins: the key of a member, else start */
    char *key;               /* members of an object: the decoded key; else NULL */
    size_t key_len;          /* keys may hold "\u0000" */
    char *str;               /* strings: the decoded value (NUL-terminated) */
    size_t str_len;          /* strings: its length, which may include NULs */
    bool boolean;            /* JSONC_BOOL */
    struct jsonc_node *kids; /* array elements or object members, in order */
    size_t nr_kids, alloc_kids;
    bool trailing_comma; /* containers: a ',' follows the last kid */
};

struct jsonc_doc {
    const char *text; /* borrowed */
    size_t len;
    struct jsonc_node *root; /* NULL: the text holds no value (empty, or only comments) */
};

enum jsonc_flags {
    JSONC_STRICT = 1 << 0, /* RFC 8259: no comments, no trailing commas, no BOM */
};

void jsonc_doc_init(struct jsonc_doc *doc);
void jsonc_doc_release(struct jsonc_doc *doc);

/*
 * Parse `text` (JSONC unless JSONC_STRICT). On a syntax error returns
 * OMV_EPARSE with "<name>:<line>:<col>: <what>" in err (1-based; columns count
 * characters, a tab is one). An empty text, or one of only comments and
 * whitespace, parses to root == NULL.
 */
int jsonc_parse(struct jsonc_doc *doc, const char *text, size_t len, const char *name,
                unsigned flags, char *err, size_t errlen);

/* The member `key` of an object (the last one, as VS Code reads duplicates), or NULL. */
const struct jsonc_node *jsonc_get(const struct jsonc_node *obj, const char *key);

/* "<line>:<col>" of a byte offset, into buf. */
const char *jsonc_where(const char *text, size_t len, size_t off, char *buf, size_t buflen);

/*
 * The value `n` as JSON: compact (`unit` NULL: no whitespace at all) or
 * pretty with `unit` per level and `nl` between lines; comments and trailing
 * commas are gone. Members named `skip_key` of n itself are left out.
 */
void jsonc_write(struct strbuf *out, const struct jsonc_node *n, const char *text, const char *unit,
                 const char *nl, const char *skip_key);

/* Append a quoted, escaped JSON string of s[0..len). */
void jsonc_quote(struct strbuf *out, const char *s, size_t len);

/* 64-bit FNV-1a of the compact form of `n` without `skip_key`, as 16 hex digits. */
void jsonc_hash(const struct jsonc_node *n, const char *text, const char *skip_key, char hex[17]);

/* ---- editing -------------------------------------------------------------- */

/* How a file is laid out, so inserted text looks like the rest of it. */
struct jsonc_style {
    char nl[3];   /* "\n" or "\r\n" */
    char unit[9]; /* one level of indentation: "\t" or 1..8 spaces */
};

/* The style of `text`; "\n" and four spaces (VS Code's own) when it shows none. */
void jsonc_style_detect(const char *text, size_t len, struct jsonc_style *style);

/* One replacement of text[start..end) by `repl` (start == end: an insertion). */
struct jsonc_edit {
    size_t start, end;
    char *repl;
};

struct jsonc_edits {
    struct jsonc_edit *v;
    size_t nr, alloc;
};

void jsonc_edits_init(struct jsonc_edits *e);
void jsonc_edits_release(struct jsonc_edits *e);
/* Takes ownership of nothing: `repl` is copied. */
void jsonc_edits_add(struct jsonc_edits *e, size_t start, size_t end, const char *repl);
/* The text with every edit applied (edits must not overlap; insertions at the
 * same offset keep the order they were added in). */
void jsonc_edits_apply(const struct jsonc_edits *e, const char *text, size_t len,
                       struct strbuf *out);

/* Insert `items` (each already formatted, one value or "key": value, in the
 * file's style, first line unindented) at the end of container `c`. */
void jsonc_append(struct jsonc_edits *e, const struct jsonc_doc *doc, const struct jsonc_node *c,
                  const struct jsonc_style *style, const char *const *items, size_t n);

/* ---- merging generated entries -------------------------------------------- */

enum jsonc_merge_status {
    JSONC_MERGE_ADDED,        /* not there: appended */
    JSONC_MERGE_REPLACED,     /* ours and unchanged by the user: regenerated in place */
    JSONC_MERGE_UNCHANGED,    /* already what would be generated */
    JSONC_MERGE_KEPT_EDITED,  /* ours, but the user changed it: left alone (no force) */
    JSONC_MERGE_FORCED,       /* ours, changed by the user, regenerated (force) */
    JSONC_MERGE_KEPT_FOREIGN, /* same id without our marker: the user's, left alone */
};

const char *jsonc_merge_status_name(enum jsonc_merge_status s);

/* One generated entry: an object with a string member identifying it. */
struct jsonc_merge_item {
    const char *json;               /* the object as JSON (any layout) */
    enum jsonc_merge_status status; /* set by the merge */
};

/*
 * Merge generated objects into the array `array_key` of the top-level object
 * of `old` (a file's text; empty for a new file). An item is ours when an
 * element has the same `id_key` value and a `marker_key` member holding the
 * hash of what was generated then; the generated copy gets a fresh marker.
 * Elements that are not ours, and everything outside replaced elements, are
 * kept byte for byte. When `old` holds no value (empty or only comments) the
 * new document is `skeleton` (strict JSON) appended after what is there.
 * `force` regenerates ours even when the user changed it. `out` is `old`
 * itself when nothing changes. OMV_EPARSE with name:line:col for a syntax
 * error or a document of the wrong shape; OMV_EINVAL for a bad item.
 */
int jsonc_merge_array(const char *old, size_t len, const char *name, const char *skeleton,
                      const char *array_key, const char *id_key, const char *marker_key,
                      struct jsonc_merge_item *items, size_t n, bool force, struct strbuf *out,
                      char *err, size_t errlen);

/*
 * Add the strings `values` missing from the array `array_key` (creating it),
 * leaving out those listed in the array `exclude_key`. added[i] (when not
 * NULL) says which were added.
 */
int jsonc_merge_strings(const char *old, size_t len, const char *name, const char *skeleton,
                        const char *array_key, const char *exclude_key, const char *const *values,
                        size_t n, bool *added, struct strbuf *out, char *err, size_t errlen);

/*
 * Set top-level members `keys[i]` to the JSON values `values[i]`: missing
 * ones are added (ADDED), equal ones left (UNCHANGED), different ones kept
 * (KEPT_EDITED) unless `force` (FORCED). status[i] says which.
 */
int jsonc_merge_members(const char *old, size_t len, const char *name, const char *skeleton,
                        const char *const *keys, const char *const *values, size_t n, bool force,
                        enum jsonc_merge_status *status, struct strbuf *out, char *err,
                        size_t errlen);

#endif
