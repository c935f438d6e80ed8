/*
 * sysboot VID:PID [SERIAL]: send the OpenMV protocol's SYS_BOOT to a camera
 * through omvdev's own USB code (flash/omvproto.c). A test tool for the
 * virtual camera until `omvdev flash` does this by itself.
 */
#include "lib/compat.h"

#include "flash/omvproto.h"
#include "flash/usb.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    struct usb_ctx *u = NULL;
    unsigned vid, pid;
    char err[512];
    int rc;

    if (argc < 2 || argc > 3 || sscanf(argv[1], "%4x:%4x", &vid, &pid) != 2) {
        fprintf(stderr, "usage: sysboot VID:PID [SERIAL]\n");
        return 2;
    }
    rc = usb_open_ctx(&u, err, sizeof(err));
    if (rc == 0)
        rc = omvproto_enter_bootloader(u, (uint16_t)vid, (uint16_t)pid, argc == 3 ? argv[2] : NULL,
                                       err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "sysboot: %s\n", err);
    usb_close_ctx(u);
    return rc < 0 ? 1 : 0;
}
