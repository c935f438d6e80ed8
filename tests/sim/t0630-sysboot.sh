#!/usr/bin/env bash
# A camera running firmware, asked over USB serial (bulk transfers through the bridge)
# with the OpenMV protocol's SYS_BOOT, reboots into its DFU bootloader.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"

t "SYS_BOOT: the camera leaves and its bootloader appears with the same serial"
sim --device camera:OPENMV4,serial=S1 --device camera:OPENMV_N6,serial=S2 --state "$S" -- sh -c "
    '$SYSBOOT' 37C5:1204 S1 && sleep 0.5 && '$OMVDEV' devices"
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "^OPENMV4  *OpenMV bootloader  *37C5:9204  *S1 " "$out" && pass || fail "no bootloader"
grep -q "^OPENMV_N6  *firmware  *37C5:1206  *S2 " "$out" && pass || fail "the other camera moved"
grep -q '"line coding 921600' "$S/S1/log-1-camera.json" && pass || fail "line coding not set"

t "a camera that is not there is named in the error"
sim --device camera:OPENMV4,serial=S1 -- "$SYSBOOT" 37C5:1204 NOPE
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "no 37C5:1204 with serial NOPE on USB"

finish
