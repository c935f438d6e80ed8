#!/usr/bin/env bash
# USB device strings are outside input: a serial number holding terminal escapes is shown
# escaped by `devices` and `flash`, and is exact (JSON-escaped) in --json.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
esc=$(printf '\033')
serial="AB${esc}]0;pwn$(printf '\007')Z"
repo="$TMPD/openmv"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4" "$repo/build/OPENMV4/bin"
: >"$repo/Makefile"
head -c 3000 /dev/urandom >"$repo/build/OPENMV4/bin/firmware.bin"
head -c 1000 /dev/urandom >"$repo/build/OPENMV4/bin/romfs0.img"
no_raw_esc() { if grep -q "$esc" "$1"; then fail "a raw ESC reached $(basename "$1")"; else pass; fi; }

t "devices: the serial is shown escaped, and --json parses strictly with it exact"
"$OMVDEV_SIM" --device "openmv-bl:OPENMV4,serial=$serial" -- sh -c \
    "'$OMVDEV' devices >'$TMPD/text' && '$OMVDEV' --json devices >'$TMPD/json'" >"$out" 2>"$err"
code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -qF 'AB\x1b]0;pwn\x07Z' "$TMPD/text" && pass || fail "serial not shown escaped"
no_raw_esc "$TMPD/text"
python3 - "$TMPD/json" <<'PY' && pass || fail "devices --json"
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", errors="strict"))
assert d["devices"][0]["serial"] == "AB\x1b]0;pwn\x07Z", d
PY

t "flash names the device escaped in its messages"
"$OMVDEV_SIM" --device "openmv-bl:OPENMV4,serial=$serial" -- \
    "$OMVDEV" -v -C "$repo" flash -t OPENMV4 >"$out" 2>"$err"
code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has 'flashing OPENMV4 AB\x1b]0;pwn\x07Z'
no_raw_esc "$err"
no_raw_esc "$out"

finish
