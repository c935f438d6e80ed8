#!/usr/bin/env bash
# omvdev vscode: generated launch/tasks/extensions/settings for every J-Link board (golden
# files) and for the other probes, merges into real-world JSONC that keep every byte of the
# user's, the ownership comment and the migration from the "omvdev" member, idempotence,
# broken files, --force, --stdout as strict JSON, WSL and the SDK fallbacks.
. "$(dirname "$0")/lib.sh"

data="$TEST_DATA/vscode"
repo="$TMPD/openmv"
vs="$repo/.vscode"
# A throwaway firmware repository: what repo_find() and sdk_repo_version() look at.
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$HOME/openmv-sdk-1.6.0/gcc/bin"
# The SDK's gdb and gcc exist (the configuration names them; their absence is warned about).
sdk_tools() { for x in gdb gcc; do printf '#!/bin/sh\n' >"$1/arm-none-eabi-$x"; chmod +x "$1/arm-none-eabi-$x"; done; }
sdk_tools "$HOME/openmv-sdk-1.6.0/gcc/bin"
echo "all:" >"$repo/Makefile"
echo "1.6.0" >"$repo/SDK_VERSION"
# No WSL and no J-Link server unless a test says so (the host's /proc is not read).
export OMVDEV_SYSROOT="$TMPD/sys"
mkdir -p "$OMVDEV_SYSROOT/proc/sys/kernel" "$OMVDEV_SYSROOT/proc/net"
echo "6.1.0-debian" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
unset WSL_DISTRO_NAME SDK_DIR
export PATH="/usr/bin:/bin"

# Print the files of a directory with their inode and mtime (to prove nothing was rewritten).
stamps() { find "$1" -type f -printf '%P %i %T@\n' | sort; }
crlf() { sed 's/$/\r/' "$1"; }
# JSON with omvdev's marker comment lines (the only comments it writes) taken out.
nomarkers() { sed '/^[[:space:]]*\/\/ omvdev: generated [0-9a-f]\{16\}\r\{0,1\}$/d' "$1"; }
jsonc_ok() { nomarkers "$1" | python3 -m json.tool >/dev/null; }

jlink_boards="OPENMV4 OPENMV4P OPENMVPT OPENMV_N6 OPENMV_RT1060 OPENMV_AE3 ARDUINO_PORTENTA_H7 \
ARDUINO_GIGA ARDUINO_NICLA_VISION"

t "a board or --all must be named; bad options are usage errors"
expect 2 -C "$repo" vscode
err_has "which boards? name them with -t TARGET, or --all"
expect 2 -C "$repo" vscode --all -t OPENMV4
err_has "-t and --all do not go together"
expect 2 -C "$repo" vscode -t OPENMV5
err_has "unknown board 'OPENMV5'"
expect 2 -C "$repo" vscode -t OPENMV4 --jlink-host "bad host:99999"
err_has "--jlink-host 'bad host:99999' is not HOST or HOST:PORT"
expect 2 -C "$repo" vscode --all --svd "$TMPD/x.svd"
err_has "--svd names the file of one board, not 15"
expect 2 -C "$repo" vscode -t OPENMV4 --template-dir "$TMPD/nope"
err_has "--template-dir '$TMPD/nope' is not a directory"
expect 2 -C "$repo" vscode -t OPENMV4 --only lunch
[ ! -e "$vs" ] && pass || fail ".vscode created by a usage error"

t "outside a firmware repository: a clear error, except --stdout"
mkdir -p "$TMPD/elsewhere"
expect 1 -C "$TMPD/elsewhere" vscode -t OPENMV4
err_has "omvdev: error: not inside an openmv firmware repository"
err_has "hint: run it in your clone of openmv/openmv (omvdev -C ~/openmv vscode ...)"
[ ! -e "$TMPD/elsewhere/.vscode" ] && pass || fail "wrote outside a repository"
expect 0 -C "$TMPD/elsewhere" vscode -t OPENMV4 --stdout --only launch
err_has "not in a firmware repository, so no SDK_VERSION says which SDK: using the newest installed SDK"
out_has '"armToolchainPath": "${userHome}/openmv-sdk-1.6.0/gcc/bin"'

t "golden files: every board with a J-Link device, --stdout, strict JSON"
for b in $jlink_boards; do
    expect 0 -C "$repo" vscode -t "$b" --stdout
    sed "s|$HOME|\$HOME|g" "$out" >"$TMPD/$b.json"
    same_file "$data/$b.json" "$TMPD/$b.json"
    python3 -m json.tool "$out" >/dev/null && pass || fail "$b: --stdout is not strict JSON"
