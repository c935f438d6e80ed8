#!/usr/bin/env bash
# omvdev flash against the virtual camera: every path compared byte for byte with the
# memory the models end with, and with what dfu-util writes.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
repo="$TMPD/openmv"
bin="$repo/build/OPENMV4/bin"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$bin" "$repo/build/ARDUINO_PORTENTA_H7/bin" "$repo/build/OPENMV_AE3/bin"
: >"$repo/Makefile"
head -c 300000 /dev/urandom >"$bin/firmware.bin"
head -c 70000 /dev/urandom >"$bin/romfs0.img"
cp "$bin/firmware.bin" "$bin/romfs0.img" "$repo/build/ARDUINO_PORTENTA_H7/bin/"
for f in firmware_M55_HP.bin firmware_M55_HE.bin romfs1.img romfs0.img; do
    head -c 50000 /dev/urandom >"$repo/build/OPENMV_AE3/bin/$f"
done
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
erased() { slice "$1" "$2" "$3" | tr -d '\377' | wc -c | grep -qx 0; }

t "--dry-run prints the plan and touches nothing"
expect 0 -C "$repo" flash -t OPENMV4 --dry-run
out_has "flash OPENMV4 (OpenMV Cam H7) through openmv_dfu 37C5:9204:"
grep -q "1\. firmware.bin  *300000 bytes  alt 2 FIRMWARE  (17% of 1703936)" "$out" && pass || fail "step 1"
grep -q "2\. romfs0.img  *70000 bytes  alt 3 ROMFS0  (53% of 131072)" "$out" && pass || fail "step 2"

t "bad inputs are refused before any device is looked for"
expect 1 -C "$repo" flash -t OPENMV_N6 --dry-run
err_has "cannot open '$repo/build/OPENMV_N6/bin/firmware.bin'"
err_has "hint: build it first (make TARGET=OPENMV_N6"
head -c 200000 /dev/urandom >"$TMPD/big.img"
expect 1 -C "$repo" flash -t OPENMV4 --romfs "$TMPD/big.img" --dry-run
err_has "'$TMPD/big.img' is 200000 bytes but the ROMFS0 partition holds 131072"
expect 2 -C "$repo" flash -t OPENMV4 --file "$bin/romfs0.img" --alt 0 --dry-run
err_has "alt 0 'BOOTLOADER' of OPENMV4 is read-only"
expect 2 -C "$repo" flash -t OPENMV4 --file "$bin/romfs0.img"
err_has "--file needs --alt N"
expect 1 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT --dry-run
err_has "cannot open '$repo/build/ARDUINO_NANO_RP2040_CONNECT/bin/firmware.uf2'"

t "OPENMV4 in its bootloader: firmware and ROMFS by alt, then reset into the camera"
sim --device openmv-bl:OPENMV4,serial=A1 --state "$S" -- "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: wrote firmware.bin: 300000 bytes to alt 2 FIRMWARE"
err_has "omvdev: done: OPENMV4 restarts into the new firmware"
slice "$S/A1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
slice "$S/A1/internal.bin" $((0x1E0000)) 70000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/romfs0.img"
erased "$S/A1/internal.bin" 0 $((0x40000)) && pass || fail "bootloader or filesystem touched"
ls "$S/A1" | grep -q "log-2-camera.json" && pass || fail "camera did not come back"

t "the same flash by dfu-util leaves identical memory"
sim --device openmv-bl:OPENMV4,serial=D1 --state "$S" -- sh -c "
    dfu-util -d ,37c5:9204 -a 2 -D '$bin/firmware.bin' && dfu-util -d ,37c5:9204 -a 3 -D '$bin/romfs0.img'"
same_file "$S/A1/internal.bin" "$S/D1/internal.bin"

t "a camera running its firmware is switched into the bootloader first (SYS_BOOT)"
sim --device camera:OPENMV4,serial=C1 --state "$S" -- "$OMVDEV" -v -C "$repo" flash -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "asking camera C1 to jump into its bootloader (SYS_BOOT)"
slice "$S/C1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"

