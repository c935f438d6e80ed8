// Stand-in for boards/OPENMV_N6/boot_config.h: the FSBL lives in SRAM.
#define OMV_FLASH_BOOT_ORIGIN 0x34180400
#define OMV_FLASH_BOOT_LENGTH (512 * 1024)
