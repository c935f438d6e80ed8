#!/usr/bin/env bash
# omvdev doctor and omvdev udev install, with /proc, /sys, /etc, /run and /dev
# faked under OMVDEV_SYSROOT (WSL 1, WSL 2, /mnt/c, udev rules missing or present,
# device nodes) and programs on PATH (the fixture SDK's gcc/gdb, J-Link stand-ins).
. "$(dirname "$0")/lib.sh"
# Under `make check` the make that runs ctest leaks its level and flags to ours.
unset MAKEFLAGS MAKELEVEL MFLAGS

ROOT="$TMPD/root"
SDK="$HOME/openmv-sdk-1.6.0"
FW="$TMPD/fw"
mkdir -p "$ROOT/proc/sys/kernel" "$ROOT/etc/udev/rules.d" "$ROOT/run/udev" "$ROOT/sys/bus/usb/devices"
echo "6.1.0-18-amd64" >"$ROOT/proc/sys/kernel/osrelease"
export OMVDEV_SYSROOT="$ROOT"
cp -r "$TEST_DATA/firmware-repo" "$FW"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"
mkdir -p "$TMPD/bin"
export PATH="$TMPD/bin:$PATH"
line() { grep -E "^$1 +$2 " "$out" >/dev/null && pass || fail "no '$1 $2' line"; }

t "outside a repository: repository checks are skipped, not failed"
cd "$TMPD"
run doctor
line skip sdk-installed
line skip submodules
line skip wsl
line ok platform
out_has "ok, "

t "no udev rules at all: a failure naming every ID, with the fix; exit 1"
run doctor
[ "$code" -eq 1 ] && pass || fail "exit $code"
line fail udev-rules
out_has "no udev rule lets users open 37C5 (OpenMV cameras and their bootloader), 0483:DF11 (STM32 system bootloader), 2341 (Arduino boards), 1FC9:0135 (i.MX RT1060 ROM), 15A2:0073 (NXP flashloader)"
out_has "fix: sudo omvdev udev install (or see: omvdev udev install --print)"

t "the IDE's rules cover the cameras and the ST ROM but not Arduino or NXP"
cat >"$ROOT/etc/udev/rules.d/99-openmv.rules" <<'R'
SUBSYSTEMS=="usb", ATTRS{idVendor}=="0483", ATTRS{idProduct}=="df11", MODE:="0666", SYMLINK+="openmvdfu"
SUBSYSTEMS=="usb", ATTRS{idVendor}=="37c5", ATTRS{idProduct}=="9204", MODE:="0666"
KERNEL=="ttyACM*", ATTRS{idVendor}=="37c5", MODE:="0666", SYMLINK+="openmvcam"
# SUBSYSTEMS=="usb", ATTRS{idVendor}=="2341", MODE:="0666"
R
run doctor
out_has "no udev rule lets users open 2341 (Arduino boards), 1FC9:0135 (i.MX RT1060 ROM), 15A2:0073 (NXP flashloader)"
rm "$ROOT/etc/udev/rules.d/99-openmv.rules"

t "udev install --print: the rules on stdout, the sudo commands as a hint, nothing written"
expect 0 udev install --print
out_has 'ATTRS{idVendor}=="37c5"'
err_has "sudo cp 99-omvdev.rules /etc/udev/rules.d/ && sudo udevadm control --reload-rules && sudo udevadm trigger"
[ -z "$(ls "$ROOT/etc/udev/rules.d")" ] && pass || fail "--print wrote a file"
cp "$out" "$TMPD/printed.rules"

t "udev install writes the file and reloads udev (udevadm is a stand-in recording its argv)"
cat >"$TMPD/bin/udevadm" <<SH
#!/bin/sh
echo "udevadm \$*" >>"$TMPD/udevadm.log"
SH
chmod +x "$TMPD/bin/udevadm"
expect 0 udev install
err_has "omvdev: wrote '$ROOT/etc/udev/rules.d/99-omvdev.rules'"
same_file "$ROOT/etc/udev/rules.d/99-omvdev.rules" "$TMPD/printed.rules"
printf 'udevadm control --reload-rules\nudevadm trigger\n' >"$TMPD/want"
same_file "$TMPD/udevadm.log" "$TMPD/want"
t "running it again changes nothing"
expect 0 udev install
err_has "is already up to date"
t "then doctor's rule check passes"
run doctor
line ok udev-rules

