#!/usr/bin/env bash
# Benchmark (not a test): the console commands on the virtual camera with its timing at
# real time (--timescale 1), each next to what the model itself allows.
#
#   tests/bench/console.sh [BUILD_DIR] [RUNS]      (default build/release, 5 runs)
#
# 1. omvdev run of a 64 KiB script (5000 print lines padded with a comment), sent into the
#    model's 512-byte receive buffer in 256-byte writes of 64-byte packets, next to the
#    bound of the wire: USB full speed moves at most 19 bulk packets of 64 bytes per 1 ms
#    frame (1216 B/ms), so 64 KiB cannot arrive in less than 54 ms; the model adds no
#    per-byte cost of its own.
# 2. The monitor's reattach time after a reset ("is back after N s", from the camera
#    leaving to the console reopened), next to the model's re-enumeration time (50 ms of
#    virtual time from leaving the bus to the new device on it).
set -eu
build=${1:-build/release}
runs=${2:-5}
omvdev=$(cd "$build" && pwd)/omvdev
sim=$(cd "$build" && pwd)/tests/omvdev-sim
[ -x "$sim" ] || { echo "bench: $sim is missing (build with umockdev installed)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -c "
import sys
body = '\n'.join('print(%d)' % i for i in range(5000)) + '\n'
body += '#' * (65536 - len(body) - 1) + '\n'
sys.stdout.write(body)" >"$work/big.py"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "1. omvdev run, 64 KiB script ($(wc -c <"$work/big.py") bytes), $runs runs"
for _ in $(seq "$runs"); do
    s=$(date +%s%N)
    "$sim" --timescale 1 --device camera:OPENMV4,serial=B1 -- "$omvdev" run "$work/big.py" >"$work/out"
    e=$(date +%s%N)
    [ "$(wc -l <"$work/out")" -eq 5000 ] || { echo "bench: run lost output" >&2; exit 1; }
    echo $(((e - s) / 1000000))
done | median | awk '{printf "   omvdev run (median, incl. the bridge start): %d ms\n", $1}'
for _ in $(seq "$runs"); do
    s=$(date +%s%N)
    "$sim" --timescale 1 --device camera:OPENMV4,serial=B1 -- true
    e=$(date +%s%N)
    echo $(((e - s) / 1000000))
done | median | awk '{printf "   the bridge alone (median, same command, true):  %d ms\n", $1}'
echo "   bound of the wire: 65536 B / 1216 B/ms = 54 ms"

echo "2. monitor reattach after a reset, $runs runs"
for _ in $(seq "$runs"); do
    "$sim" --timescale 1 --device camera:OPENMV4,serial=B1 -- sh -c "
        (sleep 0.5; printf '#sim: reset\r'; sleep 1.5) | '$omvdev' monitor --timeout 2" \
        2>&1 >/dev/null | sed -n 's/.*is back after \([0-9.]*\) s/\1/p'
done | median | awk '{printf "   monitor: camera back after (median): %.1f s\n", $1}'
echo "   the model re-enumerates 50 ms after leaving the bus"
