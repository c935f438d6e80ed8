#include "tests/unit/test.h"

#include "lib/table.h"

static void fill(struct table *t)
{
    table_header(t, 3, "A", "Bee", "C");
    table_row(t, "x|y", "µ", NULL);
    table_row(t, "-a 1", "ref_", "*b*");
}

static void test_text(void)
{
    struct table t = TABLE_INIT;
    struct strbuf sb = STRBUF_INIT;

    fill(&t);
    table_render(&t, TABLE_TEXT, &sb);
    CHECK_STR(sb.buf, "A     Bee   C\n"
                      "x|y   µ\n"
                      "-a 1  ref_  *b*\n");
    table_release(&t);
    strbuf_release(&sb);
}

static void test_markdown(void)
{
    struct table t = TABLE_INIT;
    struct strbuf sb = STRBUF_INIT;

    fill(&t);
    table_render(&t, TABLE_MARKDOWN, &sb);
    CHECK_STR(sb.buf, "| A | Bee | C |\n"
                      "|---|---|---|\n"
                      "| x\\|y | µ |  |\n"
                      "| -a 1 | ref_ | *b* |\n");
    table_release(&t);
    strbuf_release(&sb);
}

static void test_rst(void)
{
    struct table t = TABLE_INIT;
    struct strbuf sb = STRBUF_INIT;

    fill(&t);
    table_render(&t, TABLE_RST, &sb);
    CHECK_STR(sb.buf, ".. list-table::\n   :header-rows: 1\n\n"
                      "   * - A\n     - Bee\n     - C\n"
                      "   * - x\\|y\n     - µ\n     - \n"
                      "   * - ``-a 1``\n     - ref\\_\n     - \\*b\\*\n");
    table_release(&t);
    strbuf_release(&sb);
}

TESTS(TEST(test_text), TEST(test_markdown), TEST(test_rst))
