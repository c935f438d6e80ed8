#!/usr/bin/env bash
# omvdev debug on an emulated board, end to end: the real qemu-system-arm started halted
# with its GDB server and the real gdb (gdb-multiarch) in batch mode on the test firmware:
# break in tick(), continue, read the counter, step, quit - on both QEMU machines. Then the
# Cortex-Debug configuration omvdev vscode writes is run the way Cortex-Debug runs it: its
# serverpath, machine, cpu, executable and gdbPath must exist and work.
. "$(dirname "$0")/../cli/lib.sh"

for p in qemu-system-arm gdb-multiarch python3; do
    command -v $p >/dev/null || { echo "$p not installed" >&2; exit 77; }
done
for m in mps2-an500 mps3-an547; do
    [ -f "$QEMU_FW_DIR/$m.elf" ] || { echo "no $QEMU_FW_DIR/$m.elf (fixture skipped)" >&2; exit 77; }
done
repo="$TMPD/openmv"
mkdir -p "$repo/boards/MPS2_AN500" "$repo/boards/MPS3_AN547" "$repo/ports" "$repo/lib/micropython"
echo "all:" >"$repo/Makefile"
board_of() { case $1 in mps2-an500) echo MPS2_AN500 ;; mps3-an547) echo MPS3_AN547 ;; esac; }
for m in mps2-an500 mps3-an547; do
    b=$(board_of $m)
    mkdir -p "$repo/build/$b/bin"
    cp "$QEMU_FW_DIR/$m.elf" "$repo/build/$b/bin/firmware.elf"
    head -c 4096 /dev/zero >"$repo/build/$b/bin/romfs0.img"
done
romfs_at() { case $1 in mps2-an500) echo 0x60C00000 ;; mps3-an547) echo 0x62000000 ;; esac; }
port=$((20000 + $$ % 20000))
listening() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
cat >"$TMPD/session.gdb" <<'G'
break tick
continue
print tick_count
continue
print tick_count
next
print tick_count
quit
G

for m in mps2-an500 mps3-an547; do
    b=$(board_of $m)
    elf="$repo/build/$b/bin/firmware.elf"
    t "$b: omvdev debug runs QEMU halted and gdb on the firmware; break, continue, read, step"
    expect 0 -C "$repo" debug -t "$b" --port "$port" --batch --gdb-commands "$TMPD/session.gdb"
    err_has "omvdev: \$ $(command -v qemu-system-arm) -machine $m -nographic -monitor null -semihosting -device loader,file=$repo/build/$b/bin/romfs0.img,addr=$(romfs_at $m),force-raw=on -S -gdb tcp:127.0.0.1:$port -serial pty -kernel $elf"
    err_has "omvdev: \$ $(command -v gdb-multiarch) -batch -iex 'set confirm off' -ex 'target remote localhost:$port' -x $TMPD/session.gdb $elf"
    grep -q "^omvdev: the board's serial console is /dev/pts/[0-9]* (omvdev monitor --port /dev/pts/[0-9]*)$" "$err" &&
        pass || fail "no console named"
    out_has "Breakpoint 1 at "
    out_has "Breakpoint 1, tick () at "
    out_has '$1 = 0'
    out_has '$2 = 1'
    grep -Eq '^main \(\) at .*fw\.c:[0-9]+$' "$out" && pass || fail "next did not step back into main"
    out_has '$3 = 2'
    err_has "omvdev: stopped the GDB server"
    listening "$port" && fail "QEMU still listens" || pass
    pgrep -f -- "-kernel $elf" >/dev/null && fail "QEMU is still running" || pass
done

t "gdb's failure is omvdev's, and QEMU is still stopped"
printf 'print no_such_symbol\n' >"$TMPD/bad.gdb"
expect 1 -C "$repo" debug -t MPS2_AN500 --port "$port" --batch -x "$TMPD/bad.gdb"
err_has "No symbol \"no_such_symbol\" in current context."
err_has "exited with exit status 1"
listening "$port" && fail "QEMU still listens" || pass

