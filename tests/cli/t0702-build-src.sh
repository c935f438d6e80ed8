#!/usr/bin/env bash
# omvdev on the src/ layout of releases up to v4.6.x (tests/data/firmware-repo-src,
# modelled on v4.6.20): the root found from deep directories and submodules, make
# in src/, one src/build/bin shared by all boards, partition sizes from
# omv_boardconfig.h, the build options src/Makefile reads, no SDK_VERSION, and
# Debian's real arm-none-eabi-gcc on PATH compiling and linking real ELFs.
. "$(dirname "$0")/lib.sh"
unset MAKEFLAGS MAKELEVEL MFLAGS

command -v make >/dev/null || { echo "make is not installed"; exit 77; }
command -v arm-none-eabi-gcc >/dev/null || { echo "arm-none-eabi-gcc is not installed"; exit 77; }
command -v arm-none-eabi-readelf >/dev/null || { echo "arm-none-eabi-readelf is missing"; exit 77; }
FW="$TMPD/fw"
cp -r "$TEST_DATA/firmware-repo-src" "$FW"
cd "$FW"
producer() { arm-none-eabi-readelf --debug-dump=info "$1" | grep -m1 DW_AT_producer; }

t "from src/omv/imlib: the repository root, make in src/, sizes from omv_boardconfig.h"
cd src/omv/imlib
expect 0 build -t OPENMV4
out_has "OPENMV4: $FW/src/build/bin"
out_has "  firmware.bin           1.43 MiB of 1.75 MiB (82 %)  [OMV_FLASH_TXT_LENGTH in src/omv/boards/OPENMV4/omv_boardconfig.h]"
out_has "  bootloader.bin         39.1 KiB of 128 KiB (31 %)  [OMV_FLASH_BOOT_LENGTH in src/omv/boards/OPENMV4/omv_boardconfig.h]"
err_has "omvdev: building mpy-cross"
err_lacks "Entering directory"
[ -x "$FW/src/lib/micropython/mpy-cross/build/mpy-cross" ] && pass || fail "mpy-cross not built in src/lib/micropython"
grep -qx "board=OPENMV4" "$FW/src/build/omvdev-build" && pass || fail "no build record"
cd "$FW"

t "v4.6.20's OPENMV4 size fits the tree's 1792 KiB (the database's 1664 KiB is newer): exit 0"
expect 0 build -t OPENMV4 -- FIRMWARE_SIZE=1735676
out_has "  firmware.bin           1.66 MiB of 1.75 MiB (95 %)  [OMV_FLASH_TXT_LENGTH in src/omv/boards/OPENMV4/omv_boardconfig.h]"
out_lacks "does not fit"

t "size: OPENMV4's images are its own; OPENMVPT's are refused, nothing run"
expect 0 size -t OPENMV4
out_has "$FW/src/build/bin/firmware.elf  :"
expect 1 size -t OPENMVPT
err_has "omvdev: error: the images in 'src/build/bin' were built for OPENMV4, not OPENMVPT (read from omvdev's record of its last build, omvdev-build)"
err_has "hint: build OPENMVPT first (this release keeps one board's images at a time): omvdev build -t OPENMVPT"
out_empty

t "flash --swd, debug and flash refuse another board's images too"
expect 1 flash --swd -t OPENMVPT --probe jlink --dry-run
err_has "were built for OPENMV4, not OPENMVPT"
expect 1 debug -t OPENMVPT --dry-run
err_has "were built for OPENMV4, not OPENMVPT"
expect 1 flash -t OPENMVPT --dry-run
err_has "were built for OPENMV4, not OPENMVPT"
expect 1 recover -t OPENMVPT --dry-run
err_has "were built for OPENMV4, not OPENMVPT"
expect 0 debug -t OPENMV4 --dry-run
out_has "$FW/src/build/bin/firmware.elf"

t "a plain make for another board without a clean: the objects stay OPENMV4's, and the build says so"
sleep 1
(cd src && make -s TARGET=OPENMV4P >/dev/null 2>&1) && pass || fail "plain make failed"
expect 1 size -t OPENMV4P
err_has "were built for OPENMV4, not OPENMV4P (read from the dependency files make wrote)"
t "after a plain make clean and make for another board, the dependency files say whose images these are"
(cd src && make -s clean && make -s TARGET=OPENMV4P >/dev/null 2>&1) && pass || fail "plain make failed"
expect 1 size -t OPENMV4
err_has "were built for OPENMV4P, not OPENMV4 (read from the dependency files make wrote)"
expect 0 size -t OPENMV4P

