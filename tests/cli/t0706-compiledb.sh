#!/usr/bin/env bash
# omvdev build writes build/<TARGET>/compile_commands.json: every translation unit of the
# fixture firmware (tests/data/firmware-repo, including its drivers built by a recursive
# make) with the exact arguments and directory make used, merged across incremental builds,
# and real clangd parses a fixture file with it.
. "$(dirname "$0")/lib.sh"
unset MAKEFLAGS MAKELEVEL MFLAGS

command -v make >/dev/null || { echo "make is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
SDK="$HOME/openmv-sdk-1.6.0"
FW="$TMPD/fw"
cp -r "$TEST_DATA/firmware-repo" "$FW"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"
cd "$FW"
db="$FW/build/OPENMV4/compile_commands.json"
gcc="$SDK/gcc/bin/arm-none-eabi-gcc"

# The database as "directory|file|output|arguments..." lines, in its order.
entries() {
    python3 - "$1" <<'PY'
import json, sys
for e in json.load(open(sys.argv[1])):
    print("|".join([e["directory"], e["file"], e.get("output", "")] + e["arguments"]))
PY
}

t "a build records every translation unit with its exact arguments and directory"
expect 0 build -t OPENMV4
entries "$db" >"$TMPD/got"
cat >"$TMPD/want" <<W
$FW|src/omv.c|build/OPENMV4/obj/omv.o|$gcc|-mcpu=cortex-m7|-O2|-DNDEBUG|-c|src/omv.c|-o|build/OPENMV4/obj/omv.o
$FW|src/main.c|build/OPENMV4/obj/main.o|$gcc|-mcpu=cortex-m7|-O2|-DNDEBUG|-c|src/main.c|-o|build/OPENMV4/obj/main.o
$FW/drivers|sensor.c|$FW/build/OPENMV4/drivers/sensor.o|$gcc|-mcpu=cortex-m7|-Iinclude|-DSENSOR_ID=0x5640|-c|sensor.c|-o|$FW/build/OPENMV4/drivers/sensor.o
W
sort "$TMPD/got" >"$TMPD/got.s"
sort "$TMPD/want" >"$TMPD/want.s"
same_file "$TMPD/want.s" "$TMPD/got.s"
# the same commands make ran: every object it built has an entry, and nothing else
find build/OPENMV4 -name '*.o' | sort >"$TMPD/objs"
python3 -c 'import json,sys,os; [print(os.path.relpath(os.path.join(e["directory"], e["output"]))) for e in json.load(open(sys.argv[1]))]' "$db" | sort >"$TMPD/outs"
same_file "$TMPD/objs" "$TMPD/outs"
[ ! -e build/OPENMV4/.compile_commands.log ] && pass || fail "the log was left behind"

t "a no-op build leaves the database alone"
stat -c '%i %Y %s' "$db" >"$TMPD/before"
sleep 1
expect 0 build -t OPENMV4
stat -c '%i %Y %s' "$db" >"$TMPD/after"
same_file "$TMPD/before" "$TMPD/after"

t "an incremental build records what it compiled and keeps the rest"
entries "$db" >"$TMPD/before"
touch src/main.c
expect 0 -v build -t OPENMV4
err_has "omvdev: $db: 3 entries (1 compiled now, 0 of removed files dropped)"
entries "$db" >"$TMPD/got"
same_file "$TMPD/before" "$TMPD/got"
t "a build with other options (the output is cleaned first) records every file again"
expect 0 -v build -t OPENMV4 --debug
err_has "omvdev: $db: 3 entries (3 compiled now"
entries "$db" >"$TMPD/got"
grep -q "^$FW|src/main.c|build/OPENMV4/obj/main.o|$gcc|-mcpu=cortex-m7|-Og|-ggdb3|-c|src/main.c" "$TMPD/got" && pass || fail "main.c not updated"
grep -q "^$FW|src/omv.c|.*|-Og|-ggdb3|" "$TMPD/got" && pass || fail "omv.c not updated"
grep -q "^$FW/drivers|sensor.c|" "$TMPD/got" && pass || fail "the recursive make's file lost"

t "a removed source file leaves the database; a failed build still records what compiled"
rm src/omv.c
printf '#error broken on purpose\n' >src/extra.c
expect 1 build -t OPENMV4
entries "$db" >"$TMPD/got"
grep -q "src/omv.c" "$TMPD/got" && fail "omv.c is still there" || pass
grep -q "^$FW|src/extra.c|" "$TMPD/got" && pass || fail "the failed file was not recorded"
rm src/extra.c

t "each board has its own database"
mkdir -p boards/OPENMV4P
expect 0 build -t OPENMV4P
grep -q '"-mcpu=cortex-m7"' "$FW/build/OPENMV4P/compile_commands.json" && pass || fail "no OPENMV4P database"
grep -q OPENMV4P "$db" && fail "OPENMV4P entries in OPENMV4's database" || pass

t "a database that does not parse is started afresh, with a warning; the build succeeds"
echo '[{"directory": ' >"$db"
touch src/main.c
expect 0 build -t OPENMV4
err_has "omvdev: warning: $db:"
grep -Eq "started it afresh with the [0-9]+ files compiled now" "$err" && pass || fail "no afresh warning"
err_has "hint: omvdev build -t OPENMV4 --clean records every file again"
python3 -m json.tool "$db" >/dev/null && pass || fail "not JSON"

t "real clangd parses a fixture file with the database, and fails without it"
if command -v clangd >/dev/null; then
    expect 0 build -t OPENMV4 --clean
    clangd --check=drivers/sensor.c --compile-commands-dir=build/OPENMV4 >"$out" 2>"$err"
    err_has "Loaded compilation database from $db"
    err_has "All checks completed, 0 errors"
    mv "$db" "$TMPD/db.json"
    clangd --check=drivers/sensor.c >"$out" 2>"$err"
    err_has "'sensor.h' file not found"
    mv "$TMPD/db.json" "$db"
else
    fail "clangd is not installed (make check-deps installs it)"
fi

finish
