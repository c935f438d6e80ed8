#include "lib/compat.h"
#include "lib/suggest.h"

#include "lib/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t suggest_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row0 = xcalloc(lb + 1, sizeof(size_t));
    size_t *row1 = xcalloc(lb + 1, sizeof(size_t));
    size_t *row2 = xcalloc(lb + 1, sizeof(size_t));
    size_t d;

    for (size_t j = 0; j <= lb; j++)
        row1[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *t;

        row2[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = row1[j - 1] + (ca != cb);

            if (row1[j] + 1 < best)
                best = row1[j] + 1;
            if (row2[j - 1] + 1 < best)
                best = row2[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && row0[j - 2] + 1 < best)
                best = row0[j - 2] + 1;
            row2[j] = best;
        }
        t = row0;
        row0 = row1;
        row1 = row2;
        row2 = t;
    }
    d = row1[lb];
    free(row0);
    free(row1);
    free(row2);
    return d;
}

const char *suggest(const char *word, const char *const *cands, size_t n)
{
    size_t wlen = strlen(word), limit = wlen / 3 ? wlen / 3 : 1;
    const char *best = NULL, *prefix = NULL;
    size_t best_d = (size_t)-1, prefixes = 0;

    if (!wlen)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = suggest_distance(word, cands[i]);

        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
        if (!strncasecmp(cands[i], word, wlen)) {
            prefix = cands[i];
            prefixes++;
        }
    }
    if (best_d <= limit)
        return best;
    return prefixes == 1 ? prefix : NULL;
}
