/*
 * Terminal facts: whether to colour a stream.
 */
#ifndef OMVDEV_LIB_TERM_H
#define OMVDEV_LIB_TERM_H

#include "lib/compat.h"

#include <stdbool.h>
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

#endif
