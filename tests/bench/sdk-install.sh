#!/usr/bin/env bash
# Benchmark (not a test): `omvdev sdk install` against the bounds no installer
# can beat, measured in the same rounds on one SDK-like tarball served on
# loopback (tests/component/server.py):
#
#   unthrottled   omvdev           vs  xz -T2 -dc FILE | tar -x   (the decode floor)
#   100 Mbit/s    omvdev           vs  curl of the whole file      (the wire)
#   resume        omvdev after a Ctrl-C at 50 %, at 100 Mbit/s
#                                  vs  curl of the remaining bytes alone
#
# Each round runs every command once, in a rotated order; the ratios are taken
# per round and their median, minimum and maximum printed, with the CPU time
# other processes used during each run (the noise: "other" is in cores, 0.00
# means the machine was otherwise idle). Finished trees are moved aside, never
# deleted between timed runs (deleting a large tree makes the extraction that
# follows slower on ext4); they are deleted at the end. Before each timed run
# the writes of earlier runs are flushed and, as root, the page cache dropped
# and the run's input and the programs read back in (see settle), so that every
# run starts from the same memory. Beside the wall time each run's CPU time is
# kept: the floor and omvdev both have two cores to fill, and "busy" (CPU
# seconds per wall second) shows how well each keeps them filled.
#
#   tests/bench/sdk-install.sh [BUILD_DIR] [ROUNDS] [SIZE_MB]
#       (default build/release, 5 rounds, 1400 MB unpacked: upstream's size)
#   BENCH_DIR=/somewhere    work directory (default: a new one under /tmp)
#   BENCH_RATE=BYTES/S      the throttle (default 12500000: 100 Mbit/s)
#   BENCH_TARBALL=FILE      use this tarball (with FILE.sha256) instead of making one
#
# The tree is made of real files of this machine's /usr (toolchains, libraries,
# headers, Python; setuid files and files over 40 MB left out), shuffled, below
# one top-level directory with an sdk.version stamp, packed as upstream does:
# tar -cf - DIR | xz -3 -T2 (12 MiB blocks). At a smaller SIZE_MB keep the
# proportions: the resume goal assumes the remaining half takes longer to
# download than the whole takes to decode, which holds for upstream's 310 MB
# tarball at 100 Mbit/s; scale BENCH_RATE with the size.
set -eu
build=${1:-build/release}
rounds=${2:-5}
size_mb=${3:-1400}
rate=${BENCH_RATE:-12500000}
here=$(cd "$(dirname "$0")" && pwd)
omvdev=$(cd "$build" && pwd)/omvdev
server=$here/../component/server.py
[ -x "$omvdev" ] || { echo "bench: $omvdev is missing (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
for c in curl xz tar sha256sum python3 /usr/bin/time; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed" >&2; exit 2; }
done

work=${BENCH_DIR:-$(mktemp -d /tmp/omvdev-bench.XXXXXX)}
mkdir -p "$work/trash"
spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    echo "bench: deleting the finished trees ..." >&2
    rm -rf "$work"
}
trap cleanup EXIT
V=1.6.0
top=openmv-sdk-$V-linux-x86_64
TB=$top.tar.xz
www=$work/www
mkdir -p "$www"

if [ -n "${BENCH_TARBALL:-}" ]; then
    cp "$BENCH_TARBALL" "$www/$TB" && (cd "$www" && sha256sum "$TB" >"$TB.sha256")
else
    echo "bench: building a ${size_mb} MB tree from /usr ..." >&2
    mkdir -p "$work/src/$top"
    find /usr/lib/gcc /usr/include /usr/lib/python3* /usr/lib/llvm-* /usr/share /usr/bin /usr/libexec \
        /usr/lib/x86_64-linux-gnu -xdev -type f ! -perm /6000 -size -40M -printf '%s %p\n' 2>/dev/null |
        shuf --random-source=<(yes) |
        awk -v max=$((size_mb * 1000 * 1000)) '{ if (total >= max) exit; total += $1; sub(/^[0-9]+ \//, ""); print }' \
            >"$work/files"
    tar -C / -cf - -T "$work/files" 2>/dev/null | tar -C "$work/src/$top" -xf -
    echo $V >"$work/src/$top/sdk.version"
    echo "bench: packing with tar -cf - DIR | xz -3 -T2 ..." >&2
    tar -C "$work/src" -cf - "$top" | xz -3 -T2 >"$www/$TB"
    (cd "$www" && sha256sum "$TB" >"$TB.sha256")
    mv "$work/src" "$work/trash/src"
