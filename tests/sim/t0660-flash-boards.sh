#!/usr/bin/env bash
# Every board's default flash (plus --erase-fs and --verify) on its virtual bootloader:
# each image checked at the place the board database gives it, the bootloader untouched,
# the filesystem erase done; for the OpenMV cameras the same images written by Debian's
# dfu-util leave byte-identical memory.
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
if ! command -v dfu-util >/dev/null; then echo "dfu-util is not installed" >&2; exit 77; fi
sim() { "$OMVDEV_SIM" "$@" >"$out" 2>"$err"; code=$?; }
S="$TMPD/state"
repo="$TMPD/openmv"
mkdir -p "$repo/boards" "$repo/ports" "$repo/lib/micropython"
: >"$repo/Makefile"

# board -> the sim's device spec
declare -A spec=(
    [OPENMV2]=openmv-bl:OPENMV2 [OPENMV3]=openmv-bl:OPENMV3 [OPENMV4]=openmv-bl:OPENMV4
    [OPENMV4P]=openmv-bl:OPENMV4P [OPENMVPT]=openmv-bl:OPENMVPT [OPENMV_N6]=openmv-bl:OPENMV_N6
    [OPENMV_AE3]=openmv-bl:OPENMV_AE3 [ARDUINO_PORTENTA_H7]=arduino:PORTENTA
    [ARDUINO_GIGA]=arduino:GIGA [ARDUINO_NICLA_VISION]=arduino:NICLA)

for board in OPENMV2 OPENMV3 OPENMV4 OPENMV4P OPENMVPT OPENMV_N6 OPENMV_AE3 \
    ARDUINO_PORTENTA_H7 ARDUINO_GIGA ARDUINO_NICLA_VISION; do
    t "$board: the default flash with --erase-fs --verify"
    "$OMVDEV" --json targets show "$board" >"$TMPD/$board.json"
    mkdir -p "$repo/build/$board/bin"
    python3 - "$TMPD/$board.json" "$repo/build/$board/bin" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1]))["target"]
for im in t["images"]:
    n = min(im["max_size"] or 50000, 50000)
    open(os.path.join(sys.argv[2], im["file"]), "wb").write(os.urandom(n - 3))
PY
    sim --device "${spec[$board]},serial=X1" --state "$S/$board" -- \
        "$OMVDEV" -C "$repo" flash -t "$board" --erase-fs --verify
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    python3 - "$TMPD/$board.json" "$repo/build/$board/bin" "$S/$board/X1" <<'PY' && pass || fail "memory"
import json, os, sys
t = json.load(open(sys.argv[1]))["target"]
bindir, state = sys.argv[2], sys.argv[3]
arduino = t["method"] == "dfuse"
# Where the sim keeps each memory: <memory>.bin, offset from the region's base.
base = {"internal": 0x08000000, "qspi": 0x90000000 if arduino else 0, "xspi": 0, "ospi": 0,
        "mram": 0x80000000}
alts = {a["alt"]: a for a in t["alts"]}

def mem_of(addr):
    for a in t["alts"]:
        if int(a["start"], 16) <= addr < int(a["end"], 16):
            return a["memory"]
    raise SystemExit("no alt holds 0x%08X" % addr)

def read(memory, addr, n):
    with open(os.path.join(state, memory + ".bin"), "rb") as f:
        f.seek(addr - base[memory])
        return f.read(n)

for im in t["images"]:
    data = open(os.path.join(bindir, im["file"]), "rb").read()
    if im["address"] is not None:
        addr = int(im["address"], 16)
        memory = mem_of(addr)
    else:
        a = alts[im["alt"]]
        addr, memory = int(a["start"], 16), a["memory"]
    assert read(memory, addr, len(data)) == data, (im["file"], hex(addr))
for e in t["erase"]:
    if e["address"] is not None:
        addr = int(e["address"], 16)
        memory = mem_of(addr)
    else:
        a = alts[e["alt"]]
        addr, memory = int(a["start"], 16), a["memory"]
    assert read(memory, addr, e["size"]) == bytes(e["size"]), ("erase", hex(addr))
for a in t["alts"]:
    if a["role"] == "bootloader" and not arduino:
        got = read(a["memory"], int(a["start"], 16), a["size"])
        assert got == b"\xff" * a["size"], "bootloader touched"
PY
    case "$board" in
    ARDUINO_*) continue ;;
    esac
    # The same images with dfu-util, alt by alt, on a fresh device.
    cmds=$(python3 - "$TMPD/$board.json" "$repo/build/$board/bin" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1]))["target"]
vp = t["dfu_usb"].lower()
cmds = ["dfu-util -d ,%s -a %d -D '%s'" % (vp, im["alt"], os.path.join(sys.argv[2], im["file"]))
        for im in t["images"]]
print(" && ".join(cmds))
PY
)
    sim --device "${spec[$board]},serial=X2" --state "$S/$board" -- sh -c "$cmds"
    [ "$code" -eq 0 ] && pass || fail "dfu-util exit $code"
    sim --device "${spec[$board]},serial=X3" --state "$S/$board" -- "$OMVDEV" -C "$repo" flash -t "$board"
    [ "$code" -eq 0 ] && pass || fail "omvdev exit $code"
    for m in "$S/$board/X2"/*.bin; do
        same_file "$m" "$S/$board/X3/$(basename "$m")"
    done
done

finish
