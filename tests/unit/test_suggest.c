#include "tests/unit/test.h"

#include "lib/suggest.h"

static void test_distance(void)
{
    CHECK_INT(suggest_distance("targets", "targets"), ==, 0);
    CHECK_INT(suggest_distance("tagrets", "targets"), ==, 1); /* transposition */
    CHECK_INT(suggest_distance("TARGETS", "targets"), ==, 0);
    CHECK_INT(suggest_distance("", "abc"), ==, 3);
}

static void test_suggest(void)
{
    static const char *const cmds[] = {"targets", "config", "completion", "help"};

    CHECK_STR(suggest("tagets", cmds, 4), "targets");
    CHECK_STR(suggest("confg", cmds, 4), "config");
    CHECK_STR(suggest("compl", cmds, 4), "completion"); /* unique prefix */
    CHECK(suggest("co", cmds, 4) == NULL);              /* two prefixes, too far */
    CHECK(suggest("flash", cmds, 4) == NULL);
    CHECK(suggest("", cmds, 4) == NULL);
}

TESTS(TEST(test_distance), TEST(test_suggest))