done
ls "$data"/*.json | wc -l | grep -qx 9 && pass || fail "a golden file too many or too few"

t "what the golden files say agrees with the board database, board by board"
"$OMVDEV" --json targets >"$TMPD/db.json"
python3 - "$TMPD/db.json" "$data" <<'PY' && pass || fail "golden files disagree with the board database"
import json, sys, os
db = {t["name"]: t for t in json.load(open(sys.argv[1]))["targets"]}
for name, t in db.items():
    path = os.path.join(sys.argv[2], name + ".json")
    if not t["jlink_device"]:
        assert not os.path.exists(path), name
        continue
    d = json.load(open(path))
    launch, tasks = d[".vscode/launch.json"], d[".vscode/tasks.json"]
    [c] = launch["configurations"]
    assert c["name"] == f"OpenMV {name} (J-Link)"
    assert c["type"] == "cortex-debug" and c["servertype"] == "jlink" and c["interface"] == "swd"
    assert c["device"] == t["jlink_device"]
    assert c["executable"] == "${workspaceFolder}/build/%s/bin/%s" % (name, t["debug_elf"])
    if t["boots_external_flash"]:
        assert c["request"] == "attach" and "runToEntryPoint" not in c, name
    else:
        assert c["request"] == "launch" and c["runToEntryPoint"] == "main", name
    assert c["armToolchainPath"] == "${userHome}/openmv-sdk-1.6.0/gcc/bin"
    assert c["gdbPath"] == c["armToolchainPath"] + "/arm-none-eabi-gdb"
    assert c["rttConfig"]["enabled"] is False
    assert "omvdev" not in c
    labels = {x["label"]: x for x in tasks["tasks"]}
    build = labels[c["preLaunchTask"]]
    assert build["command"] == "omvdev" and build["args"] == ["build", "-t", name, "--debug"]
    assert build["problemMatcher"]["base"] == "$gcc"
    assert labels[f"omvdev: build {name} (release)"]["args"] == ["build", "-t", name]
    assert labels[f"omvdev: flash {name}"]["args"] == ["flash", "-t", name]
    assert labels[f"omvdev: clean {name}"]["args"] == ["clean", "-t", name]
    assert d[".vscode/extensions.json"]["recommendations"] == [
        "marus25.cortex-debug", "mcu-debug.peripheral-viewer", "ms-vscode.cpptools",
        "llvm-vs-code-extensions.vscode-clangd"]
    gcc = "$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gcc"
    assert d[".vscode/settings.json"] == {
        "cortex-debug.armToolchainPath": "$HOME/openmv-sdk-1.6.0/gcc/bin",
        "C_Cpp.default.compileCommands":
            "${workspaceFolder}/build/%s/compile_commands.json" % name,
        "C_Cpp.default.compilerPath": gcc,
        "clangd.arguments": ["--compile-commands-dir=${workspaceFolder}/build/" + name,
                             "--query-driver=" + gcc[:-3] + "*"]}
print("checked")
PY

t "--all: every board with its default probe; --probe jlink skips those it cannot serve"
expect 0 -C "$repo" vscode --all --stdout --only launch
python3 - "$out" <<'PY' && pass || fail "--all with the default probes"
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["configurations"]}
assert len(c) == 15, sorted(c)
assert c["OpenMV OPENMV2 (ST-Link)"]["configFiles"] == ["interface/stlink.cfg", "target/stm32f4x.cfg"]
assert c["OpenMV OPENMV3 (ST-Link)"]["configFiles"] == ["interface/stlink.cfg", "target/stm32f7x.cfg"]
n = c["OpenMV ARDUINO_NANO_RP2040_CONNECT (CMSIS-DAP)"]
assert n["servertype"] == "openocd" and n["configFiles"] == ["interface/cmsis-dap.cfg", "target/rp2040.cfg"]
q = c["OpenMV MPS3_AN547 (QEMU)"]
assert q["servertype"] == "qemu" and q["machine"] == "mps3-an547" and q["cpu"] == "cortex-m55"
assert "rttConfig" not in q
PY
expect 0 -C "$repo" vscode --all --probe jlink --stdout --only launch
err_has "omvdev: skipped OPENMV2, OPENMV3, ARDUINO_NANO_33_BLE_SENSE, ARDUINO_NANO_RP2040_CONNECT, RPI_PICO, MPS2_AN500, MPS3_AN547: the probe cannot serve them"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["configurations"]
assert len(c) == 9, len(c)' "$out" && pass || fail "--all --probe jlink has not 9 configurations"
expect 2 -C "$repo" vscode -t OPENMV2 -t openmv3 --probe jlink
err_has "omvdev: error: OPENMV2 cannot be debugged with a J-Link: the board database names no J-Link device for it"
err_has "hint: its probes: stlink cmsis-dap (--probe NAME)"
[ ! -e "$vs" ] && pass || fail "wrote files for a refused board"
expect 2 -C "$repo" vscode -t OPENMV_RT1060 --probe cmsis-dap
err_has "OPENMV_RT1060 cannot be debugged with a CMSIS-DAP probe: OpenOCD (Debian's 0.12) has no target configuration for its MIMXRT1062"
expect 2 -C "$repo" vscode -t OPENMV_N6 --probe stlink
err_has "hint: ST's own tools can: --probe stlink --server st"
expect 2 -C "$repo" vscode -t OPENMV4 --probe qemu
err_has "OPENMV4 cannot be debugged with QEMU: only the emulated boards (MPS2_AN500, MPS3_AN547) run in QEMU"
expect 2 -C "$repo" vscode -t MPS2_AN500 --probe stlink
err_has "MPS2_AN500 cannot be debugged with an ST-Link: it is an emulated board: it runs in QEMU (--probe qemu)"
expect 2 -C "$repo" vscode -t OPENMV4 --probe jlink --server st
err_has "--server st is for --probe stlink, not jlink"
[ ! -e "$vs" ] && pass || fail "wrote files for a refused probe"

t "OpenOCD, ST's server and QEMU entries; the config key debug.probe picks the probe"
expect 0 -C "$repo" -c debug.probe=cmsis-dap vscode -t OPENMV4 --stdout --only launch
out_has '"name": "OpenMV OPENMV4 (CMSIS-DAP)"'
out_has '"interface/cmsis-dap.cfg",'
out_has '"target/stm32h7x_dual_bank.cfg"'
expect 0 -C "$repo" vscode -t OPENMV_N6 --probe stlink --server st --stdout --only launch
out_has '"servertype": "stlink"'
out_has '"request": "attach"'
out_has "\"stm32cubeprogrammer\": \"$HOME/openmv-sdk-1.6.0/stcubeprog/bin\""
out_lacks '"configFiles"'
expect 0 -C "$repo" vscode -t MPS2_AN500 --stdout
out_has '"machine": "mps2-an500"'
out_has '"cpu": "cortex-m7"'
out_has '"label": "omvdev: emulate MPS2_AN500"'
out_lacks '"omvdev: flash MPS2_AN500"'
# no OpenOCD or QEMU on this PATH: the configuration is written, the missing server named
PATH=/nowhere "$(command -v bash)" -c '"$0" "$@"' "$OMVDEV" -C "$repo" vscode -t OPENMV4 -t MPS3_AN547 \
    --probe cmsis-dap --stdout --only launch >"$out" 2>"$err" && fail "MPS3_AN547 with a CMSIS-DAP probe" || pass
PATH=/nowhere "$(command -v bash)" -c '"$0" "$@"' "$OMVDEV" -C "$repo" vscode -t OPENMV4 -t MPS3_AN547 \
    --stdout --only launch >"$out" 2>"$err"
err_has "omvdev: warning: qemu-system-arm is not on PATH: Cortex-Debug cannot start the emulator"
err_has "hint: sudo apt-get install qemu-system-arm"
out_lacks '"serverpath"'
PATH=/nowhere "$(command -v bash)" -c '"$0" "$@"' "$OMVDEV" -C "$repo" -c debug.probe=stlink vscode -t OPENMV4 \
    --stdout --only launch >"$out" 2>"$err"
err_has "omvdev: warning: OpenOCD is not on PATH: Cortex-Debug cannot start the GDB server"
err_has "hint: sudo apt-get install openocd"
out_has '"servertype": "openocd"'

t "settings.json: the C/C++ extension and clangd read the board's compile_commands.json"
expect 0 -C "$repo" vscode -t OPENMV_RT1060 -t OPENMV4 --stdout --only settings
out_has '"C_Cpp.default.compileCommands": "${workspaceFolder}/build/OPENMV_RT1060/compile_commands.json"'
out_has '"--compile-commands-dir=${workspaceFolder}/build/OPENMV_RT1060"'
out_has "\"C_Cpp.default.compilerPath\": \"$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gcc\""

t "a gdbPath that does not exist is warned about"
rm "$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_has "omvdev: warning: the gdbPath written, '$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb', does not exist"
err_has "hint: install the SDK (omvdev sdk install)"
sdk_tools "$HOME/openmv-sdk-1.6.0/gcc/bin"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_lacks "does not exist"

t "a fresh repository gets four files; a second run changes nothing at all"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060
err_has "omvdev: created .vscode/launch.json (2 added)"
err_has "omvdev: created .vscode/tasks.json (8 added)"
err_has "omvdev: created .vscode/extensions.json"
err_has "omvdev: created .vscode/settings.json"
err_has "omvdev: warning: 'omvdev' is not on PATH, and the tasks (and so F5's build) run it"
for f in launch tasks extensions settings; do
    jsonc_ok "$vs/$f.json" && pass || fail "$f.json is not JSON with omvdev's comments"
done
grep -q '"omvdev":' "$vs/launch.json" "$vs/tasks.json" && fail "an \"omvdev\" member" || pass
grep -c '^ *// omvdev: generated [0-9a-f]\{16\}$' "$vs/launch.json" | grep -qx 2 && pass ||
    fail "not one marker comment per entry"
