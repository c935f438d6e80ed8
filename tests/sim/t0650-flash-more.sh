#!/usr/bin/env bash
# omvdev flash beyond the default path: .dfu files, the ST system bootloader (Rev V,
# mass erase), several cameras at once (--all), --json events, per-unit
# --skip-unchanged and injected faults. Memory compared byte for byte.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
mkdfu() { python3 "$(dirname "$0")/mkdfu.py" "$@"; }
S="$TMPD/state"
repo="$TMPD/openmv"
bin="$repo/build/OPENMV4/bin"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$bin" "$repo/build/ARDUINO_PORTENTA_H7/bin"
: >"$repo/Makefile"
head -c 300000 /dev/urandom >"$bin/firmware.bin"
head -c 70000 /dev/urandom >"$bin/romfs0.img"
head -c 100000 /dev/urandom >"$TMPD/bootloader.bin"
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
erased() { slice "$1" "$2" "$3" | tr -d '\377' | wc -c | grep -qx 0; }
untouched() { # the whole memory file is still erased flash
    [ ! -e "$1" ] || erased "$1" 0 "$(stat -c %s "$1")"
}

t ".dfu (plain DFU): the suffix names the camera's bootloader, the payload goes to --alt"
mkdfu plain "$TMPD/fw.dfu" 37C5:9204 "$bin/firmware.bin"
sim --device openmv-bl:OPENMV4,serial=F1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/fw.dfu" --alt 2
[ "$code" -eq 0 ] && pass || fail "exit $code"
slice "$S/F1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"

t ".dfu with a bad CRC, or made for another device: refused before any device is touched"
mkdfu plain "$TMPD/bad.dfu" 37C5:9204 "$bin/firmware.bin" --corrupt-crc
sim --device openmv-bl:OPENMV4,serial=F2 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/bad.dfu" --alt 2
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "'$TMPD/bad.dfu': "
err_has "bad crc at offset"
untouched "$S/F2/internal.bin" && pass || fail "memory written"
mkdfu plain "$TMPD/other.dfu" 37C5:9205 "$bin/firmware.bin"
sim --device openmv-bl:OPENMV4,serial=F3 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/other.dfu" --alt 2
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "'$TMPD/other.dfu' is not for OPENMV4"
err_has "37C5:9205"
untouched "$S/F3/internal.bin" && pass || fail "memory written"
expect 2 -C "$repo" flash -t OPENMV4 --file "$TMPD/fw.dfu" --dry-run
err_has "is a plain DFU file: it does not say where it goes (use --alt N)"

t ".dfu (DfuSe, two elements) on the Portenta: each element at its address, then leave"
head -c 70000 /dev/urandom >"$TMPD/qspi.img"
mkdfu dfuse "$TMPD/portenta.dfu" 2341:035B "0x08040000=$bin/firmware.bin" "0x90B00000=$TMPD/qspi.img"
expect 0 -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/portenta.dfu" --dry-run
out_has "portenta.dfu@0x08040000"
out_has "portenta.dfu@0x90B00000"
sim --device arduino:PORTENTA,serial=P1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/portenta.dfu"
[ "$code" -eq 0 ] && pass || fail "exit $code"
slice "$S/P1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
# Element 2 is in the QSPI alt's memory, so it is written through the alt that holds it.
slice "$S/P1/qspi.bin" $((0xB00000)) 70000 >"$TMPD/got" 2>/dev/null
if cmp -s "$TMPD/got" "$TMPD/qspi.img"; then pass; else fail "QSPI element not written"; fi

t "ST system bootloader: bootloader.bin by address, only its sector erased, then leave"
sim --device st-rom:H743,serial=R1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/bootloader.bin" --address 0x08000000
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "through the ST system bootloader (0483:DF11"
err_has "done: remove the BOOT jumper and replug the camera"
slice "$S/R1/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/bootloader.bin"
python3 - "$S/R1/log-1-st-rom.json" <<'PY' && pass || fail "erased more than the bootloader's sector"
import json, sys
log = json.load(open(sys.argv[1]))
notes = [n for r in log["requests"] for n in r.get("notes", [])]
erases = [n for n in notes if n.startswith("erase")]
assert len(erases) == 1 and "0x08000000" in erases[0], erases
assert any("leave" in n for n in notes), notes
PY

t "Rev V: a write into bank 2 stalls the erase; omvdev recovers it like ST's programmer"
head -c 1200000 /dev/urandom >"$TMPD/openmv.bin"
sim --device st-rom:H743,rev=V,serial=V1 --state "$S" -- \
    timeout 120 "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/openmv.bin" --address 0x08000000
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "stuck erase"
slice "$S/V1/internal.bin" 0 1200000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/openmv.bin"

