/*
 * A streaming JSON writer (git's json-writer) into a strbuf, pretty-printed
 * with two-space indents. Inside an object every value takes a key; inside an
 * array and at the top level the key is NULL.
 *
 *     struct json_writer jw;
 *     json_init(&jw, &sb);
 *     json_object_begin(&jw, NULL);
 *     json_int(&jw, "schema", 1);
 *     json_array_begin(&jw, "targets"); ... json_array_end(&jw);
 *     json_object_end(&jw);   (ends with a newline at depth 0)
 *
 * Ownership: the writer borrows the strbuf; it allocates nothing else.
 */
#ifndef OMVDEV_LIB_JSON_H
#define OMVDEV_LIB_JSON_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
    struct strbuf *out;
    int depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool compact; /* one line (for newline-delimited events); set after json_init() */
};

void json_init(struct json_writer *jw, struct strbuf *out);
void json_object_begin(struct json_writer *jw, const char *key);
void json_object_end(struct json_writer *jw);
void json_array_begin(struct json_writer *jw, const char *key);
void json_array_end(struct json_writer *jw);
/* A NULL value writes null. */
void json_string(struct json_writer *jw, const char *key, const char *value);
void json_int(struct json_writer *jw, const char *key, int64_t value);
void json_bool(struct json_writer *jw, const char *key, bool value);
void json_null(struct json_writer *jw, const char *key);

/* Append `s` as a quoted JSON string, escaping as RFC 8259 requires; each
 * byte that is not part of well-formed UTF-8 becomes U+FFFD, so the output
 * is always valid UTF-8 JSON whatever a path or a config value holds. */
void json_quote(struct strbuf *out, const char *s);
/* The body of a JSON string for s[0..len) (NUL bytes included), without the quotes. */
void json_escape(struct strbuf *out, const char *s, size_t len);

#endif