t "switching boards in the shared directory: a clean first, said"
expect 0 build -t OPENMVPT
err_has "omvdev: 'src/build' holds OPENMV4P's build (this layout keeps one board at a time): cleaning it first"
grep -qx "board=OPENMVPT" src/build/omvdev-build && pass || fail "record not updated"

t "-t A,B: one after another with a clean between, said once"
expect 0 build -t OPENMV4,OPENMV4P
err_has "this release keeps every board's images in '$FW/src/build/bin': building the 2 boards one after another, with a clean between"
err_has "'src/build' holds OPENMV4's build"
out_has "2 built, 0 failed"
expect 0 size -t OPENMV4P

t "--debug after a release build: a clean rebuild with a note, and an -Og ELF"
producer src/build/bin/firmware.elf | grep -q -- "-O2" && pass || fail "release ELF not -O2"
expect 0 build -t OPENMV4P --debug
err_has "omvdev: 'src/build' holds a build with no options (release); this one is DEBUG=1: cleaning it first"
producer src/build/bin/firmware.elf | grep -q -- "-Og" && pass || fail "debug ELF not -Og"
grep -qx "options=DEBUG=1" src/build/omvdev-build && pass || fail "record lacks DEBUG=1"
t "the same flavour again: no clean"
expect 0 build -t OPENMV4P --debug
err_lacks "cleaning it first"

t "debug says nothing about a debug ELF, and warns about a release one from DW_AT_producer"
expect 0 debug -t OPENMV4P --dry-run
err_lacks "not a debug build"
expect 0 build -t OPENMV4P
err_has "holds a build with DEBUG=1; this one is a release: cleaning it first"
expect 0 debug -t OPENMV4P --dry-run
err_has "omvdev: warning: '$FW/src/build/bin/firmware.elf' is not a debug build: 2 of its 2 compilation units were optimised"
err_has "hint: make TARGET=OPENMV4P DEBUG=1 after a make clean, or: omvdev build -t OPENMV4P --debug"

t "plain make DEBUG=1 over a release build compiles nothing: the ELF stays -O2, as the DWARF tells"
sleep 1
(cd src && make -s TARGET=OPENMV4P DEBUG=1 >/dev/null 2>&1) && pass || fail "plain make failed"
producer src/build/bin/firmware.elf | grep -q -- "-O2" && pass || fail "make recompiled"
expect 0 debug -t OPENMV4P --dry-run
err_has "is not a debug build"
t "a DEBUG=1 build by plain make after a clean (no record): the ELF's DWARF tells, and a release build cleans"
(cd src && make -s clean && make -s TARGET=OPENMV4P DEBUG=1 >/dev/null 2>&1) && pass || fail "plain make failed"
expect 0 build -t OPENMV4P
err_has "holds a debug build (read from the ELF's DWARF); this one is a release: cleaning it first"
producer src/build/bin/firmware.elf | grep -q -- "-O2" && pass || fail "not rebuilt as a release"

t "PROFILE is this release's option: PROFILE_ENABLE is passed with a warning naming it"
expect 0 build -t OPENMV4P -o PROFILE_ENABLE=1
err_has "omvdev: warning: 'PROFILE_ENABLE' is not an option this tree's src/Makefile reads; passing it to make anyway"
err_has "hint: did you mean PROFILE? (this release's Makefile reads PROFILE)"
expect 0 build -t OPENMV4P -o PROFILE=1
err_lacks "is not an option"
err_has "holds a build with PROFILE_ENABLE=1; this one is PROFILE=1: cleaning it first"

