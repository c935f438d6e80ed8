// Stand-in for boards/OPENMV4/boot_config.h.
#ifndef __BOOT_CONFIG_H__
#define __BOOT_CONFIG_H__
#define OMV_BOOT_VID (0x37C5)
#define OMV_BOOT_PID (0x9204)
#endif // __BOOT_CONFIG_H__
