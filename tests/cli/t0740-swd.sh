#!/usr/bin/env bash
# omvdev flash --swd: STM32_Programmer_CLI (ST-Link), JLinkExe (J-Link) and OpenOCD (ST-Link
# or CMSIS-DAP) are stand-ins that record their arguments; compared with upstream's `make
# deploy` and J-Link Commander's script. The real OpenOCD's acceptance is t0751-openocd.
. "$(dirname "$0")/lib.sh"

repo="$TMPD/openmv"
sdk="$TMPD/sdk"
stand="$TEST_DATA/stand-in-tools"
log="$TMPD/tools.log"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$sdk/stcubeprog/bin/ExternalLoader" "$TMPD/path"
: >"$repo/Makefile"
ln -s "$stand/standin" "$sdk/stcubeprog/bin/STM32_Programmer_CLI"
: >"$sdk/stcubeprog/bin/ExternalLoader/MX25UM51245G_STM32N6570-NUCLEO.stldr"
ln -s "$stand/standin" "$TMPD/path/JLinkExe"
export SDK_DIR="$sdk" STANDIN_LOG="$log" PATH="$TMPD/path:$PATH"
for T in OPENMV2 OPENMV4 OPENMV_N6; do
    mkdir -p "$repo/build/$T/bin"
    for f in firmware.bin romfs0.img openmv.bin; do head -c 1000 /dev/zero >"$repo/build/$T/bin/$f"; done
done
b="$repo/build/OPENMV4/bin"

t "ST-Link: STM32_Programmer_CLI from the SDK, firmware and ROMFS at their addresses, -hardRst"
: >"$log"
expect 0 -C "$repo" flash --swd -t OPENMV4
echo "STM32_Programmer_CLI -c port=SWD mode=HOTPLUG ap=1 -w $b/firmware.bin 0x08040000 -w $b/romfs0.img 0x081E0000 -hardRst" >"$TMPD/want"
same_file "$log" "$TMPD/want"
err_has "omvdev: done: OPENMV4 flashed over SWD and restarted"
out_has "STM32_Programmer_CLI (stand-in): ok"

t "N6: openmv.bin at 0x70000000 through the external loader, as make deploy does"
: >"$log"
expect 0 -C "$repo" flash --swd -t OPENMV_N6 --probe stlink
echo "STM32_Programmer_CLI -c port=SWD mode=HOTPLUG ap=1 -el $sdk/stcubeprog/bin/ExternalLoader/MX25UM51245G_STM32N6570-NUCLEO.stldr -w $repo/build/OPENMV_N6/bin/openmv.bin 0x70000000 -hardRst" >"$TMPD/want"
same_file "$log" "$TMPD/want"

t "N6 without the loader in the SDK: refused before the programmer runs"
mv "$sdk/stcubeprog/bin/ExternalLoader" "$TMPD/el"
: >"$log"
expect 1 -C "$repo" flash --swd -t OPENMV_N6
err_has "omvdev: error: cannot open '$sdk/stcubeprog/bin/ExternalLoader/MX25UM51245G_STM32N6570-NUCLEO.stldr'"
[ -s "$log" ] && fail "the programmer ran" || pass
mv "$TMPD/el" "$sdk/stcubeprog/bin/ExternalLoader"

t "J-Link: JLinkExe with a generated command script (device, SWD, speed, loadbin, r, g, q)"
: >"$log"
expect 1 -C "$repo" flash --swd -t OPENMV4 --probe jlink --speed 12000 --firmware "$TMPD/other.bin"
err_has "omvdev: error: cannot open '$TMPD/other.bin': No such file or directory"
[ -s "$log" ] && fail "a tool ran" || pass
head -c 500 /dev/zero >"$TMPD/other.bin"
: >"$log"
expect 0 -C "$repo" flash --swd -t OPENMV4 --probe jlink --speed 12000 --firmware "$TMPD/other.bin"
sed 's|/tmp/omvdev-jlink-[A-Za-z0-9]*|SCRIPT|' "$log" >"$TMPD/got"
cat >"$TMPD/want" <<W
JLinkExe -nogui 1 -ExitOnError 1 -CommanderScript SCRIPT
  | device STM32H743VI
  | si SWD
  | speed 12000
  | connect
  | r
  | h
  | loadbin "$TMPD/other.bin",0x08040000
  | loadbin "$b/romfs0.img",0x081E0000
  | r
  | g
  | q
W
same_file "$TMPD/got" "$TMPD/want"
ls /tmp/omvdev-jlink-* 2>/dev/null | grep -q . && fail "the script was left behind" || pass

t "--dry-run prints the command and the script, runs nothing"
: >"$log"
expect 0 -C "$repo" flash --swd -t OPENMV4 --probe jlink --dry-run
out_has "flash OPENMV4 (OpenMV Cam H7) over SWD with a J-Link:"
out_has "  \$ $TMPD/path/JLinkExe -nogui 1 -ExitOnError 1 -CommanderScript SCRIPT"
out_has "    loadbin \"$b/firmware.bin\",0x08040000"
[ -s "$log" ] && fail "a tool ran" || pass

