#!/usr/bin/env bash
# omvdev recover against the virtual camera: a damaged bootloader on each STM32 camera is
# rewritten through the ST ROM (omvdev's DfuSe code), then the firmware is flashed by the
# OpenMV bootloader that comes back; memory compared byte for byte.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
repo="$TMPD/openmv"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython"
: >"$repo/Makefile"
head -c 131072 /dev/urandom >"$TMPD/damaged.bin"
head -c 4096 /dev/urandom >"$TMPD/fs.bin"
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
erased() { slice "$1" "$2" "$3" | tr -d '\377' | wc -c | grep -qx 0; }
mkbuild() { # TARGET bootloader-size
    local b="$repo/build/$1/bin"
    mkdir -p "$b"
    head -c "$2" /dev/urandom >"$b/bootloader.bin"
    head -c 200000 /dev/urandom >"$b/firmware.bin"
    head -c 60000 /dev/urandom >"$b/romfs0.img"
    head -c 600000 /dev/urandom >"$b/openmv.bin" # a combined image: must never be used
}
erases() { # log -> the sectors erased, one a line
    python3 - "$1" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
for r in log["requests"]:
    for n in r.get("notes", []):
        if n.startswith("erase"):
            print(n)
PY
}

# TARGET  ST-ROM  bootloader-size  firmware-address  romfs-address  filesystem-address (internal)
while read -r T ROM BL FW RF FS; do
    t "$T ($ROM): damaged bootloader -> ST ROM -> bootloader.bin -> OpenMV bootloader -> firmware"
    mkbuild "$T" "$BL"
    b="$repo/build/$T/bin"
    sim --device "st-rom:$ROM,serial=$T,load=$TMPD/damaged.bin@0x08000000+$TMPD/fs.bin@$FS,after=openmv-bl:$T" \
        --state "$S" -- "$OMVDEV" -C "$repo" recover -t "$T" --yes
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    err_has "omvdev: wrote and verified bootloader.bin: $BL bytes at 0x08000000"
    err_has "omvdev: \$ $OMVDEV flash -t $T --wait 30 --serial $T"
    err_has "omvdev: recovery of $T finished"
    m="$S/$T/internal.bin"
    slice "$m" 0 "$BL" >"$TMPD/got"; same_file "$TMPD/got" "$b/bootloader.bin"
    slice "$m" $((FW - 0x08000000)) 200000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware.bin"
    if [ "$RF" != - ]; then
        slice "$m" $((RF - 0x08000000)) 60000 >"$TMPD/got"; same_file "$TMPD/got" "$b/romfs0.img"
    fi
    # the filesystem is untouched (no --erase-fs); the combined openmv.bin was not written
    slice "$m" $((FS - 0x08000000)) 4096 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/fs.bin"
    # the ROM erased only the bootloader's sectors
    erases "$S/$T/log-1-st-rom.json" >"$TMPD/erases"
    [ -s "$TMPD/erases" ] && ! grep -qv "0x0800[0-7]" "$TMPD/erases" && pass || { cat "$TMPD/erases" >&2; fail "erased beyond the bootloader"; }
    ls "$S/$T" | grep -q "camera.json" && pass || fail "the camera did not come back"
done <<'LIST'
OPENMV2 F427 30000 0x08010000 0x080E0000 0x08008000
OPENMV3 F765 30000 0x08020000 0x081C0000 0x08008000
OPENMV4 H743 100000 0x08040000 0x081E0000 0x08020000
OPENMV4P H743 100000 0x08040000 - 0x08020000
OPENMVPT H743 100000 0x08040000 - 0x08020000
LIST

t "a Rev V H7: only bank 1 is erased, so no erase stalls; --erase-fs clears the filesystem"
b="$repo/build/OPENMV4/bin"
sim --device "st-rom:H743,rev=V,serial=V1,load=$TMPD/damaged.bin@0x08000000+$TMPD/fs.bin@0x08020000,after=openmv-bl:OPENMV4" \
    --state "$S" -- "$OMVDEV" -v -C "$repo" recover -t OPENMV4 --yes --erase-fs
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: \$ $OMVDEV -v flash -t OPENMV4 --wait 30 --erase-fs --serial V1"
err_lacks "Rev V ROM quirk"
erases "$S/V1/log-1-st-rom.json" >"$TMPD/erases"
[ "$(cat "$TMPD/erases")" = "erase internal 0x08000000+131072" ] && pass || { cat "$TMPD/erases" >&2; fail "erases"; }
slice "$S/V1/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$b/bootloader.bin"
slice "$S/V1/internal.bin" $((0x40000)) 200000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware.bin"
[ "$(slice "$S/V1/internal.bin" $((0x20000)) 4096 | tr -d '\000' | wc -c)" -eq 0 ] && pass || fail "fs not erased"

