#!/bin/sh
# `make demo`: a tour of omvdev as it stands, in a scratch home so nothing of
# the user's is read or changed. Each step prints the command, then its output.
set -eu
: "${DEMO:?DEMO must name the omvdev binary}"
omvdev=$(cd "$(dirname "$DEMO")" && pwd)/$(basename "$DEMO")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/.config"
mkdir -p "$HOME" "$scratch/openmv/boards/OPENMV4" "$scratch/openmv/ports" "$scratch/openmv/lib/micropython"
: >"$scratch/openmv/Makefile"
cd "$scratch/openmv"

if [ -t 1 ]; then b=$(printf '\033[1m') r=$(printf '\033[0m'); else b='' r=''; fi
say() { printf '\n%s$ %s%s%s\n' "$b" "$1" "$r" "${2:-}"; }
step() {
    say "omvdev $*"
    "$omvdev" "$@"
}
fails() {
    say "omvdev $*" "   # fails on purpose"
    if "$omvdev" "$@"; then echo "demo: expected a failure" >&2; exit 1; fi
}

step --version
step targets
step targets show OPENMV_AE3
step targets list --format markdown --table erase
fails targets show OPENMV_N7
step config set targets.format rst
step config set --project core.color never
say "OMVDEV_TARGETS_FORMAT=markdown omvdev -c core.color=auto config list --show-origin --all"
OMVDEV_TARGETS_FORMAT=markdown "$omvdev" -c core.color=auto config list --show-origin --all
cp "$XDG_CONFIG_HOME/omvdev/config.ini" "$scratch/good.ini"
printf '[targets\n' >>"$XDG_CONFIG_HOME/omvdev/config.ini"
fails targets
cp "$scratch/good.ini" "$XDG_CONFIG_HOME/omvdev/config.ini"
say "omvdev --json targets show OPENMV4 | head -12"
"$omvdev" --json targets show OPENMV4 >"$scratch/h7.json"
head -12 "$scratch/h7.json"

# The virtual camera: an OpenMV Cam H7 running its firmware on a simulated USB bus.
sim="$(dirname "$omvdev")/tests/omvdev-sim"
if [ -x "$sim" ]; then
    mkdir -p build/OPENMV4/bin
    head -c 400000 /dev/urandom >build/OPENMV4/bin/firmware.bin
    head -c 60000 /dev/urandom >build/OPENMV4/bin/romfs0.img
    say "omvdev devices        # on the virtual camera's USB bus"
    "$sim" --device camera:OPENMV4,serial=DEMO01 -- "$omvdev" devices
    say "omvdev flash --verify # finds the board, SYS_BOOT, flash by alt, reset"
    "$sim" --device camera:OPENMV4,serial=DEMO01 --timescale 0.05 --state "$scratch/state" -- \
        "$omvdev" flash --verify
    say "cmp firmware.bin with the virtual camera's flash at 0x08040000"
    tail -c +$((0x40000 + 1)) "$scratch/state/DEMO01/internal.bin" | head -c 400000 |
        cmp - build/OPENMV4/bin/firmware.bin && echo "identical"
else
    printf '\n(omvdev-sim was not built: install umockdev (make check does) for the virtual camera tour)\n'
fi
# ---- omvdev vscode: VS Code + Cortex-Debug + J-Link for OPENMV4 -------------------------
[ -e SDK_VERSION ] || echo 1.6.0 >SDK_VERSION
PATH="$(dirname "$omvdev"):$PATH" # the generated tasks run `omvdev`, as an installed one would
step vscode -t OPENMV4
say "cat .vscode/launch.json"
cat .vscode/launch.json
say "sed -i ... .vscode/launch.json   # add a configuration of your own, with a comment"
sed -i 's|"configurations": \[|"configurations": [\n        // mine\n        { "name": "my tool", "type": "node" },|' \
    .vscode/launch.json
