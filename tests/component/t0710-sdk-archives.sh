#!/usr/bin/env bash
# sdk install refuses hostile and broken archives (generated here by
# mkarchive.py): a clear message, nothing at the destination, nothing written
# outside it, and a previous install left exactly as it was.
. "$SOURCE_DIR/tests/cli/lib.sh"
comp="$SOURCE_DIR/tests/component"
V=1.6.0
TB=openmv-sdk-$V-linux-x86_64.tar.xz
dest=$HOME/openmv-sdk-$V
export OMVDEV_TEST_MAX_UNPACKED=10000000 # the bomb unpacks to 64 MiB

cases=(
    "abs|absolute path '/tmp/omvdev-evil'"
    "dotdot|'..' in entry name 'openmv-sdk-$V-linux-x86_64/../omvdev-evil'"
    "symlink-escape|symlink 'esc' points outside the SDK ('../..')"
    "symlink-abs|symlink 'esc' points outside the SDK (absolute target '/tmp')"
    "symlink-through|cannot extract 'openmv-sdk-$V-linux-x86_64/lnk/omvdev-evil'"
    "hardlink-escape|'..' in entry name '../../etc/passwd'"
    "hardlink-abs|absolute path '/etc/passwd'"
    "device|'openmv-sdk-$V-linux-x86_64/bin/null' is a device node (refused)"
    "fifo|'openmv-sdk-$V-linux-x86_64/bin/fifo' is a FIFO (refused)"
    "setuid|'openmv-sdk-$V-linux-x86_64/bin/su' is setuid (refused)"
    "two-top|more than one top-level directory: 'openmv-sdk-$V-linux-x86_64' and 'other-dir'"
    "no-stamp|$TB has no sdk.version stamp: not an OpenMV SDK"
    "wrong-stamp|$TB is SDK 1.5.0 (its sdk.version), not $V"
    "truncated-xz|truncated xz stream"
    "garbage|garbage after the end of the xz stream"
    "bomb|the archive unpacks to more than 10000000 bytes (refused as unsafe"
    "not-tar|not a tar archive"
)

mkdir -p "$TMPD/good" "$TMPD/ref"
python3 "$comp/mkarchive.py" good "$TMPD/good/$TB" $V || exit 1
tar -xJf "$TMPD/good/$TB" --strip-components=1 -C "$TMPD/ref"

nothing_at_dest() {
    if [ -e "$dest" ]; then fail "$dest exists"; else pass; fi
    if ls -A "$HOME" | grep -q 'staging\|manifest-\|\.old-'; then fail "leftovers: $(ls -A "$HOME")"; else pass; fi
}
nothing_outside() {
    for f in /tmp/omvdev-evil "$HOME/omvdev-evil" "$TMPD/omvdev-evil" "$HOME/passwd"; do
        if [ -e "$f" ]; then fail "$f was written"; else pass; fi
    done
}

for c in "${cases[@]}"; do
    name=${c%%|*} msg=${c#*|}
    mkdir -p "$TMPD/$name"
    python3 "$comp/mkarchive.py" "$name" "$TMPD/$name/$TB" $V || fail "mkarchive $name"

    t "$name: refused on a fresh install"
    expect 1 sdk install --version $V --from "$TMPD/$name/$TB"
    err_has "omvdev: error: $msg"
    err_has "nothing was changed in $dest"
    err_has "hint: "
    nothing_at_dest
    nothing_outside
done

t "a good install, then every bad archive with --force: the old SDK stays"
expect 0 sdk install --version $V --from "$TMPD/good/$TB"
for c in "${cases[@]}"; do
    name=${c%%|*} msg=${c#*|}
    t "$name: --force over a good install"
    expect 1 sdk install --version $V --force --from "$TMPD/$name/$TB"
    err_has "omvdev: error: $msg"
    if diff -r --no-dereference -x .omvdev-manifest "$TMPD/ref" "$dest" >/dev/null; then pass; else fail "previous install changed"; fi
    if ls -A "$HOME" | grep -q 'staging\|manifest-\|\.old-'; then fail "leftovers: $(ls -A "$HOME")"; else pass; fi
    nothing_outside
done
expect 0 sdk verify --version $V
out_has "0 missing, 0 changed, 0 extra"

# Archives that are odd but not hostile install as tar would extract them, and
# a fresh install always verifies.
for name in dup mode000; do
    t "$name: installs like tar -x, and verifies right after"
    mkdir -p "$TMPD/$name" "$TMPD/ref-$name"
    python3 "$comp/mkarchive.py" "$name" "$TMPD/$name/$TB" $V || fail "mkarchive $name"
    tar -xJf "$TMPD/$name/$TB" --strip-components=1 -C "$TMPD/ref-$name"
    chmod -R u+rwX "$TMPD/ref-$name"
    expect 0 sdk install --version $V --force --from "$TMPD/$name/$TB"
    expect 0 sdk verify --version $V
    out_has "0 missing, 0 changed, 0 extra"
    if diff -r --no-dereference -x .omvdev-manifest "$TMPD/ref-$name" "$dest" >"$TMPD/diff" 2>&1; then pass; else
        fail "differs from tar -x: $(head -5 "$TMPD/diff")"
    fi
    # one manifest line per path
    dups=$(tail -n +2 "$dest/.omvdev-manifest" | awk -F'\t' '{print $NF}' | sort | uniq -d)
    [ -z "$dups" ] && pass || fail "manifest lists twice: $dups"
done
t "dup: the later entry's content and type won"
expect 0 sdk install --version $V --force --from "$TMPD/dup/$TB"
[ "$(cat "$dest/README")" = "the later README wins" ] && pass || fail "README: $(cat "$dest/README")"
[ "$(readlink "$dest/python/bin/python3")" = python3.12 ] && pass || fail "symlink"
t "mode000: the owner can read what was installed; other bits are kept"
expect 0 sdk install --version $V --force --from "$TMPD/mode000/$TB"
[ "$(stat -c %a "$dest/locked")" = 400 ] && pass || fail "locked is $(stat -c %a "$dest/locked")"
[ "$(stat -c %a "$dest/closed")" = 500 ] && pass || fail "closed is $(stat -c %a "$dest/closed")"
expect 0 sdk remove $V
[ -e "$dest" ] && fail "not removed" || pass

finish
