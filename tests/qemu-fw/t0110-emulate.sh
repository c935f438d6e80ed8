#!/usr/bin/env bash
# omvdev emulate with the test firmware on the real qemu-system-arm, both machines:
# the banner shows, keystrokes reach the firmware and come back, and it stops cleanly
# (the firmware's semihosting exit, or Ctrl-] which stops QEMU), leaving no QEMU behind.
PTY=$(cd "$(dirname "$0")/../sim" && pwd)/console-pty.py
. "$(dirname "$0")/../cli/lib.sh"

command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm not installed" >&2; exit 77; }
for m in mps2-an500 mps3-an547; do
    [ -f "$QEMU_FW_DIR/$m.elf" ] || { echo "no $QEMU_FW_DIR/$m.elf (fixture skipped)" >&2; exit 77; }
done
# Copies of our own, so a QEMU that another test runs on the fixture's ELFs is not counted.
mkdir -p "$TMPD/fw"
cp "$QEMU_FW_DIR/mps2-an500.elf" "$QEMU_FW_DIR/mps3-an547.elf" "$TMPD/fw/"
QEMU_FW_DIR="$TMPD/fw"
qemus() { pgrep -f "qemu-system-arm .*$QEMU_FW_DIR" | wc -l; }

for b in MPS2_AN500:mps2-an500:cortex-m7 MPS3_AN547:mps3-an547:cortex-m55; do
    board=${b%%:*} m=${b#*:} m=${m%%:*} cpu=${b##*:}
    elf="$QEMU_FW_DIR/$m.elf"

    t "$board: --dry-run prints make run's command line"
    expect 0 emulate -t "$board" --elf "$elf" --dry-run
    out_has "qemu-system-arm -machine $m -nographic -monitor null -semihosting -serial pty -kernel $elf"

    t "$board: banner, echo, the firmware's own exit ends emulate with status 0"
    (sleep 1.5; printf 'hello\r'; sleep 1; printf '\004'; sleep 2) |
        timeout 60 "$OMVDEV" emulate -t "$board" --elf "$elf" >"$out" 2>"$err"
    code=$?
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    out_has "omvdev test firmware on $m"
    out_has "> hello"
    out_has "bye"
    err_has "omvdev: $board on $m (QEMU $cpu), console /dev/pts/"
    [ "$(qemus)" -eq 0 ] && pass || fail "QEMU left running"

    t "$board: on a terminal, Ctrl-] stops QEMU and restores the terminal"
    python3 "$PTY" "wait:on $m" 'send:abc' 'wait:> abc' 'send:\x14' 'wait:tick_count=' 'send:\x1d' -- \
        "$OMVDEV" emulate -t "$board" --elf "$elf" >"$out" 2>"$err"
    out_has "> abc"
    grep -q "tick_count=[1-9]" "$out" && pass || fail "the firmware's counter did not run"
    out_has "exit 0"
    out_has "termios restored"
    out_lacks "terminating on signal"
    [ "$(qemus)" -eq 0 ] && pass || fail "QEMU left running"
done

t "--gdb starts halted with a GDB server on loopback"
"$OMVDEV" emulate -t MPS2_AN500 --elf "$QEMU_FW_DIR/mps2-an500.elf" --gdb 34567 </dev/null >"$out" 2>"$err" &
pid=$!
up=0
for _ in $(seq 1 50); do
    python3 -c 'import socket; socket.create_connection(("127.0.0.1", 34567), 0.2).close()' 2>/dev/null && { up=1; break; }
    sleep 0.1
done
[ "$up" -eq 1 ] && pass || fail "no GDB server on 127.0.0.1:34567"
sleep 1
out_lacks "omvdev test firmware"
kill -TERM "$pid"; wait "$pid"; code=$?
[ "$code" -eq 143 ] && pass || fail "exit $code"
err_has "halted: GDB server on 127.0.0.1:34567"
[ "$(qemus)" -eq 0 ] && pass || fail "QEMU left running"

t "bad inputs and a missing QEMU"
expect 2 emulate -t OPENMV4
err_has "'OPENMV4' is not an emulated board (MPS2_AN500 or MPS3_AN547)"
expect 2 emulate
err_has "name the board: omvdev emulate -t TARGET (MPS2_AN500 or MPS3_AN547)"
expect 2 emulate -t MPS2_AN500 --gdb 0
expect 2 emulate -t MPS2_AN500 --build --elf x.elf
expect 1 emulate -t MPS2_AN500 --elf "$TMPD/none.elf"
err_has "cannot open '$TMPD/none.elf': No such file or directory"
expect 1 emulate -t MPS2_AN500
err_has "cannot open 'build/MPS2_AN500/bin/firmware.elf': No such file or directory"
err_has "hint: omvdev emulate -t MPS2_AN500 --build"
PATH=/nonexistent expect 1 emulate -t MPS2_AN500 --elf "$QEMU_FW_DIR/mps2-an500.elf"
err_has "'qemu-system-arm' not found on PATH"
err_has "hint: sudo apt-get install qemu-system-arm"

t "doctor checks QEMU for the emulated boards only"
run -c build.target=MPS2_AN500 doctor --quick
grep -q "^ok  *qemu  *.*qemu-system-arm$" "$out" "$err" && pass || fail "no qemu check"
PATH=/nonexistent run -c build.target=MPS3_AN547 doctor --quick
grep -q "^fail  *qemu  *qemu-system-arm not found (qemu-system-arm emulates MPS3_AN547)" "$out" "$err" &&
    pass || fail "missing QEMU not reported"
grep -q "fix: sudo apt-get install qemu-system-arm" "$out" "$err" && pass || fail "no fix"
run -c build.target=OPENMV4 doctor --quick
grep -q "^skip  *qemu  *needed only for the emulated boards" "$out" "$err" && pass || fail "not skipped"

t "the firmware tree's build directory: firmware.elf and the ROMFS image make run loads"
repo="$TMPD/openmv"
mkdir -p "$repo/boards/MPS2_AN500" "$repo/build/MPS2_AN500/bin"
: >"$repo/Makefile"
cp "$QEMU_FW_DIR/mps2-an500.elf" "$repo/build/MPS2_AN500/bin/firmware.elf"
head -c 4096 /dev/zero >"$repo/build/MPS2_AN500/bin/romfs0.img"
expect 0 -C "$repo" emulate -t MPS2_AN500 --dry-run
out_has "-machine mps2-an500 -nographic -monitor null -semihosting -device loader,file=build/MPS2_AN500/bin/romfs0.img,addr=0x60C00000,force-raw=on -serial pty -kernel build/MPS2_AN500/bin/firmware.elf"

finish