t "bitCanUpload 0: --verify and --skip-unchanged are refused before anything is erased or read"
for opt in --verify --skip-unchanged; do
    sim --device "st-rom:H743,attrs=0x09,serial=N1,load=$TMPD/bootloader.bin@0x08000000" --state "$S" -- \
        "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/openmv.bin" --address 0x08000000 $opt
    [ "$code" -eq 3 ] && pass || fail "$opt: exit $code"
    err_has "$opt needs to read the device's memory back"
    err_has "bitCanUpload is 0"
    err_has "hint: flash without $opt"
    slice "$S/N1/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/bootloader.bin"
    erased "$S/N1/internal.bin" 100000 $((0x200000 - 100000)) && pass || fail "$opt: memory written"
    ! grep -q '"UPLOAD"\|"ERASE\|"DNLOAD"' "$S"/N1/log-*.json && pass || fail "$opt: requests sent"
done

t "--mass-erase on the ST ROM: whole chip erased, then written without page erases"
sim --device "st-rom:H743,rev=V,serial=V2,load=$TMPD/qspi.img@0x08180000" --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/bootloader.bin" --address 0x08000000 --mass-erase
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "warning: --mass-erase: the whole chip is erased"
slice "$S/V2/internal.bin" 0 100000 >"$TMPD/got"; same_file "$TMPD/got" "$TMPD/bootloader.bin"
erased "$S/V2/internal.bin" 100000 $((0x200000 - 100000)) && pass || fail "rest not mass-erased"
expect 2 -C "$repo" flash -t OPENMV4 --mass-erase --dry-run
err_has "--mass-erase erases the bootloader too: it goes with --file"
expect 2 -C "$repo" flash -t ARDUINO_PORTENTA_H7 --file "$TMPD/bootloader.bin" --address 0x08040000 --mass-erase --dry-run
err_has "would erase ARDUINO_PORTENTA_H7's factory bootloader"

t "--all: four cameras (two in their bootloader, two running firmware) flashed at once"
sim --device openmv-bl:OPENMV4,serial=M1 --device openmv-bl:OPENMV4,serial=M2 \
    --device camera:OPENMV4,serial=M3 --device camera:OPENMV4,serial=M4 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --all
[ "$code" -eq 0 ] && pass || fail "exit $code"
out_has "4 of 4 cameras flashed"
for m in M1 M2 M3 M4; do
    grep -q "^$m .* ok " "$out" && pass || fail "$m not ok in the summary"
    slice "$S/$m/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
    slice "$S/$m/internal.bin" $((0x1E0000)) 70000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/romfs0.img"
done
err_has "omvdev: M3: wrote firmware.bin"

t "--all with one camera unplugged mid-write: the others finish, the summary names it, exit 3"
sim --device openmv-bl:OPENMV4,serial=N1 --device openmv-bl:OPENMV4,serial=N2,fault=unplug-bytes:65536 \
    --state "$S" -- "$OMVDEV" -C "$repo" flash -t OPENMV4 --all
[ "$code" -eq 3 ] && pass || fail "exit $code"
out_has "1 of 2 cameras flashed"
grep -q "^N2 .* failed .*firmware.bin" "$out" && pass || fail "N2 failure not in the summary"
err_has "omvdev: error: N2: firmware.bin:"
slice "$S/N1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
erased "$S/N2/internal.bin" 0 $((0x20000)) && pass || fail "N2's bootloader touched"
expect 2 -C "$repo" flash -t OPENMV4 --all --serial X --dry-run
err_has "--all and --serial exclude each other"

t "--all does not wait for cameras it cannot switch (an Arduino board running its sketch)"
cp "$bin/firmware.bin" "$bin/romfs0.img" "$repo/build/ARDUINO_PORTENTA_H7/bin/"
sim --device arduino:PORTENTA,serial=Q1 --device usb:2341:045B,serial=Q2 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t ARDUINO_PORTENTA_H7 --all --wait 5
[ "$code" -eq 0 ] && pass || fail "exit $code"
out_has "1 of 1 camera flashed"
if grep -q "only .* reached the bootloader" "$err"; then fail "it waited for the sketch"; else pass; fi

t "--json: newline-delimited progress, step and summary events on stdout"
sim --device openmv-bl:OPENMV4,serial=J1 --state "$S" -- \
    "$OMVDEV" --json -C "$repo" flash -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "exit $code"
