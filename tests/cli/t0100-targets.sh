#!/usr/bin/env bash
# The board database through `omvdev targets`.
. "$(dirname "$0")/lib.sh"

t "the list shows the 13 supported boards"
expect 0 targets
for b in OPENMV2 OPENMV3 OPENMV4 OPENMV4P OPENMVPT OPENMV_N6 OPENMV_RT1060 OPENMV_AE3 \
    ARDUINO_PORTENTA_H7 ARDUINO_GIGA ARDUINO_NICLA_VISION ARDUINO_NANO_33_BLE_SENSE \
    ARDUINO_NANO_RP2040_CONNECT; do
    grep -q "^$b " "$out" && pass || fail "no row for $b"
done
grep -q "^OPENMV1 " "$out" && fail "OPENMV1 listed without --all" || pass
expect 0 targets list --all
grep -q "^OPENMV1 .*(unsupported)" "$out" && pass || fail "OPENMV1 missing from --all"

t "--json lists every field of every supported board, schema 1"
expect 0 --json targets
python3 - "$out" <<'PY' && pass || fail "JSON check"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1
t = {x["name"]: x for x in d["targets"]}
assert len(t) == 16 and "OPENMV1" not in t, sorted(t)
fields = {"name", "camera", "supported", "mcu", "mcu_part", "port", "core", "app_usb",
          "dfu_usb", "method", "jlink_device", "debug_elf", "boots_external_flash",
          "debug_request", "min_gcc", "recovery", "recovery_usb", "runners", "swd_images",
          "swd_loader", "artefacts", "alts",
          "images", "erase", "probes", "openocd_target"}
for name, b in t.items():
    assert set(b) == fields, (name, set(b) ^ fields)
h7 = t["OPENMV4"]
assert h7["probes"] == ["jlink", "stlink", "cmsis-dap"]
assert h7["openocd_target"] == "target/stm32h7x_dual_bank.cfg"
assert t["OPENMV_RT1060"]["probes"] == ["jlink"] and t["OPENMV_RT1060"]["openocd_target"] is None
assert h7["app_usb"] == "37C5:1204" and h7["dfu_usb"] == "37C5:9204"
assert h7["alts"][0] == {"alt": 0, "name": "BOOTLOADER", "memory": "internal",
                         "start": "0x08000000", "end": "0x08020000", "size": 131072,
                         "role": "bootloader", "readonly": True}
assert [i["file"] for i in t["OPENMV_AE3"]["images"]] == [
    "firmware_M55_HP.bin", "firmware_M55_HE.bin", "romfs1.img", "romfs0.img"]
assert t["OPENMV_N6"]["min_gcc"] == "14.3" and t["OPENMV4"]["min_gcc"] is None
assert t["OPENMV_N6"]["debug_request"] == "attach"
assert t["OPENMV2"]["jlink_device"] is None
assert t["OPENMV4"]["runners"] == ["dfu", "st-rom-dfu", "swd-stlink", "swd-jlink"]
assert t["OPENMV2"]["runners"] == ["dfu", "st-rom-dfu", "swd-stlink"]
assert t["OPENMV_N6"]["swd_images"] == [{"file": "openmv.bin", "address": "0x70000000"}]
assert t["OPENMV_N6"]["swd_loader"] == "MX25UM51245G_STM32N6570-NUCLEO.stldr"
assert t["ARDUINO_NANO_RP2040_CONNECT"]["runners"] == ["picotool"]
assert all(b["runners"] for b in t.values() if b["method"] != "emulator")
assert t["MPS2_AN500"]["method"] == "emulator" and t["MPS2_AN500"]["runners"] == []
assert t["ARDUINO_GIGA"]["images"][0]["address"] == "0x08040000"
PY
expect 0 --json targets --all
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["targets"])==17' "$out" \
    && pass || fail "--all JSON has 17 boards"

t "markdown reproduces the firmware guide's tables"
expect 0 targets --format markdown
same_file "$out" "$TEST_DATA/guide-tables.md"
expect 0 targets list --format rst --table erase
out_has "   * - OpenMV AE3 (OPENMV_AE3)"
out_has "     - \`\`-a 5\`\`"
expect 0 targets list --table dfuse
grep -q "^Arduino Nicla Vision  *2341:035f  *-a 0 -s 0x08040000:leave  *-a 1 -s 0x90B00000:leave$" \
    "$out" && pass || fail "text dfuse table"

t "the format comes from config when not given"
mkdir -p "$XDG_CONFIG_HOME/omvdev"
printf '[targets]\nformat = markdown\n' >"$XDG_CONFIG_HOME/omvdev/config.ini"
expect 0 targets list --table erase
out_has "| Camera (TARGET) | DFU VID:PID | Erase alt |"
expect 0 targets list --table erase --format text
out_lacks "|"
rm -f "$XDG_CONFIG_HOME/omvdev/config.ini"

t "show: one board, case-insensitive, text and JSON"
expect 0 targets show openmv4p
out_has "OPENMV4P: OpenMV Cam H7 Plus"
out_has "3    SPI_FLASH   qspi      0x00000000  0x02000000  32 MiB    filesystem-erase"
out_has "4096 zero bytes to alt 3"
out_has "  runners          dfu st-rom-dfu swd-stlink swd-jlink"
out_has "  swd images       firmware.bin@0x08040000"
expect 0 --json targets show OPENMV_AE3
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]==1 and d["target"]["jlink_device"]=="AE302F80F55D5_HP"' "$out" \
    && pass || fail "show JSON"

t "show: unknown boards and missing arguments"
expect 2 targets show OPENMV_N7
err_is "omvdev: error: unknown board 'OPENMV_N7'
hint: did you mean 'OPENMV_N6'?"
out_empty
expect 2 targets show ESP32
err_has "hint: 'omvdev targets' lists the boards"
expect 2 targets show
err_has "expected one TARGET"
expect 2 targets OPENMV4
err_has "'OPENMV4' is not an 'omvdev targets' command"
expect 2 targets list OPENMV4
err_has "to see one board use 'omvdev targets show TARGET'"
expect 2 --json targets --format rst
err_has "--json cannot be combined with --format or --table"

finish
