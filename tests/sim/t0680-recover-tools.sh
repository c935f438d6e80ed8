#!/usr/bin/env bash
# omvdev recover for the N6, RT1060 and AE3: the external tools are stand-ins that record
# their arguments (compared with seed 004 §10.8 line by line); the USB devices the steps
# wait for are virtual, and the final `omvdev flash` writes the virtual bootloader for real.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
repo="$TMPD/openmv"
sdk="$TMPD/sdk"
se="$TMPD/setools"
stand="$TEST_DATA/stand-in-tools"
log="$TMPD/tools.log"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$sdk/stcubeprog/bin" "$sdk/python/bin" "$se"
: >"$repo/Makefile"
ln -s "$stand/standin" "$sdk/stcubeprog/bin/STM32_Programmer_CLI"
ln -s "$stand/standin" "$sdk/python/bin/python3"
for n in maintenance updateSystemPackage app-write-mram; do ln -s "$stand/standin" "$se/$n"; done
export SDK_DIR="$sdk" STANDIN_LOG="$log"
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
mk() { # TARGET FILE SIZE...
    local b="$repo/build/$1/bin"
    shift
    mkdir -p "$b"
    while [ $# -gt 0 ]; do head -c "$2" /dev/urandom >"$b/$1"; shift 2; done
}
mk OPENMV_N6 FlashLayout.tsv 300 firmware.bin 100000 romfs0.img 50000
mk OPENMV_RT1060 sdphost_flash_loader.bin 20000 blhost_flash_loader.bin 70000 firmware.bin 200000
mk OPENMV_AE3 bootloader.bin 60000 firmware_pad.toc 4096 firmware_M55_HP.bin 50000 \
    firmware_M55_HE.bin 40000 romfs1.img 30000 romfs0.img 20000
same_log() { # the recorded argument lists, with the scratch directory masked
    sed "s|$TMPD|TMP|g" "$log" >"$TMPD/log.txt"
    same_file "$TMPD/log.txt" "$TMPD/want.txt"
}

t "OPENMV_N6: BOOT-VCC -> STM32_Programmer_CLI with FlashLayout.tsv -> omvdev flash"
: >"$log"
sim --device usb:0483:DF11,serial=ROM --device openmv-bl:OPENMV_N6,serial=N6 --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV_N6 --yes
[ "$code" -eq 0 ] && pass || fail "exit $code"
cat >"$TMPD/want.txt" <<'W'
STM32_Programmer_CLI -c port=USB1 -d TMP/openmv/build/OPENMV_N6/bin/FlashLayout.tsv
W
same_log
out_has "STM32_Programmer_CLI (stand-in): ok"
err_has "omvdev: \$ $OMVDEV flash -t OPENMV_N6 --wait 30 --serial N6"
b="$repo/build/OPENMV_N6/bin"
slice "$S/N6/xspi.bin" $((0x80000)) 100000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware.bin"
slice "$S/N6/xspi.bin" $((0x800000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/romfs0.img"

t "OPENMV_N6: the programmer fails: exit 1, the step and the tool named, nothing flashed"
: >"$log"
STANDIN_FAIL=STM32_Programmer_CLI sim --device usb:0483:DF11 --device openmv-bl:OPENMV_N6,serial=F6 \
    --state "$S" -- "$OMVDEV" -C "$repo" recover -t OPENMV_N6 --yes
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "omvdev: error: step 2: '$sdk/stcubeprog/bin/STM32_Programmer_CLI' failed (exit status 1)"
err_has "hint: its output is above; nothing after step 2 was done"
err_has "STM32_Programmer_CLI: Error: no response from target"
[ "$(tr -d '\377' <"$S/F6/xspi.bin" | wc -c)" -eq 0 ] && pass || fail "flash ran after a failure"

t "OPENMV_N6: the programmer hangs: stopped after --timeout, exit 1"
STANDIN_HANG=STM32_Programmer_CLI sim --device usb:0483:DF11 --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV_N6 --yes --timeout 1
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "did not finish within 1 s"
err_has "hint: the tool hung"

rt_want() { # the seed's sequence (§10.8.3), through the SDK's python; $1: with the fuse write
    local P="python3 -m spsdk.apps"
    local D="TMP/openmv/build/OPENMV_RT1060/bin"
    {
        echo "$P.sdphost -u 0x1FC9,0x0135 -- write-file 0x20001C00 $D/sdphost_flash_loader.bin"
        echo "$P.sdphost -u 0x1FC9,0x0135 -- jump-address 0x20001C00"
        echo "$P.blhost -u 0x15A2,0x0073 -- fill-memory 0x2000 4 0xC0000008 word"
        echo "$P.blhost -u 0x15A2,0x0073 -- configure-memory 9 0x2000"
        echo "$P.blhost -u 0x15A2,0x0073 -t 120000 -- flash-erase-region 0x60000000 0x1000"
        echo "$P.blhost -u 0x15A2,0x0073 -- fill-memory 0x2000 4 0xF000000F word"
        echo "$P.blhost -u 0x15A2,0x0073 -- configure-memory 9 0x2000"
        echo "$P.blhost -u 0x15A2,0x0073 -t 120000 -- flash-erase-region 0x60001000 0x12000"
        echo "$P.blhost -u 0x15A2,0x0073 -- write-memory 0x60001000 $D/blhost_flash_loader.bin"
        echo "$P.blhost -u 0x15A2,0x0073 -t 120000 -- flash-erase-region 0x60040000 0x31000"
        echo "$P.blhost -u 0x15A2,0x0073 -- write-memory 0x60040000 $D/firmware.bin"
        echo "$P.blhost -u 0x15A2,0x0073 -- efuse-read-once 0x06"
        [ "$1" = burn ] && echo "$P.blhost -u 0x15A2,0x0073 -- efuse-program-once 0x06 00000010"
        [ "$1" = stop ] || echo "$P.blhost -u 0x15A2,0x0073 -- reset"
    } >"$TMPD/want.txt"
}
RT="--device usb:1FC9:0135,serial=SDP --device usb:15A2:0073,serial=FL"

t "OPENMV_RT1060 with --burn-fuse --yes: the whole sequence, the fuse written once"
: >"$log"
sim $RT -- "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --yes --burn-fuse
[ "$code" -eq 0 ] && pass || fail "exit $code"
rt_want burn
same_log
err_has "omvdev: boot-source fuse word 0x06 reads 0x00000000: not set"
err_has "Remove the SBL-3.3V jumper and power-cycle the camera."

t "OPENMV_RT1060 when the fuse already reads as set: the write is skipped, even with --burn-fuse"
: >"$log"
STANDIN_FUSE=0x10 sim $RT -- "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --yes --burn-fuse
[ "$code" -eq 0 ] && pass || fail "exit $code"
rt_want skip
same_log
err_has "omvdev: the boot-source fuse already reads as set: step 15 skipped"

t "OPENMV_RT1060 with --yes alone: everything but the fuse, then a clear stop (exit 1)"
: >"$log"
sim $RT -- "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --yes
[ "$code" -eq 1 ] && pass || fail "exit $code"
rt_want stop
same_log
err_has "omvdev: error: the boot-source eFuse is not set, and burning it is irreversible: omvdev does not do it without both --burn-fuse and --yes"

t "OPENMV_RT1060 with --burn-fuse alone, not on a terminal: refused before anything runs"
: >"$log"
sim $RT -- "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --burn-fuse </dev/null
[ "$code" -eq 2 ] && pass || fail "exit $code"
[ -s "$log" ] && fail "a tool ran" || pass

t "OPENMV_RT1060 on a terminal: the exact phrase writes the fuse"
: >"$log"
PTY_INPUT=$'y\nburn fuse 0x06\n' sim $RT -- python3 "$TEST_DATA/pty-run.py" "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "Type 'burn fuse 0x06' to write it" "$out" && pass || fail "no phrase prompt"
rt_want burn
same_log

t "OPENMV_RT1060 on a terminal: anything but the phrase leaves the fuse alone"
: >"$log"
PTY_INPUT=$'y\nyes\n' sim $RT -- python3 "$TEST_DATA/pty-run.py" "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --burn-fuse
[ "$code" -eq 1 ] && pass || fail "exit $code"
grep -q "the eFuse was not written (the phrase was not typed)" "$out" && pass || fail "no refusal"
rt_want stop
same_log

t "OPENMV_RT1060 on a terminal: answering no to the start runs nothing"
: >"$log"
PTY_INPUT=$'n\n' sim $RT -- python3 "$TEST_DATA/pty-run.py" "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060
[ "$code" -eq 1 ] && pass || fail "exit $code"
grep -q "stopped: nothing was done" "$out" && pass || fail "no stop message"
[ -s "$log" ] && fail "a tool ran" || pass

t "OPENMV_RT1060: a failing write stops the sequence before the fuse"
: >"$log"
STANDIN_FAIL=blhost:write-memory sim $RT -- "$OMVDEV" -C "$repo" recover -t OPENMV_RT1060 --yes --burn-fuse
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "omvdev: error: step 11: '$sdk/python/bin/python3' failed (exit status 1)"
grep -q "efuse" "$log" && fail "went on to the fuse" || pass

t "OPENMV_AE3: SE tools (maintenance, updateSystemPackage, app-write-mram) -> the four-image flash"
: >"$log"
sim --device usb:0403:6015,serial=FTDI --device openmv-bl:OPENMV_AE3,serial=AE --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV_AE3 --yes --update-se --se-tools "$se"
[ "$code" -eq 0 ] && pass || fail "exit $code"
cat >"$TMPD/want.txt" <<'W'
maintenance -opt sesbanner
updateSystemPackage
app-write-mram -i [TMP/openmv/build/OPENMV_AE3/bin/bootloader.bin 0x80000000 TMP/openmv/build/OPENMV_AE3/bin/firmware_pad.toc 0x8057E000]
W
same_log
b="$repo/build/OPENMV_AE3/bin"
slice "$S/AE/mram.bin" $((0x20000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware_M55_HP.bin"
slice "$S/AE/ospi.bin" $((0x800000)) 20000 >"$TMPD/got"; same_file "$TMPD/got" "$b/romfs0.img"

t "OPENMV_AE3: a CH340 adapter is accepted too; without --update-se the package is left alone"
: >"$log"
sim --device usb:1A86:55D3 --device openmv-bl:OPENMV_AE3,serial=AF --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV_AE3 --yes --se-tools "$se"
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q updateSystemPackage "$log" && fail "updateSystemPackage ran" || pass

finish
