/*
 * A device model driven in-process as omvdev's DFU code drives a USB device
 * through its struct dfu_io (flash/dfu.h): control requests go to
 * sim_dev_control() and come back with the USB layer's error codes, and
 * sleeps move the model's virtual clock. The unit tests of the DFU engine and
 * the flash session wrap these with their own counters; they run where
 * umockdev does not.
 */
#ifndef OMVDEV_TESTS_SIM_HOST_H
#define OMVDEV_TESTS_SIM_HOST_H

#include "lib/compat.h"
#include "tests/sim/sim.h"

#include <stdint.h>

/* Bytes received (IN) or sent (OUT), or USB_ERR_PIPE (a STALL), USB_ERR_NODEV
 * (the device left the bus) or USB_ERR_IO. */
int sim_host_control(struct sim_dev *d, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                     uint8_t *data, uint16_t len);
/* 0, or USB_ERR_NODEV once the device has left the bus. */
int sim_host_set_alt(struct sim_dev *d, uint8_t intf, uint8_t alt);
void sim_host_sleep(struct sim_dev *d, unsigned ms);

#endif
