#!/usr/bin/env bash
# omvdev recover: the --dry-run of every family compared with golden files (the commands
# checked against seed 004 §10.8 and seed 002), and the refusals that need no device.
. "$(dirname "$0")/lib.sh"

repo="$TMPD/openmv"
sdk="$TMPD/sdk"
se="$TMPD/setools"
stand="$TEST_DATA/stand-in-tools"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$sdk/stcubeprog/bin" "$sdk/python/bin" "$sdk/gcc/bin" "$se"
: >"$repo/Makefile"
ln -s "$stand/standin" "$sdk/stcubeprog/bin/STM32_Programmer_CLI"
ln -s "$stand/standin" "$sdk/python/bin/python3"
for n in maintenance updateSystemPackage app-write-mram; do ln -s "$stand/standin" "$se/$n"; done
export SDK_DIR="$sdk"
mk() { # TARGET FILE SIZE...
    local b="$repo/build/$1/bin"
    shift
    mkdir -p "$b"
    while [ $# -gt 0 ]; do head -c "$2" /dev/zero >"$b/$1"; shift 2; done
}
mk OPENMV2 bootloader.bin 30000
mk OPENMV4 bootloader.bin 100000
mk OPENMV_N6 FlashLayout.tsv 300
mk OPENMV_RT1060 sdphost_flash_loader.bin 20000 blhost_flash_loader.bin 70000 firmware.bin 2000000
mk OPENMV_AE3 bootloader.bin 100000 firmware_pad.toc 4096
golden() { # NAME: stdout with the scratch directory masked, against tests/data/recover/NAME.txt
    sed "s|$TMPD|TMP|g" "$out" >"$TMPD/got.txt"
    # UPDATE_GOLDEN=1 rewrites the golden file (then read the diff before committing it).
    [ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMPD/got.txt" "$TEST_DATA/recover/$1.txt"
    same_file "$TMPD/got.txt" "$TEST_DATA/recover/$1.txt"
}

for T in OPENMV2 OPENMV4 OPENMV_N6 OPENMV_RT1060; do
    t "--dry-run $T: every step and exact command, nothing run"
    : >"$TMPD/tools.log"
    STANDIN_LOG="$TMPD/tools.log" expect 0 -C "$repo" recover -t "$T" --dry-run
    golden "$T"
    err_empty
    [ -s "$TMPD/tools.log" ] && fail "a tool ran" || pass
done

t "--dry-run OPENMV_AE3, with the SE tools directory and updateSystemPackage"
expect 0 -C "$repo" recover -t OPENMV_AE3 --dry-run --se-tools "$se" --update-se
golden OPENMV_AE3

t "--dry-run names a tool that is missing, and still prints the steps"
SDK_DIR="$TMPD/nosdk" expect 0 -C "$repo" recover -t OPENMV_N6 --dry-run
grep -qF -- "\$ STM32_Programmer_CLI -c port=USB1 -d $repo/build/OPENMV_N6/bin/FlashLayout.tsv" "$out" && pass || fail "bare name"
err_has "omvdev: warning: 'STM32_Programmer_CLI' is not on PATH (and no SDK was found): install it before the real run"

t "a real run without the tool stops before anything, with a doctor-style hint"
SDK_DIR="$TMPD/nosdk" expect 1 -C "$repo" recover -t OPENMV_N6 --yes
err_has "omvdev: error: 'STM32_Programmer_CLI' is not on PATH (and no SDK was found)"
err_has "hint: install the OpenMV SDK (make sdk in your openmv clone) or set SDK_DIR, or put STM32_Programmer_CLI on PATH"

t "Arduino boards: the bootloader is factory-locked, said plainly"
for T in ARDUINO_PORTENTA_H7 ARDUINO_NANO_33_BLE_SENSE; do
    expect 1 recover -t "$T" --dry-run
    err_has "omvdev: error: the bootloader of $T"
    err_has "is factory-locked: omvdev cannot restore it"
    err_has "hint: only the application is ever written (omvdev flash -t $T); a damaged Arduino bootloader is restored with Arduino's own tools"
    out_empty
done
sed "s|$TMPD|TMP|g" "$err" >"$TMPD/got.txt"
[ -n "${UPDATE_GOLDEN:-}" ] && cp "$TMPD/got.txt" "$TEST_DATA/recover/ARDUINO_NANO_33_BLE_SENSE.txt"
same_file "$TMPD/got.txt" "$TEST_DATA/recover/ARDUINO_NANO_33_BLE_SENSE.txt"

t "usage: the board must be named; not on a terminal it needs --yes"
expect 2 recover
err_has "name the board to recover: omvdev recover -t TARGET"
expect 2 -C "$repo" recover -t OPENMV4 </dev/null
err_has "not on a terminal: recovery needs --yes to run without prompts (or --dry-run to see the steps)"
expect 2 recover -t OPENMV_N7 --dry-run
err_has "unknown board 'OPENMV_N7'"
expect 2 recover -t OPENMV1 --dry-run
err_has "OPENMV1 is no longer supported by the firmware"
expect 2 -C "$repo" recover -t OPENMV4 --wait 4000 --dry-run
err_has "invalid value '4000' for --wait: expected a number from 0 to 3600"
expect 2 -C "$repo" recover -t OPENMV4 --timeout 0 --dry-run
err_has "invalid value '0' for --timeout: expected a number from 1 to 86400"

t "missing and oversized files are refused before any device is looked for"
expect 1 -C "$repo" recover -t OPENMV3 --dry-run
err_has "omvdev: error: cannot open '$repo/build/OPENMV3/bin/bootloader.bin': No such file or directory"
err_has "hint: build it first (make TARGET=OPENMV3 in your openmv clone), or name the directory that holds it with --dir DIR"
mk OPENMV3 bootloader.bin 40000
expect 1 -C "$repo" recover -t OPENMV3 --dry-run
err_has "'$repo/build/OPENMV3/bin/bootloader.bin' is 40000 bytes but the bootloader partition holds 32768"
expect 0 -C "$repo" recover -t OPENMV4 --dry-run --dir "$repo/build/OPENMV4/bin"
out_has "bootloader.bin (100000 bytes)"
mkdir -p "$TMPD/sp ace"
cp "$repo/build/OPENMV_AE3/bin/"* "$TMPD/sp ace/"
expect 1 -C "$repo" recover -t OPENMV_AE3 --dry-run --se-tools "$se" --dir "$TMPD/sp ace"
err_has "app-write-mram cannot take '$TMPD/sp ace/bootloader.bin': its -i list is split at spaces"

finish
