#include "lib/compat.h"
#include "lib/diff.h"

#include "lib/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_CONTEXT   3
#define DIFF_MAX_CELLS (4u * 1024 * 1024)

struct line {
    const char *s;
    size_t len; /* with its '\n', if it has one */
};

static size_t split(const char *t, size_t len, struct line **out)
{
    size_t n = 0, alloc = 0;
    struct line *v = NULL;

    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(t + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - t) + 1 : len;

        XGROW(v, alloc, n + 1);
        v[n].s = t + pos;
        v[n].len = end - pos;
        n++;
        pos = end;
    }
    *out = v;
    return n;
}

static bool same(const struct line *a, const struct line *b)
{
    return a->len == b->len && !memcmp(a->s, b->s, a->len);
}

/* One step of the edit script: ' ' keep, '-' drop a[i], '+' add b[j]. */
struct op {
    char kind;
    size_t i, j;
};

static void emit_line(struct strbuf *out, char kind, const struct line *l)
{
    strbuf_addch(out, kind);
    strbuf_add(out, l->s, l->len);
    if (!l->len || l->s[l->len - 1] != '\n')
        strbuf_addstr(out, "\n\\ No newline at end of file\n");
}

void diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *name_a,
                  const char *name_b, struct strbuf *out)
{
    struct line *la, *lb;
    size_t na = split(a, alen, &la), nb = split(b, blen, &lb);
    struct op *ops = xcalloc(na + nb + 1, sizeof(*ops));
    size_t nops = 0, pre = 0, suf = 0;

    if (alen == blen && !memcmp(a, b, alen))
        goto out;
    /* Common head and tail need no table. */
    while (pre < na && pre < nb && same(&la[pre], &lb[pre]))
        pre++;
    while (suf < na - pre && suf < nb - pre && same(&la[na - 1 - suf], &lb[nb - 1 - suf]))
        suf++;
    for (size_t k = 0; k < pre; k++)
        ops[nops++] = (struct op){' ', k, k};
    {
        size_t n = na - pre - suf, m = nb - pre - suf;
        uint32_t *lcs = NULL;

        if (n && m && (n + 1) * (m + 1) <= DIFF_MAX_CELLS) {
            lcs = xcalloc((n + 1) * (m + 1), sizeof(*lcs));
            for (size_t i = n; i-- > 0;)
                for (size_t j = m; j-- > 0;) {
                    uint32_t *c = &lcs[i * (m + 1) + j];

                    if (same(&la[pre + i], &lb[pre + j]))
                        *c = lcs[(i + 1) * (m + 1) + j + 1] + 1;
                    else
                        *c = lcs[(i + 1) * (m + 1) + j] > lcs[i * (m + 1) + j + 1]
                                 ? lcs[(i + 1) * (m + 1) + j]
                                 : lcs[i * (m + 1) + j + 1];
                }
        }
        for (size_t i = 0, j = 0; i < n || j < m;) {
            if (lcs && i < n && j < m && same(&la[pre + i], &lb[pre + j])) {
                ops[nops++] = (struct op){' ', pre + i++, pre + j++};
            } else if (i < n &&
                       (j >= m || !lcs || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1])) {
                ops[nops++] = (struct op){'-', pre + i++, pre + j};
            } else {
                ops[nops++] = (struct op){'+', pre + i, pre + j++};
            }
        }
        free(lcs);
    }
    for (size_t k = 0; k < suf; k++)
        ops[nops++] = (struct op){' ', na - suf + k, nb - suf + k};

    strbuf_addf(out, "--- %s\n+++ %s\n", name_a, name_b);
    for (size_t k = 0; k < nops;) {
        size_t start, end, last_change, acount = 0, bcount = 0;

        while (k < nops && ops[k].kind == ' ')
            k++;
        if (k == nops)
            break;
        start = k > DIFF_CONTEXT ? k - DIFF_CONTEXT : 0;
        /* Extend while the next change is within 2 * context lines. */
        last_change = k;
        for (end = k; end < nops; end++) {
            if (ops[end].kind != ' ')
                last_change = end;
            else if (end - last_change > 2 * DIFF_CONTEXT)
                break;
        }
        end = last_change + DIFF_CONTEXT + 1 < nops ? last_change + DIFF_CONTEXT + 1 : nops;
        for (size_t x = start; x < end; x++) {
            acount += ops[x].kind != '+';
            bcount += ops[x].kind != '-';
        }
        strbuf_addf(out, "@@ -%zu,%zu +%zu,%zu @@\n", acount ? ops[start].i + 1 : ops[start].i,
                    acount, bcount ? ops[start].j + 1 : ops[start].j, bcount);
        for (size_t x = start; x < end; x++)
            emit_line(out, ops[x].kind, ops[x].kind == '+' ? &lb[ops[x].j] : &la[ops[x].i]);
        k = end;
    }
out:
    free(ops);
    free(la);
    free(lb);
}
