#!/usr/bin/env bash
# A hostile clone: .omvdev.ini, SDK_VERSION and .vscode/launch.json that are symlinks to
# /dev/zero or FIFOs fail at once with a clear error (no unbounded read, no hang); a
# launch.json symlink out of the repository or dangling is never written through or
# replaced; backups keep the original's mode; udev rules are 0644 under any umask.
. "$(dirname "$0")/lib.sh"

repo="$TMPD/openmv"
vs="$repo/.vscode"
mkdir -p "$repo/ports" "$repo/lib/micropython" "$repo/boards/OPENMV4" "$vs" "$HOME/openmv-sdk-1.6.0/gcc/bin"
echo "all:" >"$repo/Makefile"
echo "1.6.0" >"$repo/SDK_VERSION"
export OMVDEV_SYSROOT="$TMPD/sys"
mkdir -p "$OMVDEV_SYSROOT/proc/sys/kernel" "$OMVDEV_SYSROOT/proc/net"
echo "6.1.0-debian" >"$OMVDEV_SYSROOT/proc/sys/kernel/osrelease"
unset WSL_DISTRO_NAME SDK_DIR

# Bounded: each must end (with the error) well within the timeout, not block or exhaust memory.
quick() {
    timeout 20 "$OMVDEV" "$@" >"$out" 2>"$err"
    code=$?
    [ "$code" -ne 124 ] && pass || fail "omvdev $* hung"
}

t ".omvdev.ini -> /dev/zero: a clear error at once"
ln -s /dev/zero "$repo/.omvdev.ini"
quick -C "$repo" targets
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "omvdev: error: cannot read '$repo/.omvdev.ini': it is a symlink to a character device, and omvdev reads only regular files"
rm "$repo/.omvdev.ini"

t ".omvdev.ini as a FIFO: no hang"
mkfifo "$repo/.omvdev.ini"
quick -C "$repo" targets
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "cannot read '$repo/.omvdev.ini': it is a FIFO (named pipe)"
rm "$repo/.omvdev.ini"

t "--config /dev/null still means no user file"
expect 0 --config /dev/null targets

t "a user config larger than any config file is refused, not read whole"
truncate -s 5M "$TMPD/big.ini"
quick --config "$TMPD/big.ini" targets
[ "$code" -eq 2 ] && pass || fail "exit $code"
err_has "cannot read '$TMPD/big.ini': it is larger than 4194304 bytes"

t "SDK_VERSION -> /dev/zero and as a FIFO"
rm "$repo/SDK_VERSION"
ln -s /dev/zero "$repo/SDK_VERSION"
quick -C "$repo" sdk path
[ "$code" -ne 0 ] && pass || fail "exit 0"
err_has "cannot read '$repo/SDK_VERSION': it is a symlink to a character device"
quick -C "$repo" env
[ "$code" -ne 0 ] && pass || fail "exit 0"
err_has "cannot read '$repo/SDK_VERSION'"
rm "$repo/SDK_VERSION"
mkfifo "$repo/SDK_VERSION"
quick -C "$repo" sdk path
err_has "cannot read '$repo/SDK_VERSION': it is a FIFO (named pipe)"
rm "$repo/SDK_VERSION"
echo "1.6.0" >"$repo/SDK_VERSION"

t "--cacert naming a FIFO: an error before any download, no hang"
mkfifo "$repo/ca.pem"
quick -C "$repo" sdk install --dir "$TMPD/sdk" --url https://127.0.0.1:9/x.tar.xz \
    --cacert "$repo/ca.pem" --sha256 "$(printf '0%.0s' $(seq 64))"
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "cannot read '$repo/ca.pem': it is a FIFO (named pipe)"
[ ! -e "$TMPD/sdk" ] && pass || fail "an SDK directory was made"
rm "$repo/ca.pem"

t ".vscode/launch.json -> /dev/zero and as a FIFO: refused, nothing written"
ln -s /dev/zero "$vs/launch.json"
quick -C "$repo" vscode -t OPENMV4
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "'$vs/launch.json' is a symlink to '/dev/zero', which is outside '$repo': omvdev does not write through it"
rm "$vs/launch.json"
mkfifo "$vs/launch.json"
quick -C "$repo" vscode -t OPENMV4
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "cannot read '$vs/launch.json': it is a FIFO (named pipe)"
[ -p "$vs/launch.json" ] && pass || fail "the FIFO was replaced"
[ "$(ls -A "$vs")" = launch.json ] && pass || fail "something was written: $(ls -A "$vs")"
rm "$vs/launch.json"

t "a launch.json symlink out of the repository: refused, target and its .bak untouched"
mkdir -p "$TMPD/elsewhere"
printf '{ // mine\n  "configurations": []\n}\n' >"$TMPD/elsewhere/launch.json"
echo "precious" >"$TMPD/elsewhere/launch.json.bak"
cp "$TMPD/elsewhere/launch.json" "$TMPD/before"
ln -s "$TMPD/elsewhere/launch.json" "$vs/launch.json"
expect 1 -C "$repo" vscode -t OPENMV4
err_has "'$vs/launch.json' is a symlink to '$TMPD/elsewhere/launch.json', which is outside '$repo': omvdev does not write through it"
err_has "nothing was written"
same_file "$TMPD/elsewhere/launch.json" "$TMPD/before"
[ "$(cat "$TMPD/elsewhere/launch.json.bak")" = precious ] && pass || fail ".bak overwritten"
[ -L "$vs/launch.json" ] && pass || fail "the link was replaced"
[ "$(ls -A "$vs")" = launch.json ] && pass || fail "something was written: $(ls -A "$vs")"

