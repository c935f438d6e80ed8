#!/usr/bin/env bash
# Benchmark (not a test): `omvdev sdk install` against upstream's recipe
# (tools/ci.sh: download with wget, then `sha256sum -c`, then
# `tar --strip-components=1 -xf`), on one SDK-sized tarball served on loopback,
# unthrottled and throttled to 100 Mbit/s. Also measures, in the same run, the
# bounds no installer can beat: the download alone (throttled) and
# `xz -T2 -dc | tar -x` from a local file (unthrottled). Runs alternate
# (A B C A B C ...) in fresh directories; medians are reported.
#
#   tests/bench/sdk-install.sh [BUILD_DIR] [PAIRS] [SIZE_MB]
#       (default build/release, 3 rounds, 1200 MB unpacked)
#   BENCH_DIR=/somewhere (default: a temporary directory under /tmp)
#
# The tree is made of real files of this machine's /usr (toolchains, libraries,
# headers, Python), setuid files and symlinks left out, below one top-level
# directory with an sdk.version stamp; packed as upstream does:
# tar -cf - DIR | xz -3 -T2.
set -eu
build=${1:-build/release}
rounds=${2:-3}
size_mb=${3:-1200}
here=$(cd "$(dirname "$0")" && pwd)
omvdev=$(cd "$build" && pwd)/omvdev
server=$here/../component/server.py
[ -x "$omvdev" ] || { echo "bench: $omvdev is missing (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
for c in wget xz tar sha256sum python3 /usr/bin/time; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed" >&2; exit 2; }
done

work=${BENCH_DIR:-$(mktemp -d /tmp/omvdev-bench.XXXXXX)}
mkdir -p "$work"
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
V=1.6.0
top=openmv-sdk-$V-linux-x86_64
TB=$top.tar.xz
www=$work/www
mkdir -p "$www" "$work/src/$top"

echo "bench: building a ${size_mb} MB tree from /usr ..." >&2
find /usr/lib/gcc /usr/include /usr/lib/python3* /usr/lib/llvm-* /usr/share /usr/bin \
    /usr/lib/x86_64-linux-gnu -xdev -type f ! -perm /6000 -printf '%s %p\n' 2>/dev/null |
    awk -v max=$((size_mb * 1000 * 1000)) '{ if (total >= max) exit; total += $1; sub(/^[0-9]+ \//, ""); print }' \
        >"$work/files"
tar -C / -cf - -T "$work/files" | tar -C "$work/src/$top" -xf -
echo $V >"$work/src/$top/sdk.version"
files=$(find "$work/src/$top" -type f | wc -l)
bytes=$(du -sb "$work/src/$top" | cut -f1)
echo "bench: packing with tar -cf - DIR | xz -3 -T2 ..." >&2
tar -C "$work/src" -cf - "$top" | xz -3 -T2 >"$www/$TB"
(cd "$www" && sha256sum "$TB" >"$TB.sha256")
rm -rf "$work/src"
tbytes=$(stat -c %s "$www/$TB")

python3 "$server" "$www" "$work/port" 2>"$work/server.log" &
spid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
fast="http://127.0.0.1:$port"
slow="http://127.0.0.1:$port/f/rate=12500000" # 100 Mbit/s

n=0
fresh() { # a new empty run directory; the previous one is deleted first, then a pause
    rm -rf "$work/run"
    sync
    sleep 3
    n=$((n + 1))
    mkdir -p "$work/run/home"
}
# timed NAME CMD...: wall seconds and peak RSS (KiB) appended to $work/NAME.txt
timed() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c '"$@"' bash "$@" >"$work/cmd.log" 2>&1 || {
        echo "bench: $name failed:" >&2
        tail -5 "$work/cmd.log" >&2
        exit 1
    }
    cat "$work/time.out" >>"$work/$name.txt"
}
omv() { # omv MIRROR
    HOME=$work/run/home XDG_CACHE_HOME=$work/run/cache XDG_CONFIG_HOME=$work/run/config \
        "$omvdev" -q sdk install --version $V --dir "$work/run/sdk" --mirror "$1"
}
upstream() { # upstream's tools/ci.sh ci_install_sdk, minus the version check
    local url=$1/$TB tmpfile=$work/run/tarball
    sh -c '
        set -e
        wget -q --no-check-certificate -O "$1" "$2"
        expected=$(wget -q --no-check-certificate -O- "$2.sha256" | awk "{print \$1}")
        echo "${expected}  $1" | sha256sum -c - >/dev/null
        mkdir -p "$3"
        tar --strip-components=1 -xf "$1" -C "$3"
        rm -f "$1"' sh "$tmpfile" "$url" "$work/run/sdk"
}
download_only() { wget -q -O "$work/run/tarball" "$1/$TB"; }
decode_only() { mkdir -p "$work/run/sdk" && xz -T2 -dc "$www/$TB" | tar -x -C "$work/run/sdk"; }
export -f omv upstream download_only decode_only
export work omvdev V TB www
check_tree() { [ "$(cat "$work/run/sdk/sdk.version")" = $V ] || { echo "bench: no stamp" >&2; exit 1; }; }

echo "bench: $rounds rounds each, alternating" >&2
for i in $(seq "$rounds"); do
    fresh; timed omv-fast omv "$fast"; check_tree
    fresh; timed up-fast upstream "$fast"; check_tree
    fresh; timed bound-fast decode_only
    fresh; timed omv-slow omv "$slow"; check_tree
    fresh; timed up-slow upstream "$slow"; check_tree
    fresh; timed bound-slow download_only "$slow"
    echo "bench: round $i done" >&2
done

median() { cut -d' ' -f1 "$work/$1.txt" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
maxrss() { cut -d' ' -f2 "$work/$1.txt" | sort -n | tail -1; }
printf 'tarball: %s bytes xz (-3 -T2), %s bytes in %s files unpacked; %s rounds, medians\n' \
    "$tbytes" "$bytes" "$files" "$rounds"
for mode in fast slow; do
    o=$(median omv-$mode) u=$(median up-$mode) b=$(median bound-$mode)
    if [ $mode = fast ]; then label="unthrottled loopback" bl="xz -T2 -dc | tar -x (local file)"; else
        label="throttled to 100 Mbit/s" bl="download alone (wget)"; fi
    printf '\n%s\n' "$label"
    printf '  %-36s %7.2f s   (peak RSS %s KiB)\n' "omvdev sdk install" "$o" "$(maxrss omv-$mode)"
    printf '  %-36s %7.2f s\n' "upstream (wget, sha256sum -c, tar -xf)" "$u" "bound: $bl" "$b"
    awk -v o="$o" -v u="$u" -v b="$b" 'BEGIN {
        printf "  upstream / omvdev                    %7.2f x\n", u / o
        printf "  omvdev / bound                       %7.2f x\n", o / b }'
done
printf '\nall runs (wall s, peak RSS KiB):\n'
for f in omv-fast up-fast bound-fast omv-slow up-slow bound-slow; do
    printf '  %-11s %s\n' "$f" "$(tr '\n' ';' <"$work/$f.txt")"
done
