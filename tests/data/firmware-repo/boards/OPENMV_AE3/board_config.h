// Stand-in for boards/OPENMV_AE3/board_config.h: ROMFS partitions only; the
// cores' MRAM regions are not described here (omvdev falls back to its database).
#define OMV_ROMFS_PART0_ORIGIN 0xA0800000
#define OMV_ROMFS_PART0_LENGTH 0x01800000
#define OMV_ROMFS_PART1_ORIGIN 0x8047E000
#define OMV_ROMFS_PART1_LENGTH 1M