[ "$(stat -c %a "$vs/launch.json")" = "$(umask -S >/dev/null; printf '%o' $((0666 & ~$(umask))))" ] \
    && pass || fail "mode ignores the umask"
stamps "$vs" >"$TMPD/before"
sleep 0.05
PATH="$(dirname "$OMVDEV"):$PATH" "$OMVDEV" -C "$repo/lib" vscode -t OPENMV4 -t OPENMV_RT1060 \
    >"$out" 2>"$err"
err_lacks "is not on PATH"
err_has "omvdev: .vscode/launch.json is up to date"
err_has "omvdev: .vscode/settings.json is up to date"
stamps "$vs" >"$TMPD/after"
same_file "$TMPD/before" "$TMPD/after"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --diff
out_empty
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --dry-run
out_has ".vscode/launch.json: up to date"

t "merging into a real-world launch.json (CRLF, tabs, comments, compounds) keeps every byte"
rm -rf "$vs"
mkdir -p "$vs"
crlf "$data/launch-user.jsonc" >"$vs/launch.json"
cp "$vs/launch.json" "$TMPD/user-launch"
cp "$data/tasks-user.jsonc" "$vs/tasks.json"
printf '{\n  "recommendations": ["ms-python.python"],\n  "unwantedRecommendations": ["ms-vscode.cpptools"]\n}\n' >"$vs/extensions.json"
printf '{\n\t"editor.tabSize": 8,\n\t"cortex-debug.armToolchainPath": "/opt/my-gcc/bin"\n}\n' >"$vs/settings.json"
cp "$vs/extensions.json" "$TMPD/user-ext"
cp "$vs/settings.json" "$TMPD/user-settings"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV4P
err_has "omvdev: updated .vscode/launch.json (1 added, 1 kept (yours)); the previous one is .vscode/launch.json.bak"
err_has "omvdev: warning: .vscode/launch.json: 'OpenMV OPENMV4P (J-Link)' is your own (it has no \"omvdev\" marker): kept"
err_has "omvdev: warning: .vscode/settings.json: 'cortex-debug.armToolchainPath' is set to something else: kept"
crlf "$data/launch-user.merged" >"$TMPD/want"
same_file "$TMPD/want" "$vs/launch.json"
same_file "$TMPD/user-launch" "$vs/launch.json.bak"
same_file "$data/tasks-user.merged" "$vs/tasks.json"
printf '{\n  "recommendations": ["ms-python.python", "marus25.cortex-debug", "mcu-debug.peripheral-viewer", "llvm-vs-code-extensions.vscode-clangd"],\n  "unwantedRecommendations": ["ms-vscode.cpptools"]\n}\n' >"$TMPD/want"
same_file "$TMPD/want" "$vs/extensions.json"
# the user's value is kept, the compilation database is added
head -3 "$vs/settings.json" | cmp - <(head -2 "$TMPD/user-settings"; printf '\t"cortex-debug.armToolchainPath": "/opt/my-gcc/bin",\n') &&
    pass || fail "settings.json: the user's lines changed"
