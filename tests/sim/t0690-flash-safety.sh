#!/usr/bin/env bash
# omvdev flash never loses a byte and never misleads, end to end through umockdev:
# DfuSe elements sharing an erase sector (both kept, as Debian's dfu-util keeps them), a
# file with an element outside every memory (refused before the first erase, in a dry run
# too), the address an Arduino board is left at, and Ctrl-C in the middle of a write.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
if ! command -v dfu-util >/dev/null; then echo "dfu-util is not installed" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
mkdfu() { python3 "$(dirname "$0")/mkdfu.py" "$@"; }
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
erased() { slice "$1" "$2" "$3" | tr -d '\377' | wc -c | grep -qx 0; }
untouched() { [ ! -e "$1" ] || erased "$1" 0 "$(stat -c %s "$1")"; }
erases() { # log -> the erase notes, one a line
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["requests"]:
    for n in r.get("notes", []):
        if n.startswith("erase"):
            print(n)
PY
}
S="$TMPD/state"
repo="$TMPD/openmv"
mkdir -p "$repo/boards" "$repo/build/OPENMV4/bin"
: >"$repo/Makefile"
head -c 4000 /dev/urandom >"$TMPD/a.bin"
head -c 5000 /dev/urandom >"$TMPD/b.bin"

t "Portenta: two elements in one 128 KiB sector are both kept, as dfu-util keeps them"
mkdfu dfuse "$TMPD/two.dfu" 2341:035B "0x08040000=$TMPD/a.bin" "0x08041000=$TMPD/b.bin"
sim --device arduino:PORTENTA,serial=P1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/two.dfu" --verify
[ "$code" -eq 0 ] && pass || fail "exit $code"
slice "$S/P1/internal.bin" $((0x40000)) 4000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/a.bin"
slice "$S/P1/internal.bin" $((0x41000)) 5000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/b.bin"
[ "$(erases "$S/P1/log-1-arduino.json" | wc -l)" -eq 1 ] && pass || fail "the sector was erased more than once"
err_has "omvdev: verified: every image reads back as written"
err_has "omvdev: done: ARDUINO_PORTENTA_H7 restarts into the new firmware"
sim --device arduino:PORTENTA,serial=D1 --state "$S" -- \
    dfu-util -d 2341:035b -a 0 -D "$TMPD/two.dfu"
[ "$code" -eq 0 ] && pass || fail "dfu-util: exit $code"
slice "$S/P1/internal.bin" $((0x40000)) $((0x20000)) >"$TMPD/omvdev.sector"
slice "$S/D1/internal.bin" $((0x40000)) $((0x20000)) >"$TMPD/dfu-util.sector"
same_file "$TMPD/omvdev.sector" "$TMPD/dfu-util.sector"

t "Portenta: left at the image's start in internal flash, which the bootloader accepts"
python3 - "$S/P1/log-1-arduino.json" <<'PY' && pass || fail "leave"
import json, sys
notes = [n for r in json.load(open(sys.argv[1]))["requests"] for n in r.get("notes", [])]
assert any("jump to 0x08040000" in n for n in notes), notes
assert not any("errTARGET" in n for n in notes), [n for n in notes if "errTARGET" in n]
PY
head -c 7000 /dev/urandom >"$TMPD/q.bin"
mkdfu dfuse "$TMPD/qspi.dfu" 2341:035B "0x90B00000=$TMPD/q.bin"
sim --device arduino:PORTENTA,serial=P2 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/qspi.dfu"
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "jump to 0x08040000" "$S/P2/log-1-arduino.json" && pass || fail "QSPI-only image: not left at the firmware"

