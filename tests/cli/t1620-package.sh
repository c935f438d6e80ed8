#!/usr/bin/env bash
# The Debian package: one optimised build (reused across runs, in the build directory),
# `--target package` and `package_source`, then the .deb's metadata and contents through
# dpkg-deb, lintian, an install with `dpkg --root` into a scratch root, and the installed
# omvdev run from there.
. "$(dirname "$0")/lib.sh"

: "${SOURCE_DIR:?}" "${BUILD_DIR:?}"
for tool in dpkg-deb dpkg-shlibdeps dpkg-parsechangelog lintian; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (make check installs it)"; exit 77; }
done
version=$(sed -n 's/^project(omvdev VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
arch=$(dpkg --print-architecture)
pkg="$BUILD_DIR/package"
deb="$pkg/omvdev_${version}_$arch.deb"

t "configure and build the package (one RelWithDebInfo build, reused)"
rm -f "$deb" "$pkg/omvdev-$version.tar.gz"
cmake -S "$SOURCE_DIR" -B "$pkg" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
    >"$out" 2>"$err" && pass || fail "configure"
nice cmake --build "$pkg" -j2 --target package >"$out" 2>"$err" && pass || fail "--target package"
[ -s "$deb" ] && pass || fail "no $deb"

t "metadata"
f() { dpkg-deb -f "$deb" "$1"; }
[ "$(f Package)" = omvdev ] && pass || fail "Package: $(f Package)"
[ "$(f Version)" = "$version" ] && pass || fail "Version: $(f Version)"
[ "$(f Architecture)" = "$arch" ] && pass || fail "Architecture: $(f Architecture)"
[ "$(f Section)" = devel ] && pass || fail "Section"
f Maintainer | grep -Eq '^[^<]+ <[^>]+@[^>]+>$' && pass || fail "Maintainer: $(f Maintainer)"
t "dependencies are computed by dpkg-shlibdeps from what the binary links"
grep -rq 'CPACK_DEBIAN_PACKAGE_DEPENDS' "$SOURCE_DIR/CMakeLists.txt" "$SOURCE_DIR/cmake" &&
    fail "a hand-written Depends" || pass
deps=$(f Depends)
for lib in libc6 libcurl4 libarchive13 libssl3 libinih1 libusb-1.0-0 liblzma5; do
    case ", $deps" in *", $lib "*) pass ;; *) fail "Depends lacks $lib: $deps" ;; esac