grep -q '"C_Cpp.default.compileCommands": "${workspaceFolder}/build/OPENMV4/compile_commands.json"' "$vs/settings.json" && pass || fail "no compileCommands"
same_file "$TMPD/user-settings" "$vs/settings.json.bak"
ls "$vs" | grep -q tmp && fail "temporary file left" || pass
stamps "$vs" >"$TMPD/before"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV4P
stamps "$vs" >"$TMPD/after"
same_file "$TMPD/before" "$TMPD/after"

t "an omvdev entry the user edited is kept and reported; --force regenerates it"
sed -i 's/"runToEntryPoint": "main"/"runToEntryPoint": "my_breakpoint"/' "$vs/launch.json"
cp "$vs/launch.json" "$TMPD/edited"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
err_has "omvdev: warning: .vscode/launch.json: 'OpenMV OPENMV4 (J-Link)' was changed since omvdev generated it, so it is left as it is"
err_has "hint: run omvdev vscode again with --force to regenerate it"
same_file "$TMPD/edited" "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch --force
err_has "omvdev: updated .vscode/launch.json (1 regenerated (--force))"
crlf "$data/launch-user.merged" >"$TMPD/want"
same_file "$TMPD/want" "$vs/launch.json"
same_file "$TMPD/edited" "$vs/launch.json.bak"

