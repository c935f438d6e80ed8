#!/usr/bin/env bash
# omvdev build / clean / size / env against the fixture firmware repository
# (tests/data/firmware-repo: upstream's SDK checks, error strings and PATH, with
# stand-in compile steps) and the fixture SDK (tests/data/fixture-sdk: stand-in
# arm-none-eabi-gcc/gdb/size that report versions), run by real GNU make.
. "$(dirname "$0")/lib.sh"
# Under `make check` the make that runs ctest leaks its level and flags to ours.
unset MAKEFLAGS MAKELEVEL MFLAGS

command -v make >/dev/null || { echo "make is not installed"; exit 77; }
SDK="$HOME/openmv-sdk-1.6.0"
FW="$TMPD/fw"
fresh() {
    rm -rf "$FW" "$SDK"
    cp -r "$TEST_DATA/firmware-repo" "$FW"
    cp -r "$TEST_DATA/fixture-sdk" "$SDK"
    cd "$FW"
}
fresh

t "outside a firmware repository: a clear error naming what was looked for"
cd "$TMPD"
expect 2 build -t OPENMV4
err_has "omvdev: error:"
err_has "omvdev: error: not inside an openmv firmware repository (looked for Makefile, boards/, ports/ and lib/micropython, or src/Makefile, src/omv/boards/ and src/lib/micropython, from '$TMPD' upward)"
err_has "hint: run omvdev inside a clone of the firmware"
cd "$FW"

t "a typo in the board name: did you mean, and make never runs"
expect 2 build -t OPENMV_N7
err_has "omvdev: error: unknown board 'OPENMV_N7'"
err_has "hint: did you mean 'OPENMV_N6'?"
[ ! -e build ] && pass || fail "build/ was created"

t "an empty name in a list"
expect 2 build -t OPENMV4,
err_has "omvdev: error: empty board name in 'OPENMV4,'"
t "a board omvdev knows that this checkout does not have"
expect 2 build -t OPENMVPT
err_has "board 'OPENMVPT' is not in this repository's boards/ directory"

t "no board named and none built before"
expect 2 build
err_has "which board? none was built before"
err_has "omvdev config set --project build.target OPENMV4"

t "a malformed SDK_VERSION is an error, not a guess"
cp SDK_VERSION "$TMPD/SDK_VERSION.good"
printf 'one point six\n' >SDK_VERSION
expect 1 build -t OPENMV4
err_has "omvdev: error: $FW/SDK_VERSION: not a version: 'one point six'"
cp "$TMPD/SDK_VERSION.good" SDK_VERSION
[ ! -e build ] && pass || fail "build/ was created"

t "missing SDK: the error, the hint, and nothing was built"
rm -rf "$SDK"
expect 1 build -t OPENMV4
err_has "omvdev: error: the OpenMV SDK 1.6.0 this repository needs is not installed in '$SDK'"
err_has "hint: install it: omvdev sdk install (or build with --install-sdk)"
[ ! -e build ] && pass || fail "build/ was created"

t "an older SDK beside it is named, as upstream's Makefile does"
cp -r "$TEST_DATA/fixture-sdk" "$HOME/openmv-sdk-1.5.0"
echo 1.5.0 >"$HOME/openmv-sdk-1.5.0/sdk.version"
expect 1 build -t OPENMV4
err_has "(installed: 1.5.0 in $HOME/openmv-sdk-1.5.0)"
rm -rf "$HOME/openmv-sdk-1.5.0"

t "mismatched stamp"
fresh
echo 1.5.0 >"$SDK/sdk.version"
expect 1 build -t OPENMV4
err_has "omvdev: error: the OpenMV SDK in '$SDK' is version 1.5.0, but this repository needs 1.6.0"
err_has "hint: install it: omvdev sdk install"
[ ! -e build ] && pass || fail "build/ was created"

t "--install-sdk over a directory holding another version: sdk install refuses, nothing is built"
expect 1 build -t OPENMV4 --install-sdk
err_has "holds SDK 1.5.0, not 1.6.0"
err_has "hint: replace it: omvdev sdk install --force"
[ ! -e build ] && pass || fail "build/ was created"