t "udev install where it cannot write: the error, the sudo hint, the old file untouched"
printf 'old\n' >"$ROOT/etc/udev/rules.d/99-omvdev.rules"
chmod 555 "$ROOT/etc/udev/rules.d"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    chmod 755 "$TMPD" "$ROOT" "$ROOT/etc" "$ROOT/etc/udev"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$OMVDEV" udev install >"$out" 2>"$err"
    code=$?
else
    run udev install
fi
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "omvdev: error: cannot create a file in '$ROOT/etc/udev/rules.d'"
err_has "hint: it needs root: sudo omvdev udev install"
[ "$(cat "$ROOT/etc/udev/rules.d/99-omvdev.rules")" = old ] && pass || fail "the old file changed"
chmod 755 "$ROOT/etc/udev/rules.d"
cp "$TMPD/printed.rules" "$ROOT/etc/udev/rules.d/99-omvdev.rules"
t "no rules directory (no udev)"
OMVDEV_SYSROOT="$TMPD/empty" expect 1 udev install
err_has "there is no '$TMPD/empty/etc/udev/rules.d' (is udev installed?)"
expect 2 udev
err_has "expected 'install'"
expect 2 udev instal
err_has "unknown action 'instal': expected 'install'"

t "an SDK omvdev installed is checked against its manifest (sizes), a damaged one fails"
if command -v xz >/dev/null; then
    mkdir -p "$TMPD/pack"
    cp -r "$TEST_DATA/fixture-sdk" "$TMPD/pack/openmv-sdk-1.6.0-linux-x86_64"
    tar -C "$TMPD/pack" -cf - openmv-sdk-1.6.0-linux-x86_64 | xz -1 >"$TMPD/sdk.tar.xz"
    (cd "$TMPD" && sha256sum sdk.tar.xz >sdk.tar.xz.sha256)
    (cd "$FW" && "$OMVDEV" sdk install --from "$TMPD/sdk.tar.xz" --force -q) && pass || fail "sdk install"
    cd "$FW"
    run doctor
    line ok sdk-verify
    out_has "entries as installed (sizes; 'omvdev sdk verify' hashes them)"
    printf 'more' >>"$SDK/gcc/bin/arm-none-eabi-gcc"
    run doctor
    [ "$code" -eq 1 ] && pass || fail "exit $code"
    line fail sdk-verify
    out_has "1 of "
    out_has "entries missing or changed"
    rm -rf "$SDK"
    cp -r "$TEST_DATA/fixture-sdk" "$SDK"
    cd "$TMPD"
fi

t "udev not running"
run doctor
line warn udev-running
out_has "fix: sudo systemctl start systemd-udevd"
touch "$ROOT/run/udev/control"
run doctor
line ok udev-running

t "in the repository with the fixture SDK: SDK, gcc, gdb, submodules checked"
cd "$FW"
run doctor
line ok sdk-installed
line ok sdk-stamp
line warn sdk-verify
out_has "installed without omvdev (no manifest): its files cannot be checked"
out_has "fix: omvdev sdk install --force (a reinstall that records a manifest)"
run doctor --quick
line skip sdk-verify
out_has "--quick: not run"
line ok gcc
out_has "$SDK/gcc/bin/arm-none-eabi-gcc runs (GCC 14.3.1)"
line ok gdb
out_has "(GNU gdb (Arm GNU Toolchain stand-in) 15.2.90.20241229-git)"
line ok submodules
line warn mpy-cross
out_has "fix: make -j\$(nproc) -C $FW/lib/micropython/mpy-cross (omvdev build does it)"
line ok repo-location

t "SDK missing and stamp mismatched"
echo 1.5.0 >"$SDK/sdk.version"
run doctor
[ "$code" -eq 1 ] && pass || fail "exit $code"
line fail sdk-stamp
out_has "is version 1.5.0, but this repository needs 1.6.0"
echo 1.6.0 >"$SDK/sdk.version"
mv "$SDK" "$SDK.away"
run doctor
line fail sdk-installed
out_has "the OpenMV SDK 1.6.0 is not installed in '$SDK'"
mv "$SDK.away" "$SDK"