t "a new SDK version updates omvdev's entries in place, and --diff shows it first"
echo "1.7.0" >"$repo/SDK_VERSION"
cp "$vs/launch.json" "$TMPD/before-diff"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch --diff
out_has "--- a/.vscode/launch.json"
out_has '-			"armToolchainPath": "${userHome}/openmv-sdk-1.6.0/gcc/bin",'
out_has '+			"armToolchainPath": "${userHome}/openmv-sdk-1.7.0/gcc/bin",'
err_has "'$HOME/openmv-sdk-1.7.0/gcc/bin' does not exist yet: the SDK is not installed"
same_file "$TMPD/before-diff" "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch --dry-run
out_has ".vscode/launch.json: would be updated"
out_has "  updated: 'OpenMV OPENMV4 (J-Link)'"
same_file "$TMPD/before-diff" "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
err_has "omvdev: updated .vscode/launch.json (1 updated)"
grep -c 'openmv-sdk-1.7.0' "$vs/launch.json" | grep -qx 2 && pass || fail "not updated"
err_has "the gdbPath written, '$HOME/openmv-sdk-1.7.0/gcc/bin/arm-none-eabi-gdb', does not exist"
echo "1.6.0" >"$repo/SDK_VERSION"

t "a launch.json of the previous format (an \"omvdev\" member) is migrated; edits are kept"
rm -rf "$vs"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --only launch
# What the previous version wrote: the marker as the last member of each entry; the user
# then edited the RT1060 one.
nomarkers "$vs/launch.json" >"$TMPD/plain.json"
python3 - "$TMPD/plain.json" "$vs/launch.json" "$vs/launch.json" <<'PY' && pass || fail "old format"
import json, re, sys
hashes = re.findall(r"// omvdev: generated ([0-9a-f]{16})", open(sys.argv[2]).read())
d = json.load(open(sys.argv[1]))
for c, h in zip(d["configurations"], hashes):
    c["omvdev"] = "generated " + h
d["configurations"][1]["runToEntryPoint"] = "my_main"
open(sys.argv[3], "w").write(json.dumps(d, indent=4) + "\n")
PY
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --only launch
err_has "omvdev: updated .vscode/launch.json (1 updated, 1 kept (edited by you))"
err_has "'OpenMV OPENMV_RT1060 (J-Link)' was changed since omvdev generated it"
grep -q '"omvdev":' "$vs/launch.json" && fail "the member is still there" || pass
grep -c '^ *// omvdev: generated [0-9a-f]\{16\}$' "$vs/launch.json" | grep -qx 2 && pass || fail "markers"
grep -q '"runToEntryPoint": "my_main"' "$vs/launch.json" && pass || fail "the user's edit was lost"
cp "$vs/launch.json" "$TMPD/migrated"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --only launch
err_has "omvdev: .vscode/launch.json is up to date"
err_has "'OpenMV OPENMV_RT1060 (J-Link)' was changed since omvdev generated it"
same_file "$TMPD/migrated" "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060 --only launch --force
err_has "omvdev: updated .vscode/launch.json (1 regenerated (--force))"
grep -q 'my_main' "$vs/launch.json" && fail "--force kept the edit" || pass

t "a broken file stops everything with file:line:col, and nothing is written"
rm -rf "$vs"
mkdir -p "$vs"
printf '{\n  // mine\n  "configurations": [\n    { "name": "a" }\n    { "name": "b" }\n  ]\n}\n' >"$vs/launch.json"
cp "$vs/launch.json" "$TMPD/broken"
expect 1 -C "$repo" vscode -t OPENMV4
err_has "omvdev: error: $vs/launch.json:5:5: expected ',' or ']' after an element, found '{'"
err_has "hint: fix that place"
same_file "$TMPD/broken" "$vs/launch.json"
[ "$(ls -A "$vs")" = "launch.json" ] && pass || fail "something was written: $(ls -A "$vs")"
printf '{ "tasks": [ /* never closed ]\n' >"$vs/tasks.json"
expect 1 -C "$repo" vscode -t OPENMV4 --only tasks
err_has "$vs/tasks.json:1:14: comment is not closed ('*/' is missing)"
printf '[]\n' >"$vs/tasks.json"
expect 1 -C "$repo" vscode -t OPENMV4 --only tasks
err_has "$vs/tasks.json:1:1: expected an object ('{') at the top"
printf '{"tasks": {}}\n' >"$vs/tasks.json"
expect 1 -C "$repo" vscode -t OPENMV4 --only tasks
err_has "$vs/tasks.json:1:11: 'tasks' is not an array"

