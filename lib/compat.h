/*
 * First include of every .c file: the POSIX feature level and a few helpers
 * every module uses.
 */
#ifndef OMVDEV_LIB_COMPAT_H
#define OMVDEV_LIB_COMPAT_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__) || defined(__clang__)
#define OMV_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define OMV_NORETURN          __attribute__((noreturn))
#define OMV_UNUSED            __attribute__((unused))
#else
#define OMV_PRINTF(fmt, args)
#define OMV_NORETURN
#define OMV_UNUSED
#endif

#endif
