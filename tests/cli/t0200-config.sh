#!/usr/bin/env bash
# Layered configuration: origins of each layer, broken files, config set/unset.
. "$(dirname "$0")/lib.sh"

user="$XDG_CONFIG_HOME/omvdev/config.ini"
repo="$TMPD/openmv"
mkdir -p "$repo/boards/OPENMV4" "$repo/ports" "$repo/lib/micropython" "$repo/lib/sub" "$(dirname "$user")"
echo "all:" >"$repo/Makefile"

t "defaults are listed with their origin"
expect 0 config list --show-origin
out_has "default	core.color=auto"
out_has "default	targets.format=text"
err_empty

t "each of the five layers wins over the one below, and says so"
printf '# mine\n[core]\ncolor = never\n' >"$user"
expect 0 config list --show-origin
out_has "user:$user:3	core.color=never"
printf '[core]\n\ncolor = always\n' >"$repo/.omvdev.ini"
expect 0 -C "$repo/lib/sub" config list --show-origin
out_has "project:$repo/.omvdev.ini:3	core.color=always"
export OMVDEV_CORE_COLOR=never
expect 0 -C "$repo/lib/sub" config list --show-origin
out_has "environment:OMVDEV_CORE_COLOR	core.color=never"
expect 0 -C "$repo/lib/sub" -c core.color=always config list --show-origin
out_has "command line	core.color=always"
t "--all shows what each layer said, overridden ones marked"
expect 0 -C "$repo/lib/sub" -c core.color=always config list --all --show-origin
out_has "default	core.color=auto	(overridden)"
out_has "user:$user:3	core.color=never	(overridden)"
out_has "project:$repo/.omvdev.ini:3	core.color=always	(overridden)"
out_has "environment:OMVDEV_CORE_COLOR	core.color=never	(overridden)"
out_has "command line	core.color=always"
unset OMVDEV_CORE_COLOR

t "config get, with origin and as JSON"
expect 0 -C "$repo" config get core.color
[ "$(cat "$out")" = "always" ] && pass || fail "get value"
expect 0 -C "$repo" config get --show-origin core.color
out_has "project:$repo/.omvdev.ini:3	core.color=always"
expect 0 -C "$repo" --json config get core.color
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = d["config"][0]
assert d["schema"] == 1 and e["key"] == "core.color" and e["value"] == "always"
assert e["level"] == "project" and e["line"] == 3 and e["overridden"] is False
' "$out" && pass || fail "get JSON"
expect 2 config get core.colour
err_has "unknown key 'core.colour'"
expect 2 config get nodot
err_has "invalid key 'nodot'"

t "a broken line stops the command with file:line, exit 2"
printf '[core]\ncolor = never\n[targets\nformat = rst\n' >"$user"
cp "$user" "$TMPD/before"
expect 2 targets
err_is "omvdev: error: $user:3: section header is missing its closing ']'
hint: fix that line (every omvdev command reads this file), or run without it: omvdev --config /dev/null ..."
out_empty
expect 2 config set core.color auto
err_has "$user:3: section header is missing its closing ']'"
same_file "$user" "$TMPD/before"
printf '[core]\ncolor = sometimes\n' >"$user"
expect 2 targets
err_has "$user:2: invalid value 'sometimes' for 'core.color' (expected auto, always or never)"

t "an unknown key warns, with a suggestion, and the command runs"
printf '[targets]\nfromat = rst\n' >"$user"
expect 0 targets
err_has "omvdev: warning: $user:2: unknown key 'targets.fromat'"
err_has "hint: did you mean 'targets.format'?"
expect 0 -q targets
err_empty

t "config set keeps comments and other keys, atomically"
printf '# my settings\n[core]\ncolor = never ; no colour please\n\n[targets]\nformat = text\n' >"$user"
chmod 600 "$user"
expect 0 config set core.color always
err_has "set core.color = always in '$user'"
printf '# my settings\n[core]\ncolor = always ; no colour please\n\n[targets]\nformat = text\n' >"$TMPD/want"
same_file "$user" "$TMPD/want"
[ "$(stat -c %a "$user")" = 600 ] && pass || fail "mode not kept"
[ "$(ls -A "$(dirname "$user")" | wc -l)" -eq 1 ] && pass || fail "temporary file left behind"
expect 0 config unset targets.format
printf '# my settings\n[core]\ncolor = always ; no colour please\n\n[targets]\n' >"$TMPD/want"
same_file "$user" "$TMPD/want"
expect 1 config unset targets.format
err_has "'targets.format' is not set in '$user'"

t "config set --project writes the repository's .omvdev.ini"
rm -f "$repo/.omvdev.ini"
expect 0 -C "$repo/boards" config set --project targets.format rst
printf '[targets]\nformat = rst\n' >"$TMPD/want"
same_file "$repo/.omvdev.ini" "$TMPD/want"
expect 0 -C "$repo" config get --show-origin targets.format
out_has "project:$repo/.omvdev.ini:2	targets.format=rst"
expect 1 config set --project targets.format rst
err_has "not inside an openmv firmware repository"
expect 2 config set --user --project targets.format rst

t "config set refuses unknown keys and values a key cannot take"
cp "$user" "$TMPD/before"
expect 2 config set targets.fromat rst
err_has "unknown key 'targets.fromat'"
expect 2 config set targets.format pdf
err_has "invalid value 'pdf' for 'targets.format' (expected text, markdown or rst)"
expect 2 config set targets.format
same_file "$user" "$TMPD/before"

t "keys of commands that do not exist are unknown, not silently accepted"
expect 2 config get nosuchcommand.target
err_has "unknown key 'nosuchcommand.target'"
t "build.target is a key since omvdev build exists (not set here)"
expect 1 config get build.target
err_has "'build.target' is not set"

t "--config FILE replaces the user file; a missing one is an error"
printf '[targets]\nformat = markdown\n' >"$TMPD/alt.ini"
expect 0 --config "$TMPD/alt.ini" config get --show-origin targets.format
out_has "user:$TMPD/alt.ini:2	targets.format=markdown"
expect 2 --config "$TMPD/missing.ini" targets
err_has "cannot open '$TMPD/missing.ini': No such file or directory"

t "--config /dev/null runs without the user file; -v says what was read"
printf '[targets\n' >"$user"
expect 0 --config /dev/null -v -C "$repo" targets
err_has "omvdev: user config: /dev/null"
err_has "omvdev: firmware repository: $repo"
err_has "omvdev: project config: $repo/.omvdev.ini"
expect 0 -v --config /dev/null targets
err_has "omvdev: not inside a firmware repository: no project config"
rm "$user"
expect 0 -v targets
err_has "omvdev: user config: $user (not there)"

t "-c needs a known key and a '='"
expect 2 -c core.color targets
err_has "-c 'core.color' has no '='"
expect 2 -c core.colr=never targets
err_has "unknown config key 'core.colr' in -c"
expect 2 -c core.color=purple targets
err_has "-c on the command line: invalid value 'purple' for 'core.color'"

t "environment values are checked like file values"
OMVDEV_TARGETS_FORMAT=pdf "$OMVDEV" targets >"$out" 2>"$err"; code=$?
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "OMVDEV_TARGETS_FORMAT in the environment: invalid value 'pdf'"

t "without HOME there is no user file, and set says so"
env -u HOME -u XDG_CONFIG_HOME "$OMVDEV" config set core.color never >"$out" 2>"$err"; code=$?
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "there is no user configuration file"

finish