t "--install-sdk runs 'omvdev sdk install --version 1.6.0': with no way to the SDK its error shows"
rm -rf "$SDK"
OMVDEV_SDK_MIRROR="file://$TMPD/no-mirror" expect 1 build -t OPENMV4 --install-sdk
err_has "installing it"
err_has "'omvdev sdk install --version 1.6.0' failed"
[ ! -e build ] && pass || fail "build/ was created"
[ ! -e "$SDK" ] && pass || fail "a half SDK was left behind"

t "--install-sdk from a mirror: the SDK is installed, then the board is built"
if command -v xz >/dev/null; then
    mkdir -p "$TMPD/pack" "$TMPD/mirror"
    cp -r "$TEST_DATA/fixture-sdk" "$TMPD/pack/openmv-sdk-1.6.0-linux-x86_64"
    tar -C "$TMPD/pack" -cf - openmv-sdk-1.6.0-linux-x86_64 | xz -1 >"$TMPD/mirror/openmv-sdk-1.6.0-linux-x86_64.tar.xz"
    (cd "$TMPD/mirror" && sha256sum openmv-sdk-1.6.0-linux-x86_64.tar.xz >openmv-sdk-1.6.0-linux-x86_64.tar.xz.sha256)
    OMVDEV_SDK_MIRROR="file://$TMPD/mirror" expect 0 build -t OPENMV4 --install-sdk
    err_has "installing it"
    [ "$(cat "$SDK/sdk.version")" = 1.6.0 ] && pass || fail "no stamp"
    out_has "firmware.bin"
    "$OMVDEV" sdk verify >/dev/null 2>&1 && pass || fail "the installed SDK does not verify"
    rm -rf build "$SDK"
fi

t "SDK_DIR in the environment wins, as with upstream's SDK_DIR ?="
fresh
mv "$SDK" "$TMPD/elsewhere-sdk"
SDK_DIR="$TMPD/elsewhere-sdk" expect 0 build -t OPENMV4
out_has "firmware.bin           1.41 MiB of 1.62 MiB (87 %)"
mv "$TMPD/elsewhere-sdk" "$SDK"

t "a build: mpy-cross first, make's output streams through, then the partition fill"
fresh
expect 0 build -t OPENMV4
err_has "omvdev: building mpy-cross"
out_has "arm-none-eabi-gcc -mcpu=cortex-m7 -O2 -DNDEBUG -c src/main.c -o build/OPENMV4/obj/main.o"
out_has "OPENMV4: $FW/build/OPENMV4/bin"
out_has "  firmware.bin           1.41 MiB of 1.62 MiB (87 %)"
out_has "  bootloader.bin         39.1 KiB of 128 KiB (31 %)"
out_has "  romfs0.img             58.6 KiB of 128 KiB (46 %)"
out_has "  openmv.bin             1.45 MiB"
[ -x lib/micropython/mpy-cross/build/mpy-cross ] && pass || fail "mpy-cross not built"
[ "$(stat -c %s build/OPENMV4/bin/firmware.bin)" = 1478000 ] && pass || fail "firmware size"

t "the only board built before is the default; make has nothing to do"
expect 0 build
out_has "make: Nothing to be done for 'all'."
out_has "OPENMV4: $FW/build/OPENMV4/bin"
err_lacks "building mpy-cross"

t "make gets an argument vector: -j, TARGET, DEBUG=1, options, V=1 and the args after --"
cat >"$TMPD/make" <<'SH'
#!/bin/sh
printf '%s\n' "$@" >"$MAKE_ARGS"
printf 'SDK_DIR=%s\nPATH=%s\n' "$SDK_DIR" "$PATH" >>"$MAKE_ARGS"
exec /usr/bin/env make "$@"
SH
chmod +x "$TMPD/make"
mkdir -p "$TMPD/wrap" && mv "$TMPD/make" "$TMPD/wrap/make"
cat >"$TMPD/wrap/make" <<SH
#!/bin/sh
printf '%s\n' "\$@" >"$TMPD/make-args"
printf 'SDK_DIR=%s\nPATH=%s\n' "\$SDK_DIR" "\$PATH" >>"$TMPD/make-args"
exec $(command -v make) "\$@"
SH
chmod +x "$TMPD/wrap/make"
PATH="$TMPD/wrap:$PATH" expect 0 build -t OPENMV4 -j 3 --debug -v --option FB_ALLOC_STATS=1 \
    --option 'PROFILE_ENABLE=1' -- 'EXTRA=ONE ARG'
