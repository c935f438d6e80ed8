// Stand-in for boards/OPENMV4P/board_config.h: the flash layout only.
#define OMV_FLASH_BOOT_LENGTH  128K
#define OMV_FLASH_FFS_LENGTH   128K
#define OMV_FLASH_TXT_LENGTH   1792K
#define OMV_FLASH_EXT_LENGTH   32M
#define OMV_ROMFS_PART0_ORIGIN 0x91800000
#define OMV_ROMFS_PART0_LENGTH 8M
