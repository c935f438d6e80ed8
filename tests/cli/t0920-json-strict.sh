#!/usr/bin/env bash
# Every command's --json output is valid JSON to a strict parser (UTF-8 decoded strictly,
# then json.loads, line by line for event streams), also when paths and config values
# hold bytes that are not UTF-8 and terminal escapes. A command that gains --json must be
# added here: the list is checked against the help of every command.
. "$(dirname "$0")/lib.sh"

bad=$(printf 'x\xff\xc3(\x1b[31my')
export HOME="$TMPD/home-$bad"
mkdir -p "$HOME"
repo="$TMPD/open-$bad-mv"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4" "$repo/build/OPENMV4/bin"
echo "all:" >"$repo/Makefile"
echo "1.6.0" >"$repo/SDK_VERSION"
printf 'fw' >"$repo/build/OPENMV4/bin/firmware.bin"
printf '[build]\ntarget = OPENMV4\n[targets]\nk%sy = 1\n' "$bad" >"$repo/.omvdev.ini"
# sdk.mirror is read only from the user's own file (a clone cannot choose it)
mkdir -p "$XDG_CONFIG_HOME/omvdev"
printf '[sdk]\nmirror = http://%s/sdk\n' "$bad" >"$XDG_CONFIG_HOME/omvdev/config.ini"
export OMVDEV_SYSROOT="$TMPD/sys"
mkdir -p "$OMVDEV_SYSROOT/proc/sys/kernel" "$OMVDEV_SYSROOT/proc/net"
echo "6.1.0-debian" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
unset WSL_DISTRO_NAME SDK_DIR

# An SDK installed under the odd HOME, so the sdk commands print its paths.
tb="$TMPD/openmv-sdk-1.6.0-linux-x86_64.tar.xz"
python3 "$SOURCE_DIR/tests/component/mkarchive.py" good "$tb" 1.6.0 1 >/dev/null || exit 1

strict() {
    python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", errors="strict")
if not text.strip():
    sys.exit("empty output")
try:
    docs = [json.loads(text)]
except ValueError:
    docs = [json.loads(l) for l in text.splitlines() if l.strip()]
for d in docs:
    assert isinstance(d, dict) and d.get("schema") == 1, d
PY
}

covered=""
check() { # check EXIT "command words" ARGS...
    local want=$1 words=$2
    shift 2
    covered="$covered|$words|"
    run -C "$repo" --json $words "$@"
    [ "$code" -eq "$want" ] && pass || fail "exit $code, wanted $want (omvdev --json $words $*)"
    if strict; then pass; else fail "--json $words $*: not strict JSON"; fi
}

t "every --json output parses strictly, with invalid UTF-8 in paths and values"
check 0 "sdk install" --from "$tb"
grep -q 'x\\ufffd' "$out" && pass || fail "the odd path is not in the install events"
check 0 "targets list"
check 0 "targets show" OPENMV4
check 0 "config list" --all --show-origin
grep -q 'http://x\\ufffd' "$out" && pass || fail "the odd value is not there as U+FFFD"
check 0 "config get" sdk.mirror
check 0 "sdk list"
check 0 "sdk path"
check 0 "sdk verify"
check 0 "vscode" -t OPENMV4 --dry-run
check 0 "devices"
check 1 "doctor" --quick
printf 'rf' >"$repo/build/OPENMV4/bin/romfs0.img"
check 0 "flash" -t OPENMV4 --dry-run
grep -q '"event": "plan"' "$out" && pass || fail "no plan event"

check 0 "ci github"
grep -q 'open-x\\ufffd' "$out" && pass || fail "the odd repository path is not in ci's result"
# build and size need a real toolchain and ELF files to say much; whatever they print must parse.
check_any() {
    local words=$1
    shift
    covered="$covered|$words|"
    run -C "$repo" --json $words "$@"
    if [ ! -s "$out" ] || strict; then pass; else fail "--json $words $*: not strict JSON"; fi
}
check_any "build" -t OPENMV4
check_any "size" -t OPENMV4

# monitor: a console on a pty that prints invalid UTF-8 and an escape sequence
python3 - "$TMPD/pty-path" <<'PY' &
import os, sys, time
m, s = os.openpty()
open(sys.argv[1] + ".tmp", "w").write(os.ttyname(s))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(1)
os.write(m, b"caf\xff\xc3(\x1b[31m\r\nok\r\n")
time.sleep(4)
PY
ptyp=$!
for _ in $(seq 50); do [ -s "$TMPD/pty-path" ] && break; sleep 0.1; done
check 0 "monitor" --port "$(cat "$TMPD/pty-path")" --timeout 3 </dev/null
grep -q '"line":"ok"' "$out" && pass || fail "the console's line is missing"
kill "$ptyp" 2>/dev/null
wait "$ptyp" 2>/dev/null

t "flash modes whose output is an external tool's refuse --json rather than print text"
expect 2 -C "$repo" --json flash --swd -t OPENMV4 --dry-run
err_has "--json does not go with --swd"
out_empty
expect 2 -C "$repo" --json flash -t ARDUINO_NANO_RP2040_CONNECT --dry-run
err_has "--json does not go with ARDUINO_NANO_RP2040_CONNECT"
out_empty

t "no command has --json that this test does not run"
for c in $("$OMVDEV" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    if "$OMVDEV" "$c" --help | grep -q '^commands:'; then
        subs=$("$OMVDEV" "$c" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
    else
        subs="-"
    fi
    for s in $subs; do
        words="$c"
        [ "$s" = - ] || words="$c $s"
        "$OMVDEV" $words --help | grep -q 'global --json option' || continue
        case "$covered" in
        *"|$words|"*) pass ;;
        *) fail "'omvdev $words' has --json but is not checked here" ;;
        esac
    done
done

finish
