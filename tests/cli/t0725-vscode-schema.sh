#!/usr/bin/env bash
# omvdev vscode writes nothing Cortex-Debug, VS Code or the recommended extensions do not
# declare: every board x every probe (ST-Link through OpenOCD and through ST's server) x
# natively and in WSL, checked against the declared properties and their value types
# (tests/data/vscode-schema.json).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 77; }
schema="$TEST_DATA/vscode-schema.json"
check="$TEST_DATA/vscode-check-schema.py"
repo="$TMPD/openmv"
mkdir -p "$repo/boards" "$repo/ports" "$repo/lib/micropython" "$HOME/openmv-sdk-1.6.0/gcc/bin" "$TMPD/docs"
echo "all:" >"$repo/Makefile"
echo "1.6.0" >"$repo/SDK_VERSION"
export OMVDEV_SYSROOT="$TMPD/sys"
mkdir -p "$OMVDEV_SYSROOT/proc/sys/kernel" "$OMVDEV_SYSROOT/proc/net"
unset WSL_DISTRO_NAME SDK_DIR

t "the checker itself fails on an undeclared property, a wrong type and a wrong enum value"
cat >"$TMPD/bad.json" <<'J'
{".vscode/launch.json": {"configurations": [{"name": "x", "type": "cortex-debug",
  "request": "launch", "omvdev": "generated 0123456789abcdef", "runToEntryPoint": 1,
  "servertype": "jlinkk", "rttConfig": {"enabled": "no", "decoders": [{"port": "0"}]}}]},
 ".vscode/tasks.json": {"tasks": [{"label": "l", "omvdev": "x", "options": {"cwdd": "."}}]},
 ".vscode/settings.json": {"cortex-debug.nope": 1}}
J
python3 "$check" "$schema" "$TMPD/bad.json" >"$out" 2>"$err" && fail "the checker passed" || pass
out_has "property 'omvdev' is not declared"
out_has "'runToEntryPoint' is 1, not string"
out_has "'servertype' is \"jlinkk\""
out_has "rttConfig: 'enabled' is \"no\", not boolean"
out_has "rttConfig decoder: 'port' is \"0\", not number"
out_has "tasks.json 'l': property 'omvdev' is not declared"
out_has "options: property 'cwdd' is not declared"
out_has "settings.json: property 'cortex-debug.nope' is not declared"

t "every board x probe x native/WSL: only declared properties, of the declared types"
"$OMVDEV" --json targets >"$TMPD/db.json"
boards=$(python3 -c 'import json,sys; print(" ".join(t["name"] for t in json.load(open(sys.argv[1]))["targets"] if t["supported"]))' "$TMPD/db.json")
n=0
refused=0
for wsl in no yes; do
    if [ $wsl = yes ]; then
        echo "5.15.153.1-microsoft-standard-WSL2" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
    else
        echo "6.1.0-debian" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
    fi
    for b in $boards MPS2_AN500 MPS3_AN547; do
        for p in jlink stlink "stlink --server st" cmsis-dap qemu; do
            # shellcheck disable=SC2086
            "$OMVDEV" -C "$repo" vscode -t "$b" --probe $p --stdout >"$TMPD/docs/$n.json" 2>"$err"
            code=$?
            if [ $code -eq 2 ]; then
                refused=$((refused + 1))
                grep -q "cannot be debugged with" "$err" && pass || fail "$b $p: exit 2 without a reason"
                rm "$TMPD/docs/$n.json"
            elif [ $code -ne 0 ]; then
                fail "$b --probe $p (WSL $wsl): exit $code"
            fi
            n=$((n + 1))
        done
    done
done
python3 "$check" "$schema" "$TMPD/docs"/*.json >"$out" 2>"$err" && pass || fail "undeclared properties"
# the coverage: every server type, launch and attach, and QEMU
for s in "jlink launch" "jlink attach" "openocd launch" "stlink launch" "stlink attach" \
    "qemu launch" "external launch" "external attach"; do
    out_has "seen $s"
done
[ "$refused" -gt 0 ] && pass || fail "no probe was ever refused"
ls "$TMPD/docs" | wc -l | grep -qv '^0$' && pass || fail "nothing generated"

cat "$out" | grep "^seen" >&2
finish
