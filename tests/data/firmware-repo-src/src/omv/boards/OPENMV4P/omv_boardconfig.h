/*
 * Stand-in for src/omv/boards/OPENMV4P/omv_boardconfig.h (v4.6.20): the flash
 * layout lines as upstream writes them, nothing else.
 */
#ifndef __OMV_BOARDCONFIG_H__
#define __OMV_BOARDCONFIG_H__

// Flash configuration.
#define OMV_FLASH_ORIGIN                      0x08000000
#define OMV_FLASH_LENGTH                      2048K

#define OMV_FLASH_BOOT_ORIGIN                 0x08000000
#define OMV_FLASH_BOOT_LENGTH                 128K
#define OMV_FLASH_FFS_ORIGIN                  0x08020000
#define OMV_FLASH_FFS_LENGTH                  128K
#define OMV_FLASH_TXT_ORIGIN                  0x08040000
#define OMV_FLASH_TXT_LENGTH                  1792K

#endif //__OMV_BOARDCONFIG_H__