fi
tbytes=$(stat -c %s "$www/$TB")
blocks=$(xz -l --robot "$www/$TB" | awk '$1 == "totals" {print $3}')
ubytes=$(xz -l --robot "$www/$TB" | awk '$1 == "totals" {print $5}')
files=$(xz -dc "$www/$TB" | tar -t | grep -vc '/$')

python3 "$server" "$www" "$work/port" 2>"$work/server.log" &
spid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
fast="http://127.0.0.1:$port"
slow="http://127.0.0.1:$port/f/rate=$rate"
# Warm up: the tarball in the page cache, the server's ETag of it computed.
curl -sf -o /dev/null "$fast/$TB"

# The machine's busy CPU time and the server's, in 1/100 s.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
srv_cpu() { awk '{print $14 + $15}' "/proc/$spid/stat"; }

run=0
fresh() { # a new run directory; the previous one is moved aside, not deleted
    [ -d "$work/run" ] && mv "$work/run" "$work/trash/run$run"
    run=$((run + 1))
    mkdir -p "$work/run/home"
}
# Every timed run starts from the same memory: what earlier runs wrote is
# flushed (no writeback of theirs overlaps it), and as root the page cache is
# dropped, so the finished trees do not fill memory as rounds go on; then the
# files a run reads (the tarball, a kept .part) are read back into the cache,
# and so are the programs and their shared libraries, as after any earlier use
# of them. Left cold they would charge the run for loading them from disk,
# more for omvdev's 46 libraries (about 70 ms here) than for xz's and tar's.
can_drop=false
[ -w /proc/sys/vm/drop_caches ] && can_drop=true
mapfile -t programs < <(for p in "$omvdev" "$(command -v xz)" "$(command -v tar)" "$(command -v curl)" "$(command -v bash)"; do
    echo "$p"
    ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u)
settle() {
    sync
    if $can_drop; then
        echo 3 >/proc/sys/vm/drop_caches
        find "$www" "$work/run" -type f \( -name "$TB" -o -name '*.part' \) -exec cat {} + >/dev/null
        cat "${programs[@]}" >/dev/null
    fi
}
# timed NAME CMD...: "wall_s peak_rss_kib other_cores cpu_s" appended to $work/NAME.txt
timed() {
    local name=$1 b0 b1 s0 s1
    shift
    settle
    b0=$(busy) s0=$(srv_cpu)
    /usr/bin/time -f "%e %M %U %S" -o "$work/time.out" bash -c '"$@"' bash "$@" >"$work/cmd.log" 2>&1 || {
        echo "bench: $name failed:" >&2
        tail -5 "$work/cmd.log" >&2
        exit 1
    }
    b1=$(busy) s1=$(srv_cpu)
    awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" '{
        other = (b - s) / 100 - $3 - $4; if (other < 0) other = 0
        printf "%s %s %.2f %.2f\n", $1, $2, other / ($1 > 0 ? $1 : 1), $3 + $4 }' "$work/time.out" >>"$work/$name.txt"
}
omv() { # omv MIRROR (exec: a background omv's pid is omvdev's, for the Ctrl-C)
    HOME=$work/run/home XDG_CACHE_HOME=$work/run/cache XDG_CONFIG_HOME=$work/run/config \
        exec "$omvdev" -q sdk install --version $V --dir "$work/run/sdk" --mirror "$1"
}
floor() { mkdir -p "$work/run/sdk" && xz -T2 -dc "$www/$TB" | tar -x -C "$work/run/sdk"; }
download() { curl -sf -o "$work/run/tarball" "$1/$TB"; }
rest() { curl -sf -r "$(cat "$work/half")-" -o "$work/run/rest" "$slow/$TB"; }
export -f omv floor download rest
export work omvdev V TB www slow
check_tree() { [ "$(cat "$work/run/sdk/sdk.version" 2>/dev/null)" = $V ] || { echo "bench: no stamp" >&2; exit 1; }; }

# Ctrl-C an install at 100 Mbit/s once half the tarball is in its .part.
interrupt_at_half() {
    local part=$work/run/cache/omvdev/downloads/$TB.part pid size
    (omv "$slow" >/dev/null 2>&1) &
    pid=$!
    for _ in $(seq 6000); do
        size=$(stat -c %s "$part" 2>/dev/null || echo 0)
        [ "$size" -ge $((tbytes / 2)) ] && break
        sleep 0.02
    done
    kill -INT $pid
    wait $pid || true
    stat -c %s "$part" >"$work/half"
}