t "an empty file and a file of only comments"
: >"$vs/launch.json"
printf '// tasks go here\r\n/* later */\r\n' >"$vs/tasks.json"
expect 0 -C "$repo" vscode -t OPENMV4
jsonc_ok "$vs/launch.json" && pass || fail "launch.json from an empty file"
[ -e "$vs/launch.json.bak" ] && [ ! -s "$vs/launch.json.bak" ] && pass || fail "empty .bak"
head -c 31 "$vs/tasks.json" | cmp - <(printf '// tasks go here\r\n/* later */\r\n') && pass ||
    fail "comments lost"
sed -n 3p "$vs/tasks.json" | grep -q $'^{\r$' && pass || fail "not CRLF after CRLF comments"

t "WSL without a Linux J-Link: the Windows server, and the exact command to start it"
rm -rf "$vs"
echo "5.15.153.1-microsoft-standard-WSL2" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n' >"$OMVDEV_SYSROOT/proc/net/route"
printf 'eth0\t00000000\t0100A8AC\t0003\t0\t0\t0\t00000000\n' >>"$OMVDEV_SYSROOT/proc/net/route"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_N6
err_has "WSL without a Linux J-Link GDB server: using the one on Windows at 172.168.0.1:2331"
err_has "    JLinkGDBServerCL.exe -nolocalhostonly -device STM32H743VI -if SWD -speed 4000 -port 2331"
err_has "    JLinkGDBServerCL.exe -nolocalhostonly -device STM32N657L0 -if SWD -speed 4000 -port 2331"
nomarkers "$vs/launch.json" >"$TMPD/l.json"
python3 - "$TMPD/l.json" <<'PY' && pass || fail "external variant"
import json, sys
for c in json.load(open(sys.argv[1]))["configurations"]:
    assert c["servertype"] == "external" and c["gdbTarget"] == "172.168.0.1:2331", c
    assert "device" not in c and "interface" not in c
PY
grep -q JLinkGDBServerPath "$vs/settings.json" && fail "server path without a server" || pass
t "... the same through WSL_DISTRO_NAME, and --jlink-host names the host"
echo "6.1.0-debian" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
: >"$OMVDEV_SYSROOT/proc/net/route"
WSL_DISTRO_NAME=Ubuntu "$OMVDEV" -C "$repo" vscode -t OPENMV4 --stdout --only launch >"$out" 2>"$err"
out_has '"gdbTarget": "localhost:2331"'
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch --jlink-host 10.1.2.3:3333
out_has '"servertype": "external"'
out_has '"gdbTarget": "10.1.2.3:3333"'
err_has "-device STM32H743VI -if SWD -speed 4000 -port 3333"
t "... and a Linux J-Link install wins in WSL, and goes into settings.json"
mkdir -p "$TMPD/jlink"
printf '#!/bin/sh\n' >"$TMPD/jlink/JLinkGDBServerCLExe"
chmod +x "$TMPD/jlink/JLinkGDBServerCLExe"
PATH="$TMPD/jlink:$PATH" WSL_DISTRO_NAME=Ubuntu "$OMVDEV" -C "$repo" vscode -t OPENMV4 --stdout \
    >"$out" 2>"$err"
out_has '"servertype": "jlink"'
out_has "\"cortex-debug.JLinkGDBServerPath\": \"$TMPD/jlink/JLinkGDBServerCLExe\""
err_lacks "JLinkGDBServerCL.exe"

