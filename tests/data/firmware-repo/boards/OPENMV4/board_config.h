// Stand-in for boards/OPENMV4/board_config.h: the flash layout only.
#ifndef __BOARD_CONFIG_H__
#define __BOARD_CONFIG_H__
// Flash configuration.
#define OMV_FLASH_BOOT_ORIGIN 0x08000000
#define OMV_FLASH_BOOT_LENGTH 128K
#define OMV_FLASH_FFS_ORIGIN  0x08020000
#define OMV_FLASH_FFS_LENGTH  128K
#define OMV_FLASH_TXT_ORIGIN  0x08040000
#define OMV_FLASH_TXT_LENGTH  1664K

// ROMFS configuration.
#define OMV_ROMFS_PART0_ORIGIN 0x081E0000
#define OMV_ROMFS_PART0_LENGTH 128K
#endif //__BOARD_CONFIG_H__
