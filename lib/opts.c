#include "lib/compat.h"
#include "lib/opts.h"

#include "lib/error.h"
#include "lib/suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t opt_nr(const struct opt *opts)
{
    size_t n = 0;

    while (opts[n].name)
        n++;
    return n;
}

void opt_result_init(struct opt_result *r, const struct opt *opts)
{
    size_t n = opt_nr(opts);

    r->value = xcalloc(n + 1, sizeof(*r->value));
    r->origin = xcalloc(n + 1, sizeof(*r->origin));
    r->count = xcalloc(n + 1, sizeof(*r->count));
    r->values = xcalloc(n + 1, sizeof(*r->values));
    r->nr_opts = n;
    r->args = NULL;
    r->nr_args = 0;
    r->help = false;
}

void opt_result_release(struct opt_result *r)
{
    for (size_t i = 0; i < r->nr_opts; i++)
        free(r->values[i]);
    free(r->value);
    free(r->origin);
    free(r->count);
    free(r->values);
    free(r->args);
    memset(r, 0, sizeof(*r));
}

const struct opt *opt_find(const struct opt *opts, const char *name)
{
    for (const struct opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    fprintf(stderr, "BUG: no option '%s' in the table\n", name);
    abort();
}

bool opt_choice_ok(const struct opt *o, const char *value)
{
    if (!o->choices)
        return true;
    for (const char *const *c = o->choices; *c; c++)
        if (!strcmp(*c, value))
            return true;
    return false;
}

const char *opt_choices_text(const struct opt *o, char *buf, size_t len)
{
    size_t n = 0, used = 0;

    buf[0] = '\0';
    if (!o->choices)
        return buf;
    while (o->choices[n])
        n++;
    for (size_t i = 0; i < n && used < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, len - used, "%s%s", sep, o->choices[i]);

        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

static void add_value(struct opt_result *r, size_t i, const struct opt *o, const char *v,
                      const char *origin)
{
    r->value[i] = v;
    r->origin[i] = origin;
    if (o->flags & OPT_REPEAT) {
        size_t n = 0;

        while (r->values[i] && r->values[i][n])
            n++;
        r->values[i] = xrealloc(r->values[i], (n + 2) * sizeof(char *));
        r->values[i][n] = v;
        r->values[i][n + 1] = NULL;
    }
}

void opt_set_default(struct opt_result *r, const struct opt *opts, const char *name,
                     const char *value, const char *origin)
{
    const struct opt *o = opt_find(opts, name);
    size_t i = (size_t)(o - opts);

    r->value[i] = value;
    r->origin[i] = origin;
}

static int unknown_option(const struct opt *opts, const char *arg, size_t len, char *err,
                          size_t errlen)
{
    const char *names[64];
    size_t n = 0;
    char *word = xstrndup(arg, len);
    const char *s;
    int rc;

    for (const struct opt *o = opts; o->name && n < ARRAY_SIZE(names) - 1; o++)
        names[n++] = o->name;
    names[n++] = "help";
    s = suggest(word, names, n);
    if (s)
        rc = omv_seterr(err, errlen, OMV_EINVAL, "unknown option '--%s'; did you mean '--%s'?",
                        word, s);
    else
        rc = omv_seterr(err, errlen, OMV_EINVAL, "unknown option '--%s'", word);
    free(word);
    return rc;
}

static int check_choice(const struct opt *o, const char *v, char *err, size_t errlen)
{
    char buf[256];

    if (opt_choice_ok(o, v))
        return 0;
    return omv_seterr(err, errlen, OMV_EINVAL, "invalid value '%s' for '--%s' (expected %s)", v,
                      o->name, opt_choices_text(o, buf, sizeof(buf)));
}

int opt_parse(const struct opt *opts, int argc, char **argv, unsigned flags, struct opt_result *r,
              char *err, size_t errlen)
{
    bool options_done = false;
    int i;

    r->args = xcalloc((size_t)argc + 1, sizeof(char *));
    for (i = 0; i < argc; i++) {
        char *a = argv[i];

        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (flags & OPT_STOP_AT_ARG) {
                while (i < argc)
                    r->args[r->nr_args++] = argv[i++];
                break;
            }
            r->args[r->nr_args++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            options_done = true;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct opt *o = NULL;

            if (len == 4 && !strncmp(name, "help", 4) && !eq) {
                r->help = true;
                continue;
            }
            for (const struct opt *p = opts; p->name; p++)
                if (strlen(p->name) == len && !strncmp(p->name, name, len))
                    o = p;
            if (!o)
                return unknown_option(opts, name, len, err, errlen);
            if (o->kind == OPT_FLAG) {
                if (eq)
                    return omv_seterr(err, errlen, OMV_EINVAL, "option '--%s' takes no value",
                                      o->name);
                r->count[o - opts]++;
                continue;
            }
            if (!eq && i + 1 >= argc)
                return omv_seterr(err, errlen, OMV_EINVAL, "option '--%s' needs a value (%s)",
                                  o->name, o->argname ? o->argname : "VALUE");
            {
                const char *v = eq ? eq + 1 : argv[++i];
                int rc = check_choice(o, v, err, errlen);

                if (rc < 0)
                    return rc;
                r->count[o - opts]++;
                add_value(r, (size_t)(o - opts), o, v, NULL);
            }
            continue;
        }
        /* A cluster of short options: -vq, -tOPENMV4, -t OPENMV4. */
        for (const char *p = a + 1; *p; p++) {
            const struct opt *o = NULL;

            if (*p == 'h') {
                r->help = true;
                continue;
            }
            for (const struct opt *q = opts; q->name; q++)
                if (q->short_name == *p)
                    o = q;
            if (!o)
                return omv_seterr(err, errlen, OMV_EINVAL, "unknown option '-%c'", *p);
            r->count[o - opts]++;
            if (o->kind == OPT_FLAG)
                continue;
            if (p[1]) {
                int rc = check_choice(o, p + 1, err, errlen);

                if (rc < 0)
                    return rc;
                add_value(r, (size_t)(o - opts), o, p + 1, NULL);
            } else if (i + 1 < argc) {
                int rc = check_choice(o, argv[i + 1], err, errlen);

                if (rc < 0)
                    return rc;
                add_value(r, (size_t)(o - opts), o, argv[++i], NULL);
            } else {
                return omv_seterr(err, errlen, OMV_EINVAL, "option '-%c' needs a value (%s)", *p,
                                  o->argname ? o->argname : "VALUE");
            }
            break;
        }
    }
    return 0;
}

const char *opt_value(const struct opt_result *r, const struct opt *opts, const char *name)
{
    return r->value[opt_find(opts, name) - opts];
}

unsigned opt_count(const struct opt_result *r, const struct opt *opts, const char *name)
{
    return r->count[opt_find(opts, name) - opts];
}

const char *const *opt_values(const struct opt_result *r, const struct opt *opts, const char *name)
{
    static const char *const none[] = {NULL};
    const char **v = r->values[opt_find(opts, name) - opts];

    return v ? v : none;
}

int opt_number(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *out,
               char *err, size_t errlen)
{
    uint64_t v = 0;
    unsigned base = 10;
    const char *p = s;
    bool any = false;

    if (!p)
        goto bad;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (; *p; p++) {
        unsigned d;

        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            goto bad;
        if (v > (UINT64_MAX - d) / base)
            goto bad;
        v = v * base + d;
        any = true;
    }
    if (!any || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    return omv_seterr(err, errlen, OMV_EUSAGE,
                      "invalid value '%s' for %s: expected a number from %llu to %llu", s ? s : "",
                      what, (unsigned long long)min, (unsigned long long)max);
}