t "--erase-fs and --verify; the board is found from the one camera connected"
sim --device "openmv-bl:OPENMV4,serial=E1,load=$bin/romfs0.img@0x08020000" --state "$S" -- \
    "$OMVDEV" -C "$repo" flash --erase-fs --verify
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "verified"
[ "$(slice "$S/E1/internal.bin" $((0x20000)) 4096 | tr -d '\000' | wc -c)" -eq 0 ] && pass || fail "fs not zeroed"
erased "$S/E1/internal.bin" $((0x21000)) $((0x1F000)) && pass || fail "rest of the fs sector not erased"

t "--skip-unchanged: what the camera already holds is read, compared and not written"
sim --device "openmv-bl:OPENMV4,serial=K1,load=$bin/firmware.bin@0x08040000" --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --skip-unchanged
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: firmware.bin is already on the camera: skipped"
err_has "omvdev: wrote romfs0.img: 70000 bytes to alt 3 ROMFS0"
python3 - "$S/K1/log-1-openmv-bl.json" <<'PY' && pass || fail "firmware was rewritten"
import json, sys
log = json.load(open(sys.argv[1]))
erased = [n for r in log["requests"] for n in r.get("notes", []) if n.startswith("erase")]
assert all("0x081E0000" in n for n in erased), erased   # only the ROMFS sector
PY
slice "$S/K1/internal.bin" $((0x1E0000)) 70000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/romfs0.img"

t "two bootloaders: refused without --serial, the named one with it"
sim --device openmv-bl:OPENMV4,serial=T1 --device openmv-bl:OPENMV4,serial=T2 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "2 OPENMV4 bootloaders are connected: which one?"
err_has "hint: omvdev flash --serial T2"
sim --device openmv-bl:OPENMV4,serial=T1 --device openmv-bl:OPENMV4,serial=T2 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --serial T2
[ "$code" -eq 0 ] && pass || fail "exit $code"
erased "$S/T1/internal.bin" 0 $((0x200000)) && pass || fail "the other camera was written"

t "no device: a clear message after --wait, exit 3"
sim -- "$OMVDEV" -C "$repo" flash -t OPENMV4 --wait 1
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "no OPENMV4 bootloader (37C5:9204) appeared within 1 s"
err_has "hint: plug the camera in while omvdev waits"

t "unplugged mid-write: exit 3, the partition is named, the bootloader is untouched"
sim --device openmv-bl:OPENMV4,serial=U1,fault=unplug-bytes:65536 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: firmware.bin:"
err_has "run the same command again"
erased "$S/U1/internal.bin" 0 $((0x20000)) && pass || fail "bootloader touched"

t "Arduino Portenta: DfuSe by address, internal flash and QSPI, then leave"
sim --device arduino:PORTENTA,serial=P1 --state "$S" -- "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7
[ "$code" -eq 0 ] && pass || fail "exit $code"
slice "$S/P1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
slice "$S/P1/qspi.bin" $((0xB00000)) 70000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/romfs0.img"
grep -q '"leave the bus' "$S/P1/log-1-arduino.json" && pass || fail "did not leave"

t "OpenMV AE3: the four images, each to its alt"
sim --device openmv-bl:OPENMV_AE3,serial=AE --state "$S" -- "$OMVDEV" -C "$repo" flash -t OPENMV_AE3
[ "$code" -eq 0 ] && pass || fail "exit $code"
b="$repo/build/OPENMV_AE3/bin"
slice "$S/AE/mram.bin" $((0x20000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware_M55_HP.bin"
slice "$S/AE/mram.bin" $((0x320000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/firmware_M55_HE.bin"
slice "$S/AE/mram.bin" $((0x47E000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/romfs1.img"
slice "$S/AE/ospi.bin" $((0x800000)) 50000 >"$TMPD/got"; same_file "$TMPD/got" "$b/romfs0.img"

finish
