#!/usr/bin/env bash
# Benchmark (not a test): omvdev flash on the virtual camera with the timing model at
# real time, against Debian's dfu-util on the same virtual devices in the same run and
# against the device-bound lower bound the model reports (erase + programming + USB
# transfer time: what no host can beat).
#
#   tests/bench/flash.sh [BUILD_DIR] [RUNS]      (default build/release, 3 runs)
#
# 1. OPENMV4 firmware.bin (1.6 MB) + romfs0.img: omvdev, dfu-util, lower bound.
# 2. A reflash with --skip-unchanged when only the firmware changed, as a ratio of a full
#    flash: (a) an edit that changes one 128 KiB sector of firmware.bin, (b) a firmware
#    that differs everywhere.
# 3. --all on four cameras against one camera.
# 4. The ST system bootloader (STM32H743): bootloader.bin at 0x08000000, omvdev and
#    dfu-util.
# 5. The ST system bootloader (STM32H743), a 1,650,000-byte image at 0x08000000 (13
#    sectors, 5 of them in bank 2): Rev Y with page erases, Rev V with page erases (the
#    default: it keeps what lies past the image), Rev V with --mass-erase; dfu-util 0.11
#    with page erases on Rev Y and with :mass-erase:force on Rev V (its page erases hang
#    there). Each against the device-bound floor of its own run, which counts 1 ms and
#    the data packets of every request the tool made: a tool that needs fewer requests
#    has a lower floor.
set -eu
build=${1:-build/release}
runs=${2:-3}
omvdev=$(cd "$build" && pwd)/omvdev
sim=$(cd "$build" && pwd)/tests/omvdev-sim
[ -x "$sim" ] || { echo "bench: $sim is missing (build with umockdev installed)" >&2; exit 2; }
command -v dfu-util >/dev/null || { echo "bench: dfu-util is not installed" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/openmv/boards" "$work/openmv/build/OPENMV4/bin"
: >"$work/openmv/Makefile"
bin="$work/openmv/build/OPENMV4/bin"
head -c 1600000 /dev/urandom >"$work/fw-old.bin"
head -c 131072 /dev/urandom >"$bin/romfs0.img"
head -c 65536 /dev/urandom >"$work/bootloader.bin"
cp "$work/fw-old.bin" "$bin/firmware.bin"
# (a): 4 KiB changed in the middle of the image (one 128 KiB sector).
cp "$work/fw-old.bin" "$work/fw-edit.bin"
head -c 4096 /dev/urandom | dd of="$work/fw-edit.bin" bs=1 seek=800000 conv=notrunc 2>/dev/null
head -c 1600000 /dev/urandom >"$work/fw-new.bin"
head -c 1650000 /dev/urandom >"$work/rom-image.bin"

# Sum device_bound_us over the logs of one device kind.
bound() { python3 -c 'import json,sys,glob
print(sum(json.load(open(f))["device_bound_us"] for f in glob.glob(sys.argv[1] + "/*/log-*-" + sys.argv[2] + ".json")))' "$1" "$2"; }

# Count the requests in the logs of one device kind.
nreq() { python3 -c 'import json,sys,glob
print(sum(len(json.load(open(f))["requests"]) for f in glob.glob(sys.argv[1] + "/*/log-*-" + sys.argv[2] + ".json")))' "$1" "$2"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# run NAME DEVICE-ARGS... -- COMMAND...: prints "wall_ms bound_ms" and keeps the state in $last
run() {
    local name=$1 state t0 t1 rc=0 devs=()
    state="$work/state-$name-$RANDOM"
    shift
    while [ "$1" != -- ]; do devs+=("$1"); shift; done
    shift
    t0=$(now_ms)
    "$sim" --timescale "${timescale:-1}" --state "$state" "${devs[@]}" -- "$@" >"$work/run.log" 2>&1 || rc=$?
    t1=$(now_ms)
    if [ "$rc" -ne 0 ]; then
        echo "bench: $name failed with exit status $rc:" >&2
        tail -5 "$work/run.log" >&2
        exit 1
    fi
    last=$state
    kind=openmv-bl
    case "$name" in rom-*) kind=st-rom ;; esac
    echo "$((t1 - t0)) $(( $(bound "$state" "$kind") / 1000 )) $(nreq "$state" "$kind")"
}

check_fw() { # state serial file: the firmware partition holds the file
    cmp -s <(tail -c +$((0x40000 + 1)) "$1/$2/internal.bin" | head -c "$(stat -c %s "$3")") "$3" ||
        { echo "bench: $2 holds the wrong firmware" >&2; exit 1; }
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
col() { cut -d' ' -f"$1" "$work/$2.txt" | median; }

om_flash() { "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 "$@"; }
dev1=(--device openmv-bl:OPENMV4,serial=B1)

echo "omvdev flash on the virtual camera, timing model at real time, $runs runs each (medians)"
for _ in $(seq "$runs"); do
    cp "$work/fw-old.bin" "$bin/firmware.bin"
    run full "${dev1[@]}" -- "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 >>"$work/full.txt"
    check_fw "$last" B1 "$bin/firmware.bin"
    # The same flash with the device's work costing nothing: what the virtual bus
    # (umockdev round trips) and the host cost on their own.
    timescale=0 run full-ts0 "${dev1[@]}" -- "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 >>"$work/full-ts0.txt"
    timescale=0 run dfu-util-ts0 "${dev1[@]}" -- sh -c "
        dfu-util -d ,37c5:9204 -a 2 -D '$bin/firmware.bin' &&
        dfu-util -d ,37c5:9204 -a 3 -D '$bin/romfs0.img'" >>"$work/dfu-util-ts0.txt"
    # Without --reset: dfu-util 0.11's exit status after the camera resets varies (0, 74,
    # ...), and the reset itself costs next to nothing.
    run dfu-util "${dev1[@]}" -- sh -c "
        dfu-util -d ,37c5:9204 -a 2 -D '$bin/firmware.bin' &&
        dfu-util -d ,37c5:9204 -a 3 -D '$bin/romfs0.img'" >>"$work/dfu-util.txt"
    check_fw "$last" B1 "$bin/firmware.bin"

    # Reflash with --skip-unchanged: the camera holds fw-old + this romfs.
    held="openmv-bl:OPENMV4,serial=B1,load=$work/fw-old.bin@0x08040000,load=$bin/romfs0.img@0x081E0000"
    cp "$work/fw-edit.bin" "$bin/firmware.bin"
    run skip-edit --device "$held" -- "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 --skip-unchanged >>"$work/skip-edit.txt"
    check_fw "$last" B1 "$bin/firmware.bin"
    cp "$work/fw-new.bin" "$bin/firmware.bin"
    run skip-new --device "$held" -- "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 --skip-unchanged >>"$work/skip-new.txt"
    check_fw "$last" B1 "$bin/firmware.bin"

    cp "$work/fw-old.bin" "$bin/firmware.bin"
    run all4 --device openmv-bl:OPENMV4,serial=B1 --device openmv-bl:OPENMV4,serial=B2 \
        --device openmv-bl:OPENMV4,serial=B3 --device openmv-bl:OPENMV4,serial=B4 -- \
        "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 --all >>"$work/all4.txt"
    for s in B1 B2 B3 B4; do check_fw "$last" "$s" "$bin/firmware.bin"; done

    run rom-omvdev --device st-rom:H743,serial=R1 -- "$omvdev" -q -C "$work/openmv" flash -t OPENMV4 \
        --file "$work/bootloader.bin" --address 0x08000000 >>"$work/rom-omvdev.txt"
    # dfu-util may exit non-zero after :leave when the ROM drops off the bus at once.
    run rom-dfu-util --device st-rom:H743,serial=R1 -- sh -c \
        "dfu-util -d ,0483:df11 -a 0 -s 0x08000000:leave -D '$work/bootloader.bin'; true" >>"$work/rom-dfu-util.txt"
    cmp -s <(head -c 65536 "$last/R1/internal.bin") "$work/bootloader.bin" ||
        { echo "bench: dfu-util wrote the wrong bootloader" >&2; exit 1; }

    img="$work/rom-image.bin"
    check_img() { cmp -s <(head -c 1650000 "$last/$1/internal.bin") "$img" ||
        { echo "bench: $2 wrote the wrong image" >&2; exit 1; }; }
    om_rom=("$omvdev" -q -C "$work/openmv" flash -t OPENMV4 --file "$img" --address 0x08000000)
    run rom-y-omvdev --device st-rom:H743,serial=Y1 -- "${om_rom[@]}" >>"$work/rom-y-omvdev.txt"
    check_img Y1 "omvdev (Rev Y)"
    run rom-y-dfu-util --device st-rom:H743,serial=Y2 -- sh -c \
        "dfu-util -d ,0483:df11 -a 0 -s 0x08000000:leave -D '$img'; true" >>"$work/rom-y-dfu-util.txt"
    check_img Y2 "dfu-util (Rev Y)"
    run rom-v-omvdev --device st-rom:H743,rev=V,serial=V1 -- "${om_rom[@]}" >>"$work/rom-v-omvdev.txt"
    check_img V1 "omvdev (Rev V)"
    run rom-v-mass-omvdev --device st-rom:H743,rev=V,serial=V2 -- "${om_rom[@]}" --mass-erase >>"$work/rom-v-mass-omvdev.txt"
    check_img V2 "omvdev --mass-erase (Rev V)"
    run rom-v-mass-dfu-util --device st-rom:H743,rev=V,serial=V3 -- sh -c \
        "dfu-util -d ,0483:df11 -a 0 -s 0x08000000:mass-erase:force:leave -D '$img'; true" >>"$work/rom-v-mass-dfu-util.txt"
    check_img V3 "dfu-util :mass-erase (Rev V)"
done

full=$(col 1 full); lb=$(col 2 full); du=$(col 1 dfu-util)
o0=$(col 1 full-ts0); d0=$(col 1 dfu-util-ts0)
se=$(col 1 skip-edit); sn=$(col 1 skip-new); a4=$(col 1 all4)
ro=$(col 1 rom-omvdev); rd=$(col 1 rom-dfu-util); rlb=$(col 2 rom-omvdev)
printf '\n1. OPENMV4 firmware.bin 1600000 B + romfs0.img 131072 B\n'
printf '   %-40s %8s ms\n' "device-bound lower bound" "$lb" "omvdev" "$full" "dfu-util 0.11" "$du"
printf '   %-40s %8s ms\n' "omvdev, device work at no cost" "$o0" "dfu-util, device work at no cost" "$d0"
awk -v o="$full" -v d="$du" -v l="$lb" -v o0="$o0" 'BEGIN {
    printf "   omvdev / lower bound %29.3f   (target <= 1.05)\n", o / l
    printf "   omvdev / (lower bound + its own cost at no device cost) %0.3f\n", o / (l + o0)
    printf "   omvdev / dfu-util %32.3f   (target <= 1.00)\n", o / d }'
printf '\n2. reflash with --skip-unchanged, only firmware.bin changed\n'
printf '   %-40s %8s ms\n' "(a) one 128 KiB sector changed" "$se" "(b) every sector changed" "$sn"
awk -v a="$se" -v b="$sn" -v f="$full" 'BEGIN {
    printf "   (a) / full flash %33.3f   (target <= 0.60)\n", a / f
    printf "   (b) / full flash %33.3f\n", b / f }'
printf '\n3. --all on four cameras\n'
printf '   %-40s %8s ms\n' "one camera" "$full" "four cameras, --all" "$a4"
awk -v a="$a4" -v f="$full" 'BEGIN { printf "   four / one %39.3f   (target <= 1.30)\n", a / f }'
printf '\n4. ST system bootloader (H743): bootloader.bin 65536 B at 0x08000000, then leave\n'
printf '   %-40s %8s ms\n' "device-bound lower bound" "$rlb" "omvdev" "$ro" "dfu-util 0.11" "$rd"
awk -v o="$ro" -v d="$rd" -v l="$rlb" 'BEGIN {
    printf "   omvdev / lower bound %29.3f\n", o / l
    printf "   omvdev / dfu-util %32.3f\n", o / d }'

yo=$(col 1 rom-y-omvdev); yb=$(col 2 rom-y-omvdev); yd=$(col 1 rom-y-dfu-util); ydb=$(col 2 rom-y-dfu-util)
yn=$(col 3 rom-y-omvdev); vn=$(col 3 rom-v-omvdev); ydn=$(col 3 rom-y-dfu-util)
# What the rig costs a request on its own (umockdev's round trips, the host's turnaround;
# from the flash whose device work was free): not in the floor, paid per request.
rq=$(awk -v w="$o0" -v n="$(col 3 full-ts0)" 'BEGIN { printf "%.3f", w / n }')
vo=$(col 1 rom-v-omvdev); vb=$(col 2 rom-v-omvdev)
mo=$(col 1 rom-v-mass-omvdev); mb=$(col 2 rom-v-mass-omvdev)
md=$(col 1 rom-v-mass-dfu-util); mdb=$(col 2 rom-v-mass-dfu-util)
printf '\n5. ST system bootloader (H743): 1,650,000 B at 0x08000000 (13 sectors, 5 in bank 2), then leave\n'
printf '   %-46s %8s ms   (floor %s ms, %s requests)\n' \
    "Rev Y, page erases: omvdev" "$yo" "$yb" "$yn" \
    "Rev Y, page erases: dfu-util 0.11" "$yd" "$ydb" "$ydn" \
    "Rev V, page erases: omvdev" "$vo" "$vb" "$vn" \
    "Rev V, --mass-erase: omvdev" "$mo" "$mb" "$(col 3 rom-v-mass-omvdev)" \
    "Rev V, :mass-erase:force: dfu-util 0.11" "$md" "$mdb" "$(col 3 rom-v-mass-dfu-util)"
printf '   the rig costs %s ms a request on its own (section 1, device work free)\n' "$rq"
awk -v yo="$yo" -v yb="$yb" -v yd="$yd" -v ydb="$ydb" -v vo="$vo" -v vb="$vb" -v mo="$mo" \
    -v mb="$mb" -v md="$md" -v mdb="$mdb" 'BEGIN {
    printf "   Rev Y omvdev / its floor %25.3f   (target <= 1.10)\n", yo / yb
    printf "   Rev Y dfu-util / its floor %23.3f\n", yd / ydb
    printf "   Rev Y omvdev / dfu-util %26.3f\n", yo / yd
    printf "   Rev V omvdev / its floor %25.3f\n", vo / vb
    printf "   Rev V omvdev / the Rev Y page-erase floor %8.3f   (target <= 1.20)\n", vo / yb
    printf "   Rev V --mass-erase omvdev / its floor %12.3f\n", mo / mb
    printf "   Rev V dfu-util mass erase / its floor %12.3f\n", md / mdb
    printf "   Rev V omvdev page erases / dfu-util mass erase %3.3f\n", vo / md }'