cmds=(floor omv-fast download omv-slow resume)
one() {
    case $1 in
    floor) fresh; timed floor floor ;;
    omv-fast) fresh; timed omv-fast omv "$fast"; check_tree ;;
    download) fresh; timed download download "$slow" ;;
    omv-slow) fresh; timed omv-slow omv "$slow"; check_tree ;;
    resume)
        fresh; interrupt_at_half
        timed rest rest
        timed resume omv "$slow"; check_tree ;;
    esac
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $rounds rounds; $(nproc) CPUs; load average before: $load_before" >&2
for i in $(seq "$rounds"); do
    for j in $(seq 0 $((${#cmds[@]} - 1))); do
        one "${cmds[$(((i - 1 + j) % ${#cmds[@]}))]}"
    done
    echo "bench: round $i done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

col() { cut -d' ' -f"$2" "$work/$1.txt"; }
stats() { sort -n | awk '{a[NR] = $1} END {printf "%.2f (%.2f-%.2f)", a[int((NR + 1) / 2)], a[1], a[NR]}'; }
# quotients A COLA B COLB: per round, column COLA of A's runs over column COLB of B's
quotients() { paste -d' ' <(col "$1" "$2") <(col "$3" "$4") | awk '{printf "%.3f\n", $1 / $2}'; }
ratios() { quotients "$1" 1 "$2" 1; }          # wall times
kept_busy() { quotients "$1" 4 "$1" 1; }       # CPU seconds per wall second
printf 'tarball: %s bytes xz -3 -T2 in %s blocks, %s bytes in %s files unpacked\n' "$tbytes" "$blocks" "$ubytes" "$files"
printf '%s rounds, commands rotated; %s CPUs; load average %s before, %s after\n' \
    "$rounds" "$(nproc)" "$load_before" "$load_after"
if $can_drop; then
    echo "before each run: sync, page cache dropped, the tarball (and a kept .part) and the programs read back in"
else
    echo "before each run: sync (not root: the page cache was not dropped)"
fi
printf '\n%-44s %s\n' "wall seconds: median (min-max)" "other CPU during the runs, cores: median (max)"
for n in floor omv-fast download omv-slow rest resume; do
    case $n in
    floor) label="xz -T2 -dc FILE | tar -x (floor)" ;; omv-fast) label="omvdev, unthrottled" ;;
    download) label="curl, whole file, $((rate * 8 / 1000000)) Mbit/s" ;; omv-slow) label="omvdev, $((rate * 8 / 1000000)) Mbit/s" ;;
    rest) label="curl, remaining bytes after Ctrl-C" ;; resume) label="omvdev, resume after Ctrl-C at 50 %" ;;
    esac
    printf '  %-38s %s   %s\n' "$label" "$(col $n 1 | stats)" "$(col $n 3 | stats)"
done
printf '\nper-round ratios: median (min-max)            goal\n'
printf '  unthrottled: omvdev / floor             %s   <= 1.00\n' "$(ratios omv-fast floor | stats)"
printf '  %3s Mbit/s: omvdev / download          %s   <= 1.02\n' "$((rate * 8 / 1000000))" "$(ratios omv-slow download | stats)"
printf '  resume: omvdev / remaining download     %s   <= 1.10\n' "$(ratios resume rest | stats)"
printf '\nunthrottled CPU time, per round: omvdev / floor  %s\n' "$(quotients omv-fast 4 floor 4 | stats)"
printf 'cores kept busy (CPU s per wall s) of %s: floor %s, omvdev %s\n' \
    "$(nproc)" "$(kept_busy floor | stats)" "$(kept_busy omv-fast | stats)"
printf '\npeak RSS of omvdev: %s KiB (goal <= 64 MB); of the floor: %s KiB (xz; tar is smaller)\n' \
    "$(cat "$work/omv-fast.txt" "$work/omv-slow.txt" "$work/resume.txt" | cut -d' ' -f2 | sort -n | tail -1)" \
    "$(cut -d' ' -f2 "$work/floor.txt" | sort -n | tail -1)"
printf '\nall runs (wall s, peak RSS KiB, other cores, CPU s):\n'
for n in floor omv-fast download omv-slow rest resume; do
    printf '  %-9s %s\n' "$n" "$(tr '\n' ';' <"$work/$n.txt")"
done
