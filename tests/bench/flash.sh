#!/usr/bin/env bash
# Benchmark (not a test): flash an OPENMV4 firmware.bin (1.6 MB) and romfs0.img on the
# virtual camera with the timing model at real time, with omvdev and with Debian's
# dfu-util, and compare both with the device-bound lower bound the model reports
# (erase + programming + USB transfer time: what no host can beat).
#
#   tests/bench/flash.sh [BUILD_DIR] [RUNS]      (default build/release, 3 runs)
set -eu
build=${1:-build/release}
runs=${2:-3}
omvdev=$(cd "$build" && pwd)/omvdev
sim=$(cd "$build" && pwd)/tests/omvdev-sim
[ -x "$sim" ] || { echo "bench: $sim is missing (build with umockdev installed)" >&2; exit 2; }
command -v dfu-util >/dev/null || { echo "bench: dfu-util is not installed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/openmv/boards" "$work/openmv/build/OPENMV4/bin"
: >"$work/openmv/Makefile"
bin="$work/openmv/build/OPENMV4/bin"
head -c 1600000 /dev/urandom >"$bin/firmware.bin"
head -c 131072 /dev/urandom >"$bin/romfs0.img"

# Sum device_bound_us over the bootloader incarnation's log.
bound() { python3 -c 'import json,sys,glob
print(sum(json.load(open(f))["device_bound_us"] for f in glob.glob(sys.argv[1] + "/*/log-*-openmv-bl.json")))' "$1"; }

one() { # one run: $1 = tool; prints "wall_ms bound_ms"
    local state="$work/state-$1-$RANDOM" t0 t1 rc=0
    t0=$(date +%s%N)
    if [ "$1" = omvdev ]; then
        "$sim" --timescale 1 --state "$state" --device openmv-bl:OPENMV4,serial=B1 -- \
            "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 >"$work/run.log" 2>&1 || rc=$?
    else
        # Without --reset: dfu-util 0.11's exit status after the camera resets varies
        # (0, 74, ...), and the reset itself costs next to nothing.
        "$sim" --timescale 1 --state "$state" --device openmv-bl:OPENMV4,serial=B1 -- sh -c "
            dfu-util -d ,37c5:9204 -a 2 -D '$bin/firmware.bin' &&
            dfu-util -d ,37c5:9204 -a 3 -D '$bin/romfs0.img'" >"$work/run.log" 2>&1 || rc=$?
    fi
    if [ "${rc:-0}" -ne 0 ]; then
        echo "bench: $1 failed with exit status $rc:" >&2
        tail -5 "$work/run.log" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    cmp -s <(tail -c +$((0x40000 + 1)) "$state/B1/internal.bin" | head -c 1600000) "$bin/firmware.bin" ||
        { echo "bench: $1 wrote the wrong bytes" >&2; exit 1; }
    echo "$(( (t1 - t0) / 1000000 )) $(( $(bound "$state") / 1000 ))"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

echo "flash OPENMV4: firmware.bin 1600000 B + romfs0.img 131072 B, timing model at real time, $runs runs each"
for tool in omvdev dfu-util; do
    : >"$work/$tool.txt"
    for _ in $(seq "$runs"); do one "$tool" >>"$work/$tool.txt"; done
done
om=$(cut -d' ' -f1 "$work/omvdev.txt" | median)
du=$(cut -d' ' -f1 "$work/dfu-util.txt" | median)
lb=$(cut -d' ' -f2 "$work/omvdev.txt" | median)
printf '%-28s %8s ms\n' "device-bound lower bound" "$lb" "omvdev (median wall)" "$om" "dfu-util 0.11 (median wall)" "$du"
awk -v o="$om" -v d="$du" -v l="$lb" 'BEGIN {
    printf "omvdev / lower bound        %8.3f\n", o / l
    printf "omvdev / dfu-util           %8.3f\n", o / d }'
