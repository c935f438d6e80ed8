#!/usr/bin/env bash
# Fault injection, re-enumeration and the timing model, seen through dfu-util.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
if ! command -v dfu-util >/dev/null; then echo "dfu-util is not installed" >&2; exit 77; fi

sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
head -c 100000 /dev/urandom >"$TMPD/firmware.bin"

t "unplug after N bytes: dfu-util fails, the log says where"
sim --device openmv-bl:OPENMV4,serial=U1,fault=unplug-bytes:16384 --state "$S" -- \
    timeout 20 dfu-util -d ,37c5:9204 -a 2 -D "$TMPD/firmware.bin"
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] && pass || fail "exit $code"
grep -q '"leave the bus"' "$S/U1/log-1-openmv-bl.json" && pass || fail "no unplug in the log"

t "a STALLed GETSTATUS makes dfu-util give up"
sim --device openmv-bl:OPENMV4,serial=U2,fault=stall:3:1 -- \
    timeout 20 dfu-util -d ,37c5:9204 -a 2 -D "$TMPD/firmware.bin"
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] && pass || fail "exit $code"

t "a refused write is reported as a DFU error"
sim --device openmv-bl:OPENMV4,serial=U3,fault=refuse-write:5 -- \
    timeout 20 dfu-util -d ,37c5:9204 -a 2 -D "$TMPD/firmware.bin"
[ "$code" -ne 0 ] && [ "$code" -ne 124 ] && pass || fail "exit $code"
grep -qi "errWRITE\|unable to write\|status" "$out" "$err" && pass || fail "no write error shown"

t "the log carries the device-bound time of the work: 1 erase of 128 KiB, 100000 bytes"
sim --device openmv-bl:OPENMV4,serial=U4 --state "$S" -- \
    dfu-util -d ,37c5:9204 -a 2 -D "$TMPD/firmware.bin"
[ "$code" -eq 0 ] && pass || fail "exit $code"
python3 - "$S/U4/log-1-openmv-bl.json" <<'PY' && pass || fail "device-bound time"
import json, sys
log = json.load(open(sys.argv[1]))
assert log["schema"] == 1 and log["vid"] == "37C5" and log["serial"] == "U4"
erases = [n for r in log["requests"] for n in r.get("notes", []) if n.startswith("erase")]
assert len(erases) == 1, erases
# at least the erase (1.1 s) and 25 blocks of USB transfers
assert log["device_bound_us"] >= 1100000 + 25 * 1000, log["device_bound_us"]
PY

t "the time scale turns device time into waiting"
start=$(date +%s%N)
sim --device openmv-bl:OPENMV4,serial=U5 --timescale 1 -- \
    dfu-util -d ,37c5:9204 -a 2 -D "$TMPD/firmware.bin"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$code" -eq 0 ] && pass || fail "exit $code"
# A lower bound only (the 1.1 s sector erase): upper bounds are for benchmarks.
[ "$elapsed_ms" -ge 1100 ] && pass || fail "took only ${elapsed_ms} ms at time scale 1"

t "DETACH makes the bootloader leave and the camera appear; its serial carries over"
sim --device openmv-bl:OPENMV4,serial=C1 --state "$S" -- sh -c \
    'dfu-util -d ,37c5:9204 -a 2 -e >/dev/null 2>&1; sleep 1; dfu-util -l; exit 0'
ls "$S/C1/" | grep -q 'log-2-camera.json' && pass || fail "no camera incarnation"
grep -q '"serial": "C1"' "$S/C1/log-2-camera.json" && pass || fail "serial not carried over"

finish
