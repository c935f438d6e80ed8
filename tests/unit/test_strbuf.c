#include "tests/unit/test.h"

#include "lib/strbuf.h"

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

TESTS(TEST(test_grow_and_detach))
