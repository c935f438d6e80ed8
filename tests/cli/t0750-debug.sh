#!/usr/bin/env bash
# omvdev debug: the stand-in JLinkGDBServer really listens on its port (so the wait is
# real), the stand-in gdb connects to it; argument lists compared with upstream's make
# debug (gdbrunner's J-Link backend); the server must be gone afterwards. The other probes'
# command lines (OpenOCD, ST-LINK_gdbserver, QEMU), the probe choice and its refusals; the
# real OpenOCD and the real QEMU + gdb sessions are t0751-openocd and qemu-fw/t0200-debug.
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
err_has "hint: is a J-Link connected and the camera powered?"
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

t "probes a board cannot use are refused with the reason, before anything runs"
: >"$log"
expect 2 debug -t OPENMV2 --probe jlink
err_has "omvdev: error: OPENMV2 cannot be debugged with a J-Link: the board database names no J-Link device for it"
err_has "hint: its probes: stlink cmsis-dap (--probe NAME)"
expect 2 debug -t OPENMV_RT1060 --probe stlink
err_has "omvdev: error: OPENMV_RT1060 cannot be debugged with an ST-Link: an ST-Link serves STM32 parts only"
expect 2 debug -t OPENMV_RT1060 --probe cmsis-dap
err_has "OpenOCD (Debian's 0.12) has no target configuration for its MIMXRT1062"
expect 2 debug -t OPENMV_N6 --probe stlink
err_has "omvdev: error: OPENMV_N6 cannot be debugged with an ST-Link: OpenOCD (Debian's 0.12) has no target configuration for its STM32N657"
err_has "hint: ST's own tools can: --probe stlink --server st (its probes: jlink stlink)"
expect 2 debug -t OPENMV_AE3 --probe cmsis-dap
expect 2 debug -t OPENMV4 --probe qemu
err_has "only the emulated boards (MPS2_AN500, MPS3_AN547) run in QEMU"
expect 2 debug -t OPENMV4 --probe jlink --server st
err_has "omvdev: error: --server st is for --probe stlink, not jlink"
expect 2 debug -t OPENMV4 --probe pemicro
err_has "invalid value 'pemicro' for '--probe' (expected jlink, stlink, cmsis-dap or qemu)"
expect 2 -c debug.probe=stlink debug -t OPENMV_AE3
err_has "OPENMV_AE3 cannot be debugged with an ST-Link: an ST-Link serves STM32 parts only"
[ -s "$log" ] && fail "a tool ran" || pass

t "missing ELF and missing tools"
expect 1 -C "$repo" debug -t OPENMV_N6
err_has "cannot open '$repo/build/OPENMV_N6/bin/firmware.elf': No such file or directory"
err_has "hint: build it first: omvdev build -t OPENMV_N6 --debug (make TARGET=OPENMV_N6 DEBUG=1)"
PATH=/usr/bin:/bin expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: 'JLinkGDBServer' is not on PATH"
err_has "hint: install SEGGER's J-Link Software Pack"
PATH="$TMPD/path" SDK_DIR="$TMPD/nosdk" expect 1 -C "$repo" debug -t OPENMV4 --port "$port"
err_has "omvdev: error: no gdb for Arm: arm-none-eabi-gdb is not in the SDK and gdb-multiarch is not on PATH"
err_has "hint: omvdev sdk install (the SDK's gcc has arm-none-eabi-gdb), or sudo apt-get install gdb-multiarch"
PATH="$TMPD/path" expect 1 -C "$repo" debug -t OPENMV4 --probe cmsis-dap --port "$port"
err_has "omvdev: error: 'openocd' is not in the SDK ($sdk/openocd/bin) nor on PATH"
err_has "hint: sudo apt-get install openocd"
PATH="$TMPD/path" expect 1 -C "$repo" debug -t OPENMV4 --probe stlink --server st
err_has "omvdev: error: 'ST-LINK_gdbserver' is not on PATH"
PATH="$TMPD/path" expect 1 -C "$repo" debug -t MPS2_AN500 --elf "$elf"
err_has "omvdev: error: 'qemu-system-arm' is not on PATH"
err_has "hint: sudo apt-get install qemu-system-arm"