t "a compile error: its path from the repository root, in make's output and the summary"
cp src/omv/imlib/fmath.c "$TMPD/fmath.c"
printf '#error "broken on purpose"\n' >>src/omv/imlib/fmath.c
expect 1 build -t OPENMV4P -o PROFILE=1
err_has "src/omv/imlib/fmath.c:9:2: error: #error \"broken on purpose\""
err_has "omvdev: error: building OPENMV4P failed (make: exit status 2): src/omv/imlib/fmath.c:9:2: error: #error \"broken on purpose\""
t "a path through '..' from a sub-make's directory is folded"
expect 1 build -t OPENMV4P -o PROFILE=1 -- SRCS=../omv/imlib/fmath.c
err_has "omvdev: error: building OPENMV4P failed (make: exit status 2): src/omv/imlib/fmath.c:9:2: error:"
cp "$TMPD/fmath.c" src/omv/imlib/fmath.c
rm -rf src/omv/imlib/fmath.o src/build
t "after a failed DEBUG=1 build, a release build does not link its -Og leftovers"
printf '#error "broken on purpose"\n' >>src/omv/imlib/fmath.c
expect 1 build -t OPENMV4P --debug
cp "$TMPD/fmath.c" src/omv/imlib/fmath.c
expect 0 build -t OPENMV4P -o PROFILE=1
err_has "holds a build with DEBUG=1; this one is PROFILE=1: cleaning it first"
[ "$(arm-none-eabi-readelf --debug-dump=info src/build/bin/firmware.elf | grep -c 'DW_AT_producer.*-Og')" = 0 ] \
    && pass || fail "an -Og object was linked into the release build"

t "no ARM toolchain on PATH: make's own line in the summary, not Error 127"
mkdir -p "$TMPD/nogcc"
for p in make sh mkdir head cat rm env pwd; do ln -sf "$(type -P $p)" "$TMPD/nogcc/$p"; done
PATH="$TMPD/nogcc" expect 1 build -t OPENMV4P -o PROFILE=1 --clean
err_has "omvdev: error: building OPENMV4P failed (make: exit status 2): make[1]: arm-none-eabi-gcc: No such file or directory"
err_lacks "failed (make: exit status 2): make[1]: ***"
t "size without a toolchain: this release's hint, not the SDK's"
expect 0 build -t OPENMV4P
PATH="$TMPD/nogcc" expect 1 size -t OPENMV4P
err_has "hint: arm-none-eabi-size comes with the Arm GNU Toolchain this release builds with: put it on PATH"
err_lacks "omvdev sdk install"

t "env: no SDK_VERSION, nothing to export, the compiler make gets"
expect 0 env
out_has "# $FW has no SDK_VERSION: this release builds with the toolchain on PATH, so there is nothing to export"
err_has "omvdev: make will use $(command -v arm-none-eabi-gcc) (GCC"

t "inside a submodule: the root chosen is said; not with -C"
cd src/lib/micropython/ports/stm32
expect 0 size -t OPENMV4P
err_has "omvdev: inside the submodule 'src/lib/micropython': using the firmware repository at '$FW' (-C DIR picks another)"
out_has "OPENMV4P: $FW/src/build/bin"
expect 0 debug -t OPENMV4P --dry-run
err_has "omvdev: inside the submodule 'src/lib/micropython': using the firmware repository at '$FW'"
out_has "$FW/src/build/bin/firmware.elf"
cd "$FW"
expect 0 -C src/lib/micropython/lib/stm32lib size -t OPENMV4P
err_lacks "inside the submodule"

t "vscode: the tasks build in src/build"
expect 0 vscode -t OPENMV4P --stdout --only launch
out_has '"executable": "${workspaceFolder}/src/build/bin/firmware.elf"'
out_lacks "build/OPENMV4P"
err_has "hint: this release builds with the toolchain on PATH: put the Arm GNU Toolchain's bin/ there"
err_lacks "omvdev sdk install"

t "submodules: the fixing commands work on this tree (no make submodules, paths under src/)"
rm -rf src/lib/micropython/lib/stm32lib/*
expect 1 build -t OPENMV4P
err_has "omvdev: error: submodule 'src/lib/micropython/lib/stm32lib' is not initialised"
err_has "hint: run: git -C $FW/src/lib/micropython submodule update --init --depth=1 lib/stm32lib (or build with --init)"
run -c build.target=OPENMV4P doctor
out_has "fix: git -C $FW/src/lib/micropython submodule update --init --depth=1 lib/stm32lib"
out_lacks "make submodules"
out_lacks "TARGET=OPENMV4P submodules"
t "doctor without build.target: the one board built before names the port"
run doctor
out_has "fix: git -C $FW/src/lib/micropython submodule update --init --depth=1 lib/stm32lib"

finish
