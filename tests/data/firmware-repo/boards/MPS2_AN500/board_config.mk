PORT=qemu
CPU=cortex-m7
OMV_ENABLE_BL=0