t "--server-only: QEMU waits for a debugger until Ctrl-C"
"$OMVDEV" -C "$repo" debug -t MPS3_AN547 --port "$port" --server-only >"$out" 2>"$err" &
pid=$!
for _ in $(seq 100); do listening "$port" && break; sleep 0.1; done
listening "$port" && pass || fail "not listening"
timeout 30 gdb-multiarch -batch -ex "target remote localhost:$port" -ex 'print tick_count' \
    "$repo/build/MPS3_AN547/bin/firmware.elf" >"$TMPD/gdb.out" 2>&1
grep -q '^\$1 = 0$' "$TMPD/gdb.out" && pass || fail "a debugger could not read the counter"
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: the GDB server listens on localhost:$port"
err_has "omvdev: stopped the GDB server"
listening "$port" && fail "QEMU still listens" || pass

t "no firmware ELF: the error and the command that builds it; an emulated board has no other probe"
expect 1 -C "$TMPD" debug -t MPS2_AN500 --port "$port"
err_has "omvdev: error: cannot open 'build/MPS2_AN500/bin/firmware.elf': No such file or directory"
err_has "hint: build it first: omvdev build -t MPS2_AN500 --debug"
expect 2 -C "$repo" debug -t MPS2_AN500 --probe jlink
err_has "omvdev: error: MPS2_AN500 cannot be debugged with a J-Link: it is an emulated board: it runs in QEMU (--probe qemu)"

t "--batch and --gdb-commands go with gdb only; a missing command file is an error"
expect 2 -C "$repo" debug -t MPS2_AN500 --server-only --batch
err_has "--server-only runs no gdb: --batch and --gdb-commands do not go with it"
expect 1 -C "$repo" debug -t MPS2_AN500 --batch -x "$TMPD/nope.gdb"
err_has "omvdev: error: cannot open '$TMPD/nope.gdb': No such file or directory"

# Cortex-Debug's QEMU server type runs: SERVERPATH -cpu CPU -machine MACHINE -nographic
# -semihosting-config enable=on,target=native -gdb tcp::PORT -S -kernel EXECUTABLE
# SERVERARGS..., and connects GDBPATH to it.
for m in mps2-an500 mps3-an547; do
    b=$(board_of $m)
    t "$b: the Cortex-Debug configuration names a QEMU, machine, CPU, ELF and gdb that work"
    expect 0 -C "$repo" vscode -t "$b" --stdout --only launch
    python3 - "$out" "$repo" >"$TMPD/cfg" <<'PY' && pass || fail "configuration"
import json, os, shlex, sys
[c] = json.load(open(sys.argv[1]))["configurations"]
assert c["type"] == "cortex-debug" and c["servertype"] == "qemu" and c["request"] == "launch"
ws = lambda s: s.replace("${workspaceFolder}", sys.argv[2])
for key in ("serverpath", "gdbPath"):
    assert os.access(c[key], os.X_OK), (key, c[key])
assert os.path.isfile(ws(c["executable"])), c["executable"]
print(shlex.join([c["serverpath"], c["cpu"], c["machine"], ws(c["executable"]), c["gdbPath"]]
                 + [ws(a) for a in c["serverArgs"]]))
PY
    eval "set -- $(cat "$TMPD/cfg")"
    [ "$2 $3" = "$( [ $m = mps2-an500 ] && echo cortex-m7 || echo cortex-m55) $m" ] && pass ||
        fail "cpu/machine: $2 $3"
    [ "$6 $7" = "-device loader,file=$repo/build/$b/bin/romfs0.img,addr=$(romfs_at $m),force-raw=on" ] &&
        pass || fail "serverArgs: $6 $7"
    "$1" -cpu "$2" -machine "$3" -nographic -semihosting-config enable=on,target=native \
        -gdb "tcp::$port" -S -kernel "$4" "${@:6}" </dev/null >"$TMPD/qemu.out" 2>&1 &
    qpid=$!
    for _ in $(seq 100); do listening "$port" && break; sleep 0.1; done
    timeout 60 "$5" -batch -iex 'set confirm off' -ex "target remote localhost:$port" \
        -x "$TMPD/session.gdb" "$4" >"$out" 2>"$err"
    out_has '$1 = 0'
    out_has '$2 = 1'
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
done

finish