t "too little free disk space for the SDK (a 1 MiB tmpfs in a private mount namespace)"
mkdir -p "$TMPD/small"
if unshare -m sh -c "mount -t tmpfs -o size=1m tmpfs '$TMPD/small'" 2>/dev/null; then
    unshare -m sh -c "mount -t tmpfs -o size=1m tmpfs '$TMPD/small' &&
        SDK_DIR='$TMPD/small/openmv-sdk-1.6.0' exec '$OMVDEV' doctor" >"$out" 2>"$err"
    line fail disk
    out_has "0.0 GiB free in '$TMPD/small': the SDK needs about 2 GiB (1.4 GB unpacked, plus the download)"
    out_has "fix: free some space, or install the SDK on another disk"
else
    echo "note: no private mount namespace here: the low-disk case was not run"
fi
run doctor
line ok disk

t "gdb that cannot load libncurses gets its own hint"
cp "$SDK/gcc/bin/arm-none-eabi-gdb" "$TMPD/gdb.good"
cat >"$SDK/gcc/bin/arm-none-eabi-gdb" <<'SH'
#!/bin/sh
echo "arm-none-eabi-gdb: error while loading shared libraries: libncursesw.so.5: cannot open shared object file: No such file or directory" >&2
exit 127
SH
run doctor
line fail gdb
out_has "the SDK's gdb does not start: libncursesw.so.5 is missing"
out_has "fix: install the old ncurses libraries: sudo apt-get install libncurses5 libtinfo5"
cp "$TMPD/gdb.good" "$SDK/gcc/bin/arm-none-eabi-gdb"

t "GCC 12 ahead of the SDK's on an N6 (the SDK lost its gcc)"
mv "$SDK/gcc/bin/arm-none-eabi-gcc" "$TMPD/gcc.good"
sed 's/^VERSION=.*/VERSION=12.2.1/' "$TMPD/gcc.good" >"$TMPD/bin/arm-none-eabi-gcc"
chmod +x "$TMPD/bin/arm-none-eabi-gcc"
run doctor
line warn gcc
out_has "make would run '$TMPD/bin/arm-none-eabi-gcc' (GCC 12.2.1), not the SDK's"
run -c build.target=OPENMV_N6 doctor
line fail gcc
out_has "OPENMV_N6 (Cortex-M55) needs GCC 14.3 or newer, but make would run '$TMPD/bin/arm-none-eabi-gcc', which is GCC 12.2.1"
mv "$TMPD/gcc.good" "$SDK/gcc/bin/arm-none-eabi-gcc"
rm "$TMPD/bin/arm-none-eabi-gcc"

t "J-Link found or not"
run doctor
line warn jlink
for p in JLinkGDBServerCLExe JLinkExe; do printf '#!/bin/sh\n' >"$TMPD/bin/$p"; chmod +x "$TMPD/bin/$p"; done
run doctor
line ok jlink
out_has "$TMPD/bin/JLinkGDBServerCLExe, $TMPD/bin/JLinkExe"

