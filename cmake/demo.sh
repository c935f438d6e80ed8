#!/bin/sh
# `make demo`: a tour of omvdev as it stands, in a scratch home so nothing of
# the user's is read or changed. Each step prints the command, then its output.
set -eu
: "${DEMO:?DEMO must name the omvdev binary}"
omvdev=$(cd "$(dirname "$DEMO")" && pwd)/$(basename "$DEMO")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/.config"
mkdir -p "$HOME" "$scratch/openmv/boards/OPENMV4"
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
