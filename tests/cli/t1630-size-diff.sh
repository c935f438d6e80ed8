#!/usr/bin/env bash
# size --save / --diff in text, markdown and json; size --all and build --json (one
# document for every board), against the fixture firmware repository and fixture SDK.
. "$(dirname "$0")/lib.sh"
unset MAKEFLAGS MAKELEVEL MFLAGS
command -v make >/dev/null || { echo "make is not installed"; exit 77; }
SDK="$HOME/openmv-sdk-1.6.0"
FW="$TMPD/fw"
cp -r "$TEST_DATA/firmware-repo" "$FW"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"
cd "$FW"
# The fixture's boards the database knows, in boards/ order: what --all builds.
known=$(for b in $(ls boards); do "$OMVDEV" targets show "$b" >/dev/null 2>&1 && echo "$b"; done | paste -sd, -)
json_ok() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null; }

t "--save NAME records images, partitions and sections in build/omvdev-sizes/NAME/"
expect 0 build -t OPENMV4
expect 0 size -t OPENMV4 --save base
rec=build/omvdev-sizes/base/OPENMV4.sizes
err_has "omvdev: saved the sizes of OPENMV4 to '$FW/$rec'"
out_has "firmware.bin           1.41 MiB of 1.62 MiB (87 %)"
cat >"$TMPD/want" <<W
omvdev-sizes 1
target OPENMV4
image bootloader.bin 40000 131072
section bootloader.elf .text 40000
section bootloader.elf .data 2048
section bootloader.elf .bss 301056
image firmware.bin 1478000 1703936
section firmware.elf .text 1478000
section firmware.elf .data 2048
section firmware.elf .bss 301056
image openmv.bin 1518000 0
image romfs0.img 60000 131072
W
same_file "$TMPD/want" "$rec"

t "the record survives 'make clean' of the board"
expect 0 build -t OPENMV4 --clean -- FIRMWARE_SIZE=1500000
[ -s "$rec" ] && pass || fail "the record is gone"
rm build/OPENMV4/bin/openmv.bin
printf 'x' >build/OPENMV4/bin/new.img

t "--diff NAME as text: per image with partition fill, changed sections only"
expect 0 size -t OPENMV4 --diff base
cat >"$TMPD/want" <<'W'
OPENMV4: sizes against base
IMAGE           BEFORE   AFTER    CHANGE    PARTITION FILL
bootloader.bin  40000    40000    0         30.5 %
firmware.bin    1478000  1500000  +22000    86.7 % -> 88.0 %
new.img         -        1        +1        -
romfs0.img      60000    60000    0         45.8 %
openmv.bin      1518000  -        -1518000  -

ELF           SECTION  BEFORE   AFTER    CHANGE
firmware.elf  .text    1478000  1500000  +22000

5 sections unchanged
W
same_file "$TMPD/want" "$out"
err_empty

t "--diff as markdown, for a pull-request comment"
expect 0 size -t OPENMV4 --diff base --format markdown
out_has "### OPENMV4: sizes against base"
out_has "| IMAGE | BEFORE | AFTER | CHANGE | PARTITION FILL |"
out_has "| firmware.bin | 1478000 | 1500000 | +22000 | 86.7 % -> 88.0 % |"
out_has "| firmware.elf | .text | 1478000 | 1500000 | +22000 |"

t "--diff as json parses strictly and carries every delta"
expect 0 size -t OPENMV4 --diff base --format json
python3 - "$out" <<'PY' && pass || fail "json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and len(d["boards"]) == 1, d
b = d["boards"][0]
assert b["target"] == "OPENMV4" and b["against"] == "base", b
img = {i["file"]: i for i in b["images"]}
assert img["firmware.bin"] == {"file": "firmware.bin", "before": 1478000, "after": 1500000,
    "delta": 22000, "partition_before": 1703936, "partition_after": 1703936}, img
assert img["openmv.bin"]["after"] is None and img["openmv.bin"]["delta"] == -1518000, img
assert img["new.img"]["before"] is None and img["new.img"]["partition_after"] is None, img
sec = {(s["elf"], s["section"]): s["delta"] for s in b["sections"]}
assert sec[("firmware.elf", ".text")] == 22000 and sec[("bootloader.elf", ".bss")] == 0, sec
PY
expect 0 --json size -t OPENMV4 --diff base
json_ok "$out" && pass || fail "--json is --format json"

t "--save FILE and --diff FILE; --save DIR/ and --diff DIR"
expect 0 size -t OPENMV4 --save "$TMPD/mine.sizes"
[ -s "$TMPD/mine.sizes" ] && pass || fail "no FILE"
expect 0 size -t OPENMV4 --diff "$TMPD/mine.sizes"
out_has "firmware.bin    1500000  1500000  0"
expect 0 size -t OPENMV4 --save "$TMPD/base-sizes/"
[ -s "$TMPD/base-sizes/OPENMV4.sizes" ] && pass || fail "no DIR/OPENMV4.sizes"
expect 0 size -t OPENMV4 --diff "$TMPD/base-sizes"
out_has "OPENMV4: sizes against $TMPD/base-sizes"

