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

void term_make_raw(struct termios *t)
{
    t->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t->c_oflag &= ~(tcflag_t)OPOST;
    t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t->c_cflag |= CS8;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

/* The only escape sequences omvdev itself writes to standard output. */
static const char *const own_sgr[] = {"\033[1m", "\033[0m"};

void term_escape(struct strbuf *out, const char *s, size_t len, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = utf8_seq_len(s + i, len - i);
        bool safe = n > 1 ? !(c == 0xc2 && (unsigned char)s[i + 1] < 0xa0) /* C1 */
                          : n == 1 && ((c >= 0x20 && c != 0x7f) || c == '\t' ||
                                       (c == '\n' && (flags & TERM_KEEP_NEWLINES)) ||
                                       (c == '\r' && (flags & TERM_KEEP_NEWLINES) && i + 1 < len &&
                                        s[i + 1] == '\n'));

        if (c == 0x1b && (flags & TERM_KEEP_OWN_SGR)) {
            for (size_t k = 0; k < ARRAY_SIZE(own_sgr) && !safe; k++) {
                size_t m = strlen(own_sgr[k]);

                if (len - i >= m && !memcmp(s + i, own_sgr[k], m)) {
                    n = m;
                    safe = true;
                }
            }
        }
        if (safe) {
            strbuf_add(out, s + i, n);
            i += n;
            continue;
        }
        /* one byte at a time: an invalid sequence shows every byte */
        n = n ? n : 1;
        for (size_t k = 0; k < n; k++) {
            unsigned char b = (unsigned char)s[i + k];

            strbuf_addstr(out, "\\x");
            strbuf_addch(out, hex[b >> 4]);
            strbuf_addch(out, hex[b & 15]);
        }
        i += n;
    }
}

const char *term_safe(struct strbuf *sb, const char *s)
{
    strbuf_reset(sb);
    term_escape(sb, s, strlen(s), 0);
    return sb->buf;
}
