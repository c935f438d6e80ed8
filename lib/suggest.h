/*
 * "Did you mean": the closest candidate to a mistyped word.
 */
#ifndef OMVDEV_LIB_SUGGEST_H
#define OMVDEV_LIB_SUGGEST_H

#include "lib/compat.h"

#include <stddef.h>

/* Optimal-string-alignment distance, ignoring ASCII case. */
size_t suggest_distance(const char *a, const char *b);

/*
 * The candidate closest to `word`, or NULL when none is close enough to be a
 * plausible typo (distance at most a third of the word's length, minimum 1),
 * or when a prefix of exactly one candidate matches. Borrowed from cands.
 */
const char *suggest(const char *word, const char *const *cands, size_t n);

#endif