t "no SDK_VERSION: the newest installed SDK, said so; none: the path is left out"
rm "$repo/SDK_VERSION"
mkdir -p "$HOME/openmv-sdk-1.10.0/gcc/bin" "$HOME/openmv-sdk-1.9.2/gcc/bin"
sdk_tools "$HOME/openmv-sdk-1.10.0/gcc/bin"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_has "omvdev: warning: '$repo/SDK_VERSION' is missing (releases before 5.0 have none): using the newest installed SDK"
err_has "omvdev: toolchain: $HOME/openmv-sdk-1.10.0/gcc/bin"
out_has '"gdbPath": "${userHome}/openmv-sdk-1.10.0/gcc/bin/arm-none-eabi-gdb"'
SDK_DIR="$TMPD/sdk" "$OMVDEV" -C "$repo" vscode -t OPENMV4 --stdout --only launch >"$out" 2>"$err"
out_has "\"armToolchainPath\": \"$TMPD/sdk/gcc/bin\""
err_has "SDK_VERSION' is missing (releases before 5.0 have none): using \$SDK_DIR"
printf 'not a version!\n' >"$repo/SDK_VERSION"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_has "omvdev: warning: $repo/SDK_VERSION: not a version: 'not a version!'"
out_has '"gdbPath": "${userHome}/openmv-sdk-1.10.0/gcc/bin/arm-none-eabi-gdb"'
rm "$repo/SDK_VERSION"
rm -rf "$HOME"/openmv-sdk-*
# without an SDK: Debian's gdb-multiarch and arm-none-eabi-gcc, when they are installed
mkdir -p "$TMPD/debian"
for x in gdb-multiarch arm-none-eabi-gcc; do printf '#!/bin/sh\n' >"$TMPD/debian/$x"; chmod +x "$TMPD/debian/$x"; done
PATH="$TMPD/debian:/nowhere" "$(command -v bash)" -c '"$0" "$@"' "$OMVDEV" -C "$repo" vscode -t OPENMV4 --stdout >"$out" 2>"$err"
err_has "the configuration leaves armToolchainPath out"
err_has "omvdev: gdb: $TMPD/debian/gdb-multiarch (no SDK)"
out_lacks "armToolchainPath"
out_has "\"gdbPath\": \"$TMPD/debian/gdb-multiarch\""
out_has "\"C_Cpp.default.compilerPath\": \"$TMPD/debian/arm-none-eabi-gcc\""
PATH="/nowhere" "$(command -v bash)" -c '"$0" "$@"' "$OMVDEV" -C "$repo" vscode -t OPENMV4 --stdout >"$out" 2>"$err"
err_has "omvdev: warning: no gdb for Arm: the configuration leaves gdbPath out"
out_lacks "gdbPath"
out_lacks "compilerPath"
out_has '"C_Cpp.default.compileCommands"'
echo "1.6.0" >"$repo/SDK_VERSION"
mkdir -p "$HOME/openmv-sdk-1.6.0/gcc/bin"
sdk_tools "$HOME/openmv-sdk-1.6.0/gcc/bin"

t "SVD files: --svd, and the one the firmware repository carries for the AE3"
mkdir -p "$repo/lib/micropython/lib/alif_ensemble-cmsis-dfp/Debug/SVD" "$repo/svd"
for f in AE822FA0E5597BS0_CM55_HP_View.svd AE722F80F55D5LS_CM55_HE_View.svd \
    AE722F80F55D5LS_CM55_HP_View.svd; do
    : >"$repo/lib/micropython/lib/alif_ensemble-cmsis-dfp/Debug/SVD/$f"
done
expect 0 -C "$repo" vscode -t OPENMV_AE3 --stdout --only launch
out_has '"svdFile": "${workspaceFolder}/lib/micropython/lib/alif_ensemble-cmsis-dfp/Debug/SVD/AE722F80F55D5LS_CM55_HP_View.svd"'
: >"$repo/svd/STM32H743.svd"
expect 0 -C "$repo/svd" vscode -t OPENMV4 --stdout --only launch --svd STM32H743.svd
out_has '"svdFile": "${workspaceFolder}/svd/STM32H743.svd"'
expect 1 -C "$repo" vscode -t OPENMV4 --stdout --svd missing.svd
err_has "cannot open 'missing.svd'"

t "--template-dir overrides a template; values are escaped for JSON"
mkdir -p "$TMPD/tpl"
cat >"$TMPD/tpl/launch.json" <<'EOF'
{ "configurations": [ { "name": "mine @TARGET@", "cam": "@CAMERA@", "svd": "@SVD_FILE@",
  "x": "y" } ] }
EOF
mkdir -p "$repo/q\"uote"
: >"$repo/q\"uote/a.svd"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch --template-dir "$TMPD/tpl" \
    --svd "$repo/q\"uote/a.svd"
python3 - "$out" <<'PY' && pass || fail "template override"
import json, sys
[c] = json.load(open(sys.argv[1]))["configurations"]
assert c["name"] == "mine OPENMV4" and c["cam"] == "OpenMV Cam H7"
assert c["svd"] == '${workspaceFolder}/q"uote/a.svd', c
PY
printf '{ "configurations": [ { "name": "@NOPE@" } ] }\n' >"$TMPD/tpl/launch.json"
expect 1 -C "$repo" vscode -t OPENMV4 --stdout --template-dir "$TMPD/tpl"
err_has "$TMPD/tpl/launch.json:1: unknown placeholder @NOPE@"
printf '{ "configurations": [ { "name": "x" }, ] ' >"$TMPD/tpl/launch.json"
expect 1 -C "$repo" vscode -t OPENMV4 --stdout --template-dir "$TMPD/tpl"
err_has "$TMPD/tpl/launch.json:1:42: expected ',' or '}' after a member, found the end of the file"
rm -rf "$vs"
expect 1 -C "$repo" vscode -t OPENMV4 --template-dir "$TMPD/tpl"
err_has "$TMPD/tpl/launch.json:1:42: expected ',' or '}' after a member, found the end of the file"
[ ! -e "$vs" ] && pass || fail "a broken template still wrote files"
printf '{ "configurations": [ { "label": "no name" } ] }' >"$TMPD/tpl/launch.json"
expect 1 -C "$repo" vscode -t OPENMV4 --template-dir "$TMPD/tpl"
err_has "$TMPD/tpl/launch.json: every entry of \"configurations\" needs a string \"name\""
[ ! -e "$vs" ] && pass || fail "a bad template still wrote files"

