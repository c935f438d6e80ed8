#include "tests/unit/test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

int test_failures;

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: check failed: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    test_failures++;
}

uint32_t test_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)*state;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fuzz_begin(struct fuzz *f, const char *name, uint64_t default_seed, unsigned long max_iter)
{
    const char *seed = getenv("OMVDEV_FUZZ_SEED"), *secs = getenv("OMVDEV_FUZZ_SECONDS");

    memset(f, 0, sizeof(*f));
    f->name = name;
    f->seed = seed && *seed ? strtoull(seed, NULL, 0) : default_seed;
    f->state = f->seed ? f->seed : 1; /* xorshift never leaves 0 */
    f->seconds = secs && *secs ? strtod(secs, NULL) : 1.0;
    f->max_iter = secs && *secs ? 0 : max_iter;
    f->end_ns = now_ns() + (int64_t)(f->seconds * 1e9);
    f->iter = (unsigned long)-1;
    f->failures = test_failures;
}

int fuzz_next(struct fuzz *f)
{
    f->iter++;
    if ((f->max_iter && f->iter >= f->max_iter) || now_ns() >= f->end_ns ||
        test_failures - f->failures >= 10) {
        fprintf(stderr, "fuzz %s: %lu iterations, seed 0x%016" PRIx64 "\n", f->name, f->iter,
                f->seed);
        return 0;
    }
    return 1;
}

uint32_t fuzz_rand(struct fuzz *f, uint32_t n)
{
    return n ? test_rand(&f->state) % n : 0;
}

int test_main(const struct test_case *tests, size_t n, int argc, char **argv)
{
    int passed = 0, failed = 0;

    for (size_t i = 0; i < n; i++) {
        int before = test_failures;

        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        tests[i].fn();
        if (test_failures == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