printf -- '-w\n-j3\nTARGET=OPENMV4\nDEBUG=1\nV=1\nFB_ALLOC_STATS=1\nPROFILE_ENABLE=1\nEXTRA=ONE ARG\n' >"$TMPD/want"
head -8 "$TMPD/make-args" >"$TMPD/got"
same_file "$TMPD/got" "$TMPD/want"
err_has "omvdev: 'build/OPENMV4' holds a build with no options (release); this one is DEBUG=1 EXTRA=ONE ARG FB_ALLOC_STATS=1 PROFILE_ENABLE=1: cleaning it first"
grep -qx "options=DEBUG=1 EXTRA=ONE ARG FB_ALLOC_STATS=1 PROFILE_ENABLE=1" build/OPENMV4/omvdev-build \
    && pass || fail "build/OPENMV4/omvdev-build lacks the options"
grep -qx "SDK_DIR=$SDK" "$TMPD/make-args" && pass || fail "SDK_DIR not set for make"
grep -q "^PATH=$SDK/gcc/bin:$SDK/llvm/bin:$SDK/cmake/bin:$SDK/python/bin:$SDK/stcubeprog/bin:$SDK/stedgeai/Utilities/linux:$SDK/bin:$TMPD/wrap:" \
    "$TMPD/make-args" && pass || fail "PATH not prefixed as upstream's Makefile does"

t "-j defaults to the number of cores; an unknown --option warns but is passed"
PATH="$TMPD/wrap:$PATH" expect 0 build -t OPENMV4 --option FOO=1
grep -qx -- "-j$(nproc)" "$TMPD/make-args" && pass || fail "-j is not the core count"
grep -qx "FOO=1" "$TMPD/make-args" && pass || fail "FOO=1 not passed"
err_has "warning: 'FOO' is not an option this tree's Makefile reads; passing it to make anyway"
expect 2 build -t OPENMV4 -j zero
err_has "invalid value 'zero' for --jobs: expected a number from 1 to 4096"

t "a failing compile: make's own output, then one summary line with the first error"
printf '#error "broken on purpose"\n' >>src/omv.c
expect 1 build -t OPENMV4P
err_has "src/omv.c:5:2: error: #error \"broken on purpose\""
grep -c "src/omv.c:5:2: error:" "$err" | grep -qx 2 && pass || fail "error not shown twice (make + summary)"
err_has "omvdev: error: building OPENMV4P failed (make: exit status 2): src/omv.c:5:2: error: #error \"broken on purpose\""
out_lacks "OPENMV4P: "
sed -i '$d' src/omv.c

t "a make-level error (upstream's SDK check inside make) is summarised too"
rm -rf build/OPENMV4
SDK_DIR="$TMPD/nowhere" PATH="$TMPD/wrap:$PATH" run build -t OPENMV4
[ "$code" -eq 1 ] && pass || fail "exit $code"
err_has "the OpenMV SDK 1.6.0 this repository needs is not installed in '$TMPD/nowhere'"

t "oversize firmware fails after the build, with how much too large"
rm -rf build/OPENMV4
expect 1 build -t OPENMV4 -- FIRMWARE_SIZE=1800000
out_has "  firmware.bin           1.72 MiB of 1.62 MiB (106 %)"
out_has "  ^ does not fit: 96064 bytes over its 1.62 MiB partition"
err_has "omvdev: error: an image of OPENMV4 is larger than its flash partition"
err_has "hint: make it smaller"

t "nearly full (over 95 %) warns but succeeds"
rm -rf build/OPENMV4
expect 0 build -t OPENMV4 -- FIRMWARE_SIZE=1650000
out_has "  firmware.bin           1.57 MiB of 1.62 MiB (97 %)"
out_has "  ^ nearly full: 53936 bytes left"
err_has "omvdev: warning: firmware.bin of OPENMV4 fills 97 % of its 1.62 MiB partition"

