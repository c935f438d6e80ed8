/*
 * A tiny unit-test harness. Each test file defines
 *
 *     static void test_something(void) { CHECK(...); CHECK_INT(a, ==, b); }
 *     TESTS(TEST(test_something), ...)
 *
 * and gets a main() that runs every test and prints "N passed, N failed".
 * A failed check prints file:line and the values, and the test goes on, so
 * one run shows every broken expectation.
 */
#ifndef OMVDEV_TESTS_UNIT_TEST_H
#define OMVDEV_TESTS_UNIT_TEST_H

#include "lib/compat.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

extern int test_failures;

void test_fail(const char *file, int line, const char *fmt, ...) OMV_PRINTF(3, 4);

#define TEST(fn)                                                                                   \
    {                                                                                              \
#fn, fn                                                                                    \
    }

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                     \
    } while (0)

#define CHECK_INT(a, op, b)                                                                        \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (!(a_ op b_))                                                                           \
            test_fail(__FILE__, __LINE__, "%s %s %s: %jd vs %jd", #a, #op, #b, a_, b_);            \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b,                    \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                     \
    } while (0)

/* true when `hay` contains `needle` */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)",    \
                      n_);                                                                         \
    } while (0)

/* xorshift64: a deterministic stream for fuzz-style tests; each caller owns its state. */
uint32_t test_rand(uint64_t *state);

/*
 * A seeded, time-bounded fuzz run. Each harness draws from its own stream,
 * seeded by OMVDEV_FUZZ_SEED (else `default_seed`), and iterates for
 * OMVDEV_FUZZ_SECONDS (default 1; make check) or until `max_iter` when that
 * is not 0. A failure names the seed and the iteration, which replay exactly.
 *
 *     struct fuzz f;
 *     fuzz_begin(&f, "ini-edit", 0x1234, 0);
 *     while (fuzz_next(&f)) { ... fuzz_rand(&f, 10) ... FUZZ_FAIL(&f, "why %d", x); }
 */
struct fuzz {
    const char *name;
    uint64_t seed, state;
    double seconds;
    int64_t end_ns;
    unsigned long iter, max_iter;
    int failures; /* test_failures when it began: a run stops after 10 of its own */
};

void fuzz_begin(struct fuzz *f, const char *name, uint64_t default_seed, unsigned long max_iter);
int fuzz_next(struct fuzz *f);
uint32_t fuzz_rand(struct fuzz *f, uint32_t n); /* 0 .. n-1 */

#define FUZZ_FAIL(f, ...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "%s: seed 0x%016" PRIx64 ", iteration %lu: ", (f)->name, (f)->seed,        \
                (f)->iter);                                                                        \
        test_fail(__FILE__, __LINE__, __VA_ARGS__);                                                \
    } while (0)

int test_main(const struct test_case *tests, size_t n, int argc, char **argv);

#define TESTS(...)                                                                                 \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct test_case tests_[] = {__VA_ARGS__};                                    \
        return test_main(tests_, sizeof(tests_) / sizeof(tests_[0]), argc, argv);                  \
    }

#endif
