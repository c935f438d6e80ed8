// Stand-in for boards/OPENMV_N6/board_config.h: the flash layout only.
#define OMV_FLASH_TXT_ORIGIN   0x70080000
#define OMV_FLASH_TXT_LENGTH   3584K
#define OMV_ROMFS_PART0_ORIGIN 0x70800000
#define OMV_ROMFS_PART0_LENGTH 0x01800000
