#!/usr/bin/env bash
# Terminal escape sequences from a clone's .omvdev.ini, file names and archive paths never
# reach the terminal raw: messages and results show them as \xNN.
. "$(dirname "$0")/lib.sh"

esc=$(printf '\033')
repo="$TMPD/openmv"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4"
echo "all:" >"$repo/Makefile"
# A title change (OSC), a screen clear and a colour: in a key, a bad value and a free value.
printf '[targets]\nk\033]0;pwned\007ey = 1\n[core]\ncolor = \033[2J\n[vscode]\njlink-host = http://\033[31mred\n' \
    >"$repo/.omvdev.ini"
no_raw_esc() { # FILE
    if grep -q "$esc" "$1"; then fail "a raw ESC reached $(basename "$1")"; od -c "$1" | head >&2; else pass; fi
}

t "an unknown key with escapes: the warning shows them, escaped"
expect 0 -C "$repo" config list
err_has "unknown key 'targets.k\\x1b]0;pwned\\x07ey'"
no_raw_esc "$err"
out_has 'vscode.jlink-host=http://\x1b[31mred'
out_has 'core.color=\x1b[2J'
no_raw_esc "$out"

t "a bad value with escapes: the error shows it, escaped"
expect 2 -C "$repo" targets
err_has "invalid value '\\x1b[2J' for 'core.color'"
no_raw_esc "$err"

t "--json keeps the value exact (JSON escapes it)"
expect 0 -C "$repo" --json config get vscode.jlink-host
out_has '"value": "http://\u001b[31mred"'
no_raw_esc "$out"

t "omvdev's own colours still pass on stdout and stderr"
expect 0 -C "$repo" --color always config --help
grep -q "${esc}\[1mcommands:${esc}\[0m" "$out" && pass || fail "bold heading lost"
expect 2 --color always targets show "NO${esc}[2JPE"
grep -q "${esc}\[1;31momvdev: error: ${esc}\[0m" "$err" && pass || fail "red error prefix lost"
err_has "unknown board 'NO\\x1b[2JPE'"

t "a file name with escapes in an error"
rm "$repo/.omvdev.ini"
expect 1 -C "$repo" flash -t OPENMV4 --file "$TMPD/fw${esc}]0;x$(printf '\007').bin" --alt 2 --dry-run
err_has "fw\\x1b]0;x\\x07.bin"
no_raw_esc "$err"

finish