t "submodules of the configured board's port"
rm -rf lib/micropython/lib/stm32lib/*
run -c build.target=OPENMV4 doctor
line fail submodules
out_has "submodule 'lib/micropython/lib/stm32lib' is not initialised"
out_has "fix: git -C $FW/lib/micropython submodule update --init --depth=1 lib/stm32lib"
t "a missing micropython-lib (py/mkrules.mk names it for frozen manifests) is found too"
rm -rf lib/micropython/lib/micropython-lib
run -c build.target=OPENMV4 doctor
out_has "fix: git -C $FW/lib/micropython submodule update --init --depth=1 lib/stm32lib lib/micropython-lib"
mkdir -p lib/micropython/lib/micropython-lib && echo x >lib/micropython/lib/micropython-lib/README.md
echo x >lib/micropython/lib/stm32lib/README

t "WSL 1: unsupported"
echo "4.4.0-19041-Microsoft" >"$ROOT/proc/sys/kernel/osrelease"
run doctor
[ "$code" -eq 1 ] && pass || fail "exit $code"
line fail wsl
out_has "WSL 1 is not supported"
out_has "fix: in PowerShell on Windows: wsl --set-version <distribution> 2"

t "WSL 2 without USB devices: usbipd for the camera's application and DFU IDs"
echo "5.15.153.1-microsoft-standard-WSL2" >"$ROOT/proc/sys/kernel/osrelease"
run -c build.target=OPENMV4 doctor
line ok wsl
line warn wsl-usb
out_has "for the camera (37C5:1204) and then its bootloader (37C5:9204): usbipd list; usbipd bind --busid <BUSID>; usbipd attach --wsl --busid <BUSID>"
rm "$ROOT/run/udev/control"
run doctor
line warn udev-running
out_has "systemd=true"
touch "$ROOT/run/udev/control"

t "WSL 2 with a camera attached: its device node is checked"
D="$ROOT/sys/bus/usb/devices"
mkdir -p "$D/usb1" "$D/1-1" "$D/1-1:1.0" "$ROOT/dev/bus/usb/001"
printf '37c5\n' >"$D/1-1/idVendor"; printf '1204\n' >"$D/1-1/idProduct"
printf '1\n' >"$D/1-1/busnum"; printf '5\n' >"$D/1-1/devnum"
: >"$ROOT/dev/bus/usb/001/005"
chmod 666 "$ROOT/dev/bus/usb/001/005"
run doctor
line ok wsl-usb
out_has "1 USB device attached to WSL"
line ok usb-access
t "a node the user cannot open"
chmod 600 "$ROOT/dev/bus/usb/001/005"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    chmod -R a+rX "$TMPD"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$OMVDEV" doctor >"$out" 2>"$err"
    line fail usb-access
    out_has "cannot open 37C5:1204 (/dev/bus/usb/001/005: Permission denied)"
elif [ "$(id -u)" -ne 0 ]; then
    run doctor
    line fail usb-access
    out_has "cannot open 37C5:1204 (/dev/bus/usb/001/005: Permission denied)"
fi

t "a repository under /mnt/c in WSL is slow"
mkdir -p "$ROOT/mnt/c/Users/me"
cp -r "$TEST_DATA/firmware-repo" "$ROOT/mnt/c/Users/me/openmv"
run -C "$ROOT/mnt/c/Users/me/openmv" doctor
line warn repo-location
out_has "is on the Windows drive C: builds there are many times slower"
out_has "fix: clone it into your Linux home instead: cd ~ && git clone --recursive https://github.com/openmv/openmv.git"
echo "6.1.0-18-amd64" >"$ROOT/proc/sys/kernel/osrelease"
run -C "$ROOT/mnt/c/Users/me/openmv" doctor
line ok repo-location

t "--json for bug reports: schema 1, every check with status, message and fix"
run --json doctor
python3 - "$out" <<'PY' && pass || fail "JSON check"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1
names = [c["name"] for c in d["checks"]]
assert names == ["platform", "wsl", "repo-location", "wsl-usb", "udev-running", "udev-rules",
                 "usb-access", "sdk-installed", "sdk-stamp", "sdk-verify", "gcc", "gdb", "jlink",
                 "qemu", "submodules", "mpy-cross", "disk"], names
for c in d["checks"]:
    assert c["status"] in ("ok", "warn", "fail", "skip"), c
    assert isinstance(c["message"], str) and c["message"], c
    assert c["fix"] is None or c["fix"], c
by = {c["name"]: c for c in d["checks"]}
assert by["mpy-cross"]["status"] == "warn" and "mpy-cross" in by["mpy-cross"]["fix"]
assert by["udev-rules"]["status"] == "ok"
counts = {s: sum(1 for c in d["checks"] if c["status"] == s) for s in ("ok", "warn", "fail", "skip")}
assert (d["ok"], d["warnings"], d["failures"], d["skipped"]) == \
    (counts["ok"], counts["warn"], counts["fail"], counts["skip"]), d
PY
err_empty

finish
