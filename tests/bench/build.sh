#!/usr/bin/env bash
# Benchmark (not a test): what `omvdev build` adds over running the same make by
# hand on an up-to-date tree (the fixture firmware repository and fixture SDK), and
# how long `omvdev doctor` takes. The two builds alternate, so drift hits both.
#
#   tests/bench/build.sh [BUILD_DIR] [RUNS]      (default build/release, 30 runs)
set -eu
unset MAKEFLAGS MAKELEVEL MFLAGS
build=${1:-build/release}
runs=${2:-30}
omvdev=$(cd "$build" && pwd)/omvdev
data=$(cd "$(dirname "$0")/../data" && pwd)
[ -x "$omvdev" ] || { echo "bench: $omvdev is missing (cmake --build --preset release)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"
cp -r "$data/fixture-sdk" "$HOME/openmv-sdk-1.6.0"
cp -r "$data/firmware-repo" "$work/fw"
cd "$work/fw"
"$omvdev" -q build -t OPENMV4 >/dev/null        # now up to date (and mpy-cross built)
eval "$("$omvdev" env --shell bash)"             # the environment for the by-hand make
jobs=$(nproc)

ms() { # wall milliseconds of "$@", output discarded
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR + 1) / 2)] / 1000}'; }

: >"$work/omvdev.txt"; : >"$work/make.txt"; : >"$work/doctor.txt"; : >"$work/quick.txt"
for _ in $(seq "$runs"); do
    ms "$omvdev" build -t OPENMV4 >>"$work/omvdev.txt"
    ms make -j"$jobs" TARGET=OPENMV4 >>"$work/make.txt"
done
for _ in $(seq "$runs"); do
    ms sh -c "'$omvdev' doctor; true" >>"$work/doctor.txt"
    ms sh -c "'$omvdev' doctor --quick; true" >>"$work/quick.txt"
done
o=$(median <"$work/omvdev.txt")
m=$(median <"$work/make.txt")
d=$(median <"$work/doctor.txt")
q=$(median <"$work/quick.txt")
echo "up-to-date fixture tree, OPENMV4, $runs runs each (median wall time):"
echo "  omvdev build -t OPENMV4          $o ms"
echo "  make -j$jobs TARGET=OPENMV4         $m ms   (same environment, by hand)"
echo "  omvdev's overhead                $(awk -v a="$o" -v b="$m" 'BEGIN {printf "%.1f", a - b}') ms   (target: at most 30 ms)"
echo "  omvdev doctor                    $d ms   (target: under 1000 ms, no network; includes 'omvdev sdk verify')"
echo "  omvdev doctor --quick            $q ms   (without 'omvdev sdk verify')"