t "unsupported combinations are refused with the reason and the board's probes"
expect 2 -C "$repo" flash --swd -t OPENMV2 --probe jlink
err_has "omvdev: error: OPENMV2 cannot be flashed over SWD with a J-Link: the board database names no J-Link device for it"
err_has "hint: its probes: stlink cmsis-dap (--probe NAME)"
expect 2 flash --swd -t ARDUINO_NANO_RP2040_CONNECT
err_has "the board database names no images to write over SWD for ARDUINO_NANO_RP2040_CONNECT"
err_has "hint: omvdev flash -t ARDUINO_NANO_RP2040_CONNECT flashes it over USB"
expect 2 flash --swd -t OPENMV_N6 --probe stlink --server openocd
err_has "OPENMV_N6 cannot be flashed over SWD with an ST-Link: OpenOCD (Debian's 0.12) has no target configuration for its STM32N657"
expect 2 flash --swd -t MPS2_AN500
err_has "omvdev: error: MPS2_AN500 is an emulated board: there is nothing to flash, QEMU loads the ELF"
expect 2 flash --swd -t OPENMV4 --probe cmsis-dap --server st
err_has "--server st is for --probe stlink, not cmsis-dap"
expect 2 flash --swd -t OPENMV_AE3
err_has "the board database names no images to write over SWD for OPENMV_AE3"
expect 2 flash --swd
err_has "--swd needs the board: omvdev flash --swd -t TARGET"
expect 2 flash --swd -t OPENMV4 --erase-fs
err_has "--erase-fs does not go with --swd"
expect 2 flash --swd -t OPENMV4 --probe openocd
err_has "openocd"
expect 2 flash --swd -t OPENMV4 --probe jlink --speed fast
err_has "invalid value 'fast' for --speed: expected a number from 1 to 100000"
expect 2 flash --swd -t OPENMV4 --wait 3601
err_has "invalid value '3601' for --wait: expected a number from 0 to 3600"

t "OpenOCD: CMSIS-DAP, an ST-Link with --server openocd, or the config's debug.probe"
ln -s "$stand/standin" "$TMPD/path/openocd"
for how in "--probe cmsis-dap" "--probe stlink --server openocd --speed 0x3e8" "-c debug.probe=cmsis-dap"; do
    : >"$log"
    case $how in -c*) expect 0 $how -C "$repo" flash --swd -t OPENMV4 --wait 0x10 ;;
    *) expect 0 -C "$repo" flash --swd -t OPENMV4 $how ;; esac
    iface=$(case $how in *stlink*) echo stlink ;; *) echo cmsis-dap ;; esac)
    speed=$(case $how in *0x3e8*) echo " -c [adapter speed 1000]" ;; esac)
    echo "openocd -f interface/$iface.cfg -f target/stm32h7x_dual_bank.cfg$speed -c [program {$b/firmware.bin} verify 0x08040000] -c [program {$b/romfs0.img} verify reset exit 0x081E0000]" >"$TMPD/want"
    same_file "$TMPD/want" "$log"
    err_has "omvdev: done: OPENMV4 flashed over SWD and restarted"
done
: >"$log"
mkdir -p "$TMPD/a{b}"
head -c 10 /dev/zero >"$TMPD/a{b}/fw.bin"
expect 1 -C "$repo" flash --swd -t OPENMV4 --probe cmsis-dap --firmware "$TMPD/a{b}/fw.bin"
err_has "omvdev: error: cannot name '$TMPD/a{b}/fw.bin' in an OpenOCD command (it holds a brace, a backslash or a newline)"
[ -s "$log" ] && fail "a tool ran" || pass
STANDIN_FAIL=openocd expect 3 -C "$repo" flash --swd -t OPENMV4 --probe cmsis-dap
err_has "omvdev: error: '$TMPD/path/openocd' failed (exit status 1)"

t "the probe tool fails: exit 3, its output shown, a hint"
STANDIN_FAIL=STM32_Programmer_CLI expect 3 -C "$repo" flash --swd -t OPENMV4
err_has "omvdev: error: '$sdk/stcubeprog/bin/STM32_Programmer_CLI' failed (exit status 1)"
err_has "STM32_Programmer_CLI: Error: no response from target"
err_has "hint: its output is above; check the probe's wiring and power"

t "the probe tool hangs: stopped after --wait, exit 3"
STANDIN_HANG=JLinkExe expect 3 -C "$repo" flash --swd -t OPENMV4 --probe jlink --wait 1
err_has "did not finish within 1 s"

t "without SDK_DIR the SDK is the one the repository's SDK_VERSION names, in \$HOME"
echo 1.6.0 >"$repo/SDK_VERSION"
mkdir -p "$HOME/openmv-sdk-1.6.0/stcubeprog/bin"
ln -s "$stand/standin" "$HOME/openmv-sdk-1.6.0/stcubeprog/bin/STM32_Programmer_CLI"
: >"$log"
env -u SDK_DIR "$OMVDEV" -C "$repo" flash --swd -t OPENMV4 >"$out" 2>"$err"
[ $? -eq 0 ] && pass || fail "exit"
err_has "omvdev: \$ $HOME/openmv-sdk-1.6.0/stcubeprog/bin/STM32_Programmer_CLI -c port=SWD"
rm "$repo/SDK_VERSION"

t "no programmer anywhere: a doctor-style hint"
SDK_DIR="$TMPD/nosdk" expect 1 -C "$repo" flash --swd -t OPENMV4
err_has "omvdev: error: 'STM32_Programmer_CLI' is not on PATH (and no SDK was found)"
err_has "hint: install the OpenMV SDK (omvdev sdk install) or set SDK_DIR"
PATH=/usr/bin:/bin expect 1 -C "$repo" flash --swd -t OPENMV4 --probe jlink
err_has "hint: install SEGGER's J-Link Software Pack and put its directory on PATH"

finish
