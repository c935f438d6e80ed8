#include "lib/compat.h"
#include "lib/hostenv.h"

#include "lib/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hostenv_wsl_version(const char *osrelease)
{
    /* WSL 2 kernels: "5.15.153.1-microsoft-standard-WSL2"; WSL 1: "4.4.0-19041-Microsoft". */
    if (strstr(osrelease, "microsoft-standard") || strstr(osrelease, "WSL2"))
        return 2;
    for (const char *p = osrelease; *p; p++)
        if (!strncasecmp(p, "microsoft", 9))
            return 1;
    return 0;
}

bool hostenv_osrelease_is_wsl(const char *osrelease)
{
    return hostenv_wsl_version(osrelease) != 0;
}

/* Exactly 8 hex digits into *v. */
static bool hex32(const char *s, size_t n, unsigned long *v)
{
    char buf[9];
    char *end;

    if (n != 8)
        return false;
    for (size_t i = 0; i < 8; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    memcpy(buf, s, 8);
    buf[8] = '\0';
    *v = strtoul(buf, &end, 16);
    return *end == '\0';
}

int hostenv_default_gateway(const char *route, struct strbuf *out)
{
    const char *line = route;

    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *f[3];
        size_t flen[3], nf = 0, i = 0;
        unsigned long dest, gw;

        /* Iface, Destination, Gateway: the first three whitespace-separated fields. */
        while (nf < 3 && i < len) {
            while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i >= len)
                break;
            f[nf] = line + i;
            while (i < len && line[i] != ' ' && line[i] != '\t')
                i++;
            flen[nf] = (size_t)(line + i - f[nf]);
            nf++;
        }
        if (nf == 3 && hex32(f[1], flen[1], &dest) && dest == 0 && hex32(f[2], flen[2], &gw) &&
            gw != 0) {
            strbuf_addf(out, "%lu.%lu.%lu.%lu", gw & 0xff, (gw >> 8) & 0xff, (gw >> 16) & 0xff,
                        (gw >> 24) & 0xff);
            return 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    return OMV_ENOENT;
}

int hostenv_parse_host_port(const char *s, unsigned default_port, struct strbuf *out)
{
    const char *colon = NULL;
    size_t hlen;
    unsigned long port = default_port;

    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (!close || (close[1] && close[1] != ':'))
            return OMV_EINVAL;
        colon = close[1] ? close + 1 : NULL;
        hlen = (size_t)(close - s) + 1;
        if (hlen == 2)
            return OMV_EINVAL;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (colon) {
        char *end;

        if (!isdigit((unsigned char)colon[1]))
            return OMV_EINVAL;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || port < 1 || port > 65535)
            return OMV_EINVAL;
    }
    if (hlen == 0 || port < 1 || port > 65535)
        return OMV_EINVAL;
    for (size_t i = 0; i < hlen; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(".-_:[]%", s[i]))
            return OMV_EINVAL;
    if (*s != '[' && memchr(s, ':', hlen))
        strbuf_addf(out, "[%.*s]", (int)hlen, s); /* gdb wants [v6]:port */
    else
        strbuf_add(out, s, hlen);
    strbuf_addf(out, ":%lu", port);
    return 0;
}
