#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/opts.h"

static const char *const fmts[] = {"text", "markdown", "rst", NULL};

static const struct opt opts[] = {
    {"format", 0, OPT_VALUE, "FMT", "format", fmts, OPT_CONFIG, "text"},
    {"all", 'a', OPT_FLAG, NULL, "all", NULL, 0, NULL},
    {"verbose", 'v', OPT_FLAG, NULL, "more", NULL, 0, NULL},
    {"target", 't', OPT_VALUE, "T", "board", NULL, OPT_REPEAT, NULL},
    {NULL, 0, OPT_FLAG, NULL, NULL, NULL, 0, NULL},
};

static int run(int argc, char **argv, unsigned flags, struct opt_result *r, char *err)
{
    opt_result_init(r, opts);
    return opt_parse(opts, argc, argv, flags, r, err, 256);
}

static void test_forms(void)
{
    char *argv[] = {"--format=rst", "x",       "-avv", "-tOPENMV4", "--target", "OPENMV_N6",
                    "-t",           "OPENMV2", "--",   "--all",     "y"};
    struct opt_result r;
    char err[256];

    CHECK_INT(run((int)ARRAY_SIZE(argv), argv, 0, &r, err), ==, 0);
    CHECK_STR(opt_value(&r, opts, "format"), "rst");
    CHECK_INT(opt_count(&r, opts, "all"), ==, 1);
    CHECK_INT(opt_count(&r, opts, "verbose"), ==, 2);
    CHECK_STR(opt_values(&r, opts, "target")[0], "OPENMV4");
    CHECK_STR(opt_values(&r, opts, "target")[1], "OPENMV_N6");
    CHECK_STR(opt_values(&r, opts, "target")[2], "OPENMV2");
    CHECK(opt_values(&r, opts, "target")[3] == NULL);
    CHECK_INT(r.nr_args, ==, 3);
    CHECK_STR(r.args[0], "x");
    CHECK_STR(r.args[1], "--all"); /* after "--" */
    CHECK_STR(r.args[2], "y");
    opt_result_release(&r);
}

static void test_stop_at_arg(void)
{
    char *argv[] = {"-v", "targets", "--all"};
    struct opt_result r;
    char err[256];

    CHECK_INT(run(3, argv, OPT_STOP_AT_ARG, &r, err), ==, 0);
    CHECK_INT(opt_count(&r, opts, "verbose"), ==, 1);
    CHECK_INT(opt_count(&r, opts, "all"), ==, 0);
    CHECK_INT(r.nr_args, ==, 2);
    opt_result_release(&r);
}

static void expect_err(int argc, char **argv, const char *msg)
{
    struct opt_result r;
    char err[256] = "";

    CHECK_INT(run(argc, argv, 0, &r, err), ==, OMV_EINVAL);
    CHECK_STR(err, msg);
    opt_result_release(&r);
}

static void test_errors(void)
{
    char *a1[] = {"--fromat", "rst"};
    char *a2[] = {"--format"};
    char *a3[] = {"--format=pdf"};
    char *a4[] = {"-x"};
    char *a5[] = {"--all=yes"};
    char *a6[] = {"-t"};
    char *a7[] = {"--zzzzzz"};

    expect_err(2, a1, "unknown option '--fromat'; did you mean '--format'?");
    expect_err(1, a2, "option '--format' needs a value (FMT)");
    expect_err(1, a3, "invalid value 'pdf' for '--format' (expected text, markdown or rst)");
    expect_err(1, a4, "unknown option '-x'");
    expect_err(1, a5, "option '--all' takes no value");
    expect_err(1, a6, "option '-t' needs a value (T)");
    expect_err(1, a7, "unknown option '--zzzzzz'");
}

static void test_defaults_and_help(void)
{
    char *argv[] = {"-h"};
    struct opt_result r;
    char err[256];

    opt_result_init(&r, opts);
    opt_set_default(&r, opts, "format", "markdown", "cfg.ini");
    CHECK_INT(opt_parse(opts, 1, argv, 0, &r, err, sizeof(err)), ==, 0);
    CHECK(r.help);
    CHECK_STR(opt_value(&r, opts, "format"), "markdown");
    CHECK_INT(opt_count(&r, opts, "format"), ==, 0); /* not given on the command line */
    opt_result_release(&r);
}

static void test_number(void)
{
    uint64_t v = 7;
    char err[256] = "";

    CHECK_INT(opt_number("--wait", "16", 0, 3600, &v, err, sizeof(err)), ==, 0);
    CHECK_INT(v, ==, 16);
    CHECK_INT(opt_number("--wait", "0x10", 0, 3600, &v, err, sizeof(err)), ==, 0);
    CHECK_INT(v, ==, 16);
    CHECK_INT(opt_number("--alt", "0XfF", 0, 255, &v, err, sizeof(err)), ==, 0);
    CHECK_INT(v, ==, 255);
    CHECK_INT(opt_number("--addr", "0xffffffffffffffff", 0, UINT64_MAX, &v, err, sizeof(err)), ==,
              0);
    CHECK(v == UINT64_MAX);
    v = 7;
    CHECK_INT(opt_number("--wait", "3601", 0, 3600, &v, err, sizeof(err)), ==, OMV_EUSAGE);
    CHECK_STR(err, "invalid value '3601' for --wait: expected a number from 0 to 3600");
    CHECK_INT(v, ==, 7); /* untouched on error */
    CHECK_INT(opt_number("--wait", "1", 2, 9, &v, err, sizeof(err)), ==, OMV_EUSAGE);
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      "1.5",
                                      "1s",
                                      "0x",
                                      "abc",
                                      " 1",
                                      "010x",
                                      "18446744073709551616",
                                      "0x10000000000000000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_INT(opt_number("--n", bad[i], 0, UINT64_MAX, &v, err, sizeof(err)), ==, OMV_EUSAGE);
        CHECK_CONTAINS(err, "invalid value");
    }
    CHECK_INT(opt_number("--n", NULL, 0, 1, &v, err, sizeof(err)), ==, OMV_EUSAGE);
    CHECK_INT(opt_number("--n", "010", 0, 100, &v, err, sizeof(err)), ==, 0);
    CHECK_INT(v, ==, 10); /* decimal, never octal */
}

TESTS(TEST(test_number), TEST(test_forms), TEST(test_stop_at_arg), TEST(test_errors),
      TEST(test_defaults_and_help))