t "OPENMV4 through the ST ROM: 0x08000000 and 0x08001000 share sector 0; both kept"
mkdfu dfuse "$TMPD/rom.dfu" 0483:DF11 "0x08000000=$TMPD/a.bin" "0x08001000=$TMPD/b.bin"
sim --device st-rom:H743,serial=R1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/rom.dfu"
[ "$code" -eq 0 ] && pass || fail "exit $code"
slice "$S/R1/internal.bin" 0 4000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/a.bin"
slice "$S/R1/internal.bin" $((0x1000)) 5000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/b.bin"
sim --device st-rom:H743,serial=D2 --state "$S" -- dfu-util -d 0483:df11 -a 0 -D "$TMPD/rom.dfu"
[ "$code" -eq 0 ] && pass || fail "dfu-util: exit $code"
slice "$S/R1/internal.bin" 0 $((0x20000)) >"$TMPD/omvdev.sector"
slice "$S/D2/internal.bin" 0 $((0x20000)) >"$TMPD/dfu-util.sector"
same_file "$TMPD/omvdev.sector" "$TMPD/dfu-util.sector"

t "an element outside every memory: refused before the first erase, the dry run too"
mkdfu dfuse "$TMPD/bad.dfu" 2341:035B "0x08040000=$TMPD/a.bin" "0x30000000=$TMPD/b.bin"
expect 2 -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/bad.dfu" --dry-run
err_has "'bad.dfu@0x30000000' goes to 0x30000000, which lies in none of ARDUINO_PORTENTA_H7's memories"
err_lacks "run the same command again"
sim --device arduino:PORTENTA,serial=B1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/bad.dfu"
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_lacks "run the same command again"
[ "$(erases "$S/B1/log-1-arduino.json" | wc -l)" -eq 0 ] && pass || fail "something was erased"
slice "$S/B1/internal.bin" $((0x40000)) 4000 | tr -d '\377' | wc -c | grep -qx 0 && pass || fail "written"

t "a QSPI element is shown, and goes, through the QSPI alt"
mkdfu dfuse "$TMPD/mixed.dfu" 2341:035B "0x08040000=$TMPD/a.bin" "0x90B00000=$TMPD/q.bin"
expect 0 -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/mixed.dfu" --dry-run
grep -q "mixed.dfu@0x90B00000 .* alt 1 .*at 0x90B00000" "$out" && pass || fail "not alt 1"
grep -q "mixed.dfu@0x08040000 .* alt 0 .*at 0x08040000" "$out" && pass || fail "not alt 0"
out_has "then leave DFU and run the code at 0x08040000"

t "Ctrl-C mid-write: the step, the camera's state and the command to finish are named"
head -c 600000 /dev/urandom >"$repo/build/OPENMV4/bin/firmware.bin"
head -c 70000 /dev/urandom >"$repo/build/OPENMV4/bin/romfs0.img"
"$OMVDEV_SIM" --device openmv-bl:OPENMV4,serial=I1 --state "$S" --timescale 1 -- \
    sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$TMPD/pid" \
    "$OMVDEV" -v -C "$repo" flash -t OPENMV4 >"$out" 2>"$err" &
simpid=$!
for _ in $(seq 300); do
    grep -q "firmware.bin write  *[1-9]" "$err" 2>/dev/null && break
    sleep 0.1
done
kill -INT "$(cat "$TMPD/pid")"
wait "$simpid"; code=$?
[ "$code" -eq 130 ] && pass || fail "exit $code"
err_has "omvdev: error: interrupted (Ctrl-C) during the write stage of firmware.bin ("
err_has "the camera stays in its bootloader (state dfuIDLE): an image is only partly written"
err_has "hint: finish with: omvdev flash -t OPENMV4"
err_lacks "restarts into the new firmware"
erased "$S/I1/internal.bin" 0 $((0x20000)) && pass || fail "the bootloader was touched"
erased "$S/I1/internal.bin" $((0x1E0000)) 70000 && pass || fail "romfs0.img was begun"
python3 - "$S/I1/log-1-openmv-bl.json" <<'PY' && pass || fail "the last request"
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
# The session ends with the device back in dfuIDLE: nothing after the last ABORT but status.
names = [r.get("request", "") for r in reqs]
last_abort = max(i for i, n in enumerate(names) if "ABORT" in n)
assert all("DNLOAD" not in n and "UPLOAD" not in n for n in names[last_abort:]), names[last_abort:]
PY

finish
