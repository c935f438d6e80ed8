/*
 * A device model driven in-process as a USB device (see host.h).
 */
#include "lib/compat.h"
#include "tests/sim/host.h"

#include "flash/usb.h"

#include <string.h>

int sim_host_control(struct sim_dev *d, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                     uint8_t *data, uint16_t len)
{
    struct sim_setup s = {type, req, value, index, len};
    uint8_t buf[65536]; /* what a model may write is bounded by wLength, not by data */
    size_t n = len;
    int rc;

    if (!(type & 0x80) && len)
        memcpy(buf, data, len);
    rc = sim_dev_control(d, &s, buf, &n);
    if (rc == SIM_STALL)
        return USB_ERR_PIPE;
    if (rc == SIM_GONE)
        return USB_ERR_NODEV;
    if (rc != SIM_OK)
        return USB_ERR_IO;
    if (type & 0x80) {
        memcpy(data, buf, n);
        return (int)n;
    }
    return (int)len;
}

int sim_host_set_alt(struct sim_dev *d, uint8_t intf, uint8_t alt)
{
    if (d->gone)
        return USB_ERR_NODEV;
    sim_dev_set_alt(d, intf, alt);
    return 0;
}

void sim_host_sleep(struct sim_dev *d, unsigned ms)
{
    sim_dev_advance(d, d->now_us + (uint64_t)ms * 1000);
}
