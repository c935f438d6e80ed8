#!/usr/bin/env bash
# monitor, run and reset against the virtual camera's MicroPython console, through
# umockdev: omvdev's own libusb CDC code, the model on real time (--timescale 1).
PTY=$(cd "$(dirname "$0")" && pwd)/console-pty.py
. "$(dirname "$0")/../cli/lib.sh"

if [ -z "${OMVDEV_SIM:-}" ]; then echo "omvdev-sim was not built (no umockdev)" >&2; exit 77; fi
S="$TMPD/state"
cam() { rm -rf "$S"; timeout 60 "$OMVDEV_SIM" --timescale 1 --state "$S" --device camera:OPENMV4,serial=S1 "$@" >"$out" 2>"$err"; code=$?; }
banner="MicroPython v1.25.0-omvdev-sim OpenMV v4.7.0; OPENMV4 with STM32H743"
count() { grep -c -F -- "$1" "$2"; }

t "monitor without a terminal: the banner, typed lines answered, --timeout ends it"
cam -- sh -c "(printf 'print(\"hi\")\r'; sleep 1) | '$OMVDEV' monitor --timeout 2"
[ "$code" -eq 0 ] && pass || fail "exit $code"
out_has "$banner"
out_has '>>> print("hi")'
grep -qx 'hi' "$out" && pass || fail "no output line 'hi'"
grep -q $'\r' "$out" && fail "CR kept on a pipe" || pass
err_has "omvdev: console of OPENMV4 S1 (end of input, Ctrl-C quits)"
grep -q '"line coding 115200 baud' "$S/S1/log-1-camera.json" && pass || fail "not 115200"

t "--raw keeps the bytes, --log appends them to a file"
cam -- sh -c "(printf 'print(1)\r'; sleep 1) | '$OMVDEV' monitor --raw --log '$TMPD/con.log' --timeout 2"
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q $'^1\r$' "$out" && pass || fail "CR LF not kept"
cmp -s "$out" "$TMPD/con.log" && pass || fail "the log differs from what was shown"

t "the monitor says the camera left and reattaches when it comes back after a reset"
cam -- sh -c "(sleep 0.5; printf 'print(1)\r#sim: reset\r'; sleep 2; printf 'print(2)\r'; sleep 1) |
    '$OMVDEV' monitor --timestamps --timeout 5"
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: camera S1 left; waiting for it to come back (Ctrl-C quits)"
grep -q "omvdev: camera S1 is back after [0-9.]* s" "$err" && pass || fail "not back"
[ "$(count "$banner" "$out")" -eq 2 ] && pass || fail "the rebooted camera's banner is missing"
grep -q '^\[[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9][0-9][0-9]\] 2$' "$out" && pass ||
    fail "no timestamped '2' after the reset"
[ -f "$S/S1/log-2-camera.json" ] && pass || fail "the camera did not re-enumerate"

t "--json: one NDJSON object per line, with the time, and the events"
cam -- sh -c "(sleep 0.5; printf 'print(3)\r'; sleep 0.5; printf '#sim: reset\r'; sleep 2) |
    '$OMVDEV' --json monitor --timeout 4"
