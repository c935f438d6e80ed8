#!/usr/bin/env bash
# cmake/demo-deps.py: a program or library the demo used must come from a package in the
# demo's own list (or its dependencies, or the base system). The traces are written here
# in strace's format, naming real files of this machine, so dpkg answers for real.
. "$(dirname "$0")/lib.sh"

: "${SOURCE_DIR:?}"
command -v dpkg-query >/dev/null || { echo "not a Debian system"; exit 77; }
preload=$(dpkg-query -L umockdev 2>/dev/null | grep '/libumockdev-preload\.so\.0$' | head -1)
[ -n "$preload" ] || { echo "umockdev is not installed (make check installs it)"; exit 77; }
xz=$(command -v xz) || { echo "xz-utils is not installed"; exit 77; }
check() { python3 "$SOURCE_DIR/cmake/demo-deps.py" "$@" >"$out" 2>"$err"; code=$?; }
# The Makefile's PACKAGES, read the way make reads it.
pkgs=$(make -s -f "$SOURCE_DIR/Makefile" -p -n nothing 2>/dev/null | sed -n 's/^PACKAGES := //p')
old="gcc make cmake pkg-config libcurl4-openssl-dev libarchive-dev libssl-dev libumockdev-dev
     libinih-dev libusb-1.0-0-dev liblzma-dev"

mkdir trace
cat >trace/t.100 <<T
execve("/bin/sh", ["sh", "cmake/demo.sh"], 0x7ffd /* 30 vars */) = 0
openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3
openat(AT_FDCWD, "/usr/share/locale/locale.alias", O_RDONLY|O_CLOEXEC) = 3
T
cat >trace/t.101 <<T
execve("$xz", ["xz", "-3"], 0x7ffd /* 30 vars */) = 0
openat(AT_FDCWD, "$preload", O_RDONLY|O_CLOEXEC) = 3
+++ exited with 0 +++
T

t "the list before the fix misses the preload library and xz"
check trace $old
[ "$code" = 1 ] && pass || fail "exit $code, wanted 1"
err_has "demo-deps: error: the demo uses $preload from 'umockdev', which the demo's package list does not install"
err_has "hint: add umockdev to PACKAGES in the Makefile"
err_has "from 'xz-utils'"
t "data files read when present (locale.alias) are not required"
err_lacks "locale.alias"
t "libc and sh come from the base system"
err_lacks "libc.so.6"
err_lacks "/bin/sh"

t "the Makefile's PACKAGES provide all of it"
[ -n "$pkgs" ] && pass || fail "PACKAGES not found in the Makefile"
check trace $pkgs
[ "$code" = 0 ] && pass || fail "exit $code, wanted 0"
out_has "2 programs and 2 libraries checked"
err_empty

t "a dependency of a listed package counts: libumockdev0 comes with libumockdev-dev"
lib=$(dpkg-query -L libumockdev0 | grep '/libumockdev\.so\.0$' | head -1)
printf 'openat(AT_FDCWD, "%s", O_RDONLY|O_CLOEXEC) = 3\n' "$lib" >trace/t.102
check trace libumockdev-dev umockdev xz-utils
[ "$code" = 0 ] && pass || fail "exit $code, wanted 0"

t "binutils' plugins and the libraries they link are optional, in the process that loaded them"
gold=$(ls /usr/lib/bfd-plugins/*.so 2>/dev/null | head -1)
if [ -n "$gold" ]; then
    dep=$(ldd "$gold" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p' | while read -r l; do
        o=$(dpkg-query -S "$l" 2>/dev/null | cut -d: -f1) || continue
        case " $pkgs " in *" $o "*) ;; *) echo "$l"; break ;; esac
    done)
    printf 'execve("/usr/bin/ar", ["ar"], 0x0) = 0\nopenat(AT_FDCWD, "%s", O_RDONLY) = 3\nopenat(AT_FDCWD, "%s", O_RDONLY) = 4\n' \
        "$gold" "$dep" >trace/t.104
    check trace $pkgs
    [ "$code" = 0 ] && pass || fail "exit $code, wanted 0"
    t "the same library loaded by a process without the plugin is required"
    if [ -n "$dep" ]; then
        printf 'openat(AT_FDCWD, "%s", O_RDONLY) = 4\n' "$dep" >trace/t.105
        check trace $pkgs
        [ "$code" = 1 ] && pass || fail "exit $code, wanted 1"
        err_has "the demo uses $dep from"
        rm trace/t.105
    fi
    rm trace/t.104
fi

t "a program no package provides fails"
printf 'execve("/opt/omvdev-test-%s/xz", ["xz"], 0x0) = 0\n' $$ >trace/t.103
mkdir -p "/opt/omvdev-test-$$" 2>/dev/null && cp "$xz" "/opt/omvdev-test-$$/xz" && {
    check trace $pkgs
    [ "$code" = 1 ] && pass || fail "exit $code, wanted 1"
    err_has "the demo uses '/opt/omvdev-test-$$/xz', which no package provides"
    rm -rf "/opt/omvdev-test-$$"
}

t "bad usage"
check "$TMPD/none" gcc
[ "$code" = 2 ] && pass || fail "exit $code, wanted 2"
err_has "usage: demo-deps.py TRACE_DIR PACKAGE..."
finish