t "the new bootloader times out into intact firmware: the camera is asked to SYS_BOOT, then flashed"
sim --device "st-rom:H743,serial=A2,load=$TMPD/damaged.bin@0x08000000,after=camera:OPENMV4" \
    --state "$S" -- "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: found the camera's firmware 37C5:1204, serial A2"
err_has "omvdev: wrote firmware.bin"
slice "$S/A2/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$b/bootloader.bin"
slice "$S/A2/internal.bin" $((0x40000)) 200000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware.bin"

t "--combined on a Rev V H7: openmv.bin reaches bank 2, whose stalled erases are recovered"
head -c 1200000 /dev/urandom >"$TMPD/fw-big.bin"
{ cat "$b/bootloader.bin"; head -c $((0x40000 - 100000)) /dev/zero | tr '\000' '\377'; cat "$TMPD/fw-big.bin"; } >"$b/openmv.bin"
sim --device "st-rom:H743,rev=V,serial=C1,load=$TMPD/damaged.bin@0x08000000+$TMPD/fs.bin@0x08020000,after=openmv-bl:OPENMV4" \
    --state "$S" -- "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes --combined
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "THE FILESYSTEM TOO"
err_has "stalled page erase"
err_has "(STM32H7 Rev V ROM quirk)"
err_has "omvdev: wrote and verified openmv.bin: $(wc -c <"$b/openmv.bin") bytes at 0x08000000"
erased "$S/C1/internal.bin" $((0x20000)) $((0x20000)) && pass || fail "the filesystem survived --combined"
slice "$S/C1/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$b/bootloader.bin"
slice "$S/C1/internal.bin" $((0x40000)) 200000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware.bin"
rm "$b/openmv.bin"
expect 2 recover -t OPENMV_N6 --combined --dry-run
err_has "--combined (openmv.bin) is for the STM32 cameras' ROM recovery only"

t "on a terminal: the plan, one question, then the same recovery waiting on USB"
PTY_INPUT=$'y\n' sim --device "st-rom:H743,serial=I1,load=$TMPD/damaged.bin@0x08000000,after=openmv-bl:OPENMV4" \
    --state "$S" -- python3 "$TEST_DATA/pty-run.py" "$OMVDEV" -C "$repo" recover -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "Start? Each hardware step is waited for on USB (Ctrl-C stops). \[y/N\]" "$out" && pass || fail "no question"
grep -q "recovery of OPENMV4 finished" "$out" && pass || fail "not finished"
slice "$S/I1/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$b/bootloader.bin"

t "the ST ROM unplugged mid-write: exit 3, said clearly, nothing flashed after it"
sim --device "st-rom:H743,serial=U1,fault=unplug-bytes:20000,load=$TMPD/damaged.bin@0x08000000,after=openmv-bl:OPENMV4" \
    --state "$S" -- "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: bootloader.bin:"
err_has "hint: the chip's ROM is untouched: unplug and replug with the jumper on"
err_lacks "flash -t OPENMV4"
erased "$S/U1/internal.bin" $((0x20000)) $((0x1E0000)) && pass || fail "wrote beyond the bootloader"

t "no ST ROM appears: exit 3 after --wait, with the jumper hint"
sim -- "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes --wait 1
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: the ST system DFU bootloader (0483:DF11) did not appear within 1 s"
err_has "hint: check the jumper and the cable"

t "the bootloader is written but the OpenMV bootloader never comes back: exit 3, step named"
sim --device "st-rom:H743,serial=N1,load=$TMPD/damaged.bin@0x08000000" --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes --wait 2
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: wrote and verified bootloader.bin"
err_has "omvdev: error: the OpenMV bootloader (37C5:9204 or 37C5:1204) did not appear within 2 s"

t "bad inputs are refused before any device is looked for"
mv "$b/bootloader.bin" "$TMPD/bl.bin"
sim --device "st-rom:H743,serial=B1,load=$TMPD/damaged.bin@0x08000000" --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "omvdev: error: cannot open '$b/bootloader.bin': No such file or directory"
slice "$S/B1/internal.bin" 0 131072 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/damaged.bin"
head -c 200000 /dev/urandom >"$b/bootloader.bin"
sim --device "st-rom:H743,serial=B2,load=$TMPD/damaged.bin@0x08000000" --state "$S" -- \
    "$OMVDEV" -C "$repo" recover -t OPENMV4 --yes
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "'$b/bootloader.bin' is 200000 bytes but the bootloader partition holds 131072"
slice "$S/B2/internal.bin" 0 131072 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/damaged.bin"
mv "$TMPD/bl.bin" "$b/bootloader.bin"

finish
