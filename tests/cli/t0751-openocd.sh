#!/usr/bin/env bash
# The command lines and config files omvdev hands to OpenOCD, run by the real OpenOCD
# (Debian's): for every board an ST-Link or CMSIS-DAP probe serves, debug's GDB server and
# flash --swd's program command get as far as the probe (no probe here: "open failed" /
# "unable to find a matching CMSIS-DAP device"), never stopping at a config file or command
# OpenOCD does not know; with OpenOCD's dummy adapter instead of the probe the target config
# loads whole and declares a flash bank for every address omvdev writes (for the boards with
# images to write; the dummy adapter speaks JTAG only).
. "$(dirname "$0")/lib.sh"

command -v openocd >/dev/null || { echo "openocd is not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
repo="$TMPD/openmv"
mkdir -p "$repo/boards" "$repo/ports" "$repo/lib/micropython"
echo "all:" >"$repo/Makefile"
port=$((20000 + $$ % 20000))
"$OMVDEV" --json targets >"$TMPD/db.json"
# board probe target-config swd-addresses, for every board OpenOCD serves
python3 - "$TMPD/db.json" >"$TMPD/pairs" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["targets"]:
    for p in t.get("probes", []):
        if p in ("stlink", "cmsis-dap") and t.get("openocd_target"):
            addrs = ",".join(i["address"] for i in t.get("swd_images", []))
            print(t["name"], p, t["openocd_target"], addrs or "-")
PY
[ -s "$TMPD/pairs" ] && pass || fail "no board is served through OpenOCD"
probe_error() { [ "$1" = stlink ] && echo "Error: open failed" || echo "unable to find a matching CMSIS-DAP device"; }
not_accepted() { grep -E "Can't find|invalid command name|couldn't open|Unknown|unknown command" "$1"; }

while read -r b p cfg addrs; do
    t "$b with $p: debug's OpenOCD gets as far as the probe"
    mkdir -p "$repo/build/$b/bin"
    : >"$repo/build/$b/bin/firmware.elf"
    expect 3 -v -C "$repo" debug -t "$b" --probe "$p" --port "$port" --wait 30
    err_has "$(command -v openocd) -f interface/$( [ $p = stlink ] && echo stlink || echo cmsis-dap).cfg -f $cfg -c 'gdb_port $port' -c 'tcl_port disabled' -c 'telnet_port disabled'"
    err_has "$(probe_error "$p")"
    not_accepted "$err" && fail "OpenOCD refused a config or command" || pass
    err_has "stopped (exit status 1) before listening on port $port"
    # The dummy adapter speaks JTAG only: the SWD-only parts (nRF52, RP2040) stop at their
    # DAP; they have no images flash --swd writes either.
    [ "$addrs" = - ] && continue

    t "$b with $p: the config under OpenOCD's dummy adapter declares the flash omvdev writes"
    expect 0 -C "$repo" debug -t "$b" --probe "$p" --port "$port" --dry-run
    cmd=$(sed -n 's/^  \$ \(.*openocd .*\)$/\1/p' "$out")
    [ -n "$cmd" ] && pass || fail "no OpenOCD command in the dry run"
    cmd=${cmd/interface\/stlink.cfg/interface\/dummy.cfg}
    cmd=${cmd/interface\/cmsis-dap.cfg/interface\/dummy.cfg}
    eval "timeout 30 $cmd -c 'flash banks' -c shutdown" >"$out" 2>"$err"
    code=$?
    [ $code -eq 0 ] && pass || fail "OpenOCD with the dummy adapter: exit $code"
    not_accepted "$err" && fail "OpenOCD refused a config or command" || pass
    python3 - "$err" "$addrs" <<'PY' && pass || fail "an image address outside every flash bank"
import re, sys
banks = [int(a, 16) for a in re.findall(r"at (0x[0-9a-fA-F]+), size", open(sys.argv[1]).read())]
for a in sys.argv[2].split(","):
    a = int(a, 16)
    # Sizes are read from the chip, so a bank covers up to 1 MiB from its base here (the
    # H7's two banks are 1 MiB each); a base of 0 is placed by the flash driver when it
    # probes the chip (stm32f2x: the F4/F7 main flash at 0x08000000).
    assert any(b <= a < b + 0x100000 or (b == 0 and 0x08000000 <= a < 0x08200000)
               for b in banks), (hex(a), [hex(b) for b in banks])
PY
done <"$TMPD/pairs"

t "flash --swd through OpenOCD: the program commands reach the probe"
mkdir -p "$repo/build/OPENMV4/bin"
head -c 1000 /dev/zero >"$repo/build/OPENMV4/bin/firmware.bin"
head -c 1000 /dev/zero >"$repo/build/OPENMV4/bin/romfs0.img"
b="$repo/build/OPENMV4/bin"
for p in cmsis-dap "stlink --server openocd"; do
    # shellcheck disable=SC2086
    expect 3 -C "$repo" flash --swd -t OPENMV4 --probe $p
    err_has "-f target/stm32h7x_dual_bank.cfg -c 'program {$b/firmware.bin} verify 0x08040000' -c 'program {$b/romfs0.img} verify reset exit 0x081E0000'"
    err_has "** OpenOCD init failed **"
    not_accepted "$err" && fail "OpenOCD refused a config or command" || pass
    err_has "omvdev: error: '$(command -v openocd)' failed (exit status 1)"
done

finish
