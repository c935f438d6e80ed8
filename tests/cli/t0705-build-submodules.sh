#!/usr/bin/env bash
# Submodules on real git repositories made here, in both layouts: a firmware
# repository whose MicroPython (and MicroPython's stm32lib and micropython-lib)
# are real submodules cloned from local paths. omvdev reads their states from
# git (no network), names missing, uninitialised and out-of-date ones with a
# command that fixes them on that tree, and `build --init` checks them out.
. "$(dirname "$0")/lib.sh"
unset MAKEFLAGS MAKELEVEL MFLAGS

command -v git >/dev/null || { echo "git is not installed"; exit 77; }
command -v make >/dev/null || { echo "make is not installed"; exit 77; }
# Local paths as submodule URLs need the file protocol (git >= 2.38.1 refuses it by default).
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=protocol.file.allow GIT_CONFIG_VALUE_0=always
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
SDK="$HOME/openmv-sdk-1.6.0"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"
UP="$TMPD/upstream"

commit_dir() { # DIR: make DIR a repository holding its files
    git -C "$1" init -q && git -C "$1" add -A && git -C "$1" commit -qm "$2"
}

# make_upstream LAYOUT FIXTURE MPY: upstream repositories for one layout
make_upstream() {
    local name=$1 fixture=$2 mpy=$3 u="$UP/$1"
    rm -rf "$u"
    mkdir -p "$u"
    cp -r "$fixture" "$u/fw"
    mv "$u/fw/$mpy" "$u/mpy"
    for s in stm32lib micropython-lib; do
        mv "$u/mpy/lib/$s" "$u/$s"
        commit_dir "$u/$s" "$s"
    done
    rm -f "$u/mpy/.gitmodules"
    commit_dir "$u/mpy" "micropython"
    for s in stm32lib micropython-lib; do
        git -C "$u/mpy" submodule add -q "$u/$s" "lib/$s" 2>/dev/null
    done
    git -C "$u/mpy" commit -qm "submodules"
    # the other submodules of the firmware stay plain directories here
    sed -i "/micropython/,+2d" "$u/fw/.gitmodules"
    commit_dir "$u/fw" "firmware"
    git -C "$u/fw" submodule add -q "$u/mpy" "$mpy" 2>/dev/null
    git -C "$u/fw" commit -qm "micropython"
}

for layout in top src; do
    if [ $layout = top ]; then
        fixture="$TEST_DATA/firmware-repo" mpy=lib/micropython board=OPENMV4
    else
        fixture="$TEST_DATA/firmware-repo-src" mpy=src/lib/micropython board=OPENMV4P
        command -v arm-none-eabi-gcc >/dev/null || { echo "no arm-none-eabi-gcc: src layout skipped"; continue; }
    fi
    make_upstream $layout "$fixture" $mpy
    FW="$TMPD/clone-$layout"
    rm -rf "$FW"
    git clone -q "$UP/$layout/fw" "$FW"
    cd "$FW"

    t "$layout: a fresh clone without --recursive: MicroPython not initialised, the command that fixes it"
    expect 1 build -t $board
    err_has "omvdev: error: submodule '$mpy' is not initialised"
    err_has "hint: run: git -C $FW submodule update --init --depth=1 $mpy (or build with --init)"
    [ ! -e build ] && [ ! -e src/build ] && pass || fail "something was built"
    t "$layout: doctor says the same, fast, reading git's records only"
    start=$(date +%s%N)
    run -c build.target=$board doctor
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    # under 1 s on an idle machine (0.2 s on real trees); the bound leaves room for a busy one
    [ "$ms" -lt 3000 ] && pass || fail "doctor took $ms ms"
    out_has "submodule '$mpy' is not initialised"
    out_has "fix: git -C $FW submodule update --init --depth=1 $mpy"

    t "$layout: build --init checks out MicroPython, then its stm32lib and micropython-lib, then builds"
    expect 0 build -t $board --init
    err_has "checking out the submodules $board needs"
    [ -s "$mpy/lib/stm32lib/README" ] || [ -s "$mpy/lib/stm32lib/README.md" ] && pass || fail "stm32lib not checked out"
    [ -s "$mpy/lib/micropython-lib/README.md" ] && pass || fail "micropython-lib not checked out"
    out_has "$board: $FW/"
    t "$layout: then all is well"
    run -c build.target=$board doctor
    out_has "checked out at the recorded commits"

    t "$layout: a deinitialised nested submodule: found, and --init restores it"
    git -C "$mpy" submodule deinit -q -f lib/stm32lib
    expect 1 build -t $board
    err_has "omvdev: error: submodule '$mpy/lib/stm32lib' is not initialised"
    err_has "hint: run: git -C $FW/$mpy submodule update --init --depth=1 lib/stm32lib (or build with --init)"
    expect 0 build -t $board --init
    [ -n "$(ls "$mpy/lib/stm32lib")" ] && pass || fail "stm32lib still empty"

    t "$layout: MicroPython at another commit than the repository records"
    echo "// newer" >>"$mpy/py/mkrules.mk"
    git -C "$mpy" commit -qam "local change"
    expect 1 build -t $board
    err_has "omvdev: error: submodule '$mpy' is at another commit than the repository records"
    err_has "hint: run: git -C $FW submodule update --init --depth=1 $mpy"
    expect 0 build -t $board --init
    [ -z "$(git -C "$FW" submodule status $mpy | grep '^+')" ] && pass || fail "still at the other commit"

    t "$layout: a submodule whose directory was removed is missing"
    rm -rf "$mpy"
    expect 1 build -t $board
    err_has "omvdev: error: submodule '$mpy' is missing"
    expect 0 build -t $board --init
    cd "$TMPD"
done

finish
