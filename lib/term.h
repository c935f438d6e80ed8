/*
 * Terminal facts: whether to colour a stream.
 */
#ifndef OMVDEV_LIB_TERM_H
#define OMVDEV_LIB_TERM_H

#include "lib/compat.h"

#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

/*
 * `when` is "always", "never" or "auto". Auto colours only a terminal, and
 * never when NO_COLOR is set to anything non-empty (no-color.org) or TERM is
 * "dumb".
 */
bool term_want_color(int fd, const char *when);

/* Raw mode as cfmakeraw() sets it (which POSIX lacks): no echo, no line editing,
 * no signals from keys, no CR/NL translation, 8 data bits, reads return each byte. */
void term_make_raw(struct termios *t);

enum term_escape_flags {
    TERM_KEEP_NEWLINES = 1 << 0, /* '\n' and "\r\n" pass (a multi-line result), else \x0a */
    TERM_KEEP_OWN_SGR = 1 << 1,  /* omvdev's own bold and reset codes pass */
};

/*
 * Append s[0..len) so that it cannot drive a terminal: every control
 * character (C0 but the tab, DEL, and C1 whether as a raw byte or UTF-8) and
 * every byte that is not well-formed UTF-8 is shown as \xNN. For everything
 * printed that came from outside: config keys and values, file names, paths
 * from archives, USB device strings.
 */
void term_escape(struct strbuf *out, const char *s, size_t len, unsigned flags);

/* term_escape() of a string into sb (reset first); returns sb->buf. */
const char *term_safe(struct strbuf *sb, const char *s);

#endif