stat -c '%n %i %y' .vscode/*.json >"$scratch/vscode-before"
step vscode -t OPENMV4
say "# the rerun wrote nothing: same inodes and times, and your entry is still there"
stat -c '%n %i %y' .vscode/*.json | tee "$scratch/vscode-after"
if cmp -s "$scratch/vscode-before" "$scratch/vscode-after"; then echo "unchanged"; else
    echo "demo: the rerun changed a file" >&2
    exit 1
fi
grep -n -A1 '// mine' .vscode/launch.json
# ---- end of omvdev vscode -----------------------------------------------------------------
# ---- sdk: install from a loopback mirror (a small generated SDK tarball) ----
case "$(uname -sm)" in
"Linux x86_64") plat=linux-x86_64 ;;
"Darwin arm64") plat=darwin-arm64 ;;
*) plat= ;;
esac
if [ -n "$plat" ] && command -v python3 >/dev/null && command -v xz >/dev/null; then
    mirror="$scratch/mirror"
    top="openmv-sdk-1.6.0-$plat"
    mkdir -p "$mirror/sdk" "$scratch/tree/$top/gcc/bin" "$scratch/tree/$top/python/bin" \
        "$scratch/tree/$top/bin"
    printf '#!/bin/sh\necho "arm-none-eabi-gcc (demo) 14.3.1"\n' >"$scratch/tree/$top/gcc/bin/arm-none-eabi-gcc"
    chmod +x "$scratch/tree/$top/gcc/bin/arm-none-eabi-gcc"
    head -c 2000000 /dev/urandom >"$scratch/tree/$top/python/bin/python3.12"
    ln -s python3.12 "$scratch/tree/$top/python/bin/python3"
    echo 1.6.0 >"$scratch/tree/$top/sdk.version"
    (cd "$scratch/tree" && tar -cf - "$top" | xz -3 -T2 >"$mirror/sdk/$top.tar.xz")
    (cd "$mirror/sdk" && sha256sum "$top.tar.xz" >"$top.tar.xz.sha256")
    echo 1.6.0 >SDK_VERSION
    python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$mirror" >"$scratch/http.log" 2>&1 &
    http_pid=$!
    port=
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$scratch/http.log" | head -1)
        [ -n "$port" ] && break
        sleep 0.2
    done
    step sdk install --mirror "http://127.0.0.1:$port/sdk"
    say "omvdev sdk install --mirror http://127.0.0.1:$port/sdk" "   # again: nothing to do"
    "$omvdev" sdk install --mirror "http://127.0.0.1:$port/sdk"
    step sdk verify
    step sdk list
    say 'eval "$(omvdev sdk env)"; arm-none-eabi-gcc --version'
    (eval "$("$omvdev" sdk env)" && arm-none-eabi-gcc --version)
    say "printf X >>~/openmv-sdk-1.6.0/python/bin/python3.12" "   # damage the SDK"
    printf X >>"$HOME/openmv-sdk-1.6.0/python/bin/python3.12"
    fails sdk verify
    step sdk install --force --mirror "http://127.0.0.1:$port/sdk"
    step sdk verify
    kill "$http_pid"
else
    printf '\n(no SDK is published for this platform, or python3/xz are missing: sdk tour skipped)\n'
fi
# ---- end of sdk -------------------------------------------------------------------------

# ---- build and doctor (issue 4) ------------------------------------------------------
# The fixture firmware repository and fixture SDK of the tests: upstream's SDK checks,
# error strings and PATH, with stand-in compile steps. The SDK goes to ~/openmv-sdk-<ver>
# unless one is installed there already (then a copy of the fixture SDK is used through
# SDK_DIR, so this block works before or after `omvdev sdk install`).
data="$(cd "$(dirname "$omvdev")/../.." && pwd)/tests/data"
if [ -d "$data/firmware-repo" ]; then
    cp -r "$data/firmware-repo" "$scratch/fw"
    sdkver=$(cat "$scratch/fw/SDK_VERSION")
    if [ -e "$HOME/openmv-sdk-$sdkver" ]; then
        cp -r "$data/fixture-sdk" "$scratch/fixture-sdk"
        SDK_DIR="$scratch/fixture-sdk"
        export SDK_DIR
    else
        cp -r "$data/fixture-sdk" "$HOME/openmv-sdk-$sdkver"
    fi
    cd "$scratch/fw"
    say "omvdev doctor" "   # a failure here is the machine's (udev rules, J-Link), not the demo's"
    "$omvdev" doctor || true
    step build -t OPENMV4
    step build -t OPENMV4,OPENMV_N6,OPENMV_AE3
    fails build -t OPENMV_N7
    step size -t OPENMV_N6
    step env --shell fish
    cd "$scratch/openmv"
    unset SDK_DIR
fi
# ---- end of build and doctor ----------------------------------------------------------

# ---- recover (issue #8): a Rev V OpenMV Cam H7 with a damaged bootloader ----------------
if [ -x "$sim" ]; then
    head -c 100000 /dev/urandom >build/OPENMV4/bin/bootloader.bin
    head -c 131072 /dev/urandom >"$scratch/damaged.bin"
    step recover -t OPENMV4 --dry-run
    say "omvdev recover -t OPENMV4 --yes   # BOOT-RST jumper: the ST ROM of a Rev V H743"
    "$sim" --device "st-rom:H743,rev=V,serial=DEMO02,load=$scratch/damaged.bin@0x08000000,after=openmv-bl:OPENMV4" \
        --timescale 0.05 --state "$scratch/state" -- "$omvdev" recover -t OPENMV4 --yes
    say "cmp bootloader.bin and firmware.bin with the recovered camera's flash"
    head -c 100000 "$scratch/state/DEMO02/internal.bin" | cmp - build/OPENMV4/bin/bootloader.bin &&
        tail -c +$((0x40000 + 1)) "$scratch/state/DEMO02/internal.bin" | head -c 400000 |
        cmp - build/OPENMV4/bin/firmware.bin && echo "identical"
fi
# ---- end of recover ---------------------------------------------------------------------
printf '\nomvdev: demo finished.\n'
