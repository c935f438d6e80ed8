/*
 * A growable, always NUL-terminated string (git's strbuf).
 *
 *     struct strbuf sb = STRBUF_INIT;
 *     strbuf_addf(&sb, "%s:%u", file, line);
 *     ... sb.buf ...
 *     strbuf_release(&sb);
 *
 * Ownership: the strbuf owns buf; strbuf_detach() hands it to the caller,
 * who frees it. sb.buf is never NULL, even for an empty strbuf.
 */
#ifndef OMVDEV_LIB_STRBUF_H
#define OMVDEV_LIB_STRBUF_H

#include "lib/compat.h"

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len;
    size_t alloc;
};

extern char strbuf_empty[];
#define STRBUF_INIT                                                                                \
    {                                                                                              \
        strbuf_empty, 0, 0                                                                         \
    }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_reset(struct strbuf *sb);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addchars(struct strbuf *sb, int c, size_t n);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) OMV_PRINTF(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) OMV_PRINTF(2, 0);
void strbuf_trim_trailing(struct strbuf *sb);

/*
 * The length of the well-formed UTF-8 sequence at s[0..len) (1 to 4), or 0
 * when s starts with a byte that is not one: a stray continuation byte, an
 * overlong form, a surrogate, a code point above U+10FFFF or a cut-off
 * sequence.
 */
size_t utf8_seq_len(const char *s, size_t len);

#endif
