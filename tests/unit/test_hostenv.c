/*
 * lib/hostenv.c: WSL kernel names, the default gateway from /proc/net/route,
 * and HOST[:PORT] arguments; with fuzz-style runs over random route tables
 * and host strings.
 */
#include "tests/unit/test.h"

#include "lib/error.h"
#include "lib/hostenv.h"
#include "lib/strbuf.h"

#include <stdlib.h>

static void test_wsl(void)
{
    CHECK(hostenv_osrelease_is_wsl("5.15.153.1-microsoft-standard-WSL2\n"));
    CHECK(hostenv_osrelease_is_wsl("4.4.0-19041-Microsoft\n")); /* WSL 1 */
    CHECK_INT(hostenv_wsl_version("5.15.153.1-microsoft-standard-WSL2\n"), ==, 2);
    CHECK_INT(hostenv_wsl_version("4.4.0-19041-Microsoft\n"), ==, 1);
    CHECK_INT(hostenv_wsl_version("6.1.0-27-amd64\n"), ==, 0);
    CHECK(!hostenv_osrelease_is_wsl("6.1.0-18-amd64\n"));
    CHECK(!hostenv_osrelease_is_wsl(""));
    CHECK(!hostenv_osrelease_is_wsl("microsof"));
}

static void test_gateway(void)
{
    static const char route[] =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t0010A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth0\t00000000\t01E01AAC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
    struct strbuf sb = STRBUF_INIT;

    CHECK_INT(hostenv_default_gateway(route, &sb), ==, 0);
    CHECK_STR(sb.buf, "172.26.224.1");
    strbuf_reset(&sb);
    /* no default route, a default route without a gateway, garbage */
    CHECK_INT(hostenv_default_gateway("Iface\tDestination\tGateway\n", &sb), ==, OMV_ENOENT);
    CHECK_INT(hostenv_default_gateway("eth0\t00000000\t00000000\t0001\n", &sb), ==, OMV_ENOENT);
    CHECK_INT(hostenv_default_gateway("eth0 00000000 1E01AAC\neth0 0000000 01E01AAC\n", &sb), ==,
              OMV_ENOENT);
    CHECK_INT(hostenv_default_gateway("", &sb), ==, OMV_ENOENT);
    CHECK_STR(sb.buf, "");
    /* the last line may lack its newline */
    CHECK_INT(hostenv_default_gateway("wlan0 00000000 0101A8C0 0003", &sb), ==, 0);
    CHECK_STR(sb.buf, "192.168.1.1");
    strbuf_release(&sb);
}

static void test_host_port(void)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"win", "win:2331"},
        {"172.26.224.1", "172.26.224.1:2331"},
        {"host.local:3333", "host.local:3333"},
        {"[fe80::1%eth0]:2400", "[fe80::1%eth0]:2400"},
        {"[::1]", "[::1]:2331"},
        {"::1", "[::1]:2331"},
        {"h:65535", "h:65535"},
    };
    static const char *const bad[] = {
        "",
        ":2331",
        "host:",
        "host:0",
        "host:65536",
        "host:-1",
        "host:12a",
        "bad host",
        "h;rm",
        "[::1",
        "[::1]x",
        "[]:1",
        "host:99999999999999999999",
        "h\"q",
    };
    struct strbuf sb = STRBUF_INIT;

    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        strbuf_reset(&sb);
        CHECK_INT(hostenv_parse_host_port(ok[i].in, 2331, &sb), ==, 0);
        CHECK_STR(sb.buf, ok[i].out);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        strbuf_reset(&sb);
        if (hostenv_parse_host_port(bad[i], 2331, &sb) != OMV_EINVAL)
            test_fail(__FILE__, __LINE__, "'%s' accepted as '%s'", bad[i], sb.buf);
        CHECK_STR(sb.buf, "");
    }
    strbuf_release(&sb);
}

static uint64_t rng = 0x0DDB1A5E5BAD5EEDu;

static void test_fuzz(void)
{
    static const char route_chars[] = "0123456789ABCDEFabcdefx \t\n";
    static const char host_chars[] = "ab.:[]%0123456789 -_\"";
    int gateways = 0, hosts = 0;

    for (int round = 0; round < 5000; round++) {
        struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
        size_t n = test_rand(&rng) % 60;

        for (size_t i = 0; i < n; i++)
            strbuf_addch(&in, route_chars[test_rand(&rng) % (sizeof(route_chars) - 1)]);
        if (test_rand(&rng) % 4 == 0)
            strbuf_addstr(&in, "\neth0\t00000000\t0101A8C0\t0003\n");
        if (hostenv_default_gateway(in.buf, &out) == 0) {
            unsigned a, b, c, d;
            char tail;

            gateways++;
            CHECK(sscanf(out.buf, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4);
            CHECK(a < 256 && b < 256 && c < 256 && d < 256);
        } else {
            CHECK_INT(out.len, ==, 0);
        }
        strbuf_reset(&in);
        strbuf_reset(&out);
        n = test_rand(&rng) % 12;
        for (size_t i = 0; i < n; i++)
            strbuf_addch(&in, host_chars[test_rand(&rng) % (sizeof(host_chars) - 1)]);
        if (hostenv_parse_host_port(in.buf, 2331, &out) == 0) {
            const char *colon = strrchr(out.buf, ':');
            long port = colon ? strtol(colon + 1, NULL, 10) : 0;

            hosts++;
            /* Accepted: no blank or quote gets into the JSON or the printed command. */
            CHECK(strpbrk(out.buf, " \"") == NULL);
            CHECK(port >= 1 && port <= 65535);
        } else {
            CHECK_INT(out.len, ==, 0);
        }
        strbuf_release(&in);
        strbuf_release(&out);
    }
    CHECK_INT(gateways, >, 1000);
    CHECK_INT(hosts, >, 100);
}

TESTS(TEST(test_wsl), TEST(test_gateway), TEST(test_host_port), TEST(test_fuzz))