t "bad references: missing, another board's, not a record; nothing is written"
expect 1 size -t OPENMV4 --diff nope
err_has "omvdev: error: cannot open '$FW/build/omvdev-sizes/nope/OPENMV4.sizes': No such file or directory"
err_has "hint: record it first, on the build to compare with: omvdev size -t OPENMV4 --save nope"
out_empty
sed 's/^target OPENMV4/target OPENMV_N6/' "$TMPD/mine.sizes" >"$TMPD/n6.sizes"
expect 2 size -t OPENMV4 --diff "$TMPD/n6.sizes"
err_has "omvdev: error: '$TMPD/n6.sizes' records OPENMV_N6, not OPENMV4"
printf 'omvdev-sizes 1\ntarget OPENMV4\nimage firmware.bin lots 0\n' >"$TMPD/bad.sizes"
expect 1 size -t OPENMV4 --diff "$TMPD/bad.sizes"
err_has "omvdev: error: $TMPD/bad.sizes:3: not a size record line: 'image firmware.bin lots 0'"
printf '{"not": "a record"}\n' >"$TMPD/other.sizes"
expect 1 size -t OPENMV4 --diff "$TMPD/other.sizes"
err_has "$TMPD/other.sizes:1: not a size record of omvdev (no 'omvdev-sizes 1' line)"
mkdir "$TMPD/ro" && chmod 0555 "$TMPD/ro"
if ! touch "$TMPD/ro/x" 2>/dev/null; then
    expect 1 size -t OPENMV4 --save "$TMPD/ro/x.sizes"
    err_has "omvdev: error:"
    [ ! -e "$TMPD/ro/x.sizes" ] && pass || fail "half-written record"
fi
rm -f "$TMPD/ro/x"

t "usage errors"
expect 2 size -t OPENMV4 --format markdown
err_has "omvdev: error: --format markdown is for --diff"
expect 2 --json size -t OPENMV4 --diff base --format markdown
err_has "--json and --format markdown contradict each other"
expect 2 size --all --save x
err_has "--save and --diff work on one board: use -t TARGET"
expect 2 size -t OPENMV4 --diff base --format yaml
expect 1 size -t OPENMV4P --diff base
err_has "omvdev: error: no build of OPENMV4P: '$FW/build/OPENMV4P/bin' holds no .elf file"

t "size --all --json and build --all --json: every board in one document"
expect 0 --json build --all --clean
json_ok "$out" && pass || fail "build --all --json stdout is not JSON alone"
err_has "built, 0 failed"
python3 - "$out" "$known" <<'PY' && pass || fail "build document"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1, d
names = [b["target"] for b in d["boards"]]
assert names == sys.argv[2].split(",") and "OPENMV4" in names and len(names) >= 4, names
for b in d["boards"]:
    assert b["result"] == "ok" and isinstance(b["milliseconds"], int), b
    assert any(i["file"].startswith("firmware") for i in b["images"]), b
    assert all(isinstance(s["size"], int) for s in b["sections"]), b
PY
expect 0 --json size --all
python3 - "$out" "$known" <<'PY' && pass || fail "size document"
import json, sys
d = json.load(open(sys.argv[1]))
assert [b["target"] for b in d["boards"]] == sys.argv[2].split(","), d
h7 = [b for b in d["boards"] if b["target"] == "OPENMV4"][0]
fw = [i for i in h7["images"] if i["file"] == "firmware.bin"][0]
assert fw == {"file": "firmware.bin", "size": 1478000, "partition": 1703936}, fw
PY
expect 0 size --all
out_has "OPENMV_AE3"
grep -Eq '^firmware.bin +1478000 +1703936 +86.7 %$' "$out" && pass || fail "text table"

t "size --all: a board without an ELF is an error, the others are still listed"
mkdir -p build/OPENMV4P/bin.keep && mv build/OPENMV4P/bin/*.elf build/OPENMV4P/bin.keep/
expect 1 size --all
err_has "omvdev: error: no build of OPENMV4P: '$FW/build/OPENMV4P/bin' holds no .elf file"
out_has "OPENMV_N6"
grep -q '^OPENMV4P$' "$out" && fail "the broken board has a table" || pass
mv build/OPENMV4P/bin.keep/*.elf build/OPENMV4P/bin/

t "a failed board is in the document as failed"
expect 1 --json build -t OPENMV4 --clean -- FIRMWARE_SIZE=1800000
python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["boards"][0]; assert b["result"]=="failed", b' "$out" &&
    pass || fail "failed board"
finish
