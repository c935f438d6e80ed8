#!/usr/bin/env bash
# omvdev devices against the virtual camera: every mode, JSON, and --watch.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }

t "no device: an empty answer, a note on stderr, exit 0"
sim -- "$OMVDEV" devices
[ "$code" -eq 0 ] && pass || fail "exit $code"
out_empty
err_has "omvdev: no OpenMV camera or bootloader is connected"
err_has "hint: check the cable"

t "every mode is named, with board, serial, port, version and alts"
sim --device camera:OPENMV_N6,serial=N6 --device openmv-bl:OPENMV4,serial=H7 \
    --device st-rom:H743,serial=ROM --device arduino:NICLA,serial=NI -- "$OMVDEV" devices
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "^OPENMV_N6  *firmware  *37C5:1206  *N6  *1-2 " "$out" && pass || fail "camera row"
grep -q "^OPENMV4  *OpenMV bootloader  *37C5:9204  *H7  *1-3  *1.0.3$" "$out" && pass || fail "bootloader row"
grep -q "^-  *ST system bootloader  *0483:DF11  *ROM  *1-4 " "$out" && pass || fail "ST ROM row"
grep -q "^ARDUINO_NICLA_VISION  *Arduino bootloader  *2341:035F  *NI " "$out" && pass || fail "Arduino row"
out_has "H7 OPENMV4 alts: 0 BOOTLOADER, 1 FILESYSTEM, 2 FIRMWARE, 3 ROMFS0"

t "--json: schema 1 and every field"
sim --device openmv-bl:OPENMV_AE3,serial=AE -- "$OMVDEV" --json devices
python3 - "$out" <<'PY' && pass || fail "JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1
(dev,) = d["devices"]
assert dev["board"] == "OPENMV_AE3" and dev["mode"] == "OpenMV bootloader"
assert dev["usb"] == "37C5:96E3" and dev["serial"] == "AE" and dev["version"] == "1.0.3"
assert [a["name"] for a in dev["alts"]] == ["BOOT", "HP", "HE", "ROMFS1", "TOC", "RWFS",
                                             "ROMFS0", "RECOVERY"], dev["alts"]
PY

t "--watch: the bootloader leaves on DETACH and the camera arrives"
if command -v dfu-util >/dev/null; then
    sim --device openmv-bl:OPENMV4,serial=W1 -- sh -c "
        '$OMVDEV' devices --watch --timeout 4 & sleep 1
        dfu-util -d ,37c5:9204 -a 0 -e >/dev/null 2>&1; wait"
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    out_has "- OPENMV4 OpenMV bootloader 37C5:9204 W1 port 1-2"
    out_has "+ OPENMV4 firmware 37C5:1204 W1 port 1-3"
fi

t "--watch --json: one object per line"
sim --device openmv-bl:OPENMV4,serial=J1 --device camera:OPENMV4,serial=J2,fault=late:800 -- \
    "$OMVDEV" --json devices --watch --timeout 3
[ "$(wc -l <"$out")" -eq 2 ] && pass || fail "$(wc -l <"$out") lines"
head -1 "$out" | grep -q '"event": "present".*"serial": "J1"' && pass || fail "present line"
tail -1 "$out" | grep -q '"event": "add".*"serial": "J2"' && pass || fail "add line"

t "usage errors"
expect 2 devices --timeout 3
err_has "--timeout goes with --watch"
expect 2 devices --watch --timeout soon
err_has "invalid value 'soon' for --timeout: expected a number from 1 to 86400"

finish
