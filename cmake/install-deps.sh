#!/bin/sh
# Install the Debian packages named in $PKGS that are missing. Used by `make demo`
# and `make check`; safe to run again (it installs nothing when all are there).
set -eu
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "omvdev: not a Debian-based system; install these (or your system's equivalents):" >&2
    echo "  $PKGS" >&2
    exit 0
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "omvdev: installing missing packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
    echo "omvdev: error: cannot install packages without root or sudo" >&2
    echo "hint: run as root: apt-get install$missing" >&2
    exit 1
fi
