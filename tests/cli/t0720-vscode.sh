#!/usr/bin/env bash
# omvdev vscode: generated launch/tasks/extensions/settings for every J-Link board (golden
# files), merges into real-world JSONC that keep every byte of the user's, idempotence,
# broken files, --force, --stdout as strict JSON, WSL and the SDK fallbacks.
. "$(dirname "$0")/lib.sh"

data="$TEST_DATA/vscode"
repo="$TMPD/openmv"
vs="$repo/.vscode"
# A throwaway firmware repository: what repo_find() and sdk_repo_version() look at.
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$HOME/openmv-sdk-1.6.0/gcc/bin"
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
err_has "--svd names the file of one board, not 9"
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
    assert c["omvdev"].startswith("generated ")
    labels = {x["label"]: x for x in tasks["tasks"]}
    build = labels[c["preLaunchTask"]]
    assert build["command"] == "omvdev" and build["args"] == ["build", "-t", name, "--debug"]
    assert build["problemMatcher"]["base"] == "$gcc"
    assert labels[f"omvdev: build {name} (release)"]["args"] == ["build", "-t", name]
    assert labels[f"omvdev: flash {name}"]["args"] == ["flash", "-t", name]
    assert labels[f"omvdev: clean {name}"]["args"] == ["clean", "-t", name]
    assert d[".vscode/extensions.json"]["recommendations"] == [
        "marus25.cortex-debug", "mcu-debug.peripheral-viewer", "ms-vscode.cpptools"]
    assert d[".vscode/settings.json"] == {
        "cortex-debug.armToolchainPath": "$HOME/openmv-sdk-1.6.0/gcc/bin"}
print("checked")
PY

t "boards without a J-Link device are skipped with a note"
expect 0 -C "$repo" vscode --all --stdout --only launch
err_has "omvdev: skipped OPENMV2, OPENMV3, ARDUINO_NANO_33_BLE_SENSE, ARDUINO_NANO_RP2040_CONNECT, RPI_PICO, MPS2_AN500, MPS3_AN547: they have no J-Link device"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["configurations"]
assert len(c) == 9, len(c)' "$out" && pass || fail "--all has not 9 configurations"
expect 1 -C "$repo" vscode -t OPENMV2 -t openmv3
err_has "omvdev: skipped OPENMV2, OPENMV3: they have no J-Link device"
err_has "omvdev: error: no board to configure"
[ ! -e "$vs" ] && pass || fail "wrote files for no board"

t "a fresh repository gets four files; a second run changes nothing at all"
expect 0 -C "$repo" vscode -t OPENMV4 -t OPENMV_RT1060
err_has "omvdev: created .vscode/launch.json (2 added)"
err_has "omvdev: created .vscode/tasks.json (8 added)"
err_has "omvdev: created .vscode/extensions.json"
err_has "omvdev: created .vscode/settings.json"
err_has "omvdev: warning: 'omvdev' is not on PATH, and the tasks (and so F5's build) run it"
for f in launch tasks extensions settings; do
    python3 -m json.tool "$vs/$f.json" >/dev/null && pass || fail "$f.json is not JSON"
done
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
printf '{\n  "recommendations": ["ms-python.python", "marus25.cortex-debug", "mcu-debug.peripheral-viewer"],\n  "unwantedRecommendations": ["ms-vscode.cpptools"]\n}\n' >"$TMPD/want"
same_file "$TMPD/want" "$vs/extensions.json"
same_file "$TMPD/user-settings" "$vs/settings.json"
[ ! -e "$vs/settings.json.bak" ] && pass || fail ".bak of an unchanged file"
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
echo "1.6.0" >"$repo/SDK_VERSION"

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
python3 -m json.tool "$vs/launch.json" >/dev/null && pass || fail "launch.json from an empty file"
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
python3 - "$vs/launch.json" <<'PY' && pass || fail "external variant"
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
expect 0 -C "$repo" vscode -t OPENMV4 --stdout
err_has "the configuration leaves armToolchainPath out: Cortex-Debug will look for arm-none-eabi-gdb on PATH"
out_lacks "armToolchainPath"
out_lacks "settings.json"
expect 1 -C "$repo" vscode -t OPENMV4 --only settings
err_has "omvdev: error: nothing to write into settings.json: no toolchain and no J-Link server were found"
echo "1.6.0" >"$repo/SDK_VERSION"
mkdir -p "$HOME/openmv-sdk-1.6.0/gcc/bin"

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
assert d["boards"] == ["OPENMV4"] and d["skipped"] == ["OPENMV2"]
assert d["servertype"] == "jlink" and d["gdb_target"] is None
f = {x["file"]: x for x in d["files"]}
assert f[".vscode/launch.json"]["status"] == "would-create"
assert f[".vscode/launch.json"]["entries"] == [{"id": "OpenMV OPENMV4 (J-Link)", "status": "added"}]
assert len(f[".vscode/tasks.json"]["entries"]) == 4
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

t "a symlinked launch.json is updated where it points; a board the repository lacks is warned about"
rm -rf "$vs"
mkdir -p "$vs" "$TMPD/dotfiles"
printf '{\n    // shared\n    "configurations": []\n}\n' >"$TMPD/dotfiles/launch.json"
ln -s ../../dotfiles/launch.json "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
[ -L "$vs/launch.json" ] && pass || fail "the symlink was replaced by a file"
grep -q '"name": "OpenMV OPENMV4 (J-Link)"' "$TMPD/dotfiles/launch.json" && pass || fail "target not updated"
head -2 "$TMPD/dotfiles/launch.json" | grep -q '// shared' && pass || fail "comment lost"
[ -e "$TMPD/dotfiles/launch.json.bak" ] && pass || fail "no .bak beside the target"
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

t "a gdbPath that does not exist is written with a warning; none once gdb is there"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_has "omvdev: warning: '$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb' does not exist: the gdbPath written will not start"
printf '#!/bin/sh\n' >"$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb"
chmod +x "$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb"
expect 0 -C "$repo" vscode -t OPENMV4 --stdout --only launch
err_lacks "gdbPath written will not start"
rm "$HOME/openmv-sdk-1.6.0/gcc/bin/arm-none-eabi-gdb"

finish
