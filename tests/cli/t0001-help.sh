#!/usr/bin/env bash
# Help, version, unknown commands and global options.
. "$(dirname "$0")/lib.sh"

t "--help lists every command and the exit codes"
expect 0 --help
for c in targets config sdk vscode devices flash completion help; do out_has "  $c "; done
out_has "exit status:"
err_empty

t "no command is a usage error on stderr"
expect 2
out_empty
err_has "usage: omvdev"

t "help COMMAND is COMMAND --help"
for c in targets config sdk vscode devices flash completion help "targets list" "targets show" "config set" "sdk install"; do
    run help $c; cp "$out" "$TMPD/a"
    run $c --help; cp "$out" "$TMPD/b"
    same_file "$TMPD/a" "$TMPD/b"
done
expect 0 help targets show
out_has "usage: omvdev targets show TARGET"

t "unknown command suggests the closest"
expect 2 tagrets
err_is "omvdev: error: 'tagrets' is not an omvdev command
hint: did you mean 'omvdev targets'?"
expect 2 frobnicate
err_has "hint: 'omvdev --help' lists the commands"
expect 2 targets lst
err_has "hint: did you mean 'omvdev targets list'?"
expect 2 help nosuch
err_has "no help for 'nosuch'"

t "unknown and malformed options are usage errors"
expect 2 --bogus
err_has "unknown option '--bogus'"
expect 2 targets list --fromat rst
err_has "unknown option '--fromat'; did you mean '--format'?"
err_has "hint: see 'omvdev targets list --help'"
expect 2 targets list --format pdf
err_has "invalid value 'pdf' for '--format' (expected text, markdown or rst)"
expect 2 --color sometimes targets
expect 2 -C

t "--version, also as JSON"
expect 0 --version
grep -Eq '^omvdev [0-9]+\.[0-9]+\.[0-9]+( \(git [0-9a-f]+(-dirty)?\))?$' "$out" && pass || fail "version line"
expect 0 --json --version
out_has '"schema": 1'

t "-C changes directory first, and a bad one is an error"
mkdir -p "$TMPD/elsewhere"
expect 2 -C "$TMPD/nope" targets
err_has "cannot change to directory '$TMPD/nope': No such file or directory"

t "--json on a command without JSON output is refused"
expect 2 --json completion bash
err_has "'omvdev completion' has no JSON output"

t "global flags work after the command too, as people type them"
expect 0 targets --json
out_has '"schema": 1'
expect 0 targets show OPENMV4 --json
out_has '"name": "OPENMV4"'
expect 2 targets show NOPE -q
err_is "omvdev: error: unknown board 'NOPE'"
expect 2 targets -- --json
err_has "unexpected argument '--json'"   # after --, an argument like any other

t "the man page covers every command"
expect 0 help --man
for c in "targets list" "targets show" "config list" "config get" "config set" "devices" "flash" "vscode" \
    "config unset" "completion" "help"; do
    out_has ".SS \"omvdev $c"
done
out_has ".SH EXIT STATUS"

t "writing to a full disk fails loudly"
if [ -w /dev/full ]; then
    "$OMVDEV" targets >/dev/full 2>"$err"
    code=$?
    [ "$code" -eq 1 ] && pass || fail "exit $code on /dev/full"
    err_has "cannot write to standard output"
fi

finish
