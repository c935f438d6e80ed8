#!/usr/bin/env bash
# omvdev build --docker: the firmware repository's docker/ development path, with the
# repository (and a worktree's main repository) and the SDK mounted at their host paths.
# Containers cannot start on the machine these tests were written on (the sandbox refuses
# the engines' setrlimit), so the engine here is a stand-in that records its arguments,
# checks the mounts and runs the in-container script on the host; the real Podman, when
# present and answering, is used for the image-build failure path.
. "$(dirname "$0")/lib.sh"
unset MAKEFLAGS MAKELEVEL MFLAGS
command -v make >/dev/null && command -v git >/dev/null || { echo "make/git missing"; exit 77; }

SDK="$HOME/openmv-sdk-1.6.0"
FW="$TMPD/fw"
BIN="$TMPD/bin"
export ENGINE_LOG="$TMPD/engine.log" ENGINE_STATE="$TMPD/engine"
mkdir -p "$BIN" "$ENGINE_STATE"
cp -r "$TEST_DATA/fixture-sdk" "$SDK"

# The stand-in engine (installed as docker and as podman).
cat >"$BIN/engine" <<'SH'
#!/bin/bash
name=$(basename "$0")
{ printf '%s' "$name"; printf ' %s' "$@"; echo; } >>"$ENGINE_LOG"
case "$1" in
info)
    if [ -n "${ENGINE_DOWN:-}" ]; then echo "Cannot connect to the $name daemon" >&2; echo more >&2; exit 1; fi
    echo "stand-in $name" ;;
image) [ "$2" = inspect ] && [ -e "$ENGINE_STATE/image-$3" ] ;;
build)
    shift
    while [ $# -gt 0 ]; do
        case $1 in -t) tag=$2; shift 2 ;; -f) file=$2; shift 2 ;; *) dir=$1; shift ;; esac
    done
    [ -f "$file" ] && [ -d "$dir" ] || exit 1
    touch "$ENGINE_STATE/image-$tag" ;;