done
# Each dependency is satisfied by this machine's package: the binary built here runs here.
echo "$deps" | tr ',' '\n' | sed 's/^ *//' | while read -r name op ver; do
    have=$(dpkg-query -W -f '${Version}' "$name" 2>/dev/null | head -1)
    op=${op#(} ver=${ver%)}
    [ -n "$have" ] && dpkg --compare-versions "$have" "$op" "$ver" || echo "$name $op $ver (have '$have')"
done >"$TMPD/unmet"
[ -s "$TMPD/unmet" ] && fail "unmet here: $(cat "$TMPD/unmet")" || pass

t "contents"
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' | sed 's|\./|/|' | grep -v '/$' | sort >"$TMPD/contents"
cat >"$TMPD/want" <<W
-rw-r--r-- root/root /usr/lib/udev/rules.d/99-omvdev.rules
-rw-r--r-- root/root /usr/share/bash-completion/completions/omvdev
-rw-r--r-- root/root /usr/share/doc/omvdev/changelog.gz
-rw-r--r-- root/root /usr/share/doc/omvdev/copyright
-rw-r--r-- root/root /usr/share/fish/vendor_completions.d/omvdev.fish
-rw-r--r-- root/root /usr/share/man/man1/omvdev.1.gz
-rw-r--r-- root/root /usr/share/zsh/vendor-completions/_omvdev
-rwxr-xr-x root/root /usr/bin/omvdev
-rwxr-xr-x root/root /usr/bin/omvdev-cc
W
sort -o "$TMPD/want" "$TMPD/want"
same_file "$TMPD/want" "$TMPD/contents"

t "lintian: no errors (warnings and notes are printed)"
lintian --info --display-info "$deb" >"$TMPD/lintian" 2>/dev/null
cat "$TMPD/lintian"
grep -q '^E: ' "$TMPD/lintian" && fail "lintian errors: $(grep '^E: ' "$TMPD/lintian")" || pass

t "install with dpkg --root into a scratch root"
root="$TMPD/root"
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
: >"$root/var/lib/dpkg/status"
# The scratch root has no libc6 & co. registered: their check is the one above.
dpkg --root="$root" --force-depends --force-not-root -i "$deb" >"$out" 2>"$err" && pass || fail "dpkg -i"
dpkg --root="$root" -s omvdev 2>/dev/null | grep -q '^Status: install ok installed' && pass ||
    fail "not installed"
installed="$root/usr/bin/omvdev"
[ -x "$installed" ] && pass || fail "no $installed"

t "the installed omvdev runs: --version, targets, completion bash"
OMVDEV_INSTALLED=$installed
run_installed() { "$OMVDEV_INSTALLED" "$@" >"$out" 2>"$err"; code=$?; }
run_installed --version
[ "$code" = 0 ] && grep -Eq "^omvdev $version( \\(git [0-9a-f]+(-dirty)?\\))?\$" "$out" && pass ||
    fail "--version: $(cat "$out")"
run_installed targets
[ "$code" = 0 ] && pass || fail "targets exit $code"
out_has OPENMV4
out_has ARDUINO_NANO_RP2040_CONNECT
run_installed completion bash
[ "$code" = 0 ] && pass || fail "completion exit $code"
same_file "$root/usr/share/bash-completion/completions/omvdev" "$out"
bash -c ". '$out' && complete -p omvdev" >/dev/null 2>&1 && pass || fail "the completion does not load"
gzip -dc "$root/usr/share/man/man1/omvdev.1.gz" | head -1 | grep -q '^\.TH OMVDEV 1' && pass || fail ".TH"

t "the packaged udev rules are byte-identical to what 'omvdev udev install' writes"
run_installed udev install --print
same_file "$root/usr/lib/udev/rules.d/99-omvdev.rules" "$out"
mkdir -p "$TMPD/sys/etc/udev/rules.d"
printf '#!/bin/sh\nexit 0\n' >"$TMPD/udevadm" && chmod +x "$TMPD/udevadm"
PATH="$TMPD:$PATH" OMVDEV_SYSROOT="$TMPD/sys" "$OMVDEV" udev install >"$out" 2>"$err" && pass ||
    fail "udev install"
same_file "$root/usr/lib/udev/rules.d/99-omvdev.rules" "$TMPD/sys/etc/udev/rules.d/99-omvdev.rules"

t "changelog (Debian format, newest entry is this version) and copyright"
gzip -t "$root/usr/share/doc/omvdev/changelog.gz" && pass || fail "changelog.gz"
cl=$(gzip -dc "$root/usr/share/doc/omvdev/changelog.gz" | dpkg-parsechangelog -l- -S Version)
[ "$cl" = "$version" ] && pass || fail "changelog's newest version is '$cl', not $version"
grep -q '^License: ' "$root/usr/share/doc/omvdev/copyright" && pass || fail "copyright"

t "package_source: the tracked files, no build output"
nice cmake --build "$pkg" --target package_source >"$out" 2>"$err" && pass || fail "package_source"
src="$pkg/omvdev-$version.tar.gz"
tar tzf "$src" | sed "s|^omvdev-$version/||" | sort >"$TMPD/src"
grep -Eq '^(build|\.git)/' "$TMPD/src" && fail "build output or .git in the tarball" || pass
if git -C "$SOURCE_DIR" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$SOURCE_DIR" ls-files | sort >"$TMPD/tracked"
    comm -23 "$TMPD/tracked" "$TMPD/src" >"$TMPD/lost"
    [ -s "$TMPD/lost" ] && fail "tracked files missing: $(head -3 "$TMPD/lost")" || pass
fi
finish
