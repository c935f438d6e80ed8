#include "tests/unit/test.h"

#include "lib/strbuf.h"
#include "lib/term.h"

#include <stdlib.h>

static void test_grow_and_detach(void)
{
    struct strbuf sb = STRBUF_INIT;
    char *p;
    size_t len;

    CHECK_STR(sb.buf, "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i % 10);
    CHECK_INT(sb.len, ==, 2000);
    CHECK_INT(sb.buf[sb.len], ==, 0);
    strbuf_addchars(&sb, ' ', 3);
    strbuf_trim_trailing(&sb);
    CHECK_INT(sb.len, ==, 2000);
    p = strbuf_detach(&sb, &len);
    CHECK_INT(len, ==, 2000);
    CHECK_STR(sb.buf, "");
    free(p);
    p = strbuf_detach(&sb, &len); /* an empty strbuf still hands over a string */
    CHECK_STR(p, "");
    free(p);
    strbuf_release(&sb);
}

static void test_utf8_seq_len(void)
{
    CHECK_INT(utf8_seq_len("a", 1), ==, 1);
    CHECK_INT(utf8_seq_len("\xc3\xa9", 2), ==, 2);
    CHECK_INT(utf8_seq_len("\xe2\x80\x98", 3), ==, 3);
    CHECK_INT(utf8_seq_len("\xf0\x9f\x98\x80", 4), ==, 4);
    CHECK_INT(utf8_seq_len("\xc3", 1), ==, 0);             /* cut off */
    CHECK_INT(utf8_seq_len("\x80", 1), ==, 0);             /* stray continuation */
    CHECK_INT(utf8_seq_len("\xc0\xaf", 2), ==, 0);         /* overlong '/' */
    CHECK_INT(utf8_seq_len("\xe0\x80\xaf", 3), ==, 0);     /* overlong */
    CHECK_INT(utf8_seq_len("\xed\xa0\x80", 3), ==, 0);     /* surrogate */
    CHECK_INT(utf8_seq_len("\xf4\x90\x80\x80", 4), ==, 0); /* above U+10FFFF */
    CHECK_INT(utf8_seq_len("\xff", 1), ==, 0);
}

/* What reaches a terminal from outside input cannot drive it. */
static void test_term_escape(void)
{
    struct strbuf sb = STRBUF_INIT;
    const char *own = "\033[1mbold\033[0m\n";

    CHECK_STR(term_safe(&sb, "key\033]0;title\007 \033[2J"), "key\\x1b]0;title\\x07 \\x1b[2J");
    CHECK_STR(term_safe(&sb, "a\rb\nc\td\x7f"), "a\\x0db\\x0ac\td\\x7f");
    CHECK_STR(term_safe(&sb, "caf\xc3\xa9 \xff\xc3("), "caf\xc3\xa9 \\xff\\xc3(");
    CHECK_STR(term_safe(&sb, "\xc2\x9b"
                             "31m \x9b"),
              "\\xc2\\x9b31m \\x9b"); /* C1 CSI, both forms */
    strbuf_reset(&sb);
    term_escape(&sb, own, strlen(own), TERM_KEEP_NEWLINES | TERM_KEEP_OWN_SGR);
    CHECK_STR(sb.buf, own);
    strbuf_reset(&sb);
    term_escape(&sb, "\033[31m\n", 6, TERM_KEEP_NEWLINES | TERM_KEEP_OWN_SGR);
    CHECK_STR(sb.buf, "\\x1b[31m\n");
    strbuf_reset(&sb);
    term_escape(&sb, "a\r\nb\rc\r", 7,
                TERM_KEEP_NEWLINES); /* CRLF ends a line; a lone CR overwrites */
    CHECK_STR(sb.buf, "a\r\nb\\x0dc\\x0d");
    strbuf_release(&sb);
}

TESTS(TEST(test_grow_and_detach), TEST(test_utf8_seq_len), TEST(test_term_escape))
