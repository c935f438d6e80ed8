#!/usr/bin/env bash
# Colour rules, quiet mode and the README's exit-code table.
. "$(dirname "$0")/lib.sh"
esc=$(printf '\033')

t "no colour when stderr is not a terminal"
expect 2 tagrets
grep -q "$esc" "$err" && fail "escape codes in a pipe" || pass

t "--color=always colours; NO_COLOR does not override an explicit always"
expect 2 --color always tagrets
grep -q "${esc}\[1;31momvdev: error: " "$err" && pass || fail "no red error prefix"
NO_COLOR=1 "$OMVDEV" --color always tagrets 2>"$err"
grep -q "$esc" "$err" && pass || fail "always must win over NO_COLOR"

t "on a terminal: colour unless NO_COLOR or TERM=dumb"
if command -v script >/dev/null; then
    TERM=xterm script -qec "$OMVDEV tagrets" /dev/null >"$out" 2>&1
    grep -q "$esc" "$out" && pass || fail "no colour on a tty"
    TERM=xterm NO_COLOR=1 script -qec "$OMVDEV tagrets" /dev/null >"$out" 2>&1
    grep -q "$esc" "$out" && fail "NO_COLOR ignored" || pass
    TERM=dumb script -qec "$OMVDEV tagrets" /dev/null >"$out" 2>&1
    grep -q "$esc" "$out" && fail "TERM=dumb ignored" || pass
    mkdir -p "$XDG_CONFIG_HOME/omvdev"
    printf '[core]\ncolor = never\n' >"$XDG_CONFIG_HOME/omvdev/config.ini"
    TERM=xterm script -qec "$OMVDEV tagrets" /dev/null >"$out" 2>&1
    grep -q "$esc" "$out" && fail "core.color=never ignored" || pass
    rm "$XDG_CONFIG_HOME/omvdev/config.ini"
fi

t "-q keeps errors and drops hints and warnings"
expect 2 -q tagrets
err_is "omvdev: error: 'tagrets' is not an omvdev command"

t "every exit code in README's table is one omvdev documents and produces"
readme="${SOURCE_DIR:?}/README.md"
codes=$(sed -n '/^## Exit status/,/^## /p' "$readme" | sed -n 's/^| `\([0-9]\)` |.*/\1/p' | tr '\n' ' ')
[ "$codes" = "0 1 2 3 " ] && pass || fail "README documents exit codes '$codes'"
expect 0 --help
for c in 0 1 2 3; do grep -q "^  $c  " "$out" && pass || fail "--help lacks exit code $c"; done
expect 0 targets
expect 1 config unset core.color
expect 2 targets show NOPE
head -c 1000 /dev/zero >"$TMPD/fw.bin"
expect 3 flash -t OPENMV4 --file "$TMPD/fw.bin" --alt 2 --wait 0
err_has "no OPENMV4 bootloader (37C5:9204) appeared within 0 s"

finish
