# Helpers for CLI tests: run the real omvdev binary in a scratch HOME and check
# its exit code, stdout and stderr. Sourced by each tNNNN-*.sh.
#
#   run ARGS...            run omvdev; sets $code, $out (file), $err (file)
#   expect CODE ARGS...    run, then fail unless the exit code is CODE
#   out_has TEXT / err_has TEXT / out_lacks TEXT / err_lacks TEXT / err_is TEXT
#   same_file A B          byte-for-byte
#   finish                 prints "N passed, N failed" and exits
set -u

: "${OMVDEV:?OMVDEV must name the omvdev binary}"
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
export HOME="$TMPD/home" XDG_CONFIG_HOME="$TMPD/xdg"
mkdir -p "$HOME" "$XDG_CONFIG_HOME"
unset NO_COLOR TERM
# make check runs under make: its variables would leak into the makes tests run.
unset MAKEFLAGS MAKELEVEL MFLAGS
# Config from the environment would leak into the tests; the harness's own variables stay.
for v in $(env | sed -n 's/^\(OMVDEV_[A-Za-z0-9_]*\)=.*/\1/p'); do
    [ "$v" = OMVDEV_SIM ] || unset "$v"
done
cd "$TMPD"

out="$TMPD/stdout"
err="$TMPD/stderr"
code=0
passed=0
failed=0
current=""

t() { current="$*"; }

fail() {
    failed=$((failed + 1))
    echo "FAIL: ${current:-?}: $*" >&2
    echo "--- stdout" >&2; head -c 3000 "$out" >&2
    echo "--- stderr" >&2; head -c 3000 "$err" >&2
}

pass() { passed=$((passed + 1)); }

run() {
    "$OMVDEV" "$@" >"$out" 2>"$err"
    code=$?
}

expect() {
    local want=$1
    shift
    run "$@"
    if [ "$code" -eq "$want" ]; then pass; else fail "exit $code, wanted $want (omvdev $*)"; fi
}

out_has() { if grep -qF -- "$1" "$out"; then pass; else fail "stdout lacks '$1'"; fi; }
err_has() { if grep -qF -- "$1" "$err"; then pass; else fail "stderr lacks '$1'"; fi; }
out_lacks() { if grep -qF -- "$1" "$out"; then fail "stdout has '$1'"; else pass; fi; }
err_lacks() { if grep -qF -- "$1" "$err"; then fail "stderr has '$1'"; else pass; fi; }
out_empty() { if [ -s "$out" ]; then fail "stdout is not empty"; else pass; fi; }
err_empty() { if [ -s "$err" ]; then fail "stderr is not empty"; else pass; fi; }
err_is() {
    if [ "$(cat "$err")" = "$1" ]; then pass; else fail "stderr is not exactly: $1"; fi
}
same_file() { if cmp -s "$1" "$2"; then pass; else fail "$1 and $2 differ"; diff "$1" "$2" >&2 | head -20; fi; }

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
