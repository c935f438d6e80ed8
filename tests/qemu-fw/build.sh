#!/bin/sh
# Build the test firmware for both QEMU machines into $1 (default: ./qemu-fw):
#   $1/mps2-an500.elf (Cortex-M7) and $1/mps3-an547.elf (Cortex-M55), with -g -Og.
# Exits 77 (skipped) when Debian's arm-none-eabi-gcc is not installed.
set -eu
out=${1:-qemu-fw}
src=$(cd "$(dirname "$0")" && pwd)
cc=${ARM_CC:-arm-none-eabi-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "skipped: $cc not found (apt-get install gcc-arm-none-eabi)" >&2
    exit 77
fi
mkdir -p "$out"
build() { # machine cpu uart0 ram
    "$cc" -mcpu="$2" -mthumb -g -Og -std=c11 -Wall -Wextra -Werror -ffreestanding -nostdlib \
        -DFW_MACHINE="\"$1\"" -DUART0_BASE="$3" -Wl,--defsym=RAM_ORIGIN="$4" \
        -T "$src/fw.ld" -o "$out/$1.elf.tmp" "$src/fw.c" -lgcc
    mv "$out/$1.elf.tmp" "$out/$1.elf"
}
# UART0 of the MPS2 AN500 FPGA image and of the MPS3 AN547 (its Secure alias: the
# Cortex-M55 starts in Secure state); RAM is each machine's DTCM/SSRAM at 0x20000000.
build mps2-an500 cortex-m7 0x40004000u 0x20000000
build mps3-an547 cortex-m55 0x59303000u 0x20000000
echo "built $out/mps2-an500.elf $out/mps3-an547.elf"
