#include "lib/compat.h"
#include "lib/term.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool term_want_color(int fd, const char *when)
{
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");

    if (when && !strcmp(when, "always"))
        return true;
    if (when && !strcmp(when, "never"))
        return false;
    if (no_color && *no_color)
        return false;
    if (term && !strcmp(term, "dumb"))
        return false;
    return isatty(fd) == 1;
}
