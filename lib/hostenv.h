/*
 * Small facts about the host a command runs on, parsed from text so they can
 * be tested: whether it is WSL, its default gateway (the Windows host under
 * WSL 2's NAT networking), and "HOST[:PORT]" arguments.
 *
 * Ownership: results go into caller strbufs.
 */
#ifndef OMVDEV_LIB_HOSTENV_H
#define OMVDEV_LIB_HOSTENV_H

#include "lib/compat.h"
#include "lib/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Does a kernel release string (/proc/sys/kernel/osrelease) name WSL's kernel? */
bool hostenv_osrelease_is_wsl(const char *osrelease);
/* 0 (not WSL), 1 or 2 for a kernel release string. */
int hostenv_wsl_version(const char *osrelease);

/*
 * The gateway of the default route in the text of /proc/net/route (hex,
 * little-endian fields) as a dotted quad, appended to out. OMV_ENOENT when
 * there is no default route with a gateway; malformed lines are skipped.
 */
int hostenv_default_gateway(const char *route, struct strbuf *out);

/*
 * "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" (a bare IPv6 address takes no
 * port) into "host:port" ("[v6]:port") with `default_port` when none is given. OMV_EINVAL
 * for an empty host, characters a host name cannot hold, or a port outside
 * 1..65535.
 */
int hostenv_parse_host_port(const char *s, unsigned default_port, struct strbuf *out);

#endif