run)
    shift
    envs=() mounts=()
    while [ $# -gt 0 ]; do
        case $1 in
        --rm) shift ;;
        --user) [ "$2" = "$(id -u):$(id -g)" ] || { echo "user $2 is not the caller's" >&2; exit 125; }; shift 2 ;;
        --userns=keep-id) shift ;;
        -e) envs+=("$2"); shift 2 ;;
        -w) wd=$2; shift 2 ;;
        -v) mounts+=("$2"); shift 2 ;;
        -*) echo "stand-in: unknown option $1" >&2; exit 125 ;;
        *) break ;;
        esac
    done
    image=$1; shift
    [ -e "$ENGINE_STATE/image-$image" ] || { echo "no image $image" >&2; exit 125; }
    inside() { for m in "${mounts[@]}"; do case "$1/" in "${m%%:*}"/*) return 0 ;; esac; done; return 1; }
    for m in "${mounts[@]}"; do
        [ "${m%%:*}" = "${m#*:}" ] && [ -d "${m%%:*}" ] || { echo "bad mount $m" >&2; exit 125; }
    done
    inside "$wd" || { echo "workdir $wd is not mounted" >&2; exit 125; }
    for e in "${envs[@]}"; do
        case $e in SDK_DIR=*) inside "${e#SDK_DIR=}" || { echo "SDK not mounted" >&2; exit 125; } ;; esac
    done
    cd "$wd" && exec env -i PATH=/usr/bin:/bin "${envs[@]}" "$@" ;;
*) echo "stand-in: unexpected '$1'" >&2; exit 2 ;;
esac
SH
chmod +x "$BIN/engine"
ln -s engine "$BIN/docker"
ln -s engine "$BIN/podman"
touch "$TMPD/docker.sock"
export DOCKER_HOST="unix://$TMPD/docker.sock"

# A docker/ development path of our own for the fixture repository: the toolchain from
# the mounted SDK, mpy-cross, then the board, incrementally.
add_docker_dir() {
    mkdir -p "$1/docker"
    printf 'FROM ubuntu:24.04\nRUN apt-get update && apt-get install -y build-essential git\n' >"$1/docker/Dockerfile"
    cat >"$1/docker/build-dev.sh" <<'SH'
#!/bin/bash
set -e
export PATH="$SDK_DIR/gcc/bin:$PATH"
echo "in the container: HOME=$HOME TARGET=$TARGET BUILD_OPTS=$BUILD_OPTS"
make -C lib/micropython/mpy-cross
make TARGET="$TARGET" ${BUILD_OPTS:-}
SH
    chmod +x "$1/docker/build-dev.sh"
}
cp -r "$TEST_DATA/firmware-repo" "$FW"
cd "$FW"
export PATH="$BIN:$PATH"
tag() { echo "omvdev-firmware-builder:$(sha256sum docker/Dockerfile | cut -c1-12)"; }

t "a firmware without docker/build-dev.sh: a clear error, nothing built"
expect 1 build -t OPENMV4 --docker
err_has "omvdev: error: this firmware has no container development build: '$FW/docker/Dockerfile' is missing"
err_has "hint: docker/build-dev.sh came after firmware v4.8.1; build on the host: omvdev build -t OPENMV4 (or upstream's own path: make -C docker TARGET=OPENMV4)"
[ ! -e build/OPENMV4/bin ] && pass || fail "something was built"
add_docker_dir "$FW"

t "no engine on PATH"
PATH="$TMPD/none" expect 1 build -t OPENMV4 --docker
err_has "omvdev: error: no container engine: neither 'docker' nor 'podman' is on PATH"
err_has "hint: install one (Debian/Ubuntu: sudo apt-get install docker.io, or podman)"

t "the Docker daemon is not running"
DOCKER_HOST="unix://$TMPD/nope.sock" expect 1 build -t OPENMV4 --docker
err_has "omvdev: error: the Docker daemon is not running: there is no '$TMPD/nope.sock'"
err_has "hint: start it: sudo systemctl start docker"

t "the engine does not answer"
: >"$ENGINE_LOG"
ENGINE_DOWN=1 expect 1 build -t OPENMV4 --docker
err_is "omvdev: error: 'docker info' failed, the engine does not answer: Cannot connect to the docker daemon
hint: start it: sudo systemctl start docker"
grep -q ' run ' "$ENGINE_LOG" && fail "it ran a container" || pass

t "not in the docker group"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    # A copy the other user can reach: the checkout may lie under a directory only
    # its owner may enter (a clone into mktemp -d).
    cp "$OMVDEV" "$TMPD/omvdev-other-user"
    chmod -R a+rwX "$TMPD"
    chmod 0600 "$TMPD/docker.sock"
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$HOME" PATH="$PATH" \
        DOCKER_HOST="$DOCKER_HOST" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
        "$TMPD/omvdev-other-user" build -t OPENMV4 --docker >"$out" 2>"$err"
    [ $? = 1 ] && pass || fail "exit status"
    err_has "omvdev: error: you may not use Docker: '$TMPD/docker.sock' is only open to root and the docker group"
    err_has "hint: sudo usermod -aG docker \$USER, then log out and in again"
    chmod 0644 "$TMPD/docker.sock"
fi

t "the SDK must be on the host (it is mounted, not downloaded)"
mv "$SDK" "$SDK.away"
: >"$ENGINE_LOG"
expect 1 build -t OPENMV4 --docker
err_has "is not installed"
grep -q ' run ' "$ENGINE_LOG" && fail "it ran a container" || pass
mv "$SDK.away" "$SDK"

t "the first build builds the image, then runs build-dev.sh with same-path mounts as the user"
: >"$ENGINE_LOG"
rm -rf build "$ENGINE_STATE"/image-*
expect 0 build -t OPENMV4 --docker
sdk=$(cd "$SDK" && pwd -P) fw=$(pwd -P)
grep -qxF "docker build -t $(tag) -f $FW/docker/Dockerfile $FW/docker" "$ENGINE_LOG" && pass ||
    fail "no image build: $(cat "$ENGINE_LOG")"
grep -qxF "docker run --rm --user $(id -u):$(id -g) -e HOME=/tmp -e TARGET=OPENMV4 -e SDK_DIR=$sdk -e BUILD_OPTS= -w $fw -v $fw:$fw -v $sdk:$sdk $(tag) docker/build-dev.sh" "$ENGINE_LOG" &&
    pass || fail "run line: $(grep ' run ' "$ENGINE_LOG")"
out_has "in the container: HOME=/tmp TARGET=OPENMV4 BUILD_OPTS="
t "the partition report works the same after a container build"
out_has "firmware.bin           1.41 MiB of 1.62 MiB (87 %)"
[ "$(stat -c %u build/OPENMV4/bin/firmware.bin)" = "$(id -u)" ] && pass || fail "owner"
expect 0 size -t OPENMV4
out_has "firmware.bin           1.41 MiB of 1.62 MiB (87 %)"

t "the image is reused; a changed Dockerfile makes a new one"
: >"$ENGINE_LOG"
expect 0 build -t OPENMV4 --docker --debug -o FB_ALLOC_STATS=1
grep -q ' build ' "$ENGINE_LOG" && fail "the image was built again" || pass
grep -qF "image inspect $(tag)" "$ENGINE_LOG" && pass || fail "no inspect"
grep -qF -- "-e BUILD_OPTS=DEBUG=1 FB_ALLOC_STATS=1 " "$ENGINE_LOG" && pass || fail "BUILD_OPTS"
echo 'RUN true' >>docker/Dockerfile
: >"$ENGINE_LOG"
expect 0 build -t OPENMV4 --docker
grep -qF "docker build -t $(tag) " "$ENGINE_LOG" && pass || fail "no rebuild for the new Dockerfile"

t "--clean runs make clean on the host (it needs no SDK), then the container build"
touch build/OPENMV4/stale
expect 0 build -t OPENMV4 --docker --clean
[ ! -e build/OPENMV4/stale ] && pass || fail "not cleaned"
[ -s build/OPENMV4/bin/firmware.bin ] && pass || fail "not built"

t "Podman from [build] container; as root it gets --user, else --userns=keep-id"
"$OMVDEV" config set --project build.container podman >/dev/null 2>&1
: >"$ENGINE_LOG"
expect 0 build -t OPENMV4 --docker
grep -q '^podman run --rm --user 0:0 \|^podman run --rm --userns=keep-id ' "$ENGINE_LOG" && pass ||
    fail "podman run: $(cat "$ENGINE_LOG")"
grep -q '^docker ' "$ENGINE_LOG" && fail "docker was used" || pass
"$OMVDEV" config unset --project build.container >/dev/null 2>&1 ||
    sed -i '/container/d' .omvdev.ini 2>/dev/null

t "auto: Podman when Docker's daemon is not there"
if [ ! -e /var/run/docker.sock ]; then
    : >"$ENGINE_LOG"
    env -u DOCKER_HOST "$OMVDEV" build -t OPENMV4 --docker >"$out" 2>"$err" && pass || fail "exit $?"
    grep -q '^podman run ' "$ENGINE_LOG" && pass || fail "not podman: $(cat "$ENGINE_LOG")"
fi

t "a worktree: its main repository is mounted too"
main="$TMPD/main"
cp -r "$TEST_DATA/firmware-repo" "$main"
add_docker_dir "$main"
git -C "$main" init -q && git -C "$main" add -A &&
    git -C "$main" -c user.name=t -c user.email=t@t commit -qm fixture
git -C "$main" worktree add -q "$TMPD/wt" 2>/dev/null
cd "$TMPD/wt"
: >"$ENGINE_LOG"
expect 0 build -t OPENMV4 --docker --container docker
m=$(cd "$main" && pwd -P) w=$(pwd -P)
grep -qF -- "-v $w:$w -v $sdk:$sdk -v $m:$m $(tag) docker/build-dev.sh" "$ENGINE_LOG" && pass ||
    fail "no main-repository mount: $(grep ' run ' "$ENGINE_LOG")"
cd "$FW"

t "usage"
expect 2 build -t OPENMV4 --docker --container lxc
expect 2 build -t OPENMV4 --docker -- 'CFLAGS=$(rm -rf x)'
err_has "with --docker, make options must be plain NAME=VALUE words"

t "the real Podman: it answers, and the image build fails without a registry (no network here)"
if [ -x /usr/bin/podman ] && timeout 20 /usr/bin/podman info >/dev/null 2>&1; then
    rm -rf build
    ln -sf /usr/bin/podman "$BIN/podman"
    PATH="$BIN:/usr/bin:/bin" timeout 300 "$OMVDEV" build -t OPENMV4 --docker --container podman >"$out" 2>"$err"
    code=$?
    if [ "$code" = 1 ]; then pass; else fail "exit $code"; fi
    err_has "omvdev: building the image omvdev-firmware-builder:"
    err_has "omvdev: error: 'podman build' of $FW/docker/Dockerfile failed"
    [ ! -e build/OPENMV4/bin ] && pass || fail "something was built"
fi
finish
