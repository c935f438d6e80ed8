#!/usr/bin/env bash
# Shell completion scripts, generated from the command table, run in real shells.
. "$(dirname "$0")/lib.sh"

t "bash: commands, subcommands, options, choices, boards and keys complete"
expect 0 completion bash
cp "$out" "$TMPD/omvdev.bash"
complete_bash() {
    # Usage: complete_bash WORD... ; the last word is the one being completed.
    bash -c '
        source "$1"; shift
        COMP_WORDS=(omvdev "$@"); COMP_CWORD=$#
        _omvdev
        printf "%s\n" "${COMPREPLY[@]}"
    ' bash "$TMPD/omvdev.bash" "$@" >"$out" 2>"$err"
}
complete_bash ""
for c in targets config sdk devices flash completion help; do grep -qx "$c" "$out" && pass || fail "no $c"; done
complete_bash tar
[ "$(cat "$out")" = targets ] && pass || fail "tar -> targets"
complete_bash targets ""
[ "$(sort "$out" | tr '\n' ' ')" = "list show " ] && pass || fail "targets subcommands"
complete_bash targets show OPENMV_
grep -qx OPENMV_AE3 "$out" && grep -qx OPENMV_N6 "$out" && pass || fail "board names"
grep -qx OPENMV1 "$out" && fail "unsupported board offered" || pass
complete_bash -v --color always targets list --format ""
[ "$(sort "$out" | tr '\n' ' ')" = "markdown rst text " ] && pass || fail "format choices"
complete_bash targets list --f
grep -qx -- --format "$out" && pass || fail "--format"
complete_bash config set targets.
grep -qx targets.format "$out" && pass || fail "config keys"
complete_bash -C /tmp config ""
grep -qx list "$out" && grep -qx unset "$out" && pass || fail "-C value skipped"
complete_bash --c
grep -qx -- --color "$out" && grep -qx -- --config "$out" && pass || fail "global options"
complete_bash completion ""
[ "$(sort "$out" | tr '\n' ' ')" = "bash fish zsh " ] && pass || fail "shells"

t "zsh: the script parses and completes through _omvdev"
if command -v zsh >/dev/null; then
    expect 0 completion zsh
    cp "$out" "$TMPD/_omvdev"
    zsh -n "$TMPD/_omvdev" 2>"$err" && pass || fail "zsh -n"
    # Call the function with the completion builtins replaced by recorders.
    zsh -f -c '
        compdef() { :; }
        compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
        _describe() { print -l -- ${(P)4%%:*}; }  # -t TAG DESCR ARRAY
        _directories() { :; }; _files() { :; }
        source "$1"
        words=(omvdev targets show OPENMV_A); CURRENT=4; PREFIX=OPENMV_A
        _omvdev
        words=(omvdev targets list --format ""); CURRENT=5; PREFIX=""
        _omvdev
    ' zsh "$TMPD/_omvdev" >"$out" 2>"$err"
    grep -qx OPENMV_AE3 "$out" && pass || fail "zsh offers boards"
    grep -qx markdown "$out" && pass || fail "zsh offers format choices"
else
    echo "zsh is not installed: zsh checks skipped" >&2
fi

t "fish: real completions from fish itself"
if command -v fish >/dev/null; then
    expect 0 completion fish
    cp "$out" "$TMPD/omvdev.fish"
    fish_complete() { fish --no-config -c "source '$TMPD/omvdev.fish'; complete -C '$1'" >"$out" 2>"$err"; }
    fish_complete "omvdev targets show OPENMV_A"
    grep -q "^OPENMV_AE3" "$out" && pass || fail "fish boards"
    fish_complete "omvdev conf"
    grep -q "^config	read and change omvdev's layered configuration" "$out" && pass ||
        fail "fish command with its summary (and its apostrophe)"
    fish_complete "omvdev targets list --format "
    grep -q "^markdown" "$out" && pass || fail "fish format choices"
    fish_complete "omvdev -C /tmp config "
    grep -q "^unset" "$out" && pass || fail "fish skips -C's value"
else
    echo "fish is not installed: fish checks skipped" >&2
fi

t "an unknown shell is a usage error"
expect 2 completion tcsh
err_has "unknown shell 'tcsh' (expected bash, zsh or fish)"
expect 2 completion

finish
