#!/usr/bin/env bash
# omvdev debug: the stand-in JLinkGDBServer really listens on its port (so the wait is
# real), the stand-in gdb connects to it; argument lists compared with gdbrunner's
# (facts §1.8); the server must be gone afterwards.
. "$(dirname "$0")/lib.sh"

if ! command -v cc >/dev/null; then echo "no C compiler to make test ELF files" >&2; exit 77; fi
repo="$TMPD/openmv"
sdk="$TMPD/sdk"
stand="$TEST_DATA/stand-in-tools"
log="$TMPD/tools.log"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$repo/build/OPENMV4/bin" "$sdk/gcc/bin" "$TMPD/path"
: >"$repo/Makefile"
ln -s "$stand/standin" "$sdk/gcc/bin/arm-none-eabi-gdb"
ln -s "$stand/standin" "$TMPD/path/JLinkGDBServer"
export SDK_DIR="$sdk" STANDIN_LOG="$log" PATH="$TMPD/path:$PATH"
elf="$repo/build/OPENMV4/bin/firmware.elf"
echo 'int answer(void) { return 42; }' >"$TMPD/a.c"
cc -g -c -o "$elf" "$TMPD/a.c"
cc -g0 -c -o "$TMPD/nodebug.elf" "$TMPD/a.c"
port=$((20000 + $$ % 20000))
listening() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }

t "server, wait for its port, gdb with target remote and the ELF, then the server is stopped"
: >"$log"
expect 0 -C "$repo" debug -t OPENMV4 --port "$port"
cat >"$TMPD/want" <<W
JLinkGDBServer -nogui 1 -device STM32H743VI -if swd -speed 100000 -port $port -halt
arm-none-eabi-gdb -iex [set confirm off] -ex [target remote localhost:$port] $elf
gdb (stand-in): connected to localhost:$port
W
same_file "$log" "$TMPD/want"
err_has "omvdev: stopped the GDB server"
err_lacks "warning"
listening "$port" && fail "the server still listens" || pass

t "an ELF without debug information is warned about (not a DEBUG=1 build)"
expect 0 -C "$repo" debug -t OPENMV4 --port "$port" --elf "$TMPD/nodebug.elf" --speed 4000
err_has "omvdev: warning: '$TMPD/nodebug.elf' has no debug information (no .debug_info): not a DEBUG=1 build"
err_has "hint: make TARGET=OPENMV4 DEBUG=1"
grep -q -- "-speed 4000 -port" "$log" && pass || fail "--speed not passed"
echo "not an elf" >"$TMPD/junk.elf"
expect 0 -C "$repo" debug -t OPENMV4 --port "$port" --elf "$TMPD/junk.elf"
err_has "omvdev: warning: '$TMPD/junk.elf': not an ELF file"

t "gdb fails: exit 1, and the server is still stopped"
STANDIN_GDB_EXIT=3 expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: '$sdk/gcc/bin/arm-none-eabi-gdb' exited with exit status 3"
err_has "omvdev: stopped the GDB server"
listening "$port" && fail "the server still listens" || pass

t "--server-only: the server runs until Ctrl-C (SIGINT), then is stopped"
: >"$log"
"$OMVDEV" -C "$repo" debug -t OPENMV4 --port "$port" --server-only >"$out" 2>"$err" &
pid=$!
for _ in $(seq 100); do listening "$port" && break; sleep 0.1; done
listening "$port" && pass || fail "not listening"
grep -q "arm-none-eabi-gdb" "$log" && fail "gdb ran" || pass
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
err_has "omvdev: the GDB server listens on localhost:$port"
err_has "omvdev: stopped the GDB server"
listening "$port" && fail "the server still listens" || pass

t "the server dies at once: exit 3 with the reason; it never listens: exit 3 after --wait"
STANDIN_FAIL=JLinkGDBServer expect 3 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: '$TMPD/path/JLinkGDBServer' stopped (exit status 1) before listening on port $port"
err_has "hint: is the J-Link connected and the camera powered?"
STANDIN_HANG=JLinkGDBServer expect 3 -C "$repo" debug -t OPENMV4 --port "$port" --wait 1
err_has "did not listen on port $port within 1 s"
err_has "omvdev: stopped the GDB server"

t "Ctrl-C while waiting for the server's port: the server (in its own session) is stopped"
STANDIN_HANG=JLinkGDBServer "$OMVDEV" -C "$repo" debug -t OPENMV4 --port "$port" --wait 60 >"$out" 2>"$err" &
pid=$!
for _ in $(seq 50); do grep -q "JLinkGDBServer" "$err" && break; sleep 0.1; done
sleep 0.3
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "omvdev: error: interrupted while waiting for the GDB server"
err_has "omvdev: stopped the GDB server"

t "the port is taken: refused before the server starts"
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True: s.accept()[0].close()' "$port" &
busy=$!
for _ in $(seq 50); do listening "$port" && break; sleep 0.1; done
listening "$port" && pass || fail "the test's own listener did not start"
: >"$log"
expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: localhost:$port is already in use (another GDB server?)"
err_has "hint: stop it, or use another port: omvdev debug -t OPENMV4 --port $((port + 1))"
[ -s "$log" ] && fail "a tool ran" || pass
kill "$busy"; wait "$busy" 2>/dev/null

t "boards without a J-Link device, missing ELF and missing tools"
expect 2 debug -t OPENMV2
err_has "omvdev: error: OPENMV2 cannot be debugged with a J-Link: the board database names no J-Link device for it"
expect 1 -C "$repo" debug -t OPENMV_N6
err_has "cannot open '$repo/build/OPENMV_N6/bin/firmware.elf': No such file or directory"
err_has "hint: build it first: make TARGET=OPENMV_N6 DEBUG=1"
PATH=/usr/bin:/bin expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: 'JLinkGDBServer' is not on PATH"
err_has "hint: install SEGGER's J-Link Software Pack"
SDK_DIR="$TMPD/nosdk" expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: 'arm-none-eabi-gdb' is not on PATH (and no SDK was found)"
expect 2 debug -t OPENMV4 --port 70000
err_has "--port takes a TCP port from 1 to 65535"

t "--dry-run prints both commands"
expect 0 -C "$repo" debug -t OPENMV_AE3 --dry-run --elf "$elf"
out_has "debug OPENMV_AE3 (OpenMV AE3) with a J-Link:"
out_has "  \$ $TMPD/path/JLinkGDBServer -nogui 1 -device AE302F80F55D5_HP -if swd -speed 100000 -port 2331 -halt"
out_has "  \$ $sdk/gcc/bin/arm-none-eabi-gdb -iex 'set confirm off' -ex 'target remote localhost:2331' $elf"

finish