t "--json: what was written (or would be), per file and per entry, schema 1"
rm -rf "$vs"
expect 0 -C "$repo" --json vscode -t OPENMV4 -t OPENMV2 --dry-run
[ ! -e "$vs" ] && pass || fail "--dry-run wrote"
python3 - "$out" <<'PY' && pass || fail "--json --dry-run"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["dry_run"] is True
assert d["boards"] == ["OPENMV4", "OPENMV2"] and d["skipped"] == []
assert d["servertype"] == "jlink" and d["gdb_target"] is None
assert d["probes"] == [{"board": "OPENMV4", "probe": "jlink", "servertype": "jlink"},
                       {"board": "OPENMV2", "probe": "stlink", "servertype": "openocd"}]
f = {x["file"]: x for x in d["files"]}
assert f[".vscode/launch.json"]["status"] == "would-create"
assert f[".vscode/launch.json"]["entries"] == [{"id": "OpenMV OPENMV4 (J-Link)", "status": "added"},
                                               {"id": "OpenMV OPENMV2 (ST-Link)", "status": "added"}]
assert len(f[".vscode/tasks.json"]["entries"]) == 8
assert f[".vscode/settings.json"]["entries"][0]["id"] == "cortex-debug.armToolchainPath"
PY
expect 0 -C "$repo" vscode -t OPENMV4
sed -i 's/"interface": "swd"/"interface": "jtag"/' "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --json
python3 - "$out" <<'PY' && pass || fail "--json after an edit"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["file"]: x for x in d["files"]}
assert f[".vscode/launch.json"]["status"] == "unchanged"
assert f[".vscode/launch.json"]["entries"][0]["status"] == "kept-edited"
assert all(e["status"] == "unchanged" for e in f[".vscode/tasks.json"]["entries"])
PY
expect 2 -C "$repo" --json vscode -t OPENMV4 --stdout
err_has "--json does not go with --stdout"
expect 2 -C "$repo" --json vscode -t OPENMV4 --diff

t "a launch.json symlinked inside the repository is updated where it points (one leading out is refused: t0910); a board the repository lacks is warned about"
rm -rf "$vs"
mkdir -p "$vs" "$repo/shared"
printf '{\n    // shared\n    "configurations": []\n}\n' >"$repo/shared/launch.json"
ln -s ../shared/launch.json "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
[ -L "$vs/launch.json" ] && pass || fail "the symlink was replaced by a file"
grep -q '"name": "OpenMV OPENMV4 (J-Link)"' "$repo/shared/launch.json" && pass || fail "target not updated"
head -2 "$repo/shared/launch.json" | grep -q '// shared' && pass || fail "comment lost"
[ -e "$repo/shared/launch.json.bak" ] && pass || fail "no .bak beside the target"
err_lacks "this repository has no boards/OPENMV4"
expect 0 -C "$repo" vscode -t OPENMV_N6 --stdout --only launch
err_has "omvdev: warning: this repository has no boards/OPENMV_N6 (a release without it?): its configuration is written anyway"

t "a release up to v4.6.x (the tree under src/) debugs src/build/bin/"
old="$TMPD/openmv-4.5"
mkdir -p "$old/src/omv/boards/OPENMV4" "$old/src/lib/micropython"
echo "all:" >"$old/src/Makefile"
expect 0 -C "$old/src" vscode -t OPENMV4 --only launch
out_empty
grep -q '"executable": "${workspaceFolder}/src/build/bin/firmware.elf"' "$old/.vscode/launch.json" &&
    pass || fail "old layout"
err_lacks "this repository has no boards/OPENMV4"

t "the config key [vscode] jlink-host works like the option"
expect 0 -C "$repo" -c vscode.jlink-host=win:2400 vscode -t OPENMV4 --stdout --only launch
out_has '"gdbTarget": "win:2400"'


finish
