#!/usr/bin/env bash
# Benchmark (not a test): what recording compile_commands.json costs.
#  - per translation unit: Debian's arm-none-eabi-gcc compiling a small file directly, and
#    through the wrapper `omvdev build` passes make as CC (`omvdev-cc LOG gcc ...`: one
#    JSON line appended, then exec), and through omvdev itself (`omvdev __cc`, the fallback);
#  - per build: folding a one-entry log into a database of 1500 entries (about an OPENMV4
#    build), as `omvdev build` does after make - measured as `omvdev build` on the fixture
#    tree with such a database against the same build without one.
# CPU time (user + system, of the children) is reported next to wall time: on a loaded
# machine wall time measures the scheduler.
#
#   tests/bench/compiledb.sh [BUILD_DIR] [RUNS]      (default build/release, 30 runs)
set -eu
unset MAKEFLAGS MAKELEVEL MFLAGS
build=${1:-build/release}
runs=${2:-30}
omvdev=$(cd "$build" && pwd)/omvdev
data=$(cd "$(dirname "$0")/../data" && pwd)
[ -x "$omvdev" ] || { echo "bench: $omvdev is missing" >&2; exit 2; }
command -v arm-none-eabi-gcc >/dev/null || { echo "bench: arm-none-eabi-gcc is missing" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config"
mkdir -p "$HOME"
cp -r "$data/fixture-sdk" "$HOME/openmv-sdk-1.6.0"
cp -r "$data/firmware-repo" "$work/fw"
printf 'int f(int x) { return x * 3 + 1; }\n' >"$work/a.c"
(cd "$work/fw" && "$omvdev" -q build -t OPENMV4 >/dev/null)

python3 - "$omvdev" "$work" "$runs" <<'PY'
import os, resource, statistics, subprocess, sys, time
omvdev, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def measure(argv, cwd, before=None):
    wall, cpu = [], []
    for _ in range(runs):
        if before:
            before()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall.append((t1 - t0) * 1000)
        cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    return statistics.median(wall), statistics.median(cpu)

cc = ["-mcpu=cortex-m7", "-O2", "-c", "a.c", "-o", "a.o"]
d = measure(["arm-none-eabi-gcc"] + cc, work)
w = measure([omvdev + "-cc", work + "/log", "arm-none-eabi-gcc"] + cc, work)
f = measure([omvdev, "__cc", work + "/log", "arm-none-eabi-gcc"] + cc, work)
print(f"per translation unit, {runs} runs each (median):        wall      CPU")
print(f"  arm-none-eabi-gcc -c a.c                     {d[0]:7.2f} ms {d[1]:7.2f} ms")
print(f"  omvdev-cc LOG arm-none-eabi-gcc -c a.c       {w[0]:7.2f} ms {w[1]:7.2f} ms")
print(f"  the wrapper's share                          {w[0]-d[0]:7.2f} ms {w[1]-d[1]:7.2f} ms")
print(f"  (omvdev __cc, the fallback without omvdev-cc: {f[1]-d[1]:.2f} ms CPU)")

fw = work + "/fw"
db = fw + "/build/OPENMV4/compile_commands.json"
log = fw + "/build/OPENMV4/.compile_commands.log"
entry = ('{"directory": "%s", "file": "src/main.c", "output": "o%d.o", "arguments": '
         '["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-O2", "-c", "src/main.c", "-o", "o%d.o"]}')
big = "[\n" + ",\n".join(entry % (fw, i, i) for i in range(1500)) + "\n]\n"
def with_db():
    open(db, "w").write(big)
    open(log, "w").write(entry % (fw, 0, 0) + "\n")
def without_db():
    for p in (db, log):
        if os.path.exists(p):
            os.unlink(p)
n = measure([omvdev, "build", "-t", "OPENMV4"], fw, without_db)
m = measure([omvdev, "build", "-t", "OPENMV4"], fw, with_db)
print(f"omvdev build -t OPENMV4, up to date (median):   wall      CPU")
print(f"  nothing to merge (a no-op build)             {n[0]:7.2f} ms {n[1]:7.2f} ms")
print(f"  merging 1 entry into 1500                    {m[0]:7.2f} ms {m[1]:7.2f} ms")
print(f"  the merge's share                            {m[0]-n[0]:7.2f} ms {m[1]-n[1]:7.2f} ms")
PY
