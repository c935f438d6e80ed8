// Stand-in for boards/MPS2_AN500/board_config.h (QEMU): no flash partitions.
#define OMV_ROMFS_PART0_ORIGIN 0x60C00000
#define OMV_ROMFS_PART0_LENGTH 4M