python3 - "$out" <<'PY' && pass || fail "json events"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
assert all(e["schema"] == 1 for e in events)
progress = [e for e in events if e["event"] == "progress"]
assert progress and all(e["device"] == "J1" for e in progress)
fw = [e for e in progress if e["step"] == "firmware.bin" and e["phase"] == "write"]
assert fw[-1]["done"] == fw[-1]["total"] == 300000, fw[-1]
assert [e["step"] for e in events if e["event"] == "step"] == ["firmware.bin", "romfs0.img"]
summary = events[-1]
assert summary["event"] == "summary" and summary["ok"] == 1 and summary["failed"] == 0
assert summary["devices"][0]["bytes_sent"] == 370000, summary
PY

t "--skip-unchanged: only the erase units that differ are erased and sent"
cp "$bin/firmware.bin" "$TMPD/fw-old.bin"
# Change 10 bytes inside the second 128 KiB sector of the partition.
printf '0123456789' | dd of="$bin/firmware.bin" bs=1 seek=$((0x20000 + 100)) conv=notrunc 2>/dev/null
sim --device "openmv-bl:OPENMV4,serial=K1,load=$TMPD/fw-old.bin@0x08040000,load=$bin/romfs0.img@0x081E0000" \
    --state "$S" -- "$OMVDEV" -C "$repo" flash -t OPENMV4 --skip-unchanged --verify
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "wrote firmware.bin: 262144 of 300000 bytes (the rest was unchanged) to alt 2 FIRMWARE"
err_has "romfs0.img is already on the camera: skipped"
slice "$S/K1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
python3 - "$S/K1/log-1-openmv-bl.json" <<'PY' && pass || fail "erases"
import json, sys
log = json.load(open(sys.argv[1]))
erases = [n for r in log["requests"] for n in r.get("notes", []) if n.startswith("erase")]
# sector 0 of the partition (always: block 0 opens it) and sector 1 (changed); not sector 2
assert len(erases) == 2 and "0x08040000" in erases[0] and "0x08060000" in erases[1], erases
PY

t "faults: a STALLed DNLOAD or GETSTATUS is a clear error naming the request, exit 3"
sim --device openmv-bl:OPENMV4,serial=G1,fault=stall:1:5 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: firmware.bin: write of block 0 (image offset 0x0) failed: the device refused the request (STALL)"
err_has "hint: the bootloader was not touched: run the same command again to retry"
erased "$S/G1/internal.bin" 0 $((0x20000)) && pass || fail "bootloader touched"
sim --device openmv-bl:OPENMV4,serial=G6,fault=stall:3:1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "reading the device's state (GETSTATUS) failed: the device refused the request (STALL)"

t "faults: a wrong state once and a slow erase are recovered from"
sim --device openmv-bl:OPENMV4,serial=G2,fault=wrong-state:10:1 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "wrong state: exit $code"
slice "$S/G2/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
sim --device openmv-bl:OPENMV4,serial=G3,fault=slow-erase:3 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 0 ] && pass || fail "slow erase: exit $code"
slice "$S/G3/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"

t "faults: a device stuck in dfuERROR is given up on with a clear message, exit 3"
sim --device openmv-bl:OPENMV4,serial=G5,fault=wrong-state:10 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "cannot bring the device back to dfuIDLE: it stays in state 'dfuERROR'"
untouched "$S/G5/internal.bin" && pass || fail "memory written"

t "faults: a refused write is a clear DFU error, exit 3"
sim --device openmv-bl:OPENMV4,serial=G4,fault=refuse-write:5 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: firmware.bin: "
err_has "errWRITE"
erased "$S/G4/internal.bin" 0 $((0x20000)) && pass || fail "bootloader touched"

t "faults: a bootloader that appears late is waited for; one that never does times out"
sim --device openmv-bl:OPENMV4,serial=L1,fault=late:1500 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --wait 10
[ "$code" -eq 0 ] && pass || fail "late: exit $code"
err_has "waiting up to 10 s for the OPENMV4 bootloader (37C5:9204)"
slice "$S/L1/internal.bin" $((0x40000)) 300000 >"$TMPD/got"; same_file "$TMPD/got" "$bin/firmware.bin"
sim --device openmv-bl:OPENMV4,serial=L2,fault=late:60000 --state "$S" -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --wait 1
[ "$code" -eq 3 ] && pass || fail "timeout: exit $code"
err_has "no OPENMV4 bootloader (37C5:9204) appeared within 1 s"
sim -- "$OMVDEV" -C "$repo" flash -t OPENMV4 --file "$TMPD/bootloader.bin" --address 0x08000000 --wait 1
[ "$code" -eq 3 ] && pass || fail "rom timeout: exit $code"
err_has "no OPENMV4 ST system bootloader (0483:DF11) appeared within 1 s"
err_has "hint: put the BOOT jumper on"

finish
