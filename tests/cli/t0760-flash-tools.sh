#!/usr/bin/env bash
# omvdev flash for the Nano boards, which are not DFU devices: bossac (Nano 33 BLE Sense)
# and picotool (Nano RP2040 Connect) are stand-ins that record their arguments; compared
# with the seed's commands (§10.7.8).
. "$(dirname "$0")/lib.sh"

repo="$TMPD/openmv"
log="$TMPD/tools.log"
mkdir -p "$repo/boards" "$repo/ports" "$repo/lib/micropython" "$repo/build/ARDUINO_NANO_33_BLE_SENSE/bin" \
    "$repo/build/ARDUINO_NANO_RP2040_CONNECT/bin" "$TMPD/path"
: >"$repo/Makefile"
ble="$repo/build/ARDUINO_NANO_33_BLE_SENSE/bin/firmware.bin"
uf2="$repo/build/ARDUINO_NANO_RP2040_CONNECT/bin/firmware.uf2"
head -c 1000 /dev/zero >"$ble"
head -c 1000 /dev/zero >"$uf2"
ln -s "$TEST_DATA/stand-in-tools/standin" "$TMPD/path/bossac"
ln -s "$TEST_DATA/stand-in-tools/standin" "$TMPD/path/picotool"
export STANDIN_LOG="$log"

t "--dry-run prints the exact command and runs nothing"
: >"$log"
expect 0 -C "$repo" flash -t ARDUINO_NANO_33_BLE_SENSE --dry-run
out_has "bossac -e -w -v -R --offset=0x16000 $ble"
expect 0 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT --dry-run
out_has "picotool load -x $uf2"
[ ! -s "$log" ] && pass || fail "a tool ran during --dry-run"

t "bossac at the SoftDevice-safe offset, picotool load -x, as the seed does"
: >"$log"
PATH="$TMPD/path:$PATH" expect 0 -C "$repo" flash -t ARDUINO_NANO_33_BLE_SENSE
err_has "double-tap RESET first"
err_has "omvdev: done: ARDUINO_NANO_33_BLE_SENSE flashed with bossac"
PATH="$TMPD/path:$PATH" expect 0 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT --firmware "$uf2"
err_has "omvdev: done: ARDUINO_NANO_RP2040_CONNECT flashed with picotool"
printf 'bossac -e -w -v -R --offset=0x16000 %s\npicotool load -x %s\n' "$ble" "$uf2" >"$TMPD/want"
same_file "$log" "$TMPD/want"

t "a failing tool: exit 3 and what to do; a hanging one is stopped after --wait"
STANDIN_FAIL=bossac PATH="$TMPD/path:$PATH" expect 3 -C "$repo" flash -t ARDUINO_NANO_33_BLE_SENSE
err_has "omvdev: error: bossac failed (exit status 1)"
err_has "hint: double-tap RESET so the board waits in its bootloader"
STANDIN_HANG=picotool PATH="$TMPD/path:$PATH" expect 3 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT --wait 1
err_has "'$TMPD/path/picotool' did not finish within 1 s"

t "missing tool, missing image, options that do not apply"
PATH="/usr/bin:/bin" expect 1 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT
err_has "'picotool' is not on PATH"
err_has "hint: install Raspberry Pi's picotool"
rm "$uf2"
expect 1 -C "$repo" flash -t ARDUINO_NANO_RP2040_CONNECT --dry-run
err_has "cannot open '$uf2'"
err_has "hint: build it first (omvdev build -t ARDUINO_NANO_RP2040_CONNECT)"
expect 2 -C "$repo" flash -t ARDUINO_NANO_33_BLE_SENSE --verify
err_has "ARDUINO_NANO_33_BLE_SENSE is flashed with bossac: only --firmware, --wait and --dry-run apply"
expect 2 -C "$repo" flash -t ARDUINO_NANO_33_BLE_SENSE --wait 0
err_has "--wait takes whole seconds from 1 to 3600"

finish