t "partition sizes come from the repository's board files, not the database"
sed -i 's/\(OMV_FLASH_TXT_LENGTH *\)1664K/\11792K/' boards/OPENMV4/board_config.h
grep -q "OMV_FLASH_TXT_LENGTH *1792K" boards/OPENMV4/board_config.h && pass || fail "sed did not apply"
rm -rf build/OPENMV4
expect 0 build -t OPENMV4 -- FIRMWARE_SIZE=1800000
out_has "  firmware.bin           1.72 MiB of 1.75 MiB (98 %)"
rm -rf build/OPENMV4
cp "$TEST_DATA/firmware-repo/boards/OPENMV4/board_config.h" boards/OPENMV4/
t "and from the database when the repository has none (AE3 cores)"
expect 0 build -t OPENMV_AE3
out_has "  firmware_M55_HP.bin    1.14 MiB of 3 MiB (38 %)"
out_has "  firmware_M55_HE.bin    1.14 MiB of 1.37 MiB (84 %)"
out_has "  romfs1.img             58.6 KiB of 1 MiB (6 %)"

t "GCC 12 shadowing the SDK's compiler on OPENMV_N6 (the SDK lost its gcc)"
mkdir -p "$TMPD/oldgcc"
sed 's/^VERSION=.*/VERSION=12.2.1/' "$SDK/gcc/bin/arm-none-eabi-gcc" >"$TMPD/oldgcc/arm-none-eabi-gcc"
chmod +x "$TMPD/oldgcc/arm-none-eabi-gcc"
mv "$SDK/gcc/bin/arm-none-eabi-gcc" "$TMPD/sdk-gcc"
rm -rf build/OPENMV_N6 lib/micropython/mpy-cross/build
PATH="$TMPD/oldgcc:$PATH" expect 1 build -t OPENMV_N6
err_has "omvdev: error: OPENMV_N6 (Cortex-M55) needs GCC 14.3 or newer, but make would run '$TMPD/oldgcc/arm-none-eabi-gcc', which is GCC 12.2.1"
err_lacks "building mpy-cross"
[ ! -e lib/micropython/mpy-cross/build ] && pass || fail "mpy-cross was built before the GCC check"
err_has "hint: it shadows the SDK's compiler because '$SDK/gcc/bin/arm-none-eabi-gcc' is missing; reinstall the SDK: omvdev sdk install"
[ ! -e build/OPENMV_N6 ] && pass || fail "make ran"
t "the same PATH is fine for a Cortex-M7 board"
PATH="$TMPD/oldgcc:$PATH" expect 0 build -t OPENMV4
t "and upstream's own check agrees when make runs it directly"
(cd "$FW" && PATH="$TMPD/oldgcc:$PATH" make TARGET=OPENMV_N6 >"$out" 2>"$err"); code=$?
[ "$code" -ne 0 ] && pass || fail "make accepted GCC 12 for the N6"
err_has "GCC 12.2 has known issues with Cortex-M55"
t "the SDK's gcc is there but not runnable, so an older one further on PATH is used: the hint says so"
mv "$TMPD/sdk-gcc" "$SDK/gcc/bin/arm-none-eabi-gcc"
chmod -x "$SDK/gcc/bin/arm-none-eabi-gcc"
PATH="$PATH:$TMPD/oldgcc" expect 1 build -t OPENMV_N6
err_has "hint: the SDK's '$SDK/gcc/bin/arm-none-eabi-gcc' is not executable, so make runs '"
err_has "' from further on PATH; reinstall the SDK: omvdev sdk install --force"
chmod +x "$SDK/gcc/bin/arm-none-eabi-gcc"
mv "$SDK/gcc/bin/arm-none-eabi-gcc" "$TMPD/sdk-gcc"
t "an SDK whose own gcc is too old"
cp "$TMPD/oldgcc/arm-none-eabi-gcc" "$SDK/gcc/bin/arm-none-eabi-gcc"
expect 1 build -t OPENMV_N6
err_has "but make would run '$SDK/gcc/bin/arm-none-eabi-gcc', which is GCC 12.2.1"
err_has "hint: the SDK's own compiler is too old: omvdev sdk install"
mv "$TMPD/sdk-gcc" "$SDK/gcc/bin/arm-none-eabi-gcc"
expect 0 build -t OPENMV_N6
out_has "  firmware.bin           1.41 MiB of 3.50 MiB (40 %)"
out_has "  bootloader.bin         39.1 KiB of 512 KiB (8 %)"

