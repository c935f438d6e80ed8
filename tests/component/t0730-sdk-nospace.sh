#!/usr/bin/env bash
# sdk install on full file systems (real, small tmpfs mounts; needs root, else
# skipped): the download's file system full keeps the resumable part and says
# where and how much; the destination's full says where; nothing is installed
# half, and once there is room the rerun resumes and completes.
. "$SOURCE_DIR/tests/cli/lib.sh"
comp="$SOURCE_DIR/tests/component"
V=1.6.0
TB=openmv-sdk-$V-linux-x86_64.tar.xz
dest=$HOME/openmv-sdk-$V
cache=$HOME/.cache/omvdev/downloads
www=$TMPD/www
export OMVDEV_TEST_RETRY_DELAY_MS=20
[ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] || { echo "not linux-x86_64"; exit 77; }

mkdir -p "$www" "$TMPD/ref" "$HOME/.cache" "$TMPD/small"
if ! mount -t tmpfs -o size=160k tmpfs "$HOME/.cache" 2>/dev/null; then
    echo "cannot mount a tmpfs (not root?)"
    exit 77
fi
mounts=("$HOME/.cache")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; for m in "${mounts[@]}"; do umount -l "$m"; done; rm -rf "$TMPD"' EXIT

python3 "$comp/mkarchive.py" good "$www/$TB" $V 1 || exit 1
tar -xJf "$www/$TB" --strip-components=1 -C "$TMPD/ref"
python3 "$comp/server.py" "$www" "$TMPD/port" 2>"$TMPD/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMPD/port" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$TMPD/port")"
size=$(stat -c %s "$www/$TB")

t "the download cache fills up: ENOSPC named, the part kept"
expect 1 sdk install --version $V --mirror "$base" --retries 0
err_has "error: no space left in '$cache' for the download:"
err_has "more are needed (the "
err_has "downloaded are kept in '$cache/$TB.part')"
err_has "nothing was changed in $dest"
err_has "hint: free space there, then run 'omvdev sdk install' again: it resumes from '$cache/$TB.part'"
if grep -q "Write failed\|not a usable OpenMV SDK" "$err"; then fail "misleading message"; else pass; fi
[ -e "$dest" ] && fail "$dest exists" || pass
kept=$(stat -c %s "$cache/$TB.part" 2>/dev/null || echo 0)
[ "$kept" -gt 50000 ] && [ "$kept" -lt "$size" ] && pass || fail "part is $kept bytes"
cmp -n "$kept" "$cache/$TB.part" "$www/$TB" && pass || fail "the kept part is not the file's start"
ls -A "$HOME" | grep -q '\.lock$\|staging' && fail "leftovers: $(ls -A "$HOME")" || pass

t "with room again, the rerun resumes and completes"
mount -o remount,size=4m "$HOME/.cache"
expect 0 sdk install --version $V --mirror "$base"
err_has "resuming after the"
diff -r --no-dereference -x .omvdev-manifest "$TMPD/ref" "$dest" >/dev/null && pass || fail "tree differs"
expect 0 sdk verify --version $V

t "the destination's file system fills up: named, nothing installed, the old SDK kept"
mount -t tmpfs -o size=200k tmpfs "$TMPD/small" && mounts+=("$TMPD/small")
expect 1 sdk install --version $V --dir "$TMPD/small/sdk" --from "$www/$TB"
err_has "error: no space left on the file system of '$TMPD/small/.sdk.staging-"
err_has "hint: free space there"
[ -e "$TMPD/small/sdk" ] && fail "an SDK was installed" || pass
[ -z "$(ls -A "$TMPD/small")" ] && pass || fail "leftovers: $(ls -A "$TMPD/small")"
expect 0 sdk verify --version $V

finish
