/*
 * Command-line options declared as data, beside their help text, and parsed
 * without getopt (so subcommands parse the same way on every libc and errors
 * can say "did you mean").
 *
 *     static const struct opt opts[] = {
 *         {"format", 0, OPT_VALUE, "FMT", "output format", fmt_choices, OPT_CONFIG},
 *         {"all", 'a', OPT_FLAG, NULL, "include unsupported boards", NULL, 0},
 *         {NULL},
 *     };
 *     struct opt_result r;
 *     opt_result_init(&r, opts);
 *     rc = opt_parse(opts, argc, argv, OPT_STOP_AT_ARG, &r, err, sizeof(err));
 *     ... opt_value(&r, opts, "format") ... r.args[0] ...
 *     opt_result_release(&r);
 *
 * Ownership: values and args point into argv (or into strings the caller set
 * with opt_set_default()); the result owns only its arrays.
 */
#ifndef OMVDEV_LIB_OPTS_H
#define OMVDEV_LIB_OPTS_H

#include "lib/compat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opt_kind {
    OPT_FLAG,  /* --name, counted */
    OPT_VALUE, /* --name VALUE, --name=VALUE, -x VALUE, -xVALUE */
};

enum opt_flags {
    OPT_CONFIG = 1 << 0, /* also a config key: [command] name = value */
    OPT_REPEAT = 1 << 1, /* may be given many times; every value is kept */
};

struct opt {
    const char *name; /* long name; NULL ends the table */
    int short_name;   /* 0: none */
    enum opt_kind kind;
    const char *argname;
    const char *help;
    const char *const *choices; /* NULL-terminated allowed values, or NULL */
    unsigned flags;
    const char *def; /* built-in default of an OPT_CONFIG option, or NULL */
};

enum opt_parse_flags {
    OPT_STOP_AT_ARG = 1 << 0, /* stop at the first non-option (before a subcommand) */
};

struct opt_result {
    const char **value;   /* per option: the last value, or NULL */
    const char **origin;  /* per option: where value came from, NULL = command line */
    unsigned *count;      /* per option: how often it was given */
    const char ***values; /* per OPT_REPEAT option: every value, NULL-terminated */
    size_t nr_opts;
    char **args; /* positional arguments (borrowed from argv) */
    int nr_args;
    bool help; /* -h or --help was given */
};

void opt_result_init(struct opt_result *r, const struct opt *opts);
void opt_result_release(struct opt_result *r);

/*
 * Parse argv[0..argc) (argv[0] is an argument, not the program). "--" ends
 * the options. OMV_EINVAL with a message such as "unknown option '--fromat'"
 * (and, when one is close, "; did you mean '--format'?") on a usage error.
 */
int opt_parse(const struct opt *opts, int argc, char **argv, unsigned flags, struct opt_result *r,
              char *err, size_t errlen);

/* Seed an option's value before parsing (from config); the command line wins. */
void opt_set_default(struct opt_result *r, const struct opt *opts, const char *name,
                     const char *value, const char *origin);

/* Is `value` one of the option's choices (or has it none)? */
bool opt_choice_ok(const struct opt *o, const char *value);

/* "a, b or c" for an option's choices, into buf. */
const char *opt_choices_text(const struct opt *o, char *buf, size_t len);

/* Lookups by long name; an unknown name is a programming error (abort). */
const struct opt *opt_find(const struct opt *opts, const char *name);
const char *opt_value(const struct opt_result *r, const struct opt *opts, const char *name);
unsigned opt_count(const struct opt_result *r, const struct opt *opts, const char *name);
const char *const *opt_values(const struct opt_result *r, const struct opt *opts, const char *name);

/*
 * The one number parser for option and config values: decimal or 0x-prefixed
 * hexadecimal, no sign, no octal, no trailing text, within [min, max].
 * `what` names the value in the message ("--wait", "sdk.retries at FILE:3"):
 * "invalid value 'x' for --wait: expected a number from 0 to 3600".
 * Returns 0 or OMV_EUSAGE.
 */
int opt_number(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out,
               char *err, size_t errlen);

#endif
