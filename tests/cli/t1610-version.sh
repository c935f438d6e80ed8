#!/usr/bin/env bash
# `omvdev --version`: CMake's project VERSION, the git commit of a clone, and with -v the
# versions of the six libraries it was built with and runs with.
. "$(dirname "$0")/lib.sh"

: "${SOURCE_DIR:?}"
want=$(sed -n 's/^project(omvdev VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
commit=""
if [ "$(git -C "$SOURCE_DIR" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$SOURCE_DIR" && pwd -P)" ]; then
    commit=$(git -C "$SOURCE_DIR" rev-parse --short=12 HEAD)
fi

t "the version is the project's, with the commit of the clone it was built from"
expect 0 --version
if [ -n "$commit" ]; then
    head -1 "$out" | grep -Eq "^omvdev $want \\(git $commit(-dirty)?\\)\$" && pass ||
        fail "first line is not 'omvdev $want (git $commit)'"
else
    [ "$(cat "$out")" = "omvdev $want" ] && pass || fail "not 'omvdev $want'"
fi
[ "$(wc -l <"$out")" = 1 ] && pass || fail "more than one line without -v"

t "--version -v lists the libraries, built with and running with"
expect 0 --version -v
for lib in libcurl libarchive OpenSSL inih libusb liblzma; do out_has "$lib "; done
# What this machine has: the running versions must be the loaded libraries'.
lz=$(xz --version | sed -n 's/^liblzma \(.*\)/\1/p')
grep -Eq "^liblzma +[0-9.]+ +$lz\$" "$out" && pass || fail "liblzma is not running $lz"
ssl=$(openssl version | cut -d' ' -f2)
grep -Eq "^OpenSSL +[0-9.]+ +$ssl\$" "$out" && pass || fail "OpenSSL is not running $ssl"
for m in libcurl:libcurl libarchive:libarchive libusb:libusb-1.0 inih:inih liblzma:liblzma; do
    v=$(pkg-config --modversion "${m#*:}")
    grep -Eq "^${m%%:*} +$v( |\$)" "$out" && pass || fail "${m%%:*} not built with $v"
done
out_has "inih         55             (the library does not say)"
t "-v before --version is the same"
cp "$out" "$TMPD/v1"
expect 0 -v --version
same_file "$TMPD/v1" "$out"

t "--json --version -v parses strictly"
expect 0 --json --version -v
python3 - "$out" "$want" "$commit" <<'PY' && pass || fail "JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["version"] == sys.argv[2], d
assert (d["commit"] or "").startswith(sys.argv[3]) and bool(d["commit"]) == bool(sys.argv[3]), d
names = [l["name"] for l in d["libraries"]]
assert names == ["libcurl", "libarchive", "OpenSSL", "inih", "libusb", "liblzma"], names
assert all(l["built"] for l in d["libraries"]), d
assert [l["name"] for l in d["libraries"] if l["running"] is None] == ["inih"], d
PY
expect 0 --json --version
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "libraries" not in d' "$out" &&
    pass || fail "libraries without -v"

t "a source tree outside git has no commit"
mkdir "$TMPD/tree"
cmake -DSRC="$TMPD/tree" -DOUT="$TMPD/gc.c" -P "$SOURCE_DIR/cmake/version.cmake" && pass || fail "version.cmake"
grep -q 'omv_git_commit\[\] = "";' "$TMPD/gc.c" && pass || fail "commit outside git"
finish
