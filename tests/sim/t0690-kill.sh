#!/usr/bin/env bash
# kill -9 of omvdev mid-flash: the camera stays in its bootloader with a partial image,
# and flashing again (on a new bus) finishes the job. Each kill runs on a bus of its own
# because of a umockdev limitation: see killcase.sh.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cli/lib.sh"
. "$here/killcase.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
repo="$TMPD/openmv"
bin="$repo/build/OPENMV4/bin"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4" "$bin"
: >"$repo/Makefile"
head -c 300000 /dev/urandom >"$bin/firmware.bin"
head -c 70000 /dev/urandom >"$bin/romfs0.img"
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

for n in 1 2 3; do
    t "kill -9 mid-write ($n of 3, each on its own bus): the client dies, the bus ends cleanly"
    rm -rf "$S"
    : >"$err"
    kill_mid_flash KILL "$S" "openmv-bl:OPENMV4,serial=K$n" "*firmware.bin write *[1-9]0%*" -- \
        "$OMVDEV" -v -C "$repo" flash -t OPENMV4
    [ "$code" -eq 0 ] && pass || { fail "omvdev-sim exit $code"; cat "$TMPD/sim.err" >&2; }
    [ "$killed_code" = 137 ] && pass || fail "client exit '$killed_code', wanted 137 (killed)"
    [ -f "$S/K$n/internal.bin" ] && pass || fail "no memory state for K$n"
    slice "$S/K$n/internal.bin" $((0x40000)) 300000 >"$TMPD/got"
    if cmp -s "$TMPD/got" "$bin/firmware.bin"; then fail "the firmware was complete: not killed mid-write"; else pass; fi
    # at least the first 10 % had reached the flash
    cmp -s <(head -c 30000 "$TMPD/got") <(head -c 30000 "$bin/firmware.bin") && pass || fail "nothing was written before the kill"

    t "flashing again on a new bus, from the memory the kill left, completes ($n of 3)"
    rm -rf "$TMPD/S2"
    sim --device "openmv-bl:OPENMV4,serial=K$n,load=$S/K$n/internal.bin@0x08000000" --state "$TMPD/S2" -- \
        "$OMVDEV" -C "$repo" flash -t OPENMV4
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    slice "$TMPD/S2/K$n/internal.bin" $((0x40000)) 300000 >"$TMPD/got"
    same_file "$TMPD/got" "$bin/firmware.bin"
    slice "$TMPD/S2/K$n/internal.bin" $((0x1E0000)) 70000 >"$TMPD/got"
    same_file "$TMPD/got" "$bin/romfs0.img"
done

finish