t "uninitialised submodules: which one, the exact command, nothing built"
rm -rf lib/micropython/lib/stm32lib/* build
expect 1 build -t OPENMV4
err_has "omvdev: error: submodule 'lib/micropython/lib/stm32lib' is not initialised"
err_has "hint: run: git -C $FW/lib/micropython submodule update --init --depth=1 lib/stm32lib (or build with --init)"
[ ! -e build ] && pass || fail "build/ was created"
t "a board of another port does not need that submodule"
expect 0 build -t OPENMV_AE3
t "--init outside a git checkout: git's error, then ours, and nothing half-done"
expect 1 build -t OPENMV4 --init
err_has "fatal: not a git repository"
err_has "omvdev: error: checking out the submodules failed"
[ -z "$(ls lib/micropython/lib/stm32lib)" ] && pass || fail "stm32lib was partly filled"
[ ! -e build/OPENMV4 ] && pass || fail "build/OPENMV4 was created"
echo "stand-in for the checked-out submodule" >lib/micropython/lib/stm32lib/README

t "multi-target build: one after another, a summary table, failures do not stop the rest"
expect 0 build -t OPENMV4,OPENMV_N6,OPENMV_AE3
out_has "TARGET      RESULT"
grep -Eq "^OPENMV4 +ok +[0-9.]+ s +firmware.bin 1.41 MiB of 1.62 MiB \(87 %\)" "$out" && pass || fail "row OPENMV4"
grep -Eq "^OPENMV_N6 +ok " "$out" && pass || fail "row OPENMV_N6"
grep -Eq "^OPENMV_AE3 +ok " "$out" && pass || fail "row OPENMV_AE3"
out_has "3 built, 0 failed"
rm -rf build/OPENMV4 build/OPENMV4P
expect 1 build -t OPENMV4,OPENMV4P -- FIRMWARE_SIZE=1800000
grep -Eq "^OPENMV4 +failed " "$out" && pass || fail "OPENMV4 should fail (oversize)"
grep -Eq "^OPENMV4P +ok +[0-9.]+ s +firmware.bin 1.72 MiB of 1.75 MiB \(98 %\)" "$out" && pass || fail "OPENMV4P built after the failure"
out_has "1 built, 1 failed"
t "--all builds every board of the repository that omvdev knows (not one it does not)"
rm -rf build
cp -r boards/MPS2_AN500 boards/FUTURE_BOARD
expect 0 build --all
for b in OPENMV4 OPENMV4P OPENMV_AE3 OPENMV_N6 MPS2_AN500; do
    grep -Eq "^$b +ok " "$out" && pass || fail "--all row $b"
done
out_lacks "FUTURE_BOARD"
t "the QEMU board MPS2_AN500 is known: its ROMFS limit from the tree, no warning"
expect 0 build -t MPS2_AN500
err_lacks "not in omvdev's board database"
out_has "  romfs0.img             58.6 KiB of 4 MiB (1 %)  [OMV_ROMFS_PART0_LENGTH in boards/MPS2_AN500/board_config.h]"
t "a board missing from omvdev's database still builds, with a warning"
expect 0 build -t FUTURE_BOARD
err_has "'FUTURE_BOARD' is not in omvdev's board database"
rm -rf boards/FUTURE_BOARD build/FUTURE_BOARD

t "the target from config"
expect 2 build
err_has "which board? 5 boards were built before"
"$OMVDEV" config set --project build.target OPENMV_AE3 >/dev/null 2>&1
expect 0 build
out_has "OPENMV_AE3: $FW/build/OPENMV_AE3/bin"

t "--clean runs make clean first"
touch build/OPENMV4/stale
expect 0 build -t OPENMV4 --clean
[ ! -e build/OPENMV4/stale ] && pass || fail "--clean left build/OPENMV4"

t "omvdev size: the section sizes of every ELF, then the partition fill"
expect 0 size -t OPENMV4
out_has "$FW/build/OPENMV4/bin/firmware.elf  :"
grep -Eq "^\.text +1478000 +134479872" "$out" && pass || fail ".text row"
out_has "$FW/build/OPENMV4/bin/bootloader.elf  :"
out_has "  firmware.bin           1.41 MiB of 1.62 MiB (87 %)"
t "size of a board never built"
rm -rf build/OPENMV4P
expect 1 size -t OPENMV4P
err_has "omvdev: error: no build of OPENMV4P: '$FW/build/OPENMV4P/bin' holds no .elf file"
err_has "hint: build it first: omvdev build -t OPENMV4P"

t "omvdev clean removes build/<T> through make clean, and needs no SDK"
rm -rf "$SDK"
expect 0 clean -t OPENMV4
[ ! -e build/OPENMV4 ] && pass || fail "build/OPENMV4 still there"
[ -e build/OPENMV_AE3 ] && pass || fail "clean removed another board"
expect 2 clean -t NOPE
err_has "unknown board 'NOPE'"

# The src/ layout (up to v4.6.x) has its own fixture and script: t0702-build-src.sh.

t "omvdev env: the exports a manual make needs, per shell"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"
P="$SDK/gcc/bin:$SDK/llvm/bin:$SDK/cmake/bin:$SDK/python/bin:$SDK/stcubeprog/bin:$SDK/stedgeai/Utilities/linux:$SDK/bin:$SDK/make"
expect 0 env --shell bash
printf "export SDK_DIR='%s'\nexport PATH='%s'\"\${PATH:+:\$PATH}\"\n" "$SDK" "$P" >"$TMPD/want"
same_file "$out" "$TMPD/want"
t "bash really gets that environment, and make then builds by hand"
(eval "$(cat "$out")" && [ "$SDK_DIR" = "$SDK" ] && command -v arm-none-eabi-gcc) >"$TMPD/which" 2>&1
grep -qx "$SDK/gcc/bin/arm-none-eabi-gcc" "$TMPD/which" && pass || fail "eval did not set PATH"
(eval "$(cat "$out")" && make -s TARGET=OPENMV4 >/dev/null 2>&1) && pass || fail "manual make failed"
t "fish"
expect 0 env --shell fish
out_has "set -gx SDK_DIR '$SDK';"
out_has "set -gx PATH '$SDK/gcc/bin' '$SDK/llvm/bin'"
out_has "'$SDK/bin' '$SDK/make' \$PATH;"
if command -v fish >/dev/null; then
    fish -c "source $out; echo \$SDK_DIR; command -v arm-none-eabi-gcc" >"$TMPD/fish" 2>&1
    grep -qx "$SDK/gcc/bin/arm-none-eabi-gcc" "$TMPD/fish" && pass || fail "fish did not take it"
fi
t "zsh and powershell"
SHELL=/usr/bin/zsh expect 0 env
out_has "export SDK_DIR='$SDK'"
expect 0 env --shell powershell
out_has "\$env:SDK_DIR = '$SDK'"
out_has "\$env:PATH = '$SDK/gcc/bin' + [IO.Path]::PathSeparator + '$SDK/llvm/bin'"
out_has "'$SDK/make' + [IO.Path]::PathSeparator + \$env:PATH"
expect 2 env --shell tcsh
err_has "invalid value 'tcsh' for '--shell' (expected bash, zsh, fish or powershell)"
t "env without the SDK still prints, with a warning"
rm -rf "$SDK"
expect 0 env
err_has "warning: the OpenMV SDK 1.6.0 this repository needs is not installed"
out_has "export SDK_DIR='$SDK'"
t "a quote in the path is quoted for the shell"
mkdir -p "$TMPD/it's"
SDK_DIR="$TMPD/it's/sdk" expect 0 env
(eval "$(cat "$out")" && [ "$SDK_DIR" = "$TMPD/it's/sdk" ]) && pass || fail "quoting"

finish
