#!/usr/bin/env bash
# The test firmware itself on the real qemu-system-arm, both machines: banner, echo,
# the counter that tick() increments, and the semihosting exit on Ctrl-D.
. "$(dirname "$0")/../cli/lib.sh"

command -v qemu-system-arm >/dev/null || { echo "qemu-system-arm not installed" >&2; exit 77; }
for m in mps2-an500 mps3-an547; do
    [ -f "$QEMU_FW_DIR/$m.elf" ] || { echo "no $QEMU_FW_DIR/$m.elf (fixture skipped)" >&2; exit 77; }
done

for m in mps2-an500 mps3-an547; do
    t "$m: banner, echo, counter, exit through semihosting"
    (printf 'hello\r'; sleep 0.5; printf '\024'; sleep 0.3; printf '\004') |
        timeout 30 qemu-system-arm -machine "$m" -nographic -monitor null -semihosting \
            -serial stdio -kernel "$QEMU_FW_DIR/$m.elf" >"$out" 2>"$err"
    code=$?
    [ "$code" -eq 0 ] && pass || fail "exit $code"
    out_has "omvdev test firmware on $m"
    out_has "> hello"
    grep -q 'tick_count=[1-9][0-9]*' "$out" && pass || fail "the counter did not move"
    out_has "bye"
done

finish
