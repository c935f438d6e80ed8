PORT=alif
MCU_SERIES=E7
CPU=cortex-m55
# the HE core's MRAM region is 1.37 MiB
FIRMWARE_SIZE ?= 1200000
