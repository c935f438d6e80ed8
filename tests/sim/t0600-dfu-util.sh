#!/usr/bin/env bash
# Debian's dfu-util, unmodified, against the virtual camera through umockdev: the
# peer proves the models speak DFU/DfuSe as the real bootloaders do.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
if ! command -v dfu-util >/dev/null; then echo "dfu-util is not installed" >&2; exit 77; fi

sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
head -c 300000 /dev/urandom >"$TMPD/firmware.bin"
head -c 70000 /dev/urandom >"$TMPD/romfs0.img"
head -c 20000 /dev/urandom >"$TMPD/bootloader.bin"
# Extract LEN bytes at OFFSET of FILE.
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

t "dfu-util -l lists the OpenMV H7 bootloader's alts by name"
sim --device openmv-bl:OPENMV4,serial=A1 -- dfu-util -l
[ "$code" -eq 0 ] && pass || fail "dfu-util -l exited $code"
for a in "alt=0, name=\"BOOTLOADER\"" "alt=1, name=\"FILESYSTEM\"" "alt=2, name=\"FIRMWARE\"" \
    "alt=3, name=\"ROMFS0\""; do
    grep -q "Found DFU: \[37c5:9204\] ver=0103.*$a, serial=\"A1\"" "$out" && pass || fail "no $a"
done

t "firmware by alt 2, then romfs by alt 3 with --reset, lands at the right addresses"
sim --device openmv-bl:OPENMV4,serial=A1 --state "$S" -- sh -c "
    dfu-util -d ,37c5:9204 -a 2 -D '$TMPD/firmware.bin' &&
    dfu-util -d ,37c5:9204 -a 3 --reset -D '$TMPD/romfs0.img'"
# dfu-util 0.11 exits 74 when --reset finds the camera already gone into its firmware
# (fixed upstream in 2023; OpenMV users report this "exit code 74"): not a failure.
[ "$code" -eq 0 ] || [ "$code" -eq 74 ] && pass || fail "dfu-util exited $code"
[ "$(grep -c '^Download done.' "$out")" -eq 2 ] && pass || fail "two downloads not done"
slice "$S/A1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/firmware.bin"
slice "$S/A1/internal.bin" $((0x1E0000)) 70000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/romfs0.img"
# The bootloader and the filesystem were not touched: still erased flash.
slice "$S/A1/internal.bin" 0 $((0x40000)) | tr -d '\377' | wc -c | grep -qx 0 && pass ||
    fail "bytes below the firmware partition changed"
# --reset left the bootloader: the camera's application device came up.
ls "$S/A1/" | grep -q 'log-2-camera.json' && pass || fail "no camera after --reset"

t "-U reads back what was written, then the rest of the partition"
sim --device "openmv-bl:OPENMV4,serial=A1,load=$TMPD/firmware.bin@0x08040000" -- \
    dfu-util -d ,37c5:9204 -a 2 -U "$TMPD/up.bin"
[ "$code" -eq 0 ] && pass || fail "upload exited $code"
# The bootloader ends an upload with a 4-byte zero frame past the limit, and dfu-util
# keeps it: the dump is the partition plus 4 zero bytes.
[ "$(stat -c %s "$TMPD/up.bin")" -eq $((0x081E0000 - 0x08040000 + 4)) ] && pass ||
    fail "upload size $(stat -c %s "$TMPD/up.bin")"
head -c 300000 "$TMPD/up.bin" >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/firmware.bin"
[ "$(tail -c 4 "$TMPD/up.bin" | od -An -tx1 | tr -d ' ')" = 00000000 ] && pass || fail "no zero end frame"

t "a write to the read-only bootloader alt fails, as on the camera"
sim --device openmv-bl:OPENMV4,serial=A1 -- dfu-util -d ,37c5:9204 -a 0 -D "$TMPD/bootloader.bin"
[ "$code" -ne 0 ] && pass || fail "writing alt 0 succeeded"

t "the ST ROM (DfuSe): bootloader.bin at 0x08000000 with :leave"
sim --device st-rom:H743,serial=R1 --state "$S" -- \
    dfu-util -d ,0483:df11 -a 0 -s 0x08000000:leave -D "$TMPD/bootloader.bin"
# dfu-util may report the post-leave disconnect as an error (exit 74): the write is what counts.
grep -q "File downloaded successfully" "$out" && pass || fail "no success line"
head -c 20000 "$S/R1/internal.bin" >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/bootloader.bin"
grep -q '"leave the bus' "$S/R1/log-1-st-rom.json" && pass || fail "ROM did not leave"

t "Rev V: erasing bank 2 hangs dfu-util, as in the forum reports"
sim --device st-rom:H743,rev=V,serial=V1 -- \
    timeout 8 stdbuf -o0 dfu-util -v -v -d ,0483:df11 -a 0 -s 0x08100000 -D "$TMPD/bootloader.bin"
[ "$code" -eq 124 ] && pass || fail "dfu-util exited $code instead of hanging"
grep -q "Poll timeout 1000 ms" "$out" "$err" && pass || fail "no 1000 ms poll timeouts"

t "Rev V: mass erase avoids the hang and bank 2 is written"
sim --device st-rom:H743,rev=V,serial=V1 --state "$S" -- \
    timeout 60 dfu-util -d ,0483:df11 -a 0 -s 0x08100000:mass-erase:force -D "$TMPD/bootloader.bin"
[ "$code" -eq 0 ] && pass || fail "mass erase + write exited $code"
slice "$S/V1/internal.bin" $((0x100000)) 20000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/bootloader.bin"

t "Arduino Portenta: DfuSe by address on alt 0 and alt 1 (QSPI)"
sim --device arduino:PORTENTA,serial=P1 --state "$S" -- sh -c "
    dfu-util -d ,2341:035b -a 0 -s 0x08040000 -D '$TMPD/firmware.bin' &&
    dfu-util -d ,2341:035b -a 1 -s 0x90B00000:leave -D '$TMPD/romfs0.img'"
grep -q "File downloaded successfully" "$out" && pass || fail "no success line"
slice "$S/P1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/firmware.bin"
slice "$S/P1/qspi.bin" $((0xB00000)) 70000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/romfs0.img"

t "two cameras at once, told apart by serial"
sim --device openmv-bl:OPENMV4,serial=AA --device openmv-bl:OPENMV4,serial=BB --state "$S" -- \
    dfu-util -d ,37c5:9204 -S BB -a 2 -D "$TMPD/romfs0.img"
[ "$code" -eq 0 ] && pass || fail "exited $code"
slice "$S/BB/internal.bin" $((0x40000)) 70000 >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/romfs0.img"
slice "$S/AA/internal.bin" $((0x40000)) 70000 | tr -d '\377' | wc -c | grep -qx 0 && pass ||
    fail "the other camera was written"

t "a device that appears late is found by dfu-util -w"
sim --device openmv-bl:OPENMV4,serial=L1,fault=late:700 -- \
    timeout 20 dfu-util -w -d ,37c5:9204 -a 3 -U "$TMPD/late.bin"
[ "$code" -eq 0 ] && pass || fail "exit $code"
[ "$(stat -c %s "$TMPD/late.bin")" -eq $((0x20000 + 4)) ] && pass || fail "late upload size"

t "a bad spec is refused with a clear message"
sim --device openmv-bl:OPENMV9 -- true
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "omvdev-sim: error:"

finish
