#!/usr/bin/env bash
# Config files that omvdev itself could break: continuation lines, lines too long
# for the reader, and numbers checked when the file is read, with FILE:LINE.
. "$(dirname "$0")/lib.sh"

user="$XDG_CONFIG_HOME/omvdev/config.ini"
mkdir -p "$(dirname "$user")"

t "config set of a value with an indented continuation line: the new value wins"
printf '[sdk]\nmirror = http://a.invalid\n  http://b.invalid\nretries = 3\n' >"$user"
expect 0 config get sdk.mirror
[ "$(cat "$out")" = "http://b.invalid" ] && pass || fail "inih continuation not seen"
expect 0 config set sdk.mirror http://c.invalid
expect 0 config get sdk.mirror
[ "$(cat "$out")" = "http://c.invalid" ] && pass || fail "continuation still wins"
expect 0 config get sdk.retries
[ "$(cat "$out")" = 3 ] && pass || fail "other key lost"

t "config unset of such a key leaves a file every command still reads"
printf '[sdk]\nmirror = http://a.invalid\n  http://b.invalid\n' >"$user"
expect 0 config unset sdk.mirror
printf '[sdk]\n' >"$TMPD/want"
same_file "$user" "$TMPD/want"
expect 0 targets

t "a value too long for the reader is refused and nothing is written"
printf '# keep me\n[sdk]\nretries = 3\n' >"$user"
cp "$user" "$TMPD/before"
long=$(printf 'http://%0300d' 0)
expect 2 config set sdk.mirror "$long"
err_has "cannot set 'sdk.mirror' to that value: the line would be 316 characters long, and configuration lines can have at most 198; nothing was changed"
same_file "$user" "$TMPD/before"
expect 0 config unset sdk.retries

t "a number key is checked when the file is read, naming FILE:LINE and the key"
printf '[sdk]\nretries = abc\n' >"$user"
expect 2 targets
err_has "omvdev: error: $user:2: invalid value 'abc' for 'sdk.retries': expected a number from 0 to 20"
err_has "hint: set it with 'omvdev config set sdk.retries VALUE', or remove it with 'omvdev config unset sdk.retries'"
err_lacks "--retries"
expect 2 sdk install --dir "$TMPD/sdk"
err_has "$user:2: invalid value 'abc' for 'sdk.retries'"
[ ! -e "$TMPD/sdk" ] && pass || fail "install went ahead"

t "config itself runs with the bad value (warning) so it can repair it"
expect 0 config get sdk.retries
err_has "omvdev: warning: $user:2: invalid value 'abc' for 'sdk.retries'"
expect 0 help sdk
err_has "omvdev: warning: $user:2: invalid value 'abc' for 'sdk.retries'"
expect 0 config unset sdk.retries
expect 0 targets
err_empty

t "every number key omvdev checks is a key a command reads (the table in cmd/cmd.c)"
for k in sdk.retries sdk.stall-timeout flash.wait recover.wait recover.timeout debug.port \
    debug.speed debug.wait; do
    run config get "$k"
    [ "$code" -ne 2 ] && pass || fail "'$k' is not a config key"
    run config set "$k" x
    grep -qF "invalid value 'x' for '$k': expected a number" "$err" && pass || fail "'$k' not checked"
done

t "config set refuses a number out of range or not a number, file unchanged"
printf '[sdk]\nretries = 2\n' >"$user"
cp "$user" "$TMPD/before"
expect 2 config set sdk.retries abc
err_has "invalid value 'abc' for 'sdk.retries': expected a number from 0 to 20"
expect 2 config set debug.port 70000
err_has "invalid value '70000' for 'debug.port': expected a number from 1 to 65535"
same_file "$user" "$TMPD/before"
expect 0 config set flash.wait 0x10
expect 0 config get flash.wait
[ "$(cat "$out")" = 0x10 ] && pass || fail "hex not kept"

t "a project file and the environment are checked the same way"
repo="$TMPD/openmv"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4"
echo "all:" >"$repo/Makefile"
rm -f "$user"
printf '[recover]\n\nwait = -1\n' >"$repo/.omvdev.ini"
expect 2 -C "$repo" targets
err_has "$repo/.omvdev.ini:3: invalid value '-1' for 'recover.wait': expected a number from 0 to 3600"
err_has "omvdev config unset --project recover.wait"
rm "$repo/.omvdev.ini"
OMVDEV_DEBUG_SPEED=fast "$OMVDEV" targets >"$out" 2>"$err"; code=$?
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "OMVDEV_DEBUG_SPEED in the environment: invalid value 'fast' for 'debug.speed'"
err_has "hint: unset OMVDEV_DEBUG_SPEED"
expect 2 -c sdk.stall-timeout=0 targets
err_has "-c on the command line: invalid value '0' for 'sdk.stall-timeout': expected a number from 1 to 3600"

t "the command line and the config file hold a number to the same range (one table)"
for kv in flash.wait=3601 recover.wait=3601 debug.wait=3601 debug.port=0 sdk.retries=21; do
    k=${kv%%=*} v=${kv#*=}
    run -c "$kv" targets
    grep -qF "invalid value '$v' for '$k'" "$err" && pass || fail "config $kv not refused"
done
run flash --wait 3601 --dry-run
grep -qF "invalid value '3601' for --wait: expected a number from 0 to 3600" "$err" && pass ||
    fail "flash --wait 3601: $(cat "$err")"
run recover -t OPENMV4 --wait 3601
grep -qF "invalid value '3601' for --wait: expected a number from 0 to 3600" "$err" && pass ||
    fail "recover --wait 3601: $(cat "$err")"
run debug -t OPENMV4 --wait 0x10 --dry-run
! grep -qF "for --wait" "$err" && pass || fail "debug --wait 0x10 refused: $(cat "$err")"

t "a clone's .omvdev.ini cannot choose what omvdev downloads or runs"
for kv in sdk.mirror=http://127.0.0.1:9/evil sdk.sha256=00 sdk.cacert=/tmp/ca.pem sdk.root=/tmp \
    debug.gdb=/tmp/evil-gdb recover.se-tools=/tmp/se vscode.template-dir=/tmp/t; do
    k=${kv%%=*} v=${kv#*=}
    printf '[%s]\n%s = %s\n' "${k%%.*}" "${k#*.}" "$v" >"$repo/.omvdev.ini"
    run -C "$repo" config get "$k"
    ! grep -qxF "$v" "$out" && pass || fail "$k from the project file was used"
    grep -qF "$repo/.omvdev.ini:2: '$k' is ignored in a repository's .omvdev.ini" "$err" && pass ||
        fail "$k: no warning: $(cat "$err")"
    rm "$repo/.omvdev.ini"
    run -C "$repo" config set --project "$k" "$v"
    [ "$code" -eq 2 ] && [ ! -e "$repo/.omvdev.ini" ] && pass || fail "config set --project $k: exit $code"
done
printf '[sdk]\nretries = 2\n' >"$repo/.omvdev.ini"
run -C "$repo" config get sdk.retries
[ "$(cat "$out")" = 2 ] && pass || fail "an ordinary project key was dropped"
rm "$repo/.omvdev.ini"

finish