t "a .vscode directory that is itself a symlink out of the repository: refused"
rm -r "$vs"
ln -s "$TMPD/elsewhere" "$vs"
expect 1 -C "$repo" vscode -t OPENMV4
err_has "outside '$repo': omvdev does not write through it"
same_file "$TMPD/elsewhere/launch.json" "$TMPD/before"
rm "$vs"
mkdir "$vs"

t "a dangling launch.json symlink is not silently replaced by a file"
ln -s missing.json "$vs/launch.json"
expect 1 -C "$repo" vscode -t OPENMV4
err_has "'$vs/launch.json' is a symlink to 'missing.json', which does not exist: omvdev does not replace a symlink"
[ -L "$vs/launch.json" ] && [ ! -e "$vs/missing.json" ] && pass || fail "the link was replaced"
rm "$vs/launch.json"

t "a symlink inside the repository is written through, the link kept"
mkdir -p "$repo/tools"
printf '{ // mine\n  "version": "0.2.0",\n  "configurations": []\n}\n' >"$repo/tools/launch.json"
ln -s ../tools/launch.json "$vs/launch.json"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
[ -L "$vs/launch.json" ] && pass || fail "the link was replaced"
grep -q 'OpenMV OPENMV4' "$repo/tools/launch.json" && pass || fail "target not updated"
grep -q '// mine' "$repo/tools/launch.json" && pass || fail "comment lost"
[ -f "$repo/tools/launch.json.bak" ] && pass || fail "no .bak beside the target"
rm -r "$vs" "$repo/tools"
mkdir "$vs"

t "the .bak of a 0600 launch.json is 0600, even over an older 0644 .bak"
printf '{\n  "version": "0.2.0",\n  "configurations": []\n}\n' >"$vs/launch.json"
chmod 600 "$vs/launch.json"
echo old >"$vs/launch.json.bak"
chmod 644 "$vs/launch.json.bak"
cp "$vs/launch.json" "$TMPD/before"
expect 0 -C "$repo" vscode -t OPENMV4 --only launch
[ "$(stat -c %a "$vs/launch.json")" = 600 ] && pass || fail "launch.json mode $(stat -c %a "$vs/launch.json")"
[ "$(stat -c %a "$vs/launch.json.bak")" = 600 ] && pass || fail ".bak mode $(stat -c %a "$vs/launch.json.bak")"
same_file "$vs/launch.json.bak" "$TMPD/before"

t "config set --project through a symlink out of the repository: refused, target untouched"
printf '[targets]\nformat = rst\n' >"$TMPD/elsewhere/omvdev.ini"
cp "$TMPD/elsewhere/omvdev.ini" "$TMPD/before"
ln -s "$TMPD/elsewhere/omvdev.ini" "$repo/.omvdev.ini"
expect 1 -C "$repo" config set --project targets.format text
err_has "which is outside '$repo': omvdev does not write through it"
same_file "$TMPD/elsewhere/omvdev.ini" "$TMPD/before"
[ -L "$repo/.omvdev.ini" ] && pass || fail "the link was replaced"
rm "$repo/.omvdev.ini"

t "the user config file as a symlink (dotfiles): written through, the link kept"
mkdir -p "$TMPD/dotfiles" "$XDG_CONFIG_HOME/omvdev"
printf '# mine\n[targets]\nformat = rst\n' >"$TMPD/dotfiles/omvdev.ini"
ln -s "$TMPD/dotfiles/omvdev.ini" "$XDG_CONFIG_HOME/omvdev/config.ini"
expect 0 config set targets.format text
[ -L "$XDG_CONFIG_HOME/omvdev/config.ini" ] && pass || fail "the link was replaced"
printf '# mine\n[targets]\nformat = text\n' >"$TMPD/want"
same_file "$TMPD/dotfiles/omvdev.ini" "$TMPD/want"
rm "$XDG_CONFIG_HOME/omvdev/config.ini"
ln -s "$TMPD/dotfiles/gone.ini" "$XDG_CONFIG_HOME/omvdev/config.ini"
expect 1 config set targets.format text
err_has "is a symlink to '$TMPD/dotfiles/gone.ini', which does not exist: omvdev does not replace a symlink"
[ -L "$XDG_CONFIG_HOME/omvdev/config.ini" ] && pass || fail "the dangling link was replaced"
rm "$XDG_CONFIG_HOME/omvdev/config.ini"

t "udev install under umask 077 writes the rules 0644, and fixes a 0600 file"
root="$TMPD/sysroot"
mkdir -p "$root/etc/udev/rules.d" "$TMPD/bin"
printf '#!/bin/sh\nexit 0\n' >"$TMPD/bin/udevadm"
chmod +x "$TMPD/bin/udevadm"
(umask 077; OMVDEV_SYSROOT="$root" PATH="$TMPD/bin:$PATH" "$OMVDEV" udev install) >"$out" 2>"$err"
code=$?
[ "$code" -eq 0 ] && pass || fail "exit $code"
[ "$(stat -c %a "$root/etc/udev/rules.d/99-omvdev.rules")" = 644 ] && pass ||
    fail "mode $(stat -c %a "$root/etc/udev/rules.d/99-omvdev.rules")"
chmod 600 "$root/etc/udev/rules.d/99-omvdev.rules"
(umask 077; OMVDEV_SYSROOT="$root" PATH="$TMPD/bin:$PATH" "$OMVDEV" udev install) >"$out" 2>"$err"
err_lacks "already up to date"
[ "$(stat -c %a "$root/etc/udev/rules.d/99-omvdev.rules")" = 644 ] && pass || fail "0600 kept"

finish