t "numbers: one parser, the same --wait as flash (decimal or 0x, 0 to 3600)"
expect 2 debug -t OPENMV4 --port 70000
err_has "invalid value '70000' for --port: expected a number from 1 to 65535"
expect 0 -C "$repo" debug -t OPENMV4 --wait 0x10 --port 0x1000 --dry-run
out_has "wait for localhost:4096"
expect 2 debug -t OPENMV4 --wait 3601
err_has "invalid value '3601' for --wait: expected a number from 0 to 3600"
expect 2 debug -t OPENMV4 --speed 0
err_has "invalid value '0' for --speed: expected a number from 1 to 100000"
expect 2 -c debug.wait=-1 debug -t OPENMV4
err_has "invalid value '-1' for 'debug.wait': expected a number from 0 to 3600"
expect 0 -C "$repo" -c debug.wait=0x10 debug -t OPENMV4 --dry-run

t "without an SDK gdb, Debian's gdb-multiarch"
mkdir -p "$TMPD/debian"
ln -sf "$stand/standin" "$TMPD/debian/gdb-multiarch"
PATH="$TMPD/debian:$PATH" SDK_DIR="$TMPD/nosdk" expect 0 -C "$repo" debug -t OPENMV4 --dry-run
out_has "  \$ $TMPD/debian/gdb-multiarch -iex 'set confirm off'"

t "--dry-run prints both commands"
expect 0 -C "$repo" debug -t OPENMV_AE3 --dry-run --elf "$elf"
out_has "debug OPENMV_AE3 (OpenMV AE3) with a J-Link:"
out_has "  \$ $TMPD/path/JLinkGDBServer -nogui 1 -device AE302F80F55D5_HP -if swd -speed 100000 -port 2331 -halt"
out_has "  \$ $sdk/gcc/bin/arm-none-eabi-gdb -iex 'set confirm off' -ex 'target remote localhost:2331' $elf"

t "--dry-run with OpenOCD (ST-Link, CMSIS-DAP), ST-LINK_gdbserver and QEMU; batch gdb"
mkdir -p "$TMPD/servers" "$sdk/stcubeprog/bin"
for s in openocd ST-LINK_gdbserver qemu-system-arm; do ln -sf "$stand/standin" "$TMPD/servers/$s"; done
export PATH="$TMPD/servers:$PATH"
: >"$TMPD/cmds.gdb"
expect 0 -C "$repo" debug -t OPENMV4 --probe stlink --dry-run --batch --gdb-commands "$TMPD/cmds.gdb"
out_has "debug OPENMV4 (OpenMV Cam H7) with an ST-Link:"
out_has "  \$ $TMPD/servers/openocd -f interface/stlink.cfg -f target/stm32h7x_dual_bank.cfg -c 'gdb_port 3333' -c 'tcl_port disabled' -c 'telnet_port disabled'"
out_has "  \$ $sdk/gcc/bin/arm-none-eabi-gdb -batch -iex 'set confirm off' -ex 'target remote localhost:3333' -x $TMPD/cmds.gdb $repo/build/OPENMV4/bin/firmware.elf"
expect 0 -C "$repo" -c debug.probe=cmsis-dap debug -t ARDUINO_GIGA --dry-run --speed 4000 --elf "$elf"
out_has "openocd -f interface/cmsis-dap.cfg -f target/stm32h7x_dual_bank.cfg -c 'adapter speed 4000' -c 'gdb_port 3333'"
expect 0 -C "$repo" debug -t OPENMV_N6 --probe stlink --server st --dry-run --elf "$elf"
out_has "  \$ $TMPD/servers/ST-LINK_gdbserver --persistent --port-number 2331 --stm32cubeprogrammer-path $sdk/stcubeprog/bin --extload MX25UM51245G_STM32N6570-NUCLEO.stldr --apid 1 --halt --verify --attach"
expect 0 -C "$repo" debug -t OPENMV4 --probe stlink --server st --dry-run --elf "$elf"
out_has "ST-LINK_gdbserver --persistent --port-number 2331 --stm32cubeprogrammer-path $sdk/stcubeprog/bin --apid 1 --halt"
expect 0 -C "$repo" debug -t MPS3_AN547 --dry-run --elf "$elf"
out_has "debug MPS3_AN547 (MPS3 AN547 (QEMU/FVP)) with QEMU:"
out_has "  \$ $TMPD/servers/qemu-system-arm -machine mps3-an547 -nographic -monitor null -semihosting -S -gdb tcp:127.0.0.1:1234 -serial pty -kernel $elf"

finish