[ "$code" -eq 0 ] && pass || fail "exit $code"
python3 - "$out" <<'PY' && pass || fail "bad NDJSON"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert all(l["schema"] == 1 and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", l["time"]) for l in lines)
assert [l["line"] for l in lines if "line" in l][:4] == [
    "MicroPython v1.25.0-omvdev-sim OpenMV v4.7.0; OPENMV4 with STM32H743",
    'Type "help()" for more information.', ">>> print(3)", "3"]
assert any(l.get("event", "").startswith("camera S1 left") for l in lines)
assert any(l.get("event", "").startswith("camera S1 is back") for l in lines)
PY

t "a full receive buffer is flow control: a long paste into a sleeping camera arrives whole"
cam -- sh -c "(printf 'time.sleep(3)\r'; printf '%2000s' '' | tr ' ' x; sleep 4) |
    '$OMVDEV' monitor --timeout 5"
[ "$code" -eq 0 ] && pass || fail "exit $code"
grep -q "^x\{2000\}$" <(tr '>' '\n' <"$out" | tr -d ' ') && pass || fail "the paste was not echoed whole"
grep -q "REPL: [0-9]* of [0-9]* bytes accepted (buffer full)" "$S/S1/log-1-camera.json" && pass ||
    fail "the buffer never filled"

t "on a terminal: raw mode, Ctrl-C goes to the camera, Ctrl-] quits, the terminal is restored"
cam -- python3 "$PTY" 'wait:>>> ' 'send:time.sleep(30)\r' 'sleep:0.5' 'send:\x03' \
    'wait:KeyboardInterrupt' 'send:print(8)\r' 'wait:8' 'send:\x1d' -- "$OMVDEV" monitor
out_has "KeyboardInterrupt: "
out_has "termios restored"
out_has "exit 0"
out_has "omvdev: console of OPENMV4 S1 (Ctrl-] quits)"

for sig in SIGINT:130 SIGTERM:143 SIGHUP:129; do
    t "the terminal is restored after ${sig%:*}"
    cam -- python3 "$PTY" 'wait:>>> ' "signal:${sig%:*}" -- "$OMVDEV" monitor
    out_has "termios restored"
    out_has "exit ${sig#*:}"
done

t "--quit-key changes the key that quits"
cam -- python3 "$PTY" 'wait:>>> ' 'send:\x1d' 'sleep:0.5' 'send:\x18' -- "$OMVDEV" monitor --quit-key ctrl-x
out_has "exit 0"
out_has "termios restored"

t "monitor: bad inputs"
expect 2 monitor --port /dev/null -t OPENMV4
err_has "--port names the device; it goes without -t and --serial"
expect 2 monitor --baud 921600
err_has "--baud 921600 switches the camera to its IDE protocol"
expect 2 monitor --timeout 0
err_has "invalid value '0' for --timeout"
cam -- "$OMVDEV" monitor --serial NOPE --timeout 1
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: no camera running firmware on USB with serial NOPE"
err_has "hint: omvdev devices --watch"
cam -- "$OMVDEV" monitor --log "$TMPD/no/such/dir/log" --timeout 1
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "cannot open '$TMPD/no/such/dir/log': No such file or directory"
expect 1 monitor --port "$TMPD/nope"
err_has "cannot open '$TMPD/nope': No such file or directory"

# ---- run -----------------------------------------------------------------------------------

printf 'print("hello")\nimport time\ntime.sleep(1)\nprint(42)\n' >"$TMPD/ok.py"
printf 'print("a")\nraise ValueError("bad value")\nprint("never")\n' >"$TMPD/raise.py"
printf 'print("x")\ntime.sleep(100)\n' >"$TMPD/long.py"
printf 'print("x")\n#sim: vanish\ntime.sleep(1)\n' >"$TMPD/vanish.py"

t "run: the output streams, exit 0 when the script ends"
cam -- "$OMVDEV" run "$TMPD/ok.py"
[ "$code" -eq 0 ] && pass || fail "exit $code"
[ "$(cat "$out")" = "$(printf 'hello\n42')" ] && pass || fail "output"
err_empty

t "run: exit 1 and the traceback on stderr when the script raises"
cam -- "$OMVDEV" run "$TMPD/raise.py"
[ "$code" -eq 1 ] && pass || fail "exit $code"
[ "$(cat "$out")" = "a" ] && pass || fail "output"
err_has '  File "<stdin>", line 2, in <module>'
err_has "ValueError: bad value"

t "run --timeout interrupts the script on the camera"
cam -- "$OMVDEV" run --timeout 1 "$TMPD/long.py"
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "KeyboardInterrupt"
err_has "omvdev: error: the script ran longer than 1 s"

t "run: Ctrl-C (SIGINT) interrupts the script on the camera, which stays usable"
cam -- sh -c "'$OMVDEV' run '$TMPD/long.py' & sleep 1.5; kill -INT \$!; wait \$!; echo status \$?;
    '$OMVDEV' run '$TMPD/ok.py'"
grep -qx "status 130" "$out" && pass || fail "not 130"
err_has "KeyboardInterrupt"
out_has "42"
[ "$code" -eq 0 ] && pass || fail "the next run failed: exit $code"

t "run: exit 3 when the camera leaves mid-script"
cam -- "$OMVDEV" run "$TMPD/vanish.py"
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: 37C5:1204 left while the script ran"

t "run: a 64 KiB script goes in 256-byte writes and runs whole"
python3 -c "
import sys
lines = ['print(%d)' % i for i in range(5000)]
body = '\n'.join(lines) + '\n'
body += '#' * (65536 - len(body) - 1) + '\n'
sys.stdout.write(body)" >"$TMPD/big.py"
[ "$(wc -c <"$TMPD/big.py")" -eq 65536 ] && pass || fail "script size"
cam -- "$OMVDEV" -v run "$TMPD/big.py"
[ "$code" -eq 0 ] && pass || fail "exit $code"
[ "$(wc -l <"$out")" -eq 5000 ] && pass || fail "$(wc -l <"$out") lines of output"
grep -qx 4999 "$out" && pass || fail "the last line is missing"
err_has "sent 65536 bytes in 256 writes"
grep -q '"raw REPL: run 65536 bytes' "$S/S1/log-1-camera.json" && pass || fail "the camera got less"

t "run: exit 3 when nothing answers the raw REPL"
python3 - "$OMVDEV" "$TMPD/ok.py" >"$out" 2>"$err" <<'PY'
import os, subprocess, sys
m, s = os.openpty()
r = subprocess.run([sys.argv[1], "run", "--port", os.ttyname(s), sys.argv[2]])
print("exit", r.returncode)
PY
out_has "exit 3"
err_has "did not enter MicroPython's raw REPL within 3000 ms"

t "run: bad inputs"
expect 2 run
err_has "run takes one script"
expect 1 run "$TMPD/none.py"
err_has "cannot open '$TMPD/none.py': No such file or directory"
cam -- "$OMVDEV" run "$TMPD/ok.py" --serial NOPE
[ "$code" -eq 3 ] && pass || fail "exit $code"

# ---- reset -----------------------------------------------------------------------------------

t "reset: a camera running firmware reboots and is waited for"
cam -- "$OMVDEV" reset
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: camera S1 (OPENMV4) is running its firmware again (37C5:1204)"
[ -f "$S/S1/log-2-camera.json" ] && pass || fail "no second camera"

t "reset --soft: MicroPython's soft reset, no re-enumeration"
cam -- sh -c "'$OMVDEV' reset --soft && printf 'x' | '$OMVDEV' monitor --raw --timeout 1"
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: camera S1 (OPENMV4): MicroPython soft reset"
out_has "MPY: soft reboot"
[ -f "$S/S1/log-2-camera.json" ] && fail "it re-enumerated" || pass

t "reset --bootloader from the firmware, from the bootloader; reset back into the firmware"
cam -- sh -c "'$OMVDEV' reset --bootloader && '$OMVDEV' reset --bootloader && '$OMVDEV' devices &&
    '$OMVDEV' reset && '$OMVDEV' devices"
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: camera S1 (OPENMV4) is in its bootloader (37C5:9204)"
err_has "omvdev: camera S1 (OPENMV4) is in its bootloader already"
err_has "omvdev: camera S1 (OPENMV4) is running its firmware again (37C5:1204)"
grep -q "^OPENMV4  *OpenMV bootloader  *37C5:9204  *S1 " "$out" && pass || fail "no bootloader"
grep -q "^OPENMV4  *firmware  *37C5:1204  *S1 " "$out" && pass || fail "no firmware after"

t "a serial number with control characters is shown escaped"
rm -rf "$S"; timeout 60 "$OMVDEV_SIM" --timescale 1 --device "camera:OPENMV4,serial=$(printf 'E\033[2J')" -- \
    "$OMVDEV" reset >"$out" 2>"$err"; code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has 'omvdev: camera E\x1b[2J (OPENMV4) is running its firmware again'
grep -q "$(printf '\033')" "$err" && fail "a raw ESC reached the terminal" || pass

t "reset: bad inputs"
expect 2 reset --soft --bootloader
err_has "--soft and --bootloader exclude each other"
cam -- "$OMVDEV" reset
rm -rf "$S"; "$OMVDEV_SIM" -- "$OMVDEV" reset >"$out" 2>"$err"; code=$?
[ "$code" -eq 3 ] && pass || fail "exit $code"
err_has "omvdev: error: no camera on USB"


# ---- across a reflash; flash --monitor ---------------------------------------------------------

repo="$TMPD/openmv"
bin="$repo/build/OPENMV4/bin"
mkdir -p "$repo/boards/OPENMV4" "$bin"
: >"$repo/Makefile"
head -c 20000 /dev/urandom >"$bin/firmware.bin"
head -c 5000 /dev/urandom >"$bin/romfs0.img"

t "the monitor reattaches when another omvdev reflashes the camera"
# The monitor holds the camera's CDC interface, so (as on real hardware) the camera is
# sent to its bootloader from its own REPL; another omvdev flashes it meanwhile.
cam -- sh -c "(sleep 1; printf 'import machine\rmachine.bootloader()\r'; sleep 8) |
        '$OMVDEV' monitor >'$TMPD/mon.out' 2>'$TMPD/mon.err' & m=\$!
    sleep 1.5; '$OMVDEV' -C '$repo' flash -t OPENMV4; echo flash \$?; sleep 2
    kill -TERM \$m; wait \$m; echo monitor \$?"
grep -qx "flash 0" "$out" && pass || fail "the flash failed"
grep -qx "monitor 143" "$out" && pass || fail "monitor status"
grep -q "omvdev: camera S1 left; waiting for it to come back" "$TMPD/mon.err" && pass || fail "no left"
grep -q "omvdev: camera S1 is back after" "$TMPD/mon.err" && pass || fail "not back"
[ "$(count "$banner" "$TMPD/mon.out")" -eq 2 ] && pass || fail "the new firmware's banner is missing"
tail -c +$((0x40000 + 1)) "$S/S1/internal.bin" | head -c 20000 | cmp -s - "$bin/firmware.bin" &&
    pass || fail "the firmware was not written"

t "flash --monitor: flash, then the console of the same camera when its firmware is up"
cam -- python3 "$PTY" "wait:$banner" 'wait:>>> ' 'send:print(77)\r' 'wait:77' 'send:\x1d' -- \
    "$OMVDEV" -C "$repo" flash -t OPENMV4 --monitor
out_has "restarts into the new firmware"
out_has "omvdev: console of OPENMV4 S1 (Ctrl-] quits)"
out_has ">>> print(77)"
out_has "exit 0"
out_has "termios restored"
expect 2 -C "$repo" flash -t OPENMV4 --monitor --no-reset
err_has "--monitor follows one camera into its firmware: not with --no-reset"

finish
